/* Private to lib/observe/alloc/detect*.c: what alloc_detect() learns of
 * each mapped file, and the order in which the dynamic linker searches them.
 *
 *	detect.c	 reading: the mapped files, their symbols, dynamic
 *			 sections and strings, the preloads, the version
 *	detect_choose.c	 deciding, on what was read (no I/O): which file
 *			 serves malloc, and what it is
 */
#ifndef HEAPDOC_OBSERVE_ALLOC_DETECT_H
#define HEAPDOC_OBSERVE_ALLOC_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "observe/alloc/alloc.h"

/* Where an object stands in the search order; the evidence line says it. */
enum origin {
	ORIGIN_NONE,		/* not placed yet */
	ORIGIN_EXECUTABLE,
	ORIGIN_LD_PRELOAD,
	ORIGIN_PRELOAD_FILE,	/* /etc/ld.so.preload */
	ORIGIN_NEEDED,		/* DT_NEEDED, breadth-first from the above */
	ORIGIN_LATER,		/* dlopen()ed, or not reached through DT_NEEDED */
};

/* What an object's symbols say about it. */
struct marks {
	bool defines_malloc;		/* in any table read */
	bool exports_malloc;		/* in .dynsym */
	enum alloc_kind kind;		/* by an allocator's own API; ALLOC_UNKNOWN: none */
	const char *flavor;
	char prefix[16];
	char marker[64];		/* the symbol that named kind */
	enum alloc_kind libc;		/* ALLOC_GLIBC or ALLOC_MUSL, by libc internals */
	char libc_marker[64];
	uint64_t libc_version_addr;	/* glibc's __libc_version; 0: not seen */
	/* jemalloc's API under some prefix ("", "je_", "_rjem_"): a prefix
	 * counts once both <prefix>mallctl and <prefix>mallctlnametomib are
	 * defined, so that a lone wrapper named foo_mallctl does not. */
	char mallctl[4][16], nametomib[4][16];
	unsigned n_mallctl, n_nametomib;
};

/* Strings that survive stripping: the last resort for an executable
 * without a symbol table. */
struct string_marks {
	enum alloc_kind kind;	/* an allocator's own messages */
	bool glibc;		/* glibc's malloc messages or banner */
};

/* One mapped ELF file. */
struct object {
	const struct mapping *map;	/* its lowest mapping */
	bool executable_mapping;	/* some mapping of it is executable */
	bool readable;			/* its ELF headers could be read */
	bool interp;			/* PT_INTERP: a dynamically linked executable */
	bool symtab;			/* not stripped */
	char soname[128];
	char *needed;			/* DT_NEEDED names, each NUL-terminated */
	size_t needed_len;
	struct marks marks;
	struct string_marks strings;	/* an executable without a symbol table */
	enum origin origin;		/* ORIGIN_NONE until placed in the order */
};

struct detect {
	const char *root;
	pid_t pid;
	struct object *obj;
	size_t n, cap;
	size_t *order;			/* indices into obj, in search order */
	size_t n_order;
	struct object *exe;
};

static inline const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static inline bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static inline bool is_libc(enum alloc_kind kind)
{
	return kind == ALLOC_GLIBC || kind == ALLOC_MUSL;
}

/* True for a file named like an allocator's library (libjemalloc.so.2,
 * libtcmalloc_minimal.so.4 ...), libc aside. */
bool detect_named_allocator_library(const char *base);

/* Names the allocator in *out (kind, link, flavor, prefix, path,
 * load_base, evidence) and returns the object that holds it, or NULL with
 * kind ALLOC_UNKNOWN and the evidence saying why. */
const struct object *detect_choose(const struct detect *d, struct alloc_id *out);

#endif
