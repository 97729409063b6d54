/* The slow path: a sampled allocation, or the free of a pointer that may be
 * a live sample.
 *
 * Byte-weighted Poisson sampling: each thread counts down an exponential
 * gap of mean `rate` bytes; the allocation that crosses zero is sampled and
 * a fresh gap drawn, so an allocation of X bytes is sampled with
 * probability 1 - exp(-X/rate) whatever came before it.
 *
 * Compiled with frame pointers: __builtin_frame_address(0) of a slow
 * function gives the caller's return address, stack pointer and rbp (the
 * hooks reach these functions by a tail call, so the caller is the
 * program's code).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "inside.h"

__thread uint64_t agent_left __attribute__((tls_model("initial-exec")));
static __thread uint64_t t_rng __attribute__((tls_model("initial-exec")));
static __thread int t_busy __attribute__((tls_model("initial-exec")));
static __thread uintptr_t t_stack_lo __attribute__((tls_model("initial-exec")));
static __thread uintptr_t t_stack_hi __attribute__((tls_model("initial-exec")));
static __thread uint32_t t_tid __attribute__((tls_model("initial-exec")));

/* An unreachable countdown: the fast path for good (not sampling). */
#define NEVER (UINT64_MAX / 2)

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* xorshift64*, seeded per thread. */
static uint64_t rng_next(void)
{
	uint64_t x = t_rng;

	if (!x)
		x = (clock_ns() ^ ((uint64_t)syscall(SYS_gettid) << 32) ^
		     (uint64_t)(uintptr_t)&t_rng) | 1;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t_rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Exponential with mean rate, at least 1. */
static uint64_t next_gap(uint64_t rate)
{
	double u = (double)(rng_next() >> 11) * 0x1.0p-53;	/* [0, 1) */
	double g = -agent_log(1.0 - u) * (double)rate;

	return g < 1 ? 1 : g > (double)NEVER ? NEVER : (uint64_t)g;
}

/* Counts n bytes down; true when this allocation is the sampled one. */
static int should_sample(size_t n)
{
	uint64_t left = agent_left;

	if (agent_state != AGENT_ON || t_busy) {
		if (agent_state != AGENT_ON)
			agent_left = NEVER;
		return 0;
	}
	if (!left)				/* a thread's first call */
		left = next_gap(agent_ctl->rate);
	if (n < left) {
		agent_left = left - n;
		return 0;
	}
	agent_left = next_gap(agent_ctl->rate);
	return 1;
}

/* This thread's stack, for bounded reads while unwinding (once a thread;
 * pthread_getattr_np may allocate: t_busy keeps that out of sampling). */
static void stack_bounds(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	t_stack_hi = 1;		/* tried */
	if (pthread_getattr_np(pthread_self(), &attr))
		return;
	if (!pthread_attr_getstack(&attr, &addr, &size)) {
		t_stack_lo = (uintptr_t)addr;
		t_stack_hi = (uintptr_t)addr + size;
	}
	pthread_attr_destroy(&attr);
}

/* ---- the live table ------------------------------------------------------ */

static struct agent_slot *bucket_of(uint32_t b)
{
	return (struct agent_slot *)(uintptr_t)agent_ctl->table_addr + (size_t)b * AGENT_WAYS;
}

static void filter_set(uint32_t f)
{
	uint64_t bit = 1ULL << (f & 63);

	/* A plain load first: a line written only when a bit changes stays
	 * shared in the caches of the threads that read it. */
	if (!(__atomic_load_n(&agent_filter[f >> 6], __ATOMIC_SEQ_CST) & bit))
		__atomic_or_fetch(&agent_filter[f >> 6], bit, __ATOMIC_SEQ_CST);
}

/* Does bucket s hold a live sample with filter index f? */
static int bucket_has(const struct agent_slot *s, uint32_t f)
{
	for (unsigned i = 0; i < AGENT_WAYS; i++) {
		uint64_t q = __atomic_load_n(&s[i].ptr, __ATOMIC_SEQ_CST);

		if (q && agent_filter_index((const void *)(uintptr_t)q) == f)
			return 1;
	}
	return 0;
}

static int table_insert(void *p, uint64_t id)
{
	uint32_t f = agent_filter_index(p);
	struct agent_slot *s = bucket_of(f & (AGENT_BUCKETS - 1));

	for (unsigned i = 0; i < AGENT_WAYS; i++) {
		uint64_t empty = 0;

		if (__atomic_compare_exchange_n(&s[i].ptr, &empty, (uint64_t)(uintptr_t)p, 0,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			__atomic_store_n(&s[i].id, id, __ATOMIC_RELEASE);
			filter_set(f);
			return 1;
		}
	}
	return 0;
}

/* The last live sample with filter index f left bucket s: clear its bit,
 * unless a sample with the same index went in meanwhile (an insert fills
 * its slot before it sets the bit, so whichever of the two comes last
 * leaves the bit right).  Between the clear and the set again a free of
 * that new sample would not be seen: it needs two live samples whose
 * indexes collide and a free within these few instructions of the
 * allocation, and costs one sample counted as live, never a crash. */
static void filter_clear(const struct agent_slot *s, uint32_t f)
{
	uint64_t bit = 1ULL << (f & 63);

	__atomic_and_fetch(&agent_filter[f >> 6], ~bit, __ATOMIC_SEQ_CST);
	if (bucket_has(s, f))
		__atomic_or_fetch(&agent_filter[f >> 6], bit, __ATOMIC_SEQ_CST);
}

/* Returns the id p was sampled under, or 0 if it is not a live sample. */
static uint64_t table_remove(void *p)
{
	uint32_t f = agent_filter_index(p);
	struct agent_slot *s;

	if (!agent_ctl || agent_ctl->magic != AGENT_MAGIC || !agent_filter_has(agent_filter, f))
		return 0;
	s = bucket_of(f & (AGENT_BUCKETS - 1));
	for (unsigned i = 0; i < AGENT_WAYS; i++) {
		uint64_t want = (uint64_t)(uintptr_t)p;
		uint64_t id = __atomic_load_n(&s[i].id, __ATOMIC_ACQUIRE);

		if (__atomic_load_n(&s[i].ptr, __ATOMIC_RELAXED) != want)
			continue;
		if (__atomic_compare_exchange_n(&s[i].ptr, &want, 0, 0, __ATOMIC_SEQ_CST,
						__ATOMIC_RELAXED)) {
			if (!bucket_has(s, f))
				filter_clear(s, f);
			return id;
		}
	}
	return 0;
}

int agent_forget(void *p)
{
	return table_remove(p) != 0;
}

/* ---- one sample ---------------------------------------------------------- */

static int ring_claim(struct agent_ctl *c, uint64_t *h)
{
	uint64_t head = __atomic_load_n(&c->ring_head, __ATOMIC_RELAXED);

	do {
		if (head - __atomic_load_n(&c->ring_tail, __ATOMIC_ACQUIRE) >= c->ring_cap) {
			__atomic_add_fetch(&c->dropped, 1, __ATOMIC_RELAXED);
			return 0;
		}
	} while (!__atomic_compare_exchange_n(&c->ring_head, &head, head + 1, 1,
					      __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	*h = head;
	return 1;
}

/* The stack of the allocation, into pcs; returns how many frames.  fp: the
 * slow function's frame: fp[0] the caller's rbp, fp[1] its return address;
 * the caller's stack pointer after the return is fp + 2. */
static unsigned unwind_caller(const uintptr_t *fp, uint64_t *pcs, uint16_t *flags)
{
	if (!t_stack_hi) {
		stack_bounds();
		t_tid = (uint32_t)syscall(SYS_gettid);
	}
	if ((uintptr_t)(fp + 2) > t_stack_lo && (uintptr_t)(fp + 2) < t_stack_hi)
		return agent_unwind(fp[1], (uintptr_t)(fp + 2), fp[0], pcs, AGENT_MAX_FRAMES,
				    flags);
	pcs[0] = fp[1];		/* another stack (sigaltstack, a coroutine) */
	*flags |= AGENT_SAMPLE_UNWIND_STOP;
	return 1;
}

/* The record is written last, after every locked instruction of the
 * sample: its lines are cold (heapdoc read them from another core), and
 * plain stores to them drain from the store buffer while the program runs
 * on, where a locked instruction after them would wait for each. */
static void record(void *p, size_t size, uintptr_t *fp)
{
	struct agent_ctl *c = agent_ctl;
	struct agent_sample *r;
	uint64_t pcs[AGENT_MAX_FRAMES];
	uint16_t flags = 0;
	unsigned n;
	uint64_t h;

	uint64_t now = clock_ns();

	t_busy = 1;
	agent_check_health(now);
	if (agent_state != AGENT_ON || !p)
		goto out;
	n = unwind_caller(fp, pcs, &flags);
	if (!ring_claim(c, &h))
		goto out;
	if (flags & AGENT_SAMPLE_UNWIND_STOP)
		__atomic_add_fetch(&c->unwind_stops, 1, __ATOMIC_RELAXED);
	if (!table_insert(p, h + 1)) {
		flags |= AGENT_SAMPLE_UNTRACKED;
		__atomic_add_fetch(&c->untracked, 1, __ATOMIC_RELAXED);
		__atomic_or_fetch(&c->holes, AGENT_HOLE_TABLE_FULL, __ATOMIC_RELAXED);
	}
	r = (struct agent_sample *)(uintptr_t)c->ring_addr + h % c->ring_cap;
	r->id = h + 1;
	r->ptr = (uint64_t)(uintptr_t)p;
	r->size = size;
	r->time_ns = now;
	r->tid = t_tid;
	r->nframes = (uint16_t)n;
	r->flags = flags;
	for (unsigned i = 0; i < n; i++)
		r->pcs[i] = pcs[i];
	__atomic_store_n(&r->seq, h + 1, __ATOMIC_RELEASE);
out:
	t_busy = 0;
}

/* The unwinder's bounds for this thread (used by unwind.c). */
HIDDEN void agent_stack_bounds(uintptr_t *lo, uintptr_t *hi)
{
	*lo = t_stack_lo;
	*hi = t_stack_hi;
}

#define FRAME ((uintptr_t *)__builtin_frame_address(0))

void *agent_malloc_slow(size_t n)
{
	void *p = agent_real.malloc(n);

	if (should_sample(n))
		record(p, n, FRAME);
	return p;
}

void *agent_calloc_slow(size_t n, size_t m)
{
	void *p = agent_real.calloc(n, m);
	size_t total;

	if (!__builtin_mul_overflow(n, m, &total) && should_sample(total))
		record(p, total, FRAME);
	return p;
}

void *agent_realloc_slow(void *p, size_t n)
{
	uint64_t id = p ? table_remove(p) : 0;
	void *q = agent_real.realloc(p, n);

	if (!q && n && id && agent_ctl)		/* failed: p is still live */
		table_insert(p, id);
	if (should_sample(n))
		record(q, n, FRAME);
	return q;
}

void *agent_reallocarray_slow(void *p, size_t n, size_t m)
{
	uint64_t id = p ? table_remove(p) : 0;
	void *q = agent_real.reallocarray(p, n, m);
	size_t total = 0;
	int overflow = __builtin_mul_overflow(n, m, &total);

	if (!q && id && agent_ctl)
		table_insert(p, id);
	if (!overflow && should_sample(total))
		record(q, total, FRAME);
	return q;
}

int agent_posix_memalign_slow(void **pp, size_t a, size_t n)
{
	int ret = agent_real.posix_memalign(pp, a, n);

	if (should_sample(n) && !ret)
		record(*pp, n, FRAME);
	return ret;
}

void *agent_aligned_alloc_slow(size_t a, size_t n)
{
	void *p = agent_real.aligned_alloc(a, n);

	if (should_sample(n))
		record(p, n, FRAME);
	return p;
}

void *agent_memalign_slow(size_t a, size_t n)
{
	void *p = agent_real.memalign(a, n);

	if (should_sample(n))
		record(p, n, FRAME);
	return p;
}

void *agent_valloc_slow(size_t n)
{
	void *p = agent_real.valloc(n);

	if (should_sample(n))
		record(p, n, FRAME);
	return p;
}

void *agent_pvalloc_slow(size_t n)
{
	void *p = agent_real.pvalloc(n);

	if (should_sample(n))
		record(p, n, FRAME);
	return p;
}

void agent_free_slow(void *p)
{
	table_remove(p);
	agent_real.free(p);
}

/* ln(x) for x > 0 without libm: x = m * 2^e with m in [1, 2), then
 * ln(m) = 2 atanh(s), s = (m - 1) / (m + 1) <= 1/3, whose series to s^11
 * is within 1e-7: far below what sampling needs. */
double agent_log(double x)
{
	union { double d; uint64_t u; } v = { x };
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	double m, s, s2, sum;

	v.u = (v.u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
	m = v.d;
	s = (m - 1) / (m + 1);
	s2 = s * s;
	sum = s * (1 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 +
						s2 * (1.0 / 11 + s2 / 13))))));
	return 2 * sum + e * 0.69314718055994530942;
}
