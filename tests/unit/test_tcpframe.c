#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check_main.h"
#include "transport/tcpframe.h"

/* ---- helpers ------------------------------------------------------------ */

#define MAX_FRAMES 64

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: reproducible from the printed seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t rng_range(size_t lo, size_t hi)
{
	return lo + (size_t)(rng() % (hi - lo + 1));
}

static void rng_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
}

static void seed_rng(const char *test)
{
	const char *env = getenv("TCPFRAME_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x1d2c3b4a59687766ULL;

	if (seed == 0)
		seed = 1;
	rng_state = seed;
	printf("%s: seed 0x%llx (set TCPFRAME_SEED to repeat)\n", test, (unsigned long long)seed);
}

/* What one run of the deframer produced. */
struct rec {
	size_t n;
	uint8_t *body[MAX_FRAMES];	/* owned copies, record mode only */
	size_t len[MAX_FRAMES];
	bool differs;			/* compare mode: a body differed */
	int status;			/* 0, or -1 after a protocol error */
	enum tcpframe_err err;
	bool eof_pending;
	struct tcpframe_rx_stats stats;
};

static void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n && i < MAX_FRAMES; i++)
		free(r->body[i]);
	memset(r, 0, sizeof(*r));
}

static void rec_body(struct rec *out, const struct rec *ref, const uint8_t *b, size_t len)
{
	size_t i = out->n++;

	if (i >= MAX_FRAMES) {
		out->differs = true;
		return;
	}
	out->len[i] = len;
	if (!ref) {
		out->body[i] = malloc(len);
		ck_assert_ptr_nonnull(out->body[i]);
		memcpy(out->body[i], b, len);
	} else if (i >= ref->n || ref->len[i] != len || memcmp(ref->body[i], b, len) != 0) {
		out->differs = true;
	}
}

/* Drain rx after a feed; false once it failed. */
static bool drain(struct tcpframe_rx *rx, const struct rec *ref, struct rec *out)
{
	const uint8_t *b;
	size_t len;
	int r;

	while ((r = tcpframe_rx_next(rx, &b, &len)) > 0) {
		rec_body(out, ref, b, len);
		if (out->n > MAX_FRAMES)
			return false;	/* runaway: already recorded as differing */
	}
	if (r < 0) {
		out->status = -1;
		out->err = tcpframe_rx_error(rx);
		return false;
	}
	return true;
}

/* An rx with its fixed buffer, as the agent's stream holds it. */
struct rx_fixed {
	struct tcpframe_rx rx;
	uint8_t buf[TCPFRAME_MAX_LEN];
};

static struct tcpframe_rx *rx_new(void)
{
	struct rx_fixed *f = malloc(sizeof(*f));

	ck_assert_ptr_nonnull(f);
	return &f->rx;
}

/* Heap mode's blocks, counted; get refuses what would go over limit. */
struct heap_acct {
	size_t held, peak, limit;
	unsigned gets, puts, refused;
};
static struct heap_acct heap;
static bool use_heap;		/* rx_init: heap mode, blocks counted in heap */

static void *heap_get(void *ctx, size_t len)
{
	struct heap_acct *a = ctx;
	void *p;

	if (a->held + len > a->limit) {
		a->refused++;
		return NULL;
	}
	p = malloc(len);
	ck_assert_ptr_nonnull(p);
	memset(p, 0xa5, len);
	a->held += len;
	if (a->held > a->peak)
		a->peak = a->held;
	a->gets++;
	return p;
}

static void heap_put(void *ctx, void *block, size_t len)
{
	struct heap_acct *a = ctx;

	ck_assert_uint_ge(a->held, len);
	a->held -= len;
	a->puts++;
	free(block);
}

static void heap_on(size_t limit)
{
	memset(&heap, 0, sizeof(heap));
	heap.limit = limit;
	use_heap = true;
}

static int rx_init(struct tcpframe_rx *rx, bool expect_prefix, size_t max_len)
{
	const struct tcpframe_rx_mem mem = { .get = heap_get, .put = heap_put, .ctx = &heap };

	if (use_heap)
		return tcpframe_rx_init_heap(rx, expect_prefix, max_len, &mem);
	return tcpframe_rx_init(rx, expect_prefix, max_len, ((struct rx_fixed *)rx)->buf);
}

/* Heap mode: one block at most, the one a partial frame needs; none
 * between frames. */
static void heap_check(const struct tcpframe_rx *rx)
{
	if (!use_heap)
		return;
	ck_assert_uint_eq(tcpframe_rx_held(rx), heap.held);
	ck_assert_uint_le(heap.held, rx->max_len);
	if (wr_len(&rx->part) < TCPFRAME_HDR_LEN)
		ck_assert_uint_eq(heap.held, 0);
	else
		ck_assert_uint_eq(heap.held, get_be16(rx->part.p));
}

/*
 * Feed s[0..slen) cut at the increasing offsets cuts[0..ncuts), then end
 * the connection. ref NULL: record copies of the bodies; else compare.
 */
static void run(struct tcpframe_rx *rx, bool expect_prefix, size_t max_len,
		const uint8_t *s, size_t slen, const size_t *cuts, size_t ncuts,
		const struct rec *ref, struct rec *out)
{
	size_t from = 0;

	memset(out, 0, sizeof(*out));
	ck_assert_int_eq(rx_init(rx, expect_prefix, max_len), 0);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : slen;

		if (tcpframe_rx_feed(rx, s + from, to - from) < 0) {
			out->status = -1;
			out->err = tcpframe_rx_error(rx);
			break;
		}
		if (!drain(rx, ref, out))
			break;
		heap_check(rx);
		from = to;
	}
	out->eof_pending = tcpframe_rx_eof(rx);
	out->stats = rx->stats;
	if (use_heap) {
		ck_assert_uint_eq(heap.held, 0);	/* all given back */
		ck_assert_uint_eq(heap.gets, heap.puts);
	}
}

