/*
 * Typical client-side messages built with the encoder: each must decode
 * with every payload valid, survive every bit flip, and re-encode to a
 * fixed point. They are also the fuzz seeds: with IKE_WRITE_CORPUS=dir
 * the test writes them there (tests/fuzz/corpus/ike_decode/).
 *
 * SK bodies here hold the inner payload chain in plaintext, as the fuzz
 * target reads them; real messages carry IV | ciphertext | ICV.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ike/msg.h"
#include "tests/unit/check_main.h"
#include "tests/unit/sa_flat.h"

#define MSG_MAX 4096

struct seed {
	const char *name;
	uint8_t b[MSG_MAX];
	size_t len;
	bool valid;	/* decodes, with every payload (inner ones too) */
};

static const uint8_t bytes32[32] = {
	0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
	0xee, 0xff, 0x01, 0x12, 0x23, 0x34, 0x45, 0x56, 0x67, 0x78, 0x89, 0x9a, 0xab, 0xbc,
	0xcd, 0xde, 0xef, 0xf0,
};

static struct ike_hdr hdr(uint8_t exchange, uint8_t flags, uint32_t msg_id)
{
	struct ike_hdr h = { .spi_i = 0x1122334455667788ULL, .spi_r = 0x99aabbccddeeff00ULL,
			     .exchange = exchange, .flags = flags, .msg_id = msg_id };

	if (exchange == IKE_SA_INIT && !(flags & IKE_FLAG_RESPONSE))
		h.spi_r = 0;
	return h;
}

static void notify(struct ike_mw *b, uint16_t type, const uint8_t *d, uint16_t len)
{
	struct ike_pl_notify n = { .type = type, .data = d, .len = len };

	ck_assert_int_eq(ike_put_notify(b, &n), 0);
}

static void ts_pair(struct ike_mw *b)
{
	struct ike_pl_ts ts = { .n = 2 };

	ts.ts[0] = (struct ike_ts_sel){ TS_IPV4_ADDR_RANGE, 0, 0, 65535, { 0 },
					{ 255, 255, 255, 255 } };
	ts.ts[1] = (struct ike_ts_sel){ TS_IPV6_ADDR_RANGE, 0, 0, 65535, { 0 }, { 0 } };
	memset(ts.ts[1].end, 0xff, sizeof(ts.ts[1].end));
	ck_assert_int_eq(ike_put_ts(b, PL_TSi, &ts), 0);
	ts.n = 1;
	ts.ts[0].start[0] = 10;
	ts.ts[0].end[0] = 10;
	ck_assert_int_eq(ike_put_ts(b, PL_TSr, &ts), 0);
}

static void esp_sa(struct ike_mw *b, unsigned n_prop, bool dh)
{
	struct ike_proposal sa[8];

	ck_assert_uint_le(n_prop, 8);
	for (unsigned i = 0; i < n_prop; i++) {
		struct ike_proposal *p = &sa[i];

		*p = (struct ike_proposal){ .num = (uint8_t)(i + 1), .proto = PROTO_ESP,
					    .spi_size = 4, .spi = { 0xc5, 0, 0, (uint8_t)i } };
		p->trans[p->n_trans++] = (struct ike_transform){ TRANS_ENCR,
			i ? ENCR_AES_CBC : ENCR_AES_GCM_16, 256, false };
		if (i)
			p->trans[p->n_trans++] = (struct ike_transform){ TRANS_INTEG,
				AUTH_HMAC_SHA2_256_128, 0, false };
		if (dh)
			p->trans[p->n_trans++] = (struct ike_transform){ TRANS_DH, DH_CURVE25519, 0,
									 false };
		p->trans[p->n_trans++] = (struct ike_transform){ TRANS_ESN, ESN_NO, 0, false };
	}
	ck_assert_int_eq(ike_put_sa(b, sa, n_prop), 0);
}

static void ike_sa(struct ike_mw *b, uint8_t spi_size)
{
	struct ike_proposal sa[1];

	sa[0] = (struct ike_proposal){ .num = 1, .proto = PROTO_IKE, .spi_size = spi_size,
					    .spi = { 1, 2, 3, 4, 5, 6, 7, 8 }, .n_trans = 3 };
	sa[0].trans[0] = (struct ike_transform){ TRANS_ENCR, ENCR_AES_GCM_16, 256, false };
	sa[0].trans[1] = (struct ike_transform){ TRANS_PRF, PRF_HMAC_SHA2_256, 0, false };
	sa[0].trans[2] = (struct ike_transform){ TRANS_DH, DH_CURVE25519, 0, false };
	ck_assert_int_eq(ike_put_sa(b, sa, 1), 0);
}

