/*
 * The small payloads: KE (RFC 7296 §3.4), IDi/IDr (§3.5), CERT (§3.6),
 * CERTREQ (§3.7), AUTH (§3.8, RFC 7427), Nonce (§3.9), Vendor ID (§3.12)
 * and EAP (§3.16, RFC 3748 §4).
 */
#include "ike/msg.h"

#include <string.h>

#define EAP_HDR_LEN	4	/* code, identifier, length */

static int body_reader(const struct ike_pl *p, uint8_t type, struct rd *r)
{
	if (p->type != type)
		return ike_codec_bad("payload of the wrong type for its decoder");
	rd_init(r, p->body, p->len);
	return 0;
}

/* The rest of the body as data; empty data is an error. */
static int rest(struct rd *r, const uint8_t **data, uint16_t *len)
{
	*len = (uint16_t)rd_left(r);
	if (*len == 0)
		return ike_codec_bad("payload without data");
	return rd_ptr(r, *len, data);
}

/* Writes one payload: a small fixed header, then data. */
static int put_hdr_data(struct ike_mw *b, uint8_t type, const uint8_t *hdr, size_t hdr_len,
			const uint8_t *data, size_t len)
{
	if (len && !data)
		return ike_codec_bad("data length without data");
	if (len > IKE_PL_BODY_MAX - hdr_len)
		return ike_codec_bad("payload data too long");
	if (ike_mw_open(b, type, false) < 0)
		return -1;
	if (wr_bytes(b->w, hdr, hdr_len) < 0 || wr_bytes(b->w, data, len) < 0)
		return -1;
	return ike_mw_close(b);
}

/* ---- KE ---- */

static int ke_check(const struct ike_pl_ke *ke)
{
	return ke->group != 0 && ke->len != 0 ? 0 : ike_codec_bad("ke: group 0 or no data");
}

int ike_pl_ke_decode(const struct ike_pl *p, struct ike_pl_ke *ke)
{
	struct rd r;

	memset(ke, 0, sizeof(*ke));
	if (body_reader(p, PL_KE, &r) < 0)
		return -1;
	if (rd_u16(&r, &ke->group) < 0 || rd_skip(&r, 2) < 0)
		return ike_codec_bad("ke: truncated header");
	if (rest(&r, &ke->data, &ke->len) < 0)
		return -1;
	return ke_check(ke);
}

int ike_put_ke(struct ike_mw *b, const struct ike_pl_ke *ke)
{
	uint8_t hdr[4] = { 0 };

	if (ke_check(ke) < 0)
		return -1;
	put_be16(hdr, ke->group);
	return put_hdr_data(b, PL_KE, hdr, sizeof(hdr), ke->data, ke->len);
}

/* ---- IDi / IDr ---- */

static int id_check(const struct ike_pl_id *id)
{
	if (id->type == 0 || id->len == 0)
		return ike_codec_bad("id: type 0 or no data");
	if (id->type == ID_IPV4_ADDR && id->len != 4)
		return ike_codec_bad("id: IPv4 address is not 4 octets");
	if (id->type == ID_IPV6_ADDR && id->len != 16)
		return ike_codec_bad("id: IPv6 address is not 16 octets");
	return 0;
}

int ike_pl_id_decode(const struct ike_pl *p, struct ike_pl_id *id)
{
	struct rd r;

	memset(id, 0, sizeof(*id));
	if (p->type != PL_IDi && p->type != PL_IDr)
		return ike_codec_bad("id: not an ID payload");
	rd_init(&r, p->body, p->len);
	if (rd_u8(&r, &id->type) < 0 || rd_skip(&r, 3) < 0)
		return ike_codec_bad("id: truncated header");
	if (rest(&r, &id->data, &id->len) < 0)
		return -1;
	return id_check(id);
}

int ike_put_id(struct ike_mw *b, uint8_t pl_type, const struct ike_pl_id *id)
{
	uint8_t hdr[4] = { id->type, 0, 0, 0 };

	if (pl_type != PL_IDi && pl_type != PL_IDr)
		return ike_codec_bad("id: not an ID payload type");
	if (id_check(id) < 0)
		return -1;
	return put_hdr_data(b, pl_type, hdr, sizeof(hdr), id->data, id->len);
}

