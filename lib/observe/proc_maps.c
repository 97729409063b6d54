/* /proc/<pid>/maps, smaps and smaps_rollup, and what each mapping is. */
#include "observe/proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "observe/proc_file.h"
#include "base/util.h"

/* glibc's HEAP_MAX_SIZE on 64-bit: 2 × DEFAULT_MMAP_THRESHOLD_MAX = 64 MiB.
 * Every non-main arena heap is a mapping of at most this size, aligned to
 * it (glibc finds a chunk's heap by masking its address). */
#define ARENA_HEAP_MAX (64ull << 20)

/* The largest ---p region below a thread stack still taken for its guard.
 * glibc's default guard is one page; programs raise it to a few pages. */
#define STACK_GUARD_MAX (1ull << 20)

/* ---- parsing ----------------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool parse_hex_to(const char **p, char delim, uint64_t *out)
{
	if (!parse_u64(p, 16, out) || **p != delim)
		return false;
	(*p)++;
	return true;
}

static bool perm_is(char c, const char *allowed)
{
	return c && strchr(allowed, c);
}

/* "start-end perms offset major:minor inode   path" (path may be absent,
 * may hold spaces, and ends with " (deleted)" for an unlinked file). */
static bool parse_mapping(const char *line, struct mapping *m)
{
	const char *p = line;
	uint64_t major, minor;

	memset(m, 0, sizeof(*m));
	m->rss = m->pss = m->anonymous = m->private_dirty = m->swap = UNSET;
	if (!parse_hex_to(&p, '-', &m->start) || !parse_hex_to(&p, ' ', &m->end) ||
	    m->end <= m->start)
		return false;
	if (!perm_is(p[0], "r-") || !perm_is(p[1], "w-") || !perm_is(p[2], "x-") ||
	    !perm_is(p[3], "ps") || p[4] != ' ')
		return false;
	memcpy(m->perms, p, 4);
	m->perms[4] = '\0';
	p += 5;
	if (!parse_hex_to(&p, ' ', &m->offset) || !parse_hex_to(&p, ':', &major) ||
	    !parse_hex_to(&p, ' ', &minor) || major > UINT32_MAX || minor > UINT32_MAX ||
	    !parse_u64(&p, 10, &m->inode))
		return false;
	m->dev_major = (unsigned)major;
	m->dev_minor = (unsigned)minor;
	if (*p && *p != ' ')
		return false;
	/* A path longer than the field is cut; the kernel's are below 4 KiB
	 * and what heapdoc matches on (prefixes) stays intact. */
	snprintf(m->path, sizeof(m->path), "%s", parse_skip_blanks(p));
	return true;
}

/* A mapping's first line, as opposed to a "Key: value" line of smaps: its
 * first word is "hex-hex". */
static bool is_mapping_line(const char *line)
{
	const char *p = line;
	uint64_t v;

	return parse_u64(&p, 16, &v) && *p == '-';
}

static int maps_push(struct maps *m, const struct mapping *one, struct error *err)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct mapping *v = reallocarray(m->v, cap, sizeof(*v));

		if (!v)
			return error_set(err, -ENOMEM, "out of memory for %zu mappings", cap);
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = *one;
	return 0;
}

/* The smaps fields heapdoc keeps, per mapping and in the rollup. */
struct smaps_field {
	const char *key;
	size_t off;
};

static const struct smaps_field mapping_fields[] = {
	{ "Rss", offsetof(struct mapping, rss) },
	{ "Pss", offsetof(struct mapping, pss) },
	{ "Anonymous", offsetof(struct mapping, anonymous) },
	{ "Private_Dirty", offsetof(struct mapping, private_dirty) },
	{ "Swap", offsetof(struct mapping, swap) },
};

static const struct smaps_field rollup_fields[] = {
	{ "Rss", offsetof(struct smaps_rollup, rss) },
	{ "Pss", offsetof(struct smaps_rollup, pss) },
	{ "Anonymous", offsetof(struct smaps_rollup, anonymous) },
	{ "Private_Dirty", offsetof(struct smaps_rollup, private_dirty) },
	{ "Shared_Clean", offsetof(struct smaps_rollup, shared_clean) },
	{ "Swap", offsetof(struct smaps_rollup, swap) },
};

/* One "Key:   value kB" line into base + the field's offset (unknown keys,
 * and keys without a size such as VmFlags, are skipped). */
static int smaps_field_line(struct proc_file *pf, const struct smaps_field *fields,
			    size_t nfields, void *base, struct error *err)
{
	char *colon = strchr(pf->line, ':');
	char *blank = strpbrk(pf->line, " \t");

	if (!colon || colon == pf->line || (blank && blank < colon))
		return proc_file_bad(pf, err, "neither a mapping nor \"Key: value\"");
	*colon = '\0';
	for (size_t i = 0; i < nfields; i++) {
		if (strcmp(pf->line, fields[i].key))
			continue;
		if (!parse_kb(colon + 1, (uint64_t *)((char *)base + fields[i].off)))
			return proc_file_bad(pf, err, "bad size in %s", fields[i].key);
		break;
	}
	return 0;
}

