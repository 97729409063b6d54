/* `heapdoc triage` for people: the verdict first, then why, then what to
 * turn.  Colours only on a terminal (struct style). */
#include "report/leaks.h"
#include "report/triage.h"

#include <math.h>

#include "base/human.h"
#include "report/knobs.h"
#include "report/sparkline.h"
#include "base/util.h"

#define SPARK_WIDTH 40
/* Moves under 2% of the level are drawn flat: the judge does not count
 * them as change either (trend.c), and a sparkline should not shout. */
#define SPARK_MIN_SPAN_SHARE 0.02

static void print_header(FILE *out, const struct triage_report *r, const struct style *s)
{
	const struct observation *obs = r->obs;
	const struct alloc_id *id = &obs->alloc;

	fprintf(out, "%sheapdoc triage%s: pid %d (%s), %s%s%s", style_bold(s), style_reset(s),
		(int)obs->pid, obs->comm, alloc_kind_name(id->kind), id->version[0] ? " " : "",
		id->version);
	if (obs->nsamples > 1)
		fprintf(out, ", watched %.1f s (%zu samples)\n",
			obs->samples[obs->nsamples - 1].t - obs->samples[0].t, obs->nsamples);
	else
		fprintf(out, ", %s\n", obs->nsamples ? "one snapshot" : "no sample");
	if (r->ended)
		fprintf(out, "%sended: %s%s\n", style_bold(s), r->ended, style_reset(s));
}

static void print_verdict(FILE *out, const struct verdict *v, const struct style *s)
{
	const char *name = verdict_name(v->kind);

	fprintf(out, "\n  %s%s%s  %s\n", style_verdict_color(s, name), name, style_reset(s),
		v->reason);
	if (v->kind == VERDICT_INCONCLUSIVE && v->leaning != VERDICT_INCONCLUSIVE)
		fprintf(out, "  %sthe evidence leans to: %s%s\n", style_dim(s),
			verdict_name(v->leaning), style_reset(s));
	if (v->next_step[0])
		fprintf(out, "  next: %s\n", v->next_step);
}

static void print_evidence(FILE *out, const struct verdict *v, const struct style *s)
{
	fprintf(out, "\n%sEvidence%s\n", style_bold(s), style_reset(s));
	for (size_t i = 0; i < v->nevidence; i++)
		fprintf(out, "  %s %s\n", s->unicode ? "•" : "-", v->evidence[i]);
}

static void print_spark_row(FILE *out, const struct triage_report *r, const char *label,
			    enum trend_series which, const struct trend *t,
			    const struct style *s)
{
	const struct observation *obs = r->obs;
	double v[OBS_MAX_SAMPLES], top = 0;
	char line[SPARK_WIDTH * 4 + 1], b1[32], b2[32];
	size_t n = MIN(obs->nsamples, (size_t)OBS_MAX_SAMPLES), have = 0;

	for (size_t i = 0; i < n; i++) {
		const struct sample *sm = &obs->samples[i];
		uint64_t x = which == SERIES_RSS ? sm->rss :
			     which == SERIES_ALLOCATED ? sm->allocated : sm->resident;

		v[i] = IS_SET(x) ? (double)x : NAN;
		have += IS_SET(x);
		if (IS_SET(x))
			top = fmax(top, (double)x);
	}
	if (!have)
		return;
	sparkline(line, sizeof(line), v, n, SPARK_WIDTH, SPARK_MIN_SPAN_SHARE * top, s->unicode);
	fprintf(out, "  %-10s %s  %s → %s  %s\n", label, line,
		human_bytes(b1, sizeof(b1), t->first), human_bytes(b2, sizeof(b2), t->last),
		trend_kind_name(t->kind));
}

static void print_trend(FILE *out, const struct triage_report *r, const struct style *s)
{
	const struct verdict *v = r->verdict;

	if (r->obs->nsamples < 2)
		return;
	fprintf(out, "\n%sTrend%s\n", style_bold(s), style_reset(s));
	print_spark_row(out, r, "RSS", SERIES_RSS, &v->rss, s);
	print_spark_row(out, r, "allocated", SERIES_ALLOCATED, &v->allocated, s);
	print_spark_row(out, r, "resident", SERIES_RESIDENT, &v->resident, s);
}

static void print_gap(FILE *out, const struct verdict *v, const struct style *s)
{
	const struct gap *g = &v->gap;
	char b1[32], b2[32], b3[32];

	if (!g->known)
		return;
	fprintf(out, "\n%sWhere the memory is%s\n", style_bold(s), style_reset(s));
	fprintf(out, "  allocated %s, resident %s, gap %s",
		human_bytes(b1, sizeof(b1), g->allocated), human_bytes(b2, sizeof(b2), g->resident),
		human_bytes(b3, sizeof(b3), g->bytes));
	if (g->significant)
		fprintf(out, " (%.*f×): %s\n", g->ratio >= 100 ? 0 : g->ratio >= 10 ? 1 : 2,
			g->ratio, gap_kind_name(g->kind));
	else
		fprintf(out, ": none worth the name\n");
	if (IS_SET(g->trimmable))
		fprintf(out, "  a release call would return %s%s\n",
			human_bytes(b1, sizeof(b1), g->trimmable), v->cycle.held_at_peak ?
			", taken back within a cycle: it is the working set" : "");
}

/* --sites: where a leak grows, named by its allocation stack. */
static void print_sites(FILE *out, const struct triage_report *r, const struct style *s)
{
	const struct leak_ranking *k = r->sites;
	char rate[32], frame[600];

	if (!r->sites_asked || (k && r->verdict->kind != VERDICT_LEAK))
		return;
	fprintf(out, "\n%sWhere it grows%s (allocation stacks sampled over the window)\n",
		style_bold(s), style_reset(s));
	if (!k) {
		fprintf(out, "  not sampled: %s\n", r->sites_why);
		return;
	}
	if (!k->ngrowing)
		fprintf(out, "  no allocation site grew: the growth is outside what malloc "
			"returned in the window\n");
	for (size_t i = 0; i < k->ngrowing && i < 3; i++) {
		const struct prof_site *site = &r->profile->sites[k->growing[i].site];

		leaks_describe_frame(r->profile, site->frames[leak_site_frame(r->profile, site)],
				     frame, sizeof(frame));
		fprintf(out, "  %s %s%s/s%s, %.0f%% of the sampled growth: %s\n",
			i ? "then" : "top leak site", style_bold(s),
			human_bytes(rate, sizeof(rate), (uint64_t)k->growing[i].bytes_per_s),
			style_reset(s), 100 * k->growing[i].share, frame);
	}
	if (k->ngrowing)
		fprintf(out, "  (heapdoc leaks %d gives the stacks and pprof/jeprof files)\n",
			(int)r->profile->pid);
}

void triage_print_text(FILE *out, const struct triage_report *r, const struct style *s)
{
	char buf[96];

	print_header(out, r, s);
	print_verdict(out, r->verdict, s);
	print_evidence(out, r->verdict, s);
	print_sites(out, r, s);
	print_trend(out, r, s);
	print_gap(out, r->verdict, s);
	fprintf(out, "\n%sKnobs%s\n", style_bold(s), style_reset(s));
	knobs_print_section(out, r->knobs, s);
	fprintf(out, "\n%sheapdoc stopped the process %s%s\n", style_dim(s),
		human_stops(buf, sizeof(buf), r->obs->stops, r->obs->pause_total_us,
			    r->obs->pause_us), style_reset(s));
}
