#include "report/exporter.h"

#include <math.h>
#include <stdlib.h>

#include "base/util.h"
#include "model/cgroup.h"
#include "report/metrics.h"

/* The last sample of the window: this round's figures. */
static const struct sample *latest(const struct fleet_target *t)
{
	const struct observation *obs = t->obs;

	return obs->nsamples ? &obs->samples[obs->nsamples - 1] : NULL;
}

static double ratio(uint64_t num, uint64_t den)
{
	return IS_SET(num) && IS_SET(den) && den ? (double)num / (double)den : NAN;
}

/* One per-process gauge of a plain figure, for every target. */
static uint64_t figure(const struct exporter_target *e, enum metric_id id)
{
	const struct fleet_target *t = e->t;
	const struct observation *obs = t->obs;
	const struct alloc_summary *sum = &obs->summary;
	const struct sample *s = latest(t);

	switch (id) {
	case METRIC_RSS:
		return s ? s->rss : obs->status.vm_rss;
	case METRIC_ALLOCATED:
		return t->view && s ? s->allocated : UNSET;
	case METRIC_RESIDENT:
		return t->view && s ? s->resident : UNSET;
	case METRIC_TRIMMABLE:
		return sum->valid ? sum->trimmable : UNSET;
	case METRIC_ARENAS:
		return sum->valid && sum->narenas ? sum->narenas : UNSET;
	case METRIC_CGROUP_LIMIT:
		return obs->cgroup.memory_max;
	case METRIC_CGROUP_USAGE:
		return obs->cgroup.memory_current;
	case METRIC_CGROUP_WORKING_SET:
		return cgroup_working_set(&obs->cgroup);
	default:
		return UNSET;
	}
}

static void write_figure(FILE *out, const struct exporter_target *v, size_t n,
			 const struct metric_labels *labels, enum metric_id id)
{
	metric_head(out, id);
	for (size_t i = 0; i < n; i++)
		metric_u64(out, id, &labels[i], NULL, figure(&v[i], id));
}

static void write_free(FILE *out, const struct exporter_target *v, size_t n,
		       const struct metric_labels *labels)
{
	metric_head(out, METRIC_FREE);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < FLEET_NFREE && v[i].t->obs->summary.valid; k++)
			metric_u64(out, METRIC_FREE, &labels[i], fleet_free_kind_name(k),
				   v[i].t->free[k]);
}

static void write_fragmentation(FILE *out, const struct exporter_target *v, size_t n,
				const struct metric_labels *labels)
{
	metric_head(out, METRIC_FRAGMENTATION);
	for (size_t i = 0; i < n; i++) {
		const struct sample *s = latest(v[i].t);

		if (v[i].t->view && s)
			metric_double(out, METRIC_FRAGMENTATION, &labels[i], NULL,
				      ratio(s->resident, s->allocated));
	}
}

static void write_verdicts(FILE *out, const struct exporter_target *v, size_t n,
			   const struct metric_labels *labels)
{
	static const enum verdict_kind all[] = {
		VERDICT_HEALTHY, VERDICT_LEAK, VERDICT_FRAGMENTATION, VERDICT_UNPURGED,
		VERDICT_LIVE_SET, VERDICT_INCONCLUSIVE,
	};

	metric_head(out, METRIC_VERDICT);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < ARRAY_SIZE(all); k++)
			metric_u64(out, METRIC_VERDICT, &labels[i], verdict_name(all[k]),
				   v[i].verdict == all[k]);
	metric_head(out, METRIC_WINDOW);
	for (size_t i = 0; i < n; i++) {
		const struct observation *obs = v[i].t->obs;

		metric_double(out, METRIC_WINDOW, &labels[i], NULL, obs->nsamples > 1 ?
			      obs->samples[obs->nsamples - 1].t - obs->samples[0].t : 0);
	}
}

