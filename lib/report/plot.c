/* The plot as SVG (report/plot.h).
 *
 * One chart: bytes up, time across, from each recording's first sample.
 * Each recording has a colour; its RSS is a thick line, resident a dashed
 * one, allocated a thin one, so the gap between resident and allocated —
 * what the judge weighs — is the space between the dashed and the thin
 * line.  Below the chart, one line per recording with its verdict and its
 * reason.  Values the allocator could not give break their line.
 */
#include "report/plot.h"

#include <math.h>
#include <string.h>

#include "base/human.h"
#include "base/json.h"
#include "base/util.h"

#define W 960.0
#define PLOT_H 420.0
#define LEFT 84.0
#define RIGHT 24.0
#define TOP 56.0
#define AXIS_H 40.0		/* the time labels below the chart */
#define LEGEND_LINE 18.0

static const char *const colors[PLOT_MAX_LINES] = {
	"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
};

struct frame {
	double t_max, y_max;	/* what the axes reach */
};

/* Text for XML: &, <, > and quotes escaped. */
static void xml_text(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fputc(*s, out); break;
		}
	}
}

static double px_x(const struct frame *f, double t)
{
	return LEFT + (W - LEFT - RIGHT) * (f->t_max > 0 ? t / f->t_max : 0);
}

static double px_y(const struct frame *f, double bytes)
{
	return TOP + PLOT_H * (1 - (f->y_max > 0 ? bytes / f->y_max : 0));
}

/* A round step for an axis reaching top bytes in five steps: 1, 2 or 5
 * times a power of ten of KiB, MiB or GiB, so the labels read round. */
static double byte_step(double top)
{
	double unit = top >= 4.0 * (1 << 30) ? 1 << 30 : top >= 4.0 * (1 << 20) ? 1 << 20 : 1024;
	double x = top / 5 / unit, p = pow(10, floor(log10(x > 0 ? x : 1))), m = x / p;

	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p * unit;
}

/* 1, 2 or 5 times a power of ten, at or above x. */
static double nice(double x)
{
	double p = pow(10, floor(log10(x > 0 ? x : 1))), m = x / p;

	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static uint64_t value_of(const struct sample *s, int series)
{
	return series == 0 ? s->rss : series == 1 ? s->resident : s->allocated;
}

static void frame_for(const struct plot_line *lines, size_t n, struct frame *f)
{
	double top = 0;

	f->t_max = 0;
	for (size_t k = 0; k < n; k++) {
		const struct observation *o = lines[k].obs;

		for (size_t i = 0; i < o->nsamples; i++) {
			f->t_max = MAX(f->t_max, o->samples[i].t - o->samples[0].t);
			for (int s = 0; s < 3; s++)
				if (IS_SET(value_of(&o->samples[i], s)))
					top = MAX(top, (double)value_of(&o->samples[i], s));
		}
	}
	f->y_max = byte_step(top * 1.05) * 5;
	if (f->t_max <= 0)
		f->t_max = 1;
}

static void grid(FILE *out, const struct frame *f)
{
	double ystep = f->y_max / 5, tstep = nice(f->t_max / 8);
	char label[32];

	fprintf(out, "<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
	for (int i = 0; i <= 5; i++)
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", LEFT,
			px_y(f, i * ystep), W - RIGHT, px_y(f, i * ystep));
	fprintf(out, "</g>\n<g fill=\"#444444\" text-anchor=\"end\">\n");
	for (int i = 0; i <= 5; i++)
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", LEFT - 8,
			px_y(f, i * ystep) + 4, human_bytes(label, sizeof(label),
							    (uint64_t)(i * ystep)));
	fprintf(out, "</g>\n<g fill=\"#444444\" text-anchor=\"middle\">\n");
	for (double t = 0; t <= f->t_max * 1.0001; t += tstep)
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", px_x(f, t),
			TOP + PLOT_H + 20, human_seconds(label, sizeof(label), t));
	fprintf(out, "</g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		"fill=\"none\" stroke=\"#888888\"/>\n", LEFT, TOP, W - LEFT - RIGHT, PLOT_H);
}

/* One series of one recording; a sample without the figure breaks it. */
static void series(FILE *out, const struct frame *f, const struct observation *o, int which,
		   const char *style)
{
	bool open = false;

	for (size_t i = 0; i < o->nsamples; i++) {
		uint64_t v = value_of(&o->samples[i], which);

		if (!IS_SET(v)) {
			if (open)
				fprintf(out, "\"/>\n");
			open = false;
			continue;
		}
		if (!open)
			fprintf(out, "<polyline fill=\"none\" %s points=\"", style);
		fprintf(out, "%s%.1f,%.1f", open ? " " : "", px_x(f, o->samples[i].t - o->samples[0].t),
			px_y(f, (double)v));
		open = true;
	}
	if (open)
		fprintf(out, "\"/>\n");
}

static void divergence_mark(FILE *out, const struct frame *f, const struct plot_line *l,
			    size_t k)
{
	const char *color = colors[k];
	const struct divergence *d = &l->divergence;
	char when[24], then[32], end[32];
	double x;

	if (!d->found)
		return;
	x = px_x(f, d->t);
	fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
		"stroke-dasharray=\"2 4\"/>\n", x, TOP, x, TOP + PLOT_H, color);
	fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" text-anchor=\"%s\">%s and allocated "
		"diverge at %s: the gap %s, %s at the end</text>\n", x + (x > W / 2 ? -6 : 6),
		TOP + 16 + 14 * (double)k, color, x > W / 2 ? "end" : "start", d->upper,
		human_seconds(when, sizeof(when), d->t), human_bytes(then, sizeof(then), d->gap_then),
		human_bytes(end, sizeof(end), d->gap_end));
}

