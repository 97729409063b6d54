#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Reads from fd into truth until a line "ready"; false on EOF or timeout. */
static bool read_until_ready(struct fixture *f, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	size_t n = 0;

	f->truth[0] = '\0';
	for (;;) {
		struct pollfd p = { .fd = f->from_child, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		if (n + 1 >= sizeof(f->truth))
			return false;
		r = read(f->from_child, f->truth + n, sizeof(f->truth) - 1 - n);
		if (r <= 0)
			return false;
		n += r;
		f->truth[n] = '\0';
		if (n >= 6 && !strcmp(f->truth + n - 6, "ready\n") &&
		    (n == 6 || f->truth[n - 7] == '\n')) {
			f->truth[n - 6] = '\0';
			return true;
		}
	}
}

void fixture_start(struct fixture *f, const char *name,
		   const char *const *args, const char *const *env)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", FIXTURE_BIN, name);
	fixture_start_path(f, path, args, env);
}

void fixture_start_path(struct fixture *f, const char *path,
			const char *const *args, const char *const *env)
{
	const char *name = path;
	char *argv[64];
	int in[2], out[2];
	pid_t parent = getpid();
	size_t argc = 0;

	argv[argc++] = (char *)path;
	for (; args && *args && argc + 1 < 64; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;

	ck_assert_msg(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0,
		      "pipe: %s", strerror(errno));
	f->pid = fork();
	ck_assert_msg(f->pid >= 0, "fork: %s", strerror(errno));
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(in[0], 0);
		dup2(out[1], 1);
		for (; env && *env; env++)
			putenv((char *)*env);
		execv(path, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	f->to_child = in[1];
	f->from_child = out[0];
	if (!read_until_ready(f, 10000)) {
		fixture_stop(f);
		ck_abort_msg("fixture %s did not become ready", name);
	}
}

void fixture_refresh(struct fixture *f)
{
	ck_assert_int_eq(write(f->to_child, "truth\n", 6), 6);
	ck_assert_msg(read_until_ready(f, 10000), "fixture %d did not answer", f->pid);
}

void fixture_command(struct fixture *f, const char *cmd)
{
	size_t len = strlen(cmd);

	ck_assert_int_eq(write(f->to_child, cmd, len), (ssize_t)len);
	ck_assert_int_eq(write(f->to_child, "\n", 1), 1);
	ck_assert_msg(read_until_ready(f, 10000), "fixture %d did not answer %s", f->pid, cmd);
}

static const char *find_key(const struct fixture *f, const char *key)
{
	size_t klen = strlen(key);
	const char *p = f->truth;

	while ((p = strstr(p, key))) {
		if ((p == f->truth || p[-1] == '\n') && p[klen] == ' ')
			return p + klen + 1;
		p += klen;
	}
	return NULL;
}

bool fixture_has(const struct fixture *f, const char *key)
{
	return find_key(f, key) != NULL;
}

long long fixture_value(const struct fixture *f, const char *key)
{
	const char *v = find_key(f, key);

	ck_assert_msg(v, "fixture %d printed no '%s'", f->pid, key);
	return strtoll(v, NULL, 0);
}

void fixture_stop(struct fixture *f)
{
	if (f->pid <= 0)
		return;
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	close(f->to_child);
	close(f->from_child);
	f->pid = 0;
}

/* Drains two pipes into two buffers until both close. */
static void drain(int fd_out, char *out, size_t len, int fd_err, char *err, size_t errlen)
{
	size_t n_out = 0, n_err = 0;
	char scratch[4096];
	struct pollfd p[2] = { { .fd = fd_out, .events = POLLIN },
			       { .fd = fd_err, .events = POLLIN } };

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			char *buf = i ? err : out;
			size_t cap = i ? errlen : len, *n = i ? &n_err : &n_out;
			ssize_t r;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (buf && *n + 1 < cap)
				r = read(p[i].fd, buf + *n, cap - 1 - *n);
			else
				r = read(p[i].fd, scratch, sizeof(scratch));
			if (r <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
			} else if (buf && *n + 1 < cap) {
				*n += r;
			}
		}
	}
	if (out && len)
		out[n_out] = '\0';
	if (err && errlen)
		err[n_err] = '\0';
}

