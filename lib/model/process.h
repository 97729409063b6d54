/* What heapdoc knows of a process from /proc: plain data the stages share.
 *
 * lib/observe/proc*.c fill these; the judge and the reports read them.
 * Sizes are bytes; a figure the kernel did not give is UNSET.
 */
#ifndef HEAPDOC_MODEL_PROCESS_H
#define HEAPDOC_MODEL_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* /proc/<pid>/status */
struct proc_status {
	char name[64];
	char state;		/* R S D Z T t X I, as in "State:" */
	pid_t tgid, pid, ppid;
	pid_t nstgid;		/* NStgid's last field: the pid inside its namespace */
	pid_t tracer_pid;	/* TracerPid: who ptraces it; 0 when nobody */
	uid_t uid;		/* real uid */
	unsigned threads;
	unsigned cpus_allowed;	/* CPUs in Cpus_allowed_list (the affinity mask) */
	bool kernel_thread;	/* no memory of its own (no VmSize line; PF_KTHREAD) */
	uint64_t vm_size, vm_rss, vm_hwm, rss_anon, rss_file, rss_shmem, vm_swap;
};

/* RSS by kind of mapping, from smaps.  Every field is UNSET when no
 * mapping carried an Rss (the split was not read). */
struct rss_split {
	uint64_t brk_heap, arena_heaps, stacks, other_anon, file, shmem;
	uint64_t special;	/* vDSO and friends: the parts sum to total */
	uint64_t total;
};

/* /proc/<pid>/environ: the block of NUL-terminated "K=V" entries the process
 * started with (later setenv calls do not show).  buf is malloc'd, len bytes
 * plus one NUL after them. */
struct environ {
	char *buf;
	size_t len;
};

/* The value of the first entry named name in env (pointing into env->buf),
 * or NULL. */
const char *environ_get(const struct environ *env, const char *name);
/* Appends "name=value" (malloc; -ENOMEM). */
int environ_add(struct environ *env, const char *name, const char *value);
void environ_free(struct environ *env);

/* True for the variables that say how an allocator is set up (MALLOC_*,
 * GLIBC_TUNABLES, *MALLOC_CONF, TCMALLOC_*, LD_PRELOAD): what a recording
 * keeps of an environment, which may otherwise hold secrets. */
bool environ_is_allocator_setting(const char *name, size_t len);

#endif
