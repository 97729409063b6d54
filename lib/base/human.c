#include "base/human.h"

#include <inttypes.h>
#include <stdio.h>

#include "base/util.h"

const char *human_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (!IS_SET(bytes)) {
		snprintf(buf, len, "n/a");
		return buf;
	}
	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	while (v >= 1024 && u + 1 < ARRAY_SIZE(unit)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, v < 10 ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

const char *human_us(char *buf, size_t len, uint64_t us)
{
	if (us < 1000)
		snprintf(buf, len, "%" PRIu64 " µs", us);
	else if (us < 1000000)
		snprintf(buf, len, "%.1f ms", us / 1e3);
	else
		snprintf(buf, len, "%.2f s", us / 1e6);
	return buf;
}

const char *human_stops(char *buf, size_t len, unsigned stops, uint64_t total_us,
			uint64_t longest_us)
{
	char total[32], longest[32];

	if (!stops)
		snprintf(buf, len, "0 times");
	else if (stops == 1)
		snprintf(buf, len, "once, for %s", human_us(longest, sizeof(longest), longest_us));
	else
		snprintf(buf, len, "%u times, %s in total, the longest %s", stops,
			 human_us(total, sizeof(total), total_us),
			 human_us(longest, sizeof(longest), longest_us));
	return buf;
}

const char *human_seconds(char *buf, size_t len, double s)
{
	if (!(s >= 0))
		snprintf(buf, len, "n/a");
	else if (s < 10)
		snprintf(buf, len, "%.1f s", s);
	else if (s < 120)
		snprintf(buf, len, "%.0f s", s);
	else if (s < 7200)
		snprintf(buf, len, s < 600 ? "%.1f min" : "%.0f min", s / 60);
	else
		snprintf(buf, len, "%.1f h", s / 3600);
	return buf;
}
