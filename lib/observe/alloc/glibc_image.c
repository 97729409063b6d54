/* glibc malloc read from an image of a process's memory instead of the
 * process (lib/observe/target_image.h): what the heap fuzzer
 * (fuzz/glibc_heap.c) walks, and what the tests replay to compare an
 * offline walk with the live one.
 *
 * Recording keeps, beside the bytes every read returned, what glibc_open
 * learned from the symbols (notes "glibc.*"); replaying takes the layout
 * of glibc 2.36 from the built-in table, which the tests check against
 * DWARF (an image from another glibc is refused when it is recorded).
 */
#include "observe/alloc/glibc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/alloc/glibc_layout.h"
#include "observe/target_image.h"

#define IMAGE_VERSION	"2.36"
/* Images are small: a window a fraction of a live walk's keeps each fuzzer
 * run cheap without changing what is walked. */
#define IMAGE_WINDOW	(256u << 10)

static const struct {
	const char *name;
	size_t off;		/* in struct glibc_symbols */
	size_t size;
} notes[] = {
	{ "glibc.main_arena", offsetof(struct glibc_symbols, main_arena), 8 },
	{ "glibc.mp", offsetof(struct glibc_symbols, mp), 8 },
	{ "glibc.initialized", offsetof(struct glibc_symbols, initialized), 8 },
	{ "glibc.initialized_size", offsetof(struct glibc_symbols, initialized_size), 4 },
	{ "glibc.tcache_tpoff", offsetof(struct glibc_symbols, tcache_tpoff), 8 },
	{ "glibc.thread_arena_tpoff", offsetof(struct glibc_symbols, thread_arena_tpoff), 8 },
};

int glibc_image_notes(const struct glibc_reader *r, struct target_image *img,
		      struct error *err)
{
	const struct glibc_layout *table = glibc_layout_table(IMAGE_VERSION);
	const struct glibc_layout *L = &r->L;
	int rc = 0;

	/* The replay has the table's layout only: the recording must match. */
	if (strcmp(r->gs.version, IMAGE_VERSION) || L->state_size != table->state_size ||
	    L->par_size != table->par_size || L->tcache_size != table->tcache_size ||
	    memcmp(L->ms, table->ms, sizeof(L->ms)) || memcmp(L->mp, table->mp, sizeof(L->mp)) ||
	    memcmp(L->tc, table->tc, sizeof(L->tc)))
		return error_set(err, -EOPNOTSUPP, "glibc %s: images are of glibc %s's layout",
				 r->gs.version, IMAGE_VERSION);
	for (size_t i = 0; i < sizeof(notes) / sizeof(*notes) && rc == 0; i++) {
		uint64_t v = 0;

		memcpy(&v, (const char *)&r->gs + notes[i].off, notes[i].size);
		if (notes[i].size == 8 && (int64_t)v == INT64_MIN)
			continue;	/* an unknown TLS offset stays absent */
		rc = target_image_set_note(img, notes[i].name, v);
	}
	if (rc == 0)
		rc = target_image_set_note(img, "pagesize", r->pagesize);
	return rc < 0 ? error_set(err, rc, "image: %s", strerror(-rc)) : 0;
}

int glibc_open_image(struct glibc_reader **out, const struct target_image *img,
		     struct error *err)
{
	struct glibc_reader *r;
	uint64_t v;

	*out = NULL;
	if (!target_image_note(img, "glibc.main_arena", &v) ||
	    !target_image_note(img, "glibc.mp", &v))
		return error_set(err, -ENODATA, "image: no glibc symbols in it");
	r = calloc(1, sizeof(*r));
	if (!r)
		return error_set(err, -ENOMEM, "out of memory");
	r->gs.tcache_tpoff = r->gs.thread_arena_tpoff = INT64_MIN;
	for (size_t i = 0; i < sizeof(notes) / sizeof(*notes); i++)
		if (target_image_note(img, notes[i].name, &v))
			memcpy((char *)&r->gs + notes[i].off, &v, notes[i].size);
	if (r->gs.initialized_size < 1 || r->gs.initialized_size > 8)
		r->gs.initialized_size = 4;
	snprintf(r->gs.version, sizeof(r->gs.version), "%s", IMAGE_VERSION);
	snprintf(r->gs.module, sizeof(r->gs.module), "(image)");
	r->L = *glibc_layout_table(IMAGE_VERSION);
	/* A page is a power of two from 4 KiB to 1 GiB; anything else is not. */
	r->pagesize = target_image_note(img, "pagesize", &v) && v >= 4096 && v <= (1u << 30) &&
		      !(v & (v - 1)) ? v : 4096;
	r->window = IMAGE_WINDOW;
	r->buf = malloc(r->window);
	if (!r->buf) {
		glibc_close(r);
		return error_set(err, -ENOMEM, "out of memory");
	}
	*out = r;
	return 0;
}
