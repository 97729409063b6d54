/* The target's container limits: cgroup v1, v2 and hybrid hosts.
 *
 * Three steps:
 *
 *  1. /proc/<pid>/cgroup names the process's cgroup in each hierarchy: one
 *     line per v1 hierarchy ("4:memory:/docker/abc", "3:cpu,cpuacct:/..."),
 *     and "0::/path" for v2.
 *  2. A mountinfo says where each hierarchy is mounted.  The cgroup's
 *     directory is mount point + (path minus the mount's root), the root
 *     being the part of the hierarchy the mount shows.
 *  3. The files are read there.  Limits a parent can tighten are read at
 *     every level up to the mount point, and the lowest wins: a leaf's
 *     memory.max of "max" says nothing about its parent's.
 *
 * Paths in /proc/<pid>/cgroup and mount roots in mountinfo are both given
 * relative to the cgroup namespace of the reader (heapdoc), so they can be
 * compared; a cgroup outside that namespace starts with "/..".
 */
#include "observe/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/parse.h"
#include "base/util.h"

#define DIR_MAX sizeof(((struct cgroup_limits *)0)->dir)
#define TEXT_MAX (16u << 20)	/* the largest file read: a busy node's mountinfo */
#define CPU_ID_MAX (1u << 20)	/* far above NR_CPUS: anything larger is garbage */

/* v1 memory.limit_in_bytes says "no limit" with LONG_MAX rounded down to a
 * page (9223372036854771712 with 4 KiB pages); nobody sets a real limit of
 * 4 EiB, so anything from 2^62 up means none, whatever the page size. */
#define V1_NO_LIMIT (1ull << 62)

/* The hierarchies heapdoc reads.  On v1 each controller can be a hierarchy
 * of its own (or share one: "cpu,cpuacct"); on v2 there is one. */
enum hier_id { HIER_V2, HIER_MEMORY, HIER_CPU, HIER_CPUSET, HIER_COUNT };

static const char *const hier_controller[HIER_COUNT] = {
	[HIER_MEMORY] = "memory",
	[HIER_CPU] = "cpu",
	[HIER_CPUSET] = "cpuset",
};

struct hier {
	bool member;		/* /proc/<pid>/cgroup has a line for it */
	char path[sizeof(((struct cgroup_limits *)0)->path)];
	bool found;		/* dir is known */
	bool approximate;	/* dir is a mount point standing in for path */
	char dir[DIR_MAX];	/* the cgroup's directory */
	size_t top_len;		/* dir's first top_len bytes: the mount point, where walks stop */
};

struct text {
	char *buf;		/* NUL-terminated, malloc'd */
	size_t len;
};

/* ---- reading files --------------------------------------------------- */

/* The next line of *cursor, cut in place; NULL at the end.  Empty lines are
 * returned too, so that callers count lines as an editor does. */
static char *line_next(char **cursor)
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
static int text_read(const char *path, struct text *t, struct error *err)
{
	int ret = file_read(path, TEXT_MAX, &t->buf, &t->len, err);

	if (ret == -ENOENT || ret == -ENOTDIR)
		return 0;
	if (ret < 0 && ret != -ENOMEM && ret != -EFBIG)
		return file_error(path, ret, err);
	return ret < 0 ? ret : 1;
}

static int join(char *buf, size_t len, const char *a, const char *b, struct error *err)
{
	int n = snprintf(buf, len, "%s%s", a, b);

	if (n < 0 || (size_t)n >= len)
		return error_set(err, -ENAMETOOLONG, "%s%s: path too long", a, b);
	return 0;
}

/* Reads dir/name.  As text_read. */
static int cg_read(const char *dir, const char *name, struct text *t, struct error *err)
{
	char path[DIR_MAX + 64];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return error_set(err, -ENAMETOOLONG, "%s/%s: path too long", dir, name);
	return text_read(path, t, err);
}

static int malformed(const char *dir, const char *name, struct error *err)
{
	return error_set(err, -EIO, "%s/%s: malformed", dir, name);
}

/* A decimal u64 from s, which must hold nothing else but trailing
 * whitespace.  "max" is UNSET when allow_max. */
