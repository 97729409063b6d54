/* What every fuzzer here shares (fuzz.h). */
#include "fuzz.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: check failed: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	if (ftw->level == 0)
		return 0;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void fuzz_dir_clear(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *made[4];

static void remove_made(void)
{
	for (size_t i = 0; i < sizeof(made) / sizeof(*made) && made[i]; i++) {
		fuzz_dir_clear(made[i]);
		rmdir(made[i]);
	}
}

char *fuzz_dir(const char *tag)
{
	static const char *const bases[] = { "/dev/shm", "/tmp" };
	char path[256];
	size_t slot = 0;

	while (slot < sizeof(made) / sizeof(*made) - 1 && made[slot])
		slot++;
	for (size_t i = 0; i < sizeof(bases) / sizeof(*bases); i++) {
		snprintf(path, sizeof(path), "%s/heapdoc-fuzz-%s-XXXXXX", bases[i], tag);
		if (!mkdtemp(path))
			continue;
		if (!made[0])
			atexit(remove_made);
		made[slot] = strdup(path);
		if (made[slot])
			return made[slot];
	}
	perror("heapdoc fuzz: mkdtemp");
	exit(1);
}

