/* Holding a live process still, briefly and safely (ptrace).
 *
 * The protocol (DESIGN.md, "Safety protocol"):
 *  - PTRACE_SEIZE every thread, including threads created while attaching
 *    or stopping; never SIGSTOP.
 *  - target_stop() PTRACE_INTERRUPTs every thread and waits until each is in
 *    a ptrace stop; target_resume() lets them all go.  The time between the
 *    two is the pause, measured and reported.
 *  - target_resume() detaches the threads rather than PTRACE_CONTing them:
 *    between stops the target is not traced at all, so a signal or a
 *    clone() never waits for heapdoc while it works on a snapshot, and the
 *    next target_stop() seizes again (lib/observe/target.c says why in full).
 *  - A signal a thread dequeued just before our interrupt stopped it (a
 *    signal-delivery-stop) is delivered at once, siginfo and all: the
 *    kernel sets its handler up and our pending interrupt stops the thread
 *    before the handler runs.  Signals sent while a thread is held stay
 *    queued in the kernel.  Either way none is lost if heapdoc dies, which
 *    a signal held in a signal-delivery-stop would be; group-stops
 *    (SIGSTOP, SIGTSTP... sent by someone else) are honoured: the process
 *    stays stopped after we let go.
 *  - target_detach() works from any state and on every path: errors, and
 *    SIGINT/SIGTERM/SIGHUP to heapdoc (the guard turns those into -EINTR
 *    returns so the caller's cleanup path runs, then heapdoc exits).
 *  - Reads are bulk: one process_vm_readv (or /proc/<pid>/mem pread) per
 *    region, never one syscall per word.  They work with the target running
 *    or held.
 *  - Every call must come from the thread that called target_attach (ptrace
 *    belongs to a thread, not a process).
 */
#ifndef HEAPDOC_TARGET_H
#define HEAPDOC_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "base/clock.h"
#include "base/error.h"

/* Where a held thread sits.  Only TARGET_STOP_INTERRUPT is a clean point to
 * run code in (inject); the others carry a signal or a group stop that
 * target_resume() hands back to the kernel. */
enum target_stop_kind {
	TARGET_RUNNING = 0,
	TARGET_STOP_INTERRUPT,	/* our PTRACE_INTERRUPT: PTRACE_EVENT_STOP, SIGTRAP */
	TARGET_STOP_SIGNAL,	/* signal-delivery-stop; pending_signal is its signal */
	TARGET_STOP_GROUP,	/* group-stop (SIGSTOP, SIGTSTP... from someone else) */
	TARGET_STOP_EVENT,	/* another ptrace event stop */
};

struct target_thread {
	pid_t tid;
	bool stopped;		/* in a ptrace stop that heapdoc caused */
	int pending_signal;	/* held in its signal-delivery-stop; handed over on release */
	bool traced;		/* seized by heapdoc (held, or running traced) */
	enum target_stop_kind stop_kind;
};

/* tid -> slot in threads, sorted by tid (target.c). */
struct target_index {
	pid_t tid;
	uint32_t slot;
};

struct target_image;

struct target {
	pid_t pid;
	struct target_thread *threads;
	size_t nthreads, cap;
	struct target_index *index;
	bool index_dirty;
	int mem_fd;		/* /proc/<pid>/mem, the fallback for reads */
	bool stopped;
	uint64_t stop_started_ns;
	uint64_t pause_us_last;	/* the last stop → resume */
	uint64_t pause_us_max;
	uint64_t pause_us_total;
	unsigned stops;
	bool attached;		/* target_attach succeeded, not yet detached */
	unsigned stop_timeout_ms;	/* 0: TARGET_STOP_TIMEOUT_MS; set it
					 * after target_attach */
	/* Reads served from an image instead of a process, or every read
	 * also kept in one (lib/observe/target_image.h). */
	struct target_image *replay;
	struct target_image *record;
	/* Called with every stop's length as it ends (the exporter's pause
	 * histogram); NULL: none.  Set it after target_attach, which clears it. */
	void (*on_pause)(void *arg, uint64_t us);
	void *on_pause_arg;
};

#define TARGET_STOP_TIMEOUT_MS 2000

/* Seizes every thread of pid; they keep running.  Installs the signal guard.
 * -ESRCH (no such process, zombie), -EPERM (the message names what is
 * missing: root or CAP_SYS_PTRACE, the yama ptrace_scope value, or the pid
 * already tracing it), -EINVAL (a kernel thread, a tid that is not a
 * process id).  On failure t is left detached (target_detach is a no-op). */
