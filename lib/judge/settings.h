/* The allocator settings `heapdoc set` changes, by the names `heapdoc knobs`
 * prints: which exist for an allocator, their ranges, which can only change
 * at a restart (and how to spell them then), and the lines that make a
 * change permanent.  Pure: no I/O.
 */
#ifndef HEAPDOC_JUDGE_SETTINGS_H
#define HEAPDOC_JUDGE_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "judge/knobs.h"
#include "model/act.h"
#include "model/alloc.h"

enum setting_type { SETTING_BYTES, SETTING_MS, SETTING_BOOL, SETTING_RATE };

struct setting_def {
	enum act_setting id;
	enum alloc_kind kind;
	const char *name;	/* as knobs prints it: MALLOC_TRIM_THRESHOLD_ */
	const char *alias;	/* another spelling accepted, or NULL */
	enum setting_type type;
	double min, max;
	/* Which way returns memory sooner: -1 a lower value, +1 a higher one. */
	int returns;
	const char *effect;	/* what else the change does, or NULL */
};

#define SETTINGS_MAX 8

struct setting_req {
	const struct setting_def *def;
	struct act_value value;
};

/* Parses one NAME=VALUE argument for an allocator whose MALLOC_CONF
 * carries prefix ("" or "_rjem_"...), appending to req[*n] (a
 * MALLOC_CONF=a:1,b:2 argument gives one request per option).
 *   -ENOENT	no such setting for this allocator: why lists those accepted
 *   -ERANGE	the value is not a number of the right kind or out of range
 *   -EOPNOTSUPP  read only at start-up: why gives the reason and the
 *		spelling that sets it for the next start
 *   -E2BIG	more than SETTINGS_MAX requests */
int settings_parse(enum alloc_kind kind, const char *prefix, const char *arg,
		   struct setting_req *req, size_t *n, char *why, size_t len);

/* Whether heapdoc set can change name (as knobs prints it; NULL: any
 * setting) in a running process of this allocator. */
bool settings_is_live(enum alloc_kind kind, const char *name);

/* The value as NAME=VALUE writes it ("0", "true", "2.5"). */
const char *settings_format(const struct setting_def *def, const struct act_value *v,
			    char *buf, size_t len);

/* Whether the change from old to want should bring RSS down. */
bool settings_lowers_rss(const struct setting_def *def, const struct act_value *old,
			 const struct act_value *want);

/* The knobs that make the requests permanent (env, systemd, Kubernetes),
 * in the spelling that wins in the process whose environment is env: one
 * per variable, jemalloc's options in its (prefixed) MALLOC_CONF and
 * glibc's in GLIBC_TUNABLES when the process has that variable, merged
 * into the process's own value.  Returns the number filled in out[0..max). */
size_t settings_permanent(enum alloc_kind kind, const char *prefix, const struct environ *env,
			  const struct setting_req *req, size_t n, struct knob *out, size_t max);

#endif
