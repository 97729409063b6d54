#include "model/observation.h"

void observation_release(struct observation *obs)
{
	environ_free(&obs->env);
}
