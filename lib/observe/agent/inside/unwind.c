/* A small unwinder for x86-64 code with .eh_frame, for sampled allocations.
 *
 * Most code has no frame pointers, so the stack is walked with the call
 * frame information every module carries for C++ exceptions: find the FDE
 * of a return address through the module's .eh_frame_hdr table, run its
 * CFA program up to that address, and keep the two rules that matter for
 * walking: where the CFA is (rsp or rbp plus an offset) and where the
 * caller's rbp was saved.  The return address is always at CFA - 8.
 *
 * A rule is looked up once per address and cached (direct-mapped, tagged),
 * so a warm unwind costs a few loads per frame.  Anything unusual (a CFA
 * expression, a register other than rsp/rbp holding the CFA, a signal
 * frame) ends the walk.  Every read of the stack is checked against this
 * thread's stack bounds, and every read of unwind data against the
 * module's range: bad CFI gives a short stack, never a fault.
 */
#include <stdint.h>
#include <string.h>

#include "inside.h"

#define MAX_MODULES	512
#define CACHE_SIZE	4096	/* entries, a power of two */
#define REG_RBP		6
#define REG_RSP		7
#define REG_RA		16

void agent_stack_bounds(uintptr_t *lo, uintptr_t *hi) HIDDEN;

static struct agent_module modules[MAX_MODULES];
static unsigned nmodules;

/* A rule, packed: bit 0 valid, bit 1 usable, bit 2 CFA from rbp, bit 3 rbp
 * saved, bit 4 root (no return address: the outermost frame), bits 8-15 a
 * tag from the pc, bits 16-39 the CFA offset, bits 40-63 the rbp offset
 * (signed). */
struct cache_entry {
	uint64_t pc;
	uint64_t rule;
};
static struct cache_entry cache[CACHE_SIZE];

struct rule {
	int cfa_reg;
	int64_t cfa_off;
	int rbp_saved;
	int64_t rbp_off;
	int ra_ok;		/* the return address is at CFA - 8 */
	int root;		/* the return address is undefined */
};

void agent_unwind_set_modules(const struct agent_module *m, unsigned n)
{
	if (n > MAX_MODULES)
		n = MAX_MODULES;
	memcpy(modules, m, n * sizeof(*m));
	nmodules = n;
	memset(cache, 0, sizeof(cache));
}

static const struct agent_module *module_of(uintptr_t pc)
{
	unsigned lo = 0, hi = nmodules;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (pc < modules[mid].lo)
			hi = mid;
		else if (pc >= modules[mid].hi)
			lo = mid + 1;
		else
			return &modules[mid];
	}
	return NULL;
}

/* ---- reading DWARF encodings, bounded by the module ---------------------- */

struct cursor {
	const uint8_t *p, *end;
	int bad;
};

static uint8_t u8(struct cursor *c)
{
	if (c->p + 1 > c->end) {
		c->bad = 1;
		return 0;
	}
	return *c->p++;
}

static uint64_t fixed(struct cursor *c, unsigned n)
{
	uint64_t v = 0;

	if (c->p + n > c->end) {
		c->bad = 1;
		return 0;
	}
	memcpy(&v, c->p, n);
	c->p += n;
	return v;
}

static uint64_t uleb(struct cursor *c)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;

	do {
		b = u8(c);
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while ((b & 0x80) && !c->bad);
	return v;
}

static int64_t sleb(struct cursor *c)
{
	int64_t v = 0;
	unsigned shift = 0;
	uint8_t b;

	do {
		b = u8(c);
		if (shift < 64)
			v |= (int64_t)(b & 0x7f) << shift;
		shift += 7;
	} while ((b & 0x80) && !c->bad);
	if (shift < 64 && (b & 0x40))
		v |= -((int64_t)1 << shift);
	return v;
}

/* A pointer in encoding enc (DW_EH_PE_*); datarel is relative to data. */
static uint64_t encoded(struct cursor *c, uint8_t enc, uintptr_t data)
{
	uintptr_t at = (uintptr_t)c->p;
	uint64_t v;

	if (enc == 0xff)
		return 0;
	switch (enc & 0x0f) {
	case 0x00: v = fixed(c, 8); break;
	case 0x01: v = uleb(c); break;
	case 0x02: v = fixed(c, 2); break;
	case 0x03: v = fixed(c, 4); break;
	case 0x04: v = fixed(c, 8); break;
	case 0x09: v = (uint64_t)sleb(c); break;
	case 0x0a: v = (uint64_t)(int64_t)(int16_t)fixed(c, 2); break;
	case 0x0b: v = (uint64_t)(int64_t)(int32_t)fixed(c, 4); break;
	case 0x0c: v = fixed(c, 8); break;
	default: c->bad = 1; return 0;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += at; break;
	case 0x30: v += data; break;
	default: c->bad = 1;
	}
	if (enc & 0x80)		/* indirect: not used for pc ranges */
		c->bad = 1;
	return v;
}

