/*
 * Anti-replay window (against a plain reference model) and the RFC 3948
 * classification of UDP 4500 payloads.
 */
#include <string.h>

#include "esp/esp.h"
#include "tests/unit/check_main.h"

START_TEST(fresh_window)
{
	struct esp_replay r;

	esp_replay_init(&r);
	ck_assert_int_eq(esp_replay_check(&r, 0), ESP_REPLAY_INVALID);
	ck_assert_int_eq(esp_replay_update(&r, 0), ESP_REPLAY_INVALID);
	ck_assert_int_eq(esp_replay_check(&r, 1), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_check(&r, 1), ESP_REPLAY_OK);	/* check alone changes nothing */
	ck_assert_int_eq(esp_replay_update(&r, 1), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_check(&r, 1), ESP_REPLAY_DUPLICATE);
	ck_assert_int_eq(esp_replay_update(&r, 1), ESP_REPLAY_DUPLICATE);
	ck_assert_uint_eq(r.top, 1);
	/* the first packet may arrive late: 3 then 2 */
	ck_assert_int_eq(esp_replay_update(&r, 3), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_update(&r, 2), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_update(&r, 2), ESP_REPLAY_DUPLICATE);
}
END_TEST

START_TEST(window_edges)
{
	struct esp_replay r;
	const uint32_t n = 100000 + _i;	/* every position of top within its word */

	esp_replay_init(&r);
	ck_assert_int_eq(esp_replay_update(&r, n), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_check(&r, n - (ESP_REPLAY_WINDOW - 1)), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_check(&r, n - ESP_REPLAY_WINDOW), ESP_REPLAY_TOO_OLD);
	ck_assert_int_eq(esp_replay_update(&r, n - ESP_REPLAY_WINDOW), ESP_REPLAY_TOO_OLD);
	ck_assert_int_eq(esp_replay_update(&r, n - (ESP_REPLAY_WINDOW - 1)), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_update(&r, n - (ESP_REPLAY_WINDOW - 1)), ESP_REPLAY_DUPLICATE);
	/* 1024 is within, demonstrably */
	ck_assert_int_eq(esp_replay_update(&r, n - 1023), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_update(&r, n - 1023), ESP_REPLAY_DUPLICATE);
	/* every number in between is still fresh, none falsely seen */
	for (uint32_t s = n - (ESP_REPLAY_WINDOW - 2); s < n; s++)
		if (s != n - 1023)
			ck_assert_int_eq(esp_replay_check(&r, s), ESP_REPLAY_OK);
	/* one step right: the old edge falls out */
	ck_assert_int_eq(esp_replay_update(&r, n + 1), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_check(&r, n - (ESP_REPLAY_WINDOW - 1)), ESP_REPLAY_TOO_OLD);
	ck_assert_int_eq(esp_replay_check(&r, n - (ESP_REPLAY_WINDOW - 2)), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_check(&r, n), ESP_REPLAY_DUPLICATE);
}
END_TEST

