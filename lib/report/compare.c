/* `heapdoc compare` (report/compare.h): the conclusion first, then every
 * figure before and after, then the settings that differ. */
#include "report/compare.h"

#include <math.h>
#include <string.h>

#include "base/human.h"
#include "base/json.h"
#include "base/util.h"

static double span_of(const struct observation *o)
{
	return o->nsamples > 1 ? o->samples[o->nsamples - 1].t - o->samples[0].t : 0;
}

static const char *value(char *buf, size_t len, const struct compare_figure *f, double v)
{
	char tmp[24];

	if (isnan(v))
		return "n/a";
	if (!strcmp(f->unit, "bytes"))
		return human_bytes(buf, len, (uint64_t)fmax(v, 0));
	if (!strcmp(f->unit, "bytes/s")) {
		human_bytes(tmp, sizeof(tmp), (uint64_t)fabs(v));
		snprintf(buf, len, "%s%s/s", v < 0 ? "-" : "", tmp);
		return buf;
	}
	snprintf(buf, len, "%.0f%s", v, !strcmp(f->unit, "faults/s") ? "/s" : "");
	return buf;
}

static void side_line(FILE *out, const char *label, const struct compare_side *d)
{
	char span[24];

	fprintf(out, "  %-7s %s: pid %d (%s), %s, %zu samples\n", label, d->name,
		(int)d->obs->pid, d->obs->comm, human_seconds(span, sizeof(span), span_of(d->obs)),
		d->obs->nsamples);
}

void compare_print_text(FILE *out, const struct compare_report *r, const struct style *s)
{
	const struct compare *c = r->compare;
	char b1[48], b2[48];

	fprintf(out, "%sheapdoc compare%s\n", style_bold(s), style_reset(s));
	side_line(out, "before", &r->before);
	side_line(out, "after", &r->after);
	fprintf(out, "\n  %s%s%s\n", style_bold(s), c->conclusion, style_reset(s));
	fprintf(out, "\n  %-32s %14s %14s %8s\n", "", "before", "after", "change");
	fprintf(out, "  %-32s %14s %14s\n", "verdict", c->verdict_before, c->verdict_after);
	for (size_t i = 0; i < c->nfigures; i++) {
		const struct compare_figure *f = &c->figures[i];
		double ch = compare_change(f);
		char pct[16] = "";

		if (!isnan(ch))
			snprintf(pct, sizeof(pct), "%+.0f%%", 100 * ch);
		fprintf(out, "  %-32s %14s %14s %8s\n", f->name, value(b1, sizeof(b1), f, f->before),
			value(b2, sizeof(b2), f, f->after), pct);
	}
	fprintf(out, "  %-32s %14s %14s\n", "allocated's trend",
		trend_kind_name(r->before.verdict->allocated.kind),
		trend_kind_name(r->after.verdict->allocated.kind));
	fprintf(out, "  %-32s %14s %14s\n", "what the gap is",
		gap_kind_name(r->before.verdict->gap.kind), gap_kind_name(r->after.verdict->gap.kind));
	if (!c->nsettings)
		return;
	fprintf(out, "\n%sSettings that differ%s\n", style_bold(s), style_reset(s));
	for (size_t i = 0; i < c->nsettings; i++) {
		const struct compare_setting *t = &c->settings[i];

		fprintf(out, "  %s: %s → %s", t->name, t->before[0] ? t->before : "unset",
			t->after[0] ? t->after : "unset");
		if (t->aim)
			fprintf(out, "  (to %s %s: %s)", t->direction < 0 ? "lower" : "raise", t->aim,
				!t->known ? "not measured" : t->moved ? "moved" :
				t->wrong_way ? "the other way" : "did not move");
		fprintf(out, "\n");
	}
}

static void side_json(struct json *j, const char *key, const struct compare_side *d)
{
	json_object_begin(j, key);
	json_string(j, "file", d->name);
	json_int(j, "pid", d->obs->pid);
	json_string(j, "comm", d->obs->comm);
	json_double(j, "span_s", span_of(d->obs));
	json_uint(j, "samples", d->obs->nsamples);
	json_string(j, "verdict", verdict_name(d->verdict->kind));
	json_string(j, "reason", d->verdict->reason);
	json_object_end(j);
}

void compare_print_json(FILE *out, const struct compare_report *r)
{
	const struct compare *c = r->compare;
	struct json j;

	json_init(&j, out, true);
	json_object_begin(&j, NULL);
	json_int(&j, "schema", 1);
	side_json(&j, "before", &r->before);
	side_json(&j, "after", &r->after);
	json_string(&j, "conclusion", c->conclusion);
	if (c->worked < 0)
		json_null(&j, "worked");
	else
		json_bool(&j, "worked", c->worked);
	json_array_begin(&j, "figures");
	for (size_t i = 0; i < c->nfigures; i++) {
		json_object_begin(&j, NULL);
		json_string(&j, "name", c->figures[i].name);
		json_string(&j, "unit", c->figures[i].unit);
		json_double(&j, "before", c->figures[i].before);
		json_double(&j, "after", c->figures[i].after);
		json_double(&j, "change", compare_change(&c->figures[i]));
		json_object_end(&j);
	}
	json_array_end(&j);
	json_array_begin(&j, "settings");
	for (size_t i = 0; i < c->nsettings; i++) {
		const struct compare_setting *t = &c->settings[i];

		json_object_begin(&j, NULL);
		json_string(&j, "name", t->name);
		json_string(&j, "before", t->before[0] ? t->before : NULL);
		json_string(&j, "after", t->after[0] ? t->after : NULL);
		json_string(&j, "aim", t->aim);
		json_int(&j, "direction", t->direction);
		json_bool(&j, "moved", t->moved);
		json_bool(&j, "wrong_way", t->wrong_way);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}
