#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "cmd.h"
#include "observe/target.h"

const char cmd_exit_codes_help[] =
"Exit status:\n"
"  0   success; for triage, the verdict is healthy\n"
"  1   error: heapdoc could not finish (the message says why)\n"
"  2   usage: unknown command, option or argument\n"
"  3   no such process (a thread id too), or it exited while heapdoc read it\n"
"  4   permission denied (needs root or CAP_SYS_PTRACE, and ptrace_scope),\n"
"      or another tracer (a debugger) holds the process\n"
"  5   unsupported target: kernel thread, zombie, or allocator not readable\n"
"  10  triage verdict leak            13  triage verdict live-set\n"
"  11  triage verdict fragmentation   14  triage verdict inconclusive\n"
"  12  triage verdict unpurged\n"
"  20  audit: protection recommended   21  audit: heap corrupt or RELRO writable\n"
"  128+N  interrupted by signal N (SIGINT: 130); the target was released first\n"
"      (triage and record end their window instead: the verdict on what was\n"
"      seen, and its code; 3 when the process ended meanwhile)\n";

int cmd_exit_code(int code)
{
	switch (-code) {
	case 0:
		return EXIT_OK;
	case ESRCH:
		return EXIT_NO_PROCESS;
	case EPERM:
	case EACCES:
		return EXIT_PERMISSION;
	case EOPNOTSUPP:
		return EXIT_UNSUPPORTED;
	default:
		/* -EINVAL included: a library's "invalid" is heapdoc's own
		 * failure or the target's state, never the user's command
		 * line, which cmd_parse alone judges. */
		return EXIT_ERROR;
	}
}

int cmd_fail(const struct error *err)
{
	int sig = target_interrupt_signal();

	/* Interrupted: the library has already let go of the target; say so,
	 * and exit as a shell expects of a program a signal ended. */
	if (err->code == -EINTR && sig) {
		fprintf(stderr, "heapdoc: interrupted by SIG%s; the target was released untouched\n",
			sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
		return EXIT_SIGNAL_BASE + sig;
	}
	fprintf(stderr, "heapdoc: %s\n", err->msg[0] ? err->msg : "unknown error");
	return cmd_exit_code(err->code);
}

bool cmd_json_errors;

/* DESIGN.md's error object on stdout. */
static void print_json_error(const char *message, const char *code, int exit_code)
{
	struct json j;

	json_init(&j, stdout, true);
	json_object_begin(&j, NULL);
	json_int(&j, "schema", 1);
	json_object_begin(&j, "error");
	json_string(&j, "message", message);
	json_string(&j, "code", code);
	json_int(&j, "exit", exit_code);
	json_object_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

int cmd_fail_json(const struct error *err, bool json)
{
	int code = cmd_fail(err);

	if (json)
		print_json_error(err->msg[0] ? err->msg : "unknown error",
				 strerrorname_np(-err->code) ? strerrorname_np(-err->code) : "",
				 code);
	return code;
}

int cmd_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "heapdoc %s: %s\n", cmd->name, msg);
	if (cmd_json_errors)
		print_json_error(msg, "usage", EXIT_USAGE);
	cmd_print_usage(stderr, cmd);
	fprintf(stderr, "Try 'heapdoc %s --help'.\n", cmd->name);
	return EXIT_USAGE;
}

int cmd_write_atomically(const char *path, void (*write)(FILE *out, void *arg), void *arg,
			 struct error *err)
{
	char tmp[4096];
	FILE *f;
	int rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return error_set(err, -ENAMETOOLONG, "%s: name too long", path);
	f = fopen(tmp, "we");
	if (!f)
		return error_set(err, -errno, "%s: %m", tmp);
	write(f, arg);
	if (fflush(f) || fsync(fileno(f)))
		rc = error_set(err, -errno, "%s: %m", tmp);
	if (fclose(f) && !rc)
		rc = error_set(err, -errno, "%s: %m", tmp);
	if (!rc && rename(tmp, path) < 0)
		rc = error_set(err, -errno, "renaming %s to %s: %m", tmp, path);
	if (rc)
		unlink(tmp);
	return rc;
}
