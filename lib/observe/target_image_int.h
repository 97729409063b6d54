/* Private to lib/observe/target_image*.c: what an image holds. */
#ifndef HEAPDOC_TARGET_IMAGE_INT_H
#define HEAPDOC_TARGET_IMAGE_INT_H

#include "observe/target_image.h"

#define IMAGE_NOTE_NAME_MAX	63

struct image_segment {
	uint64_t addr, len;
	const unsigned char *bytes;	/* NULL: len bytes of fill */
	unsigned char fill;
	unsigned epoch;
};

/* Segments sorted by address, none overlapping; their bytes belong to the
 * image's own segments. */
struct image_view {
	struct image_segment *seg;
	size_t n;
};

struct image_thread {
	pid_t tid;
	uint64_t fs_base;
};

struct image_note {
	char name[IMAGE_NOTE_NAME_MAX + 1];
	uint64_t value;
};

struct target_image {
	struct image_segment *seg;	/* as added; each owns its bytes */
	size_t nseg, segcap;
	unsigned epochs;		/* at least 1; segments go to the last */
	/* Built from seg when first needed: each epoch's own segments, and
	 * what a read in each epoch sees (its own over the earlier ones'). */
	struct image_view own[TARGET_IMAGE_MAX_EPOCHS], view[TARGET_IMAGE_MAX_EPOCHS];
	bool viewed;
	unsigned cursor;		/* the epoch a replay reads */
	struct image_thread *thr;
	size_t nthr, thrcap;
	struct image_note notes[TARGET_IMAGE_MAX_NOTES];
	size_t nnotes;
};

/* A segment of the last epoch, taking bytes (or NULL and a fill byte). */
int image_push(struct target_image *img, uint64_t addr, uint64_t len, unsigned char *bytes,
	       unsigned char fill);
/* Builds own[] and view[] if they are not; -ENOMEM. */
int image_views(struct target_image *img);
/* target_image_read in a given epoch. */
ssize_t image_read_epoch(struct target_image *img, unsigned epoch, uint64_t addr, void *buf,
			 size_t len);

#endif