int target_attach(struct target *t, pid_t pid, struct error *err);

/* Interrupts every thread and waits for all of them to stop, within
 * stop_timeout_ms (TARGET_STOP_TIMEOUT_MS when 0).  -ESRCH when the process
 * exits meanwhile, -ETIMEDOUT (a thread in uninterruptible sleep),
 * -EINTR (guard): on -EINTR the threads stay as they are for the caller's
 * target_detach(); on any other error the target is already detached. */
int target_stop(struct target *t, struct error *err);

/* Lets every thread go (detaching it), re-delivering signals that arrived
 * meanwhile; records pause_us_last/max/total.  The target stays attached
 * for the next target_stop(). */
int target_resume(struct target *t, struct error *err);

/* Lets every held thread but keep run on, released exactly as
 * target_resume() releases them (a signal a thread stopped with is handed
 * back); keep stays held.  For running code on one thread while the others
 * go on (lib/observe/inject): the pause is counted as over here, since the
 * process runs again.  target_stop() takes them back. */
void target_release_others(struct target *t, pid_t keep);

/* Thread tid's entry, or NULL: a binary search in an index of (tid, slot)
 * pairs kept beside the table, so pointers into the table stay valid while
 * it is searched. */
struct target_thread *target_thread_find(struct target *t, pid_t tid);
/* Marks a thread heapdoc no longer traces (detached, or gone). */
void target_thread_forget(struct target_thread *th);

/* Resumes (if stopped) and detaches every thread; frees t.  Always safe,
 * also on a t that was never attached (zeroed) or already detached.  A
 * thread in uninterruptible sleep cannot be detached until it wakes: after
 * a second it is left traced, released by a later attach or detach (or by
 * the kernel when heapdoc exits), and adopted by a later attach to the same
 * process. */
void target_detach(struct target *t);

/* The process a helper thread may read on its own (process_vm_readv), or
 * 0 when every read must go through target_read: t replays an image or
 * records one. */
pid_t target_direct_pid(const struct target *t);

/* One exact read of pid's memory, for readers that hold no struct target
 * or must read past Ctrl-C: a helper thread, the sampling library's region,
 * a call session's own bytes.  0; -ESRCH when the process is gone; -EFAULT
 * when short; another negative errno.  No message: the caller knows what it
 * was reading. */
int target_pid_read_exact(pid_t pid, uint64_t addr, void *buf, size_t len);

/* Reads len bytes at addr.  Returns the bytes read (short at an unmapped
 * page) or a negative errno.  -ESRCH if the process is gone. */
ssize_t target_read(struct target *t, uint64_t addr, void *buf, size_t len,
		    struct error *err);

/* Like target_read, but anything short of len is -EFAULT. */
int target_read_exact(struct target *t, uint64_t addr, void *buf, size_t len,
		      struct error *err);

/* One piece of a scattered read: len bytes at addr into buf. */
struct target_piece {
	uint64_t addr;
	void *buf;
	size_t len;
};

/* Reads every piece, IOV_MAX of them per process_vm_readv: the scattered
 * reads of a hold (arena tops, thread caches) in a few system calls instead
 * of one each.  0 when every piece was read whole; -EFAULT when one was
 * not (the caller reads piece by piece to find which), -ESRCH when the
 * process is gone. */
int target_read_pieces(struct target *t, const struct target_piece *v, size_t n,
		       struct error *err);

/* Registers of a stopped thread (and back). */
int target_get_regs(struct target *t, pid_t tid, struct user_regs_struct *regs,
		    struct error *err);
int target_set_regs(struct target *t, pid_t tid, const struct user_regs_struct *regs,
		     struct error *err);

/* Holds the signal guard between target_guard_enter and _leave whether or
 * not a target is attached: a command that watches for minutes (triage,
 * record) catches Ctrl-C between samples too, and ends as it should (the
 * target released, the report of what was seen).  Nests with attaching. */
void target_guard_enter(void);
void target_guard_leave(void);

/* True once SIGINT, SIGTERM or SIGHUP reached heapdoc while a target was
 * attached (or the guard held); long loops check it and return -EINTR. */
bool target_interrupted(void);

/* The signal that set target_interrupted() (SIGINT, SIGTERM, SIGHUP), or 0.
 * It stays readable after target_detach() so cmd/ can exit accordingly. */
int target_interrupt_signal(void);


#endif
