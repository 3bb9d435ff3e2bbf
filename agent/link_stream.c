/*
 * Stream links: RFC 9329 over TCP or TLS, directly or through the HTTP
 * CONNECT proxy (transport/stream.h does the framing, the prefix, TLS and
 * the proxy; here: when to connect, what to do with frames, and how to
 * survive a broken connection).
 *
 *   connect ─> up: first time IKE_SA_INIT, later ike_sa_reconnected()
 *      ^        │
 *      │        └─ RST, FIN, error, timeout ─> back-off ─┐
 *      └─────────────────────────────────────────────────┘
 *
 * Liveness is IKE's (DPD): RFC 9329 §6 ≈, TCP and TLS keepalives "MUST NOT
 * be used as indications of IKE peer liveness"; none are enabled.
 *
 * The loop watches stream_fd() for stream_events(), level-triggered;
 * both may change after any call on the stream (the fd once, after the
 * proxy phase), so sync_fd() runs after every one. A stream found closed
 * inside a send (from the IKE SA's callbacks or the data path) is dealt
 * with from the loop (t_retry at 0 ms), never from inside the call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "agent/session.h"
#include "util/log.h"

/* Reconnect back-off; the last one repeats. */
static const uint32_t backoff_ms[] = { 200, 500, 1000, 2000, 4000, 8000, 16000, 30000 };
#define N_BACKOFF (sizeof(backoff_ms) / sizeof(backoff_ms[0]))

static const char *kname(const struct link *l)
{
	return link_kind_name(l->kind);
}

static bool winner(const struct link *l)
{
	return l->s->link == l;
}

static void on_stream(void *ctx, uint32_t events);

/* ---- the fd the loop watches ------------------------------------------------ */

static void drop(struct link *l)
{
	if (l->fd >= 0)
		loop_del_fd(l->s->loop, l->fd);
	l->fd = -1;
	l->ev = 0;
	stream_free(l->st);	/* close_notify and close(), nothing that blocks */
	l->st = NULL;
}

/* Watch what the stream wants now. The fd number may be reused by a new
 * socket after the old one closed, so a failed MOD is retried as ADD. */
static void sync_fd(struct link *l)
{
	struct loop *lp = l->s->loop;
	int fd = l->st ? stream_fd(l->st) : -1;
	uint32_t ev = l->st ? stream_events(l->st) : 0;

	if (fd == l->fd && ev == l->ev)
		return;
	if (fd == l->fd && fd >= 0 && loop_mod_fd(lp, fd, ev) == 0) {
		l->ev = ev;
		return;
	}
	if (l->fd >= 0)
		loop_del_fd(lp, l->fd);
	l->fd = -1;
	l->ev = 0;
	if (fd < 0)
		return;
	if (loop_add_fd(lp, fd, ev, on_stream, l) < 0) {
		log_err("%s: cannot watch the connection: %s", kname(l), strerror(errno));
		stream_close(l->st);
		loop_timer_arm(lp, &l->t_retry, 0);	/* handled as a broken connection */
		return;
	}
	l->fd = fd;
	l->ev = ev;
}

/* After a send: a write error closes the stream; deal with it from the loop.
 * Its fd is unwatched at once: the number may be reused before then. */
static void after_send(struct link *l)
{
	sync_fd(l);
	if (stream_status(l->st) == STREAM_CLOSED)
		loop_timer_arm(l->s->loop, &l->t_retry, 0);
}

/* ---- connect ----------------------------------------------------------------- */

static void cfg_fill(const struct link *l, struct stream_cfg *c)
{
	const struct config *cfg = l->s->cfg;

	memset(c, 0, sizeof(*c));
	c->kind = l->kind == CONFIG_TRANSPORT_TLS ? STREAM_TLS : STREAM_TCP;
	c->peer = l->s->gw;
	c->peerlen = l->s->gw_len;
	sockaddr_set_port(&c->peer, l->kind == CONFIG_TRANSPORT_TLS ? cfg->transport.tls_port :
			  cfg->transport.tcp_port);
	c->mark = cfg->agent.fwmark;
	c->max_frame = cfg->transport.max_frame;
	/* SNI and certificate name: tls_sni, else the gateway's name (never a literal). */
	c->peer_host = cfg->gateway.address;
	c->sni = cfg->transport.tls_sni;
	c->verify = cfg->transport.tls_verify;
	c->ca_file = cfg->transport.tls_ca;
	/* RFC 9329 Appendix A: reconnects SHOULD resume the TLS session. */
	c->tls_cache = l->s->tls_cache;
	if (l->proxy) {
		c->proxy_host = cfg->transport.proxy_host;
		c->proxy_port = cfg->transport.proxy_port;
		c->proxy_user = cfg->transport.proxy_user;
		c->proxy_pass = cfg->transport.proxy_pass;
	}
}

