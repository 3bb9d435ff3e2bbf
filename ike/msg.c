/*
 * IKEv2 header and generic payload chain (RFC 7296 §3.1, §3.2, §3.14),
 * the message builder, and the by-type dispatch of the typed payloads.
 */
#include "ike/msg.h"

#include <string.h>

#include "util/log.h"

int ike_codec_bad(const char *what)
{
	log_debug("ike codec: %s", what);
	return -1;
}

int ike_hdr_decode(struct rd *r, struct ike_hdr *h)
{
	size_t avail = rd_left(r);

	memset(h, 0, sizeof(*h));
	if (rd_u64(r, &h->spi_i) < 0 || rd_u64(r, &h->spi_r) < 0 ||
	    rd_u8(r, &h->next_payload) < 0 || rd_u8(r, &h->version) < 0 ||
	    rd_u8(r, &h->exchange) < 0 || rd_u8(r, &h->flags) < 0 ||
	    rd_u32(r, &h->msg_id) < 0 || rd_u32(r, &h->length) < 0)
		return ike_codec_bad("header: truncated");
	/*
	 * §3.1: "Implementations based on this version of IKE MUST reject or
	 * ignore messages containing a version number greater than 2 with an
	 * INVALID_MAJOR_VERSION notification message." Major 1 (IKEv1) is
	 * rejected as well. The minor version: "MUST ignore the minor version
	 * number of received messages." Reserved flag bits are likewise
	 * ignored on receipt (§3.1 Flags).
	 */
	if ((h->version >> 4) != 2)
		return ike_codec_bad("header: major version is not 2");
	/*
	 * §3.1 Length: "Length of the total message (header + payloads) in
	 * octets." We hold it strictly: it must equal the bytes received (the
	 * UDP payload after the non-ESP marker, or one RFC 9329 frame), so a
	 * datagram with trailing bytes is malformed rather than truncated.
	 */
	if (h->length < IKE_HDR_LEN)
		return ike_codec_bad("header: length below 28");
	if (h->length != avail)
		return ike_codec_bad("header: length differs from the datagram");
	return 0;
}

int ike_hdr_encode(struct wr *w, const struct ike_hdr *h)
{
	if (wr_u64(w, h->spi_i) < 0 || wr_u64(w, h->spi_r) < 0 ||
	    wr_u8(w, h->next_payload) < 0 || wr_u8(w, h->version ? h->version : IKE_VERSION) < 0 ||
	    wr_u8(w, h->exchange) < 0 || wr_u8(w, h->flags) < 0 ||
	    wr_u32(w, h->msg_id) < 0 || wr_u32(w, h->length) < 0)
		return ike_codec_bad("header: no room");
	return 0;
}

bool ike_pl_known(uint8_t type)
{
	return (type >= PL_SA && type <= PL_EAP) || type == PL_SKF;
}

static bool is_sk(uint8_t type)
{
	return type == PL_SK || type == PL_SKF;
}

/* Records where the SK/SKF payload sits, for the crypto side. */
static int note_sk(struct ike_msg *m, const struct ike_pl *p, uint8_t next, size_t at)
{
	struct rd r;

	rd_init(&r, p->body, p->len);
	if (p->type == PL_SKF) {
		if (rd_u16(&r, &m->skf_num) < 0 || rd_u16(&r, &m->skf_total) < 0)
			return ike_codec_bad("skf: truncated fragment header");
		/*
		 * RFC 7383 §2.5: Fragment Number "MUST be less than or equal
		 * to the next field (Total Fragments). This field MUST NOT be
		 * zero." Total Fragments: "This field MUST NOT be zero."
		 */
		if (m->skf_num == 0 || m->skf_total == 0 || m->skf_num > m->skf_total)
			return ike_codec_bad("skf: bad fragment number");
	}
	m->has_sk = true;
	m->sk_type = p->type;
	m->sk_inner_first = next;
	m->sk_idx = m->n - 1;
	m->sk_off = at;
	m->sk_aad_len = at + IKE_GENERIC_HDR_LEN + (p->len - rd_left(&r));
	m->sk_body = rd_cur(&r);
	m->sk_body_len = rd_left(&r);
	return 0;
}

