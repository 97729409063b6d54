/* lib/symbols on live processes: what it resolves is checked against what
 * the process itself sees (its malloc address, the tcache it allocated, its
 * thread pointer) or against DWARF facts written down in REFERENCE.md. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "observe/symbols.h"
#include "observe/target.h"
#include "testlib.h"

static const char *const prefer_libc[] = { "libc.so", NULL };

static uint64_t remote_u64(pid_t pid, uint64_t addr)
{
	uint64_t v = 0;
	struct iovec l = { &v, sizeof(v) }, r = { (void *)(uintptr_t)addr, sizeof(v) };

	ck_assert_int_eq(process_vm_readv(pid, &l, 1, &r, 1, 0), sizeof(v));
	return v;
}

START_TEST(local_symbols_of_libc_resolve)
{
	const char *args[] = { "single", NULL };
	struct symbols *s;
	struct sym_info arena, mp;
	struct sym_module_info mi;
	struct error e = { 0 };
	struct fixture f;

	fixture_start(&f, "glibc_heap", args, NULL);
	ck_assert_msg(symbols_open(&s, f.pid, &e) == 0, "%s", e.msg);
	ck_assert_msg(symbols_lookup(s, "main_arena", prefer_libc, &arena, &e) == 0, "%s", e.msg);
	ck_assert_msg(symbols_lookup_in(arena.mod, "mp_", &mp, &e) == 0, "%s", e.msg);
	symbols_module_info(arena.mod, &mi);
	ck_assert_ptr_nonnull(strstr(mi.name, "libc.so"));
	ck_assert(mi.has_symtab && mi.has_dwarf);
	ck_assert_int_eq(strlen(mi.build_id), 40);
	ck_assert(arena.addr >= mi.start && arena.addr < mi.end);
	/* A single-threaded process has one arena: its ring closes on
	 * itself (next at 2160, REFERENCE.md), which only the real
	 * main_arena does. */
	ck_assert_uint_eq(remote_u64(f.pid, arena.addr + 2160), arena.addr);
	ck_assert_uint_eq(arena.size, 2200);
	ck_assert_uint_eq(mp.size, 136);
	symbols_close(s);
	fixture_stop(&f);
}
END_TEST

START_TEST(missing_symbol_is_enoent)
{
	struct symbols *s;
	struct sym_info si;
	struct error e = { 0 };
	struct fixture f;

	fixture_start(&f, "glibc_heap", (const char *[]){ "fresh", NULL }, NULL);
	ck_assert_int_eq(symbols_open(&s, f.pid, &e), 0);
	ck_assert_int_eq(symbols_lookup(s, "no_such_symbol_anywhere", NULL, &si, &e), -ENOENT);
	ck_assert_ptr_nonnull(strstr(e.msg, "no_such_symbol_anywhere"));
	symbols_close(s);
	fixture_stop(&f);
}
END_TEST

START_TEST(no_such_process)
{
	struct symbols *s;
	struct error e = { 0 };

	ck_assert_int_eq(symbols_open(&s, 999999999 / 2, &e), -ESRCH);
	ck_assert_ptr_null(s);
}
END_TEST