static void progress(struct link *l);

/* Start one connection. -1: it failed at once (l->err says why). */
static int conn_start(struct link *l)
{
	struct stream_cfg c;

	cfg_fill(l, &c);
	l->state = LINK_CONNECTING;
	l->rx_seen = false;
	l->st = stream_new(&c);
	if (!l->st) {
		snprintf(l->err, sizeof(l->err), "cannot set up the stream (memory or settings)");
		return -1;
	}
	if (stream_connect(l->st) < 0) {
		snprintf(l->err, sizeof(l->err), "%s", link_bare_error(stream_error(l->st)));
		drop(l);
		return -1;
	}
	loop_timer_arm(l->s->loop, &l->t_retry, LINK_CONNECT_MS);	/* the deadline */
	progress(l);
	return 0;
}

/* The connection is over; a link that never was up has failed outright. */
static void broken(struct link *l, const char *why)
{
	struct session *s = l->s;
	bool was_up = l->state == LINK_UP;
	char msg[256];
	uint32_t delay;

	snprintf(msg, sizeof(msg), "%s", why && why[0] ? link_bare_error(why) : "connection closed");
	drop(l);
	loop_timer_disarm(s->loop, &l->t_retry);
	if (!l->ever_up && !winner(l)) {
		l->state = LINK_FAILED;
		snprintf(l->err, sizeof(l->err), "%s", msg);
		link_report_failure(l);
		return;
	}
	if (++l->fails >= LINK_MAX_FAILS) {
		snprintf(l->err, sizeof(l->err), "%.160s (gave up after %u connections)", msg,
			 l->fails);
		log_warn("%s: connection to %s %s (%s), giving up after %u connections without "
			 "an answer", kname(l), l->where, was_up ? "lost" : "failed", msg, l->fails);
		l->state = LINK_FAILED;
		if (winner(l)) {
			snprintf(msg, sizeof(msg), "%s: %.200s", kname(l), l->err);
			session_transport_failed(s, msg);
		} else {
			link_report_failure(l);
		}
		return;
	}
	/* RFC 9329 §6 ≈: the SAs survive a RST or FIN; only the initiator reconnects. */
	delay = backoff_ms[l->backoff_i];
	if (l->backoff_i + 1 < N_BACKOFF)
		l->backoff_i++;
	l->state = LINK_WAITING;
	if (winner(l)) {
		snprintf(s->last_error, sizeof(s->last_error), "%s: %.150s", kname(l), msg);
		session_note(s, "%s connection to %s %s (%s), reconnecting in %.1f s, IKE SA kept",
			     kname(l), l->where, was_up ? "lost" : "failed", msg, delay / 1000.0);
	}
	log_warn("%s: connection to %s %s (%s), reconnecting in %.1f s", kname(l), l->where,
		 was_up ? "lost" : "failed", msg, delay / 1000.0);
	loop_timer_arm(s->loop, &l->t_retry, delay);
}

/* Connected (and CONNECT and TLS done): the IKE SA goes, or goes on. */
static void up(struct link *l)
{
	struct session *s = l->s;
	uint64_t now = loop_now_ms();
	bool again = l->ike != NULL;

	loop_timer_disarm(s->loop, &l->t_retry);
	l->state = LINK_UP;
	if (stream_addrs(l->st, &l->local, &l->peer) < 0)
		memset(&l->local, 0, sizeof(l->local));
	/* Through a proxy the peer is the proxy; NAT detection names the gateway. */
	if (l->proxy || l->peer.ss_family != s->gw.ss_family) {
		l->peer = s->gw;
		sockaddr_set_port(&l->peer, l->kind == CONFIG_TRANSPORT_TLS ?
				  s->cfg->transport.tls_port : s->cfg->transport.tcp_port);
	}
	l->ever_up = true;
	if (!again) {
		log_info("%s: stream to %s%s up after %llu ms, sending IKE_SA_INIT", kname(l), l->where,
			 l->proxy ? " through the proxy" : "", (unsigned long long)(now - l->start_ms));
		if (link_ike_start(l, &l->local, &l->peer) < 0 && !l->ike) {
			l->state = LINK_FAILED;
			link_report_failure(l);
		}
		return;
	}
	if (winner(l)) {
		s->st.transport_reconnects++;
		s->st.reconnects++;
		session_note(s, "up over %s %s%s again, IKE SA kept (reconnect %llu)", kname(l),
			     l->where, l->proxy ? " via proxy" : "",
			     (unsigned long long)s->st.transport_reconnects);
	}
	log_info("%s: reconnected to %s%s%s; IKE SA kept, resending what is outstanding",
		 kname(l), l->where, l->proxy ? " through the proxy" : "",
		 l->kind != CONFIG_TRANSPORT_TLS ? "" : stream_tls_resumed(l->st) ?
		 " (TLS session resumed)" : " (TLS full handshake)");
	link_set_addrs(l, &l->local, &l->peer);
	/*
	 * RFC 9329 §6 ≈: the new stream "MUST begin with the stream prefix
	 * value followed by a complete message" (stream_new queued the prefix;
	 * we only queue whole frames), by which the relay finds the session
	 * again. Outstanding requests are sent again; else "the initiator send
	 * an UPDATE_SA_ADDRESSES message if MOBIKE is supported, or an
	 * INFORMATIONAL message" (ike/sa.c).
	 */
	ike_sa_reconnected(l->ike, now);
	link_rearm(l);
}

