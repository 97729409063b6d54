/* Reading a target's memory and registers (see target.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/proc.h"
#include "observe/target_image.h"
#include "observe/target_int.h"

/* ---- reading memory ------------------------------------------------------------ */

int target_pid_read_exact(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

#define READ_CHUNK	(64UL << 20)	/* one syscall, one interrupt check */
#define PAGE		4096UL

/* process_vm_readv of [addr, addr+len) as iovecs no larger than step, so a
 * short read ends at a step boundary. */
static ssize_t vm_read(pid_t pid, uint64_t addr, void *buf, size_t len, size_t step)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote[IOV_MAX];
	size_t n = 0, off = 0;

	while (off < len && n < IOV_MAX) {
		size_t piece = MIN(len - off, step - ((addr + off) % step));

		remote[n].iov_base = (void *)(uintptr_t)(addr + off);
		remote[n].iov_len = piece;
		off += piece;
		n++;
	}
	local.iov_len = off;
	return process_vm_readv(pid, &local, 1, remote, n, 0);
}

static ssize_t mem_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	char path[64];

	if (t->mem_fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
		t->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (t->mem_fd < 0)
			return -1;
	}
	return pread(t->mem_fd, buf, len, (off_t)addr);
}

/* One chunk: the bulk read, and at a fault the exact page it stopped at. */
static ssize_t read_chunk(struct target *t, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = vm_read(t->pid, addr, buf, len, READ_CHUNK);

	if (n < 0 && (errno == ENOSYS || errno == EPERM))
		return mem_read(t, addr, buf, len);
	if (n >= 0 && (size_t)n == len)
		return n;
	/* Short or EFAULT: read the rest page by page to find the edge. */
	if (n < 0) {
		if (errno != EFAULT)
			return -1;
		n = 0;
	}
	while ((size_t)n < len) {
		ssize_t m = vm_read(t->pid, addr + n, (char *)buf + n, len - n, PAGE);

		if (m <= 0)
			break;
		n += m;
	}
	return n;
}

/* Reads of an image (target_image.h): what it holds, short at a gap. */
static ssize_t image_read(struct target *t, uint64_t addr, void *buf, size_t len,
			  struct error *err)
{
	ssize_t n = target_image_read(t->replay, addr, buf, len);

	if (!n && len)
		return error_set(err, -EFAULT, "image: nothing at 0x%llx",
				 (unsigned long long)addr);
	return n;
}

ssize_t target_read(struct target *t, uint64_t addr, void *buf, size_t len,
		    struct error *err)
{
	size_t done = 0;

	if (addr + len < addr)
		return error_set(err, -EFAULT, "pid %d: read of %zu bytes at 0x%llx "
				 "wraps around", t->pid, len, (unsigned long long)addr);
	if (t->replay)
		return image_read(t, addr, buf, len, err);
	while (done < len) {
		size_t want = MIN(len - done, READ_CHUNK);
		ssize_t n;

		if (target_interrupted())
			return error_set(err, -EINTR, "pid %d: interrupted by signal %d",
					 t->pid, target_interrupt_signal());
		n = read_chunk(t, addr + done, (char *)buf + done, want);
		if (n < 0) {
			if (done)
				break;
			if (errno == ESRCH)
				return error_set(err, -ESRCH, "pid %d exited while being "
						 "read", t->pid);
			if (errno == EFAULT || errno == EIO)
				return error_set(err, -EFAULT, "pid %d: nothing mapped "
						 "at 0x%llx", t->pid,
						 (unsigned long long)addr);
			return error_set(err, -errno, "pid %d: read at 0x%llx: %m",
					 t->pid, (unsigned long long)(addr + done));
		}
		done += n;
		if ((size_t)n < want)
			break;
	}
	if (!done && len)
		return error_set(err, -EFAULT, "pid %d: nothing mapped at 0x%llx",
				 t->pid, (unsigned long long)addr);
	if (t->record)
		target_image_add(t->record, addr, buf, done);
	return (ssize_t)done;
}

int target_read_exact(struct target *t, uint64_t addr, void *buf, size_t len,
		      struct error *err)
{
	ssize_t n = target_read(t, addr, buf, len, err);

