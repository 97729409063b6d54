#include "observe/alloc/jemalloc_prof.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/alloc/alloc.h"
#include "observe/elfsym.h"
#include "observe/proc.h"
#include "observe/target.h"

#define DUMP_MAX (64u << 20)	/* a heap_v2 file larger than this is refused */
#define MAX_FRAMES 128

/* ---- heap_v2 text ------------------------------------------------------------ */

/* "@ 0x1 0x2 ..." into pcs, without the leading frames in [lo, hi). */
static size_t parse_stack(const char *line, uint64_t *pcs, size_t max, uint64_t lo,
			  uint64_t hi)
{
	size_t n = 0;
	bool leading = true;
	char *end;

	for (const char *p = line + 1; n < max;) {
		uint64_t pc = strtoull(p, &end, 16);

		if (end == p)
			break;
		p = end;
		if (leading && pc >= lo && pc < hi)
			continue;
		leading = false;
		pcs[n++] = pc;
	}
	return n;
}

int jemalloc_prof_parse(const char *text, struct profile *p, enum jemalloc_prof_into into,
			uint64_t skip_lo, uint64_t skip_hi, struct error *err)
{
	uint64_t pcs[MAX_FRAMES], rate = 0;
	const char *line = text;
	long site = -1;
	size_t n = 0;

	if (sscanf(text, "heap_v2/%" SCNu64, &rate) != 1 || !rate)
		return error_set(err, -EPROTO, "not a jemalloc heap_v2 profile");
	p->rate = rate;
	/* A dump is the whole state: what a stack no longer has, it lost. */
	for (size_t i = 0; i < p->nsites; i++) {
		if (into == JEPROF_MID)
			memset(&p->sites[i].mid, 0, sizeof(p->sites[i].mid));
		else
			p->sites[i].live = p->sites[i].alloc = (struct prof_counts){ 0 };
	}
	for (; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		uint64_t lo, lb, ao, ab;

		if (!strncmp(line, "MAPPED_LIBRARIES:", 17))
			break;
		if (line[0] == '@') {
			n = parse_stack(line, pcs, MAX_FRAMES, skip_lo, skip_hi);
			site = n ? profile_site(p, pcs, n) : -1;
			if (n && site < 0)
				return error_set(err, -ENOMEM, "out of memory");
			continue;
		}
		/* "  t*: live_n: live_bytes [accum_n: accum_bytes]" */
		if (site < 0 || sscanf(line, " t*: %" SCNu64 ": %" SCNu64 " [%" SCNu64 ": %" SCNu64,
				       &lo, &lb, &ao, &ab) != 4)
			continue;
		if (into == JEPROF_MID) {
			profile_set_counts(&p->sites[site].mid, lo, lb, rate);
			continue;
		}
		profile_set_counts(&p->sites[site].live, lo, lb, rate);
		/* Without prof_accum jemalloc keeps no cumulative counts: what
		 * is live is all that is known to have been allocated. */
		profile_set_counts(&p->sites[site].alloc, ao ? ao : lo, ao ? ab : lb, rate);
	}
	return 0;
}

/* ---- asking jemalloc ----------------------------------------------------------- */

int jemalloc_prof_open(struct jemalloc_prof *jp, pid_t pid, struct error *err)
{
	struct maps maps = { 0 };
	struct alloc_id id;
	struct elfsym es = ELFSYM_INIT;
	char name[48];
	int ret;

	memset(jp, 0, sizeof(*jp));
	jp->pid = pid;
	ret = proc_read_maps("", pid, &maps, err);
	if (ret == 0)
		ret = alloc_detect("", pid, &maps, &id, err);
	if (ret == 0 && id.kind != ALLOC_JEMALLOC)
		ret = error_set(err, -EOPNOTSUPP, "pid %d: not jemalloc", pid);
	for (size_t i = 0; ret == 0 && i < maps.n; i++)
		if (!strcmp(maps.v[i].path, id.path) && maps.v[i].perms[2] == 'x' &&
		    id.link == ALLOC_SHARED) {
			jp->lib_lo = jp->lib_lo ? MIN(jp->lib_lo, maps.v[i].start) : maps.v[i].start;
			jp->lib_hi = MAX(jp->lib_hi, maps.v[i].end);
			inject_guard_add(&jp->guard, maps.v[i].start, maps.v[i].end);
		}
	maps_free(&maps);
	if (ret == 0)
		ret = elfsym_open(&es, pid, id.path, id.load_base, err);
	snprintf(name, sizeof(name), "%smallctl", id.prefix);
	if (ret == 0 && elfsym_lookup(&es, name, &jp->mallctl, NULL) < 0)
		ret = error_set(err, -EOPNOTSUPP, "pid %d: no %s in %s", pid, name, id.path);
	elfsym_close(&es);
	jp->guard.what = "jemalloc";
	jp->guard.all_threads_clear = true;
	return ret;
}

