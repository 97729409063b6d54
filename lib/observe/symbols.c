/* The target's modules, symbols, DWARF types and TLS offsets (libdwfl). */
#include "observe/symbols.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "observe/proc.h"

struct symbols {
	pid_t pid;
	Dwfl *dwfl;
	/* libdwfl keeps a pointer to its callbacks: they live as long as s. */
	Dwfl_Callbacks callbacks;
	char *debuginfo_path;
	char exe[4096];		/* the executable's path, as maps names it */
};

/* A struct sym_module is a Dwfl_Module; the cast keeps libdwfl out of the
 * header so that callers need not include it. */
static Dwfl_Module *dwmod(struct sym_module *m)
{
	return (Dwfl_Module *)m;
}

/* Opens a module's file as the target sees it: through /proc/<pid>/root, so
 * a containerised process gets its own libc, not heapdoc's.  Names that are
 * not paths ([vdso]) go to libdwfl's own finder. */
static int find_elf_in_root(Dwfl_Module *mod, void **userdata, const char *name,
			    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	struct symbols *s = *userdata;
	char path[4096];
	int fd;

	if (!s || name[0] != '/')
		return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
	if (snprintf(path, sizeof(path), "/proc/%d/root%s", (int)s->pid, name) >=
	    (int)sizeof(path))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	*file_name = strdup(path);
	*elfp = NULL;		/* libdwfl opens the ELF from fd */
	return fd;
}

static void build_id_hex(Dwfl_Module *mod, char *hex, size_t len)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(mod, &bits, &vaddr);

	hex[0] = '\0';
	for (int i = 0; i < n && (size_t)(2 * i + 2) < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", bits[i]);
}

/* Whether pid sees the files heapdoc sees: the same mount namespace. */
static bool same_mounts(pid_t pid)
{
	char path[64];
	struct stat mine, theirs;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	return stat("/proc/self/ns/mnt", &mine) == 0 && stat(path, &theirs) == 0 &&
	       mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
}

/* Debug info where the user has it: inside the target's own root first,
 * when it has one of its own (a container's debug packages), then
 * libdwfl's standard search, which looks on the host (/usr/lib/debug by
 * build-id, .gnu_debuglink) and asks debuginfod when DEBUGINFOD_URLS is
 * set.  HEAPDOC_DEBUG_PATH replaces the host's places (tests use it to hide
 * them). */
static int find_debuginfo_rooted(Dwfl_Module *mod, void **userdata, const char *modname,
				 Dwarf_Addr base, const char *file_name,
				 const char *debuglink_file, GElf_Word debuglink_crc,
				 char **debuginfo_file_name)
{
	struct symbols *s = userdata ? *userdata : NULL;
	char hex[41], path[4096];
	int fd;

	build_id_hex(mod, hex, sizeof(hex));
	if (s && hex[0] && hex[1] && hex[2] && !same_mounts(s->pid)) {
		snprintf(path, sizeof(path), "/proc/%d/root/usr/lib/debug/.build-id/%.2s/%s.debug",
			 (int)s->pid, hex, hex + 2);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			*debuginfo_file_name = strdup(path);
			return fd;
		}
	}
	return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
					    debuglink_file, debuglink_crc, debuginfo_file_name);
}

pid_t symbols_pid(const struct symbols *s)
{
	return s->pid;
}

void symbols_debug_searched(const struct symbols *s, const char *build_id, char *buf,
			    size_t len)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	char id[48], root[160] = "", host[160];

	snprintf(id, sizeof(id), "%.2s/%s.debug", build_id, build_id[0] ? build_id + 2 : "");
	if (!same_mounts(s->pid))
		snprintf(root, sizeof(root), "/proc/%d/root/usr/lib/debug/.build-id/%s (the "
			 "process's own root), ", (int)s->pid, id);
	if (s->debuginfo_path)
		snprintf(host, sizeof(host), "%s (HEAPDOC_DEBUG_PATH)", s->debuginfo_path);
	else
		snprintf(host, sizeof(host), "/usr/lib/debug/.build-id/%s", id);
	snprintf(buf, len, "%s%s, debuginfod %s%s%s", root, host,
		 urls && *urls ? "at " : "(DEBUGINFOD_URLS unset)", urls ? urls : "",
		 urls && *urls ? " (nothing there)" : "");
}

