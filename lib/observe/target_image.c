/* Images of a target's memory: recorded from reads, saved, loaded, and
 * served to target_read and friends in place of a process (target_image.h). */
#include "observe/target_image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "observe/target_int.h"

#define MAGIC		"HDIMAGE1"
#define MAGIC_LEN	8
#define NOTE_NAME_MAX	63
#define FILL_RUN	64		/* equal bytes worth an 'F' record when saving */

struct segment {
	uint64_t addr, len;
	unsigned char *bytes;		/* NULL: len bytes of fill */
	unsigned char fill;
};

struct image_thread {
	pid_t tid;
	uint64_t fs_base;
};

struct note {
	char name[NOTE_NAME_MAX + 1];
	uint64_t value;
};

struct target_image {
	struct segment *seg;
	size_t nseg, segcap;
	bool ordered;			/* sorted by address, no overlap */
	struct image_thread *thr;
	size_t nthr, thrcap;
	struct note notes[TARGET_IMAGE_MAX_NOTES];
	size_t nnotes;
};

int target_image_new(struct target_image **img, struct error *err)
{
	*img = calloc(1, sizeof(**img));
	if (!*img)
		return error_set(err, -ENOMEM, "out of memory");
	(*img)->ordered = true;
	return 0;
}

void target_image_free(struct target_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->nseg; i++)
		free(img->seg[i].bytes);
	free(img->seg);
	free(img->thr);
	free(img);
}

/* ---- building ----------------------------------------------------------- */

/* Room for one more of n elements of size in *v, of *cap. */
static bool room(void **v, size_t n, size_t *cap, size_t size)
{
	size_t ncap = *cap ? 2 * *cap : 64;
	void *p;

	if (n < *cap)
		return true;
	p = reallocarray(*v, ncap, size);
	if (!p)
		return false;
	*v = p;
	*cap = ncap;
	return true;
}

static int push_segment(struct target_image *img, uint64_t addr, uint64_t len,
			unsigned char *bytes, unsigned char fill)
{
	if (!room((void **)&img->seg, img->nseg, &img->segcap, sizeof(*img->seg)))
		return -ENOMEM;
	/* The last byte of the address space stays out: end never wraps. */
	len = MIN(len, UINT64_MAX - addr);
	img->seg[img->nseg++] = (struct segment){ addr, len, bytes, fill };
	if (img->nseg > 1 && addr < img->seg[img->nseg - 2].addr + img->seg[img->nseg - 2].len)
		img->ordered = false;
	return 0;
}

int target_image_add(struct target_image *img, uint64_t addr, const void *buf, size_t len)
{
	unsigned char *copy;
	int rc;

	if (!len)
		return 0;
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	rc = push_segment(img, addr, len, copy, 0);
	if (rc < 0)
		free(copy);
	return rc;
}

int target_image_add_thread(struct target_image *img, pid_t tid, uint64_t fs_base)
{
	for (size_t i = 0; i < img->nthr; i++)
		if (img->thr[i].tid == tid) {
			img->thr[i].fs_base = fs_base;
			return 0;
		}
	if (img->nthr == TARGET_IMAGE_MAX_THREADS)
		return -E2BIG;
	if (!room((void **)&img->thr, img->nthr, &img->thrcap, sizeof(*img->thr)))
		return -ENOMEM;
	img->thr[img->nthr++] = (struct image_thread){ tid, fs_base };
	return 0;
}

int target_image_set_note(struct target_image *img, const char *name, uint64_t value)
{
	size_t i;

	if (strlen(name) > NOTE_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < img->nnotes && strcmp(img->notes[i].name, name); i++)
		;
	if (i == TARGET_IMAGE_MAX_NOTES)
		return -E2BIG;
	if (i == img->nnotes)
		snprintf(img->notes[img->nnotes++].name, NOTE_NAME_MAX + 1, "%s", name);
	img->notes[i].value = value;
	return 0;
}

bool target_image_note(const struct target_image *img, const char *name, uint64_t *value)
{
	for (size_t i = 0; i < img->nnotes; i++)
		if (!strcmp(img->notes[i].name, name)) {
			*value = img->notes[i].value;
			return true;
		}
	return false;
}

