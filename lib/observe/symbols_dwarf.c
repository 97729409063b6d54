/* Struct layouts and compilation units from a module's DWARF (glibc's
 * malloc_state and friends are read by their members' offsets). */
#include "observe/symbols_int.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* Follows typedefs and qualifiers to the type itself. */
static Dwarf_Die *peel_type(Dwarf_Die *die, Dwarf_Die *mem)
{
	Dwarf_Attribute attr;

	*mem = *die;
	for (int depth = 0; depth < 16; depth++) {
		int tag = dwarf_tag(mem);

		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type &&
		    tag != DW_TAG_volatile_type && tag != DW_TAG_restrict_type &&
		    tag != DW_TAG_atomic_type)
			return mem;
		if (!dwarf_attr_integrate(mem, DW_AT_type, &attr) ||
		    !dwarf_formref_die(&attr, mem))
			return NULL;
	}
	return NULL;
}

static bool member_type(Dwarf_Die *member, Dwarf_Die *type)
{
	Dwarf_Attribute attr;

	return dwarf_attr_integrate(member, DW_AT_type, &attr) &&
	       dwarf_formref_die(&attr, type);
}

/* One member's place and size; false when the debug info contradicts
 * itself (an array whose elements do not fit it whole). */
static bool fill_member(Dwarf_Die *die, struct sym_member *m)
{
	Dwarf_Attribute attr;
	Dwarf_Word off = 0, size = 0, elem_size;
	Dwarf_Die type, peeled, elem;

	if (dwarf_attr_integrate(die, DW_AT_data_member_location, &attr) &&
	    dwarf_formudata(&attr, &off) != 0)
		return true;	/* a location expression: not in these structs */
	if (!member_type(die, &type) || dwarf_aggregate_size(&type, &size) != 0)
		return true;
	elem_size = size;
	if (peel_type(&type, &peeled) && dwarf_tag(&peeled) == DW_TAG_array_type &&
	    member_type(&peeled, &elem) && dwarf_aggregate_size(&elem, &elem_size) == 0 &&
	    (!elem_size || elem_size > size || size % elem_size))
		return false;
	m->offset = (int64_t)off;
	m->size = size;
	m->elem_size = elem_size;
	return true;
}

/* The definition of struct `name` (or of a typedef `name` of a struct)
 * among the top-level DIEs of cu. */
static bool find_struct_in_cu(Dwarf_Die *cu, const char *name, Dwarf_Die *out)
{
	Dwarf_Die child;

	if (dwarf_child(cu, &child) != 0)
		return false;
	do {
		int tag = dwarf_tag(&child);
		const char *n;

		if (tag != DW_TAG_structure_type && tag != DW_TAG_typedef)
			continue;
		n = dwarf_diename(&child);
		if (!n || strcmp(n, name) || dwarf_hasattr(&child, DW_AT_declaration))
			continue;
		if (tag == DW_TAG_typedef && !peel_type(&child, out))
			continue;
		if (tag == DW_TAG_structure_type)
			*out = child;
		if (dwarf_tag(out) == DW_TAG_structure_type &&
		    !dwarf_hasattr(out, DW_AT_declaration))
			return true;
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}

/* Searches the CU whose name ends with cu_hint first (NULL: none), then all. */
static bool find_struct(Dwarf *dw, const char *cu_hint, const char *name, Dwarf_Die *out)
{
	for (int pass = cu_hint ? 0 : 1; pass < 2; pass++) {
		Dwarf_Off off = 0, next;
		size_t hsize;

		while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
			Dwarf_Die cu;
			const char *cuname;

			if (dwarf_offdie(dw, off + hsize, &cu)) {
				cuname = dwarf_diename(&cu);
				bool hinted = cu_hint && cuname &&
					strlen(cuname) >= strlen(cu_hint) &&
					!strcmp(cuname + strlen(cuname) - strlen(cu_hint), cu_hint);

				if ((pass == 0) == hinted && find_struct_in_cu(&cu, name, out))
					return true;
			}
			off = next;
		}
	}
	return false;
}

int symbols_struct(struct sym_module *m, const char *cu_hint, const char *name,
		   uint64_t *size, struct sym_member *members, size_t n,
		   struct error *err)
{
	Dwarf_Addr bias;
	Dwarf *dw = dwfl_module_getdwarf(symbols_dwmod(m), &bias);
	Dwarf_Die st, child;
	Dwarf_Word bytes;

	for (size_t i = 0; i < n; i++) {
		members[i].offset = -1;
		members[i].size = members[i].elem_size = 0;
	}
	if (!dw)
		return error_set(err, -ENODATA, "%s: no DWARF debug info",
				 dwfl_module_info(symbols_dwmod(m), NULL, NULL, NULL, NULL,
						  NULL, NULL, NULL));
	if (!find_struct(dw, cu_hint, name, &st))
		return error_set(err, -ENOENT, "no struct %s in the debug info", name);
	if (dwarf_aggregate_size(&st, &bytes) != 0)
		return error_set(err, -EIO, "struct %s: no size in the debug info", name);
	*size = bytes;
	if (dwarf_child(&st, &child) != 0)
		return 0;
	do {
		const char *mname = dwarf_diename(&child);

		if (dwarf_tag(&child) != DW_TAG_member || !mname)
			continue;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(members[i].name, mname) && !fill_member(&child, &members[i]))
				return error_set(err, -EIO, "struct %s: member %s: an array of "
						 "elements that do not fit it: corrupt debug info",
						 name, mname);
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

static bool cu_named(Dwarf_Die *cu, const char *suffix)
{
	const char *name = dwarf_diename(cu);
	size_t n = name ? strlen(name) : 0, k = strlen(suffix);

	return n >= k && !strcmp(name + n - k, suffix) && (n == k || name[n - k - 1] == '/');
}

int symbols_cu_ranges(struct sym_module *m, const char *cu_suffix,
		      void (*fn)(uint64_t lo, uint64_t hi, void *arg), void *arg,
		      struct error *err)
{
	Dwarf_Addr bias;
	Dwarf *dw = dwfl_module_getdwarf(symbols_dwmod(m), &bias);
	Dwarf_Off off = 0, next;
	size_t hsize;
	unsigned found = 0;

	if (!dw)
		return error_set(err, -ENODATA, "%s: no DWARF debug info",
				 dwfl_module_info(symbols_dwmod(m), NULL, NULL, NULL, NULL,
						  NULL, NULL, NULL));
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;
		Dwarf_Addr base, lo, hi;
		ptrdiff_t r = 0;

		if (dwarf_offdie(dw, off + hsize, &cu) && cu_named(&cu, cu_suffix))
			while ((r = dwarf_ranges(&cu, r, &base, &lo, &hi)) > 0) {
				fn(lo + bias, hi + bias, arg);
				found++;
			}
		off = next;
	}
	if (!found)
		return error_set(err, -ENOENT, "no compilation unit %s with code in the debug info",
				 cu_suffix);
	return 0;
}
