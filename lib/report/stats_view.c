#include "report/stats_alloc.h"

#include "base/util.h"

void stats_view_of(struct stats_view *v, const struct observation *obs,
		   const struct alloc_detail *d)
{
	const struct alloc_summary *sum = &obs->summary;
	bool other = d->jemalloc || d->tcmalloc || d->mimalloc;

	*v = (struct stats_view){
		.pid = obs->pid,
		.comm = obs->comm,
		.allocator = alloc_kind_name(obs->alloc.kind),
		.version = d->glibc ? d->glibc->version :
			   d->mimalloc && d->mimalloc->version[0] ? d->mimalloc->version :
			   obs->alloc.version,
		.source = d->glibc ? d->glibc->source : other ? sum->source : "proc",
		.why_invalid = d->glibc || other ? NULL : sum->why_invalid,
		.glibc = d->glibc,
		.jemalloc = d->jemalloc,
		.tcmalloc = d->tcmalloc,
		.mimalloc = d->mimalloc,
		.allocated = d->glibc || other ? sum->allocated : UNSET,
		.resident = sum->resident,
		.rss = obs->status.vm_rss,
		/* Every stop heapdoc made: the read's, and its retries. */
		.pause_us = obs->pause_us,
		.pause_total_us = obs->pause_total_us,
		.stops = obs->stops,
	};
}
