/* Where glibc malloc keeps its state: symbols, and layouts from DWARF or a
 * per-version table. */
#include "observe/alloc/glibc_layout.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

static const char *const ms_names[MS_N] = {
	[MS_MUTEX] = "mutex", [MS_FLAGS] = "flags",
	[MS_HAVE_FASTCHUNKS] = "have_fastchunks", [MS_FASTBINS] = "fastbinsY",
	[MS_TOP] = "top", [MS_LAST_REMAINDER] = "last_remainder",
	[MS_BINS] = "bins", [MS_NEXT] = "next", [MS_NEXT_FREE] = "next_free",
	[MS_ATTACHED_THREADS] = "attached_threads",
	[MS_SYSTEM_MEM] = "system_mem", [MS_MAX_SYSTEM_MEM] = "max_system_mem",
};

static const char *const mp_names[MP_N] = {
	[MP_TRIM_THRESHOLD] = "trim_threshold", [MP_TOP_PAD] = "top_pad",
	[MP_MMAP_THRESHOLD] = "mmap_threshold", [MP_ARENA_TEST] = "arena_test",
	[MP_ARENA_MAX] = "arena_max", [MP_THP_PAGESIZE] = "thp_pagesize",
	[MP_HP_PAGESIZE] = "hp_pagesize", [MP_N_MMAPS] = "n_mmaps",
	[MP_N_MMAPS_MAX] = "n_mmaps_max", [MP_MAX_N_MMAPS] = "max_n_mmaps",
	[MP_NO_DYN_THRESHOLD] = "no_dyn_threshold",
	[MP_MMAPPED_MEM] = "mmapped_mem", [MP_MAX_MMAPPED_MEM] = "max_mmapped_mem",
	[MP_SBRK_BASE] = "sbrk_base", [MP_TCACHE_BINS] = "tcache_bins",
	[MP_TCACHE_MAX_BYTES] = "tcache_max_bytes",
	[MP_TCACHE_COUNT] = "tcache_count",
	[MP_TCACHE_UNSORTED_LIMIT] = "tcache_unsorted_limit",
};

static const char *const hi_names[HI_N] = {
	[HI_AR_PTR] = "ar_ptr", [HI_PREV] = "prev", [HI_SIZE] = "size",
	[HI_MPROTECT_SIZE] = "mprotect_size",
};

static const char *const tc_names[TC_N] = {
	[TC_COUNTS] = "counts", [TC_ENTRIES] = "entries",
};

#define F(o, s) { .off = (o), .size = (s), .count = 1 }
#define A(o, s, n) { .off = (o), .size = (s), .count = (n) }

/* glibc 2.36, x86-64: `ptype /o` on libc.so.6 with libc6-dbg (REFERENCE.md);
 * tests/glibc_test.c checks it against the DWARF of the running libc. */
static const struct glibc_layout layout_2_36 = {
	.source = "symtab",
	.state_size = 2200, .par_size = 136, .heap_info_size = 48, .tcache_size = 640,
	.ms = {
		[MS_MUTEX] = F(0, 4), [MS_FLAGS] = F(4, 4),
		[MS_HAVE_FASTCHUNKS] = F(8, 4), [MS_FASTBINS] = A(16, 8, 10),
		[MS_TOP] = F(96, 8), [MS_LAST_REMAINDER] = F(104, 8),
		[MS_BINS] = A(112, 8, 254), [MS_NEXT] = F(2160, 8),
		[MS_NEXT_FREE] = F(2168, 8), [MS_ATTACHED_THREADS] = F(2176, 8),
		[MS_SYSTEM_MEM] = F(2184, 8), [MS_MAX_SYSTEM_MEM] = F(2192, 8),
	},
	.mp = {
		[MP_TRIM_THRESHOLD] = F(0, 8), [MP_TOP_PAD] = F(8, 8),
		[MP_MMAP_THRESHOLD] = F(16, 8), [MP_ARENA_TEST] = F(24, 8),
		[MP_ARENA_MAX] = F(32, 8), [MP_THP_PAGESIZE] = F(40, 8),
		[MP_HP_PAGESIZE] = F(48, 8), [MP_N_MMAPS] = F(60, 4),
		[MP_N_MMAPS_MAX] = F(64, 4), [MP_MAX_N_MMAPS] = F(68, 4),
		[MP_NO_DYN_THRESHOLD] = F(72, 4), [MP_MMAPPED_MEM] = F(80, 8),
		[MP_MAX_MMAPPED_MEM] = F(88, 8), [MP_SBRK_BASE] = F(96, 8),
		[MP_TCACHE_BINS] = F(104, 8), [MP_TCACHE_MAX_BYTES] = F(112, 8),
		[MP_TCACHE_COUNT] = F(120, 8), [MP_TCACHE_UNSORTED_LIMIT] = F(128, 8),
	},
	.hi = {
		[HI_AR_PTR] = F(0, 8), [HI_PREV] = F(8, 8), [HI_SIZE] = F(16, 8),
		[HI_MPROTECT_SIZE] = F(24, 8),
	},
	.tc = { [TC_COUNTS] = A(0, 2, 64), [TC_ENTRIES] = A(128, 8, 64) },
	.nfastbins = 10, .nbins = 128, .tcache_bins = 64,
};

