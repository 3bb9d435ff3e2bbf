/*
 * ike/prf, ike/keys and ike/auth. Expected values are either published
 * (RFC 4231 §4 HMAC-SHA-256/384/512 test cases 1-7) or recomputed here
 * step by step with OpenSSL's one-shot HMAC(), independently of the code
 * under test (prf+, SKEYSEED, SK_* split, KEYMAT, PSK AUTH).
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ike/auth.h"
#include "ike/ikev2.h"
#include "ike/keys.h"
#include "ike/prf.h"
#include "tests/unit/check_main.h"
#include "tests/unit/testutil.h"

static const EVP_MD *md_for(uint16_t prf_id)
{
	switch (prf_id) {
	case PRF_HMAC_SHA2_256: return EVP_sha256();
	case PRF_HMAC_SHA2_384: return EVP_sha384();
	default: return EVP_sha512();
	}
}

/* Reference HMAC: OpenSSL's one-shot HMAC(), not the EVP_MAC path of ike/prf. */
static size_t ref_hmac(uint16_t prf_id, const uint8_t *key, size_t klen, const uint8_t *data,
		       size_t dlen, uint8_t *out)
{
	unsigned int n = 0;

	ck_assert_ptr_nonnull(HMAC(md_for(prf_id), key, (int)klen, data, dlen, out, &n));
	return n;
}

/* Reference prf+ written straight from §2.13 with ref_hmac. */
static void ref_prf_plus(uint16_t prf_id, const uint8_t *key, size_t klen, const uint8_t *s,
			 size_t slen, uint8_t *out, size_t len)
{
	uint8_t in[64 + 2048 + 1], t[64];
	size_t tlen = 0, done = 0;

	ck_assert_uint_le(slen, 2048);
	for (unsigned n = 1; done < len; n++) {
		memcpy(in, t, tlen);
		memcpy(in + tlen, s, slen);
		in[tlen + slen] = (uint8_t)n;
		tlen = ref_hmac(prf_id, key, klen, in, tlen + slen + 1, t);
		memcpy(out + done, t, len - done < tlen ? len - done : tlen);
		done += len - done < tlen ? len - done : tlen;
	}
}

/* --- PRF: RFC 4231 §4 ------------------------------------------------- */

struct rfc4231 {
	uint8_t key[131];
	size_t klen;
	const char *data;
	size_t dlen;
	const char *sha256, *sha384, *sha512;
	size_t cmp_len;		/* case 5: only the first 128 bits are published */
};

static const char rfc4231_d3[50] = {
	[0 ... 49] = (char)0xdd,
};
static const char rfc4231_d4[50] = {
	[0 ... 49] = (char)0xcd,
};

static const struct rfc4231 rfc4231[] = {
	{ { [0 ... 19] = 0x0b }, 20, "Hi There", 8,
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
	  "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
	  "faea9ea9076ede7f4af152e8b2fa9cb6",
	  "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
	  "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854", 0 },
	{ "Jefe", 4, "what do ya want for nothing?", 28,
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	  "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
	  "8e2240ca5e69e2c78b3239ecfab21649",
	  "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
	  "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737", 0 },
	{ { [0 ... 19] = 0xaa }, 20, rfc4231_d3, 50,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
	  "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
	  "2a5ab39dc13814b94e3ab6e101a34f27",
	  "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
	  "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb", 0 },
	{ { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
	    25 }, 25, rfc4231_d4, 50,
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
	  "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
	  "6801dd23c4a7d679ccf8a386c674cffb",
	  "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
	  "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd", 0 },
	{ { [0 ... 19] = 0x0c }, 20, "Test With Truncation", 20,
	  "a3b6167473100ee06e0c796c2955552b", "3abf34c3503b2a23a46efc619baef897",
	  "415fad6271580a531d4179bc891d87a6", 16 },
	{ { [0 ... 130] = 0xaa }, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	  "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
	  "0c2ef6ab4030fe8296248df163f44952",
	  "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
	  "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598", 0 },
	{ { [0 ... 130] = 0xaa }, 131,
	  "This is a test using a larger than block-size key and a larger than block-size data."
	  " The key needs to be hashed before being used by the HMAC algorithm.", 152,
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
	  "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5"
	  "a678cc31e799176d3860e6110c46523e",
	  "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
	  "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58", 0 },
};

