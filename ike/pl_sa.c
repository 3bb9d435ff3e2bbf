/*
 * Security Association payload (RFC 7296 §3.3): proposals, transforms and
 * transform attributes. Decoding validates the whole payload once and
 * keeps a view of it (struct ike_pl_sa); the readers walk the validated
 * bytes again. Nothing here caps how many proposals or transforms a peer
 * sends: the payload's own lengths and one-octet counts bound them.
 */
#include "ike/msg.h"

#include <string.h>

#define PROP_HDR_LEN		8	/* last, reserved, length, num, proto, spi size, #transforms */
#define TRANS_HDR_LEN		8	/* last, reserved, length, type, reserved, id */
#define SUBSTRUC_LAST		0
#define SUBSTRUC_MORE_PROP	2
#define SUBSTRUC_MORE_TRANS	3
#define ATTR_TYPE_MASK		0x7fff

/*
 * §3.3.1 SPI Size: "For an initial IKE SA negotiation, this field MUST be
 * zero; the SPI is obtained from the outer header. During subsequent
 * negotiations, it is equal to the size, in octets, of the SPI of the
 * corresponding protocol (8 for IKE, 4 for ESP and AH)." A protocol we do
 * not know is not malformed: §3.3.6 makes such a proposal unacceptable,
 * which is the chooser's decision.
 */
static bool spi_size_ok(uint8_t proto, uint8_t spi_size)
{
	switch (proto) {
	case PROTO_IKE:
		return spi_size == 0 || spi_size == 8;
	case PROTO_AH:
	case PROTO_ESP:
		return spi_size == 4;
	default:
		return true;
	}
}

/*
 * §3.3.1 Proposal Num: "When a proposal is made, the first proposal in an
 * SA payload MUST be 1, and subsequent proposals MUST be one more than the
 * previous proposal". A single accepted proposal carries the number it had
 * in the offer, so only 0 is wrong there. prev_num: 0 for the first.
 */
static int num_check(uint8_t num, unsigned prev_num, bool several)
{
	if (num == 0)
		return ike_codec_bad("sa: proposal number 0");
	if (prev_num && num != prev_num + 1)
		return ike_codec_bad("sa: proposal numbers not consecutive");
	if (!prev_num && several && num != 1)
		return ike_codec_bad("sa: first of several proposals is not number 1");
	return 0;
}

/*
 * §3.3.5: attributes are TV (AF bit set: 2-octet type, 2-octet value) or
 * TLV (AF clear: type, length, value). Key Length (14), the only
 * attribute RFC 7296 defines, is listed there as TV. Unknown ones are
 * skipped within bounds and flagged, so the proposal chooser never picks
 * a transform it cannot honour.
 */
static int attrs_decode(struct rd *r, struct ike_transform *t)
{
	while (rd_left(r) > 0) {
		uint16_t at, val;

		if (rd_u16(r, &at) < 0 || rd_u16(r, &val) < 0)
			return ike_codec_bad("sa: truncated attribute");
		if (!(at & TRANS_ATTR_TV)) {
			if (at == TRANS_ATTR_KEY_LENGTH)
				return ike_codec_bad("sa: key length attribute in TLV form");
			if (rd_skip(r, val) < 0)
				return ike_codec_bad("sa: attribute longer than transform");
			t->unknown_attr = true;
			continue;
		}
		if ((at & ATTR_TYPE_MASK) != TRANS_ATTR_KEY_LENGTH) {
			t->unknown_attr = true;
			continue;
		}
		if (t->key_len != 0 || val == 0)
			return ike_codec_bad("sa: repeated or zero key length");
		t->key_len = val;
	}
	return 0;
}

