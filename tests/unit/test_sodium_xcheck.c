/*
 * Cross-checks against libsodium, an implementation independent of
 * OpenSSL, on random inputs (RAND_bytes): ChaCha20-Poly1305 IETF against
 * util/aead (nonce = salt || IV), X25519 against ike/dh, HMAC-SHA-256 and
 * HMAC-SHA-512 against ike/prf. libsodium is used only here, never in the
 * agent.
 */
#include <string.h>

#include <openssl/rand.h>
#include <sodium.h>

#include "ike/dh.h"
#include "ike/ikev2.h"
#include "ike/prf.h"
#include "tests/unit/check_main.h"
#include "util/aead.h"

#define ROUNDS 300

static void rnd(void *p, size_t n)
{
	if (n)
		ck_assert_int_eq(RAND_bytes(p, (int)n), 1);
}

/* A random length in [0, max]. */
static size_t rnd_len(size_t max)
{
	uint32_t v;

	rnd(&v, sizeof(v));
	return v % (max + 1);
}

START_TEST(chacha20poly1305_matches_sodium)
{
	uint8_t keymat[36], iv[8], nonce[12], aad[64], m[600], ours[600], tag[16];
	uint8_t theirs[600 + 16], back[600];
	unsigned long long clen;

	for (int r = 0; r < ROUNDS; r++) {
		size_t alen = rnd_len(sizeof(aad)), mlen = rnd_len(sizeof(m));
		struct aead enc, dec;

		rnd(keymat, sizeof(keymat));
		rnd(iv, sizeof(iv));
		rnd(aad, alen);
		rnd(m, mlen);
		memcpy(nonce, keymat + 32, 4);
		memcpy(nonce + 4, iv, 8);
		ck_assert_int_eq(crypto_aead_chacha20poly1305_ietf_encrypt(theirs, &clen, m, mlen,
									   aad, alen, NULL, nonce,
									   keymat), 0);
		ck_assert_uint_eq(clen, mlen + 16);
		ck_assert_int_eq(aead_init(&enc, AEAD_CHACHA20_POLY1305, true, keymat, 36), 0);
		ck_assert_int_eq(aead_seal(&enc, iv, aad, alen, m, mlen, ours, tag), 0);
		ck_assert_msg(memcmp(ours, theirs, mlen) == 0, "round %d: ciphertext", r);
		ck_assert_msg(memcmp(tag, theirs + mlen, 16) == 0, "round %d: tag", r);
		/* And util/aead opens what libsodium sealed. */
		ck_assert_int_eq(aead_init(&dec, AEAD_CHACHA20_POLY1305, false, keymat, 36), 0);
		ck_assert_int_eq(aead_open(&dec, iv, aad, alen, theirs, mlen, back, theirs + mlen),
				 0);
		ck_assert(memcmp(back, m, mlen) == 0);
		aead_free(&enc);
		aead_free(&dec);
	}
}
END_TEST

START_TEST(x25519_matches_sodium)
{
	uint8_t a[32], b[32], pub_a[32], pub_b[32], u[32], want[32], got[32], out[32];
	struct dh d;
	size_t n;

	for (int r = 0; r < ROUNDS; r++) {
		rnd(a, 32);
		rnd(b, 32);
		ck_assert_int_eq(crypto_scalarmult_base(pub_a, a), 0);
		ck_assert_int_eq(crypto_scalarmult_base(pub_b, b), 0);
		ck_assert_int_eq(dh_set_private_for_test(&d, DH_CURVE25519, a, 32), 0);
		ck_assert_int_eq(dh_public(&d, out, sizeof(out), &n), 0);
		ck_assert_msg(memcmp(out, pub_a, 32) == 0, "round %d: public value", r);
		ck_assert_int_eq(crypto_scalarmult(want, a, pub_b), 0);
		ck_assert_int_eq(dh_derive(&d, pub_b, 32, got, sizeof(got), &n), 0);
		ck_assert_msg(memcmp(got, want, 32) == 0, "round %d: shared secret", r);
		/* An arbitrary u-coordinate (top bit included), not only base multiples. */
		rnd(u, 32);
		if (crypto_scalarmult(want, a, u) == 0) {
			ck_assert_int_eq(dh_derive(&d, u, 32, got, sizeof(got), &n), 0);
			ck_assert_msg(memcmp(got, want, 32) == 0, "round %d: random u", r);
		}
		dh_free(&d);
	}
}
END_TEST

START_TEST(hmac_sha2_matches_sodium)
{
	uint8_t key[200], data[700], want[64], got[64];
	crypto_auth_hmacsha256_state s256;
	crypto_auth_hmacsha512_state s512;

	for (int r = 0; r < ROUNDS; r++) {
		size_t klen = 1 + rnd_len(sizeof(key) - 1), dlen = rnd_len(sizeof(data));

		rnd(key, klen);
		rnd(data, dlen);
		ck_assert_int_eq(crypto_auth_hmacsha256_init(&s256, key, klen), 0);
		ck_assert_int_eq(crypto_auth_hmacsha256_update(&s256, data, dlen), 0);
		ck_assert_int_eq(crypto_auth_hmacsha256_final(&s256, want), 0);
		ck_assert_int_eq(prf(PRF_HMAC_SHA2_256, key, klen, data, dlen, got, sizeof(got)), 0);
		ck_assert_msg(memcmp(got, want, 32) == 0, "round %d: HMAC-SHA-256", r);

		ck_assert_int_eq(crypto_auth_hmacsha512_init(&s512, key, klen), 0);
		ck_assert_int_eq(crypto_auth_hmacsha512_update(&s512, data, dlen), 0);
		ck_assert_int_eq(crypto_auth_hmacsha512_final(&s512, want), 0);
		ck_assert_int_eq(prf(PRF_HMAC_SHA2_512, key, klen, data, dlen, got, sizeof(got)), 0);
		ck_assert_msg(memcmp(got, want, 64) == 0, "round %d: HMAC-SHA-512", r);
	}
}
END_TEST

static void sodium_setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
}

static Suite *sodium_suite(void)
{
	Suite *s = suite_create("sodium_xcheck");
	TCase *tc = tcase_create("xcheck");

	tcase_add_checked_fixture(tc, sodium_setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, chacha20poly1305_matches_sodium);
	tcase_add_test(tc, x25519_matches_sodium);
	tcase_add_test(tc, hmac_sha2_matches_sodium);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sodium_suite)
