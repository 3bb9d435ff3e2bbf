/*
 * RFC 9329 stream framing: IKE and ESP messages carried over a TCP (or TLS)
 * byte stream.
 *
 *   stream  = [prefix] frame*
 *   prefix  = "IKETCP"          sent once, first, by the side that opened
 *                               the connection (ikeagent: the initiator)
 *   frame   = Length body       Length: 16-bit big-endian, INCLUDES its own
 *                               2 bytes, so body = Length - 2 bytes
 *
 * A body is byte for byte what a UDP-4500 datagram would carry (an IKE
 * message behind the 4-byte zero non-ESP marker, or an ESP packet starting
 * with its non-zero SPI). This module moves bodies as opaque bytes: it never
 * looks inside one, except for the lengths the framing itself rules on.
 *
 * Lengths are "framed" sizes (the Length field's value, header included);
 * max_len is the largest frame a side accepts or sends. Because a frame
 * carries one UDP-sized packet, the configured max_len acts as the tunnel
 * MTU (RFC 9329 §3: keep messages to typical UDP sizes). max_len 0 means the
 * default, which is also the hard cap: TCPFRAME_MAX_LEN.
 *
 * Body sizes this module rules on (both directions agree):
 *   1 byte     0xFF: NAT keepalive. Received ones are dropped silently and
 *              counted; none is ever sent (no API for it, see tcpframe.c).
 *              Any other 1-byte body: protocol error.
 *   2, 3 bytes protocol error: too short to hold the 4-byte non-ESP marker
 *              or an SPI, so not even classifiable as IKE or ESP.
 *   4 bytes    dropped and counted (stats.runts), not an error: the framing
 *              is intact and the 4 bytes classify (marker or SPI) but carry
 *              no message; like a truncated UDP datagram it is dropped, as
 *              Linux espintcp does.
 *   5 and up   delivered, up to max_len - 2.
 * The encoder refuses any body under TCPFRAME_MIN_BODY bytes.
 */
#ifndef IKEAGENT_TRANSPORT_TCPFRAME_H
#define IKEAGENT_TRANSPORT_TCPFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/buf.h"

#define TCPFRAME_PREFIX		"IKETCP"	/* 0x49 0x4b 0x45 0x54 0x43 0x50 */
#define TCPFRAME_PREFIX_LEN	6
#define TCPFRAME_HDR_LEN	2		/* the Length field */
#define TCPFRAME_MAX_LEN	65535		/* default and hard cap of max_len */
#define TCPFRAME_KEEPALIVE	0xFF		/* the 1-byte NAT keepalive body */
#define TCPFRAME_RUNT_BODY	4		/* body size dropped, not delivered */
#define TCPFRAME_MIN_BODY	5		/* smallest body delivered or sent */
/* Smallest max_len tcpframe_rx_init accepts: room for one deliverable body. */
#define TCPFRAME_MIN_MAX_LEN	(TCPFRAME_HDR_LEN + TCPFRAME_MIN_BODY)

/* ---- encoder ------------------------------------------------------------ */

/* Append the 6-byte stream prefix; the opener sends it first on every
 * new connection. */
int tcpframe_put_prefix(struct wr *w) MUST_CHECK;

/*
 * Append one frame: Length then body. Fails, writing nothing, for a body
 * under TCPFRAME_MIN_BODY bytes or one whose framed size exceeds max_len
 * (0: TCPFRAME_MAX_LEN); fails like any wr_* call when w lacks room.
 */
int tcpframe_put(struct wr *w, const uint8_t *body, size_t len, size_t max_len) MUST_CHECK;

/*
 * Frame bodies[0..n) back to back, for one write() per burst. Stops before
 * the first body that does not fit in w's room and returns 0: *framed < n
 * then, the caller writes out what w holds and calls again with the rest.
 * Returns -1 at a body tcpframe_put refuses; bodies[*framed] is that body,
 * the frames before it are in w. w is left usable in both cases.
 */
int tcpframe_put_batch(struct wr *w, const struct iovec *bodies, size_t n,
		       size_t max_len, size_t *framed) MUST_CHECK;

/*
 * Zero-copy framing, e.g. to encrypt straight into a batch buffer:
 * tcpframe_begin reserves the Length at *mark; write the body with wr_*;
 * tcpframe_end fills the Length. tcpframe_end fails for a body tcpframe_put
 * would refuse; the bytes from mark on are then no frame: send only the
 * first mark bytes of w.
 */
int tcpframe_begin(struct wr *w, size_t *mark) MUST_CHECK;
int tcpframe_end(struct wr *w, size_t mark, size_t max_len) MUST_CHECK;

/* ---- incremental deframer ----------------------------------------------- */

enum tcpframe_err {
	TCPFRAME_OK = 0,
	TCPFRAME_EPREFIX,	/* expected "IKETCP", a byte differs */
	TCPFRAME_ELEN,		/* Length < 3: no room for even a 1-byte body */
	TCPFRAME_ETOOLONG,	/* Length > max_len */
	TCPFRAME_EKEEPALIVE,	/* 1-byte body other than 0xFF */
	TCPFRAME_ESHORT,	/* 2- or 3-byte body */
	TCPFRAME_ENOMEM,	/* heap mode: no block for a partial frame */
};

