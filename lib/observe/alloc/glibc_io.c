/* The reading machinery under the glibc walk (glibc_io.h). */
#include "observe/alloc/glibc_io.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/proc.h"
#include "observe/target.h"

/* ---- scattered reads: a small direct-mapped page cache ------------------ */

/* Reads len bytes (len <= RC_PAGE) at addr through the cache. */
int rcache_read(struct rcache *c, uint64_t addr, void *out, size_t len, struct error *err)
{
	unsigned char *o = out;

	while (len) {
		uint64_t pg = addr & ~(uint64_t)(RC_PAGE - 1);
		unsigned slot = (unsigned)((pg / RC_PAGE) % RC_SLOTS);
		size_t off = addr - pg, n = MIN(len, RC_PAGE - off);

		if (c->tag[slot] != pg + 1) {
			ssize_t got = target_read(c->t, pg, c->page[slot], RC_PAGE, err);

			c->reads++;
			if (got < 0)
				return (int)got;
			if ((size_t)got < off + n)
				return error_set(err, -EFAULT, "address %#llx is not mapped",
						 (unsigned long long)addr);
			c->bytes += RC_PAGE;
			c->tag[slot] = (size_t)got == RC_PAGE ? pg + 1 : 0;
			memcpy(o, c->page[slot] + off, n);
		} else {
			memcpy(o, c->page[slot] + off, n);
		}
		o += n;
		addr += n;
		len -= n;
	}
	return 0;
}

int rcache_u64(struct rcache *c, uint64_t addr, uint64_t *v, struct error *err)
{
	return rcache_read(c, addr, v, sizeof(*v), err);
}

/* ---- a set of chunk addresses (fastbin and tcache chunks) ---------------- */

static size_t addrset_slot(const struct addrset *s, uint64_t k)
{
	return (size_t)((k >> 4) * 0x9E3779B97F4A7C15ULL >> 17) & (s->cap - 1);
}

void addrset_free(struct addrset *s)
{
	free(s->key);
	free(s->val);
	free(s->fd);
	free(s->size);
	memset(s, 0, sizeof(*s));
}

int addrset_put_full(struct addrset *s, uint64_t k, unsigned char v, uint64_t fd,
			    uint32_t size)
{
	if ((s->n + 1) * 2 > s->cap) {
		struct addrset g = { .cap = s->cap ? s->cap * 2 : 1024 };

		g.key = calloc(g.cap, sizeof(*g.key));
		g.val = calloc(g.cap, 1);
		g.fd = calloc(g.cap, sizeof(*g.fd));
		g.size = calloc(g.cap, sizeof(*g.size));
		if (!g.key || !g.val || !g.fd || !g.size) {
			addrset_free(&g);
			return -ENOMEM;
		}
		for (size_t i = 0; i < s->cap; i++)
			if (s->key[i])
				addrset_put_full(&g, s->key[i], s->val[i], s->fd[i], s->size[i]);
		addrset_free(s);
		*s = g;
	}
	for (size_t i = addrset_slot(s, k);; i = (i + 1) & (s->cap - 1)) {
		if (s->key[i] == k)
			return 0;
		if (!s->key[i]) {
			s->key[i] = k;
			s->val[i] = v;
			s->fd[i] = fd;
			s->size[i] = size;
			s->n++;
			return 0;
		}
	}
}

int addrset_put(struct addrset *s, uint64_t k, unsigned char v)
{
	return addrset_put_full(s, k, v, 0, 0);
}

/* The slot holding k, or -1. */
ssize_t addrset_find(const struct addrset *s, uint64_t k)
{
	if (!s->n)
		return -1;
	for (size_t i = addrset_slot(s, k); s->key[i]; i = (i + 1) & (s->cap - 1))
		if (s->key[i] == k)
			return (ssize_t)i;
	return -1;
}

enum mark addrset_get(const struct addrset *s, uint64_t k)
{
	ssize_t i = addrset_find(s, k);

