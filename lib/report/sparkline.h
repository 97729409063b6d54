/* Sparklines: a series drawn in one line of block characters. */
#ifndef HEAPDOC_SPARKLINE_H
#define HEAPDOC_SPARKLINE_H

#include <stdbool.h>
#include <stddef.h>

/* Draws v[0..n) into buf as at most width characters, each the mean of the
 * samples it covers, scaled from the series' minimum over at least min_span
 * (so that noise smaller than min_span stays near the bottom instead of
 * filling the height; a flat series draws the lowest level).
 * unicode: ▁▂▃▄▅▆▇█, else "_.-:=+*#".  NaN samples are skipped.  Returns buf. */
char *sparkline(char *buf, size_t len, const double *v, size_t n, size_t width,
		double min_span, bool unicode);

#endif
