/* The "allocator" object of every JSON document heapdoc prints: one shape
 * everywhere, so a script reads .allocator.name (and the rest) the same way
 * from triage, knobs, stats, audit, release and set.
 *
 *	name		"glibc", "jemalloc", ... (model/alloc.h)
 *	version		"2.36"; null when unknown
 *	link		"shared" or "static"
 *	flavor		tcmalloc's "gperftools" or "google"; null elsewhere
 *	prefix		a static jemalloc's symbol prefix ("je_"); null when none
 *	path		the file that holds it, as the target names it
 *	evidence	what it was recognised by
 *	state_read	whether its own state was read; null when the command
 *			does not read it (audit)
 *	source		how it was read ("dwarf", "mallctl"; "proc": /proc alone);
 *			null when not
 *	why_unavailable	why it was not, when it was not
 */
#ifndef HEAPDOC_REPORT_ALLOCATOR_H
#define HEAPDOC_REPORT_ALLOCATOR_H

#include "base/json.h"
#include "model/alloc.h"

/* Opens the object under key and writes its members; a command adds its
 * own after them, then closes it (json_object_end).  sum may be NULL. */
void allocator_json_begin(struct json *j, const char *key, const struct alloc_id *id,
			  const struct alloc_summary *sum);

/* The object, whole. */
void allocator_json(struct json *j, const char *key, const struct alloc_id *id,
		    const struct alloc_summary *sum);

#endif
