/* JSON: a streaming writer (reports, recordings) and a small reader
 * (recordings, tests).
 *
 * Writer: keys are passed with each value; inside arrays (and at the top
 * level) the key is NULL.  Integers are written exactly; doubles that are not
 * finite and integers equal to UNSET are written as null, so "no limit" never
 * shows up as a huge number.
 *
 * Reader: a whole document into a tree of json_value, with lookups by key
 * and path and conversions that say when a value is missing or of another
 * type.  Its input is untrusted (a recording from another machine): depth is
 * bounded by JSON_MAX_DEPTH and every error names the column.
 */
#ifndef HEAPDOC_BASE_JSON_H
#define HEAPDOC_BASE_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

#define JSON_MAX_DEPTH 32

struct json {
	FILE *out;
	bool pretty;
	int depth;
	bool has_items[JSON_MAX_DEPTH];
};

void json_init(struct json *j, FILE *out, bool pretty);
void json_finish(struct json *j);	/* ends the document with a newline */

void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);

void json_string(struct json *j, const char *key, const char *s); /* NULL → null */
void json_int(struct json *j, const char *key, int64_t v);
void json_uint(struct json *j, const char *key, uint64_t v);	/* UNSET → null */
void json_double(struct json *j, const char *key, double v);	/* NaN → null */
/* The same with every digit needed to read back the same double (%.17g):
 * for data read back (recordings), not for reports. */
void json_double_exact(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);


/* ---- reading ------------------------------------------------------------ */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
	enum json_type type;
	char *key;		/* inside an object: the member's name; else NULL */
	char *text;		/* JSON_STRING: the decoded string (UTF-8);
				 * JSON_NUMBER: the number as written */
	bool boolean;		/* JSON_BOOL */
	struct json_value *first, *last;	/* JSON_ARRAY, JSON_OBJECT: children */
	struct json_value *next;		/* the next sibling */
	size_t n;		/* children */
};

/* Parses text[0..len), one value with blanks around it, into *out (free it
 * with json_free).  -EIO "column N: <what>" when it is not JSON, -ENOMEM. */
int json_parse(const char *text, size_t len, struct json_value **out, struct error *err);
void json_free(struct json_value *v);

/* The member key of an object, the i-th element of an array; NULL when v is
 * NULL, of another type, or has no such child. */
const struct json_value *json_member(const struct json_value *v, const char *key);
const struct json_value *json_element(const struct json_value *v, size_t i);
/* A path of members and indexes: "glibc.mallinfo2.arena", "knobs[0].name",
 * "[3]"; NULL when any step is missing. */
const struct json_value *json_find(const struct json_value *v, const char *path);

/* Conversions: true when v is of the type and fits.  null reads as UNSET for
 * json_get_u64 and as NAN for json_get_double. */
bool json_get_u64(const struct json_value *v, uint64_t *out);
bool json_get_i64(const struct json_value *v, int64_t *out);
bool json_get_double(const struct json_value *v, double *out);
bool json_get_bool(const struct json_value *v, bool *out);
/* The string, or NULL when v is not one. */
const char *json_get_string(const struct json_value *v);

#endif
