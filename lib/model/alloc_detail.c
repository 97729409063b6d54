#include "model/alloc_detail.h"

#include <stdlib.h>

void alloc_detail_free(struct alloc_detail *d)
{
	if (d->glibc)
		glibc_state_free(d->glibc);
	free(d->glibc);
	free(d->jemalloc);
	free(d->tcmalloc);
	free(d->mimalloc);
	*d = (struct alloc_detail){ 0 };
}