/* Reads maps (with_fields false) or smaps (true) into out. */
static int read_mappings(const char *root, pid_t pid, const char *name, bool with_fields,
			 struct maps *out, struct error *err)
{
	struct proc_file pf;
	struct mapping one;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = proc_file_open(&pf, root, pid, name, err);
	if (ret < 0)
		return ret;
	while ((ret = proc_file_next(&pf, err)) > 0) {
		if (with_fields && !is_mapping_line(pf.line)) {
			if (!out->n) {
				ret = proc_file_bad(&pf, err, "a field before any mapping");
				goto out;
			}
			ret = smaps_field_line(&pf, mapping_fields, ARRAY_SIZE(mapping_fields),
					       &out->v[out->n - 1], err);
			if (ret < 0)
				goto out;
			continue;
		}
		if (!parse_mapping(pf.line, &one)) {
			ret = proc_file_bad(&pf, err, "not a mapping: \"%.60s\"", pf.line);
			goto out;
		}
		/* The kernel writes the file a page at a time and goes on from
		 * the end of the last mapping it wrote: one that grew meanwhile
		 * (a heap, a stack) comes again, with its new end.  The later
		 * line is the truer one. */
		if (out->n && one.start == out->v[out->n - 1].start) {
			out->v[out->n - 1] = one;
			continue;
		}
		/* maps_find and the classification rely on address order. */
		if (out->n && one.start < out->v[out->n - 1].end) {
			ret = proc_file_bad(&pf, err, "mapping out of address order");
			goto out;
		}
		ret = maps_push(out, &one, err);
		if (ret < 0)
			goto out;
	}
	if (ret < 0)
		goto out;
	if (!out->n) {
		/* Zombies and kernel threads have no mappings; a live process
		 * always has some. */
		ret = proc_explain_no_memory(root, pid, err);
		if (!ret)
			ret = error_set(err, -EIO, "%s: no mappings", pf.path);
		goto out;
	}
	maps_classify(out);
out:
	proc_file_close(&pf);
	if (ret < 0)
		maps_free(out);
	return ret;
}

int proc_read_maps(const char *root, pid_t pid, struct maps *out, struct error *err)
{
	return read_mappings(root, pid, "maps", false, out, err);
}

int proc_read_smaps(const char *root, pid_t pid, struct maps *out, struct error *err)
{
	return read_mappings(root, pid, "smaps", true, out, err);
}

