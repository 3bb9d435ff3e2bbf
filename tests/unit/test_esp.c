/*
 * ESP SA tests: the RFC 7634 Appendix A vector, round trips, independent
 * cross-checks (OpenSSL EVP one-shot for AES-GCM, libsodium for ChaCha20),
 * replay through the SA, sequence exhaustion, tampering and inner checks.
 */
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "esp/esp.h"
#include "tests/unit/check_main.h"

#define BUF_CAP (ESP_HEADROOM + 2048 + ESP_TAILROOM_MAX)
#define SPI 0xc0ffee01u

static const uint8_t keymat36[36] = {
	0x4c, 0x80, 0xcd, 0xef, 0xbb, 0x5d, 0x10, 0xda, 0x90, 0x6a, 0xc7, 0x3c,
	0x36, 0x13, 0xa6, 0x34, 0x2c, 0x23, 0x31, 0x93, 0xd1, 0x7e, 0x4f, 0x08,
	0x65, 0x12, 0x91, 0xa6, 0x7d, 0x38, 0x02, 0x51, 0xca, 0xfe, 0xba, 0xbe,
};

struct alg_case {
	enum aead_alg alg;
	size_t keylen;		/* without the salt */
};

static const struct alg_case algs[] = {
	{ AEAD_AES_GCM_16, 16 },
	{ AEAD_AES_GCM_16, 32 },
	{ AEAD_CHACHA20_POLY1305, 32 },
};

static void sa_pair(const struct alg_case *a, struct esp_sa *out, struct esp_sa *in)
{
	/* key || salt: the key's first keylen bytes, the last 4 as the salt */
	uint8_t km[36];

	memcpy(km, keymat36, a->keylen);
	memcpy(km + a->keylen, keymat36 + 32, 4);
	ck_assert_int_eq(esp_sa_init(out, ESP_OUT, a->alg, km, a->keylen + 4, SPI), 0);
	ck_assert_int_eq(esp_sa_init(in, ESP_IN, a->alg, km, a->keylen + 4, SPI), 0);
}

/* A plausible IPv4 (UDP) or IPv6 packet of len bytes at p. */
static void make_inner(uint8_t *p, int version, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7);
	if (version == 4) {
		p[0] = 0x45;
		p[1] = 0;
		put_be16(p + 2, (uint16_t)len);
		p[9] = 17;
	} else {
		p[0] = 0x60;
		put_be16(p + 4, (uint16_t)(len - 40));
		p[6] = 17;
	}
}

static size_t encap_one(struct esp_sa *out, uint8_t *buf, int version, size_t len, unsigned seed)
{
	size_t n;

	make_inner(buf + ESP_HEADROOM, version, len, seed);
	ck_assert_int_eq(esp_encap(out, buf, BUF_CAP, len, &n), 0);
	return n;
}

/* ---- RFC 7634 Appendix A ---- */

static const uint8_t rfc7634_inner[84] = {
	0x45, 0x00, 0x00, 0x54, 0xa6, 0xf2, 0x00, 0x00, 0x40, 0x01, 0xe7, 0x78,
	0xc6, 0x33, 0x64, 0x05, 0xc0, 0x00, 0x02, 0x05, 0x08, 0x00, 0x5b, 0x7a,
	0x3a, 0x08, 0x00, 0x00, 0x55, 0x3b, 0xec, 0x10, 0x00, 0x07, 0x36, 0x27,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
	0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
	0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};

/* SPI 0x01020304, Seq 5, IV 0x1011121314151617, ciphertext, ICV. */
static const uint8_t rfc7634_esp[120] = {
	0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x05,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x24, 0x03, 0x94, 0x28,
	0xb9, 0x7f, 0x41, 0x7e, 0x3c, 0x13, 0x75, 0x3a, 0x4f, 0x05, 0x08, 0x7b,
	0x67, 0xc3, 0x52, 0xe6, 0xa7, 0xfa, 0xb1, 0xb9, 0x82, 0xd4, 0x66, 0xef,
	0x40, 0x7a, 0xe5, 0xc6, 0x14, 0xee, 0x80, 0x99, 0xd5, 0x28, 0x44, 0xeb,
	0x61, 0xaa, 0x95, 0xdf, 0xab, 0x4c, 0x02, 0xf7, 0x2a, 0xa7, 0x1e, 0x7c,
	0x4c, 0x4f, 0x64, 0xc9, 0xbe, 0xfe, 0x2f, 0xac, 0xc6, 0x38, 0xe8, 0xf3,
	0xcb, 0xec, 0x16, 0x3f, 0xac, 0x46, 0x9b, 0x50, 0x27, 0x73, 0xf6, 0xfb,
	0x94, 0xe6, 0x64, 0xda, 0x91, 0x65, 0xb8, 0x28, 0x29, 0xf6, 0x41, 0xe0,
	0x76, 0xaa, 0xa8, 0x26, 0x6b, 0x7f, 0xb0, 0xf7, 0xb1, 0x1b, 0x36, 0x99,
	0x07, 0xe1, 0xad, 0x43,
};

