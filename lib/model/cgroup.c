#include "model/cgroup.h"

#include <math.h>

#include "base/util.h"

void cgroup_limits_unset(struct cgroup_limits *cg)
{
	*cg = (struct cgroup_limits){
		.memory_max = UNSET, .memory_high = UNSET, .memory_current = UNSET,
		.memory_peak = UNSET, .anon = UNSET, .file = UNSET,
		.inactive_file = UNSET, .oom_kills = UNSET, .cpu_quota_us = UNSET,
		.cpu_period_us = UNSET, .cpu_quota_cores = NAN,
	};
}

uint64_t cgroup_working_set(const struct cgroup_limits *cg)
{
	if (!IS_SET(cg->memory_current) || !IS_SET(cg->inactive_file))
		return cg->memory_current;
	return cg->memory_current > cg->inactive_file ? cg->memory_current - cg->inactive_file : 0;
}
