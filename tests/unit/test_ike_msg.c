/*
 * IKEv2 codec: header, payload chain, builder, SK layout, a hand-assembled
 * IKE_SA_INIT request, truncation and bit-flip robustness, names.
 * (strongSwan captures: test_ike_codec_fixtures.c.)
 */
#include <stdlib.h>
#include <string.h>

#include "ike/msg.h"
#include "ike/names.h"
#include "tests/unit/check_main.h"
#include "tests/unit/sa_flat.h"

#define R4(x)	x, x, x, x
#define R8(x)	R4(x), R4(x)
#define R16(x)	R8(x), R8(x)
#define R20(x)	R16(x), R4(x)
#define R32(x)	R16(x), R16(x)

/*
 * IKE_SA_INIT request, assembled by hand (lengths counted by hand, not by
 * the encoder): SA with aes256gcm16-prfsha256-x25519 and
 * aes256-prfsha256-sha256-x25519, KE, Nonce, two NAT detection notifies,
 * and a Vendor ID. 264 octets.
 */
static const uint8_t init_req[] = {
	/* IKE header */
	1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0,
	PL_SA, 0x20, IKE_SA_INIT, IKE_FLAG_INITIATOR,
	0, 0, 0, 0, 0, 0, 0x01, 0x08,
	/* SA, 84 */
	PL_KE, 0, 0, 84,
	/* proposal 1, 36: more follow */
	2, 0, 0, 36, 1, PROTO_IKE, 0, 3,
	3, 0, 0, 12, TRANS_ENCR, 0, 0, ENCR_AES_GCM_16, 0x80, 14, 0x01, 0x00,
	3, 0, 0, 8, TRANS_PRF, 0, 0, PRF_HMAC_SHA2_256,
	0, 0, 0, 8, TRANS_DH, 0, 0, DH_CURVE25519,
	/* proposal 2, 44: last */
	0, 0, 0, 44, 2, PROTO_IKE, 0, 4,
	3, 0, 0, 12, TRANS_ENCR, 0, 0, ENCR_AES_CBC, 0x80, 14, 0x01, 0x00,
	3, 0, 0, 8, TRANS_PRF, 0, 0, PRF_HMAC_SHA2_256,
	3, 0, 0, 8, TRANS_INTEG, 0, 0, AUTH_HMAC_SHA2_256_128,
	0, 0, 0, 8, TRANS_DH, 0, 0, DH_CURVE25519,
	/* KE, 40: group 31, 32 octets */
	PL_NONCE, 0, 0, 40, 0, DH_CURVE25519, 0, 0, R32(0x11),
	/* Nonce, 36 */
	PL_NOTIFY, 0, 0, 36, R32(0x22),
	/* N(NAT_DETECTION_SOURCE_IP = 0x4004), 28 */
	PL_NOTIFY, 0, 0, 28, 0, 0, 0x40, 0x04, R20(0x33),
	/* N(NAT_DETECTION_DESTINATION_IP = 0x4005), 28 */
	PL_VENDOR, 0, 0, 28, 0, 0, 0x40, 0x05, R20(0x44),
	/* V, 20 */
	PL_NONE, 0, 0, 20, R16(0x55),
};

static const struct ike_hdr test_hdr = {
	.spi_i = 0x0102030405060708ULL, .exchange = IKE_SA_INIT, .flags = IKE_FLAG_INITIATOR,
};

static uint8_t buf[70000];
static uint8_t buf2[70000];

/* Builds init_req with the encoder from the same values; -1 if it does not fit. */
static int build_init_req(uint8_t *out, size_t cap, size_t *len)
{
	static const uint8_t ke[32] = { R32(0x11) }, no[32] = { R32(0x22) };
	static const uint8_t nd_s[20] = { R20(0x33) }, nd_d[20] = { R20(0x44) };
	static const uint8_t vid[16] = { R16(0x55) };
	struct ike_proposal sa[2];
	struct ike_pl_ke k = { .group = DH_CURVE25519, .data = ke, .len = 32 };
	struct ike_pl_nonce n = { .data = no, .len = 32 };
	struct ike_pl_notify ns = { .type = N_NAT_DETECTION_SOURCE_IP, .data = nd_s, .len = 20 };
	struct ike_pl_notify nd = { .type = N_NAT_DETECTION_DESTINATION_IP, .data = nd_d, .len = 20 };
	struct ike_pl_vendor v = { .data = vid, .len = 16 };
	struct ike_mw b;
	struct wr w;

	sa[0] = (struct ike_proposal){ .num = 1, .proto = PROTO_IKE, .n_trans = 3, .trans = {
		{ TRANS_ENCR, ENCR_AES_GCM_16, 256, false },
		{ TRANS_PRF, PRF_HMAC_SHA2_256, 0, false },
		{ TRANS_DH, DH_CURVE25519, 0, false } } };
	sa[1] = (struct ike_proposal){ .num = 2, .proto = PROTO_IKE, .n_trans = 4, .trans = {
		{ TRANS_ENCR, ENCR_AES_CBC, 256, false },
		{ TRANS_PRF, PRF_HMAC_SHA2_256, 0, false },
		{ TRANS_INTEG, AUTH_HMAC_SHA2_256_128, 0, false },
		{ TRANS_DH, DH_CURVE25519, 0, false } } };
	wr_init(&w, out, cap);
	if (ike_mw_begin(&b, &w, &test_hdr) < 0 || ike_put_sa(&b, sa, 2) < 0 ||
	    ike_put_ke(&b, &k) < 0 || ike_put_nonce(&b, &n) < 0 ||
	    ike_put_notify(&b, &ns) < 0 || ike_put_notify(&b, &nd) < 0 ||
	    ike_put_vendor(&b, &v) < 0)
		return -1;
	return ike_mw_finish(&b, len);
}

