/*
 * The IKE initiator (ike/sa*.c) against a scripted gateway in one process:
 * IKE_SA_INIT and IKE_AUTH with a PSK, the gateway's error notifies, COOKIE
 * and INVALID_KE_PAYLOAD retries, retransmission, message IDs, DELETE, and
 * mangled input in every state. Rekeying is in test_ike_sa_rekey.c.
 */
#include <stdio.h>
#include <string.h>

#include "tests/unit/check_main.h"
#include "tests/unit/ike_responder.c"

#define IKE_P	"aes256gcm16-prfsha256-x25519"
#define ESP_P	"aes256gcm16"

static struct harness H;
static struct gw G;

static void setup(void)
{
	h_init(&H, IKE_P, ESP_P);
	gw_init(&G);
}

static void teardown(void)
{
	h_free(&H);
	gw_free(&G);
}

static void ts_eq(const struct ike_pl_ts *a, const struct ike_pl_ts *b)
{
	ck_assert_uint_eq(a->n, b->n);
	ck_assert_uint_eq(a->ts[0].type, b->ts[0].type);
	ck_assert_uint_eq(a->ts[0].start_port, b->ts[0].start_port);
	ck_assert_uint_eq(a->ts[0].end_port, b->ts[0].end_port);
	ck_assert_mem_eq(a->ts[0].start, b->ts[0].start, 4);
	ck_assert_mem_eq(a->ts[0].end, b->ts[0].end, 4);
}

static void expect_dead(enum ike_sa_fail why, const char *text)
{
	ck_assert_str_eq(ike_sa_state_name(ike_sa_state(H.sa)), "dead");
	ck_assert_uint_eq(ike_sa_failure(H.sa), why);
	ck_assert_msg(strstr(ike_sa_failure_text(H.sa), text), "failure text '%s' lacks '%s'",
		      ike_sa_failure_text(H.sa), text);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), 0);
	ck_assert_uint_eq(H.states[H.n_states - 1], IKE_SA_DEAD);
}

/* 1. The whole PSK handshake. */
START_TEST(test_happy_psk)
{
	const struct h_child *c = &H.up[0];
	struct ike_pl_notify n;
	uint64_t si, sr;
	uint8_t ip[4];

	h_new(&H);
	h_establish(&H, &G);
	ck_assert(G.peer_auth_ok);
	ck_assert_uint_eq(ike_sa_failure(H.sa), IKE_FAIL_NONE);
	ck_assert_uint_eq(H.n_states, 3);
	ck_assert_uint_eq(H.states[0], IKE_SA_INIT_SENT);
	ck_assert_uint_eq(H.states[1], IKE_SA_AUTH_SENT);
	ck_assert_uint_eq(H.states[2], IKE_SA_ESTABLISHED);
	/* Port 4500 once, between the IKE_SA_INIT and the IKE_AUTH requests. */
	ck_assert_uint_eq(H.n_float, 1);
	ck_assert_uint_eq(H.float_at_nq, 1);
	ck_assert_uint_eq(H.nq, 2);
	ike_sa_spis(H.sa, &si, &sr);
	ck_assert_uint_eq(si, be64(G.ike.spi_i));
	ck_assert_uint_eq(sr, be64(G.ike.spi_r));

	/* The IKE_AUTH request as the gateway got it. */
	gw_open(&G, &G.ike, H.q[1].buf, H.q[1].len);
	ck_assert(gw_has(&G, PL_IDr) && gw_has(&G, PL_CP) && gw_has(&G, PL_TSi));
	ck_assert(gw_has_notify(&G, N_INITIAL_CONTACT, &n));

	ck_assert_uint_eq(H.n_up, 1);
	ck_assert(!c->ci.rekey);
	ck_assert_uint_eq(c->ci.spi_in, G.esp_out);
	ck_assert_uint_eq(c->ci.spi_out, G.esp_in);
	ck_assert_uint_eq(c->ci.encr, ENCR_AES_GCM_16);
	ck_assert_uint_eq(c->ci.key_len, 36);
	h_check_keys(c, &G.ck, true);
	ck_assert(c->ci.has_vip4);
	inet_pton(AF_INET, "10.9.0.7", ip);
	ck_assert_mem_eq(c->ci.vip4, ip, 4);
	ck_assert_uint_eq(c->ci.n_dns4, 2);
	inet_pton(AF_INET, "10.9.0.2", ip);
	ck_assert_mem_eq(c->ci.dns4[1], ip, 4);
	ts_eq(&c->ci.ts_local, &G.ts_client);
	ts_eq(&c->ci.ts_remote, &G.ts_net);
	ck_assert_uint_eq(H.n_down, 0);
}
END_TEST

