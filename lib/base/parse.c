#include "base/parse.h"

#include <string.h>

bool parse_u64(const char **p, int base, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	for (;; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	if (s == *p)
		return false;
	*p = s;
	*out = v;
	return true;
}

bool parse_kb(const char *s, uint64_t *bytes)
{
	uint64_t kb;

	s = parse_skip_blanks(s);
	if (!parse_u64(&s, 10, &kb) || kb > UINT64_MAX / 1024)
		return false;
	s = parse_skip_blanks(s);
	if (strncmp(s, "kB", 2))
		return false;
	if (*parse_skip_blanks(s + 2))
		return false;
	*bytes = kb * 1024;
	return true;
}
