/* heapdoc leaks --jeprof and --folded: the text profile formats. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "report/leaks.h"

/* jemalloc's heap_v2: raw sample counts and bytes (jeprof scales them by
 * the Poisson rule itself), live first and allocated in brackets, then the
 * process's maps so jeprof can place each address.  Addresses are return
 * addresses, as jemalloc writes them. */
int leaks_write_jeprof(FILE *out, const struct profile *p)
{
	uint64_t lo = 0, lb = 0, ao = 0, ab = 0;

	for (size_t i = 0; i < p->nsites; i++) {
		lo += p->sites[i].live.raw_objects;
		lb += p->sites[i].live.raw_bytes;
		ao += p->sites[i].alloc.raw_objects;
		ab += p->sites[i].alloc.raw_bytes;
	}
	fprintf(out, "heap_v2/%" PRIu64 "\n  t*: %" PRIu64 ": %" PRIu64 " [%" PRIu64 ": %"
		PRIu64 "]\n", p->rate, lo, lb, ao, ab);
	for (size_t i = 0; i < p->nsites; i++) {
		const struct prof_site *s = &p->sites[i];

		fprintf(out, "@");
		for (size_t k = 0; k < s->nframes; k++)
			fprintf(out, " 0x%" PRIx64, p->frames[s->frames[k]].addr);
		fprintf(out, "\n  t*: %" PRIu64 ": %" PRIu64 " [%" PRIu64 ": %" PRIu64 "]\n",
			s->live.raw_objects, s->live.raw_bytes, s->alloc.raw_objects,
			s->alloc.raw_bytes);
	}
	fprintf(out, "\nMAPPED_LIBRARIES:\n%s", p->maps_text ? p->maps_text : "");
	return ferror(out) ? -EIO : 0;
}

/* "outer;...;inner bytes": live bytes (unbiased), root first. */
int leaks_write_folded(FILE *out, const struct profile *p)
{
	for (size_t i = 0; i < p->nsites; i++) {
		const struct prof_site *s = &p->sites[i];

		if (s->live.bytes < 0.5)
			continue;
		for (size_t k = s->nframes; k-- > 0;) {
			const struct prof_frame *f = &p->frames[s->frames[k]];

			if (f->function)
				fprintf(out, "%s", f->function);
			else
				fprintf(out, "0x%" PRIx64, f->addr);
			fputc(k ? ';' : ' ', out);
		}
		fprintf(out, "%.0f\n", s->live.bytes);
	}
	return ferror(out) ? -EIO : 0;
}
