/*
 * Stream paths: RFC 9329 over TCP or TLS, directly or through the HTTP
 * CONNECT proxy (transport/stream.h does the framing, the prefix, TLS and
 * the proxy; here: when to connect, what to do with frames, and how to
 * survive a broken connection).
 *
 *   connect ─> up: owner->up(again = false), after a break again = true
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
 * inside a send (from the owner or the data path) is dealt
 * with from the loop (t_retry at 0 ms), never from inside the call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "agent/path.h"
#include "esp/esp.h"
#include "transport/udp.h"
#include "util/log.h"

/* Reconnect back-off; the last one repeats. */
static const uint32_t backoff_ms[] = { 200, 500, 1000, 2000, 4000, 8000, 16000, 30000 };
#define N_BACKOFF (sizeof(backoff_ms) / sizeof(backoff_ms[0]))

static const char *kname(const struct path *p)
{
	return path_kind_name(p->kind);
}

static void on_stream(void *ctx, uint32_t events);

/* ---- the fd the loop watches ------------------------------------------------ */

static void drop(struct path *p)
{
	if (p->fd >= 0)
		loop_del_fd(p->env->loop, p->fd);
	p->fd = -1;
	p->ev = 0;
	stream_free(p->st);	/* close_notify and close(), nothing that blocks */
	p->st = NULL;
}

/* Watch what the stream wants now. The fd number may be reused by a new
 * socket after the old one closed, so a failed MOD is retried as ADD. */
static void sync_fd(struct path *p)
{
	struct loop *lp = p->env->loop;
	int fd = p->st ? stream_fd(p->st) : -1;
	uint32_t ev = p->st ? stream_events(p->st) : 0;

	if (fd == p->fd && ev == p->ev)
		return;
	if (fd == p->fd && fd >= 0 && loop_mod_fd(lp, fd, ev) == 0) {
		p->ev = ev;
		return;
	}
	if (p->fd >= 0)
		loop_del_fd(lp, p->fd);
	p->fd = -1;
	p->ev = 0;
	if (fd < 0)
		return;
	if (loop_add_fd(lp, fd, ev, on_stream, p) < 0) {
		log_err("%s: cannot watch the connection: %s", kname(p), strerror(errno));
		stream_close(p->st);
		loop_timer_arm(lp, &p->t_retry, 0);	/* handled as a broken connection */
		return;
	}
	p->fd = fd;
	p->ev = ev;
}

/* After a send: a write error closes the stream; deal with it from the loop.
 * Its fd is unwatched at once: the number may be reused before then. */
static void after_send(struct path *p)
{
	sync_fd(p);
	if (stream_status(p->st) == STREAM_CLOSED)
		loop_timer_arm(p->env->loop, &p->t_retry, 0);
}

/* ---- connect ----------------------------------------------------------------- */

static void cfg_fill(const struct path *p, struct stream_cfg *c)
{
	const struct config *cfg = p->env->cfg;

	memset(c, 0, sizeof(*c));
	c->kind = p->kind == CONFIG_TRANSPORT_TLS ? STREAM_TLS : STREAM_TCP;
	c->peer = p->env->gw;
	c->peerlen = p->env->gw_len;
	sockaddr_set_port(&c->peer, p->kind == CONFIG_TRANSPORT_TLS ? cfg->transport.tls_port :
			  cfg->transport.tcp_port);
	c->mark = cfg->agent.fwmark;
	c->ifindex = p->ifindex;
	c->max_frame = cfg->transport.max_frame;
	c->congestion = cfg->transport.tcp_congestion;	/* NULL: the kernel's */
	/* SNI and certificate name: tls_sni, else the gateway's name (never a literal). */
	c->peer_host = cfg->gateway.address;
	c->sni = cfg->transport.tls_sni;
	c->verify = cfg->transport.tls_verify;
	c->ca_file = cfg->transport.tls_ca;
	/* RFC 9329 Appendix A: reconnects SHOULD resume the TLS session. */
	c->tls_cache = p->env->tls_cache;
	if (p->proxy) {
		c->proxy_host = cfg->transport.proxy_host;
		c->proxy_port = cfg->transport.proxy_port;
		c->proxy_user = cfg->transport.proxy_user;
		c->proxy_pass = cfg->transport.proxy_pass;
		c->proxy_allow_basic = cfg->transport.proxy_allow_basic;
	}
}

