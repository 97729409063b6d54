/* `heapdoc audit --json`: schema, pid, allocator {name, version, hardened,
 * ...}, checks [{name, state, detail}], integrity, exposure, binaries,
 * recommendations, target; keys are added, never renamed. */
#include "report/audit.h"

#include <math.h>

#include "base/util.h"
#include "base/json.h"
#include "report/allocator.h"

static const char *const proto_names[] = { "tcp", "tcp6", "udp", "udp6", "unix" };

const char *audit_relro_name(const struct audit_module *m)
{
	return !m->relro ? "none" : m->bind_now ? "full" : "partial";
}

static void audit_allocator_json(struct json *j, const struct audit_obs *obs,
			   const struct audit_result *r)
{
	allocator_json_begin(j, "allocator", &obs->alloc, NULL);
	json_bool(j, "hardened", r->hardened);
	json_string(j, "variant", r->variant[0] ? r->variant : NULL);
	json_object_end(j);
}

static void checks_json(struct json *j, const struct audit_result *r)
{
	json_array_begin(j, "checks");
	for (size_t i = 0; i < AUDIT_NCHECKS; i++) {
		json_object_begin(j, NULL);
		json_string(j, "name", r->checks[i].name);
		json_string(j, "state", audit_state_name(r->checks[i].state));
		json_string(j, "detail", r->checks[i].detail);
		json_object_end(j);
	}
	json_array_end(j);
}

static void integrity_json(struct json *j, const struct audit_obs *obs,
			   const struct audit_result *r)
{
	const struct audit_glibc *g = &obs->glibc;

	json_object_begin(j, "integrity");
	json_string(j, "state", audit_integrity_name(r->integrity));
	json_string(j, "detail", r->integrity_detail);
	json_uint(j, "nfindings", g->nfindings);
	json_array_begin(j, "findings");
	for (unsigned i = 0; i < MIN(g->nfindings, AUDIT_MAX_FINDINGS); i++) {
		json_object_begin(j, NULL);
		json_string(j, "what", g->findings[i].what);
		json_uint(j, "addr", g->findings[i].addr);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

static void exposure_json(struct json *j, const struct audit_obs *obs,
			  const struct audit_result *r)
{
	json_object_begin(j, "exposure");
	if (r->untrusted_input < 0)
		json_null(j, "untrusted_input");
	else
		json_bool(j, "untrusted_input", r->untrusted_input);
	json_string(j, "detail", r->exposure);
	json_array_begin(j, "listening");
	for (size_t i = 0; i < obs->nsockets; i++) {
		const struct audit_socket *s = &obs->sockets[i];

		json_object_begin(j, NULL);
		json_string(j, "proto", proto_names[s->proto]);
		json_string(j, "address", s->proto == AUDIT_UNIX ? NULL : s->address);
		json_uint(j, "port", s->proto == AUDIT_UNIX ? UNSET : s->port);
		json_string(j, "path", s->proto == AUDIT_UNIX ? s->path : NULL);
		json_bool(j, "loopback", s->loopback);
		json_bool(j, "wildcard", s->wildcard);
		json_uint(j, "inode", s->inode);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

static void module_json(struct json *j, const struct audit_module *m)
{
	json_object_begin(j, NULL);
	json_string(j, "path", m->path);
	json_bool(j, "executable", m->executable);
	json_bool(j, "read", m->read);
	if (!m->read) {
		json_string(j, "error", m->why_unread);
	} else {
		if (m->executable)
			json_bool(j, "pie", m->pie);
		else
			json_null(j, "pie");
		json_string(j, "relro", audit_relro_name(m));
		json_bool(j, "bind_now", m->bind_now);
		json_bool(j, "stack_protector", m->stack_protector);
		json_bool(j, "fortify", m->fortified > 0);
		json_uint(j, "fortified", m->fortified);
		json_bool(j, "nx_stack", m->nx_stack);
	}
	json_bool(j, "relro_writable", m->relro_writable);
	json_object_end(j);
}

static void recommendations_json(struct json *j, const struct audit_result *r)
{
	json_array_begin(j, "recommendations");
	for (size_t i = 0; i < r->nrecs; i++) {
		const struct audit_rec *rec = &r->recs[i];

		json_object_begin(j, NULL);
		json_string(j, "name", rec->name);
		json_string(j, "apply", rec->apply);
		json_string(j, "source", rec->source[0] ? rec->source : NULL);
		json_string(j, "protects", rec->protects);
		json_string(j, "cost", rec->cost);
		json_double(j, "cost_ratio", isnan(rec->cost_ratio) ? NAN :
			    round(rec->cost_ratio * 100) / 100);
		json_string(j, "loses", rec->loses);
		json_object_end(j);
	}
	json_array_end(j);
}

void audit_print_json(FILE *out, const struct audit_obs *obs, const struct audit_result *r)
{
	struct json j;

	json_init(&j, out, true);
	json_object_begin(&j, NULL);
	json_int(&j, "schema", AUDIT_JSON_SCHEMA);
	json_int(&j, "pid", obs->pid);
	json_string(&j, "comm", obs->comm);
	audit_allocator_json(&j, obs, r);
	checks_json(&j, r);
	integrity_json(&j, obs, r);
	exposure_json(&j, obs, r);
	json_array_begin(&j, "binaries");
	for (size_t i = 0; i < obs->nmodules; i++)
		module_json(&j, &obs->modules[i]);
	json_array_end(&j);
	json_uint(&j, "relro_writable", r->relro_writable);
	json_bool(&j, "stack_executable", obs->stack_executable);
	recommendations_json(&j, r);
	json_string(&j, "advice", r->advice);
	json_object_begin(&j, "target");
	json_uint(&j, "pause_us", obs->pause_us);
	json_uint(&j, "pause_total_us", obs->pause_total_us);
	json_uint(&j, "stops", obs->stops);
	json_object_end(&j);
	json_object_end(&j);
	json_finish(&j);
}
