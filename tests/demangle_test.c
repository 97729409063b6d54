/* The small demangler of vtable symbols (lib/base/demangle.c).  Every
 * expected name is what c++filt prints for the symbol ("vtable for ..."):
 * checked once when these were written, so the test needs no c++filt. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "base/demangle.h"
#include "testlib.h"

static const struct {
	const char *symbol, *name;
} readable[] = {
	{ "_ZTV5Plain", "Plain" },
	{ "_ZTVN3app3net7SessionE", "app::net::Session" },
	{ "_ZTVSt13runtime_error", "std::runtime_error" },
	{ "_ZTVNSt8ios_base7failureE", "std::ios_base::failure" },
	{ "_ZTVN12_GLOBAL__N_14ImplE", "(anonymous namespace)::Impl" },
	{ "_ZTV3BoxIiE", "Box<int>" },
	{ "_ZTV3BoxIPKcE", "Box<char const*>" },
	{ "_ZTVN3app3BoxIPKcLi3EEE", "app::Box<char const*, 3>" },
	{ "_ZTVN3app3BoxIbLb1EEE", "app::Box<bool, true>" },
	{ "_ZTVN3app3MapINS_3KeyEEE", "app::Map<app::Key>" },
	{ "_ZTVN3app3BoxIS_EE", "app::Box<app>" },
	{ "_ZTVN3app3FooIiE3BarE", "app::Foo<int>::Bar" },
	{ "_ZTV3BoxIS_IiEE", "Box<Box<int> >" },
	{ "_ZTV3BoxIiS_IiEE", "Box<int, Box<int> >" },
	{ "_ZTVN3app3BoxIRKNS_3KeyES2_EE", "app::Box<app::Key const&, app::Key const>" },
	{ "_ZTVSs", "std::basic_string<char, std::char_traits<char>, std::allocator<char> >" },
	{ "_ZTVSi", "std::basic_istream<char, std::char_traits<char> >" },
	{ "_ZTVSt23_Sp_counted_ptr_inplaceIN5clang19PreprocessorOptionsESaIvELN9__gnu_cxx"
	  "12_Lock_policyE2EE", "std::_Sp_counted_ptr_inplace<clang::PreprocessorOptions, "
	  "std::allocator<void>, (__gnu_cxx::_Lock_policy)2>" },
	{ "_ZTVN4llvm13format_objectIJmmEEE",
	  "llvm::format_object<unsigned long, unsigned long>" },
	{ "_ZTVN4llvm6detail9PassModelINS_6ModuleENS_17ModuleInlinerPassENS_17Preserved"
	  "AnalysesENS_15AnalysisManagerIS2_JEEEJEEE", "llvm::detail::PassModel<llvm::Module, "
	  "llvm::ModuleInlinerPass, llvm::PreservedAnalyses, llvm::AnalysisManager"
	  "<llvm::Module>>" },
	{ "_ZTVNSt7__cxx1115basic_stringbufIcSt11char_traitsIcESaIcEEE",
	  "std::__cxx11::basic_stringbuf<char, std::char_traits<char>, std::allocator<char> >" },
};

START_TEST(readable_names_as_cxxfilt_prints_them)
{
	for (size_t i = 0; i < sizeof(readable) / sizeof(readable[0]); i++) {
		char buf[512];

		ck_assert_msg(demangle_vtable(readable[i].symbol, buf, sizeof(buf)),
			      "%s refused", readable[i].symbol);
		ck_assert_str_eq(buf, readable[i].name);
	}
}
END_TEST

/* What it does not read, it refuses (the caller shows the symbol): never
 * a wrong name, never a read past the input or a write past the buffer. */
START_TEST(refuses_what_it_does_not_read)
{
	static const char *const refused[] = {
		"", "_Z", "_ZTV", "_ZTI3Foo", "_ZN3Foo3barEv", "foo",
		"_ZTV3BoxIPFivEE",		/* a function type */
		"_ZTVN4llvm6detail23provider_format_adapterIRA16_KcEE",	/* an array */
		"_ZTV3Fo",			/* shorter than its length */
		"_ZTV3Foo3Bar",			/* something after the type */
		"_ZTVN3FooE3",			/* ditto */
		"_ZTVN3Foo",			/* no E */
		"_ZTV3BoxIiE_",			/* trailing junk */
		"_ZTV3BoxIE",			/* no argument */
		"_ZTV3BoxI",			/* cut in the arguments */
		"_ZTVN3app3BoxIS5_EE",		/* a substitution that does not exist */
		"_ZTV1234567890Foo",		/* a length no name has */
		"_ZTV3BoxILi12",		/* a literal without its E */
		"_ZTV3BoxIL",			/* a literal cut short */
		"_ZTV3BoxILN3app4KindE",	/* an enumerator without its value */
		"_ZTVN3app3BoxIS_",		/* cut after a substitution */
		"_ZTVN3app3BoxIS0",		/* cut inside one */
		"_ZTV3BoxILf0EE",		/* a float literal */
		"_ZTV3F-o",			/* not an identifier */
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ck_assert_msg(!demangle_vtable(refused[i], buf, sizeof(buf)), "%s read as '%s'",
			      refused[i], buf);
		ck_assert_str_eq(buf, "");
	}
}
END_TEST

START_TEST(bounded_in_room_and_depth)
{
	char small[8], deep[4096], buf[256];
	size_t n = 0;

	ck_assert(!demangle_vtable("_ZTVN3app3net7SessionE", small, sizeof(small)));
	ck_assert_str_eq(small, "");
	ck_assert(demangle_vtable("_ZTV5Plain", small, sizeof(small)));
	ck_assert_str_eq(small, "Plain");
	ck_assert(!demangle_vtable("_ZTV5Plain", small, 5));
	/* Box<Box<Box<...>>> 1000 deep: refused, not a stack overflow. */
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "_ZTV");
	for (int i = 0; i < 1000 && n + 16 < sizeof(deep); i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "3BoxI");
	ck_assert(!demangle_vtable(deep, buf, sizeof(buf)));
	/* PPPPP...: deep through pointers too. */
	memset(deep, 'P', 2000);
	memcpy(deep, "_ZTV3BoxI", 9);
	strcpy(deep + 2000, "iEE");
	ck_assert(!demangle_vtable(deep, buf, sizeof(buf)));
}
END_TEST

Suite *demangle_suite(void)
{
	Suite *s = suite_create("demangle");
	TCase *unit = tcase_create("unit");

	tcase_add_test(unit, readable_names_as_cxxfilt_prints_them);
	tcase_add_test(unit, refuses_what_it_does_not_read);
	tcase_add_test(unit, bounded_in_room_and_depth);
	suite_add_tcase(s, unit);
	return s;
}
