/*
 * ike/sk: the SK payload (RFC 7296 §3.14, RFC 5282, RFC 7634).
 *
 * A reference builder here lays out and protects messages with EVP and
 * HMAC() directly (not util/aead, not ike/sk), so that sk_encrypt output is
 * checked byte for byte and sk_decrypt is fed messages it did not make:
 * outer payloads before SK, bad pad lengths under a valid ICV, ciphertext
 * not a block multiple. Then round trips, every single-bit flip, every
 * truncation, and bad offsets must all behave.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ike/ikev2.h"
#include "ike/keys.h"
#include "ike/sk.h"
#include "tests/unit/check_main.h"
#include "util/buf.h"

struct cfg {
	const char *name;
	uint16_t encr;
	size_t eklen;		/* AEAD: key + salt */
	uint16_t integ;
	size_t aklen;
};

static const struct cfg cfgs[] = {
	{ "aes-gcm-16-128", ENCR_AES_GCM_16, 16 + 4, AUTH_NONE, 0 },
	{ "aes-gcm-16-256", ENCR_AES_GCM_16, 32 + 4, AUTH_NONE, 0 },
	{ "chacha20-poly1305", ENCR_CHACHA20_POLY1305, 32 + 4, AUTH_NONE, 0 },
	{ "aes-cbc-128/sha256-128", ENCR_AES_CBC, 16, AUTH_HMAC_SHA2_256_128, 32 },
	{ "aes-cbc-256/sha256-128", ENCR_AES_CBC, 32, AUTH_HMAC_SHA2_256_128, 32 },
	{ "aes-cbc-256/sha512-256", ENCR_AES_CBC, 32, AUTH_HMAC_SHA2_512_256, 64 },
};
#define NCFG ((int)(sizeof(cfgs) / sizeof(cfgs[0])))

static bool is_aead(const struct cfg *c)
{
	return c->encr != ENCR_AES_CBC;
}

static size_t iv_len(const struct cfg *c)
{
	return is_aead(c) ? 8 : 16;
}

static size_t icv_len(const struct cfg *c)
{
	if (is_aead(c))
		return 16;
	return c->integ == AUTH_HMAC_SHA2_512_256 ? 32 : 16;
}

static void keys_for(const struct cfg *c, uint8_t ek[36], uint8_t ak[64])
{
	for (int i = 0; i < 36; i++)
		ek[i] = (uint8_t)(0x40 + i * 3);
	for (int i = 0; i < 64; i++)
		ak[i] = (uint8_t)(0x90 ^ i);
}

static void open_pair(const struct cfg *c, struct sk_dir *out, struct sk_dir *in)
{
	uint8_t ek[36], ak[64];

	keys_for(c, ek, ak);
	ck_assert_int_eq(sk_init(out, true, c->encr, ek, c->eklen, c->integ,
				 c->aklen ? ak : NULL, c->aklen), 0);
	ck_assert_int_eq(sk_init(in, false, c->encr, ek, c->eklen, c->integ,
				 c->aklen ? ak : NULL, c->aklen), 0);
}

static void sample_hdr(uint8_t hdr[IKE_HDR_LEN])
{
	static const uint8_t h[IKE_HDR_LEN] = {
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,	/* SPIi */
		0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,	/* SPIr */
		0x00, IKE_VERSION, IKE_AUTH, IKE_FLAG_INITIATOR,
		0x00, 0x00, 0x00, 0x01,				/* message ID 1 */
		0xde, 0xad, 0xbe, 0xef,				/* length: overwritten */
	};
	memcpy(hdr, h, IKE_HDR_LEN);
}

static void sample_plain(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 5 + 3);
}

/*
 * Reference protection. prefix = IKE header + any outer payloads (the
 * caller sets its Next Payload chain to SK); the SK payload follows with
 * body iv | E(inner | pad zero bytes | padlen_byte) | ICV.
 */
