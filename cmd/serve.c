/* The exporter's HTTP/1.1 server (serve.h says what it does and why). */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define ACCEPT_BACKOFF_MS 100

/* One published page, shared by the connections still sending it. */
struct page {
	unsigned refs;		/* under serve.lock: the server's, and each sender's */
	size_t len;
	char *text;
};

struct conn {
	int fd;			/* -1: a free slot */
	uint64_t deadline_ns;
	char in[SERVE_HEAD_MAX];
	size_t inlen;
	bool writing;
	char head[512];		/* the status line and headers */
	size_t headlen;
	struct page *page;	/* the body, when it is a page */
	const char *body;
	size_t bodylen, sent;	/* sent: of head and body together */
};

struct serve {
	int fd;
	int wake[2];		/* a byte here stops the thread */
	pthread_t thread;
	bool started;
	char address[128];
	pthread_mutex_t lock;
	struct page *current;	/* NULL until the first round */
	uint64_t scrapes;	/* under lock */
	uint64_t accept_after_ns;	/* accept failed (out of descriptors): not before */
	struct conn conns[SERVE_MAX_CONNS];
};

/* ---- the listening socket ------------------------------------------------ */

/* "HOST:PORT" → host (NULL for every interface) and port; "[v6]:PORT" too. */
static int split_listen(const char *where, char *host, size_t hostlen, char *port,
			size_t portlen, struct error *err)
{
	const char *colon = strrchr(where, ':');
	const char *h = where;
	size_t n;

	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) >= portlen)
		return error_set(err, -EINVAL, "'%s' is not ADDR:PORT (127.0.0.1:9464, "
				 "[::1]:9464, :9464)", where);
	n = (size_t)(colon - where);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n >= hostlen)
		return error_set(err, -EINVAL, "'%s': the address is too long", where);
	memcpy(host, h, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

static void describe_bound(struct serve *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[64] = "?", port[16] = "?";

	if (!getsockname(s->fd, (struct sockaddr *)&ss, &len))
		getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
			    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(s->address, sizeof(s->address), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
		 host, port);
}

static int bind_first(struct serve *s, const struct addrinfo *list, const char *where,
		      struct error *err)
{
	int one = 1, saved = 0;

	for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
		s->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			       ai->ai_protocol);
		if (s->fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(s->fd, ai->ai_addr, ai->ai_addrlen) && !listen(s->fd, 16))
			return 0;
		saved = errno;
		close(s->fd);
		s->fd = -1;
	}
	errno = saved;
	return error_set(err, -saved, "listen on %s: %m", where);
}

int serve_open(struct serve **out, const char *where, struct error *err)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *list = NULL;
	char host[256], port[8];
	struct serve *s;
	int ret;

	*out = NULL;
	ret = split_listen(where, host, sizeof(host), port, sizeof(port), err);
	if (ret)
		return ret;
	ret = getaddrinfo(host[0] ? host : NULL, port, &hints, &list);
	if (ret)
		return error_set(err, -EINVAL, "listen on %s: %s", where, gai_strerror(ret));
	s = calloc(1, sizeof(*s));
	if (!s) {
		freeaddrinfo(list);
		return error_set(err, -ENOMEM, "out of memory");
	}
	s->fd = s->wake[0] = s->wake[1] = -1;
	for (size_t i = 0; i < SERVE_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	ret = bind_first(s, list, where, err);
	freeaddrinfo(list);
	if (!ret && pipe2(s->wake, O_CLOEXEC | O_NONBLOCK))
		ret = error_set(err, -errno, "pipe: %m");
	if (ret) {
		serve_close(s);
		return ret;
	}
	describe_bound(s);
	*out = s;
	return 0;
}

const char *serve_address(const struct serve *s)
{
	return s->address;
}

/* ---- pages ---------------------------------------------------------------- */

static void page_put(struct serve *s, struct page *p)
{
	bool last;

	if (!p)
		return;
	pthread_mutex_lock(&s->lock);
	last = --p->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (last) {
		free(p->text);
		free(p);
	}
}

