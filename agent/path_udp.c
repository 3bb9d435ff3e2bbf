/*
 * The UDP path: a socket connected to the gateway's port 500 for
 * IKE_SA_INIT, then one to the NAT-T port for everything else (RFC 7296
 * §2.23; ikeagent always encapsulates ESP, RFC 3948). A move opens a new
 * path straight on the NAT-T port: its socket is connected anew, so the
 * kernel picks the source address of the route in use now.
 *
 * Datagrams are read in batches (recvmmsg) into the session's buffers;
 * ICMP errors are drained from the error queue and logged.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>		/* before linux/errqueue.h, which needs struct timespec */
#include <unistd.h>

#include <linux/errqueue.h>

#include "agent/path.h"
#include "esp/esp.h"
#include "transport/udp.h"
#include "util/log.h"

#define NAT_KEEPALIVE_BYTE 0xff

/*
 * Receive buffer of the NAT-T (ESP) socket. The default ~208 KB holds only
 * about 90 full-size datagrams: bursts from the gateway while we were off
 * the CPU overflowed it (UdpRcvbufErrors on ~10 % of the packets of an
 * iperf3 download), and TCP inside took every loss for congestion. Kernel
 * memory, charged to the socket, not to our RSS. 1 MB did as well as 4 MB
 * and queues less if we ever are the bottleneck; a larger send buffer made
 * no measurable difference.
 */
#define PATH_SOCK_RCVBUF (1 << 20)

static void sock_rcvbuf(int fd)
{
	int v = PATH_SOCK_RCVBUF;

	/* FORCE goes past net.core.rmem_max; we have CAP_NET_ADMIN (for the tun) anyway. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

static void on_sock(void *ctx, uint32_t events);

static int sock_open(struct path *p, struct path_sock *sk, uint16_t port, bool nat_t)
{
	const struct path_env *e = p->env;
	socklen_t len = sizeof(sk->local);
	char a[64], b[64];

	sk->p = p;
	sk->nat_t = nat_t;
	sk->peer = e->gw;
	sockaddr_set_port(&sk->peer, port);
	sk->fd = udp_open((struct sockaddr *)&sk->peer, e->gw_len, e->cfg->agent.fwmark, p->ifindex);
	if (sk->fd < 0) {
		snprintf(p->err, sizeof(p->err), "cannot open a UDP socket to %s: %s",
			 sockaddr_str((struct sockaddr *)&sk->peer, b, sizeof(b)), strerror(errno));
		log_err("udp: %s", p->err);
		return -1;
	}
	sk->off = (struct udp_offload){ 0 };
	if (nat_t) {
		sock_rcvbuf(sk->fd);
		if (e->cfg->tunnel.offload)
			udp_offload_init(sk->fd, &sk->off);	/* ESP comes here */
	}
	if (getsockname(sk->fd, (struct sockaddr *)&sk->local, &len) < 0 ||
	    loop_add_fd(e->loop, sk->fd, EPOLLIN, on_sock, sk) < 0) {
		snprintf(p->err, sizeof(p->err), "cannot watch the UDP socket: %s", strerror(errno));
		log_err("udp: %s", p->err);
		close(sk->fd);
		sk->fd = -1;
		return -1;
	}
	p->local = sk->local;
	p->remote = sk->peer;
	snprintf(p->where, sizeof(p->where), "%s", sockaddr_str((struct sockaddr *)&sk->peer, b,
								sizeof(b)));
	log_info("udp: %s -> %s%s, fwmark 0x%x",
		 sockaddr_str((struct sockaddr *)&sk->local, a, sizeof(a)), p->where,
		 nat_t ? " (NAT-T)" : "", e->cfg->agent.fwmark);
	return 0;
}

static void sock_close(struct path *p, struct path_sock *sk)
{
	if (sk->fd < 0)
		return;
	loop_del_fd(p->env->loop, sk->fd);
	close(sk->fd);
	sk->fd = -1;
}

/* ---- keepalives ----------------------------------------------------------- */

static void on_keepalive(void *ctx)
{
	static const uint8_t ka = NAT_KEEPALIVE_BYTE;
	struct path *p = ctx;
	uint64_t now = loop_now_ms(), idle = now - p->last_tx_ms;

	if (p->sk_nat.fd < 0)
		return;
	if (idle >= PATH_KEEPALIVE_MS) {
		/* RFC 3948 §2.3: one octet 0xFF keeps the NAT mapping alive. */
		if (udp_send(p->sk_nat.fd, &ka, 1) < 0)
			log_debug("udp: NAT-T keepalive not sent: %s", strerror(errno));
		else
			log_debug("udp: NAT-T keepalive sent after %llu ms idle",
				  (unsigned long long)idle);
		p->last_tx_ms = now;
		idle = 0;
	}
	loop_timer_arm(p->env->loop, &p->t_keepalive, PATH_KEEPALIVE_MS - idle);
}

/* ---- the path interface ------------------------------------------------------ */

