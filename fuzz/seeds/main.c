/* The executable seeding fuzz/corpus/elf (fuzz/seed.sh builds it): linked
 * against the seed libc.so.6, so it has an interpreter and DT_NEEDED, a
 * TLS block of its own (PT_TLS, local exec), .rodata strings of the kind
 * allocator detection looks for, and a symbol table.  Nothing runs it. */
#include <stddef.h>

void *malloc(size_t n);

__thread long calls;
const char banner[] = "jemalloc version 5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c";
const char *const conf = "background_thread:true,dirty_decay_ms:1000";

int main(void)
{
	calls++;
	return malloc((size_t)calls) == banner;
}
