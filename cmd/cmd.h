/* The command table and what every command shares.
 *
 * Each command is one file holding one `struct cmd_entry` (like tmux's
 * cmd_entry or git's command table): its name, a one-line summary, what it
 * does, its options and positional arguments, examples each with what it
 * shows, and the function that runs it.  One parser (cmd_parse) reads every
 * command line from the entry, and the usage line, `--help` and the option
 * list are generated from it, so they cannot drift from what is accepted.
 * Only cmd/ prints to the user and picks the exit code.
 *
 * How to add a command (say `heapdoc frob [--json] [--depth N] <pid>`):
 *
 *  1. cmd/frob.c: name the options by index, then the entry:
 *
 *	enum { FROB_JSON, FROB_DEPTH };
 *
 *	const struct cmd_entry cmd_frob_entry = {
 *		.name = "frob",
 *		.summary = "one line for `heapdoc --help`",
 *		.description = "A paragraph for `heapdoc frob --help`.\n",
 *		.args = "<pid>", .args_min = 1, .args_max = 1,
 *		.options = {
 *			[FROB_JSON] = { .name = "json", .help = "one JSON object" },
 *			[FROB_DEPTH] = { .name = "depth", .letter = 'd',
 *				.type = CMD_STRING, .value_name = "N",
 *				.help = "how deep" },
 *		},
 *		.examples = {
 *			{ "heapdoc frob 4242", "what this one shows" },
 *		},
 *		.exec = frob_exec,
 *	};
 *
 *     frob_exec(const struct cmd_args *a) reads a->set[FROB_JSON],
 *     a->value[FROB_DEPTH], a->argv[0]; it returns an exit code
 *     (cmd_fail(&err) turns a library error into one).
 *  2. cmd/main.c: add &cmd_frob_entry to the table, and declare it below.
 *  3. man/heapdoc.1: the command and each option (a test checks that every
 *     option --help shows is in the man page).
 *
 * Options of one nonzero .group exclude each other (--json, --prometheus);
 * a .repeat option may be given again (--pid 1 --pid 2: cmd_values());
 * CMD_DURATION values ("10", "10s", "500ms", "2m", "6h") arrive in seconds in
 * a->seconds[], CMD_CHOICE values as an index into .choices in a->choice[].
 * --help/-h is added to every command.
 */
#ifndef HEAPDOC_CMD_H
#define HEAPDOC_CMD_H

#include <stdbool.h>
#include <stdio.h>
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
	EXIT_AUDIT_ADVICE	= 20,	/* audit: protection recommended (untrusted input) */
	EXIT_AUDIT_PROBLEM	= 21,	/* audit: heap corrupt, or RELRO writable now */
	EXIT_SIGNAL_BASE	= 128,	/* + N: interrupted by signal N, target released */
};

enum cmd_value_type {
	CMD_FLAG,		/* no value */
	CMD_STRING,		/* any value, in a->value[] */
	CMD_DURATION,		/* seconds (a number; s, ms, m, h), in a->seconds[] */
	CMD_CHOICE,		/* one of .choices, its index in a->choice[] */
};

struct cmd_option {
	const char *name;	/* "duration" for --duration */
	char letter;		/* 'o' for -o; 0 for none */
	enum cmd_value_type type;
	const char *value_name;	/* in help: "SECS", "FILE"; NULL for a flag */
	const char *help;	/* one paragraph, wrapped when printed */
	const char *const *choices;	/* CMD_CHOICE: NULL-terminated */
	unsigned group;		/* options of one nonzero group exclude each other */
	bool repeat;		/* may be given again: every value in a->repeated */
};

struct cmd_example {
	const char *command;	/* "heapdoc triage 4242" */
	const char *shows;	/* what it shows, one line */
};

#define CMD_MAX_OPTIONS 16
#define CMD_MAX_EXAMPLES 8
#define CMD_MAX_REPEATED 256	/* values of repeated options on one command line */

struct cmd_args;

struct cmd_entry {
	const char *name;
	const char *summary;		/* one line for `heapdoc --help` */
	const char *description;	/* paragraphs for `heapdoc NAME --help` */
	const char *args;		/* the positional arguments: "<pid>", "[<pid>]" */
	unsigned args_min, args_max;
	const char *args_missing;	/* said when fewer than args_min are given */
	struct cmd_option options[CMD_MAX_OPTIONS];	/* ends at the first without a name */
	struct cmd_example examples[CMD_MAX_EXAMPLES];
	int (*exec)(const struct cmd_args *a);
};

/* What cmd_parse read, by option index. */
struct cmd_args {
	const struct cmd_entry *cmd;
	bool set[CMD_MAX_OPTIONS];
	const char *value[CMD_MAX_OPTIONS];	/* as given; NULL for a flag */
	double seconds[CMD_MAX_OPTIONS];	/* CMD_DURATION */
	unsigned choice[CMD_MAX_OPTIONS];	/* CMD_CHOICE */
	int argc;			/* positional arguments */
	char **argv;
	/* The values of .repeat options, in the order given (value[] holds
	 * the last of each): cmd_values() picks one option's. */
	struct { unsigned option; const char *value; } repeated[CMD_MAX_REPEATED];
	unsigned nrepeated;
};

