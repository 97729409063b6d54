/* The table of allocator backends (backend.h).
 *
 * Each backend adds its `struct alloc_backend` here.  Until one is listed,
 * triage and knobs run on /proc evidence alone for that allocator and say
 * so ("heapdoc cannot read <allocator>'s state").
 */
#include "observe/alloc/backend.h"

#include <stddef.h>

#include "observe/alloc/glibc.h"
#include "observe/alloc/jemalloc.h"
#include "observe/alloc/mimalloc.h"
#include "observe/alloc/scudo.h"
#include "observe/alloc/tcmalloc.h"
#include "base/util.h"

static const struct alloc_backend *const backends[] = {
	&glibc_backend,
	&jemalloc_backend,
	&tcmalloc_backend,
	&mimalloc_backend,
	&scudo_backend,
};

const struct alloc_backend *alloc_backend_for(enum alloc_kind kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (backends[i] && backends[i]->kind == kind)
			return backends[i];
	return NULL;
}