static void rfc7634_keymat(uint8_t km[36])
{
	for (int i = 0; i < 36; i++)
		km[i] = (uint8_t)(0x80 + i);	/* key 80..9f, salt a0 a1 a2 a3 */
}

START_TEST(rfc7634_encap_matches)
{
	static const uint8_t iv[8] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17 };
	uint8_t km[36], buf[BUF_CAP];
	struct esp_sa sa;
	size_t n;

	rfc7634_keymat(km);
	ck_assert_int_eq(esp_sa_init(&sa, ESP_OUT, AEAD_CHACHA20_POLY1305, km, 36, 0x01020304), 0);
	esp_sa_test_set_seq(&sa, 4);
	memcpy(buf + ESP_HEADROOM, rfc7634_inner, sizeof(rfc7634_inner));
	ck_assert_int_eq(esp_encap_test_iv(&sa, buf, sizeof(buf), sizeof(rfc7634_inner), iv, &n), 0);
	ck_assert_uint_eq(n, sizeof(rfc7634_esp));
	ck_assert_uint_eq(esp_encap_len(&sa, sizeof(rfc7634_inner)), n);
	ck_assert_mem_eq(buf, rfc7634_esp, sizeof(rfc7634_esp));
	esp_sa_free(&sa);
}
END_TEST

START_TEST(rfc7634_decap_matches)
{
	uint8_t km[36], buf[sizeof(rfc7634_esp)];
	struct esp_sa sa;
	size_t n;

	rfc7634_keymat(km);
	ck_assert_int_eq(esp_sa_init(&sa, ESP_IN, AEAD_CHACHA20_POLY1305, km, 36, 0x01020304), 0);
	memcpy(buf, rfc7634_esp, sizeof(buf));
	ck_assert_int_eq(esp_decap(&sa, buf, sizeof(buf), &n), ESP_DROP_NONE);
	ck_assert_uint_eq(n, sizeof(rfc7634_inner));
	ck_assert_mem_eq(buf + ESP_HEADROOM, rfc7634_inner, sizeof(rfc7634_inner));
	ck_assert_uint_eq(sa.replay.top, 5);
	/* the same packet again is a replay */
	memcpy(buf, rfc7634_esp, sizeof(buf));
	ck_assert_int_eq(esp_decap(&sa, buf, sizeof(buf), &n), ESP_DROP_REPLAY);
	esp_sa_free(&sa);
}
END_TEST

/* ---- Round trips ---- */