static void check_transform(const struct ike_transform *t, uint8_t type, uint16_t id,
			    uint16_t key_len)
{
	ck_assert_uint_eq(t->type, type);
	ck_assert_uint_eq(t->id, id);
	ck_assert_uint_eq(t->key_len, key_len);
	ck_assert(!t->unknown_attr);
}

START_TEST(init_req_decodes_every_field)
{
	static const uint8_t types[] = { PL_SA, PL_KE, PL_NONCE, PL_NOTIFY, PL_NOTIFY, PL_VENDOR };
	struct ike_msg m;
	struct ike_pl_sa sap;
	struct sa_flat sa;
	struct ike_pl_ke ke;
	struct ike_pl_nonce no;
	struct ike_pl_notify n;
	struct ike_pl_vendor v;

	ck_assert_uint_eq(sizeof(init_req), 264);
	ck_assert_int_eq(ike_msg_decode(&m, init_req, sizeof(init_req)), 0);
	ck_assert_uint_eq(m.hdr.spi_i, 0x0102030405060708ULL);
	ck_assert_uint_eq(m.hdr.spi_r, 0);
	ck_assert_uint_eq(m.hdr.next_payload, PL_SA);
	ck_assert_uint_eq(m.hdr.version, 0x20);
	ck_assert_uint_eq(m.hdr.exchange, IKE_SA_INIT);
	ck_assert_uint_eq(m.hdr.flags, IKE_FLAG_INITIATOR);
	ck_assert_uint_eq(m.hdr.msg_id, 0);
	ck_assert_uint_eq(m.hdr.length, 264);
	ck_assert_uint_eq(m.n, 6);
	ck_assert_uint_eq(m.n_skipped, 0);
	ck_assert(!m.has_sk);
	for (unsigned i = 0; i < m.n; i++) {
		ck_assert_uint_eq(m.pl[i].type, types[i]);
		ck_assert(!m.pl[i].critical);
		ck_assert(!m.pl[i].in_sk);
	}
	ck_assert_uint_eq(m.pl[0].len, 80);
	ck_assert(m.pl[0].body == init_req + 32);

	ck_assert_int_eq(ike_pl_sa_decode(&m.pl[0], &sap), 0);
	sa_flat(&sap, &sa);
	ck_assert_uint_eq(sa.n_prop, 2);
	ck_assert_uint_eq(sap.max_trans, 4);
	ck_assert_uint_eq(sa.prop[0].num, 1);
	ck_assert_uint_eq(sa.prop[0].proto, PROTO_IKE);
	ck_assert_uint_eq(sa.prop[0].spi_size, 0);
	ck_assert_uint_eq(sa.prop[0].n_trans, 3);
	check_transform(&sa.prop[0].trans[0], TRANS_ENCR, ENCR_AES_GCM_16, 256);
	check_transform(&sa.prop[0].trans[1], TRANS_PRF, PRF_HMAC_SHA2_256, 0);
	check_transform(&sa.prop[0].trans[2], TRANS_DH, DH_CURVE25519, 0);
	ck_assert_uint_eq(sa.prop[1].num, 2);
	ck_assert_uint_eq(sa.prop[1].n_trans, 4);
	check_transform(&sa.prop[1].trans[0], TRANS_ENCR, ENCR_AES_CBC, 256);
	check_transform(&sa.prop[1].trans[1], TRANS_PRF, PRF_HMAC_SHA2_256, 0);
	check_transform(&sa.prop[1].trans[2], TRANS_INTEG, AUTH_HMAC_SHA2_256_128, 0);
	check_transform(&sa.prop[1].trans[3], TRANS_DH, DH_CURVE25519, 0);

	ck_assert_int_eq(ike_pl_ke_decode(&m.pl[1], &ke), 0);
	ck_assert_uint_eq(ke.group, DH_CURVE25519);
	ck_assert_uint_eq(ke.len, 32);
	ck_assert_uint_eq(ke.data[0], 0x11);
	ck_assert_uint_eq(ke.data[31], 0x11);

	ck_assert_int_eq(ike_pl_nonce_decode(&m.pl[2], &no), 0);
	ck_assert_uint_eq(no.len, 32);
	ck_assert_uint_eq(no.data[0], 0x22);

	ck_assert_int_eq(ike_pl_notify_decode(&m.pl[3], &n), 0);
	ck_assert_uint_eq(n.type, N_NAT_DETECTION_SOURCE_IP);
	ck_assert_uint_eq(n.proto, 0);
	ck_assert_uint_eq(n.spi_size, 0);
	ck_assert_uint_eq(n.len, 20);
	ck_assert_uint_eq(n.data[19], 0x33);
	ck_assert_int_eq(ike_pl_notify_decode(&m.pl[4], &n), 0);
	ck_assert_uint_eq(n.type, N_NAT_DETECTION_DESTINATION_IP);
	ck_assert_uint_eq(n.data[0], 0x44);
	ck_assert_str_eq(ike_notify_name(n.type), "NAT_DETECTION_DESTINATION_IP");

	ck_assert_int_eq(ike_pl_vendor_decode(&m.pl[5], &v), 0);
	ck_assert_uint_eq(v.len, 16);
	ck_assert_uint_eq(v.data[15], 0x55);
}
END_TEST

