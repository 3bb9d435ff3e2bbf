/*
 * IKEv2 typed payloads: decode(encode(x)) == x for each, and each
 * malformation the decoders must refuse.
 */
#include <stdlib.h>
#include <string.h>

#include "ike/msg.h"
#include "ike/proposal.h"
#include "tests/unit/check_main.h"
#include "tests/unit/sa_flat.h"

static uint8_t buf[70000];

static struct ike_pl pl_of(uint8_t type, const uint8_t *body, size_t len)
{
	struct ike_pl p = { .type = type, .body = body, .len = (uint16_t)len };

	return p;
}

static bool bytes_eq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

/* Encodes a alone in a message, decodes the message and the payload into out. */
static void roundtrip(const struct ike_pl_any *a, struct ike_pl_any *out)
{
	static const struct ike_hdr h = { .spi_i = 1, .spi_r = 2, .exchange = IKE_AUTH };
	struct ike_msg m;
	struct ike_mw b;
	struct wr w;
	size_t len;

	wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &h), 0);
	ck_assert_int_eq(ike_put_any(&b, a), 0);
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);
	ck_assert_int_eq(ike_msg_decode(&m, buf, len), 0);
	ck_assert_uint_eq(m.n, 1);
	ck_assert_uint_eq(m.pl[0].type, a->type);
	ck_assert_int_eq(ike_pl_any_decode(&m.pl[0], out), 0);
	ck_assert_uint_eq(out->type, a->type);
}

/* Encoding refuses a, and writes nothing. */
static void refused(const struct ike_pl_any *a)
{
	struct ike_mw b;
	struct wr w;
	static const struct ike_hdr h = { .spi_i = 1 };

	wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &h), 0);
	ck_assert_int_eq(ike_put_any(&b, a), -1);
	ck_assert_uint_eq(wr_len(&w), IKE_HDR_LEN);
}

static int dec(uint8_t type, const uint8_t *body, size_t len)
{
	struct ike_pl p = pl_of(type, body, len);
	struct ike_pl_any a;

	return ike_pl_any_decode(&p, &a);
}

/* ---- SA ---- */

/* The proposals we encoded against what decoding them gives back. */
static void sa_eq(const struct ike_proposal *x, unsigned n, const struct ike_pl_sa *y)
{
	struct sa_flat f;

	sa_flat(y, &f);
	ck_assert_uint_eq(f.n_prop, n);
	for (unsigned i = 0; i < n; i++) {
		const struct ike_proposal *p = &x[i];
		const struct sa_flat_prop *q = &f.prop[i];

		ck_assert_uint_eq(p->num, q->num);
		ck_assert_uint_eq(p->proto, q->proto);
		ck_assert_uint_eq(p->spi_size, q->spi_size);
		ck_assert_mem_eq(p->spi, q->spi, p->spi_size);
		ck_assert_uint_eq(p->n_trans, q->n_trans);
		for (unsigned j = 0; j < p->n_trans; j++) {
			ck_assert_uint_eq(p->trans[j].type, q->trans[j].type);
			ck_assert_uint_eq(p->trans[j].id, q->trans[j].id);
			ck_assert_uint_eq(p->trans[j].key_len, q->trans[j].key_len);
			ck_assert(!q->trans[j].unknown_attr);
		}
	}
}

static void esp_prop(struct ike_proposal *p, uint8_t num, uint32_t spi)
{
	memset(p, 0, sizeof(*p));
	p->num = num;
	p->proto = PROTO_ESP;
	p->spi_size = 4;
	put_be32(p->spi, spi);
	p->n_trans = 2;
	p->trans[0] = (struct ike_transform){ TRANS_ENCR, ENCR_AES_GCM_16, 128, false };
	p->trans[1] = (struct ike_transform){ TRANS_ESN, ESN_NO, 0, false };
}

/* Encodes n proposals alone in a message, decodes it back into *out. */
static void sa_roundtrip_n(const struct ike_proposal *props, unsigned n, struct ike_pl_any *out)
{
	static const struct ike_hdr h = { .spi_i = 1, .spi_r = 2, .exchange = IKE_AUTH };
	struct ike_pl_any again;
	struct ike_msg m;
	struct ike_mw b;
	struct wr w;
	size_t len;

	wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &h), 0);
	ck_assert_int_eq(ike_put_sa(&b, props, n), 0);
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);
	ck_assert_int_eq(ike_msg_decode(&m, buf, len), 0);
	ck_assert_int_eq(ike_pl_any_decode(&m.pl[0], out), 0);
	sa_eq(props, n, &out->u.sa);
	/* a decoded SA payload encodes to the same bytes */
	roundtrip(out, &again);
	sa_eq(props, n, &again.u.sa);
}

