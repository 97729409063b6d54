/* Knob advice for people, and the paste-ready formats. */
#include "report/knobs.h"

#include <math.h>
#include <string.h>

#include "base/human.h"
#include "base/util.h"

/* Prints text with every line after the first indented by indent. */
static void print_indented(FILE *out, const char *indent, const char *text)
{
	for (const char *p = text; *p; p++) {
		fputc(*p, out);
		if (*p == '\n')
			fputs(indent, out);
	}
	fputc('\n', out);
}

void knobs_print_section(FILE *out, const struct knobs *ks, const struct style *s)
{
	if (!ks->n) {
		fprintf(out, "  nothing to change\n");
		return;
	}
	for (size_t i = 0; i < ks->n; i++) {
		const struct knob *k = &ks->v[i];

		if (k->kind == KNOB_ACTION)
			fprintf(out, "  %s%s%s  (one-off, on the running process)\n",
				style_bold(s), k->name, style_reset(s));
		else if (k->kind == KNOB_CONF_OPTION)
			fprintf(out, "  %s%s:%s%s", style_bold(s), k->name, k->value, style_reset(s));
		else
			fprintf(out, "  %s%s=%s%s", style_bold(s), k->name, k->value, style_reset(s));
		if (k->kind != KNOB_ACTION) {
			if (k->current[0])
				fprintf(out, "  %s(now %s, %s%s)%s\n", style_dim(s), k->current,
					k->current_source ? k->current_source : "in force",
					k->change ? "" : ": keep", style_reset(s));
			else
				fprintf(out, "  %s(not set)%s\n", style_dim(s), style_reset(s));
		}
		fprintf(out, "      why: %s\n", k->why);
		if (k->effect[0])
			fprintf(out, "      effect: %s\n", k->effect);
		if (k->command[0])
			fprintf(out, "      run: %s\n", k->command);
		if (k->risk[0])
			fprintf(out, "      risk: %s\n", k->risk);
		if (k->kind == KNOB_ENV || k->kind == KNOB_LIMIT) {
			if (k->apply_env[0])
				fprintf(out, "      env: %s\n", k->apply_env);
			if (k->apply_systemd[0])
				fprintf(out, "      systemd: %s\n", k->apply_systemd);
			if (k->apply_kubernetes[0]) {
				fprintf(out, "      kubernetes: ");
				print_indented(out, "                  ", k->apply_kubernetes);
			}
		}
	}
}

void knobs_print_text(FILE *out, const struct observation *obs, const struct verdict *v,
		      const struct knobs *ks, const struct style *s)
{
	const struct cgroup_limits *cg = &obs->cgroup;
	const struct pressure *p = &v->pressure;
	char b1[32], b2[32], b3[32], stops[96];

	fprintf(out, "%sheapdoc knobs%s: pid %d (%s), allocator %s%s%s\n", style_bold(s),
		style_reset(s), (int)obs->pid, obs->comm, alloc_kind_name(obs->alloc.kind),
		obs->alloc.version[0] ? " " : "", obs->alloc.version);
	if (cg->version) {
		fprintf(out, "  cgroup v%d%s %s\n", cg->version, cg->hybrid ? " (hybrid host)" : "",
			cg->path);
		fprintf(out, "  memory: max %s, high %s, current %s\n",
			IS_SET(cg->memory_max) ? human_bytes(b1, sizeof(b1), cg->memory_max) : "none",
			IS_SET(cg->memory_high) ? human_bytes(b2, sizeof(b2), cg->memory_high) : "none",
			human_bytes(b3, sizeof(b3), cg->memory_current));
		if (!isnan(cg->cpu_quota_cores))
			fprintf(out, "  cpu: quota %.2f cores, %u effective CPU%s (host %u)\n",
				cg->cpu_quota_cores, cg->effective_cpus,
				cg->effective_cpus == 1 ? "" : "s", obs->host_cpus);
		else
			fprintf(out, "  cpu: no quota, %u effective CPU%s (host %u)\n",
				cg->effective_cpus, cg->effective_cpus == 1 ? "" : "s",
				obs->host_cpus);
	} else {
		fprintf(out, "  no cgroup limits could be read\n");
	}
	if (!isnan(p->ratio))
		fprintf(out, "  %s %s is %.0f%% of %s %s%s\n",
			strcmp(p->limit_name, "MemTotal") ? "working set" : "RSS",
			human_bytes(b1, sizeof(b1), p->usage), 100 * p->ratio, p->limit_name,
			human_bytes(b2, sizeof(b2), p->limit),
			p->near ? ": near an OOM kill" : "");
	if (!obs->summary.valid)
		fprintf(out, "  %sallocator state not read: %s%s\n", style_dim(s),
			obs->summary.why_invalid[0] ? obs->summary.why_invalid : "not available",
			style_reset(s));
	fprintf(out, "\n%sKnobs%s\n", style_bold(s), style_reset(s));
	knobs_print_section(out, ks, s);
	if (obs->summary.valid || obs->stops)
		fprintf(out, "\n%sheapdoc stopped the process %s%s\n", style_dim(s),
			human_stops(stops, sizeof(stops), obs->stops, obs->pause_total_us,
				    obs->pause_us), style_reset(s));
}

void knobs_print_format(FILE *out, const struct knobs *ks, enum knobs_format fmt)
{
	bool env_header = false;

	if (fmt == KNOBS_FORMAT_SYSTEMD)
		fprintf(out, "[Service]\n");
	for (size_t i = 0; i < ks->n; i++) {
		const struct knob *k = &ks->v[i];

		/* Alternatives and options repeat what a KNOB_ENV carries;
		 * actions are not settings. */
		if (k->kind != KNOB_ENV && k->kind != KNOB_LIMIT)
			continue;
		switch (fmt) {
		case KNOBS_FORMAT_ENV:
			if (k->apply_env[0])
				fprintf(out, "%s\n", k->apply_env);
			break;
		case KNOBS_FORMAT_SYSTEMD:
			fprintf(out, "%s\n", k->apply_systemd);
			break;
		case KNOBS_FORMAT_KUBERNETES:
			if (k->kind != KNOB_ENV)
				break;
			if (!env_header)
				fprintf(out, "env:\n");
			env_header = true;
			fprintf(out, "%s\n", k->apply_kubernetes);
			break;
		}
	}
	if (fmt == KNOBS_FORMAT_KUBERNETES)
		for (size_t i = 0; i < ks->n; i++)
			if (ks->v[i].kind == KNOB_LIMIT)
				fprintf(out, "%s\n", ks->v[i].apply_kubernetes);
}
