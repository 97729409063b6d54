#include "observe/agent/agent_profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "observe/proc.h"
#include "observe/symbols.h"
#include "observe/target.h"

/* The library's hole bits are the profile's. */
_Static_assert(AGENT_HOLE_PTR_SAVED == PROF_HOLE_PTR_SAVED &&
	       AGENT_HOLE_ELSEWHERE == PROF_HOLE_ELSEWHERE &&
	       AGENT_HOLE_GOT_SKIPPED == PROF_HOLE_GOT_SKIPPED &&
	       AGENT_HOLE_TABLE_FULL == PROF_HOLE_TABLE_FULL, "hole bits differ");

struct agent_live {
	uint64_t id, ptr, size;
	uint32_t site;
};

double agent_profile_elapsed(const struct agent_profile *ap)
{
	return ap->start_ns ? (now_ns() - ap->start_ns) / 1e9 : 0;
}

static uint64_t vm_rss(pid_t pid)
{
	struct proc_status st;

	return proc_read_status("", pid, &st, NULL) == 0 ? st.vm_rss : 0;
}

int agent_profile_begin(struct agent_profile *ap, pid_t pid, const struct agent_opts *o,
			double window_s, struct profile *prof, struct error *err)
{
	struct proc_status st;
	int ret;

	memset(ap, 0, sizeof(*ap));
	ap->prof = prof;
	ap->window_s = window_s;
	ap->next_mid_s = window_s > 0 ? window_s / 2 : 1;
	prof->pid = pid;
	prof->rate = o->rate ? o->rate : AGENT_DEFAULT_RATE;
	if (proc_read_status("", pid, &st, NULL) == 0) {
		snprintf(prof->comm, sizeof(prof->comm), "%s", st.name);
		prof->rss_start = st.vm_rss;
	}
	ret = agent_load(&ap->agent, pid, o, err);
	if (ret < 0)
		return ret;
	ap->loaded = true;
	ap->start_ns = now_ns();
	snprintf(prof->cost.library, sizeof(prof->cost.library), "%.500s", ap->agent.path);
	return 0;
}

static void take_sample(const struct agent_sample *s, void *arg)
{
	struct agent_profile *ap = arg;
	struct profile *p = ap->prof;
	size_t n = MIN((size_t)s->nframes, (size_t)AGENT_MAX_FRAMES);
	long site = profile_site(p, s->pcs, n);

	ap->samples++;
	if (site < 0)
		return;
	if (s->flags & AGENT_SAMPLE_TRUNCATED)
		p->sites[site].truncated = true;
	profile_count(&p->sites[site].alloc, s->size, p->rate, +1);
	if (s->flags & AGENT_SAMPLE_UNTRACKED)
		return;		/* its free cannot be seen: not counted live */
	if (ap->nlive == ap->live_cap) {
		size_t cap = ap->live_cap ? 2 * ap->live_cap : 1024;
		struct agent_live *v = realloc(ap->live, cap * sizeof(*v));

		if (!v)
			return;
		ap->live = v;
		ap->live_cap = cap;
	}
	ap->live[ap->nlive++] = (struct agent_live){ s->id, s->ptr, s->size, (uint32_t)site };
	profile_count(&p->sites[site].live, s->size, p->rate, +1);
}

static uint32_t bucket_of(const struct agent_live *l)
{
	return agent_bucket((const void *)(uintptr_t)l->ptr);
}

static bool in_table(const struct agent *a, const struct agent_live *l)
{
	uint32_t b = bucket_of(l);
	const struct agent_slot *slot = a->table + (size_t)b * AGENT_WAYS;

	if (!agent_bucket_used(a, b))
		return false;
	for (unsigned i = 0; i < AGENT_WAYS; i++)
		if (slot[i].ptr == l->ptr && slot[i].id == l->id)
			return true;
	return false;
}

/* Reads the buckets the live samples are in (and the free filter). */
static int read_live(struct agent_profile *ap, struct error *err)
{
	for (size_t i = 0; i < ap->nlive; i++)
		ap->want[bucket_of(&ap->live[i])] = 1;
	return agent_read_live(&ap->agent, ap->want, err);
}

/* A sample the live table no longer holds was freed. */
static void sweep_freed(struct agent_profile *ap)
{
	struct profile *p = ap->prof;

	for (size_t i = 0; i < ap->nlive;) {
		struct agent_live *l = &ap->live[i];

		ap->want[bucket_of(l)] = 0;
		if (in_table(&ap->agent, l)) {
			i++;
			continue;
		}
		profile_count(&p->sites[l->site].live, l->size, p->rate, -1);
		*l = ap->live[--ap->nlive];
	}
}

