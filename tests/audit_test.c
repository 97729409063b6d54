/* `heapdoc audit` on live processes whose protection is known.
 *
 * Each fixture (fixtures/audit_target.c, built four ways) measures inside
 * itself what its allocator really does: whether a freed chunk was filled
 * (perturb), whether malloc keeps the exact size (glibc's malloc-check),
 * whether a freed chunk comes straight back (scudo's quarantine), where its
 * RELRO pages are and where it listens.  The tests compare heapdoc's audit
 * with that, and apply each recommendation heapdoc prints (the environment
 * it names, the flags of a rebuild) to see the protection appear.
 *
 * The rules, the parsers and the report on built observations, without a
 * process, are tests/audit_offline_test.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "judge/audit.h"
#include "observe/audit.h"
#include "testlib.h"

#define SCUDO_LIB AUDIT_SCUDO_PATH
#define DEBUG_LIB "/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"

static char out[1 << 18], err[8192];

static int audit(pid_t pid)
{
	char pidarg[16];
	const char *args[] = { "audit", "--json", pidarg, NULL };

	snprintf(pidarg, sizeof(pidarg), "%d", (int)pid);
	return run_heapdoc(args, out, sizeof(out), err, sizeof(err));
}

/* The string value of the first "key" after from (NULL: absent). */
static const char *string_after(const char *from, const char *key, char *buf, size_t len)
{
	char pat[96];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	if (!from || !(p = strstr(from, pat)))
		return NULL;
	p += strlen(pat);
	for (end = p; *end && !(*end == '"' && end[-1] != '\\'); end++)
		;
	snprintf(buf, len, "%.*s", (int)(end - p), p);
	return buf;
}

/* A check's state and detail, from the checks list. */
static const char *check(const char *field, const char *name)
{
	static char buf[1024];
	char pat[96];
	const char *p;

	snprintf(pat, sizeof(pat), "\"name\": \"%s\"", name);
	p = strstr(out, pat);
	ck_assert_msg(p, "no check %s in:\n%.3000s", name, out);
	ck_assert(string_after(p, field, buf, sizeof(buf)));
	return buf;
}

static void ck_check(const char *name, const char *state)
{
	ck_assert_msg(!strcmp(check("state", name), state), "%s is %s, not %s: %s", name,
		      check("state", name), state, check("detail", name));
}

/* The recommendation called name: its apply line, or NULL. */
static const char *rec_apply(const char *name, char *buf, size_t len)
{
	const char *recs = strstr(out, "\"recommendations\"");
	char pat[96];
	const char *p;

	snprintf(pat, sizeof(pat), "\"name\": \"%s\"", name);
	ck_assert(recs);
	p = strstr(recs, pat);
	return p ? string_after(p, "apply", buf, len) : NULL;
}

static void ck_has(const char *text)
{
	ck_assert_msg(strstr(out, text), "no %s in:\n%.4000s", text, out);
}

/* "K=V K=V" (an apply line) into env entries, in place. */
static void split_env(char *line, const char **env, size_t max)
{
	size_t n = 0;

	for (char *save = NULL, *t = strtok_r(line, " ", &save); t && n + 1 < max;
	     t = strtok_r(NULL, " ", &save))
		env[n++] = t;
	env[n] = NULL;
}

START_TEST(plain_glibc)
{
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, NULL);
	ck_assert_int_eq(fixture_value(&f, "perturb.seen"), 0);
	ck_assert_int_eq(fixture_value(&f, "usable.20"), 24);
	ck_assert_msg(audit(f.pid) == 0, "exit %d: %s", audit(f.pid), err);
	ck_has("\"name\": \"glibc\"");
	ck_has("\"hardened\": false");
	ck_check("safe_linking", "on");
	ck_assert_msg(strstr(check("detail", "safe_linking"), "confirmed: "), "%s",
		      check("detail", "safe_linking"));
	ck_check("tcache_double_free", "on");
	ck_check("malloc_check", "off");
	ck_check("perturb", "off");
	ck_check("quarantine", "n/a");
	ck_has("\"state\": \"intact\"");
	ck_has("\"untrusted_input\": false");
	ck_has("\"recommendations\": []");
	fixture_stop(&f);
}
END_TEST