START_TEST(sa_roundtrip)
{
	static struct ike_proposal props[PROP_LIST_MAX];
	struct ike_pl_any out;

	/* ESP, several proposals */
	for (unsigned i = 0; i < 3; i++)
		esp_prop(&props[i], (uint8_t)(i + 1), 0xc0000000u + i);
	sa_roundtrip_n(props, 3, &out);

	/* IKE rekey: 8-octet SPI, one proposal carrying the accepted number 5 */
	memset(props, 0, sizeof(props));
	props[0].num = 5;
	props[0].proto = PROTO_IKE;
	props[0].spi_size = 8;
	memcpy(props[0].spi, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	props[0].n_trans = IKE_PROP_MAX_BUILD;
	for (unsigned j = 0; j < IKE_PROP_MAX_BUILD; j++)
		props[0].trans[j] = (struct ike_transform){ TRANS_DH, (uint16_t)(j + 1), 0, false };
	sa_roundtrip_n(props, 1, &out);
	ck_assert_uint_eq(out.u.sa.max_trans, IKE_PROP_MAX_BUILD);

	/* as many proposals as a configuration may list */
	for (unsigned i = 0; i < PROP_LIST_MAX; i++)
		esp_prop(&props[i], (uint8_t)(i + 1), i);
	sa_roundtrip_n(props, PROP_LIST_MAX, &out);
}
END_TEST

/* ike_put_sa() refuses props[0..n) and writes nothing. */
static void sa_refused(const struct ike_proposal *props, unsigned n)
{
	static const struct ike_hdr h = { .spi_i = 1 };
	struct ike_mw b;
	struct wr w;

	wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(ike_mw_begin(&b, &w, &h), 0);
	ck_assert_int_eq(ike_put_sa(&b, props, n), -1);
	ck_assert_uint_eq(wr_len(&w), IKE_HDR_LEN);
}

START_TEST(sa_encoder_refuses)
{
	struct ike_proposal p[2];

	esp_prop(&p[0], 1, 1);
	sa_refused(p, 0);			/* no proposal */
	sa_refused(p, 256);			/* Proposal Num is one octet */
	esp_prop(&p[0], 1, 1);
	esp_prop(&p[1], 3, 2);			/* not consecutive */
	sa_refused(p, 2);
	esp_prop(&p[0], 2, 1);
	esp_prop(&p[1], 3, 2);			/* first of several is not 1 */
	sa_refused(p, 2);
	p[0].spi_size = 8;			/* ESP with 8-octet SPI */
	sa_refused(p, 1);
	esp_prop(&p[0], 1, 1);
	p[0].proto = 9;				/* we never offer a protocol we do not know */
	sa_refused(p, 1);
	esp_prop(&p[0], 1, 1);
	p[0].n_trans = 0;
	sa_refused(p, 1);
	p[0].n_trans = IKE_PROP_MAX_BUILD + 1;
	sa_refused(p, 1);
	esp_prop(&p[0], 1, 1);
	p[0].trans[1].type = 0;			/* transform type 0 is reserved */
	sa_refused(p, 1);
}
END_TEST

/*
 * Raw SA bodies. One proposal: last, 0, len, num, proto, spi size, #trans,
 * then transforms.
 */
static const uint8_t sa_one[] = {
	0, 0, 0, 28, 1, PROTO_ESP, 4, 2, 0xca, 0xfe, 0xba, 0xbe,
	3, 0, 0, 8, TRANS_ENCR, 0, 0, ENCR_CHACHA20_POLY1305,
	0, 0, 0, 8, TRANS_ESN, 0, 0, ESN_YES,
};

static int dec_sa_patched(size_t at, uint8_t val)
{
	uint8_t b[sizeof(sa_one)];

	memcpy(b, sa_one, sizeof(b));
	b[at] = val;
	return dec(PL_SA, b, sizeof(b));
}

START_TEST(sa_malformed)
{
	ck_assert_int_eq(dec(PL_SA, sa_one, sizeof(sa_one)), 0);
	ck_assert_int_eq(dec(PL_SA, sa_one, 0), -1);		/* no proposal */
	ck_assert_int_eq(dec_sa_patched(0, 2), -1);		/* "more" but none follows */
	ck_assert_int_eq(dec_sa_patched(0, 1), -1);		/* last/more not 0/2 */
	ck_assert_int_eq(dec_sa_patched(3, 27), -1);		/* proposal length short */
	ck_assert_int_eq(dec_sa_patched(3, 29), -1);		/* proposal length long */
	ck_assert_int_eq(dec_sa_patched(3, 7), -1);		/* below 8 */
	ck_assert_int_eq(dec_sa_patched(4, 0), -1);		/* proposal number 0 */
	/* §3.3.6: unknown is not malformed; the chooser finds such a proposal unacceptable */
	ck_assert_int_eq(dec_sa_patched(5, 0), 0);		/* protocol 0 */
	ck_assert_int_eq(dec_sa_patched(5, 4), 0);		/* unknown protocol */
	ck_assert_int_eq(dec_sa_patched(16, 0), 0);		/* transform type 0 */
	ck_assert_int_eq(dec_sa_patched(16, 200), 0);		/* unknown transform type */
	ck_assert_int_eq(dec_sa_patched(19, 250), 0);		/* unknown transform ID */
	ck_assert_int_eq(dec_sa_patched(5, PROTO_IKE), -1);	/* IKE with 4-octet SPI */
	ck_assert_int_eq(dec_sa_patched(6, 8), -1);		/* ESP with 8-octet SPI */
	ck_assert_int_eq(dec_sa_patched(7, 1), -1);		/* says 1 transform, 2 present */
	ck_assert_int_eq(dec_sa_patched(7, 3), -1);		/* says 3, 2 present */
	ck_assert_int_eq(dec_sa_patched(7, 0), -1);		/* no transform */
	ck_assert_int_eq(dec_sa_patched(7, 255), -1);		/* says 255, 2 present */
	ck_assert_int_eq(dec_sa_patched(12, 0), -1);		/* first transform says last */
	ck_assert_int_eq(dec_sa_patched(20, 3), -1);		/* last transform says more */
	ck_assert_int_eq(dec_sa_patched(15, 7), -1);		/* transform length below 8 */
	ck_assert_int_eq(dec_sa_patched(15, 9), -1);		/* transform length overruns */
	ck_assert_int_eq(dec(PL_KE, sa_one, sizeof(sa_one)), -1);	/* wrong decoder */
	for (size_t n = 0; n < sizeof(sa_one); n++) {
		uint8_t *b = malloc(n + 1);

		memcpy(b, sa_one, n);
		ck_assert_int_eq(dec(PL_SA, b, n), -1);
		free(b);
	}
}
END_TEST

/* A proposal with one transform carrying the given attribute octets. */
static int dec_sa_attr(const uint8_t *attr, size_t alen, struct ike_pl_sa *sa)
{
	static uint8_t b[64];	/* the decoded view points into it */
	struct ike_pl p;
	struct wr w;

	wr_init(&w, b, sizeof(b));
	ck_assert_int_eq(wr_bytes(&w, "\x00\x00", 2), 0);
	ck_assert_int_eq(wr_u16(&w, (uint16_t)(8 + 8 + alen)), 0);
	ck_assert_int_eq(wr_bytes(&w, "\x01\x01\x00\x01", 4), 0);	/* #1 IKE, no SPI, 1 */
	ck_assert_int_eq(wr_bytes(&w, "\x00\x00", 2), 0);
	ck_assert_int_eq(wr_u16(&w, (uint16_t)(8 + alen)), 0);
	ck_assert_int_eq(wr_bytes(&w, "\x01\x00\x00\x0c", 4), 0);	/* ENCR AES-CBC */
	ck_assert_int_eq(wr_bytes(&w, attr, alen), 0);
	p = pl_of(PL_SA, b, wr_len(&w));
	return ike_pl_sa_decode(&p, sa);
}

START_TEST(sa_attributes)
{
	struct ike_pl_sa sap;
	struct sa_flat sa;

	ck_assert_int_eq(dec_sa_attr((const uint8_t *)"\x80\x0e\x00\x80", 4, &sap), 0);
	sa_flat(&sap, &sa);
	ck_assert_uint_eq(sa.prop[0].trans[0].key_len, 128);
	ck_assert(!sa.prop[0].trans[0].unknown_attr);
	/* unknown TV attribute, then key length */
	ck_assert_int_eq(dec_sa_attr((const uint8_t *)"\x80\x63\x00\x01\x80\x0e\x01\x00", 8, &sap), 0);
	sa_flat(&sap, &sa);
	ck_assert_uint_eq(sa.prop[0].trans[0].key_len, 256);
	ck_assert(sa.prop[0].trans[0].unknown_attr);
	/* unknown TLV attribute with 3 octets of value, skipped within bounds */
	ck_assert_int_eq(dec_sa_attr((const uint8_t *)"\x00\x63\x00\x03\xaa\xbb\xcc\x80\x0e\x00\xc0",
				     11, &sap), 0);
	sa_flat(&sap, &sa);
	ck_assert_uint_eq(sa.prop[0].trans[0].key_len, 192);
	ck_assert(sa.prop[0].trans[0].unknown_attr);
	/* TLV value overruns the transform */
	ck_assert_int_eq(dec_sa_attr((const uint8_t *)"\x00\x63\x00\x05\xaa\xbb\xcc", 7, &sap), -1);
	/* key length in TLV form */
	ck_assert_int_eq(dec_sa_attr((const uint8_t *)"\x00\x0e\x00\x02\x01\x00", 6, &sap), -1);
	/* key length 0, repeated key length */
	ck_assert_int_eq(dec_sa_attr((const uint8_t *)"\x80\x0e\x00\x00", 4, &sap), -1);
	ck_assert_int_eq(dec_sa_attr((const uint8_t *)"\x80\x0e\x00\x80\x80\x0e\x00\x80", 8, &sap),
			 -1);
	/* half an attribute */
	ck_assert_int_eq(dec_sa_attr((const uint8_t *)"\x80\x0e", 2, &sap), -1);
}
END_TEST

/* n proposals of one transform each, numbered from first. */
static size_t sa_many(uint8_t *b, size_t cap, unsigned n, unsigned first)
{
	struct wr w;

	wr_init(&w, b, cap);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(wr_u8(&w, i + 1 < n ? 2 : 0), 0);
		ck_assert_int_eq(wr_bytes(&w, "\x00\x00\x10", 3), 0);
		ck_assert_int_eq(wr_u8(&w, (uint8_t)(first + i)), 0);
		ck_assert_int_eq(wr_bytes(&w, "\x01\x00\x01", 3), 0);
		ck_assert_int_eq(wr_bytes(&w, "\x00\x00\x00\x08\x04\x00\x00\x1f", 8), 0);
	}
	return wr_len(&w);
}

