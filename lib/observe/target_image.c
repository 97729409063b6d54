/* Images of a target's memory: built from reads, and served to target_read
 * and friends in place of a process (target_image.h).  The saved form is in
 * target_image_file.c. */
#include "observe/target_image_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "observe/target_int.h"

int target_image_new(struct target_image **img, struct error *err)
{
	*img = calloc(1, sizeof(**img));
	if (!*img)
		return error_set(err, -ENOMEM, "out of memory");
	(*img)->epochs = 1;
	return 0;
}

static void views_free(struct target_image *img)
{
	for (unsigned e = 0; e < TARGET_IMAGE_MAX_EPOCHS; e++) {
		free(img->own[e].seg);
		free(img->view[e].seg);
		img->own[e] = img->view[e] = (struct image_view){ 0 };
	}
	img->viewed = false;
}

void target_image_free(struct target_image *img)
{
	if (!img)
		return;
	views_free(img);
	for (size_t i = 0; i < img->nseg; i++)
		free((void *)img->seg[i].bytes);
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

/* A segment of the current epoch; bytes (owned from now on) or a fill. */
int image_push(struct target_image *img, uint64_t addr, uint64_t len, unsigned char *bytes,
	       unsigned char fill)
{
	if (!room((void **)&img->seg, img->nseg, &img->segcap, sizeof(*img->seg)))
		return -ENOMEM;
	/* The last byte of the address space stays out: end never wraps. */
	len = MIN(len, UINT64_MAX - addr);
	img->seg[img->nseg++] = (struct image_segment){ addr, len, bytes, fill,
							img->epochs - 1 };
	views_free(img);
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
	rc = image_push(img, addr, len, copy, 0);
	if (rc < 0)
		free(copy);
	return rc;
}

int target_image_next_epoch(struct target_image *img)
{
	if (img->epochs == TARGET_IMAGE_MAX_EPOCHS)
		return -E2BIG;
	img->epochs++;
	views_free(img);
	return 0;
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

	if (strlen(name) > IMAGE_NOTE_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < img->nnotes && strcmp(img->notes[i].name, name); i++)
		;
	if (i == TARGET_IMAGE_MAX_NOTES)
		return -E2BIG;
	if (i == img->nnotes)
		snprintf(img->notes[img->nnotes++].name, sizeof(img->notes[0].name), "%s", name);
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

unsigned target_image_epochs(const struct target_image *img)
{
	return img->epochs;
}

/* ---- views: each epoch's own segments, and what reads in an epoch see ---- */

static int seg_cmp(const void *a, const void *b)
{
	const struct image_segment *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Same start: the longer first, so the shorter is all overlap. */
	return (x->len < y->len) - (x->len > y->len);
}

static int view_add(struct image_view *v, size_t *cap, const struct image_segment *s)
{
	if (!room((void **)&v->seg, v->n, cap, sizeof(*v->seg)))
		return -ENOMEM;
	v->seg[v->n++] = *s;
	return 0;
}

/* The piece [from, to) of s, added to v. */
static int view_add_piece(struct image_view *v, size_t *cap, const struct image_segment *s,
			  uint64_t from, uint64_t to)
{
	struct image_segment p = *s;

	p.addr = from;
	p.len = to - from;
	if (p.bytes)
		p.bytes += from - s->addr;
	return view_add(v, cap, &p);
}

/* Epoch e's own segments, sorted; where two overlap, the lower start (or,
 * from one start, the longer) keeps its bytes. */
static int build_own(struct target_image *img, unsigned e, struct image_view *v)
{
	struct image_view sorted = { 0 };
	size_t cap = 0, scap = 0;
	uint64_t end = 0;
	int rc = 0;

	for (size_t i = 0; i < img->nseg && rc == 0; i++)
		if (img->seg[i].epoch == e)
			rc = view_add(&sorted, &scap, &img->seg[i]);
	if (rc == 0 && sorted.n)
		qsort(sorted.seg, sorted.n, sizeof(*sorted.seg), seg_cmp);
	for (size_t i = 0; i < sorted.n && rc == 0; i++) {
		const struct image_segment *s = &sorted.seg[i];
		uint64_t to = s->addr + s->len, from = v->n ? MAX(end, s->addr) : s->addr;

		if (from < to) {
			rc = view_add_piece(v, &cap, s, from, to);
			end = to;
		}
	}
	free(sorted.seg);
	return rc;
}

/* What reads in epoch e see: its own segments over what earlier epochs
 * held (prev), prev's bytes kept where e has none. */
static int build_view(const struct image_view *prev, const struct image_view *own,
		      struct image_view *v)
{
	size_t cap = 0, k = 0;
	int rc = 0;

	for (size_t i = 0; i < own->n && rc == 0; i++)
		rc = view_add(v, &cap, &own->seg[i]);
	for (size_t i = 0; i < prev->n && rc == 0; i++) {
		const struct image_segment *o = &prev->seg[i];
		uint64_t cur = o->addr, end = o->addr + o->len;

		while (k < own->n && own->seg[k].addr + own->seg[k].len <= cur)
			k++;
		for (size_t j = k; j < own->n && own->seg[j].addr < end && rc == 0; j++) {
			if (own->seg[j].addr > cur)
				rc = view_add_piece(v, &cap, o, cur, own->seg[j].addr);
			cur = MAX(cur, own->seg[j].addr + own->seg[j].len);
		}
		if (rc == 0 && cur < end)
			rc = view_add_piece(v, &cap, o, cur, end);
	}
	if (rc == 0 && v->n)
		qsort(v->seg, v->n, sizeof(*v->seg), seg_cmp);
	return rc;
}

int image_views(struct target_image *img)
{
	int rc = 0;

	if (img->viewed)
		return 0;
	for (unsigned e = 0; e < img->epochs && rc == 0; e++) {
		rc = build_own(img, e, &img->own[e]);
		if (rc == 0)
			rc = e ? build_view(&img->view[e - 1], &img->own[e], &img->view[e]) :
				 build_view(&(struct image_view){ 0 }, &img->own[0], &img->view[0]);
	}
	if (rc < 0)
		views_free(img);
	img->viewed = rc == 0;
	return rc;
}

/* ---- reading ------------------------------------------------------------- */

/* The segment holding addr, or the index of the first segment past it. */
static size_t seg_find(const struct image_view *v, uint64_t addr)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->seg[mid].addr + v->seg[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

ssize_t target_image_read(struct target_image *img, uint64_t addr, void *buf, size_t len)
{
	return image_read_epoch(img, img->cursor, addr, buf, len);
}

ssize_t image_read_epoch(struct target_image *img, unsigned epoch, uint64_t addr, void *buf,
			 size_t len)
{
	const struct image_view *v;
	size_t done = 0;

	if (image_views(img) < 0)
		return 0;
	v = &img->view[epoch];
	for (size_t i = seg_find(v, addr); i < v->n && done < len; i++) {
		const struct image_segment *s = &v->seg[i];
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
	if (image_views(img) < 0)
		return error_set(err, -ENOMEM, "out of memory");
	img->cursor = 0;
	t->replay = img;
	t->attached = true;
	for (size_t i = 0; i < img->nthr; i++)
		if (!target_thread_add(t, img->thr[i].tid)) {	/* tids are unique */
			target_detach(t);
			return error_set(err, -ENOMEM, "out of memory");
		}
	return 0;
}

/* Every stop after the first moves the image on to its next epoch: what the
 * process had become meanwhile. */
void target_image_hold(struct target *t, bool held)
{
	struct target_image *img = t->replay;

	for (size_t i = 0; i < t->nthreads; i++) {
		t->threads[i].stopped = held;
		t->threads[i].traced = held;
		t->threads[i].stop_kind = held ? TARGET_STOP_INTERRUPT : TARGET_RUNNING;
	}
	if (held && !t->stopped && t->stops++ && img->cursor + 1 < img->epochs)
		img->cursor++;
	t->stopped = held;
	t->pause_us_last = 0;
}