static size_t ref_build(const struct cfg *c, const uint8_t *prefix, size_t prefix_len,
			uint8_t first_np, const uint8_t *inner, size_t ilen, size_t pad,
			uint8_t padlen_byte, const uint8_t *iv, uint8_t *out)
{
	uint8_t ek[36], ak[64], nonce[12], full[64];
	size_t ct_len = ilen + pad + 1, sk_len = 4 + iv_len(c) + ct_len + icv_len(c);
	size_t total = prefix_len + sk_len, klen;
	uint8_t *ct = out + prefix_len + 4 + iv_len(c);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	const EVP_CIPHER *cipher;
	int l1 = 0, l2 = 0;
	unsigned int ml = 0;

	keys_for(c, ek, ak);
	memcpy(out, prefix, prefix_len);
	put_be32(out + 24, (uint32_t)total);
	out[prefix_len] = first_np;
	out[prefix_len + 1] = 0;
	put_be16(out + prefix_len + 2, (uint16_t)sk_len);
	memcpy(out + prefix_len + 4, iv, iv_len(c));
	memcpy(ct, inner, ilen);
	memset(ct + ilen, 0, pad);
	ct[ct_len - 1] = padlen_byte;
	ck_assert_ptr_nonnull(x);
	if (is_aead(c)) {
		klen = c->eklen - 4;
		cipher = c->encr == ENCR_CHACHA20_POLY1305 ? EVP_chacha20_poly1305() :
			 klen == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
		memcpy(nonce, ek + klen, 4);
		memcpy(nonce + 4, iv, 8);
		ck_assert_int_eq(EVP_EncryptInit_ex(x, cipher, NULL, ek, nonce), 1);
		ck_assert_int_eq(EVP_EncryptUpdate(x, NULL, &l1, out, (int)prefix_len + 4), 1);
		ck_assert_int_eq(EVP_EncryptUpdate(x, ct, &l1, ct, (int)ct_len), 1);
		ck_assert_int_eq(EVP_EncryptFinal_ex(x, ct + l1, &l2), 1);
		ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, ct + ct_len), 1);
	} else {
		cipher = c->eklen == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
		ck_assert_int_eq(EVP_EncryptInit_ex(x, cipher, NULL, ek, iv), 1);
		EVP_CIPHER_CTX_set_padding(x, 0);
		ck_assert_int_eq(EVP_EncryptUpdate(x, ct, &l1, ct, (int)ct_len), 1);
		ck_assert_int_eq(EVP_EncryptFinal_ex(x, ct + l1, &l2), 1);
		ck_assert_ptr_nonnull(HMAC(c->integ == AUTH_HMAC_SHA2_512_256 ? EVP_sha512() :
					   EVP_sha256(), ak, (int)c->aklen, out,
					   total - icv_len(c), full, &ml));
		memcpy(out + total - icv_len(c), full, icv_len(c));
	}
	EVP_CIPHER_CTX_free(x);
	return total;
}

START_TEST(round_trip_all_lengths)
{
	const struct cfg *c = &cfgs[_i];
	uint8_t hdr[IKE_HDR_LEN], plain[300], msg[512], back[512], np = 0;
	struct sk_dir out, in;
	size_t len, plen;

	open_pair(c, &out, &in);
	sample_hdr(hdr);
	sample_plain(plain, sizeof(plain));
	for (size_t n = 0; n <= sizeof(plain); n += (n < 40 ? 1 : 37)) {
		ck_assert_int_eq(sk_encrypt(&out, hdr, PL_IDi, plain, n, msg, sizeof(msg), &len), 0);
		ck_assert_uint_eq(len, sk_message_len(&out, n));
		/* Header copied, Next Payload = SK, Length = total. */
		ck_assert(memcmp(msg, hdr, 16) == 0);
		ck_assert_uint_eq(msg[16], PL_SK);
		ck_assert(memcmp(msg + 17, hdr + 17, 7) == 0);
		ck_assert_uint_eq(get_be32(msg + 24), len);
		ck_assert_uint_eq(msg[28], PL_IDi);
		ck_assert_uint_eq(get_be16(msg + 30), len - IKE_HDR_LEN);
		if (!is_aead(c))
			ck_assert_uint_eq((len - 32 - 16 - icv_len(c)) % 16, 0);
		else
			ck_assert_uint_eq(len, 28 + 4 + 8 + n + 1 + 16);	/* no padding */
		memset(back, 0, sizeof(back));
		ck_assert_int_eq(sk_decrypt(&in, msg, len, IKE_HDR_LEN, back, sizeof(back), &plen,
					    &np), 0);
		ck_assert_uint_eq(plen, n);
		ck_assert_uint_eq(np, PL_IDi);
		ck_assert(memcmp(back, plain, n) == 0);
	}
	sk_dir_free(&out);
	sk_dir_free(&in);
}
END_TEST

