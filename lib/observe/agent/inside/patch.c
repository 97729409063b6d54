/* Relocation slots: redirecting the allocation functions of every loaded
 * module, and putting each slot back exactly as it was.
 *
 * For every module but ld.so, the vDSO and this library, the relocations
 * that name a hooked function are read from its dynamic section:
 *  - R_X86_64_JUMP_SLOT (the PLT's slots): pointed at the hook.  Only a
 *    slot that holds the real function, or a lazy-binding stub of its own
 *    module, is changed; one bound elsewhere (RTLD_DEEPBIND, a private
 *    definition) is left alone and counted.
 *  - R_X86_64_GLOB_DAT (the GOT slots -fno-plt code calls through): only
 *    with AGENT_FLAG_GOT, only in a module that has no PLT slot for that
 *    name (otherwise the GOT slot is for taking the function's address),
 *    never in libc; pointed at a forwarding page (see stub_*), because code
 *    may copy a GOT slot's value into its own data (pthread_key_create(&k,
 *    free)) and call it long after heapdoc left: the page keeps such a
 *    pointer valid, forwarding to the real function once stopped.
 *  - R_X86_64_64 naming a hooked function: a pointer stored in data at load
 *    time, which no redirection can reach; stated as a hole.
 * A slot in a RELRO page is written between mprotect(RW) and
 * mprotect(R).  Each change is recorded (slot, old, new); putting back
 * writes old only where the slot still holds new.
 *
 * Modules loaded later are found by a check every 100 ms (control.c, from
 * the slow path: dl_iterate_phdr's load/unload counters), and on every dlclose
 * (redirected: a module that goes away must leave the unwinder's list and
 * the slot list before its memory is reused).
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "inside.h"

#define MAX_SLOTS	8192
#define MAX_MODS	512


struct patched {
	uint64_t *slot;
	uint64_t old, new;
	uintptr_t module;		/* its module's base, to forget it */
	uint8_t relro;
};

static struct patched slots[MAX_SLOTS];
static unsigned nslots;
static uintptr_t patched_modules[MAX_MODS];	/* bases already done */
static unsigned npatched_modules;
static int lock;				/* the slot list and module list */
static unsigned long long seen_adds, seen_subs;

/* The forwarding page: code (r-x) then a table of targets (rw-). */
static uint8_t *stub;
static uint64_t *stub_targets;

/* Readers of the module list (unwinds) against its writers: a reader count
 * per slot (by thread id), each on its own cache line, so that two threads
 * sampling at once do not fight over one line. */
#define READER_SLOTS 64
static struct { int n; char pad[60]; } mod_readers[READER_SLOTS] __attribute__((aligned(64)));
static int mod_busy;
static __thread unsigned t_reader_slot __attribute__((tls_model("initial-exec")));

int agent_trylock(void)
{
	return !__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE);
}

void agent_lock(void)
{
	while (!agent_trylock())
		sched_yield();
}

void agent_unlock(void)
{
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

void agent_modules_enter(void)
{
	int *n;

	if (!t_reader_slot)
		t_reader_slot = 1 + (unsigned)((uintptr_t)&t_reader_slot >> 12) % READER_SLOTS;
	n = &mod_readers[t_reader_slot - 1].n;
	__atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&mod_busy, __ATOMIC_SEQ_CST)) {
		/* A writer waits for readers: step aside until it is done. */
		__atomic_sub_fetch(n, 1, __ATOMIC_RELEASE);
		sched_yield();
		__atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
	}
}

void agent_modules_leave(void)
{
	__atomic_sub_fetch(&mod_readers[t_reader_slot - 1].n, 1, __ATOMIC_RELEASE);
}

int agent_modules_busy_begin(void)
{
	__atomic_add_fetch(&mod_busy, 1, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < READER_SLOTS; i++)
		while (__atomic_load_n(&mod_readers[i].n, __ATOMIC_SEQ_CST))
			sched_yield();
	return 0;
}

void agent_modules_busy_end(void)
{
	__atomic_sub_fetch(&mod_busy, 1, __ATOMIC_RELEASE);
}

/* ---- writing one slot ---------------------------------------------------- */