static bool rec_same(const struct rec *a, const struct rec *b)
{
	return !b->differs && a->n == b->n && memcmp(a->len, b->len, sizeof(a->len)) == 0 &&
	       a->status == b->status && a->err == b->err && a->eof_pending == b->eof_pending &&
	       memcmp(&a->stats, &b->stats, sizeof(a->stats)) == 0;
}


/* A frame written by hand, so tests can build frames the encoder refuses. */
static void raw_frame(struct wr *w, const uint8_t *body, size_t len)
{
	ck_assert_int_eq(wr_u16(w, (uint16_t)(len + TCPFRAME_HDR_LEN)), 0);
	ck_assert_int_eq(wr_bytes(w, body, len), 0);
}

static void ike_like(uint8_t *b, size_t len)
{
	rng_fill(b, len);
	memset(b, 0, 4);	/* non-ESP marker */
}

static void esp_like(uint8_t *b, size_t len)
{
	rng_fill(b, len);
	put_be32(b, 0xc0de0001);	/* SPI */
}

/*
 * The test stream: [prefix] IKE(60) keepalive ESP(100) [max-size] 5-byte
 * runt(4) ESP(300). Expected bodies go to exp (record layout).
 */
struct stream {
	uint8_t *s;
	size_t len;
	struct rec exp;
};

static void stream_build(struct stream *st, bool prefix, bool with_max)
{
	static const uint8_t ka = TCPFRAME_KEEPALIVE;
	static const uint8_t runt[4] = { 0, 0, 0, 0 };
	const size_t sizes[] = { 60, 100, TCPFRAME_MAX_LEN - TCPFRAME_HDR_LEN, 5, 300 };
	size_t cap = 2 * TCPFRAME_MAX_LEN;
	struct wr w;

	memset(st, 0, sizeof(*st));
	st->s = malloc(cap);
	ck_assert_ptr_nonnull(st->s);
	wr_init(&w, st->s, cap);
	if (prefix)
		ck_assert_int_eq(tcpframe_put_prefix(&w), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *b;

		if (i == 2 && !with_max)
			continue;
		b = malloc(sizes[i]);
		ck_assert_ptr_nonnull(b);
		if (i == 0)
			ike_like(b, sizes[i]);
		else
			esp_like(b, sizes[i]);
		ck_assert_int_eq(tcpframe_put(&w, b, sizes[i], 0), 0);
		st->exp.body[st->exp.n] = b;
		st->exp.len[st->exp.n++] = sizes[i];
		st->exp.stats.frames++;
		if (i == 0) {
			raw_frame(&w, &ka, 1);
			st->exp.stats.keepalives++;
		}
		if (i == 3) {
			raw_frame(&w, runt, sizeof(runt));
			st->exp.stats.runts++;
		}
	}
	st->len = wr_len(&w);
	st->exp.stats.bytes = st->len;
}

static void stream_free(struct stream *st)
{
	free(st->s);
	rec_free(&st->exp);
}

/* Whole-stream feed, checked against what the stream was built from. */
static void whole(struct tcpframe_rx *rx, const struct stream *st, bool prefix, struct rec *ref)
{
	run(rx, prefix, 0, st->s, st->len, NULL, 0, NULL, ref);
	ck_assert_int_eq(ref->status, 0);
	ck_assert(!ref->eof_pending);
	ck_assert_uint_eq(ref->n, st->exp.n);
	for (size_t i = 0; i < ref->n; i++) {
		ck_assert_uint_eq(ref->len[i], st->exp.len[i]);
		ck_assert(memcmp(ref->body[i], st->exp.body[i], ref->len[i]) == 0);
	}
	ck_assert(memcmp(&ref->stats, &st->exp.stats, sizeof(ref->stats)) == 0);
}

/* ---- splitting: same output for any split ------------------------------- */

START_TEST(whole_feed_matches_construction)
{
	struct tcpframe_rx *rx = rx_new();

	seed_rng("whole_feed");
	for (int prefix = 0; prefix <= 1; prefix++) {
		struct stream st;
		struct rec ref;

		stream_build(&st, prefix, true);
		whole(rx, &st, prefix, &ref);
		ck_assert_uint_eq(ref.stats.frames, 5);
		ck_assert_uint_eq(ref.stats.keepalives, 1);
		ck_assert_uint_eq(ref.stats.runts, 1);
		ck_assert_uint_eq(ref.stats.bytes, st.len);
		rec_free(&ref);
		stream_free(&st);
	}
	free(rx);
}
END_TEST

START_TEST(every_single_split)
{
	struct tcpframe_rx *rx = rx_new();
	size_t runs = 0;

	seed_rng("every_single_split");
	for (int prefix = 0; prefix <= 1; prefix++) {
		struct stream st;
		struct rec ref, got;

		stream_build(&st, prefix, true);
		whole(rx, &st, prefix, &ref);
		for (size_t cut = 0; cut <= st.len; cut++) {
			run(rx, prefix, 0, st.s, st.len, &cut, 1, &ref, &got);
			if (!rec_same(&ref, &got))
				ck_abort_msg("split at %zu (prefix %d) differs", cut, prefix);
			runs++;
		}
		rec_free(&ref);
		stream_free(&st);
	}
	printf("every_single_split: %zu runs\n", runs);
	free(rx);
}
END_TEST

