/* heapdoc compare: two recordings, before and after a change. */
#include <errno.h>
#include <stdlib.h>

#include "cmd.h"
#include "judge/compare.h"
#include "judge/triage.h"
#include "model/recording.h"
#include "report/compare.h"

static int compare_exec(const struct cmd_args *a);

enum { COMPARE_JSON };

const struct cmd_entry cmd_compare_entry = {
	.name = "compare",
	.summary = "two recordings side by side: did the change move its number?",
	.description =
"Reads two recordings (from `heapdoc record` or `triage -o`), before and\n"
"after a change, judges each as triage would, and puts them side by side:\n"
"the verdicts, RSS, resident, allocated, the gap and what it is made of, free\n"
"pages not returned, arenas, page faults and the trend.  It lists the\n"
"allocator settings that differ (the environment each process started with,\n"
"and the settings in force as the allocator held them) and, for the first\n"
"one that has a number to move, says whether it moved it: MALLOC_ARENA_MAX\n"
"the gap, the trim threshold and decay settings the free pages not returned,\n"
"the top pad the page faults.  A move counts from a tenth of the figure\n"
"(and 1 MiB).  With no setting differing (a release, a deploy) the figures\n"
"speak for themselves.\n",
	.args = "BEFORE AFTER", .args_min = 2, .args_max = 2,
	.args_missing = "which recordings? give BEFORE and AFTER",
	.options = {
		[COMPARE_JSON] = { .name = "json",
			.help = "one JSON object (before, after, conclusion, worked, figures, "
			"settings)" },
	},
	.examples = {
		{ "heapdoc compare before.jsonl after.jsonl",
		  "whether the setting changed in between moved the number it is for" },
		{ "heapdoc compare --json before.jsonl after.jsonl | jq .worked",
		  "true, false, or null when no setting differs, for a script" },
		{ "heapdoc plot -o both.svg before.jsonl after.jsonl",
		  "the same two recordings as one picture" },
	},
	.exec = compare_exec,
};

struct side {
	struct observation obs;
	struct verdict v;
	struct recording_info info;
};

static int load_side(const char *path, struct side *d, struct error *err)
{
	int ret = cmd_load_recording(path, &d->obs, &d->info, err);

	if (!ret)
		judge_triage(&d->obs, &d->v);
	return ret;
}

static int compare_exec(const struct cmd_args *a)
{
	bool json = a->set[COMPARE_JSON];
	struct side *b = calloc(1, sizeof(*b)), *f = calloc(1, sizeof(*f));
	struct compare *c = calloc(1, sizeof(*c));
	struct error err = { 0 };
	struct style s;
	int ret;

	if (!b || !f || !c) {
		ret = cmd_fail_json(&(struct error){ -ENOMEM, "out of memory" }, json);
		goto out;
	}
	ret = load_side(a->argv[0], b, &err);
	if (!ret)
		ret = load_side(a->argv[1], f, &err);
	if (ret) {
		ret = cmd_fail_json(&err, json);
		goto out;
	}
	judge_compare(&b->obs, &b->v, &f->obs, &f->v, c);
	struct compare_report r = {
		.before = { a->argv[0], &b->obs, &b->v },
		.after = { a->argv[1], &f->obs, &f->v },
		.compare = c,
	};
	if (json) {
		compare_print_json(stdout, &r);
	} else {
		style_for(stdout, &s);
		compare_print_text(stdout, &r, &s);
	}
	ret = EXIT_OK;
out:
	if (b)
		observation_release(&b->obs);
	if (f)
		observation_release(&f->obs);
	free(b);
	free(f);
	free(c);
	return ret;
}
