/* heapdoc leaks --pprof: a gzip'd profile.proto in Go's heap layout
 * (report/pprof.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "report/leaks.h"
#include "report/pprof.h"
#include "report/protobuf.h"

/* profile.proto field numbers. */
enum {
	PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE, PROFILE_MAPPING, PROFILE_LOCATION,
	PROFILE_FUNCTION, PROFILE_STRING_TABLE, PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS, PROFILE_PERIOD_TYPE, PROFILE_PERIOD,
};

/* The string table, deduplicated through a small open-addressing index. */
struct strings {
	const char **v;
	size_t n, cap;
	uint32_t *index;
	size_t slots;
	bool ok;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ULL;
	return h;
}

static int strings_grow(struct strings *t)
{
	size_t slots = t->slots ? 2 * t->slots : 1024;
	uint32_t *index = calloc(slots, sizeof(*index));
	const char **v = realloc(t->v, slots / 2 * sizeof(*v));

	if (!index || !v) {
		free(index);
		if (v)
			t->v = v;
		return -1;
	}
	t->v = v;
	t->cap = slots / 2;
	for (size_t i = 0; i < t->n; i++) {
		size_t at = str_hash(t->v[i]) & (slots - 1);

		while (index[at])
			at = (at + 1) & (slots - 1);
		index[at] = (uint32_t)i + 1;
	}
	free(t->index);
	t->index = index;
	t->slots = slots;
	return 0;
}

static uint64_t str_id(struct strings *t, const char *s)
{
	size_t at;

	if (!s)
		s = "";
	if (t->n + 1 >= t->cap && strings_grow(t)) {
		t->ok = false;
		return 0;
	}
	at = str_hash(s) & (t->slots - 1);
	for (; t->index[at]; at = (at + 1) & (t->slots - 1))
		if (!strcmp(t->v[t->index[at] - 1], s))
			return t->index[at] - 1;
	t->v[t->n] = s;
	t->index[at] = (uint32_t)++t->n;
	return t->n - 1;
}

static void value_type(struct pb_buf *b, unsigned field, struct strings *t, const char *type,
		       const char *unit)
{
	struct pb_buf m;

	pb_init(&m);
	pb_varint_field(&m, 1, str_id(t, type));
	pb_varint_field(&m, 2, str_id(t, unit));
	pb_message_field(b, field, &m);
	pb_free(&m);
}

static int64_t rounded(double v)
{
	return v > 0 ? (int64_t)llround(v) : 0;
}

static void samples(struct pb_buf *b, const struct profile *p)
{
	for (size_t i = 0; i < p->nsites; i++) {
		const struct prof_site *s = &p->sites[i];
		uint64_t locs[64], vals[PPROF_VALUES] = {
			(uint64_t)rounded(s->alloc.objects), (uint64_t)rounded(s->alloc.bytes),
			(uint64_t)rounded(s->live.objects), (uint64_t)rounded(s->live.bytes) };
		size_t n = s->nframes < 64 ? s->nframes : 64;
		struct pb_buf m;

		for (size_t k = 0; k < n; k++)
			locs[k] = s->frames[k] + 1;	/* location id = frame index + 1 */
		pb_init(&m);
		pb_packed_field(&m, 1, locs, n);
		pb_packed_field(&m, 2, vals, PPROF_VALUES);
		pb_message_field(b, PROFILE_SAMPLE, &m);
		pb_free(&m);
	}
}

static void mappings(struct pb_buf *b, const struct profile *p, struct strings *t)
{
	for (size_t i = 0; i < p->nmappings; i++) {
		const struct prof_mapping *m = &p->mappings[i];
		struct pb_buf e;

		pb_init(&e);
		pb_varint_field(&e, 1, i + 1);
		pb_varint_field(&e, 2, m->start);
		pb_varint_field(&e, 3, m->limit);
		pb_varint_field(&e, 4, m->offset);
		pb_varint_field(&e, 5, str_id(t, m->path));
		pb_varint_field(&e, 6, str_id(t, m->build_id));
		pb_varint_field(&e, 7, m->has_functions);
		pb_varint_field(&e, 8, m->has_lines);
		pb_varint_field(&e, 9, m->has_lines);
		pb_message_field(b, PROFILE_MAPPING, &e);
		pb_free(&e);
	}
}