static bool cgroup_number(const char *s, bool allow_max, uint64_t *v)
{
	if (allow_max && !strncmp(s, "max", 3)) {
		s += 3;
		*v = UNSET;
	} else if (!parse_u64(&s, 10, v)) {
		return false;
	}
	while (*s == '\n' || *s == ' ')
		s++;
	return *s == '\0';
}

/* A file holding one number ("max": UNSET).  1: read; 0: absent. */
static int read_number(const char *dir, const char *name, uint64_t *v, struct error *err)
{
	struct text t;
	int ret = cg_read(dir, name, &t, err);

	if (ret <= 0)
		return ret;
	if (!cgroup_number(t.buf, true, v))
		ret = malformed(dir, name, err);
	free(t.buf);
	return ret;
}

struct key_value {
	const char *key;
	uint64_t *value;
};

/* A file of "key value" lines (memory.stat, memory.events, oom_control):
 * fills the values of the keys asked for and leaves the others alone.  Only
 * the lines asked for must parse: newer kernels add keys. */
static int read_keys(const char *dir, const char *name, const struct key_value *kv,
		     size_t n, struct error *err)
{
	struct text t;
	char *cursor, *line;
	int ret = cg_read(dir, name, &t, err);

	if (ret <= 0)
		return ret;
	for (cursor = t.buf; (line = line_next(&cursor));) {
		char *sp = strchr(line, ' ');

		if (!sp)
			continue;
		*sp = '\0';
		for (size_t i = 0; i < n; i++) {
			if (strcmp(line, kv[i].key))
				continue;
			if (!cgroup_number(sp + 1, false, kv[i].value)) {
				ret = error_set(err, -EIO, "%s/%s: malformed %s", dir, name, line);
				goto out;
			}
		}
	}
out:
	free(t.buf);
	return ret;
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
static int membership_parse(char *text, const char *file, struct hier h[], struct error *err)
{
	char *cursor = text, *line;
	unsigned lineno = 0;

	while ((line = line_next(&cursor))) {
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
				if (has_item(ctrl, hier_controller[id], ','))
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
	return !strcmp(m->fstype, "cgroup") && has_item(m->super, hier_controller[id], ',');
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
	while ((line = line_next(&cursor))) {
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
	int ret = text_read(file, &t, err);

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
static int hiers_resolve(const char *root, pid_t pid, struct hier h[], struct error *err)
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
	if ((ret = join(prefix, sizeof(prefix), root, proc_root, err)))
		return ret;
	snprintf(file, sizeof(file), "%s/proc/%d/mountinfo", root, (int)pid);
	return mounts_map_file(file, prefix, true, h, err);
}

/* ---- step 3: the files ----------------------------------------------- */

/* Called for the cgroup's directory, then each parent up to the mount
 * point.  Returns <0 on error, 1 to stop there, 0 to go on. */
typedef int level_fn(const char *dir, void *ctx, struct error *err);

static int walk_up(const struct hier *h, level_fn *fn, void *ctx, struct error *err)
{
	char dir[DIR_MAX];

	memcpy(dir, h->dir, sizeof(dir));
	for (;;) {
		char *slash;
		int ret = fn(dir, ctx, err);

		if (ret)
			return ret < 0 ? ret : 0;
		slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < h->top_len)
			return 0;
		*slash = '\0';
	}
}

struct limit_walk {
	const char *file;	/* memory.max, memory.high, memory.limit_in_bytes */
	bool v1;		/* values from V1_NO_LIMIT up mean none */
	uint64_t lowest;	/* UNSET until a limit is seen */
	char lowest_dir[DIR_MAX];
	uint64_t wanted;	/* a value whose deepest directory is wanted */
	char wanted_dir[DIR_MAX];
};

static int limit_level(const char *dir, void *ctx, struct error *err)
{
	struct limit_walk *w = ctx;
	uint64_t v;
	int ret = read_number(dir, w->file, &v, err);

	if (ret <= 0)
		return ret;
	if (w->v1 && v >= V1_NO_LIMIT)
		v = UNSET;
	if (v < w->lowest) {
		w->lowest = v;
		strcpy(w->lowest_dir, dir);
	}
	if (IS_SET(v) && v == w->wanted && !w->wanted_dir[0])
		strcpy(w->wanted_dir, dir);
	return 0;
}

static int memory_v2(const struct hier *h, struct cgroup_limits *out, struct error *err)
{
	struct limit_walk max = { .file = "memory.max", .lowest = UNSET, .wanted = UNSET };
	struct limit_walk high = { .file = "memory.high", .lowest = UNSET, .wanted = UNSET };
	const struct key_value stat[] = {
		{ "anon", &out->anon },
		{ "file", &out->file },
		{ "inactive_file", &out->inactive_file },
	};
	const struct key_value events[] = { { "oom_kill", &out->oom_kills } };
	int ret;

	if ((ret = walk_up(h, limit_level, &max, err)) ||
	    (ret = walk_up(h, limit_level, &high, err)))
		return ret;
	out->memory_max = max.lowest;
	strcpy(out->memory_max_dir, max.lowest_dir);
	out->memory_high = high.lowest;
	if ((ret = read_number(h->dir, "memory.current", &out->memory_current, err)) < 0 ||
	    (ret = read_number(h->dir, "memory.peak", &out->memory_peak, err)) < 0 ||
	    (ret = read_keys(h->dir, "memory.stat", stat, ARRAY_SIZE(stat), err)) < 0 ||
	    (ret = read_keys(h->dir, "memory.events", events, ARRAY_SIZE(events), err)) < 0)
		return ret;
	return 0;
}

static int memory_v1(const struct hier *h, struct cgroup_limits *out, struct error *err)
{
	struct limit_walk max = { .file = "memory.limit_in_bytes", .v1 = true,
				  .lowest = UNSET, .wanted = UNSET };
	uint64_t kernel_limit = UNSET;
	const struct key_value stat[] = {
		{ "total_rss", &out->anon },
		{ "total_cache", &out->file },
		{ "total_inactive_file", &out->inactive_file },
		{ "hierarchical_memory_limit", &kernel_limit },
	};
	const struct key_value oom[] = { { "oom_kill", &out->oom_kills } };
	int ret;

	if ((ret = read_keys(h->dir, "memory.stat", stat, ARRAY_SIZE(stat), err)) < 0)
		return ret;
	max.wanted = kernel_limit;
	if ((ret = walk_up(h, limit_level, &max, err)))
		return ret;
	if (!IS_SET(kernel_limit)) {
		/* An older memory.stat without the kernel's own figure. */
		out->memory_max = max.lowest;
		strcpy(out->memory_max_dir, max.lowest_dir);
	} else {
		/* The kernel's figure counts the parents above the mount point,
		 * which heapdoc cannot see, and knows whether parents count at
		 * all (use_hierarchy on kernels before 5.11): it wins. */
		out->memory_max = kernel_limit >= V1_NO_LIMIT ? UNSET : kernel_limit;
		if (IS_SET(out->memory_max))
			strcpy(out->memory_max_dir, max.wanted_dir);
	}
	if ((ret = read_number(h->dir, "memory.usage_in_bytes", &out->memory_current, err)) < 0 ||
	    (ret = read_number(h->dir, "memory.max_usage_in_bytes", &out->memory_peak, err)) < 0 ||
	    (ret = read_keys(h->dir, "memory.oom_control", oom, ARRAY_SIZE(oom), err)) < 0)
		return ret;
	return 0;
}

struct quota_walk {
	bool v1;
	uint64_t quota, period;	/* the tightest seen; UNSET until one is */
	char dir[DIR_MAX];
};

/* The quota of one level: v2 cpu.max "QUOTA PERIOD" or "max PERIOD"; v1
 * cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us.  1: a quota; 0: none. */
static int quota_read(const char *dir, bool v1, uint64_t *quota, uint64_t *period,
		      struct error *err)
{
	const char *name = v1 ? "cpu.cfs_quota_us" : "cpu.max";
	struct text t;
	char *sp;
	int ret = cg_read(dir, name, &t, err);

	if (ret <= 0)
		return ret;
	if (v1) {
		if (!strcmp(t.buf, "-1\n") || !strcmp(t.buf, "-1"))
			ret = 0;
		else if (!cgroup_number(t.buf, false, quota))
			ret = malformed(dir, name, err);
		else if ((ret = read_number(dir, "cpu.cfs_period_us", period, err)) > 0 &&
			 !IS_SET(*period))
			ret = malformed(dir, "cpu.cfs_period_us", err);
	} else {
		sp = strchr(t.buf, ' ');
		if (sp)
			*sp = '\0';
		if (!sp || !cgroup_number(t.buf, true, quota) || !cgroup_number(sp + 1, false, period))
			ret = malformed(dir, name, err);
		else if (!IS_SET(*quota))
			ret = 0;
	}
	free(t.buf);
	if (ret > 0 && (*quota == 0 || *period == 0))
		ret = malformed(dir, name, err);
	return ret;
}

static int quota_level(const char *dir, void *ctx, struct error *err)
{
	struct quota_walk *w = ctx;
	uint64_t quota, period;
	int ret = quota_read(dir, w->v1, &quota, &period, err);

	if (ret <= 0)
		return ret;
	/* quota/period < w->quota/w->period, without rounding. */
	if (!IS_SET(w->quota) ||
	    (unsigned __int128)quota * w->period < (unsigned __int128)w->quota * period) {
		w->quota = quota;
		w->period = period;
		strcpy(w->dir, dir);
	}
	return 0;
}

static int cpu_quota(const struct hier *h, bool v1, struct cgroup_limits *out,
		     struct error *err)
{
	struct quota_walk w = { .v1 = v1, .quota = UNSET, .period = UNSET };
	int ret = walk_up(h, quota_level, &w, err);

	if (ret)
		return ret;
	if (IS_SET(w.quota)) {
		out->cpu_quota_us = w.quota;
		out->cpu_period_us = w.period;
		out->cpu_quota_cores = (double)w.quota / (double)w.period;
		strcpy(out->cpu_max_dir, w.dir);
	}
	return 0;
}

/* Counts the CPUs of a list such as "0-3,8,10-11" ("" is none). */
static bool cpulist_count(const char *s, unsigned *count)
{
	unsigned long n = 0;

	while (*s && *s != '\n') {
		unsigned long first, last;
		char *end;

		if (*s < '0' || *s > '9')
			return false;
		first = last = strtoul(s, &end, 10);
		if (*end == '-') {
			if (end[1] < '0' || end[1] > '9')
				return false;
			last = strtoul(end + 1, &end, 10);
		}
		if (first > last || last >= CPU_ID_MAX)
			return false;
		n += last - first + 1;
		if (n > CPU_ID_MAX)
			return false;
		s = end;
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return false;
	}
	*count = (unsigned)n;
	return true;
}

struct cpuset_walk {
	const char *const *files;	/* the first that exists is read */
	unsigned count;
};

/* The nearest level with a non-empty list: in v2 a cgroup without the
 * cpuset controller enabled uses its parent's cpuset. */
static int cpuset_level(const char *dir, void *ctx, struct error *err)
{
	struct cpuset_walk *w = ctx;
	int ret = 0;

	for (const char *const *name = w->files; *name && !ret; name++) {
		struct text t;

		ret = cg_read(dir, *name, &t, err);
		if (ret <= 0)
			continue;
		if (!cpulist_count(t.buf, &w->count))
			ret = malformed(dir, *name, err);
		free(t.buf);
	}
	return ret < 0 ? ret : w->count > 0;
}

static int cpuset_count(const struct hier *h, bool v1, struct cgroup_limits *out,
			struct error *err)
{
	static const char *const v1_files[] = { "cpuset.effective_cpus", "cpuset.cpus", NULL };
	static const char *const v2_files[] = { "cpuset.cpus.effective", NULL };
	struct cpuset_walk w = { .files = v1 ? v1_files : v2_files };
	int ret = walk_up(h, cpuset_level, &w, err);

	if (!ret)
		out->cpuset_cpus = w.count;
	return ret;
}

static unsigned effective_cpus(unsigned affinity, const struct cgroup_limits *cg)
{
	unsigned n = 0;

	if (affinity)
		n = affinity;
	if (cg->cpuset_cpus && (!n || cg->cpuset_cpus < n))
		n = cg->cpuset_cpus;
	if (IS_SET(cg->cpu_quota_us)) {
		/* ceil(quota / period), without overflow; a quota of more
		 * CPUs than an unsigned counts bounds nothing. */
		uint64_t cores = cg->cpu_quota_us / cg->cpu_period_us +
				 (cg->cpu_quota_us % cg->cpu_period_us != 0);

		if (cores <= UINT_MAX && (!n || cores < n))
			n = (unsigned)MAX(cores, 1);
	}
	return n;
}

static int limits_fill(struct hier h[], struct cgroup_limits *out, struct error *err)
{
	const struct hier *mem = NULL, *cpu = NULL, *cpuset = NULL;
	bool cpu_v1 = h[HIER_CPU].found, cpuset_v1 = h[HIER_CPUSET].found;
	int ret = 0;

	if (h[HIER_MEMORY].found) {
		mem = &h[HIER_MEMORY];
		out->version = 1;
		ret = memory_v1(mem, out, err);
	} else if (h[HIER_V2].found) {
		mem = &h[HIER_V2];
		out->version = 2;
		ret = memory_v2(mem, out, err);
	} else if (cpu_v1 || cpuset_v1) {
		out->version = 1;
	}
	if (ret)
		return ret;
	if (mem) {
		strcpy(out->path, mem->path);
		strcpy(out->dir, mem->dir);
	}
	/* On a hybrid host a controller not bound to v1 may be on v2. */
	cpu = cpu_v1 ? &h[HIER_CPU] : h[HIER_V2].found ? &h[HIER_V2] : NULL;
	cpuset = cpuset_v1 ? &h[HIER_CPUSET] : h[HIER_V2].found ? &h[HIER_V2] : NULL;
	if (cpu && (ret = cpu_quota(cpu, cpu_v1, out, err)))
		return ret;
	if (cpuset && (ret = cpuset_count(cpuset, cpuset_v1, out, err)))
		return ret;
	out->hybrid = out->version == 1 && h[HIER_V2].found;
	out->approximate = (mem && mem->approximate) || (cpu && cpu->approximate) ||
			   (cpuset && cpuset->approximate);
	return 0;
}

static void limits_init(struct cgroup_limits *out)
{
	memset(out, 0, sizeof(*out));
	out->memory_max = out->memory_high = UNSET;
	out->memory_current = out->memory_peak = UNSET;
	out->anon = out->file = out->inactive_file = UNSET;
	out->oom_kills = UNSET;
	out->cpu_quota_us = out->cpu_period_us = UNSET;
	out->cpu_quota_cores = NAN;
}

/* -ESRCH when root/proc/<pid> does not exist. */
static int process_check(const char *root, pid_t pid, struct error *err)
{
	char path[DIR_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/proc/%d", root, (int)pid);
	if (pid <= 0 || (stat(path, &st) < 0 && errno == ENOENT))
		return error_set(err, -ESRCH, "pid %d: no such process", (int)pid);
	return 0;
}

int cgroup_limits_for(const char *root, pid_t pid, unsigned affinity_cpus,
		      struct cgroup_limits *out, struct error *err)
{
	struct hier h[HIER_COUNT] = { 0 };
	char file[DIR_MAX];
	struct text t;
	int ret;

	limits_init(out);
	if ((ret = process_check(root, pid, err)))
		return ret;
	snprintf(file, sizeof(file), "%s/proc/%d/cgroup", root, (int)pid);
	ret = text_read(file, &t, err);
	if (ret == 0) {		/* a kernel without cgroups, or the process just left */
		ret = process_check(root, pid, err);
	} else if (ret > 0) {
		ret = membership_parse(t.buf, file, h, err);
		free(t.buf);
		if (!ret)
			ret = hiers_resolve(root, pid, h, err);
		if (!ret)
			ret = limits_fill(h, out, err);
	}
	/* Without a cgroup the process's own CPU mask still bounds it. */
	if (!ret)
		out->effective_cpus = effective_cpus(affinity_cpus, out);
	return ret;
}
