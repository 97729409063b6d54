/* What a process says it is, for choosing processes by name or place
 * (observe/fleet.c): its command line and its cgroup membership. */
#include "observe/proc.h"

#include <stdlib.h>
#include <string.h>

#include "observe/proc_file.h"

/* Larger command lines are cut: a pattern is meant for their start. */
#define CMDLINE_MAX (256u << 10)

static int slurp_into(const char *root, pid_t pid, const char *name, char *buf, size_t len,
		      size_t *got, struct error *err)
{
	char *text;
	size_t n;
	int ret = proc_slurp(root, pid, name, CMDLINE_MAX, &text, &n, err);

	*got = 0;
	buf[0] = '\0';
	if (ret < 0)
		return ret;
	n = n < len - 1 ? n : len - 1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	*got = n;
	free(text);
	return 0;
}

int proc_read_cmdline(const char *root, pid_t pid, char *buf, size_t len, struct error *err)
{
	size_t n;
	int ret = slurp_into(root, pid, "cmdline", buf, len, &n, err);

	if (ret < 0)
		return ret;
	/* Arguments end in NUL; a trailing one is the last argument's end. */
	while (n && buf[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	return 0;
}

int proc_read_cgroup_membership(const char *root, pid_t pid, char *buf, size_t len,
				struct error *err)
{
	size_t n;

	return slurp_into(root, pid, "cgroup", buf, len, &n, err);
}

int proc_read_tracer(const char *root, pid_t pid, pid_t *tracer, struct error *err)
{
	char text[4096];
	const char *line;
	size_t n;
	int ret = slurp_into(root, pid, "status", text, sizeof(text), &n, err);

	*tracer = 0;
	if (ret < 0)
		return ret;
	line = strstr(text, "\nTracerPid:");
	if (line)
		*tracer = (pid_t)strtol(line + strlen("\nTracerPid:"), NULL, 10);
	return 0;
}
