/* Reading the option strings allocators take from the environment:
 * GLIBC_TUNABLES ("glibc.malloc.check=3:glibc.malloc.perturb=165"),
 * SCUDO_OPTIONS ("quarantine_size_kb=256:..." with ':', ',' or blanks
 * between entries), MALLOC_CONF ("junk:true,san_guard_large:1"). */
#include "judge/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool audit_option(const char *list, const char *seps, const char *key, char *buf,
		  size_t len)
{
	size_t klen = strlen(key);
	bool found = false;

	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, seps);

		/* "key=value" (or "key:value" when ':' is not a separator) */
		if (n > klen && !strncmp(p, key, klen) && (p[klen] == '=' ||
		    (p[klen] == ':' && !strchr(seps, ':')))) {
			snprintf(buf, len, "%.*s", (int)(n - klen - 1), p + klen + 1);
			found = true;
		}
		p += n;
		p += *p != '\0';
	}
	return found;
}

unsigned audit_glibc_version(const char *version)
{
	unsigned major, minor;

	if (!version || sscanf(version, "%u.%u", &major, &minor) != 2 || minor >= 1000)
		return 0;
	return major * 1000 + minor;
}