static int attach_userdata(Dwfl_Module *mod, void **userdata, const char *name,
			   Dwarf_Addr base, void *arg)
{
	(void)mod;
	(void)name;
	(void)base;
	*userdata = arg;
	return DWARF_CB_OK;
}

int symbols_open(struct symbols **out, pid_t pid, struct error *err)
{
	struct symbols *s;
	char probe[64];
	int rc = 0, r;

	*out = NULL;
	snprintf(probe, sizeof(probe), "/proc/%d/maps", (int)pid);
	if (access(probe, R_OK) < 0)
		return error_set(err, errno == ENOENT ? -ESRCH : -errno,
				 "pid %d: %s", (int)pid,
				 errno == ENOENT ? "no such process" : strerror(errno));
	s = calloc(1, sizeof(*s));
	if (!s)
		return error_set(err, -ENOMEM, "out of memory");
	s->pid = pid;
	snprintf(probe, sizeof(probe), "/proc/%d/exe", (int)pid);
	r = readlink(probe, s->exe, sizeof(s->exe) - 1);
	/* The process's files (its exe, its root) need the same right as
	 * tracing it: without it every module would look stripped. */
	if (r < 0 && (errno == EACCES || errno == EPERM)) {
		rc = proc_permission_error("", pid, "reading its files (/proc/<pid>/exe and root)",
					   err);
		goto out;
	}
	s->exe[r > 0 ? r : 0] = '\0';
	s->callbacks.find_elf = find_elf_in_root;
	s->callbacks.find_debuginfo = find_debuginfo_rooted;
	/* NULL: libdwfl's default, ":.debug:/usr/lib/debug". */
	s->debuginfo_path = getenv("HEAPDOC_DEBUG_PATH");
	s->callbacks.debuginfo_path = &s->debuginfo_path;
	s->dwfl = dwfl_begin(&s->callbacks);
	if (!s->dwfl) {
		rc = error_set(err, -ENOMEM, "libdwfl: %s", dwfl_errmsg(-1));
		goto out;
	}
	dwfl_report_begin(s->dwfl);
	r = dwfl_linux_proc_report(s->dwfl, pid);
	if (r != 0) {
		int e = r > 0 ? r : EIO;

		if (e == ENOENT)
			e = ESRCH;
		rc = error_set(err, -e, "pid %d: reading its modules: %s", (int)pid,
			       r > 0 ? strerror(r) : dwfl_errmsg(-1));
		goto out;
	}
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0) {
		rc = error_set(err, -EIO, "pid %d: libdwfl: %s", (int)pid, dwfl_errmsg(-1));
		goto out;
	}
	dwfl_getmodules(s->dwfl, attach_userdata, s, 0);
	*out = s;
out:
	if (rc < 0)
		symbols_close(s);
	return rc;
}

static int load_symbol_table(Dwfl_Module *m, void **user, const char *name,
			     Dwarf_Addr start, void *arg)
{
	(void)user;
	(void)name;
	(void)start;
	(void)arg;
	dwfl_module_getsymtab(m);
	return DWARF_CB_OK;
}

void symbols_load_tables(struct symbols *s)
{
	dwfl_getmodules(s->dwfl, load_symbol_table, NULL, 0);
}

const char *symbols_name_at(struct symbols *s, uint64_t addr, uint64_t *offset)
{
	Dwfl_Module *m = dwfl_addrmodule(s->dwfl, addr);
	GElf_Off off = 0;
	GElf_Sym sym;
	const char *name;

	if (!m)
		return NULL;
	name = dwfl_module_addrinfo(m, addr, &off, &sym, NULL, NULL, NULL);
	if (!name || (sym.st_size && off >= sym.st_size))
		return NULL;
	*offset = off;
	return name;
}

void symbols_close(struct symbols *s)
{
	if (!s)
		return;
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free(s);
}