int path_udp_open(struct path *p, bool nat_port)
{
	const struct config *cfg = p->env->cfg;

	loop_timer_init(&p->t_keepalive, "keepalive", on_keepalive, p);
	if (nat_port) {
		if (sock_open(p, &p->sk_nat, cfg->gateway.nat_port, true) < 0)
			return -1;
		p->last_tx_ms = loop_now_ms();
		loop_timer_arm(p->env->loop, &p->t_keepalive, PATH_KEEPALIVE_MS);
	} else if (sock_open(p, &p->sk_ike, cfg->gateway.port, false) < 0) {
		return -1;
	}
	p->state = PATH_UP;
	p->up_ms = loop_now_ms();
	return 0;
}

void path_udp_float(struct path *p)
{
	const struct config *cfg = p->env->cfg;

	if (p->sk_nat.fd >= 0)
		return;
	log_info("udp: moving to NAT-T port %u", cfg->gateway.nat_port);
	if (sock_open(p, &p->sk_nat, cfg->gateway.nat_port, true) < 0)
		return;
	p->last_tx_ms = loop_now_ms();
	loop_timer_arm(p->env->loop, &p->t_keepalive, PATH_KEEPALIVE_MS);
}

void path_close_ike_port(struct path *p)
{
	if (p->kind != CONFIG_TRANSPORT_UDP || p->sk_nat.fd < 0 || p->sk_ike.fd < 0)
		return;
	log_debug("udp: port %u socket closed, IKE continues on the NAT-T port",
		  p->env->cfg->gateway.port);
	sock_close(p, &p->sk_ike);
}

void path_udp_close(struct path *p)
{
	loop_timer_disarm(p->env->loop, &p->t_keepalive);
	sock_close(p, &p->sk_nat);
	sock_close(p, &p->sk_ike);
}

int path_udp_send_ike(struct path *p, const uint8_t *msg, size_t len)
{
	struct path_sock *sk = p->sk_nat.fd >= 0 ? &p->sk_nat : &p->sk_ike;
	struct wr w;
	int rc;

	if (sk->fd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	if (sk->nat_t) {
		/* RFC 3948 §2.2: on the NAT-T port IKE follows a 4-byte zero non-ESP marker. */
		wr_init(&w, p->env->tx, PATH_IKE_MAX);
		if (esp_udp_write_ike(&w, msg, len) < 0) {
			errno = EMSGSIZE;
			return -1;
		}
		rc = udp_send(sk->fd, p->env->tx, wr_len(&w));
	} else {
		rc = udp_send(sk->fd, msg, len);
	}
	if (rc < 0) {
		log_debug("udp: IKE message of %zu bytes not sent: %s", len, strerror(errno));
		return -1;
	}
	p->last_tx_ms = loop_now_ms();
	return 0;
}

int path_udp_send_esp(struct path *p, const struct iovec *pkts, unsigned n)
{
	/* Runs of one size (a split super-segment) go as one UDP_SEGMENT send. */
	int r = udp_send_batch_gso(p->sk_nat.fd, &p->sk_nat.off, pkts, n);

	if (r > 0)
		p->last_tx_ms = loop_now_ms();
	return r;
}

/* ---- inbound ------------------------------------------------------------- */

/* ICMP errors queued by IP_RECVERR: read them, or EPOLLERR never clears. */
static void drain_errors(struct path_sock *sk)
{
	static struct log_ratelimit rl;
	char peer[64];

	for (int i = 0; i < 16; i++) {
		uint8_t data[64], ctrl[256];
		struct iovec iov = { data, sizeof(data) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl,
				     .msg_controllen = sizeof(ctrl) };
		int err = 0;

		if (recvmsg(sk->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			break;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			struct sock_extended_err ee;

			if (!((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
			      (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)))
				continue;
			memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
			err = (int)ee.ee_errno;
		}
		if (err && log_ratelimit_ok(&rl, 10))
			log_warn("udp: %s unreachable: %s", sockaddr_str((struct sockaddr *)&sk->peer, peer,
							     sizeof(peer)), strerror(err));
	}
}

static void on_sock(void *ctx, uint32_t events)
{
	static struct log_ratelimit rl;
	struct path_sock *sk = ctx;
	struct path *p = sk->p;
	const struct path_env *e = p->env;
	int n;

	if (sk->fd < 0)
		return;
	if (events & EPOLLERR)
		drain_errors(sk);
	n = udp_recv_batch_gro(sk->fd, e->rx, e->rx_cap, e->rx_len, e->rx_seg, e->rx_n);
	if (n < 0) {
		if (log_ratelimit_ok(&rl, 10))
			log_debug("udp: receive: %s", strerror(errno));
		return;
	}
	/* The owner may close this socket while we go (moved to the NAT-T port, a move). */
	for (int i = 0; i < n && sk->fd >= 0; i++) {
		const uint8_t *d;
		size_t off = 0, len;

		if (e->rx_len[i] == 0) {	/* truncated: larger than any buffer */
			e->own->dropped(e->ctx, p);
			continue;
		}
		/* With GRO one message holds several datagrams of rx_seg[i] bytes. */
		while (sk->fd >= 0 &&
		       (len = udp_gro_next(e->rx[i], e->rx_len[i], e->rx_seg[i], &off, &d)) > 0) {
			uint8_t *dg = e->rx[i] + (d - e->rx[i]);	/* ours to decrypt in place */

			if (!sk->nat_t)
				e->own->ike_input(e->ctx, p, dg, len);
			else
				path_natt_input(p, dg, len);
		}
	}
	if (sk->nat_t && n > 0)
		e->own->esp_flush(e->ctx, p);
}
