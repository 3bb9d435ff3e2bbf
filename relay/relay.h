/*
 * ikerelay: a gateway-side RFC 9329 relay. strongSwan only speaks IKE and
 * ESP over UDP; ikerelay accepts TCP (and TLS) streams from clients, checks
 * the "IKETCP" prefix, deframes, and forwards every frame body as one UDP
 * datagram to the gateway's port 4500 from a per-client UDP socket. The
 * gateway's datagrams go back framed on the client's stream.
 *
 * A client whose stream broke reconnects from a new port, maybe from a new
 * address; the relay finds its session again by the IKE and ESP SPIs in the
 * new stream's frames and goes on with the session's UDP socket, so the
 * gateway sees the same source address and port and its SAs survive
 * (RFC 9329 §6 ≈: "the responder accepts the SA's packets from the new
 * connection").
 *
 * SPIs are no secret (plain TCP shows them, so does the UDP leg), so a SPI
 * alone never moves a session to a stream:
 *   - a session with a live stream keeps it; another stream's frames that
 *     name its SPIs are dropped (counted; logged at debug, rate-limited),
 *     also when that stream has a session of its own;
 *   - a stream naming a session that has no stream is "probationary": its
 *     frames go to the gateway from the session's socket, but nothing comes
 *     back to it, its SPIs are not learned and it does not keep the session
 *     alive. It takes the session over only when the gateway answers an IKE
 *     request it sent (same SPIs, exchange and message ID) that a stranger
 *     could not have had answered: a message ID above every request the
 *     session's client sent for that IKE SA (only the SA's keys make the
 *     gateway answer a new one; a replayed last request would be answered
 *     from the gateway's cache), or the IKE_SA_INIT of an SA that got no
 *     further (nothing is authenticated yet, nothing to protect). If two
 *     streams on probation sent that request, neither takes over (the
 *     answer does not say which copy was authentic). Until then the
 *     session and its keys stay as they were; a stream still on probation
 *     after RELAY_PROBATION_S is closed. What the gateway sends meanwhile
 *     (up to RELAY_HELD_MAX bytes: it may send a pending request to the
 *     new address before its answer) is held and goes to the winner.
 * Why not "same source address": RFC 9329 clients reconnect from wherever
 * they are after a move, and an attacker behind the same NAT would pass.
 * The gateway's answer needs the SA's keys, which only the client has.
 * (ikeagent sends an INFORMATIONAL or UPDATE_SA_ADDRESSES after every
 * reconnect, RFC 9329 §6 ≈, so its proof is its first exchange.)
 *
 * Limits: streams and sessions per client address (IPv6: per /64), a
 * deadline from accept to the prefix and the first whole frame, new IKE
 * SAs (IKE_SA_INIT with a SPI the relay does not know) per address and in
 * all by token buckets: the gateway sees every client at the relay's
 * address, so its own per-address limits cannot tell them apart and the
 * relay does that part. Bytes queued towards clients and clients' frames
 * that span reads share a budget across all streams: over it ESP is
 * dropped, IKE gets a reserve of an eighth, a stream whose partial frame
 * does not fit is closed.
 * A table-full relay frees only a detached session the gateway never
 * spoke encrypted IKE or ESP to, never one of a client that may reconnect.
 *
 *   main.c    command line, configuration
 *   relay.c   event loop, listeners, timers, signals
 *   session.c connections and sessions: the data path
 *   map.c     SPI -> session table, takeover rules (pure logic, unit-tested)
 *   peers.c   per-address counts and token buckets (pure logic, unit-tested)
 *   tls.c     streams: plain TCP or OpenSSL server side
 */
#ifndef IKEAGENT_RELAY_RELAY_H
#define IKEAGENT_RELAY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <sys/epoll.h>

#include "transport/tcpframe.h"
#include "util/buf.h"
#include "util/privdrop.h"

