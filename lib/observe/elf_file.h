/* One ELF file read with libelf: its symbols, its dynamic section, its
 * read-only strings.
 *
 * This is the small, fast look at a file that allocator detection needs (a
 * few thousand symbols, a few sections); lib/symbols.h is the heavier one
 * (libdwfl, DWARF, run-time addresses).  Files are untrusted input: every
 * read goes through libelf's bounds-checked accessors, and strings are
 * never read past the end of their section.
 */
#ifndef HEAPDOC_ELF_FILE_H
#define HEAPDOC_ELF_FILE_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "observe/proc.h"

struct elf_file {
	int fd;
	Elf *elf;
	GElf_Ehdr ehdr;
	char name[512];		/* for messages: the path it was opened as */
};

/* An elf_file that holds nothing; elf_file_close accepts it. */
#define ELF_FILE_INIT { .fd = -1 }

/* Opens path.  -ENOENT/-EACCES from open(2); -ENOEXEC when it is not an ELF
 * file; -EIO when libelf cannot read it. */
int elf_file_open(struct elf_file *f, const char *path, struct error *err);

/* Opens the file behind a mapping of pid, as the target sees it: through
 * root/proc/<pid>/root/<path>, so a process in a container is read from its
 * own files; through root/proc/<pid>/map_files/<start>-<end> when the file
 * was deleted or replaced since it was mapped ("(deleted)" in maps).  f->name
 * is the mapping's path.  Same errors as elf_file_open. */
int elf_file_open_mapped(struct elf_file *f, const char *root, pid_t pid,
			 const struct mapping *m, struct error *err);

/* elf_file_open_mapped for a process's executable: when its file cannot be
 * opened (deleted, and map_files needs CAP_SYS_ADMIN), it is still
 * reachable through root/proc/<pid>/exe. */
int elf_file_open_executable(struct elf_file *f, const char *root, pid_t pid,
			     const struct mapping *m, struct error *err);

/* Safe on ELF_FILE_INIT, on a file whose open failed, and twice. */
void elf_file_close(struct elf_file *f);

/* True when the file asks for a program interpreter (PT_INTERP): a
 * dynamically linked executable.  Static executables and static-pie have
 * none; neither do shared libraries. */
bool elf_file_has_interp(const struct elf_file *f);

/* The p_vaddr of the first PT_LOAD segment, or -ENOEXEC when there is none.
 * The load bias of a mapped file is its lowest mapping minus this value
 * rounded down to the page size. */
int elf_file_first_load(const struct elf_file *f, uint64_t *vaddr);

/* The first program header of type (PT_GNU_RELRO, PT_GNU_STACK, ...) in
 * *out; -ENOENT when the file has none. */
int elf_file_phdr(const struct elf_file *f, uint32_t type, GElf_Phdr *out);

/* The value of the first dynamic entry tagged tag (DT_FLAGS, DT_FLAGS_1,
 * DT_BIND_NOW ...); -ENOENT when the file has no such entry or no dynamic
 * section. */
int elf_file_dynamic_value(const struct elf_file *f, int64_t tag, uint64_t *value);

/* Calls fn for each string entry of the dynamic section (DT_SONAME, then
 * every DT_NEEDED in file order), stopping when fn returns non-zero (which
 * is then returned).  0 when the file has no dynamic section. */
typedef int (*elf_dynamic_fn)(void *arg, int64_t tag, const char *value);
int elf_file_for_each_dynamic(const struct elf_file *f, elf_dynamic_fn fn, void *arg);

/* Symbol tables, for elf_file_for_each_symbol. */
#define ELF_DYNSYM	1u	/* .dynsym: what the file exports */
#define ELF_SYMTAB	2u	/* .symtab: every symbol, when not stripped */
#define ELF_UNDEFINED	4u	/* also the symbols the file uses but does not
				 * define (st_shndx SHN_UNDEF): its imports */

/* Calls fn for each symbol defined in the file (st_shndx not SHN_UNDEF) in
 * the tables asked for, .dynsym first (dynamic = true there); with
 * ELF_UNDEFINED, for the undefined ones too.  Stops when fn
 * returns non-zero (which is then returned). */
typedef int (*elf_symbol_fn)(void *arg, const char *name, const GElf_Sym *sym,
			     bool dynamic);
int elf_file_for_each_symbol(const struct elf_file *f, unsigned tables,
			     elf_symbol_fn fn, void *arg);

/* True when the file has a .symtab section (it is not stripped). */
bool elf_file_has_symtab(const struct elf_file *f);

/* Calls fn for each NUL-terminated string in .rodata: the one at its start
 * and every one that follows a NUL (len excludes the NUL; a string merged
 * behind other data arrives with that data in front of it).  Stops when fn
 * returns non-zero (which is then returned); 0 when there is no .rodata. */
typedef int (*elf_string_fn)(void *arg, const char *s, size_t len);
int elf_file_for_each_rodata_string(const struct elf_file *f, elf_string_fn fn, void *arg);

/* Copies the NUL-terminated string stored at link-time address vaddr (in an
 * allocated section with file contents) into buf.  -ENOENT when no section
 * holds vaddr, -E2BIG when the string does not end within len - 1 bytes or
 * within its section. */
int elf_file_string_at(const struct elf_file *f, uint64_t vaddr, char *buf, size_t len);

#endif