START_TEST(matches_reference_builder)
{
	const struct cfg *c = &cfgs[_i];
	uint8_t hdr[IKE_HDR_LEN], plain[77], msg[256], ref[256];
	struct sk_dir out, in;
	size_t len, rlen, pad;

	open_pair(c, &out, &in);
	sample_hdr(hdr);
	hdr[16] = PL_SK;
	sample_plain(plain, sizeof(plain));
	ck_assert_int_eq(sk_encrypt(&out, hdr, PL_NOTIFY, plain, sizeof(plain), msg, sizeof(msg),
				    &len), 0);
	pad = is_aead(c) ? 0 : (16 - (sizeof(plain) + 1) % 16) % 16;
	rlen = ref_build(c, hdr, IKE_HDR_LEN, PL_NOTIFY, plain, sizeof(plain), pad, (uint8_t)pad,
			 msg + 32, ref);
	ck_assert_uint_eq(rlen, len);
	ck_assert_msg(memcmp(ref, msg, len) == 0, "%s: differs from the reference", c->name);
	sk_dir_free(&out);
	sk_dir_free(&in);
}
END_TEST

START_TEST(ivs_unique)
{
	const struct cfg *c = &cfgs[_i];
	uint8_t hdr[IKE_HDR_LEN], plain[20], m1[128], m2[128];
	struct sk_dir out, in;
	size_t l1, l2;

	open_pair(c, &out, &in);
	sample_hdr(hdr);
	sample_plain(plain, sizeof(plain));
	ck_assert_int_eq(sk_encrypt(&out, hdr, PL_AUTH, plain, 20, m1, sizeof(m1), &l1), 0);
	ck_assert_int_eq(sk_encrypt(&out, hdr, PL_AUTH, plain, 20, m2, sizeof(m2), &l2), 0);
	ck_assert_uint_eq(l1, l2);
	ck_assert(memcmp(m1 + 32, m2 + 32, iv_len(c)) != 0);
	ck_assert(memcmp(m1 + 32 + iv_len(c), m2 + 32 + iv_len(c), 16) != 0);
	if (is_aead(c)) {
		/* A counter: the second IV is the first plus one. */
		uint64_t a = (uint64_t)get_be32(m1 + 32) << 32 | get_be32(m1 + 36);
		uint64_t b = (uint64_t)get_be32(m2 + 32) << 32 | get_be32(m2 + 36);

		ck_assert(b == a + 1);
	}
	sk_dir_free(&out);
	sk_dir_free(&in);
}
END_TEST