static void write_costs(FILE *out, const struct exporter_target *v, size_t n,
			const struct metric_labels *labels, double now)
{
	metric_head(out, METRIC_PAUSE);
	for (size_t i = 0; i < n; i++) {
		const struct fleet_pauses *p = &v[i].t->pauses;

		metric_histogram(out, METRIC_PAUSE, &labels[i], fleet_pause_bounds_s, p->le,
				 FLEET_PAUSE_BUCKETS, p->count, (double)p->total_us / 1e6);
	}
	metric_head(out, METRIC_PAUSE_LONGEST);
	for (size_t i = 0; i < n; i++)
		if (v[i].t->pauses.count)
			metric_double(out, METRIC_PAUSE_LONGEST, &labels[i], NULL,
				      (double)v[i].t->pauses.longest_us / 1e6);
	metric_head(out, METRIC_STOPPED_HOUR);
	for (size_t i = 0; i < n; i++)
		metric_double(out, METRIC_STOPPED_HOUR, &labels[i], NULL,
			      (double)fleet_hour_total_us(&v[i].t->hour, now) / 1e6);
	metric_head(out, METRIC_READ_ERRORS);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < FLEET_NERRORS; k++)
			metric_u64(out, METRIC_READ_ERRORS, &labels[i], fleet_error_name(k),
				   v[i].t->read_errors[k]);
	metric_head(out, METRIC_LAST_SUCCESS);
	for (size_t i = 0; i < n; i++)
		if (v[i].t->last_success > 0)
			metric_double(out, METRIC_LAST_SUCCESS, &labels[i], NULL,
				      v[i].t->last_success);
}

/* One series without labels, with its head. */
static void self_u64(FILE *out, enum metric_id id, const char *label_value, uint64_t v)
{
	metric_head(out, id);
	metric_u64(out, id, NULL, label_value, v);
}

static void self_double(FILE *out, enum metric_id id, double v)
{
	metric_head(out, id);
	metric_double(out, id, NULL, NULL, v);
}

static void write_self(FILE *out, const struct exporter_self *self, size_t n)
{
	self_u64(out, METRIC_EXPORTER_TARGETS, NULL, n);
	self_u64(out, METRIC_EXPORTER_ROUNDS, NULL, self->rounds);
	self_double(out, METRIC_EXPORTER_ROUND_SECONDS, self->round_s);
	self_double(out, METRIC_EXPORTER_LAST_ROUND, self->last_round);
	if (self->serving)
		self_u64(out, METRIC_EXPORTER_SCRAPES, NULL, self->scrapes);
	self_u64(out, METRIC_EXPORTER_BUILD, self->version, 1);
	self_double(out, METRIC_PROCESS_CPU, self->cpu_s);
	self_u64(out, METRIC_PROCESS_RSS, NULL, self->rss);
	self_double(out, METRIC_PROCESS_START, self->start_time);
}

void exporter_write(FILE *out, const struct exporter_target *v, size_t n,
		    const struct exporter_self *self, double now)
{
	static const enum metric_id plain[] = {
		METRIC_RSS, METRIC_ALLOCATED, METRIC_RESIDENT, METRIC_TRIMMABLE, METRIC_ARENAS,
		METRIC_CGROUP_LIMIT, METRIC_CGROUP_USAGE, METRIC_CGROUP_WORKING_SET,
	};
	struct metric_labels *labels = n ? calloc(n, sizeof(*labels)) : NULL;

	if (n && !labels)
		n = 0;		/* out of memory: the exporter's own figures still go */
	for (size_t i = 0; i < n; i++) {
		const struct fleet_target *t = v[i].t;

		metric_labels_process(&labels[i], t->pid, t->obs->comm,
				      alloc_kind_name(t->obs->alloc.kind), t->cgroup, t->unit);
	}
	for (size_t k = 0; k < ARRAY_SIZE(plain); k++)
		write_figure(out, v, n, labels, plain[k]);
	write_free(out, v, n, labels);
	write_fragmentation(out, v, n, labels);
	write_verdicts(out, v, n, labels);
	write_costs(out, v, n, labels, now);
	write_self(out, self, n);
	free(labels);
}