static void ke_nonce(struct ike_mw *b)
{
	struct ike_pl_ke ke = { DH_CURVE25519, bytes32, 32 };
	struct ike_pl_nonce n = { bytes32, 32 };

	ck_assert_int_eq(ike_put_ke(b, &ke), 0);
	ck_assert_int_eq(ike_put_nonce(b, &n), 0);
}

/* Inner chains, by kind. */
enum inner { IN_AUTH_REQ, IN_AUTH_RESP, IN_EAP, IN_EAP_OK, IN_DELETE, IN_REKEY, IN_EMPTY };

static void inner_auth_req(struct ike_mw *b)
{
	static const uint8_t id[] = "client@example.net", gw[] = "vpn.example.net";
	static const uint8_t ip6[17] = { [16] = 0 };
	struct ike_pl_id idi = { ID_RFC822_ADDR, id, 18 }, idr = { ID_FQDN, gw, 15 };
	struct ike_pl_auth auth = { .method = AUTH_SHARED_KEY_MIC, .data = bytes32, .len = 32 };
	struct ike_pl_cp cp = { .cfg_type = CFG_REQUEST, .n = 4 };

	cp.attr[0] = (struct ike_cp_attr){ INTERNAL_IP4_ADDRESS, NULL, 0 };
	cp.attr[1] = (struct ike_cp_attr){ INTERNAL_IP4_DNS, NULL, 0 };
	cp.attr[2] = (struct ike_cp_attr){ INTERNAL_IP6_ADDRESS, ip6, 0 };
	cp.attr[3] = (struct ike_cp_attr){ INTERNAL_DNS_DOMAIN, NULL, 0 };
	ck_assert_int_eq(ike_put_id(b, PL_IDi, &idi), 0);
	notify(b, N_INITIAL_CONTACT, NULL, 0);
	ck_assert_int_eq(ike_put_id(b, PL_IDr, &idr), 0);
	ck_assert_int_eq(ike_put_auth(b, &auth), 0);
	ck_assert_int_eq(ike_put_cp(b, &cp), 0);
	esp_sa(b, 2, false);
	ts_pair(b);
	notify(b, N_MOBIKE_SUPPORTED, NULL, 0);
	notify(b, N_ESP_TFC_PADDING_NOT_SUPPORTED, NULL, 0);
}

static void inner_auth_resp(struct ike_mw *b)
{
	static const uint8_t gw[] = "vpn.example.net", ip4[4] = { 10, 9, 0, 2 };
	static const uint8_t dns[4] = { 10, 9, 0, 1 }, net[8] = { 10, 9, 0, 0, 255, 255, 255, 0 };
	static const uint8_t sig[] = { 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
				       0x0d, 0x01, 0x01, 0x0b, 0x77, 0x66, 0x55, 0x44 };
	struct ike_pl_id idr = { ID_FQDN, gw, 15 };
	struct ike_pl_cert cert = { CERT_X509_SIGNATURE, bytes32, 32 };
	struct ike_pl_auth auth = { .method = AUTH_DIGITAL_SIGNATURE, .data = sig, .len = sizeof(sig) };
	struct ike_pl_cp cp = { .cfg_type = CFG_REPLY, .n = 3 };

	cp.attr[0] = (struct ike_cp_attr){ INTERNAL_IP4_ADDRESS, ip4, 4 };
	cp.attr[1] = (struct ike_cp_attr){ INTERNAL_IP4_DNS, dns, 4 };
	cp.attr[2] = (struct ike_cp_attr){ INTERNAL_IP4_SUBNET, net, 8 };
	ck_assert_int_eq(ike_put_id(b, PL_IDr, &idr), 0);
	ck_assert_int_eq(ike_put_cert(b, &cert), 0);
	ck_assert_int_eq(ike_put_auth(b, &auth), 0);
	ck_assert_int_eq(ike_put_cp(b, &cp), 0);
	esp_sa(b, 1, false);
	ts_pair(b);
}