START_TEST(glibc_malloc_check_and_perturb)
{
	const char *env[] = { "LD_PRELOAD=" DEBUG_LIB, "GLIBC_TUNABLES=glibc.malloc.check=3",
			      "MALLOC_PERTURB_=165", NULL };
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, env);
	/* The process itself: malloc keeps the exact size, free fills. */
	ck_assert_int_eq(fixture_value(&f, "usable.20"), 20);
	ck_assert_int_eq(fixture_value(&f, "perturb.seen"), 165);
	ck_assert_int_eq(audit(f.pid), 0);
	ck_has("\"name\": \"glibc\"");
	ck_has("\"version\": \"2.");
	ck_check("malloc_check", "on");
	ck_assert(strstr(check("detail", "malloc_check"), "read from the library's state"));
	ck_check("perturb", "on");
	ck_assert(strstr(check("detail", "perturb"), "0xa5"));
	ck_check("tcache_double_free", "n/a");
	fixture_stop(&f);
}
END_TEST

START_TEST(glibc_check_asked_without_the_library)
{
	const char *env[] = { "GLIBC_TUNABLES=glibc.malloc.check=3", NULL };
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, env);
	ck_assert_int_eq(fixture_value(&f, "usable.20"), 24);	/* not in force */
	ck_assert_int_eq(audit(f.pid), 0);
	ck_check("malloc_check", "off");
	ck_assert(strstr(check("detail", "malloc_check"), "not loaded"));
	fixture_stop(&f);
}
END_TEST

/* The tcache switched off: no key to check, whatever the version. */
START_TEST(glibc_without_tcache)
{
	const char *env[] = { "GLIBC_TUNABLES=glibc.malloc.tcache_count=0", NULL };
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, env);
	ck_assert_int_eq(audit(f.pid), 0);
	ck_check("tcache_double_free", "off");
	ck_assert(strstr(check("detail", "tcache_double_free"), "tcache_count 0, mp_.tcache_count"));
	/* The fastbin still holds safe-linked chunks. */
	ck_assert(strstr(check("detail", "safe_linking"), "of fastbin"));
	fixture_stop(&f);
}
END_TEST

/* Without libc's debug information: what needs the heap says why it could
 * not be read; the rest of the audit stands. */
START_TEST(glibc_without_debug_info)
{
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, NULL);
	setenv("HEAPDOC_DEBUG_PATH", "/nonexistent", 1);
	ck_assert_int_eq(audit(f.pid), 0);
	unsetenv("HEAPDOC_DEBUG_PATH");
	ck_check("safe_linking", "on");
	ck_assert(strstr(check("detail", "safe_linking"), "not confirmed"));
	ck_assert(strstr(check("detail", "safe_linking"), "libc6-dbg"));
	ck_has("\"state\": \"unchecked\"");
	ck_has("\"comm\": \"audit_target\"");
	fixture_stop(&f);
}
END_TEST

START_TEST(scudo_with_quarantine)
{
	const char *env[] = { "LD_PRELOAD=" SCUDO_LIB, "SCUDO_OPTIONS=" AUDIT_SCUDO_QUARANTINE,
			      NULL };
	const char *plain[] = { "LD_PRELOAD=" SCUDO_LIB, NULL };
	struct fixture f;

	fixture_start(&f, "audit_target", NULL, env);
	ck_assert_int_eq(fixture_value(&f, "reuse.64"), 0);
	ck_assert_int_eq(audit(f.pid), 0);
	ck_has("\"name\": \"scudo\"");
	ck_has("\"version\": \"14.0.6\"");
	ck_has("\"hardened\": true");
	ck_check("quarantine", "on");
	ck_assert(strstr(check("detail", "quarantine"), "256 KiB quarantine (64 KiB per thread)"));
	ck_assert(strstr(check("detail", "quarantine"), "up to 2048 bytes"));
	ck_check("header_checksum", "on");
	ck_check("randomization", "on");
	fixture_stop(&f);

	/* Scudo's defaults: no quarantine, and the chunk comes straight back. */
	fixture_start(&f, "audit_target", NULL, plain);
	ck_assert_int_eq(fixture_value(&f, "reuse.64"), 100);
	ck_assert_int_eq(audit(f.pid), 0);
	ck_check("quarantine", "off");
	fixture_stop(&f);
}
END_TEST

