/* A process's memory as heapdoc read it, kept to be read again without the
 * process: the offline memory source of the heap fuzzer (fuzz/glibc_heap.c)
 * and of the tests that replay what a walk of a live fixture read.
 *
 * An image holds segments of (address, bytes), each thread's thread
 * pointer (fs_base), and named numbers for the reader that recorded it
 * (symbol addresses: "glibc.main_arena").  Two uses, both through the
 * ordinary target API (target.h), so the code that walks memory runs as it
 * does on a process:
 *
 *  - recording: target_record(t, img) on an attached target appends every
 *    successful read of t, and every thread pointer asked for, to img;
 *  - replay: target_open_image(t, img) makes t read img alone.  Reads are
 *    served from its segments (short where they end, -EFAULT where none
 *    is, as at a process's unmapped pages); target_stop and target_resume
 *    only mark its threads held or running; target_get_regs gives each
 *    thread's fs_base, every other register 0.  t->pid is 0: nothing
 *    reads a process, and target_direct_pid() says so to helpers that
 *    would.
 *
 * A process runs between two stops.  An image may hold up to
 * TARGET_IMAGE_MAX_EPOCHS epochs, what was read at successive moments (two
 * recordings, target_image_next_epoch between them): a replay reads epoch
 * 0 until its second stop, epoch 1 from there on, and so on, each epoch's
 * bytes over what the earlier ones held.  That is how the brief snapshot's
 * second look and the trend read's rounds see a heap that moved.
 *
 * The saved form is small and forgiving, since a fuzzer writes it:
 *
 *	"HDIMAGE1"				magic, 8 bytes
 *	then records, each a type byte and its fields (little-endian):
 *	'M' addr:u64 len:u32 bytes[len]		memory
 *	'F' addr:u64 len:u32 byte:u8		len times byte (zeros, memset)
 *	'E'					the next epoch starts
 *	'T' tid:u32 fs_base:u64			a thread
 *	'N' namelen:u8 name value:u64		a named number
 *
 * A truncated or unknown record ends the image (what came before it
 * stands); segments are sorted, and where two overlap the one that starts
 * lower (or, from one start, the longer) keeps its bytes, so any bytes
 * after the magic load as some image.  A held snapshot reads the same
 * bytes each time it reads an address: which one wins does not matter.
 */
#ifndef HEAPDOC_TARGET_IMAGE_H
#define HEAPDOC_TARGET_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "observe/target.h"

struct target_image;

/* Limits on what an image may describe (a record past them ends a load). */
#define TARGET_IMAGE_MAX_FILL		(64ULL << 20)	/* per 'F' record */
#define TARGET_IMAGE_MAX_THREADS	4096
#define TARGET_IMAGE_MAX_EPOCHS		4
#define TARGET_IMAGE_MAX_NOTES		64

int target_image_new(struct target_image **img, struct error *err);
void target_image_free(struct target_image *img);

/* What a recording adds; -ENOMEM. */
int target_image_add(struct target_image *img, uint64_t addr, const void *buf, size_t len);
int target_image_add_thread(struct target_image *img, pid_t tid, uint64_t fs_base);
int target_image_set_note(struct target_image *img, const char *name, uint64_t value);
/* What is added from now on was read later: -E2BIG past the last epoch. */
int target_image_next_epoch(struct target_image *img);
unsigned target_image_epochs(const struct target_image *img);

/* A named number; false when the image has none by that name. */
bool target_image_note(const struct target_image *img, const char *name, uint64_t *value);

/* The saved form (malloc'd into *buf; img is sorted on the way), and
 * back.  Load fails only without the magic (-EINVAL) or memory (-ENOMEM). */
int target_image_save(struct target_image *img, unsigned char **buf, size_t *len,
		      struct error *err);
int target_image_load(struct target_image **img, const void *buf, size_t len,
		      struct error *err);

/* Every later read of t (attached) also goes into img, until target_detach. */
void target_record(struct target *t, struct target_image *img);

/* Makes t (zeroed or detached) read img from its first epoch on; img must
 * outlive t, and serve one target at a time.  Free t with target_detach.
 * -ENOMEM. */
int target_open_image(struct target *t, struct target_image *img, struct error *err);

#endif