/* ---- finding and running an FDE ---------------------------------------- */

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra_reg;
	uint8_t fde_enc;
	int has_aug_data, signal;
	const uint8_t *insns, *end;
};

static int parse_cie(const uint8_t *p, const struct agent_module *m, struct cie *out)
{
	struct cursor c = { p, (const uint8_t *)m->hi, 0 };
	uint32_t len = (uint32_t)fixed(&c, 4);
	const char *aug;
	uint8_t version;

	if (len == 0 || len == 0xffffffffu || fixed(&c, 4) != 0)
		return 0;
	c.end = p + 4 + len;
	if (c.end > (const uint8_t *)m->hi)
		return 0;
	version = u8(&c);
	aug = (const char *)c.p;
	while (u8(&c) && !c.bad)
		;
	memset(out, 0, sizeof(*out));
	out->code_align = uleb(&c);
	out->data_align = sleb(&c);
	out->ra_reg = version == 1 ? u8(&c) : uleb(&c);
	if (aug[0] == 'z') {
		uint64_t alen = uleb(&c);
		const uint8_t *after = c.p + alen;

		for (const char *a = aug + 1; *a && !c.bad; a++) {
			if (*a == 'R')
				out->fde_enc = u8(&c);
			else if (*a == 'L')
				u8(&c);
			else if (*a == 'P')
				encoded(&c, u8(&c), 0);
			else if (*a == 'S')
				out->signal = 1;
			else
				break;
		}
		out->has_aug_data = 1;
		c.p = after;
	} else if (aug[0]) {
		return 0;
	}
	out->insns = c.p;
	out->end = c.end;
	return !c.bad && c.p <= c.end;
}

struct cfa_state {
	int cfa_reg;
	int64_t cfa_off;
	int rbp_saved, ra_saved, ra_undefined, bad;
	int64_t rbp_off, ra_off;
};

/* remember_state / restore_state, a few levels deep. */
struct cfa_saved {
	struct cfa_state v[4];
	unsigned depth;
};

/* A register's rule became "saved at CFA + off": only rbp and the return
 * address matter for walking. */
static void rule_offset(struct cfa_state *s, uint64_t reg, int64_t off)
{
	if (reg == REG_RBP) {
		s->rbp_saved = 1;
		s->rbp_off = off;
	} else if (reg == REG_RA) {
		s->ra_saved = 1;
		s->ra_off = off;
	}
}

static void rule_restore(struct cfa_state *s, uint64_t reg, const struct cfa_state *initial)
{
	if (reg == REG_RBP) {
		s->rbp_saved = initial->rbp_saved;
		s->rbp_off = initial->rbp_off;
	} else if (reg == REG_RA) {
		s->ra_saved = initial->ra_saved;
		s->ra_off = initial->ra_off;
	}
}

/* A rule this unwinder cannot follow, for a register it needs. */
static void rule_unusable(struct cfa_state *s, uint64_t reg)
{
	if (reg == REG_RBP || reg == REG_RA)
		s->bad = 1;
}

static void remember(struct cfa_state *s, struct cfa_saved *saved, int restore)
{
	if (!restore && saved->depth < 4)
		saved->v[saved->depth++] = *s;
	else if (restore && saved->depth)
		*s = saved->v[--saved->depth];
	else
		s->bad = 1;
}

/* One instruction in its extended form (not advance_loc, offset or
 * restore with an operand in the opcode).  Returns how far it advances
 * the location, in code alignment units (0 for most). */