START_TEST(prf_rfc4231)
{
	const struct rfc4231 *v = &rfc4231[_i];
	const uint16_t ids[3] = { PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512 };
	const char *want[3] = { v->sha256, v->sha384, v->sha512 };

	for (int k = 0; k < 3; k++) {
		uint8_t exp[64], out[64];
		size_t n = unhex(want[k], exp, sizeof(exp));
		size_t cmp = v->cmp_len ? v->cmp_len : prf_out_len(ids[k]);

		ck_assert_uint_eq(n, cmp);
		ck_assert_int_eq(prf(ids[k], v->key, v->klen, (const uint8_t *)v->data, v->dlen, out,
				     sizeof(out)), 0);
		ck_assert_msg(memcmp(out, exp, cmp) == 0, "RFC 4231 case %d, prf %u", _i + 1,
			      ids[k]);
	}
}
END_TEST

START_TEST(prf_chunks_equal_concatenation)
{
	const uint8_t key[] = "0123456789abcdef0123456789abcdef";
	const uint8_t data[] = "Ni-bytes..Nr-bytes..SPIi....SPIr....";
	struct prf_chunk c[4] = { { data, 10 }, { data + 10, 0 }, { data + 10, 10 }, { data + 20, 16 } };
	uint8_t a[64], b[64];

	ck_assert_int_eq(prf(PRF_HMAC_SHA2_384, key, 32, data, 36, a, sizeof(a)), 0);
	ck_assert_int_eq(prf_chunks(PRF_HMAC_SHA2_384, key, 32, c, 4, b, sizeof(b)), 0);
	ck_assert(memcmp(a, b, 48) == 0);
	/* Unknown PRF, short output buffer, too many chunks. */
	ck_assert_int_eq(prf(2, key, 32, data, 36, a, sizeof(a)), -1);
	ck_assert_int_eq(prf(PRF_HMAC_SHA2_512, key, 32, data, 36, a, 63), -1);
	ck_assert_int_eq(prf_chunks(PRF_HMAC_SHA2_256, key, 32, c, PRF_MAX_CHUNKS + 1, a, 64), -1);
}
END_TEST

START_TEST(prf_plus_matches_hand_computation)
{
	const uint16_t ids[3] = { PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512 };
	const size_t lens[] = { 1, 31, 32, 33, 64, 100, 392, 1000 };
	uint8_t key[48], seed[80], got[1000], want[1000];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(i ^ 0x5a);
	for (int k = 0; k < 3; k++) {
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			ck_assert_int_eq(prf_plus(ids[k], key, sizeof(key), seed, sizeof(seed), got,
						  lens[j]), 0);
			ref_prf_plus(ids[k], key, sizeof(key), seed, sizeof(seed), want, lens[j]);
			ck_assert_msg(memcmp(got, want, lens[j]) == 0, "prf %u len %zu", ids[k],
				      lens[j]);
		}
	}
}
END_TEST

START_TEST(prf_plus_first_blocks_explicit)
{
	/* T1 = prf(K, S | 0x01), T2 = prf(K, T1 | S | 0x02), spelled out. */
	const uint8_t key[] = "key key key key key key";
	const uint8_t s[] = "seed";
	uint8_t in[64 + 4 + 1], t1[32], t2[32], got[64];

	memcpy(in, s, 4);
	in[4] = 1;
	ref_hmac(PRF_HMAC_SHA2_256, key, 23, in, 5, t1);
	memcpy(in, t1, 32);
	memcpy(in + 32, s, 4);
	in[36] = 2;
	ref_hmac(PRF_HMAC_SHA2_256, key, 23, in, 37, t2);
	ck_assert_int_eq(prf_plus(PRF_HMAC_SHA2_256, key, 23, s, 4, got, 64), 0);
	ck_assert(memcmp(got, t1, 32) == 0);
	ck_assert(memcmp(got + 32, t2, 32) == 0);
}
END_TEST

