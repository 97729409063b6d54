/* fixtures/proc-basic, the fake tree the /proc suites (proc, proc_maps,
 * proc_errors) read, and the kB its files count in. */
#ifndef HEAPDOC_TESTS_PROC_BASIC_H
#define HEAPDOC_TESTS_PROC_BASIC_H

#include "testlib.h"

#define KB 1024ull
#define BASIC FAKE_TREE("proc-basic")

#endif
