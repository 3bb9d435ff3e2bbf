/*
 * IKE_AUTH with EAP (RFC 7296 §2.16) as one multi-round exchange: the
 * initiator (ike/sa_auth.c, ike/sa_eap.c, eap/) against the scripted
 * gateway running EAP-MSCHAPv2 (tests/unit/gw_eap.c). Each round is one
 * IKE_AUTH request with the next message ID; a lost request is resent
 * byte for byte by sa.c's one retransmission owner, a repeated response
 * changes nothing; the gateway proves itself before any EAP response; a
 * wrong password is one clear failure.
 */
#include <stdio.h>
#include <string.h>

#include "tests/unit/check_main.h"
#include "tests/unit/ike_responder.c"
#include "tests/unit/gw_eap.c"

#define IKE_P	"aes256gcm16-prfsha256-x25519"
#define ESP_P	"aes256gcm16"
#define USER	"alice"

static struct harness H;
static struct gw G;
static struct gw_eap E;
static struct eap_cfg EC;

static void setup_pw(const char *password)
{
	h_init(&H, IKE_P, ESP_P);
	gw_init(&G);
	gw_eap_init(&G, &E, USER, "correct password");
	EC = (struct eap_cfg){ .identity = USER, .user = USER, .methods = EAP_ALLOW_MSCHAPV2,
			       .password = (const uint8_t *)password, .password_len = strlen(password) };
	H.cfg.eap = &EC;
	h_new(&H);
}

static void teardown(void)
{
	h_free(&H);
	gw_free(&G);
}

/* IKE_SA_INIT done: the SA's first IKE_AUTH request is the last message sent. */
static void to_auth(void)
{
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	ck_assert_int_eq(ike_sa_state(H.sa), IKE_SA_AUTH_SENT);
}

/* The gateway's answer to the SA's last request. */
static void gw_turn(void)
{
	if (E.step == GE_IDENTITY && !E.first_len)
		gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	else
		gw_eap_round(&G, h_last(&H)->buf, h_last(&H)->len);
}

/*
 * Run the login; lose_at / repeat_at: in that round (1 = the first
 * IKE_AUTH) our request is lost once, or the gateway's answer arrives twice.
 */
static unsigned login(unsigned lose_at, unsigned repeat_at)
{
	unsigned round = 0;

	to_auth();
	while (ike_sa_state(H.sa) == IKE_SA_AUTH_SENT) {
		const struct h_msg *m = h_last(&H);
		struct h_msg sent = *m;
		struct ike_hdr hdr;

		round++;
		ck_assert_uint_le(round, 8);
		/* one owner of message IDs: IKE_AUTH request n has message ID n */
		gw_open(&G, &G.ike, sent.buf, sent.len);
		hdr = G.m.hdr;
		ck_assert_uint_eq(hdr.exchange, IKE_AUTH);
		ck_assert_uint_eq(hdr.msg_id, round);
		if (round == lose_at) {
			unsigned nq = H.nq;

			/* nothing arrives; the retransmission timer resends the same bytes */
			H.now = ike_sa_next_deadline(H.sa);
			ike_sa_tick(H.sa, H.now);
			ck_assert_uint_eq(H.nq, nq + 1);
			ck_assert_uint_eq(h_last(&H)->len, sent.len);
			ck_assert(memcmp(h_last(&H)->buf, sent.buf, sent.len) == 0);
		}
		gw_turn();
		gw_deliver(&G, &H);
		if (round == repeat_at) {
			unsigned nq = H.nq, up = H.n_up, ns = H.n_states;

			gw_deliver(&G, &H);	/* the same response again */
			ck_assert_uint_eq(H.nq, nq);
			ck_assert_uint_eq(H.n_up, up);
			ck_assert_uint_eq(H.n_states, ns);
		}
	}
	return round;
}

START_TEST(login_in_five_rounds)
{
	unsigned rounds;

	setup_pw("correct password");
	rounds = login(0, 0);
	ck_assert_msg(ike_sa_state(H.sa) == IKE_SA_ESTABLISHED, "%s", ike_sa_failure_text(H.sa));
	/* no AUTH, Identity, Response, Success Response, AUTH from the MSK */
	ck_assert_uint_eq(rounds, 5);
	ck_assert(G.peer_auth_ok);
	ck_assert_uint_eq(H.n_up, 1);
	h_check_keys(&H.up[0], &G.ck, true);
	teardown();
}
END_TEST