void jemalloc_prof_close(struct jemalloc_prof *jp)
{
	inject_guard_free(&jp->guard);
}

/* mallctl(name, old, &oldlen, new, newlen) on the borrowed thread; the
 * strings and values go to the scratch area. */
static int mallctl(struct inject_session *s, uint64_t fn, const char *name, size_t width,
		   const void *newval, size_t newlen, uint64_t *out, struct error *err)
{
	uint64_t at_name, at_old = 0, at_len = 0, at_new = 0, oldlen = width, ret = 0;
	bool read = width > 0;
	int rc;

	*out = 0;
	at_name = inject_push(s, name, strlen(name) + 1, err);
	if (read) {
		at_old = inject_push(s, out, 8, err);
		at_len = inject_push(s, &oldlen, 8, err);
	}
	if (newval)
		at_new = inject_push(s, newval, newlen, err);
	if (!at_name || (read && (!at_old || !at_len)) || (newval && !at_new))
		return -ENOSPC;
	rc = inject_call(s, fn, (uint64_t[]){ at_name, at_old, at_len, at_new,
			 newval ? newlen : 0 }, 5, &ret, err);
	if (rc == 0 && read)
		rc = target_read_exact(s->t, at_old, out, 8, err);
	return rc < 0 ? rc : (int)ret;
}

/* Asks for a dump into path (as the target sees it): 0, mallctl's own
 * error (> 0: the file could not be written there), or a negative errno. */
static int dump_to(struct jemalloc_prof *jp, const char *path, struct error *err)
{
	struct target t = { .mem_fd = -1 };
	struct inject_session s = { 0 };
	uint64_t prof = 0, ignored, at_path;
	int ret;

	ret = target_attach(&t, jp->pid, err);
	if (ret == 0)
		ret = inject_begin(&s, &t, &(struct inject_opts){ .guard = &jp->guard,
				   .timeout_ms = 2000 }, err);
	if (ret == 0)
		ret = mallctl(&s, jp->mallctl, "opt.prof", sizeof(bool), NULL, 0, &prof, err);
	if (ret == ENOENT)	/* built without profiling */
		ret = -EOPNOTSUPP;
	if (ret == 0 && !(prof & 0xff))
		ret = error_set(err, -EOPNOTSUPP, "pid %d: jemalloc's profiler is off "
				"(the process was not started with MALLOC_CONF=prof:true)", jp->pid);
	if (ret == 0) {
		inject_scratch_reset(&s);
		at_path = inject_push(&s, path, strlen(path) + 1, err);
		ret = at_path ? mallctl(&s, jp->mallctl, "prof.dump", 0, &at_path,
					sizeof(at_path), &ignored, err) : -ENOSPC;
	}
	if (ret > 0)
		error_set(err, -EIO, "pid %d: mallctl(%s): %s", jp->pid,
			  prof ? "\"prof.dump\"" : "\"opt.prof\"", strerror(ret));
	inject_end(&s, ret < 0 ? NULL : err);
	jp->stop_us = MAX(jp->stop_us, t.pause_us_max);
	target_detach(&t);
	return ret;
}

static char *read_file(const char *path, struct error *err)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	long size;

	if (!f) {
		error_set(err, -errno, "%s: %m", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size < DUMP_MAX &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc(size + 1))) {
		len = fread(buf, 1, size, f);
		buf[len] = '\0';
	} else {
		error_set(err, -EFBIG, "%s: unreadable or larger than %u MiB", path, DUMP_MAX >> 20);
	}
	fclose(f);
	return buf;
}

int jemalloc_prof_dump(struct jemalloc_prof *jp, struct profile *p,
		       enum jemalloc_prof_into into, struct error *err)
{
	static const char *const dirs[] = { "/tmp", "/dev/shm", "/var/tmp" };
	char path[128], host[PATH_MAX];
	char *text = NULL;
	int ret = 1;

	/* A directory the process may not write to: the next one. */
	for (size_t i = 0; i < ARRAY_SIZE(dirs) && ret > 0; i++) {
		snprintf(path, sizeof(path), "%s/heapdoc-jeprof-%d-%d-%u.heap", dirs[i], jp->pid,
			 (int)getpid(), jp->dumps);
		ret = dump_to(jp, path, err);
	}
	if (ret)
		return ret < 0 ? ret : -EIO;
	jp->dumps++;
	snprintf(host, sizeof(host), "/proc/%d/root%s", jp->pid, path);
	text = read_file(host, err);
	unlink(host);
	if (!text)
		return err ? err->code : -EIO;
	ret = jemalloc_prof_parse(text, p, into, jp->lib_lo, jp->lib_hi, err);
	free(text);
	return ret;
}
