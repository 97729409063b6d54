/* Observing what protects a live process's heap (`heapdoc audit`): the
 * facts of lib/model/audit.h, read from /proc, the target's ELF files and
 * the allocator's own state.
 *
 *	audit_observe_files()	   /proc and files only: the allocator and its
 *				   environment, every module's hardening and
 *				   RELRO pages, the listening sockets.  Never
 *				   stops the target; root as in proc.h, so it
 *				   also runs on a committed fake tree.
 *	audit_observe_allocator()  the live allocator: for glibc a brief
 *				   heap walk (integrity, tcache_count, safe-
 *				   linked links) and its debugging settings.
 *				   Attaches and detaches on every path.
 */
#ifndef HEAPDOC_OBSERVE_AUDIT_H
#define HEAPDOC_OBSERVE_AUDIT_H

#include <sys/types.h>

#include "base/error.h"
#include "model/audit.h"
#include "observe/proc.h"

/* Fills obs (zero it first; free it with audit_obs_release, also after an
 * error).  Errors: those of proc_check_target and proc_read_maps (no such
 * process, permission, zombie, kernel thread), -ENOMEM.  What cannot be
 * read of one file or of the sockets is recorded in obs, not returned. */
int audit_observe_files(const char *root, pid_t pid, struct audit_obs *obs,
			struct error *err);

/* Reads the allocator's state into obs (after audit_observe_files).  A
 * state that cannot be read (no debug information) is recorded in obs
 * (glibc.why_not); errors are -ESRCH, -EPERM/-EACCES, -EINTR. */
int audit_observe_allocator(pid_t pid, struct audit_obs *obs, struct error *err);

void audit_obs_release(struct audit_obs *obs);

/* Parts, for tests. */
int audit_read_modules(const char *root, pid_t pid, const struct maps *maps,
		       struct audit_obs *obs, struct error *err);
/* The listening sockets of pid (model/audit.h says which count); *out is
 * malloc'd. */
int proc_read_listeners(const char *root, pid_t pid, struct audit_socket **out, size_t *n,
			struct error *err);

#endif
