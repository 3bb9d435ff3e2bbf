/*
 * The data path, batched (syscalls, not crypto, decide the speed):
 *
 *   tun --read x32--> esp_encap in place --sendmmsg--> gateway:4500
 *   gateway --recvmmsg x32--> classify: keepalive (drop) | IKE -> ike_sa
 *                                     | ESP -> SA by SPI -> esp_decap
 *                                       -> traffic selectors -> tun
 *
 * Buffers are allocated once; the inner packet is read straight into
 * buf + ESP_HEADROOM and encrypted where it lies. Inbound, esp_decap()
 * checks integrity, then the anti-replay window, then the inner length;
 * the inner addresses are then checked against the Child SA's traffic
 * selectors before anything is written to tun.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>		/* before linux/errqueue.h, which needs struct timespec */
#include <unistd.h>

#include <linux/errqueue.h>

#include "agent/session.h"
#include "ike/ikev2.h"
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
#define DP_SOCK_RCVBUF (1 << 20)

static void sock_rcvbuf(int fd)
{
	int v = DP_SOCK_RCVBUF;

	/* FORCE goes past net.core.rmem_max; we have CAP_NET_ADMIN (for the tun) anyway. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

int dp_init(struct datapath *dp)
{
	size_t per = DP_PKT_CAP;

	memset(dp, 0, sizeof(*dp));
	dp->mem = aligned_alloc(64, 2 * UDP_BATCH_MAX * per + DP_IKE_MAX);
	if (!dp->mem)
		return -1;
	for (size_t i = 0; i < UDP_BATCH_MAX; i++) {
		dp->tx[i] = dp->mem + i * per;
		dp->rx[i] = dp->mem + (UDP_BATCH_MAX + i) * per;
	}
	dp->ike_tx = dp->mem + 2 * UDP_BATCH_MAX * per;
	return 0;
}

void dp_free(struct datapath *dp)
{
	free(dp->mem);
	memset(dp, 0, sizeof(*dp));
}

/* ---- sockets --------------------------------------------------------------- */

int dp_sock_open(struct session *s, struct session_sock *sk, uint16_t port, bool nat_t)
{
	socklen_t len = sizeof(sk->local);
	char a[64], b[64];

	sk->s = s;
	sk->nat_t = nat_t;
	sk->peer = s->gw;
	sockaddr_set_port(&sk->peer, port);
	sk->fd = udp_open((struct sockaddr *)&sk->peer, s->gw_len, s->cfg->agent.fwmark);
	if (sk->fd < 0) {
		log_err("udp: cannot open a socket to %s: %s",
			sockaddr_str((struct sockaddr *)&sk->peer, b, sizeof(b)), strerror(errno));
		return -1;
	}
	if (nat_t)
		sock_rcvbuf(sk->fd);
	if (getsockname(sk->fd, (struct sockaddr *)&sk->local, &len) < 0 ||
	    loop_add_fd(s->loop, sk->fd, EPOLLIN, dp_sock_event, sk) < 0) {
		log_err("udp: cannot watch the socket: %s", strerror(errno));
		close(sk->fd);
		sk->fd = -1;
		return -1;
	}
	log_info("udp: %s -> %s%s, fwmark 0x%x",
		 sockaddr_str((struct sockaddr *)&sk->local, a, sizeof(a)),
		 sockaddr_str((struct sockaddr *)&sk->peer, b, sizeof(b)), nat_t ? " (NAT-T)" : "",
		 s->cfg->agent.fwmark);
	return 0;
}

void dp_sock_close(struct session *s, struct session_sock *sk)
{
	if (sk->fd < 0)
		return;
	loop_del_fd(s->loop, sk->fd);
	close(sk->fd);
	sk->fd = -1;
}

/* ---- Child SAs ---------------------------------------------------------- */

struct session_child *dp_child_current(struct session *s)
{
	struct session_child *cur = NULL;

	for (size_t i = 0; i < SESSION_CHILDREN; i++)
		if (s->child[i].used && (!cur || s->child[i].serial > cur->serial))
			cur = &s->child[i];
	return cur;
}

static struct session_child *child_by_spi_in(struct session *s, uint32_t spi)
{
	for (size_t i = 0; i < SESSION_CHILDREN; i++)
		if (s->child[i].used && s->child[i].in.spi == spi)
			return &s->child[i];
	return NULL;
}

/* Keep its counters for status, wipe its keys. */
static void child_free(struct session *s, struct session_child *c)
{
	if (!c->used)
		return;
	s->st.packets_in += c->in.packets;
	s->st.bytes_in += c->in.bytes;
	s->st.packets_out += c->out.packets;
	s->st.bytes_out += c->out.bytes;
	esp_sa_free(&c->in);
	esp_sa_free(&c->out);
	memset(c, 0, sizeof(*c));
}

static struct session_child *child_slot(struct session *s)
{
	struct session_child *oldest = NULL;

	for (size_t i = 0; i < SESSION_CHILDREN; i++) {
		if (!s->child[i].used)
			return &s->child[i];
		if (!oldest || s->child[i].serial < oldest->serial)
			oldest = &s->child[i];
	}
	log_info("esp: Child SA in %08x replaced before it was deleted", oldest->in.spi);
	child_free(s, oldest);
	return oldest;
}

int dp_child_install(struct session *s, const struct ike_child_info *ci)
{
	struct session_child *c;
	enum aead_alg alg;

	if (cfgmap_aead(ci->encr, &alg) < 0) {
		log_err("esp: cipher %u is not one ikeagent's ESP runs; Child SA in %08x not "
			"installed", ci->encr, ci->spi_in);
		return -1;
	}
	c = child_slot(s);
	if (esp_sa_init(&c->in, ESP_IN, alg, ci->key_in, ci->key_len, ci->spi_in) < 0 ||
	    esp_sa_init(&c->out, ESP_OUT, alg, ci->key_out, ci->key_len, ci->spi_out) < 0) {
		esp_sa_free(&c->in);
		esp_sa_free(&c->out);
		memset(c, 0, sizeof(*c));
		log_err("esp: cannot set up Child SA in %08x (key length %zu)", ci->spi_in,
			ci->key_len);
		return -1;
	}
	c->used = true;
	c->serial = ++s->child_serial;
	c->ts_local = ci->ts_local;
	c->ts_remote = ci->ts_remote;
	log_info("esp: Child SA %s: in %08x, out %08x, %s", ci->rekey ? "rekeyed" : "installed",
		 ci->spi_in, ci->spi_out,
		 alg == AEAD_AES_GCM_16 ? "aes-gcm-16" : "chacha20-poly1305");
	return 0;
}

void dp_child_remove(struct session *s, uint32_t spi_in)
{
	struct session_child *c = child_by_spi_in(s, spi_in);

	if (!c) {
		log_debug("esp: Child SA in %08x to remove is not installed", spi_in);
		return;
	}
	log_info("esp: Child SA in %08x, out %08x removed", c->in.spi, c->out.spi);
	child_free(s, c);
}

void dp_children_free(struct session *s)
{
	for (size_t i = 0; i < SESSION_CHILDREN; i++)
		child_free(s, &s->child[i]);
}

/* ---- traffic selectors --------------------------------------------------- */

static bool ts_contains(const struct ike_pl_ts *ts, bool v6, const uint8_t *addr, uint8_t proto)
{
	uint8_t type = v6 ? TS_IPV6_ADDR_RANGE : TS_IPV4_ADDR_RANGE;
	size_t alen = v6 ? 16 : 4;

	if (ts->n == 0)
		return true;	/* none given: nothing to check against */
	for (unsigned i = 0; i < ts->n; i++) {
		const struct ike_ts_sel *sel = &ts->ts[i];

		if (sel->type != type || (sel->ip_proto && sel->ip_proto != proto))
			continue;
		if (memcmp(addr, sel->start, alen) >= 0 && memcmp(addr, sel->end, alen) <= 0)
			return true;
	}
	return false;
}

/*
 * An inner packet against the Child SA's selectors: inbound its source must
 * be in the remote and its destination in the local ones, outbound the
 * other way round (RFC 4301 §5.1, §5.2).
 */
static bool ts_allows(const struct session_child *c, const uint8_t *pkt, size_t len, bool inbound)
{
	const uint8_t *src, *dst;
	uint8_t proto;
	bool v6;

	if (len >= 20 && pkt[0] >> 4 == 4) {
		v6 = false;
		proto = pkt[9];
		src = pkt + 12;
		dst = pkt + 16;
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		v6 = true;
		proto = pkt[6];
		src = pkt + 8;
		dst = pkt + 24;
	} else {
		return false;
	}
	if (!inbound) {
		const uint8_t *t = src;

		src = dst;
		dst = t;
	}
	return ts_contains(&c->ts_remote, v6, src, proto) && ts_contains(&c->ts_local, v6, dst, proto);
}

/* ---- outbound ------------------------------------------------------------ */

/* Read one packet into dp->tx[n] + ESP_HEADROOM and encrypt it; 1 queued, 0 dropped, -1 stop. */
static int tun_take(struct session *s, struct session_child *c, unsigned n)
{
	static struct log_ratelimit rl_enc;
	struct datapath *dp = &s->dp;
	uint8_t *buf = dp->tx[n];
	size_t out_len;
	ssize_t len;
	int rc;

	len = tun_read(&s->tun, buf + ESP_HEADROOM, DP_PKT_CAP - ESP_HEADROOM - ESP_TAILROOM_MAX);
	if (len < 0 && errno == EMSGSIZE) {
		s->st.drops++;
		return 0;
	}
	if (len < 0 && errno != EAGAIN) {
		session_tun_failed(s, errno);
		return -1;
	}
	if (len <= 0)
		return -1;
	if (!c || !link_esp_ready(s)) {
		s->st.drops++;	/* no Child SA (yet, or while reconnecting): fail closed */
		return 0;
	}
	if (!ts_allows(c, buf + ESP_HEADROOM, (size_t)len, false)) {
		s->st.drops++;	/* e.g. IPv6 link-local chatter of the tun itself */
		return 0;
	}
	rc = esp_encap(&c->out, buf, DP_PKT_CAP, (size_t)len, &out_len);
	if (rc < 0) {
		s->st.drops++;
		if (log_ratelimit_ok(&rl_enc, 10))
			log_warn("esp: outbound packet dropped (%s)", rc == ESP_ENCAP_SEQ_EXHAUSTED ?
				 "sequence numbers exhausted, rekey overdue" : "not IP or too large");
		return 0;
	}
	/* RFC 4303 §3.3.3: the counter must not cycle, so rekey well before it would. */
	if (!c->rekey_asked && esp_sa_needs_rekey(&c->out)) {
		c->rekey_asked = true;
		session_rekey_child(s);
	}
	dp->iov[n].iov_base = buf;
	dp->iov[n].iov_len = out_len;
	return 1;
}

void dp_tun_event(void *ctx, uint32_t events)
{
	static struct log_ratelimit rl;
	struct session *s = ctx;
	struct session_child *c = dp_child_current(s);
	unsigned n = 0, taken = 0;
	int sent;

	/* At most one batch per wakeup: the socket side gets its turn too. */
	while (taken++ < UDP_BATCH_MAX) {
		int rc = tun_take(s, c, n);

		if (rc < 0)
			break;
		n += (unsigned)rc;
	}
	if (n == 0)
		return;
	sent = link_send_esp(s, s->dp.iov, n);	/* UDP, or frames on the link's stream */
	if (sent < 0) {
		if (errno != EAGAIN && log_ratelimit_ok(&rl, 10))
			log_warn("udp: send to gateway: %s", strerror(errno));
		sent = 0;
	}
	s->st.drops += n - (unsigned)sent;
	if (sent > 0)
		s->last_tx_ms = loop_now_ms();
}

int dp_send_ike(struct session *s, struct session_sock *sk, const uint8_t *msg, size_t len)
{
	struct wr w;
	int rc;

	if (sk->fd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	if (sk->nat_t) {
		/* RFC 3948 §2.2: on the NAT-T port IKE follows a 4-byte zero non-ESP marker. */
		wr_init(&w, s->dp.ike_tx, DP_IKE_MAX);
		if (esp_udp_write_ike(&w, msg, len) < 0) {
			errno = EMSGSIZE;
			return -1;
		}
		rc = udp_send(sk->fd, s->dp.ike_tx, wr_len(&w));
	} else {
		rc = udp_send(sk->fd, msg, len);
	}
	if (rc < 0) {
		log_debug("udp: IKE message of %zu bytes not sent: %s", len, strerror(errno));
		return -1;
	}
	s->last_tx_ms = loop_now_ms();
	return 0;
}

void dp_keepalive(void *ctx)
{
	static const uint8_t ka = NAT_KEEPALIVE_BYTE;
	struct session *s = ctx;
	uint64_t now = loop_now_ms(), idle = now - s->last_tx_ms;

	if (s->sock_nat.fd < 0)
		return;
	if (idle >= SESSION_KEEPALIVE_MS) {
		/* RFC 3948 §2.3: one octet 0xFF keeps the NAT mapping alive. */
		if (udp_send(s->sock_nat.fd, &ka, 1) < 0)
			log_debug("udp: NAT-T keepalive not sent: %s", strerror(errno));
		else
			log_debug("udp: NAT-T keepalive sent after %llu ms idle",
				  (unsigned long long)idle);
		s->last_tx_ms = now;
		idle = 0;
	}
	loop_timer_arm(s->loop, &s->t_keepalive, SESSION_KEEPALIVE_MS - idle);
}

/* ---- inbound ------------------------------------------------------------- */

static void esp_input(struct session *s, uint8_t *p, size_t len)
{
	static struct log_ratelimit rl_spi, rl_drop, rl_ts, rl_tun;
	struct session_child *c = child_by_spi_in(s, get_be32(p));
	enum esp_drop d;
	size_t inner;

	if (!c) {
		s->st.drops++;
		if (log_ratelimit_ok(&rl_spi, 10))
			log_debug("esp: packet for unknown SPI %08x dropped", get_be32(p));
		return;
	}
	d = esp_decap(&c->in, p, len, &inner);
	if (d != ESP_DROP_NONE) {
		if (d == ESP_DROP_DUMMY)
			return;	/* RFC 4303 §2.6: discarded silently */
		s->st.drops++;
		if (log_ratelimit_ok(&rl_drop, 10))
			log_warn("esp: inbound packet on SPI %08x dropped: %s", c->in.spi,
				 esp_drop_name(d));
		return;
	}
	if (!ts_allows(c, p + ESP_HEADROOM, inner, true)) {
		s->st.drops++;
		if (log_ratelimit_ok(&rl_ts, 10))
			log_warn("esp: inbound packet outside the traffic selectors dropped");
		return;
	}
	if (s->tun.fd < 0 || tun_write(&s->tun, p + ESP_HEADROOM, inner) < 0) {
		s->st.drops++;
		if (s->tun.fd >= 0 && log_ratelimit_ok(&rl_tun, 10))
			log_warn("tun: write to %s: %s", s->tun.name, strerror(errno));
	}
}

/* A datagram on the NAT-T port, or an RFC 9329 frame body: the same bytes. */
void dp_natt_input(struct session *s, struct link *l, uint8_t *p, size_t len)
{
	const uint8_t *body;
	size_t body_len;

	switch (esp_udp_classify(p, len, &body, &body_len)) {
	case ESP_UDP_KEEPALIVE:
		return;
	case ESP_UDP_IKE:
		link_ike_input(l, body, body_len);
		return;
	case ESP_UDP_ESP:
		esp_input(s, p, len);
		return;
	case ESP_UDP_INVALID:
		break;
	}
	s->st.drops++;
}

static void dgram_input(struct session *s, struct session_sock *sk, uint8_t *p, size_t len)
{
	if (len == 0) {		/* truncated: larger than any buffer */
		s->st.drops++;
		return;
	}
	if (!sk->nat_t) {
		link_ike_input(sk->link, p, len);	/* the UDP link's IKE SA */
		return;
	}
	dp_natt_input(s, sk->link, p, len);
}

/* ICMP errors queued by IP_RECVERR: read them, or EPOLLERR never clears. */
static void drain_errors(struct session *s, struct session_sock *sk)
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

void dp_sock_event(void *ctx, uint32_t events)
{
	static struct log_ratelimit rl;
	struct session_sock *sk = ctx;
	struct session *s = sk->s;
	struct datapath *dp = &s->dp;
	int n;

	if (sk->fd < 0)
		return;
	if (events & EPOLLERR)
		drain_errors(s, sk);
	n = udp_recv_batch(sk->fd, dp->rx, DP_PKT_CAP, dp->rx_len, UDP_BATCH_MAX);
	if (n < 0) {
		if (log_ratelimit_ok(&rl, 10))
			log_debug("udp: receive: %s", strerror(errno));
		return;
	}
	/* The IKE SA may close this socket while we go (it moved to the NAT-T port). */
	for (int i = 0; i < n && sk->fd >= 0; i++)
		dgram_input(s, sk, dp->rx[i], dp->rx_len[i]);
}
