#include "model/profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void profile_weight(uint64_t size, uint64_t rate, double *objects, double *bytes)
{
	/* q = 1 - exp(-X/R), computed as -expm1 to stay exact for X << R. */
	double q = rate ? -expm1(-(double)size / (double)rate) : 1.0;

	if (q <= 0)
		q = 1.0;
	*objects = 1.0 / q;
	*bytes = (double)size / q;
}

void profile_count(struct prof_counts *c, uint64_t size, uint64_t rate, int sign)
{
	double objs, bytes;

	profile_weight(size, rate, &objs, &bytes);
	c->objects += sign * objs;
	c->bytes += sign * bytes;
	c->raw_objects += (uint64_t)(int64_t)sign;
	c->raw_bytes += (uint64_t)((int64_t)sign * (int64_t)size);
}

void profile_set_counts(struct prof_counts *c, uint64_t n, uint64_t bytes, uint64_t rate)
{
	double objs, scaled;

	c->raw_objects = n;
	c->raw_bytes = bytes;
	if (!n) {
		c->objects = c->bytes = 0;
		return;
	}
	/* The stack's mean size stands for each of its samples (jeprof's rule:
	 * jemalloc does not keep the sizes one by one). */
	profile_weight(bytes / n, rate, &objs, &scaled);
	c->objects = n * objs;
	c->bytes = bytes * (objs);
}

static uint64_t hash_stack(const uint64_t *pcs, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ n;

	for (size_t i = 0; i < n; i++)
		h = (h ^ pcs[i]) * 0x100000001b3ULL, h ^= h >> 29;
	return h ? h : 1;
}

/* Index tables hold index + 1 (0: empty), sized to a power of two at least
 * twice the entries. */
static int grow_index(uint32_t **index, size_t *slots, size_t entries,
		      uint64_t (*key)(const struct profile *, uint32_t), const struct profile *p)
{
	size_t n = *slots ? *slots : 64;
	uint32_t *v;

	if (entries * 2 < *slots)
		return 0;
	while (n <= entries * 2)
		n *= 2;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -1;
	for (uint32_t i = 0; i < entries; i++) {
		size_t at = key(p, i) & (n - 1);

		while (v[at])
			at = (at + 1) & (n - 1);
		v[at] = i + 1;
	}
	free(*index);
	*index = v;
	*slots = n;
	return 0;
}

static uint64_t site_key(const struct profile *p, uint32_t i)
{
	return p->sites[i].hash;
}

static uint64_t frame_key(const struct profile *p, uint32_t i)
{
	uint64_t a = p->frames[i].addr;

	return (a ^ (a >> 17)) * 0x9E3779B97F4A7C15ULL;
}

static long frame_of(struct profile *p, uint64_t addr)
{
	size_t at;

	if (grow_index(&p->frame_index, &p->frame_slots, p->nframes, frame_key, p))
		return -1;
	at = ((addr ^ (addr >> 17)) * 0x9E3779B97F4A7C15ULL) & (p->frame_slots - 1);
	for (; p->frame_index[at]; at = (at + 1) & (p->frame_slots - 1))
		if (p->frames[p->frame_index[at] - 1].addr == addr)
			return p->frame_index[at] - 1;
	if (p->nframes == p->frames_cap) {
		size_t cap = p->frames_cap ? 2 * p->frames_cap : 256;
		struct prof_frame *v = realloc(p->frames, cap * sizeof(*v));

		if (!v)
			return -1;
		p->frames = v;
		p->frames_cap = cap;
	}
	p->frames[p->nframes] = (struct prof_frame){ .addr = addr, .mapping = -1 };
	p->frame_index[at] = (uint32_t)++p->nframes;
	return (long)p->nframes - 1;
}

static bool same_stack(const struct profile *p, const struct prof_site *s,
		       const uint64_t *pcs, size_t n)
{
	if (s->nframes != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p->frames[s->frames[i]].addr != pcs[i])
			return false;
	return true;
}

static long new_site(struct profile *p, const uint64_t *pcs, size_t n, uint64_t h)
{
	struct prof_site *s;

	if (p->nsites == p->sites_cap) {
		size_t cap = p->sites_cap ? 2 * p->sites_cap : 64;
		struct prof_site *v = realloc(p->sites, cap * sizeof(*v));

		if (!v)
			return -1;
		p->sites = v;
		p->sites_cap = cap;
	}
	s = &p->sites[p->nsites];
	memset(s, 0, sizeof(*s));
	s->frames = malloc((n ? n : 1) * sizeof(*s->frames));
	if (!s->frames)
		return -1;
	for (size_t i = 0; i < n; i++) {
		long f = frame_of(p, pcs[i]);

		if (f < 0) {
			free(s->frames);
			return -1;
		}
		s->frames[i] = (uint32_t)f;
	}
	s->nframes = n;
	s->hash = h;
	return (long)p->nsites++;
}

long profile_site(struct profile *p, const uint64_t *pcs, size_t n)
{
	uint64_t h = hash_stack(pcs, n);
	size_t at;
	long i;

	if (grow_index(&p->site_index, &p->site_slots, p->nsites, site_key, p))
		return -1;
	at = h & (p->site_slots - 1);
	for (; p->site_index[at]; at = (at + 1) & (p->site_slots - 1)) {
		struct prof_site *s = &p->sites[p->site_index[at] - 1];

		if (s->hash == h && same_stack(p, s, pcs, n))
			return p->site_index[at] - 1;
	}
	i = new_site(p, pcs, n, h);
	if (i >= 0)
		p->site_index[at] = (uint32_t)i + 1;
	return i;
}

void profile_mark_mid(struct profile *p, double t)
{
	for (size_t i = 0; i < p->nsites; i++)
		p->sites[i].mid = p->sites[i].live;
	p->mid_s = t;
}

void profile_free(struct profile *p)
{
	for (size_t i = 0; i < p->nsites; i++)
		free(p->sites[i].frames);
	for (size_t i = 0; i < p->nframes; i++) {
		free(p->frames[i].function);
		free(p->frames[i].file);
	}
	for (size_t i = 0; i < p->nmappings; i++)
		free(p->mappings[i].path);
	free(p->sites);
	free(p->frames);
	free(p->mappings);
	free(p->maps_text);
	class_census_free(&p->before.classes);
	free(p->site_index);
	free(p->frame_index);
	memset(p, 0, sizeof(*p));
}