static void inner_chain(struct ike_mw *b, enum inner kind)
{
	static const uint8_t ident[] = "user";
	struct ike_pl_eap eap = { IKE_EAP_REQUEST, 1, 1, NULL, 0 };
	struct ike_pl_eap ok = { IKE_EAP_SUCCESS, 3, 0, NULL, 0 };
	struct ike_pl_delete del = { .proto = PROTO_ESP, .spi_size = 4, .n_spi = 2,
				     .spi = { 0xc5000001, 0xc5000002 } };
	struct ike_pl_delete del_ike = { .proto = PROTO_IKE };
	struct ike_pl_notify rekey = { .proto = PROTO_ESP, .spi_size = 4, .type = N_REKEY_SA,
				       .spi = { 0xc5, 0, 0, 1 } };

	switch (kind) {
	case IN_AUTH_REQ:
		inner_auth_req(b);
		break;
	case IN_AUTH_RESP:
		inner_auth_resp(b);
		break;
	case IN_EAP:
		eap.data = ident;
		eap.len = 4;
		eap.code = IKE_EAP_RESPONSE;
		ck_assert_int_eq(ike_put_eap(b, &eap), 0);
		break;
	case IN_EAP_OK:
		ck_assert_int_eq(ike_put_eap(b, &ok), 0);
		break;
	case IN_DELETE:
		ck_assert_int_eq(ike_put_delete(b, &del), 0);
		ck_assert_int_eq(ike_put_delete(b, &del_ike), 0);
		notify(b, N_UPDATE_SA_ADDRESSES, NULL, 0);
		break;
	case IN_REKEY:
		ck_assert_int_eq(ike_put_notify(b, &rekey), 0);
		esp_sa(b, 1, true);
		ke_nonce(b);
		ts_pair(b);
		break;
	case IN_EMPTY:
		break;
	}
}

/* A message whose SK (or SKF 1/1) body is the plaintext inner chain. */
static size_t sk_msg(uint8_t *out, struct ike_hdr h, enum inner kind, bool skf)
{
	uint8_t inner[MSG_MAX];
	struct ike_sk_out sk;
	struct ike_mw b;
	struct wr w;
	size_t ilen = 0;
	uint8_t first;

	wr_init(&w, inner, sizeof(inner));
	ck_assert_int_eq(ike_mw_begin_inner(&b, &w), 0);
	inner_chain(&b, kind);
	ck_assert_int_eq(ike_mw_finish(&b, &ilen), 0);
	first = ike_mw_first(&b);
	ck_assert_uint_eq(first == PL_NONE, kind == IN_EMPTY);
	wr_init(&w, out, MSG_MAX);
	ck_assert_int_eq(ike_mw_begin(&b, &w, &h), 0);
	if (skf)
		ck_assert_int_eq(ike_mw_skf(&b, first, 1, 1, ilen, &sk), 0);
	else
		ck_assert_int_eq(ike_mw_sk(&b, first, ilen, &sk), 0);
	memcpy(sk.body, inner, ilen);
	return sk.msg_len;
}

static size_t init_req(uint8_t *out)
{
	static const uint8_t nat[20] = { 3 };
	struct ike_hdr h = hdr(IKE_SA_INIT, IKE_FLAG_INITIATOR, 0);
	struct ike_pl_vendor v = { bytes32, 16 };
	struct ike_mw b;
	struct wr w;
	size_t len = 0;

	wr_init(&w, out, MSG_MAX);
	ck_assert_int_eq(ike_mw_begin(&b, &w, &h), 0);
	ike_sa(&b, 0);
	ke_nonce(&b);
	notify(&b, N_NAT_DETECTION_SOURCE_IP, nat, 20);
	notify(&b, N_NAT_DETECTION_DESTINATION_IP, nat, 20);
	notify(&b, N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
	ck_assert_int_eq(ike_put_vendor(&b, &v), 0);
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);
	return len;
}

