/* Fake trees from fuzzer inputs (tree.h). */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ENTRIES	256
#define MAX_DEPTH	16
#define MAX_NAME	128

/* A link target: one file name, nothing that leads elsewhere. */
static bool plain_name(const char *s, size_t n)
{
	if (!n || n > MAX_NAME || (n == 1 && s[0] == '.') || (n == 2 && !memcmp(s, "..", 2)))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == '\0')
			return false;
	return true;
}

/* Opens (creating it if asked) the directory named by the first n bytes
 * of path under dfd, one component at a time, following no link.  The
 * caller closes the descriptor returned; -1 when the path is refused. */
static int open_dirs(int dfd, const char *path, size_t n, bool create)
{
	int cur = dup(dfd), depth = 0;
	size_t i = 0;

	while (cur >= 0 && i < n) {
		size_t k = i;
		char name[MAX_NAME + 1];
		int next;

		while (k < n && path[k] != '/')
			k++;
		if (!plain_name(path + i, k - i) || ++depth > MAX_DEPTH) {
			close(cur);
			return -1;
		}
		memcpy(name, path + i, k - i);
		name[k - i] = '\0';
		if (create)
			mkdirat(cur, name, 0755);
		next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(cur);
		cur = next;
		i = k + 1;
	}
	return cur;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* One entry: header [h, h + hn) without "@@ ", bytes [b, b + bn). */
static void build_entry(int root, const char *h, size_t hn, const uint8_t *b, size_t bn)
{
	const char *arrow = memmem(h, hn, " -> ", 4);
	size_t pn = arrow ? (size_t)(arrow - h) : hn, slash;
	char name[MAX_NAME + 1], target[MAX_NAME + 1];
	int dfd, fd;

	if (memchr(h, '\0', hn))
		return;
	if (!arrow && pn && h[pn - 1] == '/') {		/* an empty directory */
		dfd = open_dirs(root, h, pn - 1, true);
		if (dfd >= 0)
			close(dfd);
		return;
	}
	for (slash = pn; slash > 0 && h[slash - 1] != '/'; slash--)
		;
	if (!plain_name(h + slash, pn - slash))
		return;
	memcpy(name, h + slash, pn - slash);
	name[pn - slash] = '\0';
	dfd = open_dirs(root, h, slash ? slash - 1 : 0, true);
	if (dfd < 0)
		return;
	if (arrow) {
		size_t tn = hn - pn - 4;

		if (plain_name(arrow + 4, tn)) {
			memcpy(target, arrow + 4, tn);
			target[tn] = '\0';
			symlinkat(target, dfd, name);
		}
	} else {
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0) {
			write_all(fd, b, bn);
			close(fd);
		}
	}
	close(dfd);
}

/* The first header of the input, or NULL. */
static const uint8_t *first_header(const uint8_t *data, size_t size)
{
	const uint8_t *p;

	if (size >= 3 && !memcmp(data, "@@ ", 3))
		return data;
	p = memmem(data, size, "\n@@ ", 4);
	return p ? p + 1 : NULL;
}

void fuzz_tree_build(const char *dir, const uint8_t *data, size_t size)
{
	const uint8_t *h = first_header(data, size), *end = data + size;
	int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (root < 0)
		fuzz_fail(__FILE__, __LINE__, "open", "%s: %s", dir, strerror(errno));
	for (unsigned n = 0; h && n < MAX_ENTRIES; n++) {
		const uint8_t *nl = memchr(h, '\n', (size_t)(end - h));
		const uint8_t *body = nl ? nl + 1 : end, *next = NULL, *body_end = end;

		/* The next header follows a newline; that newline ends the
		 * header line itself when the body is empty. */
		if (nl) {
			next = memmem(nl, (size_t)(end - nl), "\n@@ ", 4);
			if (next) {
				body_end = next > body ? next : body;
				next++;
			}
		}
		build_entry(root, (const char *)h + 3, (size_t)((nl ? nl : end) - h - 3), body,
			    (size_t)(body_end - body));
		h = next;
	}
	close(root);
}

size_t fuzz_tree_pids(const char *dir, pid_t *pids, size_t max)
{
	char path[4096];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/proc", dir);
	d = opendir(path);
	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && !*end && v > 0 &&
		    v < (1L << 22))
			pids[n++] = (pid_t)v;
	}
	closedir(d);
	return n;
}