#define RELAY_NAME		"ikerelay"
#define RELAY_DEF_MAX_CLIENTS	256
#define RELAY_DEF_IDLE_S	300
#define RELAY_DEF_PREFIX_S	10	/* accept -> prefix and the first frame */
#define RELAY_DEF_MAX_QUEUE	(256 * 1024)
#define RELAY_MIN_MAX_QUEUE	(64 * 1024)	/* one largest frame fits */
#define RELAY_DEF_QUEUE_TOTAL	(16 * 1024 * 1024)
#define RELAY_DEF_CONNS_ADDR	16
#define RELAY_DEF_SESS_ADDR	16
#define RELAY_DEF_INIT_RATE	20	/* new IKE SAs per address per minute */
#define RELAY_DEF_INIT_TOTAL	600	/* new IKE SAs per minute in all */
#define RELAY_PROBATION_S	30	/* a stream without a session of its own */
#define RELAY_HELD_MAX		(16 * 1024)	/* held for a stream on probation */
#define RELAY_ADDRSTRLEN	64

/* ---- configuration (main.c) --------------------------------------------- */

struct relay_addr {
	struct sockaddr_storage ss;
	socklen_t len;			/* 0: not set */
};

struct relay_cfg {
	struct relay_addr listen;	/* plain TCP */
	struct relay_addr listen_tls;	/* TLS; len 0 when not asked for */
	const char *cert, *key;		/* PEM files for TLS */
	struct relay_addr gateway;	/* the gateway's UDP 4500 */
	unsigned max_clients;		/* streams, and sessions */
	unsigned conns_per_addr;	/* streams from one address (IPv6: /64) */
	unsigned sess_per_addr;		/* sessions last used from one address */
	unsigned idle_s;		/* no frame either way: close, free */
	unsigned prefix_timeout_s;	/* accept (and TLS) until "IKETCP" + a frame */
	size_t max_queue;		/* framed bytes queued towards a client */
	size_t queue_total;		/* queues and partial frames, all clients */
	unsigned init_rate;		/* new IKE SAs per address per minute */
	unsigned init_total;		/* new IKE SAs per minute in all */
	bool drop;			/* become run_as once bound (--user) */
	struct privdrop_id run_as;
};

#define RELAY_DEF_USER		"ikerelay"
#define RELAY_STATUS_MS		10000	/* STATUS= to systemd at most this often */

/* Run until SIGINT/SIGTERM: 0, or -1 if the relay could not start. */
int relay_run(const struct relay_cfg *cfg) MUST_CHECK;

/* ---- SPI -> session table (map.c) --------------------------------------- */

/*
 * A key names a session by an SPI seen in its traffic. IKE SPIs are the
 * same in both directions; ESP SPIs are kept apart by direction: those the
 * client sends are the gateway's inbound SPIs (unique at the gateway, so a
 * good key), those it receives are the client's own (unique only per
 * client), so a reconnecting client is looked up by the first kind only.
 */
enum relay_key_kind {
	RELAY_KEY_NONE = 0,
	RELAY_KEY_IKE,		/* IKE SPI, initiator's or responder's */
	RELAY_KEY_ESP_TO_GW,	/* ESP SPI of client -> gateway packets */
	RELAY_KEY_ESP_FROM_GW,	/* ESP SPI of gateway -> client packets */
};

enum relay_dir { RELAY_TO_GW, RELAY_FROM_GW };

struct relay_key {
	uint64_t spi;
	enum relay_key_kind kind;
};

#define RELAY_BODY_KEYS		2	/* at most per body: IKE SPIi and SPIr */
#define RELAY_SESS_KEYS		16	/* per session; the least recently seen goes */
#define RELAY_IKE_HDR_LEN	28	/* RFC 7296 §3.1 */
#define RELAY_NON_ESP_MARKER	4	/* RFC 3948 §2.2: four zero bytes */
#define RELAY_ESP_MIN		8	/* SPI + sequence number */
#define RELAY_KEYSTRLEN		32

/*
 * The keys in one frame body (a UDP-4500 payload): IKE behind the non-ESP
 * marker gives the non-zero SPIs of its header, ESP its SPI. Bodies too
 * short for an IKE header or an ESP header give none. Returns the count.
 */
size_t relay_body_keys(const uint8_t *body, size_t len, enum relay_dir dir,
		       struct relay_key out[RELAY_BODY_KEYS]);
/* "ike spi 1a2b3c4d5e6f7081" or "esp spi c0a1b2c3" */
const char *relay_key_str(const struct relay_key *k, char *buf, size_t len);

