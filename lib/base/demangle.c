/* A small Itanium C++ ABI demangler for class names (demangle.h).
 *
 * Recursive descent over the grammar's <type> subset that names classes.
 * The output only ever grows, so a substitution candidate (a name prefix, a
 * template, a qualified or pointer type: the ABI's list, in its order) is
 * kept as the range of output it printed, and S_, S0_, ... copy that range
 * again.  Every step checks its input and its room; any failure refuses
 * the whole name. */
#include "base/demangle.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define DM_MAX_SUBS	64
#define DM_MAX_DEPTH	32

struct dm {
	const char *p;			/* next input character */
	char *out;
	size_t len, n;			/* room, used (without the NUL) */
	bool bad;
	unsigned depth;
	struct { size_t from, to; } subs[DM_MAX_SUBS];
	size_t nsubs;
};

static bool dm_type(struct dm *d);

static bool dm_fail(struct dm *d)
{
	d->bad = true;
	return false;
}

static bool dm_put(struct dm *d, const char *s, size_t k)
{
	if (d->bad || d->n + k >= d->len)
		return dm_fail(d);
	memcpy(d->out + d->n, s, k);
	d->n += k;
	d->out[d->n] = '\0';
	return true;
}

static bool dm_puts(struct dm *d, const char *s)
{
	return dm_put(d, s, strlen(s));
}

/* Output [from, n) becomes the next substitution candidate. */
static bool dm_candidate(struct dm *d, size_t from)
{
	if (d->nsubs == DM_MAX_SUBS)
		return dm_fail(d);
	d->subs[d->nsubs].from = from;
	d->subs[d->nsubs].to = d->n;
	d->nsubs++;
	return true;
}

/* <number>: decimal digits, at most 9 of them. */
static bool dm_number(struct dm *d, size_t *v)
{
	size_t k = 0;

	*v = 0;
	while (isdigit((unsigned char)*d->p) && k++ < 9)
		*v = *v * 10 + (size_t)(*d->p++ - '0');
	return k > 0 && k <= 9 ? true : dm_fail(d);
}

/* <source-name> ::= <length> <identifier> */
static bool dm_source_name(struct dm *d)
{
	static const char anon[] = "_GLOBAL__N";
	size_t k;

	if (!dm_number(d, &k) || k == 0 || strnlen(d->p, k) < k)
		return dm_fail(d);
	for (size_t i = 0; i < k; i++)
		if (!isalnum((unsigned char)d->p[i]) && d->p[i] != '_' && d->p[i] != '$')
			return dm_fail(d);
	if (k >= sizeof(anon) - 1 && !strncmp(d->p, anon, sizeof(anon) - 1))
		dm_puts(d, "(anonymous namespace)");
	else
		dm_put(d, d->p, k);
	d->p += k;
	return !d->bad;
}

/* The standard abbreviations (not candidates themselves), spelled out as
 * c++filt spells them in a type. */
static const char *dm_std_abbrev(char c)
{
	switch (c) {
	case 'a': return "std::allocator";
	case 'b': return "std::basic_string";
	case 's': return "std::basic_string<char, std::char_traits<char>, std::allocator<char> >";
	case 'i': return "std::basic_istream<char, std::char_traits<char> >";
	case 'o': return "std::basic_ostream<char, std::char_traits<char> >";
	case 'd': return "std::basic_iostream<char, std::char_traits<char> >";
	default: return NULL;
	}
}

/* <substitution> after its 'S' (St is handled by the caller). */
static bool dm_substitution(struct dm *d)
{
	const char *abbrev = dm_std_abbrev(*d->p);
	size_t seq = 0, from, to;

	if (abbrev) {
		d->p++;
		return dm_puts(d, abbrev);
	}
	if (*d->p != '_') {	/* <seq-id>: base 36, digits and capitals */
		for (; isdigit((unsigned char)*d->p) || isupper((unsigned char)*d->p); d->p++) {
			if (seq > DM_MAX_SUBS)
				return dm_fail(d);
			seq = seq * 36 + (size_t)(isdigit((unsigned char)*d->p) ? *d->p - '0'
							      : *d->p - 'A' + 10);
		}
		seq++;
	}
	if (*d->p != '_' || seq >= d->nsubs)
		return dm_fail(d);
	d->p++;
	from = d->subs[seq].from;
	to = d->subs[seq].to;
	if (d->n + (to - from) >= d->len)
		return dm_fail(d);
	memmove(d->out + d->n, d->out + from, to - from);	/* out only grows */
	d->n += to - from;
	d->out[d->n] = '\0';
	return true;
}

