/* Debug info where the user has it: inside the target's own root (its own
 * mount namespace, as a container has) before the host's, through
 * debuginfod when DEBUGINFOD_URLS is set (libdw's own client, against a
 * server on 127.0.0.1 in the test), and, when nothing is found, the places
 * searched and the package to install, with a triage that says what it
 * could not judge. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static char out[1 << 17], err[8192];

/* heapdoc stats --json on pid. */
static int stats_json(pid_t pid)
{
	char p[16];
	const char *args[] = { "stats", "--json", p, NULL };

	snprintf(p, sizeof(p), "%d", (int)pid);
	return run_heapdoc(args, out, sizeof(out), err, sizeof(err));
}

/* The build-id of the fixture's libc, from heapdoc's own message with the
 * host's debug info hidden, and the host's debug file for it. */
static bool libc_debug_file(const struct fixture *f, char *id, size_t idlen, char *path,
			    size_t len)
{
	char why[1024], *p;

	setenv("HEAPDOC_DEBUG_PATH", "/nonexistent", 1);
	stats_json(f->pid);
	json_string_at(out, "allocator.why_unavailable", why, sizeof(why));
	p = strstr(why, "(build-id ");
	ck_assert_msg(p, "%s", why);
	snprintf(id, idlen, "%.40s", p + strlen("(build-id "));
	snprintf(path, len, "/usr/lib/debug/.build-id/%.2s/%s.debug", id, id + 2);
	return access(path, R_OK) == 0;
}

/* A debuginfod on 127.0.0.1 that has one file (or none): GET
 * /buildid/<id>/debuginfo.  Returns its pid; *port gets its port. */
static pid_t debuginfod_start(const char *id, const char *file, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s, 8), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid)
		return close(s), pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		char req[1024], want[256], head[256];
		int c = accept(s, NULL, NULL), fd;
		ssize_t n;
		struct stat st;

		if (c < 0)
			continue;
		n = read(c, req, sizeof(req) - 1);
		req[n > 0 ? n : 0] = '\0';
		snprintf(want, sizeof(want), "GET /buildid/%s/debuginfo ", id);
		fd = file && !strncmp(req, want, strlen(want)) ? open(file, O_RDONLY) : -1;
		if (fd >= 0 && fstat(fd, &st) == 0) {
			n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n"
				     "Connection: close\r\n\r\n", (long long)st.st_size);
			if (write(c, head, (size_t)n) == n)
				for (off_t off = 0; off < st.st_size;)
					if (sendfile(c, fd, &off, (size_t)(st.st_size - off)) <= 0)
						break;
			close(fd);
		} else {
			static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
						 "Connection: close\r\n\r\n";

			if (write(c, nf, sizeof(nf) - 1) < 0)
				break;
		}
		close(c);
	}
	_exit(0);
}

static void env_clear(void)
{
	unsetenv("HEAPDOC_DEBUG_PATH");
	unsetenv("DEBUGINFOD_URLS");
	unsetenv("DEBUGINFOD_CACHE_PATH");
}