struct relay_sess;

struct relay_keyent {
	struct relay_key key;
	struct relay_sess *owner;	/* NULL: slot unused */
	struct relay_keyent *next;	/* hash chain */
	uint64_t seen;			/* the session's learn tick when last seen */
	uint32_t req_mid;		/* IKE: highest request ID the client sent */
	bool has_req;			/* req_mid is set */
};

struct relay_sess {
	uint32_t id;			/* 0: slot free; else #id in logs */
	bool attached;			/* a client stream is attached */
	bool established;		/* the gateway sent encrypted IKE or ESP */
	uint64_t last_ms;		/* last frame either way, or detach */
	void *ctx;			/* the relay's session */
	uint64_t tick;			/* counts relay_map_learn calls */
	struct relay_keyent keys[RELAY_SESS_KEYS];
};

struct relay_map {
	struct relay_sess *sess;	/* max slots */
	size_t max, count;
	struct relay_keyent **buckets;
	size_t nbuckets;		/* power of two */
	uint64_t seed;			/* keyed hash: chains are not steerable */
	uint32_t next_id;
	uint64_t conflicts;		/* keys claimed by another session */
};

/* The IKE header of a body behind the non-ESP marker (RFC 7296 §3.1). */
struct relay_ike {
	uint64_t spi_i, spi_r;
	uint8_t exch, flags;
	uint32_t mid;
};

#define RELAY_IKE_SA_INIT	34
#define RELAY_IKE_F_RESPONSE	0x20

/* 0 and *h if body is IKE with a whole header, else -1. */
int relay_body_ike(const uint8_t *body, size_t len, struct relay_ike *h) MUST_CHECK;
static inline bool relay_ike_is_request(const struct relay_ike *h)
{
	return !(h->flags & RELAY_IKE_F_RESPONSE);
}
/* A new IKE SA: an IKE_SA_INIT request without a responder SPI. */
static inline bool relay_ike_is_new_sa(const struct relay_ike *h)
{
	return h->exch == RELAY_IKE_SA_INIT && relay_ike_is_request(h) && h->spi_r == 0;
}

int relay_map_init(struct relay_map *m, size_t max, uint64_t seed) MUST_CHECK;
void relay_map_fini(struct relay_map *m);

/* A fresh session (no keys, detached) or NULL when all max are in use. */
struct relay_sess *relay_map_new_sess(struct relay_map *m, uint64_t now_ms);
/* Forget s and all its keys; its slot is free again. */
void relay_map_free_sess(struct relay_map *m, struct relay_sess *s);

/* The session owning k, or NULL. */
struct relay_sess *relay_map_lookup(const struct relay_map *m, const struct relay_key *k);

/*
 * Remember keys for s. A key s has is marked seen; a key another session
 * owns stays with it (first owner wins: a stream cannot take over another
 * client's keys by sending them later) and is counted in m->conflicts; a
 * new key takes a free entry, or evicts the one s has not seen longest
 * (old SAs' SPIs go, the live IKE SA's stay however many rekeys pass).
 */
void relay_map_learn(struct relay_map *m, struct relay_sess *s,
		     const struct relay_key *keys, size_t n);

enum relay_place_kind {
	RELAY_PLACE_LIVE,	/* sess owns a key and has a stream: drop the frame */
	RELAY_PLACE_PROBE,	/* sess owns a key, no stream: probation */
	RELAY_PLACE_NEW,	/* no owner, a free slot: new session */
	RELAY_PLACE_EVICT,	/* no owner, table full: free victim, then new */
	RELAY_PLACE_FULL,	/* no owner, full, none may be evicted */
};

struct relay_place {
	enum relay_place_kind kind;
	struct relay_sess *sess;	/* LIVE, PROBE */
	struct relay_key key;		/* LIVE, PROBE: the key that matched */
	struct relay_sess *victim;	/* EVICT */
};

/*
 * Where a frame of a stream without a session goes, judged by its keys
 * (only RELAY_TO_GW kinds are looked up). A session with a stream is never
 * given to another (LIVE); one without is only given on proof (PROBE, see
 * relay_map_is_proof). Unknown keys never evict a session the gateway has
 * spoken encrypted IKE or ESP to (a client that may be reconnecting), only
 * the detached unestablished one idle longest.
 */
