/* Clocks. */
#ifndef HEAPDOC_BASE_CLOCK_H
#define HEAPDOC_BASE_CLOCK_H

#include <stdint.h>

/* Nanoseconds on CLOCK_MONOTONIC: for durations and deadlines. */
uint64_t now_ns(void);

#endif