START_TEST(every_bit_flip_fails)
{
	const struct cfg *c = &cfgs[_i];
	uint8_t hdr[IKE_HDR_LEN], plain[45], msg[256], back[256], np;
	struct sk_dir out, in;
	size_t len, plen;

	open_pair(c, &out, &in);
	sample_hdr(hdr);
	sample_plain(plain, sizeof(plain));
	ck_assert_int_eq(sk_encrypt(&out, hdr, PL_SA, plain, sizeof(plain), msg, sizeof(msg),
				    &len), 0);
	for (size_t bit = 0; bit < len * 8; bit++) {
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_msg(sk_decrypt(&in, msg, len, IKE_HDR_LEN, back, sizeof(back), &plen,
					 &np) == -1, "%s: flip of bit %zu accepted", c->name, bit);
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	ck_assert_int_eq(sk_decrypt(&in, msg, len, IKE_HDR_LEN, back, sizeof(back), &plen, &np),
			 0);
	sk_dir_free(&out);
	sk_dir_free(&in);
}
END_TEST

START_TEST(every_truncation_fails)
{
	const struct cfg *c = &cfgs[_i];
	uint8_t hdr[IKE_HDR_LEN], plain[40], msg[256], back[256], np;
	struct sk_dir out, in;
	size_t len, plen;

	open_pair(c, &out, &in);
	sample_hdr(hdr);
	sample_plain(plain, sizeof(plain));
	ck_assert_int_eq(sk_encrypt(&out, hdr, PL_SA, plain, sizeof(plain), msg, sizeof(msg),
				    &len), 0);
	for (size_t n = 0; n < len; n++) {
		/* A heap copy of exactly n bytes, so ASan sees any overread. */
		uint8_t *t = malloc(n ? n : 1);

		ck_assert_ptr_nonnull(t);
		memcpy(t, msg, n);
		ck_assert_int_eq(sk_decrypt(&in, t, n, IKE_HDR_LEN, back, sizeof(back), &plen, &np),
				 -1);
		/* Also with both length fields patched to match the truncation. */
		if (n >= 32) {
			put_be32(t + 24, (uint32_t)n);
			put_be16(t + 30, (uint16_t)(n - 28));
			ck_assert_int_eq(sk_decrypt(&in, t, n, IKE_HDR_LEN, back, sizeof(back),
						    &plen, &np), -1);
		}
		free(t);
	}
	sk_dir_free(&out);
	sk_dir_free(&in);
}
END_TEST

START_TEST(bad_offsets_and_buffers)
{
	const struct cfg *c = &cfgs[_i];
	uint8_t hdr[IKE_HDR_LEN], plain[40], msg[256], back[256], np;
	struct sk_dir out, in;
	size_t len, plen;

	open_pair(c, &out, &in);
	sample_hdr(hdr);
	sample_plain(plain, sizeof(plain));
	ck_assert_int_eq(sk_encrypt(&out, hdr, PL_SA, plain, sizeof(plain), msg, sizeof(msg),
				    &len), 0);
	for (size_t off = 0; off <= len + 2; off++) {
		if (off == IKE_HDR_LEN)
			continue;
		ck_assert_int_eq(sk_decrypt(&in, msg, len, off, back, sizeof(back), &plen, &np), -1);
	}
	ck_assert_int_eq(sk_decrypt(&in, msg, len, (size_t)-1, back, sizeof(back), &plen, &np), -1);
	/* Output room for the whole ciphertext is required. */
	ck_assert_int_eq(sk_decrypt(&in, msg, len, IKE_HDR_LEN, back, 10, &plen, &np), -1);
	ck_assert_int_eq(sk_decrypt(&in, NULL, len, IKE_HDR_LEN, back, sizeof(back), &plen, &np),
			 -1);
	/* Wrong direction, and too small an output buffer for sk_encrypt. */
	ck_assert_int_eq(sk_decrypt(&out, msg, len, IKE_HDR_LEN, back, sizeof(back), &plen, &np),
			 -1);
	ck_assert_int_eq(sk_encrypt(&in, hdr, PL_SA, plain, 40, msg, sizeof(msg), &len), -1);
	ck_assert_int_eq(sk_encrypt(&out, hdr, PL_SA, plain, 40, msg, sk_message_len(&out, 40) - 1,
				    &len), -1);
	/* Inner payloads too long for the 16-bit SK payload length. */
	ck_assert_uint_eq(sk_message_len(&out, 65535), 0);
	sk_dir_free(&out);
	sk_dir_free(&in);
}
END_TEST

/* Outer payloads before SK are covered by the ICV (AAD / HMAC). */
START_TEST(outer_payload_before_sk)
{
	const struct cfg *c = &cfgs[_i];
	uint8_t prefix[IKE_HDR_LEN + 8], iv[16], plain[33], msg[256], back[256], np;
	struct sk_dir out, in;
	size_t len, plen;

	open_pair(c, &out, &in);
	sample_hdr(prefix);
	prefix[16] = PL_VENDOR;
	/* Vendor ID payload: next = SK, length 8, 4 bytes of data. */
	memcpy(prefix + 28, (const uint8_t[]){ PL_SK, 0, 0, 8, 'v', 'i', 'd', '!' }, 8);
	memset(iv, 0x5c, sizeof(iv));
	sample_plain(plain, sizeof(plain));
	len = ref_build(c, prefix, sizeof(prefix), PL_TSi, plain, sizeof(plain),
			is_aead(c) ? 3 : 14, is_aead(c) ? 3 : 14, iv, msg);
	ck_assert_int_eq(sk_decrypt(&in, msg, len, sizeof(prefix), back, sizeof(back), &plen, &np),
			 0);
	ck_assert_uint_eq(np, PL_TSi);
	ck_assert_uint_eq(plen, sizeof(plain));
	ck_assert(memcmp(back, plain, plen) == 0);
	/* The outer payload is authenticated. */
	msg[IKE_HDR_LEN + 5] ^= 1;
	ck_assert_int_eq(sk_decrypt(&in, msg, len, sizeof(prefix), back, sizeof(back), &plen, &np),
			 -1);
	sk_dir_free(&out);
	sk_dir_free(&in);
}
END_TEST

/* A valid ICV over a pad length that claims more than the plaintext holds. */
START_TEST(bad_pad_length_under_valid_icv)
{
	const struct cfg *c = &cfgs[_i];
	uint8_t hdr[IKE_HDR_LEN], iv[16], plain[15], msg[256], back[256], np;
	struct sk_dir out, in;
	size_t len, plen;

	open_pair(c, &out, &in);
	sample_hdr(hdr);
	hdr[16] = PL_SK;
	memset(iv, 0xa5, sizeof(iv));
	sample_plain(plain, sizeof(plain));
	/* ct = 15 + 0 + 1 = 16 bytes; pad length 16 > 15. */
	len = ref_build(c, hdr, IKE_HDR_LEN, PL_SA, plain, sizeof(plain), 0, 16, iv, msg);
	memset(back, 0x77, sizeof(back));
	ck_assert_int_eq(sk_decrypt(&in, msg, len, IKE_HDR_LEN, back, sizeof(back), &plen, &np), -1);
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(back[i], 0);	/* decrypted bytes wiped */
	/* Pad length 15 (= everything before it is padding) is valid: empty chain. */
	len = ref_build(c, hdr, IKE_HDR_LEN, PL_NONE, plain, 0, 15, 15, iv, msg);
	ck_assert_int_eq(sk_decrypt(&in, msg, len, IKE_HDR_LEN, back, sizeof(back), &plen, &np), 0);
	ck_assert_uint_eq(plen, 0);
	/* Pad length 255 on a 16-byte ciphertext. */
	len = ref_build(c, hdr, IKE_HDR_LEN, PL_SA, plain, sizeof(plain), 0, 255, iv, msg);
	ck_assert_int_eq(sk_decrypt(&in, msg, len, IKE_HDR_LEN, back, sizeof(back), &plen, &np), -1);
	sk_dir_free(&out);
	sk_dir_free(&in);
}
END_TEST

START_TEST(cbc_ciphertext_not_block_multiple)
{
	/* CBC only: a correctly MACed SK body whose ciphertext is 17 bytes. */
	const struct cfg *c = &cfgs[3];
	uint8_t hdr[IKE_HDR_LEN], msg[256], back[256], ak[64], ek[36], np;
	struct sk_dir out, in;
	size_t total = 28 + 4 + 16 + 17 + 16, plen;
	unsigned int ml;
	uint8_t full[32];

	open_pair(c, &out, &in);
	keys_for(c, ek, ak);
	sample_hdr(hdr);
	memcpy(msg, hdr, 28);
	msg[16] = PL_SK;
	put_be32(msg + 24, (uint32_t)total);
	msg[28] = PL_SA;
	msg[29] = 0;
	put_be16(msg + 30, (uint16_t)(total - 28));
	memset(msg + 32, 0x3c, 16 + 17);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), ak, 32, msg, total - 16, full, &ml));
	memcpy(msg + total - 16, full, 16);
	ck_assert_int_eq(sk_decrypt(&in, msg, total, IKE_HDR_LEN, back, sizeof(back), &plen, &np),
			 -1);
	sk_dir_free(&out);
	sk_dir_free(&in);
}
END_TEST

