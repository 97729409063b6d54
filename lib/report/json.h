/* A streaming JSON writer.
 *
 * Keys are passed with each value; inside arrays (and at the top level) the
 * key is NULL.  Integers are written exactly; doubles that are not finite and
 * integers equal to UNSET are written as null, so "no limit" never shows up as
 * a huge number.
 */
#ifndef HEAPDOC_JSON_H
#define HEAPDOC_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);

#endif