void relay_map_place(const struct relay_map *m, const struct relay_key *keys, size_t n,
		     struct relay_place *out);

/*
 * The session other than s that owns one of keys (RELAY_TO_GW kinds), or
 * NULL. A stream's frames that name the SPIs of another session with a
 * live stream are dropped, not sent from its own socket.
 */
struct relay_sess *relay_map_foreign(const struct relay_map *m, const struct relay_sess *s,
				     const struct relay_key *keys, size_t n, size_t *which);

/* The attached client sent request h: remember its message ID. */
void relay_map_note_request(struct relay_sess *s, const struct relay_ike *h);
/*
 * Would the gateway's answer to request h, sent by a probationary stream,
 * prove that stream is s's client? Yes for a message ID above every
 * request s's client sent under h's SPIs (or when it sent none), and for
 * IKE_SA_INIT while the SA got no further than message ID 0.
 */
bool relay_map_is_proof(const struct relay_sess *s, const struct relay_ike *h);
/* The gateway sent s ESP (h NULL) or IKE h: established unless it is in
 * the clear (IKE_SA_INIT, message ID 0). */
void relay_map_gw_spoke(struct relay_sess *s, const struct relay_ike *h);

static inline void relay_map_touch(struct relay_sess *s, uint64_t now_ms) { s->last_ms = now_ms; }
void relay_map_attach(struct relay_sess *s, uint64_t now_ms);
void relay_map_detach(struct relay_sess *s, uint64_t now_ms);

/*
 * Expired sessions: call with *iter = 0, then again while it returns one.
 * The caller may free each session returned before the next call.
 */
struct relay_sess *relay_map_next_expired(struct relay_map *m, uint64_t now_ms,
					  uint64_t idle_ms, size_t *iter);
/* When the next session expires (UINT64_MAX: none). */
uint64_t relay_map_next_due(const struct relay_map *m, uint64_t idle_ms);

/* ---- per-address counts and token buckets (peers.c) --------------------- */

/* burst tokens, refilled at per_min a minute; in thousandths of a token */
struct relay_bucket {
	uint64_t milli;
	uint64_t last_ms;
	bool primed;			/* false: full on first use */
};

/* Take one token: true, or false when the bucket is empty. */
bool relay_bucket_take(struct relay_bucket *b, uint64_t now_ms, unsigned per_min,
		       unsigned burst);

/* A client address: IPv4 (also v4-mapped), or the /64 of an IPv6 address
 * (one host gets a whole /64). */
struct relay_peer_key {
	uint8_t fam;			/* 4 or 6 */
	uint8_t b[8];
};

struct relay_peer {
	struct relay_peer_key key;
	bool used;
	unsigned conns, sessions;	/* references: the entry stays while > 0 */
	struct relay_bucket inits;	/* new IKE SAs */
	struct relay_peer *next;	/* hash chain */
};

struct relay_peers {
	struct relay_peer *tab;
	size_t max, count;
	struct relay_peer **buckets;
	size_t nbuckets;
	uint64_t seed;
	uint64_t reclaimed;		/* unreferenced entries reused */
};

int relay_peers_init(struct relay_peers *p, size_t max, uint64_t seed) MUST_CHECK;
void relay_peers_fini(struct relay_peers *p);
/* 0, or -1 for an address family that is neither. */
int relay_peer_key(const struct sockaddr *sa, struct relay_peer_key *k) MUST_CHECK;
/* "192.0.2.1" or "2001:db8:1:2::/64" */
const char *relay_peer_str(const struct relay_peer_key *k, char *buf, size_t len);
/*
 * k's entry; a new one (zero counts, full bucket) takes a free slot or an
 * entry no conn or session refers to. NULL when every entry is referred
 * to (sized so that it cannot be: 2 * max clients + spare).
 */
struct relay_peer *relay_peers_get(struct relay_peers *p, const struct relay_peer_key *k);

/* ---- streams: plain TCP or TLS (tls.c) ---------------------------------- */

