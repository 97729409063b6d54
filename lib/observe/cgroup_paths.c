/* Where a process's cgroups are: steps 1 and 2 of cgroup.c's plan, and
 * the reading of small cgroup files they share with step 3. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "base/util.h"
#include "observe/cgroup_int.h"

const char *const cgroup_hier_controller[HIER_COUNT] = {
	[HIER_MEMORY] = "memory",
	[HIER_CPU] = "cpu",
	[HIER_CPUSET] = "cpuset",
};

/* ---- reading files --------------------------------------------------- */

/* The next line of *cursor, cut in place; NULL at the end.  Empty lines are
 * returned too, so that callers count lines as an editor does. */
char *cgroup_line_next(char **cursor)
{
	char *line = *cursor, *nl;

	if (!*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl)
		*nl++ = '\0';
	*cursor = nl ? nl : line + strlen(line);
	return line;
}

static int file_error(const char *path, int code, struct error *err)
{
	if (code == -EACCES || code == -EPERM)
		return error_set(err, -EACCES, "%s: permission denied", path);
	if (code == -ESRCH)
		return error_set(err, -ESRCH, "%s: the process is gone", path);
	return error_set(err, code, "%s: %s", path, strerror(-code));
}

/* Reads path whole.  1: read; 0: no such file (an older kernel, a controller
 * not mounted or not enabled here); negative: an error, set in err. */
int cgroup_text_read(const char *path, struct text *t, struct error *err)
{
	int ret = file_read(path, TEXT_MAX, &t->buf, &t->len, err);

	if (ret == -ENOENT || ret == -ENOTDIR)
		return 0;
	if (ret < 0 && ret != -ENOMEM && ret != -EFBIG)
		return file_error(path, ret, err);
	return ret < 0 ? ret : 1;
}

int cgroup_join(char *buf, size_t len, const char *a, const char *b, struct error *err)
{
	int n = snprintf(buf, len, "%s%s", a, b);

	if (n < 0 || (size_t)n >= len)
		return error_set(err, -ENAMETOOLONG, "%s%s: path too long", a, b);
	return 0;
}

/* ---- step 1: /proc/<pid>/cgroup -------------------------------------- */

/* Whether word is one of the sep-separated items of list. */
static bool has_item(const char *list, const char *word, char sep)
{
	size_t n = strlen(word);

	for (const char *p = list;; p++) {
		if (!strncmp(p, word, n) && (p[n] == sep || p[n] == '\0'))
			return true;
		p = strchr(p, sep);
		if (!p)
			return false;
	}
}

static int hier_set_path(struct hier *h, const char *path, const char *file,
			 unsigned lineno, struct error *err)
{
	if (strlen(path) >= sizeof(h->path))
		return error_set(err, -ENAMETOOLONG, "%s: line %u: cgroup path too long",
				 file, lineno);
	strcpy(h->path, path);
	h->member = true;
	return 0;
}

/* Lines "ID:controllers:path"; the path may itself hold colons. */
int cgroup_membership_parse(char *text, const char *file, struct hier h[], struct error *err)
{
	char *cursor = text, *line;
	unsigned lineno = 0;

	while ((line = cgroup_line_next(&cursor))) {
		char *ctrl, *path;
		int ret = 0;

		lineno++;
		if (!*line)
			continue;
		ctrl = strchr(line, ':');
		path = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (!path || ctrl == line || strspn(line, "0123456789") != (size_t)(ctrl - line) ||
		    path[1] != '/')
			return error_set(err, -EIO, "%s: line %u: not ID:controllers:path",
					 file, lineno);
		*ctrl++ = '\0';
		*path++ = '\0';
		if (!strcmp(line, "0") && !*ctrl) {
			ret = hier_set_path(&h[HIER_V2], path, file, lineno, err);
		} else {
			for (int id = HIER_MEMORY; id < HIER_COUNT && !ret; id++) {
				if (has_item(ctrl, cgroup_hier_controller[id], ','))
					ret = hier_set_path(&h[id], path, file, lineno, err);
			}
		}
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- step 2: mountinfo ----------------------------------------------- */

struct mount {
	char *root;		/* the part of the hierarchy this mount shows */
	char *point;
	char *fstype;
	char *super;		/* super options: "rw,cpu,cpuacct" */
};

/* Undoes mountinfo's octal escapes (" " is "\040", "\" is "\134") in place. */
static bool unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (*s != '\\') {
			*out++ = *s;
			continue;
		}
		if (s[1] < '0' || s[1] > '3' || s[2] < '0' || s[2] > '7' ||
		    s[3] < '0' || s[3] > '7')
			return false;
		*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
		s += 3;
	}
	*out = '\0';
	return true;
}

