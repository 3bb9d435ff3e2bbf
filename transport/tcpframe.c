/*
 * RFC 9329 stream framing: prefix, Length-prefixed frames, and a deframer
 * that gives the same bodies however the stream is split into reads.
 *
 * No NAT keepalive is ever sent: RFC 9329 §6.6 ≈ : "IPsec ESP NAT
 * keep-alives SHOULD NOT be sent when using TCP encapsulation" (a TCP
 * mapping outlives a UDP one, and IKE DPD checks the peer). So there is no
 * API for one, and the encoder refuses a 1-byte body.
 *
 * Deframer invariant, between calls: rx->part holds the first bytes of the
 * current frame (fewer than the whole of it) and nothing else; rx->in holds
 * the fed bytes not yet looked at. Every byte moves exactly once, in stream
 * order, from rx->in to either rx->part or a frame handed out, so the frames
 * cannot depend on where the feeds were cut. The fast path (a frame lying
 * whole in rx->in) hands out the same bytes without the copy. Fixed and
 * heap mode differ only in where rx->part writes (and in what it costs to
 * hold a partial frame): the fixed buffer from the first byte, or hdr for
 * the Length and then a block sized to the frame.
 */
#include "transport/tcpframe.h"

#include <string.h>

static size_t tx_max(size_t max_len)
{
	if (max_len == 0 || max_len > TCPFRAME_MAX_LEN)
		return TCPFRAME_MAX_LEN;
	return max_len;
}

/* A body we would ourselves deliver: never a keepalive, a runt or too big. */
static bool tx_body_ok(size_t len, size_t max_len)
{
	return len >= TCPFRAME_MIN_BODY && len <= tx_max(max_len) - TCPFRAME_HDR_LEN;
}

int tcpframe_put_prefix(struct wr *w)
{
	/* RFC 9329 §4: the first bytes the initiator sends on a new
	 * connection MUST be the stream prefix. */
	return wr_bytes(w, TCPFRAME_PREFIX, TCPFRAME_PREFIX_LEN);
}

int tcpframe_put(struct wr *w, const uint8_t *body, size_t len, size_t max_len)
{
	if (!tx_body_ok(len, max_len))
		return -1;
	/* RFC 9329 §3: the Length includes the 2 bytes of the Length field. */
	if (wr_u16(w, (uint16_t)(len + TCPFRAME_HDR_LEN)) < 0 || wr_bytes(w, body, len) < 0)
		return -1;
	return 0;
}

int tcpframe_put_batch(struct wr *w, const struct iovec *bodies, size_t n,
		       size_t max_len, size_t *framed)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < n; i++) {
		size_t len = bodies[i].iov_len;

		if (!tx_body_ok(len, max_len)) {
			ret = -1;
			break;
		}
		if (wr_room(w) < TCPFRAME_HDR_LEN + len)
			break;
		if (tcpframe_put(w, bodies[i].iov_base, len, max_len) < 0) {
			ret = -1;	/* cannot happen: checked above */
			break;
		}
	}
	*framed = i;
	return ret;
}

int tcpframe_begin(struct wr *w, size_t *mark)
{
	return wr_reserve(w, TCPFRAME_HDR_LEN, mark);
}

int tcpframe_end(struct wr *w, size_t mark, size_t max_len)
{
	size_t len;

	if (!wr_ok(w) || mark > wr_len(w) || wr_len(w) - mark < TCPFRAME_HDR_LEN)
		return -1;
	len = wr_len(w) - mark - TCPFRAME_HDR_LEN;
	if (!tx_body_ok(len, max_len))
		return -1;
	return wr_fill_u16(w, mark, (uint16_t)(len + TCPFRAME_HDR_LEN));
}

/* ---- deframer ----------------------------------------------------------- */

static int rx_init(struct tcpframe_rx *rx, bool expect_prefix, size_t max_len)
{
	if (max_len == 0)
		max_len = TCPFRAME_MAX_LEN;
	if (max_len < TCPFRAME_MIN_MAX_LEN || max_len > TCPFRAME_MAX_LEN)
		return -1;
	rx->expect_prefix = expect_prefix;
	rx->max_len = max_len;
	rx->block = NULL;
	rx->block_len = 0;
	memset(&rx->stats, 0, sizeof(rx->stats));
	tcpframe_rx_reset(rx);
	return 0;
}

int tcpframe_rx_init(struct tcpframe_rx *rx, bool expect_prefix, size_t max_len, uint8_t *buf)
{
	if (!buf)
		return -1;
	rx->fixed = buf;
	memset(&rx->mem, 0, sizeof(rx->mem));
	return rx_init(rx, expect_prefix, max_len);
}

