/* The shared library seeding fuzz/corpus/elf (fuzz/seed.sh builds it as
 * libc.so.6): glibc 2.36's malloc state in miniature, so that a mutated
 * copy drives heapdoc's symbol and DWARF paths as far as a real libc's
 * debug file would, in a few kilobytes.  The structs have glibc's members
 * and layout (lib/observe/alloc/glibc_layout.c), the variables glibc's
 * names: main_arena, mp_, __malloc_initialized, __libc_version, and the
 * TLS variables tcache and thread_arena, reached the way libc reaches
 * them (initial exec: an R_X86_64_TPOFF64 relocation in the GOT).  Built
 * without the C library; nothing runs it. */
#include <stddef.h>
#include <stdint.h>

#define NFASTBINS 10
#define NBINS 128
#define TCACHE_MAX_BINS 64

typedef struct malloc_chunk *mchunkptr;
typedef struct malloc_chunk *mfastbinptr;

struct malloc_chunk {
	size_t mchunk_prev_size, mchunk_size;
	struct malloc_chunk *fd, *bk, *fd_nextsize, *bk_nextsize;
};

struct malloc_state {
	int mutex;
	int flags;
	int have_fastchunks;
	mfastbinptr fastbinsY[NFASTBINS];
	mchunkptr top;
	mchunkptr last_remainder;
	mchunkptr bins[NBINS * 2 - 2];
	unsigned int binmap[4];
	struct malloc_state *next;
	struct malloc_state *next_free;
	size_t attached_threads;
	size_t system_mem;
	size_t max_system_mem;
};

struct malloc_par {
	unsigned long trim_threshold;
	size_t top_pad, mmap_threshold, arena_test, arena_max;
	size_t thp_pagesize, hp_pagesize;
	int hp_flags;
	int n_mmaps, n_mmaps_max, max_n_mmaps;
	int no_dyn_threshold;
	size_t mmapped_mem, max_mmapped_mem;
	char *sbrk_base;
	size_t tcache_bins, tcache_max_bytes, tcache_count, tcache_unsorted_limit;
};

typedef struct _heap_info {
	struct malloc_state *ar_ptr;
	struct _heap_info *prev;
	size_t size, mprotect_size, pagesize;
	char pad[-6 * sizeof(size_t) & 15];
} heap_info;

typedef struct tcache_entry {
	struct tcache_entry *next;
	uintptr_t key;
} tcache_entry;

typedef struct tcache_perthread_struct {
	uint16_t counts[TCACHE_MAX_BINS];
	tcache_entry *entries[TCACHE_MAX_BINS];
} tcache_perthread_struct;

const char __libc_version[] = "2.36";
int __malloc_initialized;
struct malloc_state main_arena = { .next = &main_arena };
struct malloc_par mp_ = { .trim_threshold = 128 * 1024, .arena_test = 8,
			  .tcache_bins = TCACHE_MAX_BINS, .tcache_count = 7 };
heap_info *first_heap;

static __thread tcache_perthread_struct *tcache
	__attribute__((tls_model("initial-exec")));
__thread struct malloc_state *thread_arena
	__attribute__((tls_model("initial-exec")));

void *malloc(size_t n)
{
	tcache_perthread_struct *tc = tcache;
	size_t bin = (n + 15) / 16;

	if (tc && bin < TCACHE_MAX_BINS && tc->counts[bin]) {
		tcache_entry *e = tc->entries[bin];

		tc->entries[bin] = e->next;
		tc->counts[bin]--;
		return e;
	}
	if (!thread_arena)
		thread_arena = &main_arena;
	__malloc_initialized = 1;
	return thread_arena->top;
}

void __libc_tcache_init(tcache_perthread_struct *tc)
{
	tcache = tc;
}
