/*
 * Private to stream.c, stream_io.c, tls.c and proxy.c: the stream object,
 * the TLS client and the HTTP CONNECT step the state machine drives. Not
 * part of the transport interface (that is stream.h).
 */
#ifndef IKEAGENT_TRANSPORT_STREAM_INT_H
#define IKEAGENT_TRANSPORT_STREAM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "transport/stream.h"
#include "transport/tcpframe.h"

#define STREAM_ERR_LEN 256

/* ---- the stream object, shared by stream.c and stream_io.c -------------- */

/* prefix, bulk (may pass its limit by one frame), IKE reserve */
#define OUT_CAP		(TCPFRAME_PREFIX_LEN + STREAM_BULK_MAX + TCPFRAME_MAX_LEN + STREAM_CTL_RESERVE)
#define RBUF_LEN	65536

enum st { ST_NEW, ST_TCP_CONNECTING, ST_PROXY, ST_TLS_HANDSHAKE, ST_UP, ST_CLOSED };

struct stream {
	enum st st;
	enum stream_kind kind;
	int fd;
	struct pxy *proxy;
	struct tlsc *tls;
	uint32_t hs_want;		/* what the TLS handshake waits for */
	uint32_t tx_want;		/* 0: writable; else what a write waits for */
	bool rx_want_write;		/* SSL_read needs the socket writable */
	unsigned rx_budget;		/* reads left until the next stream_handle */

	struct sockaddr_storage peer;
	socklen_t peerlen;
	uint16_t port;
	uint32_t mark;
	int ifindex;			/* bound to this device; 0: none */
	size_t max_frame;
	char cc[16];			/* TCP_CONGESTION; "": the kernel's */
	bool verify;
	struct stream_tls_cache *tls_cache;
	char *sni, *ca_file, *peer_host;
	char *proxy_host, *proxy_user, *proxy_pass;
	uint16_t proxy_port;
	bool proxy_allow_basic;
	bool resumed;			/* the TLS handshake resumed a session */
	char host[256];			/* peer_host, else the peer's address */
	char where[300];		/* host:port for logs: "10.99.0.1:4500" */
	char name[256];			/* TLS name: sni, else host */
	struct timespec t0;
	char err[STREAM_ERR_LEN];

	uint8_t *out;			/* OUT_CAP bytes mapped; [head, tail) unwritten */
	size_t head, tail;
	size_t bulk_lim;		/* stream.h: the bulk limit */
	size_t lim_logged;		/* the limit last logged */
	size_t touched;			/* out's pages up to here may be resident */
	uint64_t rate;			/* drain rate, bytes/s; 0: none yet */
	uint64_t busy_t0;		/* backlog sample started (us); 0: no backlog */
	uint64_t busy_bytes;		/* written since busy_t0 */
	struct tcpframe_rx rx;
	uint8_t rx_frame[TCPFRAME_MAX_LEN];	/* rx's fixed buffer: no malloc per frame */
	uint8_t rbuf[RBUF_LEN];
};

static inline size_t strm_queued(const struct stream *s) { return s->tail - s->head; }
/* Write what is queued until done or the socket is full; -1: the stream
 * closed (callers that only try may ignore it: the state says so). Feeds
 * the drain rate and with it the bulk limit. */
int strm_flush(struct stream *s);
/* The output buffer: mapped (address space only) / unmapped. */
int strm_out_map(struct stream *s);
void strm_out_unmap(struct stream *s);
/* The monotonic clock in microseconds. Tests may point it elsewhere to
 * drive the drain rate (tests/unit/test_stream.c); never changed otherwise. */
extern uint64_t (*strm_now_us)(void);
/* The connection is over: say why (once), free it, CLOSED. */
void strm_fail(struct stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* strerror() with a lower-case first letter, to read well inside a line. */
const char *strm_errstr(int e, char *buf, size_t len);

/* ---- TLS client (tls.c) ------------------------------------------------- */

struct tlsc;

struct tlsc_params {
	const char *name;		/* SNI (unless a literal) and certificate name */
	bool verify;
	const char *ca_file;		/* NULL: system store */
	struct stream_tls_cache *cache;	/* NULL: no resumption */
};

/* Results of tlsc_read/tlsc_write besides a byte count. */
#define TLSC_AGAIN	0		/* retry when *want is ready */
#define TLSC_FAIL	(-1)		/* tlsc_error() says why */
#define TLSC_EOF	(-2)		/* peer closed (tlsc_error(): how) */

/* A client over the connected non-blocking socket fd (not taken over). */
struct tlsc *tlsc_new(int fd, const struct tlsc_params *p, char *err, size_t errlen);
/* 1 done, 0 again when *want (EPOLLIN/EPOLLOUT) is ready, -1 failed. */
int tlsc_handshake(struct tlsc *t, uint32_t *want) MUST_CHECK;
ssize_t tlsc_read(struct tlsc *t, uint8_t *buf, size_t n, uint32_t *want) MUST_CHECK;
ssize_t tlsc_write(struct tlsc *t, const uint8_t *buf, size_t n, uint32_t *want) MUST_CHECK;
/* Send close_notify once, without waiting for the peer's. */
void tlsc_shutdown(struct tlsc *t);
const char *tlsc_error(const struct tlsc *t);
bool tlsc_resumed(const struct tlsc *t);
void tlsc_free(struct tlsc *t);

/* ---- HTTP CONNECT through libcurl (proxy.c) ----------------------------- */

struct pxy;

struct pxy_params {
	const char *host;		/* the proxy */
	uint16_t port;
	const char *user, *pass;	/* NULL user: none; pass never logged */
	bool allow_basic;		/* offer Basic too (stream_cfg.proxy_allow_basic) */
	const char *target;		/* host or literal to CONNECT to */
	uint16_t target_port;
	uint32_t mark;			/* SO_MARK on curl's sockets; 0: none */
	int ifindex;			/* and bound to this device; 0: none */
};

/* Starts the CONNECT (nothing blocks; the work happens in pxy_handle). */
struct pxy *pxy_new(const struct pxy_params *p, char *err, size_t errlen);
/* An epoll fd covering curl's sockets and timer: wait for EPOLLIN. */
int pxy_fd(const struct pxy *p);
/* 1: tunnel open, *fd is the caller's now; 0: not yet; -1: failed. */
int pxy_handle(struct pxy *p, int *fd) MUST_CHECK;
const char *pxy_error(const struct pxy *p);
void pxy_free(struct pxy *p);

#endif
