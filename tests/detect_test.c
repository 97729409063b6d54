/* Allocator detection on live fixtures (fixtures/detect_*.c).
 *
 * The truth is the fixture's own: the object its dynamic linker bound
 * malloc to and where that object is mapped (dladdr), and the versions its
 * allocators report in-process (gnu_get_libc_version, mallctl("version"),
 * tc_version).  Static executables have no dladdr answer; there the truth
 * is the executable itself. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnu/libc-version.h>

#include "observe/alloc/alloc.h"
#include "observe/elf_file.h"
#include "testlib.h"

#define LIBDIR "/usr/lib/x86_64-linux-gnu"

/* The rest of the fixture's line "key value", or false. */
static bool truth_string(const struct fixture *f, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = f->truth; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, klen) || p[klen] != ' ')
			continue;
		p += klen + 1;
		snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
		return true;
	}
	return false;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static void detect(const struct fixture *f, struct alloc_id *id)
{
	struct error err = { 0 };
	int ret = alloc_detect("", f->pid, NULL, id, &err);

	ck_assert_msg(ret == 0, "alloc_detect(%d): %d %s", f->pid, ret, err.msg);
}

/* The dynamic linker's answer: the file malloc is bound to, and its base. */
static void assert_provider(const struct fixture *f, const struct alloc_id *id)
{
	char provider[512];

	ck_assert_msg(truth_string(f, "malloc_provider", provider, sizeof(provider)),
		      "the fixture printed no malloc_provider:\n%s", f->truth);
	ck_assert_msg(same_file(id->path, provider), "detected %s, but malloc is bound to %s",
		      id->path, provider);
	ck_assert_uint_eq(id->load_base, (uint64_t)fixture_value(f, "malloc_provider_base"));
	ck_assert_int_eq(id->link, ALLOC_SHARED);
}

/* A static executable: no dladdr answer, and the allocator is the file. */
static void assert_static(const struct fixture *f, const char *name, const struct alloc_id *id)
{
	char exe[4096];

	ck_assert_msg(!fixture_has(f, "malloc_provider"), "%s is not static", name);
	snprintf(exe, sizeof(exe), "%s/%s", FIXTURE_BIN, name);
	ck_assert_str_eq(id->path, exe);
	ck_assert_int_eq(id->link, ALLOC_STATIC);
}

static void assert_glibc_version(const struct fixture *f, const struct alloc_id *id)
{
	char v[64];

	ck_assert(truth_string(f, "glibc_version", v, sizeof(v)));
	ck_assert_str_eq(id->version, v);
}

/* mallctl("version") is "5.3.0-0-g<commit>"; heapdoc keeps "5.3.0". */
static void assert_jemalloc_version(const struct fixture *f, const char *key,
				    const struct alloc_id *id)
{
	char v[128];

	ck_assert_msg(truth_string(f, key, v, sizeof(v)), "no %s in:\n%s", key, f->truth);
	v[strcspn(v, "-")] = '\0';
	ck_assert_str_eq(id->version, v);
}

/* tc_version() is "gperftools 2.10"; heapdoc keeps "2.10". */
static void assert_tcmalloc_version(const struct fixture *f, const struct alloc_id *id)
{
	char v[128];

	ck_assert(truth_string(f, "tcmalloc_version", v, sizeof(v)));
	ck_assert_msg(!strncmp(v, "gperftools ", 11), "tc_version: %s", v);
	ck_assert_str_eq(id->version, v + 11);
	ck_assert_str_eq(id->flavor, "gperftools");
}

static void assert_evidence(const struct alloc_id *id, const char *what)
{
	ck_assert_msg(strstr(id->evidence, what), "evidence \"%s\" does not say \"%s\"",
		      id->evidence, what);
}

START_TEST(plain_glibc)
{
	struct fixture f;
	struct alloc_id id;

	fixture_start(&f, "detect_glibc", NULL, NULL);
	detect(&f, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "glibc");
	assert_provider(&f, &id);
	assert_glibc_version(&f, &id);
	assert_evidence(&id, "libc.so.6 exports malloc (linked)");
	fixture_stop(&f);
}
END_TEST

