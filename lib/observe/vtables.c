/* The vtables of a live process (vtables.h). */
#include "observe/vtables.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "base/clock.h"
#include "base/util.h"
#include "observe/elfsym.h"
#include "observe/proc.h"

#define HEAD_WORDS	16	/* words read of each vtable: 14 offsets at most */
#define IOV_BATCH	1024	/* IOV_MAX */

/* A vtable symbol found in a module, before its head is read. */
struct vt_found {
	char *symbol;
	uint64_t addr, size;
};

struct vt_scan {
	struct vt_found *v;
	size_t n, cap;
	bool nomem;
};

static void collect(const char *name, uint64_t addr, uint64_t size, void *arg)
{
	struct vt_scan *sc = arg;

	/* Offset to the top, typeinfo, one function: anything smaller is no
	 * class's vtable. */
	if (size < 24 || sc->n >= VTABLES_MAX || sc->nomem)
		return;
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 256;
		struct vt_found *v = realloc(sc->v, cap * sizeof(*v));

		if (!v) {
			sc->nomem = true;
			return;
		}
		sc->v = v;
		sc->cap = cap;
	}
	sc->v[sc->n].symbol = strdup(name);
	sc->v[sc->n].addr = addr;
	sc->v[sc->n].size = size;
	sc->nomem |= !sc->v[sc->n].symbol;
	sc->n += !!sc->v[sc->n].symbol;
}

/* Was the file of mapping i mapped from its start before (a module
 * mapped twice is read once)?  Among offset-0 mappings only: one per
 * module, whatever the number of mappings. */
static bool seen_before(const struct maps *maps, size_t i)
{
	const struct mapping *m = &maps->v[i];

	for (size_t k = 0; k < i; k++) {
		const struct mapping *o = &maps->v[k];

		if (!o->offset && o->inode == m->inode && o->dev_major == m->dev_major &&
		    o->dev_minor == m->dev_minor && !strcmp(o->path, m->path))
			return true;
	}
	return false;
}

/* Every file-backed module, once, at its first mapping (file offset 0,
 * its load base). */
static void scan_modules(struct vtables *vt, pid_t pid, const struct maps *maps,
			 struct vt_scan *sc)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct mapping *m = &maps->v[i];
		struct elfsym es;

		if (m->path[0] != '/' || m->offset || seen_before(maps, i) ||
		    elfsym_open(&es, pid, m->path, m->start, NULL) < 0)
			continue;
		vt->modules++;
		vt->modules_without_symtab += !elf_file_has_symtab(&es.file);
		elfsym_each_object(&es, "_ZTV", collect, sc);
		elfsym_close(&es);
	}
}

/* Where an object's vptr points in a vtable whose first words are w: past
 * the first zero offset-to-top that a typeinfo pointer follows (0 without
 * RTTI: then only right at the start).  -1 when there is none. */
static int primary_vptr(const uint64_t *w, size_t n)
{
	for (size_t k = 2; k < n; k++)
		if (w[k - 2] == 0 && (w[k - 1] != 0 || k == 2))
			return (int)k;
	return -1;
}

static int vt_insert(struct vtables *vt, uint64_t vptr, const char *symbol)
{
	size_t i = vtables_slot(vt, vptr);

	for (; vt->keys[i]; i = (i + 1) & vt->mask)
		if (vt->keys[i] == vptr)
			return 0;	/* .dynsym and .symtab: the same one */
	vt->symbols[vt->n] = strdup(symbol);
	if (!vt->symbols[vt->n])
		return -ENOMEM;
	vt->keys[i] = vptr;
	vt->values[i] = (uint32_t)vt->n++;
	return 0;
}

/* Reads the heads of found[from, from + n) in one call, then places each
 * vptr.  A vtable whose page cannot be read ends the call: the ones after
 * it are read by the caller's next call. */
static size_t read_heads(struct vtables *vt, pid_t pid, const struct vt_found *f, size_t n,
			 uint64_t (*heads)[HEAD_WORDS], int *rc)
{
	struct iovec local[IOV_BATCH], remote[IOV_BATCH];
	size_t done = 0;
	ssize_t got;

	n = MIN(n, (size_t)IOV_BATCH);
	if (!n)		/* gcc -O1 (make asan) would see the arrays unset */
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = MIN(f[i].size, sizeof(heads[i]));

		memset(heads[i], 0, sizeof(heads[i]));
		local[i] = (struct iovec){ heads[i], len };
		remote[i] = (struct iovec){ (void *)(uintptr_t)f[i].addr, len };
	}
	got = process_vm_readv(pid, local, n, remote, n, 0);
	if (got < 0 && errno == ESRCH) {
		*rc = -ESRCH;
		return n;
	}
	for (; done < n && got >= (ssize_t)local[done].iov_len; done++) {
		int k = primary_vptr(heads[done], local[done].iov_len / 8);

		got -= (ssize_t)local[done].iov_len;
		if (k >= 0 && (*rc = vt_insert(vt, f[done].addr + 8 * (uint64_t)k,
					     f[done].symbol)) < 0)
			return n;
	}
	return done < n ? done + 1 : n;	/* skip the one that failed */
}

static int place_all(struct vtables *vt, pid_t pid, const struct vt_scan *sc)
{
	uint64_t (*heads)[HEAD_WORDS] = malloc(IOV_BATCH * sizeof(*heads));
	size_t slots = 64;
	int rc = 0;

	while (slots < 2 * sc->n)
		slots *= 2;
	vt->keys = calloc(slots, sizeof(*vt->keys));
	vt->values = calloc(slots, sizeof(*vt->values));
	vt->symbols = calloc(sc->n + 1, sizeof(*vt->symbols));
	if (!heads || !vt->keys || !vt->values || !vt->symbols)
		rc = -ENOMEM;
	vt->mask = slots - 1;
	vt->cap = sc->n;
	for (size_t i = 0; i < sc->n && rc == 0;)
		i += read_heads(vt, pid, sc->v + i, sc->n - i, heads, &rc);
	free(heads);
	return rc;
}

int vtables_load(struct vtables *vt, pid_t pid, struct error *err)
{
	struct vt_scan sc = { 0 };
	struct maps maps = { 0 };
	uint64_t t0 = now_ns();
	int rc;

	memset(vt, 0, sizeof(*vt));
	rc = proc_read_maps("", pid, &maps, err);
	if (rc == 0) {
		scan_modules(vt, pid, &maps, &sc);
		rc = sc.nomem ? -ENOMEM : place_all(vt, pid, &sc);
	}
	maps_free(&maps);
	for (size_t i = 0; i < sc.n; i++)
		free(sc.v[i].symbol);
	free(sc.v);
	if (rc == -ENOMEM)
		error_set(err, rc, "out of memory");
	else if (rc == -ESRCH)
		error_set(err, rc, "pid %d exited", (int)pid);
	if (rc < 0)
		vtables_free(vt);
	vt->load_us = (now_ns() - t0) / 1000;
	return rc;
}

void vtables_free(struct vtables *vt)
{
	for (size_t i = 0; i < vt->n; i++)
		free(vt->symbols[i]);
	free(vt->symbols);
	free(vt->keys);
	free(vt->values);
	memset(vt, 0, sizeof(*vt));
}
