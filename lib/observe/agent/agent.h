/* The sampling library in a live target: loading it, reading what it
 * samples, and unloading it (heapdoc leaks).
 *
 * agent_load() makes the library reachable from the target's mount
 * namespace (the same file when the target sees heapdoc's path as the same
 * inode; otherwise a copy under the target's /tmp or /dev/shm, written
 * through /proc/<pid>/root and unlinked once loaded), then borrows one
 * thread (lib/observe/inject.h) to call the loader (dlopen, in libc since
 * glibc 2.34; __libc_dlopen_mode before) and the library's start function,
 * which redirects the allocation functions' relocation slots (see
 * inside/patch.c) and returns its region (agent_abi.h).  heapdoc then lets
 * go of the target entirely: while sampling it reads the region with
 * process_vm_readv and writes only the ring's tail and a heartbeat
 * (process_vm_writev), with no thread of its own in the target and no
 * ptrace attachment.
 *
 * Leaving: agent_stop() borrows a thread to put every slot back; the caller
 * reads the last samples and the live table; agent_unload() stops every
 * thread and looks at its registers and stack (every word, not only the
 * return addresses an unwinder would find: a pointer to the library held
 * anywhere there could still be jumped to) — only when none points into
 * the library's code does it call dlclose, then checks that the mapping is
 * gone.  Otherwise it retries briefly and, failing that, leaves the library
 * loaded and inert (every slot already put back) and says so.
 *
 * If heapdoc dies, the heartbeat stops: the library notices within its
 * timeout (checked on sampled calls) and puts the slots back itself.
 */
#ifndef HEAPDOC_AGENT_H
#define HEAPDOC_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "model/profile.h"
#include "observe/agent/agent_abi.h"

#define AGENT_DEFAULT_RATE		(512u << 10)
#define AGENT_DEFAULT_HEARTBEAT_MS	3000
#define AGENT_DEFAULT_RING		16384

struct agent_opts {
	uint64_t rate;			/* mean bytes between samples */
	unsigned heartbeat_ms;		/* the library restores itself after */
	uint64_t ring_cap;		/* records */
	bool no_got;			/* leave -fno-plt GOT slots alone */
	const char *library;		/* NULL: agent_find_library() */
};

/* How leaving went: model/profile.h's, which the report reads. */
#define AGENT_LEFT_NOTHING	PROF_LEFT_NOTHING
#define AGENT_LEFT_INERT	PROF_LEFT_INERT
#define AGENT_LEFT_UNKNOWN	PROF_LEFT_UNKNOWN

struct agent {
	pid_t pid;
	uint64_t handle;		/* dlopen's handle in the target */
	uint64_t region;		/* struct agent_ctl in the target */
	uint64_t fn_stop, fn_dlclose;
	uint64_t text_lo, text_hi;	/* the library's executable mapping */
	uint64_t lib_lo, lib_hi;	/* all of its mappings */
	char path[4096];		/* as the target opened it */
	bool copied;			/* path is a copy heapdoc made */
	struct agent_ctl ctl;		/* the last copy read */
	uint64_t tail;			/* next ring index to read */
	uint64_t beats;
	struct agent_sample *buf;	/* read buffer */
	size_t bufcap;
	struct agent_slot *table;	/* the last live table read */
	uint64_t filter[AGENT_FILTER_BITS / 64];	/* the last filter read */
	/* For the report. */
	uint64_t load_stop_us, stop_stop_us, unload_stop_us;	/* longest stops */
	unsigned unload_tries;
	long slots_restored;
	enum prof_left left;
	char left_why[256];
};

/* Where the library is: $HEAPDOC_AGENT, else next to heapdoc's binary
 * (libheapdoc-agent.so, build/..., ../lib/heapdoc/...).  -ENOENT. */
int agent_find_library(char *out, size_t len, struct error *err);

int agent_load(struct agent *a, pid_t pid, const struct agent_opts *o, struct error *err);

/* Tells the library heapdoc is alive (a counter it watches). */
int agent_heartbeat(struct agent *a, struct error *err);

/* Reads every committed sample since the last call, in order, and hands
 * each to fn; moves the ring's tail.  Also refreshes a->ctl.  -ESRCH when
 * the process is gone. */
int agent_poll(struct agent *a, void (*fn)(const struct agent_sample *s, void *arg),
	       void *arg, struct error *err);

/* Reads the live table's buckets that want[] marks (want NULL: all of
 * them) into a->table (AGENT_BUCKETS * AGENT_WAYS slots, in place), after
 * the free filter into a->filter: a bucket none of whose filter bits is set
 * holds no live sample and is not read.  A few KiB a poll while little is
 * live, instead of the whole 2 MiB table. */
int agent_read_live(struct agent *a, const uint8_t *want, struct error *err);

/* May bucket b hold live samples?  The filter indexes that fall in it are
 * b, b + AGENT_BUCKETS, ... (agent_bucket in agent_abi.h). */
static inline bool agent_bucket_used(const struct agent *a, uint32_t b)
{
	for (uint32_t f = b; f < AGENT_FILTER_BITS; f += AGENT_BUCKETS)
		if (agent_filter_has(a->filter, f))
			return true;
	return false;
}

/* Puts every slot back (borrowing a thread).  Sampling ends; the region
 * stays readable until agent_unload. */
int agent_stop(struct agent *a, struct error *err);

/* Checks every thread, then dlcloses the library (see above); fills
 * a->left and a->left_why.  Frees what a holds. */
int agent_unload(struct agent *a, struct error *err);

/* Frees a's buffers (agent_unload does it too). */
void agent_free(struct agent *a);

#endif