START_TEST(ld_preload_jemalloc)
{
	const char *env[] = { "LD_PRELOAD=" LIBDIR "/libjemalloc.so.2", NULL };
	struct fixture f;
	struct alloc_id id;

	fixture_start(&f, "detect_glibc", NULL, env);
	detect(&f, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "jemalloc");
	assert_provider(&f, &id);
	assert_jemalloc_version(&f, "jemalloc_version", &id);
	ck_assert_str_eq(id.prefix, "");
	assert_evidence(&id, "(LD_PRELOAD)");
	fixture_stop(&f);
}
END_TEST

/* LD_PRELOAD names a symlink (libtcmalloc.so.4 -> libtcmalloc.so.4.5.10),
 * which maps shows resolved. */
START_TEST(ld_preload_tcmalloc)
{
	const char *env[] = { "LD_PRELOAD=" LIBDIR "/libtcmalloc.so.4", NULL };
	struct fixture f;
	struct alloc_id id;

	fixture_start(&f, "detect_glibc", NULL, env);
	detect(&f, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "tcmalloc");
	assert_provider(&f, &id);
	assert_tcmalloc_version(&f, &id);
	assert_evidence(&id, "(LD_PRELOAD)");
	fixture_stop(&f);
}
END_TEST

/* Two preloads: the first one that defines malloc wins, and a bare name is
 * found like a path. */
START_TEST(ld_preload_order)
{
	const char *env[] = { "LD_PRELOAD=libtcmalloc_minimal.so.4:" LIBDIR "/libjemalloc.so.2",
			      NULL };
	struct fixture f;
	struct alloc_id id;

	fixture_start(&f, "detect_glibc", NULL, env);
	detect(&f, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "tcmalloc");
	assert_provider(&f, &id);
	fixture_stop(&f);
}
END_TEST

/* A preload comes before a linked allocator. */
START_TEST(ld_preload_beats_linked)
{
	const char *env[] = { "LD_PRELOAD=" LIBDIR "/libjemalloc.so.2", NULL };
	struct fixture f;
	struct alloc_id id;

	fixture_start(&f, "detect_tcmalloc", NULL, env);
	detect(&f, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "jemalloc");
	assert_provider(&f, &id);
	fixture_stop(&f);
}
END_TEST

START_TEST(linked_jemalloc)
{
	struct fixture f;
	struct alloc_id id;

	fixture_start(&f, "detect_jemalloc", NULL, NULL);
	detect(&f, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "jemalloc");
	assert_provider(&f, &id);
	assert_jemalloc_version(&f, "jemalloc_version", &id);
	assert_evidence(&id, "libjemalloc.so.2 exports malloc (linked)");
	fixture_stop(&f);
}
END_TEST

START_TEST(linked_tcmalloc)
{
	const char *names[] = { "detect_tcmalloc", "detect_tcmalloc_minimal" };

	for (size_t i = 0; i < 2; i++) {
		struct fixture f;
		struct alloc_id id;

		fixture_start(&f, names[i], NULL, NULL);
		detect(&f, &id);
		ck_assert_str_eq(alloc_kind_name(id.kind), "tcmalloc");
		assert_provider(&f, &id);
		assert_tcmalloc_version(&f, &id);
		assert_evidence(&id, "exports malloc (linked)");
		fixture_stop(&f);
	}
}
END_TEST

START_TEST(static_glibc)
{
	struct fixture f;
	struct alloc_id id;

	fixture_start(&f, "detect_glibc-static", NULL, NULL);
	detect(&f, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "glibc");
	assert_static(&f, "detect_glibc-static", &id);
	assert_glibc_version(&f, &id);
	fixture_stop(&f);
}
END_TEST

