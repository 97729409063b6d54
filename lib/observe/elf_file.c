#include "observe/elf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

static const char deleted_suffix[] = " (deleted)";

static bool path_is_deleted(const char *path)
{
	size_t n = strlen(path), k = sizeof(deleted_suffix) - 1;

	return n > k && !strcmp(path + n - k, deleted_suffix);
}

/* Takes fd (closed on failure). */
static int elf_file_adopt(struct elf_file *f, int fd, const char *name,
			  struct error *err)
{
	int ret;

	memset(f, 0, sizeof(*f));
	f->fd = fd;
	snprintf(f->name, sizeof(f->name), "%s", name);
	if (elf_version(EV_CURRENT) == EV_NONE) {
		ret = error_set(err, -EIO, "%s: libelf: %s", name, elf_errmsg(-1));
		goto fail;
	}
	f->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!f->elf) {
		ret = error_set(err, -EIO, "%s: libelf: %s", name, elf_errmsg(-1));
		goto fail;
	}
	if (elf_kind(f->elf) != ELF_K_ELF || !gelf_getehdr(f->elf, &f->ehdr)) {
		ret = error_set(err, -ENOEXEC, "%s: not an ELF file", name);
		goto fail;
	}
	return 0;
fail:
	elf_file_close(f);
	return ret;
}

int elf_file_open(struct elf_file *f, const char *path, struct error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		memset(f, 0, sizeof(*f));
		f->fd = -1;
		return error_set(err, -errno, "open %s: %m", path);
	}
	return elf_file_adopt(f, fd, path, err);
}

int elf_file_open_mapped(struct elf_file *f, const char *root, pid_t pid,
			 const struct mapping *m, struct error *err)
{
	char path[4096];
	int fd = -1;

	if (!path_is_deleted(m->path)) {
		snprintf(path, sizeof(path), "%s/proc/%d/root%s", root, (int)pid, m->path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	/* A deleted or replaced file is still reachable through the mapping
	 * itself (opening it needs CAP_SYS_ADMIN). */
	if (fd < 0) {
		snprintf(path, sizeof(path), "%s/proc/%d/map_files/%llx-%llx", root,
			 (int)pid, (unsigned long long)m->start,
			 (unsigned long long)m->end);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		memset(f, 0, sizeof(*f));
		f->fd = -1;
		return error_set(err, -errno, "pid %d: open %s: %m", (int)pid, m->path);
	}
	return elf_file_adopt(f, fd, m->path, err);
}

int elf_file_open_executable(struct elf_file *f, const char *root, pid_t pid,
			     const struct mapping *m, struct error *err)
{
	char exe[4096];
	int ret = elf_file_open_mapped(f, root, pid, m, err);

	if (ret < 0 && ret != -ENOEXEC) {
		snprintf(exe, sizeof(exe), "%s/proc/%d/exe", root, (int)pid);
		ret = elf_file_open(f, exe, err);
	}
	return ret;
}

void elf_file_close(struct elf_file *f)
{
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	f->elf = NULL;
	f->fd = -1;
}

int elf_file_phdr(const struct elf_file *f, uint32_t type, GElf_Phdr *out)
{
	size_t n;

	if (elf_getphdrnum(f->elf, &n) != 0)
		return -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (gelf_getphdr(f->elf, (int)i, out) && out->p_type == type)
			return 0;
	return -ENOENT;
}

bool elf_file_has_interp(const struct elf_file *f)
{
	GElf_Phdr ph;

	return elf_file_phdr(f, PT_INTERP, &ph) == 0;
}

int elf_file_first_load(const struct elf_file *f, uint64_t *vaddr)
{
	GElf_Phdr ph;

	if (elf_file_phdr(f, PT_LOAD, &ph) < 0)
		return -ENOEXEC;
	*vaddr = ph.p_vaddr;
	return 0;
}

/* The first section of type type, or NULL. */
static Elf_Scn *section_of_type(Elf *elf, Elf64_Word type, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, shdr) && shdr->sh_type == type)
			return scn;
	return NULL;
}

static Elf_Scn *section_named(Elf *elf, const char *name, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *s;

		if (!gelf_getshdr(scn, shdr))
			continue;
		s = elf_strptr(elf, shstrndx, shdr->sh_name);
		if (s && !strcmp(s, name))
			return scn;
	}
	return NULL;
}

