/* The sockets through which a process takes input from others.
 *
 * /proc/<pid>/fd names each open socket "socket:[inode]"; the tables under
 * /proc/<pid>/net (the process's own network namespace) list every socket
 * of that namespace with its inode, address and state.  A socket of the
 * process that is listening (TCP state 0A, a unix socket with
 * __SO_ACCEPTCON), a UDP socket bound to a port and not connected, or a
 * unix datagram socket bound to a name is a door others can knock on.
 *
 * The tables print an IPv4 address as the 32-bit word it is stored as
 * ("0100007F" is 127.0.0.1 on a little-endian host) and an IPv6 one as four
 * such words: each is put back into memory as it was read.
 */
#include "observe/audit.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "observe/proc_file.h"

#define TCP_LISTEN	0x0A
#define TCP_CLOSE	0x07	/* UDP: not connected */
#define SO_ACCEPTCON	0x10000	/* __SO_ACCEPTCON: a listening unix socket */
#define UNIX_DGRAM	2

struct inodes {
	uint64_t *v;
	size_t n, cap;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The inodes of the sockets pid has open, sorted. */
static int socket_inodes(const char *root, pid_t pid, struct inodes *in, struct error *err)
{
	char path[4096], link[64];
	struct dirent *de;
	DIR *dir;
	int rc = proc_opendir(root, pid, "fd", &dir, path, sizeof(path), err);

	if (rc < 0)
		return rc;
	while ((de = readdir(dir))) {
		ssize_t n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		const char *p = link + 8;
		uint64_t ino;

		if (n <= 9 || (link[n] = '\0', strncmp(link, "socket:[", 8)) ||
		    !parse_u64(&p, 10, &ino) || *p != ']')
			continue;
		if (in->n == in->cap) {
			size_t cap = in->cap ? 2 * in->cap : 64;
			uint64_t *v = reallocarray(in->v, cap, sizeof(*v));

			if (!v) {
				closedir(dir);
				return error_set(err, -ENOMEM, "out of memory");
			}
			in->v = v;
			in->cap = cap;
		}
		in->v[in->n++] = ino;
	}
	closedir(dir);
	if (in->n)	/* qsort and bsearch want an array, even an empty one */
		qsort(in->v, in->n, sizeof(*in->v), cmp_u64);
	return 0;
}

static bool has_inode(const struct inodes *in, uint64_t ino)
{
	return in->n && bsearch(&ino, in->v, in->n, sizeof(*in->v), cmp_u64) != NULL;
}

struct sockets {
	struct audit_socket *v;
	size_t n, cap;
};

static struct audit_socket *add_socket(struct sockets *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct audit_socket *v = reallocarray(s->v, cap, sizeof(*v));

		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[0]));
	return &s->v[s->n++];
}

/* "0100007F:1F90" (or 32 hex digits for IPv6) into address text and port. */
static bool parse_endpoint(const char *s, bool v6, struct audit_socket *out)
{
	uint32_t words[4];
	unsigned nwords = v6 ? 4 : 1;
	uint64_t port;

	for (unsigned i = 0; i < nwords; i++) {
		char hex[9];
		const char *p = hex;
		uint64_t w;

		memcpy(hex, s + 8 * i, 8);
		hex[8] = '\0';
		if (strnlen(s + 8 * i, 8) < 8 || !parse_u64(&p, 16, &w) || *p)
			return false;
		words[i] = (uint32_t)w;
	}
	s += 8 * nwords;
	if (*s++ != ':' || !parse_u64(&s, 16, &port) || port > 65535)
		return false;
	out->port = (unsigned)port;
	if (!inet_ntop(v6 ? AF_INET6 : AF_INET, words, out->address, sizeof(out->address)))
		return false;
	if (v6) {
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		const uint8_t *b = (const uint8_t *)words;

		out->wildcard = !memcmp(b, (uint8_t[16]){ 0 }, 16);
		out->loopback = !memcmp(b, (uint8_t[16]){ [15] = 1 }, 16) ||
				(!memcmp(b, mapped, 12) && b[12] == 127);
	} else {
		out->wildcard = words[0] == 0;
		out->loopback = ((const uint8_t *)words)[0] == 127;
	}
	return true;
}