START_TEST(prf_plus_limits)
{
	static uint8_t out[255 * 64 + 1];
	const uint8_t key[16] = { 1 }, s[16] = { 2 };

	ck_assert_int_eq(prf_plus(PRF_HMAC_SHA2_256, key, 16, s, 16, out, 255 * 32), 0);
	ck_assert_int_eq(prf_plus(PRF_HMAC_SHA2_256, key, 16, s, 16, out, 255 * 32 + 1), -1);
	ck_assert_int_eq(prf_plus(PRF_HMAC_SHA2_512, key, 16, s, 16, out, 255 * 64), 0);
	ck_assert_int_eq(prf_plus(PRF_HMAC_SHA2_512, key, 16, s, 16, out, 255 * 64 + 1), -1);
	ck_assert_int_eq(prf_plus(PRF_HMAC_SHA2_256, key, 16, s, 16, out, 0), -1);
	ck_assert_int_eq(prf_plus(0, key, 16, s, 16, out, 32), -1);
}
END_TEST

/* --- Keys: §2.14, §2.17, §2.18 ----------------------------------------- */

struct sa_input {
	uint8_t gir[256], ni[32], nr[48], spi_i[8], spi_r[8];
	size_t gir_len;
};

static void sa_input_fill(struct sa_input *in, size_t gir_len)
{
	for (size_t i = 0; i < sizeof(in->gir); i++)
		in->gir[i] = (uint8_t)(i * 13 + 5);
	for (size_t i = 0; i < sizeof(in->ni); i++)
		in->ni[i] = (uint8_t)(0x10 + i);
	for (size_t i = 0; i < sizeof(in->nr); i++)
		in->nr[i] = (uint8_t)(0x80 + i);
	for (size_t i = 0; i < 8; i++) {
		in->spi_i[i] = (uint8_t)(0xa0 + i);
		in->spi_r[i] = (uint8_t)(0xb0 + i);
	}
	in->gir_len = gir_len;
}

static int derive(struct ike_keys *k, const struct ike_algs *a, const struct sa_input *in)
{
	return ike_keys_derive(k, a, in->gir, in->gir_len, in->ni, sizeof(in->ni), in->nr,
			       sizeof(in->nr), in->spi_i, in->spi_r);
}

/* Check the seven keys against prf+(skeyseed, Ni | Nr | SPIi | SPIr) done by hand. */
static void check_split(const struct ike_keys *k, const struct sa_input *in,
			const uint8_t *skeyseed, size_t seed_len)
{
	uint8_t s[32 + 48 + 16], km[512];
	size_t off = 0, total = k->d_len + 2 * k->a_len + 2 * k->e_len + 2 * k->p_len;

	memcpy(s, in->ni, 32);
	memcpy(s + 32, in->nr, 48);
	memcpy(s + 80, in->spi_i, 8);
	memcpy(s + 88, in->spi_r, 8);
	ref_prf_plus(k->algs.prf, skeyseed, seed_len, s, sizeof(s), km, total);
	ck_assert(memcmp(k->sk_d, km + off, k->d_len) == 0);
	off += k->d_len;
	ck_assert(memcmp(k->sk_ai, km + off, k->a_len) == 0);
	off += k->a_len;
	ck_assert(memcmp(k->sk_ar, km + off, k->a_len) == 0);
	off += k->a_len;
	ck_assert(memcmp(k->sk_ei, km + off, k->e_len) == 0);
	off += k->e_len;
	ck_assert(memcmp(k->sk_er, km + off, k->e_len) == 0);
	off += k->e_len;
	ck_assert(memcmp(k->sk_pi, km + off, k->p_len) == 0);
	off += k->p_len;
	ck_assert(memcmp(k->sk_pr, km + off, k->p_len) == 0);
}

static const struct {
	struct ike_algs a;
	size_t d, ai, e;
} suites[] = {
	{ { ENCR_AES_GCM_16, 256, AUTH_NONE, PRF_HMAC_SHA2_256 }, 32, 0, 36 },
	{ { ENCR_AES_GCM_16, 128, AUTH_NONE, PRF_HMAC_SHA2_384 }, 48, 0, 20 },
	{ { ENCR_CHACHA20_POLY1305, 0, AUTH_NONE, PRF_HMAC_SHA2_512 }, 64, 0, 36 },
	{ { ENCR_AES_CBC, 128, AUTH_HMAC_SHA2_256_128, PRF_HMAC_SHA2_256 }, 32, 32, 16 },
	{ { ENCR_AES_CBC, 256, AUTH_HMAC_SHA2_512_256, PRF_HMAC_SHA2_384 }, 48, 64, 32 },
};

