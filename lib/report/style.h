/* How text reports are drawn: colours only on a terminal, block characters
 * only where the locale can show them. */
#ifndef HEAPDOC_STYLE_H
#define HEAPDOC_STYLE_H

#include <stdbool.h>
#include <stdio.h>

struct style {
	bool color;		/* ANSI colours and bold */
	bool unicode;		/* ▁▂▃ sparklines and bullets */
};

/* Colours when out is a terminal and NO_COLOR is unset; unicode when the
 * locale's environment names UTF-8. */
void style_for(FILE *out, struct style *s);

/* An ANSI sequence, or "" without colours. */
const char *style_bold(const struct style *s);
const char *style_dim(const struct style *s);
const char *style_reset(const struct style *s);
const char *style_verdict_color(const struct style *s, const char *verdict);

#endif
