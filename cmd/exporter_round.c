/* One round of heapdoc exporter: find the processes, read each, judge each
 * window, publish the page (cmd/exporter.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "exporter.h"
#include "observe/proc.h"
#include "observe/target.h"

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int exporter_open(struct exporter *x)
{
	char tmp[4096];
	FILE *f;

	x->verdict = malloc(sizeof(*x->verdict));
	if (!x->verdict) {
		fprintf(stderr, "heapdoc: out of memory\n");
		return EXIT_ERROR;
	}
	x->self.version = HEAPDOC_VERSION;
	x->self.start_time = wall_now();
	x->self.serving = x->listen != NULL;
	if (!x->textfile)
		return 0;
	/* A path that cannot be written is a mistake to hear of now, not in
	 * the log of a service that runs for months. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", x->textfile);
	f = fopen(tmp, "we");
	if (!f) {
		fprintf(stderr, "heapdoc: --textfile: cannot write %s: %s\n", tmp, strerror(errno));
		return EXIT_ERROR;
	}
	fclose(f);
	unlink(tmp);
	return 0;
}

/* ---- which processes ------------------------------------------------------ */

static void watch_drop(struct exporter_watch *ew, const char *why)
{
	if (why && ew->w.obs.comm[0])
		fprintf(stderr, "heapdoc exporter: pid %d (%s) %s\n", (int)ew->w.t.pid,
			ew->w.obs.comm, why);
	fleet_watch_end(&ew->w);
	free(ew);
}

/* The watches for this round's processes, in pid order: kept where the
 * process is the same (pid and start time), new where it is new; those of
 * processes gone are released. */
static int reconcile(struct exporter *x, const struct fleet_found *f, size_t nf,
		     struct error *err)
{
	struct exporter_watch **next = nf ? calloc(nf, sizeof(*next)) : NULL;
	size_t i = 0, n = 0;

	if (nf && !next)
		return error_set(err, -ENOMEM, "out of memory");
	for (size_t k = 0; k < nf; k++) {
		while (i < x->n && x->v[i]->w.t.pid < f[k].pid)
			watch_drop(x->v[i++], "exited; no longer watched");
		if (i < x->n && x->v[i]->w.t.pid == f[k].pid &&
		    x->v[i]->w.t.starttime == f[k].starttime) {
			next[n++] = x->v[i++];
			continue;
		}
		if (i < x->n && x->v[i]->w.t.pid == f[k].pid)
			watch_drop(x->v[i++], "exited; its pid is another process's now");
		next[n] = calloc(1, sizeof(*next[n]));
		if (!next[n])
			break;
		fleet_watch_init(&next[n++]->w, f[k].pid, f[k].starttime);
	}
	while (i < x->n)
		watch_drop(x->v[i++], "exited; no longer watched");
	free(x->v);
	x->v = next;
	x->n = x->cap = n;
	return n < nf ? error_set(err, -ENOMEM, "out of memory") : 0;
}

/* ---- reading and judging ---------------------------------------------------- */

/* The log says once per process and reason why its allocator is not read. */
static void log_errors(struct exporter_watch *ew)
{
	const struct fleet_target *t = &ew->w.t;

	for (unsigned r = 0; r < FLEET_NERRORS; r++) {
		if (!t->read_errors[r] || (ew->logged & (1u << r)))
			continue;
		ew->logged |= 1u << r;
		fprintf(stderr, "heapdoc exporter: pid %d (%s): allocator not read (%s)%s%s\n",
			(int)t->pid, ew->w.obs.comm, fleet_error_name(r),
			t->last_error[r][0] ? ": " : "", t->last_error[r]);
	}
}

