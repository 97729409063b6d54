/* `heapdoc audit` without a process: the listening sockets read from a
 * committed fake /proc tree, the judge's rules on built observations (the
 * hardened allocators, the advice that follows exposure, scudo's quarantine
 * options), the option-list parsers, the costs it quotes against the bench's
 * committed run, and whole reports against the files in tests/expected.
 *
 * The same audit on live processes is tests/audit_test.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/audit.h"
#include "observe/audit.h"
#include "report/audit.h"
#include "testlib.h"

/* ---- without a process -------------------------------------------------- */

START_TEST(listeners_from_a_fake_tree)
{
	struct audit_socket *s;
	struct error e = { 0 };
	size_t n;

	ck_assert_msg(proc_read_listeners(FAKE_TREE("proc-net"), 4242, &s, &n, &e) == 0, "%s",
		      e.msg);
	ck_assert_uint_eq(n, 5);
	ck_assert(s[0].proto == AUDIT_TCP && !strcmp(s[0].address, "127.0.0.1") &&
		  s[0].port == 8080 && s[0].loopback && s[0].inode == 1001);
	ck_assert(s[1].proto == AUDIT_TCP6 && !strcmp(s[1].address, "::") && s[1].port == 443 &&
		  s[1].wildcard && !s[1].loopback);
	ck_assert(s[2].proto == AUDIT_UDP && !strcmp(s[2].address, "10.0.0.5") &&
		  s[2].port == 53 && !s[2].loopback);
	ck_assert(s[3].proto == AUDIT_UDP6 && !strcmp(s[3].address, "::1") && s[3].loopback);
	ck_assert(s[4].proto == AUDIT_UNIX && !strcmp(s[4].path, "/run/app/control.sock"));
	free(s);
}
END_TEST

static void judge_kind(struct audit_obs *obs, enum alloc_kind kind, const char *path,
		       struct audit_result *r)
{
	obs->alloc.kind = kind;
	snprintf(obs->alloc.path, sizeof(obs->alloc.path), "%s", path);
	obs->sockets_read = true;
	obs->glibc.tcache_count = UINT64_MAX;
	obs->glibc.perturb_byte = obs->glibc.debug_hooks = obs->glibc.debug_perturb_byte = -1;
	audit_judge(obs, r);
}

START_TEST(hardened_malloc_variants)
{
	struct audit_obs obs = { 0 };
	struct audit_result r;

	judge_kind(&obs, ALLOC_HARDENED_MALLOC, "/usr/lib/libhardened_malloc-light.so", &r);
	ck_assert(r.hardened);
	ck_assert_str_eq(r.variant, "light");
	ck_assert_int_eq(r.checks[8].state, AUDIT_OFF);		/* randomization */
	ck_assert_int_eq(r.checks[6].state, AUDIT_ON);		/* zero_on_free */
	judge_kind(&obs, ALLOC_HARDENED_MALLOC, "/usr/lib/libhardened_malloc.so", &r);
	ck_assert_str_eq(r.variant, "default");
	ck_assert_int_eq(r.checks[8].state, AUDIT_ON);
}
END_TEST

START_TEST(mimalloc_secure_by_name)
{
	struct audit_obs obs = { 0 };
	struct audit_result r;

	judge_kind(&obs, ALLOC_MIMALLOC, "/usr/lib/libmimalloc-secure.so.2", &r);
	ck_assert(r.hardened);
	ck_assert_int_eq(r.checks[0].state, AUDIT_ON);
	judge_kind(&obs, ALLOC_MIMALLOC, "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", &r);
	ck_assert(!r.hardened);
	ck_assert_int_eq(r.checks[0].state, AUDIT_OFF);
	ck_assert_int_eq(r.checks[7].state, AUDIT_OFF);		/* guard_pages */
}
END_TEST

START_TEST(advice_follows_exposure)
{
	struct audit_socket sock = { .proto = AUDIT_TCP, .address = "0.0.0.0", .port = 80,
				     .wildcard = true };
	struct audit_obs obs = { 0 };
	struct audit_result r;

	/* No door: nothing recommended, and it says why. */
	judge_kind(&obs, ALLOC_JEMALLOC, "/usr/lib/libjemalloc.so.2", &r);
	ck_assert_uint_eq(r.nrecs, 0);
	ck_assert(strstr(r.advice, "nothing to recommend"));
	/* Listening on every address: scudo, against jemalloc's figure. */
	obs.sockets = &sock;
	obs.nsockets = 1;
	judge_kind(&obs, ALLOC_JEMALLOC, "/usr/lib/libjemalloc.so.2", &r);
	ck_assert_int_eq(r.untrusted_input, 1);
	ck_assert(strstr(r.exposure, "network-facing: tcp 0.0.0.0:80"));
	ck_assert_uint_ge(r.nrecs, 1);
	ck_assert_str_eq(r.recs[0].name, "scudo");
	ck_assert_double_eq_tol(r.recs[0].cost_ratio,
				audit_cost("scudo-quarantine") / audit_cost("jemalloc"), 1e-9);
	ck_assert(strstr(r.recs[0].loses, "profiling"));
	/* Sockets that could not be read: advised as exposed. */
	obs.nsockets = 0;
	judge_kind(&obs, ALLOC_JEMALLOC, "/usr/lib/libjemalloc.so.2", &r);
	obs.sockets_read = false;
	audit_judge(&obs, &r);
	ck_assert_int_eq(r.untrusted_input, -1);
	ck_assert_uint_ge(r.nrecs, 1);
}
END_TEST

