/* The saved form of an image (target_image.h says the format): written
 * compactly, read back from any bytes. */
#include "observe/target_image_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define MAGIC		"HDIMAGE1"
#define MAGIC_LEN	8
#define FILL_RUN	64		/* equal bytes worth an 'F' record */
#define DIFF_GRAIN	64		/* unit of what a later epoch changed */

/* ---- writing -------------------------------------------------------------- */

struct out {
	unsigned char *p;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const void *v, size_t n)
{
	if (o->failed)
		return;
	if (o->cap - o->len < n) {
		size_t cap = MAX(2 * o->cap, o->len + n + 4096);
		unsigned char *p = realloc(o->p, cap);

		if (!p) {
			o->failed = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, v, n);
	o->len += n;
}

static void put_u8(struct out *o, uint8_t v) { put(o, &v, 1); }
static void put_u32(struct out *o, uint32_t v) { put(o, &v, 4); }	/* x86-64: LE */
static void put_u64(struct out *o, uint64_t v) { put(o, &v, 8); }

/* How many bytes from p on equal p[0]. */
static size_t same_run(const unsigned char *p, size_t n)
{
	size_t k = 1;

	while (k < n && p[k] == p[0])
		k++;
	return k;
}

static void put_fill(struct out *o, uint64_t addr, uint64_t len, unsigned char fill)
{
	while (len) {
		uint64_t n = MIN(len, TARGET_IMAGE_MAX_FILL);

		put_u8(o, 'F');
		put_u64(o, addr);
		put_u32(o, (uint32_t)n);
		put_u8(o, fill);
		addr += n;
		len -= n;
	}
}

/* One segment as 'M' and 'F' records: runs of FILL_RUN equal bytes or
 * more (zeros, a memset buffer) are not written out byte by byte. */
static void put_segment(struct out *o, const struct image_segment *s)
{
	uint64_t off = 0;

	if (!s->bytes) {
		put_fill(o, s->addr, s->len, s->fill);
		return;
	}
	while (off < s->len) {
		uint64_t n = MIN(s->len - off, (uint64_t)UINT32_MAX), run, m;

		run = same_run(s->bytes + off, n);
		if (run >= FILL_RUN) {
			put_fill(o, s->addr + off, run, s->bytes[off]);
			off += run;
			continue;
		}
		/* Bytes up to the next long run. */
		for (m = run; m < n; m += run) {
			run = same_run(s->bytes + off + m, n - m);
			if (run >= FILL_RUN)
				break;
		}
		put_u8(o, 'M');
		put_u64(o, s->addr + off);
		put_u32(o, (uint32_t)m);
		put(o, s->bytes + off, m);
		off += m;
	}
}

/* Whether DIFF_GRAIN bytes of s at off read the same in epoch e - 1. */
static bool grain_same(struct target_image *img, unsigned e, const struct image_segment *s,
		       uint64_t off)
{
	unsigned char before[DIFF_GRAIN];
	size_t n = (size_t)MIN((uint64_t)DIFF_GRAIN, s->len - off);

	return image_read_epoch(img, e - 1, s->addr + off, before, n) == (ssize_t)n &&
	       !memcmp(before, s->bytes + off, n);
}

/* Epoch e's segment s, less what reads the same in the epoch before: a
 * later epoch is mostly what did not move. */
static void put_changes(struct out *o, struct target_image *img, unsigned e,
			const struct image_segment *s)
{
	uint64_t off = 0;

	if (!e || !s->bytes) {
		put_segment(o, s);
		return;
	}
	while (off < s->len) {
		uint64_t from;

		while (off < s->len && grain_same(img, e, s, off))
			off += DIFF_GRAIN;
		from = off;
		while (off < s->len && !grain_same(img, e, s, off))
			off += DIFF_GRAIN;
		off = MIN(off, s->len);
		if (off > from)
			put_segment(o, &(struct image_segment){ s->addr + from, off - from,
								  s->bytes + from, 0, e });
	}
}

int target_image_save(struct target_image *img, unsigned char **buf, size_t *len,
		      struct error *err)
{
	struct out o = { 0 };

	if (image_views(img) < 0)
		return error_set(err, -ENOMEM, "out of memory");
	put(&o, MAGIC, MAGIC_LEN);
	for (size_t i = 0; i < img->nnotes; i++) {
		put_u8(&o, 'N');
		put_u8(&o, (uint8_t)strlen(img->notes[i].name));
		put(&o, img->notes[i].name, strlen(img->notes[i].name));
		put_u64(&o, img->notes[i].value);
	}
	for (size_t i = 0; i < img->nthr; i++) {
		put_u8(&o, 'T');
		put_u32(&o, (uint32_t)img->thr[i].tid);
		put_u64(&o, img->thr[i].fs_base);
	}
	for (unsigned e = 0; e < img->epochs; e++) {
		if (e)
			put_u8(&o, 'E');
		for (size_t i = 0; i < img->own[e].n; i++)
			put_changes(&o, img, e, &img->own[e].seg[i]);
	}
	if (o.failed) {
		free(o.p);
		return error_set(err, -ENOMEM, "out of memory");
	}
	*buf = o.p;
	*len = o.len;
	return 0;
}

/* ---- reading -------------------------------------------------------------- */

struct in {
	const unsigned char *p;
	size_t left;
};

static bool take(struct in *in, void *v, size_t n)
{
	if (in->left < n)
		return false;
	memcpy(v, in->p, n);
	in->p += n;
	in->left -= n;
	return true;
}

/* One record; false at the end of what can be read. */
static bool load_record(struct target_image *img, struct in *in)
{
	uint8_t type, n;
	uint32_t len, tid;
	uint64_t addr, value;
	char name[256];

	if (!take(in, &type, 1))
		return false;
	switch (type) {
	case 'M':
		if (!take(in, &addr, 8) || !take(in, &len, 4) || len > in->left)
			return false;
		if (target_image_add(img, addr, in->p, len) < 0)
			return false;
		in->p += len;
		in->left -= len;
		return true;
	case 'F':
		if (!take(in, &addr, 8) || !take(in, &len, 4) || !take(in, &n, 1) ||
		    len > TARGET_IMAGE_MAX_FILL)
			return false;
		return !len || image_push(img, addr, len, NULL, n) == 0;
	case 'E':
		return target_image_next_epoch(img) == 0;
	case 'T':
		if (!take(in, &tid, 4) || !take(in, &value, 8) || !tid || tid > INT32_MAX)
			return false;
		return target_image_add_thread(img, (pid_t)tid, value) == 0;
	case 'N':
		if (!take(in, &n, 1) || !take(in, name, n) || !take(in, &value, 8))
			return false;
		name[n] = '\0';
		return target_image_set_note(img, name, value) == 0;
	}
	return false;
}

int target_image_load(struct target_image **out, const void *buf, size_t len,
		      struct error *err)
{
	struct in in = { (const unsigned char *)buf + MAGIC_LEN, len - MAGIC_LEN };
	struct target_image *img;
	int rc;

	*out = NULL;
	if (len < MAGIC_LEN || memcmp(buf, MAGIC, MAGIC_LEN))
		return error_set(err, -EINVAL, "not a heapdoc memory image");
	rc = target_image_new(&img, err);
	if (rc < 0)
		return rc;
	while (load_record(img, &in))
		;
	if (image_views(img) < 0) {
		target_image_free(img);
		return error_set(err, -ENOMEM, "out of memory");
	}
	*out = img;
	return 0;
}