/* 2. Wrong PSK: the gateway refuses ours, or its AUTH does not verify with ours. */
START_TEST(test_auth_failed_by_gateway)
{
	G.psk = "not the same key";
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	ck_assert(!G.peer_auth_ok);
	gw_deliver(&G, &H);
	/* §2.21.2: N(AUTHENTICATION_FAILED) alone, before the gateway's AUTH: not its word. */
	expect_dead(IKE_FAIL_AUTH_UNVERIFIED, "AUTHENTICATION_FAILED");
	ck_assert_uint_eq(H.n_up, 0);
}
END_TEST

START_TEST(test_auth_gateway_psk_differs)
{
	G.my_psk = "not the same key";
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	ck_assert(G.peer_auth_ok);
	gw_deliver(&G, &H);
	expect_dead(IKE_FAIL_AUTH, "PSK");
	ck_assert_uint_eq(H.n_up, 0);
}
END_TEST

START_TEST(test_auth_wrong_gateway_id)
{
	ck_assert_int_eq(ike_id_parse("other.example", &H.cfg.remote_id), 0);
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	expect_dead(IKE_FAIL_AUTH, "identity");
}
END_TEST

/* 3. Error notifies from the gateway. */

/* Wait out the budget of IKE_SA_INIT (500 ms x 4 tries): 7.5 s, three retransmissions. */
static void run_out_init_budget(void)
{
	uint64_t t0 = H.now;
	unsigned nq = H.nq;

	for (unsigned i = 0; i < 4 && ike_sa_state(H.sa) == IKE_SA_INIT_SENT; i++) {
		ck_assert_uint_ne(ike_sa_next_deadline(H.sa), 0);
		H.now = ike_sa_next_deadline(H.sa);
		ike_sa_tick(H.sa, H.now);
	}
	ck_assert_uint_eq(H.now - t0, 7500);
	ck_assert_uint_eq(H.nq, nq + 3);
}

/*
 * N(NO_PROPOSAL_CHOSEN) in the clear (RFC 7296 §2.21.1, §2.4): a 36-byte
 * spoof from anyone on the path. Noted, the request stays outstanding and
 * is retransmitted; only when the budget ends does the SA fail, with the
 * notify as the likely cause and IKE_FAIL_UNVERIFIED (the agent retries).
 */
START_TEST(test_no_proposal_chosen)
{
	G.init_error = N_NO_PROPOSAL_CHOSEN;
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	ck_assert_uint_eq(G.out_len, 36);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_INIT_SENT);
	ck_assert_uint_eq(ike_sa_answers(H.sa), 0);	/* the race does not take it as an answer */
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + 500);
	run_out_init_budget();
	expect_dead(IKE_FAIL_UNVERIFIED, "NO_PROPOSAL_CHOSEN");
	ck_assert_msg(strstr(ike_sa_failure_text(H.sa), "no authenticated answer to IKE_SA_INIT"),
		      "%s", ike_sa_failure_text(H.sa));
	ck_assert_uint_eq(H.n_float, 0);
}
END_TEST

/* A forged N(NO_PROPOSAL_CHOSEN) first, then the gateway's real answer: established. */
START_TEST(test_forged_error_then_real)
{
	struct h_msg real;

	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	memcpy(real.buf, G.out, G.out_len);
	real.len = G.out_len;
	G.init_error = N_NO_PROPOSAL_CHOSEN;
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_INIT_SENT);
	H.now += 500;
	ike_sa_tick(H.sa, H.now);		/* still retransmitting */
	ck_assert_uint_eq(H.nq, 2);
	G.init_error = 0;
	h_input(&H, real.buf, real.len);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_AUTH_SENT);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(ike_sa_failure(H.sa), IKE_FAIL_NONE);
}
END_TEST

