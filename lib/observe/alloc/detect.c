/* Which allocator serves malloc in a process.
 *
 * The dynamic linker binds malloc to the first object of its global search
 * scope that defines it: the executable, then the LD_PRELOAD libraries and
 * those of /etc/ld.so.preload, then the DT_NEEDED libraries of all these,
 * breadth-first.  This file reads what that takes: /proc/<pid>/maps, the
 * dynamic sections, symbols and strings of the mapped files, the preloads;
 * it rebuilds the order, and detect_choose.c names the first object that
 * defines malloc by the symbols it carries.  An executable that
 * carries an allocator's own API (mallctl, tc_malloc, mi_malloc ...) names
 * the allocator even when malloc is bound elsewhere: a copy compiled in
 * under a prefix (je_mallctl) is what the program allocates with.
 */
#include "observe/alloc/detect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/file.h"
#include "base/util.h"
#include "observe/elf_file.h"

/* /etc/ld.so.preload lists a few libraries; a longer one is not read. */
#define PRELOAD_FILE_MAX (64u << 10)

/* ---- the symbols that name an allocator -------------------------------- */

static const struct marker {
	const char *name;
	bool is_prefix;		/* name is a prefix of the symbol */
	enum alloc_kind kind;
	const char *flavor;
} markers[] = {
	/* An allocator's own API: names the allocator wherever it is found. */
	{ "MallocExtension_Internal_GetNumericProperty", false, ALLOC_TCMALLOC, "google" },
	{ "TCMallocInternal", true, ALLOC_TCMALLOC, "google" },
	{ "MallocExtension_GetNumericProperty", false, ALLOC_TCMALLOC, "gperftools" },
	{ "tc_malloc", false, ALLOC_TCMALLOC, "gperftools" },
	{ "mi_malloc", false, ALLOC_MIMALLOC, "" },
	{ "__scudo_print_stats", false, ALLOC_SCUDO, "" },
	{ "__scudo_set_rss_limit", false, ALLOC_SCUDO, "" },
	{ "h_malloc", false, ALLOC_HARDENED_MALLOC, "" },
	/* libc internals: name the C library a malloc came with.  jemalloc and
	 * tcmalloc also export __libc_malloc, so that one tells nothing. */
	{ "gnu_get_libc_version", false, ALLOC_GLIBC, "" },
	{ "main_arena", false, ALLOC_GLIBC, "" },
	{ "__malloc_context", false, ALLOC_MUSL, "" },		/* mallocng */
	{ "__libc_malloc_impl", false, ALLOC_MUSL, "" },	/* mallocng */
	{ "__malloc_donate", false, ALLOC_MUSL, "" },
	{ "__expand_heap", false, ALLOC_MUSL, "" },		/* oldmalloc */
};


static void note_marker(struct marks *m, const struct marker *k, const char *name)
{
	if (is_libc(k->kind)) {
		if (m->libc == ALLOC_UNKNOWN) {
			m->libc = k->kind;
			snprintf(m->libc_marker, sizeof(m->libc_marker), "%s", name);
		}
	} else if (m->kind == ALLOC_UNKNOWN) {
		m->kind = k->kind;
		m->flavor = k->flavor;
		snprintf(m->marker, sizeof(m->marker), "%s", name);
	}
}

/* Remembers the prefix of a symbol that ends in suffix. */
static void note_suffix(const char *name, const char *suffix, char (*seen)[16],
			unsigned *n)
{
	size_t len = strlen(name), slen = strlen(suffix);

	if (len < slen || strcmp(name + len - slen, suffix) || len - slen >= 16 || *n >= 4)
		return;
	for (unsigned i = 0; i < *n; i++)
		if (strlen(seen[i]) == len - slen && !strncmp(seen[i], name, len - slen))
			return;
	memcpy(seen[*n], name, len - slen);
	seen[*n][len - slen] = '\0';
	(*n)++;
}

