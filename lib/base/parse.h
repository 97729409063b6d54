/* Strict parsing of the numbers in kernel files. */
#ifndef HEAPDOC_BASE_PARSE_H
#define HEAPDOC_BASE_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* At least one digit of base (10 or 16), no sign, no overflow; advances *p
 * past the digits. */
bool parse_u64(const char **p, int base, uint64_t *out);

/* "   1024 kB" (any blanks around) -> 1048576 bytes. */
bool parse_kb(const char *s, uint64_t *bytes);

/* Counts the CPUs of a kernel CPU list ("0-3,8,10-11"; blanks around it and
 * a newline after it are allowed; "" is none).  False when it is not one:
 * a range backwards, an id of 2^22 or more (far above NR_CPUS). */
bool parse_cpu_list(const char *s, unsigned *count);

/* s past its leading spaces and tabs. */
static inline const char *parse_skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

#endif