/* The host's debug info hidden, a debuginfod that has it: read. */
START_TEST(debuginfod_when_set)
{
	char id[48], file[160], url[64], cache[] = "/tmp/heapdoc-dbg-XXXXXX", name[32];
	struct fixture f;
	pid_t server;
	int port, rc;

	fixture_start(&f, "idle", NULL, NULL);
	if (!libc_debug_file(&f, id, sizeof(id), file, sizeof(file))) {
		fixture_stop(&f);
		env_clear();
		SKIP_MISSING("libc6-dbg (%s)", file);
	}
	server = debuginfod_start(id, file, &port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	ck_assert_ptr_nonnull(mkdtemp(cache));
	setenv("DEBUGINFOD_URLS", url, 1);
	setenv("DEBUGINFOD_CACHE_PATH", cache, 1);
	rc = stats_json(f.pid);
	env_clear();
	fixture_stop(&f);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	snprintf(file, sizeof(file), "rm -rf '%s'", cache);
	ck_assert_int_eq(system(file), 0);
	ck_assert_msg(rc == 0 && json_bool_at(out, "allocator.state_read"), "exit %d: %s %s", rc,
		      err, out);
	ck_assert_str_eq(json_string_at(out, "allocator.source", name, sizeof(name)), "dwarf");
}
END_TEST

/* Nothing anywhere: the message lists the places searched (debuginfod's
 * URL too) and the package at the libc's version; triage says what it
 * could not judge and leans to nothing. */
START_TEST(nothing_found_says_where_and_what)
{
	char id[48], file[160], url[64], why[1024], pid[16], reason[512];
	const char *triage[] = { "triage", "--once", "--json", pid, NULL };
	struct fixture f;
	pid_t server;
	int port;

	fixture_start(&f, "idle", NULL, NULL);
	libc_debug_file(&f, id, sizeof(id), file, sizeof(file));
	server = debuginfod_start(id, NULL, &port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	setenv("DEBUGINFOD_URLS", url, 1);
	setenv("DEBUGINFOD_CACHE_PATH", "/nonexistent/cache", 1);
	stats_json(f.pid);
	json_string_at(out, "allocator.why_unavailable", why, sizeof(why));
	snprintf(pid, sizeof(pid), "%d", (int)f.pid);
	ck_assert_int_eq(run_heapdoc(triage, out, sizeof(out), err, sizeof(err)), 14);
	env_clear();
	fixture_stop(&f);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	ck_assert_msg(strstr(why, "searched /nonexistent (HEAPDOC_DEBUG_PATH), debuginfod at "
			     "http://127.0.0.1:"), "%s", why);
	ck_assert_msg(strstr(why, "libc6-dbg=") || strstr(why, "debuginfo-install"), "%s", why);
	ck_assert_str_eq(json_string_at(out, "leaning", reason, sizeof(reason)), "inconclusive");
	json_string_at(out, "reason", reason, sizeof(reason));
	ck_assert_msg(strstr(reason, "could not be judged"), "%s", reason);
}
END_TEST

/* A process in a mount namespace of its own whose /usr/lib/debug holds the
 * libc's debug file (as a container with libc6-dbg installed does), the
 * host's hidden: heapdoc reads it through /proc/<pid>/root. */
START_TEST(debug_info_in_the_process_own_root)
{
	char id[48], file[160], tree[] = "/tmp/heapdoc-ns-XXXXXX";
	struct fixture probe;
	int hold[2], ready[2], rc;
	pid_t child;
	char c;

	if (geteuid() != 0)
		SKIP("needs root for a mount namespace");
	fixture_start(&probe, "idle", NULL, NULL);
	if (!libc_debug_file(&probe, id, sizeof(id), file, sizeof(file))) {
		fixture_stop(&probe);
		env_clear();
		SKIP_MISSING("libc6-dbg (%s)", file);
	}
	fixture_stop(&probe);
	ck_assert_ptr_nonnull(mkdtemp(tree));
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC) | pipe2(ready, O_CLOEXEC), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		char sub[300], dst[400];
		int fd;

		/* A tree of its own with only this file, over /usr/lib/debug. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(sub, sizeof(sub), "%s/.build-id", tree);
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tmpfs", tree, "tmpfs", 0, "size=1m") || mkdir(sub, 0755))
			_exit(90);
		snprintf(sub, sizeof(sub), "%s/.build-id/%.2s", tree, id);
		snprintf(dst, sizeof(dst), "%s/%s.debug", sub, id + 2);
		if (mkdir(sub, 0755) || (fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) < 0 ||
		    close(fd) || mount(file, dst, NULL, MS_BIND, NULL) ||
		    mount(tree, "/usr/lib/debug", NULL, MS_BIND | MS_REC, NULL))
			_exit(91);
		dup2(hold[0], 0);
		dup2(ready[1], 1);
		execl(FIXTURE_BIN "/idle", "idle", (char *)NULL);
		_exit(92);
	}
	close(hold[0]);
	close(ready[1]);
	/* Until the fixture says "ready" (its last byte is the newline). */
	while (read(ready[0], &c, 1) == 1 && c != 'y')
		;
	ck_assert_msg(waitpid(child, &rc, WNOHANG) == 0, "the namespace's setup failed: %#x", rc);
	rc = stats_json(child);
	env_clear();
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(hold[1]);
	close(ready[0]);
	rmdir(tree);
	ck_assert_msg(rc == 0 && json_bool_at(out, "allocator.state_read"), "exit %d: %s %s", rc,
		      err, out);
}
END_TEST

Suite *debuginfo_suite(void)
{
	Suite *s = suite_create("debuginfo");
	TCase *tc = tcase_create("search");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, debuginfod_when_set);
	tcase_add_test(tc, nothing_found_says_where_and_what);
	tcase_add_test(tc, debug_info_in_the_process_own_root);
	suite_add_tcase(s, tc);
	return s;
}
