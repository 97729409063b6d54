/* Reading a profile.proto back (report/pprof.h): heapdoc's own check that
 * what it writes is what it meant, independent of Go's reader. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "report/pprof.h"
#include "report/protobuf.h"

#define MAX_PROFILE (256u << 20)

/* The whole file, gunzipped if it is gzip'd. */
static int load(const char *path, uint8_t **out, size_t *len)
{
	gzFile f = gzopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = NULL;
	int r;

	if (!f)
		return errno ? -errno : -ENOMEM;
	do {
		uint8_t *b = cap > MAX_PROFILE ? NULL : realloc(buf, cap);

		if (!b) {
			free(buf);
			gzclose(f);
			return -ENOMEM;
		}
		buf = b;
		r = gzread(f, buf + n, (unsigned)(cap - n));
		if (r > 0)
			n += (size_t)r;
		if (n == cap)
			cap *= 2;
	} while (r > 0);
	gzclose(f);
	if (r < 0) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*len = n;
	return 0;
}

#define GROW(arr, n) ((arr) = realloc((arr), ((n) + 1) * sizeof(*(arr))))

static int value_type(const struct pb_field *f, uint64_t ids[2])
{
	struct pb_reader r = { f->data, f->data + f->len, false };
	struct pb_field g;

	ids[0] = ids[1] = 0;
	while (pb_next(&r, &g))
		if (g.number == 1 || g.number == 2)
			ids[g.number - 1] = g.value;
	return r.bad ? -EINVAL : 0;
}

