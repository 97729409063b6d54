/* `heapdoc audit`: what protects a process's heap, for a person and for
 * scripts. */
#ifndef HEAPDOC_REPORT_AUDIT_H
#define HEAPDOC_REPORT_AUDIT_H

#include <stdio.h>

#include "judge/audit.h"
#include "model/audit.h"

/* The schema version of `audit --json`: keys are added, never renamed. */
#define AUDIT_JSON_SCHEMA 1

void audit_print_json(FILE *out, const struct audit_obs *obs, const struct audit_result *r);
void audit_print_text(FILE *out, const struct audit_obs *obs, const struct audit_result *r);

/* "none", "partial", "full": a module's RELRO. */
const char *audit_relro_name(const struct audit_module *m);

#endif
