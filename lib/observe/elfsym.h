/* Symbols of one file mapped in a live target, by name or by kind.
 *
 * A thin layer over lib/elf_file.h for what injection needs: the run-time address of a
 * function or variable (mallctl, MallocExtension_GetNumericProperty,
 * tcmalloc::Static::pageheap_lock_) and the address ranges of the
 * allocator's functions.  It reads .dynsym and, when the file is not
 * stripped, .symtab (a static jemalloc's mallctl and its internal functions
 * are only there).  The file is opened through /proc/<pid>/root, so it is the
 * target's copy even inside a container.
 */
#ifndef HEAPDOC_ELFSYM_H
#define HEAPDOC_ELFSYM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "observe/elf_file.h"
#include "base/error.h"

struct elfsym {
	struct elf_file file;
	uint64_t bias;		/* run-time address = st_value + bias */
};

/* An elfsym that holds nothing; elfsym_close accepts it. */
#define ELFSYM_INIT { .file = ELF_FILE_INIT }

/* Opens path as pid sees it; load_base is the start of its lowest mapping
 * in pid (0 for a fixed-address executable is fine: the bias is then 0). */
int elfsym_open(struct elfsym *s, pid_t pid, const char *path, uint64_t load_base,
		struct error *err);

/* The run-time address (and size) of a defined symbol; -ENOENT if absent. */
int elfsym_lookup(const struct elfsym *s, const char *name, uint64_t *addr,
		  uint64_t *size);

/* Calls fn for every defined function symbol with its run-time range
 * [lo, hi), lo < hi; a symbol whose size runs past the end of the address
 * space (a corrupt file) is skipped. */
void elfsym_each_function(const struct elfsym *s,
			  void (*fn)(const char *name, uint64_t lo, uint64_t hi, void *arg),
			  void *arg);

/* Calls fn for every defined data object whose name starts with prefix
 * ("_ZTV": the vtables), with its run-time address and size; a symbol in
 * both .dynsym and .symtab comes twice. */
void elfsym_each_object(const struct elfsym *s, const char *prefix,
			void (*fn)(const char *name, uint64_t addr, uint64_t size, void *arg),
			void *arg);

/* The lowest address at which path is mapped in pid (from
 * /proc/<pid>/maps); -ENOENT if it is not mapped. */
int elfsym_load_base(pid_t pid, const char *path, uint64_t *base, struct error *err);

void elfsym_close(struct elfsym *s);

#endif