/* An unusable IKE_SA_INIT answer (a KE of a group we did not send) is waited out too. */
START_TEST(test_bad_init_answer_then_real)
{
	struct h_msg real;
	struct h_msg bad;

	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	memcpy(real.buf, G.out, G.out_len);
	real.len = G.out_len;
	/* The same answer with the proposal number changed: one we did not offer. */
	memcpy(bad.buf, real.buf, real.len);
	bad.len = real.len;
	ck_assert_uint_eq(bad.buf[28 + 4 + 4], 1);	/* SA payload first, proposal #1 */
	bad.buf[28 + 4 + 4] = 9;
	h_input(&H, bad.buf, bad.len);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_INIT_SENT);
	h_input(&H, real.buf, real.len);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_AUTH_SENT);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
}
END_TEST

START_TEST(test_ts_unacceptable)
{
	G.auth_error = N_TS_UNACCEPTABLE;
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	expect_dead(IKE_FAIL_PEER_ERROR, "TS_UNACCEPTABLE");
	ck_assert_uint_eq(H.n_up, 0);
}
END_TEST

/* 4. COOKIE: the retry starts with N(COOKIE), keeps SPIi, and the exchange completes. */
START_TEST(test_cookie)
{
	struct h_msg first;
	struct ike_pl_notify n;

	G.cookie = true;
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	first = *h_last(&H);
	gw_sa_init(&G, first.buf, first.len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.nq, 2);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_INIT_SENT);
	gw_open(&G, NULL, h_last(&H)->buf, h_last(&H)->len);
	ck_assert_uint_eq(G.m.pl[0].type, PL_NOTIFY);
	ck_assert_int_eq(ike_pl_notify_decode(&G.m.pl[0], &n), 0);
	ck_assert_uint_eq(n.type, N_COOKIE);
	ck_assert_uint_eq(n.len, 16);
	ck_assert_mem_eq(n.data, "cookie-from-gw!", 16);
	ck_assert_mem_eq(h_last(&H)->buf, first.buf, 8);	/* SPIi */
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_AUTH_SENT);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	ck_assert(G.peer_auth_ok);	/* RealMessage1 is the request with the cookie */
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(G.n_init_req, 2);
}
END_TEST

/* 4. INVALID_KE_PAYLOAD(ECP-256) after we offered x25519 and ecp256. */
START_TEST(test_invalid_ke_retry)
{
	struct ike_pl_any ke;

	h_init(&H, IKE_P "-ecp256", ESP_P);
	G.want_group = DH_ECP_256;
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_open(&G, NULL, h_last(&H)->buf, h_last(&H)->len);
	gw_get(&G, PL_KE, &ke);
	ck_assert_uint_eq(ke.u.ke.group, DH_CURVE25519);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.nq, 2);
	gw_open(&G, NULL, h_last(&H)->buf, h_last(&H)->len);
	gw_get(&G, PL_KE, &ke);
	ck_assert_uint_eq(ke.u.ke.group, DH_ECP_256);
	ck_assert_uint_eq(ke.u.ke.len, 64);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(G.group, DH_ECP_256);
	h_check_keys(&H.up[0], &G.ck, true);
}
END_TEST

/*
 * INVALID_KE_PAYLOAD for a group we did not offer (MODP-2048): never taken
 * (no downgrade to a group we do not accept), no new request; the real
 * answer with the group we sent still completes the exchange.
 */
START_TEST(test_invalid_ke_not_offered)
{
	struct h_msg real;

	h_init(&H, IKE_P "-ecp256", ESP_P);
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	memcpy(real.buf, G.out, G.out_len);
	real.len = G.out_len;
	G.want_group = DH_MODP_2048;
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_INIT_SENT);
	ck_assert_uint_eq(H.nq, 1);
	G.want_group = 0;
	h_input(&H, real.buf, real.len);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_AUTH_SENT);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(G.group, DH_CURVE25519);
}
END_TEST

/* Only that forged INVALID_KE_PAYLOAD: failure at the budget's end, with it as the reason. */
START_TEST(test_invalid_ke_not_offered_only)
{
	h_init(&H, IKE_P "-ecp256", ESP_P);
	G.want_group = DH_MODP_2048;
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_INIT_SENT);
	run_out_init_budget();
	expect_dead(IKE_FAIL_UNVERIFIED, "INVALID_KE_PAYLOAD");
	ck_assert_msg(strstr(ike_sa_failure_text(H.sa), "MODP"), "%s", ike_sa_failure_text(H.sa));
}
END_TEST

