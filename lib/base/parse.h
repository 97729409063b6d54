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

/* s past its leading spaces and tabs. */
static inline const char *parse_skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

#endif
