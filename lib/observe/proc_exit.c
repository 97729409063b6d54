/* How a process ended (proc_exit.h). */
#include "observe/proc_exit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"

/* What the kernel sends, one after the other: a netlink header, a
 * connector message (whose payload follows it), the event.  Laid out by
 * offsets: struct cn_msg ends in a flexible array. */
#define CN_AT	NLMSG_HDRLEN
#define EV_AT	(CN_AT + sizeof(struct cn_msg))
#define EV_SIZE	(EV_AT + sizeof(struct proc_event))

/* Where the filter looks (offsets into the datagram). */
#define EV_WHAT	 (EV_AT + offsetof(struct proc_event, what))
#define EV_TGID	 (EV_AT + offsetof(struct proc_event, event_data.exit.process_tgid))

/* One request to the connector: listen, or stop listening. */
static int connector_say(int fd, enum proc_cn_mcast_op op)
{
	unsigned char msg[EV_AT + sizeof(op)] = { 0 };
	struct nlmsghdr nl = { .nlmsg_len = sizeof(msg), .nlmsg_type = NLMSG_DONE };
	struct cn_msg cn = { .id = { .idx = CN_IDX_PROC, .val = CN_VAL_PROC },
			     .len = sizeof(op) };

	memcpy(msg, &nl, sizeof(nl));
	memcpy(msg + CN_AT, &cn, sizeof(cn));
	memcpy(msg + EV_AT, &op, sizeof(op));
	return send(fd, msg, sizeof(msg), 0) == (ssize_t)sizeof(msg) ? 0 : -errno;
}

/* Keeps exit events of pid's threads only: the rest of the system's
 * processes come and go without waking heapdoc.  BPF loads are big-endian,
 * netlink's fields host order: the constants are swapped to match. */
static int filter_exits_of(int fd, pid_t pid)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, EV_WHAT),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_EXIT), 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, EV_TGID),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl((uint32_t)pid), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(code), .filter = code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ? -errno : 0;
}

void proc_exit_watch_open(struct proc_exit_watch *w, pid_t pid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };

	memset(w, 0, sizeof(*w));
	w->pid = pid;
	w->fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
	if (w->fd < 0)
		return;
	if (filter_exits_of(w->fd, pid) < 0 || bind(w->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    connector_say(w->fd, PROC_CN_MCAST_LISTEN) < 0) {
		close(w->fd);
		w->fd = -1;
	}
}

static void take_event(struct proc_exit_watch *w, const struct proc_event *ev)
{
	uint32_t code = ev->event_data.exit.exit_code;

	if (ev->what != PROC_EVENT_EXIT || ev->event_data.exit.process_tgid != w->pid)
		return;
	/* The wait status: low 7 bits the signal, 0x80 a core, then the
	 * exit status. */
	w->end = (struct proc_end){ .known = true, .signaled = (code & 0x7f) != 0,
				    .code = (code & 0x7f) ? (int)(code & 0x7f) : (int)((code >> 8) & 0xff),
				    .core = (code & 0x80) != 0, .source = "process connector" };
}

void proc_exit_watch_poll(struct proc_exit_watch *w)
{
	unsigned char buf[4096];
	ssize_t n;

	if (w->fd < 0)
		return;
	while ((n = recv(w->fd, buf, sizeof(buf), 0)) > 0) {
		struct nlmsghdr nl;
		struct proc_event ev;

		memcpy(&nl, buf, sizeof(nl));
		if ((size_t)n < EV_SIZE || nl.nlmsg_type != NLMSG_DONE)
			continue;
		memcpy(&ev, buf + EV_AT, sizeof(ev));
		take_event(w, &ev);
	}
}

/* A zombie's exit code: field 52 of /proc/<pid>/stat. */
static void zombie_end(const char *root, pid_t pid, struct proc_end *out)
{
	char path[4096], buf[2048], *p;
	unsigned field = 3;
	long code = -1;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/proc/%d/stat", root, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] != 'Z')
		return;			/* running, or not a zombie any more */
	for (p += 2; *p && field < 52; p++)
		if (*p == ' ')
			field++;
	if (field == 52 && sscanf(p, "%ld", &code) == 1 && code >= 0)
		*out = (struct proc_end){ .known = true, .signaled = (code & 0x7f) != 0,
					  .code = (code & 0x7f) ? (int)(code & 0x7f) :
						  (int)((code >> 8) & 0xff),
					  .core = (code & 0x80) != 0, .source = "/proc (zombie)" };
}

/* The kernel makes the process a zombie a moment before it sends the
 * event: wait for it that long at most. */
#define EVENT_WAIT_MS 200

void proc_exit_watch_result(struct proc_exit_watch *w, const char *root, struct proc_end *out)
{
	struct pollfd pfd = { .fd = w->fd, .events = POLLIN };

	memset(out, 0, sizeof(*out));
	proc_exit_watch_poll(w);
	if (!w->end.known && w->fd >= 0 && poll(&pfd, 1, EVENT_WAIT_MS) > 0)
		proc_exit_watch_poll(w);
	if (w->end.known) {
		*out = w->end;
		return;
	}
	zombie_end(root, w->pid, out);
}

void proc_exit_watch_close(struct proc_exit_watch *w)
{
	if (w->fd < 0)
		return;
	/* The kernel counts listeners; leave the count as it was. */
	connector_say(w->fd, PROC_CN_MCAST_IGNORE);
	close(w->fd);
	w->fd = -1;
}
