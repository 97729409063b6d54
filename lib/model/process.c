#include "model/process.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* environ is the block the process started with: "K=V\0K=V\0...".  A process
 * may have overwritten it, so the last entry need not end with a NUL (the
 * reader adds one after len). */
const char *environ_get(const struct environ *env, const char *name)
{
	size_t nlen = strlen(name);
	const char *p, *end;

	if (!env->buf || !nlen || strchr(name, '='))
		return NULL;
	end = env->buf + env->len;
	for (p = env->buf; p < end; ) {
		const char *nul = memchr(p, '\0', end - p);
		size_t elen = nul ? (size_t)(nul - p) : (size_t)(end - p);

		if (elen > nlen && p[nlen] == '=' && !memcmp(p, name, nlen))
			return p + nlen + 1;
		p += elen + 1;
	}
	return NULL;
}

int environ_add(struct environ *env, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);
	size_t len = env->len + nlen + 1 + vlen + 1;
	char *buf = realloc(env->buf, len + 1);

	if (!buf)
		return -ENOMEM;
	memcpy(buf + env->len, name, nlen);
	buf[env->len + nlen] = '=';
	memcpy(buf + env->len + nlen + 1, value, vlen + 1);
	buf[len] = '\0';
	env->buf = buf;
	env->len = len;
	return 0;
}

void environ_free(struct environ *env)
{
	free(env->buf);
	env->buf = NULL;
	env->len = 0;
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(s, prefix, n);
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !memcmp(s + len - n, suffix, n);
}

bool environ_is_allocator_setting(const char *name, size_t len)
{
	return has_prefix(name, len, "MALLOC_") || has_prefix(name, len, "TCMALLOC_") ||
	       has_suffix(name, len, "MALLOC_CONF") ||
	       (len == 14 && has_prefix(name, len, "GLIBC_TUNABLES")) ||
	       (len == 10 && has_prefix(name, len, "LD_PRELOAD"));
}