int symbols_lookup_in(struct sym_module *m, const char *name, struct sym_info *out,
		      struct error *err)
{
	Dwfl_Module *mod = dwmod(m);
	int n = dwfl_module_getsymtab(mod);

	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *sname = dwfl_module_getsym_info(mod, i, &sym, &addr,
							    NULL, NULL, NULL);

		if (!sname || strcmp(sname, name) || sym.st_shndx == SHN_UNDEF)
			continue;
		out->mod = m;
		out->tls = GELF_ST_TYPE(sym.st_info) == STT_TLS;
		/* A TLS symbol's value is an offset into the module's TLS
		 * block, never relocated. */
		out->addr = out->tls ? sym.st_value : addr;
		out->size = sym.st_size;
		return 0;
	}
	return error_set(err, -ENOENT, "%s: no symbol %s",
			 dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
			 name);
}

struct lookup_ctx {
	const char *name;
	const char *const *prefer;
	bool preferred_pass;
	struct sym_info *out;
	bool found;
};

static bool module_is_preferred(const char *path, const char *const *prefer)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (; prefer && *prefer; prefer++)
		if (!strncmp(base, *prefer, strlen(*prefer)))
			return true;
	return false;
}

static int lookup_one(Dwfl_Module *mod, void **userdata, const char *name,
		      Dwarf_Addr base, void *arg)
{
	struct lookup_ctx *c = arg;

	(void)userdata;
	(void)base;
	if (module_is_preferred(name, c->prefer) != c->preferred_pass)
		return DWARF_CB_OK;
	if (symbols_lookup_in((struct sym_module *)mod, c->name, c->out, NULL) == 0) {
		c->found = true;
		return DWARF_CB_ABORT;
	}
	return DWARF_CB_OK;
}

int symbols_lookup(struct symbols *s, const char *name, const char *const *prefer,
		   struct sym_info *out, struct error *err)
{
	struct lookup_ctx c = { .name = name, .prefer = prefer, .out = out };

	/* Preferred modules first, then the rest (libdwfl lists the
	 * executable first: it is mapped lowest in a non-PIE and reported
	 * first from /proc/<pid>/maps otherwise). */
	c.preferred_pass = true;
	dwfl_getmodules(s->dwfl, lookup_one, &c, 0);
	if (!c.found) {
		c.preferred_pass = false;
		dwfl_getmodules(s->dwfl, lookup_one, &c, 0);
	}
	if (!c.found)
		return error_set(err, -ENOENT, "pid %d: no module defines %s",
				 (int)s->pid, name);
	return 0;
}

struct sym_module *symbols_module_at(struct symbols *s, uint64_t addr)
{
	return (struct sym_module *)dwfl_addrmodule(s->dwfl, addr);
}

struct named_ctx {
	const char *prefix;
	Dwfl_Module *found;
};

static int match_name(Dwfl_Module *mod, void **userdata, const char *name,
		      Dwarf_Addr base, void *arg)
{
	struct named_ctx *c = arg;
	const char *const prefer[] = { c->prefix, NULL };

	(void)userdata;
	(void)base;
	if (!module_is_preferred(name, prefer))
		return DWARF_CB_OK;
	c->found = mod;
	return DWARF_CB_ABORT;
}

struct sym_module *symbols_module_named(struct symbols *s, const char *prefix)
{
	struct named_ctx c = { .prefix = prefix };

	dwfl_getmodules(s->dwfl, match_name, &c, 0);
	return (struct sym_module *)c.found;
}

static bool elf_has_section_type(Elf *elf, GElf_Word type)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;

		if (gelf_getshdr(scn, &shdr) && shdr.sh_type == type)
			return true;
	}
	return false;
}

void symbols_module_info(struct sym_module *m, struct sym_module_info *out)
{
	Dwfl_Module *mod = dwmod(m);
	Dwarf_Addr start, end, bias = 0, dwbias;
	const char *debugfile = NULL;
	Elf *elf;

	memset(out, 0, sizeof(*out));
	elf = dwfl_module_getelf(mod, &bias);
	out->has_dwarf = dwfl_module_getdwarf(mod, &dwbias) != NULL;
	out->name = dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, &debugfile);
	out->start = start;
	out->end = end;
	out->bias = bias;
	out->debug_file = debugfile;
	out->has_symtab = debugfile || (elf && elf_has_section_type(elf, SHT_SYMTAB));
	build_id_hex(mod, out->build_id, sizeof(out->build_id));
}

