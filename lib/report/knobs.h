/* Renderers for knob advice, shared by `heapdoc knobs` and `heapdoc triage`. */
#ifndef HEAPDOC_REPORT_KNOBS_H
#define HEAPDOC_REPORT_KNOBS_H

#include <stdio.h>

#include "judge/knobs.h"
#include "judge/triage.h"
#include "model/observation.h"
#include "base/json.h"
#include "report/style.h"

enum knobs_format {
	KNOBS_FORMAT_ENV,		/* NAME=value lines, for a shell or an env file */
	KNOBS_FORMAT_SYSTEMD,		/* a drop-in: [Service] and Environment= lines */
	KNOBS_FORMAT_KUBERNETES,	/* the env: list (and resources:) of a container spec */
};

/* The knobs section of a text report: each knob, why, and how to apply it. */
void knobs_print_section(FILE *out, const struct knobs *ks, const struct style *s);

/* `heapdoc knobs` in text: the container, then the knobs. */
void knobs_print_text(FILE *out, const struct observation *obs, const struct verdict *v,
		      const struct knobs *ks, const struct style *s);

/* Only what to paste, in one format. */
void knobs_print_format(FILE *out, const struct knobs *ks, enum knobs_format fmt);

/* `heapdoc knobs --json`. */
void knobs_print_json(FILE *out, const struct observation *obs, const struct verdict *v,
		      const struct knobs *ks);

/* Pieces shared with the triage JSON. */
void knobs_json_array(struct json *j, const char *key, const struct knobs *ks);
void cgroup_json_object(struct json *j, const char *key, const struct cgroup_limits *cg);
void pressure_json_object(struct json *j, const char *key, const struct pressure *p);

#endif