START_TEST(big_jumps_clear_bitmap)
{
	/* jumps of a word, one, a few words, exactly the ring, more, far more, less than a word */
	static const uint32_t jumps[] = { 64, 1, 3 * 64 + 5, ESP_REPLAY_BITS, ESP_REPLAY_BITS + 64,
					  1000000, 63 };
	struct esp_replay r;
	uint32_t top = ESP_REPLAY_BITS;

	esp_replay_init(&r);
	for (uint32_t s = 1; s <= ESP_REPLAY_BITS; s++)
		ck_assert_int_eq(esp_replay_update(&r, s), ESP_REPLAY_OK);
	for (size_t j = 0; j < sizeof(jumps) / sizeof(jumps[0]); j++) {
		uint32_t nt = top + jumps[j];

		ck_assert_int_eq(esp_replay_update(&r, nt), ESP_REPLAY_OK);
		/* numbers skipped over were never seen: fresh, or too old */
		for (uint32_t s = top + 1; s < nt; s++)
			ck_assert_int_eq(esp_replay_check(&r, s), nt - s < ESP_REPLAY_WINDOW ?
					 ESP_REPLAY_OK : ESP_REPLAY_TOO_OLD);
		/* the old top: a duplicate while inside */
		ck_assert_int_eq(esp_replay_check(&r, top), nt - top < ESP_REPLAY_WINDOW ?
				 ESP_REPLAY_DUPLICATE : ESP_REPLAY_TOO_OLD);
		ck_assert_int_eq(esp_replay_check(&r, nt), ESP_REPLAY_DUPLICATE);
		top = nt;
	}
	/* after the first jump (64), all of 1..4096 inside the window stayed seen */
	esp_replay_init(&r);
	for (uint32_t s = 1; s <= ESP_REPLAY_BITS; s++)
		ck_assert_int_eq(esp_replay_update(&r, s), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_update(&r, ESP_REPLAY_BITS + 64), ESP_REPLAY_OK);
	for (uint32_t s = ESP_REPLAY_BITS + 64 - (ESP_REPLAY_WINDOW - 1); s <= ESP_REPLAY_BITS; s++)
		ck_assert_int_eq(esp_replay_check(&r, s), ESP_REPLAY_DUPLICATE);
}
END_TEST

START_TEST(near_the_top)
{
	struct esp_replay r;

	esp_replay_init(&r);
	ck_assert_int_eq(esp_replay_update(&r, UINT32_MAX - 70), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_update(&r, UINT32_MAX), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_update(&r, UINT32_MAX), ESP_REPLAY_DUPLICATE);
	ck_assert_int_eq(esp_replay_update(&r, UINT32_MAX - 1), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_check(&r, UINT32_MAX - 70), ESP_REPLAY_DUPLICATE);
	ck_assert_int_eq(esp_replay_check(&r, UINT32_MAX - 69), ESP_REPLAY_OK);
	ck_assert_int_eq(esp_replay_check(&r, 1), ESP_REPLAY_TOO_OLD);
	ck_assert_int_eq(esp_replay_check(&r, 0), ESP_REPLAY_INVALID);
}
END_TEST

/* A plain model: every number ever accepted, and the highest. */
#define MODEL_MAX (UINT32_C(1) << 24)
static uint64_t seen[MODEL_MAX / 64];

static bool seen_get(uint32_t s) { return seen[s / 64] >> (s % 64) & 1; }
static void seen_set(uint32_t s) { seen[s / 64] |= UINT64_C(1) << (s % 64); }

static enum esp_replay_res model(uint32_t top, uint32_t s)
{
	if (s == 0)
		return ESP_REPLAY_INVALID;
	if (s > top)
		return ESP_REPLAY_OK;
	if (top - s >= ESP_REPLAY_WINDOW)
		return ESP_REPLAY_TOO_OLD;
	return seen_get(s) ? ESP_REPLAY_DUPLICATE : ESP_REPLAY_OK;
}

/* Mostly just ahead of the top, often behind it (around the edge too), now and then a jump. */
static uint32_t next_seq(uint32_t top, uint32_t *x)
{
	uint32_t kind, d;

	*x = *x * 1103515245u + 12345u;
	kind = (*x >> 24) & 63;
	d = *x >> 8;
	if (kind == 0)
		return top + 1 + (d & 0x3fff);
	if (kind <= 20)
		d &= 0x1fff;
	else if (kind <= 30)
		d &= 0xff;
	else
		return top + (d & 3);
	return d > top ? 0 : top - d;
}

START_TEST(matches_model)
{
	struct esp_replay r;
	uint32_t top = 0, x = 12345 + (uint32_t)_i;
	unsigned ops = 0;

	memset(seen, 0, sizeof(seen));
	esp_replay_init(&r);
	for (;;) {
		enum esp_replay_res want, got;
		uint32_t s = next_seq(top, &x);

		if (s >= MODEL_MAX)
			break;
		want = model(top, s);
		ck_assert_int_eq(esp_replay_check(&r, s), want);
		got = esp_replay_update(&r, s);
		ck_assert_int_eq(got, want);
		if (got == ESP_REPLAY_OK) {
			seen_set(s);
			if (s > top)
				top = s;
		}
		ck_assert_uint_eq(r.top, top);
		ops++;
	}
	ck_assert_uint_gt(ops, 100000);
}
END_TEST

