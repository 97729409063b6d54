/* Errors in the library: return a negative errno and say why.
 *
 * Every library function that can fail takes a `struct error *` from its
 * caller and returns a negative errno-style code.  The message is lower-case,
 * names its subject ("pid 42: no such process") and is meant to be printed
 * as-is by cmd/, which is the only place that prints or exits:
 *
 *	if (fd < 0)
 *		return error_set(err, -errno, "open %s: %m", path);
 */
#ifndef HEAPDOC_ERROR_H
#define HEAPDOC_ERROR_H

struct error {
	int code;		/* the negative errno last set, 0 if none */
	char msg[512];
};

/* Formats msg (printf, plus %m for the current errno) into err, which may be
 * NULL, and returns code so callers can `return error_set(...)`. */
int error_set(struct error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes an existing message with more context ("pid 42: " + msg). */
int error_wrap(struct error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
