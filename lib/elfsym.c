#include "elfsym.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

static int open_as_target_sees_it(pid_t pid, const char *path)
{
	char buf[4200];
	int fd;

	snprintf(buf, sizeof(buf), "/proc/%d/root%s", pid, path);
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd;
}

/* The difference between where the file says its first segment goes and
 * where the target mapped it.  A fixed-address executable is not moved. */
static int compute_bias(Elf *elf, uint64_t load_base, uint64_t *bias)
{
	GElf_Ehdr eh;
	uint64_t lowest = UINT64_MAX;
	size_t nph;

	if (!gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &nph))
		return -EINVAL;
	if (eh.e_type == ET_EXEC) {
		*bias = 0;
		return 0;
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < lowest)
			lowest = ph.p_vaddr;
	}
	if (lowest == UINT64_MAX)
		return -EINVAL;
	*bias = load_base - (lowest & ~(uint64_t)0xfff);
	return 0;
}

int elfsym_open(struct elfsym *s, pid_t pid, const char *path, uint64_t load_base,
		struct error *err)
{
	Elf_Scn *scn = NULL;
	Elf *elf;
	int ret;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	elf_version(EV_CURRENT);
	s->fd = open_as_target_sees_it(pid, path);
	if (s->fd < 0)
		return error_set(err, -errno, "open %s (pid %d): %m", path, pid);
	elf = elf_begin(s->fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		ret = error_set(err, -ENOEXEC, "%s: not an ELF file", path);
		goto fail;
	}
	s->elf = elf;
	if (compute_bias(elf, load_base, &s->bias)) {
		ret = error_set(err, -ENOEXEC, "%s: no loadable segment", path);
		goto fail;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			s->has_symtab = true;
	}
	return 0;
fail:
	elfsym_close(s);
	return ret;
}

/* Walks the defined symbols of .dynsym then .symtab; stops when fn says so. */
static void each_symbol(const struct elfsym *s,
			bool (*fn)(const char *name, const GElf_Sym *sym, void *arg),
			void *arg)
{
	static const unsigned kinds[] = { SHT_DYNSYM, SHT_SYMTAB };
	Elf *elf = s->elf;

	for (size_t k = 0; k < 2; k++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *data;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != kinds[k] || !sh.sh_entsize)
				continue;
			data = elf_getdata(scn, NULL);
			if (!data)
				continue;
			for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
				GElf_Sym sym;
				const char *name;

				if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
				    !sym.st_value)
					continue;
				name = elf_strptr(elf, sh.sh_link, sym.st_name);
				if (name && *name && fn(name, &sym, arg))
					return;
			}
		}
	}
}

struct lookup {
	const char *name;
	const GElf_Sym *found;
	GElf_Sym sym;
};

static bool match_name(const char *name, const GElf_Sym *sym, void *arg)
{
	struct lookup *l = arg;

	if (strcmp(name, l->name))
		return false;
	l->sym = *sym;
	l->found = &l->sym;
	return true;
}

int elfsym_lookup(const struct elfsym *s, const char *name, uint64_t *addr,
		  uint64_t *size)
{
	struct lookup l = { .name = name };

	if (!s->elf)
		return -ENOENT;
	each_symbol(s, match_name, &l);
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

static bool pass_function(const char *name, const GElf_Sym *sym, void *arg)
{
	struct each_fn *e = arg;

	if (GELF_ST_TYPE(sym->st_info) == STT_FUNC && sym->st_size)
		e->fn(name, sym->st_value + e->s->bias,
		      sym->st_value + e->s->bias + sym->st_size, e->arg);
	return false;
}

void elfsym_each_function(const struct elfsym *s,
			  void (*fn)(const char *name, uint64_t lo, uint64_t hi, void *arg),
			  void *arg)
{
	struct each_fn e = { s, fn, arg };

	if (s->elf)
		each_symbol(s, pass_function, &e);
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
	if (s->elf)
		elf_end(s->elf);
	if (s->fd >= 0)
		close(s->fd);
	s->elf = NULL;
	s->fd = -1;
}
