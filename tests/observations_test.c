/* The judge and the reports on observations recorded from real runs
 * (fixtures/observations/: heapdoc's fixtures, python3, redis-server, a
 * JVM), eu-stack style: each recording is judged with `triage --from` and
 * its text, JSON and Prometheus outputs compared byte for byte with the
 * committed expected files.  A difference is a change users will see: if
 * it is meant, `make observations-expected` renders the files again and
 * the diff goes into the commit. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "testlib.h"

#define OBS_DIR HEAPDOC_ROOT "/fixtures/observations"
#define MAX_RECORDINGS 64

static char names[MAX_RECORDINGS][64];
static int nnames;

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The recordings, by name without ".jsonl", sorted. */
static void find_recordings(void)
{
	DIR *d = opendir(OBS_DIR);
	struct dirent *e;

	nnames = 0;
	if (!d)
		return;
	while ((e = readdir(d)) && nnames < MAX_RECORDINGS) {
		size_t len = strlen(e->d_name);

		if (len > 6 && len - 6 < sizeof(names[0]) && !strcmp(e->d_name + len - 6, ".jsonl"))
			snprintf(names[nnames++], sizeof(names[0]), "%.*s", (int)(len - 6),
				 e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)nnames, sizeof(names[0]), by_name);
}

static char out[131072], err[8192], want[131072];

/* The first line where got and expected differ, for the failure message. */
static void first_difference(const char *got, const char *exp, char *buf, size_t len)
{
	int line = 1;
	const char *g = got, *x = exp;

	while (*g && *g == *x) {
		line += *g == '\n';
		g++, x++;
	}
	while (g > got && g[-1] != '\n')
		g--, x--;
	snprintf(buf, len, "line %d:\n  got:      %.*s\n  expected: %.*s", line,
		 (int)strcspn(g, "\n"), g, (int)strcspn(x, "\n"), x);
}

/* Renders recording name in one format and compares it with name.ext. */
static int render_and_compare(const char *name, const char *ext, const char *flag)
{
	char rec[512], exp[512], diff[1024];
	const char *args[] = { "triage", "--from", rec, flag, NULL };
	int rc;

	snprintf(rec, sizeof(rec), OBS_DIR "/%s.jsonl", name);
	snprintf(exp, sizeof(exp), OBS_DIR "/%s.%s", name, ext);
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(slurp(exp, want, sizeof(want)) == 0, "no %s", exp);
	if (strcmp(out, want)) {
		first_difference(out, want, diff, sizeof(diff));
		ck_abort_msg("%s.%s differs from triage --from %s.jsonl at %s\n(if the change is "
			     "meant: make observations-expected, and commit the diff)",
			     name, ext, name, diff);
	}
	return rc;
}

static int verdict_exit(const char *verdict)
{
	static const struct { const char *name; int code; } codes[] = {
		{ "healthy", 0 }, { "leak", 10 }, { "fragmentation", 11 }, { "unpurged", 12 },
		{ "live-set", 13 }, { "inconclusive", 14 },
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!strcmp(verdict, codes[i].name))
			return codes[i].code;
	return -1;
}

START_TEST(recording_renders_as_expected)
{
	const char *name = names[_i];
	struct json_value *doc;
	struct error e = { 0 };
	const char *verdict;
	int rc;

	/* Text as a UTF-8 terminal shows it, without colours (not a tty). */
	setenv("LC_ALL", "C.UTF-8", 1);
	rc = render_and_compare(name, "txt", NULL);
	unsetenv("LC_ALL");
	ck_assert_int_eq(render_and_compare(name, "prom", "--prometheus"), rc);
	ck_assert_int_eq(render_and_compare(name, "json", "--json"), rc);
	/* The exit code is the verdict's, as the JSON names it. */
	ck_assert_msg(json_parse(out, strlen(out), &doc, &e) == 0, "%s.json: %s", name, e.msg);
	verdict = json_get_string(json_member(doc, "verdict"));
	ck_assert_ptr_nonnull(verdict);
	ck_assert_msg(verdict_exit(verdict) == rc, "%s: exit %d for verdict %s", name, rc,
		      verdict);
	json_free(doc);
}
END_TEST

/* The floor: a dozen real runs, the real programs among them. */
START_TEST(enough_recordings)
{
	int real = 0;

	for (int i = 0; i < nnames; i++)
		real += !strncmp(names[i], "python3", 7) || !strncmp(names[i], "redis", 5) ||
			!strncmp(names[i], "jvm", 3);
	ck_assert_msg(nnames >= 12, "%d recordings in " OBS_DIR, nnames);
	ck_assert_msg(real >= 2, "%d recordings of real programs", real);
}
END_TEST

Suite *observations_suite(void)
{
	Suite *s = suite_create("observations");
	TCase *tc = tcase_create("recorded");

	find_recordings();
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, enough_recordings);
	tcase_add_loop_test(tc, recording_renders_as_expected, 0, nnames);
	suite_add_tcase(s, tc);
	return s;
}