/*
 * A Delete of the IKE SA while our IKE_AUTH is outstanding: the gateway
 * has not authenticated yet, so it is ignored (and not answered).
 */
START_TEST(test_delete_in_auth_sent_ignored)
{
	struct gw_out o;

	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_AUTH_SENT);
	gw_begin(&o);
	gw_delete(&o.b, PROTO_IKE, 0);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_AUTH_SENT);
	ck_assert_uint_eq(H.nq, 2);
	gw_auth(&G, H.q[1].buf, H.q[1].len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
}
END_TEST

/* 5. Retransmission with exponential back-off, then a timeout. */
START_TEST(test_retransmit_timeout)
{
	struct h_msg first;
	uint64_t t0 = H.now, t = t0 + 500;

	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, t0), 0);
	first = *h_last(&H);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), t);
	ike_sa_tick(H.sa, t - 1);
	ck_assert_uint_eq(H.nq, 1);
	for (unsigned i = 1; i < 4; i++) {
		ike_sa_tick(H.sa, t);
		ck_assert_uint_eq(H.nq, 1 + i);
		ck_assert_uint_eq(h_last(&H)->len, first.len);
		ck_assert_mem_eq(h_last(&H)->buf, first.buf, first.len);
		/* §2.1: the timeout doubles: 500, 1000, 2000, 4000 ms */
		ck_assert_uint_eq(ike_sa_next_deadline(H.sa), t + (500u << i));
		t += 500u << i;
	}
	ck_assert_uint_eq(t, t0 + 7500);
	ike_sa_tick(H.sa, t);
	ck_assert_uint_eq(H.nq, 4);
	expect_dead(IKE_FAIL_TIMEOUT, "no answer to IKE_SA_INIT");
	ck_assert_msg(strstr(ike_sa_failure_text(H.sa), "4 tries"), "%s", ike_sa_failure_text(H.sa));
}
END_TEST

START_TEST(test_retransmit_auth)
{
	struct h_msg auth;

	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	H.now += 100;
	gw_deliver(&G, &H);
	auth = *h_last(&H);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + 500);
	H.now += 500;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(H.nq, 3);
	ck_assert_mem_eq(h_last(&H)->buf, auth.buf, auth.len);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	/* The answered request is not retransmitted again. */
	ike_sa_tick(H.sa, H.now + 100000);
	ck_assert_uint_eq(H.nq, 3);
}
END_TEST

