/* How a process ended, seen from outside: heapdoc is not its parent, so it
 * cannot wait for it.
 *
 *  - The kernel's process connector (netlink, CONFIG_PROC_EVENTS; needs
 *    CAP_NET_ADMIN) sends an exit event for every thread that ends, with
 *    the exit code; a socket filter keeps only the target's, and the last
 *    one is the process's (a group exit gives every thread the group's
 *    code).  Opened when watching starts, so the event is there whenever
 *    the process goes.
 *  - Without it, a process its parent has not reaped yet (a zombie) still
 *    shows its exit code in /proc/<pid>/stat (field 52, Linux 3.5+).
 *  - Neither: the end is unknown, and said so.
 * Whether the OOM killer did it is the cgroup's business: its oom_kill
 * count (observe/cgroup.h: cgroup_oom_kills) rose meanwhile.
 */
#ifndef HEAPDOC_PROC_EXIT_H
#define HEAPDOC_PROC_EXIT_H

#include <stdbool.h>
#include <sys/types.h>

struct proc_end {
	bool known;
	bool signaled;		/* killed by signal `code` */
	int code;		/* the exit status, or the signal */
	bool core;		/* a core was dumped */
	const char *source;	/* "process connector", "/proc (zombie)" */
};

struct proc_exit_watch {
	int fd;			/* the netlink socket; -1 without one */
	pid_t pid;
	struct proc_end end;	/* the last exit event seen */
};

/* Starts listening for pid's end; without the connector (not allowed,
 * not built in) w->fd is -1 and the zombie fallback is all there is. */
void proc_exit_watch_open(struct proc_exit_watch *w, pid_t pid);

/* Takes in the events that arrived (without blocking). */
void proc_exit_watch_poll(struct proc_exit_watch *w);

/* After the process is gone: how it ended, from the connector, else from
 * its zombie under root ("" on a live system). */
void proc_exit_watch_result(struct proc_exit_watch *w, const char *root, struct proc_end *out);

void proc_exit_watch_close(struct proc_exit_watch *w);

#endif
