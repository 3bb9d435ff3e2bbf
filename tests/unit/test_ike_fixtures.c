/*
 * Real messages from a strongSwan 5.9 client and gateway (tests/fixtures/,
 * captured by scripts/capture-fixtures.sh, keys from charon's level-4 log).
 * Our codec, key derivation, SK decryption, PSK AUTH and ESP must agree
 * with strongSwan byte for byte:
 *   - IKE_SA_INIT request/response decode, SPIs and nonces match the log;
 *   - SKEYSEED -> SK_* from our prf+ equals strongSwan's keys;
 *   - the IKE_AUTH request and response decrypt with our SK code, and both
 *     AUTH payloads verify with our PSK AUTH code (and fail with a wrong PSK);
 *   - the gateway's ESP packet decrypts with our ESP code (AEAD cases).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp/esp.h"
#include "ike/auth.h"
#include "ike/keys.h"
#include "ike/msg.h"
#include "ike/sk.h"
#include "tests/unit/check_main.h"
#include "tests/unit/sa_flat.h"
#include "tests/unit/testutil.h"


static const struct ike_pl *first_pl(const struct ike_msg *m, uint8_t type)
{
	unsigned it = 0;
	const struct ike_pl *p = ike_msg_find(m, type, &it);

	ck_assert_msg(p != NULL, "no payload type %u", type);
	return p;
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void chosen_algs(const struct ike_msg *resp, struct ike_algs *a)
{
	struct ike_pl_sa sap;
	struct sa_flat sa;

	ck_assert_int_eq(ike_pl_sa_decode(first_pl(resp, PL_SA), &sap), 0);
	sa_flat(&sap, &sa);
	ck_assert_uint_eq(sa.n_prop, 1);
	memset(a, 0, sizeof(*a));
	for (unsigned i = 0; i < sa.prop[0].n_trans; i++) {
		const struct ike_transform *t = &sa.prop[0].trans[i];

		if (t->type == TRANS_ENCR) {
			a->encr = t->id;
			a->encr_keybits = t->key_len;
		} else if (t->type == TRANS_PRF) {
			a->prf = t->id;
		} else if (t->type == TRANS_INTEG) {
			a->integ = t->id;
		}
	}
}

static void check_key(const char *name, const uint8_t *ours, size_t len)
{
	const struct kv *k = key(name);

	ck_assert_msg(k->len == len, "%s: length %zu, strongSwan %zu", name, len, k->len);
	ck_assert_msg(memcmp(k->val, ours, len) == 0, "%s differs from strongSwan's", name);
}

/* Decrypt an IKE_AUTH message and check its AUTH payload with the PSK. */
static void check_auth(const char *c, const char *file, struct ike_keys *k, bool from_initiator,
		       const uint8_t *init_msg, size_t init_len, const uint8_t *nonce, size_t nlen)
{
	static uint8_t msg[4096], plain[4096];
	struct ike_msg m;
	struct sk_dir d;
	const uint8_t *skp;
	size_t len, plen, skplen;
	uint8_t first;
	const struct ike_pl *idp;
	struct ike_pl_auth au;
	const struct kv *psk = key("psk");

	len = load_fixture(c, file, msg, sizeof(msg));
	ck_assert_int_eq(ike_msg_decode(&m, msg, len), 0);
	ck_assert(m.has_sk);
	/* We receive the initiator's messages as responder would: SK_ei; the responder's with SK_er. */
	ck_assert_int_eq(sk_init_ike(&d, k, !from_initiator, false), 0);
	ck_assert_int_eq(sk_decrypt(&d, msg, len, m.sk_off, plain, sizeof(plain), &plen, &first), 0);
	ck_assert_int_eq(ike_msg_decode_inner(&m, first, plain, plen), 0);
	idp = first_pl(&m, from_initiator ? PL_IDi : PL_IDr);
	ck_assert_int_eq(ike_pl_auth_decode(first_pl(&m, PL_AUTH), &au), 0);
	ck_assert_uint_eq(au.method, AUTH_SHARED_KEY_MIC);
	auth_sk_p(k, from_initiator, &skp, &skplen);
	struct auth_octets o = { .msg = init_msg, .msg_len = init_len, .nonce = nonce,
				 .nonce_len = nlen, .id = idp->body, .id_len = idp->len };
	ck_assert_msg(auth_psk_verify(k->algs.prf, psk->val, psk->len, skp, skplen, &o, au.data,
				      au.len) == 0, "%s: strongSwan's AUTH does not verify", file);
	ck_assert_msg(auth_psk_verify(k->algs.prf, (const uint8_t *)"wrong", 5, skp, skplen, &o,
				      au.data, au.len) < 0, "%s: a wrong PSK verified", file);
	/* the first bit flip anywhere in the message breaks integrity */
	msg[len / 2] ^= 0x01;
	ck_assert_int_lt(sk_decrypt(&d, msg, len, m.sk_off, plain, sizeof(plain), &plen, &first), 0);
	sk_dir_free(&d);
}

