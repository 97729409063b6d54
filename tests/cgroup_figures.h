/* What the cgroup suites (cgroup, cgroup_live) assert with: figures in
 * MiB, and figures that must be unset. */
#ifndef HEAPDOC_TESTS_CGROUP_FIGURES_H
#define HEAPDOC_TESTS_CGROUP_FIGURES_H

#include <check.h>

#include "base/util.h"

#define MiB (1024ull * 1024)

/* Figures a test does not look at must still be unset, not garbage. */
#define ck_assert_unset(v) ck_assert_msg(!IS_SET(v), #v " is %llu, not unset", \
					 (unsigned long long)(v))

#endif