START_TEST(sa_proposal_count_and_numbers)
{
	static uint8_t b[256 * 16];
	size_t n;

	/* Proposal Num is one octet, counting from 1: 255 is the wire's limit */
	n = sa_many(b, sizeof(b), 255, 1);
	ck_assert_int_eq(dec(PL_SA, b, n), 0);
	n = sa_many(b, sizeof(b), 256, 1);
	ck_assert_int_eq(dec(PL_SA, b, n), -1);
	n = sa_many(b, sizeof(b), 2, 2);
	ck_assert_int_eq(dec(PL_SA, b, n), -1);		/* offer not starting at 1 */
	n = sa_many(b, sizeof(b), 1, 7);
	ck_assert_int_eq(dec(PL_SA, b, n), 0);		/* accepted proposal #7 */
	n = sa_many(b, sizeof(b), 3, 1);
	b[16 + 4] = 3;					/* 1, 3, 3 */
	ck_assert_int_eq(dec(PL_SA, b, n), -1);
}
END_TEST

/*
 * Num Transforms is one octet: a proposal of 255 transforms (each 8
 * octets) decodes, and the readers give back every one of them.
 */
START_TEST(sa_transform_count_is_the_wire_limit)
{
	static uint8_t b[8 + 255 * 8];
	struct ike_pl p;
	struct ike_pl_sa sa;
	struct rd props, trs;
	struct ike_sa_prop pr;
	struct ike_transform t;
	unsigned n = 0;
	struct wr w;

	wr_init(&w, b, sizeof(b));
	ck_assert_int_eq(wr_bytes(&w, "\x00\x00", 2), 0);
	ck_assert_int_eq(wr_u16(&w, sizeof(b)), 0);
	ck_assert_int_eq(wr_bytes(&w, "\x01\x01\x00\xff", 4), 0);	/* #1 IKE, no SPI, 255 */
	for (unsigned i = 0; i < 255; i++) {
		ck_assert_int_eq(wr_u8(&w, i == 254 ? 0 : 3), 0);
		ck_assert_int_eq(wr_bytes(&w, "\x00\x00\x08", 3), 0);
		ck_assert_int_eq(wr_u8(&w, (uint8_t)(1 + i % 5)), 0);	/* types 1..5 */
		ck_assert_int_eq(wr_u8(&w, 0), 0);
		ck_assert_int_eq(wr_u16(&w, (uint16_t)(1000 + i)), 0);
	}
	ck_assert_uint_eq(wr_len(&w), sizeof(b));
	p = pl_of(PL_SA, b, sizeof(b));
	ck_assert_int_eq(ike_pl_sa_decode(&p, &sa), 0);
	ck_assert_uint_eq(sa.n_prop, 1);
	ck_assert_uint_eq(sa.max_trans, 255);
	props = ike_sa_props(&sa);
	ck_assert(ike_sa_next_prop(&props, &pr));
	ck_assert_uint_eq(pr.n_trans, 255);
	for (trs = pr.trans; ike_sa_next_trans(&trs, &t); n++) {
		ck_assert_uint_eq(t.type, 1 + n % 5);
		ck_assert_uint_eq(t.id, 1000 + n);
	}
	ck_assert_uint_eq(n, 255);
	ck_assert(!ike_sa_next_prop(&props, &pr));
	/* one transform more than the count says: malformed */
	b[7] = 254;
	ck_assert_int_eq(ike_pl_sa_decode(&p, &sa), -1);
}
END_TEST

