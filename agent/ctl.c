/*
 * Server side of the control socket. Nothing here waits for a client:
 * each connection is a non-blocking fd in the loop with its own state.
 *
 *   READ   bytes gather in in[] until a '\n' (or CTL_REQ_MAX bytes, or the
 *          client's EOF); CTL_CLIENT_DEADLINE_MS after accept it is closed.
 *   WRITE  the reply drains from out[] as the socket takes it (EPOLLOUT),
 *          within the same deadline; then the connection is closed.
 *   EVENTS an event listener (CTL_SUBSCRIBE): ctl_broadcast() appends to
 *          out[]; one whose backlog would overflow out[] is dropped.
 */
#include "agent/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent/ctl_int.h"
#include "util/log.h"

enum ctl_state { CC_FREE, CC_READ, CC_WRITE, CC_EVENTS };

static const char *const state_names[] = {
	[CC_FREE] = "free", [CC_READ] = "read", [CC_WRITE] = "write", [CC_EVENTS] = "events",
};

struct ctl_client {
	struct ctl_server *srv;
	enum ctl_state state;
	int fd;
	uid_t uid;			/* for log lines */
	struct loop_timer deadline;	/* READ and WRITE only */
	char in[CTL_REQ_MAX + 1];	/* may hold the EAP password: wiped after use */
	size_t in_len;
	char out[CTL_OUT_MAX];
	size_t out_off, out_len;	/* out[out_off..out_len) still to send */
	bool pollout;			/* EPOLLOUT asked for: out[] did not fit */
};

struct ctl_server {
	struct loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	gid_t group;		/* CTL_NO_GROUP: root and our own uid only */
	ctl_handler handler;
	void *ctx;
	unsigned n_requests, n_events;
	struct ctl_client clients[CTL_MAX_CLIENTS + CTL_MAX_SUBS];
};

#define N_SLOTS (CTL_MAX_CLIENTS + CTL_MAX_SUBS)

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

static void client_close(struct ctl_client *c, const char *why)
{
	struct ctl_server *s = c->srv;

	if (c->state == CC_EVENTS) {
		s->n_events--;
		log_debug("ctl: event listener (uid %u) gone: %s", (unsigned)c->uid, why);
	} else {
		s->n_requests--;
		log_debug("ctl: client (uid %u) closed in state %s: %s", (unsigned)c->uid,
			  state_names[c->state], why);
	}
	loop_timer_disarm(s->loop, &c->deadline);
	loop_del_fd(s->loop, c->fd);
	close(c->fd);
	OPENSSL_cleanse(c->in, sizeof(c->in));
	c->fd = -1;
	c->state = CC_FREE;
	c->in_len = c->out_off = c->out_len = 0;
	c->pollout = false;
}

/* WRITE does not listen for input: a half-closed client would wake us for ever. */
static uint32_t want_events(const struct ctl_client *c)
{
	uint32_t ev = c->state == CC_WRITE ? 0 : EPOLLIN | EPOLLRDHUP;

	return c->pollout ? ev | EPOLLOUT : ev;
}

static bool set_pollout(struct ctl_client *c, bool on)
{
	if (c->pollout == on)
		return true;
	c->pollout = on;
	if (loop_mod_fd(c->srv->loop, c->fd, want_events(c)) == 0)
		return true;
	client_close(c, strerror(errno));
	return false;
}

/*
 * Send what out[] holds without waiting. False if c was closed: an error,
 * or a request's reply is complete.
 */
static bool client_flush(struct ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return set_pollout(c, true);
		if (n <= 0) {
			client_close(c, n < 0 ? strerror(errno) : "closed");
			return false;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->state == CC_WRITE) {
		client_close(c, "reply sent");
		return false;
	}
	return set_pollout(c, false);
}