/* <template-arg> L <type> <value> E, after its L: the integer kinds c++filt
 * spells with a suffix, bool, and enumerators. */
static bool dm_literal(struct dm *d)
{
	static const struct { char code; const char *suffix; } kinds[] = {
		{ 'i', "" }, { 'j', "u" }, { 'l', "l" }, { 'm', "ul" },
		{ 'x', "ll" }, { 'y', "ull" },
	};
	char kind = *d->p, digits[24];
	bool neg, is_enum = *d->p == 'N' || *d->p == 'S' || isdigit((unsigned char)*d->p);
	size_t k = 0;

	if (!kind)
		return dm_fail(d);
	/* An enumerator: "(ns::Enum)2". */
	if (is_enum && !(dm_puts(d, "(") && dm_type(d) && dm_puts(d, ")")))
		return false;
	d->p += !is_enum;
	neg = *d->p == 'n';
	d->p += neg;
	while (isdigit((unsigned char)*d->p) && k + 1 < sizeof(digits))
		digits[k++] = *d->p++;
	digits[k] = '\0';
	if (!k || *d->p != 'E')	/* never step past the end */
		return dm_fail(d);
	d->p++;
	if (is_enum)
		return (!neg || dm_puts(d, "-")) && dm_puts(d, digits);
	if (kind == 'b' && !neg && (!strcmp(digits, "0") || !strcmp(digits, "1")))
		return dm_puts(d, digits[0] == '1' ? "true" : "false");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].code == kind)
			return (!neg || dm_puts(d, "-")) && dm_puts(d, digits) &&
			       dm_puts(d, kinds[i].suffix);
	return dm_fail(d);
}

/* One <template-arg>: a literal, a pack (J <arg>* E, its members listed
 * in line), or a type.  *first: nothing printed in the list yet. */
static bool dm_template_arg(struct dm *d, bool *first)
{
	if (*d->p == 'J') {
		for (d->p++; *d->p != 'E';)
			if (!*d->p || !dm_template_arg(d, first))
				return dm_fail(d);
		d->p++;
		return true;
	}
	if (!*first && !dm_puts(d, ", "))
		return false;
	*first = false;
	if (*d->p == 'L') {
		d->p++;
		return dm_literal(d);
	}
	return dm_type(d);
}

/* <template-args> ::= I <template-arg>+ E, printed "<a, b>" ("> >" when
 * the last argument ends with '>', as c++filt does; not after an empty
 * pack). */
static bool dm_template_args(struct dm *d)
{
	bool first = true;
	size_t last = 0;
	unsigned nargs = 0;

	d->p++;		/* I */
	if (!dm_puts(d, "<"))
		return false;
	while (*d->p != 'E') {
		last = d->n;
		if (!*d->p || !dm_template_arg(d, &first))
			return dm_fail(d);
		nargs++;
	}
	d->p++;
	if (!nargs)
		return dm_fail(d);
	return dm_puts(d, d->n > last && d->out[d->n - 1] == '>' ? " >" : ">");
}

/* <nested-name> ::= N [<CV-qualifiers>] <prefix> <unqualified-name> E:
 * every prefix is a candidate; the whole name is the caller's. */
static bool dm_nested(struct dm *d)
{
	size_t from = d->n;
	bool first = true;

	d->p++;		/* N */
	while (*d->p == 'r' || *d->p == 'V' || *d->p == 'K')
		d->p++;	/* a member function's qualifiers: not in a class name */
	while (*d->p != 'E') {
		if (*d->p == 'I') {
			if (first || !dm_template_args(d))
				return dm_fail(d);
		} else if (first && d->p[0] == 'S' && d->p[1] == 't') {
			d->p += 2;
			if (!dm_puts(d, "std::") || !dm_source_name(d))
				return false;
		} else if (first && *d->p == 'S') {
			d->p++;
			if (!dm_substitution(d))
				return false;
			first = false;
			continue;	/* already a candidate */
		} else if (isdigit((unsigned char)*d->p)) {
			if ((!first && !dm_puts(d, "::")) || !dm_source_name(d))
				return false;
		} else {
			return dm_fail(d);
		}
		first = false;
		if (*d->p != 'E' && !dm_candidate(d, from))
			return false;
	}
	d->p++;
	return !first;
}

