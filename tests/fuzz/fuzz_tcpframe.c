/*
 * Fuzz the RFC 9329 deframer: the same stream fed whole, in chunks chosen
 * by the input, and a byte at a time must give the same bodies, verdict and
 * counters, with and without an expected prefix, in fixed and in heap mode
 * (heap mode: one block at most, sized to the partial frame, none left at
 * the end); every body must be within the size rules; re-encoding the
 * bodies must give them back.
 *
 * Input: byte 0 picks max_len, bytes 1..8 seed the chunk sizes, the rest is
 * the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/tcpframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CONFIG_LEN 9

#define CHECK(c)                                                                \
	do {                                                                    \
		if (!(c)) {                                                     \
			fprintf(stderr, "fuzz_tcpframe: %s:%d: %s\n", __FILE__, \
				__LINE__, #c);                                  \
			abort();                                                \
		}                                                               \
	} while (0)

/* What one run produced: bodies back to back in bytes, their lengths. */
struct out {
	uint8_t *bytes;
	size_t used, cap;
	size_t *lens;
	size_t n, ncap;
	int status;
	enum tcpframe_err err;
	bool eof_pending;
	struct tcpframe_rx_stats stats;
};

static struct tcpframe_rx rx;
static uint8_t rx_buf[TCPFRAME_MAX_LEN];	/* fixed mode */
static size_t held;				/* heap mode: bytes in the block */

static void *block_get(void *ctx, size_t len)
{
	void *p;

	CHECK(held == 0);	/* one partial frame at a time */
	CHECK(len >= TCPFRAME_HDR_LEN + 1 && len <= rx.max_len);
	p = malloc(len);
	CHECK(p);
	held = len;
	return p;
}

static void block_put(void *ctx, void *block, size_t len)
{
	CHECK(held == len);
	held = 0;
	free(block);
}

static void out_init(struct out *o, size_t stream_len)
{
	memset(o, 0, sizeof(*o));
	o->cap = stream_len;
	/* a delivered frame takes at least 2 + TCPFRAME_MIN_BODY bytes */
	o->ncap = stream_len / (TCPFRAME_HDR_LEN + TCPFRAME_MIN_BODY) + 1;
	o->bytes = malloc(o->cap + 1);
	o->lens = malloc(o->ncap * sizeof(*o->lens));
	CHECK(o->bytes && o->lens);
}

static void out_free(struct out *o)
{
	free(o->bytes);
	free(o->lens);
}

static void out_add(struct out *o, const uint8_t *body, size_t len)
{
	CHECK(len >= 1 && len >= TCPFRAME_MIN_BODY);
	CHECK(len <= rx.max_len - TCPFRAME_HDR_LEN);
	CHECK(o->n < o->ncap && len <= o->cap - o->used);
	memcpy(o->bytes + o->used, body, len);
	o->used += len;
	o->lens[o->n++] = len;
}

