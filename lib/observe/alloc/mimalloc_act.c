/* mimalloc's half of heapdoc release: mi_collect(true), which frees what
 * the calling thread's heap and the abandoned segments hold and returns
 * free pages to the system.  mimalloc keeps no byte count heapdoc could
 * read (its release build keeps segment statistics only), so there is no
 * prediction: RSS before and after say what came back. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "observe/act_impl.h"
#include "observe/alloc/code.h"
#include "observe/elfsym.h"

static bool is_mimalloc_function(const char *name)
{
	return !strncmp(name, "mi_", 3) || !strncmp(name, "_mi_", 4) ||
	       !strcmp(name, "malloc") || !strcmp(name, "free") || !strcmp(name, "calloc") ||
	       !strcmp(name, "realloc");
}

int mimalloc_act_open(struct actor *a, const struct alloc_id *id, struct error *err)
{
	struct elfsym es = ELFSYM_INIT;
	int rc;

	a->guard.what = "mimalloc";
	/* No lock heapdoc can read: no thread may be inside it. */
	a->guard.all_threads_clear = true;
	rc = alloc_code_open(&es, a->pid, id, err);
	if (rc == 0 && elfsym_lookup(&es, "mi_collect", &a->fn_collect, NULL) < 0)
		rc = error_set(err, -EOPNOTSUPP, "pid %d: %s exports no mi_collect", (int)a->pid,
			       id->path);
	if (rc == 0)
		rc = alloc_code_guard(&a->guard, &es, a->pid, id, is_mimalloc_function, err);
	elfsym_close(&es);
	if (rc == 0)
		inject_libc_find(a->pid, &a->libc, NULL);	/* else inject_begin says why */
	return rc;
}

int mimalloc_act_release(struct actor *a, struct target *t, struct act_release *r,
			 struct error *err)
{
	struct inject_session s;
	uint64_t force = 1, ret;
	int rc;

	snprintf(r->call, sizeof(r->call), "mi_collect(true)");
	snprintf(r->basis, sizeof(r->basis), "mimalloc keeps no figure for it");
	if (a->opts.arena >= 0)
		return error_set(err, -EOPNOTSUPP, "--arena: mimalloc has no numbered arenas");
	if (a->opts.dry_run)
		return 0;
	rc = act_begin(a, t, &s, err);
	if (rc < 0)
		return rc;
	r->rss_before = act_rss(a->pid);
	rc = inject_call(&s, a->fn_collect, &force, 1, &ret, err);
	r->done = rc == 0;
	rc = act_end(&s, rc, &r->cost, err);
	r->rss_after = act_rss(a->pid);
	return rc;
}