/* ---- ordering: sorted segments, an overlap kept by the lower start ------ */

static int seg_cmp(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Same start: the longer first, so the shorter is all overlap. */
	return (x->len < y->len) - (x->len > y->len);
}

static void order(struct target_image *img)
{
	size_t out = 0;
	uint64_t end = 0;

	if (img->ordered)
		return;
	qsort(img->seg, img->nseg, sizeof(*img->seg), seg_cmp);
	for (size_t i = 0; i < img->nseg; i++) {
		struct segment s = img->seg[i];

		if (out && s.addr < end) {
			uint64_t cut = MIN(end - s.addr, s.len);

			s.addr += cut;
			s.len -= cut;
			if (s.bytes && s.len)
				memmove(s.bytes, s.bytes + cut, s.len);
		}
		if (!s.len) {
			free(s.bytes);
			continue;
		}
		img->seg[out++] = s;
		end = s.addr + s.len;
	}
	img->nseg = out;
	img->ordered = true;
}

/* ---- reading ------------------------------------------------------------- */

/* The segment holding addr, or the index of the first segment past it. */
static size_t seg_find(const struct target_image *img, uint64_t addr)
{
	size_t lo = 0, hi = img->nseg;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->seg[mid].addr + img->seg[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

ssize_t target_image_read(const struct target_image *img, uint64_t addr, void *buf,
			  size_t len)
{
	size_t done = 0;

	for (size_t i = seg_find(img, addr); i < img->nseg && done < len; i++) {
		const struct segment *s = &img->seg[i];
		uint64_t at = addr + done, n;

		if (at < s->addr)
			break;		/* a gap: the read ends there */
		n = MIN(len - done, s->addr + s->len - at);
		if (s->bytes)
			memcpy((char *)buf + done, s->bytes + (at - s->addr), n);
		else
			memset((char *)buf + done, s->fill, n);
		done += n;
	}
	return (ssize_t)done;
}

int target_image_fs_base(const struct target_image *img, pid_t tid, uint64_t *fs_base)
{
	for (size_t i = 0; i < img->nthr; i++)
		if (img->thr[i].tid == tid) {
			*fs_base = img->thr[i].fs_base;
			return 0;
		}
	return -ESRCH;
}

/* ---- the saved form ------------------------------------------------------ */

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
static void put_segment(struct out *o, const struct segment *s)
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

int target_image_save(struct target_image *img, unsigned char **buf, size_t *len,
		      struct error *err)
{
	struct out o = { 0 };

	order(img);
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
	for (size_t i = 0; i < img->nseg; i++)
		put_segment(&o, &img->seg[i]);
	if (o.failed) {
		free(o.p);
		return error_set(err, -ENOMEM, "out of memory");
	}
	*buf = o.p;
	*len = o.len;
	return 0;
}

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
		return !len || push_segment(img, addr, len, NULL, n) == 0;
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
	order(img);
	*out = img;
	return 0;
}

/* ---- a target that records, a target that replays ------------------------ */

void target_record(struct target *t, struct target_image *img)
{
	t->record = img;
}

pid_t target_direct_pid(const struct target *t)
{
	return t->replay || t->record ? 0 : t->pid;
}

int target_open_image(struct target *t, struct target_image *img, struct error *err)
{
	memset(t, 0, sizeof(*t));
	t->mem_fd = -1;
	order(img);
	t->replay = img;
	t->attached = true;
	for (size_t i = 0; i < img->nthr; i++)
		if (!target_thread_add(t, img->thr[i].tid)) {	/* tids are unique */
			target_detach(t);
			return error_set(err, -ENOMEM, "out of memory");
		}
	return 0;
}

void target_image_hold(struct target *t, bool held)
{
	for (size_t i = 0; i < t->nthreads; i++) {
		t->threads[i].stopped = held;
		t->threads[i].traced = held;
		t->threads[i].stop_kind = held ? TARGET_STOP_INTERRUPT : TARGET_RUNNING;
	}
	if (held && !t->stopped)
		t->stops++;
	t->stopped = held;
	t->pause_us_last = 0;
}