static void copy_cost(struct agent_profile *ap)
{
	const struct agent_ctl *c = &ap->agent.ctl;
	struct prof_cost *k = &ap->prof->cost;

	k->samples = ap->samples;
	k->dropped = c->dropped;
	k->untracked = c->untracked;
	k->unwind_stops = c->unwind_stops;
	k->slots_patched = c->slots_patched;
	k->got_slots_patched = c->got_slots_patched;
	k->slots_skipped = c->slots_skipped;
	k->modules_patched = c->modules_patched;
	k->self_restores = c->self_restores;
	k->holes = c->holes;
	k->load_stop_us = ap->agent.load_stop_us;
}

int agent_profile_poll(struct agent_profile *ap, struct error *err)
{
	double t;
	int ret;

	if (!ap->loaded || ap->stopped)
		return 0;
	ret = agent_heartbeat(&ap->agent, err);
	if (ret == 0)
		ret = agent_poll(&ap->agent, take_sample, ap, err);
	if (ret == 0)
		ret = read_live(ap, err);
	if (ret < 0) {
		if (ret == -ESRCH)
			ap->prof->exited = true;
		return ret;
	}
	sweep_freed(ap);
	copy_cost(ap);
	t = agent_profile_elapsed(ap);
	ap->prof->window_s = t;
	if (t >= ap->next_mid_s) {
		profile_mark_mid(ap->prof, t);
		/* Open-ended: keep the middle within [T/4, T/2]. */
		ap->next_mid_s = ap->window_s > 0 ? 1e300 : 2 * t;
	}
	return 0;
}

/* /proc/<pid>/maps as text: jeprof's MAPPED_LIBRARIES. */
static int read_maps_text(struct profile *p)
{
	char path[64], *buf = NULL;
	size_t len = 0;
	FILE *in, *out;
	int c;

	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	in = fopen(path, "re");
	if (!in)
		return -1;
	out = open_memstream(&buf, &len);
	while (out && (c = getc(in)) != EOF)
		putc(c, out);
	fclose(in);
	if (out)
		fclose(out);
	p->maps_text = buf;
	return buf ? 0 : -1;
}

int agent_profile_end(struct agent_profile *ap, struct error *err)
{
	struct profile *p = ap->prof;
	struct error ignored;
	int ret = 0;

	if (!ap->loaded)
		goto out;
	if (!p->exited) {
		ret = agent_stop(&ap->agent, err);
		/* The samples taken up to the stop, and the frees. */
		if (ret == 0)
			ret = agent_profile_poll(ap, err);
		ap->stopped = true;
		if (ret == 0)
			read_maps_text(p);
		p->rss_end = vm_rss(p->pid);
		if (ret == 0 || ret != -ESRCH)
			agent_unload(&ap->agent, ret ? &ignored : err);
	}
	copy_cost(ap);
	p->cost.stop_stop_us = ap->agent.stop_stop_us;
	p->cost.unload_stop_us = ap->agent.unload_stop_us;
	p->cost.unload_tries = ap->agent.unload_tries;
	p->cost.slots_restored = ap->agent.slots_restored > 0 ? ap->agent.slots_restored : 0;
	p->cost.left = p->exited ? AGENT_LEFT_UNKNOWN : ap->agent.left;
	snprintf(p->cost.left_why, sizeof(p->cost.left_why), "%s",
		 p->exited ? "the process exited" : ap->agent.left_why);
	if (!p->exited)
		agent_profile_symbolise(p, NULL);
out:
	agent_free(&ap->agent);
	free(ap->live);
	ap->live = NULL;
	ap->nlive = ap->live_cap = 0;
	ap->loaded = false;
	return ret;
}

/* ---- names --------------------------------------------------------------------- */

static int mapping_of(struct profile *p, struct sym_module *mod)
{
	struct sym_module_info info;
	struct prof_mapping *m;

	symbols_module_info(mod, &info);
	for (size_t i = 0; i < p->nmappings; i++)
		if (p->mappings[i].start == info.start)
			return (int)i;
	m = realloc(p->mappings, (p->nmappings + 1) * sizeof(*m));
	if (!m)
		return -1;
	p->mappings = m;
	m = &p->mappings[p->nmappings];
	memset(m, 0, sizeof(*m));
	m->start = info.start;
	m->limit = info.end;
	m->path = strdup(info.name ? info.name : "?");
	snprintf(m->build_id, sizeof(m->build_id), "%s", info.build_id);
	m->has_functions = true;
	m->has_lines = info.has_dwarf;
	return (int)p->nmappings++;
}

int agent_profile_symbolise(struct profile *p, struct error *err)
{
	struct symbols *s;
	int ret = symbols_open(&s, p->pid, err);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < p->nframes; i++) {
		struct prof_frame *f = &p->frames[i];
		struct sym_place pl;

		if (f->function || symbols_place(s, f->addr - 1, &pl) < 0)
			continue;
		f->mapping = mapping_of(p, pl.mod);
		f->function = pl.function ? strdup(pl.function) : NULL;
		f->file = pl.file ? strdup(pl.file) : NULL;
		f->line = pl.line;
	}
	symbols_close(s);
	return 0;
}
