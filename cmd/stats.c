/* heapdoc stats — placeholder until its issue lands. */
#include <getopt.h>
#include <stdio.h>
#include <errno.h>

#include "cmd.h"

static int exec_stats(int argc, char **argv);

const struct cmd_entry cmd_stats_entry = {
	.name = "stats",
	.summary = "(not yet implemented)",
	.usage = "heapdoc stats [--json] <pid>",
	.help = "",
	.exec = exec_stats,
};

static int exec_stats(int argc, char **argv)
{
	struct error err = { 0 };

	(void)argc;
	(void)argv;
	error_set(&err, -ENOSYS, "stats is not implemented yet");
	return cmd_fail(&err);
}
