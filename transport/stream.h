/*
 * Stream transport: RFC 9329 frames over TCP, over TLS, and either of them
 * through an HTTP CONNECT proxy. One struct stream is one connection
 * attempt; to reconnect, free it and make a new one (the TLS session for
 * resumption survives in a struct stream_tls_cache).
 *
 *   direct:  TCP connect ─────────────────┐
 *   proxy:   CONNECT via libcurl (multi) ─┴─> [TLS handshake] -> prefix -> frames
 *
 * Like the UDP transport it moves frame bodies as opaque bytes (an IKE
 * message behind its 4-byte zero marker, or an ESP packet); it knows
 * neither IKE nor ESP.
 *
 * Nothing blocks. The caller's epoll loop drives it, level-triggered:
 *
 *	s = stream_new(&cfg);  stream_connect(s);
 *	loop:
 *		watch stream_fd(s) for stream_events(s)
 *		(both may change after ANY call on s: compare and epoll_ctl)
 *		st = stream_handle(s, ready_events);
 *		while ((r = stream_recv(s, &body, &len)) > 0)
 *			deliver(body, len);
 *		if (st == STREAM_CLOSED || r < 0)
 *			log stream_error(s); stream_free(s); reconnect later
 *
 * The caller owns every deadline (connect, handshake, proxy, idle): on
 * expiry it simply calls stream_free(). No timer is needed to drive the
 * stream itself: libcurl's timers live on a timerfd behind stream_fd().
 *
 * Frames may be queued from stream_new() on; they wait behind the 6-byte
 * prefix, which is queued first, and go out once the stream is up.
 */
#ifndef IKEAGENT_TRANSPORT_STREAM_H
#define IKEAGENT_TRANSPORT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "util/buf.h"

/*
 * Output queue: framed bytes not yet written, in our buffer. It is where
 * inner packets wait when the path is slower than the tunnel's traffic, so
 * it is kept short in time, as a router keeps its queue, rather than in
 * bytes:
 *
 *   a bulk frame (ESP) is taken while less than the bulk limit is queued
 *   (so the queue may pass the limit by one frame, and a frame larger than
 *   the limit still goes); beyond it stream_send(.., STREAM_BULK) fails with
 *   EAGAIN and the caller drops the packet, as a full UDP socket (or a router's full queue) would. The
 *   inner connections see a loss and slow down instead of seeing seconds of
 *   delay. The limit is the drain rate times STREAM_BULK_DELAY_US, between
 *   STREAM_BULK_MIN and STREAM_BULK_MAX; it starts at STREAM_BULK_MAX.
 *
 *   The drain rate is what the socket took while our queue was never empty
 *   (a backlog: the path, not the traffic, sets the pace): bytes written over
 *   the time since the backlog began, sampled every STREAM_RATE_SAMPLE_US or
 *   when the backlog ends, smoothed (new = 3/4 old + 1/4 sample). A backlog
 *   shorter than STREAM_RATE_MIN_US says nothing and is ignored. Costs one
 *   clock read per write burst, nothing per frame.
 *
 *   Control frames (IKE, which must not be dropped) may also use the
 *   STREAM_CTL_RESERVE bytes behind the bulk limit, whatever it is now: two
 *   maximum-size frames, so an IKE request and a response always fit however
 *   full the bulk part is (even when the limit just shrank below what is
 *   queued).
 *
 * The kernel's own unsent backlog is held at STREAM_NOTSENT_LOWAT
 * (TCP_NOTSENT_LOWAT), so the queue forms here, where we can drop, and not
 * in the socket's send buffer (autotuned up to megabytes) behind
 * retransmissions. Memory: the buffer is address space for the largest
 * limit; only what the current limit (plus the reserve) uses stays resident,
 * pages beyond it are given back when the limit shrinks.
 */
#define STREAM_BULK_MAX		(256 * 1024)	/* ceiling, and the start */
#define STREAM_BULK_MIN		(16 * 1024)	/* floor: ~11 full-size packets */
#define STREAM_BULK_DELAY_US	5000		/* target queueing delay */
#define STREAM_RATE_SAMPLE_US	20000		/* rate sample every 20 ms of backlog */
#define STREAM_RATE_MIN_US	2000		/* shorter backlogs are not sampled */
#define STREAM_CTL_RESERVE	(2 * 65537)
/*
 * TCP_NOTSENT_LOWAT: the socket takes new bytes only while fewer than this
 * are unsent (and wakes us at half of it). 16 KB is a few hundred
 * microseconds of data at 1 Gbit/s: enough to keep the connection busy
 * between two turns of our loop, small next to any RTT we care about.
 * Not measured yet (no netem here): to check it and STREAM_BULK_DELAY_US,
 * run scripts/bench's transports mode with BENCH_RTT=50 at 0, 1 and 3 %
 * loss (iperf3 TCP and a ping under load, TCP vs UDP), with 8/16/64 KB and
 * 5/10 ms; the targets are >= 0.9x UDP's throughput at 0 % and a loaded
 * ping <= 1.25x idle.
 */
#define STREAM_NOTSENT_LOWAT	(16 * 1024)
/* Socket reads stream_recv may do per stream_handle() call (64 KB each). */
#define STREAM_RX_BUDGET	16

enum stream_kind { STREAM_TCP, STREAM_TLS };

enum stream_status {
	STREAM_CONNECTING,	/* TCP connect, proxy CONNECT or TLS handshake */
	STREAM_UP,		/* frames flow */
	STREAM_CLOSED,		/* for good; stream_error() says why */
};

enum stream_prio {
	STREAM_BULK,		/* ESP: refused (EAGAIN) when the bulk part is full */
	STREAM_CTL,		/* IKE: may use the reserve */
};