START_TEST(static_jemalloc)
{
	struct fixture f;
	struct alloc_id id;

	fixture_start(&f, "detect_jemalloc-static", NULL, NULL);
	detect(&f, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "jemalloc");
	assert_static(&f, "detect_jemalloc-static", &id);
	assert_jemalloc_version(&f, "jemalloc_version", &id);
	ck_assert_str_eq(id.prefix, "");
	fixture_stop(&f);
}
END_TEST

START_TEST(static_tcmalloc)
{
	struct fixture f;
	struct alloc_id id;

	fixture_start(&f, "detect_tcmalloc_minimal-static", NULL, NULL);
	detect(&f, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "tcmalloc");
	assert_static(&f, "detect_tcmalloc_minimal-static", &id);
	assert_tcmalloc_version(&f, &id);
	fixture_stop(&f);
}
END_TEST

/* A synthetic je_ API in the executable (see fixtures/detect_prefixed.c). */
START_TEST(prefixed_jemalloc)
{
	char exe[4096];
	struct fixture f;
	struct alloc_id id;

	fixture_start(&f, "detect_prefixed", NULL, NULL);
	detect(&f, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "jemalloc");
	ck_assert_int_eq(id.link, ALLOC_STATIC);
	ck_assert_str_eq(id.prefix, "je_");
	snprintf(exe, sizeof(exe), "%s/detect_prefixed", FIXTURE_BIN);
	ck_assert_str_eq(id.path, exe);
	assert_evidence(&id, "je_mallctl");
	fixture_stop(&f);
}
END_TEST

/* Without .symtab: a dynamic executable is looked past (malloc is in its
 * .dynsym if it has one), a static one is named by its strings. */