static void progress(struct path *p);

/* Start one connection. -1: it failed at once (p->err says why). */
static int conn_start(struct path *p)
{
	struct stream_cfg c;

	cfg_fill(p, &c);
	p->state = PATH_CONNECTING;
	p->rx_seen = false;
	p->st = stream_new(&c);
	if (!p->st) {
		snprintf(p->err, sizeof(p->err), "cannot set up the stream (memory or settings)");
		return -1;
	}
	if (stream_connect(p->st) < 0) {
		snprintf(p->err, sizeof(p->err), "%s", path_bare_error(stream_error(p->st)));
		drop(p);
		return -1;
	}
	loop_timer_arm(p->env->loop, &p->t_retry, PATH_CONNECT_MS);	/* the deadline */
	progress(p);
	return 0;
}

/* The connection is over; a path that never was up has failed outright. */
static void broken(struct path *p, const char *why)
{
	bool was_up = p->state == PATH_UP;
	char msg[256];
	uint32_t delay;

	snprintf(msg, sizeof(msg), "%s", why && why[0] ? path_bare_error(why) : "connection closed");
	drop(p);
	loop_timer_disarm(p->env->loop, &p->t_retry);
	if (!p->ever_up) {
		snprintf(p->err, sizeof(p->err), "%s", msg);
		path_report_failure(p);
		return;
	}
	if (++p->fails >= PATH_MAX_FAILS) {
		snprintf(p->err, sizeof(p->err), "%.160s (gave up after %u connections)", msg,
			 p->fails);
		log_warn("%s: connection to %s %s (%s), giving up after %u connections without "
			 "an answer", kname(p), p->where, was_up ? "lost" : "failed", msg, p->fails);
		path_report_failure(p);
		return;
	}
	/* RFC 9329 §6 ≈: the SAs survive a RST or FIN; only the initiator reconnects. */
	delay = backoff_ms[p->backoff_i];
	if (p->backoff_i + 1 < N_BACKOFF)
		p->backoff_i++;
	p->state = PATH_WAITING;
	snprintf(p->err, sizeof(p->err), "%.200s", msg);
	log_warn("%s: connection to %s %s (%s), reconnecting in %.1f s", kname(p), p->where,
		 was_up ? "lost" : "failed", msg, delay / 1000.0);
	loop_timer_arm(p->env->loop, &p->t_retry, delay);
}

/* Connected (and CONNECT and TLS done): tell the owner. */
static void up(struct path *p)
{
	const struct path_env *e = p->env;
	uint64_t now = loop_now_ms();
	bool again = p->ever_up;

	loop_timer_disarm(e->loop, &p->t_retry);
	p->state = PATH_UP;
	if (stream_addrs(p->st, &p->local, &p->remote) < 0)
		memset(&p->local, 0, sizeof(p->local));
	/* Through a proxy the peer is the proxy; NAT detection names the gateway. */
	if (p->proxy || p->remote.ss_family != e->gw.ss_family) {
		p->remote = e->gw;
		sockaddr_set_port(&p->remote, p->kind == CONFIG_TRANSPORT_TLS ?
				  e->cfg->transport.tls_port : e->cfg->transport.tcp_port);
	}
	p->ever_up = true;
	if (!again) {
		p->up_ms = now;
		log_info("%s: stream to %s%s up after %llu ms", kname(p), p->where,
			 p->proxy ? " through the proxy" : "", (unsigned long long)(now - p->start_ms));
	} else {
		log_info("%s: reconnected to %s%s%s", kname(p), p->where,
			 p->proxy ? " through the proxy" : "",
			 p->kind != CONFIG_TRANSPORT_TLS ? "" : stream_tls_resumed(p->st) ?
			 " (TLS session resumed)" : " (TLS full handshake)");
	}
	/*
	 * RFC 9329 §6 ≈: the new stream "MUST begin with the stream prefix
	 * value followed by a complete message" (stream_new queued the prefix;
	 * we only queue whole frames), by which the relay finds the session
	 * again. The owner sends what is outstanding.
	 */
	e->own->up(e->ctx, p, again);
}