START_TEST(init_req_encodes_to_the_same_bytes)
{
	size_t len = 0;

	ck_assert_int_eq(build_init_req(buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, sizeof(init_req));
	ck_assert_mem_eq(buf, init_req, len);
}
END_TEST

/* A message: header + the given raw chain; header length = total. */
static size_t mk_msg(uint8_t *out, uint8_t first, const uint8_t *chain, size_t len)
{
	struct ike_hdr h = test_hdr;
	struct wr w;

	h.next_payload = first;
	h.length = (uint32_t)(IKE_HDR_LEN + len);
	wr_init(&w, out, sizeof(buf));
	ck_assert_int_eq(ike_hdr_encode(&w, &h), 0);
	ck_assert_int_eq(wr_bytes(&w, chain, len), 0);
	return wr_len(&w);
}

static int decode_chain(uint8_t first, const uint8_t *chain, size_t len, struct ike_msg *m)
{
	size_t n = mk_msg(buf, first, chain, len);

	return ike_msg_decode(m, buf, n);
}

START_TEST(chain_length_violations)
{
	static const uint8_t short_len[] = { PL_NONE, 0, 0, 3, 0 };
	static const uint8_t long_len[] = { PL_NONE, 0, 0, 9, 1, 2, 3, 4 };
	static const uint8_t no_end[] = { PL_VENDOR, 0, 0, 5, 1 };
	static const uint8_t trailing[] = { PL_NONE, 0, 0, 5, 1, 0xee };
	static const uint8_t half_hdr[] = { PL_NONE, 0, 0 };
	static const uint8_t ok[] = { PL_VENDOR, 0, 0, 5, 1, PL_NONE, 0, 0, 6, 2, 3 };
	struct ike_msg m;

	ck_assert_int_eq(decode_chain(PL_VENDOR, short_len, sizeof(short_len), &m), -1);
	ck_assert_uint_eq(m.err, N_INVALID_SYNTAX);
	ck_assert_int_eq(decode_chain(PL_VENDOR, long_len, sizeof(long_len), &m), -1);
	ck_assert_int_eq(decode_chain(PL_VENDOR, no_end, sizeof(no_end), &m), -1);
	ck_assert_int_eq(decode_chain(PL_VENDOR, trailing, sizeof(trailing), &m), -1);
	ck_assert_int_eq(decode_chain(PL_VENDOR, half_hdr, sizeof(half_hdr), &m), -1);
	ck_assert_int_eq(decode_chain(PL_NONE, trailing, sizeof(trailing), &m), -1);
	ck_assert_int_eq(decode_chain(PL_VENDOR, ok, sizeof(ok), &m), 0);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_uint_eq(m.pl[1].len, 2);
	ck_assert_int_eq(decode_chain(PL_NONE, NULL, 0, &m), 0);	/* header only */
	ck_assert_uint_eq(m.n, 0);
}
END_TEST

START_TEST(header_violations)
{
	uint8_t msg[sizeof(init_req) + 1];
	struct ike_msg m;

	memcpy(msg, init_req, sizeof(init_req));
	msg[sizeof(init_req)] = 0;
	/* one byte more in the datagram than the header says */
	ck_assert_int_eq(ike_msg_decode(&m, msg, sizeof(msg)), -1);
	/* one byte less */
	ck_assert_int_eq(ike_msg_decode(&m, msg, sizeof(init_req) - 1), -1);
	/* length field below 28, and equal to the datagram */
	memcpy(msg, init_req, IKE_HDR_LEN);
	msg[24] = msg[25] = msg[26] = 0;
	msg[27] = 27;
	ck_assert_int_eq(ike_msg_decode(&m, msg, 27), -1);
	/* header alone, length 28, next payload 0: valid */
	msg[27] = 28;
	msg[16] = PL_NONE;
	ck_assert_int_eq(ike_msg_decode(&m, msg, 28), 0);
	/* minor version is ignored */
	msg[17] = 0x21;
	ck_assert_int_eq(ike_msg_decode(&m, msg, 28), 0);
	/* major 1: rejected; major 3: INVALID_MAJOR_VERSION */
	msg[17] = 0x10;
	ck_assert_int_eq(ike_msg_decode(&m, msg, 28), -1);
	ck_assert_uint_eq(m.err, N_INVALID_SYNTAX);
	msg[17] = 0x30;
	ck_assert_int_eq(ike_msg_decode(&m, msg, 28), -1);
	ck_assert_uint_eq(m.err, N_INVALID_MAJOR_VERSION);
	ck_assert_uint_eq(m.hdr.version, 0x30);
	/* reserved flag bits ignored */
	msg[17] = 0x20;
	msg[19] = 0xff;
	ck_assert_int_eq(ike_msg_decode(&m, msg, 28), 0);
	ck_assert_int_eq(ike_msg_decode(&m, NULL, 0), -1);
}
END_TEST

START_TEST(unknown_payloads)
{
	/* V, then unknown type 99 non-critical, then V */
	static const uint8_t skip[] = { 99, 0, 0, 5, 1, PL_VENDOR, 0, 0, 6, 0xaa, 0xbb,
					PL_NONE, 0, 0, 5, 3 };
	/* V, then unknown 99 critical */
	static const uint8_t crit[] = { 99, 0, 0, 5, 1, PL_NONE, 0x80, 0, 4 };
	/* known payload with the critical bit: accepted */
	static const uint8_t known_crit[] = { PL_NONE, 0x80, 0, 5, 1 };
	/* reserved flag bits ignored */
	static const uint8_t reserved[] = { PL_NONE, 0x7f, 0, 5, 1 };
	struct ike_msg m;

	ck_assert_int_eq(decode_chain(PL_VENDOR, skip, sizeof(skip), &m), 0);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_uint_eq(m.n_skipped, 1);
	ck_assert_uint_eq(m.pl[0].type, PL_VENDOR);
	ck_assert_uint_eq(m.pl[1].type, PL_VENDOR);
	ck_assert_uint_eq(m.pl[1].body[0], 3);

	ck_assert_int_eq(decode_chain(PL_VENDOR, crit, sizeof(crit), &m), -1);
	ck_assert_uint_eq(m.err, N_UNSUPPORTED_CRITICAL_PAYLOAD);
	ck_assert_uint_eq(m.err_pl_type, 99);

	ck_assert_int_eq(decode_chain(PL_VENDOR, known_crit, sizeof(known_crit), &m), 0);
	ck_assert(m.pl[0].critical);
	ck_assert_int_eq(decode_chain(PL_VENDOR, reserved, sizeof(reserved), &m), 0);
	ck_assert(!m.pl[0].critical);
	ck_assert(ike_pl_known(PL_SKF));
	ck_assert(!ike_pl_known(49));
	ck_assert(!ike_pl_known(PL_NONE));
}
END_TEST

/* n Vendor IDs of one octet each, as a raw chain. */
static size_t vid_chain(uint8_t *out, unsigned n)
{
	struct wr w;

	wr_init(&w, out, sizeof(buf2));
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(wr_u8(&w, i + 1 < n ? PL_VENDOR : PL_NONE), 0);
		ck_assert_int_eq(wr_u8(&w, 0), 0);
		ck_assert_int_eq(wr_u16(&w, 5), 0);
		ck_assert_int_eq(wr_u8(&w, (uint8_t)i), 0);
	}
	return wr_len(&w);
}