	return i < 0 ? MARK_NONE : s->val[i];
}

/* ---- read-ahead: the next window is copied while this one is walked ------
 *
 * Copying is about 60% of a heap walk's time (kernel copy), walking the
 * rest; a helper thread overlaps them.  It only calls process_vm_readv,
 * which needs no ptrace (any thread of heapdoc may), on the window that
 * follows the one being walked; the walker takes it when its next address
 * falls inside, and reads for itself otherwise (a jump over a big chunk).
 */
static void set_policy(pid_t tid, bool idle)
{
	struct sched_param sp = { .sched_priority = 0 };

	sched_setscheduler(tid, idle ? SCHED_IDLE : SCHED_OTHER, &sp);
}

/* SCHED_IDLE is a one-way door for a thread without CAP_SYS_NICE whose
 * RLIMIT_NICE does not allow its nice value (sched(7)): root with
 * CAP_SYS_PTRACE alone, as a DaemonSet or a kubectl debug container runs
 * heapdoc, gets in and not out, and would then hold every later stop at
 * idle priority, the process waiting on a starved heapdoc. */
static bool can_come_back(void)
{
	struct rlimit rl;
	int nice;

	if (proc_have_capability(CAP_SYS_NICE))
		return true;
	errno = 0;
	nice = getpriority(PRIO_PROCESS, 0);
	if (errno || getrlimit(RLIMIT_NICE, &rl))
		return false;
	/* An RLIMIT_NICE of r allows nice values down to 20 - r. */
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)(20 - nice);
}

void glibc_polite(struct readahead *ra, bool on)
{
	static int allowed = -1;

	if (allowed < 0)
		allowed = can_come_back();
	if (!allowed)
		return;
	set_policy(0, on);
	/* The helper at once, a copy in flight included: a hold must never
	 * wait for a copy the machine's other work starves. */
	if (ra && ra->started) {
		pid_t tid;

		pthread_mutex_lock(&ra->lock);
		tid = ra->tid;
		pthread_mutex_unlock(&ra->lock);
		if (tid)
			set_policy(tid, on);
	}
}

static void *readahead_main(void *arg)
{
	struct readahead *ra = arg;

	pthread_mutex_lock(&ra->lock);
	ra->tid = (pid_t)syscall(SYS_gettid);
	pthread_cond_broadcast(&ra->cond);
	for (;;) {
		while (ra->state != RA_BUSY && ra->state != RA_QUIT)
			pthread_cond_wait(&ra->cond, &ra->lock);
		if (ra->state == RA_QUIT)
			break;
		pthread_mutex_unlock(&ra->lock);
		struct iovec local = { ra->buf, ra->len };
		struct iovec remote = { (void *)(uintptr_t)ra->base, ra->len };
		ssize_t got = process_vm_readv(ra->pid, &local, 1, &remote, 1, 0);

		pthread_mutex_lock(&ra->lock);
		ra->got = got < 0 ? -errno : got;
		ra->state = RA_DONE;
		pthread_cond_broadcast(&ra->cond);
	}
	pthread_mutex_unlock(&ra->lock);
	return NULL;
}

int readahead_start(struct readahead *ra, pid_t pid, size_t window)
{
	memset(ra, 0, sizeof(*ra));
	ra->pid = pid;
	ra->buf = malloc(window);
	if (!ra->buf)
		return -ENOMEM;
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->cond, NULL);
	if (pthread_create(&ra->thread, NULL, readahead_main, ra) != 0) {
		free(ra->buf);
		ra->buf = NULL;
		return -EAGAIN;
	}
	ra->started = true;
	return 0;
}

void readahead_stop(struct readahead *ra)
{
	if (!ra->started)
		return;
	pthread_mutex_lock(&ra->lock);
	while (ra->state == RA_BUSY)
		pthread_cond_wait(&ra->cond, &ra->lock);
	ra->state = RA_QUIT;
	pthread_cond_broadcast(&ra->cond);
	pthread_mutex_unlock(&ra->lock);
	pthread_join(ra->thread, NULL);
	pthread_mutex_destroy(&ra->lock);
	pthread_cond_destroy(&ra->cond);
	free(ra->buf);
	ra->started = false;
}