int elf_file_for_each_dynamic(const struct elf_file *f, elf_dynamic_fn fn, void *arg)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = section_of_type(f->elf, SHT_DYNAMIC, &shdr);
	Elf_Data *data;
	int ret;

	if (!scn || !(data = elf_getdata(scn, NULL)) || !shdr.sh_entsize)
		return 0;
	/* DT_SONAME first, whatever its place: callers name the file by it. */
	for (int pass = 0; pass < 2; pass++) {
		int64_t want = pass ? DT_NEEDED : DT_SONAME;

		for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize; i++) {
			GElf_Dyn dyn;
			const char *s;

			if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag == DT_NULL)
				break;
			if (dyn.d_tag != want)
				continue;
			s = elf_strptr(f->elf, shdr.sh_link, dyn.d_un.d_val);
			if (s && (ret = fn(arg, want, s)))
				return ret;
		}
	}
	return 0;
}

int elf_file_dynamic_value(const struct elf_file *f, int64_t tag, uint64_t *value)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = section_of_type(f->elf, SHT_DYNAMIC, &shdr);
	Elf_Data *data;

	if (!scn || !(data = elf_getdata(scn, NULL)) || !shdr.sh_entsize)
		return -ENOENT;
	for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize; i++) {
		GElf_Dyn dyn;

		if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag == tag) {
			*value = dyn.d_un.d_val;
			return 0;
		}
	}
	return -ENOENT;
}

static int symbols_of(const struct elf_file *f, Elf64_Word type, bool undefined,
		      elf_symbol_fn fn, void *arg)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	int ret;

	while ((scn = elf_nextscn(f->elf, scn))) {
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != type || !shdr.sh_entsize)
			continue;
		if (!(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 1; i < shdr.sh_size / shdr.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym))
				break;
			if ((sym.st_shndx == SHN_UNDEF && !undefined) || !sym.st_name)
				continue;
			name = elf_strptr(f->elf, shdr.sh_link, sym.st_name);
			if (name && (ret = fn(arg, name, &sym, type == SHT_DYNSYM)))
				return ret;
		}
	}
	return 0;
}

int elf_file_for_each_symbol(const struct elf_file *f, unsigned tables,
			     elf_symbol_fn fn, void *arg)
{
	bool undefined = tables & ELF_UNDEFINED;
	int ret = 0;

	if (tables & ELF_DYNSYM)
		ret = symbols_of(f, SHT_DYNSYM, undefined, fn, arg);
	if (!ret && (tables & ELF_SYMTAB))
		ret = symbols_of(f, SHT_SYMTAB, undefined, fn, arg);
	return ret;
}

bool elf_file_has_symtab(const struct elf_file *f)
{
	GElf_Shdr shdr;

	return section_of_type(f->elf, SHT_SYMTAB, &shdr) != NULL;
}

int elf_file_for_each_rodata_string(const struct elf_file *f, elf_string_fn fn, void *arg)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = section_named(f->elf, ".rodata", &shdr);
	Elf_Data *data;
	const char *buf;
	size_t pos = 0;
	int ret;

	if (!scn || shdr.sh_type == SHT_NOBITS || !(data = elf_getdata(scn, NULL)) ||
	    !data->d_buf)
		return 0;
	buf = data->d_buf;
	while (pos < data->d_size) {
		size_t len = strnlen(buf + pos, data->d_size - pos);

		if (pos + len == data->d_size)	/* runs off the end: no string */
			break;
		if (len && (ret = fn(arg, buf + pos, len)))
			return ret;
		pos += len + 1;
	}
	return 0;
}

int elf_file_string_at(const struct elf_file *f, uint64_t vaddr, char *buf, size_t len)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;

	if (!len)
		return -E2BIG;
	while ((scn = elf_nextscn(f->elf, scn))) {
		Elf_Data *data;
		const char *s;
		size_t off, n;

		if (!gelf_getshdr(scn, &shdr) || !(shdr.sh_flags & SHF_ALLOC) ||
		    shdr.sh_type == SHT_NOBITS || vaddr < shdr.sh_addr ||
		    vaddr - shdr.sh_addr >= shdr.sh_size)
			continue;
		data = elf_getdata(scn, NULL);
		off = vaddr - shdr.sh_addr;
		if (!data || !data->d_buf || off >= data->d_size)
			return -ENOENT;
		s = (const char *)data->d_buf + off;
		n = strnlen(s, MIN(data->d_size - off, len));
		if (n == data->d_size - off || n >= len)
			return -E2BIG;
		memcpy(buf, s, n + 1);
		return 0;
	}
	return -ENOENT;
}