START_TEST(payload_count_is_bounded)
{
	struct ike_msg m;
	size_t n;

	n = vid_chain(buf2, IKE_MAX_PAYLOADS);
	ck_assert_int_eq(decode_chain(PL_VENDOR, buf2, n, &m), 0);
	ck_assert_uint_eq(m.n, IKE_MAX_PAYLOADS);
	ck_assert_ptr_null(m.err_limit);
	n = vid_chain(buf2, IKE_MAX_PAYLOADS + 1);
	ck_assert_int_eq(decode_chain(PL_VENDOR, buf2, n, &m), -1);
	ck_assert_str_eq(m.err_limit, "more than 256 payloads (IKE_MAX_PAYLOADS)");	/* named */
	/* a long chain of empty unknown payloads is bounded the same way */
	n = vid_chain(buf2, 1000);
	ck_assert_int_eq(decode_chain(PL_VENDOR, buf2, n, &m), -1);
}
END_TEST

START_TEST(sk_must_be_last)
{
	/* N, then SK (first inner: IDi) with 8 body octets */
	static const uint8_t sk_ok[] = { PL_SK, 0, 0, 8, 0, 0, 0x40, 0x00,
					 PL_IDi, 0, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t sk_not_last[] = { PL_VENDOR, 0, 0, 6, 1, 2, PL_NONE, 0, 0, 5, 9 };
	struct ike_msg m;

	ck_assert_int_eq(decode_chain(PL_NOTIFY, sk_ok, sizeof(sk_ok), &m), 0);
	ck_assert(m.has_sk);
	ck_assert_uint_eq(m.sk_type, PL_SK);
	ck_assert_uint_eq(m.sk_inner_first, PL_IDi);
	ck_assert_uint_eq(m.sk_idx, 1);
	ck_assert_uint_eq(m.sk_off, IKE_HDR_LEN + 8);
	ck_assert_uint_eq(m.sk_aad_len, IKE_HDR_LEN + 8 + 4);
	ck_assert_uint_eq(m.sk_body_len, 8);
	ck_assert(m.sk_body == buf + IKE_HDR_LEN + 12);
	/* SK followed by more bytes */
	ck_assert_int_eq(decode_chain(PL_SK, sk_not_last, sizeof(sk_not_last), &m), -1);
}
END_TEST

START_TEST(inner_chain)
{
	static const uint8_t sk[] = { PL_NOTIFY, 0, 0, 4 };	/* empty SK body */
	static const uint8_t inner[] = { PL_VENDOR, 0, 0, 12, 0, 0, 0x40, 0x00, 1, 2, 3, 4,
					 PL_NONE, 0, 0, 5, 7 };
	static const uint8_t bad_inner[] = { PL_VENDOR, 0, 0, 5, 1, PL_NONE, 0, 0, 9 };
	static const uint8_t nested[] = { PL_NONE, 0, 0, 4 };
	struct ike_msg m;

	/* no SK: refused */
	ck_assert_int_eq(decode_chain(PL_NONE, NULL, 0, &m), 0);
	ck_assert_int_eq(ike_msg_decode_inner(&m, PL_NOTIFY, inner, sizeof(inner)), -1);

	ck_assert_int_eq(decode_chain(PL_SK, sk, sizeof(sk), &m), 0);
	ck_assert_int_eq(ike_msg_decode_inner(&m, m.sk_inner_first, inner, sizeof(inner)), 0);
	ck_assert_uint_eq(m.n, 3);
	ck_assert(!m.pl[0].in_sk);
	ck_assert(m.pl[1].in_sk && m.pl[1].type == PL_NOTIFY);
	ck_assert(m.pl[2].in_sk && m.pl[2].type == PL_VENDOR);
	/* only once */
	ck_assert_int_eq(ike_msg_decode_inner(&m, PL_NOTIFY, inner, sizeof(inner)), -1);

	/* a bad inner chain leaves the outer payloads alone */
	ck_assert_int_eq(decode_chain(PL_SK, sk, sizeof(sk), &m), 0);
	ck_assert_int_eq(ike_msg_decode_inner(&m, PL_VENDOR, bad_inner, sizeof(bad_inner)), -1);
	ck_assert_uint_eq(m.n, 1);
	ck_assert_uint_eq(m.err, N_INVALID_SYNTAX);

	/* SK inside SK */
	ck_assert_int_eq(decode_chain(PL_SK, sk, sizeof(sk), &m), 0);
	ck_assert_int_eq(ike_msg_decode_inner(&m, PL_SK, nested, sizeof(nested)), -1);

	/* empty inner chain: an empty INFORMATIONAL (liveness check) */
	ck_assert_int_eq(decode_chain(PL_SK, sk, sizeof(sk), &m), 0);
	ck_assert_int_eq(ike_msg_decode_inner(&m, PL_NONE, NULL, 0), 0);
	ck_assert_uint_eq(m.n, 1);
}
END_TEST

START_TEST(skf_fragment_header)
{
	uint8_t skf[] = { PL_IDi, 0, 0, 12, 0, 1, 0, 2, 9, 9, 9, 9 };
	struct ike_msg m;

	ck_assert_int_eq(decode_chain(PL_SKF, skf, sizeof(skf), &m), 0);
	ck_assert_uint_eq(m.sk_type, PL_SKF);
	ck_assert_uint_eq(m.skf_num, 1);
	ck_assert_uint_eq(m.skf_total, 2);
	ck_assert_uint_eq(m.sk_aad_len, IKE_HDR_LEN + IKE_SKF_HDR_LEN);
	ck_assert_uint_eq(m.sk_body_len, 4);
	skf[5] = 0;	/* fragment 0 */
	ck_assert_int_eq(decode_chain(PL_SKF, skf, sizeof(skf), &m), -1);
	skf[5] = 3;	/* 3 of 2 */
	ck_assert_int_eq(decode_chain(PL_SKF, skf, sizeof(skf), &m), -1);
	skf[3] = 6;	/* no room for the fragment fields */
	ck_assert_int_eq(decode_chain(PL_SKF, skf, 6, &m), -1);
}
END_TEST

START_TEST(find_iterates_by_type)
{
	const struct ike_pl *p;
	struct ike_msg m;
	unsigned it = 0, count = 0;

	ck_assert_int_eq(ike_msg_decode(&m, init_req, sizeof(init_req)), 0);
	while ((p = ike_msg_find(&m, PL_NOTIFY, &it)))
		count++;
	ck_assert_uint_eq(count, 2);
	it = 0;
	ck_assert_ptr_null(ike_msg_find(&m, PL_AUTH, &it));
}
END_TEST

START_TEST(builder_chains_and_fills_lengths)
{
	static const uint8_t body[3] = { 1, 2, 3 };
	struct ike_msg m;
	struct ike_mw b;
	struct wr w;
	size_t len;

	wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &test_hdr), 0);
	ck_assert_int_eq(ike_mw_raw(&b, PL_VENDOR, false, body, 3), 0);
	ck_assert_int_eq(ike_mw_open(&b, PL_VENDOR, true), 0);
	ck_assert_int_eq(ike_mw_open(&b, PL_VENDOR, false), -1);	/* one open at a time */
	ck_assert_int_eq(ike_mw_finish(&b, &len), -1);
	wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &test_hdr), 0);
	ck_assert_int_eq(ike_mw_raw(&b, PL_VENDOR, false, body, 3), 0);
	ck_assert_int_eq(ike_mw_open(&b, PL_VENDOR, true), 0);
	ck_assert_int_eq(wr_u8(&w, 9), 0);
	ck_assert_int_eq(ike_mw_close(&b), 0);
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);
	ck_assert_uint_eq(len, IKE_HDR_LEN + 7 + 5);
	ck_assert_int_eq(ike_mw_raw(&b, PL_VENDOR, false, body, 3), -1);	/* closed */
	ck_assert_uint_eq(buf[IKE_HDR_NP_OFF], PL_VENDOR);
	ck_assert_int_eq(ike_msg_decode(&m, buf, len), 0);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_uint_eq(m.pl[0].len, 3);
	ck_assert(m.pl[1].critical);
	ck_assert_uint_eq(m.pl[1].body[0], 9);
}
END_TEST

