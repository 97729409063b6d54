/* Recordings of real runs (fixtures/observations/, made by `make
 * recordings`) judged with `triage --from`: each shape with its verdict and
 * the evidence that decides it; a recording cut in half, one from a newer
 * format; `compare` on a before/after pair; `plot` drawn and rendered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "model/thin.h"
#include "testlib.h"

#define OBS(name) HEAPDOC_ROOT "/fixtures/observations/" name ".jsonl"

static char out[1 << 20], err[8192];

struct shape {
	const char *name;
	int exit;		/* the verdict's exit code */
	const char *verdict;
	const char *evidence[3];	/* in the reason or the evidence */
};

static const struct shape shapes[] = {
	{ "glibc-cache-leak", 10, "leak", { "allocated's floor rises", "each cycle frees less",
					    "over the 40 s window" } },
	{ "glibc-cache", 0, "healthy", { "a working set that comes and goes",
					 "a release would be undone within a cycle",
					 "every ~2.0 s" } },
	{ "glibc-plateau", 0, "healthy", { "levelled off at", "allocated ≈ resident and stable" } },
	{ "glibc-leak-35s", 10, "leak", { "allocated climbs without bound", "over the 35 s window",
					  "its last 11 s too" } },
	{ "glibc-outside", 14, "inconclusive", { "RSS climbs", "outside the allocator's view",
						 "other anonymous memory" } },
	{ "glibc-creep", 11, "fragmentation", { "held free", "free space between live chunks",
						"the 20 s window" } },
	{ "glibc-top", 12, "unpurged", { "whole free pages the allocator has not returned" } },
	{ "glibc-top-trimmed", 0, "healthy", { "allocated ≈ resident" } },
};

START_TEST(each_shape_is_judged_from_its_recording)
{
	const struct shape *s = &shapes[_i];
	const char *args[] = { "triage", "--from", OBS("x"), "--json", NULL };
	char path[512], want[64];
	int rc;

	snprintf(path, sizeof(path), "%s/fixtures/observations/%s.jsonl", HEAPDOC_ROOT, s->name);
	args[2] = path;
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	snprintf(want, sizeof(want), "\"verdict\": \"%s\"", s->verdict);
	ck_assert_msg(rc == s->exit && strstr(out, want), "%s: exit %d, %.600s", s->name, rc,
		      strstr(out, "\"verdict\""));
	for (int i = 0; i < 3 && s->evidence[i]; i++)
		ck_assert_msg(strstr(out, s->evidence[i]), "%s: no \"%s\" in %.2000s", s->name,
			      s->evidence[i], strstr(out, "\"reason\""));
	ck_assert_ptr_null(strstr(err, "cut short"));
}
END_TEST

/* A recording whose last line was cut in half (heapdoc killed mid-write):
 * judged up to the cut, and said so. */
START_TEST(a_cut_recording_is_judged_up_to_the_cut)
{
	char src[1 << 16], path[256];
	const char *args[] = { "triage", "--from", path, NULL };
	size_t len;
	FILE *f;
	int rc;

	ck_assert_int_eq(slurp(OBS("glibc-leak-35s"), src, sizeof(src)), 0);
	len = strlen(src);
	/* Drop the end line, and cut the state line in half. */
	*strstr(src, "{\"type\":\"end\"") = '\0';
	len = strlen(src) - 1;
	while (len && src[len - 1] != '\n')
		len--;
	len += 40;
	snprintf(path, sizeof(path), "/tmp/heapdoc-test-%d-cut.jsonl", (int)getpid());
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fwrite(src, 1, len, f);
	fclose(f);
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	unlink(path);
	ck_assert_msg(rc == 10, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(err, "was cut short in its last line; judging the 71 samples"), "%s",
		      err);
	ck_assert_msg(strstr(out, "ended: unfinished: the recording stops after 35 s"), "%s",
		      out);
}
END_TEST

/* A recording from a newer format: refused, with what to do. */
START_TEST(a_newer_format_is_refused)
{
	char path[256];
	const char *args[] = { "triage", "--from", path, NULL };
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "/tmp/heapdoc-test-%d-v9.jsonl", (int)getpid());
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"type\":\"header\",\"format\":\"heapdoc-recording\",\"version\":9,"
	      "\"heapdoc\":\"9.0\"}\n{\"type\":\"sample\",\"t\":0}\n", f);
	fclose(f);
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	unlink(path);
	ck_assert_int_eq(rc, 5);
	ck_assert_msg(strstr(err, "format version 9 (written by heapdoc 9.0)") &&
		      strstr(err, "use a newer heapdoc"), "%s", err);
}
END_TEST

