/* The C++ vtables of a live process, for a census of objects by class
 * (model/classes.h): every `_ZTV` symbol of the executable and of each
 * loaded library (.dynsym and .symtab, lib/observe/elfsym.h), each with the
 * value an object's first word holds when the object is of that class.
 *
 * That value is not the symbol's address.  In the Itanium C++ ABI a
 * vtable group starts with the primary vtable: its virtual-base offsets
 * (classes with virtual bases), the offset to the top (0 for the primary
 * vtable), the typeinfo pointer, and only then the function pointers the
 * object's vptr points at: symbol + 16 for the usual class, + 8 more per
 * offset slot before.  So the first words of each vtable are read from the
 * target (they hold relocated pointers) and the vptr is placed after the
 * first zero offset-to-top followed by a typeinfo pointer.  Secondary
 * vtables (offset to the top not 0) are the vptrs of base subobjects, never
 * the first word of a heap chunk, and are left out.
 *
 * Loading opens every module's file and reads a few words per vtable while
 * the target runs; vtables_find() is one hash probe, cheap enough for every
 * chunk of a heap walk.
 */
#ifndef HEAPDOC_OBSERVE_VTABLES_H
#define HEAPDOC_OBSERVE_VTABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

#define VTABLES_MAX	(1u << 20)	/* vtables kept; beyond, not looked for */

struct vtables {
	uint64_t *keys;			/* vptr values, 0: empty slot */
	uint32_t *values;		/* index in symbols */
	size_t mask;			/* slots - 1 */
	char **symbols;			/* "_ZTV..." */
	size_t n, cap;
	uint64_t modules, modules_without_symtab;
	uint64_t load_us;
};

/* Finds the vtables of pid's modules.  A process with none (C code) gives
 * an empty set, not an error; -ESRCH when it is gone, -ENOMEM. */
int vtables_load(struct vtables *vt, pid_t pid, struct error *err);
void vtables_free(struct vtables *vt);

static inline size_t vtables_slot(const struct vtables *vt, uint64_t word)
{
	return (size_t)((word >> 3) * 0x9e3779b97f4a7c15ull >> 20) & vt->mask;
}

/* The index in vt->symbols of the class whose objects begin with word, or
 * -1. */
static inline long vtables_find(const struct vtables *vt, uint64_t word)
{
	if (!vt->n || !word || (word & 7))
		return -1;
	for (size_t i = vtables_slot(vt, word);; i = (i + 1) & vt->mask) {
		if (vt->keys[i] == word)
			return (long)vt->values[i];
		if (!vt->keys[i])
			return -1;
	}
}

#endif