START_TEST(builder_overflow_fails_cleanly)
{
	uint8_t small[40];
	struct ike_mw b;
	struct wr w;
	size_t len;

	/* every capacity short of the message fails, never writes past it */
	for (size_t cap = 0; cap <= sizeof(init_req); cap++) {
		uint8_t *out = malloc(cap ? cap : 1);

		ck_assert_ptr_nonnull(out);
		ck_assert_int_eq(build_init_req(out, cap, &len), cap == sizeof(init_req) ? 0 : -1);
		free(out);
	}
	wr_init(&w, small, sizeof(small));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &test_hdr), 0);
	ck_assert_int_eq(ike_mw_raw(&b, PL_VENDOR, false, init_req, 20), -1);
	ck_assert_int_eq(ike_mw_finish(&b, &len), -1);
	wr_init(&w, small, 10);
	ck_assert_int_eq(ike_mw_begin(&b, &w, &test_hdr), -1);
}
END_TEST

START_TEST(builder_inner_chain)
{
	static const uint8_t d[] = { 7, 7, 7, 7 };
	struct ike_pl_vendor v = { .data = d, .len = 4 };
	struct ike_msg m;
	struct ike_mw b;
	struct wr w;
	size_t len;
	static const uint8_t sk[] = { PL_VENDOR, 0, 0, 4 };

	wr_init(&w, buf2, sizeof(buf2));
	ck_assert_int_eq(wr_u8(&w, 0xee), 0);	/* the chain need not start at 0 */
	ck_assert_int_eq(ike_mw_begin_inner(&b, &w), 0);
	ck_assert_int_eq(ike_put_vendor(&b, &v), 0);
	ck_assert_int_eq(ike_put_vendor(&b, &v), 0);
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);
	ck_assert_uint_eq(ike_mw_first(&b), PL_VENDOR);
	ck_assert_uint_eq(b.start, 1);
	ck_assert_uint_eq(len, 16);
	ck_assert_uint_eq(buf2[1], PL_VENDOR);	/* first's Next Payload: the second */
	ck_assert_uint_eq(buf2[9], PL_NONE);
	ck_assert_int_eq(decode_chain(PL_SK, sk, sizeof(sk), &m), 0);
	ck_assert_int_eq(ike_msg_decode_inner(&m, ike_mw_first(&b), buf2 + 1, len), 0);
	ck_assert_uint_eq(m.n, 3);

	/* no SK inside an inner chain */
	wr_init(&w, buf2, sizeof(buf2));
	ck_assert_int_eq(ike_mw_begin_inner(&b, &w), 0);
	{
		struct ike_sk_out out;

		ck_assert_int_eq(ike_mw_sk(&b, PL_NONE, 16, &out), -1);
	}
}
END_TEST