static size_t init_resp(uint8_t *out)
{
	static const uint8_t nat[20] = { 1 }, hashes[40] = { 2 };
	static const uint8_t algs[6] = { 0, HASH_SHA2_256, 0, HASH_SHA2_384, 0, HASH_IDENTITY };
	struct ike_hdr h = hdr(IKE_SA_INIT, IKE_FLAG_RESPONSE, 0);
	struct ike_pl_cert creq = { CERT_X509_SIGNATURE, hashes, 40 };
	struct ike_pl_vendor v = { bytes32, 16 };
	struct ike_mw b;
	struct wr w;
	size_t len = 0;

	wr_init(&w, out, MSG_MAX);
	ck_assert_int_eq(ike_mw_begin(&b, &w, &h), 0);
	ike_sa(&b, 0);
	ke_nonce(&b);
	notify(&b, N_NAT_DETECTION_SOURCE_IP, nat, 20);
	notify(&b, N_NAT_DETECTION_DESTINATION_IP, nat, 20);
	ck_assert_int_eq(ike_put_certreq(&b, &creq), 0);
	notify(&b, N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
	notify(&b, N_SIGNATURE_HASH_ALGORITHMS, algs, 6);
	ck_assert_int_eq(ike_put_vendor(&b, &v), 0);
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);
	return len;
}

static size_t init_error(uint8_t *out, uint16_t type, const uint8_t *d, uint16_t dlen)
{
	struct ike_hdr h = hdr(IKE_SA_INIT, IKE_FLAG_RESPONSE, 0);
	struct ike_mw b;
	struct wr w;
	size_t len = 0;

	h.spi_r = 0;
	wr_init(&w, out, MSG_MAX);
	ck_assert_int_eq(ike_mw_begin(&b, &w, &h), 0);
	notify(&b, type, d, dlen);
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);
	return len;
}

/* An IKE rekey SA with an unknown TLV attribute, then an unknown payload (non-critical). */
static size_t odd_msg(uint8_t *out, bool critical)
{
	static const uint8_t sa[] = {
		0, 0, 0, 28, 1, PROTO_IKE, 8, 1, 1, 2, 3, 4, 5, 6, 7, 8,
		0, 0, 0, 12, TRANS_ENCR, 0, 0, ENCR_AES_CBC, 0x00, 0x63, 0x00, 0x00,
	};
	struct ike_hdr h = hdr(CREATE_CHILD_SA, IKE_FLAG_INITIATOR, 5);
	struct ike_mw b;
	struct wr w;
	size_t len = 0;

	wr_init(&w, out, MSG_MAX);
	ck_assert_int_eq(ike_mw_begin(&b, &w, &h), 0);
	ck_assert_int_eq(ike_mw_raw(&b, PL_SA, false, sa, sizeof(sa)), 0);
	ck_assert_int_eq(ike_mw_raw(&b, 99, critical, bytes32, 7), 0);
	ke_nonce(&b);
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);
	return len;
}

static struct seed seeds[16];
static unsigned n_seeds;

static void add(const char *name, size_t len, bool valid)
{
	seeds[n_seeds].name = name;
	seeds[n_seeds].len = len;
	seeds[n_seeds].valid = valid;
	n_seeds++;
}

static void build_seeds(void)
{
	static const uint8_t ke_group[2] = { 0, DH_ECP_256 }, cookie[16] = { 7 };
	if (n_seeds)
		return;
	add("init_req", init_req(seeds[n_seeds].b), true);
	add("init_resp", init_resp(seeds[n_seeds].b), true);
	add("init_invalid_ke", init_error(seeds[n_seeds].b, N_INVALID_KE_PAYLOAD, ke_group, 2), true);
	add("init_cookie", init_error(seeds[n_seeds].b, N_COOKIE, cookie, 16), true);
	add("auth_req", sk_msg(seeds[n_seeds].b, hdr(IKE_AUTH, IKE_FLAG_INITIATOR, 1), IN_AUTH_REQ,
			       false), true);
	add("auth_resp", sk_msg(seeds[n_seeds].b, hdr(IKE_AUTH, IKE_FLAG_RESPONSE, 1), IN_AUTH_RESP,
				false), true);
	add("auth_resp_skf", sk_msg(seeds[n_seeds].b, hdr(IKE_AUTH, IKE_FLAG_RESPONSE, 1),
				    IN_AUTH_RESP, true), true);
	add("eap_resp", sk_msg(seeds[n_seeds].b, hdr(IKE_AUTH, IKE_FLAG_INITIATOR, 2), IN_EAP, false),
	    true);
	add("eap_success", sk_msg(seeds[n_seeds].b, hdr(IKE_AUTH, IKE_FLAG_RESPONSE, 3), IN_EAP_OK,
				  false), true);
	add("info_delete", sk_msg(seeds[n_seeds].b, hdr(INFORMATIONAL, IKE_FLAG_INITIATOR, 4),
				  IN_DELETE, false), true);
	add("info_empty", sk_msg(seeds[n_seeds].b, hdr(INFORMATIONAL, IKE_FLAG_RESPONSE, 9), IN_EMPTY,
				 false), true);
	add("child_rekey", sk_msg(seeds[n_seeds].b, hdr(CREATE_CHILD_SA, 0, 6), IN_REKEY, false),
	    true);
	add("unknown_payload", odd_msg(seeds[n_seeds].b, false), true);
	add("unknown_critical", odd_msg(seeds[n_seeds].b, true), false);
}