/* One generic payload header and body; *next gets its Next Payload. */
static int read_generic(struct rd *r, uint8_t type, bool in_sk, struct ike_pl *p,
			uint8_t *next)
{
	uint8_t flags;
	uint16_t len;

	if (rd_left(r) < IKE_GENERIC_HDR_LEN)
		return ike_codec_bad("chain: truncated generic header");
	if (rd_u8(r, next) < 0 || rd_u8(r, &flags) < 0 || rd_u16(r, &len) < 0)
		return -1;
	if (len < IKE_GENERIC_HDR_LEN)
		return ike_codec_bad("chain: payload length below 4");
	if ((size_t)(len - IKE_GENERIC_HDR_LEN) > rd_left(r))
		return ike_codec_bad("chain: payload longer than what is left");
	p->type = type;
	/* §3.2: the other flag bits are RESERVED, "MUST be ignored on receipt" */
	p->critical = (flags & IKE_PL_CRITICAL) != 0;
	p->in_sk = in_sk;
	p->len = (uint16_t)(len - IKE_GENERIC_HDR_LEN);
	return rd_ptr(r, p->len, &p->body);
}

/*
 * Walks a payload chain starting with `type` to the end of r. A loop over
 * attacker-controlled input: each round consumes at least 4 octets and
 * the count is bounded.
 */
static int walk_chain(struct ike_msg *m, struct rd *r, uint8_t type, bool in_sk)
{
	while (type != PL_NONE) {
		size_t at = r->pos;
		struct ike_pl p;
		uint8_t next;

		_Static_assert(IKE_MAX_PAYLOADS == 256, "the message below names the limit");
		if (m->n + m->n_skipped >= IKE_MAX_PAYLOADS) {
			m->err_limit = "more than 256 payloads (IKE_MAX_PAYLOADS)";
			return ike_codec_bad("chain: too many payloads");
		}
		if (read_generic(r, type, in_sk, &p, &next) < 0)
			return -1;
		if (!ike_pl_known(type)) {
			/*
			 * §2.5: "If the critical flag is set and the payload
			 * type is unrecognized, the message MUST be rejected
			 * and the response to the IKE request containing that
			 * payload MUST include a Notify payload
			 * UNSUPPORTED_CRITICAL_PAYLOAD, indicating an
			 * unsupported critical payload was included. In that
			 * Notify payload, the Notification Data contains the
			 * one-octet payload type." Without the critical bit
			 * the recipient skips it (§3.2).
			 */
			if (p.critical) {
				m->err = N_UNSUPPORTED_CRITICAL_PAYLOAD;
				m->err_pl_type = type;
				return ike_codec_bad("chain: unsupported critical payload");
			}
			m->n_skipped++;
			type = next;
			continue;
		}
		m->pl[m->n++] = p;
		if (is_sk(type)) {
			/*
			 * §3.14: "The Encrypted payload, if present in a
			 * message, MUST be the last payload in the message."
			 * (RFC 7383 §2.5 likewise for SKF.) Its Next Payload
			 * is the type of the first payload inside.
			 */
			if (in_sk)
				return ike_codec_bad("chain: encrypted payload inside SK");
			if (rd_left(r) != 0)
				return ike_codec_bad("chain: SK is not the last payload");
			return note_sk(m, &p, next, at);
		}
		type = next;
	}
	if (rd_left(r) != 0)
		return ike_codec_bad("chain: bytes after the last payload");
	return 0;
}

int ike_msg_decode(struct ike_msg *m, const uint8_t *buf, size_t len)
{
	struct rd r;

	memset(m, 0, sizeof(*m));
	m->raw = buf;
	m->raw_len = len;
	rd_init(&r, buf, len);
	if (ike_hdr_decode(&r, &m->hdr) < 0) {
		m->err = (m->hdr.version >> 4) > 2 ? N_INVALID_MAJOR_VERSION : N_INVALID_SYNTAX;
		return -1;
	}
	if (walk_chain(m, &r, m->hdr.next_payload, false) < 0) {
		if (!m->err)
			m->err = N_INVALID_SYNTAX;
		return -1;
	}
	return 0;
}

int ike_msg_decode_inner(struct ike_msg *m, uint8_t first, const uint8_t *plain, size_t len)
{
	unsigned n = m->n, skipped = m->n_skipped;
	struct rd r;

	if (!m->has_sk || m->inner_done)
		return ike_codec_bad("inner: no SK payload, or decoded already");
	m->inner_done = true;
	rd_init(&r, plain, len);
	if (walk_chain(m, &r, first, true) < 0) {
		m->n = n;	/* drop what the failed walk appended */
		m->n_skipped = skipped;
		if (!m->err)
			m->err = N_INVALID_SYNTAX;
		return -1;
	}
	return 0;
}