/* A jemalloc server on 127.0.0.1: exposure found, scudo recommended; the
 * recommendation applied as printed gives a hardened allocator with its
 * quarantine working. */
START_TEST(jemalloc_server_gets_scudo)
{
	const char *args[] = { "listen", NULL };
	const char *env[4];
	char apply[1024], port[64], unix_path[160];
	struct fixture f;

	fixture_start(&f, "audit_je", args, NULL);
	ck_assert_int_eq(audit(f.pid), 20);
	ck_has("\"name\": \"jemalloc\"");
	ck_has("\"untrusted_input\": true");
	snprintf(port, sizeof(port), "\"port\": %lld", fixture_value(&f, "tcp.port"));
	ck_has(port);
	snprintf(port, sizeof(port), "\"port\": %lld", fixture_value(&f, "udp.port"));
	ck_has(port);
	snprintf(unix_path, sizeof(unix_path), "\"path\": \"@heapdoc-audit-%d\"", (int)f.pid);
	ck_has(unix_path);
	ck_has("\"address\": \"127.0.0.1\"");
	ck_has("\"loopback\": true");
	ck_assert(rec_apply("scudo", apply, sizeof(apply)));
	ck_has("\"cost_ratio\": 0.");
	fixture_stop(&f);

	split_env(apply, env, 4);
	fixture_start(&f, "audit_je", args, env);
	ck_assert_int_eq(fixture_value(&f, "reuse.64"), 0);
	audit(f.pid);
	ck_has("\"name\": \"scudo\"");
	ck_has("\"hardened\": true");
	ck_check("quarantine", "on");
	ck_assert(!rec_apply("scudo", apply, sizeof(apply)));
	ck_assert(!rec_apply("scudo-quarantine", apply, sizeof(apply)));
	fixture_stop(&f);
}
END_TEST

/* glibc's own settings, recommended to a listening process and applied. */
START_TEST(glibc_advice_applied)
{
	const char *args[] = { "listen", NULL };
	char perturb[1024], check_env[1024];
	const char *env[4];
	struct fixture f;

	fixture_start(&f, "audit_target", args, NULL);
	ck_assert_int_eq(audit(f.pid), 20);
	ck_assert(rec_apply("scudo", perturb, sizeof(perturb)));
	ck_assert(rec_apply("glibc-perturb", perturb, sizeof(perturb)));
	ck_assert(rec_apply("glibc-malloc-check", check_env, sizeof(check_env)));
	fixture_stop(&f);

	split_env(perturb, env, 4);
	fixture_start(&f, "audit_target", args, env);
	ck_assert_int_eq(fixture_value(&f, "perturb.seen"), 165);
	audit(f.pid);
	ck_check("perturb", "on");
	ck_assert(!rec_apply("glibc-perturb", perturb, sizeof(perturb)));
	fixture_stop(&f);

	split_env(check_env, env, 4);
	fixture_start(&f, "audit_target", args, env);
	ck_assert_int_eq(fixture_value(&f, "usable.20"), 20);
	audit(f.pid);
	ck_check("malloc_check", "on");
	fixture_stop(&f);
}
END_TEST

START_TEST(corrupt_heap)
{
	const char *args[] = { "corrupt", NULL };
	struct fixture f;

	fixture_start(&f, "glibc_heap", args, NULL);
	ck_assert_int_eq(audit(f.pid), 21);
	ck_has("\"state\": \"corrupt\"");
	ck_assert(json_int_at(out, "integrity.nfindings") > 0);
	fixture_stop(&f);
}
END_TEST

START_TEST(relro_made_writable)
{
	const char *args[] = { "relro-writable", NULL };
	struct fixture f;

	fixture_start(&f, "audit_target", args, NULL);
	ck_assert_int_eq(audit(f.pid), 21);
	ck_has("\"relro_writable\": 1");
	ck_has("\"relro_writable\": true");
	fixture_stop(&f);
}
END_TEST

