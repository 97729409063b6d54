/* Private to lib/judge/audit*.c: filling the checks. */
#ifndef HEAPDOC_JUDGE_AUDIT_CHECKS_H
#define HEAPDOC_JUDGE_AUDIT_CHECKS_H

#include "judge/audit.h"

/* Indices into audit_result.checks, in the order the report lists them. */
enum {
	CHECK_SAFE_LINKING, CHECK_TCACHE_DOUBLE_FREE, CHECK_MALLOC_CHECK, CHECK_PERTURB,
	CHECK_QUARANTINE, CHECK_HEADER_CHECKSUM, CHECK_ZERO_ON_FREE, CHECK_GUARD_PAGES,
	CHECK_RANDOMIZATION,
};

void audit_set(struct audit_result *r, int check, enum audit_state state, const char *fmt,
	       ...) __attribute__((format(printf, 4, 5)));

/* glibc's checks (audit_glibc.c). */
void audit_checks_glibc(const struct audit_obs *obs, struct audit_result *r);

/* What glibc's malloc-check and perturb settings are in force (also what
 * the advice needs). */
bool audit_glibc_malloc_check(const struct audit_obs *obs);
int audit_glibc_perturb(const struct audit_obs *obs);	/* the byte; 0: off */

/* The quarantine scudo runs with: SCUDO_OPTIONS over its defaults. */
struct audit_scudo_quarantine {
	long size_kb, thread_local_kb, max_chunk;
	bool on;
};
void audit_scudo_quarantine(const struct audit_obs *obs, struct audit_scudo_quarantine *q);

#endif
