/* The target's modules and symbols (libdwfl): opening a process or a file,
 * names at addresses, lookups by name.  DWARF types are in symbols_dwarf.c,
 * TLS offsets and remote strings in symbols_tls.c. */
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
#include "observe/symbols_int.h"

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

/* A session whose find_elf (and section_address) the caller has set:
 * debug info found by the caller's find_debuginfo, or else libdwfl's
 * standard search (symbols.h), reporting begun. */
static int session_begin(struct symbols *s, struct error *err)
{
	if (!s->callbacks.find_debuginfo)
		s->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	/* NULL: libdwfl's default, ":.debug:/usr/lib/debug". */
	s->debuginfo_path = getenv("HEAPDOC_DEBUG_PATH");
	s->callbacks.debuginfo_path = &s->debuginfo_path;
	s->dwfl = dwfl_begin(&s->callbacks);
	if (!s->dwfl)
		return error_set(err, -ENOMEM, "libdwfl: %s", dwfl_errmsg(-1));
	dwfl_report_begin(s->dwfl);
	return 0;
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
	rc = session_begin(s, err);
	if (rc < 0)
		goto out;
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

int symbols_open_file(struct symbols **out, const char *path, struct error *err)
{
	const char *base = strrchr(path, '/');
	struct symbols *s;
	int rc = 0;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return error_set(err, -ENOMEM, "out of memory");
	s->callbacks.find_elf = dwfl_build_id_find_elf;
	s->callbacks.section_address = dwfl_offline_section_address;
	rc = session_begin(s, err);
	if (rc < 0)
		goto out;
	if (!dwfl_report_offline(s->dwfl, base ? base + 1 : path, path, -1)) {
		rc = error_set(err, access(path, R_OK) < 0 ? -errno : -ENOEXEC, "%s: %s", path,
			       dwfl_errmsg(-1));
		goto out;
	}
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0) {
		rc = error_set(err, -EIO, "%s: libdwfl: %s", path, dwfl_errmsg(-1));
		goto out;
	}
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
	Dwfl_Module *mod = symbols_dwmod(m);
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
	Dwfl_Module *mod = symbols_dwmod(m);
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
