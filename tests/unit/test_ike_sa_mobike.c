/*
 * MOBIKE (RFC 4555) between the IKE initiator (ike/sa_mobike.c) and the
 * scripted gateway of ike_responder.c: address updates with the window
 * free or busy, rebuilt in place for a new path, sent again on another
 * transport; COOKIE2; refusals; the gateway's additional addresses; and
 * the gateway's own requests while our update is outstanding.
 */
#include <errno.h>
#include <string.h>

#include "ike/names.h"
#include "tests/unit/check_main.h"
#include "tests/unit/ike_responder.c"

#define IKE_P	"aes256gcm16-prfsha256-x25519"
#define GW_IP	"203.0.113.1"

static struct harness H;
static struct gw G;
static struct gw_path P;	/* the addresses the SA was last given */

static void setup(void)
{
	gw_init(&G);
}

static void teardown(void)
{
	h_free(&H);
	gw_free(&G);
}

/* ESTABLISHED; ours/theirs: MOBIKE_SUPPORTED sent by us / by the gateway. */
static void up(bool ours, bool theirs, bool force_encap)
{
	h_init(&H, IKE_P, "aes256gcm16");
	H.cfg.mobike = ours;
	H.cfg.force_encap = force_encap;
	G.mobike = theirs;
	h_new(&H);
	h_establish(&H, &G);
	ck_assert_int_eq(ike_sa_mobike(H.sa), ours && theirs);
}

/* The agent picked a new path: its addresses go to the SA. */
static void path(const char *local, uint16_t local_port, uint16_t remote_port)
{
	memset(&P, 0, sizeof(P));
	P.family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, local, P.local), 1);
	ck_assert_int_eq(inet_pton(AF_INET, GW_IP, P.remote), 1);
	P.local_port = local_port;
	P.remote_port = remote_port;
	ike_sa_set_addrs(H.sa, AF_INET, P.local, local_port, P.remote, remote_port);
}

static void move_ok(void)
{
	unsigned nq = H.nq;

	ck_assert_int_eq(ike_sa_move(H.sa, H.now), 0);
	ck_assert_uint_eq(H.nq, nq + 1);
}

/* 1. Window free: UPDATE_SA_ADDRESSES, NAT detection for the new path, COOKIE2;
 * _i = 1: no forced encapsulation and a NAT on the new path. */
START_TEST(test_move_window_free)
{
	up(true, true, _i == 0);
	ck_assert_uint_eq(ike_sa_answers(H.sa), 2);	/* IKE_SA_INIT, IKE_AUTH */
	/* the scripted gateway's IKE_SA_INIT NAT detection never matches */
	ck_assert(ike_sa_nat_detected(H.sa));
	path("10.20.0.5", 4500, 4500);
	move_ok();
	G.nat_client = _i == 1;
	ck_assert_uint_eq(gw_update(&G, &H, &P), 2);
	ck_assert(G.natd_dst_ok);
	/* force_encap: the source hash cannot match (RFC 7296 §2.23) */
	ck_assert_int_eq(G.natd_src_ok, _i == 1);
	ck_assert_uint_eq(G.cookie2_len, 16);
	ck_assert_uint_eq(H.n_moved, 0);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_moved, 1);
	ck_assert_int_eq(H.moved[0], 0);
	ck_assert_uint_eq(ike_sa_answers(H.sa), 3);
	ck_assert_int_eq(ike_sa_nat_detected(H.sa), _i == 1);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	/* the answer once more: a stale response, not counted */
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_answers(H.sa), 3);
	ck_assert_uint_eq(H.n_moved, 1);
}
END_TEST