void serve_publish(struct serve *s, char *text, size_t len)
{
	struct page *p = malloc(sizeof(*p)), *old;

	if (!p) {
		free(text);
		return;		/* the last page stays: one round late, not wrong */
	}
	*p = (struct page){ .refs = 1, .len = len, .text = text };
	pthread_mutex_lock(&s->lock);
	old = s->current;
	s->current = p;
	pthread_mutex_unlock(&s->lock);
	page_put(s, old);
}

uint64_t serve_scrapes(const struct serve *s)
{
	uint64_t n;

	pthread_mutex_lock((pthread_mutex_t *)&s->lock);
	n = s->scrapes;
	pthread_mutex_unlock((pthread_mutex_t *)&s->lock);
	return n;
}

/* ---- one request, one answer --------------------------------------------- */

static void conn_close(struct serve *s, struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	page_put(s, c->page);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void answer(struct conn *c, const char *status, const char *type, const char *extra,
		   const char *body, size_t bodylen, bool head_only)
{
	int n = snprintf(c->head, sizeof(c->head),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "%sConnection: close\r\n\r\n", status, type, bodylen, extra);

	c->headlen = n > 0 && (size_t)n < sizeof(c->head) ? (size_t)n : 0;
	c->body = body;
	c->bodylen = head_only ? 0 : bodylen;
	c->sent = 0;
	c->writing = true;
}

static void answer_text(struct conn *c, const char *status, const char *extra, const char *body,
			bool head_only)
{
	answer(c, status, "text/plain; charset=utf-8", extra, body, strlen(body), head_only);
}

static void answer_metrics(struct serve *s, struct conn *c, bool head_only)
{
	pthread_mutex_lock(&s->lock);
	c->page = s->current;
	if (c->page)
		c->page->refs++;
	s->scrapes++;
	pthread_mutex_unlock(&s->lock);
	if (!c->page) {
		answer_text(c, "503 Service Unavailable", "Retry-After: 5\r\n",
			    "heapdoc exporter: the first round is not finished yet\n", head_only);
		return;
	}
	answer(c, "200 OK", CONTENT_TYPE_METRICS, "", c->page->text, c->page->len, head_only);
}

/* The end of the request head ("\r\n\r\n", or "\n\n" from a lax client),
 * or NULL while it has not all arrived. */
static const char *head_end(const struct conn *c)
{
	const char *crlf = memmem(c->in, c->inlen, "\r\n\r\n", 4);

	return crlf ? crlf : memmem(c->in, c->inlen, "\n\n", 2);
}

static void route(struct serve *s, struct conn *c)
{
	char method[16], target[1024];
	int major, minor;
	bool head;

	c->in[c->inlen < sizeof(c->in) ? c->inlen : sizeof(c->in) - 1] = '\0';
	if (sscanf(c->in, "%15s %1023s HTTP/%d.%d", method, target, &major, &minor) != 4 ||
	    target[0] != '/' || major != 1) {
		answer_text(c, "400 Bad Request", "", "bad request\n", false);
		return;
	}
	head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET")) {
		answer_text(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
			    "only GET and HEAD\n", false);
		return;
	}
	target[strcspn(target, "?#")] = '\0';
	if (!strcmp(target, "/metrics"))
		answer_metrics(s, c, head);
	else if (!strcmp(target, "/"))
		answer_text(c, "200 OK", "", "heapdoc exporter: the metrics are at /metrics\n",
			    head);
	else
		answer_text(c, "404 Not Found", "", "not found: the metrics are at /metrics\n",
			    head);
}

static void conn_read(struct serve *s, struct conn *c)
{
	ssize_t n = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(s, c);
		return;
	}
	c->inlen += (size_t)n;
	if (head_end(c))
		route(s, c);
	else if (c->inlen == sizeof(c->in) - 1)
		answer_text(c, "431 Request Header Fields Too Large", "", "request too large\n",
			    false);
}

