/* The one command-line parser, and the help generated from the same table
 * (cmd.h). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define HELP_WIDTH 79
#define HELP_OPTION_COLUMN 20	/* where an option's help starts */

static size_t option_count(const struct cmd_entry *cmd)
{
	size_t n = 0;

	while (n < CMD_MAX_OPTIONS && cmd->options[n].name)
		n++;
	return n;
}

double cmd_parse_seconds(const char *arg)
{
	static const struct { const char *suffix; double scale; } units[] = {
		{ "", 1 }, { "s", 1 }, { "ms", 1e-3 }, { "m", 60 }, { "h", 3600 },
	};
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	/* Plain decimals only: strtod would also take "0x10", "inf", " 5". */
	if (end == arg || errno || !isfinite(v) || strspn(arg, "0123456789.") != (size_t)(end - arg))
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].suffix))
			return v * units[i].scale;
	return -1;
}

int cmd_parse_pid(const struct cmd_entry *cmd, const char *arg, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || v <= 0 || v > INT_MAX)
		return cmd_usage_error(cmd, "'%s' is not a process id", arg);
	*pid = (pid_t)v;
	return 0;
}

/* ---- help, from the table ---------------------------------------------- */

/* Writes text from column `col` on, wrapped at HELP_WIDTH, continuation lines
 * indented to `indent`; ends with a newline. */
static void print_wrapped(FILE *out, const char *text, size_t col, size_t indent)
{
	const char *p = text;

	while (*p) {
		size_t word = strcspn(p, " \n");

		if (col > indent && col + 1 + word > HELP_WIDTH) {
			fprintf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', out);
			col++;
		}
		fwrite(p, 1, word, out);
		col += word;
		p += word;
		while (*p == ' ' || *p == '\n')
			p++;
	}
	fputc('\n', out);
}

static int option_synopsis(char *buf, size_t len, const struct cmd_option *o)
{
	return snprintf(buf, len, "--%s%s%s%s", o->name, o->value_name ? " " : "",
			o->value_name ? o->value_name : "", o->repeat ? "..." : "");
}

void cmd_print_usage(FILE *out, const struct cmd_entry *cmd)
{
	size_t n = option_count(cmd), col, indent;
	char part[160], piece[96];

	col = indent = (size_t)fprintf(out, "usage: heapdoc %s", cmd->name);
	for (size_t i = 0; i < n; i++) {
		const struct cmd_option *o = &cmd->options[i];
		size_t len;

		if (o->group && i > 0 && cmd->options[i - 1].group == o->group)
			continue;	/* printed with the first of its group */
		option_synopsis(part, sizeof(part), o);
		for (size_t k = i + 1; o->group && k < n && cmd->options[k].group == o->group; k++) {
			option_synopsis(piece, sizeof(piece), &cmd->options[k]);
			len = strlen(part);
			snprintf(part + len, sizeof(part) - len, " | %s", piece);
		}
		len = strlen(part) + 3;
		if (col + len > HELP_WIDTH) {
			fprintf(out, "\n%*s", (int)indent, "");
			col = indent;
		}
		col += (size_t)fprintf(out, " [%s]", part);
	}
	if (cmd->args && cmd->args[0])
		fprintf(out, "%s%s", col + strlen(cmd->args) + 1 > HELP_WIDTH ? "\n" : " ",
			cmd->args);
	fputc('\n', out);
}

static void print_options(FILE *out, const struct cmd_entry *cmd)
{
	size_t n = option_count(cmd);
	char head[96];

	fprintf(out, "\nOptions:\n");
	for (size_t i = 0; i <= n; i++) {
		const struct cmd_option *o = &cmd->options[i];
		int len;

		if (i == n)
			len = snprintf(head, sizeof(head), "  -h, --help");
		else if (o->letter)
			len = snprintf(head, sizeof(head), "  -%c, ", o->letter);
		else
			len = snprintf(head, sizeof(head), "  ");
		if (i < n)
			len += option_synopsis(head + len, sizeof(head) - (size_t)len, o);
		fputs(head, out);
		if (len + 2 > HELP_OPTION_COLUMN) {
			fprintf(out, "\n%*s", HELP_OPTION_COLUMN, "");
			len = HELP_OPTION_COLUMN;
		} else {
			fprintf(out, "%*s", HELP_OPTION_COLUMN - len, "");
		}
		print_wrapped(out, i < n ? o->help : "this help", HELP_OPTION_COLUMN,
			      HELP_OPTION_COLUMN);
	}
}

int cmd_help(const struct cmd_entry *cmd)
{
	cmd_print_usage(stdout, cmd);
	printf("\n%s\n\n%s", cmd->summary, cmd->description);
	print_options(stdout, cmd);
	printf("\nExamples:\n");
	for (size_t i = 0; i < CMD_MAX_EXAMPLES && cmd->examples[i].command; i++) {
		printf("  %s\n", cmd->examples[i].command);
		printf("%*s", 6, "");
		print_wrapped(stdout, cmd->examples[i].shows, 6, 6);
	}
	printf("\n%s", cmd_exit_codes_help);
	return EXIT_OK;
}