START_TEST(scudo_quarantine_needs_all_three)
{
	struct audit_obs obs = { 0 };
	struct audit_result r;

	snprintf(obs.env.scudo_options, sizeof(obs.env.scudo_options),
		 "quarantine_size_kb=256,thread_local_quarantine_size_kb=64");
	judge_kind(&obs, ALLOC_SCUDO, AUDIT_SCUDO_PATH, &r);
	ck_assert_int_eq(r.checks[4].state, AUDIT_OFF);
	ck_assert(strstr(r.checks[4].detail, "quarantine_max_chunk_size=0"));
	snprintf(obs.env.scudo_options, sizeof(obs.env.scudo_options),
		 "quarantine_size_kb=256 thread_local_quarantine_size_kb=64 "
		 "quarantine_max_chunk_size=512");
	judge_kind(&obs, ALLOC_SCUDO, AUDIT_SCUDO_PATH, &r);
	ck_assert_int_eq(r.checks[4].state, AUDIT_ON);
}
END_TEST

START_TEST(option_lists)
{
	char v[32];

	ck_assert(audit_option("glibc.malloc.check=3:glibc.malloc.perturb=165", ":",
			       "glibc.malloc.perturb", v, sizeof(v)));
	ck_assert_str_eq(v, "165");
	ck_assert(!audit_option("glibc.malloc.checkx=1", ":", "glibc.malloc.check", v, sizeof(v)));
	ck_assert(audit_option("a=1:a=2", ":", "a", v, sizeof(v)));
	ck_assert_str_eq(v, "2");
	ck_assert(audit_option("junk:free,san_guard_large:1", ",", "junk", v, sizeof(v)));
	ck_assert_str_eq(v, "free");
	ck_assert_uint_eq(audit_glibc_version("2.36"), 2036);
	ck_assert_uint_eq(audit_glibc_version(""), 0);
}
END_TEST

/* The costs the recommendations quote are the bench's last committed run,
 * and the bench measures exactly the settings recommended. */
START_TEST(costs_come_from_the_bench)
{
	static char text[16384], script[16384];
	unsigned n = 0;

	ck_assert(slurp(HEAPDOC_ROOT "/bench/results/alloc_cost.txt", text, sizeof(text)) >= 0);
	ck_assert(slurp(HEAPDOC_ROOT "/bench/alloc_cost.sh", script, sizeof(script)) >= 0);
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char name[64];
		double ops, ratio;

		if (sscanf(l, "alloc_cost %63s %lf ops/s %lf", name, &ops, &ratio) != 3)
			continue;
		ck_assert_msg(audit_cost(name) > ratio - 0.005 && audit_cost(name) < ratio + 0.005,
			      "%s: bench %.2f, lib/judge/audit_costs.c %.2f", name, ratio,
			      audit_cost(name));
		n++;
	}
	ck_assert_uint_eq(n, 8);
	ck_assert(strstr(script, "quarantine=" AUDIT_SCUDO_QUARANTINE "\n"));
	ck_assert(strstr(script, "perturb=" AUDIT_GLIBC_PERTURB "\n"));
}
END_TEST

/* ---- whole reports against committed files ------------------------------ */

/* A glibc 2.36 server as an audit would see it: listening on every address
 * and on a unix socket, its executable without PIE and with partial RELRO
 * (and its GOT made writable), a corrupt heap, perturb asked for. */