static int write_slot(uint64_t *slot, uint64_t value, int relro)
{
	uintptr_t page = (uintptr_t)slot & ~(uintptr_t)(getpagesize() - 1);

	if (relro && mprotect((void *)page, getpagesize(), PROT_READ | PROT_WRITE)) {
		agent_ctl->last_error = -errno;
		return -1;
	}
	__atomic_store_n(slot, value, __ATOMIC_RELEASE);
	if (relro && mprotect((void *)page, getpagesize(), PROT_READ))
		agent_ctl->last_error = -errno;
	return 0;
}

/* ---- the forwarding page --------------------------------------------------- */

/* Entry i: jmp *target[i](%rip), 8 bytes apart; the targets follow one page
 * later. */
static int stub_make(void)
{
	long pg = getpagesize();
	uint8_t *p;

	if (stub)
		return 0;
	p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	stub_targets = (uint64_t *)(p + pg);
	for (unsigned i = 0; i < agent_nhooks; i++) {
		uint8_t *e = p + 8 * i;
		int32_t disp = (int32_t)((uint8_t *)&stub_targets[i] - (e + 6));

		e[0] = 0xff;
		e[1] = 0x25;
		memcpy(e + 2, &disp, 4);
		e[6] = e[7] = 0xcc;
		stub_targets[i] = (uint64_t)(uintptr_t)agent_hooks[i].hook;
	}
	if (mprotect(p, pg, PROT_READ | PROT_EXEC)) {
		munmap(p, 2 * pg);
		return -1;
	}
	stub = p;
	agent_ctl->stub_addr = (uint64_t)(uintptr_t)p;
	agent_ctl->stub_len = 2 * pg;
	return 0;
}

/* ---- one module ------------------------------------------------------------ */

struct module_view {
	uintptr_t base, lo, hi;
	uintptr_t relro_lo, relro_hi;	/* pages mprotected read-only */
	const ElfW(Dyn) *dyn;
	const char *name;
};

static uintptr_t dyn_ptr(const struct module_view *m, uintptr_t v)
{
	/* ld.so may or may not have relocated these entries in place. */
	return m->base && v < m->base ? m->base + v : v;
}

static int hook_index(const char *name)
{
	for (unsigned i = 0; i < agent_nhooks; i++)
		if (!strcmp(agent_hooks[i].name, name))
			return (int)i;
	return -1;
}

static void patch_one(const struct module_view *m, uint64_t *slot, int h, int got)
{
	uint64_t old = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	uint64_t real = (uint64_t)(uintptr_t)*agent_hooks[h].real;
	uint64_t new = got ? (uint64_t)(uintptr_t)(stub + 8 * h)
			   : (uint64_t)(uintptr_t)agent_hooks[h].hook;
	int relro = (uintptr_t)slot >= m->relro_lo && (uintptr_t)slot < m->relro_hi;

	if (old == new || !real)
		return;
	if (old != real && !(old >= m->lo && old < m->hi)) {
		agent_ctl->slots_skipped++;
		agent_ctl->holes |= AGENT_HOLE_ELSEWHERE;
		return;
	}
	if (nslots == MAX_SLOTS || write_slot(slot, new, relro))
		return;
	slots[nslots++] = (struct patched){ slot, old, new, m->base, (uint8_t)relro };
	if (got)
		agent_ctl->got_slots_patched++;
	else
		agent_ctl->slots_patched++;
}

