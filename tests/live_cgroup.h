/* A v1 cgroup of a test's own, for live tests that need a limit: made
 * under the runner's own cgroup, named after the runner's pid, removed at
 * the end.  Where the host has no writable v1 hierarchy, `skip` says why
 * and the test says so on stderr instead of failing. */
#ifndef HEAPDOC_TESTS_LIVE_CGROUP_H
#define HEAPDOC_TESTS_LIVE_CGROUP_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "testlib.h"

#define CGROUP_V1_MAGIC 0x27e0eb	/* statfs f_type of a v1 hierarchy */

struct live_cgroup {
	char dir[1024];		/* "" when not made */
	char skip[2048];	/* why not, "" when made */
};

/* This process's path in the v1 hierarchy holding controller ("" for /). */
static inline bool live_own_path(const char *controller, char *path, size_t len)
{
	char buf[4096], *line, *save = NULL;

	if (slurp("/proc/self/cgroup", buf, sizeof(buf)) < 0)
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *ctrl = strchr(line, ':'), *p = ctrl ? strchr(ctrl + 1, ':') : NULL;
		char *item, *isave = NULL;

		if (!p)
			continue;
		*p++ = '\0';
		for (item = strtok_r(ctrl + 1, ",", &isave); item; item = strtok_r(NULL, ",", &isave))
			if (!strcmp(item, controller)) {
				snprintf(path, len, "%s", strcmp(p, "/") ? p : "");
				return true;
			}
	}
	return false;
}

/* Writes value to the cgroup's file name; on failure says why in skip. */
static inline bool live_put(struct live_cgroup *cg, const char *name, const char *value)
{
	char path[1200];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", cg->dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ok = fd >= 0 && write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	if (!ok)
		snprintf(cg->skip, sizeof(cg->skip), "write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Makes /sys/fs/cgroup/<controller><own path>/heapdoc-<tag>-<pid>. */
static inline void live_cgroup_make(struct live_cgroup *cg, const char *controller,
				    const char *tag)
{
	char mount[256], own[256];
	struct statfs sf;

	cg->dir[0] = cg->skip[0] = '\0';
	snprintf(mount, sizeof(mount), "/sys/fs/cgroup/%s", controller);
	if (statfs(mount, &sf) < 0 || sf.f_type != CGROUP_V1_MAGIC ||
	    !live_own_path(controller, own, sizeof(own))) {
		snprintf(cg->skip, sizeof(cg->skip), "no v1 %s hierarchy at %s", controller, mount);
		return;
	}
	snprintf(cg->dir, sizeof(cg->dir), "%s%s/heapdoc-%s-%d", mount, own, tag, (int)getpid());
	if (mkdir(cg->dir, 0755) < 0) {
		snprintf(cg->skip, sizeof(cg->skip), "mkdir %s: %s", cg->dir, strerror(errno));
		cg->dir[0] = '\0';
	}
}

/* Moves pid in; false (and skip says why) when it cannot. */
static inline bool live_cgroup_enter(struct live_cgroup *cg, pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	return live_put(cg, "cgroup.procs", buf);
}

/* Removes it; a killed member may take a moment to leave. */
static inline void live_cgroup_remove(struct live_cgroup *cg)
{
	for (int tries = 0; cg->dir[0] && tries < 50; tries++) {
		if (rmdir(cg->dir) == 0 || errno == ENOENT)
			cg->dir[0] = '\0';
		else
			usleep(20000);
	}
	if (cg->dir[0])
		fprintf(stderr, "could not remove %s: %s\n", cg->dir, strerror(errno));
}

#endif