START_TEST(builder_sk_layout)
{
	static const uint8_t d[] = { 1 };
	struct ike_pl_vendor v = { .data = d, .len = 1 };
	struct ike_sk_out out;
	struct ike_msg m;
	struct ike_mw b;
	struct wr w;
	size_t len;

	/* SK first: AAD = 28 + 4 */
	wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &test_hdr), 0);
	ck_assert_int_eq(ike_mw_sk(&b, PL_IDi, 40, &out), 0);
	ck_assert(out.msg == buf);
	ck_assert_uint_eq(out.msg_len, IKE_HDR_LEN + 4 + 40);
	ck_assert_uint_eq(out.aad_len, IKE_HDR_LEN + 4);
	ck_assert(out.body == buf + IKE_HDR_LEN + 4);
	ck_assert_uint_eq(out.body_len, 40);
	memset(out.body, 0xab, out.body_len);
	ck_assert_uint_eq(buf[IKE_HDR_NP_OFF], PL_SK);
	ck_assert_uint_eq(get_be32(buf + IKE_HDR_LENGTH_OFF), 72);
	ck_assert_uint_eq(buf[IKE_HDR_LEN], PL_IDi);
	ck_assert_uint_eq(get_be16(buf + IKE_HDR_LEN + 2), 44);
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);	/* idempotent */
	ck_assert_uint_eq(len, 72);
	ck_assert_int_eq(ike_put_vendor(&b, &v), -1);	/* nothing after SK */
	ck_assert_int_eq(ike_msg_decode(&m, buf, 72), 0);
	ck_assert_uint_eq(m.sk_off, IKE_HDR_LEN);
	ck_assert_uint_eq(m.sk_aad_len, out.aad_len);
	ck_assert(m.sk_body == out.body);

	/* a payload before SKF: AAD = 28 + 5 + 8 */
	wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &test_hdr), 0);
	ck_assert_int_eq(ike_put_vendor(&b, &v), 0);
	ck_assert_int_eq(ike_mw_skf(&b, PL_IDi, 1, 3, 20, &out), 0);
	ck_assert_uint_eq(out.aad_len, IKE_HDR_LEN + 5 + IKE_SKF_HDR_LEN);
	memset(out.body, 0, out.body_len);
	ck_assert_int_eq(ike_msg_decode(&m, buf, out.msg_len), 0);
	ck_assert_uint_eq(m.sk_type, PL_SKF);
	ck_assert_uint_eq(m.skf_num, 1);
	ck_assert_uint_eq(m.skf_total, 3);
	ck_assert_uint_eq(m.sk_aad_len, out.aad_len);
	ck_assert_uint_eq(m.sk_body_len, 20);

	/* bad fragment numbers, too long a body */
	wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &test_hdr), 0);
	ck_assert_int_eq(ike_mw_skf(&b, PL_IDi, 4, 3, 20, &out), -1);
	wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &test_hdr), 0);
	ck_assert_int_eq(ike_mw_sk(&b, PL_IDi, 65532, &out), -1);
}
END_TEST

