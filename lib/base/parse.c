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

#define CPU_ID_LIMIT (1u << 22)

bool parse_cpu_list(const char *s, unsigned *count)
{
	unsigned n = 0;

	s = parse_skip_blanks(s);
	while (*s && *s != '\n') {
		uint64_t lo, hi;

		if (!parse_u64(&s, 10, &lo))
			return false;
		hi = lo;
		if (*s == '-') {
			s++;
			if (!parse_u64(&s, 10, &hi) || hi < lo)
				return false;
		}
		if (hi >= CPU_ID_LIMIT)
			return false;
		n += (unsigned)(hi - lo + 1);
		if (*s == ',')
			s++;
		else if (*parse_skip_blanks(s) && *parse_skip_blanks(s) != '\n')
			return false;
		else
			break;
	}
	*count = n;
	return true;
}
