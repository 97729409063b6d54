/* What triage and record share after the window: the recording read back,
 * the judge, the report, the exit code. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/human.h"
#include "cmd.h"
#include "judge/knobs.h"
#include "judge/triage.h"
#include "model/recording.h"
#include "report/triage.h"

int cmd_verdict_exit_code(int kind)
{
	switch ((enum verdict_kind)kind) {
	case VERDICT_HEALTHY: return EXIT_OK;
	case VERDICT_LEAK: return EXIT_LEAK;
	case VERDICT_FRAGMENTATION: return EXIT_FRAGMENTATION;
	case VERDICT_UNPURGED: return EXIT_UNPURGED;
	case VERDICT_LIVE_SET: return EXIT_LIVE_SET;
	case VERDICT_INCONCLUSIVE: break;
	}
	return EXIT_INCONCLUSIVE;
}

int cmd_load_recording(const char *path, struct observation *obs, struct recording_info *info,
		       struct error *err)
{
	FILE *f = fopen(path, "re");
	char span[24];
	int ret;

	if (!f)
		return error_set(err, -errno, "%s: %m", path);
	ret = recording_load(f, path, obs, info, err);
	fclose(f);
	if (ret)
		return ret;
	human_seconds(span, sizeof(span), obs->nsamples ?
		      obs->samples[obs->nsamples - 1].t - obs->samples[0].t : 0);
	if (info->cut)
		fprintf(stderr, "heapdoc: %s was cut short in its last line; judging the %zu "
			"sample%s before the cut\n", path, obs->nsamples,
			obs->nsamples == 1 ? "" : "s");
	/* Without an end line, a recording whose last full read follows its
	 * last sample is whole (heapdoc before 0.1's end lines wrote them so);
	 * one whose samples go on after it was stopped short. */
	if (!info->end[0] && (info->cut || !info->has_state || info->samples_after_state))
		snprintf(info->end, sizeof(info->end), "unfinished: the recording stops after "
			 "%s, before heapdoc could say how it ended", span);
	return 0;
}

int cmd_print_verdict(FILE *f, struct triage_report *r, enum cmd_output out)
{
	struct verdict *v = calloc(1, sizeof(*v));
	struct knobs *ks = calloc(1, sizeof(*ks));
	struct style s;
	int code;

	if (!v || !ks) {
		free(v);
		free(ks);
		return cmd_fail(&(struct error){ -ENOMEM, "out of memory" });
	}
	if (r->ended && (!r->ended[0] || !strcmp(r->ended, "complete")))
		r->ended = NULL;
	judge_triage(r->obs, v);
	judge_knobs(r->obs, v, ks);
	r->verdict = v;
	r->knobs = ks;
	switch (out) {
	case CMD_OUT_JSON:
		triage_print_json(f, r);
		break;
	case CMD_OUT_PROMETHEUS:
		triage_print_prometheus(f, r);
		break;
	case CMD_OUT_TEXT:
		style_for(f, &s);
		triage_print_text(f, r, &s);
		break;
	}
	fflush(f);
	code = cmd_verdict_exit_code(v->kind);
	r->verdict = NULL;
	r->knobs = NULL;
	free(v);
	free(ks);
	return code;
}

int cmd_report_verdict(struct triage_report *r, enum cmd_output out)
{
	return cmd_print_verdict(stdout, r, out);
}

int cmd_gone(pid_t pid, const char *how)
{
	fprintf(stderr, "heapdoc: pid %d exited while being read (%s); the report covers "
		"what was seen\n", (int)pid, how);
	return EXIT_NO_PROCESS;
}