/* ---- CERT / CERTREQ ---- */

static int cert_check(const struct ike_pl_cert *c, bool req)
{
	if (c->encoding == 0)
		return ike_codec_bad("cert: encoding 0");
	if (!req)
		return c->len ? 0 : ike_codec_bad("cert: no data");
	/* §3.7: "a concatenated list of SHA-1 hashes of the public keys of
	 * trusted Certification Authorities" (possibly none) */
	if (c->encoding == CERT_X509_SIGNATURE && c->len % IKE_CERTREQ_HASH_LEN)
		return ike_codec_bad("certreq: not a list of 20-octet hashes");
	return 0;
}

static int cert_decode(const struct ike_pl *p, uint8_t type, struct ike_pl_cert *c)
{
	struct rd r;

	memset(c, 0, sizeof(*c));
	if (body_reader(p, type, &r) < 0)
		return -1;
	if (rd_u8(&r, &c->encoding) < 0)
		return ike_codec_bad("cert: truncated header");
	c->len = (uint16_t)rd_left(&r);
	if (rd_ptr(&r, c->len, &c->data) < 0)
		return -1;
	return cert_check(c, type == PL_CERTREQ);
}

int ike_pl_cert_decode(const struct ike_pl *p, struct ike_pl_cert *c)
{
	return cert_decode(p, PL_CERT, c);
}

int ike_pl_certreq_decode(const struct ike_pl *p, struct ike_pl_cert *c)
{
	return cert_decode(p, PL_CERTREQ, c);
}

int ike_put_cert(struct ike_mw *b, const struct ike_pl_cert *c)
{
	if (cert_check(c, false) < 0)
		return -1;
	return put_hdr_data(b, PL_CERT, &c->encoding, 1, c->data, c->len);
}

int ike_put_certreq(struct ike_mw *b, const struct ike_pl_cert *c)
{
	if (cert_check(c, true) < 0)
		return -1;
	return put_hdr_data(b, PL_CERTREQ, &c->encoding, 1, c->data, c->len);
}

/* ---- AUTH ---- */

/*
 * RFC 7427 §3: Authentication Data of method 14 is "ASN.1 Length (1
 * octet)", the AlgorithmIdentifier of that length, then the signature.
 */
static int auth_split(struct ike_pl_auth *a)
{
	struct rd r;

	a->sig_alg = a->sig = NULL;
	a->sig_alg_len = 0;
	a->sig_len = 0;
	if (a->method == 0 || a->len == 0)
		return ike_codec_bad("auth: method 0 or no data");
	if (a->method != AUTH_DIGITAL_SIGNATURE)
		return 0;
	rd_init(&r, a->data, a->len);
	if (rd_u8(&r, &a->sig_alg_len) < 0 || a->sig_alg_len == 0 ||
	    rd_ptr(&r, a->sig_alg_len, &a->sig_alg) < 0 || rd_left(&r) == 0)
		return ike_codec_bad("auth: bad RFC 7427 signature layout");
	a->sig_len = (uint16_t)rd_left(&r);
	return rd_ptr(&r, a->sig_len, &a->sig);
}

int ike_pl_auth_decode(const struct ike_pl *p, struct ike_pl_auth *a)
{
	struct rd r;

	memset(a, 0, sizeof(*a));
	if (body_reader(p, PL_AUTH, &r) < 0)
		return -1;
	if (rd_u8(&r, &a->method) < 0 || rd_skip(&r, 3) < 0)
		return ike_codec_bad("auth: truncated header");
	if (rest(&r, &a->data, &a->len) < 0)
		return -1;
	return auth_split(a);
}

int ike_put_auth(struct ike_mw *b, const struct ike_pl_auth *a)
{
	struct ike_pl_auth tmp = *a;
	uint8_t hdr[4] = { a->method, 0, 0, 0 };

	if (a->len && !a->data)
		return ike_codec_bad("auth: data length without data");
	if (auth_split(&tmp) < 0)
		return -1;
	return put_hdr_data(b, PL_AUTH, hdr, sizeof(hdr), a->data, a->len);
}