START_TEST(round_trip_all_sizes)
{
	const struct alg_case *a = &algs[_i];
	uint8_t buf[BUF_CAP], ref[2048];
	struct esp_sa out, in;
	uint32_t seq = 0;

	sa_pair(a, &out, &in);
	for (int version = 4; version <= 6; version += 2) {
		for (size_t len = version == 4 ? 20 : 40; len <= 1500; len++) {
			size_t n, m;

			n = encap_one(&out, buf, version, len, (unsigned)len);
			make_inner(ref, version, len, (unsigned)len);
			seq++;
			ck_assert_uint_eq(n, esp_encap_len(&out, len));
			ck_assert_uint_eq((n - ESP_HEADROOM - ESP_ICV_LEN) % 4, 0);
			ck_assert_uint_le(n - ESP_HEADROOM - ESP_ICV_LEN - len - 2, 3);
			ck_assert_uint_eq(get_be32(buf), SPI);
			ck_assert_uint_eq(get_be32(buf + 4), seq);
			/* IV = the 64-bit sequence counter */
			ck_assert_uint_eq(get_be32(buf + 8), 0);
			ck_assert_uint_eq(get_be32(buf + 12), seq);
			ck_assert_int_eq(esp_decap(&in, buf, n, &m), ESP_DROP_NONE);
			ck_assert_uint_eq(m, len);
			ck_assert_mem_eq(buf + ESP_HEADROOM, ref, len);
		}
	}
	ck_assert_uint_eq(out.packets, seq);
	ck_assert_uint_eq(in.packets, seq);
	ck_assert_uint_eq(in.bytes, out.bytes);
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

START_TEST(rejects_non_ip_and_small_buffers)
{
	uint8_t buf[BUF_CAP];
	struct esp_sa out, in;
	size_t n, m;

	sa_pair(&algs[0], &out, &in);
	make_inner(buf + ESP_HEADROOM, 4, 100, 1);
	buf[ESP_HEADROOM] = 0x55;	/* version 5 */
	ck_assert_int_eq(esp_encap(&out, buf, sizeof(buf), 100, &n), ESP_ENCAP_ERR);
	buf[ESP_HEADROOM] = 0x05;	/* version 0 */
	ck_assert_int_eq(esp_encap(&out, buf, sizeof(buf), 100, &n), ESP_ENCAP_ERR);
	buf[ESP_HEADROOM] = 0x45;
	ck_assert_int_eq(esp_encap(&out, buf, sizeof(buf), 0, &n), ESP_ENCAP_ERR);
	/* 100 + 2 -> 104 ciphertext + 16 ICV: one byte short of room */
	ck_assert_int_eq(esp_encap(&out, buf, ESP_HEADROOM + 104 + 16 - 1, 100, &n), ESP_ENCAP_ERR);
	ck_assert_int_eq(esp_encap(&out, buf, 10, 100, &n), ESP_ENCAP_ERR);
	ck_assert_uint_eq(out.seq, 0);	/* refusals use no sequence number */
	ck_assert_int_eq(esp_encap(&out, buf, ESP_HEADROOM + 104 + 16, 100, &n), 0);
	ck_assert_uint_eq(n, ESP_HEADROOM + 104 + 16);
	ck_assert_uint_eq(out.seq, 1);
	/* wrong directions */
	ck_assert_int_eq(esp_decap(&out, buf, n, &m), ESP_DROP_BAD_SPI);
	ck_assert_int_eq(esp_encap(&in, buf, sizeof(buf), 100, &n), ESP_ENCAP_ERR);
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

START_TEST(init_rejects_bad_parameters)
{
	struct esp_sa sa;
	uint8_t zero[sizeof(sa)];

	ck_assert_int_eq(esp_sa_init(&sa, ESP_OUT, AEAD_AES_GCM_16, keymat36, 20, 0), -1);
	ck_assert_int_eq(esp_sa_init(&sa, ESP_OUT, AEAD_AES_GCM_16, keymat36, 16, 1), -1);
	ck_assert_int_eq(esp_sa_init(&sa, ESP_OUT, AEAD_AES_GCM_16, keymat36, 30, 1), -1);
	ck_assert_int_eq(esp_sa_init(&sa, ESP_IN, AEAD_CHACHA20_POLY1305, keymat36, 20, 1), -1);
	ck_assert_int_eq(esp_sa_init(&sa, ESP_IN, AEAD_CHACHA20_POLY1305, keymat36, 36, 1), 0);
	ck_assert_int_eq(esp_sa_set_pad_align(&sa, 3), -1);
	ck_assert_int_eq(esp_sa_set_pad_align(&sa, 2), -1);
	ck_assert_int_eq(esp_sa_set_pad_align(&sa, 512), -1);
	ck_assert_int_eq(esp_sa_set_pad_align(&sa, 24), -1);
	ck_assert_int_eq(esp_sa_set_pad_align(&sa, 256), 0);
	ck_assert_uint_eq(esp_tailroom(&sa), ESP_TAILROOM_MAX);
	ck_assert_uint_eq(esp_overhead(&sa), 16 + 255 + 2 + 16);
	/* free wipes the keys and everything else */
	esp_sa_free(&sa);
	memset(zero, 0, sizeof(zero));
	ck_assert_mem_eq(&sa, zero, sizeof(sa));
}
END_TEST

START_TEST(pad_align_hides_length)
{
	const struct alg_case *a = &algs[_i];
	uint8_t buf[BUF_CAP];
	struct esp_sa out, in;

	sa_pair(a, &out, &in);
	ck_assert_int_eq(esp_sa_set_pad_align(&out, 64), 0);
	for (size_t len = 20; len <= 300; len++) {
		size_t n = encap_one(&out, buf, 4, len, 3), m;

		ck_assert_uint_eq((n - ESP_HEADROOM - ESP_ICV_LEN) % 64, 0);
		ck_assert_int_eq(esp_decap(&in, buf, n, &m), ESP_DROP_NONE);
		ck_assert_uint_eq(m, len);
	}
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

/* ---- Independent computations ---- */

/* One-shot AEAD with a fresh context (or libsodium for ChaCha20): the test's reference. */
static void ref_seal(const struct alg_case *a, const uint8_t *km, const uint8_t hdr[16],
		     const uint8_t *pt, size_t len, uint8_t *out /* len + 16 */)
{
	uint8_t nonce[12];

	memcpy(nonce, km + a->keylen, 4);
	memcpy(nonce + 4, hdr + 8, 8);
	if (a->alg == AEAD_CHACHA20_POLY1305) {
		unsigned long long clen;

		ck_assert_int_eq(crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, pt, len, hdr,
									   8, NULL, nonce, km), 0);
		ck_assert_uint_eq(clen, len + 16);
	} else {
		EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
		int l;

		ck_assert_ptr_nonnull(ctx);
		ck_assert_int_eq(EVP_EncryptInit_ex(ctx, a->keylen == 16 ? EVP_aes_128_gcm() :
						    EVP_aes_256_gcm(), NULL, km, nonce), 1);
		ck_assert_int_eq(EVP_EncryptUpdate(ctx, NULL, &l, hdr, 8), 1);
		ck_assert_int_eq(EVP_EncryptUpdate(ctx, out, &l, pt, (int)len), 1);
		ck_assert_int_eq(EVP_EncryptFinal_ex(ctx, out + l, &l), 1);
		ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + len), 1);
		EVP_CIPHER_CTX_free(ctx);
	}
}