static const struct seed *seed(const char *name)
{
	for (unsigned i = 0; i < n_seeds; i++) {
		if (strcmp(seeds[i].name, name) == 0)
			return &seeds[i];
	}
	ck_abort_msg("no seed %s", name);
	return NULL;
}

/* Decodes a seed the way the fuzz target does: payloads decoded, or -1. */
static int decode_all(const uint8_t *msg, size_t len, struct ike_msg *m)
{
	int n = 0;

	if (ike_msg_decode(m, msg, len) < 0)
		return -1;
	if (m->has_sk && m->sk_inner_first != PL_NONE &&
	    ike_msg_decode_inner(m, m->sk_inner_first, m->sk_body, m->sk_body_len) < 0)
		return -1;
	for (unsigned i = 0; i < m->n; i++) {
		struct ike_pl_any a;

		if (m->pl[i].type == PL_SK || m->pl[i].type == PL_SKF)
			continue;
		if (ike_pl_any_decode(&m->pl[i], &a) < 0)
			return -1;
		n++;
	}
	return n;
}

START_TEST(seeds_decode_fully)
{
	const struct seed *s;
	struct ike_msg m;

	build_seeds();
	for (unsigned i = 0; i < n_seeds; i++) {
		int n = decode_all(seeds[i].b, seeds[i].len, &m);

		ck_assert_msg((n >= 0) == seeds[i].valid, "seed %s: %d", seeds[i].name, n);
	}
	s = seed("unknown_critical");
	ck_assert_int_eq(ike_msg_decode(&m, s->b, s->len), -1);
	ck_assert_uint_eq(m.err, N_UNSUPPORTED_CRITICAL_PAYLOAD);
	ck_assert_uint_eq(m.err_pl_type, 99);
	/* auth_req: IDi N IDr AUTH CP SA TSi TSr N N inside SK */
	s = seed("auth_req");
	ck_assert_int_eq(decode_all(s->b, s->len, &m), 10);
	ck_assert(m.pl[1].in_sk && m.pl[1].type == PL_IDi);
	ck_assert_uint_eq(m.hdr.exchange, IKE_AUTH);
	/* info_empty: an SK with nothing inside */
	s = seed("info_empty");
	ck_assert_int_eq(ike_msg_decode(&m, s->b, s->len), 0);
	ck_assert(m.has_sk);
	ck_assert_uint_eq(m.sk_inner_first, PL_NONE);
	ck_assert_uint_eq(m.sk_body_len, 0);
	/* unknown_payload: SA (with an unknown attribute flagged), KE, Nonce; 99 skipped */
	s = seed("unknown_payload");
	ck_assert_int_eq(decode_all(s->b, s->len, &m), 3);
	ck_assert_uint_eq(m.n_skipped, 1);
	{
		struct ike_pl_sa sap;
		struct sa_flat sa;

		ck_assert_int_eq(ike_pl_sa_decode(&m.pl[0], &sap), 0);
		sa_flat(&sap, &sa);
		ck_assert(sa.prop[0].trans[0].unknown_attr);
		ck_assert_uint_eq(sa.prop[0].spi_size, 8);
	}
}
END_TEST

/* The fuzz target's property on every seed: re-encoding is a fixed point. */
static size_t reencode(const struct ike_msg *m, uint8_t *out)
{
	struct ike_pl_any a;
	struct ike_mw b;
	struct wr w;
	size_t len = 0;

	wr_init(&w, out, MSG_MAX);
	ck_assert_int_eq(ike_mw_begin(&b, &w, &m->hdr), 0);
	for (unsigned i = 0; i < m->n; i++) {
		if (m->pl[i].type == PL_SK || m->pl[i].type == PL_SKF)
			continue;
		ck_assert_int_eq(ike_pl_any_decode(&m->pl[i], &a), 0);
		ck_assert_int_eq(ike_put_any(&b, &a), 0);
	}
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);
	return len;
}

