/* heapdoc knobs — placeholder until its issue lands. */
#include <getopt.h>
#include <stdio.h>
#include <errno.h>

#include "cmd.h"

static int exec_knobs(int argc, char **argv);

const struct cmd_entry cmd_knobs_entry = {
	.name = "knobs",
	.summary = "(not yet implemented)",
	.usage = "heapdoc knobs [--json] <pid>",
	.help = "",
	.exec = exec_knobs,
};

static int exec_knobs(int argc, char **argv)
{
	struct error err = { 0 };

	(void)argc;
	(void)argv;
	error_set(&err, -ENOSYS, "knobs is not implemented yet");
	return cmd_fail(&err);
}