START_TEST(ike_keys_layout)
{
	const struct ike_algs *a = &suites[_i].a;
	uint8_t nn[80], skeyseed[64];
	struct sa_input in;
	struct ike_keys k;
	size_t n;

	sa_input_fill(&in, 256);
	ck_assert_int_eq(derive(&k, a, &in), 0);
	ck_assert_uint_eq(k.d_len, suites[_i].d);
	ck_assert_uint_eq(k.p_len, suites[_i].d);
	ck_assert_uint_eq(k.a_len, suites[_i].ai);
	ck_assert_uint_eq(k.e_len, suites[_i].e);
	/* SKEYSEED = prf(Ni | Nr, g^ir) */
	memcpy(nn, in.ni, 32);
	memcpy(nn + 32, in.nr, 48);
	n = ref_hmac(a->prf, nn, 80, in.gir, in.gir_len, skeyseed);
	check_split(&k, &in, skeyseed, n);
	ike_keys_clear(&k);
	for (size_t i = 0; i < sizeof(k); i++)
		ck_assert_uint_eq(((uint8_t *)&k)[i], 0);
}
END_TEST

START_TEST(ike_keys_every_input_matters)
{
	const struct ike_algs a = { ENCR_AES_CBC, 256, AUTH_HMAC_SHA2_256_128, PRF_HMAC_SHA2_256 };
	struct sa_input in;
	struct ike_keys base, k;
	uint8_t *fields[5];
	size_t lens[5];

	sa_input_fill(&in, 32);
	ck_assert_int_eq(derive(&base, &a, &in), 0);
	fields[0] = in.gir; lens[0] = in.gir_len;
	fields[1] = in.ni; lens[1] = sizeof(in.ni);
	fields[2] = in.nr; lens[2] = sizeof(in.nr);
	fields[3] = in.spi_i; lens[3] = 8;
	fields[4] = in.spi_r; lens[4] = 8;
	for (int f = 0; f < 5; f++) {
		/* First and last byte of each input. */
		for (int end = 0; end < 2; end++) {
			uint8_t *p = fields[f] + (end ? lens[f] - 1 : 0);

			*p ^= 0x01;
			ck_assert_int_eq(derive(&k, &a, &in), 0);
			*p ^= 0x01;
			ck_assert_msg(memcmp(k.sk_d, base.sk_d, 32) != 0, "SK_d, input %d", f);
			ck_assert_msg(memcmp(k.sk_ai, base.sk_ai, 32) != 0, "SK_ai, input %d", f);
			ck_assert_msg(memcmp(k.sk_ar, base.sk_ar, 32) != 0, "SK_ar, input %d", f);
			ck_assert_msg(memcmp(k.sk_ei, base.sk_ei, 32) != 0, "SK_ei, input %d", f);
			ck_assert_msg(memcmp(k.sk_er, base.sk_er, 32) != 0, "SK_er, input %d", f);
			ck_assert_msg(memcmp(k.sk_pi, base.sk_pi, 32) != 0, "SK_pi, input %d", f);
			ck_assert_msg(memcmp(k.sk_pr, base.sk_pr, 32) != 0, "SK_pr, input %d", f);
		}
	}
	/* The seven keys are distinct from one another. */
	ck_assert(memcmp(base.sk_ai, base.sk_ar, 32) != 0);
	ck_assert(memcmp(base.sk_ei, base.sk_er, 32) != 0);
	ck_assert(memcmp(base.sk_pi, base.sk_pr, 32) != 0);
	/* Nonce order matters too (Ni | Nr is not symmetric). */
	ck_assert_int_eq(ike_keys_derive(&k, &a, in.gir, in.gir_len, in.nr, 32, in.ni, 32,
					 in.spi_i, in.spi_r), 0);
	ck_assert(memcmp(k.sk_d, base.sk_d, 32) != 0);
}
END_TEST