/* The values given for a .repeat option, in order: up to max into out;
 * returns how many there are. */
size_t cmd_values(const struct cmd_args *a, unsigned option, const char **out, size_t max);

extern const struct cmd_entry cmd_triage_entry;
extern const struct cmd_entry cmd_knobs_entry;
extern const struct cmd_entry cmd_stats_entry;
extern const struct cmd_entry cmd_audit_entry;
extern const struct cmd_entry cmd_leaks_entry;
extern const struct cmd_entry cmd_release_entry;
extern const struct cmd_entry cmd_set_entry;
extern const struct cmd_entry cmd_exporter_entry;
extern const struct cmd_entry cmd_record_entry;
extern const struct cmd_entry cmd_compare_entry;
extern const struct cmd_entry cmd_plot_entry;

/* Reads argv (argv[0] is the command's name) into *a.  True to run the
 * command; false when heapdoc should leave with *exit_code, having printed
 * the help (--help: EXIT_OK) or a usage error (EXIT_USAGE). */
bool cmd_parse(const struct cmd_entry *cmd, int argc, char **argv, struct cmd_args *a,
	       int *exit_code);

/* Prints the full help of a command on stdout and returns EXIT_OK. */
int cmd_help(const struct cmd_entry *cmd);

/* The usage line: "heapdoc triage [--duration SECS] ... <pid>". */
void cmd_print_usage(FILE *out, const struct cmd_entry *cmd);

/* Prints "heapdoc: <msg>" on stderr and returns the exit code that fits
 * err->code (ESRCH → EXIT_NO_PROCESS, EPERM/EACCES → EXIT_PERMISSION, ...). */
int cmd_fail(const struct error *err);

/* The exit code of a library error (a negative errno), one per fact:
 * -ESRCH (no such process, a thread id, gone mid-read) 3; -EPERM/-EACCES
 * (not allowed, another tracer) 4; -EOPNOTSUPP (kernel thread, zombie) 5;
 * anything else 1. */
int cmd_exit_code(int code);

/* cmd_fail, and with json also the failure as DESIGN.md's JSON object on
 * stdout, for scripts that read only that: {"schema": 1, "error":
 * {"message", "code" (the errno name), "exit"}}. */
int cmd_fail_json(const struct error *err, bool json);

/* Set by cmd_parse when the command line asks for --json: usage errors
 * then also print the JSON error object, with "code": "usage". */
extern bool cmd_json_errors;

/* Prints "heapdoc <cmd>: <msg>", the usage line, and returns EXIT_USAGE. */
int cmd_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Writes what write() prints into path atomically, for readers that must
 * never see half a file (node_exporter's textfile collector): into
 * path.tmp, flushed, then renamed over path.  -errno with the file named
 * when it cannot; path.tmp is then removed. */
int cmd_write_atomically(const char *path, void (*write)(FILE *out, void *arg), void *arg,
			 struct error *err);

/* Parses a pid argument: a positive decimal number and nothing else; a
 * usage error when it is not one. */
int cmd_parse_pid(const struct cmd_entry *cmd, const char *arg, pid_t *pid);

/* "10", "10s", "2.5s", "500ms", "1m", "6h" → seconds; -1 when it is none of
 * these. */
double cmd_parse_seconds(const char *arg);

/* ---- judging an observation (cmd/verdict.c): triage, record ---------- */

enum cmd_output { CMD_OUT_TEXT, CMD_OUT_JSON, CMD_OUT_PROMETHEUS };

struct observation;
struct recording_info;
struct triage_report;

/* The exit code of a verdict (10 leak, ... 0 healthy). */
int cmd_verdict_exit_code(int verdict_kind);

/* Reads a recording for judging; says on stderr when its last line was
 * cut, and fills info->end for one that never said how it ended. */
int cmd_load_recording(const char *path, struct observation *obs, struct recording_info *info,
		       struct error *err);

/* Judges r->obs and prints the triage report r describes (r->ended: how
 * the window ended, "complete" or NULL when it ran its course; the sites
 * of --sites when any) to f; returns the verdict's exit code.  r->verdict
 * and r->knobs are the judge's while it prints, NULL again after. */
int cmd_print_verdict(FILE *f, struct triage_report *r, enum cmd_output out);

/* cmd_print_verdict on stdout. */
int cmd_report_verdict(struct triage_report *r, enum cmd_output out);

/* Says on stderr that the watched process ended (how), after its report
 * was printed; returns EXIT_NO_PROCESS. */
int cmd_gone(pid_t pid, const char *how);

/* The text block documenting exit codes, shared by every --help. */
extern const char cmd_exit_codes_help[];

#endif
