/* What heapdoc reads of tcmalloc through its numeric properties
 * (lib/observe/alloc/tcmalloc.c). */
#ifndef HEAPDOC_MODEL_TCMALLOC_H
#define HEAPDOC_MODEL_TCMALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TCMALLOC_MAX_PROPERTIES 16

struct tcmalloc_property {
	const char *name;	/* "generic.heap_size", ... (static strings) */
	uint64_t value;		/* UNSET when the library does not know it */
};

struct tcmalloc_state {
	char flavor[16];	/* "gperftools" or "google" */
	struct tcmalloc_property props[TCMALLOC_MAX_PROPERTIES];
	size_t nprops;
	pid_t tid;		/* the thread the calls ran in */
	unsigned calls;
	uint64_t calls_us;
};

#endif
