/*
 * The privileged helper. ikeagent gives up root after its setup ([agent]
 * user) and keeps CAP_NET_ADMIN for addresses, routes and rules; what that
 * capability does not cover is done here, by a process forked before the
 * drop that stays root:
 *
 *   - a new fd of /dev/net/tun, passed back with SCM_RIGHTS (the device
 *     node is often root-only, and the tun is made anew when the gateway's
 *     assignment changes);
 *   - DNS changes: choosing the method and running resolvconf, resolvectl
 *     or the dns_hook, which write root-owned files.
 *
 * The helper trusts the request only for plain values it checks itself (an
 * operation, a DNS method, an interface name, server addresses, a search
 * domain: tun_dns_req_check); every program and path comes from its own
 * copy of the configuration, made by the fork. A compromised agent can
 * therefore ask for nothing its configuration would not have done anyway.
 *
 * Requests and answers are fixed-size records on a SOCK_SEQPACKET
 * socketpair, one at a time. The helper ignores SIGINT, SIGTERM and SIGHUP
 * (systemd and a terminal signal the whole group; the agent undoes DNS
 * through the helper while it shuts down) and exits when the agent's end
 * closes, including when the agent dies.
 */
#include "tun/priv_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"

enum priv_op {
	PRIV_OPEN_TUN = 1,	/* a new fd of /dev/net/tun */
	PRIV_DNS_CHOOSE,	/* tun_dns_pick() with the helper's configuration */
	PRIV_DNS_SET,		/* method m for the request, up */
	PRIV_DNS_UNSET,		/* the same, undone */
};

struct priv_req {
	uint32_t op;			/* enum priv_op */
	uint32_t method;		/* enum tun_dns_method */
	struct tun_dns_req dns;
};

struct priv_rsp {
	int32_t err;			/* 0 or an errno value */
	uint32_t method;		/* PRIV_DNS_CHOOSE */
};

static int priv_fd = -1;		/* our end; -1: no helper */
static pid_t priv_pid;

bool tun_priv_active(void)
{
	return priv_fd >= 0;
}

pid_t tun_priv_pid(void)
{
	return priv_fd >= 0 ? priv_pid : 0;
}

/* ---- the helper's side ------------------------------------------------- */

