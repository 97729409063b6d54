/* What every fuzzer here shares (fuzz/README). */
#ifndef HEAPDOC_FUZZ_H
#define HEAPDOC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* What libFuzzer calls: once at the start (optional), then per input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run with a message when a result breaks what its header
 * promises: libFuzzer saves the input as a crash, a finding like any. */
#define FUZZ_CHECK(cond, ...)						\
	do {								\
		if (!(cond))						\
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

/* A fresh private directory under /dev/shm (tmpfs), or /tmp, removed at
 * exit; exits on failure (a fuzzer cannot run without it).  tag names it. */
char *fuzz_dir(const char *tag);

/* Removes everything under dir, dir itself kept. */
void fuzz_dir_clear(const char *dir);

#endif