/* One transform substructure from r; want_last: it must say "last". */
static int trans_decode(struct rd *r, bool want_last, struct ike_transform *t)
{
	uint8_t last, reserved;
	uint16_t len;
	struct rd body;

	memset(t, 0, sizeof(*t));
	if (rd_u8(r, &last) < 0 || rd_u8(r, &reserved) < 0 || rd_u16(r, &len) < 0)
		return ike_codec_bad("sa: truncated transform");
	/* §3.3.2: "a value of 0 if this was the last Transform Substructure,
	 * and a value of 3 if there are more" */
	if (last != (want_last ? SUBSTRUC_LAST : SUBSTRUC_MORE_TRANS))
		return ike_codec_bad("sa: transform last/more mismatch");
	if (len < TRANS_HDR_LEN)
		return ike_codec_bad("sa: transform length below 8");
	if (rd_sub(r, len - 4u, &body) < 0)
		return ike_codec_bad("sa: transform longer than proposal");
	if (rd_u8(&body, &t->type) < 0 || rd_u8(&body, &reserved) < 0 ||
	    rd_u16(&body, &t->id) < 0)
		return -1;
	return attrs_decode(&body, t);
}

/*
 * One proposal substructure from r: its header into *p, p->trans over its
 * transforms, each of which is checked here. *last: the proposal said so.
 */
static int prop_decode(struct rd *r, bool *last, struct ike_sa_prop *p)
{
	uint8_t more, reserved;
	uint16_t len;
	struct rd body, trs;
	struct ike_transform t;

	memset(p, 0, sizeof(*p));
	if (rd_u8(r, &more) < 0 || rd_u8(r, &reserved) < 0 || rd_u16(r, &len) < 0)
		return ike_codec_bad("sa: truncated proposal");
	/* §3.3.1: "0 if this was the last Proposal Substructure, and a value
	 * of 2 if there are more Proposal Substructures" */
	if (more != SUBSTRUC_LAST && more != SUBSTRUC_MORE_PROP)
		return ike_codec_bad("sa: proposal last/more is not 0 or 2");
	*last = more == SUBSTRUC_LAST;
	if (len < PROP_HDR_LEN)
		return ike_codec_bad("sa: proposal length below 8");
	if (rd_sub(r, len - 4u, &body) < 0)
		return ike_codec_bad("sa: proposal longer than payload");
	if (rd_u8(&body, &p->num) < 0 || rd_u8(&body, &p->proto) < 0 ||
	    rd_u8(&body, &p->spi_size) < 0 || rd_u8(&body, &p->n_trans) < 0)
		return -1;
	if (!spi_size_ok(p->proto, p->spi_size))
		return ike_codec_bad("sa: SPI size does not fit the protocol");
	if (p->spi_size <= IKE_MAX_SPI) {
		if (rd_bytes(&body, p->spi, p->spi_size) < 0)
			return ike_codec_bad("sa: truncated SPI");
	} else if (rd_skip(&body, p->spi_size) < 0) {
		return ike_codec_bad("sa: truncated SPI");
	}
	p->trans = body;
	trs = body;
	for (unsigned i = 0; i < p->n_trans; i++) {
		if (trans_decode(&trs, i + 1 == p->n_trans, &t) < 0)
			return -1;
	}
	if (rd_left(&trs) != 0)
		return ike_codec_bad("sa: transform count does not match the proposal length");
	return 0;
}

int ike_pl_sa_decode(const struct ike_pl *pl, struct ike_pl_sa *sa)
{
	bool last = false;
	unsigned prev = 0;
	struct rd r;

	memset(sa, 0, sizeof(*sa));
	if (pl->type != PL_SA)
		return ike_codec_bad("sa: not an SA payload");
	rd_init(&r, pl->body, pl->len);
	while (!last) {
		struct ike_sa_prop p;

		/* Proposal Num is one octet and they count up from 1. */
		if (sa->n_prop == UINT8_MAX)
			return ike_codec_bad("sa: more than 255 proposals");
		if (prop_decode(&r, &last, &p) < 0 ||
		    num_check(p.num, prev, sa->n_prop > 0 || !last) < 0)
			return -1;
		prev = p.num;
		sa->n_prop++;
		if (p.n_trans > sa->max_trans)
			sa->max_trans = p.n_trans;
	}
	if (rd_left(&r) != 0)
		return ike_codec_bad("sa: bytes after the last proposal");
	sa->body = pl->body;
	sa->len = pl->len;
	return 0;
}

struct rd ike_sa_props(const struct ike_pl_sa *sa)
{
	struct rd r;

	rd_init(&r, sa->body, sa->body ? sa->len : 0);
	return r;
}