/* ---- the small payloads ---- */

START_TEST(simple_roundtrips)
{
	static const uint8_t key[65] = { 4, 1, 2, 3 };
	static const uint8_t fqdn[] = "vpn.example.net";
	static const uint8_t hashes[40] = { 1 };
	static const uint8_t sig[] = { 3, 0xa1, 0xa2, 0xa3, 0x51, 0x52 };
	static const uint8_t nonce[256] = { 9 };
	struct ike_pl_any a, out;

	a = (struct ike_pl_any){ .type = PL_KE, .u.ke = { DH_ECP_256, key, 64 } };
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.ke.group, DH_ECP_256);
	ck_assert(bytes_eq(out.u.ke.data, out.u.ke.len, key, 64));

	a = (struct ike_pl_any){ .type = PL_IDr, .u.id = { ID_FQDN, fqdn, 15 } };
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.id.type, ID_FQDN);
	ck_assert(bytes_eq(out.u.id.data, out.u.id.len, fqdn, 15));
	a = (struct ike_pl_any){ .type = PL_IDi, .u.id = { ID_IPV4_ADDR, key, 4 } };
	roundtrip(&a, &out);
	ck_assert(bytes_eq(out.u.id.data, out.u.id.len, key, 4));

	a = (struct ike_pl_any){ .type = PL_CERT, .u.cert = { CERT_X509_SIGNATURE, key, 65 } };
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.cert.encoding, CERT_X509_SIGNATURE);
	ck_assert(bytes_eq(out.u.cert.data, out.u.cert.len, key, 65));
	a = (struct ike_pl_any){ .type = PL_CERTREQ, .u.cert = { CERT_X509_SIGNATURE, hashes, 40 } };
	roundtrip(&a, &out);
	ck_assert(bytes_eq(out.u.cert.data, out.u.cert.len, hashes, 40));
	a.u.cert.len = 0;	/* no CA named */
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.cert.len, 0);

	a = (struct ike_pl_any){ .type = PL_AUTH,
				 .u.auth = { .method = AUTH_SHARED_KEY_MIC, .data = key, .len = 32 } };
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.auth.method, AUTH_SHARED_KEY_MIC);
	ck_assert(bytes_eq(out.u.auth.data, out.u.auth.len, key, 32));
	ck_assert_ptr_null(out.u.auth.sig);
	a = (struct ike_pl_any){ .type = PL_AUTH,
				 .u.auth = { .method = AUTH_DIGITAL_SIGNATURE, .data = sig, .len = 6 } };
	roundtrip(&a, &out);
	ck_assert(bytes_eq(out.u.auth.sig_alg, out.u.auth.sig_alg_len, sig + 1, 3));
	ck_assert(bytes_eq(out.u.auth.sig, out.u.auth.sig_len, sig + 4, 2));

	a = (struct ike_pl_any){ .type = PL_NONCE, .u.nonce = { nonce, 16 } };
	roundtrip(&a, &out);
	ck_assert(bytes_eq(out.u.nonce.data, out.u.nonce.len, nonce, 16));
	a.u.nonce.len = 256;
	roundtrip(&a, &out);
	ck_assert(bytes_eq(out.u.nonce.data, out.u.nonce.len, nonce, 256));

	a = (struct ike_pl_any){ .type = PL_VENDOR, .u.vendor = { fqdn, 3 } };
	roundtrip(&a, &out);
	ck_assert(bytes_eq(out.u.vendor.data, out.u.vendor.len, fqdn, 3));
}
END_TEST

START_TEST(simple_malformed)
{
	static const uint8_t z[300];
	static const uint8_t ke_empty[] = { 0, 31, 0, 0 };
	static const uint8_t ke_group0[] = { 0, 0, 0, 0, 1 };
	static const uint8_t id_v4_5[] = { ID_IPV4_ADDR, 0, 0, 0, 1, 2, 3, 4, 5 };
	static const uint8_t id_v6_4[] = { ID_IPV6_ADDR, 0, 0, 0, 1, 2, 3, 4 };
	static const uint8_t id_empty[] = { ID_FQDN, 0, 0, 0 };
	static const uint8_t certreq_21[22] = { CERT_X509_SIGNATURE };
	static const uint8_t cert_empty[] = { CERT_X509_SIGNATURE };
	static const uint8_t auth_sig_bad[] = { AUTH_DIGITAL_SIGNATURE, 0, 0, 0, 3, 1, 2, 3 };
	static const uint8_t auth_sig_zero[] = { AUTH_DIGITAL_SIGNATURE, 0, 0, 0, 0, 1, 2 };
	static const uint8_t auth_sig_long[] = { AUTH_DIGITAL_SIGNATURE, 0, 0, 0, 9, 1, 2 };

	ck_assert_int_eq(dec(PL_KE, ke_empty, sizeof(ke_empty)), -1);
	ck_assert_int_eq(dec(PL_KE, ke_group0, sizeof(ke_group0)), -1);
	ck_assert_int_eq(dec(PL_KE, ke_group0, 3), -1);
	ck_assert_int_eq(dec(PL_IDi, id_v4_5, sizeof(id_v4_5)), -1);
	ck_assert_int_eq(dec(PL_IDi, id_v4_5, 8), 0);
	ck_assert_int_eq(dec(PL_IDr, id_v6_4, sizeof(id_v6_4)), -1);
	ck_assert_int_eq(dec(PL_IDr, id_empty, sizeof(id_empty)), -1);
	ck_assert_int_eq(dec(PL_CERTREQ, certreq_21, sizeof(certreq_21)), -1);
	ck_assert_int_eq(dec(PL_CERTREQ, certreq_21, 21), 0);
	ck_assert_int_eq(dec(PL_CERT, cert_empty, 1), -1);
	ck_assert_int_eq(dec(PL_CERT, cert_empty, 0), -1);
	ck_assert_int_eq(dec(PL_AUTH, auth_sig_bad, sizeof(auth_sig_bad)), -1);	/* no signature */
	ck_assert_int_eq(dec(PL_AUTH, auth_sig_zero, sizeof(auth_sig_zero)), -1);
	ck_assert_int_eq(dec(PL_AUTH, auth_sig_long, sizeof(auth_sig_long)), -1);
	ck_assert_int_eq(dec(PL_AUTH, auth_sig_bad, 4), -1);
	/* RFC 7296 §3.9: 16..256 */
	ck_assert_int_eq(dec(PL_NONCE, z, 15), -1);
	ck_assert_int_eq(dec(PL_NONCE, z, 16), 0);
	ck_assert_int_eq(dec(PL_NONCE, z, 256), 0);
	ck_assert_int_eq(dec(PL_NONCE, z, 257), -1);
	ck_assert_int_eq(dec(PL_VENDOR, z, 0), -1);
}
END_TEST

