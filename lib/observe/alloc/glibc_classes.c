/* The census of C++ objects by class during the heap walk (model/classes.h):
 * each chunk in use whose first word is a class's vptr (observe/vtables.h)
 * is counted for its class, per arena, so that an arena the brief
 * snapshot walks again (glibc_brief.c) can be taken out and counted anew.
 *
 * Only chunks the boundary tags show in use are looked at: a chunk in a
 * thread cache or a bin has a list pointer where an object had its vptr.
 * One exception is too rare to pay for: a fastbin chunk looks in use to
 * the tags, but its first word is a safe-linked pointer, which is never a
 * vtable's address in practice.  Chunks mmapped on their own (above the
 * mmap threshold, 128 KiB and up) are not in any heap and not counted. */
#include "observe/alloc/glibc_snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "observe/vtables.h"

#define SLOTS_FIRST	1024
#define SLOTS_MAX	(1u << 18)	/* (arena, class) pairs: 6 MiB at most */

struct class_slot {
	uint64_t key;			/* arena << 32 | (class + 1); 0: empty */
	uint64_t objects, bytes;
};

struct class_arena {
	uint64_t chunks;		/* in use, looked at */
	uint64_t untracked_objects, untracked_bytes;
};

struct snap_classes {
	const struct vtables *vt;
	struct class_slot *slots;
	size_t mask, n;
	struct class_arena *arenas;
	size_t narenas;
	uint64_t last_key;		/* the slot counted last: objects of one */
	size_t last_slot;		/* class often come one after another */
};

static size_t slot_of(const struct snap_classes *c, uint64_t key)
{
	return (size_t)(key * 0x9e3779b97f4a7c15ull >> 17) & c->mask;
}

static int grow(struct snap_classes *c)
{
	size_t cap = c->slots ? 2 * (c->mask + 1) : SLOTS_FIRST;
	struct class_slot *old = c->slots, *v = calloc(cap, sizeof(*v));
	size_t old_cap = old ? c->mask + 1 : 0;

	if (!v)
		return -ENOMEM;
	c->slots = v;
	c->mask = cap - 1;
	c->last_key = 0;
	for (size_t i = 0; i < old_cap; i++) {
		size_t k;

		if (!old[i].key)
			continue;
		for (k = slot_of(c, old[i].key); v[k].key; k = (k + 1) & c->mask)
			;
		v[k] = old[i];
	}
	free(old);
	return 0;
}

int snap_classes_begin(struct snap *s, size_t narenas)
{
	struct snap_classes *c = calloc(1, sizeof(*c));

	if (!c || !(c->arenas = calloc(narenas ? narenas : 1, sizeof(*c->arenas))) ||
	    grow(c) < 0) {
		if (c)
			free(c->arenas);
		free(c);
		return error_set(s->err, -ENOMEM, "out of memory");
	}
	c->vt = s->r->vtables;
	c->narenas = narenas;
	s->classes = c;
	return 0;
}

void snap_classes_count(struct snap *s, size_t arena, long cls, uint64_t size)
{
	struct snap_classes *c = s->classes;
	struct class_arena *a = &c->arenas[arena < c->narenas ? arena : 0];
	uint64_t key;
	size_t i;

	a->chunks++;
	if (cls < 0)
		return;
	key = (uint64_t)arena << 32 | (uint64_t)(cls + 1);
	if (key == c->last_key) {
		c->slots[c->last_slot].objects++;
		c->slots[c->last_slot].bytes += size;
		return;
	}
	for (i = slot_of(c, key); c->slots[i].key && c->slots[i].key != key;
	     i = (i + 1) & c->mask)
		;
	if (!c->slots[i].key) {
		/* Half full: grow, or past the room count it without a class. */
		if (2 * (c->n + 1) > c->mask + 1) {
			if (c->mask + 1 >= SLOTS_MAX || grow(c) < 0) {
				a->untracked_objects++;
				a->untracked_bytes += size;
				return;
			}
			for (i = slot_of(c, key); c->slots[i].key; i = (i + 1) & c->mask)
				;
		}
		c->slots[i].key = key;
		c->n++;
	}
	c->slots[i].objects++;
	c->slots[i].bytes += size;
	c->last_key = key;
	c->last_slot = i;
}

void snap_classes_forget(struct snap *s, size_t arena)
{
	struct snap_classes *c = s->classes;

	if (!c)
		return;
	c->last_key = 0;
	for (size_t i = 0; i <= c->mask; i++)
		if (c->slots[i].key && c->slots[i].key >> 32 == arena)
			c->slots[i].objects = c->slots[i].bytes = 0;	/* the key stays */
	if (arena < c->narenas)
		memset(&c->arenas[arena], 0, sizeof(c->arenas[arena]));
}

/* Each class's counts summed over the arenas, then one entry per class. */
static int sum_classes(const struct snap_classes *c, struct class_census *out)
{
	struct { uint64_t objects, bytes; } *sum = calloc(c->vt->n + 1, sizeof(*sum));
	int rc = 0;

	if (!sum)
		return -ENOMEM;
	for (size_t i = 0; i <= c->mask; i++) {
		uint32_t cls = (uint32_t)c->slots[i].key - 1;

		if (c->slots[i].key && cls < c->vt->n) {
			sum[cls].objects += c->slots[i].objects;
			sum[cls].bytes += c->slots[i].bytes;
		}
	}
	for (size_t k = 0; k < c->vt->n && rc == 0; k++)
		if (sum[k].objects)
			rc = class_census_append(out, c->vt->symbols[k], sum[k].objects,
						 sum[k].bytes);
	free(sum);
	class_census_merge(out);
	return rc;
}

int snap_classes_finish(struct snap *s, struct class_census *out)
{
	struct snap_classes *c = s->classes;

	class_census_free(out);
	if (sum_classes(c, out) < 0) {
		class_census_free(out);
		return error_set(s->err, -ENOMEM, "out of memory");
	}
	for (size_t a = 0; a < c->narenas; a++) {
		out->chunks += c->arenas[a].chunks;
		out->untracked_objects += c->arenas[a].untracked_objects;
		out->untracked_bytes += c->arenas[a].untracked_bytes;
	}
	out->taken = true;
	out->vtables = c->vt->n;
	out->modules = c->vt->modules;
	out->modules_without_symtab = c->vt->modules_without_symtab;
	out->load_us = c->vt->load_us;
	return 0;
}

void snap_classes_free(struct snap *s)
{
	if (!s->classes)
		return;
	free(s->classes->slots);
	free(s->classes->arenas);
	free(s->classes);
	s->classes = NULL;
}
