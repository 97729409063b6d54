/* Tuning advice: the allocator, its settings in force, the container and the
 * verdict in; the knobs to turn out, each sized to this process, with the
 * number that calls for it, what it would change and how to apply it.
 *
 * A knob is printed only when it would move this process's numbers: its
 * rule needs the evidence that it helps (threads taking turns for an arena
 * cap, pages waiting for decay for a decay time, ...), its effect is sized
 * from what was observed, and a setting already in force at the advised
 * value is not advised.  Settings are written in the spelling that wins in
 * this process: GLIBC_TUNABLES (merged with the process's own tunables)
 * when it sets one, the prefixed MALLOC_CONF of a prefixed jemalloc.
 *
 * Pure, like the rest of lib/judge: the settings in force come from the
 * observation (the target's environment, and the allocator's own values as
 * they are now — glibc's mp_, jemalloc's live mallctls — when read).
 */
#ifndef HEAPDOC_JUDGE_KNOBS_H
#define HEAPDOC_JUDGE_KNOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "judge/triage.h"
#include "model/observation.h"

enum knob_kind {
	KNOB_ENV,		/* an environment variable read when the process starts */
	KNOB_CONF_OPTION,	/* one option of a conf variable (MALLOC_CONF,
				 * GLIBC_TUNABLES): the KNOB_ENV knob for that
				 * variable carries it, merged with the process's
				 * own options */
	KNOB_ACTION,		/* a one-off command on the running process */
	KNOB_LIMIT,		/* a setting of the container */
};

struct knob {
	enum knob_kind kind;
	char name[48];		/* MALLOC_ARENA_MAX, dirty_decay_ms, malloc_trim, memory.max */
	char value[256];	/* what to set, as it is written */
	char current[256];	/* in force now; "" when unknown */
	const char *current_source;	/* "environment", "GLIBC_TUNABLES", "MALLOC_CONF",
					 * "allocator", "default", "cgroup"; NULL when unknown */
	bool change;		/* value differs from what is in force */
	char why[320];		/* the number that calls for it */
	char effect[320];	/* what it would change, sized from what was seen */
	uint64_t effect_bytes;	/* RSS it would return; UNSET when its effect is
				 * not bytes given back (fault rate, time to OOM) */
	char apply_env[300];	/* NAME=value */
	char apply_systemd[320];	/* a line for the [Service] section of a drop-in */
	char apply_kubernetes[320];	/* an entry for the container spec */
	char command[256];	/* KNOB_ACTION: what to run now */
	char risk[320];		/* KNOB_ACTION: what can go wrong */
};

#define KNOBS_MAX 16

struct knobs {
	struct knob v[KNOBS_MAX];
	size_t n;
};

/* "env", "conf-option", "action", "limit". */
const char *knob_kind_name(enum knob_kind kind);

/* Advice for obs, given the verdict judge_triage() reached on it (the
 * verdict may be inconclusive: knobs sized from the container alone are
 * still given). */
void judge_knobs(const struct observation *obs, const struct verdict *v, struct knobs *out);

/* The three ways to set an environment variable for a service: fills
 * apply_env, apply_systemd and apply_kubernetes. */
void knob_apply_env(struct knob *k, const char *var, const char *value);

/* MALLOC_CONF, or the name a prefixed static jemalloc reads: the prefix in
 * upper case before MALLOC_CONF (_rjem_ → _RJEM_MALLOC_CONF). */
void knobs_conf_name(const char *prefix, char *out, size_t len);

/* Copies the value of key from a "k=v:k=v" (GLIBC_TUNABLES, sep ':' and
 * '=') or "k:v,k:v" (MALLOC_CONF, sep ',' and ':') list into out; false
 * when absent. */
bool knobs_list_get(const char *list, char sep, char kv, const char *key,
		    char *out, size_t len);

/* Sets key to value in such a list (replaced in place, or appended), the
 * other entries kept. */
void knobs_list_set(char *list, size_t len, char sep, char kv, const char *key,
		    const char *value);

#endif