static void patch_module(const struct module_view *m)
{
	const ElfW(Sym) *symtab = NULL;
	const char *strtab = NULL;
	const ElfW(Rela) *jmprel = NULL, *rela = NULL;
	size_t pltsz = 0, relasz = 0;
	int is_libc = strstr(m->name, "/libc.so") != NULL;
	uint32_t in_plt = 0;		/* hooks with a PLT slot here */

	for (const ElfW(Dyn) *d = m->dyn; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB: symtab = (const void *)dyn_ptr(m, d->d_un.d_ptr); break;
		case DT_STRTAB: strtab = (const void *)dyn_ptr(m, d->d_un.d_ptr); break;
		case DT_JMPREL: jmprel = (const void *)dyn_ptr(m, d->d_un.d_ptr); break;
		case DT_PLTRELSZ: pltsz = d->d_un.d_val; break;
		case DT_RELA: rela = (const void *)dyn_ptr(m, d->d_un.d_ptr); break;
		case DT_RELASZ: relasz = d->d_un.d_val; break;
		}
	}
	if (!symtab || !strtab)
		return;
	for (size_t i = 0; jmprel && i < pltsz / sizeof(*jmprel); i++) {
		const ElfW(Rela) *r = &jmprel[i];
		int h;

		if (ELF64_R_TYPE(r->r_info) != R_X86_64_JUMP_SLOT)
			continue;
		h = hook_index(strtab + symtab[ELF64_R_SYM(r->r_info)].st_name);
		if (h < 0)
			continue;
		in_plt |= 1u << h;
		patch_one(m, (uint64_t *)(m->base + r->r_offset), h, 0);
	}
	for (size_t i = 0; rela && i < relasz / sizeof(*rela); i++) {
		const ElfW(Rela) *r = &rela[i];
		unsigned type = ELF64_R_TYPE(r->r_info);
		int h;

		if ((type != R_X86_64_GLOB_DAT && type != R_X86_64_64) || !ELF64_R_SYM(r->r_info))
			continue;
		h = hook_index(strtab + symtab[ELF64_R_SYM(r->r_info)].st_name);
		if (h < 0 || !strcmp(agent_hooks[h].name, "dlclose"))
			continue;
		if (type == R_X86_64_64)
			agent_ctl->holes |= AGENT_HOLE_PTR_SAVED;
		else if (in_plt & (1u << h) || is_libc)
			continue;		/* address-taking, or libc's own */
		else if (!(agent_ctl->flags & AGENT_FLAG_GOT) || stub_make())
			agent_ctl->holes |= AGENT_HOLE_GOT_SKIPPED;
		else
			patch_one(m, (uint64_t *)(m->base + r->r_offset), h, 1);
	}
}

/* ---- walking the loaded modules ------------------------------------------- */

struct scan {
	struct agent_module mods[MAX_MODS];
	unsigned n;
	uintptr_t bases[MAX_MODS];	/* every module now loaded */
	unsigned nbases;
	int patch;
};

static int is_done(uintptr_t base)
{
	for (unsigned i = 0; i < npatched_modules; i++)
		if (patched_modules[i] == base)
			return 1;
	return 0;
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *s = arg;
	struct module_view m = { .base = info->dlpi_addr, .lo = UINTPTR_MAX,
				 .name = info->dlpi_name ? info->dlpi_name : "" };
	const uint8_t *eh = NULL;
	int self = info->dlpi_addr == (uintptr_t)agent_ctl->lib_lo;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t at = m.base + ph->p_vaddr;

		if (ph->p_type == PT_LOAD) {
			if (at < m.lo)
				m.lo = at;
			if (at + ph->p_memsz > m.hi)
				m.hi = at + ph->p_memsz;
		} else if (ph->p_type == PT_DYNAMIC) {
			m.dyn = (const ElfW(Dyn) *)at;
		} else if (ph->p_type == PT_GNU_RELRO) {
			long pg = getpagesize();

			m.relro_lo = at & ~(uintptr_t)(pg - 1);
			m.relro_hi = (at + ph->p_memsz) & ~(uintptr_t)(pg - 1);
		} else if (ph->p_type == PT_GNU_EH_FRAME) {
			eh = (const uint8_t *)at;
		}
	}
	if (m.lo == UINTPTR_MAX)
		return 0;
	if (s->n < MAX_MODS)
		s->mods[s->n++] = (struct agent_module){ m.lo, m.hi, eh };
	if (s->nbases < MAX_MODS)
		s->bases[s->nbases++] = m.base;
	if (self)
		agent_ctl->lib_hi = m.hi;
	if (!s->patch || self || !m.dyn || is_done(m.base) || strstr(m.name, "/ld-linux") ||
	    strstr(m.name, "linux-vdso") || npatched_modules == MAX_MODS)
		return 0;
	agent_ctl->modules_seen++;
	{
		uint64_t before = agent_ctl->slots_patched + agent_ctl->got_slots_patched;

		patch_module(&m);
		if (agent_ctl->slots_patched + agent_ctl->got_slots_patched > before)
			agent_ctl->modules_patched++;
	}
	patched_modules[npatched_modules++] = m.base;
	return 0;
}

