/* /proc/<pid>/status, /proc/<pid>/stat, the task list, and the check that
 * a pid is a process heapdoc can examine. */
#include "observe/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "observe/proc_file.h"
#include "base/util.h"

#define PF_KTHREAD 0x00200000

/* ---- status ------------------------------------------------------------ */

/* Lines of status holding a size in kB, and where each goes. */
static const struct {
	const char *key;
	size_t off;
} status_sizes[] = {
	{ "VmSize", offsetof(struct proc_status, vm_size) },
	{ "VmRSS", offsetof(struct proc_status, vm_rss) },
	{ "VmHWM", offsetof(struct proc_status, vm_hwm) },
	{ "RssAnon", offsetof(struct proc_status, rss_anon) },
	{ "RssFile", offsetof(struct proc_status, rss_file) },
	{ "RssShmem", offsetof(struct proc_status, rss_shmem) },
	{ "VmSwap", offsetof(struct proc_status, vm_swap) },
};

/* Which lines were seen, to tell a kernel thread from a zombie and to
 * reject a file that lacks the lines every kernel prints. */
enum {
	SEEN_NAME = 1 << 0,
	SEEN_STATE = 1 << 1,
	SEEN_PID = 1 << 2,
	SEEN_NSTGID = 1 << 3,
	SEEN_KTHREAD = 1 << 4,
	SEEN_VMSIZE = 1 << 5,
};

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	uint64_t v;

	if (!parse_u64(&s, 10, &v) || v > max || *parse_skip_blanks(s))
		return false;
	*out = (unsigned)v;
	return true;
}

static bool parse_pid(const char *s, pid_t *out)
{
	unsigned v;

	if (!parse_uint(s, INT_MAX, &v))
		return false;
	*out = (pid_t)v;
	return true;
}

/* The last blank-separated field of s ("NStgid:\t4242\t17" → 17). */
static const char *last_field(const char *s)
{
	const char *last = s, *p = s;

	while (*p) {
		if ((*p == ' ' || *p == '\t') && p[1] && p[1] != ' ' && p[1] != '\t')
			last = p + 1;
		p++;
	}
	return last;
}

static int status_line(struct proc_file *pf, struct proc_status *st, unsigned *seen,
		       struct error *err)
{
	char *colon = strchr(pf->line, ':');
	const char *key = pf->line, *val;
	unsigned kthread;

	if (!colon)
		return proc_file_bad(pf, err, "no ':' in \"%.40s\"", pf->line);
	*colon = '\0';
	val = parse_skip_blanks(colon + 1);

	for (size_t i = 0; i < ARRAY_SIZE(status_sizes); i++) {
		if (strcmp(key, status_sizes[i].key))
			continue;
		if (!parse_kb(val, (uint64_t *)((char *)st + status_sizes[i].off)))
			return proc_file_bad(pf, err, "bad size in %s", key);
		if (i == 0)
			*seen |= SEEN_VMSIZE;
		return 0;
	}

	if (!strcmp(key, "Name")) {
		snprintf(st->name, sizeof(st->name), "%s", val);
		*seen |= SEEN_NAME;
	} else if (!strcmp(key, "State")) {
		if (*val < 'A' || *val > 'z')
			return proc_file_bad(pf, err, "bad State");
		st->state = *val;
		*seen |= SEEN_STATE;
	} else if (!strcmp(key, "Tgid")) {
		if (!parse_pid(val, &st->tgid))
			return proc_file_bad(pf, err, "bad Tgid");
	} else if (!strcmp(key, "Pid")) {
		if (!parse_pid(val, &st->pid))
			return proc_file_bad(pf, err, "bad Pid");
		*seen |= SEEN_PID;
	} else if (!strcmp(key, "PPid")) {
		if (!parse_pid(val, &st->ppid))
			return proc_file_bad(pf, err, "bad PPid");
	} else if (!strcmp(key, "TracerPid")) {
		if (!parse_pid(val, &st->tracer_pid))
			return proc_file_bad(pf, err, "bad TracerPid");
	} else if (!strcmp(key, "NStgid")) {
		if (!parse_pid(last_field(val), &st->nstgid))
			return proc_file_bad(pf, err, "bad NStgid");
		*seen |= SEEN_NSTGID;
	} else if (!strcmp(key, "Uid")) {
		uint64_t uid;

		if (!parse_u64(&val, 10, &uid) || uid > UINT32_MAX)
			return proc_file_bad(pf, err, "bad Uid");
		st->uid = (uid_t)uid;
	} else if (!strcmp(key, "Threads")) {
		if (!parse_uint(val, UINT_MAX, &st->threads))
			return proc_file_bad(pf, err, "bad Threads");
	} else if (!strcmp(key, "Cpus_allowed_list")) {
		if (!parse_cpu_list(val, &st->cpus_allowed))
			return proc_file_bad(pf, err, "bad Cpus_allowed_list");
	} else if (!strcmp(key, "Kthread")) {
		if (!parse_uint(val, 1, &kthread))
			return proc_file_bad(pf, err, "bad Kthread");
		st->kernel_thread = kthread;
		*seen |= SEEN_KTHREAD;
	}
	return 0;
}

