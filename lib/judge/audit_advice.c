/* What to add, for a process that takes untrusted input, and what it costs.
 *
 * Only a process with a door open to others (a listening socket, or
 * sockets that could not be read) gets recommendations; for the others
 * heapdoc says there is nothing to recommend and why.  Every allocator
 * setting recommended is one whose cost bench/alloc_cost.sh measures
 * (audit_costs.c), quoted as a ratio to the allocator in use now from the
 * same run; a rebuild with hardening flags is recommended with its cost
 * marked as not measured.
 */
#include "judge/audit_checks.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

static struct audit_rec *add_rec(struct audit_result *r, const char *name)
{
	struct audit_rec *rec;

	if (r->nrecs >= AUDIT_MAX_RECS)
		return NULL;
	rec = &r->recs[r->nrecs++];
	memset(rec, 0, sizeof(*rec));
	rec->name = name;
	rec->cost_ratio = NAN;
	return rec;
}

static void fill(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fill(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* The bench's name for the allocator in use, or NULL when not measured. */
static const char *config_now(const struct audit_obs *obs)
{
	struct audit_scudo_quarantine q;

	switch (obs->alloc.kind) {
	case ALLOC_GLIBC:
		return "glibc";
	case ALLOC_JEMALLOC:
		return "jemalloc";
	case ALLOC_TCMALLOC:
		return strcmp(obs->alloc.flavor, "google") ? "tcmalloc" : NULL;
	case ALLOC_MIMALLOC:
		return "mimalloc";
	case ALLOC_SCUDO:
		audit_scudo_quarantine(obs, &q);
		return q.on ? "scudo-quarantine" : "scudo";
	default:
		return NULL;
	}
}

/* "0.38× the malloc/free ops/s of glibc now" and the ratio. */
static void cost(const struct audit_obs *obs, struct audit_rec *rec, const char *config)
{
	const char *now = config_now(obs);
	double with = audit_cost(config), base = now ? audit_cost(now) : NAN;

	if (now && !isnan(base)) {
		rec->cost_ratio = with / base;
		fill(rec->cost, sizeof(rec->cost), "%.2f× the malloc/free ops/s of %s as it runs "
		     "now (%s)", rec->cost_ratio, alloc_kind_name(obs->alloc.kind),
		     audit_costs_source);
	} else {
		fill(rec->cost, sizeof(rec->cost), "not measured against %s; %.2f× plain glibc's "
		     "malloc/free ops/s (%s)", alloc_kind_name(obs->alloc.kind), with,
		     audit_costs_source);
	}
}

/* What leaving the allocator in use for scudo gives up. */
static void scudo_loses(const struct audit_obs *obs, struct audit_rec *rec)
{
	const char *name = alloc_kind_name(obs->alloc.kind);

	switch (obs->alloc.kind) {
	case ALLOC_GLIBC:
		fill(rec->loses, sizeof(rec->loses), "glibc's tunables and statistics "
		     "(malloc_trim, mallinfo2, heapdoc's heap walk)");
		break;
	case ALLOC_JEMALLOC:
	case ALLOC_TCMALLOC:
	case ALLOC_MIMALLOC:
		fill(rec->loses, sizeof(rec->loses), "%s's speed (scudo with quarantine: %.2f× its "
		     "ops/s)%s", name, rec->cost_ratio,
		     obs->alloc.kind == ALLOC_JEMALLOC ? "; its heap profiling (prof) and mallctl "
		     "statistics" : obs->alloc.kind == ALLOC_TCMALLOC ? "; its heap profiler and "
		     "MallocExtension statistics" : "");
		break;
	default:
		fill(rec->loses, sizeof(rec->loses), "whatever the allocator in use is tuned for");
	}
}

static void advise_scudo(const struct audit_obs *obs, struct audit_result *r)
{
	const char *lib = obs->scudo_lib[0] ? obs->scudo_lib : AUDIT_SCUDO_PATH;
	bool compiled_in = obs->alloc.link == ALLOC_STATIC;
	struct audit_rec *rec = add_rec(r, compiled_in ? "relink" : "scudo");

	if (!rec)
		return;
	if (compiled_in)
		fill(rec->apply, sizeof(rec->apply), "link the program against scudo instead of "
		     "the %s compiled into it (LD_PRELOAD cannot replace that), and run it with "
		     "SCUDO_OPTIONS=%s", alloc_kind_name(obs->alloc.kind), AUDIT_SCUDO_QUARANTINE);
	else
		fill(rec->apply, sizeof(rec->apply), "LD_PRELOAD=%s%s%s SCUDO_OPTIONS=%s", lib,
		     obs->env.ld_preload[0] ? ":" : "", obs->env.ld_preload, AUDIT_SCUDO_QUARANTINE);
	fill(rec->source, sizeof(rec->source), "Debian's %s%s", AUDIT_SCUDO_PACKAGE,
	     obs->scudo_lib[0] ? " (installed in the process's filesystem)" :
	     " (not in the process's filesystem: apt-get install " AUDIT_SCUDO_PACKAGE ")");
	fill(rec->protects, sizeof(rec->protects), "scudo: checksummed chunk headers (double "
	     "and invalid frees abort), free lists out of line, randomised placement, guard "
	     "pages around large blocks, and freed chunks of up to 2 KiB quarantined");
	cost(obs, rec, "scudo-quarantine");
	scudo_loses(obs, rec);
}

static void advise_scudo_quarantine(const struct audit_obs *obs, struct audit_result *r)
{
	struct audit_rec *rec = add_rec(r, "scudo-quarantine");

	if (!rec)
		return;
	fill(rec->apply, sizeof(rec->apply), "SCUDO_OPTIONS=%s%s%s", obs->env.scudo_options,
	     obs->env.scudo_options[0] ? ":" : "", AUDIT_SCUDO_QUARANTINE);
	fill(rec->protects, sizeof(rec->protects), "a freed chunk of up to 2 KiB waits in "
	     "quarantine before reuse, so a use-after-free does not find a new object in its "
	     "place");
	cost(obs, rec, "scudo-quarantine");
	fill(rec->loses, sizeof(rec->loses), "memory: up to 256 KiB held in quarantine, and "
	     "64 KiB per thread");
}

/* GLIBC_TUNABLES with one more entry after what the process has now. */
static void tunables_with(const struct audit_obs *obs, const char *entry, char *buf, size_t len)
{
	const char *now = obs->env.glibc_tunables;

	fill(buf, len, "GLIBC_TUNABLES=%s%s%s", now, now[0] ? ":" : "", entry);
}

static void advise_glibc(const struct audit_obs *obs, struct audit_result *r)
{
	unsigned v = audit_glibc_version(obs->alloc.version);
	char tunables[768], dir[512];
	const char *slash = strrchr(obs->alloc.path, '/');
	struct audit_rec *rec;

	if (!audit_glibc_perturb(obs) && (rec = add_rec(r, "glibc-perturb"))) {
		tunables_with(obs, AUDIT_GLIBC_PERTURB, rec->apply, sizeof(rec->apply));
		fill(rec->protects, sizeof(rec->protects), "freed memory is overwritten with 0xa5 "
		     "at once, so a use-after-free reads junk, not the old data, and new memory "
		     "is filled with 0x5a; chunks the tcache keeps (up to 1032 bytes, 7 of each "
		     "size per thread) are not");
		cost(obs, rec, "glibc-perturb");
		fill(rec->loses, sizeof(rec->loses), "speed only (calloc still returns zeroes)");
	}
	if (audit_glibc_malloc_check(obs) || (v && v < 2034) || !(rec = add_rec(r, "glibc-malloc-check")))
		return;
	fill(dir, sizeof(dir), "%.*s", slash ? (int)(slash - obs->alloc.path) : 0, obs->alloc.path);
	tunables_with(obs, "glibc.malloc.check=3", tunables, sizeof(tunables));
	fill(rec->apply, sizeof(rec->apply), "LD_PRELOAD=%s/libc_malloc_debug.so.0%s%s %s",
	     dir[0] ? dir : "/lib/x86_64-linux-gnu", obs->env.ld_preload[0] ? ":" : "",
	     obs->env.ld_preload, tunables);
	fill(rec->source, sizeof(rec->source), "libc_malloc_debug.so.0 ships with glibc "
	     "(Debian's libc6)");
	fill(rec->protects, sizeof(rec->protects), "double and invalid frees, and overruns "
	     "of a chunk's last byte, are caught when it is freed or reallocated; the top "
	     "chunk is checked on every malloc; 3: report and abort");
	cost(obs, rec, "glibc-malloc-check");
	fill(rec->loses, sizeof(rec->loses), "the tcache and every arena but one: all threads "
	     "allocate under one lock (the one-thread bench does not show that contention)");
}

/* The flags the executable was built without, as gcc spells them. */
static void advise_rebuild(const struct audit_obs *obs, struct audit_result *r)
{
	const struct audit_module *exe = obs->nmodules ? &obs->modules[0] : NULL;
	const char *base;
	struct audit_rec *rec;
	size_t n = 0;

	if (!exe || !exe->executable || !exe->read || (exe->pie && exe->relro && exe->bind_now &&
	    exe->stack_protector && exe->fortified && exe->nx_stack) || !(rec = add_rec(r, "rebuild")))
		return;
	base = strrchr(exe->path, '/') ? strrchr(exe->path, '/') + 1 : exe->path;
	n = snprintf(rec->apply, sizeof(rec->apply), "rebuild %s with", base);
#define FLAG(cond, flags) \
	if ((cond) && n < sizeof(rec->apply)) \
		n += snprintf(rec->apply + n, sizeof(rec->apply) - n, " %s", flags)
	FLAG(!exe->pie, "-fPIE -pie");
	FLAG(!exe->relro || !exe->bind_now, "-Wl,-z,relro,-z,now");
	FLAG(!exe->stack_protector, "-fstack-protector-strong");
	FLAG(!exe->fortified, "-O2 -D_FORTIFY_SOURCE=2");
	FLAG(!exe->nx_stack, "-Wl,-z,noexecstack");
#undef FLAG
	fill(rec->protects, sizeof(rec->protects), "PIE moves the executable with ASLR; full "
	     "RELRO makes its GOT read-only once loaded, so a heap overwrite cannot redirect its "
	     "calls; the stack protector and FORTIFY stop overflows of stack buffers and of "
	     "buffers of known size");
	fill(rec->cost, sizeof(rec->cost), "not measured by heapdoc (BIND_NOW resolves every "
	     "symbol at start-up)");
	fill(rec->loses, sizeof(rec->loses), "nothing at run time");
}

void audit_judge_advice(const struct audit_obs *obs, struct audit_result *r)
{
	struct audit_scudo_quarantine q;

	if (r->untrusted_input == 0) {
		fill(r->advice, sizeof(r->advice), "nothing to recommend: no untrusted input "
		     "reaches this process");
		return;
	}
	if (obs->alloc.kind == ALLOC_SCUDO) {
		audit_scudo_quarantine(obs, &q);
		if (!q.on)
			advise_scudo_quarantine(obs, r);
	} else if (!r->hardened && obs->alloc.kind != ALLOC_MUSL) {
		advise_scudo(obs, r);
		if (obs->alloc.kind == ALLOC_GLIBC && obs->alloc.link == ALLOC_SHARED)
			advise_glibc(obs, r);
	}
	advise_rebuild(obs, r);
	fill(r->advice, sizeof(r->advice), "%s%s", r->untrusted_input < 0 ?
	     "its sockets could not be read, so heapdoc advises as for a process that takes "
	     "untrusted input" : "it takes input from others",
	     r->nrecs ? "; ways to add protection, each with its cost measured on heapdoc's "
	     "bench" : ", and its allocator and executable have what heapdoc would add");
}
