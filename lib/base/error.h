/* Errors in the library: return a negative errno and say why.
 *
 * Every library function that can fail takes a `struct error *` from its
 * caller and returns a negative errno-style code.  The message is lower-case
 * and is printed as-is by cmd/, which is the only place that prints or
 * exits.  The callee says what went wrong with what it was given (a path,
 * an address, a symbol, the pid it was asked about); a caller that knows a
 * subject the callee did not adds it in front (error_wrap), so that the
 * message names it once:
 *
 *	if (fd < 0)
 *		return error_set(err, -errno, "open %s: %m", path);
 *	...
 *	rc = glibc_layout_load(syms, version, &gs, &L, err);
 *	if (rc < 0)
 *		return error_wrap(err, rc, "pid %d: ", pid);
 *
 * One errno per fact, so that cmd/ gives one exit code per fact (cmd.h):
 * -ESRCH no such process (a thread id too, and a process gone while being
 * read), -EPERM/-EACCES not allowed (another tracer included), -EOPNOTSUPP
 * a kernel thread or a zombie; -EINVAL is never the user's command line.
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
