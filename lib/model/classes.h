/* A census of live C++ objects by class: the heap chunks in use whose first
 * word is the address of a class's vtable (the vptr an object with virtual
 * functions begins with), counted per class.  It needs no stack and no
 * hook, so it counts what was allocated before anyone looked: heapdoc
 * leaks takes it when it comes (model/profile.h's `before`), from the glibc
 * walk of every heap (lib/observe/alloc/glibc_classes.c).
 *
 * Names are the classes' mangled names as their vtable symbols give them
 * ("N3app7SessionE" for _ZTVN3app7SessionE); base/demangle.h reads them.
 */
#ifndef HEAPDOC_MODEL_CLASSES_H
#define HEAPDOC_MODEL_CLASSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct class_count {
	char *symbol;			/* the vtable's symbol, "_ZTV..." */
	uint64_t objects;		/* chunks in use that start with its vptr */
	uint64_t bytes;			/* their chunk sizes, headers included */
};

struct class_census {
	bool taken;			/* the heaps were looked at */
	char why[200];			/* when not: why */
	struct class_count *classes;	/* one per class seen, in no order */
	size_t nclasses;
	uint64_t vtables;		/* vtables heapdoc knew of in the process */
	uint64_t modules;		/* files searched for them */
	uint64_t modules_without_symtab;	/* of which stripped: exports only */
	uint64_t chunks;		/* chunks in use looked at */
	uint64_t untracked_objects, untracked_bytes;	/* past the table's room */
	uint64_t load_us;		/* finding the vtables (target running) */
};

/* Frees what c holds and empties it (taken false). */
void class_census_free(struct class_census *c);

/* A class's counts, appended.  -ENOMEM. */
int class_census_append(struct class_census *c, const char *symbol, uint64_t objects,
			uint64_t bytes);
/* One entry per symbol: two vtables of one class (a copy in two modules)
 * summed.  Sorts the classes by symbol. */
void class_census_merge(struct class_census *c);

#endif