/* "ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
static bool mount_parse(char *line, struct mount *m)
{
	char *field[64], *save = NULL;
	size_t n = 0, dash;

	for (char *f = strtok_r(line, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
		if (n == ARRAY_SIZE(field))
			return false;
		field[n++] = f;
	}
	for (dash = 6; dash < n && strcmp(field[dash], "-"); dash++)
		;
	if (n < 10 || dash + 4 > n)
		return false;
	m->root = field[3];
	m->point = field[4];
	m->fstype = field[dash + 1];
	m->super = field[dash + 3];
	/* Not every root is a path: a bind-mounted namespace shows
	 * "net:[4026532283]". */
	return unescape(m->root) && unescape(m->point);
}

static bool mount_serves(const struct mount *m, enum hier_id id)
{
	if (id == HIER_V2)
		return !strcmp(m->fstype, "cgroup2");
	return !strcmp(m->fstype, "cgroup") && has_item(m->super, cgroup_hier_controller[id], ',');
}

static bool has_dotdot(const char *path)
{
	for (const char *p = strstr(path, ".."); p; p = strstr(p + 1, ".."))
		if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
			return true;
	return false;
}

/* The part of path below the mount's root ("" for the root itself), or NULL
 * when the mount does not show path. */
static const char *path_below(const char *path, const char *root)
{
	size_t n = strlen(root);
	const char *rel;

	if (!strcmp(root, "/"))
		rel = strcmp(path, "/") ? path : "";
	else if (!strncmp(path, root, n) && (path[n] == '/' || path[n] == '\0'))
		rel = path + n;
	else
		return NULL;
	/* "/.." climbs out of the reader's cgroup namespace: never let it
	 * climb out of the mount point as well. */
	return has_dotdot(rel) ? NULL : rel;
}

/* dir = prefix + point + rel; the walk stops at prefix + point. */
static int hier_place(struct hier *h, const char *prefix, const char *point,
		      const char *rel, struct error *err)
{
	int n;

	if (!strcmp(point, "/"))
		point = "";
	n = snprintf(h->dir, sizeof(h->dir), "%s%s%s", prefix, point, rel);
	if (n < 0 || (size_t)n >= sizeof(h->dir))
		return error_set(err, -ENAMETOOLONG, "%s%s%s: path too long", prefix, point, rel);
	h->top_len = strlen(prefix) + strlen(point);
	h->found = true;
	return 0;
}

struct mounts {
	struct mount *v;	/* pointing into the mountinfo's text */
	size_t n;
};

static int mounts_parse(char *text, const char *file, struct mounts *m, struct error *err)
{
	char *cursor = text, *line;
	unsigned lineno = 0;
	size_t cap = 0;

	m->v = NULL;
	m->n = 0;
	while ((line = cgroup_line_next(&cursor))) {
		lineno++;
		if (!*line)
			continue;
		if (m->n == cap) {
			struct mount *grown = reallocarray(m->v, cap ? cap * 2 : 64, sizeof(*grown));

			if (!grown)
				return error_set(err, -ENOMEM, "%s: out of memory", file);
			m->v = grown;
			cap = cap ? cap * 2 : 64;
		}
		if (!mount_parse(line, &m->v[m->n]))
			return error_set(err, -EIO, "%s: line %u: malformed", file, lineno);
		m->n++;
	}
	return 0;
}

/* Whether a later mount on the same point covers mount i: of a stack, only
 * the top is visible.  Docker on v1 bind-mounts the container's cgroup
 * over the hierarchy's mount, so both appear in the container's mountinfo
 * and only the second can be read there. */