static bool is_function(const GElf_Sym *sym)
{
	int type = GELF_ST_TYPE(sym->st_info);

	return type == STT_FUNC || type == STT_GNU_IFUNC;
}

/* An allocator's API is global; a local h_malloc is some program's helper.
 * libc's internals are local in a static executable (hidden symbols become
 * local when linked), so they count in either binding. */
static int note_symbol(void *arg, const char *name, const GElf_Sym *sym, bool dynamic)
{
	struct marks *m = arg;
	int bind = GELF_ST_BIND(sym->st_info);
	bool global = bind == STB_GLOBAL || bind == STB_WEAK;

	if (!strcmp(name, "__libc_version"))
		m->libc_version_addr = sym->st_value;
	if (!global) {
		for (size_t i = 0; i < ARRAY_SIZE(markers); i++)
			if (is_libc(markers[i].kind) && !strcmp(name, markers[i].name))
				note_marker(m, &markers[i], name);
		return 0;
	}
	if (is_function(sym) && !strcmp(name, "malloc")) {
		m->defines_malloc = true;
		m->exports_malloc |= dynamic;
		return 0;
	}
	if (is_function(sym)) {
		note_suffix(name, "mallctl", m->mallctl, &m->n_mallctl);
		note_suffix(name, "mallctlnametomib", m->nametomib, &m->n_nametomib);
	}
	for (size_t i = 0; i < ARRAY_SIZE(markers); i++) {
		const struct marker *k = &markers[i];

		if (k->is_prefix ? starts_with(name, k->name) : !strcmp(name, k->name))
			note_marker(m, k, name);
	}
	return 0;
}

/* Once every symbol is seen: a prefix with both halves of jemalloc's
 * control API names jemalloc, whatever other marker came first. */
static void settle_jemalloc(struct marks *m)
{
	for (unsigned i = 0; i < m->n_mallctl; i++) {
		for (unsigned j = 0; j < m->n_nametomib; j++) {
			if (strcmp(m->mallctl[i], m->nametomib[j]))
				continue;
			m->kind = ALLOC_JEMALLOC;
			m->flavor = "";
			snprintf(m->prefix, sizeof(m->prefix), "%s", m->mallctl[i]);
			snprintf(m->marker, sizeof(m->marker), "%smallctl", m->prefix);
			return;
		}
	}
}

/* ---- the mapped files ---------------------------------------------------- */

static int collect_objects(struct detect *d, const struct maps *maps)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct mapping *m = &maps->v[i];
		struct object *o = NULL;

		if (m->path[0] != '/')
			continue;
		for (size_t j = d->n; j-- > 0;) {
			if (d->obj[j].map->inode == m->inode &&
			    !strcmp(d->obj[j].map->path, m->path)) {
				o = &d->obj[j];
				break;
			}
		}
		if (!o) {
			if (d->n == d->cap) {
				size_t cap = d->cap ? 2 * d->cap : 64;
				struct object *v = realloc(d->obj, cap * sizeof(*v));

				if (!v)
					return -ENOMEM;
				d->obj = v;
				d->cap = cap;
			}
			o = &d->obj[d->n++];
			memset(o, 0, sizeof(*o));
			o->map = m;
		}
		if (strchr(m->perms, 'x'))
			o->executable_mapping = true;
	}
	return 0;
}

static int note_dynamic(void *arg, int64_t tag, const char *value)
{
	struct object *o = arg;
	size_t len = strlen(value) + 1;
	char *v;

	if (tag == DT_SONAME) {
		snprintf(o->soname, sizeof(o->soname), "%s", value);
		return 0;
	}
	v = realloc(o->needed, o->needed_len + len);
	if (!v)
		return -ENOMEM;
	memcpy(v + o->needed_len, value, len);
	o->needed = v;
	o->needed_len += len;
	return 0;
}