START_TEST(every_split_pair)
{
	struct tcpframe_rx *rx = rx_new();
	size_t runs = 0;

	seed_rng("every_split_pair");
	for (int prefix = 0; prefix <= 1; prefix++) {
		struct stream st;
		struct rec ref, got;

		stream_build(&st, prefix, false);
		whole(rx, &st, prefix, &ref);
		for (size_t a = 0; a <= st.len; a++) {
			for (size_t b = a; b <= st.len; b++) {
				size_t cuts[2] = { a, b };

				run(rx, prefix, 0, st.s, st.len, cuts, 2, &ref, &got);
				if (!rec_same(&ref, &got))
					ck_abort_msg("split at %zu,%zu (prefix %d) differs", a, b, prefix);
				runs++;
			}
		}
		rec_free(&ref);
		stream_free(&st);
	}
	printf("every_split_pair: %zu runs\n", runs);
	free(rx);
}
END_TEST

START_TEST(byte_at_a_time)
{
	struct tcpframe_rx *rx = rx_new();

	seed_rng("byte_at_a_time");
	for (int prefix = 0; prefix <= 1; prefix++) {
		struct stream st;
		struct rec ref, got;
		size_t *cuts;

		stream_build(&st, prefix, true);
		whole(rx, &st, prefix, &ref);
		cuts = malloc(st.len * sizeof(*cuts));
		ck_assert_ptr_nonnull(cuts);
		for (size_t i = 0; i < st.len; i++)
			cuts[i] = i + 1;
		run(rx, prefix, 0, st.s, st.len, cuts, st.len, &ref, &got);
		ck_assert(rec_same(&ref, &got));
		free(cuts);
		rec_free(&ref);
		stream_free(&st);
	}
	free(rx);
}
END_TEST

/* Cut points: many small pieces, some medium, a few larger than a frame. */
static size_t random_cuts(size_t *cuts, size_t max, size_t slen)
{
	size_t n = 0, at = 0;
	int style = (int)(rng() % 3);

	while (n < max) {
		size_t step;

		if (style == 0)
			step = rng_range(0, 16);
		else if (style == 1)
			step = rng_range(0, 2000);
		else
			step = rng_range(0, 70000);
		at += step;
		if (at > slen)
			break;
		cuts[n++] = at;
	}
	return n;
}

START_TEST(random_splits)
{
	enum { ROUNDS = 3000, MAX_CUTS = 8192 };
	struct tcpframe_rx *rx = rx_new();
	size_t *cuts = malloc(MAX_CUTS * sizeof(*cuts));
	size_t pieces = 0;

	ck_assert_ptr_nonnull(cuts);
	seed_rng("random_splits");
	for (int prefix = 0; prefix <= 1; prefix++) {
		struct stream st;
		struct rec ref, got;

		stream_build(&st, prefix, true);
		whole(rx, &st, prefix, &ref);
		for (int round = 0; round < ROUNDS / 2; round++) {
			size_t n = random_cuts(cuts, MAX_CUTS, st.len);

			run(rx, prefix, 0, st.s, st.len, cuts, n, &ref, &got);
			if (!rec_same(&ref, &got))
				ck_abort_msg("random split round %d (prefix %d, %zu cuts) differs",
					     round, prefix, n);
			pieces += n + 1;
		}
		rec_free(&ref);
		stream_free(&st);
	}
	printf("random_splits: %d splittings, %zu pieces\n", ROUNDS, pieces);
	free(cuts);
	free(rx);
}
END_TEST

/* ---- rules -------------------------------------------------------------- */

static int feed_next(struct tcpframe_rx *rx, const uint8_t *s, size_t len,
		     const uint8_t **b, size_t *blen)
{
	ck_assert_int_eq(tcpframe_rx_feed(rx, s, len), 0);
	return tcpframe_rx_next(rx, b, blen);
}

START_TEST(keepalive_dropped_silently)
{
	static const uint8_t s[] = { 0, 3, 0xff, 0, 3, 0xff, 0, 7, 1, 2, 3, 4, 5, 0, 3, 0xff };
	struct tcpframe_rx *rx = rx_new();
	const uint8_t *b;
	size_t len;

	ck_assert_int_eq(rx_init(rx, false, 0), 0);
	ck_assert_int_eq(feed_next(rx, s, sizeof(s), &b, &len), 1);
	ck_assert_uint_eq(len, 5);
	ck_assert_uint_eq(b[0], 1);
	ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), 0);
	ck_assert_int_eq(tcpframe_rx_error(rx), TCPFRAME_OK);
	ck_assert_uint_eq(rx->stats.keepalives, 3);
	ck_assert_uint_eq(rx->stats.frames, 1);
	ck_assert_uint_eq(rx->stats.bytes, sizeof(s));
	ck_assert(!tcpframe_rx_eof(rx));
	free(rx);
}
END_TEST

/* Feed one frame header (and body) and expect a given error. */
static void expect_err(size_t max_len, const uint8_t *s, size_t len, enum tcpframe_err err)
{
	struct tcpframe_rx *rx = rx_new();
	const uint8_t *b;
	size_t blen;

	ck_assert_int_eq(rx_init(rx, false, max_len), 0);
	ck_assert_int_eq(feed_next(rx, s, len, &b, &blen), -1);
	ck_assert_int_eq(tcpframe_rx_error(rx), err);
	ck_assert_uint_eq(rx->stats.frames, 0);
	free(rx);
}

START_TEST(bad_lengths_fail)
{
	static const uint8_t l0[] = { 0, 0, 1, 2, 3 }, l1[] = { 0, 1 }, l2[] = { 0, 2 };

	expect_err(0, l0, sizeof(l0), TCPFRAME_ELEN);
	expect_err(0, l1, sizeof(l1), TCPFRAME_ELEN);
	expect_err(0, l2, sizeof(l2), TCPFRAME_ELEN);
	ck_assert_str_eq(tcpframe_err_str(TCPFRAME_ELEN), "frame length below 3");
}
END_TEST