int symbols_place(struct symbols *s, uint64_t addr, struct sym_place *out)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	Dwfl_Line *line;
	GElf_Off off;
	GElf_Sym sym;

	memset(out, 0, sizeof(*out));
	if (!mod)
		return -ENOENT;
	out->mod = (struct sym_module *)mod;
	out->function = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
	line = dwfl_module_getsrc(mod, addr);
	if (line)
		out->file = dwfl_lineinfo(line, NULL, &out->line, NULL, NULL, NULL);
	return 0;
}

/* ---- DWARF types ---------------------------------------------------------- */

/* Follows typedefs and qualifiers to the type itself. */
static Dwarf_Die *peel_type(Dwarf_Die *die, Dwarf_Die *mem)
{
	Dwarf_Attribute attr;

	*mem = *die;
	for (int depth = 0; depth < 16; depth++) {
		int tag = dwarf_tag(mem);

		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type &&
		    tag != DW_TAG_volatile_type && tag != DW_TAG_restrict_type &&
		    tag != DW_TAG_atomic_type)
			return mem;
		if (!dwarf_attr_integrate(mem, DW_AT_type, &attr) ||
		    !dwarf_formref_die(&attr, mem))
			return NULL;
	}
	return NULL;
}

static bool member_type(Dwarf_Die *member, Dwarf_Die *type)
{
	Dwarf_Attribute attr;

	return dwarf_attr_integrate(member, DW_AT_type, &attr) &&
	       dwarf_formref_die(&attr, type);
}

static void fill_member(Dwarf_Die *die, struct sym_member *m)
{
	Dwarf_Attribute attr;
	Dwarf_Word off = 0, size = 0;
	Dwarf_Die type, peeled, elem;

	if (dwarf_attr_integrate(die, DW_AT_data_member_location, &attr) &&
	    dwarf_formudata(&attr, &off) != 0)
		return;		/* a location expression: not in these structs */
	if (!member_type(die, &type) || dwarf_aggregate_size(&type, &size) != 0)
		return;
	m->offset = (int64_t)off;
	m->size = size;
	m->elem_size = size;
	if (peel_type(&type, &peeled) && dwarf_tag(&peeled) == DW_TAG_array_type &&
	    member_type(&peeled, &elem))
		dwarf_aggregate_size(&elem, &m->elem_size);
}

/* The definition of struct `name` (or of a typedef `name` of a struct)
 * among the top-level DIEs of cu. */
static bool find_struct_in_cu(Dwarf_Die *cu, const char *name, Dwarf_Die *out)
{
	Dwarf_Die child;

	if (dwarf_child(cu, &child) != 0)
		return false;
	do {
		int tag = dwarf_tag(&child);
		const char *n;

		if (tag != DW_TAG_structure_type && tag != DW_TAG_typedef)
			continue;
		n = dwarf_diename(&child);
		if (!n || strcmp(n, name) || dwarf_hasattr(&child, DW_AT_declaration))
			continue;
		if (tag == DW_TAG_typedef && !peel_type(&child, out))
			continue;
		if (tag == DW_TAG_structure_type)
			*out = child;
		if (dwarf_tag(out) == DW_TAG_structure_type &&
		    !dwarf_hasattr(out, DW_AT_declaration))
			return true;
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}

/* Searches the CU whose name ends with cu_hint first (NULL: none), then all. */
static bool find_struct(Dwarf *dw, const char *cu_hint, const char *name, Dwarf_Die *out)
{
	for (int pass = cu_hint ? 0 : 1; pass < 2; pass++) {
		Dwarf_Off off = 0, next;
		size_t hsize;

		while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
			Dwarf_Die cu;
			const char *cuname;

			if (dwarf_offdie(dw, off + hsize, &cu)) {
				cuname = dwarf_diename(&cu);
				bool hinted = cu_hint && cuname &&
					strlen(cuname) >= strlen(cu_hint) &&
					!strcmp(cuname + strlen(cuname) - strlen(cu_hint), cu_hint);

				if ((pass == 0) == hinted && find_struct_in_cu(&cu, name, out))
					return true;
			}
			off = next;
		}
	}
	return false;
}

