/* The free filter and the live table's buckets (agent_abi.h), the
 * arithmetic both heapdoc and its sampling library stand on. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "observe/agent/agent.h"
#include "testlib.h"

static const void *at(uint64_t v)
{
	return (const void *)(uintptr_t)v;
}

/* The 512 granules of an 8 KiB block take the 512 bits of one line of the
 * filter: the frees of memory a thread owns read lines that no other
 * thread's samples write. */
START_TEST(a_block_is_one_line)
{
	static const uint64_t blocks[] = { 0x55d0c0a00000ULL, 0x7f3a18000000ULL,
					   0x7f3a1bffe000ULL, 0x7ffd00002000ULL };

	for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
		uint8_t seen[512] = { 0 };
		uint32_t line = agent_filter_index(at(blocks[b])) >> 9;

		for (uint64_t g = 0; g < 512; g++) {
			uint32_t f = agent_filter_index(at(blocks[b] + g * 16));

			ck_assert_uint_eq(f >> 9, line);
			ck_assert_uint_lt(f, AGENT_FILTER_BITS);
			ck_assert_msg(!seen[f & 511], "block %zu: two granules share a bit", b);
			seen[f & 511] = 1;
		}
	}
}
END_TEST

/* Large blocks are mmapped: their pointers are a page plus 16 bytes.  Many
 * of them live at once must still fit the table's buckets. */
START_TEST(page_aligned_pointers_spread)
{
	enum { PAGES = 4096 };
	static uint16_t per_bucket[AGENT_BUCKETS];
	unsigned used = 0, fullest = 0;

	memset(per_bucket, 0, sizeof(per_bucket));
	for (uint64_t i = 0; i < PAGES; i++) {
		uint32_t b = agent_bucket(at(0x7f3a00000000ULL + i * 4096 + 16));

		used += !per_bucket[b]++;
		if (per_bucket[b] > fullest)
			fullest = per_bucket[b];
	}
	ck_assert_msg(used > PAGES * 3 / 4, "%u buckets for %d pages", used, PAGES);
	ck_assert_uint_le(fullest, AGENT_WAYS);
}
END_TEST

/* heapdoc reads only the buckets that may hold a live sample: those with a
 * filter bit set among the indexes that fall in them. */
START_TEST(a_bucket_is_used_when_a_bit_of_it_is_set)
{
	struct agent *a = calloc(1, sizeof(*a));
	const void *p = at(0x7f3a18001230ULL);
	uint32_t f = agent_filter_index(p), b = agent_bucket(p);

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(b, f % AGENT_BUCKETS);
	ck_assert(!agent_bucket_used(a, b));
	a->filter[f >> 6] |= 1ULL << (f & 63);
	ck_assert(agent_bucket_used(a, b));
	ck_assert(!agent_bucket_used(a, (b + 1) % AGENT_BUCKETS));
	for (uint32_t other = 0; other < AGENT_BUCKETS; other++)
		ck_assert(other == b || !agent_bucket_used(a, other));
	free(a);
}
END_TEST

Suite *agent_filter_suite(void)
{
	Suite *s = suite_create("agent_filter");
	TCase *unit = tcase_create("unit");

	tcase_add_test(unit, a_block_is_one_line);
	tcase_add_test(unit, page_aligned_pointers_spread);
	tcase_add_test(unit, a_bucket_is_used_when_a_bit_of_it_is_set);
	suite_add_tcase(s, unit);
	return s;
}