START_TEST(seeds_reencode_to_a_fixed_point)
{
	static uint8_t o1[MSG_MAX], o2[MSG_MAX];
	struct ike_msg m, m2;

	build_seeds();
	for (unsigned i = 0; i < n_seeds; i++) {
		size_t l1, l2;

		if (!seeds[i].valid)
			continue;
		ck_assert_int_ge(decode_all(seeds[i].b, seeds[i].len, &m), 0);
		l1 = reencode(&m, o1);
		ck_assert_int_ge(decode_all(o1, l1, &m2), 0);
		l2 = reencode(&m2, o2);
		ck_assert_uint_eq(l1, l2);
		ck_assert_mem_eq(o1, o2, l1);
	}
}
END_TEST

/*
 * The fuzz target's re-encoding, lenient: payloads whose typed decoder
 * refuses them are left out (a bit flip may break one), what decodes must
 * encode. Returns the length.
 */
static size_t reencode_lenient(const struct ike_msg *m, uint8_t *out)
{
	struct ike_pl_any a;
	struct ike_mw b;
	struct wr w;
	size_t len = 0;

	wr_init(&w, out, MSG_MAX);
	ck_assert_int_eq(ike_mw_begin(&b, &w, &m->hdr), 0);
	for (unsigned i = 0; i < m->n; i++) {
		if (m->pl[i].type == PL_SK || m->pl[i].type == PL_SKF)
			continue;
		if (ike_pl_any_decode(&m->pl[i], &a) < 0)
			continue;
		ck_assert_int_eq(ike_put_any(&b, &a), 0);
	}
	ck_assert_int_eq(ike_mw_finish(&b, &len), 0);
	return len;
}

/* Outcome of one decode: as decode_all, plus why and the payload layout. */
struct outcome {
	int n;			/* decode_all(): typed payloads, or -1 */
	uint16_t err;		/* on an outer rejection: m.err */
	unsigned n_pl;
	uint8_t type[IKE_MAX_PAYLOADS];
	size_t off[IKE_MAX_PAYLOADS];	/* body offset in the outer message; inner: ~0 */
	uint16_t len[IKE_MAX_PAYLOADS];
	struct ike_hdr hdr;
};

static void outcome(const uint8_t *msg, size_t len, struct outcome *o, struct ike_msg *m)
{
	memset(o, 0, sizeof(*o));
	o->n = decode_all(msg, len, m);
	o->hdr = m->hdr;
	if (ike_msg_decode(m, msg, len) < 0) {
		o->err = m->err;
		return;
	}
	o->n_pl = m->n;
	for (unsigned i = 0; i < m->n; i++) {
		o->type[i] = m->pl[i].type;
		o->len[i] = m->pl[i].len;
		o->off[i] = (size_t)(m->pl[i].body - msg);
	}
}

static void same_layout(const char *what, const struct outcome *a, const struct outcome *b)
{
	ck_assert_msg(a->n == b->n && a->err == b->err && a->n_pl == b->n_pl,
		      "%s: decoded differently (%d payloads, err %u) from the seed (%d, err %u)",
		      what, a->n, a->err, b->n, b->err);
	for (unsigned i = 0; i < a->n_pl; i++)
		ck_assert_msg(a->type[i] == b->type[i] && a->len[i] == b->len[i] &&
			      a->off[i] == b->off[i], "%s: payload %u moved", what, i);
}

/*
 * Every single-bit flip of every seed (what a corrupted or hostile datagram
 * looks like to the decoder). Each is either rejected with a reason a
 * responder can send back (m.err: INVALID_SYNTAX, INVALID_MAJOR_VERSION,
 * UNSUPPORTED_CRITICAL_PAYLOAD) or accepted, and then:
 *   - it has the fuzz target's property: what decodes re-encodes, the
 *     re-encoding decodes with every payload valid and is a fixed point;
 *   - a failed inner (SK) walk leaves the outer payloads only;
 * and by header field (RFC 7296 §3.1):
 *   - SPIs, Message ID, Exchange Type, Flags and the minor version are
 *     opaque to the codec: the flip decodes exactly as the seed does (same
 *     payloads, or the same rejection), the field read back as flipped;
 *   - Length: always rejected (it must equal the datagram), INVALID_SYNTAX;
 *   - major version: always rejected, INVALID_MAJOR_VERSION when above 2.
 * Both outcomes must be common: a decoder that took everything, or
 * nothing, fails here. Counts are printed.
 */