/* 2. A liveness check is outstanding: sent again on the new path, the update follows its answer. */
START_TEST(test_move_during_dpd)
{
	struct h_msg dpd;
	struct gw_out o;
	unsigned nq;

	up(true, true, false);
	ike_sa_check_liveness(H.sa, H.now, "test");
	ike_sa_tick(H.sa, H.now);
	dpd = *h_last(&H);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, INFORMATIONAL), 2);

	H.now += 300;
	path("10.20.0.5", 4500, 4500);
	move_ok();
	ck_assert_uint_eq(h_last(&H)->len, dpd.len);
	ck_assert_mem_eq(h_last(&H)->buf, dpd.buf, dpd.len);
	/* the new path gets a whole schedule (the liveness check's: 0.5 s first) */
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + 500);
	/* moving again with the update pending: the check goes out once more, nothing else */
	H.now += 100;
	path("10.30.0.5", 4500, 4500);
	move_ok();
	ck_assert_mem_eq(h_last(&H)->buf, dpd.buf, dpd.len);

	/* the gateway answers the check: the update goes out at once */
	gw_open(&G, &G.ike, dpd.buf, dpd.len);
	gw_begin(&o);
	gw_answer(&G, &G.ike, &o);
	nq = H.nq;
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.nq, nq + 1);
	ck_assert_uint_eq(gw_update(&G, &H, &P), 3);
	ck_assert(G.natd_src_ok && G.natd_dst_ok);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_moved, 1);
	ck_assert_int_eq(H.moved[0], 0);
	ck_assert_uint_eq(ike_sa_answers(H.sa), 4);
}
END_TEST

/*
 * 3. A second move while the update is outstanding: rebuilt in place, same
 * message ID and COOKIE2, NAT detection for the second path. The answer
 * (_i = 0: to the second version, 1: to the first) is taken; as the update
 * went out for two paths, a new one follows (RFC 4555 §3.6).
 */
START_TEST(test_second_move)
{
	uint8_t ans1[GW_MSG_MAX], c1[64];
	size_t ans1_len;
	uint32_t id1;

	up(true, true, false);
	path("10.20.0.5", 4500, 4500);
	move_ok();
	id1 = gw_update(&G, &H, &P);
	ck_assert(G.natd_src_ok);
	memcpy(ans1, G.out, G.out_len);
	ans1_len = G.out_len;
	memcpy(c1, G.cookie2_seen, G.cookie2_len);

	H.now += 700;
	path("10.30.0.5", 4500, 4500);
	move_ok();
	ck_assert_uint_eq(gw_update(&G, &H, &P), id1);
	ck_assert(G.natd_src_ok && G.natd_dst_ok);
	ck_assert_mem_eq(G.cookie2_seen, c1, 16);
	/* retransmissions start over */
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + 500);

	if (_i == 1) {
		memcpy(G.out, ans1, ans1_len);
		G.out_len = ans1_len;
	}
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_moved, 0);
	ck_assert_uint_eq(gw_update(&G, &H, &P), id1 + 1);
	ck_assert(G.natd_src_ok && G.natd_dst_ok);
	ck_assert(memcmp(G.cookie2_seen, c1, 16) != 0);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_moved, 1);
	ck_assert_int_eq(H.moved[0], 0);
}
END_TEST

/* 4. IKE_SA_INIT sent again (over TCP, say): the same bytes, not a retransmission try. */
START_TEST(test_resend_init_identical)
{
	struct h_msg first;
	uint64_t dl;

	h_init(&H, IKE_P, "aes256gcm16");
	h_new(&H);
	ck_assert_int_eq(ike_sa_resend(H.sa, H.now), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	first = *h_last(&H);
	dl = ike_sa_next_deadline(H.sa);
	H.now += 250;
	path("10.20.0.5", 40000, 443);
	ck_assert_int_eq(ike_sa_resend(H.sa, H.now), 0);
	ck_assert_uint_eq(H.nq, 2);
	ck_assert_uint_eq(h_last(&H)->len, first.len);
	ck_assert_mem_eq(h_last(&H)->buf, first.buf, first.len);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), dl);
	ck_assert_uint_eq(ike_sa_answers(H.sa), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_answers(H.sa), 1);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_AUTH_SENT);
}
END_TEST

/* 5. Our update sent again on TCP: rebuilt for the TCP addresses, same message ID. */
START_TEST(test_resend_update_rebuilds)
{
	uint32_t id1;
	uint64_t dl;

	up(true, true, false);
	path("10.20.0.5", 4500, 4500);
	move_ok();
	id1 = gw_update(&G, &H, &P);
	dl = ike_sa_next_deadline(H.sa);

	H.now += 300;
	path("10.20.0.5", 40000, 443);
	ck_assert_int_eq(ike_sa_resend(H.sa, H.now), 0);
	ck_assert_uint_eq(gw_update(&G, &H, &P), id1);
	ck_assert(G.natd_src_ok && G.natd_dst_ok);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), dl);
	gw_deliver(&G, &H);
	/* sent for two paths: one more update for the TCP one */
	ck_assert_uint_eq(gw_update(&G, &H, &P), id1 + 1);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_moved, 1);
	ck_assert_int_eq(H.moved[0], 0);
	ck_assert_int_eq(ike_sa_resend(H.sa, H.now), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* 6. RFC 4555 §3.7: an answer with another COOKIE2 (_i = 0) or none (1) closes the IKE SA. */
START_TEST(test_cookie2_mismatch)
{
	up(true, true, true);
	path("10.20.0.5", 4500, 4500);
	move_ok();
	G.cookie2 = _i == 0 ? GW_COOKIE2_WRONG : GW_COOKIE2_DROP;
	gw_update(&G, &H, &P);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_DEAD);
	ck_assert_uint_eq(ike_sa_failure(H.sa), IKE_FAIL_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(ike_sa_failure_text(H.sa), "COOKIE2"));
	ck_assert_uint_eq(H.n_moved, 0);
}
END_TEST

