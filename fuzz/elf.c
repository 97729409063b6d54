/* Fuzzer: the ELF and DWARF paths (lib/observe/elf_file.c, elfsym.c,
 * symbols.c, alloc/glibc_layout.c, and what reads files through them:
 * allocator detection and audit's module checks) on mutated files.
 *
 * Each input is one file, written where a fake process maps it
 * (<tree>/proc/4242/root/lib/libc.so.6), then read every way heapdoc reads
 * a mapped file:
 *  - elf_file: program headers, dynamic entries, symbols, .rodata strings,
 *    strings at symbol addresses; elfsym lookups;
 *  - alloc_detect and audit_read_modules on a maps list naming it;
 *  - libdwfl on the file alone (symbols_open_file): symbol lookups, the
 *    module's facts, struct layouts from DWARF, code ranges of a CU, the
 *    name and source line of addresses, TLS offsets, and glibc's malloc
 *    layout (glibc_layout_load), which the heap walk then trusts.
 * Besides the sanitizers, what the headers promise is checked: strings
 * end within their buffers, a layout from DWARF keeps every member inside
 * its struct.
 *
 * Corpus: fuzz/corpus/elf, a small shared library with glibc's malloc
 * structs and debug info (fuzz/seeds/malloc/malloc.c) and an executable
 * linked against it (fuzz/seeds/main.c), built by fuzz/seed.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "model/audit.h"
#include "observe/alloc/alloc.h"
#include "observe/alloc/glibc_layout.h"
#include "observe/audit.h"
#include "observe/elf_file.h"
#include "observe/elfsym.h"
#include "observe/symbols.h"
#include "tree.h"

#define PID		4242
#define MAPPED		"/lib/libc.so.6"
#define LOAD_BASE	0x7f1200000000ULL
#define MAX_ADDRS	16

static char *dir;
static char file[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t tree[] = "@@ proc/4242/root/lib/\n";

	(void)argc;
	(void)argv;
	dir = fuzz_dir("elf");
	fuzz_tree_build(dir, tree, sizeof(tree) - 1);
	snprintf(file, sizeof(file), "%s/proc/%d/root%s", dir, PID, MAPPED);
	/* Debug files are looked for beside the file only, never in the
	 * host's /usr/lib/debug: a mutated build-id must not find one. */
	setenv("HEAPDOC_DEBUG_PATH", dir, 1);
	return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	FUZZ_CHECK(fd >= 0, "%s: %s", file, strerror(errno));
	for (size_t off = 0; off < size;) {
		ssize_t w = write(fd, data + off, size - off);

		FUZZ_CHECK(w > 0, "%s: %s", file, strerror(errno));
		off += (size_t)w;
	}
	close(fd);
}

/* ---- elf_file, elfsym ------------------------------------------------------ */

struct seen {
	uint64_t addr[MAX_ADDRS];
	size_t n;
};

static int on_symbol(void *arg, const char *name, const GElf_Sym *sym, bool dynamic)
{
	struct seen *s = arg;

	(void)dynamic;
	FUZZ_CHECK(name != NULL, "symbol without a name");
	if (sym->st_value && s->n < MAX_ADDRS)
		s->addr[s->n++] = sym->st_value;
	return 0;
}

static int on_dynamic(void *arg, int64_t tag, const char *value)
{
	(void)arg;
	FUZZ_CHECK(tag == DT_SONAME || tag == DT_NEEDED, "dynamic tag %lld", (long long)tag);
	FUZZ_CHECK(value != NULL, "dynamic string NULL");
	return 0;
}

static int on_string(void *arg, const char *s, size_t len)
{
	(void)arg;
	FUZZ_CHECK(len > 0 && s[len] == '\0' && strlen(s) == len, "rodata string of %zu", len);
	return 0;
}

static void on_function(const char *name, uint64_t lo, uint64_t hi, void *arg)
{
	(void)name;
	(void)arg;
	FUZZ_CHECK(lo < hi, "function [%#llx, %#llx)", (unsigned long long)lo,
		   (unsigned long long)hi);
}

static void read_elf(struct seen *seen)
{
	static const uint32_t phdrs[] = { PT_GNU_RELRO, PT_GNU_STACK, PT_TLS, PT_DYNAMIC };
	static const int64_t tags[] = { DT_FLAGS, DT_FLAGS_1, DT_BIND_NOW, DT_SONAME };
	struct elf_file f = ELF_FILE_INIT;
	struct elfsym es;
	struct error err = { 0 };
	uint64_t v, addr, size;
	GElf_Phdr ph;
	char buf[64];

	if (elf_file_open(&f, file, &err) < 0) {
		FUZZ_CHECK(err.code < 0 && err.msg[0], "elf_file_open failed silently");
		elf_file_close(&f);
		return;
	}
	elf_file_has_interp(&f);
	elf_file_first_load(&f, &v);
	for (size_t i = 0; i < sizeof(phdrs) / sizeof(*phdrs); i++)
		elf_file_phdr(&f, phdrs[i], &ph);
	for (size_t i = 0; i < sizeof(tags) / sizeof(*tags); i++)
		elf_file_dynamic_value(&f, tags[i], &v);
	elf_file_for_each_dynamic(&f, on_dynamic, NULL);
	elf_file_for_each_symbol(&f, ELF_DYNSYM | ELF_SYMTAB | ELF_UNDEFINED, on_symbol, seen);
	elf_file_has_symtab(&f);
	elf_file_for_each_rodata_string(&f, on_string, NULL);
	for (size_t i = 0; i < seen->n; i++) {
		size_t len = 1 + i % sizeof(buf);

		memset(buf, 'x', sizeof(buf));
		if (elf_file_string_at(&f, seen->addr[i], buf, len) == 0)
			FUZZ_CHECK(memchr(buf, '\0', len), "string at %#llx runs past %zu bytes",
				   (unsigned long long)seen->addr[i], len);
	}
	elf_file_close(&f);

	if (elfsym_open(&es, getpid(), file, LOAD_BASE, &err) == 0) {
		elfsym_lookup(&es, "main_arena", &addr, &size);
		elfsym_lookup(&es, "malloc", &addr, NULL);
		elfsym_each_function(&es, on_function, NULL);
	}
	elfsym_close(&es);
}

