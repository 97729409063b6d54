/* Opening and reading /proc/<pid> files, and what their failures mean. */
#include "observe/proc_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "observe/proc.h"

/* smaps of a large process is tens of megabytes: read it in big gulps
 * rather than procfs's 1 KiB st_blksize. */
#define PROC_STDIO_BUF (64u << 10)

int proc_zombie_error(pid_t pid, struct error *err)
{
	return error_set(err, -EOPNOTSUPP,
			 "pid %d is a zombie: it has exited and has no memory left "
			 "(its parent has not reaped it yet)", pid);
}

int proc_thread_error(pid_t pid, pid_t tgid, struct error *err)
{
	return error_set(err, -ESRCH, "pid %d is a thread of process %d; give the process id",
			 pid, tgid);
}

int proc_kthread_error(pid_t pid, const char *name, struct error *err)
{
	return error_set(err, -EOPNOTSUPP,
			 "pid %d (%s) is a kernel thread: it has no user memory",
			 pid, name);
}

int proc_ptrace_scope(const char *root)
{
	char path[4096], *buf;
	const char *p;
	size_t len;
	uint64_t v;
	int scope = -1;

	snprintf(path, sizeof(path), "%s/proc/sys/kernel/yama/ptrace_scope", root);
	if (file_read(path, 64, &buf, &len, NULL) < 0)
		return -1;
	p = buf;
	if (parse_u64(&p, 10, &v) && v <= 3)
		scope = (int)v;
	free(buf);
	return scope;
}

bool proc_have_capability(unsigned cap)
{
	char line[256];
	bool yes = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "CapEff:", 7)) {
			yes = cap < 64 && (strtoull(line + 7, NULL, 16) >> cap) & 1;
			break;
		}
	}
	fclose(f);
	return yes;
}

static const char *ptrace_scope_meaning(int scope)
{
	switch (scope) {
	case 1:
		return "without CAP_SYS_PTRACE only an ancestor may attach";
	case 2:
		return "only CAP_SYS_PTRACE may attach";
	default:
		return "attaching is disabled until reboot";
	}
}

/* "nobody (uid 65534)", or "uid 1001" without a name for it. */
static void owner_of(const char *root, pid_t pid, char *buf, size_t len)
{
	struct proc_status st;
	struct error ignored;
	struct passwd *pw;

	if (proc_read_status(root, pid, &st, &ignored) < 0) {
		snprintf(buf, len, "another user");
		return;
	}
	pw = getpwuid(st.uid);
	if (pw)
		snprintf(buf, len, "%s (uid %u)", pw->pw_name, (unsigned)st.uid);
	else
		snprintf(buf, len, "uid %u", (unsigned)st.uid);
}

int proc_permission_error(const char *root, pid_t pid, const char *what,
			  struct error *err)
{
	int scope = proc_ptrace_scope(root);
	char owner[96], scope_why[160] = "";

	owner_of(root, pid, owner, sizeof(owner));
	if (scope > 0)
		snprintf(scope_why, sizeof(scope_why), "; /proc/sys/kernel/yama/ptrace_scope is %d: "
			 "%s", scope, ptrace_scope_meaning(scope));
	if (proc_have_capability(CAP_SYS_PTRACE))
		return error_set(err, -EACCES, "pid %d, owned by %s: permission denied %s even "
				 "with CAP_SYS_PTRACE: a security module, a seccomp filter or "
				 "another user namespace refuses it%s", pid, owner, what, scope_why);
	return error_set(err, -EACCES, "pid %d, owned by %s: permission denied %s: heapdoc "
			 "runs as uid %u without CAP_SYS_PTRACE; run it as that user, or with "
			 "CAP_SYS_PTRACE (root with its capabilities; a container needs "
			 "--cap-add SYS_PTRACE or kubectl debug --profile=general)%s", pid, owner,
			 what, (unsigned)geteuid(), scope_why);
}

int proc_explain_no_memory(const char *root, pid_t pid, struct error *err)
{
	struct proc_status st;
	struct error ignored;

	if (proc_read_status(root, pid, &st, &ignored) < 0)
		return error_set(err, -ESRCH, "pid %d exited while being read", pid);
	if (st.state == 'Z' || st.state == 'X')
		return proc_zombie_error(pid, err);
	if (st.kernel_thread)
		return proc_kthread_error(pid, st.name, err);
	return 0;
}

int proc_failed(const char *root, pid_t pid, const char *name, const char *path,
		int errnum, struct error *err)
{
	char what[4200];
	int ret;

	switch (errnum) {
	case EACCES:
	case EPERM:
		snprintf(what, sizeof(what), "reading %s", path);
		return proc_permission_error(root, pid, what, err);
	case ENOENT:
	case ESRCH:
		/* The directory was there a moment ago.  status failing means
		 * the process is gone; any other file may fail because the
		 * process has no memory (zombie, kernel thread), because it is
		 * exiting, or because this kernel lacks the file. */
		if (!strcmp(name, "status"))
			break;
		ret = proc_explain_no_memory(root, pid, err);
		if (ret < 0)
			return ret;
		if (errnum == ENOENT)
			return error_set(err, -ENOENT, "%s: no such file", path);
		break;
	default:
		return error_set(err, -errnum, "%s: %s", path, strerror(errnum));
	}
	return error_set(err, -ESRCH, "pid %d exited while being read", pid);
}