int symbols_struct(struct sym_module *m, const char *cu_hint, const char *name,
		   uint64_t *size, struct sym_member *members, size_t n,
		   struct error *err)
{
	Dwarf_Addr bias;
	Dwarf *dw = dwfl_module_getdwarf(dwmod(m), &bias);
	Dwarf_Die st, child;
	Dwarf_Word bytes;

	for (size_t i = 0; i < n; i++) {
		members[i].offset = -1;
		members[i].size = members[i].elem_size = 0;
	}
	if (!dw)
		return error_set(err, -ENODATA, "%s: no DWARF debug info",
				 dwfl_module_info(dwmod(m), NULL, NULL, NULL, NULL,
						  NULL, NULL, NULL));
	if (!find_struct(dw, cu_hint, name, &st))
		return error_set(err, -ENOENT, "no struct %s in the debug info", name);
	if (dwarf_aggregate_size(&st, &bytes) != 0)
		return error_set(err, -EIO, "struct %s: no size in the debug info", name);
	*size = bytes;
	if (dwarf_child(&st, &child) != 0)
		return 0;
	do {
		const char *mname = dwarf_diename(&child);

		if (dwarf_tag(&child) != DW_TAG_member || !mname)
			continue;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(members[i].name, mname))
				fill_member(&child, &members[i]);
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

static bool cu_named(Dwarf_Die *cu, const char *suffix)
{
	const char *name = dwarf_diename(cu);
	size_t n = name ? strlen(name) : 0, k = strlen(suffix);

	return n >= k && !strcmp(name + n - k, suffix) && (n == k || name[n - k - 1] == '/');
}

int symbols_cu_ranges(struct sym_module *m, const char *cu_suffix,
		      void (*fn)(uint64_t lo, uint64_t hi, void *arg), void *arg,
		      struct error *err)
{
	Dwarf_Addr bias;
	Dwarf *dw = dwfl_module_getdwarf(dwmod(m), &bias);
	Dwarf_Off off = 0, next;
	size_t hsize;
	unsigned found = 0;

	if (!dw)
		return error_set(err, -ENODATA, "%s: no DWARF debug info",
				 dwfl_module_info(dwmod(m), NULL, NULL, NULL, NULL,
						  NULL, NULL, NULL));
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;
		Dwarf_Addr base, lo, hi;
		ptrdiff_t r = 0;

		if (dwarf_offdie(dw, off + hsize, &cu) && cu_named(&cu, cu_suffix))
			while ((r = dwarf_ranges(&cu, r, &base, &lo, &hi)) > 0) {
				fn(lo + bias, hi + bias, arg);
				found++;
			}
		off = next;
	}
	if (!found)
		return error_set(err, -ENOENT, "no compilation unit %s with code in the debug info",
				 cu_suffix);
	return 0;
}

/* ---- TLS ------------------------------------------------------------------ */

static int read_remote(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

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
	Dwfl_Module *mod = dwmod(sym->mod);
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
	rc = read_remote(s->pid, slot + bias, &v, sizeof(v));
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
	rc = read_remote(s->pid, addr, buf, len - 1);
	buf[len - 1] = '\0';
	if (rc < 0) {
		/* The string may end just before an unmapped page: retry short. */
		rc = read_remote(s->pid, addr, buf, 16 < len - 1 ? 16 : len - 1);
		if (rc < 0)
			return error_set(err, rc, "pid %d: reading %#llx: %s", (int)s->pid,
					 (unsigned long long)addr, strerror(-rc));
		buf[16 < len - 1 ? 16 : len - 1] = '\0';
	}
	buf[strnlen(buf, len - 1)] = '\0';
	return 0;
}
