/* Loading the sampling library into a target and reading it (agent.h). */
#include "observe/agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/agent/agent_load.h"
#include "observe/proc.h"
#include "observe/target.h"

/* ---- reading and writing the region ---------------------------------------- */

int agent_mem_read(pid_t pid, uint64_t addr, void *buf, size_t len, struct error *err)
{
	int r = target_pid_read_exact(pid, addr, buf, len);

	if (r == 0)
		return 0;
	if (r == -ESRCH)
		return error_set(err, r, "pid %d: the process exited", pid);
	return error_set(err, r, "pid %d: read %zu bytes at 0x%" PRIx64 ": %s", pid, len, addr,
			 r == -EFAULT ? "short read" : strerror(-r));
}

static int mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len,
		     struct error *err)
{
	struct iovec local = { (void *)buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && errno == ESRCH)
		return error_set(err, -ESRCH, "pid %d: the process exited", pid);
	return error_set(err, n < 0 ? -errno : -EFAULT, "pid %d: write at 0x%" PRIx64 ": %s",
			 pid, addr, n < 0 ? strerror(errno) : "short write");
}

#define CTL_FIELD(a, f) ((a)->region + offsetof(struct agent_ctl, f))

static int read_ctl(struct agent *a, struct error *err)
{
	int ret = agent_mem_read(a->pid, a->region, &a->ctl, sizeof(a->ctl), err);

	if (ret == 0 && a->ctl.magic != AGENT_MAGIC)
		return error_set(err, -EIO, "pid %d: the sampling library's region at 0x%" PRIx64
				 " no longer holds its magic", a->pid, a->region);
	if (ret == 0 && a->ctl.abi != AGENT_ABI)
		return error_set(err, -EIO, "pid %d: the sampling library speaks version %u, "
				 "heapdoc %u: they were not built together", a->pid, a->ctl.abi,
				 AGENT_ABI);
	return ret;
}

int agent_heartbeat(struct agent *a, struct error *err)
{
	a->beats++;
	return mem_write(a->pid, CTL_FIELD(a, heartbeat), &a->beats, sizeof(a->beats), err);
}

/* ---- the ring ------------------------------------------------------------------ */

static int grow_buf(struct agent *a, size_t n, struct error *err)
{
	struct agent_sample *b;

	if (n <= a->bufcap)
		return 0;
	b = realloc(a->buf, n * sizeof(*b));
	if (!b)
		return error_set(err, -ENOMEM, "out of memory");
	a->buf = b;
	a->bufcap = n;
	return 0;
}

/* Reads records [from, from + n) (one contiguous stretch of the ring). */
static int read_records(struct agent *a, uint64_t from, size_t n, struct error *err)
{
	uint64_t at = a->ctl.ring_addr + (from % a->ctl.ring_cap) * sizeof(struct agent_sample);

	return agent_mem_read(a->pid, at, a->buf, n * sizeof(struct agent_sample), err);
}

#define POLL_BATCH 1024		/* records per read: heapdoc's memory stays flat */

int agent_poll(struct agent *a, void (*fn)(const struct agent_sample *s, void *arg),
	       void *arg, struct error *err)
{
	uint64_t head;
	int ret;

	ret = read_ctl(a, err);
	if (ret < 0)
		return ret;
	head = a->ctl.ring_head;
	ret = grow_buf(a, POLL_BATCH, err);
	while (ret == 0 && a->tail < head) {
		uint64_t room = a->ctl.ring_cap - a->tail % a->ctl.ring_cap;
		size_t n = (size_t)MIN(MIN(head - a->tail, room), (uint64_t)POLL_BATCH);
		size_t done = 0;

		ret = read_records(a, a->tail, n, err);
		for (; ret == 0 && done < n; done++) {
			/* Claimed but not yet written: take it next time. */
			if (a->buf[done].seq != a->tail + done + 1)
				break;
			fn(&a->buf[done], arg);
		}
		a->tail += done;
		if (done < n)
			break;
	}
	if (ret == 0)
		ret = mem_write(a->pid, CTL_FIELD(a, ring_tail), &a->tail, sizeof(a->tail), err);
	return ret;
}

#define BUCKET_BYTES (AGENT_WAYS * sizeof(struct agent_slot))
#define IOV_BATCH 1024			/* IOV_MAX */

/* The wanted buckets, IOV_BATCH at a time, each to its place in a->table. */
static int read_buckets(struct agent *a, const uint8_t *want, struct error *err)
{
	struct iovec local[IOV_BATCH], remote[IOV_BATCH];
	size_t n = 0, bytes = 0;

	for (uint32_t b = 0; b <= AGENT_BUCKETS; b++) {
		if (b < AGENT_BUCKETS && want[b] && agent_bucket_used(a, b)) {
			local[n] = (struct iovec){ a->table + (size_t)b * AGENT_WAYS, BUCKET_BYTES };
			remote[n] = (struct iovec){ (void *)(uintptr_t)(a->ctl.table_addr +
								   b * BUCKET_BYTES), BUCKET_BYTES };
			bytes += BUCKET_BYTES;
			if (++n < IOV_BATCH)
				continue;
		}
		if (!n)
			continue;
		if (process_vm_readv(a->pid, local, n, remote, n, 0) != (ssize_t)bytes)
			return error_set(err, errno == ESRCH ? -ESRCH : -EIO, "pid %d: read its "
					 "live samples: %s", a->pid, errno == ESRCH ?
					 "the process exited" : "short read");
		n = bytes = 0;
	}
	return 0;
}