/* One function per frame (id = frame index + 1): simple, and pprof merges
 * functions by name when it reports. */
static void locations_and_functions(struct pb_buf *b, const struct profile *p,
				    struct strings *t)
{
	char hex[32];

	for (size_t i = 0; i < p->nframes; i++) {
		const struct prof_frame *f = &p->frames[i];
		struct pb_buf loc, line, fn;
		const char *name = f->function;

		if (!name) {
			snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)f->addr);
			name = hex;
		}
		pb_init(&fn);
		pb_varint_field(&fn, 1, i + 1);
		pb_varint_field(&fn, 2, str_id(t, name));
		pb_varint_field(&fn, 3, str_id(t, name));
		pb_varint_field(&fn, 4, str_id(t, f->file));
		pb_message_field(b, PROFILE_FUNCTION, &fn);
		pb_free(&fn);

		pb_init(&line);
		pb_varint_field(&line, 1, i + 1);
		pb_varint_field(&line, 2, (uint64_t)(f->line > 0 ? f->line : 0));
		pb_init(&loc);
		pb_varint_field(&loc, 1, i + 1);
		pb_varint_field(&loc, 2, f->mapping >= 0 ? (uint64_t)f->mapping + 1 : 0);
		/* The call instruction, not the return address: tools that
		 * look the address up again find the calling line. */
		pb_varint_field(&loc, 3, f->addr - 1);
		pb_message_field(&loc, 4, &line);
		pb_message_field(b, PROFILE_LOCATION, &loc);
		pb_free(&loc);
		pb_free(&line);
	}
}

static int gzip_to(FILE *out, const uint8_t *data, size_t len)
{
	z_stream z = { 0 };
	uint8_t buf[65536];
	int r;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (uint8_t *)data;
	z.avail_in = (uInt)len;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		r = deflate(&z, Z_FINISH);
		if (r == Z_STREAM_ERROR ||
		    fwrite(buf, 1, sizeof(buf) - z.avail_out, out) != sizeof(buf) - z.avail_out) {
			deflateEnd(&z);
			return -EIO;
		}
	} while (r != Z_STREAM_END);
	deflateEnd(&z);
	return 0;
}

int leaks_write_pprof(FILE *out, const struct profile *p)
{
	struct strings t = { .ok = true };
	struct pb_buf b, strs;
	int ret;

	pb_init(&b);
	str_id(&t, "");				/* string 0 is always "" */
	value_type(&b, PROFILE_SAMPLE_TYPE, &t, "alloc_objects", "count");
	value_type(&b, PROFILE_SAMPLE_TYPE, &t, "alloc_space", "bytes");
	value_type(&b, PROFILE_SAMPLE_TYPE, &t, "inuse_objects", "count");
	value_type(&b, PROFILE_SAMPLE_TYPE, &t, "inuse_space", "bytes");
	samples(&b, p);
	mappings(&b, p, &t);
	locations_and_functions(&b, p, &t);
	pb_varint_field(&b, PROFILE_DURATION_NANOS, (uint64_t)(p->window_s * 1e9));
	value_type(&b, PROFILE_PERIOD_TYPE, &t, "space", "bytes");
	pb_varint_field(&b, PROFILE_PERIOD, p->rate);
	/* The string table goes last: every id above is known by now. */
	pb_init(&strs);
	for (size_t i = 0; i < t.n; i++)
		pb_string_field(&strs, PROFILE_STRING_TABLE, t.v[i]);
	ret = !b.ok || !strs.ok || !t.ok ? -ENOMEM : 0;
	if (!ret) {
		uint8_t *all = malloc(b.len + strs.len);

		ret = all ? 0 : -ENOMEM;
		if (all) {
			memcpy(all, b.data, b.len);
			memcpy(all + b.len, strs.data, strs.len);
			ret = gzip_to(out, all, b.len + strs.len);
			free(all);
		}
	}
	pb_free(&b);
	pb_free(&strs);
	free(t.v);
	free(t.index);
	return ret;
}
