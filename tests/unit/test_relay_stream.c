/*
 * ikerelay's stream input and memory budget (relay/stream_in.c, included
 * directly like map.c): a client's deframer holds no memory while its
 * frames arrive whole, a block sized to a frame that spans reads while it
 * does, counted in the budget the queues towards clients share, and a
 * stream whose partial frame does not fit is refused (TCPFRAME_ENOMEM).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/stream_in.c"
#include "tests/unit/check_main.h"

#define TOTAL (256 * 1024)

struct seen {
	unsigned n;
	size_t last;
	int close_at;		/* body number whose handler closes; 0: none */
};

static int on_body(void *ctx, const uint8_t *b, size_t n)
{
	struct seen *s = ctx;

	s->n++;
	s->last = n;
	return s->close_at && (int)s->n == s->close_at ? -1 : 0;
}

/* "IKETCP" then an ESP-looking frame whose Length is flen; in s. */
static size_t stream(uint8_t *s, size_t flen, bool prefix)
{
	size_t at = 0;

	if (prefix) {
		memcpy(s, TCPFRAME_PREFIX, TCPFRAME_PREFIX_LEN);
		at = TCPFRAME_PREFIX_LEN;
	}
	put_be16(s + at, (uint16_t)flen);
	memset(s + at + 2, 0x11, flen - 2);
	return at + flen;
}

static struct tcpframe_rx *rx_open(struct relay_budget *b)
{
	struct tcpframe_rx *rx = malloc(sizeof(*rx));

	ck_assert_ptr_nonnull(rx);
	ck_assert_int_eq(relay_stream_init(rx, b), 0);
	return rx;
}

START_TEST(whole_frames_hold_nothing)
{
	static uint8_t s[TCPFRAME_PREFIX_LEN + TCPFRAME_MAX_LEN];
	struct relay_budget b = { .total = TOTAL };
	struct tcpframe_rx *rx = rx_open(&b);
	struct seen seen = { 0 };
	size_t n = stream(s, TCPFRAME_MAX_LEN, true);

	/* The struct itself is small: no 64 KB array in it. */
	ck_assert_uint_lt(sizeof(*rx), 1024);
	/* Idle (accepted, nothing read): nothing held. */
	ck_assert_uint_eq(b.partial, 0);
	ck_assert_uint_eq(tcpframe_rx_held(rx), 0);
	/* A largest frame in one read: handed out in place, nothing held. */
	ck_assert_int_eq(relay_stream_input(rx, s, n, on_body, &seen), 0);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_uint_eq(seen.last, TCPFRAME_MAX_LEN - 2);
	ck_assert_uint_eq(b.partial, 0);
	ck_assert_uint_eq(b.peak, 0);
	ck_assert(!tcpframe_rx_eof(rx));
	free(rx);
}
END_TEST

START_TEST(partial_frame_counted_then_freed)
{
	static uint8_t s[TCPFRAME_PREFIX_LEN + 1500];
	struct relay_budget b = { .total = TOTAL, .queued = 1000 };
	struct tcpframe_rx *rx = rx_open(&b);
	struct seen seen = { 0 };
	size_t n = stream(s, 1500, true);

	/* prefix and one byte of the Length: nothing yet */
	ck_assert_int_eq(relay_stream_input(rx, s, TCPFRAME_PREFIX_LEN + 1, on_body, &seen), 0);
	ck_assert_uint_eq(b.partial, 0);
	/* the Length and part of the body: a block of 1500, counted */
	ck_assert_int_eq(relay_stream_input(rx, s + TCPFRAME_PREFIX_LEN + 1, 700, on_body, &seen), 0);
	ck_assert_uint_eq(seen.n, 0);
	ck_assert_uint_eq(b.partial, 1500);
	ck_assert_uint_eq(b.peak, 2500);	/* queues and partial frames together */
	/* the rest: delivered, the block is back before input returns */
	ck_assert_int_eq(relay_stream_input(rx, s + TCPFRAME_PREFIX_LEN + 701,
					    n - TCPFRAME_PREFIX_LEN - 701, on_body, &seen), 0);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_uint_eq(seen.last, 1498);
	ck_assert_uint_eq(b.partial, 0);
	ck_assert_uint_eq(b.queued, 1000);
	/* a partial frame cut by the stream's end: given back */
	ck_assert_int_eq(relay_stream_input(rx, s + TCPFRAME_PREFIX_LEN, 10, on_body, &seen), 0);
	ck_assert_uint_eq(b.partial, 1500);
	ck_assert(tcpframe_rx_eof(rx));
	ck_assert_uint_eq(b.partial, 0);
	ck_assert_uint_eq(b.partial_refused, 0);
	free(rx);
}
END_TEST