static int open_object(const struct detect *d, const struct object *o, struct elf_file *f)
{
	return o == d->exe ? elf_file_open_executable(f, d->root, d->pid, o->map, NULL)
			   : elf_file_open_mapped(f, d->root, d->pid, o->map, NULL);
}

static int match_allocator_string(void *arg, const char *s, size_t len)
{
	struct string_marks *sm = arg;

	(void)len;
	if (starts_with(s, "<jemalloc>: "))
		sm->kind = ALLOC_JEMALLOC;
	else if (starts_with(s, "gperftools "))
		sm->kind = ALLOC_TCMALLOC;
	else if (starts_with(s, "mimalloc: "))
		sm->kind = ALLOC_MIMALLOC;
	else if (starts_with(s, "malloc(): ") || strstr(s, "GNU C Library"))
		sm->glibc = true;
	return sm->kind != ALLOC_UNKNOWN;
}

/* Reads what the search order and the choice need from one file.  A file
 * that cannot be read stays !readable: it is named by its file name alone. */
static int inspect_object(const struct detect *d, struct object *o)
{
	struct elf_file f = ELF_FILE_INIT;
	unsigned tables = ELF_DYNSYM;
	int ret;

	if (!o->executable_mapping || open_object(d, o, &f) < 0)
		return 0;
	o->readable = true;
	o->interp = elf_file_has_interp(&f);
	o->symtab = elf_file_has_symtab(&f);
	ret = elf_file_for_each_dynamic(&f, note_dynamic, o);
	if (ret < 0)
		goto out;
	/* Only the executable's local symbols matter: a library binds malloc
	 * for others only through what it exports. */
	if (o == d->exe)
		tables |= ELF_SYMTAB;
	elf_file_for_each_symbol(&f, tables, note_symbol, &o->marks);
	settle_jemalloc(&o->marks);
	/* Strings survive stripping: the last resort for an executable that
	 * names no allocator and defines no malloc in its symbols. */
	if (o == d->exe && !o->symtab && o->marks.kind == ALLOC_UNKNOWN &&
	    !o->marks.defines_malloc)
		elf_file_for_each_rodata_string(&f, match_allocator_string, &o->strings);
out:
	elf_file_close(&f);
	return ret;
}

static struct object *find_executable(struct detect *d)
{
	char link[4096], target[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "%s/proc/%d/exe", d->root, (int)d->pid);
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		for (size_t i = 0; i < d->n; i++)
			if (!strcmp(d->obj[i].map->path, target))
				return &d->obj[i];
	}
	/* No link (a fake tree, or no permission): the executable is mapped
	 * below every library. */
	return d->n ? &d->obj[0] : NULL;
}

/* ---- the search order ---------------------------------------------------- */

static void place(struct detect *d, struct object *o, enum origin origin)
{
	if (!o || o->origin != ORIGIN_NONE)
		return;
	o->origin = origin;
	d->order[d->n_order++] = o - d->obj;
}

/* The object a DT_NEEDED entry or a bare preload name refers to. */
static struct object *object_named(struct detect *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++) {
		struct object *o = &d->obj[i];

		if (o->readable && (!strcmp(o->soname, name) ||
				    !strcmp(base_name(o->map->path), name)))
			return o;
	}
	return NULL;
}

/* The object a preload path refers to: the same file (the path may be a
 * symlink, or name /lib for /usr/lib), else the same name. */
static struct object *object_at(struct detect *d, const char *path)
{
	char full[4096];
	struct stat st;

	if (!strchr(path, '/'))
		return object_named(d, path);
	snprintf(full, sizeof(full), "%s/proc/%d/root%s", d->root, (int)d->pid, path);
	if (stat(full, &st) == 0) {
		for (size_t i = 0; i < d->n; i++) {
			const struct mapping *m = d->obj[i].map;

			if (m->inode == st.st_ino && m->dev_major == major(st.st_dev) &&
			    m->dev_minor == minor(st.st_dev))
				return &d->obj[i];
		}
	}
	return object_named(d, base_name(path));
}