START_TEST(short_bodies)
{
	static const uint8_t b1[] = { 0, 3, 0xfe }, b2[] = { 0, 4 }, b3[] = { 0, 5 };
	static const uint8_t b4[] = { 0, 6, 0, 0, 0, 0, 0, 6, 1, 2, 3, 4, 0, 7, 9, 9, 9, 9, 9 };
	struct tcpframe_rx *rx = rx_new();
	const uint8_t *b;
	size_t len;

	expect_err(0, b1, sizeof(b1), TCPFRAME_EKEEPALIVE);
	/* 2- and 3-byte bodies fail on the header alone */
	expect_err(0, b2, sizeof(b2), TCPFRAME_ESHORT);
	expect_err(0, b3, sizeof(b3), TCPFRAME_ESHORT);
	/* 4-byte bodies (marker or SPI and nothing else) are dropped */
	ck_assert_int_eq(rx_init(rx, false, 0), 0);
	ck_assert_int_eq(feed_next(rx, b4, sizeof(b4), &b, &len), 1);
	ck_assert_uint_eq(len, 5);
	ck_assert_uint_eq(rx->stats.runts, 2);
	ck_assert_uint_eq(rx->stats.bytes, sizeof(b4));
	free(rx);
}
END_TEST

START_TEST(max_len_honoured)
{
	static uint8_t s[2 * 1500];
	struct tcpframe_rx *rx = rx_new();
	const uint8_t *b;
	size_t len;

	/* exactly max_len: accepted */
	put_be16(s, 1400);
	ck_assert_int_eq(rx_init(rx, false, 1400), 0);
	ck_assert_int_eq(feed_next(rx, s, 1400, &b, &len), 1);
	ck_assert_uint_eq(len, 1398);
	/* one more: refused on the 2 header bytes alone */
	put_be16(s, 1401);
	ck_assert_int_eq(rx_init(rx, false, 1400), 0);
	ck_assert_int_eq(feed_next(rx, s, 2, &b, &len), -1);
	ck_assert_int_eq(tcpframe_rx_error(rx), TCPFRAME_ETOOLONG);
	/* header split over two feeds: same verdict */
	ck_assert_int_eq(rx_init(rx, false, 1400), 0);
	ck_assert_int_eq(feed_next(rx, s, 1, &b, &len), 0);
	ck_assert_int_eq(feed_next(rx, s + 1, 1, &b, &len), -1);
	ck_assert_int_eq(tcpframe_rx_error(rx), TCPFRAME_ETOOLONG);
	/* default max: the whole 16-bit range */
	put_be16(s, 0xffff);
	ck_assert_int_eq(rx_init(rx, false, 0), 0);
	ck_assert_uint_eq(rx->max_len, TCPFRAME_MAX_LEN);
	ck_assert_int_eq(feed_next(rx, s, 2, &b, &len), 0);
	/* init refuses a max that cannot hold a body, or over the cap */
	ck_assert_int_eq(rx_init(rx, false, TCPFRAME_MIN_MAX_LEN - 1), -1);
	ck_assert_int_eq(rx_init(rx, false, TCPFRAME_MAX_LEN + 1), -1);
	ck_assert_int_eq(rx_init(rx, false, TCPFRAME_MIN_MAX_LEN), 0);
	free(rx);
}
END_TEST

START_TEST(wrong_prefix_at_first_wrong_byte)
{
	static const uint8_t bad[] = "IKEXCP";
	static const uint8_t frame_first[] = { 0, 7, 1, 2, 3, 4, 5 };
	struct tcpframe_rx *rx = rx_new();
	const uint8_t *b;
	size_t len;

	ck_assert_int_eq(rx_init(rx, true, 0), 0);
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(feed_next(rx, bad + i, 1, &b, &len), 0);
	ck_assert_int_eq(feed_next(rx, bad + 3, 1, &b, &len), -1);
	ck_assert_int_eq(tcpframe_rx_error(rx), TCPFRAME_EPREFIX);
	/* a responder fed frames without the prefix fails on byte 0 */
	ck_assert_int_eq(rx_init(rx, true, 0), 0);
	ck_assert_int_eq(feed_next(rx, frame_first, 1, &b, &len), -1);
	ck_assert_int_eq(tcpframe_rx_error(rx), TCPFRAME_EPREFIX);
	/* the initiator takes the same bytes as a frame */
	ck_assert_int_eq(rx_init(rx, false, 0), 0);
	ck_assert_int_eq(feed_next(rx, frame_first, sizeof(frame_first), &b, &len), 1);
	free(rx);
}
END_TEST

START_TEST(prefix_split_across_chunks)
{
	static const uint8_t s[] = { 'I', 'K', 'E', 'T', 'C', 'P', 0, 8, 0, 0, 0, 0, 1, 2 };
	struct tcpframe_rx *rx = rx_new();
	const uint8_t *b;
	size_t len;

	ck_assert_int_eq(rx_init(rx, true, 0), 0);
	ck_assert_int_eq(feed_next(rx, s, 2, &b, &len), 0);
	ck_assert_int_eq(feed_next(rx, s + 2, 3, &b, &len), 0);
	ck_assert_int_eq(feed_next(rx, s + 5, 2, &b, &len), 0);	/* "P" + half a header */
	ck_assert_int_eq(feed_next(rx, s + 7, sizeof(s) - 7, &b, &len), 1);
	ck_assert_uint_eq(len, 6);
	ck_assert_uint_eq(b[5], 2);
	ck_assert_uint_eq(rx->stats.bytes, sizeof(s));
	ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), 0);
	free(rx);
}
END_TEST

