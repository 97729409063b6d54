/* Small things every file needs. */
#ifndef HEAPDOC_UTIL_H
#define HEAPDOC_UTIL_H

#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* A figure that could not be read, or does not exist ("no limit").  Reports
 * print it as null, never as a huge number. */
#define UNSET UINT64_MAX
#define IS_SET(v) ((v) != UNSET)

#endif
