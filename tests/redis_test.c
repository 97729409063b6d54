/* A real program that reports its own jemalloc view: Debian's redis-server
 * (it links libjemalloc.so.2).  After a workload that sets and deletes keys,
 * heapdoc's allocated, active and resident must be within 1% of what INFO
 * memory says (allocator_allocated/active/resident: stats.* after an epoch
 * write, refreshed by redis every 100 ms), and redis must keep answering a
 * client, correctly, during 100 runs of `heapdoc triage --once` and after.
 *
 * The test starts its own redis on 127.0.0.1 and a free port, with no
 * persistence, and stops it by pid.  Without redis-server it says so and
 * passes (scripts/deps.sh installs it).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#define REDIS_SERVER "/usr/bin/redis-server"
#define NKEYS 20000
#define HEAPDOC_RUNS 100

/* ---- a tiny RESP client ------------------------------------------------ */

struct conn {
	int fd;
	char buf[1 << 16];
	size_t len, off;
};

static int conn_open(struct conn *c, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->len = c->off = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

/* Appends one command (an array of bulk strings) to out. */
static size_t resp_command(char *out, size_t cap, int argc, const char *const *argv,
			   const size_t *lens)
{
	size_t n = snprintf(out, cap, "*%d\r\n", argc);

	for (int i = 0; i < argc; i++) {
		n += snprintf(out + n, cap - n, "$%zu\r\n", lens[i]);
		memcpy(out + n, argv[i], lens[i]);
		n += lens[i];
		memcpy(out + n, "\r\n", 2);
		n += 2;
	}
	return n;
}

static int fill(struct conn *c)
{
	ssize_t r;

	if (c->off == c->len)
		c->off = c->len = 0;
	if (c->len == sizeof(c->buf)) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	do
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	c->len += r;
	return 0;
}

/* One line of the reply, without its CRLF, into line. */
static int read_line(struct conn *c, char *line, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);

		if (nl) {
			size_t n = nl - (c->buf + c->off);

			if (n && nl[-1] == '\r')
				n--;
			if (n >= cap)
				return -1;
			memcpy(line, c->buf + c->off, n);
			line[n] = '\0';
			c->off = nl + 1 - c->buf;
			return 0;
		}
		if (fill(c) < 0)
			return -1;
	}
}

/* Reads one reply.  Its first line ("+OK", ":3", "$5", "-ERR ...") goes to
 * head; a bulk string's body to body (NUL-terminated, cut to cap). */
static int read_reply(struct conn *c, char *head, size_t hcap, char *body, size_t bcap)
{
	long len;

	if (read_line(c, head, hcap) < 0)
		return -1;
	if (body && bcap)
		body[0] = '\0';
	if (head[0] != '$')
		return 0;
	len = strtol(head + 1, NULL, 10);
	if (len < 0)
		return 0;
	while (c->len - c->off < (size_t)len + 2)
		if (fill(c) < 0)
			return -1;
	if (body && bcap) {
		size_t n = (size_t)len < bcap - 1 ? (size_t)len : bcap - 1;

		memcpy(body, c->buf + c->off, n);
		body[n] = '\0';
	}
	c->off += len + 2;
	return 0;
}

static int command(struct conn *c, const char *a0, const char *a1, const char *a2,
		   char *head, size_t hcap, char *body, size_t bcap)
{
	const char *argv[3] = { a0, a1, a2 };
	size_t lens[3] = { strlen(a0), a1 ? strlen(a1) : 0, a2 ? strlen(a2) : 0 };
	char out[8192];
	int argc = a2 ? 3 : a1 ? 2 : 1;
	size_t n = resp_command(out, sizeof(out), argc, argv, lens);

	if (send_all(c->fd, out, n) < 0)
		return -1;
	return read_reply(c, head, hcap, body, bcap);
}