/* Frames in: each body is exactly a UDP-4500 payload (RFC 9329 §3). */
static void rx(struct path *p)
{
	const uint8_t *body;
	size_t len;

	while (p->st && p->state == PATH_UP && stream_recv(p->st, &body, &len) > 0) {
		if (!p->rx_seen) {
			p->rx_seen = true;
			p->backoff_i = 0;	/* this connection works */
			p->fails = 0;
		}
		/* Copied: the body is valid only until the next call on the stream,
		 * and an answer may be sent from inside the input. */
		memcpy(p->rx, body, len);
		path_natt_input(p, p->rx, len);
	}
	p->env->own->esp_flush(p->env->ctx, p);
}

static void progress(struct path *p)
{
	if (p->st && p->state == PATH_CONNECTING && stream_status(p->st) == STREAM_UP)
		up(p);
	if (p->st && p->state == PATH_UP)
		rx(p);
	if (p->st && stream_status(p->st) == STREAM_CLOSED) {
		broken(p, stream_error(p->st));
		return;
	}
	sync_fd(p);
}

static void on_stream(void *ctx, uint32_t events)
{
	struct path *p = ctx;

	if (!p->st)
		return;
	(void)stream_handle(p->st, events & (p->ev | EPOLLERR | EPOLLHUP));
	progress(p);
}

/* Back-off over, connect deadline passed, or a send found the stream closed. */
static void on_retry(void *ctx)
{
	struct path *p = ctx;
	char msg[300];

	if (p->st && stream_status(p->st) == STREAM_CLOSED) {
		broken(p, stream_error(p->st));
		return;
	}
	if (p->st && p->state == PATH_CONNECTING) {
		snprintf(msg, sizeof(msg), "no connection to %s within %u s", p->where,
			 PATH_CONNECT_MS / 1000);
		broken(p, msg);
		return;
	}
	if (p->st || p->state != PATH_WAITING)
		return;
	if (conn_start(p) < 0)
		broken(p, p->err);
}

/* ---- the path interface ---------------------------------------------------- */

int path_stream_open(struct path *p)
{
	loop_timer_init(&p->t_retry, "path retry", on_retry, p);
	p->rx = malloc(PATH_IKE_MAX);
	if (!p->rx) {
		snprintf(p->err, sizeof(p->err), "out of memory");
		return -1;
	}
	return conn_start(p);
}

void path_stream_close(struct path *p)
{
	loop_timer_disarm(p->env->loop, &p->t_retry);
	drop(p);
}

int path_stream_send_ike(struct path *p, const uint8_t *msg, size_t len)
{
	uint8_t *buf = p->env->tx;
	struct wr w;
	int rc;

	/* Not up: once it is again, the owner sends what is outstanding. */
	if (!p->st || p->state != PATH_UP) {
		errno = ENOTCONN;
		return -1;
	}
	/* RFC 9329 §3: IKE goes behind the 4-byte non-ESP marker, as on UDP 4500. */
	wr_init(&w, buf, PATH_IKE_MAX);
	if (esp_udp_write_ike(&w, msg, len) < 0) {
		errno = EMSGSIZE;
		return -1;
	}
	rc = stream_send(p->st, buf, wr_len(&w), STREAM_CTL);
	after_send(p);
	if (rc < 0) {
		log_debug("%s: IKE message of %zu bytes not sent: %s", kname(p), len, strerror(errno));
		return -1;
	}
	p->last_tx_ms = loop_now_ms();
	return 0;
}

/* ESP on the stream, batched: one write for the burst. A full stream (or
 * one that is down) drops the packets, as a full UDP socket would. */
int path_stream_send_esp(struct path *p, const struct iovec *pkts, unsigned n)
{
	int r;

	if (!p->st || p->state != PATH_UP) {
		errno = EAGAIN;
		return 0;
	}
	r = stream_send_batch(p->st, pkts, n);
	after_send(p);
	if (r < 0) {
		errno = EAGAIN;
		return 0;
	}
	return r;
}
