/* The target's modules, symbols, DWARF types and TLS offsets (libdwfl).
 *
 * Files are opened through /proc/<pid>/root, so a process in another mount
 * namespace (a container) is read from its own files; debug info is found by
 * build-id with libdwfl's standard search (/usr/lib/debug/.build-id/...;
 * HEAPDOC_DEBUG_PATH in the environment replaces that path).
 * Everything here is slow compared with a ptrace stop (loading a libc debug
 * file takes tens of milliseconds), so callers load what they need before
 * they stop the target.  Nothing here stops or writes to the target: the few
 * words read (a GOT slot for a TLS offset, a version string) are read with
 * process_vm_readv while it runs.
 */
#ifndef HEAPDOC_SYMBOLS_H
#define HEAPDOC_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

struct symbols;			/* one process's modules */
struct sym_module;		/* one ELF file mapped into it */

/* A symbol as the target sees it. */
struct sym_info {
	struct sym_module *mod;	/* the module that defines it */
	uint64_t addr;		/* run-time address; for TLS: offset in the module's block */
	uint64_t size;
	bool tls;		/* STT_TLS */
};

/* What heapdoc knows about one module, for reports and error messages. */
struct sym_module_info {
	const char *name;	/* the path in /proc/<pid>/maps */
	uint64_t start, end;	/* its mapped range */
	uint64_t bias;		/* load bias: run-time address - link-time address */
	char build_id[41];	/* hex; "" when the file has none */
	bool has_symtab;	/* a full .symtab (local symbols), here or in debug info */
	bool has_dwarf;		/* DWARF found (in the file or by build-id) */
	const char *debug_file;	/* where the DWARF came from, or NULL */
};

/* Reports every file-backed module of pid.  -ESRCH, -EACCES. */
int symbols_open(struct symbols **out, pid_t pid, struct error *err);
void symbols_close(struct symbols *s);

/* Finds symbol name (local symbols included).  Modules whose file name
 * starts with one of the prefixes (e.g. "libc.so", "libc-") are searched
 * first; then every module, the executable first.  -ENOENT if none defines
 * it. */
int symbols_lookup(struct symbols *s, const char *name, const char *const *prefer,
		   struct sym_info *out, struct error *err);

/* Like symbols_lookup, within one module. */
int symbols_lookup_in(struct sym_module *m, const char *name, struct sym_info *out,
		      struct error *err);

/* Reads every module's symbol table now, so that later lookups while the
 * target is held cost a search only. */
void symbols_load_tables(struct symbols *s);

/* The name of the symbol whose extent covers addr (sizes checked: the
 * nearest symbol far below addr does not count), with addr's offset into
 * it; NULL when none does.  The name lives as long as s. */
const char *symbols_name_at(struct symbols *s, uint64_t addr, uint64_t *offset);

/* The module holding addr, or NULL. */
struct sym_module *symbols_module_at(struct symbols *s, uint64_t addr);

/* The module whose file name (basename) starts with prefix, or NULL. */
struct sym_module *symbols_module_named(struct symbols *s, const char *prefix);

void symbols_module_info(struct sym_module *m, struct sym_module_info *out);

/* Where an address is, for a report (heapdoc leaks): the function whose
 * symbol covers it, the source line (DWARF, when found), the module.
 * Strings belong to s.  Give a return address minus one, so the line is
 * the call's.  -ENOENT when no module maps addr (mod is then NULL). */
struct sym_place {
	const char *function;	/* NULL when no symbol covers addr */
	const char *file;	/* NULL without line information */
	int line;
	struct sym_module *mod;
};

int symbols_place(struct symbols *s, uint64_t addr, struct sym_place *out);

/* A struct's layout from DWARF.  The caller names the members it needs;
 * symbols_struct fills each one's offset and size (-1 and 0 when the struct
 * has no such member, which the caller decides how to treat). */
struct sym_member {
	const char *name;
	int64_t offset;		/* bytes from the start of the struct; -1: absent */
	uint64_t size;		/* of the whole member (arrays included) */
	uint64_t elem_size;	/* arrays: one element; otherwise = size */
};

/* Looks for `struct name` (or a typedef of that name) first in the
 * compilation units whose name ends with cu_hint ("malloc.c"; NULL: none),
 * then in every CU.  -ENODATA when the module has no DWARF,
 * -ENOENT when no such struct exists. */
int symbols_struct(struct sym_module *m, const char *cu_hint, const char *name,
		   uint64_t *size, struct sym_member *members, size_t n,
		   struct error *err);

/* Calls fn with the run-time address ranges [lo, hi) of the code of every
 * compilation unit whose name ends with /cu_suffix ("malloc/malloc.c": all
 * of glibc's malloc, arena.c included).  -ENODATA without DWARF, -ENOENT
 * when no such unit has code. */
int symbols_cu_ranges(struct sym_module *m, const char *cu_suffix,
		      void (*fn)(uint64_t lo, uint64_t hi, void *arg), void *arg,
		      struct error *err);

/* The thread-pointer offset of a TLS variable on x86-64 (TLS variant II:
 * the variable of a thread is at fs_base + *tpoff, *tpoff < 0).  In a shared
 * library it is read from the GOT slot of the R_X86_64_TPOFF64 relocation
 * that names it (written once by the dynamic loader); in the executable it
 * follows from PT_TLS (local exec).  -ENOENT when the library never takes
 * the variable's address that way. */
int symbols_tls_offset(struct symbols *s, const struct sym_info *sym, int64_t *tpoff,
		       struct error *err);

/* Reads a NUL-terminated string of at most len-1 bytes at addr in the
 * running target (for version strings). */
int symbols_read_string(struct symbols *s, uint64_t addr, char *buf, size_t len,
			struct error *err);

/* The process the session reads. */
pid_t symbols_pid(const struct symbols *s);

/* Where debug info for a module with this build-id (hex) was looked for,
 * in order, for a message: the process's own root, the host, debuginfod
 * (or why not). */
void symbols_debug_searched(const struct symbols *s, const char *build_id, char *buf,
			    size_t len);

#endif
