/* heapdoc exporter's state, shared by cmd/exporter.c (options, the loop)
 * and cmd/exporter_round.c (one round: find, read, judge, publish). */
#ifndef HEAPDOC_CMD_EXPORTER_H
#define HEAPDOC_CMD_EXPORTER_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "cmd.h"
#include "judge/triage.h"
#include "observe/fleet.h"
#include "report/exporter.h"
#include "serve.h"

#define EXPORTER_LISTEN_DEFAULT "127.0.0.1:9833"
#define EXPORTER_INTERVAL_S 15.0
#define EXPORTER_WINDOW_S 3600.0
/* Between full reads of a process (free bytes by kind, trimmable, arenas):
 * they walk the heap, so not every round; never more often than rounds. */
#define EXPORTER_FULL_EVERY_S 60.0

/* A watched process, and what the log has said of it. */
struct exporter_watch {
	struct fleet_watch w;
	unsigned logged;	/* read-error reasons already reported (bit per reason) */
	enum verdict_kind verdict;
};

struct exporter {
	/* options */
	regex_t re;
	bool have_re;
	pid_t pids[CMD_MAX_REPEATED];
	const char *cgroups[CMD_MAX_REPEATED];
	struct fleet_select sel;
	double interval_s, window_s;
	const char *listen;		/* NULL: no server */
	const char *textfile;		/* NULL: none */

	/* state */
	struct serve *server;
	struct exporter_watch **v;	/* sorted by pid */
	size_t n, cap;
	struct verdict *verdict;	/* the judge's scratch */
	struct exporter_self self;
	bool textfile_failing;		/* said once until it works again */
};

/* Allocates what rounds need; an exit code (0 when ready). */
int exporter_open(struct exporter *x);

/* One round: finds the processes, reads each, judges their windows, and
 * publishes the page (server, textfile).  0, or -EINTR when heapdoc was
 * told to stop (every process already let go), or -ENOMEM. */
int exporter_round(struct exporter *x, struct error *err);

/* Releases every process and frees x (and its server). */
void exporter_close(struct exporter *x);

#endif
