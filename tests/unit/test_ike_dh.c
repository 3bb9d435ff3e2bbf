/*
 * ike/dh: RFC 7748 §5.2 (X25519 scalar multiplication, single and iterated)
 * and §6.1 (Alice/Bob), RFC 5903 §8.1 (ECP-256 i, g^i, r, g^r, g^ir),
 * MODP-2048 self-consistency with an independent BN computation, and the
 * peer value checks (lengths, off-curve points, 0/1/p-1/>=p, all-zero
 * Curve25519 results).
 */
#include <string.h>

#include <openssl/bn.h>

#include "ike/dh.h"
#include "ike/ikev2.h"
#include "tests/unit/check_main.h"
#include "tests/unit/testutil.h"

/* One X25519(k, u) through the dh API. */
static void x25519(const uint8_t k[32], const uint8_t u[32], uint8_t out[32])
{
	struct dh d;
	size_t n = 0;

	ck_assert_int_eq(dh_set_private_for_test(&d, DH_CURVE25519, k, 32), 0);
	ck_assert_int_eq(dh_derive(&d, u, 32, out, 32, &n), 0);
	ck_assert_uint_eq(n, 32);
	dh_free(&d);
}

START_TEST(x25519_rfc7748_5_2)
{
	static const char *const v[2][3] = {
		{ "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
		/* u with its top bit set: it must be masked (RFC 7748 §5). */
		{ "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
		  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
	};
	uint8_t k[32], u[32], want[32], out[32];

	for (int i = 0; i < 2; i++) {
		unhex(v[i][0], k, 32);
		unhex(v[i][1], u, 32);
		unhex(v[i][2], want, 32);
		x25519(k, u, out);
		ck_assert_msg(memcmp(out, want, 32) == 0, "vector %d", i + 1);
	}
}
END_TEST

START_TEST(x25519_rfc7748_5_2_iterated)
{
	uint8_t k[32] = { 9 }, u[32] = { 9 }, r[32], want1[32], want1000[32];

	unhex("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079", want1, 32);
	unhex("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51", want1000, 32);
	for (int i = 1; i <= 1000; i++) {
		x25519(k, u, r);
		memcpy(u, k, 32);
		memcpy(k, r, 32);
		if (i == 1)
			ck_assert(memcmp(k, want1, 32) == 0);
	}
	ck_assert(memcmp(k, want1000, 32) == 0);
}
END_TEST

START_TEST(x25519_rfc7748_6_1)
{
	uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32], shared[32], out[64], s1[32], s2[32];
	struct dh a, b;
	size_t n;

	unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a_priv, 32);
	unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", a_pub, 32);
	unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b_priv, 32);
	unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", b_pub, 32);
	unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", shared, 32);
	ck_assert_int_eq(dh_set_private_for_test(&a, DH_CURVE25519, a_priv, 32), 0);
	ck_assert_int_eq(dh_set_private_for_test(&b, DH_CURVE25519, b_priv, 32), 0);
	ck_assert_int_eq(dh_public(&a, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 32);
	ck_assert(memcmp(out, a_pub, 32) == 0);
	ck_assert_int_eq(dh_public(&b, out, sizeof(out), &n), 0);
	ck_assert(memcmp(out, b_pub, 32) == 0);
	ck_assert_int_eq(dh_derive(&a, b_pub, 32, s1, sizeof(s1), &n), 0);
	ck_assert_int_eq(dh_derive(&b, a_pub, 32, s2, sizeof(s2), &n), 0);
	ck_assert(memcmp(s1, shared, 32) == 0);
	ck_assert(memcmp(s2, shared, 32) == 0);
	/* Exact length only. */
	ck_assert_int_eq(dh_derive(&a, b_pub, 31, s1, sizeof(s1), &n), -1);
	ck_assert_int_eq(dh_derive(&a, out, 33, s1, sizeof(s1), &n), -1);
	ck_assert_int_eq(dh_public(&a, out, 31, &n), -1);
	dh_free(&a);
	dh_free(&b);
}
END_TEST

