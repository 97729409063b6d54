/* `heapdoc audit`: what protects a process's heap, what its exposure calls
 * for, and what adding protection would cost.  Pure: it reads an audit
 * observation (model/audit.h) and never touches a pid.
 *
 *	audit_judge()		the checks, heap integrity, exposure, binary
 *				hardening and recommendations
 *	audit_costs_*		the figures the recommendations quote, measured
 *				by bench/alloc_cost.sh (audit_costs.c)
 */
#ifndef HEAPDOC_JUDGE_AUDIT_H
#define HEAPDOC_JUDGE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "model/audit.h"

enum audit_state { AUDIT_OFF, AUDIT_ON, AUDIT_NA };

/* "off", "on", "n/a": the JSON contract. */
const char *audit_state_name(enum audit_state state);

/* One protection: on, off (the allocator has it, it is not in force), or
 * n/a (this allocator has no such thing). */
struct audit_check {
	const char *name;	/* safe_linking, tcache_double_free, malloc_check, perturb,
				 * quarantine, header_checksum, zero_on_free,
				 * guard_pages, randomization */
	enum audit_state state;
	char detail[400];
};

#define AUDIT_NCHECKS 9

enum audit_integrity {
	AUDIT_INTACT,		/* the heap walk found everything consistent */
	AUDIT_CORRUPT,		/* it found sizes, links or lists that cannot be */
	AUDIT_UNCHECKED,	/* not walked: detail says why */
};

/* "intact", "corrupt", "unchecked". */
const char *audit_integrity_name(enum audit_integrity integrity);

/* One way to add protection: how to apply it, what it protects against,
 * what it costs (measured) and what it gives up. */
struct audit_rec {
	const char *name;	/* "scudo", "scudo-quarantine", "glibc-perturb",
				 * "glibc-malloc-check", "relink", "rebuild" */
	char apply[1024];	/* environment lines or build flags */
	char source[256];	/* where what it needs comes from; "" */
	char protects[320];
	char cost[320];		/* the figure, and where it comes from */
	double cost_ratio;	/* ops/s with it ÷ ops/s now; NAN: not measured */
	char loses[320];
};

#define AUDIT_MAX_RECS 6

struct audit_result {
	bool hardened;			/* a hardened allocator serves malloc */
	char variant[16];		/* hardened_malloc "default"/"light"/"pkey";
					 * mimalloc "secure"; else "" */
	struct audit_check checks[AUDIT_NCHECKS];
	enum audit_integrity integrity;
	char integrity_detail[400];
	/* Exposure: 1 some socket takes input from others, 0 none, -1 the
	 * sockets could not be read. */
	int untrusted_input;
	char exposure[400];
	unsigned relro_writable;	/* modules whose RELRO pages are writable now */
	unsigned weak_modules;		/* modules missing full RELRO, the stack
					 * protector or a non-executable stack */
	struct audit_rec recs[AUDIT_MAX_RECS];
	size_t nrecs;
	char advice[400];		/* the line over the recommendations, or
					 * why there are none */
};

void audit_judge(const struct audit_obs *obs, struct audit_result *out);

/* ---- the parts (audit_*.c), for tests ---------------------------------- */

/* The checks for obs's allocator into out->checks (and hardened, variant). */
void audit_judge_checks(const struct audit_obs *obs, struct audit_result *out);

/* The recommendations (needs checks and exposure judged). */
void audit_judge_advice(const struct audit_obs *obs, struct audit_result *out);

/* The value of key in an option list ("k=v:k=v", separators as given),
 * copied into buf; false when the key is absent.  The last one wins, as in
 * scudo's and glibc's parsers. */
bool audit_option(const char *list, const char *seps, const char *key, char *buf,
		  size_t len);

/* glibc's version as major * 1000 + minor ("2.36" → 2036); 0 if unknown. */
unsigned audit_glibc_version(const char *version);

/* ---- measured costs (audit_costs.c) ------------------------------------- */

/* ops/s of bench/alloc_loop under config ("glibc", "glibc-perturb",
 * "glibc-malloc-check", "scudo", "scudo-quarantine", "jemalloc",
 * "tcmalloc", "mimalloc") relative to plain glibc in the same run; NAN for
 * a config that was not measured. */
double audit_cost(const char *config);
/* The bench run the figures come from: command, date, machine. */
extern const char audit_costs_source[];

/* The scudo options heapdoc recommends and the bench measures. */
#define AUDIT_SCUDO_QUARANTINE \
	"quarantine_size_kb=256:thread_local_quarantine_size_kb=64:quarantine_max_chunk_size=2048"
#define AUDIT_GLIBC_PERTURB "glibc.malloc.perturb=165"

#endif
