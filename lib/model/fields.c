#include "model/fields.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "model/observation.h"

#define TABLE(name, st, ...)							\
	static const struct field name##_v[] = { __VA_ARGS__ };			\
	const struct fields fields_##name = { name##_v, ARRAY_SIZE(name##_v) }

#define S struct proc_status
TABLE(proc_status, S,
	FIELD(S, name, FIELD_STRING), FIELD(S, state, FIELD_CHAR),
	FIELD(S, tgid, FIELD_I32), FIELD(S, pid, FIELD_I32), FIELD(S, ppid, FIELD_I32),
	FIELD(S, nstgid, FIELD_I32), FIELD(S, tracer_pid, FIELD_I32), FIELD(S, uid, FIELD_U32),
	FIELD(S, threads, FIELD_U32), FIELD(S, cpus_allowed, FIELD_U32),
	FIELD(S, kernel_thread, FIELD_BOOL),
	FIELD(S, vm_size, FIELD_U64), FIELD(S, vm_rss, FIELD_U64), FIELD(S, vm_hwm, FIELD_U64),
	FIELD(S, rss_anon, FIELD_U64), FIELD(S, rss_file, FIELD_U64),
	FIELD(S, rss_shmem, FIELD_U64), FIELD(S, vm_swap, FIELD_U64));
#undef S

#define S struct rss_split
TABLE(rss_split, S,
	FIELD(S, brk_heap, FIELD_U64), FIELD(S, arena_heaps, FIELD_U64),
	FIELD(S, stacks, FIELD_U64), FIELD(S, other_anon, FIELD_U64),
	FIELD(S, file, FIELD_U64), FIELD(S, shmem, FIELD_U64),
	FIELD(S, special, FIELD_U64), FIELD(S, total, FIELD_U64));
#undef S

#define S struct cgroup_limits
TABLE(cgroup_limits, S,
	FIELD(S, version, FIELD_I32), FIELD(S, hybrid, FIELD_BOOL),
	FIELD(S, approximate, FIELD_BOOL), FIELD(S, path, FIELD_STRING),
	FIELD(S, dir, FIELD_STRING), FIELD(S, memory_max, FIELD_U64),
	FIELD(S, memory_high, FIELD_U64), FIELD(S, memory_current, FIELD_U64),
	FIELD(S, memory_peak, FIELD_U64), FIELD(S, anon, FIELD_U64),
	FIELD(S, file, FIELD_U64), FIELD(S, inactive_file, FIELD_U64),
	FIELD(S, oom_kills, FIELD_U64), FIELD(S, memory_max_dir, FIELD_STRING),
	FIELD(S, cpu_quota_us, FIELD_U64), FIELD(S, cpu_period_us, FIELD_U64),
	FIELD(S, cpu_quota_cores, FIELD_DOUBLE), FIELD(S, cpu_max_dir, FIELD_STRING),
	FIELD(S, cpuset_cpus, FIELD_U32), FIELD(S, effective_cpus, FIELD_U32));
#undef S

#define S struct alloc_id
TABLE(alloc_id, S,
	FIELD(S, kind, FIELD_ALLOC_KIND), FIELD(S, link, FIELD_ALLOC_LINK),
	FIELD(S, version, FIELD_STRING), FIELD(S, flavor, FIELD_STRING),
	FIELD(S, prefix, FIELD_STRING), FIELD(S, path, FIELD_STRING),
	FIELD(S, load_base, FIELD_U64), FIELD(S, evidence, FIELD_STRING));
#undef S

