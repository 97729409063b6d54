#include "observe/elfsym.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "observe/proc.h"
#include "base/util.h"

/* The difference between where the file says its first segment goes and
 * where the target mapped it.  A fixed-address executable is not moved. */
static int compute_bias(const struct elf_file *f, uint64_t load_base, uint64_t *bias)
{
	uint64_t first;

	if (f->ehdr.e_type == ET_EXEC) {
		*bias = 0;
		return 0;
	}
	if (elf_file_first_load(f, &first) < 0)
		return -ENOEXEC;
	*bias = load_base - (first & ~(uint64_t)0xfff);
	return 0;
}

int elfsym_open(struct elfsym *s, pid_t pid, const char *path, uint64_t load_base,
		struct error *err)
{
	char inside[4200];
	int ret;

	*s = (struct elfsym)ELFSYM_INIT;
	/* The target's own copy (its mount namespace), else the path as is. */
	snprintf(inside, sizeof(inside), "/proc/%d/root%s", pid, path);
	ret = elf_file_open(&s->file, inside, NULL);
	if (ret == -ENOENT || ret == -EACCES)
		ret = elf_file_open(&s->file, path, err);
	else if (ret < 0)
		ret = error_set(err, ret, "%s (pid %d): not a readable ELF file", path, pid);
	if (ret < 0)
		return ret;
	if (compute_bias(&s->file, load_base, &s->bias) < 0) {
		elfsym_close(s);
		return error_set(err, -ENOEXEC, "%s: no loadable segment", path);
	}
	return 0;
}

struct lookup {
	const char *name;
	GElf_Sym sym;
	bool found;
};

static int match_name(void *arg, const char *name, const GElf_Sym *sym, bool dynamic)
{
	struct lookup *l = arg;

	(void)dynamic;
	if (!sym->st_value || strcmp(name, l->name))
		return 0;
	l->sym = *sym;
	l->found = true;
	return 1;
}

int elfsym_lookup(const struct elfsym *s, const char *name, uint64_t *addr,
		  uint64_t *size)
{
	struct lookup l = { .name = name };

	if (!s->file.elf)
		return -ENOENT;
	elf_file_for_each_symbol(&s->file, ELF_DYNSYM | ELF_SYMTAB, match_name, &l);
	if (!l.found)
		return -ENOENT;
	*addr = l.sym.st_value + s->bias;
	if (size)
		*size = l.sym.st_size;
	return 0;
}

struct each_fn {
	const struct elfsym *s;
	void (*fn)(const char *name, uint64_t lo, uint64_t hi, void *arg);
	void *arg;
};

static int pass_function(void *arg, const char *name, const GElf_Sym *sym, bool dynamic)
{
	struct each_fn *e = arg;

	uint64_t lo, hi;

	(void)dynamic;
	if (GELF_ST_TYPE(sym->st_info) != STT_FUNC || !sym->st_value || !sym->st_size)
		return 0;
	/* The bias may wrap (a file linked above where it is mapped); a size
	 * that runs past the end of the address space is a corrupt symbol. */
	lo = sym->st_value + e->s->bias;
	if (!__builtin_add_overflow(lo, sym->st_size, &hi))
		e->fn(name, lo, hi, e->arg);
	return 0;
}

void elfsym_each_function(const struct elfsym *s,
			  void (*fn)(const char *name, uint64_t lo, uint64_t hi, void *arg),
			  void *arg)
{
	struct each_fn e = { s, fn, arg };

	if (s->file.elf)
		elf_file_for_each_symbol(&s->file, ELF_DYNSYM | ELF_SYMTAB, pass_function, &e);
}

struct each_obj {
	const struct elfsym *s;
	const char *prefix;
	size_t prefix_len;
	void (*fn)(const char *name, uint64_t addr, uint64_t size, void *arg);
	void *arg;
};

static int pass_object(void *arg, const char *name, const GElf_Sym *sym, bool dynamic)
{
	struct each_obj *e = arg;

	(void)dynamic;
	if (GELF_ST_TYPE(sym->st_info) == STT_OBJECT && sym->st_value &&
	    sym->st_shndx != SHN_UNDEF && !strncmp(name, e->prefix, e->prefix_len))
		e->fn(name, sym->st_value + e->s->bias, sym->st_size, e->arg);
	return 0;
}

void elfsym_each_object(const struct elfsym *s, const char *prefix,
			void (*fn)(const char *name, uint64_t addr, uint64_t size, void *arg),
			void *arg)
{
	struct each_obj e = { s, prefix, strlen(prefix), fn, arg };

	if (s->file.elf)
		elf_file_for_each_symbol(&s->file, ELF_DYNSYM | ELF_SYMTAB, pass_object, &e);
}

int elfsym_load_base(pid_t pid, const char *path, uint64_t *base, struct error *err)
{
	struct maps maps = { 0 };
	uint64_t lowest = UINT64_MAX;
	int ret = proc_read_maps("", pid, &maps, err);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < maps.n; i++)
		if (!strcmp(maps.v[i].path, path))
			lowest = MIN(lowest, maps.v[i].start);
	maps_free(&maps);
	if (lowest == UINT64_MAX)
		return error_set(err, -ENOENT, "pid %d: %s is not mapped", pid, path);
	*base = lowest;
	return 0;
}

void elfsym_close(struct elfsym *s)
{
	elf_file_close(&s->file);
}
