/* The command table and what every subcommand shares.
 *
 * Each subcommand is one file holding one `struct cmd_entry` (like tmux's
 * cmd_entry or git's command table): its name, a one-line summary, the
 * usage line, the help text with examples, and the function that runs it.
 * Only cmd/ prints to the user and picks the exit code.
 */
#ifndef HEAPDOC_CMD_H
#define HEAPDOC_CMD_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"

/* The exit-code contract (also in `heapdoc --help` and heapdoc(1)).
 * Scripts depend on these numbers: add, never renumber. */
enum exit_code {
	EXIT_OK			= 0,	/* done; for triage: healthy */
	EXIT_ERROR		= 1,	/* could not finish (read failed, corrupt state) */
	EXIT_USAGE		= 2,	/* bad command, option or argument */
	EXIT_NO_PROCESS		= 3,	/* no such process, or it exited mid-way */
	EXIT_PERMISSION		= 4,	/* not allowed to read or trace the target */
	EXIT_UNSUPPORTED	= 5,	/* kernel thread, zombie, unreadable allocator */
	EXIT_LEAK		= 10,
	EXIT_FRAGMENTATION	= 11,
	EXIT_UNPURGED		= 12,
	EXIT_LIVE_SET		= 13,
	EXIT_INCONCLUSIVE	= 14,
	EXIT_SIGNAL_BASE	= 128,	/* + N: interrupted by signal N, target released */
};

struct cmd_entry {
	const char *name;
	const char *summary;	/* one line for `heapdoc --help` */
	const char *usage;	/* the synopsis, without "usage: " */
	const char *help;	/* options and examples, ends with a newline */
	int (*exec)(int argc, char **argv);	/* argv[0] is the command name */
};

extern const struct cmd_entry cmd_triage_entry;
extern const struct cmd_entry cmd_knobs_entry;
extern const struct cmd_entry cmd_stats_entry;

/* Prints "heapdoc: <msg>" on stderr and returns the exit code that fits
 * err->code (ESRCH → EXIT_NO_PROCESS, EPERM/EACCES → EXIT_PERMISSION, ...). */
int cmd_fail(const struct error *err);

/* Prints "heapdoc <cmd>: <msg>", the usage line, and returns EXIT_USAGE. */
int cmd_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints the full help of a command on stdout and returns EXIT_OK. */
int cmd_help(const struct cmd_entry *cmd);

/* Parses a pid argument: a positive decimal number and nothing else. */
int cmd_parse_pid(const char *arg, pid_t *pid, struct error *err);

/* The text block documenting exit codes, shared by every --help. */
extern const char cmd_exit_codes_help[];

#endif