bool ike_sa_next_prop(struct rd *it, struct ike_sa_prop *p)
{
	bool last;

	if (rd_left(it) == 0 || prop_decode(it, &last, p) < 0)
		return false;
	if (last)
		rd_init(it, NULL, 0);	/* nothing follows the last one (checked by decode) */
	return true;
}

bool ike_sa_next_trans(struct rd *it, struct ike_transform *t)
{
	uint8_t more;

	if (rd_left(it) == 0 || rd_peek_u8(it, 0, &more) < 0)
		return false;
	return trans_decode(it, more == SUBSTRUC_LAST, t) == 0;
}

/* ---- encoding ---- */

/* What a proposal we build must satisfy: what the decoder checks, and a known protocol. */
static int prop_check(const struct ike_proposal *p, unsigned prev_num, bool several)
{
	if ((p->proto != PROTO_IKE && p->proto != PROTO_AH && p->proto != PROTO_ESP) ||
	    !spi_size_ok(p->proto, p->spi_size))
		return ike_codec_bad("sa: bad protocol id or SPI size");
	if (p->n_trans == 0 || p->n_trans > IKE_PROP_MAX_BUILD)
		return ike_codec_bad("sa: no transform, or too many");
	for (unsigned i = 0; i < p->n_trans; i++) {
		if (p->trans[i].type == 0)
			return ike_codec_bad("sa: transform type 0");
	}
	return num_check(p->num, prev_num, several);
}

static int trans_put(struct wr *w, const struct ike_transform *t, bool last)
{
	size_t start = wr_len(w), mark;

	if (wr_u8(w, last ? SUBSTRUC_LAST : SUBSTRUC_MORE_TRANS) < 0 || wr_u8(w, 0) < 0 ||
	    wr_reserve(w, 2, &mark) < 0 || wr_u8(w, t->type) < 0 || wr_u8(w, 0) < 0 ||
	    wr_u16(w, t->id) < 0)
		return -1;
	if (t->key_len &&
	    (wr_u16(w, TRANS_ATTR_TV | TRANS_ATTR_KEY_LENGTH) < 0 || wr_u16(w, t->key_len) < 0))
		return -1;
	return wr_fill_u16(w, mark, (uint16_t)(wr_len(w) - start));
}

static int prop_put(struct wr *w, const struct ike_proposal *p, bool last)
{
	size_t start = wr_len(w), mark;

	if (wr_u8(w, last ? SUBSTRUC_LAST : SUBSTRUC_MORE_PROP) < 0 || wr_u8(w, 0) < 0 ||
	    wr_reserve(w, 2, &mark) < 0 || wr_u8(w, p->num) < 0 || wr_u8(w, p->proto) < 0 ||
	    wr_u8(w, p->spi_size) < 0 || wr_u8(w, p->n_trans) < 0 ||
	    wr_bytes(w, p->spi, p->spi_size) < 0)
		return -1;
	for (unsigned i = 0; i < p->n_trans; i++) {
		if (trans_put(w, &p->trans[i], i + 1 == p->n_trans) < 0)
			return -1;
	}
	/* at most 8 + 8 + IKE_PROP_MAX_BUILD * 12 octets: fits the 16-bit length */
	return wr_fill_u16(w, mark, (uint16_t)(wr_len(w) - start));
}

int ike_put_sa(struct ike_mw *b, const struct ike_proposal *props, unsigned n)
{
	if (n == 0 || n > UINT8_MAX)
		return ike_codec_bad("sa: no proposal, or more than 255");
	for (unsigned i = 0; i < n; i++) {
		if (prop_check(&props[i], i ? props[i - 1].num : 0, n > 1) < 0)
			return -1;
	}
	if (ike_mw_open(b, PL_SA, false) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		if (prop_put(b->w, &props[i], i + 1 == n) < 0)
			return ike_codec_bad("sa: no room");
	}
	return ike_mw_close(b);
}

int ike_put_sa_decoded(struct ike_mw *b, const struct ike_pl_sa *sa)
{
	struct ike_pl pl = { .type = PL_SA, .body = sa->body, .len = sa->len };
	struct ike_pl_sa check;

	if (!sa->body || ike_pl_sa_decode(&pl, &check) < 0)
		return -1;
	return ike_mw_raw(b, PL_SA, false, sa->body, sa->len);
}