/* Append to out[]; false (and c dropped) when it does not fit. */
static bool client_queue(struct ctl_client *c, const char *text, size_t len)
{
	static struct log_ratelimit rl;

	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (len > sizeof(c->out) - c->out_len && c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (len > sizeof(c->out) - c->out_len) {
		if (log_ratelimit_ok(&rl, 10))
			log_warn("ctl: event listener (uid %u) dropped: it left %zu bytes unread",
				 (unsigned)c->uid, c->out_len - c->out_off);
		client_close(c, "too slow");
		return false;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out_len += len;
	return true;
}

/* ---- requests (pure) ------------------------------------------------------ */

bool ctl_request_whole(const char *in, size_t len, bool eof)
{
	return eof || len >= CTL_REQ_MAX || memchr(in, '\n', len);
}

const char *ctl_request_line(char *in, size_t len)
{
	in[len] = '\0';
	in[strcspn(in, "\n")] = '\0';
	return in;
}

enum ctl_req ctl_request_parse(const char *line, const char **arg)
{
	static const struct {
		const char *word;
		enum ctl_req req;
	} words[] = {
		{ "ping", CTL_REQ_PING }, { "status", CTL_REQ_STATUS },
		{ "status json", CTL_REQ_STATUS_JSON }, { "events", CTL_REQ_EVENTS },
		{ "down", CTL_REQ_DOWN },
	};

	*arg = NULL;
	if (!strncmp(line, "password ", 9)) {
		*arg = line + 9;
		return CTL_REQ_PASSWORD;
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(line, words[i].word))
			return words[i].req;
	return CTL_REQ_UNKNOWN;
}

/* ---- connections ------------------------------------------------------------ */

/* The request in in[] is complete: answer it (or make c a listener). */
static void client_serve(struct ctl_client *c)
{
	struct ctl_server *s = c->srv;
	char reply[CTL_REPLY_MAX + 1];
	const char *line;
	int code;

	line = ctl_request_line(c->in, c->in_len);
	reply[0] = 0;
	if (peer_allowed(s, c->fd, reply + 1, sizeof(reply) - 1))
		code = s->handler(s->ctx, line, reply + 1, sizeof(reply) - 1);
	else
		code = 1;
	OPENSSL_cleanse(c->in, sizeof(c->in));	/* it may hold the EAP password */
	c->in_len = 0;
	/* The event stream has no status byte: its lines start at once. */
	if (code == CTL_SUBSCRIBE) {
		if (s->n_events < CTL_MAX_SUBS) {
			loop_timer_disarm(s->loop, &c->deadline);
			s->n_requests--;
			s->n_events++;
			c->state = CC_EVENTS;
			log_debug("ctl: client (uid %u) now an event listener (%u of %d)",
				  (unsigned)c->uid, s->n_events, CTL_MAX_SUBS);
			if (client_queue(c, reply + 1, strlen(reply + 1)))
				(void)client_flush(c);
			return;
		}
		log_warn("ctl: %d event listeners already; refused another", CTL_MAX_SUBS);
		code = 1;
		snprintf(reply + 1, sizeof(reply) - 1, "too many event listeners\n");
	}
	reply[0] = (char)(code < 0 ? 1 : code > 125 ? 125 : code);
	c->state = CC_WRITE;
	if (loop_mod_fd(s->loop, c->fd, want_events(c)) < 0)
		client_close(c, strerror(errno));
	else if (client_queue(c, reply, 1 + strlen(reply + 1)))
		(void)client_flush(c);
}

/* READ: take what has arrived; serve once a line (or EOF, or a full buffer) is in. */
static void client_read(struct ctl_client *c)
{
	for (;;) {
		ssize_t n = read(c->fd, c->in + c->in_len, CTL_REQ_MAX - c->in_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			client_close(c, strerror(errno));
			return;
		}
		if (n == 0 && c->in_len == 0) {
			client_close(c, "hung up before a request");
			return;
		}
		c->in_len += (size_t)n;
		if (ctl_request_whole(c->in, c->in_len, n == 0)) {
			client_serve(c);
			return;
		}
	}
}

static void client_event(void *ctx, uint32_t events)
{
	struct ctl_client *c = ctx;
	char b[64];

	switch (c->state) {
	case CC_READ:
		client_read(c);
		return;
	case CC_WRITE:
		if (events & EPOLLERR)
			client_close(c, "socket error");
		else if (events & (EPOLLOUT | EPOLLHUP))
			(void)client_flush(c);
		return;
	case CC_EVENTS:
		/* A listener only reads: anything from it, or its hang-up, ends it. */
		if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) &&
		    (read(c->fd, b, sizeof(b)) <= 0 || (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)))) {
			client_close(c, "hung up");
			return;
		}
		if (events & EPOLLOUT)
			(void)client_flush(c);
		return;
	case CC_FREE:
		return;
	}
}