START_TEST(x25519_zero_result_rejected)
{
	/* u = 0, u = 1 and u = p (which reduces to 0) all give an all-zero secret. */
	static const char *const bad[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t u[32], s[32];
	struct dh d;
	size_t n;

	ck_assert_int_eq(dh_new(&d, DH_CURVE25519), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unhex(bad[i], u, 32);
		memset(s, 0xaa, sizeof(s));
		ck_assert_int_eq(dh_derive(&d, u, 32, s, sizeof(s), &n), -1);
		for (int j = 0; j < 32; j++)
			ck_assert_uint_ne(s[j], 0xaa);	/* the output was wiped */
	}
	dh_free(&d);
}
END_TEST

#define P256_I   "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433"
#define P256_GIX "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180"
#define P256_GIY "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3"
#define P256_R   "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53"
#define P256_GRX "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63"
#define P256_GRY "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB"
#define P256_GIRX "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE"

START_TEST(ecp256_rfc5903_8_1)
{
	uint8_t i[32], r[32], gi[64], gr[64], gir[32], out[64], s[32];
	struct dh di, dr;
	size_t n;

	unhex(P256_I, i, 32);
	unhex(P256_R, r, 32);
	unhex(P256_GIX P256_GIY, gi, 64);
	unhex(P256_GRX P256_GRY, gr, 64);
	unhex(P256_GIRX, gir, 32);
	ck_assert_int_eq(dh_set_private_for_test(&di, DH_ECP_256, i, 32), 0);
	ck_assert_int_eq(dh_set_private_for_test(&dr, DH_ECP_256, r, 32), 0);
	ck_assert_int_eq(dh_public(&di, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 64);
	ck_assert(memcmp(out, gi, 64) == 0);
	ck_assert_int_eq(dh_public(&dr, out, sizeof(out), &n), 0);
	ck_assert(memcmp(out, gr, 64) == 0);
	/* The shared secret is the x coordinate of g^ir only (RFC 5903 §9). */
	ck_assert_int_eq(dh_derive(&di, gr, 64, s, sizeof(s), &n), 0);
	ck_assert_uint_eq(n, 32);
	ck_assert(memcmp(s, gir, 32) == 0);
	ck_assert_int_eq(dh_derive(&dr, gi, 64, s, sizeof(s), &n), 0);
	ck_assert(memcmp(s, gir, 32) == 0);
	ck_assert_int_eq(dh_derive(&dr, gi, 64, s, 31, &n), -1);	/* no room */
	dh_free(&di);
	dh_free(&dr);
}
END_TEST

START_TEST(ecp256_bad_points_rejected)
{
	uint8_t gr[65], bad[65], s[32];
	struct dh d;
	size_t n;

	unhex(P256_GRX P256_GRY, gr, 64);
	ck_assert_int_eq(dh_new(&d, DH_ECP_256), 0);
	ck_assert_int_eq(dh_derive(&d, gr, 64, s, sizeof(s), &n), 0);
	/* y changed: not on the curve. */
	memcpy(bad, gr, 64);
	bad[63] ^= 1;
	ck_assert_int_eq(dh_derive(&d, bad, 64, s, sizeof(s), &n), -1);
	/* x changed. */
	memcpy(bad, gr, 64);
	bad[0] ^= 0x80;
	ck_assert_int_eq(dh_derive(&d, bad, 64, s, sizeof(s), &n), -1);
	/* (0, 0) and coordinates >= p. */
	memset(bad, 0, 64);
	ck_assert_int_eq(dh_derive(&d, bad, 64, s, sizeof(s), &n), -1);
	memset(bad, 0xff, 64);
	ck_assert_int_eq(dh_derive(&d, bad, 64, s, sizeof(s), &n), -1);
	/* Lengths other than 64: compressed-style 33, with a 0x04 prefix 65, empty. */
	bad[0] = 4;
	memcpy(bad + 1, gr, 64);
	ck_assert_int_eq(dh_derive(&d, bad, 65, s, sizeof(s), &n), -1);
	ck_assert_int_eq(dh_derive(&d, gr, 33, s, sizeof(s), &n), -1);
	ck_assert_int_eq(dh_derive(&d, gr, 0, s, sizeof(s), &n), -1);
	ck_assert_int_eq(dh_derive(&d, NULL, 64, s, sizeof(s), &n), -1);
	dh_free(&d);
}
END_TEST

/* Two fresh parties in one group agree, with the advertised lengths. */
START_TEST(random_pairs_agree)
{
	static const uint16_t groups[] = { DH_CURVE25519, DH_ECP_256, DH_MODP_2048 };
	uint16_t g = groups[_i];
	uint8_t pa[256], pb[256], sa[256], sb[256];
	size_t la, lb, na, nb;
	struct dh a, b;

	ck_assert_int_eq(dh_new(&a, g), 0);
	ck_assert_int_eq(dh_new(&b, g), 0);
	ck_assert_int_eq(dh_public(&a, pa, sizeof(pa), &la), 0);
	ck_assert_int_eq(dh_public(&b, pb, sizeof(pb), &lb), 0);
	ck_assert_uint_eq(la, dh_public_len(g));
	ck_assert_uint_eq(lb, dh_public_len(g));
	ck_assert(memcmp(pa, pb, la) != 0);
	ck_assert_int_eq(dh_derive(&a, pb, lb, sa, sizeof(sa), &na), 0);
	ck_assert_int_eq(dh_derive(&b, pa, la, sb, sizeof(sb), &nb), 0);
	ck_assert_uint_eq(na, dh_secret_len(g));
	ck_assert_uint_eq(nb, na);
	ck_assert(memcmp(sa, sb, na) == 0);
	dh_free(&a);
	dh_free(&b);
}
END_TEST

static void bn_to_256(const BIGNUM *bn, uint8_t out[256])
{
	ck_assert_int_eq(BN_bn2binpad(bn, out, 256), 256);
}

START_TEST(modp2048_peer_checks)
{
	BIGNUM *p = BN_get_rfc3526_prime_2048(NULL), *v = BN_new();
	uint8_t val[257], s[256];
	struct dh d;
	size_t n;

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(dh_new(&d, DH_MODP_2048), 0);
	/* 0, 1, p-1, p, p+1, 2^2048-1 */
	BN_zero(v);
	bn_to_256(v, val);
	ck_assert_int_eq(dh_derive(&d, val, 256, s, sizeof(s), &n), -1);
	ck_assert_int_eq(BN_one(v), 1);
	bn_to_256(v, val);
	ck_assert_int_eq(dh_derive(&d, val, 256, s, sizeof(s), &n), -1);
	ck_assert_ptr_nonnull(BN_copy(v, p));
	ck_assert_int_eq(BN_sub_word(v, 1), 1);
	bn_to_256(v, val);
	ck_assert_int_eq(dh_derive(&d, val, 256, s, sizeof(s), &n), -1);
	bn_to_256(p, val);
	ck_assert_int_eq(dh_derive(&d, val, 256, s, sizeof(s), &n), -1);
	ck_assert_ptr_nonnull(BN_copy(v, p));
	ck_assert_int_eq(BN_add_word(v, 1), 1);
	bn_to_256(v, val);
	ck_assert_int_eq(dh_derive(&d, val, 256, s, sizeof(s), &n), -1);
	memset(val, 0xff, sizeof(val));
	ck_assert_int_eq(dh_derive(&d, val, 256, s, sizeof(s), &n), -1);
	/* 2 is a valid public value (the generator); lengths 255 and 257 are not. */
	memset(val, 0, sizeof(val));
	val[255] = 2;
	ck_assert_int_eq(dh_derive(&d, val, 256, s, sizeof(s), &n), 0);
	ck_assert_int_eq(dh_derive(&d, val + 1, 255, s, sizeof(s), &n), -1);
	ck_assert_int_eq(dh_derive(&d, val, 257, s, sizeof(s), &n), -1);
	dh_free(&d);
	BN_free(v);
	BN_free(p);
}
END_TEST

START_TEST(modp2048_fixed_key_and_padding)
{
	/* x = 8: public 2^8 = 0x100 and, with peer value 2, secret 2^8 as well:
	 * both must come out left-padded to 256 bytes. */
	uint8_t x[1] = { 8 }, want[256] = { 0 }, out[256], peer[256] = { 0 }, s[256];
	uint8_t big[32], pb[256];
	BIGNUM *p = BN_get_rfc3526_prime_2048(NULL), *e = NULL, *y = NULL, *r = BN_new();
	BN_CTX *bnc = BN_CTX_new();
	struct dh d, other;
	size_t n;

	want[254] = 1;
	peer[255] = 2;
	ck_assert_int_eq(dh_set_private_for_test(&d, DH_MODP_2048, x, 1), 0);
	ck_assert_int_eq(dh_public(&d, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 256);
	ck_assert(memcmp(out, want, 256) == 0);
	ck_assert_int_eq(dh_derive(&d, peer, 256, s, sizeof(s), &n), 0);
	ck_assert_uint_eq(n, 256);
	ck_assert(memcmp(s, want, 256) == 0);
	dh_free(&d);

	/* A 256-bit exponent against a random peer: secret = peer^x mod p, by BN. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(0x31 * i + 7);
	ck_assert_int_eq(dh_set_private_for_test(&d, DH_MODP_2048, big, sizeof(big)), 0);
	ck_assert_int_eq(dh_new(&other, DH_MODP_2048), 0);
	ck_assert_int_eq(dh_public(&other, pb, sizeof(pb), &n), 0);
	ck_assert_int_eq(dh_derive(&d, pb, 256, s, sizeof(s), &n), 0);
	e = BN_bin2bn(big, sizeof(big), NULL);
	y = BN_bin2bn(pb, 256, NULL);
	ck_assert_int_eq(BN_mod_exp(r, y, e, p, bnc), 1);
	bn_to_256(r, want);
	ck_assert(memcmp(s, want, 256) == 0);
	/* and the public value is 2^x mod p */
	ck_assert_int_eq(BN_set_word(y, 2), 1);
	ck_assert_int_eq(BN_mod_exp(r, y, e, p, bnc), 1);
	bn_to_256(r, want);
	ck_assert_int_eq(dh_public(&d, out, sizeof(out), &n), 0);
	ck_assert(memcmp(out, want, 256) == 0);
	dh_free(&d);
	dh_free(&other);
	BN_free(p);
	BN_free(e);
	BN_free(y);
	BN_free(r);
	BN_CTX_free(bnc);
}
END_TEST

START_TEST(unsupported_and_bad_test_keys)
{
	uint8_t k[32] = { 1 };
	struct dh d;

	ck_assert_int_eq(dh_new(&d, 0), -1);
	ck_assert_int_eq(dh_new(&d, DH_ECP_384), -1);
	ck_assert_uint_eq(dh_public_len(DH_ECP_384), 0);
	ck_assert_int_eq(dh_set_private_for_test(&d, DH_CURVE25519, k, 31), -1);
	ck_assert_int_eq(dh_set_private_for_test(&d, DH_ECP_256, k, 33), -1);
	memset(k, 0, sizeof(k));
	ck_assert_int_eq(dh_set_private_for_test(&d, DH_ECP_256, k, 32), -1);	/* zero scalar */
	memset(k, 0xff, sizeof(k));
	ck_assert_int_eq(dh_set_private_for_test(&d, DH_ECP_256, k, 32), -1);	/* >= order */
	/* dh_free on an emptied struct is harmless. */
	memset(&d, 0, sizeof(d));
	dh_free(&d);
}
END_TEST

static Suite *dh_suite(void)
{
	Suite *s = suite_create("dh");
	TCase *tc = tcase_create("dh");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, x25519_rfc7748_5_2);
	tcase_add_test(tc, x25519_rfc7748_5_2_iterated);
	tcase_add_test(tc, x25519_rfc7748_6_1);
	tcase_add_test(tc, x25519_zero_result_rejected);
	tcase_add_test(tc, ecp256_rfc5903_8_1);
	tcase_add_test(tc, ecp256_bad_points_rejected);
	tcase_add_loop_test(tc, random_pairs_agree, 0, 3);
	tcase_add_test(tc, modp2048_peer_checks);
	tcase_add_test(tc, modp2048_fixed_key_and_padding);
	tcase_add_test(tc, unsupported_and_bad_test_keys);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dh_suite)
