/*
 * Paths: one way to reach the gateway, behind one small interface.
 *
 *   udp   two connected UDP sockets: port 500 for IKE_SA_INIT, then the
 *         NAT-T port (non-ESP marker before IKE, ESP, keepalives)
 *   tcp   an RFC 9329 stream to tcp_port, directly or through the proxy
 *   tls   the same inside TLS to tls_port
 *
 * A path knows neither the IKE SA nor the Child SAs: it carries IKE
 * messages and ESP packets and hands what arrives to its owner (the
 * session) through struct path_owner. A stream path that breaks
 * reconnects by itself with back-off (RFC 9329 §6 ≈: the SAs survive a
 * RST or FIN) and tells its owner when it is up again; one that never came
 * up, or brought nothing in PATH_MAX_FAILS connections, has failed. The
 * owner hears of failures from the loop, never from inside a call.
 *
 *   path.c         lifetime, names, dispatch to the kind
 *   path_udp.c     the UDP path
 *   path_stream.c  the stream paths (transport/stream.h does the framing)
 */
#ifndef IKEAGENT_AGENT_PATH_H
#define IKEAGENT_AGENT_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "agent/config.h"
#include "agent/loop.h"
#include "transport/stream.h"
#include "transport/udp.h"
#include "util/buf.h"

#define PATH_CONNECT_MS		10000	/* a stream's connect, CONNECT and TLS handshake */
#define PATH_MAX_FAILS		9	/* then give up: ~1 min of back-off without a frame */
#define PATH_KEEPALIVE_MS	20000	/* RFC 3948 keepalive on an idle NAT-T socket */
#define PATH_IKE_MAX		65536	/* IKE message + non-ESP marker */

struct path;

/* What a path tells its owner. ctx: path_env.ctx. */
struct path_owner {
	/* One IKE message (after the non-ESP marker, if any). */
	void (*ike_input)(void *ctx, struct path *p, const uint8_t *msg, size_t len);
	/* One ESP packet (SPI first); the buffer may be decrypted in place. */
	void (*esp_input)(void *ctx, struct path *p, uint8_t *pkt, size_t len);
	/* The end of a batch of esp_input calls. */
	void (*esp_flush)(void *ctx, struct path *p);
	/* A stream is up: the first time (again = false) or after a break. */
	void (*up)(void *ctx, struct path *p, bool again);
	/* Failed for good: p->err says why. From the loop. */
	void (*failed)(void *ctx, struct path *p);
	/* A packet that was neither IKE, ESP nor a keepalive. */
	void (*dropped)(void *ctx, struct path *p);
};

/* What every path of a session shares; owned by the session. */
struct path_env {
	struct loop *loop;
	const struct config *cfg;
	struct sockaddr_storage gw;	/* the gateway, resolved once */
	socklen_t gw_len;
	struct stream_tls_cache *tls_cache;	/* TLS resumption across connections */
	const struct path_owner *own;
	void *ctx;
	/* receive batch (the session's data path buffers) */
	uint8_t *const *rx;
	size_t *rx_len;
	size_t *rx_seg;			/* UDP GRO: datagram size in rx[i] */
	unsigned rx_n;
	size_t rx_cap;			/* >= UDP_GRO_BUF with [tunnel] offload */
	uint8_t *tx;			/* PATH_IKE_MAX bytes: an IKE message with its marker */
};

enum path_state {
	PATH_CONNECTING,	/* stream: TCP connect, proxy CONNECT, TLS handshake */
	PATH_UP,		/* messages flow (UDP: once its socket is open) */
	PATH_WAITING,		/* stream broke: back-off before the next connect */
	PATH_FAILED,		/* never came up, or gave up */
};

struct path_sock {
	struct path *p;
	int fd;			/* -1: closed */
	struct udp_offload off;	/* GSO/GRO while the kernel takes them */
	bool nat_t;		/* NAT-T port: non-ESP marker, ESP, keepalives */
	struct sockaddr_storage local, peer;
};

