#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int file_read_fd(int fd, const char *path, size_t max, char **buf, size_t *len,
		 struct error *err)
{
	size_t n = 0, cap = 4096;
	char *b = NULL;
	int ret = 0;

	*buf = NULL;
	*len = 0;
	for (;;) {
		ssize_t r;

		if (!b || cap - n < 2) {
			char *grown;

			if (b)
				cap *= 2;
			grown = realloc(b, cap);
			if (!grown) {
				ret = error_set(err, -ENOMEM, "%s: out of memory", path);
				goto out;
			}
			b = grown;
		}
		r = read(fd, b + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = error_set(err, -errno, "%s: %m", path);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			ret = error_set(err, -EFBIG, "%s: larger than %zu bytes", path, max);
			goto out;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	return ret;
}

int file_read(const char *path, size_t max, char **buf, size_t *len, struct error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return error_set(err, -errno, "%s: %m", path);
	ret = file_read_fd(fd, path, max, buf, len, err);
	close(fd);
	return ret;
}