static void exposed_glibc(struct audit_obs *obs, struct audit_module *m, struct audit_socket *sk)
{
	memset(obs, 0, sizeof(*obs));
	obs->pid = 4242;
	snprintf(obs->comm, sizeof(obs->comm), "server");
	obs->alloc = (struct alloc_id){ .kind = ALLOC_GLIBC, .link = ALLOC_SHARED,
		.version = "2.36", .path = "/usr/lib/x86_64-linux-gnu/libc.so.6",
		.evidence = "libc.so.6 exports malloc (linked)" };
	snprintf(obs->env.glibc_tunables, sizeof(obs->env.glibc_tunables),
		 "glibc.malloc.arena_max=2");
	snprintf(obs->scudo_lib, sizeof(obs->scudo_lib), "%s", AUDIT_SCUDO_PATH);
	obs->glibc = (struct audit_glibc){ .walked = true, .method = "held", .tcache_count = 7,
		.arenas = 2, .safe_links = 12, .safe_link_at = 0x55d0c0de12a0,
		.safe_link_stored = 0x55d0c0de1, .safe_link_list = "tcache bin 0 of thread 4242",
		.corrupt = true, .nfindings = 2, .perturb_byte = 0, .debug_hooks = -1,
		.debug_perturb_byte = -1 };
	snprintf(obs->glibc.findings[0].what, sizeof(obs->glibc.findings[0].what),
		 "fastbin 1 holds a chunk of size 4096");
	snprintf(obs->glibc.findings[1].what, sizeof(obs->glibc.findings[1].what),
		 "bin 3 of arena 0x7f0000000000: endless list (a cycle)");
	m[0] = (struct audit_module){ .path = "/usr/sbin/server", .executable = true, .read = true,
		.relro = true, .stack_protector = true, .fortified = 3, .gnu_stack = true,
		.nx_stack = true, .relro_start = 0x403000, .relro_end = 0x404000,
		.relro_writable = true };
	m[1] = (struct audit_module){ .path = "/usr/lib/x86_64-linux-gnu/libc.so.6", .read = true,
		.pie = true, .relro = true, .stack_protector = true, .gnu_stack = true,
		.nx_stack = true };
	m[2] = (struct audit_module){ .path = "/opt/vendor/libold.so", .read = false,
		.why_unread = "open /proc/4242/root/opt/vendor/libold.so: Permission denied" };
	obs->modules = m;
	obs->nmodules = 3;
	sk[0] = (struct audit_socket){ .proto = AUDIT_TCP6, .address = "::", .port = 443,
		.inode = 1003, .wildcard = true };
	sk[1] = (struct audit_socket){ .proto = AUDIT_UNIX, .path = "/run/server.sock",
		.inode = 1007, .loopback = true };
	obs->sockets = sk;
	obs->nsockets = 2;
	obs->sockets_read = true;
	obs->pause_us = 812;
	obs->pause_total_us = 1406;
	obs->stops = 2;
}

/* Renders into a string; compares it with tests/expected/NAME, or writes
 * that file when HEAPDOC_UPDATE_EXPECTED is set (a change meant to alter
 * the report). */
static void ck_expected(const char *name, const struct audit_obs *obs,
			const struct audit_result *r, bool json)
{
	static char want[1 << 16];
	char path[4096], *got = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&got, &len);

	ck_assert(f);
	if (json)
		audit_print_json(f, obs, r);
	else
		audit_print_text(f, obs, r);
	fclose(f);
	snprintf(path, sizeof(path), "%s/tests/expected/%s", HEAPDOC_ROOT, name);
	if (getenv("HEAPDOC_UPDATE_EXPECTED")) {
		f = fopen(path, "w");
		ck_assert(f && fwrite(got, 1, len, f) == len && fclose(f) == 0);
	}
	ck_assert_msg(slurp(path, want, sizeof(want)) >= 0, "no %s", path);
	ck_assert_msg(!strcmp(got, want), "%s differs; got:\n%s", name, got);
	free(got);
}

START_TEST(whole_report)
{
	struct audit_module m[3];
	struct audit_socket sk[2];
	struct audit_obs obs;
	struct audit_result r;

	unsetenv("LANG");
	unsetenv("LC_ALL");
	unsetenv("LC_CTYPE");
	exposed_glibc(&obs, m, sk);
	audit_judge(&obs, &r);
	ck_expected("audit-exposed-glibc.txt", &obs, &r, false);
	ck_expected("audit-exposed-glibc.json", &obs, &r, true);
}
END_TEST

Suite *audit_offline_suite(void)
{
	Suite *s = suite_create("audit_offline");
	TCase *pure = tcase_create("pure");

	tcase_add_test(pure, listeners_from_a_fake_tree);
	tcase_add_test(pure, hardened_malloc_variants);
	tcase_add_test(pure, mimalloc_secure_by_name);
	tcase_add_test(pure, advice_follows_exposure);
	tcase_add_test(pure, scudo_quarantine_needs_all_three);
	tcase_add_test(pure, option_lists);
	tcase_add_test(pure, costs_come_from_the_bench);
	tcase_add_test(pure, whole_report);
	suite_add_tcase(s, pure);
	return s;
}
