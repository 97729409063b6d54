/* The JSON reader (json.h): a recursive descent over RFC 8259, bounded in
 * depth, that builds a tree of malloc'd nodes. */
#include "base/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

struct parser {
	const char *s, *p, *end;
	int depth;
	struct error *err;
};

__attribute__((format(printf, 2, 3)))
static int parse_error(struct parser *ps, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return error_set(ps->err, -EIO, "column %zu: %s", (size_t)(ps->p - ps->s) + 1, what);
}

static void skip_blanks(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool take(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return false;
	ps->p += n;
	return true;
}

static struct json_value *new_value(enum json_type type)
{
	struct json_value *v = calloc(1, sizeof(*v));

	if (v)
		v->type = type;
	return v;
}

static void append(struct json_value *parent, struct json_value *child)
{
	if (parent->last)
		parent->last->next = child;
	else
		parent->first = child;
	parent->last = child;
	parent->n++;
}

static int hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return parse_error(ps, "a \\u escape needs four hex digits");
	for (int i = 0; i < 4; i++) {
		char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return parse_error(ps, "'%c' is not a hex digit", c);
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* \uXXXX, with a surrogate pair read as one code point; p is past the 'u'. */
static int unicode_escape(struct parser *ps, unsigned *cp)
{
	unsigned lo;
	int ret = hex4(ps, cp);

	if (ret < 0 || *cp < 0xd800 || *cp > 0xdfff)
		return ret;
	if (*cp > 0xdbff || !take(ps, "\\u"))
		return parse_error(ps, "a lone UTF-16 surrogate");
	ret = hex4(ps, &lo);
	if (ret < 0)
		return ret;
	if (lo < 0xdc00 || lo > 0xdfff)
		return parse_error(ps, "a lone UTF-16 surrogate");
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

static int escape(struct parser *ps, char *o, size_t *n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	unsigned cp;
	int ret;

	if (ps->p >= ps->end)
		return parse_error(ps, "the string does not end");
	if (*ps->p == 'u') {
		ps->p++;
		ret = unicode_escape(ps, &cp);
		if (ret < 0)
			return ret;
		*n += put_utf8(o + *n, cp);
		return 0;
	}
	hit = memchr(from, *ps->p, sizeof(from) - 1);
	if (!hit)
		return parse_error(ps, "'\\%c' is not an escape", *ps->p);
	o[(*n)++] = to[hit - from];
	ps->p++;
	return 0;
}

/* A string; p is on its opening quote.  The decoded form is never longer
 * than the source (an escape of 6 bytes gives at most 3, a pair of 12 at
 * most 4). */
static int parse_string(struct parser *ps, char **out)
{
	const char *start = ++ps->p;
	size_t n = 0;
	char *o;
	int ret;

	while (ps->p < ps->end && *ps->p != '"')
		ps->p += *ps->p == '\\' && ps->p + 1 < ps->end ? 2 : 1;
	if (ps->p >= ps->end)
		return parse_error(ps, "the string does not end");
	o = malloc((size_t)(ps->p - start) + 1);
	if (!o)
		return error_set(ps->err, -ENOMEM, "out of memory");
	for (ps->p = start; *ps->p != '"'; ) {
		unsigned char c = (unsigned char)*ps->p;

		if (c < 0x20) {
			free(o);
			return parse_error(ps, "a control character inside a string");
		}
		if (c != '\\') {
			o[n++] = *ps->p++;
			continue;
		}
		ps->p++;
		ret = escape(ps, o, &n);
		if (ret < 0) {
			free(o);
			return ret;
		}
	}
	ps->p++;
	o[n] = '\0';
	*out = o;
	return 0;
}

static size_t digits(struct parser *ps)
{
	const char *from = ps->p;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		ps->p++;
	return (size_t)(ps->p - from);
}

static int parse_number(struct parser *ps, struct json_value *v)
{
	const char *start = ps->p;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (!digits(ps))
		return parse_error(ps, "not a value");
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (!digits(ps))
			return parse_error(ps, "a digit must follow the decimal point");
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!digits(ps))
			return parse_error(ps, "a digit must follow the exponent");
	}
	v->text = strndup(start, (size_t)(ps->p - start));
	return v->text ? 0 : error_set(ps->err, -ENOMEM, "out of memory");
}

static int parse_value(struct parser *ps, struct json_value **out);

/* The members of an object or the elements of an array; p is past the
 * opening bracket. */
static int parse_children(struct parser *ps, struct json_value *parent, char close)
{
	bool object = close == '}';
	struct json_value *child;
	char *key = NULL;
	int ret;

	skip_blanks(ps);
	if (take(ps, close == '}' ? "}" : "]"))
		return 0;
	for (;;) {
		skip_blanks(ps);
		if (object) {
			if (ps->p >= ps->end || *ps->p != '"')
				return parse_error(ps, "a member's name must be a string");
			ret = parse_string(ps, &key);
			if (ret < 0)
				return ret;
			skip_blanks(ps);
			if (!take(ps, ":")) {
				free(key);
				return parse_error(ps, "':' must follow a member's name");
			}
		}
		ret = parse_value(ps, &child);
		if (ret < 0) {
			free(key);
			return ret;
		}
		child->key = key;
		key = NULL;
		append(parent, child);
		skip_blanks(ps);
		if (take(ps, ","))
			continue;
		if (take(ps, close == '}' ? "}" : "]"))
			return 0;
		return parse_error(ps, "',' or '%c' expected", close);
	}
}

static int parse_container(struct parser *ps, struct json_value *v, char close)
{
	int ret;

	if (++ps->depth > JSON_MAX_DEPTH)
		return parse_error(ps, "nested deeper than %d", JSON_MAX_DEPTH);
	ps->p++;
	ret = parse_children(ps, v, close);
	ps->depth--;
	return ret;
}

static int parse_value(struct parser *ps, struct json_value **out)
{
	static const enum json_type types[] = { ['{'] = JSON_OBJECT, ['['] = JSON_ARRAY,
						['"'] = JSON_STRING, ['t'] = JSON_BOOL,
						['f'] = JSON_BOOL, ['n'] = JSON_NULL };
	unsigned char c;
	struct json_value *v;
	int ret = 0;

	skip_blanks(ps);
	if (ps->p >= ps->end)
		return parse_error(ps, "a value is missing");
	c = (unsigned char)*ps->p;
	v = new_value(c < ARRAY_SIZE(types) && (c == 'n' || types[c]) ? types[c] : JSON_NUMBER);
	if (!v)
		return error_set(ps->err, -ENOMEM, "out of memory");
	if (c == '{' || c == '[')
		ret = parse_container(ps, v, c == '{' ? '}' : ']');
	else if (c == '"')
		ret = parse_string(ps, &v->text);
	else if (take(ps, "true") || take(ps, "false"))
		v->boolean = c == 't';
	else if (!take(ps, "null"))
		ret = parse_number(ps, v);
	if (ret < 0) {
		json_free(v);
		return ret;
	}
	*out = v;
	return 0;
}

int json_parse(const char *text, size_t len, struct json_value **out, struct error *err)
{
	struct parser ps = { .s = text, .p = text, .end = text + len, .err = err };
	struct json_value *v;
	int ret;

	*out = NULL;
	ret = parse_value(&ps, &v);
	if (ret < 0)
		return ret;
	skip_blanks(&ps);
	if (ps.p != ps.end) {
		json_free(v);
		return parse_error(&ps, "text after the value");
	}
	*out = v;
	return 0;
}

void json_free(struct json_value *v)
{
	while (v) {
		struct json_value *next = v->next;

		json_free(v->first);
		free(v->key);
		free(v->text);
		free(v);
		v = next;
	}
}

const struct json_value *json_member(const struct json_value *v, const char *key)
{
	if (!v || v->type != JSON_OBJECT)
		return NULL;
	for (const struct json_value *c = v->first; c; c = c->next)
		if (!strcmp(c->key, key))
			return c;
	return NULL;
}

const struct json_value *json_element(const struct json_value *v, size_t i)
{
	const struct json_value *c;

	if (!v || v->type != JSON_ARRAY)
		return NULL;
	for (c = v->first; c && i; c = c->next)
		i--;
	return c;
}

const struct json_value *json_find(const struct json_value *v, const char *path)
{
	char key[128];

	while (v && *path) {
		if (*path == '[') {
			char *end;
			unsigned long i = strtoul(path + 1, &end, 10);

			if (end == path + 1 || *end != ']')
				return NULL;
			v = json_element(v, i);
			path = end + 1;
		} else {
			size_t n = strcspn(path, ".[");

			if (n >= sizeof(key))
				return NULL;
			memcpy(key, path, n);
			key[n] = '\0';
			v = json_member(v, key);
			path += n;
		}
		if (*path == '.')
			path++;
	}
	return v;
}

/* A number written without fraction or exponent. */
static bool integral(const struct json_value *v)
{
	return v && v->type == JSON_NUMBER && !strpbrk(v->text, ".eE");
}

bool json_get_u64(const struct json_value *v, uint64_t *out)
{
	char *end;

	if (v && v->type == JSON_NULL) {
		*out = UNSET;
		return true;
	}
	if (!integral(v) || v->text[0] == '-')
		return false;
	errno = 0;
	*out = strtoull(v->text, &end, 10);
	return !errno && !*end;
}

bool json_get_i64(const struct json_value *v, int64_t *out)
{
	char *end;

	if (!integral(v))
		return false;
	errno = 0;
	*out = strtoll(v->text, &end, 10);
	return !errno && !*end;
}

bool json_get_double(const struct json_value *v, double *out)
{
	if (v && v->type == JSON_NULL) {
		*out = NAN;
		return true;
	}
	if (!v || v->type != JSON_NUMBER)
		return false;
	*out = strtod(v->text, NULL);
	return true;
}

bool json_get_bool(const struct json_value *v, bool *out)
{
	if (!v || v->type != JSON_BOOL)
		return false;
	*out = v->boolean;
	return true;
}

const char *json_get_string(const struct json_value *v)
{
	return v && v->type == JSON_STRING ? v->text : NULL;
}
