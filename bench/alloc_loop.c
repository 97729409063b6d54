/* A malloc-heavy loop: the standard workload the audit's costs are
 * measured on (bench/alloc_cost.sh runs it under each allocator setting).
 *
 *	alloc_loop [SECONDS] [THREADS]
 *
 * Each thread keeps 4096 slots; every step picks one at random and frees
 * what it holds, or allocates into it: sizes mostly 16-1024 bytes (log-
 * uniform), one in 64 up to 32 KiB, and writes the first and last bytes so
 * the memory is touched.  Prints "ops_per_s N" (malloc and free calls per
 * second, all threads together).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SLOTS 4096

static double seconds = 2.0;

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t pick_size(uint64_t r)
{
	unsigned shift = 4 + (r >> 8) % 7;		/* 16 .. 1024 */

	if ((r & 63) == 0)
		shift = 10 + (r >> 16) % 6;		/* up to 32 KiB */
	return ((size_t)1 << shift) + (r >> 24) % ((size_t)1 << shift);
}

static void *worker(void *arg)
{
	uint64_t *ops = arg, seed = 0x9e3779b97f4a7c15ULL ^ (uintptr_t)arg, n = 0;
	unsigned char **slot = calloc(SLOTS, sizeof(*slot));
	double end = now() + seconds;

	if (!slot)
		abort();
	while (now() < end) {
		for (int k = 0; k < 4096; k++, n++) {
			uint64_t r = xorshift(&seed);
			unsigned i = r % SLOTS;

			if (slot[i]) {
				free(slot[i]);
				slot[i] = NULL;
			} else {
				size_t size = pick_size(r >> 12);

				slot[i] = malloc(size);
				if (!slot[i])
					abort();
				slot[i][0] = slot[i][size - 1] = (unsigned char)r;
			}
		}
	}
	for (unsigned i = 0; i < SLOTS; i++)
		free(slot[i]);
	free(slot);
	*ops = n;
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	pthread_t tid[64];
	uint64_t ops[64] = { 0 }, total = 0;
	double t0;

	if (argc > 1)
		seconds = atof(argv[1]);
	if (threads < 1 || threads > 64 || seconds <= 0) {
		fprintf(stderr, "usage: alloc_loop [SECONDS] [THREADS 1-64]\n");
		return 2;
	}
	t0 = now();
	for (int i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, worker, &ops[i]);
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		total += ops[i];
	}
	printf("ops_per_s %.0f\n", total / (now() - t0));
	return 0;
}