struct relay_tls;			/* an SSL_CTX */
struct ssl_st;

int relay_tls_init(struct relay_tls **out, const char *cert, const char *key) MUST_CHECK;
void relay_tls_free(struct relay_tls *t);

struct relay_stream {
	int fd;
	struct ssl_st *ssl;		/* NULL: plain TCP */
	bool established;		/* plain: always; TLS: handshake done */
	bool want_write;		/* TLS cannot go on until fd is writable */
	bool failed;			/* fatal TLS error: no close_notify */
};

/* Take over fd (non-blocking); tls NULL for plain TCP. Closes fd on failure. */
int relay_stream_open(struct relay_stream *st, int fd, struct relay_tls *tls) MUST_CHECK;
/* TLS close_notify if possible, then close. */
void relay_stream_close(struct relay_stream *st);

/*
 * The I/O calls return bytes moved (> 0), 0 when the socket would block,
 * or -1 when the stream is over, with *why set ("eof", "reset",
 * "tls: <reason>"). Reads finish the TLS handshake on the way.
 */
ssize_t relay_stream_read(struct relay_stream *st, uint8_t *buf, size_t len, const char **why);
ssize_t relay_stream_write(struct relay_stream *st, const uint8_t *buf, size_t len,
			   const char **why);
/* " (TLSv1.3, resumed)" for the prefix log line; "" for plain TCP. */
const char *relay_stream_info(const struct relay_stream *st, char *buf, size_t len);

/* ---- a stream's input, deframed, and the memory budget (stream_in.c; pure) */

/*
 * --max-queue-total: queues towards clients and partial frames from clients
 * share it. A queue may grow while queued + partial stays within total (IKE
 * an eighth more); a client's frame that spans reads gets a block sized to
 * it (its Length is known once 2 bytes are in) only within total, else its
 * stream is closed; the block goes back once the frame is out. A stream
 * whose frames arrive whole holds no input memory at all.
 */
struct relay_budget {
	size_t total;			/* --max-queue-total */
	size_t queued;			/* queues towards clients (and held frames) */
	size_t partial;			/* blocks of clients' frames spanning reads */
	size_t peak;			/* highest queued + partial */
	uint64_t partial_refused;	/* partial frames over the budget */
};

/* Whether growing one holder from old to cap bytes keeps queued + partial
 * within the budget: total, or an eighth more for IKE. */
bool relay_budget_ok(const struct relay_budget *b, size_t old, size_t cap, bool ike);
/* After queued or partial grew: the peak. */
void relay_budget_note(struct relay_budget *b);

/*
 * A client's deframer ("IKETCP" expected, TCPFRAME_MAX_LEN) in heap mode:
 * a frame spanning reads is gathered in a block counted in b->partial,
 * refused (counted in b->partial_refused; the stream then fails with
 * TCPFRAME_ENOMEM and must be closed) when it would exceed b->total.
 */
int relay_stream_init(struct tcpframe_rx *rx, struct relay_budget *b) MUST_CHECK;

/*
 * What one read of a client's stream returned (after TLS): fed to rx, and
 * each whole frame body handed to body(ctx, ...) in order. 0: all taken;
 * RELAY_STREAM_CLOSED: body returned -1 (it closed the stream);
 * RELAY_STREAM_BAD: the stream cannot be parsed, or its partial frame is
 * over the budget (tcpframe_rx_error says which) and must be closed
 * (RFC 9329 §6.1).
 */
#define RELAY_STREAM_CLOSED	(-1)
#define RELAY_STREAM_BAD	(-2)
int relay_stream_input(struct tcpframe_rx *rx, const uint8_t *data, size_t len,
		       int (*body)(void *ctx, const uint8_t *b, size_t n), void *ctx);

/* ---- internals of the relay program (relay.c, session.c) ---------------- */

#define RELAY_UDP_BATCH	16	/* datagrams per recvmmsg */
#define RELAY_UDP_BUF		TCPFRAME_MAX_LEN

enum ev_kind { EV_LISTEN, EV_SIGNAL, EV_CONN, EV_UDP };

struct ev {
	enum ev_kind kind;
};

struct listener {
	struct ev ev;
	int fd;
	bool tls;
	char name[RELAY_ADDRSTRLEN + 8];
};