/* ---- redis itself -------------------------------------------------------- */

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static pid_t redis_start(int port, struct conn *c)
{
	char portstr[16], head[256];
	pid_t pid;

	snprintf(portstr, sizeof(portstr), "%d", port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (chdir("/tmp") < 0)
			_exit(126);
		execl(REDIS_SERVER, REDIS_SERVER, "--port", portstr, "--bind", "127.0.0.1",
		      "--save", "", "--appendonly", "no", "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if (conn_open(c, port) == 0) {
			if (command(c, "PING", NULL, NULL, head, sizeof(head), NULL, 0) == 0 &&
			    !strcmp(head, "+PONG"))
				return pid;
			close(c->fd);
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_abort_msg("redis-server did not answer on port %d", port);
	return -1;
}

static void redis_stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/* SET NKEYS keys of 10 B to 8 KiB, then DEL every third: a heap with holes.
 * Pipelined by 100 commands. */
static void workload(struct conn *c)
{
	static char out[1 << 20];
	char key[32], head[256], *value = malloc(8192);

	ck_assert_ptr_nonnull(value);
	memset(value, 'v', 8192);
	for (int base = 0; base < NKEYS; base += 100) {
		size_t n = 0;

		for (int i = base; i < base + 100; i++) {
			const char *argv[3] = { "SET", key, value };
			size_t lens[3] = { 3, 0, 10 + (size_t)(i * 7919) % 8182 };

			lens[1] = snprintf(key, sizeof(key), "key:%d", i);
			n += resp_command(out + n, sizeof(out) - n, 3, argv, lens);
		}
		ck_assert_int_eq(send_all(c->fd, out, n), 0);
		for (int i = 0; i < 100; i++) {
			ck_assert_int_eq(read_reply(c, head, sizeof(head), NULL, 0), 0);
			ck_assert_str_eq(head, "+OK");
		}
	}
	for (int i = 0; i < NKEYS; i += 3) {
		snprintf(key, sizeof(key), "key:%d", i);
		ck_assert_int_eq(command(c, "DEL", key, NULL, head, sizeof(head), NULL, 0), 0);
		ck_assert_str_eq(head, ":1");
	}
	free(value);
}

/* A field of INFO memory ("allocator_allocated:12345"). */
static long long info_field(const char *info, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\n%s:", name);
	p = strstr(info, key);
	ck_assert_msg(p, "INFO memory has no %s", name);
	return strtoll(p + strlen(key), NULL, 10);
}

static void ck_within_1pct(uint64_t heapdoc, long long redis, const char *what)
{
	double d = (double)heapdoc - (double)redis;

	ck_assert_msg(d <= 0.01 * redis && -d <= 0.01 * redis, "%s: heapdoc %llu, redis %lld",
		      what, (unsigned long long)heapdoc, redis);
}

START_TEST(test_redis_allocator_figures_match_info_memory)
{
	static char info[1 << 16], out[1 << 17], errout[4096];
	char head[256], pidstr[16];
	const char *args[] = { "stats", "--json", pidstr, NULL };
	uint64_t allocated, active, resident;
	struct conn c;
	pid_t pid;

	if (access(REDIS_SERVER, X_OK)) {
		SKIP_MISSING("%s absent", REDIS_SERVER);
	}
	pid = redis_start(free_port(), &c);
	workload(&c);
	/* Let redis's cron settle after the workload, read, then let it
	 * refresh its own figures (every 100 ms) before asking for them. */
	usleep(300000);
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	ck_assert_msg(run_heapdoc(args, out, sizeof(out), errout, sizeof(errout)) == 0,
		      "heapdoc stats: %s", errout);
	allocated = json_int_at(out, "jemalloc.allocated");
	active = json_int_at(out, "jemalloc.active");
	resident = json_int_at(out, "jemalloc.resident");
	usleep(300000);
	ck_assert_int_eq(command(&c, "INFO", "memory", NULL, head, sizeof(head), info,
				 sizeof(info)), 0);
	fprintf(stderr, "redis: allocated %llu/%lld active %llu/%lld resident %llu/%lld "
		"(heapdoc/INFO)\n", (unsigned long long)allocated,
		info_field(info, "allocator_allocated"), (unsigned long long)active,
		info_field(info, "allocator_active"), (unsigned long long)resident,
		info_field(info, "allocator_resident"));
	ck_within_1pct(allocated, info_field(info, "allocator_allocated"), "allocated");
	ck_within_1pct(active, info_field(info, "allocator_active"), "active");
	ck_within_1pct(resident, info_field(info, "allocator_resident"), "resident");
	/* 13 334 keys of ~4 KiB on average are left: tens of MiB. */
	ck_assert_uint_gt(allocated, 30u << 20);
	close(c.fd);
	redis_stop(pid);
}
END_TEST

/* ---- redis keeps answering while heapdoc reads it ------------------------- */

struct client {
	int port;
	atomic_bool stop;
	atomic_long replies, wrong;
	char why[256];
};

/* SET, GET and INCR in a loop; every reply is checked. */
static void *client_loop(void *arg)
{
	struct client *cl = arg;
	char head[256], body[256], key[32], val[32];
	struct conn c;
	long expect = 0;

	if (conn_open(&c, cl->port) < 0) {
		snprintf(cl->why, sizeof(cl->why), "connect: %s", strerror(errno));
		atomic_fetch_add(&cl->wrong, 1);
		return NULL;
	}
	for (long i = 0; !atomic_load(&cl->stop); i++) {
		snprintf(key, sizeof(key), "live:%ld", i % 512);
		snprintf(val, sizeof(val), "value-%ld", i);
		if (command(&c, "SET", key, val, head, sizeof(head), NULL, 0) < 0 ||
		    strcmp(head, "+OK") ||
		    command(&c, "GET", key, NULL, head, sizeof(head), body, sizeof(body)) < 0 ||
		    strcmp(body, val) ||
		    command(&c, "INCR", "live:counter", NULL, head, sizeof(head), NULL, 0) < 0 ||
		    head[0] != ':' || strtol(head + 1, NULL, 10) != ++expect) {
			snprintf(cl->why, sizeof(cl->why), "reply %ld: '%.200s'", i, head);
			atomic_fetch_add(&cl->wrong, 1);
			break;
		}
		atomic_fetch_add(&cl->replies, 3);
	}
	close(c.fd);
	return NULL;
}

START_TEST(test_redis_keeps_answering_during_100_runs)
{
	static char out[1 << 16], errout[4096];
	char pidstr[16];
	const char *args[] = { "triage", "--once", "--json", pidstr, NULL };
	struct client cl = { 0 };
	char head[256];
	long before;
	struct conn c;
	pthread_t th;
	pid_t pid;

	if (access(REDIS_SERVER, X_OK)) {
		SKIP_MISSING("%s absent", REDIS_SERVER);
	}
	cl.port = free_port();
	pid = redis_start(cl.port, &c);
	ck_assert_int_eq(pthread_create(&th, NULL, client_loop, &cl), 0);
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	for (int i = 0; i < HEAPDOC_RUNS; i++) {
		int code;

		before = atomic_load(&cl.replies);
		code = run_heapdoc(args, out, sizeof(out), errout, sizeof(errout));
		/* A verdict (healthy 0, or 10-14), with jemalloc's state read. */
		ck_assert_msg(code == 0 || (code >= 10 && code <= 14), "run %d: exit %d: %s", i,
			      code, errout);
		ck_assert_msg(json_bool_at(out, "allocator.state_read") &&
			      !strcmp(json_string_at(out, "allocator.source", (char[16]){ 0 }, 16),
				      "mallctl"), "run %d: %.2000s", i, out);
		/* Between two runs the client gets answers again. */
		for (int w = 0; w < 200 && atomic_load(&cl.replies) == before; w++)
			usleep(1000);
		ck_assert_msg(atomic_load(&cl.replies) > before, "no reply after run %d", i);
		ck_assert_msg(!atomic_load(&cl.wrong), "client: %s", cl.why);
	}
	atomic_store(&cl.stop, true);
	pthread_join(th, NULL);
	ck_assert_msg(!atomic_load(&cl.wrong), "client: %s", cl.why);
	ck_assert_int_eq(command(&c, "PING", NULL, NULL, head, sizeof(head), NULL, 0), 0);
	ck_assert_str_eq(head, "+PONG");
	fprintf(stderr, "redis: %ld checked replies during %d heapdoc runs\n",
		atomic_load(&cl.replies), HEAPDOC_RUNS);
	close(c.fd);
	redis_stop(pid);
}
END_TEST

Suite *redis_suite(void)
{
	Suite *s = suite_create("redis");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_redis_allocator_figures_match_info_memory);
	tcase_add_test(tc, test_redis_keeps_answering_during_100_runs);
	suite_add_tcase(s, tc);
	return s;
}