int agent_read_live(struct agent *a, const uint8_t *want, struct error *err)
{
	size_t len = (size_t)AGENT_BUCKETS * BUCKET_BYTES;
	int ret;

	if (!a->table) {
		a->table = calloc(1, len);
		if (!a->table)
			return error_set(err, -ENOMEM, "out of memory");
	}
	ret = agent_mem_read(a->pid, a->ctl.filter_addr, a->filter, sizeof(a->filter), err);
	if (ret == 0 && !want)
		ret = agent_mem_read(a->pid, a->ctl.table_addr, a->table, len, err);
	else if (ret == 0)
		ret = read_buckets(a, want, err);
	return ret;
}

void agent_free(struct agent *a)
{
	free(a->buf);
	free(a->table);
	a->buf = NULL;
	a->table = NULL;
	a->bufcap = 0;
}

/* ---- finding the library ------------------------------------------------------ */

int agent_find_library(char *out, size_t len, struct error *err)
{
	static const char *const near[] = {
		"libheapdoc-agent.so", "build/libheapdoc-agent.so",
		"../lib/heapdoc/libheapdoc-agent.so",
	};
	const char *env = getenv("HEAPDOC_AGENT");
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (env && *env) {
		if (access(env, R_OK) < 0)
			return error_set(err, -ENOENT, "HEAPDOC_AGENT=%s: %m", env);
		snprintf(out, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return error_set(err, -ENOENT, "cannot tell where heapdoc is: %m");
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(near); i++) {
		char path[PATH_MAX];

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", exe, near[i]) >= sizeof(path) ||
		    !realpath(path, out) || access(out, R_OK) < 0)
			continue;
		if (strlen(out) >= len)
			break;
		return 0;
	}
	return error_set(err, -ENOENT, "the sampling library libheapdoc-agent.so is not next "
			 "to heapdoc (%s) nor in %s/../lib/heapdoc; set HEAPDOC_AGENT to its path",
			 exe, exe);
}

/* ---- making it reachable from the target's mount namespace -------------- */

static bool same_file(pid_t pid, const char *path)
{
	char inside[PATH_MAX + 64];
	struct stat a, b;

	snprintf(inside, sizeof(inside), "/proc/%d/root%s", pid, path);
	return stat(path, &a) == 0 && stat(inside, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static int copy_file(const char *from, const char *to, struct error *err)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, ret = 0;
	ssize_t n;

	if (in < 0)
		return error_set(err, -errno, "open %s: %m", from);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		ret = -errno;
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			ret = -EIO;
			break;
		}
	if (n < 0)
		ret = -errno;
	if (close(out) < 0 && !ret)
		ret = -errno;
	if (ret)
		unlink(to);
out:
	close(in);
	return ret;
}

/* The target sees a different file tree (a container): copy the library
 * into it, where a process may map it executable. */
static int place_library(struct agent *a, const char *lib, struct error *err)
{
	static const char *const dirs[] = { "/tmp", "/dev/shm", "/var/tmp" };

	if (same_file(a->pid, lib)) {
		snprintf(a->path, sizeof(a->path), "%s", lib);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char host[PATH_MAX + 64];

		snprintf(a->path, sizeof(a->path), "%s/heapdoc-agent-%d-%d.so", dirs[i], a->pid,
			 (int)getpid());
		snprintf(host, sizeof(host), "/proc/%d/root%s", a->pid, a->path);
		if (copy_file(lib, host, NULL) == 0) {
			a->copied = true;
			return 0;
		}
	}
	return error_set(err, -EACCES, "pid %d lives in another file tree and none of its /tmp, "
			 "/dev/shm, /var/tmp took a copy of %s", a->pid, lib);
}

/* The copy has served once loaded (or refused): no file is left behind. */
static void unplace_library(struct agent *a)
{
	char host[PATH_MAX + 64];

	if (!a->copied)
		return;
	snprintf(host, sizeof(host), "/proc/%d/root%s", a->pid, a->path);
	unlink(host);
	a->copied = false;
}

int agent_load(struct agent *a, pid_t pid, const struct agent_opts *o, struct error *err)
{
	char lib[PATH_MAX];
	int ret;

	memset(a, 0, sizeof(*a));
	a->pid = pid;
	if (o->library)
		snprintf(lib, sizeof(lib), "%s", o->library);
	else if ((ret = agent_find_library(lib, sizeof(lib), err)) < 0)
		return ret;
	ret = proc_check_target("", pid, err);
	if (ret < 0)
		return ret;
	ret = place_library(a, lib, err);
	if (ret < 0)
		return ret;
	ret = agent_call_load(a, o, err);
	unplace_library(a);
	if (ret < 0)
		return ret;
	ret = read_ctl(a, err);
	if (ret == 0)
		ret = agent_heartbeat(a, err);
	return ret;
}
