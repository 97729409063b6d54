/* Thread stacks of a held target, with libunwind-ptrace (see stacks.h). */
#include "observe/stacks.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <libunwind-ptrace.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---- names ------------------------------------------------------------------
 * libunwind unwinds; libdwfl names.  unw_get_proc_name answers with the
 * nearest exported symbol even far outside it (a stripped libc's
 * start_thread comes out as "pthread_condattr_setpshared+0x515"), which
 * would mislead the classifier.  libdwfl checks symbol sizes and finds
 * separate debug info by build-id, so glibc's internals (_int_malloc,
 * sysmalloc...) have their names when libc6-dbg is installed.
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
	unw_addr_space_t as;
	Dwfl *dwfl;
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

/* The symbol that covers addr (sizes checked), or NULL. */
static const char *lookup_name(struct stacks *s, uint64_t addr, uint64_t *offset)
{
	Dwfl_Module *m = s->dwfl ? dwfl_addrmodule(s->dwfl, addr) : NULL;
	GElf_Off off = 0;
	GElf_Sym sym;
	const char *name;

	if (!m)
		return NULL;
	name = dwfl_module_addrinfo(m, addr, &off, &sym, NULL, NULL, NULL);
	if (!name || (sym.st_size && off >= sym.st_size))
		return NULL;
	*offset = off;
	return name;
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
	name = lookup_name(s, addr, &off);
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

static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
};

/* Loads every module's symbol table now, so that naming frames while the
 * target is held costs lookups only. */
static int load_symbol_tables(Dwfl_Module *m, void **user, const char *name,
			      Dwarf_Addr start, void *arg)
{
	(void)user;
	(void)name;
	(void)start;
	(void)arg;
	dwfl_module_getsymtab(m);
	return DWARF_CB_OK;
}

static Dwfl *open_dwfl(pid_t pid)
{
	Dwfl *d = dwfl_begin(&proc_callbacks);

	if (!d)
		return NULL;
	if (dwfl_linux_proc_report(d, pid) != 0 ||
	    dwfl_report_end(d, NULL, NULL) != 0) {
		dwfl_end(d);
		return NULL;
	}
	dwfl_getmodules(d, load_symbol_tables, NULL, 0);
	return d;
}

/* ---- unwinding ----------------------------------------------------------------- */

int stacks_open(struct stacks **out, struct target *t, struct error *err)
{
	struct stacks *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return error_set(err, -ENOMEM, "pid %d: out of memory", t->pid);
	s->t = t;
	s->as = unw_create_addr_space(&_UPT_accessors, 0);
	if (!s->as) {
		free(s);
		return error_set(err, -ENOMEM, "pid %d: libunwind: cannot create "
				 "an address space", t->pid);
	}
	/* Unwind tables stay valid while the target's mappings do: keep them
	 * across threads and samples. */
	unw_set_caching_policy(s->as, UNW_CACHE_GLOBAL);
	/* Without names the stacks still have their addresses. */
	s->dwfl = open_dwfl(t->pid);
	cache_grow(s);
	*out = s;
	return 0;
}

void stacks_close(struct stacks *s)
{
	if (!s)
		return;
	unw_destroy_addr_space(s->as);
	if (s->dwfl)
		dwfl_end(s->dwfl);
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
	unw_cursor_t c;
	void *upt;
	int r;

	out->tid = tid;
	out->nframes = 0;
	out->truncated = false;
	r = check_held(s->t, tid, err);
	if (r < 0)
		return r;
	upt = _UPT_create(tid);
	if (!upt)
		return error_set(err, -ENOMEM, "pid %d: out of memory", s->t->pid);
	r = unw_init_remote(&c, s->as, upt);
	if (r < 0) {
		r = error_set(err, -EIO, "pid %d: cannot unwind thread %d: %s",
			      s->t->pid, tid, unw_strerror(r));
		goto out;
	}
	for (bool exact_ip = true;;) {
		struct stack_frame *f = &out->frames[out->nframes];
		unw_word_t ip = 0;

		if (out->nframes == STACK_MAX_FRAMES) {
			out->truncated = true;
			break;
		}
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || !ip)
			break;
		f->ip = ip;
		frame_name(s, f, !exact_ip);
		out->nframes++;
		/* The frame a signal interrupted resumes at its exact ip; every
		 * other caller's ip is a return address. */
		exact_ip = unw_is_signal_frame(&c) > 0;
		/* 0: the outermost frame; < 0: no way further (no unwind
		 * info, a corrupt stack).  Either way, what we have stands. */
		if (unw_step(&c) <= 0)
			break;
	}
	r = 0;
out:
	_UPT_destroy(upt);
	return r;
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

/* ---- judging a stack ------------------------------------------------------------- */

