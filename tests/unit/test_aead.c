/*
 * util/aead against published vectors: RFC 8439 §2.8.2 (ChaCha20-Poly1305,
 * whose 12-byte nonce 07000000 || 4041..47 is exactly salt || IV as
 * RFC 7634 builds it) and the McGrew-Viega GCM specification test cases
 * with a 96-bit IV (2-4 for AES-128, 13-16 for AES-256; 17 and 18 use
 * 64-bit and 480-bit IVs, which IKE/ESP cannot express).
 */
#include <string.h>

#include "tests/unit/check_main.h"
#include "tests/unit/testutil.h"
#include "util/aead.h"

struct vec {
	const char *name;
	enum aead_alg alg;
	const char *key;	/* key || salt */
	const char *iv;
	const char *aad;
	const char *pt;
	const char *ct;
	const char *tag;
};

#define GCM_K1 "feffe9928665731c6d6a8f9467308308"
#define GCM_P64 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
		"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
#define GCM_P60 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
		"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define GCM_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define Z16 "00000000000000000000000000000000"

static const struct vec vecs[] = {
	{ "RFC 8439 2.8.2", AEAD_CHACHA20_POLY1305,
	  "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f" "07000000",
	  "4041424344454647", "50515253c0c1c2c3c4c5c6c7",
	  /* "Ladies and Gentlemen of the class of '99: If I could offer you only one tip
	   *  for the future, sunscreen would be it." */
	  "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a"
	  "204966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f722074"
	  "6865206675747572652c2073756e73637265656e20776f756c642062652069742e",
	  "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca96712"
	  "82fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58"
	  "fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
	  "1ae10b594f09e26a7e902ecbd0600691" },
	{ "GCM TC2", AEAD_AES_GCM_16, Z16 "00000000", "0000000000000000", "", Z16,
	  "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf" },
	{ "GCM TC3", AEAD_AES_GCM_16, GCM_K1 "cafebabe", "facedbaddecaf888", "", GCM_P64,
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
	  "4d5c2af327cd64a62cf35abd2ba6fab4" },
	{ "GCM TC4", AEAD_AES_GCM_16, GCM_K1 "cafebabe", "facedbaddecaf888", GCM_AAD, GCM_P60,
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
	  "5bc94fbc3221a5db94fae95ae7121a47" },
	{ "GCM TC13", AEAD_AES_GCM_16, Z16 Z16 "00000000", "0000000000000000", "", "", "",
	  "530f8afbc74536b9a963b4f1c4cb738b" },
	{ "GCM TC14", AEAD_AES_GCM_16, Z16 Z16 "00000000", "0000000000000000", "", Z16,
	  "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919" },
	{ "GCM TC15", AEAD_AES_GCM_16, GCM_K1 GCM_K1 "cafebabe", "facedbaddecaf888", "", GCM_P64,
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	  "b094dac5d93471bdec1a502270e3cc6c" },
	{ "GCM TC16", AEAD_AES_GCM_16, GCM_K1 GCM_K1 "cafebabe", "facedbaddecaf888", GCM_AAD,
	  GCM_P60,
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
};

struct parsed {
	uint8_t key[64], iv[8], aad[64], pt[128], ct[128], tag[16];
	size_t key_len, aad_len, pt_len, ct_len;
};

static void parse(const struct vec *v, struct parsed *p)
{
	p->key_len = unhex(v->key, p->key, sizeof(p->key));
	ck_assert_uint_eq(unhex(v->iv, p->iv, sizeof(p->iv)), AEAD_IV_LEN);
	p->aad_len = unhex(v->aad, p->aad, sizeof(p->aad));
	p->pt_len = unhex(v->pt, p->pt, sizeof(p->pt));
	p->ct_len = unhex(v->ct, p->ct, sizeof(p->ct));
	ck_assert_uint_eq(unhex(v->tag, p->tag, sizeof(p->tag)), AEAD_ICV_LEN);
	ck_assert_uint_eq(p->pt_len, p->ct_len);
}

START_TEST(vector_seal)
{
	const struct vec *v = &vecs[_i];
	uint8_t out[128], tag[16];
	struct parsed p;
	struct aead a;

	parse(v, &p);
	ck_assert_int_eq(aead_init(&a, v->alg, true, p.key, p.key_len), 0);
	/* Twice on one context: the reused EVP context must not carry state over. */
	for (int round = 0; round < 2; round++) {
		memset(out, 0xee, sizeof(out));
		ck_assert_int_eq(aead_seal(&a, p.iv, p.aad, p.aad_len, p.pt, p.pt_len, out, tag), 0);
		ck_assert_msg(memcmp(out, p.ct, p.ct_len) == 0, "%s: ciphertext", v->name);
		ck_assert_msg(memcmp(tag, p.tag, 16) == 0, "%s: tag", v->name);
	}
	aead_free(&a);
}
END_TEST

START_TEST(vector_open)
{
	const struct vec *v = &vecs[_i];
	uint8_t out[128], tag[16];
	struct parsed p;
	struct aead a;

	parse(v, &p);
	ck_assert_int_eq(aead_init(&a, v->alg, false, p.key, p.key_len), 0);
	ck_assert_int_eq(aead_open(&a, p.iv, p.aad, p.aad_len, p.ct, p.ct_len, out, p.tag), 0);
	ck_assert_msg(memcmp(out, p.pt, p.pt_len) == 0, "%s: plaintext", v->name);
	/* Any flipped tag, ciphertext, AAD or IV bit is refused, and the context still works. */
	memcpy(tag, p.tag, 16);
	tag[15] ^= 1;
	ck_assert_int_eq(aead_open(&a, p.iv, p.aad, p.aad_len, p.ct, p.ct_len, out, tag), -1);
	if (p.ct_len) {
		p.ct[0] ^= 0x80;
		ck_assert_int_eq(aead_open(&a, p.iv, p.aad, p.aad_len, p.ct, p.ct_len, out, p.tag), -1);
		p.ct[0] ^= 0x80;
	}
	if (p.aad_len) {
		p.aad[p.aad_len - 1] ^= 1;
		ck_assert_int_eq(aead_open(&a, p.iv, p.aad, p.aad_len, p.ct, p.ct_len, out, p.tag), -1);
		p.aad[p.aad_len - 1] ^= 1;
	}
	p.iv[7] ^= 1;
	ck_assert_int_eq(aead_open(&a, p.iv, p.aad, p.aad_len, p.ct, p.ct_len, out, p.tag), -1);
	p.iv[7] ^= 1;
	ck_assert_int_eq(aead_open(&a, p.iv, p.aad, p.aad_len, p.ct, p.ct_len, out, p.tag), 0);
	aead_free(&a);
}
END_TEST

START_TEST(in_place_and_direction)
{
	const struct vec *v = &vecs[0];
	uint8_t buf[128], tag[16];
	struct parsed p;
	struct aead enc, dec;

	parse(v, &p);
	ck_assert_int_eq(aead_init(&enc, v->alg, true, p.key, p.key_len), 0);
	ck_assert_int_eq(aead_init(&dec, v->alg, false, p.key, p.key_len), 0);
	memcpy(buf, p.pt, p.pt_len);
	ck_assert_int_eq(aead_seal(&enc, p.iv, p.aad, p.aad_len, buf, p.pt_len, buf, tag), 0);
	ck_assert(memcmp(buf, p.ct, p.ct_len) == 0);
	ck_assert_int_eq(aead_open(&dec, p.iv, p.aad, p.aad_len, buf, p.ct_len, buf, tag), 0);
	ck_assert(memcmp(buf, p.pt, p.pt_len) == 0);
	/* A context only works in the direction it was made for. */
	ck_assert_int_eq(aead_open(&enc, p.iv, p.aad, p.aad_len, p.ct, p.ct_len, buf, p.tag), -1);
	ck_assert_int_eq(aead_seal(&dec, p.iv, p.aad, p.aad_len, p.pt, p.pt_len, buf, tag), -1);
	aead_free(&enc);
	aead_free(&dec);
}
END_TEST

START_TEST(bad_key_lengths)
{
	uint8_t key[40] = { 0 };
	struct aead a;
	static const size_t bad_gcm[] = { 0, 4, 16, 19, 21, 27, 29, 35, 37, 40 };
	static const size_t bad_chacha[] = { 0, 4, 20, 28, 32, 35, 37 };

	for (size_t i = 0; i < sizeof(bad_gcm) / sizeof(bad_gcm[0]); i++)
		ck_assert_int_eq(aead_init(&a, AEAD_AES_GCM_16, true, key, bad_gcm[i]), -1);
	for (size_t i = 0; i < sizeof(bad_chacha) / sizeof(bad_chacha[0]); i++)
		ck_assert_int_eq(aead_init(&a, AEAD_CHACHA20_POLY1305, true, key, bad_chacha[i]), -1);
	ck_assert_int_eq(aead_init(&a, AEAD_AES_GCM_16, true, key, 24 + 4), 0);
	aead_free(&a);
}
END_TEST

static Suite *aead_suite(void)
{
	Suite *s = suite_create("aead");
	TCase *tc = tcase_create("vectors");
	int n = (int)(sizeof(vecs) / sizeof(vecs[0]));

	tcase_add_loop_test(tc, vector_seal, 0, n);
	tcase_add_loop_test(tc, vector_open, 0, n);
	tcase_add_test(tc, in_place_and_direction);
	tcase_add_test(tc, bad_key_lengths);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(aead_suite)
