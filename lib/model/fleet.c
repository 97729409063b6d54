#include "model/fleet.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"

const char *fleet_error_name(enum fleet_error e)
{
	static const char *const names[FLEET_NERRORS] = {
		[FLEET_ERR_PERMISSION] = "permission",
		[FLEET_ERR_TRACED] = "traced",
		[FLEET_ERR_NO_DEBUG_INFO] = "no_debug_info",
		[FLEET_ERR_UNSUPPORTED] = "unsupported",
		[FLEET_ERR_BUSY] = "busy",
		[FLEET_ERR_CORRUPT] = "corrupt",
		[FLEET_ERR_OTHER] = "other",
	};

	return (unsigned)e < FLEET_NERRORS ? names[e] : "other";
}

const char *fleet_free_kind_name(enum fleet_free_kind k)
{
	static const char *const names[FLEET_NFREE] = {
		[FLEET_FREE_BETWEEN_LIVE] = "between_live",
		[FLEET_FREE_CACHE] = "cache",
		[FLEET_FREE_TOP] = "top",
		[FLEET_FREE_DIRTY] = "dirty",
		[FLEET_FREE_MUZZY] = "muzzy",
		[FLEET_FREE_PAGEHEAP] = "pageheap",
	};

	return (unsigned)k < FLEET_NFREE ? names[k] : "";
}

/* From a trend read's hundred microseconds to a stop long enough to page
 * someone: the range the safety rules care about. */
const double fleet_pause_bounds_s[FLEET_PAUSE_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 1,
};

void fleet_pauses_add(struct fleet_pauses *p, uint64_t us)
{
	for (size_t i = 0; i < FLEET_PAUSE_BUCKETS; i++)
		if ((double)us <= fleet_pause_bounds_s[i] * 1e6)
			p->le[i]++;
	p->count++;
	p->total_us += us;
	p->longest_us = MAX(p->longest_us, us);
}

void fleet_hour_add(struct fleet_hour *h, double now_s, uint64_t us)
{
	uint64_t minute = (uint64_t)(now_s / 60);
	size_t slot = minute % FLEET_HOUR_SLOTS;

	if (h->minute[slot] != minute) {
		h->minute[slot] = minute;
		h->us[slot] = 0;
	}
	h->us[slot] += us;
}

uint64_t fleet_hour_total_us(const struct fleet_hour *h, double now_s)
{
	uint64_t minute = (uint64_t)(now_s / 60), total = 0;

	for (size_t i = 0; i < FLEET_HOUR_SLOTS; i++)
		if (h->minute[i] + FLEET_HOUR_SLOTS > minute && h->minute[i] <= minute)
			total += h->us[i];
	return total;
}

static bool is_unit(const char *name, size_t len)
{
	static const char *const kinds[] = { ".service", ".scope" };

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		size_t k = strlen(kinds[i]);

		if (len > k && !memcmp(name + len - k, kinds[i], k))
			return true;
	}
	return false;
}

void fleet_unit_of(const char *cgroup, char *unit, size_t len)
{
	const char *p = cgroup;

	unit[0] = '\0';
	while (*p) {
		size_t n;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n && is_unit(p, n))
			snprintf(unit, len, "%.*s", (int)n, p);
		p += n;
	}
}

void fleet_window_trim(struct observation *obs, double window_s)
{
	size_t drop = 0;

	if (!obs->nsamples)
		return;
	while (drop < obs->nsamples - 1 &&
	       obs->samples[obs->nsamples - 1].t - obs->samples[drop].t > window_s)
		drop++;
	if (!drop)
		return;
	memmove(obs->samples, obs->samples + drop,
		(obs->nsamples - drop) * sizeof(obs->samples[0]));
	obs->nsamples -= drop;
}
