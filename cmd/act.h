/* What heapdoc release and heapdoc set share (cmd/release.c, cmd/set.c). */
#ifndef HEAPDOC_CMD_ACT_H
#define HEAPDOC_CMD_ACT_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "cmd.h"
#include "judge/verify.h"
#include "observe/act.h"
#include "observe/alloc/alloc.h"
#include "observe/proc.h"
#include "observe/target.h"

struct cmd_act {
	pid_t pid;
	struct act_opts opts;
	double verify_s;		/* --verify window; 0: none */
	struct proc_status status;
	struct alloc_id id;
	struct actor *actor;
	struct target t;
};

/* Checks the target, reads its name and finds its allocator. */
int cmd_act_identify(struct cmd_act *c, struct error *err);

/* Opens the actor (symbols, debug info: before anything is stopped) and
 * attaches. */
int cmd_act_open(struct cmd_act *c, struct error *err);

/* Detaches and closes; safe on any state. */
void cmd_act_close(struct cmd_act *c);

/* --verify: samples RSS from /proc for verify_s seconds and judges it. */
void cmd_act_verify(const struct cmd_act *c, uint64_t before, bool meant_to_fall,
		    struct verify_result *out);

/* --verify (when asked and verify: the act was made), then the report as
 * text or JSON.  Returns EXIT_OK. */
struct act_report;
int cmd_act_report(const struct cmd_act *c, struct act_report *rep, bool verify,
		   bool meant_to_fall, bool json);

/* No safe moment (-EAGAIN): adds to the message that nothing changed.
 * Returns rc. */
int cmd_act_refused(int rc, struct error *err);

/* Options both commands take, and reading them (with the pid, argv[0]):
 * 0, or the exit code of a usage error already printed. */
#define CMD_ACT_VERIFY_OPTION { .name = "verify", .type = CMD_DURATION, \
	.value_name = "DURATION", .help = "watch RSS afterwards (10s, 1m) and say whether " \
	"it moved the way the change meant and stayed there" }
#define CMD_ACT_TIMEOUT_OPTION { .name = "timeout", .type = CMD_DURATION, \
	.value_name = "DURATION", .help = "how long to wait for a safe moment to borrow a " \
	"thread (default 3s); when none comes, nothing is changed" }

int cmd_act_parse(const struct cmd_args *a, unsigned verify, unsigned timeout,
		  struct cmd_act *c);

#endif
