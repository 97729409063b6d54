/* Thread stacks of a held target, named (see stacks.h). */
#include "observe/stacks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "observe/symbols.h"
#include "observe/unwind.h"

/* ---- names ------------------------------------------------------------------
 * The unwinder gives addresses; the target's symbols (symbols.h) name them.
 * libunwind's own unw_get_proc_name answers with the nearest exported
 * symbol even far outside it (a stripped libc's start_thread comes out as
 * "pthread_condattr_setpshared+0x515"), which would mislead the classifier.
 *
 * A lookup is still slow, and sampled stacks repeat the same few hundred
 * return addresses: names are kept by ip (open addressing, linear probing;
 * ip 0 marks an empty slot). */

#define CACHE_MIN	1024
#define CACHE_MAX	(1 << 16)	/* past this, look names up every time */

struct name_entry {
	uint64_t ip;
	uint64_t offset;
	char name[STACK_NAME_MAX];
};

struct stacks {
	struct target *t;
	struct unwinder *unwinder;
	struct symbols *syms;		/* NULL: frames keep their addresses only */
	struct name_entry *cache;
	size_t cache_cap, cache_used;
};

static size_t hash_ip(uint64_t ip, size_t cap)
{
	ip ^= ip >> 33;
	ip *= 0xff51afd7ed558ccdULL;
	ip ^= ip >> 33;
	return (size_t)ip & (cap - 1);
}

static struct name_entry *cache_slot(struct name_entry *cache, size_t cap, uint64_t ip)
{
	size_t i = hash_ip(ip, cap);

	while (cache[i].ip && cache[i].ip != ip)
		i = (i + 1) & (cap - 1);
	return &cache[i];
}

static void cache_grow(struct stacks *s)
{
	size_t cap = s->cache_cap ? s->cache_cap * 2 : CACHE_MIN;
	struct name_entry *cache;

	if (cap > CACHE_MAX || !(cache = calloc(cap, sizeof(*cache))))
		return;
	for (size_t i = 0; i < s->cache_cap; i++)
		if (s->cache[i].ip)
			*cache_slot(cache, cap, s->cache[i].ip) = s->cache[i];
	free(s->cache);
	s->cache = cache;
	s->cache_cap = cap;
}

/* Names frame f.  A return address may sit just past the end of its
 * function (a call to a noreturn function is the last instruction), so
 * callers' frames are looked up at ip - 1. */
static void frame_name(struct stacks *s, struct stack_frame *f, bool return_address)
{
	uint64_t addr = f->ip - (return_address ? 1 : 0), off = 0;
	struct name_entry *e = NULL;
	const char *name;

	if (s->cache_used * 2 >= s->cache_cap)
		cache_grow(s);
	if (s->cache_used * 2 < s->cache_cap) {
		e = cache_slot(s->cache, s->cache_cap, f->ip);
		if (e->ip) {
			memcpy(f->name, e->name, sizeof(f->name));
			f->offset = e->offset;
			return;
		}
	}
	name = s->syms ? symbols_name_at(s->syms, addr, &off) : NULL;
	snprintf(f->name, sizeof(f->name), "%s", name ? name : "");
	/* "clock_nanosleep@GLIBC_2.2.5", "sysmalloc_mmap.constprop.0": the
	 * symbol version and the compiler's clone suffix are not part of the
	 * function's name. */
	f->name[strcspn(f->name, "@")] = '\0';
	if (f->name[0] && strchr(f->name + 1, '.'))
		*strchr(f->name + 1, '.') = '\0';
	f->offset = name ? off + (f->ip - addr) : 0;
	if (e) {
		e->ip = f->ip;
		e->offset = f->offset;
		memcpy(e->name, f->name, sizeof(e->name));
		s->cache_used++;
	}
}

/* ---- sampling ------------------------------------------------------------------ */

