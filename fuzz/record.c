/* record PID OUT [MS [N]]: writes an image of what a held snapshot of PID's
 * glibc heap reads (lib/observe/target_image.h) to OUT, for the heap
 * fuzzer's corpus (fuzz/seed.sh records fixtures/glibc_heap and
 * fixtures/hostile_heap).  With MS, N snapshots (2 by default) MS
 * milliseconds apart, each an epoch of the image: the heap as it moved
 * meanwhile.  A helper for the corpus, not a heapdoc command: it attaches
 * and stops PID like `heapdoc stats` does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "observe/alloc/glibc.h"
#include "observe/target.h"
#include "observe/target_image.h"

/* Held snapshots of t (each an epoch of img, ms apart). */
static int snapshots(struct glibc_reader *r, struct target *t, struct target_image *img,
		     unsigned n, unsigned ms, struct glibc_state *st, struct error *err)
{
	int rc = 0;

	for (unsigned i = 0; i < n && rc == 0; i++) {
		if (i) {
			usleep(ms * 1000);
			glibc_state_free(st);
			rc = target_image_next_epoch(img);
			if (rc < 0)
				return error_set(err, rc, "image: no room for an epoch");
		}
		rc = glibc_snapshot(r, t, st, err);
	}
	return rc;
}

static int record(pid_t pid, const char *path, unsigned n, unsigned ms, struct error *err)
{
	struct glibc_reader *r = NULL;
	struct target_image *img = NULL;
	struct target t = { .mem_fd = -1 };
	struct glibc_state st = { 0 };
	unsigned char *buf = NULL;
	size_t len;
	FILE *f;
	int rc;

	rc = target_image_new(&img, err);
	if (rc == 0)
		rc = glibc_open(&r, pid, NULL, err);
	if (rc == 0)
		rc = glibc_image_notes(r, img, err);
	if (rc == 0)
		rc = target_attach(&t, pid, err);
	if (rc < 0)
		goto out;
	target_record(&t, img);
	rc = snapshots(r, &t, img, n, ms, &st, err);
	target_detach(&t);
	if (rc == 0)
		rc = target_image_save(img, &buf, &len, err);
	if (rc < 0)
		goto out;
	f = fopen(path, "w");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		rc = error_set(err, -EIO, "%s: cannot write", path);
	else
		printf("%s: %zu bytes, %u epochs, %zu arenas, corrupt %s\n", path, len,
		       target_image_epochs(img), st.narenas, st.corrupt ? "yes" : "no");
out:
	glibc_state_free(&st);
	free(buf);
	glibc_close(r);
	target_image_free(img);
	return rc;
}

int main(int argc, char **argv)
{
	struct error err = { 0 };
	unsigned n = 1, ms = 0;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: record PID OUT [MS [N]]\n");
		return 2;
	}
	if (argc >= 4) {
		ms = (unsigned)atoi(argv[3]);
		n = argc == 5 ? (unsigned)atoi(argv[4]) : 2;
	}
	if (record((pid_t)atoi(argv[1]), argv[2], n, ms, &err) < 0) {
		fprintf(stderr, "record: %s\n", err.msg);
		return 1;
	}
	return 0;
}