static uint64_t run_extended(struct cursor *c, uint8_t op, const struct cie *cie,
			     struct cfa_state *s, struct cfa_saved *saved,
			     const struct cfa_state *initial)
{
	uint64_t reg;

	switch (op) {
	case 0x00: return 0;					/* nop */
	case 0x02: return fixed(c, 1);				/* advance_loc1 */
	case 0x03: return fixed(c, 2);
	case 0x04: return fixed(c, 4);
	case 0x05: reg = uleb(c); rule_offset(s, reg, (int64_t)uleb(c) * cie->data_align); return 0;
	case 0x06: rule_restore(s, uleb(c), initial); return 0;
	case 0x07:						/* undefined */
		reg = uleb(c);
		if (reg == REG_RA)
			s->ra_undefined = 1;
		if (reg == REG_RBP)
			s->rbp_saved = 0;
		return 0;
	case 0x08:						/* same_value */
		if (uleb(c) == REG_RBP)
			s->rbp_saved = 0;
		return 0;
	case 0x09: rule_unusable(s, uleb(c)); uleb(c); return 0;	/* register */
	case 0x0a: remember(s, saved, 0); return 0;
	case 0x0b: remember(s, saved, 1); return 0;
	case 0x0c: s->cfa_reg = (int)uleb(c); s->cfa_off = (int64_t)uleb(c); return 0;
	case 0x0d: s->cfa_reg = (int)uleb(c); return 0;
	case 0x0e: s->cfa_off = (int64_t)uleb(c); return 0;
	case 0x10: case 0x16:				/* (val_)expression */
		rule_unusable(s, uleb(c));
		c->p += uleb(c);
		return 0;
	case 0x11: reg = uleb(c); rule_offset(s, reg, sleb(c) * cie->data_align); return 0;
	case 0x12:						/* def_cfa_sf */
		s->cfa_reg = (int)uleb(c);
		s->cfa_off = sleb(c) * cie->data_align;
		return 0;
	case 0x13: s->cfa_off = sleb(c) * cie->data_align; return 0;
	case 0x14: rule_unusable(s, uleb(c)); uleb(c); return 0;	/* val_offset */
	case 0x15: rule_unusable(s, uleb(c)); sleb(c); return 0;
	case 0x2e: uleb(c); return 0;				/* GNU_args_size */
	case 0x2f:					/* GNU_negative_offset_extended */
		reg = uleb(c);
		rule_offset(s, reg, -(int64_t)uleb(c) * cie->data_align);
		return 0;
	default:					/* def_cfa_expression, others */
		s->bad = 1;
		return 0;
	}
}

/* Runs CFA instructions until the location passes pc (pc = 0: all of
 * them, for a CIE's initial state). */
static void run_cfa(const uint8_t *p, const uint8_t *end, const struct cie *cie,
		    uint64_t loc, uint64_t pc, struct cfa_state *s,
		    const struct cfa_state *initial)
{
	struct cfa_saved saved = { .depth = 0 };
	struct cursor c = { p, end, 0 };

	while (c.p < c.end && !c.bad && !s->bad) {
		uint8_t op = u8(&c), low = op & 0x3f;
		uint64_t advance;

		if (op >> 6 == 2) {
			rule_offset(s, low, (int64_t)uleb(&c) * cie->data_align);
			continue;
		}
		if (op >> 6 == 3) {
			rule_restore(s, low, initial);
			continue;
		}
		if (op == 0x01) {				/* set_loc */
			loc = encoded(&c, cie->fde_enc, 0);
			advance = 0;
		} else {
			advance = op >> 6 == 1 ? low : run_extended(&c, op, cie, s, &saved, initial);
			loc += advance * cie->code_align;
		}
		if (pc && loc > pc && (advance || op == 0x01))
			return;
	}
	if (c.bad)
		s->bad = 1;
}