START_TEST(partial_frame_at_eof)
{
	static const uint8_t s[] = { 0, 9, 1, 2, 3, 4, 5, 6, 7 };
	struct tcpframe_rx *rx = rx_new();
	const uint8_t *b;
	size_t len;

	/* body cut short */
	ck_assert_int_eq(rx_init(rx, false, 0), 0);
	ck_assert_int_eq(feed_next(rx, s, sizeof(s) - 1, &b, &len), 0);
	ck_assert(tcpframe_rx_eof(rx));
	ck_assert_uint_eq(rx->stats.truncated, 1);
	ck_assert_uint_eq(rx->stats.bytes, 0);
	/* the new connection does not glue on the discarded bytes */
	ck_assert_int_eq(feed_next(rx, s, sizeof(s), &b, &len), 1);
	ck_assert_uint_eq(len, 7);
	ck_assert(!tcpframe_rx_eof(rx));
	/* half a header */
	ck_assert_int_eq(feed_next(rx, s, 1, &b, &len), 0);
	ck_assert(tcpframe_rx_eof(rx));
	/* half a prefix, on the responder side */
	ck_assert_int_eq(rx_init(rx, true, 0), 0);
	ck_assert_int_eq(feed_next(rx, (const uint8_t *)"IKE", 3, &b, &len), 0);
	ck_assert(tcpframe_rx_eof(rx));
	/* nothing at all */
	ck_assert(!tcpframe_rx_eof(rx));
	ck_assert_uint_eq(rx->stats.truncated, 1);
	free(rx);
}
END_TEST

START_TEST(error_is_sticky_until_reset)
{
	static const uint8_t bad[] = { 0, 1 }, good[] = { 0, 7, 1, 2, 3, 4, 5 };
	struct tcpframe_rx *rx = rx_new();
	const uint8_t *b;
	size_t len;

	ck_assert_int_eq(rx_init(rx, false, 0), 0);
	ck_assert_int_eq(feed_next(rx, bad, sizeof(bad), &b, &len), -1);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(tcpframe_rx_feed(rx, good, sizeof(good)), -1);
		ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), -1);
		ck_assert_int_eq(tcpframe_rx_error(rx), TCPFRAME_ELEN);
	}
	tcpframe_rx_reset(rx);
	ck_assert_int_eq(feed_next(rx, good, sizeof(good), &b, &len), 1);
	/* eof on a failed rx reports nothing pending, and resets it too */
	ck_assert_int_eq(feed_next(rx, bad, sizeof(bad), &b, &len), -1);
	ck_assert(!tcpframe_rx_eof(rx));
	ck_assert_int_eq(feed_next(rx, good, sizeof(good), &b, &len), 1);
	free(rx);
}
END_TEST

START_TEST(feed_refused_until_drained)
{
	static const uint8_t s[] = { 0, 7, 1, 2, 3, 4, 5, 0, 7, 6, 7, 8, 9, 10 };
	struct tcpframe_rx *rx = rx_new();
	const uint8_t *b;
	size_t len;

	ck_assert_int_eq(rx_init(rx, false, 0), 0);
	ck_assert_int_eq(feed_next(rx, s, sizeof(s), &b, &len), 1);
	/* zero-copy: a frame whole within the input is handed out in place */
	ck_assert_ptr_eq(b, s + 2);
	ck_assert_int_eq(tcpframe_rx_feed(rx, s, sizeof(s)), -1);
	ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), 1);
	ck_assert_ptr_eq(b, s + 9);
	ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), 0);
	ck_assert_int_eq(tcpframe_rx_feed(rx, s, 3), 0);
	ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), 0);
	ck_assert_int_eq(tcpframe_rx_feed(rx, s + 3, sizeof(s) - 3), 0);
	ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), 1);
	ck_assert_uint_eq(b[0], 1);	/* gathered: a copy in rx */
	ck_assert_ptr_eq(b, rx->fixed + 2);
	free(rx);
}
END_TEST

/* ---- heap mode: blocks sized to partial frames --------------------------- */

/* The same bodies, verdicts and stats as fixed mode for every split; a
 * block only while a frame is partial (heap_check, run). */
START_TEST(heap_mode_same_as_fixed)
{
	enum { ROUNDS = 600, MAX_CUTS = 8192 };
	struct tcpframe_rx *rx = rx_new();
	size_t *cuts = malloc(MAX_CUTS * sizeof(*cuts));

	ck_assert_ptr_nonnull(cuts);
	seed_rng("heap_mode_same_as_fixed");
	for (int prefix = 0; prefix <= 1; prefix++) {
		struct stream st;
		struct rec ref, got;

		use_heap = false;
		stream_build(&st, prefix, true);
		whole(rx, &st, prefix, &ref);
		heap_on(SIZE_MAX);
		for (size_t cut = 0; cut <= st.len; cut++) {
			run(rx, prefix, 0, st.s, st.len, &cut, 1, &ref, &got);
			if (!rec_same(&ref, &got))
				ck_abort_msg("heap mode: split at %zu (prefix %d) differs", cut, prefix);
		}
		for (int round = 0; round < ROUNDS / 2; round++) {
			size_t n = random_cuts(cuts, MAX_CUTS, st.len);

			run(rx, prefix, 0, st.s, st.len, cuts, n, &ref, &got);
			if (!rec_same(&ref, &got))
				ck_abort_msg("heap mode: random split round %d (prefix %d) differs",
					     round, prefix);
		}
		ck_assert_uint_gt(heap.gets, 0);
		ck_assert_uint_le(heap.peak, TCPFRAME_MAX_LEN);
		rec_free(&ref);
		stream_free(&st);
	}
	free(cuts);
	free(rx);
}
END_TEST