int tcpframe_rx_init_heap(struct tcpframe_rx *rx, bool expect_prefix, size_t max_len,
			  const struct tcpframe_rx_mem *mem)
{
	if (!mem || !mem->get || !mem->put)
		return -1;
	rx->fixed = NULL;
	rx->mem = *mem;
	return rx_init(rx, expect_prefix, max_len);
}

/* Heap mode: the block of the frame last handed out (or cut off) goes back. */
static void rx_put_block(struct tcpframe_rx *rx)
{
	if (!rx->block)
		return;
	rx->mem.put(rx->mem.ctx, rx->block, rx->block_len);
	rx->block = NULL;
	rx->block_len = 0;
}

/* An empty partial frame: over the fixed buffer, or (heap mode) over hdr
 * until the Length is in and says how big a block to ask for. */
static void rx_part_start(struct tcpframe_rx *rx)
{
	if (rx->fixed)
		wr_init(&rx->part, rx->fixed, rx->max_len);
	else
		wr_init(&rx->part, rx->hdr, sizeof(rx->hdr));
}

void tcpframe_rx_reset(struct tcpframe_rx *rx)
{
	rx_put_block(rx);
	rx->err = TCPFRAME_OK;
	rx->prefix_seen = rx->expect_prefix ? 0 : TCPFRAME_PREFIX_LEN;
	rd_init(&rx->in, NULL, 0);
	rx_part_start(rx);
}

/*
 * RFC 9329 §6.1 ≈ : "If either initiator or responder receives a stream
 * that cannot be parsed correctly, it MUST close the TCP connection."
 * The failure sticks until reset, so the caller cannot read on by mistake.
 */
static int rx_fail(struct tcpframe_rx *rx, enum tcpframe_err err)
{
	rx->err = err;
	return -1;
}

int tcpframe_rx_feed(struct tcpframe_rx *rx, const uint8_t *data, size_t len)
{
	if (rx->err != TCPFRAME_OK || rd_left(&rx->in) > 0)
		return -1;
	rd_init(&rx->in, data, len);
	return 0;
}

/* 1: prefix complete (or not expected), 0: input used up, -1: wrong byte. */
static int rx_prefix(struct tcpframe_rx *rx)
{
	uint8_t c;

	while (rx->prefix_seen < TCPFRAME_PREFIX_LEN) {
		if (rd_left(&rx->in) == 0 || rd_u8(&rx->in, &c) < 0)
			return 0;
		/* RFC 9329 §4: the stream MUST begin with the prefix. Fail
		 * at the first wrong byte, so a relay can close at once. */
		if (c != (uint8_t)TCPFRAME_PREFIX[rx->prefix_seen])
			return rx_fail(rx, TCPFRAME_EPREFIX);
		if (++rx->prefix_seen == TCPFRAME_PREFIX_LEN)
			rx->stats.bytes += TCPFRAME_PREFIX_LEN;
	}
	return 1;
}

/* The rules the Length alone decides, applied as soon as it has arrived. */
static int rx_check_len(struct tcpframe_rx *rx, size_t flen)
{
	if (flen < TCPFRAME_HDR_LEN + 1)
		return rx_fail(rx, TCPFRAME_ELEN);
	if (flen > rx->max_len)
		return rx_fail(rx, TCPFRAME_ETOOLONG);
	/* 2 or 3 bytes hold neither the 4-byte non-ESP marker nor an SPI:
	 * the body is not even an IKE or an ESP message cut short. */
	if (flen > TCPFRAME_HDR_LEN + 1 && flen < TCPFRAME_HDR_LEN + TCPFRAME_RUNT_BODY)
		return rx_fail(rx, TCPFRAME_ESHORT);
	return 0;
}

/* Move input into rx->part until it holds upto bytes: 1 when it does,
 * 0 when the input ran out first. Fails (cannot happen: upto <= max_len,
 * the fixed buffer's size, and a block is the frame's size) as a frame
 * too long for the buffer. */
static int rx_fill(struct tcpframe_rx *rx, size_t upto)
{
	size_t have = wr_len(&rx->part);
	size_t n = rd_left(&rx->in);
	const uint8_t *p;

	if (have >= upto)
		return 1;
	if (n == 0)
		return 0;
	if (n > upto - have)
		n = upto - have;
	if (rd_ptr(&rx->in, n, &p) < 0 || wr_bytes(&rx->part, p, n) < 0)
		return rx_fail(rx, TCPFRAME_ETOOLONG);
	return wr_len(&rx->part) == upto;
}

/* Heap mode: the Length is in hdr and checked; a block of flen bytes for
 * the rest of the frame, the Length copied in first. */
