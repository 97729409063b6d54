/* The binary hardening of every ELF file mapped executable in a process,
 * and whether the RELRO pages of each are read-only right now.
 *
 * What the flags mean is what the toolchain records: PIE is an ET_DYN
 * executable; RELRO is a PT_GNU_RELRO segment, "full" when the file also
 * asks for every symbol to be bound at load time (DT_BIND_NOW, DF_BIND_NOW,
 * DF_1_NOW), so that the GOT is inside the region made read-only; the
 * stack protector and FORTIFY leave calls to __stack_chk_fail and to the
 * __*_chk functions; a non-executable stack is a PT_GNU_STACK without
 * PF_X.  Files are read as the target sees them (elf_file_open_mapped).
 *
 * The dynamic linker makes [base + relro, base + relro + size) read-only,
 * both ends rounded down to a page (_dl_protect_relro).  A page of that
 * range that is writable now was made so by someone since: a tool that
 * patched relocation slots and did not put the protection back, or the
 * program itself.
 */
#include "observe/audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/elf_file.h"

struct symbol_marks {
	bool stack_chk;
	unsigned fortified;
	bool scudo_default_options;
};

/* __memcpy_chk, __printf_chk ...: what _FORTIFY_SOURCE turns calls into. */
static bool is_fortified(const char *name)
{
	size_t n = strlen(name);

	return n > 6 && name[0] == '_' && name[1] == '_' && !strcmp(name + n - 4, "_chk") &&
	       strncmp(name, "__stack_chk", 11);
}

static int note_symbol(void *arg, const char *name, const GElf_Sym *sym, bool dynamic)
{
	struct symbol_marks *m = arg;
	bool undefined = sym->st_shndx == SHN_UNDEF;

	(void)dynamic;
	if (!strcmp(name, "__stack_chk_fail"))
		m->stack_chk = true;
	else if (undefined && is_fortified(name))
		m->fortified++;
	else if (!undefined && !strcmp(name, "__scudo_default_options"))
		m->scudo_default_options = true;
	return 0;
}

static bool asks_bind_now(const struct elf_file *f)
{
	uint64_t v;

	return elf_file_dynamic_value(f, DT_BIND_NOW, &v) == 0 ||
	       (elf_file_dynamic_value(f, DT_FLAGS, &v) == 0 && (v & DF_BIND_NOW)) ||
	       (elf_file_dynamic_value(f, DT_FLAGS_1, &v) == 0 && (v & DF_1_NOW));
}

/* The flags of one file.  A static executable has no dynamic section: its
 * RELRO (static-pie aside) is protected by its own start-up code. */
static void read_flags(const struct elf_file *f, struct audit_module *m,
		       struct symbol_marks *marks)
{
	GElf_Phdr ph;

	m->pie = f->ehdr.e_type == ET_DYN;
	m->relro = elf_file_phdr(f, PT_GNU_RELRO, &ph) == 0;
	m->bind_now = asks_bind_now(f);
	m->gnu_stack = elf_file_phdr(f, PT_GNU_STACK, &ph) == 0;
	m->nx_stack = m->gnu_stack && !(ph.p_flags & PF_X);
	/* .symtab too: a static executable's __stack_chk_fail is only there. */
	elf_file_for_each_symbol(f, ELF_DYNSYM | ELF_SYMTAB | ELF_UNDEFINED, note_symbol, marks);
	m->stack_protector = marks->stack_chk;
	m->fortified = marks->fortified;
}

/* The RELRO pages at run time: the file's lowest mapping minus its first
 * PT_LOAD (page-rounded) is the load bias. */
static void relro_range(const struct elf_file *f, uint64_t lowest, uint64_t page,
			struct audit_module *m)
{
	GElf_Phdr ph;
	uint64_t first, bias, start, end;

	if (!m->relro || elf_file_phdr(f, PT_GNU_RELRO, &ph) < 0 ||
	    elf_file_first_load(f, &first) < 0)
		return;
	bias = lowest - (first & ~(page - 1));
	start = (bias + ph.p_vaddr) & ~(page - 1);
	end = (bias + ph.p_vaddr + ph.p_memsz) & ~(page - 1);
	if (start < end) {
		m->relro_start = start;
		m->relro_end = end;
	}
}