int proc_read_status(const char *root, pid_t pid, struct proc_status *out,
		     struct error *err)
{
	struct proc_file pf;
	unsigned seen = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	out->vm_size = out->vm_rss = out->vm_hwm = UNSET;
	out->rss_anon = out->rss_file = out->rss_shmem = out->vm_swap = UNSET;

	ret = proc_file_open(&pf, root, pid, "status", err);
	if (ret < 0)
		return ret;
	while ((ret = proc_file_next(&pf, err)) > 0) {
		ret = status_line(&pf, out, &seen, err);
		if (ret < 0)
			goto out;
	}
	if (ret < 0)
		goto out;
	if (pf.lineno == 0) {
		/* Empty: a process caught between exit and reap. */
		ret = error_set(err, -ESRCH, "pid %d exited while being read", pid);
		goto out;
	}
	if ((seen & (SEEN_NAME | SEEN_STATE | SEEN_PID)) != (SEEN_NAME | SEEN_STATE | SEEN_PID)) {
		ret = error_set(err, -EIO, "%s: no Name, State or Pid line", pf.path);
		goto out;
	}
	if (!(seen & SEEN_NSTGID))	/* kernels before 4.1 */
		out->nstgid = out->tgid;
	/* Kernels before 6.1 have no "Kthread:" line: a task without memory
	 * that is not dead is a kernel thread. */
	if (!(seen & SEEN_KTHREAD))
		out->kernel_thread = !(seen & SEEN_VMSIZE) &&
				     out->state != 'Z' && out->state != 'X';
out:
	proc_file_close(&pf);
	return ret;
}

/* ---- stat -------------------------------------------------------------- */

/* Fields after "pid (comm) ", counted from 0 = state (field 3 in proc(5)). */
enum {
	STAT_STATE = 0,
	STAT_FLAGS = 6,
	STAT_MINFLT = 7,
	STAT_MAJFLT = 9,
	STAT_UTIME = 11,
	STAT_STIME = 12,
	STAT_NUM_THREADS = 17,
	STAT_STARTTIME = 19,
	STAT_FIELDS_NEEDED = 20,
};

static bool stat_field(const char *tok, uint64_t *out)
{
	return parse_u64(&tok, 10, out) && (*tok == ' ' || *tok == '\0');
}

static int stat_parse(struct proc_file *pf, struct proc_stat *out, struct error *err)
{
	const char *tok[STAT_FIELDS_NEEDED];
	char *open = strchr(pf->line, '(');
	char *close = strrchr(pf->line, ')');
	const char *p = pf->line;
	uint64_t pid, threads;
	size_t n = 0;

	/* comm may hold spaces and ')': it ends at the last ')'. */
	if (!open || !close || close < open)
		return proc_file_bad(pf, err, "no \"(comm)\"");
	if (!parse_u64(&p, 10, &pid) || p + 1 != open || *p != ' ')
		return proc_file_bad(pf, err, "no pid before \"(comm)\"");
	snprintf(out->comm, sizeof(out->comm), "%.*s", (int)(close - open - 1), open + 1);

	for (p = close + 1; n < STAT_FIELDS_NEEDED && *p == ' ' && p[1]; n++) {
		tok[n] = ++p;
		while (*p && *p != ' ')
			p++;
	}
	if (n < STAT_FIELDS_NEEDED)
		return proc_file_bad(pf, err, "%zu fields after comm, expected %d or more",
				     n, STAT_FIELDS_NEEDED);

	out->state = tok[STAT_STATE][0];
	if (out->state < 'A' || out->state > 'z' || tok[STAT_STATE][1] != ' ')
		return proc_file_bad(pf, err, "bad state");
	if (!stat_field(tok[STAT_FLAGS], &out->flags) ||
	    !stat_field(tok[STAT_MINFLT], &out->minflt) ||
	    !stat_field(tok[STAT_MAJFLT], &out->majflt) ||
	    !stat_field(tok[STAT_UTIME], &out->utime) ||
	    !stat_field(tok[STAT_STIME], &out->stime) ||
	    !stat_field(tok[STAT_NUM_THREADS], &threads) || threads > UINT_MAX ||
	    !stat_field(tok[STAT_STARTTIME], &out->starttime))
		return proc_file_bad(pf, err, "bad number");
	out->num_threads = (unsigned)threads;
	return 0;
}