/* 6. Message IDs (§2.3) in both windows, and integrity. */
START_TEST(test_message_ids)
{
	struct gw_out o;
	struct h_msg resp, req, dpd;
	unsigned nq;
	uint32_t id;

	H.cfg.dpd_ms = 20000;
	h_new(&H);
	h_establish(&H, &G);

	/* The gateway's DPD is answered with an empty INFORMATIONAL. */
	gw_begin(&o);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.nq, 3);
	gw_expect_response(&G, &G.ike, &H, INFORMATIONAL, 0);
	ck_assert(!gw_has(&G, PL_DELETE) && !gw_has(&G, PL_NOTIFY));

	/*
	 * A retransmitted request: the same response, byte for byte (a second
	 * processing would encrypt anew, with another IV). A Delete of a Child
	 * SA we do not have, so that ours stays (without it we would ask for a
	 * new one, test_ike_sa_rekey.c).
	 */
	gw_begin(&o);
	gw_delete(&o.b, PROTO_ESP, G.esp_in ^ 0x5a5a5a5a);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	memcpy(req.buf, G.out, G.out_len);
	req.len = G.out_len;
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_down, 0);
	resp = *h_last(&H);
	h_input(&H, req.buf, req.len);
	ck_assert_uint_eq(H.nq, 5);
	ck_assert_uint_eq(h_last(&H)->len, resp.len);
	ck_assert_mem_eq(h_last(&H)->buf, resp.buf, resp.len);
	ck_assert_uint_eq(H.n_down, 0);

	/* An old ID (0) and one from the future (5): dropped, no answer. */
	G.ike.next_req = 0;
	gw_begin(&o);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	G.ike.next_req = 5;
	gw_begin(&o);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.nq, 5);
	G.ike.next_req = 2;

	/* Our DPD (ID 2): a response with ID 3, or with a bad ICV, leaves it outstanding. */
	H.now += 20000;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(H.nq, 6);
	dpd = *h_last(&H);
	id = gw_expect_request(&G, &G.ike, &H, INFORMATIONAL);
	ck_assert_uint_eq(id, 2);
	/* The windows are separate: the gateway's own request is answered meanwhile. */
	gw_begin(&o);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.nq, 7);
	gw_expect_response(&G, &G.ike, &H, INFORMATIONAL, 2);
	gw_begin(&o);
	gw_seal(&G, &G.ike, &o, INFORMATIONAL, true, 3);
	gw_deliver(&G, &H);
	gw_begin(&o);
	gw_seal(&G, &G.ike, &o, INFORMATIONAL, true, 2);
	G.out[G.out_len - 1] ^= 1;
	gw_deliver(&G, &H);
	G.out[G.out_len - 1] ^= 1;
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + 500);
	ike_sa_tick(H.sa, H.now + 500);
	ck_assert_uint_eq(H.nq, 8);
	ck_assert_mem_eq(h_last(&H)->buf, dpd.buf, dpd.len);
	H.now += 600;
	gw_deliver(&G, &H);	/* the right answer */
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + 20000);
	ike_sa_tick(H.sa, H.now + 1500);
	ck_assert_uint_eq(H.nq, 8);

	/* A gateway request with a bad ICV changes nothing; the genuine one does. */
	gw_begin(&o);
	gw_delete(&o.b, PROTO_IKE, 0);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	nq = H.nq;
	G.out[G.out_len - 3] ^= 0x40;
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.nq, nq);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	G.out[G.out_len - 3] ^= 0x40;
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.nq, nq + 1);
	expect_dead(IKE_FAIL_DELETED, "deleted");
}
END_TEST

/* 7. DELETE of the Child SA and of the IKE SA by the gateway, and our own DELETE. */
START_TEST(test_delete)
{
	struct gw_out o;
	struct ike_pl_any d;

	h_new(&H);
	h_establish(&H, &G);
	gw_begin(&o);
	gw_delete(&o.b, PROTO_ESP, G.esp_in);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_down, 1);
	ck_assert_uint_eq(H.down[0], H.up[0].ci.spi_in);
	gw_expect_response(&G, &G.ike, &H, INFORMATIONAL, 0);
	gw_get(&G, PL_DELETE, &d);
	ck_assert_uint_eq(d.u.del.proto, PROTO_ESP);
	ck_assert_uint_eq(d.u.del.n_spi, 1);
	ck_assert_uint_eq(d.u.del.spi[0], H.up[0].ci.spi_in);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);

	gw_begin(&o);
	gw_delete(&o.b, PROTO_IKE, 0);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	gw_expect_response(&G, &G.ike, &H, INFORMATIONAL, 1);
	expect_dead(IKE_FAIL_DELETED, "gateway deleted the IKE SA");
}
END_TEST

START_TEST(test_our_delete)
{
	struct gw_out o;
	struct ike_pl_any d;

	h_new(&H);
	h_establish(&H, &G);
	ck_assert_int_eq(ike_sa_delete(H.sa, H.now), 0);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_DELETING);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, INFORMATIONAL), 2);
	gw_get(&G, PL_DELETE, &d);
	ck_assert_uint_eq(d.u.del.proto, PROTO_IKE);
	gw_begin(&o);
	gw_answer(&G, &G.ike, &o);
	h_all_dropped(&H, G.out, G.out_len);
	gw_deliver(&G, &H);
	expect_dead(IKE_FAIL_LOCAL, "deleted");
}
END_TEST

/*
 * After the gateway deleted our only Child SA we do not try to rekey it:
 * we ask for a new one (no REKEY_SA) 3 s later (SA_CHILD_AGAIN_MS).
 */
