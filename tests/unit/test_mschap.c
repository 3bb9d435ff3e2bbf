/*
 * EAP-MSCHAPv2: the crypto against RFC 2759 §9.2 and RFC 3079 §3.5.3, the
 * method's message handling, and the decisive check against strongSwan:
 * the capture tests/fixtures/eap_mschapv2_* (a strongSwan client logging in
 * to a strongSwan gateway as testuser / testpass-123) replayed through our
 * method must give strongSwan's NT-Response, accept its gateway's S=, and
 * give an MSK from which our AUTH equals the one strongSwan's client sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/provider.h>

#include "eap/mschap.h"
#include "tests/unit/check_main.h"
#include "tests/unit/testutil.h"

/* RFC 2759 §9.2 */
static const char rfc_user[] = "User";
static const char rfc_pass[] = "clientPass";
static const char rfc_auth_chal[] = "5B5D7C7D7B3F2F3E3C2C602132262628";
static const char rfc_peer_chal[] = "21402324255E262A28295F2B3A337C7E";
static const char rfc_ch_hash[] = "D02E4386BCE91226";
static const char rfc_pw_hash[] = "44EBBA8D5312B8D611474411F56989AE";
static const char rfc_nt_resp[] = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF";
static const char rfc_pw_hash_hash[] = "41C00C584BD2D91C4017A2A12FA59F3F";
static const char rfc_auth_str[] = "S=407A5589115FD0D6209F510FE9C04566932CDA56";
/* RFC 3079 §3.5.3 (same credentials and challenges) */
static const char rfc_master_key[] = "FDECE3717A8C838CB388E527AE3CDD31";
static const char rfc_send_start_key128[] = "8B7CDC149B993A1BA118CB153F56DCCB";

static void hex_eq(const uint8_t *got, size_t len, const char *want_hex, const char *what)
{
	uint8_t want[128];
	size_t n = unhex(want_hex, want, sizeof(want));

	ck_assert_msg(n == len, "%s: length %zu, want %zu", what, len, n);
	ck_assert_msg(memcmp(got, want, n) == 0, "%s differs from the RFC", what);
}

START_TEST(rfc2759_vectors)
{
	uint8_t pw_hash[16], hh[16], ac[16], pc[16], ch[8], nt[24], auth[20];
	char s[MSCHAP_AUTH_STR_LEN + 1], err[200] = "";

	unhex(rfc_auth_chal, ac, sizeof(ac));
	unhex(rfc_peer_chal, pc, sizeof(pc));
	ck_assert_msg(mschap_nt_password_hash((const uint8_t *)rfc_pass, strlen(rfc_pass), pw_hash,
					      err, sizeof(err)) == 0, "%s", err);
	hex_eq(pw_hash, 16, rfc_pw_hash, "PasswordHash");
	ck_assert_int_eq(mschap_hash_nt_password_hash(pw_hash, hh), 0);
	hex_eq(hh, 16, rfc_pw_hash_hash, "PasswordHashHash");
	ck_assert_int_eq(mschap_challenge_hash(pc, ac, (const uint8_t *)rfc_user, 4, ch), 0);
	hex_eq(ch, 8, rfc_ch_hash, "ChallengeHash");
	ck_assert_int_eq(mschap_challenge_response(ch, pw_hash, nt), 0);
	hex_eq(nt, 24, rfc_nt_resp, "NT-Response");
	ck_assert_int_eq(mschap_auth_response(hh, nt, ch, auth), 0);
	mschap_auth_string(auth, s);
	ck_assert_str_eq(s, rfc_auth_str);
	ck_assert_int_eq(mschap_auth_check(auth, rfc_auth_str, strlen(rfc_auth_str)), 0);
}
END_TEST

START_TEST(rfc3079_master_keys)
{
	uint8_t hh[16], nt[24], mk[16], k[16], msk[64];

	unhex(rfc_pw_hash_hash, hh, sizeof(hh));
	unhex(rfc_nt_resp, nt, sizeof(nt));
	ck_assert_int_eq(mschap_master_key(hh, nt, mk), 0);
	hex_eq(mk, 16, rfc_master_key, "MasterKey");
	/* the RFC's sample: GetAsymmetricStartKey(MasterKey, 16, IsSend, IsServer) */
	ck_assert_int_eq(mschap_start_key(mk, true, true, k), 0);
	hex_eq(k, 16, rfc_send_start_key128, "SendStartKey128");
	/* the server's send key is the client's receive key, and the other way round */
	ck_assert_int_eq(mschap_start_key(mk, false, false, k), 0);
	hex_eq(k, 16, rfc_send_start_key128, "client MasterReceiveKey");
	ck_assert_int_eq(mschap_msk(hh, nt, msk), 0);
	hex_eq(msk + 16, 16, rfc_send_start_key128, "MSK[16..31]");
	ck_assert_int_eq(mschap_start_key(mk, true, false, k), 0);
	ck_assert_mem_eq(msk, k, 16);
	ck_assert_int_eq(mschap_start_key(mk, false, true, k), 0);
	ck_assert_mem_eq(msk, k, 16);
	for (int i = 32; i < 64; i++)
		ck_assert_uint_eq(msk[i], 0);
}
END_TEST