/* Reads every process; the gone are dropped.  -EINTR when told to stop. */
static int read_all(struct exporter *x, double now, struct error *err)
{
	const struct fleet_policy p = {
		.window_s = x->window_s, .interval_s = x->interval_s,
		.full_every_s = x->interval_s > EXPORTER_FULL_EVERY_S ? x->interval_s :
				EXPORTER_FULL_EVERY_S,
		.now = now,
	};
	size_t kept = 0;
	int ret = 0;

	for (size_t i = 0; i < x->n; i++) {
		struct exporter_watch *ew = x->v[i];
		bool first = !ew->w.obs.nsamples;

		if (!ret && target_interrupted())
			ret = error_set(err, -EINTR, "interrupted");
		if (!ret)
			ret = fleet_watch_round(&ew->w, &p, err);
		if (ret == -ESRCH) {
			watch_drop(ew, "exited; no longer watched");
			ret = 0;
			continue;
		}
		if (!ret && first)
			fprintf(stderr, "heapdoc exporter: watching pid %d (%s, %s)\n",
				(int)ew->w.t.pid, ew->w.obs.comm,
				alloc_kind_name(ew->w.obs.alloc.kind));
		if (!ret) {
			log_errors(ew);
			judge_triage(&ew->w.obs, x->verdict);
			ew->verdict = x->verdict->kind;
		}
		x->v[kept++] = ew;
	}
	x->n = kept;
	return ret;
}

/* ---- publishing --------------------------------------------------------------- */

static int write_textfile(const char *path, const char *text, size_t len, struct error *err)
{
	char tmp[4096];
	FILE *f;
	int ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return error_set(err, -errno, "cannot write %s: %m", tmp);
	if (fwrite(text, 1, len, f) != len || fflush(f))
		ret = error_set(err, -errno, "cannot write %s: %m", tmp);
	if (fclose(f) && !ret)
		ret = error_set(err, -errno, "cannot write %s: %m", tmp);
	/* node_exporter reads only *.prom: the rename makes the page appear
	 * whole, never half-written. */
	if (!ret && rename(tmp, path))
		ret = error_set(err, -errno, "cannot rename %s to %s: %m", tmp, path);
	if (ret)
		unlink(tmp);
	return ret;
}

static void measure_self(struct exporter *x, uint64_t started_ns, double now)
{
	struct proc_status st;
	struct rusage ru;

	x->self.rounds++;
	x->self.round_s = (double)(now_ns() - started_ns) / 1e9;
	x->self.last_round = now;
	if (x->server)
		x->self.scrapes = serve_scrapes(x->server);
	if (!getrusage(RUSAGE_SELF, &ru))
		x->self.cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
				(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	if (!proc_read_status("", getpid(), &st, NULL))
		x->self.rss = st.vm_rss;
}

static int publish(struct exporter *x, double now, struct error *err)
{
	struct exporter_target *view = x->n ? calloc(x->n, sizeof(*view)) : NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	if (x->n && !view)
		return error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < x->n; i++)
		view[i] = (struct exporter_target){ &x->v[i]->w.t, x->v[i]->verdict };
	f = open_memstream(&text, &len);
	if (!f) {
		free(view);
		return error_set(err, -ENOMEM, "out of memory");
	}
	exporter_write(f, view, x->n, &x->self, now);
	fclose(f);
	free(view);
	ret = x->textfile ? write_textfile(x->textfile, text, len, err) : 0;
	if (ret && !x->textfile_failing)
		fprintf(stderr, "heapdoc exporter: --textfile: %s\n", err->msg);
	else if (!ret && x->textfile_failing)
		fprintf(stderr, "heapdoc exporter: --textfile: written again\n");
	x->textfile_failing = ret != 0;
	if (x->server)
		serve_publish(x->server, text, len);
	else
		free(text);
	return 0;
}

int exporter_round(struct exporter *x, struct error *err)
{
	uint64_t started = now_ns();
	double now = wall_now();
	struct fleet_found *found = NULL;
	size_t nfound = 0;
	int ret;

	/* Without a list this round, the processes of the last one are read. */
	ret = fleet_find("", &x->sel, &found, &nfound, err);
	if (ret == -ENOMEM)
		return ret;
	if (ret)
		fprintf(stderr, "heapdoc exporter: %s\n", err->msg);
	else
		ret = reconcile(x, found, nfound, err);
	free(found);
	if (!ret)
		ret = read_all(x, now, err);
	if (ret)
		return ret;
	measure_self(x, started, wall_now());
	return publish(x, now, err);
}

void exporter_close(struct exporter *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n; i++)
		watch_drop(x->v[i], NULL);
	free(x->v);
	serve_close(x->server);
	if (x->have_re)
		regfree(&x->re);
	free(x->verdict);
	free(x);
}
