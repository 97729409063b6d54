/* Where glibc malloc keeps its state: symbol addresses and struct layouts.
 *
 * Layouts come from the DWARF of libc (libc6-dbg) at run time.  When only a
 * symbol table exists (a static binary, a libc with .symtab but no DWARF),
 * they come from a per-version table checked against DWARF by the tests.
 * Internal to lib/alloc/glibc*.c.
 */
#ifndef HEAPDOC_GLIBC_LAYOUT_H
#define HEAPDOC_GLIBC_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "observe/symbols.h"

struct vtables;

/* Members of struct malloc_state (an arena). */
enum {
	MS_MUTEX, MS_FLAGS, MS_HAVE_FASTCHUNKS, MS_FASTBINS, MS_TOP,
	MS_LAST_REMAINDER, MS_BINS, MS_NEXT, MS_NEXT_FREE, MS_ATTACHED_THREADS,
	MS_SYSTEM_MEM, MS_MAX_SYSTEM_MEM, MS_N
};

/* Members of struct malloc_par (mp_). */
enum {
	MP_TRIM_THRESHOLD, MP_TOP_PAD, MP_MMAP_THRESHOLD, MP_ARENA_TEST,
	MP_ARENA_MAX, MP_THP_PAGESIZE, MP_HP_PAGESIZE, MP_N_MMAPS, MP_N_MMAPS_MAX,
	MP_MAX_N_MMAPS, MP_NO_DYN_THRESHOLD, MP_MMAPPED_MEM,
	MP_MAX_MMAPPED_MEM, MP_SBRK_BASE, MP_TCACHE_BINS, MP_TCACHE_MAX_BYTES,
	MP_TCACHE_COUNT, MP_TCACHE_UNSORTED_LIMIT, MP_N
};

/* Members of heap_info (the header of a non-main arena's 64 MiB heap). */
enum { HI_AR_PTR, HI_PREV, HI_SIZE, HI_MPROTECT_SIZE, HI_N };

/* Members of struct tcache_perthread_struct. */
enum { TC_COUNTS, TC_ENTRIES, TC_N };

struct glibc_field {
	int64_t off;		/* -1: this glibc has no such member */
	uint32_t size;		/* bytes of one element: 1, 2, 4 or 8 */
	uint32_t count;		/* elements (1 unless an array) */
};

struct glibc_layout {
	const char *source;		/* "dwarf" or "symtab" */
	uint64_t state_size, par_size, heap_info_size, tcache_size;
	struct glibc_field ms[MS_N], mp[MP_N], hi[HI_N], tc[TC_N];
	unsigned nfastbins;		/* NFASTBINS (10) */
	unsigned nbins;			/* NBINS (128): bins[] holds 2 × (NBINS - 1) */
	unsigned tcache_bins;		/* TCACHE_MAX_BINS (64) */
};

/* Where the state lives in the target. */
struct glibc_symbols {
	uint64_t main_arena, mp, initialized;	/* addresses; initialized: 0 = absent */
	uint32_t initialized_size;		/* bool (2.35+) or int */
	int64_t tcache_tpoff, thread_arena_tpoff;	/* INT64_MIN: unknown */
	char version[32];
	char module[512];			/* the file that holds malloc */
	char build_id[41];
};

/* The reader behind glibc.h's opaque struct glibc_reader. */
struct glibc_reader {
	pid_t pid;
	struct symbols *syms;
	struct glibc_symbols gs;
	struct glibc_layout L;
	uint64_t pagesize;
	size_t window;			/* bytes copied per read while walking */
	unsigned char *buf;		/* the window */
	struct glibc_memo *memo;	/* the trend read's memory (glibc_trend.c) */
	struct glibc_tls *tls;		/* thread pointers by tid (glibc_tcache.c) */
	struct glibc_window *win;	/* arenas over the window (glibc_window.c) */
	/* Set for one read: count the chunks in use by class (glibc_classes.c). */
	const struct vtables *vtables;
};

/* Resolves the symbols and the layout.  -ENODATA when neither DWARF nor a
 * symbol table with main_arena is available: the message names the missing
 * debug package.  -EOPNOTSUPP for a glibc too new or too old for the table. */
int glibc_layout_load(struct symbols *syms, const char *version_hint,
		      struct glibc_symbols *gs, struct glibc_layout *L,
		      struct error *err);

/* The layout of glibc 2.36 on x86-64 (for the symtab fallback and tests);
 * NULL for a version heapdoc has no table for. */
const struct glibc_layout *glibc_layout_table(const char *version);

/* A member's value in a local copy of the struct (0 if absent). */
uint64_t glibc_get(const void *base, const struct glibc_field *f);
/* Element i of an array member. */
uint64_t glibc_get_at(const void *base, const struct glibc_field *f, unsigned i);

#endif