START_TEST(stripped_executables)
{
	static const struct {
		const char *name, *kind;
		bool is_static;
	} cases[] = {
		{ "detect_stripped", "glibc", false },
		{ "detect_stripped-static", "glibc", true },
		{ "detect_stripped_jemalloc", "jemalloc", false },
		{ "detect_stripped_jemalloc-static", "jemalloc", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture f;
		struct alloc_id id;

		fixture_start(&f, cases[i].name, NULL, NULL);
		detect(&f, &id);
		ck_assert_msg(!strcmp(alloc_kind_name(id.kind), cases[i].kind), "%s: %s (%s)",
			      cases[i].name, alloc_kind_name(id.kind), id.evidence);
		if (cases[i].is_static) {
			assert_static(&f, cases[i].name, &id);
			assert_evidence(&id, "strings");
		} else {
			assert_provider(&f, &id);
		}
		if (!strcmp(cases[i].kind, "glibc"))
			assert_glibc_version(&f, &id);
		else
			assert_jemalloc_version(&f, "jemalloc_version", &id);
		fixture_stop(&f);
	}
}
END_TEST

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	ssize_t n;

	ck_assert_msg(in >= 0 && out >= 0, "copy %s to %s: %s", from, to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(close(out), 0);
}

/* The executable is gone from disk: its symbols are read through the
 * mapping (map_files) or /proc/<pid>/exe. */
START_TEST(deleted_executable)
{
	char name[64], path[4096], from[4096];
	struct fixture f;
	struct alloc_id id;

	snprintf(name, sizeof(name), "detect-deleted-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/%s", FIXTURE_BIN, name);
	snprintf(from, sizeof(from), "%s/detect_jemalloc-static", FIXTURE_BIN);
	unlink(path);
	copy_file(from, path);
	fixture_start(&f, name, NULL, NULL);
	ck_assert_int_eq(unlink(path), 0);

	detect(&f, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "jemalloc");
	ck_assert_int_eq(id.link, ALLOC_STATIC);
	ck_assert_msg(strstr(id.path, name) && strstr(id.path, "(deleted)"), "path %s", id.path);
	assert_jemalloc_version(&f, "jemalloc_version", &id);
	fixture_stop(&f);
}
END_TEST

/* A committed fake /proc (fixtures/detect-root) whose root/ holds the
 * target's own /etc and a /usr that leads to this machine's: maps names
 * /usr/bin/true (which needs only libc.so.6), libc, ld.so and jemalloc. */
static void detect_fake(pid_t pid, struct alloc_id *id)
{
	struct error err = { 0 };
	int ret = alloc_detect(FAKE_TREE("detect-root"), pid, NULL, id, &err);

	ck_assert_msg(ret == 0, "alloc_detect(fake %d): %d %s", (int)pid, ret, err.msg);
}

/* 4242's root/etc/ld.so.preload names libjemalloc.so.2: it comes before
 * libc, read from the target's /etc, not this machine's. */
START_TEST(ld_so_preload_of_the_target)
{
	struct alloc_id id;

	detect_fake(4242, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "jemalloc");
	ck_assert_int_eq(id.link, ALLOC_SHARED);
	ck_assert_str_eq(id.path, LIBDIR "/libjemalloc.so.2");
	ck_assert_uint_eq(id.load_base, 0x7f5e4a600000);	/* its first line in maps */
	assert_evidence(&id, "libjemalloc.so.2 exports malloc (/etc/ld.so.preload)");
}
END_TEST

/* 4243 maps the same files with no preload: jemalloc was dlopen()ed, after
 * libc in the search order, so libc's malloc serves the program. */
START_TEST(dlopened_allocator_does_not_serve_malloc)
{
	struct alloc_id id;

	detect_fake(4243, &id);
	ck_assert_str_eq(alloc_kind_name(id.kind), "glibc");
	ck_assert_str_eq(id.path, LIBDIR "/libc.so.6");
	ck_assert_uint_eq(id.load_base, 0x7f5e4a200000);
	assert_evidence(&id, "libc.so.6 exports malloc (linked)");
}
END_TEST

/* A pid that was just reaped names no process. */
START_TEST(no_such_process)
{
	struct error err = { 0 };
	struct alloc_id id;
	char want[64];
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(alloc_detect("", pid, NULL, &id, &err), -ESRCH);
	ck_assert_int_eq(err.code, -ESRCH);
	snprintf(want, sizeof(want), "pid %d", (int)pid);
	ck_assert_msg(strstr(err.msg, want), "message \"%s\" does not name %s", err.msg, want);
}
END_TEST

/* ---- lib/elf_file on the fixtures' own files ---------------------------- */

struct names {
	char v[16][128];
	size_t n;
	char soname[128];
};

static int collect_dynamic(void *arg, int64_t tag, const char *value)
{
	struct names *n = arg;

	if (tag == DT_SONAME)
		snprintf(n->soname, sizeof(n->soname), "%s", value);
	else if (n->n < 16)
		snprintf(n->v[n->n++], sizeof(n->v[0]), "%s", value);
	return 0;
}

static size_t index_of(const struct names *n, const char *name)
{
	for (size_t i = 0; i < n->n; i++)
		if (!strcmp(n->v[i], name))
			return i;
	return SIZE_MAX;
}

/* gcc puts -ljemalloc on the link line before the implicit -lc, and the
 * linker records DT_NEEDED in that order. */
START_TEST(elf_needed_in_link_order)
{
	struct elf_file f = ELF_FILE_INIT;
	struct error err = { 0 };
	struct names n = { 0 };

	ck_assert_msg(elf_file_open(&f, FIXTURE_BIN "/detect_jemalloc", &err) == 0, "%s", err.msg);
	ck_assert(elf_file_has_interp(&f));
	ck_assert_int_eq(elf_file_for_each_dynamic(&f, collect_dynamic, &n), 0);
	ck_assert_str_eq(n.soname, "");
	ck_assert_uint_ne(index_of(&n, "libjemalloc.so.2"), SIZE_MAX);
	ck_assert_uint_ne(index_of(&n, "libc.so.6"), SIZE_MAX);
	ck_assert_uint_lt(index_of(&n, "libjemalloc.so.2"), index_of(&n, "libc.so.6"));
	elf_file_close(&f);
	elf_file_close(&f);	/* twice is safe */

	memset(&n, 0, sizeof(n));
	ck_assert(elf_file_open(&f, LIBDIR "/libtcmalloc.so.4", NULL) == 0);
	ck_assert(!elf_file_has_interp(&f));
	elf_file_for_each_dynamic(&f, collect_dynamic, &n);
	ck_assert_str_eq(n.soname, "libtcmalloc.so.4");	/* the name it is linked by */
	elf_file_close(&f);
}
END_TEST

static int find_symbol(void *arg, const char *name, const GElf_Sym *sym, bool dynamic)
{
	GElf_Sym *out = arg;

	(void)dynamic;
	if (strcmp(name, "__libc_version"))
		return 0;
	*out = *sym;
	return 1;
}

/* A static glibc keeps gnu_get_libc_version's answer in __libc_version; this
 * test process runs on the same glibc. */
START_TEST(elf_string_at_a_symbol)
{
	struct elf_file f = ELF_FILE_INIT;
	GElf_Sym sym = { 0 };
	char buf[32], tiny[2];

	ck_assert(elf_file_open(&f, FIXTURE_BIN "/detect_glibc-static", NULL) == 0);
	ck_assert(!elf_file_has_interp(&f));
	ck_assert(elf_file_has_symtab(&f));
	ck_assert_int_eq(elf_file_for_each_symbol(&f, ELF_DYNSYM, find_symbol, &sym), 0);
	ck_assert_int_eq(elf_file_for_each_symbol(&f, ELF_SYMTAB, find_symbol, &sym), 1);
	ck_assert_int_eq(elf_file_string_at(&f, sym.st_value, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, gnu_get_libc_version());
	ck_assert_int_eq(elf_file_string_at(&f, sym.st_value, tiny, sizeof(tiny)), -E2BIG);
	ck_assert_int_eq(elf_file_string_at(&f, 0x10, buf, sizeof(buf)), -ENOENT);
	elf_file_close(&f);
}
END_TEST

START_TEST(elf_open_errors)
{
	struct elf_file f = ELF_FILE_INIT;
	struct error err = { 0 };

	ck_assert_int_eq(elf_file_open(&f, FIXTURE_BIN "/no-such-file", &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "no-such-file"));
	ck_assert_int_eq(elf_file_open(&f, HEAPDOC_ROOT "/fixtures/detect_probe.h", &err), -ENOEXEC);
	ck_assert_ptr_nonnull(strstr(err.msg, "not an ELF file"));
	elf_file_close(&f);
}
END_TEST

Suite *detect_suite(void)
{
	Suite *s = suite_create("detect");
	TCase *live = tcase_create("live");
	TCase *fake = tcase_create("fake-root");
	TCase *errors = tcase_create("errors");
	TCase *elf = tcase_create("elf_file");

	tcase_set_timeout(live, 60);
	tcase_add_test(live, plain_glibc);
	tcase_add_test(live, ld_preload_jemalloc);
	tcase_add_test(live, ld_preload_tcmalloc);
	tcase_add_test(live, ld_preload_order);
	tcase_add_test(live, ld_preload_beats_linked);
	tcase_add_test(live, linked_jemalloc);
	tcase_add_test(live, linked_tcmalloc);
	tcase_add_test(live, static_glibc);
	tcase_add_test(live, static_jemalloc);
	tcase_add_test(live, static_tcmalloc);
	tcase_add_test(live, prefixed_jemalloc);
	tcase_add_test(live, stripped_executables);
	tcase_add_test(live, deleted_executable);
	suite_add_tcase(s, live);

	tcase_add_test(fake, ld_so_preload_of_the_target);
	tcase_add_test(fake, dlopened_allocator_does_not_serve_malloc);
	suite_add_tcase(s, fake);

	tcase_add_test(errors, no_such_process);
	suite_add_tcase(s, errors);

	tcase_add_test(elf, elf_needed_in_link_order);
	tcase_add_test(elf, elf_string_at_a_symbol);
	tcase_add_test(elf, elf_open_errors);
	suite_add_tcase(s, elf);
	return s;
}