START_TEST(simple_encoders_refuse)
{
	static const uint8_t d[300];
	struct ike_pl_any a;

	a = (struct ike_pl_any){ .type = PL_NONCE, .u.nonce = { d, 15 } };
	refused(&a);
	a.u.nonce.len = 257;
	refused(&a);
	a = (struct ike_pl_any){ .type = PL_KE, .u.ke = { 0, d, 4 } };
	refused(&a);
	a = (struct ike_pl_any){ .type = PL_IDi, .u.id = { ID_IPV6_ADDR, d, 4 } };
	refused(&a);
	a = (struct ike_pl_any){ .type = PL_AUTH, .u.auth = { .method = AUTH_DIGITAL_SIGNATURE,
							      .data = d, .len = 3 } };
	refused(&a);
	a = (struct ike_pl_any){ .type = PL_CERTREQ, .u.cert = { CERT_X509_SIGNATURE, d, 19 } };
	refused(&a);
	a = (struct ike_pl_any){ .type = PL_VENDOR, .u.vendor = { d, 0 } };
	refused(&a);
	a = (struct ike_pl_any){ .type = PL_SK };
	refused(&a);
}
END_TEST

/* ---- Notify, Delete ---- */

START_TEST(notify_roundtrip_and_rules)
{
	static const uint8_t d[65] = { 1 };
	struct ike_pl_any a = { .type = PL_NOTIFY }, out;
	struct ike_pl_notify *n = &a.u.notify;
	/* REKEY_SA with an ESP SPI */
	static const uint8_t rekey[] = { PROTO_ESP, 4, 0x40, 0x09, 1, 2, 3, 4 };
	static const uint8_t nat_19[23] = { 0, 0, 0x40, 0x04 };
	static const uint8_t spi3[] = { PROTO_ESP, 3, 0x40, 0x09, 1, 2, 3 };
	static const uint8_t ike_spi4[] = { PROTO_IKE, 4, 0x00, 0x0b, 1, 2, 3, 4 };
	static const uint8_t proto_no_spi[] = { PROTO_ESP, 0, 0x40, 0x00 };
	static const uint8_t type0[] = { 0, 0, 0, 0 };
	static const uint8_t ke_1[] = { 0, 0, 0, 17, 0 };
	struct ike_pl p;

	*n = (struct ike_pl_notify){ .type = N_COOKIE, .data = d, .len = 64 };
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.notify.type, N_COOKIE);
	ck_assert(bytes_eq(out.u.notify.data, out.u.notify.len, d, 64));
	n->len = 65;
	refused(&a);
	n->len = 0;
	refused(&a);

	*n = (struct ike_pl_notify){ .proto = PROTO_ESP, .spi_size = 4, .type = N_REKEY_SA,
				     .spi = { 0xc1, 2, 3, 4 } };
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.notify.proto, PROTO_ESP);
	ck_assert_uint_eq(out.u.notify.spi_size, 4);
	ck_assert_mem_eq(out.u.notify.spi, n->spi, 4);
	ck_assert_uint_eq(out.u.notify.len, 0);
	n->spi_size = 0;
	refused(&a);	/* REKEY_SA needs the SPI */

	*n = (struct ike_pl_notify){ .proto = PROTO_IKE, .spi_size = 8, .type = N_INVALID_IKE_SPI,
				     .spi = { 1, 2, 3, 4, 5, 6, 7, 8 } };
	roundtrip(&a, &out);
	ck_assert_mem_eq(out.u.notify.spi, n->spi, 8);

	ck_assert_int_eq(dec(PL_NOTIFY, rekey, sizeof(rekey)), 0);
	ck_assert_int_eq(dec(PL_NOTIFY, rekey, 6), -1);			/* truncated SPI */
	ck_assert_int_eq(dec(PL_NOTIFY, nat_19, sizeof(nat_19)), -1);	/* NAT_D of 19 */
	ck_assert_int_eq(dec(PL_NOTIFY, spi3, sizeof(spi3)), -1);
	ck_assert_int_eq(dec(PL_NOTIFY, ike_spi4, sizeof(ike_spi4)), -1);
	ck_assert_int_eq(dec(PL_NOTIFY, type0, sizeof(type0)), -1);
	ck_assert_int_eq(dec(PL_NOTIFY, ke_1, sizeof(ke_1)), -1);	/* INVALID_KE of 1 */
	ck_assert_int_eq(dec(PL_NOTIFY, type0, 3), -1);
	/* protocol without SPI: ignored on receipt */
	p = pl_of(PL_NOTIFY, proto_no_spi, sizeof(proto_no_spi));
	ck_assert_int_eq(ike_pl_notify_decode(&p, &out.u.notify), 0);
	ck_assert_uint_eq(out.u.notify.proto, PROTO_NONE);
}
END_TEST

