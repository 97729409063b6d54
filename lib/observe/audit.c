/* Observing what protects a live process's heap (audit.h). */
#include "observe/audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "observe/alloc/glibc.h"
#include "observe/target.h"

static void copy_env(const struct environ *env, const char *name, char *out, size_t len)
{
	const char *v = environ_get(env, name);

	snprintf(out, len, "%s", v ? v : "");
}

static void read_env(const char *root, pid_t pid, struct audit_env *e)
{
	struct environ env = { 0 };

	if (proc_read_environ(root, pid, &env, NULL) == 0) {
		copy_env(&env, "GLIBC_TUNABLES", e->glibc_tunables, sizeof(e->glibc_tunables));
		copy_env(&env, "MALLOC_CHECK_", e->malloc_check, sizeof(e->malloc_check));
		copy_env(&env, "MALLOC_PERTURB_", e->malloc_perturb, sizeof(e->malloc_perturb));
		copy_env(&env, "SCUDO_OPTIONS", e->scudo_options, sizeof(e->scudo_options));
		copy_env(&env, "MALLOC_CONF", e->malloc_conf, sizeof(e->malloc_conf));
		copy_env(&env, "LD_PRELOAD", e->ld_preload, sizeof(e->ld_preload));
	}
	environ_free(&env);
}

/* Whether the scudo a recommendation would name is in the target's own
 * filesystem (its container's, through /proc/<pid>/root). */
static void find_scudo(const char *root, pid_t pid, struct audit_obs *obs)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/proc/%d/root%s", root, (int)pid, AUDIT_SCUDO_PATH);
	if (access(path, R_OK) == 0)
		snprintf(obs->scudo_lib, sizeof(obs->scudo_lib), "%s", AUDIT_SCUDO_PATH);
}

static void read_sockets(const char *root, pid_t pid, struct audit_obs *obs)
{
	struct error err = { 0 };

	obs->sockets_read = proc_read_listeners(root, pid, &obs->sockets, &obs->nsockets,
						&err) == 0;
	if (!obs->sockets_read)
		snprintf(obs->sockets_why, sizeof(obs->sockets_why), "%s", err.msg);
}

/* Preloaded, libc_malloc_debug.so exports malloc itself: it is glibc's
 * malloc-check, with a copy of glibc's malloc inside, and is audited as
 * glibc (its version comes with libc's symbols, audit_observe_allocator).
 * Detection leaves it unknown because the other commands cannot read the
 * arena it allocates from. */
static void settle_malloc_debug(struct alloc_id *id)
{
	const char *slash = strrchr(id->path, '/');

	if (id->kind != ALLOC_UNKNOWN || strncmp(slash ? slash + 1 : id->path,
						 "libc_malloc_debug.so", 20))
		return;
	id->kind = ALLOC_GLIBC;
	snprintf(id->evidence + strlen(id->evidence), sizeof(id->evidence) - strlen(id->evidence),
		 "; glibc's malloc-check wrapper");
}

int audit_observe_files(const char *root, pid_t pid, struct audit_obs *obs,
			struct error *err)
{
	struct proc_status status;
	struct maps maps = { 0 };
	int rc;

	obs->pid = pid;
	obs->glibc.tcache_count = UNSET;
	obs->glibc.perturb_byte = obs->glibc.debug_hooks = obs->glibc.debug_perturb_byte = -1;
	rc = proc_check_target(root, pid, err);
	if (rc == 0)
		rc = proc_read_status(root, pid, &status, err);
	if (rc == 0)
		rc = proc_read_maps(root, pid, &maps, err);
	if (rc == 0)
		rc = alloc_detect(root, pid, &maps, &obs->alloc, err);
	if (rc < 0)
		goto out;
	settle_malloc_debug(&obs->alloc);
	snprintf(obs->comm, sizeof(obs->comm), "%s", status.name);
	read_env(root, pid, &obs->env);
	find_scudo(root, pid, obs);
	for (size_t i = 0; i < maps.n; i++)
		if (!strcmp(maps.v[i].path, "[stack]"))
			obs->stack_executable = strchr(maps.v[i].perms, 'x') != NULL;
	rc = audit_read_modules(root, pid, &maps, obs, err);
	if (rc == 0)
		read_sockets(root, pid, obs);
	/* Files and sockets that vanished with the process are no audit. */
	if (rc == 0 && proc_check_target(root, pid, NULL) < 0)
		rc = error_set(err, -ESRCH, "pid %d exited while being read", (int)pid);
out:
	maps_free(&maps);
	return rc;
}