START_TEST(every_prefix_is_an_error)
{
	uint8_t *copy;
	struct ike_msg m;

	for (size_t n = 0; n < sizeof(init_req); n++) {
		/* heap copy of exactly n bytes: ASan catches any overread */
		copy = malloc(n ? n : 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, init_req, n);
		ck_assert_int_eq(ike_msg_decode(&m, copy, n), -1);
		/* and with the header length patched to match: the chain must fail */
		if (n >= IKE_HDR_LEN) {
			put_be32(copy + IKE_HDR_LENGTH_OFF, (uint32_t)n);
			ck_assert_int_eq(ike_msg_decode(&m, copy, n), -1);
		}
		free(copy);
	}
}
END_TEST

/* Structural invariants of a decoded message. */
static void check_structure(const struct ike_msg *m, const uint8_t *raw, size_t len)
{
	ck_assert_uint_le(m->n + m->n_skipped, IKE_MAX_PAYLOADS);
	ck_assert_uint_eq(m->hdr.length, len);
	for (unsigned i = 0; i < m->n; i++) {
		const struct ike_pl *p = &m->pl[i];

		ck_assert(ike_pl_known(p->type));
		if (p->in_sk)
			continue;
		ck_assert(p->body >= raw + IKE_HDR_LEN + IKE_GENERIC_HDR_LEN);
		ck_assert(p->body + p->len <= raw + len);
	}
	if (m->has_sk) {
		ck_assert_uint_eq(m->sk_idx + 1, m->n);
		ck_assert_uint_le(m->sk_aad_len + m->sk_body_len, len);
		ck_assert(m->sk_body + m->sk_body_len == raw + len);
	}
}

/* Decode every typed payload; re-encode what decodes and decode it again. */
static void typed_roundtrip(const struct ike_msg *m)
{
	struct ike_pl_any a;
	struct ike_msg m2;
	struct ike_mw b;
	struct wr w;
	size_t len;

	wr_init(&w, buf2, sizeof(buf2));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &m->hdr), 0);
	for (unsigned i = 0; i < m->n; i++) {
		if (m->pl[i].type == PL_SK || m->pl[i].type == PL_SKF)
			continue;
		if (ike_pl_any_decode(&m->pl[i], &a) == 0)
			ck_assert_int_eq(ike_put_any(&b, &a), 0);
	}
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);
	ck_assert_int_eq(ike_msg_decode(&m2, buf2, len), 0);
	for (unsigned i = 0; i < m2.n; i++)
		ck_assert_int_eq(ike_pl_any_decode(&m2.pl[i], &a), 0);
}

START_TEST(every_bit_flip_is_safe)
{
	uint8_t *copy = malloc(sizeof(init_req));
	struct ike_msg m;
	unsigned ok = 0;

	ck_assert_ptr_nonnull(copy);
	for (size_t bit = 0; bit < sizeof(init_req) * 8; bit++) {
		memcpy(copy, init_req, sizeof(init_req));
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (ike_msg_decode(&m, copy, sizeof(init_req)) < 0)
			continue;
		ok++;
		check_structure(&m, copy, sizeof(init_req));
		typed_roundtrip(&m);
	}
	free(copy);
	ck_assert_uint_gt(ok, 0);	/* flips in data fields still decode */
}
END_TEST