/* 7. The gateway refuses the addresses: moved(-1), the SA stays, another move works. */
START_TEST(test_refused)
{
	static const uint16_t errs[] = { N_UNACCEPTABLE_ADDRESSES, N_UNEXPECTED_NAT_DETECTED };
	uint32_t id;

	up(true, true, true);
	path("10.20.0.5", 4500, 4500);
	move_ok();
	G.update_error = errs[_i];
	id = gw_update(&G, &H, &P);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_moved, 1);
	ck_assert_int_eq(H.moved[0], -1);
	ck_assert_ptr_nonnull(strstr(H.moved_why, ike_notify_name(errs[_i])));
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(ike_sa_answers(H.sa), 3);

	G.update_error = 0;
	path("10.30.0.5", 4500, 4500);
	move_ok();
	ck_assert_uint_eq(gw_update(&G, &H, &P), id + 1);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_moved, 2);
	ck_assert_int_eq(H.moved[1], 0);
}
END_TEST

/* 8. No MOBIKE (_i = 0: we did not offer it, 1: the gateway did not): ENOTSUP, nothing sent. */
START_TEST(test_no_mobike)
{
	struct ike_pl_notify n;
	unsigned nq;

	h_init(&H, IKE_P, "aes256gcm16");
	H.cfg.mobike = true;
	h_new(&H);
	errno = 0;
	ck_assert_int_eq(ike_sa_move(H.sa, H.now), -1);	/* not established */
	ck_assert_int_eq(errno, ENOTSUP);
	h_free(&H);

	up(_i == 1, _i == 0, true);
	path("10.20.0.5", 4500, 4500);
	nq = H.nq;
	errno = 0;
	ck_assert_int_eq(ike_sa_move(H.sa, H.now), -1);
	ck_assert_int_eq(errno, ENOTSUP);
	ck_assert_uint_eq(H.nq, nq);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	/* a new TCP connection without MOBIKE: an empty INFORMATIONAL */
	ike_sa_reconnected(H.sa, H.now);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, INFORMATIONAL), 2);
	ck_assert(!gw_has(&G, PL_NOTIFY));
	ck_assert(!gw_has_notify(&G, N_UPDATE_SA_ADDRESSES, &n));
}
END_TEST

