#include "observe/alloc/tcmalloc.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/alloc/code.h"
#include "observe/elfsym.h"
#include "observe/inject.h"
#include "base/util.h"

/* gperftools 2.x (Debian's libtcmalloc.so.4, libtcmalloc_minimal.so.4). */
static const char *const gperftools_properties[] = {
	"generic.current_allocated_bytes",
	"generic.heap_size",
	"generic.total_physical_bytes",
	"tcmalloc.pageheap_free_bytes",
	"tcmalloc.pageheap_unmapped_bytes",
	"tcmalloc.current_total_thread_cache_bytes",
	"tcmalloc.central_cache_free_bytes",
	"tcmalloc.transfer_cache_free_bytes",
	"tcmalloc.max_total_thread_cache_bytes",
	"tcmalloc.aggressive_memory_decommit",
};

/* google/tcmalloc: it also answers the gperftools names it kept. */
static const char *const google_properties[] = {
	"generic.current_allocated_bytes",
	"generic.heap_size",
	"generic.physical_memory_used",
	"generic.virtual_memory_used",
	"generic.bytes_in_use_by_app",
	"tcmalloc.pageheap_free_bytes",
	"tcmalloc.pageheap_unmapped_bytes",
	"tcmalloc.current_total_thread_cache_bytes",
	"tcmalloc.central_cache_free",
	"tcmalloc.transfer_cache_free",
	"tcmalloc.cpu_free",
	"tcmalloc.metadata_bytes",
	"tcmalloc.max_total_thread_cache_bytes",
};

#define GPERFTOOLS_FN "MallocExtension_GetNumericProperty"
#define GOOGLE_FN "MallocExtension_Internal_GetNumericProperty"
#define PAGEHEAP_LOCK "_ZN8tcmalloc6Static14pageheap_lock_E"
#define RELEASE_FN "MallocExtension_ReleaseFreeMemory"
#define GOOGLE_RELEASE_FN "MallocExtension_Internal_ReleaseMemoryToSystem"
#define SET_PROPERTY_FN "MallocExtension_SetNumericProperty"
/* gperftools' SetMemoryReleaseRate(rate) is this one assignment (a C++
 * virtual with no C entry point); GetMemoryReleaseRate reads it back. */
#define RELEASE_RATE_VAR \
	"_ZN62FLAG__namespace_do_not_use_directly_use_DECLARE_double_instead27FLAGS_tcmalloc_release_rateE"

struct tcmalloc_reader {
	struct alloc_callee c;		/* its code, libc's, the pid */
	const char *path;		/* while opening */
	bool google;			/* (name, length, value*) */
	uint64_t get_property;		/* its run-time address */
	uint64_t set_property;		/* gperftools' SetNumericProperty; 0: none */
	uint64_t release;		/* ReleaseFreeMemory, or google's
					 * ReleaseMemoryToSystem(bytes) */
	uint64_t release_rate;		/* gperftools' FLAGS_tcmalloc_release_rate */
};

uint64_t tcmalloc_property(const struct tcmalloc_state *st, const char *name)
{
	for (size_t i = 0; i < st->nprops; i++)
		if (!strcmp(st->props[i].name, name))
			return st->props[i].value;
	return UNSET;
}

/* ---- finding tcmalloc in the target ---------------------------------------- */

/* A static copy is told by its function names (see jemalloc.c): the C++
 * namespaces and classes, and the C entry points. */
static bool is_tcmalloc_function(const char *name)
{
	static const char *const exact[] = {
		"malloc", "free", "calloc", "realloc", "memalign", "posix_memalign",
		"aligned_alloc", "valloc", "pvalloc", "malloc_usable_size",
	};

	if (strstr(name, "tcmalloc") || strstr(name, "TCMalloc") || strstr(name, "SpinLock") ||
	    strstr(name, "MallocExtension") || strstr(name, "MallocHook") ||
	    !strncmp(name, "tc_", 3))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
		if (!strcmp(name, exact[i]))
			return true;
	return false;
}