START_TEST(delete_roundtrip_and_rules)
{
	struct ike_pl_any a = { .type = PL_DELETE }, out;
	struct ike_pl_delete *d = &a.u.del;
	static const uint8_t ike[] = { PROTO_IKE, 0, 0, 0 };
	static const uint8_t ike_spi[] = { PROTO_IKE, 4, 0, 1, 1, 2, 3, 4 };
	static const uint8_t esp2[] = { PROTO_ESP, 4, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t esp8[] = { PROTO_ESP, 8, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t esp0[] = { PROTO_ESP, 4, 0, 0 };
	uint8_t many[4 + 4 * (IKE_MAX_DELETE_SPIS + 1)] = { PROTO_ESP, 4 };

	*d = (struct ike_pl_delete){ .proto = PROTO_IKE };
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.del.proto, PROTO_IKE);
	ck_assert_uint_eq(out.u.del.n_spi, 0);
	*d = (struct ike_pl_delete){ .proto = PROTO_ESP, .spi_size = 4, .n_spi = IKE_MAX_DELETE_SPIS };
	for (unsigned i = 0; i < IKE_MAX_DELETE_SPIS; i++)
		d->spi[i] = 0xc0000000u | i;
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.del.n_spi, IKE_MAX_DELETE_SPIS);
	ck_assert_mem_eq(out.u.del.spi, d->spi, sizeof(d->spi));
	d->n_spi = IKE_MAX_DELETE_SPIS + 1;
	refused(&a);
	d->n_spi = 0;
	refused(&a);

	ck_assert_int_eq(dec(PL_DELETE, ike, sizeof(ike)), 0);
	ck_assert_int_eq(dec(PL_DELETE, ike_spi, sizeof(ike_spi)), -1);
	ck_assert_int_eq(dec(PL_DELETE, esp2, sizeof(esp2)), 0);
	ck_assert_int_eq(dec(PL_DELETE, esp2, 8), -1);		/* count 2, one SPI */
	ck_assert_int_eq(dec(PL_DELETE, esp2, 11), -1);
	ck_assert_int_eq(dec(PL_DELETE, esp8, sizeof(esp8)), -1);
	ck_assert_int_eq(dec(PL_DELETE, esp0, sizeof(esp0)), -1);
	{
		uint8_t esp1_two[12];

		memcpy(esp1_two, esp2, sizeof(esp1_two));
		esp1_two[3] = 1;				/* count 1, two SPIs */
		ck_assert_int_eq(dec(PL_DELETE, esp1_two, sizeof(esp1_two)), -1);
	}
	/* more SPIs than we ever send: the length bounds them, every one is readable */
	many[3] = IKE_MAX_DELETE_SPIS + 1;
	for (unsigned i = 0; i <= IKE_MAX_DELETE_SPIS; i++)
		put_be32(many + 4 + 4 * i, 0xd0000000u | i);
	{
		struct ike_pl p = pl_of(PL_DELETE, many, sizeof(many));
		struct ike_pl_any big = { .type = PL_DELETE }, again;

		ck_assert_int_eq(ike_pl_delete_decode(&p, &big.u.del), 0);
		ck_assert_uint_eq(big.u.del.n_spi, IKE_MAX_DELETE_SPIS + 1);
		ck_assert_uint_eq(ike_delete_spi(&big.u.del, IKE_MAX_DELETE_SPIS),
				  0xd0000000u | IKE_MAX_DELETE_SPIS);
		ck_assert_uint_eq(ike_delete_spi(&big.u.del, IKE_MAX_DELETE_SPIS + 1), 0);
		roundtrip(&big, &again);	/* re-encoded as it came */
		ck_assert_uint_eq(ike_delete_spi(&again.u.del, IKE_MAX_DELETE_SPIS),
				  0xd0000000u | IKE_MAX_DELETE_SPIS);
	}
	many[3] = IKE_MAX_DELETE_SPIS;
	ck_assert_int_eq(dec(PL_DELETE, many, sizeof(many) - 4), 0);
}
END_TEST

/* ---- TS ---- */

START_TEST(ts_roundtrip_and_rules)
{
	struct ike_pl_any a = { .type = PL_TSr }, out;
	struct ike_pl_ts *ts = &a.u.ts;
	static const uint8_t v4_as_40[44] = { 1, 0, 0, 0, TS_IPV4_ADDR_RANGE, 0, 0, 40 };
	static const uint8_t v6_as_16[20] = { 1, 0, 0, 0, TS_IPV6_ADDR_RANGE, 0, 0, 16 };
	uint8_t v4[20] = { 1, 0, 0, 0, TS_IPV4_ADDR_RANGE, 6, 0, 16, 0, 80, 0, 80,
			   10, 0, 0, 0, 10, 0, 0, 255 };

	ts->n = 2;
	ts->ts[0] = (struct ike_ts_sel){ TS_IPV4_ADDR_RANGE, 0, 0, 65535, { 0 }, { 255, 255, 255, 255 } };
	ts->ts[1] = (struct ike_ts_sel){ TS_IPV6_ADDR_RANGE, 17, 53, 53, { 0x20, 0x01 },
					 { 0x20, 0x01, 0xff } };
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.ts.n, 2);
	ck_assert_mem_eq(&out.u.ts.ts[0], &ts->ts[0], sizeof(ts->ts[0]));
	ck_assert_mem_eq(&out.u.ts.ts[1], &ts->ts[1], sizeof(ts->ts[1]));
	/* OPAQUE ports */
	ts->ts[0].start_port = 65535;
	ts->ts[0].end_port = 0;
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.ts.ts[0].start_port, 65535);
	ts->ts[0].start_port = 100;
	ts->ts[0].end_port = 99;
	refused(&a);
	ts->ts[0].end_port = 100;
	ts->ts[0].start[0] = 1;
	ts->ts[0].end[0] = 0;
	refused(&a);
	ts->ts[0].end[0] = 1;
	ts->ts[0].type = 9;
	refused(&a);
	ts->ts[0].type = TS_IPV4_ADDR_RANGE;
	ts->n = 0;
	refused(&a);
	ts->n = IKE_MAX_TS + 1;
	refused(&a);
	ts->n = IKE_MAX_TS;
	for (unsigned i = 0; i < IKE_MAX_TS; i++)
		ts->ts[i] = ts->ts[0];
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.ts.n, IKE_MAX_TS);

	ck_assert_int_eq(dec(PL_TSi, v4, sizeof(v4)), 0);
	ck_assert_int_eq(dec(PL_TSi, v4_as_40, sizeof(v4_as_40)), -1);
	ck_assert_int_eq(dec(PL_TSi, v6_as_16, sizeof(v6_as_16)), -1);
	ck_assert_int_eq(dec(PL_TSi, v4, sizeof(v4) - 1), -1);
	v4[0] = 2;						/* count 2, one present */
	ck_assert_int_eq(dec(PL_TSi, v4, sizeof(v4)), -1);
	v4[0] = 0;
	ck_assert_int_eq(dec(PL_TSi, v4, sizeof(v4)), -1);
	v4[0] = 1;
	v4[19] = 0;	/* end 10.0.0.0 < start? no: equal, fine */
	ck_assert_int_eq(dec(PL_TSi, v4, sizeof(v4)), 0);
	v4[12] = 11;						/* start above end */
	ck_assert_int_eq(dec(PL_TSi, v4, sizeof(v4)), -1);
	v4[12] = 10;
	v4[9] = 81;						/* port 81..80 */
	ck_assert_int_eq(dec(PL_TSi, v4, sizeof(v4)), -1);
	v4[9] = 80;
	v4[4] = 10;						/* unknown TS type */
	ck_assert_int_eq(dec(PL_TSr, v4, sizeof(v4)), -1);
}
END_TEST

