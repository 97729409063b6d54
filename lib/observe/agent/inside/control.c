/* The library's life: what heapdoc calls (start, stop), the region it
 * maps, and the checks on the slow path that put everything back from
 * inside when heapdoc is gone (heartbeat) or the process forked. */
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "inside.h"

#define CHECK_NS	100000000ULL	/* new modules, heartbeat: every 100 ms */

struct agent_real agent_real;
struct agent_ctl *agent_ctl;
volatile int agent_state;
/* In the library's own data, not the region: the free fast path then
 * reaches it with one load, not two (a forked child keeps a copy of it,
 * but its table is wiped, so its frees just take the slow path to find
 * nothing). */
uint64_t agent_filter[AGENT_FILTER_BITS / 64] __attribute__((aligned(64)));

static uint64_t last_check_ns;
static uint64_t seen_beat, beat_ns;		/* the heartbeat last seen, when */
static size_t region_len;

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Heartbeat lost, or a forked child: the slots go back from inside.  A
 * child may have been forked while another thread held the lock (it is
 * then held for good): it tries a while, and otherwise leaves its slots on
 * the hooks, which only forward from now on (sampling is off). */
static void go_inert(int child)
{
	int expected = AGENT_ON, locked = 0;

	if (!__atomic_compare_exchange_n(&agent_state, &expected, AGENT_INERT, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	for (int i = 0; !locked && (!child || i < 1000); i++)
		if (!(locked = agent_trylock()))
			sched_yield();
	if (!locked)
		return;
	agent_restore_locked(child);
	agent_unlock();
	if (agent_ctl->magic == AGENT_MAGIC) {
		agent_ctl->state = AGENT_INERT;
		__atomic_add_fetch(&agent_ctl->self_restores, 1, __ATOMIC_RELAXED);
	}
}

void agent_check_health(uint64_t now)
{
	struct agent_ctl *c = agent_ctl;

	if (agent_state != AGENT_ON)
		return;
	/* A forked child sees the region wiped (MADV_WIPEONFORK). */
	if (c->magic != AGENT_MAGIC) {
		go_inert(1);
		return;
	}
	if (now - __atomic_load_n(&last_check_ns, __ATOMIC_RELAXED) < CHECK_NS)
		return;
	__atomic_store_n(&last_check_ns, now, __ATOMIC_RELAXED);
	if (!agent_trylock())
		return;
	/* The heartbeat is a counter, timed on this side's clock: heapdoc's
	 * clock may be in another time namespace. */
	if (c->heartbeat != seen_beat) {
		seen_beat = c->heartbeat;
		beat_ns = now;
	} else if (now - beat_ns > c->heartbeat_timeout_ns || c->pid != getpid()) {
		int child = c->pid != getpid();

		agent_unlock();
		go_inert(child);
		return;
	}
	if (agent_state == AGENT_ON && agent_modules_changed())
		agent_scan_locked(1);
	agent_unlock();
}

/* ---- what heapdoc calls ------------------------------------------------------- */

static int resolve_reals(void)
{
	for (unsigned i = 0; i < agent_nhooks; i++) {
		*agent_hooks[i].real = dlsym(RTLD_DEFAULT, agent_hooks[i].name);
		if (!*agent_hooks[i].real && i < 4)	/* malloc free calloc realloc */
			return -ENOENT;
	}
	return 0;
}

/* Maps and lays out the region (see agent_abi.h). */
static long map_region(uint64_t ring_cap)
{
	size_t ring = ring_cap * sizeof(struct agent_sample);
	size_t table = (size_t)AGENT_BUCKETS * AGENT_WAYS * sizeof(struct agent_slot);
	uint8_t *p;

	region_len = AGENT_CTL_SIZE + ring + table;
	p = mmap(NULL, region_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (madvise(p, region_len, MADV_WIPEONFORK)) {
		long e = -errno;

		munmap(p, region_len);
		return e;
	}
	agent_ctl = (struct agent_ctl *)p;
	agent_ctl->ring_addr = (uint64_t)(uintptr_t)(p + AGENT_CTL_SIZE);
	agent_ctl->ring_cap = ring_cap;
	agent_ctl->filter_addr = (uint64_t)(uintptr_t)agent_filter;
	agent_ctl->table_addr = agent_ctl->ring_addr + ring;
	return 0;
}

__attribute__((visibility("default")))
long heapdoc_agent_start(uint64_t rate, uint64_t heartbeat_timeout_ms, uint64_t ring_cap,
			 uint64_t flags)
{
	Dl_info self;
	long ret;

	if (agent_state == AGENT_ON)
		return -EBUSY;
	if (!rate || !ring_cap || ring_cap > (1u << 24))
		return -EINVAL;
	/* A restart after a stop maps a new region: a thread may still be
	 * finishing a sample in the old one, which is left as it is. */
	agent_ctl = NULL;
	memset(agent_filter, 0, sizeof(agent_filter));
	ret = map_region(ring_cap);
	if (ret < 0)
		return ret;
	if (resolve_reals() || !dladdr((void *)heapdoc_agent_start, &self)) {
		munmap(agent_ctl, region_len);
		agent_ctl = NULL;
		return -ENOENT;
	}
	agent_ctl->abi = AGENT_ABI;
	agent_ctl->pid = getpid();
	agent_ctl->flags = (uint32_t)flags;
	agent_ctl->rate = rate;
	agent_ctl->started_ns = beat_ns = clock_ns();
	seen_beat = 0;
	agent_ctl->heartbeat_timeout_ns = heartbeat_timeout_ms * 1000000ULL;
	agent_ctl->lib_lo = (uint64_t)(uintptr_t)self.dli_fbase;
	agent_ctl->magic = AGENT_MAGIC;
	agent_lock();
	agent_state = AGENT_ON;
	agent_ctl->state = AGENT_ON;
	agent_scan_locked(1);
	agent_unlock();
	return (long)(uintptr_t)agent_ctl;
}

/* Puts every slot back; sampling ends.  Returns how many were put back. */
__attribute__((visibility("default")))
long heapdoc_agent_stop(void)
{
	long n;

	if (!agent_ctl)
		return -ENOENT;
	agent_state = AGENT_STOPPED;
	agent_lock();
	n = agent_restore_locked(0);
	agent_unlock();
	agent_ctl->state = AGENT_STOPPED;
	return n;
}

/* Reached only through dlclose, which heapdoc calls once it has checked
 * that no thread is inside this library or returns into it. */
__attribute__((destructor)) static void agent_unload(void)
{
	if (agent_state == AGENT_ON)
		heapdoc_agent_stop();
	if (agent_ctl && region_len) {
		munmap(agent_ctl, region_len);
		agent_ctl = NULL;
	}
}