START_TEST(init_rejects_bad_parameters)
{
	uint8_t k[64] = { 0 };
	struct sk_dir d;

	ck_assert_int_eq(sk_init(&d, true, ENCR_AES_GCM_16, k, 36, AUTH_HMAC_SHA2_256_128, k, 32),
			 -1);
	ck_assert_int_eq(sk_init(&d, true, ENCR_AES_GCM_16, k, 32, AUTH_NONE, NULL, 0), -1);
	ck_assert_int_eq(sk_init(&d, true, ENCR_CHACHA20_POLY1305, k, 20, AUTH_NONE, NULL, 0), -1);
	ck_assert_int_eq(sk_init(&d, true, ENCR_AES_CBC, k, 16, AUTH_NONE, NULL, 0), -1);
	ck_assert_int_eq(sk_init(&d, true, ENCR_AES_CBC, k, 16, AUTH_HMAC_SHA2_256_128, NULL, 0),
			 -1);
	ck_assert_int_eq(sk_init(&d, true, ENCR_AES_CBC, k, 16, AUTH_HMAC_SHA2_256_128, k, 31), -1);
	ck_assert_int_eq(sk_init(&d, true, ENCR_AES_CBC, k, 20, AUTH_HMAC_SHA2_256_128, k, 32), -1);
	ck_assert_int_eq(sk_init(&d, true, 3, k, 24, AUTH_HMAC_SHA2_256_128, k, 32), -1);
	ck_assert_int_eq(sk_init(&d, true, ENCR_AES_CBC, NULL, 16, AUTH_HMAC_SHA2_256_128, k, 32),
			 -1);
	ck_assert_int_eq(sk_init(&d, true, ENCR_AES_CBC, k, 24, AUTH_HMAC_SHA2_384_192, k, 48), 0);
	ck_assert_uint_eq(d.icv_len, 24);
	sk_dir_free(&d);
}
END_TEST