START_TEST(seeds_survive_bit_flips)
{
	static uint8_t copy[MSG_MAX], o1[MSG_MAX], o2[MSG_MAX];
	unsigned accepted = 0, rej_syntax = 0, rej_major = 0, rej_critical = 0, inner_bad = 0;
	struct outcome base, got;
	struct ike_msg m, m2;

	build_seeds();
	for (unsigned i = 0; i < n_seeds; i++) {
		const struct seed *sd = &seeds[i];
		unsigned seed_acc = 0, seed_rej = 0;

		outcome(sd->b, sd->len, &base, &m);
		for (size_t bit = 0; bit < sd->len * 8; bit++) {
			size_t byte = bit / 8;
			uint8_t mask = (uint8_t)(1u << (bit % 8));
			char what[96];

			snprintf(what, sizeof(what), "seed %s, byte %zu bit %zu", sd->name, byte,
				 bit % 8);
			memcpy(copy, sd->b, sd->len);
			copy[byte] ^= mask;
			outcome(copy, sd->len, &got, &m);
			if (ike_msg_decode(&m, copy, sd->len) < 0) {
				seed_rej++;
				switch (m.err) {
				case N_INVALID_SYNTAX:
					rej_syntax++;
					break;
				case N_INVALID_MAJOR_VERSION:
					rej_major++;
					break;
				case N_UNSUPPORTED_CRITICAL_PAYLOAD:
					rej_critical++;
					break;
				default:
					ck_abort_msg("%s: rejected without a reason to send (err %u)",
						     what, m.err);
				}
			} else {
				size_t l1, l2;

				seed_acc++;
				accepted++;
				if (m.has_sk && m.sk_inner_first != PL_NONE &&
				    ike_msg_decode_inner(&m, m.sk_inner_first, m.sk_body,
							 m.sk_body_len) < 0) {
					inner_bad++;
					ck_assert_msg(m.n == m.sk_idx + 1,
						      "%s: a failed inner walk left inner payloads", what);
				}
				l1 = reencode_lenient(&m, o1);
				ck_assert_msg(ike_msg_decode(&m2, o1, l1) == 0,
					      "%s: its re-encoding does not decode", what);
				l2 = reencode(&m2, o2);	/* strict: every payload decodes */
				ck_assert_msg(l1 == l2 && memcmp(o1, o2, l1) == 0,
					      "%s: re-encoding is not a fixed point", what);
			}
			if (byte < 16 || (byte >= 18 && byte < 24) || (byte == 17 && mask < 0x10)) {
				same_layout(what, &got, &base);
				if (byte < 8)
					ck_assert_uint_eq(got.hdr.spi_i ^ base.hdr.spi_i,
							  1ULL << (8 * (7 - byte) + bit % 8));
				else if (byte < 16)
					ck_assert_uint_eq(got.hdr.spi_r ^ base.hdr.spi_r,
							  1ULL << (8 * (15 - byte) + bit % 8));
				else if (byte >= 20)
					ck_assert_uint_eq(got.hdr.msg_id ^ base.hdr.msg_id,
							  1u << (8 * (23 - byte) + bit % 8));
			} else if (byte >= 24 && byte < 28) {
				ck_assert_msg(got.n < 0 && got.err == N_INVALID_SYNTAX,
					      "%s: a wrong Length was taken", what);
			} else if (byte == 17) {
				ck_assert_msg(got.n < 0, "%s: major version %u taken", what,
					      copy[17] >> 4);
				ck_assert_uint_eq(got.err, (copy[17] >> 4) > 2 ? N_INVALID_MAJOR_VERSION
									  : N_INVALID_SYNTAX);
			}
		}
		/* 160 opaque header bits alone decode as the seed does */
		if (sd->valid)
			ck_assert_msg(seed_acc >= 160, "seed %s: only %u of %zu flips accepted",
				      sd->name, seed_acc, sd->len * 8);
		ck_assert_msg(seed_rej >= 36, "seed %s: only %u of %zu flips rejected", sd->name,
			      seed_rej, sd->len * 8);
	}
	printf("ike_corpus: %u seeds, bit flips: %u accepted (%u with a broken inner chain), "
	       "rejected %u INVALID_SYNTAX, %u INVALID_MAJOR_VERSION, %u UNSUPPORTED_CRITICAL\n",
	       n_seeds, accepted, inner_bad, rej_syntax, rej_major, rej_critical);
	ck_assert_uint_gt(rej_critical, 0);
}
END_TEST