static bool mount_covered(const struct mounts *m, size_t i)
{
	for (size_t j = i + 1; j < m->n; j++)
		if (!strcmp(m->v[j].point, m->v[i].point))
			return true;
	return false;
}

/* Maps every member hierarchy not found yet through the visible mounts.
 * Among the mounts that show the cgroup, the one with the shortest root
 * wins: it lets the walk go highest.  With approximate, a cgroup no mount
 * shows (a "/.." path) gets the mount point of a mount of its whole
 * hierarchy as seen from heapdoc's namespace (root "/"): inside a container
 * with its own cgroup namespace that is the container's cgroup, the
 * closest heapdoc can see, and the result says it is a stand-in. */
static int mounts_map(const struct mounts *m, const char *prefix, bool approximate,
		      struct hier h[], struct error *err)
{
	size_t best_root[HIER_COUNT];
	bool done[HIER_COUNT];

	for (int id = 0; id < HIER_COUNT; id++) {
		best_root[id] = SIZE_MAX;
		done[id] = !h[id].member || h[id].found;
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct mount *mnt = &m->v[i];

		for (int id = 0; id < HIER_COUNT; id++) {
			size_t root_len = strlen(mnt->root);
			const char *rel;
			int ret;

			if (done[id] || !mount_serves(mnt, id) || mount_covered(m, i))
				continue;
			rel = path_below(h[id].path, mnt->root);
			if (rel && root_len < best_root[id]) {
				ret = hier_place(&h[id], prefix, mnt->point, rel, err);
				best_root[id] = root_len;
				h[id].approximate = false;
			} else if (!rel && approximate && !h[id].found && !strcmp(mnt->root, "/")) {
				ret = hier_place(&h[id], prefix, mnt->point, "", err);
				h[id].approximate = true;
			} else {
				continue;
			}
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* Maps the hierarchies through the mountinfo file, whose mount points are
 * reached under prefix.  A missing file maps nothing. */
static int mounts_map_file(const char *file, const char *prefix, bool approximate,
			   struct hier h[], struct error *err)
{
	struct mounts m = { 0 };
	struct text t;
	int ret = cgroup_text_read(file, &t, err);

	if (ret <= 0)
		return ret;
	ret = mounts_parse(t.buf, file, &m, err);
	if (!ret)
		ret = mounts_map(&m, prefix, approximate, h, err);
	free(m.v);
	free(t.buf);
	return ret;
}

/* Whether pid is in heapdoc's own mount namespace.  When that cannot be
 * told (no permission to read the links, or a fake tree without them), it
 * is taken to be: the common case of a process of one's own. */
static bool same_mount_ns(const char *root, pid_t pid)
{
	char path[DIR_MAX], mine[64], theirs[64];
	ssize_t a, b;

	snprintf(path, sizeof(path), "%s/proc/self/ns/mnt", root);
	a = readlink(path, mine, sizeof(mine));
	snprintf(path, sizeof(path), "%s/proc/%d/ns/mnt", root, (int)pid);
	b = readlink(path, theirs, sizeof(theirs));
	if (a <= 0 || b <= 0)
		return true;
	return a == b && !memcmp(mine, theirs, a);
}

/* Finds a directory for every hierarchy the process is a member of. */
int cgroup_hiers_resolve(const char *root, pid_t pid, struct hier h[], struct error *err)
{
	char file[DIR_MAX], prefix[DIR_MAX], proc_root[64] = "";
	int ret;

	/* heapdoc's own mounts first: on a host they show a container's
	 * cgroup together with its parents, where a pod's limit may be. */
	snprintf(file, sizeof(file), "%s/proc/self/mountinfo", root);
	if ((ret = mounts_map_file(file, root, false, h, err)))
		return ret;

	/* Then the process's own, whose mount points are paths in its mount
	 * namespace: reach them through its root directory. */
	if (!same_mount_ns(root, pid))
		snprintf(proc_root, sizeof(proc_root), "/proc/%d/root", (int)pid);
	if ((ret = cgroup_join(prefix, sizeof(prefix), root, proc_root, err)))
		return ret;
	snprintf(file, sizeof(file), "%s/proc/%d/mountinfo", root, (int)pid);
	return mounts_map_file(file, prefix, true, h, err);
}
