/* heapdoc leaks' profile files: the pprof, jeprof and folded files a live
 * sample writes (fixtures/leak_sites.c), read back by heapdoc's own decoder
 * and by the tools users have, go tool pprof and jeprof; the pprof reader
 * on garbage; jemalloc's own heap_v2 text, parsed and unbiased.
 *
 * Sampling itself (the sites, the counts, safety) is tests/leaks_test.c.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "leaks_files.h"
#include "model/profile.h"
#include "observe/alloc/jemalloc_prof.h"
#include "report/pprof.h"
#include "testlib.h"

/* ---- the profile files ----------------------------------------------------------- */

static void profile_run(struct fixture *f, const char *pprof, const char *jeprof,
			const char *folded)
{
	static char out[1 << 16], err[4096];
	char pid[16];
	const char *args[] = { "leaks", "--duration", "3s", "--rate", "64K", "--pprof", pprof,
			       "--jeprof", jeprof, "--folded", folded, pid, NULL };
	int rc;

	fixture_start(f, "leak_sites", NULL, NULL);
	snprintf(pid, sizeof(pid), "%d", f->pid);
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
}

/* The leaf function with the most inuse_space in our own reading. */
static const char *pprof_top_inuse(const struct pprof *p)
{
	const char *best = NULL;
	int64_t most = -1;

	for (size_t i = 0; i < p->nsamples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		const struct pprof_location *l = s->nlocations ?
			pprof_location(p, s->locations[0]) : NULL;
		const struct pprof_function *fn = l ? pprof_function(p, l->function_id) : NULL;

		if (fn && s->values[3] > most) {
			most = s->values[3];
			best = fn->name;
		}
	}
	return best;
}

START_TEST(pprof_read_back)
{
	char pprof[256], jeprof[256], folded[256], cmd[1024];
	static char out[1 << 16];
	struct fixture f;
	struct pprof p;
	const char *top;

	tmp_path(pprof, sizeof(pprof), "heap.pb.gz");
	tmp_path(jeprof, sizeof(jeprof), "heap.jeprof");
	tmp_path(folded, sizeof(folded), "heap.folded");
	profile_run(&f, pprof, jeprof, folded);

	/* Our own decoder: Go's heap layout, and the leak on top. */
	ck_assert_int_eq(pprof_read(pprof, &p), 0);
	ck_assert_uint_eq(p.ntypes, 4);
	ck_assert_str_eq(p.types[0], "alloc_objects");
	ck_assert_str_eq(p.units[1], "bytes");
	ck_assert_str_eq(p.types[3], "inuse_space");
	ck_assert_str_eq(p.period_type, "space");
	ck_assert_int_eq(p.period, 65536);
	top = pprof_top_inuse(&p);
	ck_assert_msg(top && !strcmp(top, "leak_step"), "top inuse: %s", top ? top : "none");
	pprof_free(&p);

	/* Go's reader. */
	snprintf(cmd, sizeof(cmd), "go tool pprof -top -sample_index=inuse_space %s 2>&1", pprof);
	ck_assert_msg(run_tool(cmd, out, sizeof(out)) == 0, "go tool pprof failed:\n%s", out);
	ck_assert_msg(strstr(out, "leak_step") && strstr(out, "Type: inuse_space"),
		      "go tool pprof:\n%s", out);

	/* jeprof, with the executable for addresses the profile does not name. */
	snprintf(cmd, sizeof(cmd), "jeprof --text %s/leak_sites %s 2>&1", FIXTURE_BIN, jeprof);
	ck_assert_msg(run_tool(cmd, out, sizeof(out)) == 0, "jeprof failed:\n%s", out);
	ck_assert_msg(strstr(out, "leak_step"), "jeprof:\n%s", out);

	/* Folded stacks: root first, leaf last, live bytes. */
	ck_assert_int_eq(slurp(folded, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, ";leaker;leak_step "), "folded:\n%s", out);
	unlink(pprof);
	unlink(jeprof);
	unlink(folded);
	fixture_stop(&f);
}
END_TEST

START_TEST(pprof_reader_refuses_garbage)
{
	char path[256];
	struct pprof p;
	FILE *out;

	tmp_path(path, sizeof(path), "garbage.pb");
	out = fopen(path, "w");
	ck_assert_ptr_nonnull(out);
	fputs("\x0a\xff\xff\xff\xff\x0f not a profile", out);
	fclose(out);
	ck_assert_int_eq(pprof_read(path, &p), -EINVAL);
	unlink(path);
}
END_TEST

/* ---- jemalloc's own profile ------------------------------------------------------ */

/* jemalloc's heap_v2 text: raw counts kept, unbiased by each stack's mean
 * size, leading frames inside jemalloc dropped. */
START_TEST(jemalloc_heap_v2_parsed)
{
	const char *text =
		"heap_v2/65536\n"
		"  t*: 3: 196608 [0: 0]\n"
		"  t0: 3: 196608 [0: 0]\n"
		"@ 0x7000 0x7010 0x401000 0x402000\n"
		"  t*: 2: 131072 [0: 0]\n"
		"  t0: 2: 131072 [0: 0]\n"
		"@ 0x401100 0x402000\n"
		"  t*: 1: 65536 [0: 0]\n"
		"\nMAPPED_LIBRARIES:\n00400000-00500000 r-xp 00000000 08:01 1 /bin/x\n";
	struct profile p = { 0 };
	double objs, bytes;

	ck_assert_int_eq(jemalloc_prof_parse(text, &p, JEPROF_END, 0x7000, 0x8000, NULL), 0);
	ck_assert_int_eq(p.rate, 65536);
	ck_assert_uint_eq(p.nsites, 2);
	ck_assert_uint_eq(p.sites[0].nframes, 2);
	ck_assert_uint_eq(p.frames[p.sites[0].frames[0]].addr, 0x401000);
	ck_assert_uint_eq(p.sites[0].live.raw_objects, 2);
	profile_weight(65536, 65536, &objs, &bytes);
	ck_assert_double_eq_tol(p.sites[0].live.objects, 2 * objs, 1e-9);
	ck_assert_double_eq_tol(p.sites[0].live.bytes, 2 * bytes, 1e-6);
	ck_assert_uint_eq(p.sites[1].alloc.raw_objects, 1);
	ck_assert_int_eq(jemalloc_prof_parse("heap_v1/1\n", &p, JEPROF_END, 0, 0, NULL), -EPROTO);
	profile_free(&p);
}
END_TEST

Suite *leaks_formats_suite(void)
{
	Suite *s = suite_create("leaks_formats");
	TCase *unit = tcase_create("unit"), *live = tcase_create("live");

	tcase_add_test(unit, pprof_reader_refuses_garbage);
	tcase_add_test(unit, jemalloc_heap_v2_parsed);
	tcase_set_timeout(live, 60);
	tcase_add_test(live, pprof_read_back);
	suite_add_tcase(s, unit);
	suite_add_tcase(s, live);
	return s;
}