#define S struct alloc_summary
TABLE(alloc_summary, S,
	FIELD(S, valid, FIELD_BOOL), FIELD(S, source, FIELD_STRING),
	FIELD(S, why_invalid, FIELD_STRING), FIELD(S, allocated, FIELD_U64),
	FIELD(S, active, FIELD_U64), FIELD(S, resident, FIELD_U64),
	FIELD(S, mapped, FIELD_U64), FIELD(S, free_total, FIELD_U64),
	FIELD(S, free_interleaved, FIELD_U64), FIELD(S, free_releasable, FIELD_U64),
	FIELD(S, trimmable, FIELD_U64), FIELD(S, narenas, FIELD_U32),
	FIELD(S, estimated_arenas, FIELD_U32),
	FIELD(S, corrupt, FIELD_BOOL), FIELD(S, nfindings, FIELD_U32),
	FIELD(S, corrupt_what, FIELD_STRING), FIELD(S, free_small_chunks, FIELD_U64),
	FIELD(S, free_small_bytes, FIELD_U64), FIELD(S, free_large_chunks, FIELD_U64),
	FIELD(S, free_large_bytes, FIELD_U64), FIELD(S, largest_free, FIELD_U64),
	FIELD(S, pinned_bytes, FIELD_U64), FIELD(S, free_unresident, FIELD_U64),
	FIELD(S, top_size, FIELD_U64),
	FIELD(S, top_held_bytes, FIELD_U64), FIELD(S, top_held_by, FIELD_U64),
	FIELD(S, top_held_by_size, FIELD_U64), FIELD(S, top_held_by_free, FIELD_U64),
	FIELD(S, top_held_by_cached, FIELD_BOOL),
	FIELD(S, slab_utilisation, FIELD_DOUBLE), FIELD(S, arena_peak_sum, FIELD_U64), FIELD(S, arena_peak_once, FIELD_U64),
	FIELD(S, arena_samples, FIELD_U32), FIELD(S, pool_block_size, FIELD_U64),
	FIELD(S, pool_blocks, FIELD_U64), FIELD(S, pool_bytes, FIELD_U64));
#undef S

#define S struct alloc_params
TABLE(alloc_params, S,
	FIELD(S, trim_threshold, FIELD_PARAM), FIELD(S, top_pad, FIELD_PARAM),
	FIELD(S, mmap_threshold, FIELD_PARAM), FIELD(S, arena_max, FIELD_PARAM),
	FIELD(S, arena_test, FIELD_PARAM), FIELD(S, tcache_count, FIELD_PARAM),
	FIELD(S, no_dyn_threshold, FIELD_BOOL), FIELD(S, dirty_decay_ms, FIELD_PARAM),
	FIELD(S, muzzy_decay_ms, FIELD_PARAM), FIELD(S, narenas, FIELD_PARAM),
	FIELD(S, background_thread, FIELD_PARAM), FIELD(S, tcache, FIELD_PARAM),
	FIELD(S, retain, FIELD_PARAM), FIELD(S, max_total_thread_cache_bytes, FIELD_PARAM),
	FIELD(S, aggressive_decommit, FIELD_PARAM), FIELD(S, purge_delay_ms, FIELD_PARAM));
#undef S

#define S struct sample
TABLE(sample, S,
	FIELD(S, t, FIELD_DOUBLE), FIELD(S, rss, FIELD_U64),
	FIELD(S, allocated, FIELD_U64), FIELD(S, resident, FIELD_U64),
	FIELD(S, minflt, FIELD_U64), FIELD(S, majflt, FIELD_U64));
#undef S

#define S struct latency
TABLE(latency, S,
	FIELD(S, sampled, FIELD_BOOL), FIELD(S, samples, FIELD_U32),
	FIELD(S, in_allocator, FIELD_U32), FIELD(S, in_mm_syscall, FIELD_U32),
	FIELD(S, in_lock_wait, FIELD_U32), FIELD(S, fault_rate, FIELD_DOUBLE),
	FIELD(S, top_frame, FIELD_STRING), FIELD(S, why_not, FIELD_STRING));
#undef S

static const char *const link_names[] = { [ALLOC_SHARED] = "shared", [ALLOC_STATIC] = "static" };