const char *const stack_allocator_functions[] = {
	/* the C interface, any allocator */
	"malloc", "free", "calloc", "realloc", "reallocarray", "memalign",
	"aligned_alloc", "posix_memalign", "valloc", "pvalloc", "cfree",
	"malloc_*", "__malloc_*", "__libc_malloc", "__libc_free", "__libc_calloc",
	"__libc_realloc", "__libc_memalign", "__libc_valloc", "__libc_pvalloc",
	"__posix_memalign", "_mid_memalign", "operator new*", "operator delete*",
	"_Znwm*", "_Znam*", "_ZdlPv*", "_ZdaPv*",
	/* glibc internals (present with .symtab or libc6-dbg) */
	"_int_*", "sysmalloc*", "systrim", "munmap_chunk", "mremap_chunk", "heap_trim", "mtrim", "new_heap",
	"grow_heap", "shrink_heap", "arena_get*", "_int_new_arena", "reused_arena",
	"get_free_list", "ptmalloc_init", "unlink_chunk", "tcache_*",
	/* jemalloc: public (mallocx ...), prefixed and internal names */
	"je_*", "_rjem_*", "mallocx", "rallocx", "xallocx", "sallocx", "dallocx",
	"sdallocx", "nallocx", "mallctl*", "imalloc*", "ifree*", "isfree*",
	"irealloc*", "arena_*", "extent_*", "background_thread_*",
	"malloc_mutex_*",
	/* (jemalloc's private names carry its je_ namespace; shorter internal
	 * prefixes such as pa_ or sec_ would also catch other libraries.) */
	/* tcmalloc (gperftools and google); C++ names stay mangled */
	"tc_*", "_ZN8tcmalloc*", "TCMallocInternal*", "_ZN8SpinLock*",
	"tcmalloc::*",
	/* mimalloc */
	"mi_*", "_mi_*",
	NULL,
};

const char *const stack_vm_functions[] = {
	"mmap", "mmap64", "__mmap", "__mmap64", "munmap", "__munmap",
	"mremap", "__mremap", "madvise", "__madvise", "mprotect", "__mprotect",
	"brk", "__brk", "sbrk", "__sbrk", "__GI___mmap64", "__GI___munmap",
	"__GI_madvise", "__GI___mprotect", "__GI___brk", "__GI___sbrk",
	NULL,
};

const char *const stack_lock_wait_functions[] = {
	"__lll_lock_wait*", "__lll_lock_wake*", "futex_wait*",
	"__futex_abstimed_wait*", "pthread_mutex_lock", "__pthread_mutex_lock*",
	"___pthread_mutex_lock", "pthread_spin_lock", "sched_yield",
	"__sched_yield", "syscall",	/* tcmalloc's SpinLockDelay: futex */
	"malloc_mutex_lock_slow", "je_malloc_mutex_lock_slow",
	"_ZN8SpinLock8SlowLock*", "_ZN4base8internal12SpinLockDelay*",
	"_ZN4absl*SpinLock*SlowLock*",
	NULL,
};

bool stack_name_matches(const char *name, const char *const *patterns)
{
	if (!name || !*name)
		return false;
	for (; *patterns; patterns++) {
		size_t n = strlen(*patterns);

		if (n && (*patterns)[n - 1] == '*') {
			if (!strncmp(name, *patterns, n - 1))
				return true;
		} else if (!strcmp(name, *patterns)) {
			return true;
		}
	}
	return false;
}

int stack_find_frame(const struct stack *s, const char *const *patterns)
{
	for (size_t i = 0; i < s->nframes && i < STACK_MAX_FRAMES; i++)
		if (stack_name_matches(s->frames[i].name, patterns))
			return (int)i;
	return -1;
}

bool stack_has_frame_matching(const struct stack *s, const char *const *patterns)
{
	return stack_find_frame(s, patterns) >= 0;
}

enum stack_class stack_classify(const struct stack *s)
{
	size_t n = MIN(s->nframes, (size_t)STACK_MAX_FRAMES);
	int outer = -1;

	/* The outermost allocator frame: everything inside it is the
	 * allocator's work, whatever it called. */
	for (size_t i = 0; i < n; i++)
		if (stack_name_matches(s->frames[i].name, stack_allocator_functions))
			outer = (int)i;
	if (outer < 0)
		return STACK_OTHER;
	for (int i = 0; i < outer; i++) {
		if (stack_name_matches(s->frames[i].name, stack_vm_functions))
			return STACK_ALLOCATOR_VM;
		if (stack_name_matches(s->frames[i].name, stack_lock_wait_functions))
			return STACK_ALLOCATOR_LOCK;
	}
	return STACK_ALLOCATOR;
}

const char *stack_class_name(enum stack_class c)
{
	switch (c) {
	case STACK_ALLOCATOR:
		return "allocator";
	case STACK_ALLOCATOR_VM:
		return "allocator-vm";
	case STACK_ALLOCATOR_LOCK:
		return "allocator-lock";
	case STACK_OTHER:
		break;
	}
	return "other";
}

void stack_tally_add(struct stack_tally *t, const struct stack *s)
{
	enum stack_class c = stack_classify(s);
	const char *name;
	size_t i;
	int at;

	t->samples++;
	if (c == STACK_OTHER)
		return;
	t->allocator++;
	t->allocator_vm += c == STACK_ALLOCATOR_VM;
	t->allocator_lock += c == STACK_ALLOCATOR_LOCK;
	at = stack_find_frame(s, stack_allocator_functions);
	name = s->frames[at].name;
	for (i = 0; i < t->ntop; i++) {
		if (!strcmp(t->top[i].name, name)) {
			t->top[i].n++;
			return;
		}
	}
	if (t->ntop < STACK_TALLY_NAMES) {
		snprintf(t->top[t->ntop].name, STACK_NAME_MAX, "%s", name);
		t->top[t->ntop++].n = 1;
	}
}

const char *stack_tally_top(const struct stack_tally *t)
{
	size_t best = 0;

	if (!t->ntop)
		return "";
	for (size_t i = 1; i < t->ntop; i++)
		if (t->top[i].n > t->top[best].n)
			best = i;
	return t->top[best].name;
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
