/* heapdoc triage — placeholder until its issue lands. */
#include <getopt.h>
#include <stdio.h>
#include <errno.h>

#include "cmd.h"

static int exec_triage(int argc, char **argv);

const struct cmd_entry cmd_triage_entry = {
	.name = "triage",
	.summary = "(not yet implemented)",
	.usage = "heapdoc triage [--json] <pid>",
	.help = "",
	.exec = exec_triage,
};

static int exec_triage(int argc, char **argv)
{
	struct error err = { 0 };

	(void)argc;
	(void)argv;
	error_set(&err, -ENOSYS, "triage is not implemented yet");
	return cmd_fail(&err);
}