/* ---- CP ---- */

START_TEST(cp_roundtrip_and_rules)
{
	static const uint8_t ip4[4] = { 10, 1, 2, 3 }, ip6[17] = { 0xfd, [16] = 64 };
	static const uint8_t dom[] = "corp.example";
	struct ike_pl_any a = { .type = PL_CP }, out;
	struct ike_pl_cp *cp = &a.u.cp;
	static const uint8_t req[] = { CFG_REQUEST, 0, 0, 0, 0, 1, 0, 0, 0x80, 3, 0, 0 };
	static const uint8_t v4_3[] = { CFG_REPLY, 0, 0, 0, 0, 1, 0, 3, 1, 2, 3 };
	static const uint8_t v6_16[24] = { CFG_REPLY, 0, 0, 0, 0, 8, 0, 16 };
	static const uint8_t v6_pfx[25] = { CFG_REPLY, 0, 0, 0, 0, 8, 0, 17, [24] = 129 };
	static const uint8_t unknown[] = { CFG_REPLY, 0, 0, 0, 0x70, 0, 0, 3, 1, 2, 3 };
	static const uint8_t overrun[] = { CFG_REPLY, 0, 0, 0, 0, 1, 0, 4, 1, 2, 3 };
	static const uint8_t half[] = { CFG_REPLY, 0, 0, 0, 0, 1, 0 };
	static const uint8_t type9[] = { 9, 0, 0, 0 };
	static const uint8_t odd_list[] = { CFG_REQUEST, 0, 0, 0, 0, 14, 0, 3, 0, 1, 0 };
	uint8_t many[4 + 4 * (IKE_MAX_CP_ATTRS + 1)] = { CFG_REQUEST };
	struct ike_pl p;

	cp->cfg_type = CFG_REPLY;
	cp->n = 5;
	cp->attr[0] = (struct ike_cp_attr){ INTERNAL_IP4_ADDRESS, ip4, 4 };
	cp->attr[1] = (struct ike_cp_attr){ INTERNAL_IP4_DNS, ip4, 4 };
	cp->attr[2] = (struct ike_cp_attr){ INTERNAL_IP6_ADDRESS, ip6, 17 };
	cp->attr[3] = (struct ike_cp_attr){ INTERNAL_DNS_DOMAIN, dom, 12 };
	cp->attr[4] = (struct ike_cp_attr){ INTERNAL_IP6_DNS, NULL, 0 };
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.cp.cfg_type, CFG_REPLY);
	ck_assert_uint_eq(out.u.cp.n, 5);
	for (unsigned i = 0; i < 5; i++) {
		ck_assert_uint_eq(out.u.cp.attr[i].type, cp->attr[i].type);
		ck_assert(bytes_eq(out.u.cp.attr[i].val, out.u.cp.attr[i].len, cp->attr[i].val,
				   cp->attr[i].len));
	}
	cp->attr[0].len = 3;
	refused(&a);
	cp->attr[0].len = 4;
	cp->attr[0].type = 0x8001;
	refused(&a);
	cp->attr[0].type = INTERNAL_IP4_ADDRESS;
	cp->cfg_type = 0;
	refused(&a);

	/* request; the reserved top bit of the second type is masked off */
	p = pl_of(PL_CP, req, sizeof(req));
	ck_assert_int_eq(ike_pl_cp_decode(&p, &out.u.cp), 0);
	ck_assert_uint_eq(out.u.cp.n, 2);
	ck_assert_uint_eq(out.u.cp.attr[1].type, INTERNAL_IP4_DNS);
	ck_assert_uint_eq(out.u.cp.attr[1].len, 0);
	ck_assert_int_eq(dec(PL_CP, v4_3, sizeof(v4_3)), -1);
	ck_assert_int_eq(dec(PL_CP, v6_16, sizeof(v6_16)), -1);
	ck_assert_int_eq(dec(PL_CP, v6_pfx, sizeof(v6_pfx)), -1);
	ck_assert_int_eq(dec(PL_CP, unknown, sizeof(unknown)), 0);
	ck_assert_int_eq(dec(PL_CP, overrun, sizeof(overrun)), -1);
	ck_assert_int_eq(dec(PL_CP, half, sizeof(half)), -1);
	ck_assert_int_eq(dec(PL_CP, type9, sizeof(type9)), -1);
	ck_assert_int_eq(dec(PL_CP, type9, 2), -1);
	ck_assert_int_eq(dec(PL_CP, odd_list, sizeof(odd_list)), -1);
	ck_assert_int_eq(dec(PL_CP, many, 4 + 4 * IKE_MAX_CP_ATTRS), 0);
	/* one more than kept: checked and counted, not an error */
	{
		struct ike_pl pm = pl_of(PL_CP, many, sizeof(many));
		struct ike_pl_cp big;

		ck_assert_int_eq(ike_pl_cp_decode(&pm, &big), 0);
		ck_assert_uint_eq(big.n, IKE_MAX_CP_ATTRS);
		ck_assert_uint_eq(big.n_total, IKE_MAX_CP_ATTRS + 1);
		many[sizeof(many) - 1] = 9;	/* a bad last attribute is still malformed */
		ck_assert_int_eq(ike_pl_cp_decode(&pm, &big), -1);
	}
}
END_TEST