/* The gateway's INFORMATIONAL request with n ADDITIONAL_IP4_ADDRESS (10.0.0.1...), and more. */
static void gw_info(unsigned n, bool none, bool cookie2, bool natd)
{
	static const uint8_t c2[12] = "gw-cookie-2";
	uint8_t ip[4] = { 10, 0, 0, 0 }, h[IKE_NAT_DETECTION_LEN] = { 0 };
	struct gw_out o;
	uint32_t id = G.ike.next_req;
	uint64_t answers = ike_sa_answers(H.sa);
	struct ike_pl_notify c;

	gw_begin(&o);
	for (unsigned i = 0; i < n; i++) {
		ip[3] = (uint8_t)(i + 1);
		ck_assert_int_eq(ike_put_notify(&o.b, &(struct ike_pl_notify){
			.type = N_ADDITIONAL_IP4_ADDRESS, .data = ip, .len = 4 }), 0);
	}
	if (none)
		gw_notify(&o.b, N_NO_ADDITIONAL_ADDRESSES, 0, 0);
	if (cookie2)
		ck_assert_int_eq(ike_put_notify(&o.b, &(struct ike_pl_notify){
			.type = N_COOKIE2, .data = c2, .len = sizeof(c2) }), 0);
	if (natd) {
		ck_assert_int_eq(ike_put_notify(&o.b, &(struct ike_pl_notify){
			.type = N_NAT_DETECTION_SOURCE_IP, .data = h, .len = sizeof(h) }), 0);
		ck_assert_int_eq(ike_put_notify(&o.b, &(struct ike_pl_notify){
			.type = N_NAT_DETECTION_DESTINATION_IP, .data = h, .len = sizeof(h) }), 0);
	}
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	gw_expect_response(&G, &G.ike, &H, INFORMATIONAL, id);
	/* RFC 4555 §3.7: COOKIE2 copied as-is */
	ck_assert_int_eq(gw_has_notify(&G, N_COOKIE2, &c), cookie2);
	if (cookie2) {
		ck_assert_uint_eq(c.len, sizeof(c2));
		ck_assert_mem_eq(c.data, c2, sizeof(c2));
	}
	/* RFC 4555 §3.8: NAT detection answered with NAT detection */
	ck_assert_int_eq(gw_has_notify(&G, N_NAT_DETECTION_DESTINATION_IP, &c), natd);
	ck_assert_int_eq(gw_has_notify(&G, N_NAT_DETECTION_SOURCE_IP, &c), natd);
	if (!cookie2 && !natd)
		ck_assert(!gw_has(&G, PL_NOTIFY));
	/* the gateway's requests are not answers to ours */
	ck_assert_uint_eq(ike_sa_answers(H.sa), answers);
}

/* 9. ADDITIONAL_*_ADDRESS: from IKE_AUTH, replaced, bounded, cleared. */
START_TEST(test_peer_addrs)
{
	struct ike_sa_addr gw_addrs[2] = { { .family = AF_INET }, { .family = AF_INET6 } };
	struct ike_sa_addr out[IKE_SA_MAX_PEER_ADDRS + 2];

	inet_pton(AF_INET, "198.51.100.7", gw_addrs[0].ip);
	inet_pton(AF_INET6, "2001:db8::1", gw_addrs[1].ip);
	G.add_addrs = gw_addrs;
	G.n_add_addrs = 2;
	up(true, true, true);
	ck_assert_uint_eq(ike_sa_peer_addrs(H.sa, out, 10), 2);
	ck_assert_int_eq(out[0].family, AF_INET);
	ck_assert_mem_eq(out[0].ip, gw_addrs[0].ip, 4);
	ck_assert_int_eq(out[1].family, AF_INET6);
	ck_assert_mem_eq(out[1].ip, gw_addrs[1].ip, 16);
	ck_assert_uint_eq(ike_sa_peer_addrs(H.sa, out, 1), 1);

	gw_info(10, false, false, false);	/* replaces the list; 8 kept */
	ck_assert_uint_eq(ike_sa_peer_addrs(H.sa, out, 10), IKE_SA_MAX_PEER_ADDRS);
	ck_assert_int_eq(out[0].family, AF_INET);
	ck_assert_uint_eq(out[0].ip[3], 1);
	ck_assert_uint_eq(out[7].ip[3], 8);
	gw_info(0, false, false, false);	/* a liveness check: the list stays */
	ck_assert_uint_eq(ike_sa_peer_addrs(H.sa, out, 10), IKE_SA_MAX_PEER_ADDRS);
	gw_info(1, false, false, true);
	ck_assert_uint_eq(ike_sa_peer_addrs(H.sa, out, 10), 1);
	gw_info(0, true, true, false);		/* NO_ADDITIONAL_ADDRESSES, with COOKIE2 */
	ck_assert_uint_eq(ike_sa_peer_addrs(H.sa, out, 10), 0);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
}
END_TEST

/* A strongSwan-like ESP proposal aes256gcm16, no PFS, with the gateway's SPI. */
static void put_esp_sa(struct ike_mw *b, uint32_t spi)
{
	struct ike_proposal p = { .num = 1, .proto = PROTO_ESP, .spi_size = 4 };

	put_be32(p.spi, spi);
	p.trans[p.n_trans++] = (struct ike_transform){ .type = TRANS_ENCR, .id = ENCR_AES_GCM_16,
						       .key_len = 256 };
	p.trans[p.n_trans++] = (struct ike_transform){ .type = TRANS_ESN, .id = ESN_NO };
	ck_assert_int_eq(ike_put_sa(b, &p, 1), 0);
}