static void conn_write(struct serve *s, struct conn *c)
{
	while (c->sent < c->headlen + c->bodylen) {
		bool in_head = c->sent < c->headlen;
		const char *from = in_head ? c->head + c->sent : c->body + (c->sent - c->headlen);
		size_t left = in_head ? c->headlen - c->sent : c->headlen + c->bodylen - c->sent;
		ssize_t n = send(c->fd, from, left, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;
		c->sent += (size_t)n;
	}
	conn_close(s, c);
}

/* ---- the thread ------------------------------------------------------------ */

static void accept_all(struct serve *s, uint64_t now)
{
	for (size_t i = 0; i < SERVE_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];

		if (c->fd >= 0)
			continue;
		c->fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c->fd < 0) {
			/* Out of descriptors, say: the connection stays queued and
			 * the socket readable; wait a little rather than spin. */
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				s->accept_after_ns = now + ACCEPT_BACKOFF_MS * 1000000ULL;
			return;
		}
		c->deadline_ns = now + SERVE_TIMEOUT_MS * 1000000ULL;
	}
}

/* Fills fds: the wake pipe, the socket when a slot is free, each connection;
 * map[k] is the connection of fds[k] (k ≥ 2).  Returns the poll timeout. */
static int poll_set(struct serve *s, struct pollfd *fds, size_t *nfds, struct conn **map,
		    uint64_t now)
{
	uint64_t soonest = now < s->accept_after_ns ? s->accept_after_ns : UINT64_MAX;
	bool room = false;
	size_t n = 2;

	for (size_t i = 0; i < SERVE_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];

		if (c->fd < 0) {
			room = true;
			continue;
		}
		fds[n] = (struct pollfd){ c->fd, c->writing ? POLLOUT : POLLIN, 0 };
		map[n++] = c;
		if (c->deadline_ns < soonest)
			soonest = c->deadline_ns;
	}
	fds[0] = (struct pollfd){ s->wake[0], POLLIN, 0 };
	fds[1] = (struct pollfd){ room && now >= s->accept_after_ns ? s->fd : -1, POLLIN, 0 };
	*nfds = n;
	if (soonest == UINT64_MAX)
		return -1;
	return soonest <= now ? 0 : (int)((soonest - now) / 1000000ULL) + 1;
}

static void *serve_thread(void *arg)
{
	struct serve *s = arg;
	struct pollfd fds[SERVE_MAX_CONNS + 2];
	struct conn *map[SERVE_MAX_CONNS + 2];
	size_t nfds;

	for (;;) {
		int timeout = poll_set(s, fds, &nfds, map, now_ns());
		uint64_t now;

		if (poll(fds, nfds, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		now = now_ns();
		if (fds[1].revents)
			accept_all(s, now);
		for (size_t k = 2; k < nfds; k++) {
			struct conn *c = map[k];

			if (fds[k].revents & (POLLIN | POLLHUP | POLLERR) && !c->writing)
				conn_read(s, c);
			else if (fds[k].revents & (POLLOUT | POLLHUP | POLLERR) && c->writing)
				conn_write(s, c);
			if (c->fd >= 0 && now >= c->deadline_ns)
				conn_close(s, c);
		}
	}
	return NULL;
}

int serve_start(struct serve *s, struct error *err)
{
	sigset_t all, saved;
	int ret;

	/* The thread inherits this mask: no signal for heapdoc ever lands
	 * here, where it could not interrupt what the tracing thread waits on. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	ret = pthread_create(&s->thread, NULL, serve_thread, s);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (ret)
		return error_set(err, -ret, "cannot start the server thread: %s", strerror(ret));
	s->started = true;
	return 0;
}

void serve_close(struct serve *s)
{
	if (!s)
		return;
	if (s->started) {
		ssize_t w = write(s->wake[1], "x", 1);

		(void)w;
		pthread_join(s->thread, NULL);
	}
	for (size_t i = 0; i < SERVE_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0)
			conn_close(s, &s->conns[i]);
	if (s->current)
		page_put(s, s->current);
	if (s->fd >= 0)
		close(s->fd);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