/* A reason in at most LEGEND_WRAP lines of LEGEND_CHARS, cut at spaces. */
#define LEGEND_CHARS 130
#define LEGEND_WRAP 2

static void wrapped(FILE *out, const char *text, double x, double y)
{
	char line[LEGEND_CHARS + 1];

	for (int k = 0; k < LEGEND_WRAP && *text; k++) {
		size_t len = strlen(text), cut = len;

		if (len > LEGEND_CHARS) {
			for (cut = LEGEND_CHARS; cut > 0 && text[cut] != ' '; cut--)
				;
			if (!cut || k == LEGEND_WRAP - 1)
				cut = LEGEND_CHARS;
		}
		snprintf(line, sizeof(line), "%.*s", (int)cut, text);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#444444\">", x,
			y + k * LEGEND_LINE * 0.9);
		xml_text(out, line);
		fprintf(out, "</text>\n");
		text += cut;
		while (*text == ' ')
			text++;
	}
}

static void legend(FILE *out, const struct plot_line *lines, size_t n, double y)
{
	fprintf(out, "<g fill=\"#222222\">\n<text x=\"%.1f\" y=\"%.1f\">RSS</text>\n"
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#222222\" "
		"stroke-width=\"2.5\"/>\n<text x=\"%.1f\" y=\"%.1f\">resident</text>\n"
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#222222\" "
		"stroke-width=\"1.8\" stroke-dasharray=\"7 4\"/>\n<text x=\"%.1f\" y=\"%.1f\">"
		"allocated</text>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		"stroke=\"#222222\" stroke-width=\"1\"/>\n</g>\n",
		LEFT, y, LEFT + 32, y - 4, LEFT + 62, y - 4, LEFT + 80, y, LEFT + 140, y - 4,
		LEFT + 170, y - 4, LEFT + 188, y, LEFT + 252, y - 4, LEFT + 282, y - 4);
	for (size_t k = 0; k < n; k++) {
		const struct verdict *v = lines[k].verdict;
		double ly = y + LEGEND_LINE * (3 * k + 1.5);

		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n",
			LEFT, ly - 10, colors[k]);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">", LEFT + 18, ly);
		xml_text(out, lines[k].name);
		fprintf(out, " (pid %d, ", (int)lines[k].obs->pid);
		xml_text(out, lines[k].obs->comm);
		fprintf(out, "): %s</text>\n", verdict_name(v->kind));
		wrapped(out, v->reason, LEFT + 18, ly + LEGEND_LINE * 0.9);
	}
}

void plot_print_svg(FILE *out, const struct plot_line *lines, size_t n)
{
	struct frame f;
	double h = TOP + PLOT_H + AXIS_H + LEGEND_LINE * (3 * MIN(n, (size_t)PLOT_MAX_LINES) + 2);

	n = MIN(n, (size_t)PLOT_MAX_LINES);
	frame_for(lines, n, &f);
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
		"font-size=\"12\">\n<title>heapdoc plot: RSS, resident and allocated</title>\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n", W, h, W, h);
	fprintf(out, "<text x=\"%.1f\" y=\"28\" font-size=\"16\" font-weight=\"bold\">"
		"RSS, resident and allocated against time</text>\n", LEFT);
	grid(out, &f);
	for (size_t k = 0; k < n; k++) {
		fprintf(out, "<g stroke=\"%s\">\n", colors[k]);
		series(out, &f, lines[k].obs, 0, "stroke-width=\"2.5\"");
		series(out, &f, lines[k].obs, 1, "stroke-width=\"1.8\" stroke-dasharray=\"7 4\"");
		series(out, &f, lines[k].obs, 2, "stroke-width=\"1\"");
		fprintf(out, "</g>\n");
		divergence_mark(out, &f, &lines[k], k);
	}
	legend(out, lines, n, TOP + PLOT_H + AXIS_H);
	fprintf(out, "</svg>\n");
}

void plot_print_json(FILE *out, const struct plot_line *lines, size_t n)
{
	struct json j;

	json_init(&j, out, true);
	json_object_begin(&j, NULL);
	json_int(&j, "schema", 1);
	json_array_begin(&j, "recordings");
	for (size_t k = 0; k < n; k++) {
		const struct divergence *d = &lines[k].divergence;

		json_object_begin(&j, NULL);
		json_string(&j, "file", lines[k].name);
		json_int(&j, "pid", lines[k].obs->pid);
		json_uint(&j, "samples", lines[k].obs->nsamples);
		json_string(&j, "verdict", verdict_name(lines[k].verdict->kind));
		json_string(&j, "reason", lines[k].verdict->reason);
		json_object_begin(&j, "divergence");
		json_bool(&j, "found", d->found);
		json_double(&j, "at_s", d->found ? d->t : NAN);
		json_uint(&j, "gap_then", d->found ? d->gap_then : UNSET);
		json_uint(&j, "gap_end", d->found ? d->gap_end : UNSET);
		json_string(&j, "upper", d->upper);
		json_object_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}