/* Before and after MALLOC_TRIM_THRESHOLD_: the setting is named, and the
 * number it is for (free pages not returned) went down. */
START_TEST(compare_says_whether_the_knob_moved_its_number)
{
	const char *args[] = { "compare", OBS("glibc-top"), OBS("glibc-top-trimmed"), NULL };
	const char *json[] = { "compare", "--json", OBS("glibc-top"), OBS("glibc-top-trimmed"),
			       NULL };
	const char *none[] = { "compare", "--json", OBS("glibc-cache"), OBS("glibc-cache-leak"),
			       NULL };
	int rc;

	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_msg(strstr(out, "MALLOC_TRIM_THRESHOLD_ (unset → 131072) is there to lower "
			      "whole free pages not returned: 64 MiB → 0 B (-100%): it did"),
		      "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "unpurged        healthy"));
	rc = run_heapdoc(json, out, sizeof(out), err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(out, "\"worked\": true"));
	ck_assert_ptr_nonnull(strstr(out, "\"name\": \"MALLOC_TRIM_THRESHOLD_\""));
	/* No setting differs: no verdict on a knob, the figures instead. */
	rc = run_heapdoc(none, out, sizeof(out), err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(out, "\"worked\": null"));
	ck_assert_ptr_nonnull(strstr(out, "no allocator setting differs"));
}
END_TEST

/* ---- plot ------------------------------------------------------------------ */

/* A PNG as rsvg-convert writes it (8-bit RGB or RGBA, not interlaced),
 * decoded far enough to count pixels: its IDAT inflated, each row's filter
 * undone. */
struct image {
	unsigned w, h, bpp;
	unsigned char *px;	/* rows of w * bpp bytes */
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

	return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

static void unfilter(struct image *im, const unsigned char *raw)
{
	size_t stride = (size_t)im->w * im->bpp;

	for (unsigned y = 0; y < im->h; y++) {
		const unsigned char *in = raw + y * (stride + 1) + 1;
		unsigned char *row = im->px + y * stride, *up = y ? row - stride : NULL;
		int type = raw[y * (stride + 1)];

		for (size_t x = 0; x < stride; x++) {
			int a = x >= im->bpp ? row[x - im->bpp] : 0, b = up ? up[x] : 0;
			int c = up && x >= im->bpp ? up[x - im->bpp] : 0;
			int pred = type == 1 ? a : type == 2 ? b : type == 3 ? (a + b) / 2 :
				   type == 4 ? paeth(a, b, c) : 0;

			row[x] = (unsigned char)(in[x] + pred);
		}
	}
}

static void png_read(const char *path, struct image *im)
{
	static unsigned char file[4 << 20], idat[4 << 20];
	size_t n, len = 0;
	uLongf raw_len;
	unsigned char *raw;
	FILE *f = fopen(path, "rb");

	ck_assert_ptr_nonnull(f);
	n = fread(file, 1, sizeof(file), f);
	fclose(f);
	ck_assert(n > 33 && !memcmp(file, "\x89PNG\r\n\x1a\n", 8));
	im->w = be32(file + 16);
	im->h = be32(file + 20);
	ck_assert_msg(file[24] == 8 && (file[25] == 2 || file[25] == 6) && file[28] == 0,
		      "depth %d colour %d interlace %d", file[24], file[25], file[28]);
	im->bpp = file[25] == 6 ? 4 : 3;
	for (size_t p = 8; p + 12 <= n;) {
		uint32_t clen = be32(file + p);

		if (!memcmp(file + p + 4, "IDAT", 4)) {
			ck_assert(len + clen <= sizeof(idat));
			memcpy(idat + len, file + p + 8, clen);
			len += clen;
		}
		p += 12 + clen;
	}
	raw_len = (uLongf)im->h * ((uLongf)im->w * im->bpp + 1);
	raw = malloc(raw_len);
	im->px = malloc((size_t)im->w * im->h * im->bpp);
	ck_assert(raw && im->px);
	ck_assert_int_eq(uncompress(raw, &raw_len, idat, len), Z_OK);
	unfilter(im, raw);
	free(raw);
}

/* Pixels within 40 of colour rgb (each channel). */
static size_t count_color(const struct image *im, unsigned rgb)
{
	size_t n = 0;

	for (size_t i = 0; i < (size_t)im->w * im->h; i++) {
		const unsigned char *p = im->px + i * im->bpp;

		n += abs(p[0] - (int)(rgb >> 16)) < 40 && abs(p[1] - (int)(rgb >> 8 & 255)) < 40 &&
		     abs(p[2] - (int)(rgb & 255)) < 40;
	}
	return n;
}

static int run(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Two recordings overlaid: well-formed SVG, each verdict written in it,
 * the mark where resident and allocated part ways for the recording
 * whose gap opened; rendered (librsvg), each recording's colour is drawn. */
START_TEST(plot_draws_and_renders)
{
	char svg[256], png[256], cmd[1024];
	const char *args[] = { "plot", "-o", svg, OBS("glibc-cache-leak"), OBS("glibc-creep"),
			       OBS("glibc-cache"), NULL };
	struct image im;
	int rc;

	snprintf(svg, sizeof(svg), "/tmp/heapdoc-test-%d.svg", (int)getpid());
	snprintf(png, sizeof(png), "/tmp/heapdoc-test-%d.png", (int)getpid());
	rc = run_heapdoc(args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_int_eq(slurp(svg, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	ck_assert_ptr_nonnull(strstr(out, "cache-leak.jsonl (pid"));
	ck_assert_ptr_nonnull(strstr(out, "): leak</text>"));
	ck_assert_ptr_nonnull(strstr(out, "): fragmentation</text>"));
	ck_assert_ptr_nonnull(strstr(out, "): healthy</text>"));
	ck_assert_msg(strstr(out, "resident and allocated diverge at"), "no divergence mark");
	snprintf(cmd, sizeof(cmd), "xmllint --noout %s", svg);
	ck_assert_int_eq(run(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rsvg-convert -o %s %s", png, svg);
	ck_assert_int_eq(run(cmd), 0);
	png_read(png, &im);
	ck_assert_uint_eq(im.w, 960);
	/* The three recordings' colours (report/plot.c), drawn as lines. */
	ck_assert_uint_gt(count_color(&im, 0x1f77b4), 500);
	ck_assert_uint_gt(count_color(&im, 0xd62728), 500);
	ck_assert_uint_gt(count_color(&im, 0x2ca02c), 500);
	/* Mostly white: a chart, not a blot. */
	ck_assert_uint_gt(count_color(&im, 0xffffff), (size_t)im.w * im.h / 2);
	free(im.px);
	unlink(svg);
	unlink(png);
}
END_TEST

/* --json: what the picture says, for scripts. */
START_TEST(plot_json_says_where_the_lines_part)
{
	const char *args[] = { "plot", "--json", OBS("glibc-creep"), OBS("glibc-cache"), NULL };
	const char *cache, *found;

	ck_assert_int_eq(run_heapdoc(args, out, sizeof(out), err, sizeof(err)), 0);
	cache = strstr(out, "cache.jsonl");
	found = strstr(out, "\"found\": true");
	ck_assert(cache && found);
	/* creep parts (its fragmentation builds from 2 s on); the working set
	 * of cache opens and closes every cycle: no divergence. */
	ck_assert_ptr_nonnull(strstr(out, "\"verdict\": \"fragmentation\""));
	ck_assert_msg(found < cache, "%s", out);
	ck_assert_ptr_nonnull(strstr(cache, "\"found\": false"));
}
END_TEST

Suite *recordings_suite(void)
{
	Suite *s = suite_create("recordings");
	TCase *tc = tcase_create("from");

	tcase_add_loop_test(tc, each_shape_is_judged_from_its_recording, 0,
			    sizeof(shapes) / sizeof(shapes[0]));
	tcase_add_test(tc, a_cut_recording_is_judged_up_to_the_cut);
	tcase_add_test(tc, a_newer_format_is_refused);
	tcase_add_test(tc, compare_says_whether_the_knob_moved_its_number);
	tcase_add_test(tc, plot_draws_and_renders);
	tcase_add_test(tc, plot_json_says_where_the_lines_part);
	suite_add_tcase(s, tc);
	return s;
}