int run_heapdoc(const char *const *args, char *out, size_t len, char *err, size_t errlen)
{
	char *argv[64];
	int o[2], e[2], status;
	size_t argc = 0;
	pid_t pid;

	argv[argc++] = (char *)HEAPDOC_BIN;
	for (; args && *args && argc + 1 < 64; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	ck_assert(pipe2(o, O_CLOEXEC) == 0 && pipe2(e, O_CLOEXEC) == 0);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(HEAPDOC_BIN, argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	drain(o[0], out, len, e[0], err, errlen);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void test_skipped(const char *test, bool installable, const char *fmt, ...)
{
	const char *log = getenv(SKIP_LOG_ENV);
	size_t n = strlen(test);
	char why[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* START_TEST(name) makes a function name_fn. */
	if (n > 3 && !strcmp(test + n - 3, "_fn"))
		n -= 3;
	fprintf(stderr, "%.*s: skipped: %s\n", (int)n, test, why);
	f = log ? fopen(log, "ae") : NULL;
	if (!f)
		return;
	fprintf(f, "%s\t%.*s\t%s\n", installable ? "missing" : "host", (int)n, test, why);
	fclose(f);
}

/* doc parsed, and the value at path; fails the test on either. */
static struct json_value *json_doc(const char *doc)
{
	struct json_value *v;
	struct error e = { 0 };

	ck_assert_msg(json_parse(doc, strlen(doc), &v, &e) == 0, "not JSON (%s):\n%.2000s",
		      e.msg, doc);
	return v;
}

static const struct json_value *json_at(const struct json_value *root, const char *path,
					const char *doc)
{
	const struct json_value *v = json_find(root, path);

	ck_assert_msg(v, "no %s in:\n%.3000s", path, doc);
	return v;
}

double json_number_at(const char *doc, const char *path)
{
	struct json_value *root = json_doc(doc);
	double d = 0;

	ck_assert_msg(json_get_double(json_at(root, path, doc), &d), "%s is not a number", path);
	json_free(root);
	return d;
}

long long json_int_at(const char *doc, const char *path)
{
	struct json_value *root = json_doc(doc);
	const struct json_value *v = json_at(root, path, doc);
	int64_t i = -1;

	ck_assert_msg(v->type == JSON_NULL || json_get_i64(v, &i), "%s is not an integer", path);
	json_free(root);
	return i;
}

bool json_bool_at(const char *doc, const char *path)
{
	struct json_value *root = json_doc(doc);
	bool b = false;

	ck_assert_msg(json_get_bool(json_at(root, path, doc), &b), "%s is not a boolean", path);
	json_free(root);
	return b;
}

const char *json_string_at(const char *doc, const char *path, char *buf, size_t len)
{
	struct json_value *root = json_doc(doc);
	const char *s = json_get_string(json_at(root, path, doc));

	ck_assert_msg(s, "%s is not a string", path);
	snprintf(buf, len, "%s", s);
	json_free(root);
	return buf;
}

long long json_int_in(const char *doc, const char *path, const char *key)
{
	struct json_value *root = json_doc(doc);
	const struct json_value *v = json_member(json_at(root, path, doc), key);
	int64_t i = -1;

	ck_assert_msg(v && json_get_i64(v, &i), "no integer %s in %s", key, path);
	json_free(root);
	return i;
}

bool json_is_null(const char *doc, const char *path)
{
	struct json_value *root = json_doc(doc);
	bool null = json_at(root, path, doc)->type == JSON_NULL;

	json_free(root);
	return null;
}

bool json_has(const char *doc, const char *path)
{
	struct json_value *root = json_doc(doc);
	bool has = json_find(root, path) != NULL;

	json_free(root);
	return has;
}

int json_index_of(const char *doc, const char *path, const char *key, const char *value)
{
	struct json_value *root = json_doc(doc);
	const struct json_value *a = json_at(root, path, doc);
	int i = 0, found = -1;

	for (const struct json_value *e = a->first; e && found < 0; e = e->next, i++) {
		const char *s = json_get_string(json_member(e, key));

		if (s && !strcmp(s, value))
			found = i;
	}
	json_free(root);
	return found;
}

/* The path of member key of the knob named knob ("knobs[3].value"), or
 * false when there is no such knob or the member is absent or null. */
static bool knob_path(const char *json, const char *knob, const char *key, char *path,
		      size_t len)
{
	int i = json_index_of(json, "knobs", "name", knob);

	if (i < 0)
		return false;
	snprintf(path, len, "knobs[%d].%s", i, key);
	return json_has(json, path) && !json_is_null(json, path);
}

const char *json_knob_field(const char *json, const char *knob, const char *key, char *buf,
			    size_t len)
{
	char path[128];

	buf[0] = '\0';
	return knob_path(json, knob, key, path, sizeof(path)) ?
	       json_string_at(json, path, buf, len) : buf;
}

double json_knob_number(const char *json, const char *knob, const char *key)
{
	char path[128];

	return knob_path(json, knob, key, path, sizeof(path)) ? json_number_at(json, path) : -1;
}

int slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

long long rss_of(pid_t pid)
{
	char path[64], status[4096];
	const char *line;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ck_assert_int_ge(slurp(path, status, sizeof(status)), 0);
	line = strstr(status, "VmRSS:");
	ck_assert_msg(line, "no VmRSS in %s", path);
	return strtoll(line + 6, NULL, 10) * 1024;
}

void assert_rss_fell(const char *what, long long before, long long after, double said,
		     double share)
{
	fprintf(stderr, "%s: RSS %lld -> %lld MiB, said %.0f MiB\n", what, before >> 20,
		after >> 20, said / 1048576);
	ck_assert_msg(before - after >= share * said, "%s: RSS %lld -> %lld, said %.0f", what,
		      before, after, said);
}

int http_get(int port, const char *request_line, char *body, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 10, 0 };
	char *reply = malloc(len + 4096), req[512], *head_end;
	size_t got = 0;
	int fd, status = -1;
	ssize_t n;

	ck_assert(reply != NULL);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto out;
	snprintf(req, sizeof(req), "%s\r\nHost: 127.0.0.1\r\nUser-Agent: heapdoc-tests\r\n\r\n",
		 request_line);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		goto out;
	while (got < len + 4095 && (n = read(fd, reply + got, len + 4095 - got)) > 0)
		got += (size_t)n;
	reply[got] = '\0';
	if (sscanf(reply, "HTTP/1.1 %d", &status) != 1)
		status = -1;
	head_end = strstr(reply, "\r\n\r\n");
	snprintf(body, len, "%s", head_end ? head_end + 4 : "");
out:
	close(fd);
	free(reply);
	return status;
}