static void check_esp(const char *c, uint16_t encr)
{
	static uint8_t pkt[2048];
	const struct kv *spi = key("esp_spi_r2i"), *km = key("esp_encr_r2i");
	struct esp_sa sa;
	size_t len, inner;

	len = load_fixture(c, "esp_r2i", pkt, sizeof(pkt));
	ck_assert_int_eq(esp_sa_init(&sa, ESP_IN, encr == ENCR_CHACHA20_POLY1305 ?
				     AEAD_CHACHA20_POLY1305 : AEAD_AES_GCM_16, km->val, km->len,
				     get_be32(spi->val)), 0);
	ck_assert_int_eq(esp_decap(&sa, pkt, len, &inner), ESP_DROP_NONE);
	ck_assert_uint_eq(pkt[ESP_HEADROOM] >> 4, 4);		/* IPv4 */
	ck_assert_uint_eq(pkt[ESP_HEADROOM + 9], 1);		/* ICMP: the testbed's ping reply */
	/* the same packet again is a replay */
	len = load_fixture(c, "esp_r2i", pkt, sizeof(pkt));
	ck_assert_int_eq(esp_decap(&sa, pkt, len, &inner), ESP_DROP_REPLAY);
	esp_sa_free(&sa);
}

static void run_case(const char *c)
{
	static uint8_t req[4096], resp[4096];
	struct ike_msg mq, mr;
	struct ike_pl_nonce ni, nr;
	struct ike_algs algs;
	struct ike_keys k;
	size_t qlen, rlen;

	load_keys(c);
	qlen = load_fixture(c, "1_ike_sa_init_req", req, sizeof(req));
	rlen = load_fixture(c, "1_ike_sa_init_resp", resp, sizeof(resp));
	ck_assert_int_eq(ike_msg_decode(&mq, req, qlen), 0);
	ck_assert_int_eq(ike_msg_decode(&mr, resp, rlen), 0);
	ck_assert_uint_eq(mq.hdr.exchange, IKE_SA_INIT);
	ck_assert(mq.hdr.flags & IKE_FLAG_INITIATOR);
	ck_assert(mr.hdr.flags & IKE_FLAG_RESPONSE);
	ck_assert(mq.hdr.spi_i == be64(key("spi_i")->val));
	ck_assert(mr.hdr.spi_r == be64(key("spi_r")->val));
	ck_assert_int_eq(ike_pl_nonce_decode(first_pl(&mq, PL_NONCE), &ni), 0);
	ck_assert_int_eq(ike_pl_nonce_decode(first_pl(&mr, PL_NONCE), &nr), 0);
	check_key("ni", ni.data, ni.len);
	check_key("nr", nr.data, nr.len);

	chosen_algs(&mr, &algs);
	ck_assert_int_eq(ike_keys_derive(&k, &algs, key("g_ir")->val, key("g_ir")->len, ni.data,
					 ni.len, nr.data, nr.len, key("spi_i")->val,
					 key("spi_r")->val), 0);
	check_key("sk_d", k.sk_d, k.d_len);
	check_key("sk_ei", k.sk_ei, k.e_len);
	check_key("sk_er", k.sk_er, k.e_len);
	check_key("sk_pi", k.sk_pi, k.p_len);
	check_key("sk_pr", k.sk_pr, k.p_len);
	if (k.a_len) {
		check_key("sk_ai", k.sk_ai, k.a_len);
		check_key("sk_ar", k.sk_ar, k.a_len);
	}
	/* InitiatorSignedOctets: RealMessage1 | NonceRData | MACedIDForI (RFC 7296 §2.15) */
	check_auth(c, "2_ike_auth_req", &k, true, req, qlen, nr.data, nr.len);
	check_auth(c, "2_ike_auth_resp", &k, false, resp, rlen, ni.data, ni.len);
	if (ike_encr_is_aead(algs.encr))
		check_esp(c, algs.encr);
	ike_keys_clear(&k);
}

START_TEST(strongswan_psk_aes_gcm) { run_case("psk_gcm"); }
END_TEST
START_TEST(strongswan_psk_aes_cbc_hmac) { run_case("psk_cbc"); }
END_TEST
START_TEST(strongswan_psk_chacha20) { run_case("psk_chacha"); }
END_TEST

static Suite *fixtures_suite(void)
{
	Suite *s = suite_create("ike_fixtures");
	TCase *tc = tcase_create("strongswan");

	tcase_add_test(tc, strongswan_psk_aes_gcm);
	tcase_add_test(tc, strongswan_psk_aes_cbc_hmac);
	tcase_add_test(tc, strongswan_psk_chacha20);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(fixtures_suite)