/* ---- Nonce ---- */

static int nonce_check(const struct ike_pl_nonce *n)
{
	/* §3.9: "The size of the Nonce Data MUST be between 16 and 256
	 * octets, inclusive." */
	if (n->len < IKE_NONCE_MIN || n->len > IKE_NONCE_MAX)
		return ike_codec_bad("nonce: not 16..256 octets");
	return 0;
}

int ike_pl_nonce_decode(const struct ike_pl *p, struct ike_pl_nonce *n)
{
	struct rd r;

	memset(n, 0, sizeof(*n));
	if (body_reader(p, PL_NONCE, &r) < 0 || rest(&r, &n->data, &n->len) < 0)
		return -1;
	return nonce_check(n);
}

int ike_put_nonce(struct ike_mw *b, const struct ike_pl_nonce *n)
{
	if (nonce_check(n) < 0)
		return -1;
	return put_hdr_data(b, PL_NONCE, NULL, 0, n->data, n->len);
}

/* ---- Vendor ID ---- */

int ike_pl_vendor_decode(const struct ike_pl *p, struct ike_pl_vendor *v)
{
	struct rd r;

	memset(v, 0, sizeof(*v));
	if (body_reader(p, PL_VENDOR, &r) < 0)
		return -1;
	return rest(&r, &v->data, &v->len);
}

int ike_put_vendor(struct ike_mw *b, const struct ike_pl_vendor *v)
{
	if (v->len == 0)
		return ike_codec_bad("vendor: no data");
	return put_hdr_data(b, PL_VENDOR, NULL, 0, v->data, v->len);
}

/* ---- EAP ---- */

static bool eap_has_type(uint8_t code)
{
	return code == IKE_EAP_REQUEST || code == IKE_EAP_RESPONSE;
}

static int eap_check(const struct ike_pl_eap *e)
{
	if (eap_has_type(e->code))
		return e->type != 0 ? 0 : ike_codec_bad("eap: type 0");
	if (e->code == IKE_EAP_SUCCESS || e->code == IKE_EAP_FAILURE)
		return e->type == 0 && e->len == 0 ? 0 : ike_codec_bad("eap: data in success/failure");
	return ike_codec_bad("eap: unknown code");
}

int ike_pl_eap_decode(const struct ike_pl *p, struct ike_pl_eap *e)
{
	uint16_t len;
	struct rd r;

	memset(e, 0, sizeof(*e));
	if (body_reader(p, PL_EAP, &r) < 0)
		return -1;
	if (rd_u8(&r, &e->code) < 0 || rd_u8(&r, &e->id) < 0 || rd_u16(&r, &len) < 0)
		return ike_codec_bad("eap: truncated header");
	/* RFC 3748 §4: Length covers code, identifier, length, data; here it
	 * must be the whole payload body (no padding, no truncation) */
	if (len != p->len)
		return ike_codec_bad("eap: EAP length differs from the payload");
	if (eap_has_type(e->code)) {
		if (rd_u8(&r, &e->type) < 0)
			return ike_codec_bad("eap: request/response without type");
		e->len = (uint16_t)rd_left(&r);
		if (rd_ptr(&r, e->len, &e->data) < 0)
			return -1;
	}
	if (rd_left(&r) != 0)
		return ike_codec_bad("eap: data in success/failure");
	return eap_check(e);
}

int ike_put_eap(struct ike_mw *b, const struct ike_pl_eap *e)
{
	size_t total = EAP_HDR_LEN + (eap_has_type(e->code) ? 1u + e->len : 0);
	uint8_t hdr[5];

	if (eap_check(e) < 0)
		return -1;
	if (total > IKE_PL_BODY_MAX)
		return ike_codec_bad("eap: too long");
	hdr[0] = e->code;
	hdr[1] = e->id;
	put_be16(&hdr[2], (uint16_t)total);
	hdr[4] = e->type;
	return put_hdr_data(b, PL_EAP, hdr, total > EAP_HDR_LEN ? 5 : EAP_HDR_LEN, e->data,
			    e->len);
}
