#include "model/glibc.h"

#include <stdlib.h>

void glibc_state_free(struct glibc_state *st)
{
	free(st->arenas);
	free(st->tcaches);
	st->arenas = NULL;
	st->tcaches = NULL;
	st->narenas = st->ntcaches = 0;
	class_census_free(&st->classes);
}
