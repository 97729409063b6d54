/* heapdoc release and set, for people. */
#include <inttypes.h>
#include <stdio.h>

#include "base/util.h"
#include "report/act.h"
#include "base/human.h"

#define HB(buf, v) human_bytes(buf, sizeof(buf), v)

static void print_header(FILE *out, const struct act_report *r, const char *cmd,
			 const struct style *s)
{
	fprintf(out, "%sheapdoc %s%s: pid %d (%s), %s%s%s\n\n", style_bold(s), cmd,
		style_reset(s), (int)r->pid, r->comm, alloc_kind_name(r->alloc->kind),
		r->alloc->version[0] ? " " : "", r->alloc->version);
}

static void print_cost(FILE *out, const struct act_cost *c)
{
	char b1[32], b2[96];

	if (c->calls)
		fprintf(out, "  %u call%s ran %s on thread %d while the other threads ran on; ",
			c->calls, c->calls == 1 ? "" : "s", human_us(b1, sizeof(b1), c->call_us),
			(int)c->tid);
	else
		fprintf(out, "  ");
	fprintf(out, "heapdoc stopped the process %s\n",
		human_stops(b2, sizeof(b2), c->stops, c->pause_us_total, c->pause_us_max));
}

static void print_verify(FILE *out, const struct verify_result *v)
{
	char b1[32], b2[32], b3[32];

	if (!v || v->outcome == VERIFY_UNKNOWN)
		return;
	fprintf(out, "\n  --verify over %.0f s (%zu samples): RSS %s -> %s, ", v->window_s,
		v->samples, HB(b1, v->before), HB(b2, v->low));
	switch (v->outcome) {
	case VERIFY_HELD:
		fprintf(out, "still %s after %.0f s: the change held\n", HB(b3, v->end), v->window_s);
		break;
	case VERIFY_CREPT_BACK:
		fprintf(out, "then back up to %s after %.0f s: more than half of what came "
			"back was taken again\n", HB(b3, v->end), v->window_s);
		break;
	case VERIFY_NO_FALL:
		fprintf(out, "%s after %.0f s: RSS did not fall\n", HB(b3, v->end), v->window_s);
		break;
	default:
		fprintf(out, "%s after %.0f s (this change does not aim to lower RSS)\n",
			HB(b3, v->end), v->window_s);
		break;
	}
}

static void print_release(FILE *out, const struct act_report *r)
{
	const struct act_release *a = r->release;
	char b1[32], b2[32], b3[32];

	if (IS_SET(a->predicted))
		fprintf(out, "  %s %s %s (%s)\n", a->call, a->done ? "was expected to return" :
			"would return", HB(b1, a->predicted), a->basis);
	else
		fprintf(out, "  %s: heapdoc cannot predict what it returns (%s)\n", a->call,
			a->basis);
	if (!a->done) {
		fprintf(out, "  %s\n", r->dry_run ? "--dry-run: nothing was called" : a->refusal);
		if (a->cost.stops)
			print_cost(out, &a->cost);
		return;
	}
	if (IS_SET(a->rss_before) && IS_SET(a->rss_after)) {
		uint64_t back = a->rss_before > a->rss_after ? a->rss_before - a->rss_after : 0;

		fprintf(out, "  RSS %s -> %s: %s came back", HB(b1, a->rss_before),
			HB(b2, a->rss_after), HB(b3, back));
		if (IS_SET(a->predicted) && a->predicted)
			fprintf(out, " (%.0f%% of the prediction)", 100.0 * back / a->predicted);
		fprintf(out, "\n");
	}
	print_cost(out, &a->cost);
	fprintf(out, "  A one-off: memory freed from now on is kept again as before; "
		"'heapdoc knobs %d' says what keeps it down\n", (int)r->pid);
}

static void print_set(FILE *out, const struct act_report *r)
{
	char b1[32], b2[32], old[64], now[64];

	for (size_t i = 0; i < r->n; i++) {
		const struct setting_def *d = r->req[i].def;
		const struct act_change *c = &r->changes[i];

		fprintf(out, "  %s  %s -> %s", d->name, settings_format(d, &c->old, old, sizeof(old)),
			settings_format(d, &c->now, now, sizeof(now)));
		if (c->arenas)
			fprintf(out, "  (%u arena%s, and the default for new ones)", c->arenas,
				c->arenas == 1 ? "" : "s");
		fprintf(out, "\n");
		if (d->effect)
			fprintf(out, "      this also %s\n", d->effect);
	}
	fprintf(out, "  read back from the allocator's own state\n");
	if (IS_SET(r->rss_before) && IS_SET(r->rss_after))
		fprintf(out, "  RSS %s -> %s\n", HB(b1, r->rss_before), HB(b2, r->rss_after));
	print_cost(out, r->cost);
	fprintf(out, "\n  This lasts until the process exits.  To keep it across restarts:\n");
	for (size_t i = 0; i < r->npermanent; i++) {
		const struct knob *k = &r->permanent[i];

		fprintf(out, "    env:        %s\n    systemd:    %s\n    kubernetes: ",
			k->apply_env, k->apply_systemd);
		for (const char *p = k->apply_kubernetes; *p; p++)
			fputs(*p == '\n' ? "\n                " : (char[]){ *p, 0 }, out);
		fprintf(out, "\n");
	}
}

void act_print_text(FILE *out, const struct act_report *r, const struct style *s)
{
	print_header(out, r, r->release ? "release" : "set", s);
	if (r->release)
		print_release(out, r);
	else
		print_set(out, r);
	print_verify(out, r->verify);
}