static int find_entry_points(void *arg, const struct elfsym *es, struct error *err)
{
	struct tcmalloc_reader *r = arg;
	uint64_t lock;

	if (elfsym_lookup(es, GPERFTOOLS_FN, &r->get_property, NULL) == 0) {
		r->google = false;
	} else if (elfsym_lookup(es, GOOGLE_FN, &r->get_property, NULL) == 0) {
		r->google = true;
	} else {
		return error_set(err, -ENOENT, "pid %d: %s exports neither " GPERFTOOLS_FN
				 " nor " GOOGLE_FN, r->c.pid, r->path);
	}
	/* What heapdoc release and set call; absent ones are reported then. */
	if (elfsym_lookup(es, r->google ? GOOGLE_RELEASE_FN : RELEASE_FN, &r->release, NULL))
		r->release = 0;
	if (r->google || elfsym_lookup(es, SET_PROPERTY_FN, &r->set_property, NULL))
		r->set_property = 0;
	if (r->google || elfsym_lookup(es, RELEASE_RATE_VAR, &r->release_rate, NULL))
		r->release_rate = 0;
	/* With the page-heap lock readable, the borrowed thread's own stack is
	 * the only other check.  Without it, no thread at all may be inside. */
	if (!r->google && elfsym_lookup(es, PAGEHEAP_LOCK, &lock, NULL) == 0)
		r->c.guard.lock_addr = lock;
	else
		r->c.guard.all_threads_clear = true;
	return 0;
}

int tcmalloc_open(struct tcmalloc_reader **out, pid_t pid, const struct alloc_id *id,
		  struct error *err)
{
	struct tcmalloc_reader *r = calloc(1, sizeof(*r));
	int ret;

