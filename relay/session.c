/*
 * Connections and sessions: the relay's data path.
 *
 *   conn     an accepted TCP/TLS stream: prefix, deframer, output queue
 *   session  a UDP socket connected to the gateway, and the SPIs it carries;
 *            outlives its conn by the idle time so a reconnect finds it
 *
 * Client -> gateway: each frame body is sent as one datagram. Gateway ->
 * client: datagrams are framed into the conn's bounded queue (dropped when
 * it is full, or when all queues and partial frames together are over
 * their budget: IKE and ESP recover from loss at their ends) and written
 * out in bursts. A client's frame that spans reads is gathered in a block
 * within the same budget (stream_in.c), or its stream is closed.
 *
 * A stream gets a session of its own (new SPIs), or goes on probation for
 * the detached session its SPIs name and takes it over when the gateway
 * answers one of its requests that only the SA's keys get answered
 * (relay.h). A session with a stream keeps it.
 */
#include "relay/relay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport/udp.h"
#include "util/log.h"

#define RX_BURST	16	/* stream reads per event, then others' turn */
#define UDP_BURST	4	/* recvmmsg calls per event */
#define OUT_INIT	(16 * 1024)

/* ---- conns ---------------------------------------------------------------- */

/* What the gateway sent while streams were on probation: gone. */
static void sess_held_free(struct session *s)
{
	if (!s->held)
		return;
	R->budget.queued -= RELAY_HELD_MAX;
	free(s->held);
	s->held = NULL;
	s->held_len = 0;
	s->held_frames = 0;
}

/* c is no longer on probation (if it was). */
static void probe_unlink(struct conn *c)
{
	struct conn **pp;

	if (!c->probe)
		return;
	for (pp = &c->probe->probes; *pp; pp = &(*pp)->probe_next) {
		if (*pp == c) {
			*pp = c->probe_next;
			break;
		}
	}
	if (!c->probe->probes)
		sess_held_free(c->probe);
	c->probe = NULL;
	c->probe_next = NULL;
	c->has_pending = false;
}

