/* Helpers every test suite shares: fixtures, fake trees, running heapdoc. */
#ifndef HEAPDOC_TESTLIB_H
#define HEAPDOC_TESTLIB_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A test that cannot run here says why and ends.  The runner lists it after
 * Check's summary as skipped (Check itself counts it among the passes), and
 * make check fails when what is missing is something `make deps` installs:
 *
 *	SKIP("needs root and the user nobody");		this host cannot run it
 *	SKIP_MISSING("redis-server");			make deps installs it
 */
#define SKIP(...) do { test_skipped(__func__, false, __VA_ARGS__); return; } while (0)
#define SKIP_MISSING(...) do { test_skipped(__func__, true, __VA_ARGS__); return; } while (0)
void test_skipped(const char *test, bool installable, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The file the runner collects skips in (HEAPDOC_SKIP_LOG names it). */
#define SKIP_LOG_ENV "HEAPDOC_SKIP_LOG"

/* A committed fake /proc or /sys tree under fixtures/. */
#define FAKE_TREE(name) HEAPDOC_ROOT "/fixtures/" name

/* A started fixture program (see fixtures/fixture.h). */
struct fixture {
	pid_t pid;
	int to_child;		/* its stdin */
	int from_child;		/* its stdout */
	char truth[32768];	/* what it printed before the last "ready" */
};

/* Starts FIXTURE_BIN/name with args (NULL-terminated, may be NULL) and extra
 * environment entries ("K=V", NULL-terminated, may be NULL); waits up to 10 s
 * for "ready".  The child dies with the test (PR_SET_PDEATHSIG) even when an
 * assertion ends the test early.  Fails the test if it cannot start. */
void fixture_start(struct fixture *f, const char *name,
		   const char *const *args, const char *const *env);

/* The same for a fixture program at path (a copy under another name, say). */
void fixture_start_path(struct fixture *f, const char *path,
			const char *const *args, const char *const *env);

/* Asks the fixture to print its truth again, as it is now. */
void fixture_refresh(struct fixture *f);

/* Sends a fixture-specific command line (e.g. "poke") and waits for its
 * "ready"; what it printed before that replaces f->truth. */
void fixture_command(struct fixture *f, const char *cmd);

/* The value the fixture printed for key; fails the test if absent. */
long long fixture_value(const struct fixture *f, const char *key);
bool fixture_has(const struct fixture *f, const char *key);

/* Kills the fixture by pid (SIGKILL) and reaps it. Safe to call twice. */
void fixture_stop(struct fixture *f);

/* Runs the heapdoc binary with args (NULL-terminated), stdout into out
 * (NUL-terminated, truncated to len), stderr into err if not NULL.
 * Returns its exit status, or -1 if it died by a signal. */
int run_heapdoc(const char *const *args, char *out, size_t len,
		char *err, size_t errlen);

/* heapdoc's JSON output, read with the library's own reader (base/json.h):
 * the value at path in document doc ("trend.allocated.slope_bytes_per_s",
 * "knobs[2].name", "glibc.arenas[0].top_held_by.size").  Each fails the
 * test, showing the document, when it does not parse or the value is absent
 * or of another type. */
double json_number_at(const char *doc, const char *path);
long long json_int_at(const char *doc, const char *path);	/* null: -1 */
bool json_bool_at(const char *doc, const char *path);
/* Copied into buf (len bytes); returns buf. */
const char *json_string_at(const char *doc, const char *path, char *buf, size_t len);
/* Member key, taken whole (a name with dots: "generic.heap_size"), of the
 * object at path. */
long long json_int_in(const char *doc, const char *path, const char *key);
/* True when path is in doc (null included); fails when doc does not parse. */
bool json_has(const char *doc, const char *path);
/* True when the value at path is null. */
bool json_is_null(const char *doc, const char *path);
/* The index of the first element of the array at path whose member key is
 * the string value ("knobs", "name", "MALLOC_ARENA_MAX"); -1 when none. */
int json_index_of(const char *doc, const char *path, const char *key, const char *value);

/* The string value of key in the knob object named knob, in heapdoc's
 * JSON (knobs --json, triage --json); "" when there is no such knob or
 * key.  Returns buf. */
const char *json_knob_field(const char *json, const char *knob, const char *key, char *buf,
			    size_t len);
/* The same for a number; -1 when absent (or null). */
double json_knob_number(const char *json, const char *knob, const char *key);
/* Sends request_line ("GET /metrics HTTP/1.1") to 127.0.0.1:port with a
 * Host header and reads the answer to the end: the status code (-1 when
 * nothing came back), the body into body (NUL-terminated, cut to len). */
int http_get(int port, const char *request_line, char *body, size_t len);

/* Reads a whole small file into buf (NUL-terminated); -1 on failure. */
int slurp(const char *path, char *buf, size_t len);

/* VmRSS of pid, in bytes; fails the test when it cannot be read. */
long long rss_of(pid_t pid);

/* A knob or release applied as printed: RSS went from before to after, and
 * it said it would return said bytes.  Prints "what: RSS b -> a MiB, said
 * s MiB" on stderr (the figures of the report) and fails the test unless
 * RSS fell by at least share of what it said. */
void assert_rss_fell(const char *what, long long before, long long after, double said,
		     double share);

#endif