struct tcpframe_rx_stats {
	uint64_t frames;	/* bodies delivered */
	uint64_t keepalives;	/* 0xFF keepalives dropped */
	uint64_t runts;		/* 4-byte bodies dropped */
	uint64_t bytes;		/* stream bytes parsed: prefix + whole frames */
	uint64_t truncated;	/* partial frames (or prefixes) discarded at EOF */
};

/*
 * Heap mode: where a frame that spans feeds is gathered. Once its Length
 * is in, get(ctx, Length) gives a block of that many bytes (NULL: refused,
 * the stream fails with TCPFRAME_ENOMEM); put gives it back on the next
 * tcpframe_rx_next after the frame was handed out (or dropped), or at
 * eof/reset. So a stream holds nothing while frames arrive whole, and one
 * block, sized to its frame, while one is partial. A side with many
 * streams (a relay) keeps that memory within a budget this way.
 */
struct tcpframe_rx_mem {
	void *(*get)(void *ctx, size_t len);
	void (*put)(void *ctx, void *block, size_t len);
	void *ctx;
};

struct tcpframe_rx {
	/* configuration, kept across tcpframe_rx_reset */
	bool expect_prefix;
	size_t max_len;
	uint8_t *fixed;			/* fixed mode: max_len bytes, the caller's */
	struct tcpframe_rx_mem mem;	/* heap mode (fixed NULL) */
	struct tcpframe_rx_stats stats;	/* kept across reset; init zeroes */

	/* per connection */
	enum tcpframe_err err;		/* sticky until reset */
	size_t prefix_seen;		/* prefix bytes matched so far */
	struct rd in;			/* borrowed input, from tcpframe_rx_feed */
	struct wr part;			/* a partial frame, over fixed, hdr or block */
	uint8_t hdr[TCPFRAME_HDR_LEN];	/* heap mode: the Length, until the block */
	uint8_t *block;			/* heap mode: the current frame's, or NULL */
	size_t block_len;
};

/*
 * expect_prefix: true on the side that accepted the connection (a relay or
 * gateway, which must see "IKETCP" first), false on the initiator, which
 * never receives one. max_len: 0 for TCPFRAME_MAX_LEN, else between
 * TCPFRAME_MIN_MAX_LEN and TCPFRAME_MAX_LEN; -1 outside that.
 *
 * Fixed mode (tcpframe_rx_init): a frame spanning feeds is gathered in
 * buf, which holds max_len bytes (TCPFRAME_MAX_LEN for 0) and stays the
 * caller's for rx's life; rx never allocates. Heap mode
 * (tcpframe_rx_init_heap): in blocks from mem, see struct tcpframe_rx_mem.
 * Both give the same bodies, verdicts and stats for the same stream, but
 * for TCPFRAME_ENOMEM.
 */
int tcpframe_rx_init(struct tcpframe_rx *rx, bool expect_prefix, size_t max_len,
		     uint8_t *buf) MUST_CHECK;
int tcpframe_rx_init_heap(struct tcpframe_rx *rx, bool expect_prefix, size_t max_len,
			  const struct tcpframe_rx_mem *mem) MUST_CHECK;

/* Heap mode: bytes held for a partial frame (0 once a tcpframe_rx_next
 * returned 0 at a frame boundary; always 0 in fixed mode). */
static inline size_t tcpframe_rx_held(const struct tcpframe_rx *rx) { return rx->block_len; }

/*
 * Hand the deframer what one read() returned. The bytes are borrowed, not
 * copied, until tcpframe_rx_next has returned 0 (all taken; any partial
 * frame copied into rx's buffer) or -1. Fails if rx has failed or still holds
 * unparsed input from the previous feed.
 *
 * Typical use:
 *	if (tcpframe_rx_feed(rx, buf, n) < 0) close;
 *	while ((r = tcpframe_rx_next(rx, &body, &len)) > 0)
 *		handle(body, len);
 *	if (r < 0) close;	(tcpframe_rx_error(rx) says why)
 */
int tcpframe_rx_feed(struct tcpframe_rx *rx, const uint8_t *data, size_t len) MUST_CHECK;

/*
 * Next complete body: 1 with *body and *len set, 0 when the input is used up
 * (more bytes needed), -1 on a protocol error: the stream cannot be parsed
 * and must be closed; rx then fails every call until tcpframe_rx_reset.
 * Keepalives and 4-byte bodies are skipped, never returned. *body points
 * into the fed bytes when the frame lay whole within them, else into rx's
 * buffer (fixed, or the frame's block);
 * either way it is valid until the next call on rx or until the fed buffer
 * is reused. The output is the same however the stream is split.
 */
int tcpframe_rx_next(struct tcpframe_rx *rx, const uint8_t **body, size_t *len) MUST_CHECK;

/*
 * The connection ended: true if a partial frame, an incomplete expected
 * prefix or unparsed input was pending (then discarded and counted in
 * stats.truncated); false after a clean end or on a failed rx. Then resets
 * rx for a new connection.
 */
bool tcpframe_rx_eof(struct tcpframe_rx *rx);

/* Forget the connection (partial frame, prefix progress, error; heap mode:
 * the block goes back); keep the configuration and stats. */
void tcpframe_rx_reset(struct tcpframe_rx *rx);

static inline enum tcpframe_err tcpframe_rx_error(const struct tcpframe_rx *rx) { return rx->err; }
const char *tcpframe_err_str(enum tcpframe_err err);

#endif
