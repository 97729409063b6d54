/* What an injection session needs of the target's C library (inject.h):
 * mmap, munmap and madvise to map, protect and drop the trampoline's page,
 * __errno_location to keep the borrowed thread's errno, and the signal
 * restorer that rt_sigreturns through the restore frame.
 *
 * The restorer is a local symbol (__restore_rt in glibc and musl), present
 * in .symtab only when the library is not stripped; otherwise it is found
 * by its bytes, `mov $15,%rax; syscall`, in the library's executable
 * mappings as the target has them.  Any copy of those nine bytes will do:
 * rt_sigreturn does not return.
 */
#include "observe/inject.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/elfsym.h"
#include "observe/target.h"

static const uint8_t restorer_code[] = {
	0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00,	/* mov $15,%rax (rt_sigreturn) */
	0x0f, 0x05,					/* syscall */
};

#define SCAN_CHUNK (256u << 10)

static bool is_restorer(pid_t pid, uint64_t addr)
{
	uint8_t code[sizeof(restorer_code)];

	return target_pid_read_exact(pid, addr, code, sizeof(code)) == 0 &&
	       !memcmp(code, restorer_code, sizeof(code));
}

/* The first copy of the restorer in [lo, hi) of pid's memory, or 0. */
static uint64_t scan_restorer(pid_t pid, uint64_t lo, uint64_t hi)
{
	size_t overlap = sizeof(restorer_code) - 1;
	uint8_t *buf = malloc(SCAN_CHUNK + overlap);
	uint64_t found = 0;

	for (uint64_t at = lo; buf && at < hi && !found; at += SCAN_CHUNK) {
		size_t want = MIN((uint64_t)SCAN_CHUNK + overlap, hi - at);
		struct iovec local = { buf, want }, remote = { (void *)at, want };
		ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
		uint8_t *p = n > 0 ? memmem(buf, n, restorer_code, sizeof(restorer_code)) : NULL;

		if (p)
			found = at + (p - buf);
		if (n < (ssize_t)want)
			break;
	}
	free(buf);
	return found;
}

static uint64_t find_restorer(pid_t pid, const struct elfsym *es, const struct maps *maps,
			      const char *path)
{
	uint64_t addr = 0;

	if (elfsym_lookup(es, "__restore_rt", &addr, NULL) == 0 && is_restorer(pid, addr))
		return addr;
	for (size_t i = 0; i < maps->n && !addr; i++) {
		const struct mapping *m = &maps->v[i];

		if (m->perms[2] == 'x' && !strcmp(m->path, path))
			addr = scan_restorer(pid, m->start, m->end);
	}
	return addr;
}

/* 0 when path holds everything a session needs (filled into out). */
static int try_module(pid_t pid, const struct maps *maps, const char *path,
		      struct inject_libc *out)
{
	struct elfsym es = ELFSYM_INIT;
	uint64_t base = UINT64_MAX;
	int ret = -ENOENT;

	for (size_t i = 0; i < maps->n; i++)
		if (!strcmp(maps->v[i].path, path))
			base = MIN(base, maps->v[i].start);
	if (base == UINT64_MAX || elfsym_open(&es, pid, path, base, NULL) < 0)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	if (elfsym_lookup(&es, "mmap", &out->mmap, NULL) == 0 &&
	    elfsym_lookup(&es, "munmap", &out->munmap, NULL) == 0 &&
	    elfsym_lookup(&es, "madvise", &out->madvise, NULL) == 0) {
		elfsym_lookup(&es, "__errno_location", &out->errno_location, NULL);
		out->restorer = find_restorer(pid, &es, maps, path);
		ret = out->restorer ? 0 : -ENOENT;
	}
	elfsym_close(&es);
	return ret;
}

/* The C library of a dynamic program, or a static executable. */
static bool is_candidate(const char *path, const char *exe)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5) ||
	       !strncmp(base, "ld-musl", 7) || !strcmp(path, exe);
}

int inject_libc_find(pid_t pid, struct inject_libc *out, struct error *err)
{
	struct maps maps = { 0 };
	char link[64], exe[512] = "";
	const char *tried = NULL;
	ssize_t n;
	int ret;

	memset(out, 0, sizeof(*out));
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	ret = proc_read_maps("", pid, &maps, err);
	if (ret < 0)
		return ret;
	ret = -ENOENT;
	for (size_t i = 0; i < maps.n && ret; i++) {
		const struct mapping *m = &maps.v[i];

		if (!m->path[0] || m->perms[2] != 'x' || !is_candidate(m->path, exe))
			continue;
		tried = m->path;
		ret = try_module(pid, &maps, m->path, out);
	}
	if (ret)
		error_set(err, -ENOENT, "pid %d: %s%s has no mmap, munmap, madvise and signal "
			  "restorer to call through", pid, tried ? tried : "no C library",
			  tried ? "" : " is mapped");
	maps_free(&maps);
	return ret;
}
