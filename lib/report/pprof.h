/* pprof's profile.proto, the parts heapdoc writes (report/leaks.h:
 * leaks_write_pprof) and reads back (its own check of what it wrote, and
 * the tests').  Go's heap layout: four sample values, alloc_objects/count,
 * alloc_space/bytes, inuse_objects/count, inuse_space/bytes, already
 * scaled; period_type space/bytes with the sampling rate as period;
 * default_sample_type left unset (speedscope misreads it). */
#ifndef HEAPDOC_PPROF_H
#define HEAPDOC_PPROF_H

#include <stddef.h>
#include <stdint.h>

#define PPROF_VALUES 4

struct pprof_sample {
	uint64_t *locations;		/* location ids, leaf first */
	size_t nlocations;
	int64_t values[PPROF_VALUES];
};

struct pprof_location {
	uint64_t id, mapping_id, address;
	uint64_t function_id;		/* of its first line; 0 if none */
	int64_t line;
};

struct pprof_function {
	uint64_t id;
	const char *name, *filename;	/* into strings */
};

struct pprof_mapping {
	uint64_t id, start, limit, offset;
	const char *filename, *build_id;
};

struct pprof {
	char **strings;
	size_t nstrings;
	const char *types[PPROF_VALUES], *units[PPROF_VALUES];
	size_t ntypes;
	const char *period_type, *period_unit;
	int64_t period;
	int64_t duration_nanos;
	struct pprof_sample *samples;
	size_t nsamples;
	struct pprof_location *locations;
	size_t nlocations;
	struct pprof_function *functions;
	size_t nfunctions;
	struct pprof_mapping *mappings;
	size_t nmappings;
};

/* Reads a gzip'd (or plain) profile.proto.  0, -EINVAL when malformed,
 * -ENOMEM, or -errno of the file. */
int pprof_read(const char *path, struct pprof *out);
void pprof_free(struct pprof *p);

const struct pprof_location *pprof_location(const struct pprof *p, uint64_t id);
const struct pprof_function *pprof_function(const struct pprof *p, uint64_t id);

#endif