static int sample(struct pprof *p, const struct pb_field *f)
{
	struct pb_reader r = { f->data, f->data + f->len, false };
	struct pprof_sample *s;
	struct pb_field g;

	if (!GROW(p->samples, p->nsamples))
		return -ENOMEM;
	s = &p->samples[p->nsamples++];
	memset(s, 0, sizeof(*s));
	while (pb_next(&r, &g)) {
		if (g.number == 1) {
			size_t n = pb_unpack(&g, NULL, 0);
			uint64_t *v = realloc(s->locations, (s->nlocations + n + 1) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			s->locations = v;
			s->nlocations += pb_unpack(&g, v + s->nlocations, n);
		} else if (g.number == 2) {
			uint64_t v[PPROF_VALUES] = { 0 };
			size_t n = pb_unpack(&g, v, PPROF_VALUES);

			for (size_t i = 0; i < n && i < PPROF_VALUES; i++)
				s->values[i] = (int64_t)v[i];
		}
	}
	return r.bad ? -EINVAL : 0;
}

static int location(struct pprof *p, const struct pb_field *f)
{
	struct pb_reader r = { f->data, f->data + f->len, false };
	struct pprof_location *l;
	struct pb_field g;

	if (!GROW(p->locations, p->nlocations))
		return -ENOMEM;
	l = &p->locations[p->nlocations++];
	memset(l, 0, sizeof(*l));
	while (pb_next(&r, &g)) {
		if (g.number == 1)
			l->id = g.value;
		else if (g.number == 2)
			l->mapping_id = g.value;
		else if (g.number == 3)
			l->address = g.value;
		else if (g.number == 4 && !l->function_id) {
			struct pb_reader lr = { g.data, g.data + g.len, false };
			struct pb_field h;

			while (pb_next(&lr, &h))
				if (h.number == 1)
					l->function_id = h.value;
				else if (h.number == 2)
					l->line = (int64_t)h.value;
		}
	}
	return r.bad ? -EINVAL : 0;
}

/* Messages whose fields are all varints: functions and mappings, with
 * string ids kept in the caller's array until the table is read. */
static int varints(const struct pb_field *f, uint64_t *v, size_t n)
{
	struct pb_reader r = { f->data, f->data + f->len, false };
	struct pb_field g;

	memset(v, 0, n * sizeof(*v));
	while (pb_next(&r, &g))
		if (g.wire == 0 && g.number < n)
			v[g.number] = g.value;
	return r.bad ? -EINVAL : 0;
}

struct pending {
	uint64_t (*functions)[6];
	uint64_t (*mappings)[10];
	uint64_t types[PPROF_VALUES][2], period[2];
};

static int field(struct pprof *p, struct pending *q, const struct pb_field *f)
{
	switch (f->number) {
	case 1:
		if (p->ntypes == PPROF_VALUES)
			return -EINVAL;
		return value_type(f, q->types[p->ntypes++]);
	case 2:
		return sample(p, f);
	case 3:
		if (!GROW(q->mappings, p->nmappings))
			return -ENOMEM;
		return varints(f, q->mappings[p->nmappings++], 10);
	case 4:
		return location(p, f);
	case 5:
		if (!GROW(q->functions, p->nfunctions))
			return -ENOMEM;
		return varints(f, q->functions[p->nfunctions++], 6);
	case 6:
		if (!GROW(p->strings, p->nstrings))
			return -ENOMEM;
		p->strings[p->nstrings] = strndup((const char *)f->data, f->len);
		return p->strings[p->nstrings++] ? 0 : -ENOMEM;
	case 10:
		p->duration_nanos = (int64_t)f->value;
		return 0;
	case 11:
		return value_type(f, q->period);
	case 12:
		p->period = (int64_t)f->value;
		return 0;
	}
	return 0;
}

static const char *str(const struct pprof *p, uint64_t id)
{
	return id < p->nstrings ? p->strings[id] : NULL;
}

/* With the string table known, ids become strings. */
static int resolve(struct pprof *p, struct pending *q)
{
	if (!p->nstrings || p->strings[0][0])
		return -EINVAL;		/* string 0 must be "" */
	for (size_t i = 0; i < p->ntypes; i++) {
		p->types[i] = str(p, q->types[i][0]);
		p->units[i] = str(p, q->types[i][1]);
	}
	p->period_type = str(p, q->period[0]);
	p->period_unit = str(p, q->period[1]);
	p->functions = calloc(p->nfunctions + 1, sizeof(*p->functions));
	p->mappings = calloc(p->nmappings + 1, sizeof(*p->mappings));
	if (!p->functions || !p->mappings)
		return -ENOMEM;
	for (size_t i = 0; i < p->nfunctions; i++)
		p->functions[i] = (struct pprof_function){ q->functions[i][1],
			str(p, q->functions[i][2]), str(p, q->functions[i][4]) };
	for (size_t i = 0; i < p->nmappings; i++)
		p->mappings[i] = (struct pprof_mapping){ q->mappings[i][1], q->mappings[i][2],
			q->mappings[i][3], q->mappings[i][4], str(p, q->mappings[i][5]),
			str(p, q->mappings[i][6]) };
	return 0;
}

int pprof_read(const char *path, struct pprof *out)
{
	struct pending q = { 0 };
	struct pb_reader r;
	struct pb_field f;
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = load(path, &data, &len);
	if (ret < 0)
		return ret;
	r = (struct pb_reader){ data, data + len, false };
	while (ret == 0 && pb_next(&r, &f))
		ret = field(out, &q, &f);
	if (ret == 0 && r.bad)
		ret = -EINVAL;
	if (ret == 0)
		ret = resolve(out, &q);
	free(q.functions);
	free(q.mappings);
	free(data);
	if (ret < 0)
		pprof_free(out);
	return ret;
}

void pprof_free(struct pprof *p)
{
	for (size_t i = 0; i < p->nstrings; i++)
		free(p->strings[i]);
	for (size_t i = 0; i < p->nsamples; i++)
		free(p->samples[i].locations);
	free(p->strings);
	free(p->samples);
	free(p->locations);
	free(p->functions);
	free(p->mappings);
	memset(p, 0, sizeof(*p));
}

const struct pprof_location *pprof_location(const struct pprof *p, uint64_t id)
{
	for (size_t i = 0; i < p->nlocations; i++)
		if (p->locations[i].id == id)
			return &p->locations[i];
	return NULL;
}

const struct pprof_function *pprof_function(const struct pprof *p, uint64_t id)
{
	for (size_t i = 0; i < p->nfunctions; i++)
		if (p->functions[i].id == id)
			return &p->functions[i];
	return NULL;
}