int stacks_open(struct stacks **out, struct target *t, struct error *err)
{
	struct stacks *s = calloc(1, sizeof(*s));
	int r;

	*out = NULL;
	if (!s)
		return error_set(err, -ENOMEM, "pid %d: out of memory", t->pid);
	s->t = t;
	r = unwind_open(&s->unwinder, err);
	if (r < 0) {
		free(s);
		return error_wrap(err, r, "pid %d: ", t->pid);
	}
	/* Without names the stacks still have their addresses. */
	if (symbols_open(&s->syms, t->pid, NULL) == 0)
		symbols_load_tables(s->syms);
	cache_grow(s);
	*out = s;
	return 0;
}

void stacks_close(struct stacks *s)
{
	if (!s)
		return;
	unwind_close(s->unwinder);
	symbols_close(s->syms);
	free(s->cache);
	free(s);
}

static int check_held(struct target *t, pid_t tid, struct error *err)
{
	for (size_t i = 0; i < t->nthreads; i++) {
		if (t->threads[i].tid != tid)
			continue;
		if (!t->threads[i].stopped)
			return error_set(err, -EBUSY, "pid %d: thread %d is not "
					 "stopped", t->pid, tid);
		return 0;
	}
	return error_set(err, -ESRCH, "pid %d: no thread %d", t->pid, tid);
}

int stacks_sample(struct stacks *s, pid_t tid, struct stack *out, struct error *err)
{
	struct unwind_frame frames[STACK_MAX_FRAMES];
	size_t n;
	int r;

	out->tid = tid;
	out->nframes = 0;
	out->truncated = false;
	r = check_held(s->t, tid, err);
	if (!r)
		r = unwind_thread(s->unwinder, tid, frames, STACK_MAX_FRAMES, &n,
				  &out->truncated, NULL, err);
	if (r < 0)
		return r == -EIO ? error_wrap(err, r, "pid %d: ", s->t->pid) : r;
	for (size_t i = 0; i < n; i++) {
		out->frames[i].ip = frames[i].ip;
		frame_name(s, &out->frames[i], frames[i].return_address);
	}
	out->nframes = n;
	return 0;
}

int stacks_unwind(struct target *t, pid_t tid, struct stack *out, struct error *err)
{
	struct stacks *s;
	int r = stacks_open(&s, t, err);

	if (r < 0)
		return r;
	r = stacks_sample(s, tid, out, err);
	stacks_close(s);
	return r;
}

/* ---- system calls ------------------------------------------------------------- */

/* The kernel's internal restart codes (include/linux/errno.h), which a
 * thread interrupted in a system call shows in rax at a ptrace stop. */
#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

void stacks_syscall_from_regs(const struct user_regs_struct *regs,
			      struct thread_syscall *out)
{
	long nr = (long)regs->orig_rax, ret = (long)regs->rax;

	out->nr = nr < 0 ? -1 : nr;
	out->ret = ret;
	/* orig_rax alone is not enough: a stop on the way out of a call that
	 * completed also shows its number, and an exception entry may leave
	 * an error code there.  Interrupted calls carry a restart code (or
	 * EINTR for the calls that never restart). */
	out->parked = nr >= 0 &&
		      (ret == -ERESTARTSYS || ret == -ERESTARTNOINTR ||
		       ret == -ERESTARTNOHAND || ret == -ERESTART_RESTARTBLOCK ||
		       ret == -EINTR);
}

int stacks_thread_syscall(struct target *t, pid_t tid, struct thread_syscall *out,
			  struct error *err)
{
	struct user_regs_struct regs;
	int r = target_get_regs(t, tid, &regs, err);

	if (r < 0)
		return r;
	stacks_syscall_from_regs(&regs, out);
	return 0;
}


int stacks_sample_all(struct stacks *s, struct stack_tally *tally, struct error *err)
{
	struct stack *st = malloc(sizeof(*st));
	int r = 0;

	if (!st)
		return error_set(err, -ENOMEM, "pid %d: out of memory", s->t->pid);
	for (size_t i = 0; i < s->t->nthreads; i++) {
		if (!s->t->threads[i].stopped)
			continue;
		r = stacks_sample(s, s->t->threads[i].tid, st, err);
		if (r == -ESRCH)
			continue;
		if (r < 0)
			break;
		stack_tally_add(tally, st);
	}
	free(st);
	return r == -ESRCH ? 0 : r;
}
