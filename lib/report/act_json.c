/* heapdoc release and set, for scripts.  Bytes unless the key says so. */
#include "base/util.h"
#include "report/act.h"
#include "report/allocator.h"
#include "base/json.h"

#define ACT_SCHEMA 1

static void json_cost(struct json *j, const struct act_cost *c)
{
	json_object_begin(j, "target");
	json_int(j, "tid", c->tid);
	json_uint(j, "calls", c->calls);
	json_uint(j, "call_us", c->call_us);
	json_uint(j, "pause_us", c->pause_us_max);
	json_uint(j, "pause_total_us", c->pause_us_total);
	json_uint(j, "stops", c->stops);
	json_uint(j, "attempts", c->attempts);
	json_object_end(j);
}

static void json_verify(struct json *j, const struct verify_result *v)
{
	if (!v)
		return;
	json_object_begin(j, "verify");
	json_string(j, "outcome", verify_outcome_name(v->outcome));
	json_double(j, "window_s", v->window_s);
	json_uint(j, "samples", v->samples);
	json_uint(j, "rss_before", v->before);
	json_uint(j, "rss_low", v->low);
	json_uint(j, "rss_high", v->high);
	json_uint(j, "rss_end", v->end);
	json_object_end(j);
}

static void json_release(struct json *j, const struct act_report *r)
{
	const struct act_release *a = r->release;
	bool both = IS_SET(a->rss_before) && IS_SET(a->rss_after);

	json_string(j, "call", a->call);
	json_uint(j, "predicted", a->predicted);
	json_string(j, "basis", a->basis);
	json_bool(j, "dry_run", r->dry_run);
	json_bool(j, "done", a->done);
	json_string(j, "refusal", a->done || r->dry_run ? NULL : a->refusal);
	if (a->done)
		json_int(j, "return", a->ret);
	else
		json_null(j, "return");
	json_uint(j, "rss_before", a->rss_before);
	json_uint(j, "rss_after", a->rss_after);
	json_uint(j, "returned", !both ? UNSET : a->rss_before > a->rss_after ?
		  a->rss_before - a->rss_after : 0);
	json_cost(j, &a->cost);
}

static void json_value(struct json *j, const char *key, const struct setting_def *d,
		       const struct act_value *v)
{
	if (!v->known)
		json_null(j, key);
	else if (d->type == SETTING_BOOL)
		json_bool(j, key, v->i != 0);
	else if (d->type == SETTING_RATE)
		json_double(j, key, v->d);
	else
		json_int(j, key, v->i);
}

static void json_set(struct json *j, const struct act_report *r)
{
	json_array_begin(j, "changes");
	for (size_t i = 0; i < r->n; i++) {
		const struct setting_def *d = r->req[i].def;

		json_object_begin(j, NULL);
		json_string(j, "name", d->name);
		json_value(j, "requested", d, &r->req[i].value);
		json_value(j, "old", d, &r->changes[i].old);
		json_value(j, "new", d, &r->changes[i].now);
		json_uint(j, "arenas", r->changes[i].arenas);
		json_string(j, "effect", d->effect);
		json_object_end(j);
	}
	json_array_end(j);
	json_uint(j, "rss_before", r->rss_before);
	json_uint(j, "rss_after", r->rss_after);
	json_cost(j, r->cost);
	json_array_begin(j, "permanent");
	for (size_t i = 0; i < r->npermanent; i++) {
		json_object_begin(j, NULL);
		json_string(j, "name", r->permanent[i].name);
		json_string(j, "env", r->permanent[i].apply_env);
		json_string(j, "systemd", r->permanent[i].apply_systemd);
		json_string(j, "kubernetes", r->permanent[i].apply_kubernetes);
		json_object_end(j);
	}
	json_array_end(j);
}

void act_print_json(FILE *out, const struct act_report *r)
{
	struct json j;

	json_init(&j, out, true);
	json_object_begin(&j, NULL);
	json_int(&j, "schema", ACT_SCHEMA);
	json_int(&j, "pid", r->pid);
	json_string(&j, "command", r->release ? "release" : "set");
	allocator_json(&j, "allocator", r->alloc, NULL);
	if (r->release)
		json_release(&j, r);
	else
		json_set(&j, r);
	json_string(&j, "lasts", "until the process exits");
	json_verify(&j, r->verify);
	json_object_end(&j);
	json_finish(&j);
}