static bool range_writable(const struct maps *maps, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct mapping *mp = &maps->v[i];

		if (mp->start < end && mp->end > start && mp->perms[1] == 'w')
			return true;
	}
	return false;
}

static int add_module(struct audit_obs *obs, size_t *cap)
{
	if (obs->nmodules == *cap) {
		size_t n = *cap ? 2 * *cap : 32;
		struct audit_module *v = realloc(obs->modules, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		obs->modules = v;
		*cap = n;
	}
	memset(&obs->modules[obs->nmodules], 0, sizeof(obs->modules[0]));
	return 0;
}

/* The mappings of one file: the same path and inode, any of them
 * executable.  Returns the lowest, or NULL when none is executable. */
static const struct mapping *file_mappings(const struct maps *maps, size_t first, bool *seen)
{
	const struct mapping *lo = &maps->v[first];
	bool exec = false;

	for (size_t i = first; i < maps->n; i++) {
		const struct mapping *mp = &maps->v[i];

		if (mp->inode != lo->inode || strcmp(mp->path, lo->path))
			continue;
		seen[i] = true;
		exec |= strchr(mp->perms, 'x') != NULL;
	}
	return exec ? lo : NULL;
}

/* Fills m from the file behind lo; -ENOEXEC when it is not an ELF file. */
static int inspect(const char *root, pid_t pid, const struct maps *maps,
		   const struct mapping *lo, struct audit_module *m, struct audit_obs *obs)
{
	struct elf_file f = ELF_FILE_INIT;
	struct symbol_marks marks = { 0 };
	struct error err = { 0 };
	int rc = m->executable ? elf_file_open_executable(&f, root, pid, lo, &err)
			       : elf_file_open_mapped(&f, root, pid, lo, &err);

	if (rc < 0) {
		snprintf(m->why_unread, sizeof(m->why_unread), "%s", err.msg);
		goto out;
	}
	m->read = true;
	read_flags(&f, m, &marks);
	if (m->executable)
		obs->scudo_default_options = marks.scudo_default_options;
	relro_range(&f, lo->start, (uint64_t)sysconf(_SC_PAGESIZE), m);
	if (m->relro_end)
		m->relro_writable = range_writable(maps, m->relro_start, m->relro_end);
out:
	elf_file_close(&f);
	return rc;
}

/* The executable: what /proc/<pid>/exe names, else the lowest file. */
static void executable_path(const char *root, pid_t pid, char *buf, size_t len)
{
	char link[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "%s/proc/%d/exe", root, (int)pid);
	n = readlink(link, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

int audit_read_modules(const char *root, pid_t pid, const struct maps *maps,
		       struct audit_obs *obs, struct error *err)
{
	bool *seen = calloc(maps->n ? maps->n : 1, sizeof(*seen));
	char exe[512];
	size_t cap = 0;
	int rc = 0;

	if (!seen)
		return error_set(err, -ENOMEM, "out of memory");
	executable_path(root, pid, exe, sizeof(exe));
	for (size_t i = 0; i < maps->n; i++) {
		const struct mapping *lo;
		struct audit_module *m;

		if (seen[i] || maps->v[i].path[0] != '/' ||
		    !(lo = file_mappings(maps, i, seen)))
			continue;
		if (add_module(obs, &cap) < 0) {
			rc = error_set(err, -ENOMEM, "out of memory");
			break;
		}
		m = &obs->modules[obs->nmodules];
		snprintf(m->path, sizeof(m->path), "%s", lo->path);
		m->executable = exe[0] ? !strcmp(exe, lo->path) : obs->nmodules == 0;
		if (inspect(root, pid, maps, lo, m, obs) != -ENOEXEC)
			obs->nmodules++;	/* else executable, but not ELF */
	}
	/* The executable first, as the report lists it. */
	for (size_t i = 1; i < obs->nmodules; i++) {
		if (obs->modules[i].executable) {
			struct audit_module t = obs->modules[i];

			memmove(&obs->modules[1], &obs->modules[0], i * sizeof(t));
			obs->modules[0] = t;
			break;
		}
	}
	free(seen);
	return rc;
}