/* The FDE covering pc in m, through .eh_frame_hdr's sorted table. */
static const uint8_t *find_fde(const struct agent_module *m, uintptr_t pc)
{
	const uint8_t *hdr = m->eh_frame_hdr;
	struct cursor c = { hdr, (const uint8_t *)m->hi, 0 };
	const int32_t *table;
	uint64_t count, lo = 0, hi;

	if (!hdr || u8(&c) != 1)
		return NULL;
	{
		uint8_t ptr_enc = u8(&c), count_enc = u8(&c), table_enc = u8(&c);

		encoded(&c, ptr_enc, (uintptr_t)hdr);
		count = encoded(&c, count_enc, (uintptr_t)hdr);
		if (c.bad || table_enc != 0x3b || !count)	/* datarel | sdata4 */
			return NULL;
	}
	table = (const int32_t *)c.p;
	if ((uintptr_t)(table + 2 * count) > m->hi)
		return NULL;
	hi = count;
	while (hi - lo > 1) {
		uint64_t mid = (lo + hi) / 2;

		if ((uintptr_t)hdr + (intptr_t)table[2 * mid] <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if ((uintptr_t)hdr + (intptr_t)table[2 * lo] > pc)
		return NULL;
	return hdr + table[2 * lo + 1];
}

static int rule_from_fde(const struct agent_module *m, uintptr_t pc, struct rule *r)
{
	const uint8_t *fde = find_fde(m, pc);
	struct cfa_state s = { 0 }, initial;
	struct cursor c;
	uint32_t len;
	struct cie cie;
	uint64_t begin, range;

	if (!fde || (uintptr_t)fde < m->lo || (uintptr_t)fde + 8 > m->hi)
		return 0;
	c = (struct cursor){ fde, (const uint8_t *)m->hi, 0 };
	len = (uint32_t)fixed(&c, 4);
	if (len == 0 || len == 0xffffffffu || (uintptr_t)fde + 4 + len > m->hi)
		return 0;
	c.end = fde + 4 + len;
	{
		const uint8_t *cie_at = c.p - (uint32_t)fixed(&c, 4);

		if ((uintptr_t)cie_at < m->lo || !parse_cie(cie_at, m, &cie) || cie.signal ||
		    cie.ra_reg != REG_RA)
			return 0;
	}
	begin = encoded(&c, cie.fde_enc, 0);
	range = encoded(&c, cie.fde_enc & 0x0f, 0);
	if (c.bad || pc < begin || pc >= begin + range)
		return 0;
	if (cie.has_aug_data)
		c.p += uleb(&c);
	run_cfa(cie.insns, cie.end, &cie, 0, 0, &s, &s);
	initial = s;
	run_cfa(c.p, c.end, &cie, begin, pc, &s, &initial);
	if (s.bad || (s.cfa_reg != REG_RSP && s.cfa_reg != REG_RBP))
		return 0;
	r->cfa_reg = s.cfa_reg;
	r->cfa_off = s.cfa_off;
	r->rbp_saved = s.rbp_saved;
	r->rbp_off = s.rbp_off;
	r->root = s.ra_undefined;
	r->ra_ok = s.ra_undefined || (s.ra_saved && s.ra_off == -8);
	return r->ra_ok;
}

static uint64_t pack(uintptr_t pc, const struct rule *r, int usable)
{
	uint64_t v = 1 | ((uint64_t)((pc ^ (pc >> 12)) & 0xff) << 8);

	if (!usable || r->cfa_off < 0 || r->cfa_off >= (1 << 24) ||
	    r->rbp_off < -(1 << 23) || r->rbp_off >= (1 << 23))
		return v;
	v |= 2 | (r->cfa_reg == REG_RBP ? 4 : 0) | (r->rbp_saved ? 8 : 0) | (r->root ? 16 : 0);
	v |= (uint64_t)r->cfa_off << 16;
	v |= (uint64_t)(r->rbp_off & 0xffffff) << 40;
	return v;
}

/* The rule at pc; 0 when there is none usable. */
static int rule_at(uintptr_t pc, struct rule *r)
{
	struct cache_entry *e = &cache[(pc ^ (pc >> 13)) & (CACHE_SIZE - 1)];
	uint64_t epc = __atomic_load_n(&e->pc, __ATOMIC_RELAXED);
	uint64_t v = __atomic_load_n(&e->rule, __ATOMIC_RELAXED);
	const struct agent_module *m;

	if (epc != pc || !(v & 1) || ((v >> 8) & 0xff) != ((pc ^ (pc >> 12)) & 0xff)) {
		struct rule fresh = { 0 };
		int usable;

		m = module_of(pc);
		usable = m && rule_from_fde(m, pc, &fresh);
		v = pack(pc, &fresh, usable);
		__atomic_store_n(&e->rule, v, __ATOMIC_RELAXED);
		__atomic_store_n(&e->pc, pc, __ATOMIC_RELAXED);
	}
	if (!(v & 2))
		return 0;
	r->cfa_reg = v & 4 ? REG_RBP : REG_RSP;
	r->rbp_saved = !!(v & 8);
	r->root = !!(v & 16);
	r->cfa_off = (int64_t)((v >> 16) & 0xffffff);
	r->rbp_off = (int64_t)(v << 0) >> 40;
	return 1;
}

unsigned agent_unwind(uintptr_t pc, uintptr_t sp, uintptr_t rbp, uint64_t *pcs,
		      unsigned max, uint16_t *flags)
{
	uintptr_t lo, hi;
	unsigned n = 0;

	agent_stack_bounds(&lo, &hi);
	pcs[n++] = pc;
	agent_modules_enter();
	while (n < max) {
		struct rule r;
		uintptr_t cfa;

		if (!rule_at(pc - 1, &r)) {
			*flags |= AGENT_SAMPLE_UNWIND_STOP;
			break;
		}
		if (r.root)
			break;
		cfa = (r.cfa_reg == REG_RBP ? rbp : sp) + (uintptr_t)r.cfa_off;
		if (cfa < sp + 8 || cfa > hi || (r.rbp_saved && (cfa + r.rbp_off < sp ||
								 cfa + r.rbp_off + 8 > hi))) {
			*flags |= AGENT_SAMPLE_UNWIND_STOP;
			break;
		}
		if (r.rbp_saved)
			rbp = *(const uintptr_t *)(cfa + r.rbp_off);
		pc = *(const uintptr_t *)(cfa - 8);
		sp = cfa;
		if (pc < 4096)
			break;
		pcs[n++] = pc;
	}
	agent_modules_leave();
	if (n == max)
		*flags |= AGENT_SAMPLE_TRUNCATED;
	(void)lo;
	return n;
}