/* Whole frames take no memory; a frame spanning feeds takes a block of its
 * Length from when the Length is in until the frame is out; an idle
 * stream, one between frames and one that ended hold nothing. */
START_TEST(heap_mode_holds_only_a_partial_frame)
{
	static uint8_t s[2 + 65533];
	struct tcpframe_rx *rx = rx_new();
	const uint8_t *b;
	size_t len;

	heap_on(SIZE_MAX);
	ck_assert_int_eq(rx_init(rx, false, 0), 0);
	ck_assert_uint_eq(tcpframe_rx_held(rx), 0);
	/* whole frames, one feed each or several in one: no block */
	put_be16(s, 7);
	memcpy(s + 2, "\1\2\3\4\5", 5);
	put_be16(s + 7, 7);
	memcpy(s + 9, "\6\7\10\11\12", 5);
	ck_assert_int_eq(feed_next(rx, s, 14, &b, &len), 1);
	ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), 1);
	ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), 0);
	ck_assert_uint_eq(heap.gets, 0);
	/* half a Length: still nothing */
	ck_assert_int_eq(feed_next(rx, s, 1, &b, &len), 0);
	ck_assert_uint_eq(heap.held, 0);
	/* the Length is in: a block of the frame's size */
	ck_assert_int_eq(feed_next(rx, s + 1, 3, &b, &len), 0);
	ck_assert_uint_eq(heap.held, 7);
	ck_assert_uint_eq(tcpframe_rx_held(rx), 7);
	/* the rest: handed out from the block, which goes on the next call */
	ck_assert_int_eq(feed_next(rx, s + 4, 3, &b, &len), 1);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(b, "\1\2\3\4\5", 5) == 0);
	ck_assert_uint_eq(heap.held, 7);
	ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), 0);
	ck_assert_uint_eq(heap.held, 0);
	ck_assert_uint_eq(tcpframe_rx_held(rx), 0);
	ck_assert_uint_eq(heap.gets, 1);
	ck_assert_uint_eq(heap.puts, 1);
	/* a largest frame, dribbled: 65535 bytes held while it is partial,
	 * not before its Length is in */
	put_be16(s, 0xffff);
	memset(s + 2, 0x42, sizeof(s) - 2);
	ck_assert_int_eq(feed_next(rx, s, 1, &b, &len), 0);
	ck_assert_uint_eq(heap.held, 0);
	for (size_t at = 1; at < 1001; at += 100)
		ck_assert_int_eq(feed_next(rx, s + at, 100, &b, &len), 0);
	ck_assert_uint_eq(heap.held, 0xffff);
	/* the stream ends: the block goes back */
	ck_assert(tcpframe_rx_eof(rx));
	ck_assert_uint_eq(heap.held, 0);
	ck_assert_uint_eq(tcpframe_rx_held(rx), 0);
	/* the same again, whole, after a partial one: the block goes once the
	 * frame is out, a keepalive (dropped, not handed out) included */
	ck_assert_int_eq(feed_next(rx, s, 1000, &b, &len), 0);
	ck_assert_int_eq(feed_next(rx, s + 1000, sizeof(s) - 1000, &b, &len), 1);
	ck_assert_uint_eq(len, sizeof(s) - 2);
	ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), 0);
	ck_assert_uint_eq(heap.held, 0);
	ck_assert_int_eq(feed_next(rx, (const uint8_t *)"\0\3", 2, &b, &len), 0);
	ck_assert_uint_eq(heap.held, 3);
	ck_assert_int_eq(feed_next(rx, (const uint8_t *)"\377", 1, &b, &len), 0);
	ck_assert_uint_eq(heap.held, 0);
	ck_assert_uint_eq(rx->stats.keepalives, 1);
	ck_assert_uint_eq(heap.gets, heap.puts);
	/* reset gives back the block too */
	ck_assert_int_eq(feed_next(rx, s, 10, &b, &len), 0);
	ck_assert_uint_eq(heap.held, 0xffff);
	tcpframe_rx_reset(rx);
	ck_assert_uint_eq(heap.held, 0);
	free(rx);
}
END_TEST

/* A block refused: the stream fails (sticky) with TCPFRAME_ENOMEM, holding
 * nothing; frames that arrive whole never ask. */
START_TEST(heap_mode_refused)
{
	static const uint8_t big[] = { 0x10, 0x00, 1, 2, 3 }, small[] = { 0, 7, 1, 2, 3, 4, 5 };
	struct tcpframe_rx *rx = rx_new();
	const uint8_t *b;
	size_t len;

	heap_on(0x800);
	ck_assert_int_eq(rx_init(rx, false, 0), 0);
	ck_assert_int_eq(feed_next(rx, small, sizeof(small), &b, &len), 1);
	ck_assert_int_eq(feed_next(rx, small, 3, &b, &len), 0);	/* 7 bytes: fits */
	ck_assert_uint_eq(heap.held, 7);
	ck_assert_int_eq(feed_next(rx, small + 3, 4, &b, &len), 1);
	ck_assert_int_eq(tcpframe_rx_next(rx, &b, &len), 0);
	ck_assert_int_eq(feed_next(rx, big, sizeof(big), &b, &len), -1);
	ck_assert_int_eq(tcpframe_rx_error(rx), TCPFRAME_ENOMEM);
	ck_assert_uint_eq(heap.refused, 1);
	ck_assert_uint_eq(heap.held, 0);
	ck_assert_int_eq(tcpframe_rx_feed(rx, small, sizeof(small)), -1);
	ck_assert(!tcpframe_rx_eof(rx));
	ck_assert_uint_eq(heap.gets, heap.puts);
	/* heap mode needs both calls; fixed mode a buffer */
	{
		const struct tcpframe_rx_mem half = { .get = heap_get };

		ck_assert_int_eq(tcpframe_rx_init_heap(rx, false, 0, &half), -1);
		ck_assert_int_eq(tcpframe_rx_init_heap(rx, false, 0, NULL), -1);
		ck_assert_int_eq(tcpframe_rx_init(rx, false, 0, NULL), -1);
	}
	free(rx);
}
END_TEST

