/* `heapdoc stats` for mimalloc: its segments and pages, read from outside
 * (lib/observe/alloc/mimalloc.h). */
#include "base/human.h"
#include "base/util.h"
#include "report/stats_alloc.h"

void stats_mimalloc_json(struct json *j, const struct mimalloc_state *st)
{
	json_object_begin(j, "mimalloc");
	json_string(j, "version", st->version[0] ? st->version : NULL);
	json_string(j, "layout", st->layout);
	json_uint(j, "segments", st->segments);
	json_uint(j, "huge_segments", st->huge_segments);
	json_uint(j, "abandoned_segments", st->abandoned_segments);
	json_uint(j, "reserved", st->reserved);
	json_uint(j, "committed", st->committed);
	json_uint(j, "in_use", st->in_use);
	json_uint(j, "page_capacity", st->page_capacity);
	json_uint(j, "free_slices", st->free_slices);
	json_uint(j, "free_resident", st->free_resident);
	json_uint(j, "purge_pending", st->purge_pending);
	json_uint(j, "pages", st->pages);
	json_uint(j, "rejected_candidates", st->rejected);
	json_object_begin(j, "settings");
	json_int(j, "decommit_delay_ms", st->decommit_delay_ms);
	json_int(j, "eager_commit", st->eager_commit);
	json_int(j, "allow_decommit", st->allow_decommit);
	json_object_end(j);
	json_object_end(j);
}

void stats_mimalloc_text(FILE *out, const struct mimalloc_state *st)
{
	char a[32], b[32], c[32];

	fprintf(out, "mimalloc %s (segments read from outside, layout %s)\n",
		st->version[0] ? st->version : "(version unknown)", st->layout);
	fprintf(out, "  segments  %10u   %u huge, %u abandoned by their thread\n", st->segments,
		st->huge_segments, st->abandoned_segments);
	fprintf(out, "  reserved  %10s   committed %10s   in use %10s\n",
		human_bytes(a, sizeof(a), st->reserved), human_bytes(b, sizeof(b), st->committed),
		human_bytes(c, sizeof(c), st->in_use));
	fprintf(out, "  pages     %10s   set up for blocks, %s of it free inside pages\n",
		human_bytes(a, sizeof(a), st->page_capacity),
		human_bytes(b, sizeof(b), st->page_capacity > st->in_use ?
			    st->page_capacity - st->in_use : 0));
	fprintf(out, "  free      %10s   committed slices with no page, %s of it in RAM (%s "
		"waiting for their decommit delay)\n", human_bytes(a, sizeof(a), st->free_slices),
		IS_SET(st->free_resident) ? human_bytes(c, sizeof(c), st->free_resident) : "?",
		human_bytes(b, sizeof(b), st->purge_pending));
	fprintf(out, "  settings: decommit_delay %lld ms, eager_commit %lld, allow_decommit %lld\n",
		(long long)st->decommit_delay_ms, (long long)st->eager_commit,
		(long long)st->allow_decommit);
}