const struct glibc_layout *glibc_layout_table(const char *version)
{
	/* 2.35 to 2.41 share these structs, but only 2.36 was checked. */
	if (version && !strcmp(version, "2.36"))
		return &layout_2_36;
	return NULL;
}

uint64_t glibc_get_at(const void *base, const struct glibc_field *f, unsigned i)
{
	const unsigned char *p;
	uint64_t v8;
	uint32_t v4;
	uint16_t v2;

	if (f->off < 0 || i >= f->count)
		return 0;
	p = (const unsigned char *)base + f->off + (uint64_t)i * f->size;
	switch (f->size) {
	case 1:
		return *p;
	case 2:
		memcpy(&v2, p, 2);
		return v2;
	case 4:
		memcpy(&v4, p, 4);
		return v4;
	case 8:
		memcpy(&v8, p, 8);
		return v8;
	}
	return 0;
}

uint64_t glibc_get(const void *base, const struct glibc_field *f)
{
	return glibc_get_at(base, f, 0);
}

/* Fills fields[] from struct `name` in DWARF. */
static int dwarf_struct(struct sym_module *m, const char *name, const char *const *names,
			struct glibc_field *fields, size_t n, uint64_t *size,
			struct error *err)
{
	struct sym_member mem[MP_N];
	int rc;

	for (size_t i = 0; i < n; i++)
		mem[i].name = names[i];
	rc = symbols_struct(m, "malloc.c", name, size, mem, n, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		fields[i].off = mem[i].offset;
		fields[i].size = (uint32_t)mem[i].elem_size;
		fields[i].count = mem[i].elem_size ? (uint32_t)(mem[i].size / mem[i].elem_size) : 0;
	}
	return 0;
}

/* The members no walk can do without. */
static int check_required(const struct glibc_layout *L, struct error *err)
{
	static const struct { int which, idx; const char *what; } req[] = {
		{ 0, MS_MUTEX, "malloc_state.mutex" }, { 0, MS_FASTBINS, "malloc_state.fastbinsY" },
		{ 0, MS_TOP, "malloc_state.top" }, { 0, MS_BINS, "malloc_state.bins" },
		{ 0, MS_NEXT, "malloc_state.next" }, { 0, MS_SYSTEM_MEM, "malloc_state.system_mem" },
		{ 1, MP_N_MMAPS, "malloc_par.n_mmaps" }, { 1, MP_MMAPPED_MEM, "malloc_par.mmapped_mem" },
		{ 1, MP_SBRK_BASE, "malloc_par.sbrk_base" },
		{ 2, HI_PREV, "heap_info.prev" }, { 2, HI_SIZE, "heap_info.size" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(req); i++) {
		const struct glibc_field *f = req[i].which == 0 ? &L->ms[req[i].idx] :
					      req[i].which == 1 ? &L->mp[req[i].idx] :
								  &L->hi[req[i].idx];

		if (f->off < 0 || !f->size)
			return error_set(err, -EOPNOTSUPP,
					 "this glibc's debug info has no %s: unsupported version",
					 req[i].what);
	}
	return 0;
}

static int layout_from_dwarf(struct sym_module *m, struct glibc_layout *L, struct error *err)
{
	int rc;

	memset(L, 0, sizeof(*L));
	L->source = "dwarf";
	rc = dwarf_struct(m, "malloc_state", ms_names, L->ms, MS_N, &L->state_size, err);
	if (rc == 0)
		rc = dwarf_struct(m, "malloc_par", mp_names, L->mp, MP_N, &L->par_size, err);
	if (rc == 0)
		rc = dwarf_struct(m, "heap_info", hi_names, L->hi, HI_N, &L->heap_info_size, err);
	if (rc < 0)
		return rc;
	/* Before 2.26 there is no tcache: leave its layout empty. */
	if (dwarf_struct(m, "tcache_perthread_struct", tc_names, L->tc, TC_N,
			 &L->tcache_size, NULL) < 0)
		L->tcache_size = 0;
	L->nfastbins = L->ms[MS_FASTBINS].count;
	L->nbins = L->ms[MS_BINS].count / 2 + 1;
	L->tcache_bins = L->tc[TC_ENTRIES].count;
	return check_required(L, err);
}

static void module_facts(struct sym_module *m, struct glibc_symbols *gs,
			 struct sym_module_info *mi)
{
	symbols_module_info(m, mi);
	snprintf(gs->module, sizeof(gs->module), "%s", mi->name ? mi->name : "?");
	snprintf(gs->build_id, sizeof(gs->build_id), "%s", mi->build_id);
}

/* The package that holds the debug info of the process's libc, as its own
 * system names it: Debian's libc6-dbg at the version of its libc6 (from the
 * process's root, which is the container's when it runs in one). */
static void debug_package(pid_t pid, char *buf, size_t len)
{
	char path[128], line[512], version[48] = "";
	bool libc6 = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/root/var/lib/dpkg/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f) && !version[0]) {
		if (!strncmp(line, "Package: ", 9))
			libc6 = !strcmp(line + 9, "libc6\n");
		else if (libc6 && sscanf(line, "Version: %47s", version) != 1)
			version[0] = '\0';
	}
	if (f)
		fclose(f);
	if (version[0])
		snprintf(buf, len, "install libc6-dbg=%s (apt-get install libc6-dbg=%s, inside "
			 "the container when the process runs in one)", version, version);
	else
		snprintf(buf, len, "install the debug info of this glibc (Debian/Ubuntu: "
			 "libc6-dbg; Fedora/RHEL: dnf debuginfo-install glibc) at the version "
			 "the process runs");
}

