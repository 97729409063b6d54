#include "report/style.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static bool locale_is_utf8(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		/* The first one set decides, as setlocale(3) would. */
		if (v && *v)
			return strcasestr(v, "utf-8") || strcasestr(v, "utf8");
	}
	return false;
}

void style_for(FILE *out, struct style *s)
{
	const char *no_color = getenv("NO_COLOR");

	s->color = isatty(fileno(out)) && !(no_color && *no_color);
	s->unicode = locale_is_utf8();
}

const char *style_bold(const struct style *s)
{
	return s->color ? "\033[1m" : "";
}

const char *style_dim(const struct style *s)
{
	return s->color ? "\033[2m" : "";
}

const char *style_reset(const struct style *s)
{
	return s->color ? "\033[0m" : "";
}

const char *style_verdict_color(const struct style *s, const char *verdict)
{
	if (!s->color)
		return "";
	if (!strcmp(verdict, "healthy"))
		return "\033[1;32m";
	if (!strcmp(verdict, "leak"))
		return "\033[1;31m";
	if (!strcmp(verdict, "inconclusive"))
		return "\033[1;36m";
	return "\033[1;33m";	/* fragmentation, unpurged, live-set */
}
