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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/parse.h"
#include "base/util.h"
#include "observe/cgroup_int.h"


/* v1 memory.limit_in_bytes says "no limit" with LONG_MAX rounded down to a
 * page (9223372036854771712 with 4 KiB pages); nobody sets a real limit of
 * 4 EiB, so anything from 2^62 up means none, whatever the page size. */
#define V1_NO_LIMIT (1ull << 62)

/* Reads dir/name.  As text_read. */
static int cg_read(const char *dir, const char *name, struct text *t, struct error *err)
{
	char path[DIR_MAX + 64];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return error_set(err, -ENAMETOOLONG, "%s/%s: path too long", dir, name);
	return cgroup_text_read(path, t, err);
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
	for (cursor = t.buf; (line = cgroup_line_next(&cursor));) {
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
		if (!parse_cpu_list(t.buf, &w->count))
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
		uint64_t cores = (cg->cpu_quota_us + cg->cpu_period_us - 1) / cg->cpu_period_us;

		if (!n || cores < n)
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

	cgroup_limits_unset(out);
	if ((ret = process_check(root, pid, err)))
		return ret;
	snprintf(file, sizeof(file), "%s/proc/%d/cgroup", root, (int)pid);
	ret = cgroup_text_read(file, &t, err);
	if (ret == 0)		/* a kernel without cgroups, or the process just left */
		return process_check(root, pid, err);
	if (ret < 0)
		return ret;
	ret = cgroup_membership_parse(t.buf, file, h, err);
	free(t.buf);
	if (!ret)
		ret = cgroup_hiers_resolve(root, pid, h, err);
	if (!ret)
		ret = limits_fill(h, out, err);
	if (!ret)
		out->effective_cpus = effective_cpus(affinity_cpus, out);
	return ret;
}

uint64_t cgroup_oom_kills(const struct cgroup_limits *cg)
{
	uint64_t kills = UNSET;
	const struct key_value oom[] = { { "oom_kill", &kills } };

	if (!cg->version || !cg->dir[0])
		return UNSET;
	if (read_keys(cg->dir, cg->version == 1 ? "memory.oom_control" : "memory.events", oom,
		      ARRAY_SIZE(oom), NULL) < 0)
		return UNSET;
	return kills;
}