/* ---- EAP ---- */

START_TEST(eap_roundtrip_and_rules)
{
	static const uint8_t id[] = "user";
	struct ike_pl_any a = { .type = PL_EAP }, out;
	static const uint8_t resp[] = { IKE_EAP_RESPONSE, 7, 0, 9, 1, 'u', 's', 'e', 'r' };
	static const uint8_t ok4[] = { IKE_EAP_SUCCESS, 7, 0, 4 };
	static const uint8_t ok_data[] = { IKE_EAP_SUCCESS, 7, 0, 5, 1 };
	static const uint8_t req_short[] = { IKE_EAP_REQUEST, 7, 0, 4 };
	static const uint8_t code5[] = { 5, 7, 0, 4 };
	static const uint8_t type0[] = { IKE_EAP_REQUEST, 7, 0, 5, 0 };
	uint8_t b[sizeof(resp)];

	a.u.eap = (struct ike_pl_eap){ IKE_EAP_RESPONSE, 7, 1, id, 4 };
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.eap.code, IKE_EAP_RESPONSE);
	ck_assert_uint_eq(out.u.eap.id, 7);
	ck_assert_uint_eq(out.u.eap.type, 1);
	ck_assert(bytes_eq(out.u.eap.data, out.u.eap.len, id, 4));
	a.u.eap = (struct ike_pl_eap){ IKE_EAP_FAILURE, 9, 0, NULL, 0 };
	roundtrip(&a, &out);
	ck_assert_uint_eq(out.u.eap.code, IKE_EAP_FAILURE);
	a.u.eap.len = 1;
	a.u.eap.data = id;
	refused(&a);
	a.u.eap = (struct ike_pl_eap){ 6, 9, 1, NULL, 0 };
	refused(&a);

	ck_assert_int_eq(dec(PL_EAP, resp, sizeof(resp)), 0);
	memcpy(b, resp, sizeof(b));
	b[3] = 8;					/* EAP length != payload */
	ck_assert_int_eq(dec(PL_EAP, b, sizeof(b)), -1);
	b[3] = 10;
	ck_assert_int_eq(dec(PL_EAP, b, sizeof(b)), -1);
	ck_assert_int_eq(dec(PL_EAP, ok4, sizeof(ok4)), 0);
	ck_assert_int_eq(dec(PL_EAP, ok_data, sizeof(ok_data)), -1);
	ck_assert_int_eq(dec(PL_EAP, req_short, sizeof(req_short)), -1);
	ck_assert_int_eq(dec(PL_EAP, code5, sizeof(code5)), -1);
	ck_assert_int_eq(dec(PL_EAP, type0, sizeof(type0)), -1);
	ck_assert_int_eq(dec(PL_EAP, ok4, 3), -1);
}
END_TEST

/* Every truncation of every typed body is handled (no overread; ASan checks). */
START_TEST(typed_truncation_never_overreads)
{
	static const struct { uint8_t type; uint8_t body[48]; size_t len; bool must_fail; } c[] = {
		{ PL_SA, { 0, 0, 0, 20, 1, 3, 4, 1, 1, 2, 3, 4, 0, 0, 0, 8, 1, 0, 0, 20 }, 20, true },
		{ PL_TSi, { 1, 0, 0, 0, 7, 0, 0, 16, 0, 0, 255, 255, 1, 2, 3, 4, 5, 6, 7, 8 }, 20, true },
		{ PL_DELETE, { 3, 4, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8 }, 12, true },
		{ PL_EAP, { 2, 1, 0, 6, 1, 'x' }, 6, true },
		{ PL_NOTIFY, { 0, 0, 0x40, 0x04, [23] = 1 }, 24, true },
		{ PL_CP, { 2, 0, 0, 0, 0, 1, 0, 4, 10, 0, 0, 1, 0, 3, 0, 4, 8, 8, 8, 8 }, 20, false },
		{ PL_AUTH, { 14, 0, 0, 0, 2, 1, 2, 9, 9 }, 9, false },
		{ PL_KE, { 0, 19, 0, 0, 1, 2 }, 6, false },
		{ PL_IDi, { 1, 0, 0, 0, 10, 0, 0, 1 }, 8, true },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		ck_assert_int_eq(dec(c[i].type, c[i].body, c[i].len), 0);
		for (size_t n = 0; n < c[i].len; n++) {
			uint8_t *b = malloc(n + 1);
			int rc;

			memcpy(b, c[i].body, n);
			rc = dec(c[i].type, b, n);
			if (c[i].must_fail)
				ck_assert_msg(rc == -1, "case %zu: prefix %zu decoded", i, n);
			free(b);
		}
	}
}
END_TEST

static Suite *ike_pl_suite(void)
{
	Suite *s = suite_create("ike_pl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, sa_roundtrip);
	tcase_add_test(tc, sa_encoder_refuses);
	tcase_add_test(tc, sa_malformed);
	tcase_add_test(tc, sa_attributes);
	tcase_add_test(tc, sa_proposal_count_and_numbers);
	tcase_add_test(tc, sa_transform_count_is_the_wire_limit);
	tcase_add_test(tc, simple_roundtrips);
	tcase_add_test(tc, simple_malformed);
	tcase_add_test(tc, simple_encoders_refuse);
	tcase_add_test(tc, notify_roundtrip_and_rules);
	tcase_add_test(tc, delete_roundtrip_and_rules);
	tcase_add_test(tc, ts_roundtrip_and_rules);
	tcase_add_test(tc, cp_roundtrip_and_rules);
	tcase_add_test(tc, eap_roundtrip_and_rules);
	tcase_add_test(tc, typed_truncation_never_overreads);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ike_pl_suite)
