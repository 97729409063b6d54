/* What lib/judge/knobs*.c share: building a knob, its value in force, and
 * the lists of options that conf variables (GLIBC_TUNABLES, MALLOC_CONF)
 * carry.  Internal to lib/judge. */
#ifndef HEAPDOC_JUDGE_KNOBS_IMPL_H
#define HEAPDOC_JUDGE_KNOBS_IMPL_H

#include <stdarg.h>
#include <stdio.h>

#include "judge/knobs.h"
#include "judge/rules.h"

/* A new knob of kind and name at the end of ks (NULL when full), every
 * other member empty, effect_bytes UNSET. */
struct knob *knob_add(struct knobs *ks, enum knob_kind kind, const char *name);

void knob_setf(char *dst, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define KSET(field, ...) knob_setf(field, sizeof(field), __VA_ARGS__)

/* The value in force now, as written, and where it comes from; sets
 * k->change when it differs from k->value. */
void knob_current(struct knob *k, const char *source, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The variable that carries the options ks->v[first..] as a list merged
 * into the process's own (cur, may be NULL): "a:1,b:2" (sep ',', kv ':')
 * or "a=1:b=2" (sep ':', kv '='), one KNOB_ENV named var.  Nothing when no
 * option there changes anything. */
void knobs_carrier(struct knobs *ks, size_t first, const char *var, const char *cur,
		   char sep, char kv, const char *why);

/* One family's rules. */
void knobs_glibc(struct knobs *ks, const struct observation *obs, const struct verdict *v);
void knobs_jemalloc(struct knobs *ks, const struct observation *obs, const struct verdict *v);
void knobs_tcmalloc(struct knobs *ks, const struct observation *obs, const struct verdict *v);
void knobs_mimalloc(struct knobs *ks, const struct observation *obs, const struct verdict *v);

#endif
