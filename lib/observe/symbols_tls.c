/* Thread-local variables' offsets from the thread pointer, and strings read
 * from the target, for symbols the process resolved. */
#include "observe/symbols_int.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observe/target.h"

/* Local exec: the executable's block ends at the thread pointer. */
static int tls_offset_exec(Elf *elf, const struct sym_info *sym, int64_t *tpoff)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph) != 0)
		return -EIO;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		uint64_t align, block;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_TLS)
			continue;
		align = ph.p_align ? ph.p_align : 1;
		block = (ph.p_memsz + align - 1) / align * align;
		*tpoff = (int64_t)sym->addr - (int64_t)block;
		return 0;
	}
	return -ENOENT;
}

/* Initial exec in a shared library: the dynamic loader wrote the offset
 * into the GOT slot whose R_X86_64_TPOFF64 relocation names the variable
 * (a local one: no symbol, the addend is its offset in the block). */
static int tls_got_slot(Elf *elf, const struct sym_info *sym, uint64_t *slot)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;
		Elf_Data *symdata = NULL;
		size_t nrel;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_RELA || !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		if (shdr.sh_link) {
			Elf_Scn *ss = elf_getscn(elf, shdr.sh_link);

			symdata = ss ? elf_getdata(ss, NULL) : NULL;
		}
		nrel = shdr.sh_size / shdr.sh_entsize;
		for (size_t i = 0; i < nrel; i++) {
			GElf_Rela rela;
			GElf_Sym s;
			uint64_t value = 0;

			if (!gelf_getrela(data, (int)i, &rela) ||
			    GELF_R_TYPE(rela.r_info) != R_X86_64_TPOFF64)
				continue;
			if (GELF_R_SYM(rela.r_info)) {
				if (!symdata || !gelf_getsym(symdata, (int)GELF_R_SYM(rela.r_info), &s))
					continue;
				value = s.st_value;
			}
			if (value + (uint64_t)rela.r_addend == sym->addr) {
				*slot = rela.r_offset;
				return 0;
			}
		}
	}
	return -ENOENT;
}

int symbols_tls_offset(struct symbols *s, const struct sym_info *sym, int64_t *tpoff,
		       struct error *err)
{
	Dwfl_Module *mod = symbols_dwmod(sym->mod);
	GElf_Addr bias = 0;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	const char *name = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	GElf_Ehdr eh;
	uint64_t slot;
	int64_t v;
	int rc;

	if (!sym->tls)
		return error_set(err, -EINVAL, "%s: not a TLS symbol", name);
	if (!elf || !gelf_getehdr(elf, &eh))
		return error_set(err, -EIO, "%s: no ELF", name);
	if (eh.e_machine != EM_X86_64)
		return error_set(err, -EOPNOTSUPP, "%s: TLS offsets are read on x86-64 only", name);
	if (eh.e_type == ET_EXEC || !strcmp(name, s->exe)) {
		rc = tls_offset_exec(elf, sym, tpoff);
		return rc < 0 ? error_set(err, rc, "%s: no PT_TLS", name) : 0;
	}
	rc = tls_got_slot(elf, sym, &slot);
	if (rc < 0)
		return error_set(err, rc, "%s: no TPOFF64 relocation for the TLS variable "
				 "at offset %#llx", name, (unsigned long long)sym->addr);
	rc = target_pid_read_exact(s->pid, slot + bias, &v, sizeof(v));
	if (rc < 0)
		return error_set(err, rc == -ESRCH ? -ESRCH : rc,
				 "pid %d: reading the TLS offset in %s: %s", (int)s->pid,
				 name, strerror(-rc));
	*tpoff = v;
	return 0;
}

int symbols_read_string(struct symbols *s, uint64_t addr, char *buf, size_t len,
			struct error *err)
{
	int rc;

	if (!len)
		return error_set(err, -EINVAL, "empty buffer");
	rc = target_pid_read_exact(s->pid, addr, buf, len - 1);
	buf[len - 1] = '\0';
	if (rc < 0) {
		/* The string may end just before an unmapped page: retry short. */
		rc = target_pid_read_exact(s->pid, addr, buf, 16 < len - 1 ? 16 : len - 1);
		if (rc < 0)
			return error_set(err, rc, "pid %d: reading %#llx: %s", (int)s->pid,
					 (unsigned long long)addr, strerror(-rc));
		buf[16 < len - 1 ? 16 : len - 1] = '\0';
	}
	buf[strnlen(buf, len - 1)] = '\0';
	return 0;
}