	if (n < 0)
		return (int)n;
	if ((size_t)n < len)
		return error_set(err, -EFAULT, "pid %d: only %zd of %zu bytes at "
				 "0x%llx are mapped", t->pid, n, len,
				 (unsigned long long)addr);
	return 0;
}

/* At most IOV_MAX pieces in one call; a short read is -EFAULT. */
static int read_pieces_once(struct target *t, const struct target_piece *v, size_t n,
			    struct error *err)
{
	struct iovec local[IOV_MAX], remote[IOV_MAX];
	size_t want = 0;
	ssize_t got;

	/* Nothing to read; and gcc -O1 (make asan) then sees the arrays filled. */
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		local[i] = (struct iovec){ .iov_base = v[i].buf, .iov_len = v[i].len };
		remote[i] = (struct iovec){ .iov_base = (void *)(uintptr_t)v[i].addr,
					    .iov_len = v[i].len };
		want += v[i].len;
	}
	got = process_vm_readv(t->pid, local, n, remote, n, 0);
	if (got < 0 && errno == ESRCH)
		return error_set(err, -ESRCH, "pid %d exited while being read", t->pid);
	if (got < 0 && errno != EFAULT)
		return error_set(err, -errno, "pid %d: scattered read: %m", t->pid);
	if (got < 0 || (size_t)got < want)
		return error_set(err, -EFAULT, "pid %d: a scattered read came back short",
				 t->pid);
	return 0;
}

int target_read_pieces(struct target *t, const struct target_piece *v, size_t n,
		       struct error *err)
{
	for (size_t i = 0; t->replay && i < n; i++)
		if ((size_t)target_image_read(t->replay, v[i].addr, v[i].buf, v[i].len) != v[i].len)
			return error_set(err, -EFAULT, "image: a scattered read came back short");
	for (size_t done = 0; done < n && !t->replay;) {
		size_t k = MIN(n - done, (size_t)IOV_MAX);
		int r;

		if (target_interrupted())
			return error_set(err, -EINTR, "pid %d: interrupted by signal %d",
					 t->pid, target_interrupt_signal());
		r = read_pieces_once(t, v + done, k, err);
		if (r < 0)
			return r;
		done += k;
	}
	for (size_t i = 0; t->record && i < n; i++)
		target_image_add(t->record, v[i].addr, v[i].buf, v[i].len);
	return 0;
}

/* ---- registers ---------------------------------------------------------------- */

static int held_thread(struct target *t, pid_t tid, struct error *err)
{
	struct target_thread *th = target_thread_find(t, tid);

	if (!th)
		return error_set(err, -ESRCH, "pid %d: no thread %d", t->pid, tid);
	if (!th->stopped)
		return error_set(err, -EBUSY, "pid %d: thread %d is not stopped",
				 t->pid, tid);
	return 0;
}

int target_get_regs(struct target *t, pid_t tid, struct user_regs_struct *regs,
		    struct error *err)
{
	int r = held_thread(t, tid, err);
	uint64_t fs_base;

	if (r < 0)
		return r;
	if (t->replay) {	/* an image keeps the thread pointer only */
		memset(regs, 0, sizeof(*regs));
		if (target_image_fs_base(t->replay, tid, &fs_base) < 0)
			return error_set(err, -ESRCH, "image: no thread %d", tid);
		regs->fs_base = fs_base;
		return 0;
	}
	if (ptrace(PTRACE_GETREGS, tid, NULL, regs) < 0)
		return error_set(err, -errno, "pid %d: PTRACE_GETREGS thread %d: %m",
				 t->pid, tid);
	if (t->record)
		target_image_add_thread(t->record, tid, regs->fs_base);
	return 0;
}

int target_set_regs(struct target *t, pid_t tid, const struct user_regs_struct *regs,
		    struct error *err)
{
	int r = held_thread(t, tid, err);

	if (r < 0)
		return r;
	if (ptrace(PTRACE_SETREGS, tid, NULL, regs) < 0)
		return error_set(err, -errno, "pid %d: PTRACE_SETREGS thread %d: %m",
				 t->pid, tid);
	return 0;
}
