/* heapdoc leaks --json. */
#include <math.h>
#include <stdio.h>

#include "base/json.h"
#include "report/leaks.h"

/* Estimates are sums of weights: bytes and counts go out as integers, as
 * every byte figure in heapdoc's JSON does. */
static void estimate(struct json *j, const char *key, double v)
{
	json_uint(j, key, v > 0 ? (uint64_t)llround(v) : 0);
}

static void frame_json(struct json *j, const struct profile *p, uint32_t frame)
{
	const struct prof_frame *f = &p->frames[frame];

	json_object_begin(j, NULL);
	json_string(j, "function", f->function);
	json_string(j, "file", f->file);
	if (f->file)
		json_int(j, "line", f->line);
	else
		json_null(j, "line");
	json_string(j, "module", f->mapping >= 0 ? p->mappings[f->mapping].path : NULL);
	json_uint(j, "address", f->addr);
	json_object_end(j);
}

void leaks_site_json(struct json *j, const char *key, const struct profile *p, size_t site,
		     const struct leak_site *g)
{
	const struct prof_site *s = &p->sites[site];

	json_object_begin(j, key);
	estimate(j, "growth_bytes", g ? g->growth_bytes : 0);
	json_double(j, "growth_bytes_per_s", g ? g->bytes_per_s : 0);
	json_double(j, "growth_objects_per_s", g ? g->objects_per_s : 0);
	json_double(j, "growth_share", g ? g->share : 0);
	estimate(j, "live_bytes", s->live.bytes);
	estimate(j, "live_objects", s->live.objects);
	estimate(j, "alloc_bytes", s->alloc.bytes);
	estimate(j, "alloc_objects", s->alloc.objects);
	json_uint(j, "samples", s->alloc.raw_objects);
	json_uint(j, "live_samples", s->live.raw_objects);
	json_bool(j, "stack_truncated", s->truncated);
	json_array_begin(j, "stack");
	for (size_t i = leak_site_frame(p, s); i < s->nframes; i++)
		frame_json(j, p, s->frames[i]);
	json_array_end(j);
	json_object_end(j);
}

static void holes_json(struct json *j, const struct profile *p)
{
	const struct prof_cost *c = &p->cost;

	json_array_begin(j, "not_seen");
	if (c->holes & PROF_HOLE_PTR_SAVED)
		json_string(j, NULL, "malloc pointers stored in data at load time");
	if (c->holes & PROF_HOLE_ELSEWHERE)
		json_string(j, NULL, "slots bound to another definition");
	if (c->holes & PROF_HOLE_GOT_SKIPPED)
		json_string(j, NULL, "GOT slots of -fno-plt code");
	json_string(j, NULL, "calls inside libc");
	json_string(j, NULL, "the dynamic loader's own allocations");
	json_string(j, NULL, "allocations made before heapdoc attached");
	json_array_end(j);
}

static void cost_json(struct json *j, const struct profile *p)
{
	const struct prof_cost *c = &p->cost;
	static const char *const left[] = { "nothing", "inert", "unknown" };

	json_object_begin(j, "cost");
	json_string(j, "source", c->source == PROF_SOURCE_JEMALLOC ? "jemalloc" : "agent");
	json_uint(j, "dumps", c->dumps);
	json_uint(j, "samples", c->samples);
	json_uint(j, "dropped", c->dropped);
	json_uint(j, "untracked", c->untracked);
	json_uint(j, "unwind_stops", c->unwind_stops);
	json_uint(j, "load_stop_us", c->load_stop_us);
	json_uint(j, "stop_stop_us", c->stop_stop_us);
	json_uint(j, "unload_stop_us", c->unload_stop_us);
	json_uint(j, "slots_redirected", c->slots_patched + c->got_slots_patched);
	json_uint(j, "got_slots_redirected", c->got_slots_patched);
	json_uint(j, "slots_restored", c->slots_restored);
	json_uint(j, "slots_skipped", c->slots_skipped);
	json_uint(j, "modules", c->modules_patched);
	json_uint(j, "self_restores", c->self_restores);
	json_string(j, "library", c->library);
	json_string(j, "left", left[c->left >= 0 && c->left < 3 ? c->left : 2]);
	/* GOT slots were pointed at a forwarding page, which stays (man LEAKS). */
	json_bool(j, "forwarding_page_left", c->got_slots_patched > 0);
	json_string(j, "left_why", c->left_why[0] ? c->left_why : NULL);
	json_object_end(j);
}

void leaks_print_json(FILE *out, const struct profile *p, const struct leak_ranking *r)
{
	struct json j;

	json_init(&j, out, true);
	json_object_begin(&j, NULL);
	json_int(&j, "schema", LEAKS_SCHEMA);
	json_int(&j, "pid", p->pid);
	json_string(&j, "comm", p->comm);
	json_uint(&j, "rate", p->rate);
	json_object_begin(&j, "window");
	json_double(&j, "seconds", p->window_s);
	json_double(&j, "middle_s", p->mid_s);
	json_bool(&j, "exited", p->exited);
	json_object_end(&j);
	estimate(&j, "alloc_bytes", r->alloc_bytes);
	estimate(&j, "alloc_objects", r->alloc_objects);
	estimate(&j, "live_bytes", r->live_bytes);
	estimate(&j, "growth_bytes", r->growth_bytes);
	json_uint(&j, "rss_start", p->rss_start);
	json_uint(&j, "rss_end", p->rss_end);
	leaks_before_json(&j, p, r);
	json_array_begin(&j, "sites");
	for (size_t i = 0; i < r->ngrowing; i++)
		leaks_site_json(&j, NULL, p, r->growing[i].site, &r->growing[i]);
	json_array_end(&j);
	json_array_begin(&j, "holding");
	for (size_t i = 0; i < r->nholding; i++) {
		const struct leak_site *g = NULL;

		for (size_t k = 0; k < r->ngrowing && !g; k++)
			if (r->growing[k].site == r->holding[i])
				g = &r->growing[k];
		leaks_site_json(&j, NULL, p, r->holding[i], g);
	}
	json_array_end(&j);
	holes_json(&j, p);
	cost_json(&j, p);
	json_object_end(&j);
	json_finish(&j);
}