/* Build an ESP packet with any plaintext (trailer included) the reference way. */
static size_t ref_packet(const struct alg_case *a, uint32_t seq, const uint8_t *pt, size_t len,
			 uint8_t *out)
{
	uint8_t km[36];

	memcpy(km, keymat36, a->keylen);
	memcpy(km + a->keylen, keymat36 + 32, 4);
	put_be32(out, SPI);
	put_be32(out + 4, seq);
	put_be32(out + 8, 0x11223344);
	put_be32(out + 12, seq);
	ref_seal(a, km, out, pt, len, out + ESP_HEADROOM);
	return ESP_HEADROOM + len + ESP_ICV_LEN;
}

START_TEST(cross_check_reference)
{
	const struct alg_case *a = &algs[_i];
	uint8_t buf[BUF_CAP], pt[2048], ref[BUF_CAP], km[36];
	struct esp_sa out, in;
	static const size_t lens[] = { 20, 21, 22, 23, 24, 40, 41, 99, 1400, 1500 };

	memcpy(km, keymat36, a->keylen);
	memcpy(km + a->keylen, keymat36 + 32, 4);
	sa_pair(a, &out, &in);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		int version = lens[k] % 2 ? 4 : 6;
		size_t len = version == 6 && lens[k] < 40 ? 40 : lens[k], n, ct;
		uint8_t pad;

		n = encap_one(&out, buf, version, len, (unsigned)k);
		/* the plaintext as RFC 4303 §2.4 lays it out: pad 1, 2, 3..., pad len, next header */
		make_inner(pt, version, len, (unsigned)k);
		ct = (len + 2 + 3) & ~(size_t)3;
		pad = (uint8_t)(ct - len - 2);
		for (uint8_t i = 1; i <= pad; i++)
			pt[len + i - 1] = i;
		pt[ct - 2] = pad;
		pt[ct - 1] = version == 4 ? 4 : 41;
		memcpy(ref, buf, ESP_HEADROOM);
		ref_seal(a, km, ref, pt, ct, ref + ESP_HEADROOM);
		ck_assert_uint_eq(n, ESP_HEADROOM + ct + ESP_ICV_LEN);
		ck_assert_mem_eq(buf, ref, n);
	}
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