/* ---- encoder ------------------------------------------------------------ */

START_TEST(prefix_bytes)
{
	static const uint8_t want[] = { 0x49, 0x4b, 0x45, 0x54, 0x43, 0x50 };
	uint8_t out[8];
	struct wr w;

	wr_init(&w, out, sizeof(out));
	ck_assert_int_eq(tcpframe_put_prefix(&w), 0);
	ck_assert_uint_eq(wr_len(&w), 6);
	ck_assert(memcmp(out, want, sizeof(want)) == 0);
}
END_TEST

START_TEST(encoder_refuses)
{
	static uint8_t body[TCPFRAME_MAX_LEN], out[2 * TCPFRAME_MAX_LEN];
	struct wr w;

	wr_init(&w, out, sizeof(out));
	for (size_t len = 0; len < TCPFRAME_MIN_BODY; len++)
		ck_assert_int_eq(tcpframe_put(&w, body, len, 0), -1);
	ck_assert_int_eq(tcpframe_put(&w, body, TCPFRAME_MAX_LEN - 1, 0), -1);
	ck_assert_int_eq(tcpframe_put(&w, body, 99, 100), -1);
	ck_assert_uint_eq(wr_len(&w), 0);	/* nothing written */
	ck_assert(wr_ok(&w));
	ck_assert_int_eq(tcpframe_put(&w, body, 98, 100), 0);
	ck_assert_uint_eq(get_be16(out), 100);
	ck_assert_int_eq(tcpframe_put(&w, body, TCPFRAME_MAX_LEN - 2, 0), 0);
	ck_assert_uint_eq(get_be16(out + 100), 0xffff);
	/* a max over the cap is the cap */
	wr_init(&w, out, sizeof(out));
	ck_assert_int_eq(tcpframe_put(&w, body, TCPFRAME_MAX_LEN - 1, 1 << 20), -1);
	/* no room */
	wr_init(&w, out, 10);
	ck_assert_int_eq(tcpframe_put(&w, body, 9, 0), -1);
}
END_TEST

/* Random bodies into one stream, then random splits back out. */
START_TEST(round_trip)
{
	enum { N = 40 };
	size_t cap = N * (TCPFRAME_MAX_LEN + 2) + 64, lens[N], cuts[64];
	uint8_t *out = malloc(cap), *bodies[N];
	struct tcpframe_rx *rx = rx_new();

	ck_assert_ptr_nonnull(out);
	seed_rng("round_trip");
	for (int round = 0; round < 20; round++) {
		size_t max = rng() % 2 ? 0 : rng_range(TCPFRAME_MIN_MAX_LEN, 4000);
		size_t eff = max ? max : TCPFRAME_MAX_LEN;
		size_t hi = eff / 4 > TCPFRAME_MIN_BODY + 2 ? eff / 4 - 2 : eff - 2;
		struct rec ref = { 0 }, got;
		size_t n;
		struct wr w;

		wr_init(&w, out, cap);
		ck_assert_int_eq(tcpframe_put_prefix(&w), 0);
		for (int i = 0; i < N; i++) {
			lens[i] = rng() % 4 ? rng_range(TCPFRAME_MIN_BODY, hi) : eff - TCPFRAME_HDR_LEN;
			bodies[i] = malloc(lens[i]);
			ck_assert_ptr_nonnull(bodies[i]);
			rng_fill(bodies[i], lens[i]);
			ck_assert_int_eq(tcpframe_put(&w, bodies[i], lens[i], max), 0);
			ref.body[i] = bodies[i];
			ref.len[i] = lens[i];
		}
		ref.n = N;
		ref.stats.frames = N;
		ref.stats.bytes = wr_len(&w);
		n = random_cuts(cuts, 64, wr_len(&w));
		run(rx, true, max, out, wr_len(&w), cuts, n, &ref, &got);
		ck_assert(rec_same(&ref, &got));
		rec_free(&ref);
	}
	free(out);
	free(rx);
}
END_TEST