static void send_rsp(int fd, int err, enum tun_dns_method m, int pass_fd)
{
	struct priv_rsp rsp = { .err = err, .method = (uint32_t)m };
	struct iovec iov = { .iov_base = &rsp, .iov_len = sizeof(rsp) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (pass_fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* A DNS change in this process: method m with everything else from cfg. */
static int dns_apply_here(const struct tun_dns_cfg *cfg, enum tun_dns_method m,
			  const struct tun_dns_req *req, bool up)
{
	struct tun_dns_act act;

	if (!cfg) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (tun_dns_act_for(cfg, m, req->ifname, &act) < 0) {
		log_warn("dns: %s is not available in this configuration, %s not %s",
			 tun_dns_method_name(m), req->ifname, up ? "configured" : "undone");
		return -1;
	}
	return up ? tun_dns_set(&act, req) : tun_dns_unset(&act, req);
}

static bool method_ok(uint32_t m)
{
	return m >= TUN_DNS_RESOLVCONF && m <= TUN_DNS_FILE;
}

static void serve(int fd, const struct priv_req *rq, ssize_t n, const struct tun_dns_cfg *dns)
{
	int tun, err = 0;

	if (n != (ssize_t)sizeof(*rq)) {
		send_rsp(fd, EINVAL, TUN_DNS_NONE, -1);
		return;
	}
	switch (rq->op) {
	case PRIV_OPEN_TUN:
		tun = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		send_rsp(fd, tun < 0 ? errno : 0, TUN_DNS_NONE, tun);
		if (tun >= 0)
			close(tun);
		return;
	case PRIV_DNS_CHOOSE:
		send_rsp(fd, 0, dns ? tun_dns_pick(dns) : TUN_DNS_NONE, -1);
		return;
	case PRIV_DNS_SET:
	case PRIV_DNS_UNSET:
		if (!method_ok(rq->method) || tun_dns_req_check(&rq->dns) < 0) {
			log_warn("priv: malformed DNS request refused");
			send_rsp(fd, EINVAL, TUN_DNS_NONE, -1);
			return;
		}
		if (dns_apply_here(dns, (enum tun_dns_method)rq->method, &rq->dns,
				   rq->op == PRIV_DNS_SET) < 0)
			err = errno ? errno : EIO;
		send_rsp(fd, err, TUN_DNS_NONE, -1);
		return;
	}
	send_rsp(fd, EINVAL, TUN_DNS_NONE, -1);
}

static void __attribute__((noreturn)) helper_main(int fd, const struct tun_dns_cfg *dns)
{
	struct priv_req rq;
	sigset_t none;
	ssize_t n;

	/* Only our socket and stdio: no journal lock, no agent sockets. */
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			_exit(1);
		fd = 3;
	}
	close_range(4, ~0U, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (;;) {
		n = recv(fd, &rq, sizeof(rq), 0);
		if (n == 0)
			_exit(0);	/* the agent is gone */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		serve(fd, &rq, n, dns);
	}
}

/* ---- the agent's side -------------------------------------------------- */

int tun_priv_start(const struct tun_dns_cfg *dns)
{
	int sv[2];
	pid_t pid;

	if (priv_fd >= 0) {
		errno = EALREADY;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		int err = errno;

		close(sv[0]);
		close(sv[1]);
		errno = err;
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		helper_main(sv[1], dns);
	}
	close(sv[1]);
	priv_fd = sv[0];
	priv_pid = pid;
	log_debug("priv: helper started (pid %ld)", (long)pid);
	return 0;
}

void tun_priv_stop(void)
{
	if (priv_fd < 0)
		return;
	close(priv_fd);
	priv_fd = -1;
	while (waitpid(priv_pid, NULL, 0) < 0 && errno == EINTR)
		;
	priv_pid = 0;
}

/* One request, one answer (with an fd for OPEN_TUN). */
static int call(const struct priv_req *rq, struct priv_rsp *rsp, int *fd_out)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = rsp, .iov_len = sizeof(*rsp) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	ssize_t n;

	if (fd_out)
		*fd_out = -1;
	if (priv_fd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	while ((n = send(priv_fd, rq, sizeof(*rq), MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*rq))
		goto lost;
	while ((n = recvmsg(priv_fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*rsp))
		goto lost;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len != CMSG_LEN(sizeof(int)))
			continue;
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
		if (fd_out && *fd_out < 0)
			*fd_out = fd;
		else
			close(fd);
	}
	if (rsp->err) {
		if (fd_out && *fd_out >= 0) {
			close(*fd_out);
			*fd_out = -1;
		}
		errno = rsp->err;
		return -1;
	}
	return 0;
lost:
	log_err("priv: the privileged helper is gone (%s)", n < 0 ? strerror(errno) : "short");
	errno = EPIPE;
	return -1;
}

int tun_priv_open_tun(void)
{
	struct priv_req rq = { .op = PRIV_OPEN_TUN };
	struct priv_rsp rsp;
	int fd;

	if (call(&rq, &rsp, &fd) < 0)
		return -1;
	if (fd < 0) {
		errno = EPROTO;
		return -1;
	}
	return fd;
}

/* One DNS request; *chosen gets the method for PRIV_DNS_CHOOSE. */
static int priv_dns(enum priv_op op, enum tun_dns_method m, const struct tun_dns_req *req,
		    enum tun_dns_method *chosen)
{
	struct priv_req rq = { .op = op, .method = m };
	struct priv_rsp rsp;

	if (req)
		rq.dns = *req;
	if (call(&rq, &rsp, NULL) < 0)
		return -1;
	if (chosen)
		*chosen = method_ok(rsp.method) ? (enum tun_dns_method)rsp.method : TUN_DNS_NONE;
	return 0;
}

/* ---- DNS as the journal makes changes: here, or in the helper ------------ */

enum tun_dns_method tun_dns_choose(const struct tun_dns_cfg *cfg)
{
	enum tun_dns_method m = TUN_DNS_NONE;

	if (tun_priv_active())
		return priv_dns(PRIV_DNS_CHOOSE, TUN_DNS_NONE, NULL, &m) < 0 ? TUN_DNS_NONE : m;
	return cfg ? tun_dns_pick(cfg) : TUN_DNS_NONE;
}

int tun_dns_apply(const struct tun_dns_cfg *cfg, enum tun_dns_method m,
		  const struct tun_dns_req *req, bool up)
{
	if (tun_priv_active())
		return priv_dns(up ? PRIV_DNS_SET : PRIV_DNS_UNSET, m, req, NULL);
	return dns_apply_here(cfg, m, req, up);
}
