/* What `heapdoc audit` saw of a process: the facts its judgement rests on.
 *
 * lib/observe/audit.c fills it from /proc, the target's ELF files (through
 * /proc/<pid>/root) and the allocator's own state; lib/judge/audit*.c turns
 * it into checks, findings and recommendations without touching a pid; the
 * judge tests build it by hand.
 */
#ifndef HEAPDOC_MODEL_AUDIT_H
#define HEAPDOC_MODEL_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/alloc.h"

/* One ELF file mapped executable in the process: its hardening as built,
 * and whether its RELRO region is still read-only now. */
struct audit_module {
	char path[512];			/* as /proc/<pid>/maps names it */
	bool executable;		/* the main program */
	bool read;			/* its ELF file could be read */
	char why_unread[512];		/* when !read */
	bool pie;			/* executable: ET_DYN, loaded anywhere */
	bool relro;			/* PT_GNU_RELRO */
	bool bind_now;			/* DT_BIND_NOW, DF_BIND_NOW or DF_1_NOW */
	bool stack_protector;		/* uses or defines __stack_chk_fail */
	unsigned fortified;		/* __*_chk functions it calls */
	bool gnu_stack;			/* has PT_GNU_STACK */
	bool nx_stack;			/* ... without PF_X */
	/* The RELRO pages at run time, as the dynamic linker protects them
	 * (start and end rounded down to pages); 0, 0 when there are none. */
	uint64_t relro_start, relro_end;
	bool relro_writable;		/* some of those pages are writable now */
};

enum audit_proto { AUDIT_TCP, AUDIT_TCP6, AUDIT_UDP, AUDIT_UDP6, AUDIT_UNIX };

/* A socket of the process through which others can send it input: TCP in
 * LISTEN, UDP bound to a port and not connected, a unix stream or seqpacket
 * socket listening, a unix datagram socket bound to a name. */
struct audit_socket {
	enum audit_proto proto;
	char address[48];		/* "127.0.0.1", "::", "0.0.0.0"; "" for unix */
	unsigned port;
	char path[112];			/* unix: its name, "@name" when abstract */
	uint64_t inode;
	bool loopback;			/* 127.0.0.0/8, ::1, ::ffff:127.x: this host only */
	bool wildcard;			/* 0.0.0.0 or ::: every address of the host */
};

/* The allocator settings the process was started with, from its
 * environment (later setenv calls do not show).  "" when unset. */
struct audit_env {
	char glibc_tunables[1024];	/* GLIBC_TUNABLES */
	char malloc_check[32];		/* MALLOC_CHECK_ */
	char malloc_perturb[32];	/* MALLOC_PERTURB_ */
	char scudo_options[1024];	/* SCUDO_OPTIONS */
	char malloc_conf[1024];		/* MALLOC_CONF (jemalloc) */
	char ld_preload[1024];		/* LD_PRELOAD */
};

#define AUDIT_MAX_FINDINGS 16

struct audit_finding {
	char what[160];
	uint64_t addr;
};

/* glibc malloc read from the live process: the heap walk (integrity,
 * tcache_count, safe-linked links) and the debugging settings. */
struct audit_glibc {
	bool walked;			/* the heap walk ran; else why_not */
	char why_not[512];
	char method[16];		/* "validated" or "held" */
	uint64_t tcache_count;		/* mp_.tcache_count; UNSET: not read */
	uint64_t arenas;
	/* Safe-linking at work (glibc.h, struct glibc_safe_links). */
	uint64_t safe_links;
	uint64_t safe_link_at, safe_link_stored;
	char safe_link_list[48];
	bool corrupt;
	unsigned nfindings;		/* found; the first AUDIT_MAX_FINDINGS kept */
	struct audit_finding findings[AUDIT_MAX_FINDINGS];
	/* The debugging settings as held in memory; -1: not read. */
	int64_t perturb_byte;		/* libc's */
	char debug_lib[512];		/* libc_malloc_debug.so as mapped; "" if not */
	int64_t debug_hooks;		/* its __malloc_debugging_hooks */
	int64_t debug_perturb_byte;	/* its own copy of malloc's */
};

struct audit_obs {
	pid_t pid;
	char comm[64];
	struct alloc_id alloc;
	struct audit_env env;
	struct audit_glibc glibc;	/* alloc.kind == ALLOC_GLIBC */
	bool scudo_default_options;	/* the executable defines __scudo_default_options */
	char scudo_lib[256];		/* Debian's scudo library inside the target's
					 * root, "" when it is not there */
	bool stack_executable;		/* the [stack] mapping is executable now */

	struct audit_module *modules;	/* the executable first */
	size_t nmodules;
	struct audit_socket *sockets;
	size_t nsockets;
	bool sockets_read;		/* else sockets_why */
	char sockets_why[512];

	uint64_t pause_us;		/* the longest stop of the process */
	uint64_t pause_total_us;	/* all of them together */
	unsigned stops;
};

/* Where Debian's libclang-rt-14-dev puts scudo, and the package. */
#define AUDIT_SCUDO_PATH \
	"/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.scudo_standalone-x86_64.so"
#define AUDIT_SCUDO_PACKAGE "libclang-rt-14-dev"

#endif