START_TEST(every_bit_flip_of_inner_chain_is_safe)
{
	static const uint8_t sk[] = { PL_IDi, 0, 0, 4 };
	static const uint8_t inner[] = {
		PL_AUTH, 0, 0, 12, ID_FQDN, 0, 0, 0, 'g', 'w', '.', 'x',
		PL_CP, 0, 0, 12, AUTH_SHARED_KEY_MIC, 0, 0, 0, 1, 2, 3, 4,
		PL_TSi, 0, 0, 16, CFG_REQUEST, 0, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0,
		PL_NONE, 0, 0, 24, 1, 0, 0, 0, TS_IPV4_ADDR_RANGE, 0, 0, 16, 0, 0, 0xff, 0xff,
		0, 0, 0, 0, 255, 255, 255, 255,
	};
	uint8_t copy[sizeof(inner)];
	struct ike_msg m;

	for (size_t bit = 0; bit < sizeof(inner) * 8; bit++) {
		memcpy(copy, inner, sizeof(inner));
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(decode_chain(PL_SK, sk, sizeof(sk), &m), 0);
		if (ike_msg_decode_inner(&m, PL_IDi, copy, sizeof(copy)) < 0) {
			ck_assert_uint_eq(m.n, 1);
			continue;
		}
		for (unsigned i = 1; i < m.n; i++) {
			struct ike_pl_any a;

			ck_assert(m.pl[i].in_sk);
			ck_assert(m.pl[i].body >= copy && m.pl[i].body + m.pl[i].len <= copy + sizeof(copy));
			if (ike_pl_any_decode(&m.pl[i], &a) == 0)
				ck_assert_uint_eq(a.type, m.pl[i].type);
		}
	}
	/* unflipped, everything decodes */
	ck_assert_int_eq(decode_chain(PL_SK, sk, sizeof(sk), &m), 0);
	ck_assert_int_eq(ike_msg_decode_inner(&m, PL_IDi, inner, sizeof(inner)), 0);
	ck_assert_uint_eq(m.n, 5);
	for (unsigned i = 1; i < m.n; i++) {
		struct ike_pl_any a;

		ck_assert_int_eq(ike_pl_any_decode(&m.pl[i], &a), 0);
	}
}
END_TEST

START_TEST(names)
{
	ck_assert_str_eq(ike_notify_name(N_NO_PROPOSAL_CHOSEN), "NO_PROPOSAL_CHOSEN");
	ck_assert_str_eq(ike_notify_name(16404), "MULTIPLE_AUTH_SUPPORTED");
	ck_assert_str_eq(ike_notify_name(12345), "NOTIFY(12345)");
	ck_assert_str_eq(ike_exchange_name(IKE_AUTH), "IKE_AUTH");
	ck_assert_str_eq(ike_exchange_name(99), "EXCHANGE(99)");
	ck_assert_str_eq(ike_payload_name(PL_SK), "SK");
	ck_assert_str_eq(ike_payload_name(200), "PAYLOAD(200)");
	ck_assert_str_eq(ike_transform_name(TRANS_DH, DH_CURVE25519), "CURVE25519");
	ck_assert_str_eq(ike_transform_name(TRANS_ENCR, ENCR_AES_GCM_16), "ENCR_AES_GCM_16");
	ck_assert_str_eq(ike_transform_name(TRANS_ENCR, 999), "ENCR(999)");
	ck_assert_str_eq(ike_transform_name(77, 1), "TRANSFORM_ID(1)");
	ck_assert_str_eq(ike_transform_type_name(TRANS_ESN), "ESN");
	ck_assert_str_eq(ike_proto_name(PROTO_ESP), "ESP");
	ck_assert_str_eq(ike_id_type_name(ID_FQDN), "ID_FQDN");
	ck_assert_str_eq(ike_auth_method_name(AUTH_DIGITAL_SIGNATURE), "AUTH_DIGITAL_SIGNATURE");
	ck_assert_str_eq(ike_cert_encoding_name(CERT_X509_SIGNATURE), "CERT_X509_SIGNATURE");
	ck_assert_str_eq(ike_ts_type_name(TS_IPV6_ADDR_RANGE), "TS_IPV6_ADDR_RANGE");
	ck_assert_str_eq(ike_cfg_type_name(CFG_REPLY), "CFG_REPLY");
	ck_assert_str_eq(ike_cfg_attr_name(INTERNAL_IP4_DNS), "INTERNAL_IP4_DNS");
	ck_assert_str_eq(ike_cfg_attr_name(0x7fff), "CFG_ATTR(32767)");
	/* several unknown names in one call stay distinct */
	{
		const char *a = ike_notify_name(1000), *b = ike_notify_name(1001);

		ck_assert_str_eq(a, "NOTIFY(1000)");
		ck_assert_str_eq(b, "NOTIFY(1001)");
	}
}
END_TEST

static Suite *ike_msg_suite(void)
{
	Suite *s = suite_create("ike_msg");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, init_req_decodes_every_field);
	tcase_add_test(tc, init_req_encodes_to_the_same_bytes);
	tcase_add_test(tc, chain_length_violations);
	tcase_add_test(tc, header_violations);
	tcase_add_test(tc, unknown_payloads);
	tcase_add_test(tc, payload_count_is_bounded);
	tcase_add_test(tc, sk_must_be_last);
	tcase_add_test(tc, inner_chain);
	tcase_add_test(tc, skf_fragment_header);
	tcase_add_test(tc, find_iterates_by_type);
	tcase_add_test(tc, builder_chains_and_fills_lengths);
	tcase_add_test(tc, builder_overflow_fails_cleanly);
	tcase_add_test(tc, builder_inner_chain);
	tcase_add_test(tc, builder_sk_layout);
	tcase_add_test(tc, every_prefix_is_an_error);
	tcase_add_test(tc, every_bit_flip_is_safe);
	tcase_add_test(tc, every_bit_flip_of_inner_chain_is_safe);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ike_msg_suite)