/* Places each entry of a preload list: names separated by spaces, tabs,
 * newlines or colons, as the dynamic linker splits them. */
static void place_preloads(struct detect *d, const char *list, enum origin origin)
{
	char *copy = strdup(list), *save = NULL;

	if (!copy)
		return;
	for (char *e = strtok_r(copy, " \t\n:", &save); e; e = strtok_r(NULL, " \t\n:", &save))
		place(d, object_at(d, e), origin);
	free(copy);
}

static void place_preload_file(struct detect *d)
{
	char path[4096], *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/proc/%d/root/etc/ld.so.preload", d->root, (int)d->pid);
	if (file_read(path, PRELOAD_FILE_MAX, &buf, &len, NULL) < 0)
		return;
	place_preloads(d, buf, ORIGIN_PRELOAD_FILE);
	free(buf);
}

/* Builds d->order: the executable, the preloads, everything they need
 * breadth-first, then the rest (dlopen()ed or not reached), allocator
 * libraries first so that a process whose executable could not be read
 * still gets a sensible answer. */
static void build_order(struct detect *d)
{
	struct environ env = { 0 };
	const char *preload;

	place(d, d->exe, ORIGIN_EXECUTABLE);
	if (proc_read_environ(d->root, d->pid, &env, NULL) == 0 &&
	    (preload = environ_get(&env, "LD_PRELOAD")))
		place_preloads(d, preload, ORIGIN_LD_PRELOAD);
	environ_free(&env);
	place_preload_file(d);

	for (size_t i = 0; i < d->n_order; i++) {
		struct object *o = &d->obj[d->order[i]];

		for (size_t off = 0; off < o->needed_len; off += strlen(o->needed + off) + 1)
			place(d, object_named(d, o->needed + off), ORIGIN_NEEDED);
	}
	for (size_t i = 0; i < d->n; i++)
		if (detect_named_allocator_library(base_name(d->obj[i].map->path)))
			place(d, &d->obj[i], ORIGIN_LATER);
	for (size_t i = 0; i < d->n; i++)
		place(d, &d->obj[i], ORIGIN_LATER);
}

/* ---- versions ------------------------------------------------------------ */

/* Copies the version that starts at s ("2.36", "5.3.0"): digits and dots,
 * without a trailing dot.  False when there is no digit. */
static bool copy_version(char *out, size_t len, const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && (s[n] == '.' || (s[n] >= '0' && s[n] <= '9')))
		n++;
	while (n && s[n - 1] == '.')
		n--;
	if (!n || s[0] == '.' || n >= len)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* jemalloc's JEMALLOC_VERSION, "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c"
 * (git describe: version, commits since, commit), is a string of its own. */
static bool jemalloc_version_in(const char *s, size_t len, char *out, size_t outlen)
{
	const char *tail, *p;

	if (len < 42 + 5)	/* "1.0-0" at least, "-g" and 40 hex digits */
		return false;
	tail = s + len - 42;
	if (tail[0] != '-' || tail[1] != 'g' || !is_hex(tail + 2, 40))
		return false;
	for (p = tail; p > s && p[-1] >= '0' && p[-1] <= '9'; p--)
		;
	if (p == tail || p == s || p[-1] != '-')
		return false;
	tail = --p;		/* the '-' before the commit count */
	while (p > s && (p[-1] == '.' || (p[-1] >= '0' && p[-1] <= '9')))
		p--;
	return copy_version(out, outlen, p, tail - p) && strchr(out, '.');
}

struct version_search {
	enum alloc_kind kind;
	char *out;
	size_t len;
};