/* The error for a libc heapdoc cannot see into: where debug info was
 * looked for, and what to install. */
static int no_debug_info(struct symbols *syms, struct glibc_symbols *gs, struct error *err)
{
	struct sym_module *libc = symbols_module_named(syms, "libc.so");
	struct sym_module_info mi;
	char searched[1024], package[256];

	if (!libc)
		libc = symbols_module_named(syms, "libc-");
	if (!libc)
		return error_set(err, -ENODATA,
				 "no glibc malloc state found: no libc.so in the process and "
				 "no main_arena symbol in the executable (static and stripped?)");
	module_facts(libc, gs, &mi);
	symbols_debug_searched(syms, mi.build_id, searched, sizeof(searched));
	debug_package(symbols_pid(syms), package, sizeof(package));
	return error_set(err, -ENODATA,
			 "%s (build-id %s) has no symbol table and no debug info was found "
			 "for it (searched %s): %s",
			 gs->module, mi.build_id[0] ? mi.build_id : "none", searched, package);
}

static void read_version(struct symbols *syms, struct sym_module *m, const char *hint,
			 struct glibc_symbols *gs)
{
	struct sym_info v;

	/* __libc_version is linked only when something asks for it; since
	 * 2.34 libc also holds __nptl_version, the same string, which static
	 * binaries keep. */
	gs->version[0] = '\0';
	if (symbols_lookup_in(m, "__libc_version", &v, NULL) == 0 ||
	    symbols_lookup_in(m, "__nptl_version", &v, NULL) == 0)
		symbols_read_string(syms, v.addr, gs->version, sizeof(gs->version), NULL);
	if (!gs->version[0] && hint)
		snprintf(gs->version, sizeof(gs->version), "%s", hint);
}

static int64_t tls_offset_of(struct symbols *syms, struct sym_module *m, const char *name)
{
	struct sym_info si;
	int64_t off;

	if (symbols_lookup_in(m, name, &si, NULL) < 0 || !si.tls ||
	    symbols_tls_offset(syms, &si, &off, NULL) < 0)
		return INT64_MIN;
	return off;
}

int glibc_layout_load(struct symbols *syms, const char *version_hint,
		      struct glibc_symbols *gs, struct glibc_layout *L,
		      struct error *err)
{
	static const char *const prefer[] = { "libc.so", "libc-", NULL };
	const struct glibc_layout *table;
	struct sym_module_info mi;
	struct sym_info si;
	int rc;

	memset(gs, 0, sizeof(*gs));
	if (symbols_lookup(syms, "main_arena", prefer, &si, NULL) < 0)
		return no_debug_info(syms, gs, err);
	gs->main_arena = si.addr;
	module_facts(si.mod, gs, &mi);
	rc = symbols_lookup_in(si.mod, "mp_", &si, err);
	if (rc < 0)
		return rc;
	gs->mp = si.addr;
	if (symbols_lookup_in(si.mod, "__malloc_initialized", &si, NULL) == 0) {
		gs->initialized = si.addr;
		gs->initialized_size = si.size >= 1 && si.size <= 8 ? (uint32_t)si.size : 4;
	}
	read_version(syms, si.mod, version_hint, gs);
	gs->tcache_tpoff = tls_offset_of(syms, si.mod, "tcache");
	gs->thread_arena_tpoff = tls_offset_of(syms, si.mod, "thread_arena");

	/* A static binary built with -g has DWARF for its own code but
	 * usually none for the libc.a objects: then the table. */
	if (mi.has_dwarf) {
		rc = layout_from_dwarf(si.mod, L, err);
		if (rc != -ENOENT)
			return rc;
	}
	table = glibc_layout_table(gs->version);
	if (!table)
		return error_set(err, -EOPNOTSUPP,
				 "%s: glibc %s has symbols but no debug info, and heapdoc has "
				 "no built-in layout for this version: install libc6-dbg",
				 gs->module, gs->version[0] ? gs->version : "(unknown version)");
	*L = *table;
	return 0;
}
