/* Knob advice and the container's limits as JSON. */
#include "report/knobs.h"

#include <math.h>
#include <string.h>

#include "base/util.h"
#include "report/allocator.h"

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

void knobs_json_array(struct json *j, const char *key, const struct knobs *ks)
{
	json_array_begin(j, key);
	for (size_t i = 0; i < ks->n; i++) {
		const struct knob *k = &ks->v[i];

		json_object_begin(j, NULL);
		json_string(j, "name", k->name);
		json_string(j, "value", k->value);
		json_string(j, "current", nonempty(k->current));
		json_string(j, "current_source", k->current_source);
		json_bool(j, "change", k->change);
		json_string(j, "kind", knob_kind_name(k->kind));
		json_string(j, "why", k->why);
		json_string(j, "effect", nonempty(k->effect));
		json_uint(j, "effect_bytes", k->effect_bytes);
		json_object_begin(j, "apply");
		json_string(j, "env", nonempty(k->apply_env));
		json_string(j, "systemd", nonempty(k->apply_systemd));
		json_string(j, "kubernetes", nonempty(k->apply_kubernetes));
		json_object_end(j);
		json_string(j, "command", nonempty(k->command));
		json_string(j, "risk", nonempty(k->risk));
		json_object_end(j);
	}
	json_array_end(j);
}

void cgroup_json_object(struct json *j, const char *key, const struct cgroup_limits *cg)
{
	json_object_begin(j, key);
	if (cg->version)
		json_int(j, "version", cg->version);
	else
		json_null(j, "version");
	json_bool(j, "hybrid", cg->hybrid);
	json_string(j, "path", nonempty(cg->path));
	json_string(j, "dir", nonempty(cg->dir));
	json_uint(j, "memory_max", cg->memory_max);
	json_uint(j, "memory_high", cg->memory_high);
	json_uint(j, "memory_current", cg->memory_current);
	json_uint(j, "memory_peak", cg->memory_peak);
	json_uint(j, "inactive_file", cg->inactive_file);
	json_uint(j, "oom_kills", cg->oom_kills);
	json_double(j, "cpu_quota_cores", cg->cpu_quota_cores);
	if (cg->cpuset_cpus)
		json_uint(j, "cpuset_cpus", cg->cpuset_cpus);
	else
		json_null(j, "cpuset_cpus");
	if (cg->effective_cpus)
		json_uint(j, "effective_cpus", cg->effective_cpus);
	else
		json_null(j, "effective_cpus");
	json_object_end(j);
}

void pressure_json_object(struct json *j, const char *key, const struct pressure *p)
{
	json_object_begin(j, key);
	json_uint(j, "usage", p->usage);
	json_uint(j, "limit", p->limit);
	json_string(j, "limit_source", p->limit_name);
	json_double(j, "ratio", p->ratio);
	json_bool(j, "near", p->near);
	json_object_end(j);
}

void knobs_print_json(FILE *out, const struct observation *obs, const struct verdict *v,
		      const struct knobs *ks)
{
	struct json j;

	json_init(&j, out, true);
	json_object_begin(&j, NULL);
	json_int(&j, "schema", 1);	/* DESIGN.md: keys are added, never renamed */
	json_int(&j, "pid", obs->pid);
	json_string(&j, "comm", obs->comm);
	allocator_json(&j, "allocator", &obs->alloc, &obs->summary);
	cgroup_json_object(&j, "cgroup", &obs->cgroup);
	json_uint(&j, "host_cpus", obs->host_cpus);
	json_uint(&j, "rss", IS_SET(v->gap.rss) ? v->gap.rss : UNSET);
	pressure_json_object(&j, "memory_limit", &v->pressure);
	knobs_json_array(&j, "knobs", ks);
	json_object_begin(&j, "target");
	json_uint(&j, "pause_us", obs->pause_us);
	json_uint(&j, "pause_total_us", obs->pause_total_us);
	json_uint(&j, "stops", obs->stops);
	json_object_end(&j);
	json_object_end(&j);
	json_finish(&j);
}
