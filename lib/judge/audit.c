/* `heapdoc audit`: the verdicts over the facts (audit.h).  The checks are
 * in audit_checks.c and audit_glibc.c, the recommendations in
 * audit_advice.c. */
#include "judge/audit.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"

const char *audit_state_name(enum audit_state state)
{
	return state == AUDIT_ON ? "on" : state == AUDIT_OFF ? "off" : "n/a";
}

const char *audit_integrity_name(enum audit_integrity integrity)
{
	return integrity == AUDIT_INTACT ? "intact" :
	       integrity == AUDIT_CORRUPT ? "corrupt" : "unchecked";
}

static void judge_integrity(const struct audit_obs *obs, struct audit_result *r)
{
	const struct audit_glibc *g = &obs->glibc;

	r->integrity = AUDIT_UNCHECKED;
	if (obs->alloc.kind != ALLOC_GLIBC) {
		snprintf(r->integrity_detail, sizeof(r->integrity_detail),
			 "heapdoc walks glibc's heap only");
	} else if (!g->walked) {
		snprintf(r->integrity_detail, sizeof(r->integrity_detail),
			 "the heap was not walked: %.340s", g->why_not);
	} else if (g->corrupt) {
		r->integrity = AUDIT_CORRUPT;
		snprintf(r->integrity_detail, sizeof(r->integrity_detail),
			 "%u finding%s; the first: %s", g->nfindings, g->nfindings == 1 ? "" : "s",
			 g->findings[0].what);
	} else {
		r->integrity = AUDIT_INTACT;
		snprintf(r->integrity_detail, sizeof(r->integrity_detail),
			 "every chunk size, bin and free-list link of %llu arena%s is consistent "
			 "(%s walk)%s", (unsigned long long)g->arenas, g->arenas == 1 ? "" : "s",
			 g->method, g->debug_hooks > 0 && (g->debug_hooks & 4) ? "; malloc-check "
			 "allocates from libc_malloc_debug's own arena, which is not walked" : "");
	}
}

/* "tcp 127.0.0.1:8080" or "unix /run/app.sock". */
static int socket_text(const struct audit_socket *s, char *buf, size_t len)
{
	static const char *const protos[] = { "tcp", "tcp6", "udp", "udp6", "unix" };
	bool v6 = s->proto == AUDIT_TCP6 || s->proto == AUDIT_UDP6;

	if (s->proto == AUDIT_UNIX)
		return snprintf(buf, len, "unix %s", s->path);
	return snprintf(buf, len, v6 ? "%s [%s]:%u" : "%s %s:%u", protos[s->proto], s->address,
			s->port);
}

static void judge_exposure(const struct audit_obs *obs, struct audit_result *r)
{
	size_t used = 0, network = 0, local = 0;

	if (!obs->sockets_read) {
		r->untrusted_input = -1;
		snprintf(r->exposure, sizeof(r->exposure), "sockets not read: %.340s", obs->sockets_why);
		return;
	}
	r->untrusted_input = obs->nsockets > 0;
	if (!obs->nsockets) {
		snprintf(r->exposure, sizeof(r->exposure), "no listening socket: nothing "
			 "reaches it from the network or other processes (its outgoing "
			 "connections, pipes and files are not counted)");
		return;
	}
	for (size_t i = 0; i < obs->nsockets; i++)
		obs->sockets[i].loopback ? local++ : network++;
	used = snprintf(r->exposure, sizeof(r->exposure), "%s: ", network ?
			"network-facing" : "reachable from this host only");
	for (size_t i = 0; i < obs->nsockets && i < 4 && used < sizeof(r->exposure); i++) {
		used += socket_text(&obs->sockets[i], r->exposure + used, sizeof(r->exposure) - used);
		if (i + 1 < obs->nsockets && used < sizeof(r->exposure))
			used += snprintf(r->exposure + used, sizeof(r->exposure) - used, ", ");
	}
	if (obs->nsockets > 4 && used < sizeof(r->exposure))
		snprintf(r->exposure + used, sizeof(r->exposure) - used, "and %zu more",
			 obs->nsockets - 4);
}

static void judge_modules(const struct audit_obs *obs, struct audit_result *r)
{
	for (size_t i = 0; i < obs->nmodules; i++) {
		const struct audit_module *m = &obs->modules[i];

		r->relro_writable += m->relro_writable;
		if (m->read && (!m->relro || !m->bind_now || !m->stack_protector ||
				!m->nx_stack || (m->executable && !m->pie)))
			r->weak_modules++;
	}
}

void audit_judge(const struct audit_obs *obs, struct audit_result *out)
{
	memset(out, 0, sizeof(*out));
	audit_judge_checks(obs, out);
	judge_integrity(obs, out);
	judge_exposure(obs, out);
	judge_modules(obs, out);
	audit_judge_advice(obs, out);
}