static int mod_cmp_less(const struct agent_module *a, const struct agent_module *b)
{
	return a->lo < b->lo;
}

/* Drops what belongs to modules no longer loaded (the lock is held). */
static void forget_unloaded(const struct scan *s)
{
	unsigned out = 0;

	for (unsigned i = 0; i < nslots; i++) {
		int loaded = 0;

		for (unsigned j = 0; j < s->nbases && !loaded; j++)
			loaded = s->bases[j] == slots[i].module;
		if (loaded)
			slots[out++] = slots[i];
	}
	nslots = out;
	out = 0;
	for (unsigned i = 0; i < npatched_modules; i++) {
		int loaded = 0;

		for (unsigned j = 0; j < s->nbases && !loaded; j++)
			loaded = s->bases[j] == patched_modules[i];
		if (loaded)
			patched_modules[out++] = patched_modules[i];
	}
	npatched_modules = out;
}

static int count_adds(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	((unsigned long long *)arg)[0] = info->dlpi_adds;
	((unsigned long long *)arg)[1] = info->dlpi_subs;
	return 1;
}

static struct scan scanned;		/* large: not on a hooked caller's stack */

/* Walks the loaded modules (patching new ones if patch) and forgets the
 * slots of those gone.  The lock is held. */
static struct scan *collect_locked(int patch)
{
	struct scan *s = &scanned;
	unsigned long long counts[2] = { 0, 0 };

	memset(s, 0, sizeof(*s));
	s->patch = patch;
	dl_iterate_phdr(count_adds, counts);
	dl_iterate_phdr(scan_one, s);
	seen_adds = counts[0];
	seen_subs = counts[1];
	forget_unloaded(s);
	return s;
}

void agent_scan_locked(int patch)
{
	struct scan *s = collect_locked(patch);

	/* Insertion sort: a few hundred modules at most. */
	for (unsigned i = 1; i < s->n; i++) {
		struct agent_module v = s->mods[i];
		unsigned j = i;

		for (; j && mod_cmp_less(&v, &s->mods[j - 1]); j--)
			s->mods[j] = s->mods[j - 1];
		s->mods[j] = v;
	}
	agent_modules_busy_begin();
	agent_unwind_set_modules(s->mods, s->n);
	agent_modules_busy_end();
	agent_ctl->rescans++;
}

void agent_rescan(void)
{
	if (agent_state != AGENT_ON || !agent_ctl || agent_ctl->magic != AGENT_MAGIC)
		return;
	agent_lock();
	if (agent_state == AGENT_ON)
		agent_scan_locked(1);
	agent_unlock();
}

/* ---- putting back ----------------------------------------------------------- */

/* The lock is held.  Returns how many slots were put back.  In a forked
 * child the unwinder's module list is left alone: a thread that was in an
 * unwind at the fork is gone, and its reader count with it. */
long agent_restore_locked(int child)
{
	long n = 0;

	if (child)
		collect_locked(0);	/* forget modules that went away */
	else
		agent_scan_locked(0);
	for (unsigned i = nslots; i-- > 0;) {
		struct patched *p = &slots[i];

		if (__atomic_load_n(p->slot, __ATOMIC_ACQUIRE) != p->new) {
			agent_ctl->slots_changed++;
			continue;
		}
		if (write_slot(p->slot, p->old, p->relro) == 0)
			n++;
	}
	nslots = 0;
	npatched_modules = 0;
	/* Code that copied a GOT slot now reaches the real function. */
	for (unsigned i = 0; stub && i < agent_nhooks; i++)
		__atomic_store_n(&stub_targets[i], (uint64_t)(uintptr_t)*agent_hooks[i].real,
				 __ATOMIC_RELEASE);
	agent_ctl->slots_restored += (uint64_t)n;
	return n;
}

/* Did a module come or go since the last walk? (The lock is held.) */
int agent_modules_changed(void)
{
	unsigned long long counts[2] = { 0, 0 };

	dl_iterate_phdr(count_adds, counts);
	return counts[0] != seen_adds || counts[1] != seen_subs;
}
