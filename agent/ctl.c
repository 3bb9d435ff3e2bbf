#include "agent/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/log.h"

/*
 * Wire format of a reply: one byte exit code, then text. Requests are at
 * most CTL_REQ_MAX bytes and end with '\n'.
 */
#define CTL_REQ_MAX 320	/* "password " and CONFIG_PASSWORD_MAX bytes */

/* A client that asked for the event stream: its connection stays open. */
struct ctl_sub {
	struct ctl_server *srv;
	int fd;			/* -1: free slot */
};

struct ctl_server {
	struct loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	gid_t group;		/* CTL_NO_GROUP: root and our own uid only */
	ctl_handler handler;
	void *ctx;
	struct ctl_sub subs[CTL_MAX_SUBS];
};

static int ctl_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun->sun_path, path);
	return 0;
}

/* Is gid among the peer's groups (primary, then supplementary)? */
static bool peer_in_group(int c, const struct ucred *uc, gid_t gid)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (uc->gid == gid)
		return true;
	if (getsockopt(c, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;	/* ERANGE: more than 256 groups; not worth a retry */
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* Root, our own uid, or a member of the socket's group; else why not, in reply. */
static bool peer_allowed(const struct ctl_server *s, int c, char *reply, size_t cap)
{
	static struct log_ratelimit rl;
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		snprintf(reply, cap, "permission denied: cannot identify the caller\n");
		return false;
	}
	if (uc.uid == 0 || uc.uid == geteuid() ||
	    (s->group != CTL_NO_GROUP && peer_in_group(c, &uc, s->group)))
		return true;
	if (s->group != CTL_NO_GROUP)
		snprintf(reply, cap, "permission denied: uid %u is not root and not in group %u\n",
			 (unsigned)uc.uid, (unsigned)s->group);
	else
		snprintf(reply, cap, "permission denied: only root may use this agent\n");
	if (log_ratelimit_ok(&rl, 10))
		log_warn("ctl: request from uid %u (pid %ld) refused: not root and not in the "
			 "socket's group", (unsigned)uc.uid, (long)uc.pid);
	return false;
}

static void sub_drop(struct ctl_sub *u, const char *why)
{
	log_debug("ctl: event listener gone (%s)", why);
	loop_del_fd(u->srv->loop, u->fd);
	close(u->fd);
	u->fd = -1;
}

/* A listener only reads: anything from it, or its hang-up, ends it. */
static void sub_event(void *ctx, uint32_t events)
{
	struct ctl_sub *u = ctx;
	char b[64];

	if (read(u->fd, b, sizeof(b)) <= 0 || (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
		sub_drop(u, "hung up");
}

/* Write it all now or give up on that listener: the agent never waits for one. */
static bool sub_write(struct ctl_sub *u, const char *text, size_t len)
{
	while (len) {
		ssize_t n = send(u->fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0) {
			sub_drop(u, n < 0 ? strerror(errno) : "closed");
			return false;
		}
		text += n;
		len -= (size_t)n;
	}
	return true;
}

/* c becomes a listener (the first text written); false if there is no room. */
static bool sub_add(struct ctl_server *s, int c, const char *text)
{
	for (size_t i = 0; i < CTL_MAX_SUBS; i++) {
		struct ctl_sub *u = &s->subs[i];

		if (u->fd >= 0)
			continue;
		if (loop_add_fd(s->loop, c, EPOLLIN | EPOLLRDHUP, sub_event, u) < 0)
			return false;
		u->srv = s;
		u->fd = c;
		(void)sub_write(u, text, strlen(text));
		return true;
	}
	log_warn("ctl: %d event listeners already; refused another", CTL_MAX_SUBS);
	return false;
}

void ctl_broadcast(struct ctl_server *s, const char *line)
{
	for (size_t i = 0; s && i < CTL_MAX_SUBS; i++)
		if (s->subs[i].fd >= 0)
			(void)sub_write(&s->subs[i], line, strlen(line));
}

/*
 * Serve one client: its request is tiny, so wait briefly for it, then
 * answer. True if c became an event listener (it stays open).
 */
static bool ctl_serve(struct ctl_server *s, int c)
{
	char req[CTL_REQ_MAX + 1], reply[CTL_REPLY_MAX + 1];
	size_t got = 0;
	struct pollfd pfd = { .fd = c, .events = POLLIN };
	int code;

	/* Read the request even when refusing: a reply to an unread request
	 * would reset the connection before the client sees the reason. */
	while (got < CTL_REQ_MAX && poll(&pfd, 1, 200) == 1) {
		ssize_t n = read(c, req + got, CTL_REQ_MAX - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(req, '\n', got))
			break;
	}
	req[got] = '\0';
	req[strcspn(req, "\n")] = '\0';
	reply[0] = 0;
	if (peer_allowed(s, c, reply + 1, sizeof(reply) - 1))
		code = s->handler(s->ctx, req, reply + 1, sizeof(reply) - 1);
	else
		code = 1;
	OPENSSL_cleanse(req, sizeof(req));	/* it may hold the EAP password */
	/* The event stream has no status byte: its lines start at once. */
	if (code == CTL_SUBSCRIBE) {
		if (sub_add(s, c, reply + 1))
			return true;
		code = 1;
		snprintf(reply + 1, sizeof(reply) - 1, "too many event listeners\n");
	}
	reply[0] = (char)(code < 0 ? 1 : code > 125 ? 125 : code);
	if (write(c, reply, 1 + strlen(reply + 1)) < 0)
		log_debug("ctl: reply not delivered: %s", strerror(errno));
	return false;
}

static void ctl_accept(void *ctx, uint32_t events)
{
	struct ctl_server *s = ctx;
	int c;

	while ((c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		if (!ctl_serve(s, c))
			close(c);
}

struct ctl_server *ctl_server_open(struct loop *l, const char *path, gid_t group, ctl_handler h,
				   void *ctx)
{
	struct ctl_server *s = calloc(1, sizeof(*s));
	struct sockaddr_un sun;
	mode_t old;

	if (!s || ctl_addr(path, &sun) < 0)
		goto fail;
	for (size_t i = 0; i < CTL_MAX_SUBS; i++)
		s->subs[i].fd = -1;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		goto fail;
	/* A socket left by a crashed run is in the way; one with a live agent is not ours. */
	if (ctl_request(path, "ping", NULL, 0) >= 0) {
		log_err("ctl: another ikeagent answers on %s", path);
		errno = EADDRINUSE;
		goto fail_fd;
	}
	unlink(path);
	old = umask(0077);	/* nobody else until the group is set: it can take the tunnel down */
	if (bind(s->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old);
		goto fail_fd;
	}
	umask(old);
	/*
	 * The group may connect (fchmod on a socket fd would not change the
	 * file). Only its owner can replace the socket file in a root-owned
	 * or sticky directory, so the path is still the one we bound.
	 */
	if (group != CTL_NO_GROUP &&
	    (fchownat(AT_FDCWD, path, (uid_t)-1, group, AT_SYMLINK_NOFOLLOW) < 0 ||
	     fchmodat(AT_FDCWD, path, 0660, 0) < 0))
		goto fail_unlink;
	s->group = group;
	if (listen(s->fd, 8) < 0 || loop_add_fd(l, s->fd, EPOLLIN, ctl_accept, s) < 0)
		goto fail_unlink;
	s->loop = l;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->handler = h;
	s->ctx = ctx;
	return s;
fail_unlink:
	unlink(path);
fail_fd:
	close(s->fd);
fail:
	free(s);
	return NULL;
}

void ctl_server_close(struct ctl_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < CTL_MAX_SUBS; i++)
		if (s->subs[i].fd >= 0)
			sub_drop(&s->subs[i], "the agent stops");
	loop_del_fd(s->loop, s->fd);
	close(s->fd);
	/* No longer root, the directory may not be ours: the next start removes it. */
	if (unlink(s->path) < 0 && errno != ENOENT)
		log_debug("ctl: %s stays behind: %s", s->path, strerror(errno));
	free(s);
}

int ctl_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, e;

	if (ctl_addr(path, &sun) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int ctl_request(const char *path, const char *request, char *out, size_t cap)
{
	char buf[CTL_REPLY_MAX + 2];
	size_t got = 0;
	int fd, code = -1;

	if ((fd = ctl_connect(path)) < 0)
		return -1;
	{
		char line[CTL_REQ_MAX + 2];
		int n = snprintf(line, sizeof(line), "%s\n", request);

		bool sent;

		/* The agent may have closed already: an error, not SIGPIPE. */
		sent = n >= 0 && (size_t)n < sizeof(line) &&
		       send(fd, line, (size_t)n, MSG_NOSIGNAL) == (ssize_t)n;
		OPENSSL_cleanse(line, sizeof(line));	/* `password ...` */
		if (!sent)
			goto out;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (got >= sizeof(buf) - 1 || poll(&pfd, 1, 5000) != 1)
			break;
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == 0) {
		errno = EPROTO;
		goto out;
	}
	buf[got] = '\0';
	code = (unsigned char)buf[0];
	if (out && cap)
		snprintf(out, cap, "%s", buf + 1);
out:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return code;
}

int ctl_follow(const char *path, FILE *out, char *err, size_t cap)
{
	char buf[4096];
	bool first = true;
	ssize_t n;
	int fd, rc = -1;

	if ((fd = ctl_connect(path)) < 0)
		return -1;
	if (send(fd, "events\n", 7, MSG_NOSIGNAL) != 7)
		goto out;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		/* A refusal is a status byte and one line, as for any request. */
		if (first && buf[0] != '{') {
			snprintf(err, cap, "%.*s", (int)(n - 1), buf + 1);
			rc = buf[0] ? (unsigned char)buf[0] : 1;
			goto out;
		}
		first = false;
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n || fflush(out) != 0)
			break;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}