void rl_conn_close(struct conn *c, const char *why)
{
	char sid[16] = "none";
	bool cut;

	if (c->dead)
		return;
	c->dead = true;
	/* RFC 9329 §6 ≈ : "A peer MUST discard a partially received message
	 * due to a broken connection." */
	cut = tcpframe_rx_eof(&c->rx);
	if (c->sess)
		snprintf(sid, sizeof(sid), "#%" PRIu32, c->sess->id);
	else if (c->probe)
		snprintf(sid, sizeof(sid), "#%" PRIu32 " on probation", c->probe->id);
	R->nconns--;
	if (rl_conn_log_ok())
		log_info("relay: client %s closed: %s (session %s, frames in %" PRIu64 " out %"
			 PRIu64 ", dropped %" PRIu64 ", refused %" PRIu64 "%s; %u/%u clients)",
			 c->peer, why, sid, c->frames_in, c->frames_out, c->dropped, c->refused_in,
			 cut ? ", partial input discarded" : "", R->nconns, R->cfg->max_clients);
	if (c->addr) {
		c->addr->conns--;
		c->addr = NULL;
	}
	probe_unlink(c);
	rl_ep_del(c->st.fd);
	relay_stream_close(&c->st);
	if (c->sess) {
		/* The session stays, UDP socket open, for a reconnect. */
		c->sess->conn = NULL;
		relay_map_detach(c->sess->m, R->now);
		rl_due_at(R->now + rl_idle_ms());
		c->sess = NULL;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		R->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = R->grave_conns;
	R->grave_conns = c;
}

void rl_conn_free(struct conn *c)
{
	R->budget.queued -= c->out_cap;
	free(c->out);
	free(c);
}

static void conn_update_events(struct conn *c)
{
	uint32_t want = EPOLLIN;
	struct epoll_event e = { .data.ptr = &c->ev };

	if (c->dead)
		return;
	if (c->out_off < c->out_len || c->st.want_write)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	e.events = want;
	if (epoll_ctl(R->epfd, EPOLL_CTL_MOD, c->st.fd, &e) == 0)
		c->events = want;
}

/* Write what the queue holds; -1 if that closed the conn. */
static int conn_flush(struct conn *c)
{
	const char *why = "error";

	while (!c->dead && c->out_off < c->out_len) {
		ssize_t n = relay_stream_write(&c->st, c->out + c->out_off,
					       c->out_len - c->out_off, &why);

		if (n < 0) {
			rl_conn_close(c, why);
			return -1;
		}
		if (n == 0)
			break;
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		/* All taken by the stream: the memory goes back to the
		 * budget, which so counts only streams with bytes waiting
		 * (however many clients there are). */
		if (c->out_cap) {
			R->budget.queued -= c->out_cap;
			free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
	}
	return 0;
}

/* Make room for need more bytes within max_queue and the budget: compact,
 * then grow. */
static int conn_room(struct conn *c, size_t need, bool ike)
{
	static struct log_ratelimit lim;
	size_t pending = c->out_len - c->out_off, cap;
	uint8_t *p;

	if (pending + need > R->cfg->max_queue)
		return -1;
	if (c->out_len + need <= c->out_cap)
		return 0;
	/* Only bytes not yet handed to the stream move; a TLS write waiting
	 * for a retry may see its buffer move (ACCEPT_MOVING_WRITE_BUFFER),
	 * never change. */
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, pending);
		c->out_off = 0;
		c->out_len = pending;
	}
	if (c->out_len + need <= c->out_cap)
		return 0;
	cap = c->out_cap ? c->out_cap : OUT_INIT;
	while (cap < c->out_len + need)
		cap *= 2;
	if (cap > R->cfg->max_queue)
		cap = R->cfg->max_queue;
	if (!relay_budget_ok(&R->budget, c->out_cap, cap, ike))
		cap = c->out_len + need;	/* no doubling: just this frame */
	if (!relay_budget_ok(&R->budget, c->out_cap, cap, ike)) {
		R->budget_drops++;
		if (log_ratelimit_ok(&lim, 10))
			log_warn("relay: queue budget reached (%zu bytes queued towards clients, "
				 "%zu in partial frames from clients, of %zu): dropping %s towards %s",
				 R->budget.queued, R->budget.partial, R->budget.total,
				 ike ? "IKE" : "ESP", c->peer);
		return -1;
	}
	p = realloc(c->out, cap);
	if (!p)
		return -1;
	R->budget.queued = R->budget.queued - c->out_cap + cap;
	relay_budget_note(&R->budget);
	c->out = p;
	c->out_cap = cap;
	return 0;
}

/* Frame one datagram into the queue; -1 if it does not fit (dropped). */
static int conn_queue(struct conn *c, const uint8_t *body, size_t len)
{
	struct wr w;
	bool ike = len >= RELAY_NON_ESP_MARKER && !body[0] && !body[1] && !body[2] && !body[3];

	if (conn_room(c, TCPFRAME_HDR_LEN + len, ike) < 0)
		return -1;
	wr_init(&w, c->out + c->out_len, c->out_cap - c->out_len);
	if (tcpframe_put(&w, body, len, TCPFRAME_MAX_LEN) < 0)
		return -1;
	c->out_len += wr_len(&w);
	c->frames_out++;
	return 0;
}

/* ---- sessions ------------------------------------------------------------- */