/* Writes every seed to dir/<name>.bin. */
static void write_corpus(const char *dir)
{
	for (unsigned i = 0; i < n_seeds; i++) {
		char path[1024];
		FILE *f;

		ck_assert_uint_lt((size_t)snprintf(path, sizeof(path), "%s/%s.bin", dir,
						   seeds[i].name), sizeof(path));
		f = fopen(path, "wb");
		ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
		ck_assert_uint_eq(fwrite(seeds[i].b, 1, seeds[i].len, f), seeds[i].len);
		ck_assert_int_eq(fclose(f), 0);
	}
}

/* dir/<name>.bin: read, compared with the seed, decoded as the seed is. */
static void corpus_file_is_seed(const char *dir, const struct seed *sd, const char *fix)
{
	static uint8_t buf[MSG_MAX + 1];
	struct ike_msg m;
	char path[1024];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.bin", dir, sd->name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s%s", path, strerror(errno), fix);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	ck_assert_msg(n == sd->len && memcmp(buf, sd->b, n) == 0,
		      "%s: %zu bytes, not the seed's %zu%s", path, n, sd->len, fix);
	ck_assert_msg((decode_all(buf, n, &m) >= 0) == sd->valid, "%s: decodes %s", path,
		      sd->valid ? "no more" : "now");
}

/*
 * The corpus writer: IKE_WRITE_CORPUS=tests/fuzz/corpus/ike_decode writes
 * the seeds there; without it into a scratch directory. Either way every
 * seed's file is read back: there, byte for byte, decoding as the seed does.
 */
START_TEST(corpus_writer_writes_every_seed)
{
	const char *asked = getenv("IKE_WRITE_CORPUS");
	char tmp[] = "/tmp/ikeagent-corpus-XXXXXX";
	const char *dir = asked;
	unsigned files = 0;
	struct dirent *e;
	DIR *d;

	build_seeds();
	if (!dir)
		dir = mkdtemp(tmp);
	ck_assert_ptr_nonnull(dir);
	write_corpus(dir);
	for (unsigned i = 0; i < n_seeds; i++)
		corpus_file_is_seed(dir, &seeds[i], "");
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		files++;
		if (!asked) {	/* the scratch directory holds the seeds, nothing else */
			char path[1024];

			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			ck_assert_int_eq(unlink(path), 0);
		}
	}
	closedir(d);
	if (asked) {
		ck_assert_uint_ge(files, n_seeds);
		printf("ike_corpus: %u seeds written to %s\n", n_seeds, dir);
	} else {
		ck_assert_uint_eq(files, n_seeds);
		ck_assert_int_eq(rmdir(dir), 0);
	}
}
END_TEST

/*
 * The committed fuzz corpus holds today's seeds: an encoder change that
 * alters a seed leaves the corpus stale (fuzzing then starts from messages
 * we no longer send) and fails here.
 */
START_TEST(committed_corpus_holds_the_seeds)
{
	static const char fix[] = " (stale corpus: rerun with "
				  "IKE_WRITE_CORPUS=tests/fuzz/corpus/ike_decode)";

	build_seeds();
	for (unsigned i = 0; i < n_seeds; i++)
		corpus_file_is_seed("tests/fuzz/corpus/ike_decode", &seeds[i], fix);
}
END_TEST

static Suite *ike_corpus_suite(void)
{
	Suite *s = suite_create("ike_corpus");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, seeds_decode_fully);
	tcase_add_test(tc, seeds_survive_bit_flips);
	tcase_add_test(tc, seeds_reencode_to_a_fixed_point);
	tcase_add_test(tc, corpus_writer_writes_every_seed);
	tcase_add_test(tc, committed_corpus_holds_the_seeds);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ike_corpus_suite)
