/* Figures for people: sizes and durations in the units a reader expects. */
#ifndef HEAPDOC_BASE_HUMAN_H
#define HEAPDOC_BASE_HUMAN_H

#include <stddef.h>
#include <stdint.h>

/* "0 B", "812 B", "4.0 KiB", "1.5 GiB"; UNSET gives "n/a".  Returns buf. */
const char *human_bytes(char *buf, size_t len, uint64_t bytes);

/* "850 µs", "12.3 ms", "1.20 s". Returns buf. */
const char *human_us(char *buf, size_t len, uint64_t us);

/* A stretch of time: "9.5 s", "45 s", "12 min", "2.5 h".  Returns buf. */
const char *human_seconds(char *buf, size_t len, double s);

/* How heapdoc stopped a process, as every command reports it:
 * "12 times, 2.4 ms in total, the longest 850 µs"; "once, for 850 µs";
 * "0 times".  Returns buf. */
const char *human_stops(char *buf, size_t len, unsigned stops, uint64_t total_us,
			uint64_t longest_us);

#endif
