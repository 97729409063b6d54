/* Which processes the exporter watches (fleet.h). */
#include "observe/fleet.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "observe/proc.h"

#define PF_KTHREAD	0x00200000	/* include/linux/sched.h */
#define CGROUP_DEPTH_MAX 32		/* deeper than any real hierarchy */

struct pid_set {
	pid_t *v;
	size_t n, cap;
};

static int pid_set_add(struct pid_set *s, pid_t pid, struct error *err)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		pid_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return error_set(err, -ENOMEM, "out of memory");
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = pid;
	return 0;
}

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static bool pid_in(const pid_t *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

/* ---- --cgroup DIR: cgroup.procs there and in every cgroup below ---------- */

static bool is_cgroup_dir(const char *path)
{
	char procs[4096];
	struct stat st;

	if (path[0] != '/' || stat(path, &st) || !S_ISDIR(st.st_mode))
		return false;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	return !access(procs, R_OK);
}

static int dir_pids(const char *dir, unsigned depth, struct pid_set *out, struct error *err)
{
	char path[4096];
	struct dirent *de;
	FILE *f;
	DIR *d;
	int pid, ret = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return 0;	/* removed meanwhile */
	while (!ret && fscanf(f, "%d", &pid) == 1)
		ret = pid > 0 ? pid_set_add(out, pid, err) : 0;
	fclose(f);
	if (ret || depth >= CGROUP_DEPTH_MAX || !(d = opendir(dir)))
		return ret;
	while (!ret && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < sizeof(path))
			ret = dir_pids(path, depth + 1, out, err);
	}
	closedir(d);
	return ret;
}

/* ---- --cgroup PATH or UNIT: against /proc/<pid>/cgroup -------------------- */

/* Whether a cgroup path is want or below it ("/system.slice/x.service"), or
 * (want without a slash: a unit, a slice) has a component named want. */
static bool path_selected(const char *path, size_t len, const char *want)
{
	size_t wl = strlen(want);

	while (wl > 1 && want[wl - 1] == '/')
		wl--;
	if (strchr(want, '/'))
		return len >= wl && !memcmp(path, want, wl) && (len == wl || path[wl] == '/' ||
								 wl == 1);
	for (size_t at = 0; at < len;) {
		size_t n;

		while (at < len && path[at] == '/')
			at++;
		for (n = 0; at + n < len && path[at + n] != '/'; n++)
			;
		if (n == wl && !memcmp(path + at, want, wl))
			return true;
		at += n;
	}
	return false;
}

static bool membership_selected(const char *membership, const char *const *want, size_t nwant)
{
	for (const char *line = membership; *line;) {
		size_t len = strcspn(line, "\n");
		const char *c1 = memchr(line, ':', len), *c2;

		c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
		for (size_t i = 0; c2 && i < nwant; i++)
			if (path_selected(c2 + 1, len - (size_t)(c2 + 1 - line), want[i]))
				return true;
		line += len + (line[len] == '\n');
	}
	return false;
}

/* ---- the scan --------------------------------------------------------------- */

struct scan {
	const char *root;
	const struct fleet_select *sel;
	const char **by_path;		/* the --cgroup values that are not directories */
	size_t nby_path;
	struct pid_set in_dirs;		/* sorted */
};

static bool selected(const struct scan *sc, pid_t pid, const char *comm)
{
	const struct fleet_select *sel = sc->sel;
	char text[8192];

	if (pid_in(sel->pids, sel->npids, pid))
		return true;
	if (sc->in_dirs.n && bsearch(&pid, sc->in_dirs.v, sc->in_dirs.n, sizeof(pid_t), pid_cmp))
		return true;
	if (sel->match && !regexec(sel->match, comm, 0, NULL, 0))
		return true;
	if (sel->match && !proc_read_cmdline(sc->root, pid, text, sizeof(text), NULL) &&
	    text[0] && !regexec(sel->match, text, 0, NULL, 0))
		return true;
	return sc->nby_path &&
	       !proc_read_cgroup_membership(sc->root, pid, text, sizeof(text), NULL) &&
	       membership_selected(text, sc->by_path, sc->nby_path);
}

static int scan_prepare(struct scan *sc, struct error *err)
{
	const struct fleet_select *sel = sc->sel;
	int ret = 0;

	sc->by_path = sel->ncgroups ? calloc(sel->ncgroups, sizeof(char *)) : NULL;
	if (sel->ncgroups && !sc->by_path)
		return error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; !ret && i < sel->ncgroups; i++) {
		if (is_cgroup_dir(sel->cgroups[i]))
			ret = dir_pids(sel->cgroups[i], 0, &sc->in_dirs, err);
		else
			sc->by_path[sc->nby_path++] = sel->cgroups[i];
	}
	if (sc->in_dirs.n)
		qsort(sc->in_dirs.v, sc->in_dirs.n, sizeof(pid_t), pid_cmp);
	return ret;
}

static int found_add(struct fleet_found **v, size_t *n, size_t *cap, pid_t pid,
		     uint64_t starttime, struct error *err)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 32;
		struct fleet_found *nv = realloc(*v, c * sizeof(**v));

		if (!nv)
			return error_set(err, -ENOMEM, "out of memory");
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = (struct fleet_found){ pid, starttime };
	return 0;
}

static int found_cmp(const void *a, const void *b)
{
	return pid_cmp(&((const struct fleet_found *)a)->pid, &((const struct fleet_found *)b)->pid);
}

int fleet_find(const char *root, const struct fleet_select *sel, struct fleet_found **out,
	       size_t *n, struct error *err)
{
	struct scan sc = { .root = root, .sel = sel };
	size_t cap = 0;
	char path[4096];
	struct dirent *de;
	pid_t self = getpid();
	DIR *d = NULL;
	int ret;

	*out = NULL;
	*n = 0;
	ret = scan_prepare(&sc, err);
	snprintf(path, sizeof(path), "%s/proc", root);
	if (!ret && !(d = opendir(path)))
		ret = error_set(err, -errno, "%s: %m", path);
	while (!ret && (de = readdir(d))) {
		struct proc_stat st;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self)
			continue;
		/* Gone since readdir: nothing to watch. */
		if (proc_read_stat(root, (pid_t)pid, &st, NULL) < 0 || st.state == 'Z' ||
		    st.state == 'X' || (st.flags & PF_KTHREAD))
			continue;
		if (selected(&sc, (pid_t)pid, st.comm))
			ret = found_add(out, n, &cap, (pid_t)pid, st.starttime, err);
	}
	if (d)
		closedir(d);
	free(sc.by_path);
	free(sc.in_dirs.v);
	if (ret) {
		free(*out);
		*out = NULL;
		*n = 0;
		return ret;
	}
	if (*n)
		qsort(*out, *n, sizeof(**out), found_cmp);
	return 0;
}