static int rx_get_block(struct tcpframe_rx *rx, size_t flen)
{
	uint8_t *b = rx->mem.get(rx->mem.ctx, flen);

	if (!b)
		return rx_fail(rx, TCPFRAME_ENOMEM);
	rx->block = b;
	rx->block_len = flen;
	wr_init(&rx->part, b, flen);
	if (wr_bytes(&rx->part, rx->hdr, sizeof(rx->hdr)) < 0)
		return rx_fail(rx, TCPFRAME_ETOOLONG);	/* cannot happen: flen >= 3 */
	return 0;
}

/* Slow path: gather a frame that straddles feeds in the fixed buffer, or
 * in a block sized to it. */
static int rx_gather(struct tcpframe_rx *rx, const uint8_t **frame, size_t *flen)
{
	size_t need;
	int r;

	r = rx_fill(rx, TCPFRAME_HDR_LEN);
	if (r <= 0)
		return r;
	need = get_be16(rx->part.p);
	if (rx_check_len(rx, need) < 0)
		return -1;
	if (!rx->fixed && !rx->block && rx_get_block(rx, need) < 0)
		return -1;
	r = rx_fill(rx, need);
	if (r <= 0)
		return r;
	*frame = rx->part.p;
	*flen = need;
	rx_part_start(rx);	/* a block stays until the next call */
	return 1;
}

/* The next whole frame (header included): 1, 0 for more input, -1 error. */
static int rx_take(struct tcpframe_rx *rx, const uint8_t **frame, size_t *flen)
{
	uint16_t l;

	if (wr_len(&rx->part) == 0) {
		/* Between frames: the last one's block, if any, is done with. */
		rx_put_block(rx);
		if (rd_peek_u16(&rx->in, 0, &l) == 0) {
			if (rx_check_len(rx, l) < 0)
				return -1;
			if (rd_left(&rx->in) >= l && rd_ptr(&rx->in, l, frame) == 0) {
				*flen = l;
				return 1;
			}
		}
	}
	return rx_gather(rx, frame, flen);
}

/* A whole frame's body: 1 to deliver, 0 dropped, -1 protocol error. */
static int rx_judge(struct tcpframe_rx *rx, const uint8_t *body, size_t blen)
{
	if (blen == 1) {
		/* RFC 9329 §6.6 ≈ : "Any implementation using TCP
		 * encapsulation MUST silently drop incoming NAT keep-alive
		 * packets, and not treat them as errors." */
		if (body[0] != TCPFRAME_KEEPALIVE)
			return rx_fail(rx, TCPFRAME_EKEEPALIVE);
		rx->stats.keepalives++;
		return 0;
	}
	if (blen == TCPFRAME_RUNT_BODY) {
		rx->stats.runts++;
		return 0;
	}
	rx->stats.frames++;
	return 1;
}

int tcpframe_rx_next(struct tcpframe_rx *rx, const uint8_t **body, size_t *len)
{
	const uint8_t *frame;
	size_t flen;
	int r;

	if (rx->err != TCPFRAME_OK)
		return -1;
	r = rx_prefix(rx);
	if (r <= 0)
		return r;
	while ((r = rx_take(rx, &frame, &flen)) > 0) {
		r = rx_judge(rx, frame + TCPFRAME_HDR_LEN, flen - TCPFRAME_HDR_LEN);
		if (r < 0)
			return -1;
		rx->stats.bytes += flen;
		if (r > 0) {
			*body = frame + TCPFRAME_HDR_LEN;
			*len = flen - TCPFRAME_HDR_LEN;
			return 1;
		}
	}
	return r;
}

bool tcpframe_rx_eof(struct tcpframe_rx *rx)
{
	bool partial_prefix = rx->prefix_seen > 0 && rx->prefix_seen < TCPFRAME_PREFIX_LEN;
	bool pending = rx->err == TCPFRAME_OK &&
		       (wr_len(&rx->part) > 0 || rd_left(&rx->in) > 0 || partial_prefix);

	/* RFC 9329 §6 ≈ : "A peer MUST discard a partially received message
	 * due to a broken connection." */
	if (pending)
		rx->stats.truncated++;
	tcpframe_rx_reset(rx);
	return pending;
}

const char *tcpframe_err_str(enum tcpframe_err err)
{
	switch (err) {
	case TCPFRAME_OK:
		return "no error";
	case TCPFRAME_EPREFIX:
		return "stream does not start with IKETCP";
	case TCPFRAME_ELEN:
		return "frame length below 3";
	case TCPFRAME_ETOOLONG:
		return "frame longer than the maximum message length";
	case TCPFRAME_EKEEPALIVE:
		return "1-byte frame that is not a keepalive (0xFF)";
	case TCPFRAME_ESHORT:
		return "2- or 3-byte frame body";
	case TCPFRAME_ENOMEM:
		return "no memory for a partial frame";
	}
	return "unknown framing error";
}
