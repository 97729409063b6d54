#include "model/observation.h"

#include "model/thin.h"

void observation_release(struct observation *obs)
{
	environ_free(&obs->env);
}

struct sample *observation_add_sample(struct observation *obs, const struct sample *s)
{
	if (obs->nsamples >= OBS_MAX_SAMPLES)
		samples_compact(obs->samples, &obs->nsamples);
	obs->samples[obs->nsamples] = *s;
	return &obs->samples[obs->nsamples++];
}