/* The handler closes the stream on a frame gathered in a block: the block
 * goes back with the stream's end (rl_conn_close: tcpframe_rx_eof). */
START_TEST(closed_by_handler_gives_back)
{
	static uint8_t s[TCPFRAME_PREFIX_LEN + 600];
	struct relay_budget b = { .total = TOTAL };
	struct tcpframe_rx *rx = rx_open(&b);
	struct seen seen = { .close_at = 1 };
	size_t n = stream(s, 600, true);

	ck_assert_int_eq(relay_stream_input(rx, s, 100, on_body, &seen), 0);
	ck_assert_uint_eq(b.partial, 600);
	ck_assert_int_eq(relay_stream_input(rx, s + 100, n - 100, on_body, &seen),
			 RELAY_STREAM_CLOSED);
	(void)tcpframe_rx_eof(rx);
	ck_assert_uint_eq(b.partial, 0);
	free(rx);
}
END_TEST

/* Queues and partial frames share the budget: a partial frame that does
 * not fit next to the queues is refused and counted, the stream must go;
 * others' blocks and frames arriving whole are untouched. */
START_TEST(over_budget_refused)
{
	static uint8_t s[TCPFRAME_PREFIX_LEN + TCPFRAME_MAX_LEN];
	struct relay_budget b = { .total = TOTAL };
	struct tcpframe_rx *rx[5];
	struct seen seen = { 0 };
	size_t n = stream(s, TCPFRAME_MAX_LEN, true);

	b.queued = TOTAL - 3 * TCPFRAME_MAX_LEN;
	for (int i = 0; i < 5; i++) {
		int r;

		rx[i] = rx_open(&b);
		r = relay_stream_input(rx[i], s, 1000, on_body, &seen);
		if (i < 3) {
			ck_assert_int_eq(r, 0);
			continue;
		}
		ck_assert_int_eq(r, RELAY_STREAM_BAD);
		ck_assert_int_eq(tcpframe_rx_error(rx[i]), TCPFRAME_ENOMEM);
		ck_assert_uint_eq(tcpframe_rx_held(rx[i]), 0);
	}
	ck_assert_uint_eq(b.partial, 3 * TCPFRAME_MAX_LEN);
	ck_assert_uint_eq(b.partial_refused, 2);
	ck_assert_uint_eq(b.peak, TOTAL);
	/* the queues have no room either (but IKE's reserve) */
	ck_assert(!relay_budget_ok(&b, 0, 1, false));
	ck_assert(relay_budget_ok(&b, 0, TOTAL / 8, true));
	ck_assert(!relay_budget_ok(&b, 0, TOTAL / 8 + 1, true));
	/* a whole frame still goes through a new stream */
	{
		struct tcpframe_rx *w = rx_open(&b);

		ck_assert_int_eq(relay_stream_input(w, s, n, on_body, &seen), 0);
		ck_assert_uint_eq(seen.n, 1);
		(void)tcpframe_rx_eof(w);
		free(w);
	}
	for (int i = 0; i < 5; i++) {
		(void)tcpframe_rx_eof(rx[i]);
		free(rx[i]);
	}
	ck_assert_uint_eq(b.partial, 0);
	/* room again: a partial frame fits */
	rx[0] = rx_open(&b);
	ck_assert_int_eq(relay_stream_input(rx[0], s, 1000, on_body, &seen), 0);
	ck_assert_uint_eq(b.partial, TCPFRAME_MAX_LEN);
	(void)tcpframe_rx_eof(rx[0]);
	free(rx[0]);
}
END_TEST

static Suite *relay_stream_suite(void)
{
	Suite *s = suite_create("relay_stream");
	TCase *tc = tcase_create("budget");

	tcase_add_test(tc, whole_frames_hold_nothing);
	tcase_add_test(tc, partial_frame_counted_then_freed);
	tcase_add_test(tc, closed_by_handler_gives_back);
	tcase_add_test(tc, over_budget_refused);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(relay_stream_suite)