/* struct layouts from DWARF equal `ptype /o` (REFERENCE.md). */
START_TEST(struct_members_from_dwarf)
{
	struct sym_member ms[] = {
		{ .name = "mutex" }, { .name = "fastbinsY" }, { .name = "top" },
		{ .name = "bins" }, { .name = "next" }, { .name = "system_mem" },
		{ .name = "no_such_member" },
	};
	struct sym_member tc[] = { { .name = "counts" }, { .name = "entries" } };
	struct symbols *s;
	struct sym_info arena;
	struct error e = { 0 };
	struct fixture f;
	uint64_t size;

	fixture_start(&f, "glibc_heap", (const char *[]){ "single", NULL }, NULL);
	ck_assert_int_eq(symbols_open(&s, f.pid, &e), 0);
	ck_assert_int_eq(symbols_lookup(s, "main_arena", prefer_libc, &arena, &e), 0);
	ck_assert_msg(symbols_struct(arena.mod, "malloc.c", "malloc_state", &size, ms, 7, &e) == 0,
		      "%s", e.msg);
	ck_assert_uint_eq(size, 2200);
	ck_assert_int_eq(ms[0].offset, 0);
	ck_assert_uint_eq(ms[0].size, 4);
	ck_assert_int_eq(ms[1].offset, 16);
	ck_assert_uint_eq(ms[1].size, 80);
	ck_assert_uint_eq(ms[1].elem_size, 8);
	ck_assert_int_eq(ms[2].offset, 96);
	ck_assert_int_eq(ms[3].offset, 112);
	ck_assert_uint_eq(ms[3].size, 254 * 8);
	ck_assert_int_eq(ms[4].offset, 2160);
	ck_assert_int_eq(ms[5].offset, 2184);
	ck_assert_int_eq(ms[6].offset, -1);
	/* A typedef'd struct is found by its typedef name too. */
	ck_assert_int_eq(symbols_struct(arena.mod, "malloc.c", "tcache_perthread_struct",
					&size, tc, 2, &e), 0);
	ck_assert_uint_eq(size, 640);
	ck_assert_uint_eq(tc[0].elem_size, 2);
	ck_assert_int_eq(tc[1].offset, 128);
	ck_assert_int_eq(symbols_struct(arena.mod, NULL, "no_such_struct_at_all", &size, tc,
					2, &e), -ENOENT);
	symbols_close(s);
	fixture_stop(&f);
}
END_TEST

/* The TLS offset of `tcache`: the word at fs_base + offset is the tcache
 * the main thread allocated, which sits at the very start of the brk heap
 * (it is the first chunk malloc ever hands out). */
static void check_tcache_tls(const char *fixture)
{
	struct symbols *s;
	struct sym_info tcache, mp;
	struct target t = { 0 };
	struct user_regs_struct regs;
	struct error e = { 0 };
	struct fixture f;
	int64_t off;
	uint64_t tc, sbrk_base;

	fixture_start(&f, fixture, (const char *[]){ "caches", NULL }, NULL);
	ck_assert_int_eq(symbols_open(&s, f.pid, &e), 0);
	ck_assert_msg(symbols_lookup(s, "tcache", prefer_libc, &tcache, &e) == 0, "%s", e.msg);
	ck_assert(tcache.tls);
	ck_assert_msg(symbols_tls_offset(s, &tcache, &off, &e) == 0, "%s", e.msg);
	ck_assert_int_lt(off, 0);
	ck_assert_int_eq(symbols_lookup_in(tcache.mod, "mp_", &mp, &e), 0);
	sbrk_base = remote_u64(f.pid, mp.addr + 96);
	ck_assert_msg(target_attach(&t, f.pid, &e) == 0, "%s", e.msg);
	ck_assert_msg(target_stop(&t, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(target_get_regs(&t, f.pid, &regs, &e), 0);
	ck_assert_int_eq(target_read_exact(&t, regs.fs_base + off, &tc, sizeof(tc), &e), 0);
	target_detach(&t);
	/* sbrk_base is the first chunk; the tcache is its user pointer. */
	ck_assert_msg(tc == sbrk_base + 16, "tcache %#llx, heap starts at %#llx",
		      (unsigned long long)tc, (unsigned long long)sbrk_base);
	symbols_close(s);
	fixture_stop(&f);
}

START_TEST(tls_offset_from_the_got) { check_tcache_tls("glibc_heap"); }
END_TEST
START_TEST(tls_offset_in_a_static_binary) { check_tcache_tls("glibc_heap-static"); }
END_TEST

Suite *symbols_suite(void)
{
	Suite *s = suite_create("symbols");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, local_symbols_of_libc_resolve);
	tcase_add_test(tc, missing_symbol_is_enoent);
	tcase_add_test(tc, no_such_process);
	tcase_add_test(tc, struct_members_from_dwarf);
	tcase_add_test(tc, tls_offset_from_the_got);
	tcase_add_test(tc, tls_offset_in_a_static_binary);
	suite_add_tcase(s, tc);
	return s;
}