START_TEST(batch_equals_singles)
{
	enum { N = 32 };
	static uint8_t a[N * 1600], b[N * 1600];
	struct iovec iov[N];
	uint8_t *bodies[N];
	size_t framed, rest, done;
	struct wr wa, wb;

	seed_rng("batch_equals_singles");
	for (int i = 0; i < N; i++) {
		iov[i].iov_len = rng_range(TCPFRAME_MIN_BODY, 1500);
		bodies[i] = malloc(iov[i].iov_len);
		ck_assert_ptr_nonnull(bodies[i]);
		rng_fill(bodies[i], iov[i].iov_len);
		iov[i].iov_base = bodies[i];
	}
	wr_init(&wa, a, sizeof(a));
	wr_init(&wb, b, sizeof(b));
	ck_assert_int_eq(tcpframe_put_batch(&wa, iov, N, 1502, &framed), 0);
	ck_assert_uint_eq(framed, N);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(tcpframe_put(&wb, bodies[i], iov[i].iov_len, 1502), 0);
	ck_assert_uint_eq(wr_len(&wa), wr_len(&wb));
	ck_assert(memcmp(a, b, wr_len(&wa)) == 0);

	/* a small buffer: stops before the frame that does not fit */
	wr_init(&wa, a, 3000);
	ck_assert_int_eq(tcpframe_put_batch(&wa, iov, N, 0, &framed), 0);
	ck_assert_uint_lt(framed, N);
	ck_assert(wr_ok(&wa));
	done = wr_len(&wa);
	ck_assert(memcmp(a, b, done) == 0);
	wr_init(&wa, a, sizeof(a));
	ck_assert_int_eq(tcpframe_put_batch(&wa, iov + framed, N - framed, 0, &rest), 0);
	ck_assert_uint_eq(framed + rest, N);
	ck_assert_uint_eq(done + wr_len(&wa), wr_len(&wb));
	ck_assert(memcmp(a, b + done, wr_len(&wa)) == 0);

	/* room for the next body but not its Length: stop, w still usable */
	wr_init(&wa, a, iov[0].iov_len + 2 + iov[1].iov_len + 1);
	ck_assert_int_eq(tcpframe_put_batch(&wa, iov, 2, 0, &framed), 0);
	ck_assert_uint_eq(framed, 1);
	ck_assert(wr_ok(&wa));
	/* an exact fit */
	wr_init(&wa, a, iov[0].iov_len + 2 + iov[1].iov_len + 2);
	ck_assert_int_eq(tcpframe_put_batch(&wa, iov, 2, 0, &framed), 0);
	ck_assert_uint_eq(framed, 2);
	ck_assert_uint_eq(wr_room(&wa), 0);

	/* an invalid body: -1, and *framed points at it */
	iov[5].iov_len = 0;
	wr_init(&wa, a, sizeof(a));
	ck_assert_int_eq(tcpframe_put_batch(&wa, iov, N, 0, &framed), -1);
	ck_assert_uint_eq(framed, 5);
	ck_assert(wr_ok(&wa));
	for (int i = 0; i < N; i++)
		free(bodies[i]);
}
END_TEST

START_TEST(begin_end_equals_put)
{
	static const uint8_t body[] = { 0xc0, 0xde, 0, 1, 9, 9, 9, 9 };
	uint8_t a[32], b[32];
	struct wr wa, wb;
	size_t mark;

	wr_init(&wa, a, sizeof(a));
	wr_init(&wb, b, sizeof(b));
	ck_assert_int_eq(tcpframe_begin(&wa, &mark), 0);
	ck_assert_int_eq(wr_bytes(&wa, body, sizeof(body)), 0);
	ck_assert_int_eq(tcpframe_end(&wa, mark, 0), 0);
	ck_assert_int_eq(tcpframe_put(&wb, body, sizeof(body), 0), 0);
	ck_assert_uint_eq(wr_len(&wa), wr_len(&wb));
	ck_assert(memcmp(a, b, wr_len(&wa)) == 0);
	/* too short, too long for max */
	ck_assert_int_eq(tcpframe_begin(&wa, &mark), 0);
	ck_assert_int_eq(wr_bytes(&wa, body, 4), 0);
	ck_assert_int_eq(tcpframe_end(&wa, mark, 0), -1);
	ck_assert_int_eq(tcpframe_begin(&wa, &mark), 0);
	ck_assert_int_eq(wr_bytes(&wa, body, 8), 0);
	ck_assert_int_eq(tcpframe_end(&wa, mark, 9), -1);
	ck_assert_int_eq(tcpframe_end(&wa, mark, 10), 0);
	ck_assert_int_eq(tcpframe_end(&wa, 1000, 0), -1);
}
END_TEST

START_TEST(err_strings)
{
	for (int e = TCPFRAME_OK; e <= TCPFRAME_ENOMEM; e++)
		ck_assert_ptr_nonnull(tcpframe_err_str((enum tcpframe_err)e));
}
END_TEST

static Suite *tcpframe_suite(void)
{
	Suite *s = suite_create("tcpframe");
	TCase *split = tcase_create("split");
	TCase *rules = tcase_create("rules");
	TCase *enc = tcase_create("encoder");

	tcase_set_timeout(split, 600);
	tcase_add_test(split, whole_feed_matches_construction);
	tcase_add_test(split, every_single_split);
	tcase_add_test(split, every_split_pair);
	tcase_add_test(split, byte_at_a_time);
	tcase_add_test(split, random_splits);
	tcase_add_test(split, heap_mode_same_as_fixed);
	tcase_add_test(split, heap_mode_holds_only_a_partial_frame);
	tcase_add_test(split, heap_mode_refused);
	tcase_add_test(rules, keepalive_dropped_silently);
	tcase_add_test(rules, bad_lengths_fail);
	tcase_add_test(rules, short_bodies);
	tcase_add_test(rules, max_len_honoured);
	tcase_add_test(rules, wrong_prefix_at_first_wrong_byte);
	tcase_add_test(rules, prefix_split_across_chunks);
	tcase_add_test(rules, partial_frame_at_eof);
	tcase_add_test(rules, error_is_sticky_until_reset);
	tcase_add_test(rules, feed_refused_until_drained);
	tcase_set_timeout(enc, 60);
	tcase_add_test(enc, prefix_bytes);
	tcase_add_test(enc, encoder_refuses);
	tcase_add_test(enc, round_trip);
	tcase_add_test(enc, batch_equals_singles);
	tcase_add_test(enc, begin_end_equals_put);
	tcase_add_test(enc, err_strings);
	suite_add_tcase(s, split);
	suite_add_tcase(s, rules);
	suite_add_tcase(s, enc);
	return s;
}

CHECK_MAIN(tcpframe_suite)
