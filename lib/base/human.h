/* Figures for people: sizes and durations in the units a reader expects. */
#ifndef HEAPDOC_BASE_HUMAN_H
#define HEAPDOC_BASE_HUMAN_H

#include <stddef.h>
#include <stdint.h>

/* "0 B", "812 B", "4.0 KiB", "1.5 GiB"; UNSET gives "n/a".  Returns buf. */
const char *human_bytes(char *buf, size_t len, uint64_t bytes);

/* "850 µs", "12.3 ms", "1.20 s". Returns buf. */
const char *human_us(char *buf, size_t len, uint64_t us);

#endif
