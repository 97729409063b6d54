/* Inside lib/observe/agent: the parts that hold the target (ptrace, inject)
 * and the plain reads they share with agent.c. */
#ifndef HEAPDOC_AGENT_LOAD_H
#define HEAPDOC_AGENT_LOAD_H

#include "observe/agent/agent.h"

/* process_vm_readv of exactly len bytes; -ESRCH when the process is gone. */
int agent_mem_read(pid_t pid, uint64_t addr, void *buf, size_t len, struct error *err);

/* Attaches, borrows a thread, dlopens a->path and calls the start function;
 * fills a->handle, a->region, the library's ranges and functions, and
 * a->load_stop_us.  The target is released on every path; on failure the
 * library is closed again if it was opened. */
int agent_call_load(struct agent *a, const struct agent_opts *o, struct error *err);

#endif
