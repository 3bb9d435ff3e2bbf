/*
 * ikerelay's SPI -> session table: keys taken from IKE and ESP bodies
 * (bounded: every body is a heap block of exactly its size, so ASan sees any
 * overread), lookup, first-owner-wins, the per-session key ring, placing a
 * stream (live: never taken over; probation; new; evict only sessions
 * never established; full), what proves a probationary stream, and idle
 * expiry. The relay's
 * sources are not in the library: the table is included directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/map.c"
#include "tests/unit/check_main.h"

/* ---- helpers ------------------------------------------------------------- */

static uint8_t *ike_body(size_t len, uint64_t spi_i, uint64_t spi_r)
{
	uint8_t *b = calloc(1, len ? len : 1);

	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < 8; i++) {
		if (4 + i < len)
			b[4 + i] = (uint8_t)(spi_i >> (56 - 8 * i));
		if (12 + i < len)
			b[12 + i] = (uint8_t)(spi_r >> (56 - 8 * i));
	}
	return b;
}

static uint8_t *esp_body(size_t len, uint32_t spi)
{
	uint8_t *b = calloc(1, len ? len : 1);

	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < 4 && i < len; i++)
		b[i] = (uint8_t)(spi >> (24 - 8 * i));
	return b;
}

static struct relay_key ike(uint64_t spi) { return (struct relay_key){ spi, RELAY_KEY_IKE }; }
static struct relay_key esp(uint64_t spi) { return (struct relay_key){ spi, RELAY_KEY_ESP_TO_GW }; }

static struct relay_sess *sess_with(struct relay_map *m, uint64_t now, struct relay_key k)
{
	struct relay_sess *s = relay_map_new_sess(m, now);

	ck_assert_ptr_nonnull(s);
	relay_map_learn(m, s, &k, 1);
	return s;
}

/* The fixture files: "name = hex" lines; returns the value's bytes. */
static size_t fixture_hex(const char *file, const char *name, uint8_t *out, size_t cap)
{
	char path[256], line[1024], key[64], hex[900];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "tests/fixtures/%s", file);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s = %899s", key, hex) == 2 && !strcmp(key, name))
			for (n = 0; n < cap && sscanf(hex + 2 * n, "%2hhx", &out[n]) == 1; n++)
				;
	fclose(f);
	return n;
}