/* The RELRO pages heapdoc computes from the file are the ones the
 * dynamic linker protected, as the process itself sees them. */
START_TEST(relro_range_matches_the_process)
{
	struct audit_obs obs = { 0 };
	struct error e = { 0 };
	struct fixture f;

	fixture_start(&f, "audit_nopie", NULL, NULL);
	ck_assert_msg(audit_observe_files("", f.pid, &obs, &e) == 0, "%s", e.msg);
	ck_assert(obs.nmodules > 0 && obs.modules[0].executable);
	ck_assert_uint_eq(obs.modules[0].relro_start, fixture_value(&f, "relro.start"));
	ck_assert_uint_eq(obs.modules[0].relro_end, fixture_value(&f, "relro.end"));
	ck_assert(!obs.modules[0].relro_writable);
	audit_obs_release(&obs);
	fixture_stop(&f);
}
END_TEST

/* Built without PIE and with partial RELRO: the audit says so and tells
 * the flags; the same source rebuilt with them has what was missing. */
START_TEST(nopie_partial_relro_rebuilt)
{
	const char *args[] = { "listen", NULL };
	char apply[1024], cmd[2048];
	const char *flags;
	struct fixture f;

	fixture_start(&f, "audit_nopie", args, NULL);
	ck_assert_int_eq(audit(f.pid), 20);
	ck_has("\"pie\": false");
	ck_has("\"relro\": \"partial\"");
	ck_has("\"bind_now\": false");
	ck_has("\"stack_protector\": false");
	ck_assert(rec_apply("rebuild", apply, sizeof(apply)));
	ck_assert(strstr(apply, "-fPIE -pie") && strstr(apply, "-Wl,-z,relro,-z,now"));
	fixture_stop(&f);

	flags = strstr(apply, " with ") + 6;
	snprintf(cmd, sizeof(cmd), "cc -std=gnu11 -g -Wall -I%s/fixtures -o %s/audit_rebuilt "
		 "%s/fixtures/audit_target.c %s -lpthread", HEAPDOC_ROOT, FIXTURE_BIN,
		 HEAPDOC_ROOT, flags);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
	fixture_start(&f, "audit_rebuilt", args, NULL);
	audit(f.pid);
	ck_has("\"pie\": true");
	ck_has("\"relro\": \"full\"");
	ck_has("\"stack_protector\": true");
	ck_has("\"fortify\": true");
	ck_assert(!rec_apply("rebuild", apply, sizeof(apply)));
	fixture_stop(&f);
}
END_TEST

START_TEST(errors)
{
	const char *none[] = { "audit", NULL };
	const char *help[] = { "audit", "--help", NULL };
	pid_t gone = fork();

	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	ck_assert_int_eq(audit(gone), 3);
	ck_has("\"code\": \"ESRCH\"");	/* --json fails as a JSON object */
	ck_has("\"exit\": 3");
	ck_assert_int_eq(run_heapdoc(none, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_int_eq(run_heapdoc(help, out, sizeof(out), err, sizeof(err)), 0);
	ck_has("Exit status");
	ck_has("Examples:");
}
END_TEST

Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *live = tcase_create("live");

	tcase_set_timeout(live, 120);
	tcase_add_test(live, plain_glibc);
	tcase_add_test(live, glibc_malloc_check_and_perturb);
	tcase_add_test(live, glibc_check_asked_without_the_library);
	tcase_add_test(live, glibc_without_tcache);
	tcase_add_test(live, glibc_without_debug_info);
	tcase_add_test(live, scudo_with_quarantine);
	tcase_add_test(live, jemalloc_server_gets_scudo);
	tcase_add_test(live, glibc_advice_applied);
	tcase_add_test(live, corrupt_heap);
	tcase_add_test(live, relro_made_writable);
	tcase_add_test(live, relro_range_matches_the_process);
	tcase_add_test(live, nopie_partial_relro_rebuilt);
	tcase_add_test(live, errors);
	suite_add_tcase(s, live);
	return s;
}