struct session;

struct conn {
	struct ev ev;
	struct conn *prev, *next;	/* R->conns; next: graveyard link */
	bool tls, dead, prefix_ok, framed;
	char peer[RELAY_ADDRSTRLEN];
	struct relay_peer *addr;	/* its address's counts (conns) */
	struct relay_stream st;
	uint32_t events;		/* registered with epoll */
	uint64_t deadline_ms;		/* without a session: prefix and first
					 * frame, then probation */
	struct session *sess;		/* attached: the session's stream */
	struct session *probe;		/* on probation for this session */
	struct conn *probe_next;	/* the session's list of probes */
	struct relay_ike pending;	/* a request whose answer is proof */
	bool has_pending;
	struct tcpframe_rx rx;		/* heap mode: R->budget */
	uint8_t *out;			/* framed datagrams towards the client */
	size_t out_off, out_len, out_cap;
	uint64_t frames_in, frames_out, dropped, refused_in;
};

struct session {
	struct ev ev;
	struct session *next_dead;
	bool dead;
	int udp;
	uint32_t id;
	struct relay_sess *m;
	struct conn *conn;
	struct conn *probes;		/* streams on probation for it */
	uint8_t *held;			/* framed datagrams from the gateway while
					 * streams are on probation: the winner's */
	size_t held_len;
	uint64_t held_frames;
	struct relay_peer *addr;	/* its client's address (sessions) */
	char udp_local[RELAY_ADDRSTRLEN];
	uint64_t to_gw, from_gw, dropped, keepalives, udp_err;
};

struct relay {
	const struct relay_cfg *cfg;
	int epfd;
	struct ev sig_ev;
	int sigfd;
	struct listener lis[2];
	size_t nlis;
	uint64_t accept_paused_until;
	struct relay_tls *tls;
	struct relay_map map;
	struct relay_peers peers;
	struct relay_bucket inits_all;	/* new IKE SAs, all addresses */
	struct relay_bucket connlog;	/* accept/close log lines */
	uint64_t connlog_suppressed;
	struct relay_budget budget;	/* queues and partial frames */
	struct conn *conns, *grave_conns;
	struct session *grave_sess;
	unsigned nconns;
	uint64_t now, sweep_due;
	uint64_t wd_due, status_due;	/* systemd: WATCHDOG=1, STATUS= */
	unsigned status_conns;		/* what the last STATUS= said */
	size_t status_sess;
	bool stop;
	char gw[RELAY_ADDRSTRLEN];
	uint64_t accepted, refused, reattached;
	uint64_t evicted;		/* frameless streams closed to make room */
	uint64_t live_drops;		/* frames naming another's live session */
	uint64_t init_drops;		/* new IKE SAs over the rate */
	uint64_t budget_drops;		/* frames over the queue budget */
	uint8_t rbuf[TCPFRAME_MAX_LEN];
	uint8_t *ubufs[RELAY_UDP_BATCH];
};

extern struct relay *R;		/* the one relay of this process (relay.c) */

static inline void rl_due_at(uint64_t t)
{
	if (t < R->sweep_due)
		R->sweep_due = t;
}

static inline uint64_t rl_idle_ms(void) { return (uint64_t)R->cfg->idle_s * 1000; }

static inline int rl_ep_add(int fd, struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	return epoll_ctl(R->epfd, EPOLL_CTL_ADD, fd, &e);
}

static inline void rl_ep_del(int fd)
{
	(void)epoll_ctl(R->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* relay.c: whether an accept/close line may be logged now (a bucket of
 * RELAY_CONNLOG_BURST lines, RELAY_CONNLOG_RATE a minute; what is left out
 * is counted and said with the next line that gets through) */
#define RELAY_CONNLOG_BURST	100
#define RELAY_CONNLOG_RATE	600
bool rl_conn_log_ok(void);

/* session.c: connections and sessions */
void rl_conn_event(struct conn *c);
void rl_conn_close(struct conn *c, const char *why);
void rl_conn_free(struct conn *c);
void rl_sess_udp_event(struct session *s);
void rl_sess_free(struct session *s, const char *why);

#endif
