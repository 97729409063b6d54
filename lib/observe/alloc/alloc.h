/* Which allocator a process uses (the types are in model/alloc.h).
 *
 * Detection reads /proc/<pid>/maps and the ELF symbol tables (libelf) of the
 * target's files, opened through /proc/<pid>/root so it works across mount
 * namespaces.  Per-allocator state lives in glibc.h, jemalloc.h, tcmalloc.h.
 */
#ifndef HEAPDOC_OBSERVE_ALLOC_H
#define HEAPDOC_OBSERVE_ALLOC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "model/alloc.h"
#include "observe/proc.h"

/* Decides which allocator serves malloc in pid, the way the dynamic linker
 * binds it: the first of the executable, the LD_PRELOAD libraries, those of
 * the target's /etc/ld.so.preload, then their DT_NEEDED libraries
 * (breadth-first) that defines malloc.  An executable that carries an
 * allocator's API (mallctl, je_mallctl, tc_malloc, mi_malloc ...) names that
 * allocator even when malloc itself is bound elsewhere.
 *
 * maps may be NULL (then it is read); root is the /proc prefix as in proc.h.
 * Files are read through root/proc/<pid>/root/<path> (containers), or
 * root/proc/<pid>/map_files/ when deleted.  Nothing is read from the
 * target's memory and it is never stopped; call it before attaching.
 *
 * On success (0) every field of *out is set:
 *   kind	ALLOC_UNKNOWN when no mapped file defines malloc or the one
 *		that does is not recognised (evidence says which);
 *   link	ALLOC_STATIC when the executable holds the allocator;
 *   version	"2.36" (glibc), "5.3.0" (jemalloc), "2.10" (gperftools),
 *		"14.0.6" (compiler-rt's scudo, from its directory); "" when
 *		neither the file nor its place carries it (google tcmalloc,
 *		mimalloc, musl, a scudo elsewhere, hardened_malloc; a static
 *		glibc that never links gnu_get_libc_version);
 *   flavor	"gperftools" or "google" for tcmalloc, else "";
 *   prefix	jemalloc: the prefix of its API in the executable ("",
 *		"je_", "_rjem_"); with a prefix, malloc itself usually stays
 *		with libc.  "" elsewhere;
 *   path	the file as maps names it, " (deleted)" included;
 *   load_base	the start of its lowest mapping (not the load bias);
 *   evidence	one line: "libjemalloc.so.2 exports malloc (LD_PRELOAD)".
 * A file that cannot be read is not an error: it is judged by its name and
 * evidence says so.  Errors: -ESRCH (no such process, or it ended during
 * detection), those of proc_read_maps, -ENOMEM. */
int alloc_detect(const char *root, pid_t pid, const struct maps *maps,
		 struct alloc_id *out, struct error *err);

#endif
