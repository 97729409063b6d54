/* `heapdoc audit` for people: the allocator and its checks, the heap now,
 * who can reach the process, how its binaries were built, and what to add
 * at what cost.  Colours only on a terminal (struct style). */
#include "report/audit.h"

#include <math.h>
#include <string.h>

#include "base/util.h"
#include "base/human.h"
#include "report/style.h"

static void print_header(FILE *out, const struct audit_obs *obs, const struct audit_result *r,
			 const struct style *s)
{
	const struct alloc_id *id = &obs->alloc;

	fprintf(out, "%sheapdoc audit%s: pid %d (%s), %s%s%s%s%s, %s\n", style_bold(s),
		style_reset(s), (int)obs->pid, obs->comm, alloc_kind_name(id->kind),
		id->version[0] ? " " : "", id->version, r->variant[0] ? " " : "", r->variant,
		r->hardened ? "a hardened allocator" : "not a hardened allocator");
	if (id->path[0])
		fprintf(out, "  %s%s%s\n", style_dim(s), id->evidence, style_reset(s));
}

/* What needs attention whatever else the audit says: the first thing an
 * on-call engineer should read. */
static void print_problems(FILE *out, const struct audit_obs *obs,
			   const struct audit_result *r, const struct style *s)
{
	if (r->integrity == AUDIT_CORRUPT)
		fprintf(out, "\n  %sthe heap is corrupt now%s: %u finding%s (Heap integrity below)\n",
			style_bold(s), style_reset(s), obs->glibc.nfindings,
			obs->glibc.nfindings == 1 ? "" : "s");
	for (size_t i = 0; i < obs->nmodules; i++)
		if (obs->modules[i].relro_writable)
			fprintf(out, "%s  %sRELRO pages are writable now%s in %s\n",
				r->integrity == AUDIT_CORRUPT ? "" : "\n", style_bold(s),
				style_reset(s), obs->modules[i].path);
}

static void print_checks(FILE *out, const struct audit_result *r, const struct style *s)
{
	fprintf(out, "\n%sAllocator checks%s\n", style_bold(s), style_reset(s));
	for (size_t i = 0; i < AUDIT_NCHECKS; i++)
		fprintf(out, "  %-19s %-4s %s\n", r->checks[i].name,
			audit_state_name(r->checks[i].state), r->checks[i].detail);
}

static void print_integrity(FILE *out, const struct audit_obs *obs,
			    const struct audit_result *r, const struct style *s)
{
	const struct audit_glibc *g = &obs->glibc;

	fprintf(out, "\n%sHeap integrity%s\n  %s: %s\n", style_bold(s), style_reset(s),
		audit_integrity_name(r->integrity), r->integrity_detail);
	for (unsigned i = 1; r->integrity == AUDIT_CORRUPT && i < MIN(g->nfindings, 5u); i++)
		fprintf(out, "  %s %s\n", s->unicode ? "•" : "-", g->findings[i].what);
}

static void print_module(FILE *out, const struct audit_module *m)
{
	if (!m->read) {
		fprintf(out, "  %s: not read (%s)\n", m->path, m->why_unread);
		return;
	}
	fprintf(out, "  %s:%s %s RELRO%s, %s, %s, %s\n", m->path,
		m->executable ? m->pie ? " PIE," : " no PIE," : "", audit_relro_name(m),
		m->relro_writable ? " (WRITABLE NOW)" : "",
		m->stack_protector ? "stack protector" : "no stack protector",
		m->fortified ? "FORTIFY" : "no fortified calls",
		m->nx_stack ? "NX stack" : "executable stack");
}

static void print_binaries(FILE *out, const struct audit_obs *obs,
			   const struct audit_result *r, const struct style *s)
{
	unsigned shown = 0;

	fprintf(out, "\n%sBinaries%s (%zu mapped)\n", style_bold(s), style_reset(s),
		obs->nmodules);
	for (size_t i = 0; i < obs->nmodules; i++) {
		const struct audit_module *m = &obs->modules[i];
		bool weak = !m->relro || !m->bind_now || !m->stack_protector || !m->nx_stack;

		/* The executable always; a library when something is missing. */
		if (m->executable || m->relro_writable || !m->read || (weak && shown < 8)) {
			print_module(out, m);
			shown += m->read && (weak || (m->executable && !m->pie));
		}
	}
	if (r->weak_modules > shown)
		fprintf(out, "  ... %u more without full RELRO, a stack protector or an NX stack "
			"(--json lists all)\n", r->weak_modules - shown);
	fprintf(out, "  RELRO writable now: %s%s\n", r->relro_writable ? "" : "none",
		r->relro_writable ? "yes: a tool or the program made relocation pages "
		"writable and left them so; restart the process to restore them" : "");
	if (obs->stack_executable)
		fprintf(out, "  the stack is executable now\n");
}

static void print_recs(FILE *out, const struct audit_result *r, const struct style *s)
{
	fprintf(out, "\n%sRecommendations%s\n  %s\n", style_bold(s), style_reset(s), r->advice);
	for (size_t i = 0; i < r->nrecs; i++) {
		const struct audit_rec *rec = &r->recs[i];

		fprintf(out, "  %zu. %s%s%s\n     apply:    %s\n", i + 1, style_bold(s), rec->name,
			style_reset(s), rec->apply);
		if (rec->source[0])
			fprintf(out, "     from:     %s\n", rec->source);
		fprintf(out, "     protects: %s\n     costs:    %s\n     loses:    %s\n",
			rec->protects, rec->cost, rec->loses);
	}
}

void audit_print_text(FILE *out, const struct audit_obs *obs, const struct audit_result *r)
{
	struct style s;
	char b[96];

	style_for(out, &s);
	print_header(out, obs, r, &s);
	print_problems(out, obs, r, &s);
	print_checks(out, r, &s);
	print_integrity(out, obs, r, &s);
	fprintf(out, "\n%sExposure%s\n  %s\n", style_bold(&s), style_reset(&s), r->exposure);
	print_binaries(out, obs, r, &s);
	print_recs(out, r, &s);
	if (obs->stops)
		fprintf(out, "\nheapdoc stopped the process %s\n",
			human_stops(b, sizeof(b), obs->stops, obs->pause_total_us, obs->pause_us));
}
