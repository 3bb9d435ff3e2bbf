/*
 * ikerelay: a gateway-side RFC 9329 relay. strongSwan only speaks IKE and
 * ESP over UDP; ikerelay accepts TCP (and TLS) streams from clients, checks
 * the "IKETCP" prefix, deframes, and forwards every frame body as one UDP
 * datagram to the gateway's port 4500 from a per-client UDP socket. The
 * gateway's datagrams go back framed on the client's stream.
 *
 * A client whose stream broke reconnects from a new port; the relay finds
 * its session again by the IKE and ESP SPIs in the first frame and reuses
 * the session's UDP socket, so the gateway sees the same source address and
 * port and its SAs survive (RFC 9329 §6 ≈: "the responder accepts the SA's
 * packets from the new connection").
 *
 *   main.c    command line, configuration
 *   relay.c   event loop, listeners, timers, signals
 *   session.c connections and sessions: the data path
 *   map.c     SPI -> session table (pure logic, unit-tested)
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
#define RELAY_DEF_PREFIX_S	5
#define RELAY_DEF_MAX_QUEUE	(256 * 1024)
#define RELAY_MIN_MAX_QUEUE	(64 * 1024)	/* one largest frame fits */
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
	unsigned idle_s;		/* no frame either way: close, free */
	unsigned prefix_timeout_s;	/* accept (and TLS) until "IKETCP" */
	size_t max_queue;		/* framed bytes queued towards a client */
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
};

struct relay_sess {
	uint32_t id;			/* 0: slot free; else #id in logs */
	bool attached;			/* a client stream is attached */
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
	RELAY_PLACE_ATTACH,	/* sess owns one of the keys: attach there */
	RELAY_PLACE_NEW,	/* no owner, a free slot: new session */
	RELAY_PLACE_EVICT,	/* no owner, table full: free victim, then new */
	RELAY_PLACE_FULL,	/* no owner, full, every session has a stream */
};

struct relay_place {
	enum relay_place_kind kind;
	struct relay_sess *sess;	/* ATTACH */
	struct relay_key key;		/* ATTACH: the key that matched */
	struct relay_sess *victim;	/* EVICT: the detached session idle longest */
};

/*
 * Where a new stream goes, judged by the keys of its first frame (only
 * RELAY_TO_GW kinds are looked up). A session whose stream is still open
 * is attached to as well: a client has one connection, the caller closes
 * the old one.
 */
void relay_map_place(const struct relay_map *m, const struct relay_key *keys, size_t n,
		     struct relay_place *out);

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
	bool tls, dead, prefix_ok;
	char peer[RELAY_ADDRSTRLEN];
	struct relay_stream st;
	uint32_t events;		/* registered with epoll */
	uint64_t deadline_ms;		/* without a session: prefix, then idle */
	struct session *sess;
	struct tcpframe_rx *rx;
	uint8_t *out;			/* framed datagrams towards the client */
	size_t out_off, out_len, out_cap;
	uint64_t frames_in, frames_out, dropped;
};

struct session {
	struct ev ev;
	struct session *next_dead;
	bool dead;
	int udp;
	uint32_t id;
	struct relay_sess *m;
	struct conn *conn;
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

/* session.c: connections and sessions */
void rl_conn_event(struct conn *c);
void rl_conn_close(struct conn *c, const char *why);
void rl_conn_free(struct conn *c);
void rl_sess_udp_event(struct session *s);
void rl_sess_free(struct session *s, const char *why);

#endif