	*out = NULL;
	if (!r)
		return error_set(err, -ENOMEM, "out of memory");
	r->path = id->path;
	ret = alloc_callee_open(&r->c, pid, id, "tcmalloc", is_tcmalloc_function,
				find_entry_points, r, err);
	r->path = NULL;
	if (ret < 0) {
		tcmalloc_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

void tcmalloc_close(struct tcmalloc_reader *r)
{
	if (!r)
		return;
	alloc_callee_close(&r->c);
	free(r);
}

/* ---- the property function, called inside the target ------------------------ */

struct prop_block {
	uint64_t value;
	char name[96];
};

/* One property: 0 with *value (UNSET when the library does not know the
 * name), or the injection's negative error. */
int tcmalloc_get(struct tcmalloc_reader *r, struct inject_session *s, const char *name,
		 uint64_t *value, struct error *err)
{
	struct prop_block b = { 0 };
	size_t len = strlen(name);
	uint64_t at, ret, args[3];
	unsigned nargs = 0;
	int rc;

	if (len >= sizeof(b.name))
		return error_set(err, -EINVAL, "tcmalloc property %s: name too long", name);
	memcpy(b.name, name, len + 1);
	inject_scratch_reset(s);
	at = inject_push(s, &b, offsetof(struct prop_block, name) + len + 1, err);
	if (!at)
		return -EIO;
	args[nargs++] = at + offsetof(struct prop_block, name);
	if (r->google)
		args[nargs++] = len;
	args[nargs++] = at + offsetof(struct prop_block, value);
	rc = inject_call(s, r->get_property, args, nargs, &ret, err);
	if (rc < 0)
		return rc;
	*value = UNSET;
	if (!(ret & 0xff))		/* a C++ bool: false, the name is unknown */
		return 0;
	rc = target_read_exact(s->t, at, &b.value, sizeof(b.value), err);
	if (rc == 0)
		*value = b.value;
	return rc;
}

int tcmalloc_session_begin(struct tcmalloc_reader *r, struct inject_session *s,
			   struct target *t, unsigned timeout_ms, struct error *err)
{
	return alloc_callee_begin(&r->c, s, t, timeout_ms, err);
}

/* ---- heapdoc release and set ------------------------------------------------ */

const char *tcmalloc_release_name(const struct tcmalloc_reader *r)
{
	return r->google ? GOOGLE_RELEASE_FN "(SIZE_MAX)" : RELEASE_FN "()";
}

int tcmalloc_release_all(struct tcmalloc_reader *r, struct inject_session *s,
			 struct error *err)
{
	uint64_t all = SIZE_MAX, ret;

	if (!r->release)
		return error_set(err, -EOPNOTSUPP, "pid %d: this tcmalloc exports no %s", r->c.pid,
				 r->google ? GOOGLE_RELEASE_FN : RELEASE_FN);
	return inject_call(s, r->release, &all, r->google ? 1 : 0, &ret, err);
}

int tcmalloc_set(struct tcmalloc_reader *r, struct inject_session *s, const char *name,
		 uint64_t value, struct error *err)
{
	uint64_t at, ret, args[2];
	size_t len = strlen(name) + 1;
	int rc;

	if (!r->set_property)
		return error_set(err, -EOPNOTSUPP, "pid %d: this tcmalloc exports no "
				 SET_PROPERTY_FN, r->c.pid);
	inject_scratch_reset(s);
	at = inject_push(s, name, len, err);
	if (!at)
		return -EIO;
	args[0] = at;
	args[1] = value;
	rc = inject_call(s, r->set_property, args, 2, &ret, err);
	if (rc == 0 && !(ret & 0xff))
		rc = error_set(err, -EINVAL, "pid %d: tcmalloc refused %s = %llu", r->c.pid, name,
			       (unsigned long long)value);
	return rc;
}

uint64_t tcmalloc_release_rate_addr(const struct tcmalloc_reader *r)
{
	return r->release_rate;
}

int tcmalloc_read(struct tcmalloc_reader *r, struct target *t, unsigned timeout_ms,
		  struct tcmalloc_state *st, struct error *err)
{
	const char *const *names = r->google ? google_properties : gperftools_properties;
	size_t n = r->google ? ARRAY_SIZE(google_properties) : ARRAY_SIZE(gperftools_properties);
	struct inject_session s;
	int rc;

	memset(st, 0, sizeof(*st));
	snprintf(st->flavor, sizeof(st->flavor), "%s", r->google ? "google" : "gperftools");
	rc = tcmalloc_session_begin(r, &s, t, timeout_ms, err);
	if (rc < 0)
		return rc;
	st->tid = s.tid;
	for (size_t i = 0; i < n && i < TCMALLOC_MAX_PROPERTIES && !rc; i++) {
		st->props[i].name = names[i];
		rc = tcmalloc_get(r, &s, names[i], &st->props[i].value, err);
		st->nprops = i + 1;
	}
	st->calls = s.calls;
	st->calls_us = s.calls_us;
	if (inject_end(&s, rc ? NULL : err) < 0 && !rc)
		rc = -EIO;
	return rc;
}

/* What tcmalloc has in RAM: its own figure when it has one, else the heap
 * less what it gave back (unmapped). */
static uint64_t resident_of(uint64_t physical, uint64_t heap, uint64_t unmapped)
{
	if (IS_SET(physical))
		return physical;
	if (IS_SET(heap) && IS_SET(unmapped) && heap >= unmapped)
		return heap - unmapped;
	return UNSET;
}

int tcmalloc_sample(struct tcmalloc_reader *r, struct target *t, uint64_t *allocated,
		    uint64_t *resident, struct error *err)
{
	uint64_t heap = UNSET, unmapped = UNSET, physical = UNSET;
	struct inject_session s;
	int rc;

	rc = tcmalloc_session_begin(r, &s, t, 0, err);
	if (rc < 0)
		return rc;
	rc = tcmalloc_get(r, &s, "generic.current_allocated_bytes", allocated, err);
	if (!rc)
		rc = tcmalloc_get(r, &s, r->google ? "generic.physical_memory_used"
						   : "generic.total_physical_bytes",
				  &physical, err);
	if (!rc && !IS_SET(physical))
		rc = tcmalloc_get(r, &s, "generic.heap_size", &heap, err);
	if (!rc && !IS_SET(physical))
		rc = tcmalloc_get(r, &s, "tcmalloc.pageheap_unmapped_bytes", &unmapped, err);
	if (inject_end(&s, rc ? NULL : err) < 0 && !rc)
		rc = -EIO;
	*resident = resident_of(physical, heap, unmapped);
	return rc;
}

/* ---- in the terms every allocator shares ------------------------------------ */

/* Σ of the properties that are set; UNSET if none is. */
static uint64_t sum_of(const struct tcmalloc_state *st, const char *const *names, size_t n)
{
	uint64_t total = UNSET;

	for (size_t i = 0; i < n; i++) {
		uint64_t v = tcmalloc_property(st, names[i]);

		if (IS_SET(v))
			total = IS_SET(total) ? total + v : v;
	}
	return total;
}

void tcmalloc_summarise(const struct tcmalloc_state *st, struct alloc_summary *sum,
			struct alloc_params *params)
{
	/* Free objects waiting in caches, between live ones: they only
	 * return as whole spans once every object of a span is free. */
	static const char *const caches[] = {
		"tcmalloc.current_total_thread_cache_bytes",
		"tcmalloc.central_cache_free_bytes", "tcmalloc.central_cache_free",
		"tcmalloc.transfer_cache_free_bytes", "tcmalloc.transfer_cache_free",
		"tcmalloc.cpu_free",
	};
	uint64_t physical = tcmalloc_property(st, "generic.total_physical_bytes");
	uint64_t pageheap_free = tcmalloc_property(st, "tcmalloc.pageheap_free_bytes");
	uint64_t mapped = tcmalloc_property(st, "generic.virtual_memory_used");

	if (!IS_SET(physical))
		physical = tcmalloc_property(st, "generic.physical_memory_used");
	if (!IS_SET(mapped))
		mapped = tcmalloc_property(st, "generic.heap_size");
	*sum = (struct alloc_summary){
		.valid = true,
		.allocated = tcmalloc_property(st, "generic.current_allocated_bytes"),
		.active = UNSET,
		.resident = resident_of(physical, tcmalloc_property(st, "generic.heap_size"),
					tcmalloc_property(st, "tcmalloc.pageheap_unmapped_bytes")),
		.mapped = mapped,
		.free_interleaved = sum_of(st, caches, ARRAY_SIZE(caches)),
		/* Whole free spans in the page heap, still resident: the
		 * release rate (or ReleaseFreeMemory) gives them back. */
		.free_releasable = pageheap_free,
		.trimmable = pageheap_free,
		.free_small_chunks = UNSET, .free_small_bytes = UNSET,
		.free_large_chunks = UNSET, .free_large_bytes = UNSET,
		.largest_free = UNSET, .pinned_bytes = UNSET, .top_size = UNSET,
		.top_held_bytes = UNSET, .top_held_by = UNSET, .top_held_by_size = UNSET,
		.top_held_by_free = UNSET,
		.slab_utilisation = NAN,
		.free_unresident = UNSET, .arena_peak_sum = UNSET, .arena_peak_once = UNSET,
		.pool_block_size = UNSET, .pool_blocks = UNSET, .pool_bytes = UNSET,
	};
	snprintf(sum->source, sizeof(sum->source), "property");
	sum->free_total = IS_SET(sum->free_interleaved) && IS_SET(pageheap_free)
				  ? sum->free_interleaved + pageheap_free : UNSET;
	if (!params)
		return;
	alloc_params_clear(params);
	if (IS_SET(tcmalloc_property(st, "tcmalloc.max_total_thread_cache_bytes")))
		params->max_total_thread_cache_bytes =
			(int64_t)tcmalloc_property(st, "tcmalloc.max_total_thread_cache_bytes");
	if (IS_SET(tcmalloc_property(st, "tcmalloc.aggressive_memory_decommit")))
		params->aggressive_decommit =
			tcmalloc_property(st, "tcmalloc.aggressive_memory_decommit") != 0;
}