/* Frames in: each body is exactly a UDP-4500 payload (RFC 9329 §3). */
static void rx(struct link *l)
{
	const uint8_t *body;
	size_t len;

	while (l->st && l->state == LINK_UP && stream_recv(l->st, &body, &len) > 0) {
		if (!l->rx_seen) {
			l->rx_seen = true;
			l->backoff_i = 0;	/* this connection works */
			l->fails = 0;
		}
		/* Copied: the body is valid only until the next call on the stream,
		 * and an answer may be sent from inside the input. */
		memcpy(l->rx, body, len);
		dp_natt_input(l->s, l, l->rx, len);
	}
}

static void progress(struct link *l)
{
	if (l->st && l->state == LINK_CONNECTING && stream_status(l->st) == STREAM_UP)
		up(l);
	if (l->st && l->state == LINK_UP)
		rx(l);
	if (l->st && stream_status(l->st) == STREAM_CLOSED) {
		broken(l, stream_error(l->st));
		return;
	}
	sync_fd(l);
}

static void on_stream(void *ctx, uint32_t events)
{
	struct link *l = ctx;

	if (!l->st)
		return;
	(void)stream_handle(l->st, events & (l->ev | EPOLLERR | EPOLLHUP));
	progress(l);
}

/* Back-off over, connect deadline passed, or a send found the stream closed. */
static void on_retry(void *ctx)
{
	struct link *l = ctx;
	char msg[300];

	if (l->st && stream_status(l->st) == STREAM_CLOSED) {
		broken(l, stream_error(l->st));
		return;
	}
	if (l->st && l->state == LINK_CONNECTING) {
		snprintf(msg, sizeof(msg), "no connection to %s within %u s", l->where,
			 LINK_CONNECT_MS / 1000);
		broken(l, msg);
		return;
	}
	if (l->st || l->state != LINK_WAITING)
		return;
	if (conn_start(l) < 0)
		broken(l, l->err);
}

/* ---- the link interface ---------------------------------------------------- */

int link_stream_open(struct link *l)
{
	loop_timer_init(&l->t_retry, "link retry", on_retry, l);
	l->rx = malloc(DP_IKE_MAX);
	if (!l->rx) {
		snprintf(l->err, sizeof(l->err), "out of memory");
		return -1;
	}
	return conn_start(l);
}

void link_stream_close(struct link *l)
{
	loop_timer_disarm(l->s->loop, &l->t_retry);
	drop(l);
}

int link_stream_send_ike(struct link *l, const uint8_t *msg, size_t len)
{
	uint8_t *buf = l->s->dp.ike_tx;
	struct wr w;
	int rc;

	/* Not up: after the reconnect ike_sa_reconnected() sends it again. */
	if (!l->st || l->state != LINK_UP) {
		errno = ENOTCONN;
		return -1;
	}
	/* RFC 9329 §3: IKE goes behind the 4-byte non-ESP marker, as on UDP 4500. */
	wr_init(&w, buf, DP_IKE_MAX);
	if (esp_udp_write_ike(&w, msg, len) < 0) {
		errno = EMSGSIZE;
		return -1;
	}
	rc = stream_send(l->st, buf, wr_len(&w), STREAM_CTL);
	after_send(l);
	if (rc < 0) {
		log_debug("%s: IKE message of %zu bytes not sent: %s", kname(l), len, strerror(errno));
		return -1;
	}
	l->s->last_tx_ms = loop_now_ms();
	return 0;
}

/* ESP on the stream, batched: one write for the burst. A full stream (or
 * one that is down) drops the packets, as a full UDP socket would. */
int link_stream_send_esp(struct link *l, const struct iovec *pkts, unsigned n)
{
	int r;

	if (!l->st || l->state != LINK_UP) {
		errno = EAGAIN;
		return 0;
	}
	r = stream_send_batch(l->st, pkts, n);
	after_send(l);
	if (r < 0) {
		errno = EAGAIN;
		return 0;
	}
	return r;
}