void rl_sess_free(struct session *s, const char *why)
{
	if (s->dead)
		return;
	if (s->conn)
		rl_conn_close(s->conn, why);
	while (s->probes)
		rl_conn_close(s->probes, "its session was freed while on probation");
	sess_held_free(s);
	if (s->addr) {
		s->addr->sessions--;
		s->addr = NULL;
	}
	s->dead = true;
	log_info("relay: session #%" PRIu32 " freed: %s (udp %s, to gw %" PRIu64 ", from gw %"
		 PRIu64 ", dropped %" PRIu64 ", gw keepalives %" PRIu64 ", udp errors %" PRIu64
		 "; %zu sessions left)", s->id, why, s->udp_local, s->to_gw, s->from_gw,
		 s->dropped, s->keepalives, s->udp_err, R->map.count - 1);
	rl_ep_del(s->udp);
	close(s->udp);
	relay_map_free_sess(&R->map, s->m);
	s->m = NULL;
	s->next_dead = R->grave_sess;
	R->grave_sess = s;
}

static int sess_udp_open(struct session *s)
{
	const struct relay_addr *gw = &R->cfg->gateway;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	/* A plain connected socket: datagrams from the gateway only. (No
	 * IP_RECVERR: an undrained error queue would keep epoll busy.) */
	s->udp = socket(gw->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->udp < 0)
		return -1;
	if (connect(s->udp, (const struct sockaddr *)&gw->ss, gw->len) < 0 ||
	    getsockname(s->udp, (struct sockaddr *)&ss, &sl) < 0 ||
	    rl_ep_add(s->udp, &s->ev, EPOLLIN) < 0) {
		close(s->udp);
		s->udp = -1;
		return -1;
	}
	sockaddr_str((struct sockaddr *)&ss, s->udp_local, sizeof(s->udp_local));
	return 0;
}

static void sess_attach(struct session *s, struct conn *c)
{
	s->conn = c;
	c->sess = s;
	relay_map_attach(s->m, R->now);
	/* The session's address is its client's latest. */
	if (s->addr != c->addr) {
		if (s->addr)
			s->addr->sessions--;
		s->addr = c->addr;
		s->addr->sessions++;
	}
}