static uint8_t *fixture_body(const char *file, bool marker, size_t *len)
{
	char path[256];
	uint8_t *b = malloc(70000);
	size_t off = marker ? RELAY_NON_ESP_MARKER : 0, n;
	FILE *f;

	ck_assert_ptr_nonnull(b);
	snprintf(path, sizeof(path), "tests/fixtures/%s", file);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", path);
	memset(b, 0, off);
	n = fread(b + off, 1, 70000 - off, f);
	fclose(f);
	*len = off + n;
	return b;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- keys in bodies -------------------------------------------------------- */

START_TEST(ike_keys_from_header)
{
	struct relay_key k[RELAY_BODY_KEYS];
	uint8_t *b = ike_body(32, 0x1122334455667788ULL, 0);

	ck_assert_uint_eq(relay_body_keys(b, 32, RELAY_TO_GW, k), 1);
	ck_assert_int_eq(k[0].kind, RELAY_KEY_IKE);
	ck_assert(k[0].spi == 0x1122334455667788ULL);
	free(b);

	b = ike_body(200, 0x1122334455667788ULL, 0x99aabbccddeeff00ULL);
	ck_assert_uint_eq(relay_body_keys(b, 200, RELAY_FROM_GW, k), 2);
	ck_assert(k[0].spi == 0x1122334455667788ULL && k[1].spi == 0x99aabbccddeeff00ULL);
	ck_assert(k[0].kind == RELAY_KEY_IKE && k[1].kind == RELAY_KEY_IKE);
	free(b);

	/* A zero initiator SPI is no key (RFC 7296: never zero). */
	b = ike_body(32, 0, 0x42);
	ck_assert_uint_eq(relay_body_keys(b, 32, RELAY_TO_GW, k), 1);
	ck_assert(k[0].spi == 0x42);
	free(b);
	b = ike_body(32, 0, 0);
	ck_assert_uint_eq(relay_body_keys(b, 32, RELAY_TO_GW, k), 0);
	free(b);
}
END_TEST

START_TEST(short_bodies_give_no_key)
{
	struct relay_key k[RELAY_BODY_KEYS];

	/* IKE: the marker plus a whole 28-byte header, or nothing. */
	for (size_t len = 0; len < RELAY_NON_ESP_MARKER + RELAY_IKE_HDR_LEN; len++) {
		uint8_t *b = ike_body(len, 0x0102030405060708ULL, 0x1112131415161718ULL);

		ck_assert_msg(relay_body_keys(b, len, RELAY_TO_GW, k) == 0, "ike len %zu", len);
		free(b);
	}
	/* ESP: SPI and sequence number, or nothing. */
	for (size_t len = 0; len < RELAY_ESP_MIN; len++) {
		uint8_t *b = esp_body(len, 0xc0ffee01);

		ck_assert_msg(relay_body_keys(b, len, RELAY_TO_GW, k) == 0, "esp len %zu", len);
		free(b);
	}
	ck_assert_uint_eq(relay_body_keys(NULL, 0, RELAY_TO_GW, k), 0);
}
END_TEST

START_TEST(esp_keys_by_direction)
{
	struct relay_key k[RELAY_BODY_KEYS];
	uint8_t *b = esp_body(RELAY_ESP_MIN, 0xc0ffee01);

	ck_assert_uint_eq(relay_body_keys(b, RELAY_ESP_MIN, RELAY_TO_GW, k), 1);
	ck_assert(k[0].spi == 0xc0ffee01 && k[0].kind == RELAY_KEY_ESP_TO_GW);
	ck_assert_uint_eq(relay_body_keys(b, RELAY_ESP_MIN, RELAY_FROM_GW, k), 1);
	ck_assert(k[0].spi == 0xc0ffee01 && k[0].kind == RELAY_KEY_ESP_FROM_GW);
	free(b);
}
END_TEST

START_TEST(keys_of_real_strongswan_messages)
{
	uint8_t spi_i[8], spi_r[8], esp_spi[4];
	struct relay_key k[RELAY_BODY_KEYS];
	uint8_t *b;
	size_t len;

	ck_assert_uint_eq(fixture_hex("psk_gcm_keys.txt", "spi_i", spi_i, 8), 8);
	ck_assert_uint_eq(fixture_hex("psk_gcm_keys.txt", "spi_r", spi_r, 8), 8);
	ck_assert_uint_eq(fixture_hex("psk_gcm_keys.txt", "esp_spi_i2r", esp_spi, 4), 4);

	b = fixture_body("psk_gcm_1_ike_sa_init_req.bin", true, &len);
	ck_assert_uint_eq(relay_body_keys(b, len, RELAY_TO_GW, k), 1);
	ck_assert(k[0].kind == RELAY_KEY_IKE && k[0].spi == be64(spi_i));
	free(b);

	b = fixture_body("psk_gcm_1_ike_sa_init_resp.bin", true, &len);
	ck_assert_uint_eq(relay_body_keys(b, len, RELAY_FROM_GW, k), 2);
	ck_assert(k[0].spi == be64(spi_i) && k[1].spi == be64(spi_r));
	free(b);

	b = fixture_body("psk_gcm_esp_i2r.bin", false, &len);
	ck_assert_uint_eq(relay_body_keys(b, len, RELAY_TO_GW, k), 1);
	ck_assert(k[0].kind == RELAY_KEY_ESP_TO_GW && k[0].spi == get_be32(esp_spi));
	free(b);
}
END_TEST

START_TEST(key_strings)
{
	char buf[RELAY_KEYSTRLEN];
	struct relay_key k = ike(0x1a2b3c4d5e6f7081ULL);

	ck_assert_str_eq(relay_key_str(&k, buf, sizeof(buf)), "ike spi 1a2b3c4d5e6f7081");
	k = esp(0xc0a1);
	ck_assert_str_eq(relay_key_str(&k, buf, sizeof(buf)), "esp spi 0000c0a1");
	k = (struct relay_key){ 0 };
	ck_assert_str_eq(relay_key_str(&k, buf, sizeof(buf)), "no spi");
}
END_TEST

/* ---- the table -------------------------------------------------------------- */

START_TEST(init_bounds)
{
	struct relay_map m;

	ck_assert_int_eq(relay_map_init(&m, 0, 1), -1);
	ck_assert_int_eq(relay_map_init(&m, 1, 1), 0);
	ck_assert_uint_ge(m.nbuckets, RELAY_SESS_KEYS);
	relay_map_fini(&m);
}
END_TEST

START_TEST(learn_lookup_free)
{
	struct relay_map m;
	struct relay_sess *a, *b;
	struct relay_key ka[2] = { ike(0xaaaa), esp(0x1000) }, kb = ike(0xbbbb);

	ck_assert_int_eq(relay_map_init(&m, 4, 0x5eed), 0);
	a = relay_map_new_sess(&m, 100);
	b = relay_map_new_sess(&m, 100);
	ck_assert(a && b && a != b && a->id != b->id);
	relay_map_learn(&m, a, ka, 2);
	relay_map_learn(&m, a, ka, 2);	/* again: nothing changes */
	relay_map_learn(&m, b, &kb, 1);
	ck_assert_ptr_eq(relay_map_lookup(&m, &ka[0]), a);
	ck_assert_ptr_eq(relay_map_lookup(&m, &ka[1]), a);
	ck_assert_ptr_eq(relay_map_lookup(&m, &kb), b);
	ck_assert_uint_eq(m.conflicts, 0);

	/* Same number, other kind: another key. */
	struct relay_key other = { 0xaaaa, RELAY_KEY_ESP_TO_GW };
	ck_assert_ptr_null(relay_map_lookup(&m, &other));

	relay_map_free_sess(&m, a);
	ck_assert_ptr_null(relay_map_lookup(&m, &ka[0]));
	ck_assert_ptr_null(relay_map_lookup(&m, &ka[1]));
	ck_assert_ptr_eq(relay_map_lookup(&m, &kb), b);
	ck_assert_uint_eq(m.count, 1);
	relay_map_fini(&m);
}
END_TEST

START_TEST(first_owner_keeps_a_key)
{
	struct relay_map m;
	struct relay_sess *a, *b;
	struct relay_key k = ike(0x77);

	ck_assert_int_eq(relay_map_init(&m, 4, 3), 0);
	a = sess_with(&m, 0, k);
	b = relay_map_new_sess(&m, 0);
	relay_map_learn(&m, b, &k, 1);	/* b sends a's SPI later: no takeover */
	ck_assert_ptr_eq(relay_map_lookup(&m, &k), a);
	ck_assert_uint_eq(m.conflicts, 1);
	relay_map_free_sess(&m, a);
	relay_map_learn(&m, b, &k, 1);	/* free again: b may have it */
	ck_assert_ptr_eq(relay_map_lookup(&m, &k), b);
	relay_map_fini(&m);
}
END_TEST

START_TEST(least_recently_seen_key_goes)
{
	struct relay_map m;
	struct relay_sess *s;
	struct relay_key live = ike(0x1111);

	ck_assert_int_eq(relay_map_init(&m, 2, 9), 0);
	s = sess_with(&m, 0, live);
	/* Many Child SA rekeys: new ESP SPIs, while the IKE SA goes on. */
	for (uint64_t i = 1; i <= 3 * RELAY_SESS_KEYS; i++) {
		struct relay_key k = esp(i);

		relay_map_learn(&m, s, &k, 1);
		if (i % 4 == 0)
			relay_map_learn(&m, s, &live, 1);
	}
	ck_assert_ptr_eq(relay_map_lookup(&m, &live), s);
	for (uint64_t i = 1; i <= 3 * RELAY_SESS_KEYS; i++) {
		struct relay_key k = esp(i);
		bool recent = i > 3 * RELAY_SESS_KEYS - (RELAY_SESS_KEYS - 1);

		ck_assert_msg((relay_map_lookup(&m, &k) == s) == recent, "esp key %lu", (unsigned long)i);
	}
	relay_map_fini(&m);
}
END_TEST

START_TEST(many_keys_one_chain)
{
	/* Many sessions with full key sets, seed 0: all found, and freeing
	 * a session unlinks only its own entries from shared chains. */
	enum { N = 64 };
	struct relay_map m;
	struct relay_sess *s[N];

	ck_assert_int_eq(relay_map_init(&m, N, 0), 0);
	for (int i = 0; i < N; i++) {
		s[i] = relay_map_new_sess(&m, 0);
		for (uint64_t j = 0; j < RELAY_SESS_KEYS; j++) {
			struct relay_key k = ike((uint64_t)i << 32 | j);

			relay_map_learn(&m, s[i], &k, 1);
		}
	}
	for (int i = 0; i < N; i += 2)
		relay_map_free_sess(&m, s[i]);
	for (int i = 0; i < N; i++)
		for (uint64_t j = 0; j < RELAY_SESS_KEYS; j++) {
			struct relay_key k = ike((uint64_t)i << 32 | j);

			ck_assert_ptr_eq(relay_map_lookup(&m, &k), i % 2 ? s[i] : NULL);
		}
	relay_map_fini(&m);
}
END_TEST

START_TEST(place_probe_or_new)
{
	struct relay_map m;
	struct relay_place pl;
	struct relay_sess *a;
	struct relay_key ka = ike(0xa1), kesp = esp(0xe1), unknown[2] = { ike(0x5), esp(0x6) };
	struct relay_key from_gw = { 0xe2, RELAY_KEY_ESP_FROM_GW };

	ck_assert_int_eq(relay_map_init(&m, 2, 4), 0);
	a = sess_with(&m, 0, ka);
	relay_map_learn(&m, a, &kesp, 1);
	relay_map_learn(&m, a, &from_gw, 1);

	/* Stream gone: the reconnect's IKE or ESP SPI finds the session, on
	 * probation (a SPI is no proof). */
	relay_map_detach(a, 10);
	relay_map_place(&m, &ka, 1, &pl);
	ck_assert(pl.kind == RELAY_PLACE_PROBE && pl.sess == a && pl.key.spi == 0xa1);
	relay_map_place(&m, &kesp, 1, &pl);
	ck_assert(pl.kind == RELAY_PLACE_PROBE && pl.sess == a);

	/* A SPI the client receives is never looked up. */
	relay_map_place(&m, &from_gw, 1, &pl);
	ck_assert_int_eq(pl.kind, RELAY_PLACE_NEW);
	relay_map_place(&m, unknown, 2, &pl);
	ck_assert_int_eq(pl.kind, RELAY_PLACE_NEW);
	relay_map_place(&m, NULL, 0, &pl);
	ck_assert_int_eq(pl.kind, RELAY_PLACE_NEW);

	/* The second matching key counts too. */
	struct relay_key mixed[2] = { ike(0x5), esp(0xe1) };
	relay_map_place(&m, mixed, 2, &pl);
	ck_assert(pl.kind == RELAY_PLACE_PROBE && pl.sess == a && pl.key.spi == 0xe1);
	relay_map_fini(&m);
}
END_TEST

/* issue 13: a second stream naming a live session's SPIs took it over
 * (the old code said ATTACH and closed the victim's stream). */
START_TEST(live_stream_never_replaced)
{
	struct relay_map m;
	struct relay_place pl;
	struct relay_sess *a;
	struct relay_key ka = ike(0xa1), kesp = esp(0xe1), both[2] = { ike(0x77), ike(0xa1) };

	ck_assert_int_eq(relay_map_init(&m, 2, 4), 0);
	a = sess_with(&m, 0, ka);
	relay_map_learn(&m, a, &kesp, 1);
	relay_map_attach(a, 20);
	ck_assert(a->attached && a->last_ms == 20);

	relay_map_place(&m, &ka, 1, &pl);
	ck_assert_int_eq(pl.kind, RELAY_PLACE_LIVE);
	ck_assert_ptr_eq(pl.sess, a);
	relay_map_place(&m, &kesp, 1, &pl);
	ck_assert_int_eq(pl.kind, RELAY_PLACE_LIVE);
	relay_map_place(&m, both, 2, &pl);
	ck_assert_int_eq(pl.kind, RELAY_PLACE_LIVE);
	/* Placing changes nothing: still attached, same keys. */
	ck_assert(a->attached);
	ck_assert_ptr_eq(relay_map_lookup(&m, &ka), a);

	/* Nor does a stream with a session of its own get a's frames
	 * through: they name a session that is not its own. */
	struct relay_sess *b = sess_with(&m, 30, ike(0xb1));
	struct relay_key mixed[2] = { ike(0xb1), ike(0xa1) };
	size_t which = 9;
	ck_assert_ptr_eq(relay_map_foreign(&m, b, mixed, 2, &which), a);
	ck_assert_uint_eq(which, 1);
	ck_assert_ptr_null(relay_map_foreign(&m, b, mixed, 1, &which));
	ck_assert_ptr_null(relay_map_foreign(&m, a, &ka, 1, &which));
	struct relay_key rx = { 0xe1, RELAY_KEY_ESP_FROM_GW };
	ck_assert_ptr_null(relay_map_foreign(&m, b, &rx, 1, &which));
	relay_map_fini(&m);
}
END_TEST

static struct relay_ike req(uint64_t spi_i, uint64_t spi_r, uint8_t exch, uint32_t mid)
{
	return (struct relay_ike){ .spi_i = spi_i, .spi_r = spi_r, .exch = exch, .mid = mid };
}

START_TEST(ike_header_parsed)
{
	struct relay_ike h;
	uint8_t *b = ike_body(4 + RELAY_IKE_HDR_LEN, 0x1122334455667788ULL, 0x99);

	b[4 + 18] = RELAY_IKE_SA_INIT;
	b[4 + 19] = RELAY_IKE_F_RESPONSE;
	b[4 + 20] = 0;
	b[4 + 23] = 7;
	ck_assert_int_eq(relay_body_ike(b, 4 + RELAY_IKE_HDR_LEN, &h), 0);
	ck_assert(h.spi_i == 0x1122334455667788ULL && h.spi_r == 0x99);
	ck_assert(h.exch == RELAY_IKE_SA_INIT && h.mid == 7 && !relay_ike_is_request(&h));
	for (size_t len = 0; len < 4 + RELAY_IKE_HDR_LEN; len++) {
		uint8_t *s = ike_body(len, 1, 2);

		ck_assert_msg(relay_body_ike(s, len, &h) < 0, "len %zu", len);
		free(s);
	}
	free(b);
	b = esp_body(64, 0xc0ffee01);
	ck_assert_int_eq(relay_body_ike(b, 64, &h), -1);
	free(b);
}
END_TEST

/* Only what the gateway would answer nobody but the client counts. */
START_TEST(proof_rules)
{
	struct relay_map m;
	struct relay_sess *a;
	struct relay_key k[2] = { ike(0xa1), ike(0xb2) };
	struct relay_ike init = req(0xa1, 0, RELAY_IKE_SA_INIT, 0);
	struct relay_ike h;

	ck_assert_int_eq(relay_map_init(&m, 2, 4), 0);
	a = relay_map_new_sess(&m, 0);
	relay_map_learn(&m, a, k, 1);
	relay_map_note_request(a, &init);
	/* Half-open: the IKE_SA_INIT again is proof (nothing to protect). */
	ck_assert(relay_map_is_proof(a, &init));

	/* Responses are never proof. */
	h = init;
	h.flags = RELAY_IKE_F_RESPONSE;
	ck_assert(!relay_map_is_proof(a, &h));

	/* The gateway answered in the clear only: still half-open. */
	h = req(0xa1, 0xb2, RELAY_IKE_SA_INIT, 0);
	h.flags = RELAY_IKE_F_RESPONSE;
	relay_map_gw_spoke(a, &h);
	ck_assert(!a->established);
	relay_map_learn(&m, a, k, 2);

	/* IKE_AUTH (1), then an INFORMATIONAL (2) went through the client's
	 * stream: their replays would be answered from the gateway's cache. */
	h = req(0xa1, 0xb2, 35, 1);
	relay_map_note_request(a, &h);
	h = req(0xa1, 0xb2, 37, 2);
	relay_map_note_request(a, &h);
	h.flags = RELAY_IKE_F_RESPONSE;
	relay_map_gw_spoke(a, &h);
	ck_assert(a->established);
	ck_assert(!relay_map_is_proof(a, &init));
	h = req(0xa1, 0xb2, 37, 2);
	ck_assert(!relay_map_is_proof(a, &h));
	h = req(0xa1, 0xb2, 35, 1);
	ck_assert(!relay_map_is_proof(a, &h));
	/* A new message ID: only the SA's keys get it answered. */
	h = req(0xa1, 0xb2, 37, 3);
	ck_assert(relay_map_is_proof(a, &h));
	/* Found by the responder SPI alone too. */
	h = req(0x1234, 0xb2, 37, 2);
	ck_assert(!relay_map_is_proof(a, &h));
	/* A request ID lower than one seen is no proof either. */
	h = req(0xa1, 0xb2, 37, 0);
	ck_assert(!relay_map_is_proof(a, &h));

	/* ESP from the gateway: established. */
	struct relay_sess *b = relay_map_new_sess(&m, 0);
	relay_map_gw_spoke(b, NULL);
	ck_assert(b->established);
	relay_map_fini(&m);
}
END_TEST

START_TEST(table_full)
{
	struct relay_map m;
	struct relay_place pl;
	struct relay_sess *s1, *s2, *s3;
	struct relay_key k = ike(0x99);

	ck_assert_int_eq(relay_map_init(&m, 3, 5), 0);
	s1 = sess_with(&m, 100, ike(1));
	s2 = sess_with(&m, 100, ike(2));
	s3 = sess_with(&m, 100, ike(3));
	relay_map_attach(s1, 100);
	relay_map_attach(s2, 100);
	relay_map_attach(s3, 100);
	ck_assert_ptr_null(relay_map_new_sess(&m, 100));

	/* Every session has a stream: refuse. */
	relay_map_place(&m, &k, 1, &pl);
	ck_assert_int_eq(pl.kind, RELAY_PLACE_FULL);
	/* A known SPI is no way in past a live stream. */
	struct relay_key k2 = ike(2);
	relay_map_place(&m, &k2, 1, &pl);
	ck_assert(pl.kind == RELAY_PLACE_LIVE && pl.sess == s2);

	/* Detached, never established ones go, the one idle longest first. */
	relay_map_detach(s3, 300);
	relay_map_detach(s1, 200);
	relay_map_place(&m, &k, 1, &pl);
	ck_assert(pl.kind == RELAY_PLACE_EVICT && pl.victim == s1);
	relay_map_free_sess(&m, pl.victim);
	s1 = relay_map_new_sess(&m, 400);
	ck_assert_ptr_nonnull(s1);
	ck_assert_uint_eq(s1->id, 4);	/* ids are not reused */
	relay_map_place(&m, &k, 1, &pl);
	ck_assert(pl.kind == RELAY_PLACE_EVICT && pl.victim == s3);
	relay_map_fini(&m);
}
END_TEST

/* issue 13: first frames with random SPIs evicted the sessions of clients
 * that were reconnecting (detached, established). */
START_TEST(unknown_spis_do_not_evict_established)
{
	struct relay_map m;
	struct relay_place pl;
	struct relay_sess *s1, *s2;
	struct relay_ike auth = req(1, 11, 35, 1);

	ck_assert_int_eq(relay_map_init(&m, 2, 5), 0);
	s1 = sess_with(&m, 100, ike(1));
	s2 = sess_with(&m, 100, ike(2));
	auth.flags = RELAY_IKE_F_RESPONSE;
	relay_map_gw_spoke(s1, &auth);
	relay_map_gw_spoke(s2, NULL);
	relay_map_detach(s1, 100);
	relay_map_detach(s2, 200);
	for (uint64_t spi = 0x1000; spi < 0x1100; spi++) {
		struct relay_key k = ike(spi);

		relay_map_place(&m, &k, 1, &pl);
		ck_assert_int_eq(pl.kind, RELAY_PLACE_FULL);
		ck_assert_ptr_null(pl.victim);
	}
	/* The reconnecting clients still find their sessions. */
	struct relay_key k1 = ike(1);
	relay_map_place(&m, &k1, 1, &pl);
	ck_assert(pl.kind == RELAY_PLACE_PROBE && pl.sess == s1);
	relay_map_fini(&m);
}
END_TEST

START_TEST(idle_expiry)
{
	struct relay_map m;
	struct relay_sess *a, *b, *c, *e;
	size_t it = 0;

	ck_assert_int_eq(relay_map_init(&m, 4, 6), 0);
	ck_assert(relay_map_next_due(&m, 1000) == UINT64_MAX);
	a = relay_map_new_sess(&m, 0);
	b = relay_map_new_sess(&m, 500);
	c = relay_map_new_sess(&m, 0);
	relay_map_touch(c, 900);	/* traffic keeps it */
	ck_assert_uint_eq(relay_map_next_due(&m, 1000), 1000);

	ck_assert_ptr_null(relay_map_next_expired(&m, 999, 1000, &it));
	it = 0;
	e = relay_map_next_expired(&m, 1000, 1000, &it);
	ck_assert_ptr_eq(e, a);
	relay_map_free_sess(&m, e);	/* freeing while iterating is allowed */
	ck_assert_ptr_null(relay_map_next_expired(&m, 1000, 1000, &it));
	ck_assert_uint_eq(relay_map_next_due(&m, 1000), 1500);

	/* A stream closing restarts the clock: kept a whole idle time. */
	relay_map_detach(b, 1400);
	ck_assert_uint_eq(relay_map_next_due(&m, 1000), 1900);
	it = 0;
	ck_assert_ptr_eq(relay_map_next_expired(&m, 2000, 1000, &it), c);
	ck_assert_ptr_null(relay_map_next_expired(&m, 2000, 1000, &it));
	relay_map_free_sess(&m, c);
	ck_assert_uint_eq(relay_map_next_due(&m, 1000), 2400);
	it = 0;
	ck_assert_ptr_null(relay_map_next_expired(&m, 2399, 1000, &it));
	it = 0;
	ck_assert_ptr_eq(relay_map_next_expired(&m, 2400, 1000, &it), b);
	relay_map_fini(&m);
}
END_TEST

static Suite *relay_map_suite(void)
{
	Suite *s = suite_create("relay_map");
	TCase *tk = tcase_create("keys"), *tt = tcase_create("table");

	tcase_add_test(tk, ike_keys_from_header);
	tcase_add_test(tk, short_bodies_give_no_key);
	tcase_add_test(tk, esp_keys_by_direction);
	tcase_add_test(tk, keys_of_real_strongswan_messages);
	tcase_add_test(tk, key_strings);
	tcase_add_test(tt, init_bounds);
	tcase_add_test(tt, learn_lookup_free);
	tcase_add_test(tt, first_owner_keeps_a_key);
	tcase_add_test(tt, least_recently_seen_key_goes);
	tcase_add_test(tt, many_keys_one_chain);
	tcase_add_test(tt, place_probe_or_new);
	tcase_add_test(tt, live_stream_never_replaced);
	tcase_add_test(tt, ike_header_parsed);
	tcase_add_test(tt, proof_rules);
	tcase_add_test(tt, table_full);
	tcase_add_test(tt, unknown_spis_do_not_evict_established);
	tcase_add_test(tt, idle_expiry);
	suite_add_tcase(s, tk);
	suite_add_tcase(s, tt);
	return s;
}

CHECK_MAIN(relay_map_suite)