int proc_read_stat(const char *root, pid_t pid, struct proc_stat *out, struct error *err)
{
	return proc_read_task_stat(root, pid, 0, out, err);
}

int proc_read_task_stat(const char *root, pid_t pid, pid_t tid, struct proc_stat *out,
			struct error *err)
{
	struct proc_file pf;
	char name[32] = "stat";
	int ret;

	memset(out, 0, sizeof(*out));
	if (tid)
		snprintf(name, sizeof(name), "task/%d/stat", (int)tid);
	ret = proc_file_open(&pf, root, pid, name, err);
	if (ret < 0)
		return ret;
	ret = proc_file_next(&pf, err);
	if (ret == 0)
		ret = error_set(err, -ESRCH, "pid %d exited while being read", pid);
	if (ret > 0)
		ret = stat_parse(&pf, out, err);
	proc_file_close(&pf);
	return ret;
}

/* ---- tasks ------------------------------------------------------------- */

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int proc_list_tasks(const char *root, pid_t pid, pid_t **tids, size_t *n,
		    struct error *err)
{
	char path[4096];
	pid_t *v = NULL;
	size_t cap = 0, count = 0;
	struct dirent *de;
	DIR *dir;
	int ret;

	*tids = NULL;
	*n = 0;
	ret = proc_opendir(root, pid, "task", &dir, path, sizeof(path), err);
	if (ret < 0)
		return ret;
	for (errno = 0; (de = readdir(dir)); errno = 0) {
		const char *s = de->d_name;
		uint64_t tid;

		if (s[0] == '.')
			continue;
		if (!parse_u64(&s, 10, &tid) || *s || tid == 0 || tid > INT_MAX) {
			ret = error_set(err, -EIO, "%s: \"%s\" is not a thread id",
					path, de->d_name);
			goto out;
		}
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			pid_t *nv = reallocarray(v, ncap, sizeof(*v));

			if (!nv) {
				ret = error_set(err, -ENOMEM, "%s: out of memory", path);
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		v[count++] = (pid_t)tid;
	}
	if (errno) {
		ret = proc_failed(root, pid, "task", path, errno, err);
		goto out;
	}
	if (!count) {
		ret = error_set(err, -ESRCH, "pid %d exited while being read", pid);
		goto out;
	}
	qsort(v, count, sizeof(*v), cmp_pid);
	*tids = v;
	*n = count;
	v = NULL;
out:
	free(v);
	closedir(dir);
	return ret;
}

/* ---- the target check -------------------------------------------------- */

int proc_check_target(const char *root, pid_t pid, struct error *err)
{
	struct proc_status st;
	struct proc_stat sp;
	char path[4096];
	int ret, fd;

	ret = proc_read_status(root, pid, &st, err);
	if (ret < 0)
		return ret;
	if (st.state == 'Z' || st.state == 'X')
		return proc_zombie_error(pid, err);
	ret = proc_read_stat(root, pid, &sp, err);
	if (ret < 0)
		return ret;
	if (sp.state == 'Z' || sp.state == 'X')
		return proc_zombie_error(pid, err);
	if (st.kernel_thread || (sp.flags & PF_KTHREAD))
		return proc_kthread_error(pid, st.name, err);
	if (st.tgid > 0 && st.tgid != pid)
		return proc_thread_error(pid, st.tgid, err);

	/* maps needs the same ptrace read access as everything heapdoc reads
	 * without attaching; the kernel checks it at open. */
	fd = proc_open(root, pid, "maps", O_RDONLY, path, sizeof(path), err);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}
