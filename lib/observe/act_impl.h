/* What lib/observe/act.c shares with the allocators' halves of it
 * (lib/observe/alloc/{glibc,jemalloc,tcmalloc,mimalloc}_act.c).  Internal. */
#ifndef HEAPDOC_ACT_IMPL_H
#define HEAPDOC_ACT_IMPL_H

#include "observe/act.h"
#include "observe/inject.h"

struct glibc_reader;
struct jemalloc_reader;
struct tcmalloc_reader;

struct actor {
	pid_t pid;
	enum alloc_kind kind;
	struct act_opts opts;
	struct inject_guard guard;	/* glibc, mimalloc: the allocator's code */
	struct inject_libc libc;	/* what a session needs of libc (inject.h) */
	struct glibc_reader *glibc;
	uint64_t fn_trim, fn_mallopt;	/* glibc: malloc_trim, mallopt */
	struct jemalloc_reader *je;
	struct tcmalloc_reader *tc;
	uint64_t fn_collect;		/* mimalloc: mi_collect */
};

/* Borrows a thread under a's guard (glibc, mimalloc) and opts.timeout_ms. */
int act_begin(struct actor *a, struct target *t, struct inject_session *s,
	      struct error *err);

/* Ends s and adds what it cost to *cost. */
int act_end(struct inject_session *s, int rc, struct act_cost *cost, struct error *err);

/* Takes the target's stop counters into *cost (after the last session). */
void act_cost_pauses(const struct target *t, struct act_cost *cost);

int glibc_act_open(struct actor *a, const struct alloc_id *id, struct error *err);
int glibc_act_release(struct actor *a, struct target *t, struct act_release *r,
		      struct error *err);
int glibc_act_set(struct actor *a, struct target *t, struct act_change *c, size_t n,
		  struct act_cost *cost, struct error *err);

int jemalloc_act_release(struct actor *a, struct target *t, struct act_release *r,
			 struct error *err);
int jemalloc_act_set(struct actor *a, struct target *t, struct act_change *c, size_t n,
		     struct act_cost *cost, struct error *err);

int tcmalloc_act_release(struct actor *a, struct target *t, struct act_release *r,
			 struct error *err);
int tcmalloc_act_set(struct actor *a, struct target *t, struct act_change *c, size_t n,
		     struct act_cost *cost, struct error *err);

int mimalloc_act_open(struct actor *a, const struct alloc_id *id, struct error *err);
int mimalloc_act_release(struct actor *a, struct target *t, struct act_release *r,
			 struct error *err);

#endif