/* ---- the file as a process maps it ------------------------------------------ */

static void read_mapped(void)
{
	static const char *const perms[] = { "r--p", "r-xp", "r--p", "rw-p" };
	struct mapping v[4];
	struct maps maps = { .v = v, .n = 4, .cap = 4 };
	struct audit_obs obs;
	struct alloc_id id;
	struct error err = { 0 };

	memset(v, 0, sizeof(v));
	for (size_t i = 0; i < 4; i++) {
		v[i].start = LOAD_BASE + i * 0x1000;
		v[i].end = v[i].start + 0x1000;
		v[i].offset = i * 0x1000;
		v[i].inode = 1;
		memcpy(v[i].perms, perms[i], 5);
		snprintf(v[i].path, sizeof(v[i].path), "%s", MAPPED);
		v[i].rss = v[i].pss = v[i].anonymous = v[i].private_dirty = v[i].swap = UNSET;
	}
	maps_classify(&maps);
	alloc_detect(dir, PID, &maps, &id, &err);
	memset(&obs, 0, sizeof(obs));
	audit_read_modules(dir, PID, &maps, &obs, &err);
	audit_obs_release(&obs);
}

/* ---- libdwfl: symbols, DWARF, glibc's layout ---------------------------------- */

/* Every member the walk reads lies inside the copy of its struct. */
static void check_fields(const char *what, const struct glibc_field *f, size_t n,
			 uint64_t size)
{
	for (size_t i = 0; i < n; i++) {
		if (f[i].off < 0)
			continue;
		FUZZ_CHECK((uint64_t)f[i].off + (uint64_t)f[i].size * f[i].count <= size,
			   "%s member %zu: %u x %u bytes at %lld, outside its %llu bytes", what,
			   i, f[i].count, f[i].size, (long long)f[i].off, (unsigned long long)size);
	}
}

static void check_layout(const struct glibc_layout *L)
{
	check_fields("malloc_state", L->ms, MS_N, L->state_size);
	check_fields("malloc_par", L->mp, MP_N, L->par_size);
	check_fields("heap_info", L->hi, HI_N, L->heap_info_size);
	check_fields("tcache_perthread_struct", L->tc, TC_N, L->tcache_size);
}

static void on_range(uint64_t lo, uint64_t hi, void *arg)
{
	(void)lo;
	(void)hi;
	(void)arg;
}

static void read_dwarf(const struct seen *seen)
{
	static const char *const prefer[] = { "libc.so", NULL };
	struct sym_member members[] = { { .name = "top" }, { .name = "bins" },
					{ .name = "next" }, { .name = "nothing" } };
	struct glibc_symbols gs;
	struct glibc_layout L;
	struct sym_module_info mi;
	struct sym_module *m;
	struct sym_place place;
	struct sym_info si;
	struct symbols *syms;
	struct error err = { 0 };
	uint64_t off, size;
	int64_t tpoff;

	if (symbols_open_file(&syms, file, &err) < 0)
		return;
	symbols_load_tables(syms);
	if (glibc_layout_load(syms, "2.36", &gs, &L, &err) == 0)
		check_layout(&L);
	if (glibc_layout_load(syms, NULL, &gs, &L, &err) == 0)
		check_layout(&L);
	m = symbols_module_named(syms, "libc.so");
	if (m) {
		symbols_module_info(m, &mi);
		if (symbols_struct(m, "malloc.c", "malloc_state", &size, members,
				   sizeof(members) / sizeof(*members), &err) == 0)
			for (size_t i = 0; i < sizeof(members) / sizeof(*members); i++)
				FUZZ_CHECK(members[i].offset < 0 ||
					   members[i].elem_size <= members[i].size ||
					   !members[i].size, "member %s", members[i].name);
		symbols_cu_ranges(m, "malloc/malloc.c", on_range, NULL, &err);
	}
	if (symbols_lookup(syms, "tcache", prefer, &si, &err) == 0 && si.tls)
		symbols_tls_offset(syms, &si, &tpoff, &err);
	if (symbols_lookup(syms, "calls", prefer, &si, &err) == 0 && si.tls)
		symbols_tls_offset(syms, &si, &tpoff, &err);
	for (size_t i = 0; i < seen->n; i++) {
		symbols_name_at(syms, seen->addr[i], &off);
		symbols_module_at(syms, seen->addr[i]);
		symbols_place(syms, seen->addr[i], &place);
	}
	symbols_close(syms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen seen = { .n = 0 };

	write_file(data, size);
	read_elf(&seen);
	read_mapped();
	read_dwarf(&seen);
	return 0;
}