static void client_deadline(void *ctx)
{
	static struct log_ratelimit rl;
	struct ctl_client *c = ctx;

	if (log_ratelimit_ok(&rl, 10))
		log_warn("ctl: client (uid %u) closed: %s within %d ms", (unsigned)c->uid,
			 c->state == CC_READ ? "no complete request" : "did not read its reply",
			 CTL_CLIENT_DEADLINE_MS);
	client_close(c, "deadline");
}

static struct ctl_client *client_slot(struct ctl_server *s)
{
	if (s->n_requests >= CTL_MAX_CLIENTS)
		return NULL;
	for (size_t i = 0; i < N_SLOTS; i++)
		if (s->clients[i].state == CC_FREE)
			return &s->clients[i];
	return NULL;
}

static void ctl_accept(void *ctx, uint32_t events)
{
	static struct log_ratelimit rl;
	struct ctl_server *s = ctx;
	int fd;

	while ((fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		struct ctl_client *c = client_slot(s);
		struct ucred uc = { .uid = (uid_t)-1 };
		socklen_t len = sizeof(uc);

		(void)getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len);
		if (!c) {
			if (log_ratelimit_ok(&rl, 10))
				log_warn("ctl: client (uid %u) refused: %u requests in progress "
					 "(at most %d)", (unsigned)uc.uid, s->n_requests,
					 CTL_MAX_CLIENTS);
			close(fd);
			continue;
		}
		if (loop_add_fd(s->loop, fd, EPOLLIN | EPOLLRDHUP, client_event, c) < 0) {
			if (log_ratelimit_ok(&rl, 10))
				log_warn("ctl: client (uid %u) refused: cannot watch it: %s",
					 (unsigned)uc.uid, strerror(errno));
			close(fd);
			continue;
		}
		c->srv = s;
		c->fd = fd;
		c->uid = uc.uid;
		c->state = CC_READ;
		c->in_len = c->out_off = c->out_len = 0;
		c->pollout = false;
		s->n_requests++;
		loop_timer_init(&c->deadline, "ctl client", client_deadline, c);
		loop_timer_arm(s->loop, &c->deadline, CTL_CLIENT_DEADLINE_MS);
	}
}

void ctl_broadcast(struct ctl_server *s, const char *line)
{
	size_t len = strlen(line);

	for (size_t i = 0; s && i < N_SLOTS; i++) {
		struct ctl_client *c = &s->clients[i];

		if (c->state == CC_EVENTS && client_queue(c, line, len))
			(void)client_flush(c);
	}
}

struct ctl_server *ctl_server_open(struct loop *l, const char *path, gid_t group, ctl_handler h,
				   void *ctx)
{
	struct ctl_server *s = calloc(1, sizeof(*s));
	struct sockaddr_un sun;
	mode_t old;

	if (!s || ctl_addr(path, &sun) < 0)
		goto fail;
	for (size_t i = 0; i < N_SLOTS; i++)
		s->clients[i].fd = -1;
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
	for (size_t i = 0; i < N_SLOTS; i++)
		if (s->clients[i].state != CC_FREE)
			client_close(&s->clients[i], "the agent stops");
	loop_del_fd(s->loop, s->fd);
	close(s->fd);
	/* No longer root, the directory may not be ours: the next start removes it. */
	if (unlink(s->path) < 0 && errno != ENOENT)
		log_debug("ctl: %s stays behind: %s", s->path, strerror(errno));
	free(s);
}