static int sess_new(struct conn *c, const struct relay_key *keys, size_t n)
{
	struct session *s;
	char k[RELAY_KEYSTRLEN], a[RELAY_ADDRSTRLEN];

	if (c->addr->sessions >= R->cfg->sess_per_addr) {
		char why[RELAY_ADDRSTRLEN + 48];

		snprintf(why, sizeof(why), "limit (%u sessions from %s)", R->cfg->sess_per_addr,
			 relay_peer_str(&c->addr->key, a, sizeof(a)));
		rl_conn_close(c, why);
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->ev.kind = EV_UDP;
	if (!s || sess_udp_open(s) < 0) {
		log_warn("relay: client %s: udp socket to %s: %s", c->peer, R->gw, strerror(errno));
		free(s);
		rl_conn_close(c, "error (no udp socket)");
		return -1;
	}
	s->m = relay_map_new_sess(&R->map, R->now);	/* a slot is free: place said */
	if (!s->m) {
		rl_ep_del(s->udp);
		close(s->udp);
		free(s);
		rl_conn_close(c, "limit (session table full)");
		return -1;
	}
	s->m->ctx = s;
	s->id = s->m->id;
	sess_attach(s, c);
	rl_due_at(R->now + rl_idle_ms());
	if (rl_conn_log_ok())
		log_info("relay: client %s session #%" PRIu32 " new (udp %s -> %s; %zu sessions)",
			 c->peer, s->id, s->udp_local, R->gw, R->map.count);
	/* SPIs name SAs: debug only. */
	log_debug("relay: session #%" PRIu32 " first frame: %s", s->id,
		  relay_key_str(n ? &keys[0] : &(struct relay_key){ 0 }, k, sizeof(k)));
	return 0;
}

/*
 * RFC 9329 §6 ≈ : SAs survive a broken connection and the responder
 * accepts them on the new one. The gateway knows nothing of TCP: keep its
 * view (same UDP source port) by going on with the session's socket. Only
 * for the stream the gateway answered (relay.h): the others on probation
 * for the session go.
 */
static void sess_takeover(struct session *s, struct conn *c, const struct relay_ike *h)
{
	char k[RELAY_KEYSTRLEN];
	struct relay_key key = { .spi = h->spi_i, .kind = RELAY_KEY_IKE };

	/* What the gateway sent while c was on probation goes to c first:
	 * taken before the probes go (the last one frees what is held). */
	uint8_t *held = s->held;
	size_t held_len = s->held_len;
	uint64_t held_frames = s->held_frames;

	s->held = NULL;
	s->held_len = 0;
	s->held_frames = 0;
	probe_unlink(c);
	while (s->probes)
		rl_conn_close(s->probes, "another stream proved it is the session's client");
	sess_attach(s, c);
	if (held_len && conn_room(c, held_len, true) == 0) {
		memcpy(c->out + c->out_len, held, held_len);
		c->out_len += held_len;
		c->frames_out += held_frames;
	} else {
		s->dropped += held_frames;
	}
	if (held) {
		R->budget.queued -= RELAY_HELD_MAX;
		free(held);
	}
	R->reattached++;
	log_info("relay: client %s reattached to session #%" PRIu32
		 ": the gateway answered its request", c->peer, s->id);
	log_debug("relay: client %s reattached to session #%" PRIu32 " (%s, message id %" PRIu32
		  ")", c->peer, s->id, relay_key_str(&key, k, sizeof(k)), h->mid);
}

static void sess_send(struct session *s, const uint8_t *body, size_t len);

/* A frame naming another session (one with a stream, or any other than
 * the stream's own): dropped. */
static void conn_refuse_frame(struct conn *c, const struct relay_key *key,
			      const struct relay_sess *owner)
{
	static struct log_ratelimit lim;
	char k[RELAY_KEYSTRLEN];

	c->refused_in++;
	R->live_drops++;
	if (log_ratelimit_ok(&lim, 10))
		log_debug("relay: client %s: frame dropped: %s belongs to session #%" PRIu32
			  "%s (%" PRIu64 " dropped so far)", c->peer,
			  relay_key_str(key, k, sizeof(k)), owner->id,
			  owner->attached ? ", which has a live stream" : ", not this stream's",
			  R->live_drops);
}

/* On probation for s: to the gateway from s's socket, nothing learned,
 * nothing back until the gateway answers a request that proves it. */
static void conn_probe(struct conn *c, struct session *s, const struct relay_ike *h,
		       const uint8_t *body, size_t len)
{
	if (!c->probe) {
		c->probe = s;
		c->probe_next = s->probes;
		s->probes = c;
		if (rl_conn_log_ok())
			log_info("relay: client %s on probation for session #%" PRIu32
				 " (it has no stream; waiting for the gateway to answer this one)",
				 c->peer, s->id);
	}
	if (h && relay_map_is_proof(s->m, h)) {
		c->pending = *h;
		c->has_pending = true;
	}
	c->frames_in++;
	sess_send(s, body, len);
}

/* A frame of a stream without a session decides where it goes:
 * 1 attached (new session), 0 handled (dropped or on probation), -1 closed. */
static int conn_place(struct conn *c, const struct relay_key *keys, size_t n,
		      const struct relay_ike *h, const uint8_t *body, size_t len)
{
	struct relay_place pl;

	relay_map_place(&R->map, keys, n, &pl);
	switch (pl.kind) {
	case RELAY_PLACE_LIVE:
		conn_refuse_frame(c, &pl.key, pl.sess);
		return 0;
	case RELAY_PLACE_PROBE:
		if (c->probe && c->probe != pl.sess->ctx) {
			c->refused_in++;	/* one session per stream */
			return 0;
		}
		conn_probe(c, pl.sess->ctx, h, body, len);
		return 0;
	case RELAY_PLACE_EVICT:
	case RELAY_PLACE_NEW:
	case RELAY_PLACE_FULL:
		break;
	}
	if (c->probe) {
		/* A stream on probation opens no second session. */
		c->refused_in++;
		return 0;
	}
	if (pl.kind == RELAY_PLACE_FULL) {
		rl_conn_close(c, "limit (session table full)");
		return -1;
	}
	if (pl.kind == RELAY_PLACE_EVICT)
		rl_sess_free(pl.victim->ctx, "evicted (session table full; never established)");
	return sess_new(c, keys, n) < 0 ? -1 : 1;
}

static void sess_send(struct session *s, const uint8_t *body, size_t len)
{
	static struct log_ratelimit lim;

	/* A datagram the socket cannot take is lost like any UDP datagram;
	 * IKE and ESP recover from loss at their ends. */
	if (udp_send(s->udp, body, len) < 0) {
		s->udp_err++;
		if (log_ratelimit_ok(&lim, 10))
			log_debug("relay: session #%" PRIu32 ": send to %s: %s", s->id, R->gw,
				  strerror(errno));
		return;
	}
	s->to_gw++;
}

/* s has no stream but streams on probation: hold what the gateway sends
 * for the one that wins (a bounded amount, within the queue budget). */
static void sess_hold(struct session *s, const uint8_t *body, size_t len)
{
	struct wr w;

	if (!s->held) {
		if (!relay_budget_ok(&R->budget, 0, RELAY_HELD_MAX, true) ||
		    !(s->held = malloc(RELAY_HELD_MAX))) {
			s->dropped++;
			return;
		}
		R->budget.queued += RELAY_HELD_MAX;
		relay_budget_note(&R->budget);
	}
	wr_init(&w, s->held + s->held_len, RELAY_HELD_MAX - s->held_len);
	if (tcpframe_put(&w, body, len, TCPFRAME_MAX_LEN) < 0) {
		s->dropped++;
		return;
	}
	s->held_len += wr_len(&w);
	s->held_frames++;
}

static bool probe_asked(const struct conn *c, const struct relay_ike *h)
{
	const struct relay_ike *q = &c->pending;

	return c->has_pending && q->spi_i == h->spi_i && q->exch == h->exch &&
	       q->mid == h->mid && (!q->spi_r || q->spi_r == h->spi_r);
}

/*
 * The gateway answered: the probe whose request it was takes s over. Only
 * if exactly one probe sent that request: the answer says nothing of which
 * of two copies was the authentic one (a stranger who sees or guesses the
 * next message ID could send its own), so then none does; the client's
 * next try settles it.
 */
static void sess_answer_probe(struct session *s, const struct relay_ike *h)
{
	static struct log_ratelimit lim;
	struct conn *who = NULL;
	unsigned n = 0;

	for (struct conn *c = s->probes; c; c = c->probe_next) {
		if (probe_asked(c, h)) {
			who = c;
			n++;
		}
	}
	if (n == 1) {
		sess_takeover(s, who, h);
		return;
	}
	if (n > 1 && log_ratelimit_ok(&lim, 10))
		log_info("relay: session #%" PRIu32 ": the gateway answered a request %u streams on "
			 "probation sent: none takes the session over", s->id, n);
}

static void sess_from_gw(struct session *s, const uint8_t *body, size_t len)
{
	struct relay_key keys[RELAY_BODY_KEYS];
	struct relay_ike h;
	bool is_ike;
	size_t n;

	/* RFC 9329 §6.6 ≈ : "IPsec ESP NAT keep-alives SHOULD NOT be sent
	 * when using TCP encapsulation": the gateway's 1-byte keepalives
	 * (and any datagram under TCPFRAME_MIN_BODY) stop here. */
	if (len < TCPFRAME_MIN_BODY) {
		if (len == 1 && body[0] == TCPFRAME_KEEPALIVE)
			s->keepalives++;
		else
			s->dropped++;
		return;
	}
	n = relay_body_keys(body, len, RELAY_FROM_GW, keys);
	relay_map_learn(&R->map, s->m, keys, n);
	is_ike = relay_body_ike(body, len, &h) == 0;
	if (n && (is_ike || keys[0].kind == RELAY_KEY_ESP_FROM_GW))
		relay_map_gw_spoke(s->m, is_ike ? &h : NULL);
	if (!s->conn && s->probes && is_ike && !relay_ike_is_request(&h))
		sess_answer_probe(s, &h);
	if (!s->conn && s->probes) {
		sess_hold(s, body, len);
		return;
	}
	if (!s->conn || conn_queue(s->conn, body, len) < 0) {
		s->dropped++;
		if (s->conn)
			s->conn->dropped++;
		return;
	}
	relay_map_touch(s->m, R->now);
	s->from_gw++;
}

void rl_sess_udp_event(struct session *s)
{
	size_t lens[RELAY_UDP_BATCH];

	for (int b = 0; b < UDP_BURST && !s->dead; b++) {
		int n = udp_recv_batch(s->udp, R->ubufs, RELAY_UDP_BUF, lens, RELAY_UDP_BATCH);

		if (n < 0) {
			/* ECONNREFUSED and the like: reported once, cleared */
			s->udp_err++;
			continue;
		}
		for (int i = 0; i < n; i++)
			sess_from_gw(s, R->ubufs[i], lens[i]);
		if (n < RELAY_UDP_BATCH)
			break;
	}
	if (s->conn && conn_flush(s->conn) == 0)
		conn_update_events(s->conn);
}

/* ---- stream input ---------------------------------------------------------- */

static void conn_prefix_check(struct conn *c)
{
	char info[96];

	if (c->prefix_ok || c->rx.prefix_seen < TCPFRAME_PREFIX_LEN)
		return;
	c->prefix_ok = true;
	/* The deadline from accept stands until the first whole frame. */
	if (rl_conn_log_ok())
		log_info("relay: client %s prefix ok%s", c->peer,
			 relay_stream_info(&c->st, info, sizeof(info)));
}

/* A new IKE SA from c's address: within its rate and the relay's? The
 * gateway sees every client at the relay's address and cannot tell. */
static bool init_allowed(struct conn *c)
{
	unsigned rate = R->cfg->init_rate, total = R->cfg->init_total;

	return relay_bucket_take(&c->addr->inits, R->now, rate, rate / 2 ? rate / 2 : 1) &&
	       relay_bucket_take(&R->inits_all, R->now, total, total / 6 ? total / 6 : 1);
}

/* A new IKE SA over the rate: dropped; a stream without a session goes. */
static int conn_init_refused(struct conn *c)
{
	static struct log_ratelimit lim;
	char a[RELAY_ADDRSTRLEN], why[RELAY_ADDRSTRLEN + 48];

	R->init_drops++;
	c->refused_in++;
	relay_peer_str(&c->addr->key, a, sizeof(a));
	if (log_ratelimit_ok(&lim, 10))
		log_info("relay: client %s: new IKE SA refused: over the rate (%u a minute from %s,"
			 " %u in all; %" PRIu64 " refused so far)", c->peer, R->cfg->init_rate, a,
			 R->cfg->init_total, R->init_drops);
	if (c->sess || c->probe)
		return 0;
	snprintf(why, sizeof(why), "limit (new IKE SAs from %s)", a);
	rl_conn_close(c, why);
	return -1;
}

/* The first whole frame: a stream left without a session of its own gets
 * the probation time, once. */
static void conn_first_frame(struct conn *c)
{
	if (c->framed)
		return;
	c->framed = true;
	if (!c->sess) {
		c->deadline_ms = R->now + (uint64_t)RELAY_PROBATION_S * 1000;
		rl_due_at(c->deadline_ms);
	}
}

/* One frame body from the client: -1 if c was closed. */
static int conn_body(struct conn *c, const uint8_t *body, size_t len)
{
	struct relay_key keys[RELAY_BODY_KEYS];
	size_t n = relay_body_keys(body, len, RELAY_TO_GW, keys);
	struct relay_ike h;
	bool is_ike = relay_body_ike(body, len, &h) == 0;
	struct relay_sess *other;
	size_t which = 0;
	int r;

	conn_prefix_check(c);
	if (is_ike && relay_ike_is_new_sa(&h) && n &&
	    !relay_map_lookup(&R->map, &keys[0]) && !init_allowed(c)) {
		r = conn_init_refused(c);
		if (r == 0)
			conn_first_frame(c);
		return r;
	}
	if (!c->sess) {
		r = conn_place(c, keys, n, is_ike ? &h : NULL, body, len);
		if (r >= 0)
			conn_first_frame(c);
		if (r <= 0)
			return r;
	}
	/* Another session's live stream is the only one that speaks for its
	 * SPIs. (A detached one's SPIs may go out from this stream's socket:
	 * a client whose first frame after a reconnect was ESP of a Child SA
	 * the relay never saw got a session of its own, and its IKE request
	 * moves the SAs there; only the SA's keys make the gateway do that.) */
	other = relay_map_foreign(&R->map, c->sess->m, keys, n, &which);
	if (other && other->attached) {
		conn_refuse_frame(c, &keys[which], other);
		return 0;
	}
	relay_map_learn(&R->map, c->sess->m, keys, n);
	if (is_ike)
		relay_map_note_request(c->sess->m, &h);
	relay_map_touch(c->sess->m, R->now);
	c->frames_in++;
	sess_send(c->sess, body, len);
	return 0;
}

/* c's frame spans reads and its block does not fit in the budget (or
 * malloc failed): the stream goes, the others keep what they hold. */
static void conn_over_budget(struct conn *c)
{
	static struct log_ratelimit lim;

	if (log_ratelimit_ok(&lim, 10))
		log_warn("relay: memory budget reached (%zu bytes queued towards clients, %zu in "
			 "partial frames from clients, of %zu): closing %s, its frame spans reads "
			 "(%" PRIu64 " closed so far)", R->budget.queued, R->budget.partial,
			 R->budget.total, c->peer, R->budget.partial_refused);
	rl_conn_close(c, "limit (no memory for its partial frame within --max-queue-total)");
}

static void conn_proto_error(struct conn *c)
{
	enum tcpframe_err e = tcpframe_rx_error(&c->rx);
	char why[128];

	if (e == TCPFRAME_ENOMEM) {
		conn_over_budget(c);
		return;
	}
	/* RFC 9329 §6.1 ≈ : "If either initiator or responder receives a
	 * stream that cannot be parsed correctly, it MUST close the TCP
	 * connection." Only this client's stream: the others go on. */
	if (e == TCPFRAME_EPREFIX)
		snprintf(why, sizeof(why), "prefix bad (%s)", tcpframe_err_str(e));
	else
		snprintf(why, sizeof(why), "protocol error: %s", tcpframe_err_str(e));
	rl_conn_close(c, why);
}

static int conn_body_cb(void *ctx, const uint8_t *body, size_t len)
{
	return conn_body(ctx, body, len);
}

/* Deframe what one read returned; -1 if c was closed. */
static int conn_input(struct conn *c, const uint8_t *data, size_t len)
{
	int r = relay_stream_input(&c->rx, data, len, conn_body_cb, c);

	if (r == RELAY_STREAM_BAD) {
		conn_proto_error(c);
		return -1;
	}
	if (r < 0)
		return -1;
	conn_prefix_check(c);
	return 0;
}

static void conn_read(struct conn *c)
{
	for (int i = 0; i < RX_BURST && !c->dead; i++) {
		const char *why = "error";
		ssize_t n = relay_stream_read(&c->st, R->rbuf, sizeof(R->rbuf), &why);

		if (n == 0)
			return;
		if (n < 0) {
			rl_conn_close(c, why);
			return;
		}
		if (conn_input(c, R->rbuf, (size_t)n) < 0)
			return;
	}
}

void rl_conn_event(struct conn *c)
{
	/* Both directions on any event: TLS may wait on either for either. */
	if (conn_flush(c) < 0)
		return;
	conn_read(c);
	conn_update_events(c);
}