/* ---- parsing ------------------------------------------------------------ */

static int parse_value(const struct cmd_entry *cmd, size_t i, const char *arg,
		       struct cmd_args *a)
{
	const struct cmd_option *o = &cmd->options[i];

	a->set[i] = true;
	a->value[i] = arg;
	if (o->repeat) {
		if (a->nrepeated == CMD_MAX_REPEATED)
			return cmd_usage_error(cmd, "--%s: more than %d values", o->name,
					       CMD_MAX_REPEATED);
		a->repeated[a->nrepeated].option = (unsigned)i;
		a->repeated[a->nrepeated++].value = arg;
	}
	switch (o->type) {
	case CMD_FLAG:
	case CMD_STRING:
		return 0;
	case CMD_DURATION:
		a->seconds[i] = cmd_parse_seconds(arg);
		if (a->seconds[i] < 0)
			return cmd_usage_error(cmd, "--%s: '%s' is not a duration (10, 10s, "
					       "500ms, 2m, 1h)", o->name, arg);
		return 0;
	case CMD_CHOICE:
		for (unsigned k = 0; o->choices[k]; k++) {
			if (!strcmp(arg, o->choices[k])) {
				a->choice[i] = k;
				return 0;
			}
		}
		return cmd_usage_error(cmd, "--%s: '%s' is not one of %s", o->name, arg,
				       o->value_name);
	}
	return 0;
}

size_t cmd_values(const struct cmd_args *a, unsigned option, const char **out, size_t max)
{
	size_t n = 0;

	for (unsigned k = 0; k < a->nrepeated; k++) {
		if (a->repeated[k].option != option)
			continue;
		if (n < max)
			out[n] = a->repeated[k].value;
		n++;
	}
	return n;
}

/* Two options of one group given together. */
static int check_groups(const struct cmd_entry *cmd, const struct cmd_args *a)
{
	size_t n = option_count(cmd);

	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; a->set[i] && cmd->options[i].group && k < n; k++)
			if (a->set[k] && cmd->options[k].group == cmd->options[i].group)
				return cmd_usage_error(cmd, "--%s and --%s exclude each other",
						       cmd->options[i].name,
						       cmd->options[k].name);
	return 0;
}

static int check_arg_count(const struct cmd_entry *cmd, const struct cmd_args *a)
{
	if ((unsigned)a->argc < cmd->args_min)
		return cmd_usage_error(cmd, "%s", cmd->args_missing ? cmd->args_missing :
				       "an argument is missing");
	if ((unsigned)a->argc > cmd->args_max)
		return cmd_usage_error(cmd, "'%s': %s", a->argv[cmd->args_max],
				       cmd->args_max ? "one argument too many" :
				       "takes no argument");
	return 0;
}

bool cmd_parse(const struct cmd_entry *cmd, int argc, char **argv, struct cmd_args *a,
	       int *exit_code)
{
	struct option longs[CMD_MAX_OPTIONS + 2] = { 0 };
	char shorts[2 * CMD_MAX_OPTIONS + 4] = ":h", *s = shorts + 2;
	size_t n = option_count(cmd);
	bool help = false;
	int c, ret = 0;

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	/* A script that asked for JSON reads a usage error as JSON too. */
	cmd_json_errors = false;
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		cmd_json_errors |= !strcmp(argv[i], "--json");
	for (size_t i = 0; i < n; i++) {
		const struct cmd_option *o = &cmd->options[i];

		longs[i] = (struct option){ o->name, o->type == CMD_FLAG ? no_argument :
					    required_argument, NULL, 256 + (int)i };
		if (o->letter) {
			*s++ = o->letter;
			if (o->type != CMD_FLAG)
				*s++ = ':';
		}
	}
	longs[n] = (struct option){ "help", no_argument, NULL, 'h' };
	optind = 0;	/* a fresh start for GNU getopt */
	opterr = 0;
	while (!ret && (c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		size_t i = (size_t)(c - 256);

		if (c == 'h')
			ret = cmd_help(cmd), help = true;
		else if (c == ':')
			ret = cmd_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
		else if (c == '?')
			ret = cmd_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		if (ret || help)
			break;
		if (c < 256)
			for (i = 0; i < n && cmd->options[i].letter != c; i++)
				;
		ret = parse_value(cmd, i, optarg, a);
	}
	a->argc = argc - optind;
	a->argv = argv + optind;
	if (!ret && !help)
		ret = check_groups(cmd, a);
	if (!ret && !help)
		ret = check_arg_count(cmd, a);
	*exit_code = ret;
	return !ret && !help;
}
