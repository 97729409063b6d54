/* heapdoc plot: recordings as a picture. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "judge/triage.h"
#include "model/recording.h"
#include "report/plot.h"

static int plot_exec(const struct cmd_args *a);

enum { PLOT_OUTPUT, PLOT_JSON };

const struct cmd_entry cmd_plot_entry = {
	.name = "plot",
	.summary = "recordings as a picture: RSS, resident and allocated against time (SVG)",
	.description =
"Draws one or more recordings (from `heapdoc record` or `triage -o`) as a\n"
"plain SVG picture, written by heapdoc itself: RSS (thick), resident\n"
"(dashed) and allocated (thin) against time, one colour per recording,\n"
"overlaid from each one's first sample, with each recording's verdict and\n"
"reason below.  Where resident and allocated part ways for good, a mark\n"
"says when and how far: diverging lines are fragmentation accumulating; a\n"
"gap that opens and closes every cycle is a working set, and unmarked.\n"
"Any browser shows it.\n",
	.args = "RECORDING...", .args_min = 1, .args_max = PLOT_MAX_LINES,
	.args_missing = "which recordings? give one or more",
	.options = {
		[PLOT_OUTPUT] = { .name = "output", .letter = 'o', .type = CMD_STRING,
			.value_name = "FILE.svg", .help = "write the picture there; default: stdout" },
		[PLOT_JSON] = { .name = "json",
			.help = "instead of the picture, what it says: each recording's verdict, "
			"reason and where its lines part (divergence)" },
	},
	.examples = {
		{ "heapdoc plot -o svc.svg svc.jsonl",
		  "one recording: the three lines, the verdict, where the lines diverge" },
		{ "heapdoc plot -o knob.svg before.jsonl after.jsonl",
		  "before and after a knob, overlaid: did resident come down to allocated?" },
		{ "heapdoc plot --json svc.jsonl | jq .recordings[0].divergence",
		  "when resident and allocated parted, for a script" },
	},
	.exec = plot_exec,
};

struct plotted {
	struct observation obs;
	struct verdict v;
};

static int plot_exec(const struct cmd_args *a)
{
	struct plot_line lines[PLOT_MAX_LINES];
	struct plotted *p = calloc((size_t)a->argc, sizeof(*p));
	const char *path = a->value[PLOT_OUTPUT];
	struct error err = { 0 };
	FILE *out = stdout;
	int ret = 0, loaded = 0;

	if (!p)
		return cmd_fail(&(struct error){ -ENOMEM, "out of memory" });
	for (; loaded < a->argc && !ret; loaded++) {
		struct recording_info info;

		ret = cmd_load_recording(a->argv[loaded], &p[loaded].obs, &info, &err);
		if (ret)
			break;
		judge_triage(&p[loaded].obs, &p[loaded].v);
		lines[loaded] = (struct plot_line){ .name = a->argv[loaded], .obs = &p[loaded].obs,
						    .verdict = &p[loaded].v };
		judge_divergence(&p[loaded].obs, &lines[loaded].divergence);
	}
	if (!ret && path && !(out = fopen(path, "we")))
		ret = error_set(&err, -errno, "%s: %m", path);
	if (!ret) {
		if (a->set[PLOT_JSON])
			plot_print_json(out, lines, (size_t)a->argc);
		else
			plot_print_svg(out, lines, (size_t)a->argc);
		if ((out != stdout ? fclose(out) : fflush(out)) != 0)
			ret = error_set(&err, -errno, "%s: %m", path ? path : "stdout");
	}
	ret = ret ? cmd_fail(&err) : EXIT_OK;
	for (int i = 0; i < loaded; i++)
		observation_release(&p[i].obs);
	free(p);
	return ret;
}
