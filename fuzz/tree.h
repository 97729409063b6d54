/* Fake /proc and /sys trees built from one fuzzer input (fuzz/proc.c,
 * fuzz/cgroup.c).
 *
 * The input is a list of entries, each a header line and the bytes that
 * follow it up to the next header:
 *
 *	@@ proc/4242/status
 *	Name:	app
 *	...
 *	@@ proc/self/ns/mnt -> mnt:[4026531841]
 *	@@ proc/4242/task/
 *
 * A header starts the input or follows a newline, which is not part of the
 * file before it (so a file's bytes are exactly what the packer read, see
 * fuzz/pack-tree.sh).  "path -> target" is a symbolic link; "path/" an
 * empty directory; anything else a file holding the bytes.  Paths are
 * relative to the tree; components "", "." and ".." are refused, as are
 * link targets holding anything but a file name, so nothing an input says
 * is written, or read back through a link, outside the tree.  Entries that
 * do not fit (a file where a directory is, a bad path) are skipped: every
 * input builds some tree.
 */
#ifndef HEAPDOC_FUZZ_TREE_H
#define HEAPDOC_FUZZ_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fuzz.h"

/* Builds the tree of data under dir (empty). */
void fuzz_tree_build(const char *dir, const uint8_t *data, size_t size);

/* The numeric directories under dir/proc, in directory order, at most max. */
size_t fuzz_tree_pids(const char *dir, pid_t *pids, size_t max);

#endif
