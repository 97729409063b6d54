/* Private to lib/model: the structs of the model as tables of named fields,
 * so that one writer and one reader save and load all of them (recording.c)
 * and a field is named in one place.
 *
 * A table lists the members that are data; pointers and derived values stay
 * out.  Reading a member that is absent leaves it as it was (the caller
 * first sets everything to "unknown"), which is how a newer reader reads an
 * older recording; a member of the wrong type is an error.
 */
#ifndef HEAPDOC_MODEL_FIELDS_H
#define HEAPDOC_MODEL_FIELDS_H

#include <stddef.h>

#include "base/error.h"
#include "base/json.h"

enum field_type {
	FIELD_U64,		/* uint64_t; UNSET is null */
	FIELD_PARAM,		/* int64_t; PARAM_UNSET is null */
	FIELD_U32,		/* unsigned, uid_t */
	FIELD_I32,		/* int, pid_t */
	FIELD_DOUBLE,		/* double, written exactly; NAN is null */
	FIELD_BOOL,
	FIELD_STRING,		/* char[N], cut to fit when read */
	FIELD_CHAR,		/* one char, as a string of one */
	FIELD_ALLOC_KIND,	/* enum alloc_kind, by name ("glibc") */
	FIELD_ALLOC_LINK,	/* enum alloc_link: "shared", "static" */
};

struct field {
	const char *name;
	size_t offset, size;
	enum field_type type;
};

#define FIELD(st, member, type) \
	{ #member, offsetof(st, member), sizeof(((st *)0)->member), type }

struct fields {
	const struct field *v;
	size_t n;
};

extern const struct fields fields_proc_status, fields_rss_split, fields_cgroup_limits,
	fields_alloc_id, fields_alloc_summary, fields_alloc_params, fields_sample,
	fields_latency;

/* Writes the members of *base as an object under key (NULL in an array or
 * at the top); _members into the object being written. */
void fields_write(struct json *j, const char *key, const struct fields *f, const void *base);
void fields_write_members(struct json *j, const struct fields *f, const void *base);

/* Reads the members of obj present in f into *base; -EIO naming the member
 * ("status.vm_rss: not an unsigned integer") when one has the wrong type. */
int fields_read(const struct json_value *obj, const char *what, const struct fields *f,
		void *base, struct error *err);

#endif
