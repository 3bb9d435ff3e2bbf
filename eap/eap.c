/*
 * The EAP peer (RFC 3748): Identity, Notification, Nak, Success and
 * Failure; the methods (eap/method.h) do the rest. One login per peer.
 */
#include "eap/method.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/log.h"

static const struct eap_method *const methods[] = { &eap_method_mschapv2, &eap_method_tls };
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

struct eap_peer {
	struct eap_cfg cfg;
	const struct eap_method *m;	/* the method the server chose, once started */
	void *st;
	bool responded;			/* we sent a method Response: no Nak any more */
	uint8_t naked;			/* the last method we refused with a Nak */
	bool over;			/* Success or Failure taken: nothing more */
	enum eap_fail_kind fail;
	char err[240];
	uint8_t msk[EAP_MSK_MAX];
	size_t msk_len;
	bool have_msk;
};

const char *eap_methods_str(unsigned allow, char *buf, size_t len)
{
	size_t at = 0;

	if (len)
		buf[0] = 0;
	for (unsigned i = 0; i < N_METHODS && len; i++) {
		if (!(allow & methods[i]->allow))
			continue;
		int n = snprintf(buf + at, len - at, "%s%s", at ? ", " : "", methods[i]->name);

		if (n < 0 || (size_t)n >= len - at)
			break;
		at += (size_t)n;
	}
	if (len && !buf[0])
		snprintf(buf, len, "none");
	return buf;
}

/* An EAP method type's name for messages: ours, the registry's common ones, or its number. */
static const char *type_name(uint8_t type, char *buf, size_t len)
{
	static const struct { uint8_t t; const char *n; } known[] = {
		{ 4, "MD5-Challenge" }, { 5, "OTP" }, { 6, "GTC" }, { 13, "TLS" }, { 18, "SIM" },
		{ 21, "TTLS" }, { 23, "AKA" }, { 25, "PEAP" }, { 26, "MSCHAPv2" }, { 43, "FAST" },
		{ 50, "AKA'" }, { 254, "expanded" },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].t == type)
			return known[i].n;
	snprintf(buf, len, "type %u", type);
	return buf;
}

struct eap_peer *eap_peer_new(const struct eap_cfg *cfg)
{
	struct eap_peer *p = calloc(1, sizeof(*p));

	if (p)
		p->cfg = *cfg;
	return p;
}