static int match_version(void *arg, const char *s, size_t len)
{
	struct version_search *v = arg;
	const char *p;

	switch (v->kind) {
	case ALLOC_GLIBC:	/* "GNU C Library (...) stable release version 2.36." */
		p = strstr(s, "GNU C Library");
		p = p ? strstr(p, "release version ") : NULL;
		return p && copy_version(v->out, v->len, p + 16, s + len - p - 16);
	case ALLOC_JEMALLOC:
		return jemalloc_version_in(s, len, v->out, v->len);
	case ALLOC_TCMALLOC:	/* gperftools' TC_VERSION_STRING: "gperftools 2.10" */
		return starts_with(s, "gperftools ") &&
		       copy_version(v->out, v->len, s + 11, len - 11);
	default:
		return 1;
	}
}

/* The version a file's name or place carries: glibc's old libc-2.31.so;
 * compiler-rt's scudo under .../lib/clang/14.0.6/lib/linux/. */
static void version_from_path(enum alloc_kind kind, const char *path, char *out, size_t len)
{
	const char *base = base_name(path), *clang = strstr(path, "/clang/");

	if (kind == ALLOC_GLIBC && starts_with(base, "libc-"))
		copy_version(out, len, base + 5, strlen(base + 5));
	else if (kind == ALLOC_SCUDO && clang)
		copy_version(out, len, clang + 7, strlen(clang + 7));
}

static void read_version(const struct detect *d, const struct object *o,
			 struct alloc_id *out)
{
	struct version_search v = { out->kind, out->version, sizeof(out->version) };
	struct elf_file f = ELF_FILE_INIT;

	out->version[0] = '\0';
	if (o->readable && open_object(d, o, &f) == 0) {
		if (!elf_file_for_each_rodata_string(&f, match_version, &v))
			out->version[0] = '\0';
		/* A static glibc keeps gnu_get_libc_version's answer, not
		 * always the banner. */
		if (!out->version[0] && out->kind == ALLOC_GLIBC && o->marks.libc_version_addr)
			elf_file_string_at(&f, o->marks.libc_version_addr, out->version,
					   sizeof(out->version));
		elf_file_close(&f);
	}
	if (!out->version[0])
		version_from_path(out->kind, o->map->path, out->version, sizeof(out->version));
}

/* ---- the entry point ------------------------------------------------------ */

static void detect_free(struct detect *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->obj[i].needed);
	free(d->obj);
	free(d->order);
}

int alloc_detect(const char *root, pid_t pid, const struct maps *maps,
		 struct alloc_id *out, struct error *err)
{
	struct detect d = { .root = root, .pid = pid };
	const struct object *chosen;
	struct maps own = { 0 };
	char dir[4096];
	int ret;

	memset(out, 0, sizeof(*out));
	snprintf(dir, sizeof(dir), "%s/proc/%d", root, (int)pid);
	if (access(dir, F_OK) != 0)
		return error_set(err, -ESRCH, "pid %d: no such process", (int)pid);
	if (!maps) {
		ret = proc_read_maps(root, pid, &own, err);
		if (ret < 0)
			return ret;
		maps = &own;
	}
	ret = collect_objects(&d, maps);
	if (ret < 0)
		goto nomem;
	d.order = calloc(d.n ? d.n : 1, sizeof(*d.order));
	if (!d.order)
		goto nomem;
	d.exe = find_executable(&d);
	for (size_t i = 0; i < d.n; i++)
		if (inspect_object(&d, &d.obj[i]) < 0)
			goto nomem;
	build_order(&d);
	chosen = detect_choose(&d, out);
	if (chosen)
		read_version(&d, chosen, out);
	/* Files that vanished with the process name nothing. */
	if (access(dir, F_OK) != 0)
		ret = error_set(err, -ESRCH, "pid %d: the process ended during detection",
				(int)pid);
	goto out;
nomem:
	ret = error_set(err, -ENOMEM, "pid %d: allocator detection: out of memory", (int)pid);
out:
	detect_free(&d);
	maps_free(&own);
	return ret;
}