/* Authenticated packets with bad contents: only checks after the ICV catch them. */
START_TEST(post_icv_checks)
{
	const struct alg_case *a = &algs[_i];
	uint8_t pt[256], pkt[BUF_CAP];
	struct esp_sa out, in;
	uint32_t seq = 1;
	size_t n, m;

	sa_pair(a, &out, &in);
#define EXPECT(len, drop) do {						\
		n = ref_packet(a, seq++, pt, (len), pkt);		\
		ck_assert_str_eq(esp_drop_name(esp_decap(&in, pkt, n, &m)),	\
				 esp_drop_name(drop));			\
	} while (0)

	/* a good one first: IPv4 of 62 bytes, 62 + 2 = 64 needs no padding */
	make_inner(pt, 4, 62, 9);
	pt[62] = 0;
	pt[63] = 4;
	EXPECT(64, ESP_DROP_NONE);
	ck_assert_uint_eq(m, 62);
	/* pad bytes 1, 2, 3 correct, then wrong */
	make_inner(pt, 4, 59, 9);
	pt[59] = 1; pt[60] = 2; pt[61] = 3; pt[62] = 3; pt[63] = 4;
	EXPECT(64, ESP_DROP_NONE);
	ck_assert_uint_eq(m, 59);
	pt[61] = 4;
	EXPECT(64, ESP_DROP_BAD_PADDING);
	pt[61] = 3;
	pt[59] = 0;
	EXPECT(64, ESP_DROP_BAD_PADDING);
	pt[59] = 1;
	/* pad length beyond the payload */
	pt[62] = 63;
	EXPECT(64, ESP_DROP_BAD_PADDING);
	pt[62] = 62;	/* exactly everything, but pad bytes are not 1..62 */
	EXPECT(64, ESP_DROP_BAD_PADDING);
	for (int i = 0; i < 62; i++)
		pt[i] = (uint8_t)(i + 1);
	EXPECT(64, ESP_DROP_BAD_INNER_LEN);	/* empty IPv4 packet */
	/* next header */
	make_inner(pt, 4, 62, 9);
	pt[62] = 0;
	pt[63] = 17;
	EXPECT(64, ESP_DROP_BAD_NEXT_HEADER);
	pt[63] = 59;
	EXPECT(64, ESP_DROP_DUMMY);
	pt[63] = 41;	/* IPv4 packet labelled IPv6 */
	EXPECT(64, ESP_DROP_BAD_INNER_LEN);
	pt[0] = 0x65;	/* IPv6 nibble labelled IPv4 */
	pt[63] = 4;
	EXPECT(64, ESP_DROP_BAD_INNER_LEN);
	/* an empty dummy packet: just the trailer */
	pt[0] = 0;
	pt[1] = 59;
	EXPECT(2, ESP_DROP_DUMMY);
	pt[1] = 4;
	EXPECT(2, ESP_DROP_BAD_INNER_LEN);
	/* IPv6 with a lying payload length */
	make_inner(pt, 6, 62, 9);
	pt[62] = 0;
	pt[63] = 41;
	EXPECT(64, ESP_DROP_NONE);
	put_be16(pt + 4, 23);
	EXPECT(64, ESP_DROP_BAD_INNER_LEN);
	put_be16(pt + 4, 0);	/* jumbogram */
	EXPECT(64, ESP_DROP_BAD_INNER_LEN);
	/* IPv4 IHL below 5 and above the packet */
	make_inner(pt, 4, 62, 9);
	pt[62] = 0;
	pt[63] = 4;
	pt[0] = 0x44;
	EXPECT(64, ESP_DROP_BAD_INNER_LEN);
	pt[0] = 0x4f;	/* 60-byte header fits in 62 */
	EXPECT(64, ESP_DROP_NONE);
	make_inner(pt, 4, 58, 9);
	pt[58] = 1; pt[59] = 2; pt[60] = 3; pt[61] = 4; pt[62] = 4; pt[63] = 4;
	pt[0] = 0x4f;	/* 60-byte header, 58-byte packet */
	EXPECT(64, ESP_DROP_BAD_INNER_LEN);
	/* a 3-byte IPv4 "packet" cannot even hold its length field */
	pt[0] = 0x45; pt[1] = 0; pt[2] = 0; pt[3] = 1; pt[4] = 1; pt[5] = 4;
	EXPECT(6, ESP_DROP_BAD_INNER_LEN);
#undef EXPECT
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