START_TEST(ike_keys_bad_suites)
{
	static const struct ike_algs bad[] = {
		{ ENCR_AES_GCM_16, 256, AUTH_HMAC_SHA2_256_128, PRF_HMAC_SHA2_256 },
		{ ENCR_AES_GCM_16, 64, AUTH_NONE, PRF_HMAC_SHA2_256 },
		{ ENCR_CHACHA20_POLY1305, 128, AUTH_NONE, PRF_HMAC_SHA2_256 },
		{ ENCR_AES_CBC, 256, AUTH_NONE, PRF_HMAC_SHA2_256 },
		{ ENCR_AES_CBC, 0, AUTH_HMAC_SHA2_256_128, PRF_HMAC_SHA2_256 },
		{ ENCR_AES_CBC, 128, AUTH_HMAC_SHA2_256_128, 2 },
		{ 3, 128, AUTH_HMAC_SHA2_256_128, PRF_HMAC_SHA2_256 },
	};
	const struct ike_algs good = { ENCR_AES_GCM_16, 128, AUTH_NONE, PRF_HMAC_SHA2_256 };
	struct sa_input in;
	struct ike_keys k;

	sa_input_fill(&in, 32);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(derive(&k, &bad[i], &in), -1);
	/* Nonces of 15 and 257 bytes, an empty g^ir. */
	ck_assert_int_eq(ike_keys_derive(&k, &good, in.gir, 32, in.ni, 15, in.nr, 32, in.spi_i,
					 in.spi_r), -1);
	ck_assert_int_eq(ike_keys_derive(&k, &good, in.gir, 32, in.gir, 257, in.nr, 32, in.spi_i,
					 in.spi_r), -1);
	ck_assert_int_eq(ike_keys_derive(&k, &good, in.gir, 0, in.ni, 32, in.nr, 32, in.spi_i,
					 in.spi_r), -1);
}
END_TEST

START_TEST(ike_keys_rekey)
{
	/* Old SA with PRF SHA-256, new SA with PRF SHA-512: SKEYSEED must use the old one. */
	const struct ike_algs old_a = { ENCR_AES_GCM_16, 256, AUTH_NONE, PRF_HMAC_SHA2_256 };
	const struct ike_algs new_a = { ENCR_AES_CBC, 192, AUTH_HMAC_SHA2_384_192,
					PRF_HMAC_SHA2_512 };
	uint8_t in_buf[256 + 32 + 48], skeyseed[64];
	struct sa_input in;
	struct ike_keys old, k, k2;
	size_t n;

	sa_input_fill(&in, 32);
	ck_assert_int_eq(derive(&old, &old_a, &in), 0);
	in.gir_len = 256;
	in.gir[0] ^= 0xff;
	in.ni[3] ^= 0x55;
	ck_assert_int_eq(ike_keys_derive_rekey(&k, &new_a, &old, in.gir, in.gir_len, in.ni, 32,
					       in.nr, 48, in.spi_i, in.spi_r), 0);
	ck_assert_uint_eq(k.d_len, 64);
	ck_assert_uint_eq(k.a_len, 48);
	ck_assert_uint_eq(k.e_len, 24);
	/* SKEYSEED = prf_old(SK_d (old), g^ir (new) | Ni | Nr) */
	memcpy(in_buf, in.gir, 256);
	memcpy(in_buf + 256, in.ni, 32);
	memcpy(in_buf + 288, in.nr, 48);
	n = ref_hmac(PRF_HMAC_SHA2_256, old.sk_d, 32, in_buf, sizeof(in_buf), skeyseed);
	ck_assert_uint_eq(n, 32);
	check_split(&k, &in, skeyseed, n);
	/* A different old SK_d gives different keys. */
	old.sk_d[0] ^= 1;
	ck_assert_int_eq(ike_keys_derive_rekey(&k2, &new_a, &old, in.gir, in.gir_len, in.ni, 32,
					       in.nr, 48, in.spi_i, in.spi_r), 0);
	ck_assert(memcmp(k.sk_d, k2.sk_d, 64) != 0);
}
END_TEST