struct path {
	const struct path_env *env;
	enum config_transport kind;
	enum path_state state;
	bool proxy;			/* tcp/tls through the HTTP CONNECT proxy */
	bool nat_port;			/* udp: opened on the NAT-T port */
	int ifindex;			/* its sockets are bound to this device; 0: none */
	uint64_t start_ms;		/* path_open() */
	uint64_t up_ms;			/* first up */
	uint64_t last_tx_ms;
	char where[64];			/* "10.99.0.1:4500" for logs */
	char err[256];			/* why it failed */
	/* the addresses NAT detection is computed with (RFC 9329 §6.5 ≈) */
	struct sockaddr_storage local, remote;
	struct loop_timer t_report;	/* failure, told to the owner from the loop */
	/* udp */
	struct path_sock sk_ike, sk_nat;
	struct loop_timer t_keepalive;
	/* streams */
	struct stream *st;
	int fd;				/* watched by the loop; -1: none */
	uint32_t ev;
	bool ever_up;			/* a connection of this path was up */
	bool rx_seen;			/* a frame arrived on this connection */
	unsigned backoff_i;
	unsigned fails;			/* connections in a row that brought no frame */
	struct loop_timer t_retry;	/* back-off, then the connect deadline */
	uint8_t *rx;			/* PATH_IKE_MAX bytes: a received frame body */
};

/* path.c */
const char *path_kind_name(enum config_transport k);
/* A stream's error without its "tcp: "/"tls: " (the path's kind goes first). */
const char *path_bare_error(const char *err);
/*
 * A new path of kind k (not started); NULL: out of memory. nat_port: UDP
 * goes straight to the NAT-T port (a move: IKE_SA_INIT is long done).
 */
struct path *path_new(const struct path_env *env, enum config_transport k, bool nat_port);
/*
 * Start it. UDP opens its socket (port 500 or the NAT-T port) and is up at
 * once; a stream connects (up: owner->up). -1: failed at once, p->err says why.
 */
int path_open(struct path *p) MUST_CHECK;
/* Close sockets or stream and free. NULL is fine. */
void path_free(struct path *p);
/* One IKE message (no marker: the path adds it on the NAT-T port or a stream). */
int path_send_ike(struct path *p, const uint8_t *msg, size_t len) MUST_CHECK;
/* ESP packets; how many were sent or queued (-1: error). */
int path_send_esp(struct path *p, const struct iovec *pkts, unsigned n) MUST_CHECK;
bool path_esp_ready(const struct path *p);
/* UDP: IKE and ESP on the NAT-T port from now on (RFC 7296 §2.23); else nothing. */
void path_float(struct path *p);
/* UDP: the port-500 socket is no longer needed. */
void path_close_ike_port(struct path *p);
/* "udp 10.99.0.2:41000 -> 10.99.0.1:4500" for logs. */
const char *path_describe(const struct path *p, char *buf, size_t cap);
/* Tell the owner (from the loop) that p failed. */
void path_report_failure(struct path *p);

/* path_udp.c */
int path_udp_open(struct path *p, bool nat_port) MUST_CHECK;
void path_udp_close(struct path *p);
int path_udp_send_ike(struct path *p, const uint8_t *msg, size_t len) MUST_CHECK;
int path_udp_send_esp(struct path *p, const struct iovec *pkts, unsigned n) MUST_CHECK;
void path_udp_float(struct path *p);

/* path_stream.c */
int path_stream_open(struct path *p) MUST_CHECK;
void path_stream_close(struct path *p);
int path_stream_send_ike(struct path *p, const uint8_t *msg, size_t len) MUST_CHECK;
int path_stream_send_esp(struct path *p, const struct iovec *pkts, unsigned n) MUST_CHECK;

/* A UDP-4500 payload (NAT-T datagram or RFC 9329 frame body) to the owner. */
void path_natt_input(struct path *p, uint8_t *pkt, size_t len);

#endif