START_TEST(inner_length_lie)
{
	uint8_t buf[BUF_CAP];
	struct esp_sa out, in;
	size_t n, m;

	sa_pair(&algs[1], &out, &in);
	make_inner(buf + ESP_HEADROOM, 4, 200, 1);
	put_be16(buf + ESP_HEADROOM + 2, 204);	/* says 204, is 200 */
	ck_assert_int_eq(esp_encap(&out, buf, sizeof(buf), 200, &n), 0);
	ck_assert_int_eq(esp_decap(&in, buf, n, &m), ESP_DROP_BAD_INNER_LEN);
	ck_assert_uint_eq(m, 0);
	make_inner(buf + ESP_HEADROOM, 4, 200, 1);
	put_be16(buf + ESP_HEADROOM + 2, 199);
	ck_assert_int_eq(esp_encap(&out, buf, sizeof(buf), 200, &n), 0);
	ck_assert_int_eq(esp_decap(&in, buf, n, &m), ESP_DROP_BAD_INNER_LEN);
	/* too short for an IPv4 header at all */
	make_inner(buf + ESP_HEADROOM, 4, 19, 1);
	ck_assert_int_eq(esp_encap(&out, buf, sizeof(buf), 19, &n), 0);
	ck_assert_int_eq(esp_decap(&in, buf, n, &m), ESP_DROP_BAD_INNER_LEN);
	buf[ESP_HEADROOM] = 0x60;
	ck_assert_int_eq(esp_encap(&out, buf, sizeof(buf), 1, &n), 0);
	ck_assert_int_eq(esp_decap(&in, buf, n, &m), ESP_DROP_BAD_INNER_LEN);
	/* all of them passed the ICV, so the window did move */
	ck_assert_uint_eq(in.replay.top, 4);
	ck_assert_uint_eq(in.packets, 0);
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

/* ---- Replay through the SA ---- */

#define NPKT 5000
#define PKT_LEN (ESP_HEADROOM + 20 + 4 + ESP_ICV_LEN)

static uint8_t stored[NPKT + 1][PKT_LEN];

static void store_packets(struct esp_sa *out)
{
	uint8_t buf[BUF_CAP];

	for (uint32_t s = 1; s <= NPKT; s++) {
		ck_assert_uint_eq(encap_one(out, buf, 4, 20, s), PKT_LEN);
		memcpy(stored[s], buf, PKT_LEN);
	}
}

static enum esp_drop deliver(struct esp_sa *in, uint32_t s)
{
	uint8_t buf[PKT_LEN];
	size_t m;

	memcpy(buf, stored[s], PKT_LEN);
	return esp_decap(in, buf, PKT_LEN, &m);
}

START_TEST(replay_via_sa)
{
	struct esp_sa out, in;
	const uint32_t top = 2000;

	sa_pair(&algs[_i], &out, &in);
	store_packets(&out);
	/* out of order within the window: accepted once */
	ck_assert_int_eq(deliver(&in, 10), ESP_DROP_NONE);
	for (uint32_t s = 9; s >= 1; s--)
		ck_assert_int_eq(deliver(&in, s), ESP_DROP_NONE);
	for (uint32_t s = 1; s <= 10; s++)
		ck_assert_int_eq(deliver(&in, s), ESP_DROP_REPLAY);
	/* a window of at least 1024 */
	ck_assert_int_eq(deliver(&in, top), ESP_DROP_NONE);
	ck_assert_int_eq(deliver(&in, top - 1023), ESP_DROP_NONE);
	ck_assert_int_eq(deliver(&in, top - 1023), ESP_DROP_REPLAY);
	/* the exact edge */
	ck_assert_int_eq(deliver(&in, NPKT), ESP_DROP_NONE);
	ck_assert_int_eq(deliver(&in, NPKT - (ESP_REPLAY_WINDOW - 1)), ESP_DROP_NONE);
	ck_assert_int_eq(deliver(&in, NPKT - ESP_REPLAY_WINDOW), ESP_DROP_REPLAY);
	ck_assert_int_eq(deliver(&in, NPKT), ESP_DROP_REPLAY);
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

START_TEST(forged_high_seq_does_not_move_window)
{
	struct esp_sa out, in;
	uint8_t buf[PKT_LEN];
	size_t m;

	sa_pair(&algs[_i], &out, &in);
	store_packets(&out);
	ck_assert_int_eq(deliver(&in, 5), ESP_DROP_NONE);
	memcpy(buf, stored[6], PKT_LEN);
	put_be32(buf + 4, 0x7fffffff);	/* a far-future sequence number, not authentic */
	ck_assert_int_eq(esp_decap(&in, buf, PKT_LEN, &m), ESP_DROP_AUTH_FAILED);
	ck_assert_uint_eq(in.replay.top, 5);
	/* had the window moved, these would be far too old */
	ck_assert_int_eq(deliver(&in, 1), ESP_DROP_NONE);
	ck_assert_int_eq(deliver(&in, 6), ESP_DROP_NONE);
	/* a forged copy of a not-yet-seen number does not burn it either */
	memcpy(buf, stored[7], PKT_LEN);
	buf[PKT_LEN - 1] ^= 1;
	ck_assert_int_eq(esp_decap(&in, buf, PKT_LEN, &m), ESP_DROP_AUTH_FAILED);
	ck_assert_int_eq(deliver(&in, 7), ESP_DROP_NONE);
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

/* ---- Sequence numbers and rekeying ---- */

START_TEST(sequence_exhaustion)
{
	uint8_t buf[BUF_CAP];
	struct esp_sa out, in;
	size_t n, m;

	sa_pair(&algs[_i], &out, &in);
	ck_assert_uint_eq(encap_one(&out, buf, 4, 40, 1) > 0, 1);
	ck_assert_uint_eq(get_be32(buf + 4), 1);	/* the first packet is seq 1 */
	ck_assert(!esp_sa_needs_rekey(&out));
	esp_sa_test_set_seq(&out, ESP_SEQ_SOFT_LIMIT - 2);
	encap_one(&out, buf, 4, 40, 1);
	ck_assert(!esp_sa_needs_rekey(&out));
	n = encap_one(&out, buf, 4, 40, 1);
	ck_assert_uint_eq(get_be32(buf + 4), ESP_SEQ_SOFT_LIMIT);
	ck_assert(esp_sa_needs_rekey(&out));
	/* the receiver notices too */
	ck_assert(!esp_sa_needs_rekey(&in));
	ck_assert_int_eq(esp_decap(&in, buf, n, &m), ESP_DROP_NONE);
	ck_assert(esp_sa_needs_rekey(&in));
	/* the last number, then a hard stop without wrapping */
	esp_sa_test_set_seq(&out, UINT32_MAX - 1);
	n = encap_one(&out, buf, 6, 40, 1);
	ck_assert_uint_eq(get_be32(buf + 4), UINT32_MAX);
	ck_assert_uint_eq(get_be32(buf + 12), UINT32_MAX);
	ck_assert_int_eq(esp_decap(&in, buf, n, &m), ESP_DROP_NONE);
	make_inner(buf + ESP_HEADROOM, 4, 40, 1);
	ck_assert_int_eq(esp_encap(&out, buf, sizeof(buf), 40, &n), ESP_ENCAP_SEQ_EXHAUSTED);
	ck_assert_int_eq(esp_encap(&out, buf, sizeof(buf), 40, &n), ESP_ENCAP_SEQ_EXHAUSTED);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(out.seq, UINT32_MAX);
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

START_TEST(soft_limits_by_count)
{
	uint8_t buf[BUF_CAP];
	struct esp_sa out, in;
	size_t m;

	sa_pair(&algs[0], &out, &in);
	esp_sa_set_soft_limits(&out, 3, 0);
	esp_sa_set_soft_limits(&in, 0, 250);
	for (int i = 1; i <= 3; i++) {
		size_t n;

		ck_assert(!esp_sa_needs_rekey(&out));
		n = encap_one(&out, buf, 4, 100, 1);
		ck_assert(!esp_sa_needs_rekey(&in));
		ck_assert_int_eq(esp_decap(&in, buf, n, &m), ESP_DROP_NONE);
	}
	ck_assert(esp_sa_needs_rekey(&out));
	ck_assert(esp_sa_needs_rekey(&in));	/* 300 inner bytes >= 250 */
	ck_assert_uint_eq(in.bytes, 300);
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

/* ---- Tampering and truncation ---- */

START_TEST(every_bit_flip_dropped)
{
	uint8_t buf[BUF_CAP], good[BUF_CAP];
	struct esp_sa out, in;
	size_t n, m;

	sa_pair(&algs[_i], &out, &in);
	n = encap_one(&out, good, 6, 77, 5);
	for (size_t bit = 0; bit < n * 8; bit++) {
		enum esp_drop d;

		memcpy(buf, good, n);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		d = esp_decap(&in, buf, n, &m);
		if (bit < 32)
			ck_assert_int_eq(d, ESP_DROP_BAD_SPI);
		else if (bit == 56)	/* seq 1 -> 0 */
			ck_assert_int_eq(d, ESP_DROP_REPLAY);
		else
			ck_assert_int_eq(d, ESP_DROP_AUTH_FAILED);
		ck_assert_uint_eq(m, 0);
	}
	ck_assert_uint_eq(in.replay.top, 0);
	ck_assert_int_eq(esp_decap(&in, good, n, &m), ESP_DROP_NONE);
	ck_assert_uint_eq(m, 77);
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

START_TEST(every_truncation_dropped)
{
	uint8_t good[BUF_CAP], buf[BUF_CAP];
	struct esp_sa out, in;
	size_t n, m;

	sa_pair(&algs[_i], &out, &in);
	n = encap_one(&out, good, 4, 64, 5);
	for (size_t len = 0; len < n; len++) {
		/* an exact-size heap copy so ASan sees any overread */
		uint8_t *p = malloc(len ? len : 1);
		enum esp_drop d;

		ck_assert_ptr_nonnull(p);
		memcpy(p, good, len);
		d = esp_decap(&in, p, len, &m);
		ck_assert_int_eq(d, len < ESP_MIN_LEN ? ESP_DROP_SHORT : ESP_DROP_AUTH_FAILED);
		free(p);
	}
	/* one byte too many (a failed decap leaves its buffer wiped: use a copy) */
	memcpy(buf, good, n);
	buf[n] = 0;
	ck_assert_int_eq(esp_decap(&in, buf, n + 1, &m), ESP_DROP_AUTH_FAILED);
	ck_assert_int_eq(esp_decap(&in, good, n, &m), ESP_DROP_NONE);
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

START_TEST(auth_failure_wipes_plaintext)
{
	uint8_t buf[BUF_CAP], zero[64] = { 0 };
	struct esp_sa out, in;
	size_t n, m;

	sa_pair(&algs[_i], &out, &in);
	n = encap_one(&out, buf, 4, 62, 5);
	buf[n - 1] ^= 0x80;	/* only the ICV is wrong: the cipher would yield the real plaintext */
	ck_assert_int_eq(esp_decap(&in, buf, n, &m), ESP_DROP_AUTH_FAILED);
	ck_assert_mem_eq(buf + ESP_HEADROOM, zero, 64);
	esp_sa_free(&out);
	esp_sa_free(&in);
}
END_TEST

START_TEST(bad_spi_and_names)
{
	uint8_t buf[BUF_CAP];
	struct esp_sa out, in, other;
	size_t n, m;

	sa_pair(&algs[0], &out, &in);
	ck_assert_int_eq(esp_sa_init(&other, ESP_IN, AEAD_AES_GCM_16, keymat36, 20, SPI + 1), 0);
	n = encap_one(&out, buf, 4, 30, 5);
	ck_assert_int_eq(esp_decap(&other, buf, n, &m), ESP_DROP_BAD_SPI);
	ck_assert_int_eq(esp_decap(&in, buf, n, &m), ESP_DROP_NONE);
	ck_assert_str_eq(esp_drop_name(ESP_DROP_AUTH_FAILED), "auth_failed");
	ck_assert_str_eq(esp_drop_name(ESP_DROP_DUMMY), "dummy");
	ck_assert_str_eq(esp_drop_name(ESP_DROP__COUNT), "unknown");
	for (int d = 0; d < ESP_DROP__COUNT; d++)
		ck_assert_ptr_nonnull(esp_drop_name((enum esp_drop)d));
	esp_sa_free(&out);
	esp_sa_free(&in);
	esp_sa_free(&other);
}
END_TEST

static Suite *esp_suite(void)
{
	Suite *s = suite_create("esp");
	TCase *v = tcase_create("vectors");
	TCase *tc = tcase_create("sa");
	TCase *r = tcase_create("replay");
	TCase *t = tcase_create("tamper");
	int nalg = (int)(sizeof(algs) / sizeof(algs[0]));

	tcase_add_test(v, rfc7634_encap_matches);
	tcase_add_test(v, rfc7634_decap_matches);
	tcase_add_loop_test(v, cross_check_reference, 0, nalg);
	tcase_add_loop_test(v, post_icv_checks, 0, nalg);
	suite_add_tcase(s, v);

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, round_trip_all_sizes, 0, nalg);
	tcase_add_loop_test(tc, pad_align_hides_length, 0, nalg);
	tcase_add_test(tc, rejects_non_ip_and_small_buffers);
	tcase_add_test(tc, init_rejects_bad_parameters);
	tcase_add_test(tc, inner_length_lie);
	tcase_add_loop_test(tc, sequence_exhaustion, 0, nalg);
	tcase_add_test(tc, soft_limits_by_count);
	tcase_add_test(tc, bad_spi_and_names);
	suite_add_tcase(s, tc);

	tcase_set_timeout(r, 60);
	tcase_add_loop_test(r, replay_via_sa, 0, nalg);
	tcase_add_loop_test(r, forged_high_seq_does_not_move_window, 0, nalg);
	suite_add_tcase(s, r);

	tcase_set_timeout(t, 60);
	tcase_add_loop_test(t, every_bit_flip_dropped, 0, nalg);
	tcase_add_loop_test(t, every_truncation_dropped, 0, nalg);
	tcase_add_loop_test(t, auth_failure_wipes_plaintext, 0, nalg);
	suite_add_tcase(s, t);
	return s;
}

CHECK_MAIN(esp_suite)