START_TEST(test_deleted_child_not_rekeyed)
{
	struct gw_out o;
	struct ike_pl_notify rn;

	H.cfg.child_rekey_ms = 60000;
	h_new(&H);
	h_establish(&H, &G);
	gw_begin(&o);
	gw_delete(&o.b, PROTO_ESP, G.esp_in);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_down, 1);
	ck_assert_uint_eq(H.nq, 3);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + 3000);
	H.now += 3000;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(H.nq, 4);
	gw_expect_request(&G, &G.ike, &H, CREATE_CHILD_SA);
	ck_assert(!gw_has_notify(&G, N_REKEY_SA, &rn));
	ck_assert(gw_has(&G, PL_SA) && gw_has(&G, PL_TSi) && gw_has(&G, PL_TSr));
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
}
END_TEST

/* 12. Mangled copies of valid messages (see h_mangle), in every state. */
START_TEST(test_mangled_init_response)
{
	uint8_t bad[GW_MSG_MAX];

	for (size_t i = 0; i < 2 * 400; i++) {
		h_init(&H, IKE_P, ESP_P);
		gw_init(&G);
		h_new(&H);
		ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
		gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
		if (i >= 2 * G.out_len) {
			h_free(&H);
			gw_free(&G);
			break;
		}
		h_input(&H, bad, h_mangle(G.out, G.out_len, i, bad));
		/*
		 * Unauthenticated: it may be dropped, or accepted (a changed nonce,
		 * KE, SPI); never fatal (§2.21.1): what we cannot use is waited
		 * out, and the real answer then completes the exchange.
		 */
		switch (ike_sa_state(H.sa)) {
		case IKE_SA_INIT_SENT:
			gw_deliver(&G, &H);
			ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_AUTH_SENT);
			break;
		case IKE_SA_AUTH_SENT:
			ck_assert_uint_lt(i, G.out_len);
			break;
		default:
			ck_abort_msg("state %s after variant %zu", ike_sa_state_name(ike_sa_state(H.sa)), i);
		}
		ck_assert_uint_eq(H.n_up, 0);
		h_free(&H);
		gw_free(&G);
	}
}
END_TEST

/*
 * The regular liveness check after `dpd` of silence gives up in seconds
 * (0.5 + 1 + 2 + 4 s), not on the handshake's schedule (1 + 2 + 4 + 8 +
 * 16 s): a gateway that restarted without a DELETE is noticed within
 * dpd + 7.5 s, and the agent reconnects.
 */
START_TEST(test_dpd_gives_up_in_seconds)
{
	uint64_t sent;
	unsigned n0;

	H.cfg.dpd_ms = 5000;
	H.cfg.retransmit_ms = 1000;	/* the agent's handshake schedule: 31 s in all */
	H.cfg.retransmit_tries = 5;
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	H.now += 5000;
	ike_sa_tick(H.sa, H.now);
	sent = H.now;
	n0 = H.nq;
	gw_expect_request(&G, &G.ike, &H, INFORMATIONAL);
	/* The gateway is gone: nothing answers. */
	while (ike_sa_state(H.sa) != IKE_SA_DEAD && H.now < sent + 60000) {
		H.now = ike_sa_next_deadline(H.sa);
		ike_sa_tick(H.sa, H.now);
	}
	expect_dead(IKE_FAIL_TIMEOUT, "INFORMATIONAL");
	ck_assert_msg(H.now <= sent + 7500, "gave up %llu ms after the check, not within 7.5 s",
		      (unsigned long long)(H.now - sent));
	ck_assert_uint_eq(H.nq - n0, 3);	/* three retransmissions */
}
END_TEST

START_TEST(test_mangled_protected)
{
	struct gw_out o;
	struct h_msg m;

	H.cfg.dpd_ms = 20000;
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	memcpy(m.buf, G.out, G.out_len);
	m.len = G.out_len;
	gw_deliver(&G, &H);
	/* AUTH_SENT: the mangled IKE_AUTH response, and the IKE_SA_INIT response again. */
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	h_all_dropped(&H, G.out, G.out_len);
	h_input(&H, m.buf, m.len);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_AUTH_SENT);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);

	/* ESTABLISHED: a mangled answer to our DPD, a mangled DELETE from the gateway. */
	H.now += 20000;
	ike_sa_tick(H.sa, H.now);
	gw_expect_request(&G, &G.ike, &H, INFORMATIONAL);
	gw_begin(&o);
	gw_answer(&G, &G.ike, &o);
	h_all_dropped(&H, G.out, G.out_len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + 20000);
	gw_begin(&o);
	gw_delete(&o.b, PROTO_ESP, G.esp_in);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	h_all_dropped(&H, G.out, G.out_len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_down, 1);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
}
END_TEST