void maps_free(struct maps *m)
{
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

int proc_read_smaps_rollup(const char *root, pid_t pid, struct smaps_rollup *out,
			   struct error *err)
{
	struct proc_file pf;
	bool header = false;
	int ret;

	out->rss = out->pss = out->anonymous = UNSET;
	out->private_dirty = out->shared_clean = out->swap = UNSET;
	ret = proc_file_open(&pf, root, pid, "smaps_rollup", err);
	if (ret < 0)
		return ret;
	while ((ret = proc_file_next(&pf, err)) > 0) {
		if (!header) {
			/* "00400000-7ffd5000 ---p 00000000 00:00 0   [rollup]" */
			if (!is_mapping_line(pf.line)) {
				ret = proc_file_bad(&pf, err, "no [rollup] line first");
				goto out;
			}
			header = true;
			continue;
		}
		ret = smaps_field_line(&pf, rollup_fields, ARRAY_SIZE(rollup_fields), out, err);
		if (ret < 0)
			goto out;
	}
	if (ret < 0)
		goto out;
	if (!header) {
		ret = proc_explain_no_memory(root, pid, err);
		if (!ret)
			ret = error_set(err, -EIO, "%s: empty", pf.path);
	} else if (!IS_SET(out->rss)) {
		ret = error_set(err, -EIO, "%s: no Rss line", pf.path);
	}
out:
	proc_file_close(&pf);
	return ret;
}

/* ---- classification ---------------------------------------------------- */

static bool is_anonymous(const struct mapping *m)
{
	return !m->path[0];
}

static bool is_private_rw(const struct mapping *m)
{
	return m->perms[0] == 'r' && m->perms[1] == 'w' && m->perms[3] == 'p';
}

/* PROT_NONE, private, anonymous: a guard page or address space reserved for
 * later (the unused tail of an arena heap). */
static bool is_reservation(const struct mapping *m)
{
	return is_anonymous(m) && !strcmp(m->perms, "---p");
}

/* glibc's new_heap reserves 64 MiB aligned to 64 MiB and makes only the used
 * front read-write, so a heap is an aligned rw mapping followed by the
 * reservation, or a whole aligned 64 MiB once it is full (and consecutive
 * full heaps of one arena may merge into one mapping). */
static bool is_arena_heap(const struct maps *m, size_t i)
{
	const struct mapping *cur = &m->v[i];
	const struct mapping *next = i + 1 < m->n ? &m->v[i + 1] : NULL;

	if (cur->start % ARENA_HEAP_MAX)
		return false;
	if (cur->end % ARENA_HEAP_MAX == 0)
		return true;
	return next && next->start == cur->end && is_reservation(next);
}

/* glibc (and most thread libraries) put a PROT_NONE guard right below a
 * thread's stack, which grows down towards it. */
static bool is_thread_stack(const struct maps *m, size_t i)
{
	const struct mapping *cur = &m->v[i];
	const struct mapping *prev = i ? &m->v[i - 1] : NULL;

	return prev && prev->end == cur->start && is_reservation(prev) &&
	       prev->end - prev->start <= STACK_GUARD_MAX;
}

static bool is_shmem(const struct mapping *m)
{
	const char *p = m->path;

	if (starts_with(p, "/dev/shm/") || starts_with(p, "/SYSV") ||
	    starts_with(p, "/memfd:") || starts_with(p, "[anon_shmem:"))
		return true;
	/* MAP_SHARED|MAP_ANONYMOUS shows as "/dev/zero (deleted)". */
	return m->perms[3] == 's' && (!p[0] || starts_with(p, "/dev/zero"));
}

static enum mapping_kind classify_one(const struct maps *m, size_t i)
{
	const struct mapping *cur = &m->v[i];
	const char *p = cur->path;

	if (!strncmp(cur->perms, "---", 3))
		return MAPPING_SPECIAL;
	if (!strcmp(p, "[heap]"))
		return MAPPING_BRK_HEAP;
	if (!strcmp(p, "[stack]"))
		return MAPPING_STACK;
	if (is_shmem(cur))
		return MAPPING_SHMEM;
	if (starts_with(p, "[anon:"))	/* named with PR_SET_VMA_ANON_NAME */
		return MAPPING_ANON;
	if (p[0] == '[')		/* [vdso] [vvar] [vsyscall] [uprobes] */
		return MAPPING_SPECIAL;
	if (p[0])
		return MAPPING_FILE;
	if (is_private_rw(cur) && is_arena_heap(m, i))
		return MAPPING_ARENA_HEAP;
	if (is_private_rw(cur) && is_thread_stack(m, i))
		return MAPPING_STACK;
	return MAPPING_ANON;
}

void maps_classify(struct maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		m->v[i].kind = classify_one(m, i);
}

const char *mapping_kind_name(enum mapping_kind kind)
{
	static const char *const names[] = {
		[MAPPING_BRK_HEAP] = "brk-heap",
		[MAPPING_ARENA_HEAP] = "arena-heap",
		[MAPPING_STACK] = "stack",
		[MAPPING_ANON] = "anon",
		[MAPPING_FILE] = "file",
		[MAPPING_SHMEM] = "shmem",
		[MAPPING_SPECIAL] = "special",
	};

	if ((unsigned)kind >= ARRAY_SIZE(names))
		return "unknown";
	return names[kind];
}

/* ---- queries ----------------------------------------------------------- */

const struct mapping *maps_find(const struct maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mapping *x = &m->v[mid];

		if (addr < x->start)
			hi = mid;
		else if (addr >= x->end)
			lo = mid + 1;
		else
			return x;
	}
	return NULL;
}

void maps_split_rss(const struct maps *m, struct rss_split *out)
{
	bool any = false;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < m->n; i++) {
		const struct mapping *x = &m->v[i];
		uint64_t *bucket;

		if (!IS_SET(x->rss))
			continue;
		switch (x->kind) {
		case MAPPING_BRK_HEAP:
			bucket = &out->brk_heap;
			break;
		case MAPPING_ARENA_HEAP:
			bucket = &out->arena_heaps;
			break;
		case MAPPING_STACK:
			bucket = &out->stacks;
			break;
		case MAPPING_FILE:
			bucket = &out->file;
			break;
		case MAPPING_SHMEM:
			bucket = &out->shmem;
			break;
		case MAPPING_SPECIAL:
			bucket = &out->special;
			break;
		case MAPPING_ANON:
		default:
			bucket = &out->other_anon;
			break;
		}
		*bucket += x->rss;
		out->total += x->rss;
		any = true;
	}
	if (!any) {
		out->brk_heap = out->arena_heaps = out->stacks = out->other_anon = UNSET;
		out->file = out->shmem = out->special = out->total = UNSET;
	}
}