/* 10. strongSwan rekeys the Child SA before it answers our update (RFC 7296 §2.3). */
START_TEST(test_gateway_rekeys_child_during_update)
{
	uint8_t ans[GW_MSG_MAX], nonce[32];
	struct h_msg upd;
	size_t ans_len;
	uint32_t id;
	uint64_t dl;
	struct gw_out o;

	up(true, true, true);
	path("10.20.0.5", 4500, 4500);
	move_ok();
	upd = *h_last(&H);
	id = gw_update(&G, &H, &P);
	memcpy(ans, G.out, G.out_len);
	ans_len = G.out_len;
	dl = ike_sa_next_deadline(H.sa);

	/* §1.3.3: REKEY_SA, SA, Ni, TSi, TSr: the gateway's request #0 */
	ck_assert_int_eq(RAND_bytes(nonce, sizeof(nonce)), 1);
	gw_begin(&o);
	gw_notify(&o.b, N_REKEY_SA, PROTO_ESP, G.esp_in);
	put_esp_sa(&o.b, G.esp_in ^ 0x01010000);
	ck_assert_int_eq(ike_put_nonce(&o.b, &(struct ike_pl_nonce){ .data = nonce,
								  .len = sizeof(nonce) }), 0);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSi, &G.ts_net), 0);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSr, &G.ts_client), 0);
	gw_request(&G, &G.ike, &o, CREATE_CHILD_SA);
	gw_deliver(&G, &H);
	gw_expect_response(&G, &G.ike, &H, CREATE_CHILD_SA, 0);
	ck_assert(gw_has(&G, PL_SA));
	ck_assert_uint_eq(H.n_up, 2);
	ck_assert(H.up[1].ci.rekey);
	ck_assert_uint_eq(H.up[1].ci.spi_out, G.esp_in ^ 0x01010000);

	/* our update is still the one outstanding, on its schedule */
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), dl);
	ck_assert_uint_eq(H.n_moved, 0);
	H.now = dl;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(h_last(&H)->len, upd.len);
	ck_assert_mem_eq(h_last(&H)->buf, upd.buf, upd.len);

	memcpy(G.out, ans, ans_len);
	G.out_len = ans_len;
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_moved, 1);
	ck_assert_int_eq(H.moved[0], 0);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(ike_sa_answers(H.sa), 3);
	(void)id;
}
END_TEST

/* 11. A new TCP connection with MOBIKE: the same update as ike_sa_move() builds. */
START_TEST(test_reconnected_mobike)
{
	up(true, true, false);
	path("10.20.0.5", 40001, 443);
	ike_sa_reconnected(H.sa, H.now);
	ck_assert_uint_eq(gw_update(&G, &H, &P), 2);
	ck_assert(G.natd_src_ok && G.natd_dst_ok);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_moved, 1);
	ck_assert_int_eq(H.moved[0], 0);
}
END_TEST

/* 12. A damaged answer to our update is not an answer. */
START_TEST(test_answers_only_valid)
{
	up(true, true, true);
	path("10.20.0.5", 4500, 4500);
	move_ok();
	gw_update(&G, &H, &P);
	G.out[G.out_len - 1] ^= 1;
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_answers(H.sa), 2);
	ck_assert_uint_eq(H.n_moved, 0);
	G.out[G.out_len - 1] ^= 1;
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_answers(H.sa), 3);
	ck_assert_uint_eq(H.n_moved, 1);
}
END_TEST

static Suite *ike_sa_mobike_suite(void)
{
	Suite *s = suite_create("ike_sa_mobike");
	TCase *tc = tcase_create("mobike");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_move_window_free, 0, 2);
	tcase_add_test(tc, test_move_during_dpd);
	tcase_add_loop_test(tc, test_second_move, 0, 2);
	tcase_add_test(tc, test_resend_init_identical);
	tcase_add_test(tc, test_resend_update_rebuilds);
	tcase_add_loop_test(tc, test_cookie2_mismatch, 0, 2);
	tcase_add_loop_test(tc, test_refused, 0, 2);
	tcase_add_loop_test(tc, test_no_mobike, 0, 2);
	tcase_add_test(tc, test_peer_addrs);
	tcase_add_test(tc, test_gateway_rekeys_child_during_update);
	tcase_add_test(tc, test_reconnected_mobike);
	tcase_add_test(tc, test_answers_only_valid);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ike_sa_mobike_suite)