int proc_opendir(const char *root, pid_t pid, const char *name, DIR **dir, char *path,
		 size_t pathlen, struct error *err)
{
	int fd = proc_open(root, pid, name, O_RDONLY | O_DIRECTORY, path, pathlen, err);

	if (fd < 0)
		return fd;
	*dir = fdopendir(fd);
	if (!*dir) {
		close(fd);
		return error_set(err, -ENOMEM, "%s: out of memory", path);
	}
	return 0;
}

int proc_open(const char *root, pid_t pid, const char *name, int flags,
	      char *path, size_t pathlen, struct error *err)
{
	char dir[4096];
	int dfd, fd, saved;

	if (pid <= 0)
		return error_set(err, -EINVAL, "%d is not a process id", pid);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/proc/%d", root, pid) >= sizeof(dir) ||
	    (size_t)snprintf(path, pathlen, "%s/%s", dir, name) >= pathlen)
		return error_set(err, -ENAMETOOLONG, "%s/proc: path too long", root);

	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT || errno == ESRCH || errno == ENOTDIR)
			return error_set(err, -ESRCH, "pid %d: no such process", pid);
		return error_set(err, -errno, "%s: %s", dir, strerror(errno));
	}
	fd = openat(dfd, name, flags | O_CLOEXEC);
	saved = errno;
	close(dfd);
	if (fd < 0)
		return proc_failed(root, pid, name, path, saved, err);
	return fd;
}

int proc_file_open(struct proc_file *pf, const char *root, pid_t pid,
		   const char *name, struct error *err)
{
	int fd;

	memset(pf, 0, sizeof(*pf));
	pf->root = root;
	pf->pid = pid;
	pf->name = name;
	fd = proc_open(root, pid, name, O_RDONLY, pf->path, sizeof(pf->path), err);
	if (fd < 0)
		return fd;
	pf->f = fdopen(fd, "r");
	if (!pf->f) {
		close(fd);
		return error_set(err, -ENOMEM, "%s: out of memory", pf->path);
	}
	setvbuf(pf->f, NULL, _IOFBF, PROC_STDIO_BUF);
	return 0;
}

void proc_file_close(struct proc_file *pf)
{
	if (pf->f)
		fclose(pf->f);
	free(pf->line);
	pf->f = NULL;
	pf->line = NULL;
	pf->cap = pf->len = 0;
}

int proc_file_bad(const struct proc_file *pf, struct error *err, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return error_set(err, -EIO, "%s line %u: %s", pf->path, pf->lineno, what);
}

/* Makes room for at least two more bytes (one of them the NUL). */
static int line_grow(struct proc_file *pf, struct error *err)
{
	size_t cap = pf->cap ? pf->cap * 2 : 256;
	char *line;

	if (pf->cap - pf->len >= 2)
		return 0;
	if (cap > PROC_LINE_MAX + 2)
		return error_set(err, -EIO, "%s line %u: longer than %u bytes",
				 pf->path, pf->lineno + 1, PROC_LINE_MAX);
	line = realloc(pf->line, cap);
	if (!line)
		return error_set(err, -ENOMEM, "%s: out of memory", pf->path);
	pf->line = line;
	pf->cap = cap;
	return 0;
}

int proc_file_next(struct proc_file *pf, struct error *err)
{
	int ret;

	pf->len = 0;
	for (;;) {
		ret = line_grow(pf, err);
		if (ret < 0)
			return ret;
		/* cap - len fits in an int: cap is at most PROC_LINE_MAX + 2. */
		if (!fgets(pf->line + pf->len, (int)(pf->cap - pf->len), pf->f)) {
			if (ferror(pf->f))
				return proc_failed(pf->root, pf->pid, pf->name,
						   pf->path, errno, err);
			if (pf->len == 0)
				return 0;
			pf->lineno++;	/* a last line without '\n' */
			return 1;
		}
		/* A NUL inside the line ends it early; the rest is dropped,
		 * which a parser then finds incomplete. */
		pf->len += strlen(pf->line + pf->len);
		if (pf->len && pf->line[pf->len - 1] == '\n') {
			pf->line[--pf->len] = '\0';
			pf->lineno++;
			return 1;
		}
	}
}

int proc_slurp(const char *root, pid_t pid, const char *name, size_t max,
	       char **buf, size_t *len, struct error *err)
{
	char path[4096];
	int fd, ret;

	fd = proc_open(root, pid, name, O_RDONLY, path, sizeof(path), err);
	if (fd < 0)
		return fd;
	ret = file_read_fd(fd, path, max, buf, len, err);
	close(fd);
	/* A read that fails after the open says what /proc means by it. */
	if (ret < 0 && ret != -ENOMEM && ret != -EFBIG)
		ret = proc_failed(root, pid, name, path, -ret, err);
	return ret;
}
