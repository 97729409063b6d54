#include "report/sparkline.h"

#include <math.h>
#include <string.h>

#define SPARK_MAX_WIDTH 256

char *sparkline(char *buf, size_t len, const double *v, size_t n, size_t width,
		double min_span, bool unicode)
{
	static const char *const blocks[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	static const char ascii[] = "_.-:=+*#";
	double col[SPARK_MAX_WIDTH], lo = INFINITY, hi = -INFINITY;
	size_t cols = 0, used = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	if (width > SPARK_MAX_WIDTH)
		width = SPARK_MAX_WIDTH;
	if (n < width)
		width = n;
	/* Column c averages samples [c·n/width, (c+1)·n/width). */
	for (size_t c = 0; c < width; c++) {
		double sum = 0;
		size_t k = 0;

		for (size_t i = c * n / width; i < (c + 1) * n / width; i++)
			if (!isnan(v[i])) {
				sum += v[i];
				k++;
			}
		col[cols++] = k ? sum / k : NAN;
	}
	for (size_t c = 0; c < cols; c++)
		if (!isnan(col[c])) {
			lo = fmin(lo, col[c]);
			hi = fmax(hi, col[c]);
		}
	if (hi - lo < min_span)
		hi = lo + min_span;
	for (size_t c = 0; c < cols; c++) {
		const char *glyph;
		char one[2] = { ' ', 0 };
		size_t glen;

		if (isnan(col[c])) {
			glyph = " ";
		} else {
			int level = hi > lo ? (int)lrint(7.0 * (col[c] - lo) / (hi - lo)) : 0;

			if (unicode) {
				glyph = blocks[level];
			} else {
				one[0] = ascii[level];
				glyph = one;
			}
		}
		glen = strlen(glyph);
		if (used + glen + 1 > len)
			break;
		memcpy(buf + used, glyph, glen);
		used += glen;
		buf[used] = '\0';
	}
	return buf;
}
