#include "report/protobuf.h"

#include <stdlib.h>
#include <string.h>

void pb_init(struct pb_buf *b)
{
	memset(b, 0, sizeof(*b));
	b->ok = true;
}

void pb_free(struct pb_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void put(struct pb_buf *b, const void *data, size_t len)
{
	if (!b->ok)
		return;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *d;

		while (cap < b->len + len)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d) {
			b->ok = false;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

static void varint(struct pb_buf *b, uint64_t v)
{
	uint8_t out[10];
	size_t n = 0;

	do {
		out[n] = v & 0x7f;
		v >>= 7;
		out[n++] |= v ? 0x80 : 0;
	} while (v);
	put(b, out, n);
}

void pb_varint_field(struct pb_buf *b, unsigned field, uint64_t v)
{
	if (!v)
		return;		/* proto3: zero is the default, not written */
	varint(b, (uint64_t)field << 3);
	varint(b, v);
}

void pb_bytes_field(struct pb_buf *b, unsigned field, const void *data, size_t len)
{
	varint(b, (uint64_t)field << 3 | 2);
	varint(b, len);
	put(b, data, len);
}

void pb_string_field(struct pb_buf *b, unsigned field, const char *s)
{
	pb_bytes_field(b, field, s, strlen(s));
}

void pb_message_field(struct pb_buf *b, unsigned field, const struct pb_buf *m)
{
	if (!m->ok)
		b->ok = false;
	pb_bytes_field(b, field, m->data, m->len);
}

void pb_packed_field(struct pb_buf *b, unsigned field, const uint64_t *v, size_t n)
{
	struct pb_buf inner;

	pb_init(&inner);
	for (size_t i = 0; i < n; i++)
		varint(&inner, v[i]);
	if (n)
		pb_message_field(b, field, &inner);
	pb_free(&inner);
}

static uint64_t read_varint(struct pb_reader *r)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		v |= (uint64_t)(*r->p & 0x7f) << shift;
		if (!(*r->p++ & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

bool pb_next(struct pb_reader *r, struct pb_field *f)
{
	uint64_t key;

	if (r->bad || r->p >= r->end)
		return false;
	key = read_varint(r);
	memset(f, 0, sizeof(*f));
	f->number = (unsigned)(key >> 3);
	f->wire = key & 7;
	switch (f->wire) {
	case 0:
		f->value = read_varint(r);
		break;
	case 1:
	case 5:
		r->p += f->wire == 1 ? 8 : 4;
		break;
	case 2:
		f->len = read_varint(r);
		if (f->len > (size_t)(r->end - r->p)) {
			r->bad = true;
			return false;
		}
		f->data = r->p;
		r->p += f->len;
		break;
	default:
		r->bad = true;
	}
	if (r->p > r->end)
		r->bad = true;
	return !r->bad;
}

size_t pb_unpack(const struct pb_field *f, uint64_t *out, size_t max)
{
	struct pb_reader r = { f->data, f->data + f->len, false };
	size_t n = 0;

	if (f->wire == 0) {
		if (max)
			out[0] = f->value;
		return 1;
	}
	while (r.p < r.end && !r.bad) {
		uint64_t v = read_varint(&r);

		if (n < max)
			out[n] = v;
		n++;
	}
	return n;
}