/*
 * An authentic message whose decrypted payloads do not decode: the
 * plaintext (keys of a rekey, EAP, CP would be there) is wiped too.
 */
START_TEST(test_plain_wiped_on_decode_failure)
{
	/* a payload of unknown type 200 marked critical: UNSUPPORTED_CRITICAL_PAYLOAD (§2.5) */
	static const uint8_t bad_notify[] = { 0, 0x80, 0, 6, 0xaa, 0xbb };
	struct ike_hdr h = { .version = IKE_VERSION, .exchange = INFORMATIONAL, .next_payload = PL_SK };
	uint8_t hdr[IKE_HDR_LEN];
	const uint8_t *plain;
	struct wr w;
	size_t cap;
	unsigned nq;

	h_new(&H);
	h_establish(&H, &G);
	nq = H.nq;
	h.spi_i = be64(G.ike.spi_i);
	h.spi_r = be64(G.ike.spi_r);
	h.msg_id = G.ike.next_req;
	wr_init(&w, hdr, sizeof(hdr));
	ck_assert_int_eq(ike_hdr_encode(&w, &h), 0);
	ck_assert_int_eq(sk_encrypt(&G.ike.out, hdr, 200, bad_notify, sizeof(bad_notify),
				    G.out, sizeof(G.out), &G.out_len), 0);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.nq, nq);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	plain = ike_sa_plain_for_test(&cap);
	ck_assert_uint_ge(cap, 65535 - 4);	/* what SK's 16-bit Payload Length allows */
	for (size_t i = 0; i < cap; i++)
		ck_assert_msg(plain[i] == 0, "plaintext byte %zu left: %02x", i, plain[i]);
}
END_TEST

/*
 * §2.9: the gateway's TSr against our remote_ts. Each case: what we
 * propose (one or two selectors), what the gateway answers, accepted?
 */
struct ts_case {
	const char *ours[2];		/* "from-to[/proto/port]" */
	const char *gw;
	bool ok;
};

static void ts_parse(const char *spec, struct ike_ts_sel *t)
{
	char a[64], b[64];
	unsigned proto = 0, port = 0;
	int n = sscanf(spec, "%63[^-]-%63[^/]/%u/%u", a, b, &proto, &port);

	ck_assert_int_ge(n, 2);
	memset(t, 0, sizeof(*t));
	t->type = strchr(a, ':') ? TS_IPV6_ADDR_RANGE : TS_IPV4_ADDR_RANGE;
	ck_assert_int_eq(inet_pton(t->type == TS_IPV6_ADDR_RANGE ? AF_INET6 : AF_INET, a, t->start), 1);
	ck_assert_int_eq(inet_pton(t->type == TS_IPV6_ADDR_RANGE ? AF_INET6 : AF_INET, b, t->end), 1);
	t->ip_proto = (uint8_t)proto;
	t->start_port = n == 4 ? (uint16_t)port : 0;
	t->end_port = n == 4 ? (uint16_t)port : 65535;
}