/* ---- RFC 3948 classification ---- */

START_TEST(classify)
{
	static const uint8_t keepalive[] = { 0xff };
	static const uint8_t ike[] = { 0, 0, 0, 0, 0x11, 0x22, 0x33 };
	static const uint8_t esp[] = { 0, 0, 0, 1, 0, 0, 0, 1 };
	static const uint8_t ff2[] = { 0xff, 0xff, 0xff, 0xff, 0 };
	static const uint8_t zeros[] = { 0, 0, 0, 0 };
	const uint8_t *body;
	size_t n;

	ck_assert_int_eq(esp_udp_classify(keepalive, 1, &body, &n), ESP_UDP_KEEPALIVE);
	ck_assert_ptr_null(body);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(esp_udp_classify(ike, sizeof(ike), &body, &n), ESP_UDP_IKE);
	ck_assert_ptr_eq(body, ike + 4);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(esp_udp_classify(esp, sizeof(esp), &body, &n), ESP_UDP_ESP);
	ck_assert_ptr_eq(body, esp);
	ck_assert_uint_eq(n, sizeof(esp));
	ck_assert_int_eq(esp_udp_classify(ff2, sizeof(ff2), &body, &n), ESP_UDP_ESP);
	/* only a marker, nothing after it */
	ck_assert_int_eq(esp_udp_classify(zeros, 4, &body, &n), ESP_UDP_INVALID);
	ck_assert_ptr_null(body);
	/* shorter than 4 bytes and not a keepalive */
	for (size_t len = 0; len < 4; len++) {
		uint8_t *p = malloc(len ? len : 1);

		ck_assert_ptr_nonnull(p);
		memset(p, len == 1 ? 0xfe : 0xff, len);
		ck_assert_int_eq(esp_udp_classify(p, len, &body, &n), ESP_UDP_INVALID);
		ck_assert_uint_eq(n, 0);
		free(p);
	}
}
END_TEST

START_TEST(write_ike_marker)
{
	static const uint8_t msg[] = { 0xaa, 0xbb, 0xcc };
	uint8_t out[7];
	const uint8_t *body;
	struct wr w;
	size_t n;

	wr_init(&w, out, sizeof(out));
	ck_assert_int_eq(esp_udp_write_ike(&w, msg, sizeof(msg)), 0);
	ck_assert_uint_eq(wr_len(&w), 7);
	ck_assert_int_eq(esp_udp_classify(out, 7, &body, &n), ESP_UDP_IKE);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(body, msg, 3);
	/* no room: nothing written */
	wr_init(&w, out, 6);
	ck_assert_int_eq(esp_udp_write_ike(&w, msg, sizeof(msg)), -1);
	ck_assert_uint_eq(wr_len(&w), 0);
	wr_init(&w, out, 3);
	ck_assert_int_eq(esp_udp_write_ike(&w, msg, sizeof(msg)), -1);
	wr_init(&w, out, sizeof(out));
	ck_assert_int_eq(esp_udp_write_ike(&w, msg, 0), -1);
}
END_TEST

static Suite *replay_suite(void)
{
	Suite *s = suite_create("esp_replay");
	TCase *tc = tcase_create("window");
	TCase *e = tcase_create("encap");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fresh_window);
	tcase_add_loop_test(tc, window_edges, 0, 64);
	tcase_add_test(tc, big_jumps_clear_bitmap);
	tcase_add_test(tc, near_the_top);
	tcase_add_loop_test(tc, matches_model, 0, 4);
	suite_add_tcase(s, tc);
	tcase_add_test(e, classify);
	tcase_add_test(e, write_ike_marker);
	suite_add_tcase(s, e);
	return s;
}

CHECK_MAIN(replay_suite)