START_TEST(child_keys_layout)
{
	const struct ike_algs ike_a = { ENCR_AES_GCM_16, 256, AUTH_NONE, PRF_HMAC_SHA2_384 };
	const struct ike_algs esp_gcm = { ENCR_AES_GCM_16, 256, AUTH_NONE, 0 };
	const struct ike_algs esp_cbc = { ENCR_AES_CBC, 128, AUTH_HMAC_SHA2_256_128, 0 };
	uint8_t s[32 + 32 + 48], km[256];
	struct sa_input in;
	struct ike_keys k;
	struct child_keys ck, ck2;

	sa_input_fill(&in, 32);
	ck_assert_int_eq(derive(&k, &ike_a, &in), 0);

	/* No PFS: KEYMAT = prf+(SK_d, Ni | Nr); AEAD: key+salt per direction. */
	ck_assert_int_eq(child_keys_derive(&ck, &k, &esp_gcm, NULL, 0, in.ni, 32, in.nr, 48), 0);
	ck_assert_uint_eq(ck.e_len, 36);
	ck_assert_uint_eq(ck.a_len, 0);
	memcpy(s, in.ni, 32);
	memcpy(s + 32, in.nr, 48);
	ref_prf_plus(PRF_HMAC_SHA2_384, k.sk_d, 48, s, 80, km, 72);
	ck_assert(memcmp(ck.encr_i, km, 36) == 0);
	ck_assert(memcmp(ck.encr_r, km + 36, 36) == 0);

	/* PFS: KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr); encr_i | integ_i | encr_r | integ_r. */
	ck_assert_int_eq(child_keys_derive(&ck2, &k, &esp_cbc, in.gir, 32, in.ni, 32, in.nr, 48),
			 0);
	ck_assert_uint_eq(ck2.e_len, 16);
	ck_assert_uint_eq(ck2.a_len, 32);
	memcpy(s, in.gir, 32);
	memcpy(s + 32, in.ni, 32);
	memcpy(s + 64, in.nr, 48);
	ref_prf_plus(PRF_HMAC_SHA2_384, k.sk_d, 48, s, 112, km, 96);
	ck_assert(memcmp(ck2.encr_i, km, 16) == 0);
	ck_assert(memcmp(ck2.integ_i, km + 16, 32) == 0);
	ck_assert(memcmp(ck2.encr_r, km + 48, 16) == 0);
	ck_assert(memcmp(ck2.integ_r, km + 64, 32) == 0);

	/* Bad: AEAD with integrity, short nonce, g^ir length without pointer. */
	ck_assert_int_eq(child_keys_derive(&ck, &k, &(struct ike_algs){ ENCR_AES_GCM_16, 128,
			 AUTH_HMAC_SHA2_256_128, 0 }, NULL, 0, in.ni, 32, in.nr, 48), -1);
	ck_assert_int_eq(child_keys_derive(&ck, &k, &esp_gcm, NULL, 0, in.ni, 8, in.nr, 48), -1);
	ck_assert_int_eq(child_keys_derive(&ck, &k, &esp_gcm, NULL, 32, in.ni, 32, in.nr, 48), -1);
	child_keys_clear(&ck2);
	for (size_t i = 0; i < sizeof(ck2); i++)
		ck_assert_uint_eq(((uint8_t *)&ck2)[i], 0);
}
END_TEST

/* --- PSK AUTH: §2.15 --------------------------------------------------- */