/* One line of net/tcp, tcp6, udp or udp6:
 *   sl local rem st tx:rx tr:when retrnsmt uid timeout inode ... */
static int inet_line(const char *line, enum audit_proto proto, const struct inodes *in,
		     struct sockets *out, bool *bad)
{
	char local[64], rem[64];
	unsigned st;
	unsigned long long ino;
	struct audit_socket sk = { .proto = proto };
	bool v6 = proto == AUDIT_TCP6 || proto == AUDIT_UDP6;
	bool tcp = proto == AUDIT_TCP || proto == AUDIT_TCP6;
	struct audit_socket *s;

	*bad = false;
	if (sscanf(line, " %*[0-9]: %63s %63s %x %*s %*s %*s %*u %*u %llu", local, rem, &st,
		   &ino) != 4 || !parse_endpoint(local, v6, &sk)) {
		*bad = true;
		return 0;
	}
	if (!has_inode(in, ino) || !sk.port)
		return 0;
	if (tcp ? st != TCP_LISTEN : (st != TCP_CLOSE || !strstr(rem, ":0000")))
		return 0;
	sk.inode = ino;
	if (!(s = add_socket(out)))
		return -ENOMEM;
	*s = sk;
	return 0;
}

/* One line of net/unix: Num RefCount Protocol Flags Type St Inode [Path]. */
static int unix_line(const char *line, const struct inodes *in, struct sockets *out,
		     bool *bad)
{
	unsigned flags, type;
	unsigned long long ino;
	int path_at = 0;
	struct audit_socket *s;

	*bad = sscanf(line, "%*[0-9a-fA-F]: %*x %*x %x %x %*x %llu %n", &flags, &type,
		      &ino, &path_at) != 3;
	if (*bad || !has_inode(in, ino))
		return 0;
	if (!(flags & SO_ACCEPTCON) && !(type == UNIX_DGRAM && line[path_at]))
		return 0;
	if (!(s = add_socket(out)))
		return -ENOMEM;
	s->proto = AUDIT_UNIX;
	s->inode = ino;
	s->loopback = true;	/* another process of this host */
	snprintf(s->path, sizeof(s->path), "%s", line + path_at);
	return 0;
}

static int read_table(const char *root, pid_t pid, const char *name, enum audit_proto proto,
		      const struct inodes *in, struct sockets *out, struct error *err)
{
	struct proc_file pf;
	bool bad;
	int rc = proc_file_open(&pf, root, pid, name, err);

	if (rc == -ENOENT)	/* no IPv6 in this kernel */
		return 0;
	while (rc >= 0 && (rc = proc_file_next(&pf, err)) > 0) {
		if (pf.lineno == 1)	/* the header */
			continue;
		rc = proto == AUDIT_UNIX ? unix_line(pf.line, in, out, &bad)
					 : inet_line(pf.line, proto, in, out, &bad);
		if (rc < 0)
			rc = error_set(err, rc, "out of memory");
		else if (bad)
			rc = proc_file_bad(&pf, err, "not a socket line");
	}
	proc_file_close(&pf);
	return rc;
}

int proc_read_listeners(const char *root, pid_t pid, struct audit_socket **out, size_t *n,
			struct error *err)
{
	static const struct { const char *name; enum audit_proto proto; } tables[] = {
		{ "net/tcp", AUDIT_TCP }, { "net/tcp6", AUDIT_TCP6 },
		{ "net/udp", AUDIT_UDP }, { "net/udp6", AUDIT_UDP6 },
		{ "net/unix", AUDIT_UNIX },
	};
	struct inodes in = { 0 };
	struct sockets s = { 0 };
	int rc = socket_inodes(root, pid, &in, err);

	for (size_t i = 0; rc == 0 && in.n && i < sizeof(tables) / sizeof(tables[0]); i++)
		rc = read_table(root, pid, tables[i].name, tables[i].proto, &in, &s, err);
	free(in.v);
	if (rc < 0) {
		free(s.v);
		s.v = NULL;
		s.n = 0;
	}
	*out = s.v;
	*n = s.n;
	return rc;
}