static void write_field(struct json *j, const struct field *f, const char *p)
{
	switch (f->type) {
	case FIELD_U64:
		json_uint(j, f->name, *(const uint64_t *)p);
		break;
	case FIELD_PARAM:
		if (*(const int64_t *)p == PARAM_UNSET)
			json_null(j, f->name);
		else
			json_int(j, f->name, *(const int64_t *)p);
		break;
	case FIELD_U32:
		json_uint(j, f->name, *(const unsigned *)p);
		break;
	case FIELD_I32:
		json_int(j, f->name, *(const int *)p);
		break;
	case FIELD_DOUBLE:
		json_double_exact(j, f->name, *(const double *)p);
		break;
	case FIELD_BOOL:
		json_bool(j, f->name, *(const bool *)p);
		break;
	case FIELD_STRING:
		json_string(j, f->name, p);
		break;
	case FIELD_CHAR:
		json_string(j, f->name, (const char[]){ *p, '\0' });
		break;
	case FIELD_ALLOC_KIND:
		json_string(j, f->name, alloc_kind_name(*(const enum alloc_kind *)p));
		break;
	case FIELD_ALLOC_LINK:
		json_string(j, f->name, link_names[*(const enum alloc_link *)p == ALLOC_STATIC]);
		break;
	}
}

void fields_write_members(struct json *j, const struct fields *f, const void *base)
{
	for (size_t i = 0; i < f->n; i++)
		write_field(j, &f->v[i], (const char *)base + f->v[i].offset);
}

void fields_write(struct json *j, const char *key, const struct fields *f, const void *base)
{
	json_object_begin(j, key);
	fields_write_members(j, f, base);
	json_object_end(j);
}

static bool read_int(const struct json_value *v, int64_t lo, int64_t hi, int64_t *out)
{
	return json_get_i64(v, out) && *out >= lo && *out <= hi;
}

/* One member; false when it has the wrong type (*what says which). */
static bool read_field(const struct json_value *v, const struct field *f, char *p,
		       const char **what)
{
	const char *s = json_get_string(v);
	int64_t i;

	switch (f->type) {
	case FIELD_U64:
		*what = "an unsigned integer or null";
		return json_get_u64(v, (uint64_t *)p);
	case FIELD_PARAM:
		*what = "an integer or null";
		if (v->type == JSON_NULL)
			return *(int64_t *)p = PARAM_UNSET, true;
		return json_get_i64(v, (int64_t *)p);
	case FIELD_U32:
		*what = "an unsigned 32-bit integer";
		return read_int(v, 0, UINT_MAX, &i) && (*(unsigned *)p = (unsigned)i, true);
	case FIELD_I32:
		*what = "a 32-bit integer";
		return read_int(v, INT_MIN, INT_MAX, &i) && (*(int *)p = (int)i, true);
	case FIELD_DOUBLE:
		*what = "a number or null";
		return json_get_double(v, (double *)p);
	case FIELD_BOOL:
		*what = "true or false";
		return json_get_bool(v, (bool *)p);
	case FIELD_STRING:
		*what = "a string";
		return s && (snprintf(p, f->size, "%s", s), true);
	case FIELD_CHAR:
		*what = "a string of one character";
		return s && strlen(s) <= 1 && (*p = s[0], true);
	case FIELD_ALLOC_KIND:
		*what = "an allocator's name";
		return s && (*(enum alloc_kind *)p = alloc_kind_from_name(s), true);
	case FIELD_ALLOC_LINK:
		*what = "\"shared\" or \"static\"";
		if (!s || (strcmp(s, "shared") && strcmp(s, "static")))
			return false;
		*(enum alloc_link *)p = strcmp(s, "static") ? ALLOC_SHARED : ALLOC_STATIC;
		return true;
	}
	return false;
}

int fields_read(const struct json_value *obj, const char *what, const struct fields *f,
		void *base, struct error *err)
{
	const char *type = "";

	if (!obj || obj->type != JSON_OBJECT)
		return error_set(err, -EIO, "%s: not an object", what);
	for (size_t i = 0; i < f->n; i++) {
		const struct json_value *v = json_member(obj, f->v[i].name);

		if (v && !read_field(v, &f->v[i], (char *)base + f->v[i].offset, &type))
			return error_set(err, -EIO, "%s.%s: not %s", what, f->v[i].name, type);
	}
	return 0;
}