START_TEST(psk_auth_independent)
{
	const uint16_t prf_id = _i == 0 ? PRF_HMAC_SHA2_256 : PRF_HMAC_SHA2_512;
	const char psk[] = "correct horse battery staple";
	uint8_t msg1[300], nr[32], idi[4 + 15], sk_pi[64];
	uint8_t key[64], maced[64], so[300 + 32 + 64], want[64], got[64], octets[512];
	struct auth_octets o;
	size_t n, glen, olen;

	for (size_t i = 0; i < sizeof(msg1); i++)
		msg1[i] = (uint8_t)(i * 3);
	for (size_t i = 0; i < sizeof(nr); i++)
		nr[i] = (uint8_t)(0xf0 ^ i);
	for (size_t i = 0; i < sizeof(sk_pi); i++)
		sk_pi[i] = (uint8_t)(i + 100);
	idi[0] = ID_FQDN;
	idi[1] = idi[2] = idi[3] = 0;
	memcpy(idi + 4, "vpn.example.org", 15);
	o = (struct auth_octets){ msg1, sizeof(msg1), nr, sizeof(nr), idi, sizeof(idi) };
	n = prf_out_len(prf_id);

	/* By hand: prf(prf(PSK, "Key Pad for IKEv2"), msg1 | Nr | prf(SK_pi, IDi')). */
	ref_hmac(prf_id, (const uint8_t *)psk, strlen(psk), (const uint8_t *)"Key Pad for IKEv2",
		 17, key);
	ref_hmac(prf_id, sk_pi, n, idi, sizeof(idi), maced);
	memcpy(so, msg1, sizeof(msg1));
	memcpy(so + sizeof(msg1), nr, sizeof(nr));
	memcpy(so + sizeof(msg1) + sizeof(nr), maced, n);
	ref_hmac(prf_id, key, n, so, sizeof(msg1) + sizeof(nr) + n, want);

	ck_assert_int_eq(auth_psk_compute(prf_id, (const uint8_t *)psk, strlen(psk), sk_pi, n, &o,
					  got, sizeof(got), &glen), 0);
	ck_assert_uint_eq(glen, n);
	ck_assert(memcmp(got, want, n) == 0);
	ck_assert_int_eq(auth_signed_octets(prf_id, sk_pi, n, &o, octets, sizeof(octets), &olen),
			 0);
	ck_assert_uint_eq(olen, sizeof(msg1) + sizeof(nr) + n);
	ck_assert(memcmp(octets, so, olen) == 0);
	ck_assert_int_eq(auth_signed_octets(prf_id, sk_pi, n, &o, octets, olen - 1, &olen), -1);

	ck_assert_int_eq(auth_psk_verify(prf_id, (const uint8_t *)psk, strlen(psk), sk_pi, n, &o,
					 want, n), 0);
	ck_assert_int_eq(auth_psk_verify(prf_id, (const uint8_t *)psk, strlen(psk), sk_pi, n, &o,
					 want, n - 1), -1);
	want[n - 1] ^= 1;
	ck_assert_int_eq(auth_psk_verify(prf_id, (const uint8_t *)psk, strlen(psk), sk_pi, n, &o,
					 want, n), -1);
	want[n - 1] ^= 1;
	ck_assert_int_eq(auth_psk_verify(prf_id, (const uint8_t *)psk, strlen(psk) - 1, sk_pi, n,
					 &o, want, n), -1);
	msg1[100] ^= 1;
	ck_assert_int_eq(auth_psk_verify(prf_id, (const uint8_t *)psk, strlen(psk), sk_pi, n, &o,
					 want, n), -1);
	msg1[100] ^= 1;
	idi[4] ^= 1;
	ck_assert_int_eq(auth_psk_verify(prf_id, (const uint8_t *)psk, strlen(psk), sk_pi, n, &o,
					 want, n), -1);
	idi[4] ^= 1;
	/* An empty PSK is refused outright. */
	ck_assert_int_eq(auth_psk_compute(prf_id, (const uint8_t *)psk, 0, sk_pi, n, &o, got,
					  sizeof(got), &glen), -1);
}
END_TEST

START_TEST(psk_auth_sides)
{
	const struct ike_algs a = { ENCR_AES_GCM_16, 256, AUTH_NONE, PRF_HMAC_SHA2_256 };
	struct sa_input in;
	struct ike_keys k;
	const uint8_t *p;
	size_t plen;

	sa_input_fill(&in, 32);
	ck_assert_int_eq(derive(&k, &a, &in), 0);
	auth_sk_p(&k, true, &p, &plen);
	ck_assert_ptr_eq(p, k.sk_pi);
	ck_assert_uint_eq(plen, 32);
	auth_sk_p(&k, false, &p, &plen);
	ck_assert_ptr_eq(p, k.sk_pr);
}
END_TEST

static Suite *ike_crypto_suite(void)
{
	Suite *s = suite_create("ike_crypto");
	TCase *tp = tcase_create("prf");
	TCase *tk = tcase_create("keys");
	TCase *ta = tcase_create("auth");

	tcase_add_loop_test(tp, prf_rfc4231, 0, (int)(sizeof(rfc4231) / sizeof(rfc4231[0])));
	tcase_add_test(tp, prf_chunks_equal_concatenation);
	tcase_add_test(tp, prf_plus_matches_hand_computation);
	tcase_add_test(tp, prf_plus_first_blocks_explicit);
	tcase_add_test(tp, prf_plus_limits);
	tcase_add_loop_test(tk, ike_keys_layout, 0, (int)(sizeof(suites) / sizeof(suites[0])));
	tcase_add_test(tk, ike_keys_every_input_matters);
	tcase_add_test(tk, ike_keys_bad_suites);
	tcase_add_test(tk, ike_keys_rekey);
	tcase_add_test(tk, child_keys_layout);
	tcase_add_loop_test(ta, psk_auth_independent, 0, 2);
	tcase_add_test(ta, psk_auth_sides);
	suite_add_tcase(s, tp);
	suite_add_tcase(s, tk);
	suite_add_tcase(s, ta);
	return s;
}

CHECK_MAIN(ike_crypto_suite)