/* A lost request and a repeated answer in each round of the login. */
START_TEST(lost_and_repeated_in_every_round)
{
	setup_pw("correct password");
	ck_assert_uint_eq(login((unsigned)_i, (unsigned)_i), 5);
	ck_assert_msg(ike_sa_state(H.sa) == IKE_SA_ESTABLISHED, "round %d: %s", _i,
		      ike_sa_failure_text(H.sa));
	ck_assert_uint_eq(H.n_up, 1);
	teardown();
}
END_TEST

START_TEST(wrong_password_is_one_clear_failure)
{
	unsigned nq;

	setup_pw("wrong password");
	ck_assert_uint_eq(login(0, 0), 4);
	ck_assert(E.rejected);
	ck_assert_int_eq(ike_sa_state(H.sa), IKE_SA_DEAD);
	ck_assert_int_eq(ike_sa_failure(H.sa), IKE_FAIL_AUTH);
	ck_assert_str_eq(ike_sa_failure_text(H.sa),
			 "gateway rejected the password for user 'alice' (EAP failure)");
	ck_assert_uint_eq(H.n_up, 0);
	/* nothing more is sent: no retry loop */
	nq = H.nq;
	H.now += 60000;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(H.nq, nq);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), 0);
	teardown();
}
END_TEST

/* §2.16: the gateway proves itself first; a gateway that cannot gets no EAP response. */
START_TEST(unverified_gateway_gets_nothing)
{
	setup_pw("correct password");
	G.my_psk = "another key";
	to_auth();
	gw_turn();
	gw_deliver(&G, &H);
	ck_assert_int_eq(ike_sa_state(H.sa), IKE_SA_DEAD);
	ck_assert_int_eq(ike_sa_failure(H.sa), IKE_FAIL_AUTH);
	/* IKE_SA_INIT and the first IKE_AUTH (which has no EAP) only */
	ck_assert_uint_eq(H.nq, 2);
	teardown();
}
END_TEST

/* The gateway's last AUTH must come from the same MSK (§2.16). */
START_TEST(gateway_auth_from_another_key_fails)
{
	setup_pw("correct password");
	E.bad_final_auth = true;
	ck_assert_uint_eq(login(0, 0), 5);
	ck_assert(G.peer_auth_ok);
	ck_assert_int_eq(ike_sa_state(H.sa), IKE_SA_DEAD);
	ck_assert_int_eq(ike_sa_failure(H.sa), IKE_FAIL_AUTH);
	ck_assert_msg(strstr(ike_sa_failure_text(H.sa), "AUTH after EAP did not verify"), "%s",
		      ike_sa_failure_text(H.sa));
	ck_assert_uint_eq(H.n_up, 0);
	teardown();
}
END_TEST

/* The gateway refuses our AUTH after EAP: that notify, not a timeout. */
START_TEST(final_auth_refused)
{
	setup_pw("correct password");
	E.final_error = N_AUTHENTICATION_FAILED;
	(void)login(0, 0);
	ck_assert_int_eq(ike_sa_state(H.sa), IKE_SA_DEAD);
	ck_assert_int_eq(ike_sa_failure(H.sa), IKE_FAIL_AUTH);
	ck_assert_msg(strstr(ike_sa_failure_text(H.sa), "AUTHENTICATION_FAILED"), "%s",
		      ike_sa_failure_text(H.sa));
	teardown();
}
END_TEST

static Suite *sa_eap_suite(void)
{
	Suite *s = suite_create("ike_sa_eap");
	TCase *tc = tcase_create("mschapv2");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, login_in_five_rounds);
	tcase_add_loop_test(tc, lost_and_repeated_in_every_round, 1, 6);
	tcase_add_test(tc, wrong_password_is_one_clear_failure);
	tcase_add_test(tc, unverified_gateway_gets_nothing);
	tcase_add_test(tc, gateway_auth_from_another_key_fails);
	tcase_add_test(tc, final_auth_refused);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sa_eap_suite)
