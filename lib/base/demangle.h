/* The class a C++ vtable symbol belongs to, readable: "_ZTVN3app7SessionE"
 * is app::Session's vtable.  A small demangler of the Itanium C++ ABI's
 * names for the cases class names take (heapdoc links no C++ runtime):
 *
 *	_ZTV3Foo			Foo
 *	_ZTVN3app3net7SessionE		app::net::Session	(nested)
 *	_ZTVSt13runtime_error		std::runtime_error	(St)
 *	_ZTVN12_GLOBAL__N_14ImplE	(anonymous namespace)::Impl
 *	_ZTV3BoxIiE			Box<int>		(templates: builtin
 *	_ZTVN3app3BoxIPKcLi3EEE		app::Box<char const*, 3>  types, classes,
 *	_ZTVN3app3MapINS_3KeyEEE	app::Map<app::Key>	  pointers, const,
 *					references, int and bool literals,
 *					substitutions S_ S0_ ... and Sa Sb Ss Si So Sd)
 *
 * written as c++filt writes them.  Anything else (function types, arrays,
 * expressions, packs, local classes) is refused: the caller shows the
 * mangled name rather than a wrong one.
 */
#ifndef HEAPDOC_DEMANGLE_H
#define HEAPDOC_DEMANGLE_H

#include <stdbool.h>
#include <stddef.h>

/* symbol is a vtable's ("_ZTV..."): its class into out (len bytes).
 * false when it is not one or uses what this demangler does not read (out
 * is then the empty string). */
bool demangle_vtable(const char *symbol, char *out, size_t len);

#endif
