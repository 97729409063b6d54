/* Readers for /proc/<pid>: plain structs, no judgement.
 *
 * Every reader takes `root`, a prefix put before "/proc/...": "" on a live
 * system, a committed fake tree (fixtures/proc-*) in tests.  Sizes are bytes;
 * a figure the file does not carry is UNSET.  Errors: -ESRCH when the process
 * does not exist (or vanished while being read), -EACCES/-EPERM when it may
 * not be read, -EOPNOTSUPP when it has no memory to read (a zombie, a kernel
 * thread), -ENOENT when this kernel lacks the file, -EIO for a file that does
 * not parse (the message names the file and the line).
 */
#ifndef HEAPDOC_PROC_H
#define HEAPDOC_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "model/process.h"


/* /proc/<pid>/stat */
struct proc_stat {
	char comm[64];		/* between the first '(' and the last ')' */
	char state;
	uint64_t flags;		/* PF_* (PF_KTHREAD = 0x00200000) */
	uint64_t minflt, majflt;
	uint64_t utime, stime;	/* clock ticks */
	uint64_t starttime;	/* ticks after boot: tells a reused pid apart */
	unsigned num_threads;
};

/* What a mapping is, for the RSS split and for finding heaps. */
enum mapping_kind {
	MAPPING_BRK_HEAP,	/* [heap] */
	MAPPING_ARENA_HEAP,	/* anonymous, 64 MiB-aligned glibc arena heap */
	MAPPING_STACK,		/* [stack] or a thread stack (below a guard page) */
	MAPPING_ANON,		/* other anonymous memory (mmapped chunks, other allocators) */
	MAPPING_FILE,		/* backed by a file */
	MAPPING_SHMEM,		/* shared memory: /dev/shm, SysV, memfd, shared anonymous */
	MAPPING_SPECIAL,	/* [vdso], [vvar], [vsyscall], guard pages */
};

struct mapping {
	uint64_t start, end, offset;
	char perms[5];		/* "rw-p" */
	unsigned dev_major, dev_minor;
	uint64_t inode;
	char path[512];		/* "" for anonymous */
	enum mapping_kind kind;
	/* From smaps; UNSET when read from maps. */
	uint64_t rss, pss, anonymous, private_dirty, swap;
};

struct maps {
	struct mapping *v;
	size_t n, cap;
};

int proc_read_status(const char *root, pid_t pid, struct proc_status *out, struct error *err);
int proc_read_stat(const char *root, pid_t pid, struct proc_stat *out, struct error *err);
/* The same for thread tid of pid (/proc/<pid>/task/<tid>/stat); tid 0 is
 * pid's own. */
int proc_read_task_stat(const char *root, pid_t pid, pid_t tid, struct proc_stat *out,
			struct error *err);
/* Both fill *out afresh (free it with maps_free, also after an error) and
 * classify every mapping (maps_classify). */
int proc_read_maps(const char *root, pid_t pid, struct maps *out, struct error *err);
int proc_read_smaps(const char *root, pid_t pid, struct maps *out, struct error *err);
void maps_free(struct maps *m);

/* Sets each mapping's kind from its path, permissions and neighbours (pure;
 * m must be in address order, as the kernel lists it). */
void maps_classify(struct maps *m);
/* "brk-heap", "arena-heap", "stack", "anon", "file", "shmem", "special". */
const char *mapping_kind_name(enum mapping_kind kind);

/* The mapping that contains addr, or NULL. */
const struct mapping *maps_find(const struct maps *m, uint64_t addr);

/* /proc/<pid>/smaps_rollup */
struct smaps_rollup {
	uint64_t rss, pss, anonymous, private_dirty, shared_clean, swap;
};
int proc_read_smaps_rollup(const char *root, pid_t pid, struct smaps_rollup *out,
			   struct error *err);

/* RSS by kind of mapping (pure: works on what proc_read_smaps returned;
 * every field UNSET when no mapping carries an Rss, as from proc_read_maps). */
void maps_split_rss(const struct maps *m, struct rss_split *out);

/* /proc/<pid>/environ (model/process.h: struct environ, environ_get). */
int proc_read_environ(const char *root, pid_t pid, struct environ *out, struct error *err);

/* /proc/<pid>/auxv: the entries heapdoc uses; 0 when absent. */
struct auxv {
	uint64_t entry;		/* AT_ENTRY: the executable's entry point */
	uint64_t base;		/* AT_BASE: the dynamic loader's base */
	uint64_t phdr;		/* AT_PHDR */
	uint64_t pagesz;	/* AT_PAGESZ */
	uint64_t sysinfo_ehdr;	/* AT_SYSINFO_EHDR: the vDSO */
};
int proc_read_auxv(const char *root, pid_t pid, struct auxv *out, struct error *err);

/* /proc/<pid>/cmdline with its arguments joined by spaces ("" for a
 * process without one), cut to len. */
int proc_read_cmdline(const char *root, pid_t pid, char *buf, size_t len, struct error *err);

/* /proc/<pid>/cgroup as it is ("ID:controllers:path" lines), cut to len. */
int proc_read_cgroup_membership(const char *root, pid_t pid, char *buf, size_t len,
				struct error *err);

/* TracerPid from /proc/<pid>/status: who traces it (a debugger, heapdoc);
 * 0 for nobody. */
int proc_read_tracer(const char *root, pid_t pid, pid_t *tracer, struct error *err);

/* Threads of pid, from /proc/<pid>/task. *tids is malloc'd. */
int proc_list_tasks(const char *root, pid_t pid, pid_t **tids, size_t *n, struct error *err);

/* Checks that pid is a live user process heapdoc can examine: -ESRCH (no such
 * process, or pid is a thread of another process: proc_thread_error),
 * -EOPNOTSUPP (kernel thread, zombie), -EACCES (not allowed; the message
 * says what is needed: root or CAP_SYS_PTRACE, ptrace_scope). */
int proc_check_target(const char *root, pid_t pid, struct error *err);

/* Yama's /proc/sys/kernel/yama/ptrace_scope: 0 to 3, or -1 when this kernel
 * has no Yama (or the file cannot be read). */
int proc_ptrace_scope(const char *root);

/* Whether heapdoc holds capability cap (linux/capability.h's CAP_*) in its
 * effective set, from CapEff in /proc/self/status (when that cannot be
 * read: whether heapdoc is root). */
bool proc_have_capability(unsigned cap);

/* -ESRCH "pid <pid> is a thread of process <tgid>; give the process id":
 * the one message for a thread id given where a process id belongs. */
int proc_thread_error(pid_t pid, pid_t tgid, struct error *err);

/* The -EACCES error for pid, naming who owns it and what is needed: its
 * user, or CAP_SYS_PTRACE (which heapdoc lacks, or has and a security
 * module overrides), and Yama's ptrace_scope (read under root) when it is
 * above 0.  `what` ends "permission denied ...": "reading /proc/42/maps",
 * "to trace it". */
int proc_permission_error(const char *root, pid_t pid, const char *what,
			  struct error *err);

#endif
