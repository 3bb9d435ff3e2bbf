/*
 * Links and the transport race.
 *
 * A link is one transport to the gateway carrying one IKE SA (own SPIs)
 * and, once it won, the session's ESP:
 *
 *   udp   the session's sockets: IKE_SA_INIT to port 500, then the NAT-T
 *         port (non-ESP marker, ESP, keepalives), as before
 *   tcp   an RFC 9329 stream to tcp_port, directly or through the proxy
 *   tls   the same inside TLS to tls_port (one session cache for resumption)
 *
 * A stream link starts its IKE SA when the stream is first up, reliable
 * (no retransmission timers), NAT detection with the stream's addresses.
 * When the stream breaks, the link keeps its IKE SA and reconnects with
 * back-off (0.2 s, 0.5 s, 1 s, 2 s ... 30 s); once up again the IKE SA
 * resends what is outstanding (ike_sa_reconnected). A stream that never
 * came up has failed outright; one that brought no frame in LINK_MAX_FAILS
 * connections in a row is given up (the session starts over).
 *
 * The race (race.c) starts the transports of [transport] order one after
 * another, the next after udp_timeout or at once when one failed outright,
 * keeps every attempt alive, and the first whose IKE_SA_INIT is answered
 * becomes the session's link (s->link, s->ike); the others are freed.
 *
 *   link.c         the link object, UDP, IKE callbacks, ESP send hooks
 *   link_stream.c  stream links: connect, frames in, reconnect
 *   race.c         the fallback race
 */
#ifndef IKEAGENT_AGENT_LINK_H
#define IKEAGENT_AGENT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "agent/config.h"
#include "agent/loop.h"
#include "ike/sa.h"
#include "transport/stream.h"
#include "util/buf.h"

#define LINK_CONNECT_MS		10000	/* a stream's connect, CONNECT and TLS handshake */
#define LINK_MAX_FAILS		9	/* then give up: ~1 min of back-off without a frame */
#define LINK_RETRANSMIT_MIN_MS	100

struct session;
struct status_info;

enum link_state {
	LINK_CONNECTING,	/* stream: TCP connect, proxy CONNECT, TLS handshake */
	LINK_UP,		/* messages flow (UDP: always) */
	LINK_WAITING,		/* stream broke: back-off before the next connect */
	LINK_FAILED,		/* never came up, or its IKE SA died in the race */
};

struct link {
	struct session *s;
	enum config_transport kind;
	enum link_state state;
	bool proxy;			/* tcp/tls through the HTTP CONNECT proxy */
	struct ike_sa *ike;		/* owned; NULL until a stream is first up */
	uint64_t start_ms;
	char where[64];			/* "10.99.0.1:4500" for logs */
	char err[256];			/* why it failed */
	/* stream links */
	struct stream *st;
	int fd;				/* watched by the loop; -1: none */
	uint32_t ev;
	bool ever_up;			/* a connection of this link was up */
	bool rx_seen;			/* a frame arrived on this connection */
	unsigned backoff_i;
	unsigned fails;			/* connections in a row that brought no frame */
	struct loop_timer t_retry;	/* back-off, then the connect deadline */
	struct loop_timer t_report;	/* failure, told to the race outside callbacks */
	struct sockaddr_storage local, peer;
	uint8_t *rx;			/* DP_IKE_MAX bytes: a received frame body */
};

/* link.c */
const char *link_kind_name(enum config_transport k);
/* A stream's error without its "tcp: "/"tls: " (the link's kind goes first). */
const char *link_bare_error(const char *err);
/* A new link of kind k (not started); NULL: out of memory. */
struct link *link_new(struct session *s, enum config_transport k);
/* Start it: UDP opens the socket and sends IKE_SA_INIT; a stream connects. */
int link_open(struct link *l) MUST_CHECK;
/* Close sockets or stream, free the IKE SA and the link. NULL is fine. */
void link_free(struct link *l);
/* One IKE message from the link (UDP: the datagram; NAT-T/stream: after the marker). */
void link_ike_input(struct link *l, const uint8_t *msg, size_t len);
/* UDP: move to the NAT-T port; a no-op for a stream link. */
void link_float(struct link *l);
/* The session's link can take ESP now. */
bool link_esp_ready(const struct session *s);
/* ESP packets on the session's link; how many were sent or queued (-1: error). */
int link_send_esp(struct session *s, const struct iovec *pkts, unsigned n) MUST_CHECK;
/* transport, local, remote, proxy for status. */
void link_status(const struct session *s, struct status_info *si);
/* Our own IKE SA on l (NAT detection with these addresses): IKE_SA_INIT sent. */
int link_ike_start(struct link *l, const struct sockaddr_storage *local,
		   const struct sockaddr_storage *remote) MUST_CHECK;
/* The transport's addresses for NAT_DETECTION (RFC 9329 §6.5 ≈). */
void link_set_addrs(struct link *l, const struct sockaddr_storage *local,
		    const struct sockaddr_storage *remote);
/* The IKE SA's deadline changed: rearm whoever ticks it (session or race). */
void link_rearm(struct link *l);
/* Tell the race (deferred) that this link failed. */
void link_report_failure(struct link *l);

/* link_stream.c */
int link_stream_open(struct link *l) MUST_CHECK;
void link_stream_close(struct link *l);
int link_stream_send_ike(struct link *l, const uint8_t *msg, size_t len) MUST_CHECK;
int link_stream_send_esp(struct link *l, const struct iovec *pkts, unsigned n) MUST_CHECK;

/* race.c */
struct race;
struct race *race_new(struct session *s);
void race_free(struct race *r);
/* Start the race from the first transport of the order. */
int race_start(struct session *s) MUST_CHECK;
/* Free every attempt that did not win. */
void race_stop(struct session *s);
bool race_active(const struct session *s);
/* The newest attempt (status while racing), NULL if none. */
const struct link *race_latest(const struct session *s);
/* An attempt's IKE SA got input or changed: look for a winner, rearm the ticks. */
void race_poke(struct session *s);
/* After input to attempt l: if its IKE_SA_INIT is answered, l wins now. */
void race_input_done(struct session *s, struct link *l);
/* An attempt failed (outright, or its IKE SA died): move on. */
void race_link_failed(struct session *s, struct link *l);

#endif