/* Feed one chunk and drain; false once rx failed. */
static bool feed(struct out *o, const uint8_t *p, size_t len)
{
	const uint8_t *body;
	size_t blen;
	int r;

	if (tcpframe_rx_feed(&rx, p, len) < 0) {
		o->status = -1;
		o->err = tcpframe_rx_error(&rx);
		CHECK(o->err != TCPFRAME_OK);
		return false;
	}
	while ((r = tcpframe_rx_next(&rx, &body, &blen)) > 0)
		out_add(o, body, blen);
	if (r < 0) {
		o->status = -1;
		o->err = tcpframe_rx_error(&rx);
		CHECK(o->err != TCPFRAME_OK);
		/* sticky */
		CHECK(tcpframe_rx_next(&rx, &body, &blen) == -1);
		return false;
	}
	CHECK(tcpframe_rx_error(&rx) == TCPFRAME_OK);
	return true;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Chunk sizes from the seed: mostly small, sometimes empty or large. */
static size_t chunk_len(uint64_t *s)
{
	uint64_t v = xorshift(s);

	switch (v & 3) {
	case 0:
		return (size_t)(v >> 8) % 4;
	case 1:
		return (size_t)(v >> 8) % 32;
	case 2:
		return (size_t)(v >> 8) % 600;
	default:
		return (size_t)(v >> 8) % 70000;
	}
}

/* mode 0: whole; 1: chunks from seed; 2: a byte at a time. heap: blocks
 * from block_get instead of rx_buf. */
static void run(struct out *o, bool prefix, size_t max_len, uint64_t seed,
		const uint8_t *s, size_t len, int mode, bool heap)
{
	static const struct tcpframe_rx_mem mem = { .get = block_get, .put = block_put };
	size_t at = 0;

	out_init(o, len);
	if (heap)
		CHECK(tcpframe_rx_init_heap(&rx, prefix, max_len, &mem) == 0);
	else
		CHECK(tcpframe_rx_init(&rx, prefix, max_len, rx_buf) == 0);
	if (seed == 0)
		seed = 0x9e3779b97f4a7c15ULL;
	do {
		size_t n = mode == 0 ? len : mode == 2 ? 1 : chunk_len(&seed);

		if (n > len - at)
			n = len - at;
		if (!feed(o, s + at, n))
			break;
		CHECK(held == tcpframe_rx_held(&rx));
		at += n;
	} while (at < len);
	o->eof_pending = tcpframe_rx_eof(&rx);
	CHECK(held == 0);
	o->stats = rx.stats;
	CHECK(o->stats.frames == o->n);
	CHECK(o->stats.bytes <= len);
}

static void same(const struct out *a, const struct out *b)
{
	CHECK(a->n == b->n && a->used == b->used);
	CHECK(memcmp(a->lens, b->lens, a->n * sizeof(*a->lens)) == 0);
	CHECK(a->used == 0 || memcmp(a->bytes, b->bytes, a->used) == 0);
	CHECK(a->status == b->status && a->err == b->err);
	CHECK(a->eof_pending == b->eof_pending);
	CHECK(memcmp(&a->stats, &b->stats, sizeof(a->stats)) == 0);
}

/* Encode the bodies again and deframe them: the same bodies come back. */
static void round_trip(const struct out *a, bool prefix, size_t max_len)
{
	size_t cap = (prefix ? TCPFRAME_PREFIX_LEN : 0) + a->used + a->n * TCPFRAME_HDR_LEN;
	uint8_t *enc = malloc(cap + 1);
	struct iovec *iov = malloc((a->n + 1) * sizeof(*iov));
	size_t off = 0, framed;
	struct out b;
	struct wr w;

	CHECK(enc && iov);
	for (size_t i = 0; i < a->n; i++) {
		iov[i].iov_base = a->bytes + off;
		iov[i].iov_len = a->lens[i];
		off += a->lens[i];
	}
	wr_init(&w, enc, cap);
	if (prefix)
		CHECK(tcpframe_put_prefix(&w) == 0);
	CHECK(tcpframe_put_batch(&w, iov, a->n, max_len, &framed) == 0 && framed == a->n);
	CHECK(wr_len(&w) == cap);
	run(&b, prefix, max_len, 0, enc, wr_len(&w), 0, false);
	CHECK(b.status == 0 && !b.eof_pending && b.n == a->n);
	CHECK(b.used == a->used && (a->used == 0 || memcmp(a->bytes, b.bytes, a->used) == 0));
	CHECK(b.stats.keepalives == 0 && b.stats.runts == 0 && b.stats.bytes == cap);
	out_free(&b);
	free(iov);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[8] = { 0, TCPFRAME_MIN_MAX_LEN, 9, 64, 300, 1502, 2000,
					 TCPFRAME_MAX_LEN };
	uint8_t cfg[CONFIG_LEN] = { 0 };
	size_t hdr = size < CONFIG_LEN ? size : CONFIG_LEN;
	const uint8_t *s = data + hdr;
	size_t len = size - hdr;
	size_t max_len;
	uint64_t seed = 0;

	if (hdr)
		memcpy(cfg, data, hdr);
	max_len = maxes[cfg[0] & 7];
	for (int i = 1; i < CONFIG_LEN; i++)
		seed = seed << 8 | cfg[i];

	for (int prefix = 0; prefix <= 1; prefix++) {
		struct out whole, chunks, bytes, heap_chunks, heap_bytes;

		run(&whole, prefix, max_len, seed, s, len, 0, false);
		run(&chunks, prefix, max_len, seed, s, len, 1, false);
		same(&whole, &chunks);
		run(&bytes, prefix, max_len, seed, s, len, 2, false);
		same(&whole, &bytes);
		run(&heap_chunks, prefix, max_len, seed, s, len, 1, true);
		same(&whole, &heap_chunks);
		run(&heap_bytes, prefix, max_len, seed, s, len, 2, true);
		same(&whole, &heap_bytes);
		round_trip(&whole, prefix, max_len);
		out_free(&whole);
		out_free(&chunks);
		out_free(&bytes);
		out_free(&heap_chunks);
		out_free(&heap_bytes);
	}
	return 0;
}