static const struct ts_case ts_cases[] = {
	/* narrowed: accepted */
	{ { "10.0.0.0-10.255.255.255" }, "10.1.0.0-10.1.255.255", true },
	{ { "10.0.0.0-10.255.255.255" }, "10.0.0.0-10.255.255.255", true },
	/* the union of two of ours, across their border */
	{ { "10.0.0.0-10.0.0.255", "10.0.1.0-10.0.1.255" }, "10.0.0.128-10.0.1.127", true },
	{ { "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff" }, "2001:db8:1::-2001:db8:1:ffff:ffff:ffff:ffff:ffff", true },
	{ { "10.0.0.0-10.255.255.255/6/443" }, "10.2.0.0-10.2.0.255/6/443", true },
	/* widened: refused */
	{ { "10.0.0.0-10.255.255.255" }, "0.0.0.0-255.255.255.255", false },
	{ { "10.0.0.0-10.255.255.255" }, "10.0.0.0-11.0.0.0", false },
	{ { "10.0.0.0-10.0.0.255", "10.0.2.0-10.0.2.255" }, "10.0.0.128-10.0.2.127", false },
	{ { "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff" }, "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false },
	{ { "10.0.0.0-10.255.255.255" }, "2001:db8::-2001:db8::ffff", false },
	{ { "10.0.0.0-10.255.255.255/6/443" }, "10.2.0.0-10.2.0.255", false },	/* any protocol, any port */
	{ { "10.0.0.0-10.255.255.255/6/443" }, "10.2.0.0-10.2.0.255/17/443", false },
	{ { "10.0.0.0-10.255.255.255/6/443" }, "10.2.0.0-10.2.0.255/6/80", false },
};

START_TEST(test_ts_narrowed_not_widened)
{
	const struct ts_case *c = &ts_cases[_i];

	for (unsigned k = 0; k < 2 && c->ours[k]; k++)
		ts_parse(c->ours[k], &H.cfg.remote_ts[H.cfg.n_remote_ts++]);
	H.cfg.want_ip6 = true;
	ts_parse(c->gw, &G.ts_net.ts[0]);
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	if (c->ok) {
		ck_assert_msg(ike_sa_state(H.sa) == IKE_SA_ESTABLISHED, "case %d: %s", _i,
			      ike_sa_failure_text(H.sa));
		ck_assert_uint_eq(H.n_up, 1);
		return;
	}
	expect_dead(IKE_FAIL_PROTOCOL, "TS_UNACCEPTABLE");
	ck_assert_msg(strstr(ike_sa_failure_text(H.sa), "TSr "), "%s", ike_sa_failure_text(H.sa));
	ck_assert_uint_eq(H.n_up, 0);
}
END_TEST

/* TSi: we ask for any IPv4 address (no IPv6): an IPv6 TSi is wider than that. */
START_TEST(test_tsi_widened)
{
	ts_parse("2001:db8::1-2001:db8::1", &G.ts_client.ts[0]);
	h_new(&H);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	expect_dead(IKE_FAIL_PROTOCOL, "TSi 2001:db8::1");
	ck_assert_uint_eq(H.n_up, 0);
	/* the gateway has the IKE SA: it is told with a Delete, not left to its DPD */
	{
		struct ike_pl_any d;

		ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, INFORMATIONAL), 2);
		gw_get(&G, PL_DELETE, &d);
		ck_assert_uint_eq(d.u.del.proto, PROTO_IKE);
	}
}
END_TEST

static Suite *ike_sa_suite(void)
{
	Suite *s = suite_create("ike_sa");
	TCase *tc = tcase_create("exchanges");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_happy_psk);
	tcase_add_test(tc, test_auth_failed_by_gateway);
	tcase_add_test(tc, test_auth_gateway_psk_differs);
	tcase_add_test(tc, test_auth_wrong_gateway_id);
	tcase_add_test(tc, test_no_proposal_chosen);
	tcase_add_test(tc, test_forged_error_then_real);
	tcase_add_test(tc, test_bad_init_answer_then_real);
	tcase_add_test(tc, test_ts_unacceptable);
	tcase_add_loop_test(tc, test_ts_narrowed_not_widened, 0,
			    (int)(sizeof(ts_cases) / sizeof(ts_cases[0])));
	tcase_add_test(tc, test_tsi_widened);
	tcase_add_test(tc, test_cookie);
	tcase_add_test(tc, test_invalid_ke_retry);
	tcase_add_test(tc, test_invalid_ke_not_offered);
	tcase_add_test(tc, test_invalid_ke_not_offered_only);
	tcase_add_test(tc, test_delete_in_auth_sent_ignored);
	tcase_add_test(tc, test_retransmit_timeout);
	tcase_add_test(tc, test_retransmit_auth);
	tcase_add_test(tc, test_message_ids);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_our_delete);
	tcase_add_test(tc, test_deleted_child_not_rekeyed);
	tcase_add_test(tc, test_mangled_init_response);
	tcase_add_test(tc, test_mangled_protected);
	tcase_add_test(tc, test_dpd_gives_up_in_seconds);
	tcase_add_test(tc, test_plain_wiped_on_decode_failure);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ike_sa_suite)
