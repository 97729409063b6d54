/* What the parts of lib/observe/target share (internal to target*.c). */
#ifndef HEAPDOC_TARGET_INT_H
#define HEAPDOC_TARGET_INT_H

#include "observe/target.h"

/* The thread table (target.c; target_thread_find is in target.h).  add
 * appends (and may move the table), drop moves the last thread into the
 * slot. */
struct target_thread *target_thread_add(struct target *t, pid_t tid);
void target_thread_drop(struct target *t, struct target_thread *th);

/* Detaches one held thread, handing back the signal it stopped with. */
void target_thread_release(struct target_thread *th);

/* /proc/<pid>/task/<tid>/stat's state letter (0 if gone) and flags; dead
 * means gone, zombie or dying; a "Key:" number of /proc/<pid>/status, -1
 * if absent (target_seize.c). */
char target_task_state(pid_t pid, pid_t tid, unsigned long *flags);
bool target_task_is_dead(pid_t pid, pid_t tid);

/* Seizing (target_seize.c): 0 seized, 1 gone, <0 refused (the message
 * says why and what would fix it). */
int target_seize_thread(struct target *t, struct target_thread *th, struct error *err);
/* Seizes every thread of /proc/<pid>/task not in the table yet, and
 * interrupts it if asked; *added counts them. */
int target_seize_new(struct target *t, size_t *added, bool interrupt, struct error *err);

/* Threads heapdoc could not let go, released later (target_seize.c). */
void target_orphan_add(pid_t pid, pid_t tid);
void target_orphans_release(void);

/* Waits until every traced thread is held or gone (target_wait.c). */
int target_wait_stopped(struct target *t, uint64_t deadline, bool guarded, bool release,
			struct error *err);

/* A target that replays an image (target_image.c): its bytes in the
 * current epoch (short at a gap), a thread's fs_base (-ESRCH for none), and
 * a "stop" that only marks the threads held or running, and after the
 * first stop moves on to the next epoch. */
ssize_t target_image_read(struct target_image *img, uint64_t addr, void *buf, size_t len);
int target_image_fs_base(const struct target_image *img, pid_t tid, uint64_t *fs_base);
void target_image_hold(struct target *t, bool held);

#endif