struct stream_tls_cache;

struct stream_cfg {
	enum stream_kind kind;
	/* The gateway (or relay). Direct: connected to. Proxy: only its port
	 * is used (unless peer_port), and its address when peer_host is NULL. */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	uint16_t peer_port;		/* 0: the port in peer */
	uint32_t mark;			/* SO_MARK on every socket; 0: none */
	int ifindex;			/* every socket bound to this device; 0: none */
	size_t max_frame;		/* largest framed message we send, <= 65535;
					 * 0: 65535. Received frames may be 65535. */
	/* TCP_CONGESTION for the socket ("bbr", at most 15 characters); NULL:
	 * the kernel's default. One the kernel refuses (not built, not
	 * allowed) is logged once at info and the default is used. */
	const char *congestion;
	/* TLS */
	const char *sni;		/* NULL: peer_host; never sent for a literal */
	bool verify;			/* check the server's certificate and name */
	const char *ca_file;		/* NULL: the system store */
	struct stream_tls_cache *tls_cache; /* NULL: no resumption; borrowed */
	/* HTTP CONNECT proxy; proxy_host NULL: direct */
	const char *proxy_host;
	uint16_t proxy_port;
	const char *proxy_user;		/* NULL: no credentials */
	const char *proxy_pass;		/* never logged */
	/* Let the proxy have Basic authentication (the password in the clear
	 * over the plain-HTTP proxy leg); false: Digest, NTLM, Negotiate only. */
	bool proxy_allow_basic;
	/* Name or literal in "CONNECT host:port" and the default SNI and
	 * certificate name; NULL: peer's address. */
	const char *peer_host;
};

struct stream;

/* Copies what it needs from cfg (strings included); NULL on a bad cfg or
 * no memory. Queues the prefix. */
struct stream *stream_new(const struct stream_cfg *cfg);

/* Start connecting. -1 if that failed at once (refused on loopback, no
 * socket, bad proxy options): the stream is then CLOSED with its reason. */
int stream_connect(struct stream *s) MUST_CHECK;

/* The fd to watch now and for what (EPOLLIN/EPOLLOUT); -1 / 0 when closed.
 * During the proxy phase this is an internal epoll fd (EPOLLIN). */
int stream_fd(const struct stream *s);
uint32_t stream_events(const struct stream *s);

/* Call when stream_fd() is ready (events as epoll reported them; 0 is
 * harmless). Advances the connection; when UP, also writes queued output
 * and re-arms stream_recv's read budget. */
enum stream_status stream_handle(struct stream *s, uint32_t events);
enum stream_status stream_status(const struct stream *s);

/*
 * Queue one frame body (5..max_frame-2 bytes) and, when up, write what is
 * queued. 0 queued; -1 with errno EMSGSIZE (bad length), EAGAIN (bulk part
 * full: drop it), ENOBUFS (even the reserve is full), ENOTCONN (closed; the
 * reason may be a write error, see stream_status()).
 */
int stream_send(struct stream *s, const uint8_t *body, size_t len,
		enum stream_prio prio) MUST_CHECK;
/*
 * Queue bulk bodies back to back and write them with one write/SSL_write.
 * Returns how many were queued, in order, stopping at the first that is
 * refused (errno as stream_send; the caller drops the rest); -1 if closed.
 */
int stream_send_batch(struct stream *s, const struct iovec *bodies, unsigned n) MUST_CHECK;

/*
 * The next received frame body: 1 with *body and *len set (valid until the
 * next call on s), 0 when none is complete (or the read budget is spent: the
 * socket stays readable, so the loop comes back), -1 when the stream has
 * closed (peer closed, read error, unparsable stream: stream_error()).
 * Keepalives and 4-byte runts are dropped; a partial frame at close is
 * discarded.
 */
int stream_recv(struct stream *s, const uint8_t **body, size_t *len) MUST_CHECK;

/*
 * The connected socket's own and peer addresses (through a proxy the peer
 * is the proxy), e.g. for NAT_DETECTION over TCP (RFC 9329 §6.5 ≈). -1
 * with ENOTCONN while there is no such socket (proxy phase, closed).
 */
int stream_addrs(const struct stream *s, struct sockaddr_storage *local,
		 struct sockaddr_storage *peer) MUST_CHECK;

/* The bulk limit now (bytes of framed bulk data that may be queued; see
 * above) and the drain rate it comes from (bytes/s; 0: not measured yet). */
size_t stream_bulk_limit(const struct stream *s);
uint64_t stream_drain_rate(const struct stream *s);

/* Why the stream closed ("" while it has not). */
const char *stream_error(const struct stream *s);
/* Whether the TLS handshake resumed a cached session. */
bool stream_tls_resumed(const struct stream *s);

/* Close now: one non-blocking try to write what is queued, then TLS
 * close_notify, then close(). The initiator closes after DELETE. */
void stream_close(struct stream *s);
void stream_free(struct stream *s);

/* Holds one resumable TLS session across reconnects to the same gateway
 * (same SNI/name); RFC 9329 Appendix A: reconnects should resume. */
struct stream_tls_cache *stream_tls_cache_new(void);
/*
 * Read the CA certificates now (ca_file, or the system store) into a
 * context that every later connection with the same verify and ca_file
 * uses: a process that gives up root after its start could not read a
 * root-only ca_file any more. 0, or -1 with err ("tls: cannot load CA
 * certificates from FILE").
 */
int stream_tls_cache_prepare(struct stream_tls_cache *c, bool verify, const char *ca_file,
			     char *err, size_t errlen) MUST_CHECK;
/* Forget the session (the prepared context stays). */
void stream_tls_cache_clear(struct stream_tls_cache *c);
void stream_tls_cache_free(struct stream_tls_cache *c);

#endif
