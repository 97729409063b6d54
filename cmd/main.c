/* heapdoc: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const struct cmd_entry *const commands[] = {
	&cmd_triage_entry,
	&cmd_knobs_entry,
	&cmd_stats_entry,
	&cmd_audit_entry,
	&cmd_leaks_entry,
	&cmd_release_entry,
	&cmd_set_entry,
	&cmd_record_entry,
	&cmd_compare_entry,
	&cmd_plot_entry,
	&cmd_exporter_entry,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cmd_entry *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static int usage(FILE *out, int code)
{
	fprintf(out,
"usage: heapdoc <command> [options] <pid>\n"
"\n"
"A doctor for the memory of a live process: is RSS growing because of a leak,\n"
"fragmentation, or pages the allocator has not returned yet, and what to turn.\n"
"No restart, no preload; the target is paused only briefly.\n"
"\n"
"Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(out,
"\n"
"Every command takes --json.  'heapdoc <command> --help' shows its options.\n"
"\n"
"Examples:\n"
"  heapdoc triage 4242\n"
"      watch until the verdict is clear, then it, its evidence and the knobs\n"
"  heapdoc triage --once --json 4242\n"
"      one snapshot, judged at once, as JSON for a script\n"
"  heapdoc stats 4242\n"
"      what the allocator holds right now: arenas, caches, free space\n"
"  heapdoc knobs --format kubernetes 4242\n"
"      the settings to change, as a container's env list\n"
"  heapdoc audit 4242\n"
"      what protects its heap now, and what adding protection would cost\n"
"  heapdoc leaks --duration 30s 4242\n"
"      the allocation sites whose live bytes keep growing, with their stacks\n"
"  heapdoc release 4242\n"
"      give the allocator's free memory back to the system now\n"
"  heapdoc set 4242 dirty_decay_ms=1000\n"
"      change a setting in the running process, and read it back\n"
"\n%s", cmd_exit_codes_help);
	return code;
}

static int run_command(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct cmd_args a;
	int code;

	return cmd_parse(cmd, argc, argv, &a, &code) ? cmd->exec(&a) : code;
}

int main(int argc, char **argv)
{
	const struct cmd_entry *cmd;

	if (argc < 2)
		return usage(stderr, EXIT_USAGE);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(stdout, EXIT_OK);
	if (!strcmp(argv[1], "--version")) {
		printf("heapdoc %s\n", HEAPDOC_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3)
			return usage(stdout, EXIT_OK);
		cmd = find_command(argv[2]);
		if (cmd)
			return cmd_help(cmd);
		fprintf(stderr, "heapdoc: no command '%s'\n", argv[2]);
		return EXIT_USAGE;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "heapdoc: '%s' is not a command. See 'heapdoc --help'.\n",
			argv[1]);
		return EXIT_USAGE;
	}
	return run_command(cmd, argc - 1, argv + 1);
}