const struct ike_pl *ike_msg_find(const struct ike_msg *m, uint8_t type, unsigned *iter)
{
	for (unsigned i = *iter; i < m->n; i++) {
		if (m->pl[i].type == type) {
			*iter = i + 1;
			return &m->pl[i];
		}
	}
	*iter = m->n;
	return NULL;
}

/* ---- builder ---- */

static int mw_fail(struct ike_mw *b, const char *what)
{
	b->failed = true;
	return ike_codec_bad(what);
}

static void mw_init(struct ike_mw *b, struct wr *w, bool inner)
{
	memset(b, 0, sizeof(*b));
	b->w = w;
	b->start = wr_len(w);
	b->np_at = SIZE_MAX;
	b->open_at = SIZE_MAX;
	b->inner = inner;
}

int ike_mw_begin(struct ike_mw *b, struct wr *w, const struct ike_hdr *h)
{
	struct ike_hdr tmp = *h;

	mw_init(b, w, false);
	/* §3.1: major version 2 and minor 0 are what we send, always */
	tmp.version = IKE_VERSION;
	tmp.next_payload = PL_NONE;	/* patched by the first payload */
	tmp.length = 0;			/* filled by ike_mw_finish / ike_mw_sk */
	if (ike_hdr_encode(w, &tmp) < 0)
		return mw_fail(b, "builder: no room for the header");
	b->np_at = b->start + IKE_HDR_NP_OFF;
	return 0;
}

int ike_mw_begin_inner(struct ike_mw *b, struct wr *w)
{
	mw_init(b, w, true);
	return wr_ok(w) ? 0 : mw_fail(b, "builder: writer failed");
}

int ike_mw_open(struct ike_mw *b, uint8_t type, bool critical)
{
	struct wr *w = b->w;
	size_t at = wr_len(w);

	if (b->failed || b->closed || b->open_at != SIZE_MAX)
		return mw_fail(b, "builder: closed, or a payload is open");
	if (type == PL_NONE || b->n >= IKE_MAX_PAYLOADS)
		return mw_fail(b, "builder: no payload type, or too many payloads");
	if (wr_u8(w, PL_NONE) < 0 || wr_u8(w, critical ? IKE_PL_CRITICAL : 0) < 0 ||
	    wr_u16(w, 0) < 0)
		return mw_fail(b, "builder: no room");
	if (b->n == 0)
		b->first = type;
	if (b->np_at != SIZE_MAX && wr_fill_u8(w, b->np_at, type) < 0)
		return mw_fail(b, "builder: cannot patch Next Payload");
	b->np_at = at;
	b->open_at = at;
	b->n++;
	return 0;
}

int ike_mw_close(struct ike_mw *b)
{
	struct wr *w = b->w;
	size_t len;

	if (b->failed || b->open_at == SIZE_MAX || !wr_ok(w))
		return mw_fail(b, "builder: no open payload, or writer full");
	len = wr_len(w) - b->open_at;
	if (len > UINT16_MAX)
		return mw_fail(b, "builder: payload longer than 65535");
	if (wr_fill_u16(w, b->open_at + 2, (uint16_t)len) < 0)
		return mw_fail(b, "builder: cannot fill payload length");
	b->open_at = SIZE_MAX;
	return 0;
}

int ike_mw_raw(struct ike_mw *b, uint8_t type, bool critical, const void *body, size_t len)
{
	if (ike_mw_open(b, type, critical) < 0)
		return -1;
	if (wr_bytes(b->w, body, len) < 0)
		return mw_fail(b, "builder: no room for the body");
	return ike_mw_close(b);
}

int ike_mw_finish(struct ike_mw *b, size_t *len)
{
	size_t total;

	if (b->failed || b->open_at != SIZE_MAX || !wr_ok(b->w))
		return mw_fail(b, "builder: failed, or a payload is open");
	total = wr_len(b->w) - b->start;
	if (!b->inner && !b->closed) {
		if (total > UINT32_MAX)
			return mw_fail(b, "builder: message too long");
		if (wr_fill_u32(b->w, b->start + IKE_HDR_LENGTH_OFF, (uint32_t)total) < 0)
			return mw_fail(b, "builder: cannot fill header length");
	}
	b->closed = true;
	if (len)
		*len = total;
	return 0;
}