START_TEST(ike_keys_directions)
{
	static const struct ike_algs algs[] = {
		{ ENCR_AES_GCM_16, 256, AUTH_NONE, PRF_HMAC_SHA2_256 },
		{ ENCR_AES_CBC, 128, AUTH_HMAC_SHA2_256_128, PRF_HMAC_SHA2_256 },
	};
	uint8_t gir[32] = { 1 }, ni[32] = { 2 }, nr[32] = { 3 }, spi_i[8] = { 4 }, spi_r[8] = { 5 };
	uint8_t hdr[IKE_HDR_LEN], plain[30], msg[256], back[256], np;
	struct sk_dir i_out, i_in, r_out, r_in;
	struct ike_keys k;
	size_t len, plen;

	for (int a = 0; a < 2; a++) {
		ck_assert_int_eq(ike_keys_derive(&k, &algs[a], gir, 32, ni, 32, nr, 32, spi_i,
						 spi_r), 0);
		ck_assert_int_eq(sk_init_ike(&i_out, &k, true, true), 0);
		ck_assert_int_eq(sk_init_ike(&i_in, &k, true, false), 0);
		ck_assert_int_eq(sk_init_ike(&r_out, &k, false, true), 0);
		ck_assert_int_eq(sk_init_ike(&r_in, &k, false, false), 0);
		sample_hdr(hdr);
		sample_plain(plain, sizeof(plain));
		/* initiator -> responder */
		ck_assert_int_eq(sk_encrypt(&i_out, hdr, PL_IDi, plain, 30, msg, sizeof(msg), &len),
				 0);
		ck_assert_int_eq(sk_decrypt(&r_in, msg, len, 28, back, sizeof(back), &plen, &np), 0);
		ck_assert_int_eq(sk_decrypt(&i_in, msg, len, 28, back, sizeof(back), &plen, &np),
				 -1);
		/* responder -> initiator */
		ck_assert_int_eq(sk_encrypt(&r_out, hdr, PL_IDr, plain, 30, msg, sizeof(msg), &len),
				 0);
		ck_assert_int_eq(sk_decrypt(&i_in, msg, len, 28, back, sizeof(back), &plen, &np), 0);
		ck_assert_uint_eq(np, PL_IDr);
		ck_assert_int_eq(sk_decrypt(&r_in, msg, len, 28, back, sizeof(back), &plen, &np),
				 -1);
		sk_dir_free(&i_out);
		sk_dir_free(&i_in);
		sk_dir_free(&r_out);
		sk_dir_free(&r_in);
		ike_keys_clear(&k);
	}
}
END_TEST

static Suite *sk_suite(void)
{
	Suite *s = suite_create("sk");
	TCase *tc = tcase_create("sk");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, round_trip_all_lengths, 0, NCFG);
	tcase_add_loop_test(tc, matches_reference_builder, 0, NCFG);
	tcase_add_loop_test(tc, ivs_unique, 0, NCFG);
	tcase_add_loop_test(tc, every_bit_flip_fails, 0, NCFG);
	tcase_add_loop_test(tc, every_truncation_fails, 0, NCFG);
	tcase_add_loop_test(tc, bad_offsets_and_buffers, 0, NCFG);
	tcase_add_loop_test(tc, outer_payload_before_sk, 0, NCFG);
	tcase_add_loop_test(tc, bad_pad_length_under_valid_icv, 0, NCFG);
	tcase_add_test(tc, cbc_ciphertext_not_block_multiple);
	tcase_add_test(tc, init_rejects_bad_parameters);
	tcase_add_test(tc, ike_keys_directions);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sk_suite)
