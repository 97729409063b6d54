/* The exporter's HTTP/1.1 server: GET /metrics answers with the page the
 * last round published, and nothing else reaches a target.
 *
 * One thread, created with every signal blocked (SIGCHLD and the signals
 * that stop heapdoc belong to the thread that traces: observe/target.h),
 * polls the listening socket and up to SERVE_MAX_CONNS connections.  Each
 * connection sends one request (its head at most SERVE_HEAD_MAX bytes, in
 * SERVE_TIMEOUT_MS) and gets one answer, then is closed ("Connection:
 * close"): a slow or silent client holds one slot for a few seconds, never
 * the server.  A page is published whole and shared by reference, so a
 * scrape always reads one round's page and a round never waits for a
 * scrape.
 */
#ifndef HEAPDOC_CMD_SERVE_H
#define HEAPDOC_CMD_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SERVE_MAX_CONNS 32
#define SERVE_HEAD_MAX 8192
#define SERVE_TIMEOUT_MS 5000

struct serve;

/* Listens on listen, "HOST:PORT": "127.0.0.1:9464", "[::1]:9464",
 * "localhost:9464", ":9464" (every interface); port 0 picks a free one.
 * -EINVAL for an address that is none of these (the message says why),
 * the socket's error otherwise. */
int serve_open(struct serve **out, const char *listen, struct error *err);

/* Where it listens, as "ADDR:PORT" with the port it got. */
const char *serve_address(const struct serve *s);

/* Starts answering (the thread); until the first serve_publish, /metrics
 * answers 503. */
int serve_start(struct serve *s, struct error *err);

/* Makes text (len bytes, malloc'd; the server frees it) the page /metrics
 * answers from now on. */
void serve_publish(struct serve *s, char *text, size_t len);

/* Requests for /metrics answered so far. */
uint64_t serve_scrapes(const struct serve *s);

/* Stops the thread, closes every connection and the socket, frees s.
 * Safe on NULL and on a server never started. */
void serve_close(struct serve *s);

#endif