/* The walk's findings and safe-linked links, into the model. */
static void keep_walk(const struct glibc_state *st, struct audit_glibc *g)
{
	g->walked = true;
	snprintf(g->method, sizeof(g->method), "%s", st->method ? st->method : "");
	g->tcache_count = st->mp.tcache_count;
	g->arenas = st->narenas;
	g->safe_links = st->safe_links.links;
	g->safe_link_at = st->safe_links.at;
	g->safe_link_stored = st->safe_links.stored;
	snprintf(g->safe_link_list, sizeof(g->safe_link_list), "%s", st->safe_links.list);
	g->corrupt = st->corrupt;
	g->nfindings = st->nfindings;
	for (unsigned i = 0; i < MIN(st->nfindings, AUDIT_MAX_FINDINGS) &&
			     i < GLIBC_MAX_FINDINGS; i++) {
		snprintf(g->findings[i].what, sizeof(g->findings[i].what), "%s",
			 st->findings[i].what);
		g->findings[i].addr = st->findings[i].addr;
	}
}

static void keep_debug_state(const struct glibc_debug_state *d, struct audit_glibc *g)
{
	g->perturb_byte = d->perturb_byte;
	snprintf(g->debug_lib, sizeof(g->debug_lib), "%s", d->debug_lib);
	g->debug_hooks = d->debug_hooks;
	g->debug_perturb_byte = d->debug_perturb_byte;
}

static int observe_glibc(pid_t pid, struct audit_obs *obs, struct error *err)
{
	struct glibc_reader *r = NULL;
	struct glibc_state st = { 0 };
	struct glibc_debug_state dbg;
	struct target t = { 0 };
	struct error why = { 0 };
	int rc = glibc_open(&r, pid, &obs->alloc, &why);

	if (rc == -ENODATA || rc == -EOPNOTSUPP || rc == -ENOENT) {
		snprintf(obs->glibc.why_not, sizeof(obs->glibc.why_not), "%s", why.msg);
		return 0;
	}
	if (rc < 0) {
		*err = why;
		return rc;
	}
	if (!obs->alloc.version[0])
		snprintf(obs->alloc.version, sizeof(obs->alloc.version), "%s", glibc_version(r));
	rc = target_attach(&t, pid, err);
	if (rc == 0)
		rc = glibc_read_debug_state(r, &t, &dbg, err);
	if (rc == 0) {
		keep_debug_state(&dbg, &obs->glibc);
		rc = glibc_snapshot_brief(r, &t, &st, err);
	}
	if (rc == 0)
		keep_walk(&st, &obs->glibc);
	obs->pause_us = t.pause_us_max;
	obs->pause_total_us = t.pause_us_total;
	obs->stops = t.stops;
	target_detach(&t);
	glibc_state_free(&st);
	glibc_close(r);
	return rc;
}

int audit_observe_allocator(pid_t pid, struct audit_obs *obs, struct error *err)
{
	if (obs->alloc.kind == ALLOC_GLIBC)
		return observe_glibc(pid, obs, err);
	return 0;
}

void audit_obs_release(struct audit_obs *obs)
{
	free(obs->modules);
	free(obs->sockets);
	obs->modules = NULL;
	obs->sockets = NULL;
	obs->nmodules = obs->nsockets = 0;
}