START_TEST(peer_compute_matches_parts)
{
	uint8_t pw_hash[16], ac[16], pc[16];
	struct mschap_result r;

	unhex(rfc_pw_hash, pw_hash, sizeof(pw_hash));
	unhex(rfc_auth_chal, ac, sizeof(ac));
	unhex(rfc_peer_chal, pc, sizeof(pc));
	ck_assert_int_eq(mschap_peer_compute(pw_hash, ac, pc, (const uint8_t *)"User", 4, &r), 0);
	hex_eq(r.nt_response, 24, rfc_nt_resp, "NT-Response");
	ck_assert_int_eq(mschap_auth_check(r.auth_response, rfc_auth_str, 42), 0);
	/* RFC 2759 §8.2: a domain prefix is not hashed */
	ck_assert_int_eq(mschap_peer_compute(pw_hash, ac, pc, (const uint8_t *)"DOM\\User", 8, &r), 0);
	hex_eq(r.nt_response, 24, rfc_nt_resp, "NT-Response with DOM\\");
	mschap_result_clear(&r);
}
END_TEST

START_TEST(auth_string_checks)
{
	uint8_t auth[20];
	char lower[] = "S=407a5589115fd0d6209f510fe9c04566932cda56";
	char bad[sizeof(rfc_auth_str)];

	unhex(rfc_auth_str + 2, auth, sizeof(auth));
	ck_assert_int_eq(mschap_auth_check(auth, lower, strlen(lower)), 0);
	ck_assert_int_lt(mschap_auth_check(auth, rfc_auth_str, 41), 0);
	memcpy(bad, rfc_auth_str, sizeof(bad));
	bad[0] = 's';
	ck_assert_int_lt(mschap_auth_check(auth, bad, 42), 0);
	memcpy(bad, rfc_auth_str, sizeof(bad));
	bad[20] = 'G';
	ck_assert_int_lt(mschap_auth_check(auth, bad, 42), 0);
	memcpy(bad, rfc_auth_str, sizeof(bad));
	bad[41] = bad[41] == '6' ? '7' : '6';
	ck_assert_int_lt(mschap_auth_check(auth, bad, 42), 0);
}
END_TEST

/* MD4 on our own, to check the UTF-16LE conversion independently. */
static void md4_here(const uint8_t *p, size_t len, uint8_t out[16])
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
	EVP_MD *md;

	ck_assert(ctx && OSSL_PROVIDER_load(ctx, "legacy"));
	md = EVP_MD_fetch(ctx, "MD4", NULL);
	ck_assert(md != NULL);
	ck_assert_int_eq(EVP_Digest(p, len, out, NULL, md, NULL), 1);
	EVP_MD_free(md);
	OSSL_LIB_CTX_free(ctx);
}

START_TEST(utf8_passwords)
{
	/* "pä€😀": U+00E4, U+20AC, U+1F600 (a surrogate pair in UTF-16) */
	static const uint8_t good[] = { 'p', 0xc3, 0xa4, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80 };
	static const uint8_t u16[] = { 'p', 0, 0xe4, 0, 0xac, 0x20, 0x3d, 0xd8, 0x00, 0xde };
	static const struct { const char *what; uint8_t b[4]; size_t n; } bad[] = {
		{ "truncated", { 0xe2, 0x82 }, 2 },
		{ "stray continuation", { 0x80 }, 1 },
		{ "overlong", { 0xc0, 0xaf }, 2 },
		{ "surrogate", { 0xed, 0xa0, 0x80 }, 3 },
		{ "above U+10FFFF", { 0xf4, 0x90, 0x80, 0x80 }, 4 },
		{ "0xff", { 0xff }, 1 },
	};
	uint8_t h[16], want[16], big[2 * 257];
	char err[200];

	ck_assert_int_eq(mschap_nt_password_hash(good, sizeof(good), h, err, sizeof(err)), 0);
	md4_here(u16, sizeof(u16), want);
	ck_assert_mem_eq(h, want, 16);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(mschap_nt_password_hash(bad[i].b, bad[i].n, h, err, sizeof(err)) < 0,
			      "%s accepted", bad[i].what);
		ck_assert_msg(strstr(err, "not valid UTF-8"), "%s: %s", bad[i].what, err);
	}
	/* 256 UTF-16 units are allowed, 257 are not */
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(mschap_nt_password_hash(big, 256, h, err, sizeof(err)), 0);
	ck_assert_int_lt(mschap_nt_password_hash(big, 257, h, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "too long"), "%s", err);
}
END_TEST

static Suite *mschap_suite(void)
{
	Suite *s = suite_create("mschap");
	TCase *tc = tcase_create("crypto");

	tcase_add_test(tc, rfc2759_vectors);
	tcase_add_test(tc, rfc3079_master_keys);
	tcase_add_test(tc, peer_compute_matches_parts);
	tcase_add_test(tc, auth_string_checks);
	tcase_add_test(tc, utf8_passwords);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(mschap_suite)
