/* How the glibc walk reads the target, and the small structures it keeps.
 * Internal to lib/alloc/glibc*.c.
 *
 *  - rcache: a direct-mapped cache of target pages, for the scattered reads
 *    of list walks (tcache, fastbins, bins) while the target is held.
 *  - readahead: a helper thread that copies the next window of a heap while
 *    the walker examines the current one.
 *  - addrset: chunk address -> mark (tcache or fastbin chunk), with the fd
 *    and size the walk saw.
 *  - pagemap_resident: how much of some address ranges is in RAM.
 */
#ifndef HEAPDOC_GLIBC_IO_H
#define HEAPDOC_GLIBC_IO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "observe/target.h"

#define RC_PAGE		4096
#define RC_SLOTS	256

struct rcache {
	struct target *t;
	uint64_t tag[RC_SLOTS];		/* page address + 1; 0 = empty */
	unsigned char page[RC_SLOTS][RC_PAGE];
	uint64_t reads, bytes;
};

enum mark { MARK_NONE, MARK_FAST, MARK_CACHED };

/* Chunk address -> what heapdoc knows of it: a mark, and for fastbin
 * candidates the raw fd and the size seen in the walk. */
struct addrset {
	uint64_t *key;			/* 0 = empty slot */
	unsigned char *val;
	uint64_t *fd;
	uint32_t *size;
	size_t cap, n;
};

enum { RA_IDLE, RA_BUSY, RA_DONE, RA_QUIT };

struct readahead {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state;
	pid_t pid;
	unsigned char *buf;
	uint64_t base;
	size_t len;
	ssize_t got;		/* bytes copied, or -errno */
	pid_t tid;		/* the helper's thread id, for glibc_polite */
};

#define PM_PRESENT	(1ULL << 63)
#define PM_PFN		((1ULL << 55) - 1)

/* Reads len bytes at addr through the cache. */
int rcache_read(struct rcache *c, uint64_t addr, void *out, size_t len, struct error *err);
int rcache_u64(struct rcache *c, uint64_t addr, uint64_t *v, struct error *err);

void addrset_free(struct addrset *s);
int addrset_put_full(struct addrset *s, uint64_t k, unsigned char v, uint64_t fd,
		     uint32_t size);
int addrset_put(struct addrset *s, uint64_t k, unsigned char v);
ssize_t addrset_find(const struct addrset *s, uint64_t k);	/* the slot, or -1 */
enum mark addrset_get(const struct addrset *s, uint64_t k);

/* The helper thread; without it (start failed) reads are synchronous. */
int readahead_start(struct readahead *ra, pid_t pid, size_t window);
void readahead_stop(struct readahead *ra);	/* waits for a read in flight */
/* Waits for the read in flight; if it holds [addr, addr+want), swaps its
 * buffer with *buf, sets *base and *got, and returns true. */
bool readahead_take(struct readahead *ra, uint64_t addr, size_t want, unsigned char **buf,
		    uint64_t *base, ssize_t *got);
void readahead_request(struct readahead *ra, uint64_t base, size_t len);
/* Drops what was read ahead: the target ran since, it is stale. */
void readahead_forget(struct readahead *ra);

/* Walking while the target runs, heapdoc yields the CPUs to it: the
 * calling thread (and the read-ahead's, at its next copy) run at
 * SCHED_IDLE, so a thread of the target that wakes up never waits for a
 * walk; back to SCHED_OTHER for the holds, where the target waits for
 * heapdoc instead.  Only when heapdoc may come back (CAP_SYS_NICE, or an
 * RLIMIT_NICE that allows its nice value): otherwise it stays as it is. */
void glibc_polite(struct readahead *ra, bool on);

struct span {
	uint64_t start, len;
	bool apart;			/* counted apart too (glibc: a top chunk's pages;
					 * mimalloc: an abandoned segment's) */
};

/* Bytes of the spans that are in RAM (pagemap; the zero page excluded):
 * all of them into *bytes, those of spans marked apart also into *apart
 * (may be NULL). */
int pagemap_resident(pid_t pid, const struct span *spans, size_t n, uint64_t page,
		     uint64_t *bytes, uint64_t *apart);

#endif