static int mw_encrypted(struct ike_mw *b, uint8_t type, uint8_t inner_first, uint16_t num,
			uint16_t total, size_t body_len, struct ike_sk_out *out)
{
	struct wr *w = b->w;
	size_t hdr = type == PL_SKF ? IKE_SKF_HDR_LEN : IKE_GENERIC_HDR_LEN;
	size_t at, aad_end;

	memset(out, 0, sizeof(*out));
	if (b->inner)
		return mw_fail(b, "builder: SK inside an inner chain");
	if (body_len > UINT16_MAX - hdr)
		return mw_fail(b, "builder: SK body too long");
	if (ike_mw_open(b, type, false) < 0)
		return -1;
	at = b->open_at;
	/* §3.14: the SK's Next Payload is the first inner payload's type */
	if (wr_fill_u8(w, at, inner_first) < 0)
		return mw_fail(b, "builder: cannot set the SK Next Payload");
	if (type == PL_SKF) {
		if (num == 0 || total == 0 || num > total)
			return mw_fail(b, "builder: bad fragment number");
		if (wr_u16(w, num) < 0 || wr_u16(w, total) < 0)
			return mw_fail(b, "builder: no room");
	}
	aad_end = wr_len(w);
	if (wr_alloc(w, body_len, &out->body) < 0)
		return mw_fail(b, "builder: no room for the SK body");
	if (ike_mw_close(b) < 0 || ike_mw_finish(b, &out->msg_len) < 0)
		return -1;
	out->msg = w->p + b->start;	/* start <= wr_len(w) <= cap: in bounds */
	out->aad_len = aad_end - b->start;
	out->body_len = body_len;
	return 0;
}

int ike_mw_sk(struct ike_mw *b, uint8_t inner_first, size_t body_len, struct ike_sk_out *out)
{
	return mw_encrypted(b, PL_SK, inner_first, 0, 0, body_len, out);
}

int ike_mw_skf(struct ike_mw *b, uint8_t inner_first, uint16_t frag_num, uint16_t total,
	       size_t body_len, struct ike_sk_out *out)
{
	return mw_encrypted(b, PL_SKF, inner_first, frag_num, total, body_len, out);
}

/* ---- dispatch by type ---- */

int ike_pl_any_decode(const struct ike_pl *p, struct ike_pl_any *a)
{
	a->type = p->type;
	switch (p->type) {
	case PL_SA:
		return ike_pl_sa_decode(p, &a->u.sa);
	case PL_KE:
		return ike_pl_ke_decode(p, &a->u.ke);
	case PL_IDi:
	case PL_IDr:
		return ike_pl_id_decode(p, &a->u.id);
	case PL_CERT:
		return ike_pl_cert_decode(p, &a->u.cert);
	case PL_CERTREQ:
		return ike_pl_certreq_decode(p, &a->u.cert);
	case PL_AUTH:
		return ike_pl_auth_decode(p, &a->u.auth);
	case PL_NONCE:
		return ike_pl_nonce_decode(p, &a->u.nonce);
	case PL_NOTIFY:
		return ike_pl_notify_decode(p, &a->u.notify);
	case PL_DELETE:
		return ike_pl_delete_decode(p, &a->u.del);
	case PL_VENDOR:
		return ike_pl_vendor_decode(p, &a->u.vendor);
	case PL_TSi:
	case PL_TSr:
		return ike_pl_ts_decode(p, &a->u.ts);
	case PL_CP:
		return ike_pl_cp_decode(p, &a->u.cp);
	case PL_EAP:
		return ike_pl_eap_decode(p, &a->u.eap);
	default:
		return ike_codec_bad("any: no typed decoder for this payload");
	}
}

int ike_put_any(struct ike_mw *b, const struct ike_pl_any *a)
{
	switch (a->type) {
	case PL_SA:
		return ike_put_sa_decoded(b, &a->u.sa);
	case PL_KE:
		return ike_put_ke(b, &a->u.ke);
	case PL_IDi:
	case PL_IDr:
		return ike_put_id(b, a->type, &a->u.id);
	case PL_CERT:
		return ike_put_cert(b, &a->u.cert);
	case PL_CERTREQ:
		return ike_put_certreq(b, &a->u.cert);
	case PL_AUTH:
		return ike_put_auth(b, &a->u.auth);
	case PL_NONCE:
		return ike_put_nonce(b, &a->u.nonce);
	case PL_NOTIFY:
		return ike_put_notify(b, &a->u.notify);
	case PL_DELETE:
		return ike_put_delete(b, &a->u.del);
	case PL_VENDOR:
		return ike_put_vendor(b, &a->u.vendor);
	case PL_TSi:
	case PL_TSr:
		return ike_put_ts(b, a->type, &a->u.ts);
	case PL_CP:
		return ike_put_cp(b, &a->u.cp);
	case PL_EAP:
		return ike_put_eap(b, &a->u.eap);
	default:
		return ike_codec_bad("any: no typed encoder for this payload");
	}
}
