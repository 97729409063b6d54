/* Just enough of the protocol buffers wire format to write (and read back,
 * for tests) pprof's profile.proto: varints, length-delimited fields, and
 * packed repeated integers.  No schema compiler, no library. */
#ifndef HEAPDOC_PROTOBUF_H
#define HEAPDOC_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer; ok turns false on the first allocation failure
 * (everything after is dropped, checked once at the end). */
struct pb_buf {
	uint8_t *data;
	size_t len, cap;
	bool ok;
};

void pb_init(struct pb_buf *b);
void pb_free(struct pb_buf *b);

void pb_varint_field(struct pb_buf *b, unsigned field, uint64_t v);	/* skips 0 */
void pb_bytes_field(struct pb_buf *b, unsigned field, const void *data, size_t len);
void pb_string_field(struct pb_buf *b, unsigned field, const char *s);
/* A nested message (its encoding in m). */
void pb_message_field(struct pb_buf *b, unsigned field, const struct pb_buf *m);
/* Packed repeated varints. */
void pb_packed_field(struct pb_buf *b, unsigned field, const uint64_t *v, size_t n);

/* Reading: one field at a time. */
struct pb_reader {
	const uint8_t *p, *end;
	bool bad;
};

struct pb_field {
	unsigned number;
	unsigned wire;		/* 0 varint, 2 length-delimited (others skipped) */
	uint64_t value;		/* wire 0 */
	const uint8_t *data;	/* wire 2 */
	size_t len;
};

/* False at the end or on malformed input (r->bad says which). */
bool pb_next(struct pb_reader *r, struct pb_field *f);

/* The varints of a packed field (or a single varint field). */
size_t pb_unpack(const struct pb_field *f, uint64_t *out, size_t max);

#endif