void eap_peer_free(struct eap_peer *p)
{
	if (!p)
		return;
	if (p->m)
		p->m->free(p->st);
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

static enum eap_status fail(struct eap_peer *p, enum eap_fail_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum eap_status fail(struct eap_peer *p, enum eap_fail_kind kind, const char *fmt, ...)
{
	va_list ap;

	p->over = true;
	p->fail = kind;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return EAP_FAIL;
}

/* Response header; type-data follows at w. */
static int begin_response(struct wr *w, uint8_t id, uint8_t type, size_t *len_mark)
{
	if (wr_u8(w, EAP_CODE_RESPONSE) < 0 || wr_u8(w, id) < 0 || wr_reserve(w, 2, len_mark) < 0 ||
	    wr_u8(w, type) < 0)
		return -1;
	return 0;
}

static enum eap_status end_response(struct wr *w, size_t len_mark, size_t *out_len)
{
	if (!wr_ok(w) || wr_len(w) > 0xffff || wr_fill_u16(w, len_mark, (uint16_t)wr_len(w)) < 0)
		return EAP_DROP;
	*out_len = wr_len(w);
	return EAP_CONT;
}

/* RFC 3748 §5.3.1: a Nak names the methods we would take instead (0: none). */
static enum eap_status nak(struct eap_peer *p, uint8_t id, uint8_t asked, struct wr *w,
			   size_t *out_len)
{
	char tb[16], ours[64];
	size_t mark;
	bool any = false;

	if (begin_response(w, id, EAP_TYPE_NAK, &mark) < 0)
		return EAP_DROP;
	for (unsigned i = 0; i < N_METHODS; i++)
		if (p->cfg.methods & methods[i]->allow) {
			any = true;
			if (wr_u8(w, methods[i]->type) < 0)
				return EAP_DROP;
		}
	if (!any && wr_u8(w, 0) < 0)
		return EAP_DROP;
	p->naked = asked;
	log_info("eap: the gateway proposes EAP-%s, which we do not allow here; asking for %s "
		 "instead (Nak)", type_name(asked, tb, sizeof(tb)),
		 eap_methods_str(p->cfg.methods, ours, sizeof(ours)));
	return end_response(w, mark, out_len);
}

static const struct eap_method *method_for(unsigned allow, uint8_t type)
{
	for (unsigned i = 0; i < N_METHODS; i++)
		if (methods[i]->type == type && (allow & methods[i]->allow))
			return methods[i];
	return NULL;
}

static enum eap_status method_request(struct eap_peer *p, uint8_t id, uint8_t type,
				      const uint8_t *data, size_t dlen, struct wr *w, size_t *out_len)
{
	struct eap_merr e = { .kind = EAP_FAIL_NONE };
	enum eap_mstatus ms;
	size_t mark;
	char tb[16];

	if (!p->m) {
		const struct eap_method *m = method_for(p->cfg.methods, type);

		if (!m)
			return nak(p, id, type, w, out_len);
		if (!(p->st = m->start(&p->cfg, &e)))
			return fail(p, e.kind ? e.kind : EAP_FAIL_LOCAL, "%s",
				    e.text[0] ? e.text : "cannot start the EAP method");
		p->m = m;
		log_info("eap: the gateway asks for EAP-%s", m->name);
	} else if (type != p->m->type) {
		/* RFC 3748 §2.1: "a peer MUST NOT send a Nak ... after an initial non-Nak
		 * Response has been sent": the server may not switch methods either. */
		log_info("eap: dropped a request for EAP-%s in the middle of EAP-%s",
			 type_name(type, tb, sizeof(tb)), p->m->name);
		return EAP_DROP;
	}
	if (begin_response(w, id, type, &mark) < 0)
		return EAP_DROP;
	ms = p->m->process(p->st, id, data, dlen, w, &e);
	if (ms == EAP_M_DROP)
		return EAP_DROP;
	if (ms == EAP_M_FAIL)
		return fail(p, e.kind ? e.kind : EAP_FAIL_PROTOCOL, "%s",
			    e.text[0] ? e.text : "EAP method failed");
	p->responded = true;
	return end_response(w, mark, out_len);
}

static enum eap_status request(struct eap_peer *p, uint8_t id, struct rd *r, struct wr *w,
			       size_t *out_len)
{
	const uint8_t *data;
	size_t mark, dlen, idlen;
	uint8_t type;

	if (rd_u8(r, &type) < 0)
		return EAP_DROP;	/* RFC 3748 §4.1: a Request has a Type */
	dlen = rd_left(r);
	if (rd_ptr(r, dlen, &data) < 0)
		return EAP_DROP;
	switch (type) {
	case EAP_TYPE_IDENTITY:
		idlen = p->cfg.identity ? strlen(p->cfg.identity) : 0;
		if (idlen > EAP_IDENTITY_MAX)
			return fail(p, EAP_FAIL_LOCAL, "the EAP identity is longer than %d bytes",
				    EAP_IDENTITY_MAX);
		if (begin_response(w, id, EAP_TYPE_IDENTITY, &mark) < 0 ||
		    wr_bytes(w, p->cfg.identity, idlen) < 0)
			return EAP_DROP;
		log_info("eap: identity '%s' sent", p->cfg.identity ? p->cfg.identity : "");
		return end_response(w, mark, out_len);
	case EAP_TYPE_NOTIFICATION: {
		/* RFC 3748 §5.2: displayable text; the peer MUST respond (empty Type-Data). */
		char text[128];
		size_t n = 0;

		for (size_t i = 0; i < dlen && n + 1 < sizeof(text); i++)
			text[n++] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '?';
		text[n] = 0;
		log_info("eap: the gateway says: %s", text);
		if (begin_response(w, id, EAP_TYPE_NOTIFICATION, &mark) < 0)
			return EAP_DROP;
		return end_response(w, mark, out_len);
	}
	case EAP_TYPE_NAK:
		return EAP_DROP;	/* RFC 3748 §5.3: Nak is a Response only */
	default:
		return method_request(p, id, type, data, dlen, w, out_len);
	}
}

static enum eap_status success(struct eap_peer *p)
{
	/* RFC 3748 §4.2 ≈: Success before the method finished (and authenticated
	 * the server) would let anyone skip the server's proof. */
	if (!p->m || !p->m->done(p->st))
		return fail(p, EAP_FAIL_PROTOCOL, "the gateway sent EAP Success before %s",
			    p->m ? "the method finished" : "any EAP method ran");
	p->over = true;
	if (p->m->msk && p->m->msk(p->st, p->msk, &p->msk_len) == 0 && p->msk_len > 0)
		p->have_msk = true;
	log_info("eap: EAP-%s succeeded%s", p->m->name, p->have_msk ? "" : " (no MSK)");
	return EAP_SUCCESS;
}

static enum eap_status failure(struct eap_peer *p)
{
	enum eap_fail_kind kind = EAP_FAIL_REJECTED;
	const char *why = p->m && p->m->why_failed ? p->m->why_failed(p->st, &kind) : NULL;

	char tb[16], ours[64];

	if (why)
		return fail(p, kind, "%s", why);
	if (!p->m && p->naked)
		return fail(p, EAP_FAIL_NO_METHOD, "no EAP method in common: the gateway offers "
			    "EAP-%s, ikeagent allows %s ([auth] eap)", type_name(p->naked, tb, sizeof(tb)),
			    eap_methods_str(p->cfg.methods, ours, sizeof(ours)));
	return fail(p, EAP_FAIL_REJECTED, "the gateway refused the login (EAP failure%s%s)",
		    p->m ? " during EAP-" : "", p->m ? p->m->name : "");
}

enum eap_status eap_peer_input(struct eap_peer *p, const uint8_t *in, size_t len, uint8_t *out,
			       size_t cap, size_t *out_len)
{
	uint8_t code, id;
	uint16_t elen;
	struct rd r, body;
	struct wr w;

	*out_len = 0;
	if (p->over)
		return EAP_DROP;
	rd_init(&r, in, len);
	if (rd_u8(&r, &code) < 0 || rd_u8(&r, &id) < 0 || rd_u16(&r, &elen) < 0)
		return EAP_DROP;
	/* RFC 3748 §4.1: a Length larger than the packet: silently discard; octets past it are padding. */
	if (elen < EAP_HDR_LEN || elen > len || rd_sub(&r, elen - EAP_HDR_LEN, &body) < 0)
		return EAP_DROP;
	wr_init(&w, out, cap < EAP_MSG_MAX ? cap : EAP_MSG_MAX);
	switch (code) {
	case EAP_CODE_REQUEST:
		return request(p, id, &body, &w, out_len);
	case EAP_CODE_SUCCESS:
		return success(p);
	case EAP_CODE_FAILURE:
		return failure(p);
	default:
		return EAP_DROP;	/* Responses are ours to send */
	}
}

int eap_peer_msk(const struct eap_peer *p, const uint8_t **msk, size_t *len)
{
	if (!p->have_msk)
		return -1;
	*msk = p->msk;
	*len = p->msk_len;
	return 0;
}

const char *eap_peer_error(const struct eap_peer *p) { return p->err; }
enum eap_fail_kind eap_peer_fail_kind(const struct eap_peer *p) { return p->fail; }
const char *eap_peer_method(const struct eap_peer *p) { return p->m ? p->m->name : NULL; }