/* A class type: nested, std::, substituted or plain, perhaps a template.
 * *fresh: it is a new candidate (not a bare substitution). */
static bool dm_class(struct dm *d, size_t from, bool *fresh)
{
	*fresh = true;
	if (*d->p == 'N')
		return dm_nested(d);
	if (d->p[0] == 'S' && d->p[1] == 't') {
		d->p += 2;
		if (!dm_puts(d, "std::") || !dm_source_name(d))
			return false;
	} else if (*d->p == 'S') {
		/* A bare substitution is no new candidate; a template
		 * instance of one is. */
		d->p++;
		if (!dm_substitution(d))
			return false;
		*fresh = *d->p == 'I';
		return !*fresh || dm_template_args(d);
	} else if (!dm_source_name(d)) {
		return false;
	}
	if (*d->p != 'I')
		return true;
	/* An unscoped template: its name is a candidate before its args. */
	return dm_candidate(d, from) && dm_template_args(d);
}

static const char *dm_builtin(const char **p)
{
	static const char *const one[26] = {
		['a' - 'a'] = "signed char", ['b' - 'a'] = "bool", ['c' - 'a'] = "char",
		['d' - 'a'] = "double", ['e' - 'a'] = "long double", ['f' - 'a'] = "float",
		['g' - 'a'] = "__float128", ['h' - 'a'] = "unsigned char", ['i' - 'a'] = "int",
		['j' - 'a'] = "unsigned int", ['l' - 'a'] = "long", ['m' - 'a'] = "unsigned long",
		['n' - 'a'] = "__int128", ['o' - 'a'] = "unsigned __int128",
		['s' - 'a'] = "short", ['t' - 'a'] = "unsigned short", ['v' - 'a'] = "void",
		['w' - 'a'] = "wchar_t", ['x' - 'a'] = "long long",
		['y' - 'a'] = "unsigned long long",
	};
	const char *c = *p;

	if (c[0] == 'D') {
		const char *s = c[1] == 's' ? "char16_t" : c[1] == 'i' ? "char32_t" :
				c[1] == 'u' ? "char8_t" : c[1] == 'n' ? "decltype(nullptr)" : NULL;
		if (s)
			*p += 2;
		return s;
	}
	if (c[0] >= 'a' && c[0] <= 'z' && one[c[0] - 'a']) {
		(*p)++;
		return one[c[0] - 'a'];
	}
	return NULL;
}

/* <type>, for the kinds a class name's template arguments take. */
static bool dm_type(struct dm *d)
{
	size_t from = d->n;
	const char *builtin, *suffix = NULL;
	bool ok, fresh = true;

	if (++d->depth > DM_MAX_DEPTH)
		return dm_fail(d);
	if ((builtin = dm_builtin(&d->p))) {
		d->depth--;
		return dm_puts(d, builtin);
	}
	switch (*d->p) {
	case 'P': suffix = "*"; break;
	case 'R': suffix = "&"; break;
	case 'O': suffix = "&&"; break;
	case 'K': suffix = " const"; break;
	case 'V': suffix = " volatile"; break;
	}
	if (suffix) {
		d->p++;
		ok = dm_type(d) && dm_puts(d, suffix);
	} else if (*d->p == 'N' || *d->p == 'S' || isdigit((unsigned char)*d->p)) {
		ok = dm_class(d, from, &fresh);
	} else {
		ok = dm_fail(d);
	}
	d->depth--;
	return ok && (!fresh || dm_candidate(d, from));
}

bool demangle_vtable(const char *symbol, char *out, size_t len)
{
	struct dm d = { .p = symbol, .out = out, .len = len };

	if (!len)
		return false;
	out[0] = '\0';
	if (strncmp(symbol, "_ZTV", 4) != 0) {
		d.bad = true;
	} else {
		d.p += 4;
		dm_type(&d);
		if (!d.bad && *d.p)	/* something after the type */
			d.bad = true;
	}
	if (d.bad)
		out[0] = '\0';
	return !d.bad;
}