bool readahead_take(struct readahead *ra, uint64_t addr, size_t want, unsigned char **buf,
		    uint64_t *base, ssize_t *got)
{
	bool hit;

	if (!ra || !ra->started)
		return false;
	pthread_mutex_lock(&ra->lock);
	while (ra->state == RA_BUSY)
		pthread_cond_wait(&ra->cond, &ra->lock);
	hit = ra->state == RA_DONE && ra->got > 0 && addr >= ra->base &&
	      addr + want <= ra->base + (uint64_t)ra->got;
	if (hit) {
		unsigned char *mine = *buf;

		*buf = ra->buf;		/* the read-ahead becomes the window */
		ra->buf = mine;
		*base = ra->base;
		*got = ra->got;
		ra->state = RA_IDLE;
	}
	pthread_mutex_unlock(&ra->lock);
	return hit;
}

void readahead_forget(struct readahead *ra)
{
	if (!ra || !ra->started)
		return;
	pthread_mutex_lock(&ra->lock);
	while (ra->state == RA_BUSY)
		pthread_cond_wait(&ra->cond, &ra->lock);
	ra->state = RA_IDLE;
	pthread_mutex_unlock(&ra->lock);
}

void readahead_request(struct readahead *ra, uint64_t base, size_t len)
{
	if (!ra || !ra->started || !len)
		return;
	pthread_mutex_lock(&ra->lock);
	while (ra->state == RA_BUSY)
		pthread_cond_wait(&ra->cond, &ra->lock);
	ra->base = base;
	ra->len = len;
	ra->state = RA_BUSY;
	pthread_cond_broadcast(&ra->cond);
	pthread_mutex_unlock(&ra->lock);
}

/* The frame of the shared zero page, which a read of a never-written
 * anonymous page maps (heapdoc's own copy does that to free chunks it
 * reads): present in pagemap, yet no RSS.  0 when PFNs are hidden (not
 * CAP_SYS_ADMIN). */
static uint64_t zero_page_pfn(void)
{
	volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t ent = 0;
	int fd;

	if (p == MAP_FAILED)
		return 0;
	(void)p[0];
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && pread(fd, &ent, 8, (off_t)((uintptr_t)p / 4096 * 8)) != 8)
		ent = 0;
	if (fd >= 0)
		close(fd);
	munmap((void *)p, 4096);
	return (ent & PM_PRESENT) ? ent & PM_PFN : 0;
}

/* Bytes of the spans that are in RAM: present in /proc/<pid>/pagemap and
 * not the zero page.  -errno when pagemap cannot be read. */
int pagemap_resident(pid_t pid, const struct span *spans, size_t n, uint64_t page,
		     uint64_t *bytes, uint64_t *apart)
{
	char path[64];
	uint64_t sum = 0, apart_sum = 0, ent[512], zero = zero_page_pfn();
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint64_t first = spans[i].start / page, left = spans[i].len / page;

		while (left) {
			size_t want = MIN(left, ARRAY_SIZE(ent));
			ssize_t got;

			if (target_interrupted()) {
				rc = -EINTR;
				break;
			}
			got = pread(fd, ent, want * 8, (off_t)(first * 8));

			if (got <= 0) {
				rc = got < 0 ? -errno : -EIO;
				break;
			}
			for (ssize_t k = 0; k < got / 8; k++)
				if ((ent[k] & PM_PRESENT) && (!zero || (ent[k] & PM_PFN) != zero)) {
					sum += page;
					apart_sum += spans[i].apart ? page : 0;
				}
			first += (uint64_t)got / 8;
			left -= (uint64_t)got / 8;
		}
	}
	close(fd);
	*bytes = sum;
	if (apart)
		*apart = apart_sum;
	return rc;
}
