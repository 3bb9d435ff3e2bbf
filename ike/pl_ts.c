/*
 * Traffic Selector payloads TSi and TSr (RFC 7296 §3.13).
 */
#include "ike/msg.h"

#include <string.h>

static size_t ts_addr_len(uint8_t type)
{
	switch (type) {
	case TS_IPV4_ADDR_RANGE:
		return 4;
	case TS_IPV6_ADDR_RANGE:
		return 16;
	default:
		return 0;
	}
}

/*
 * The meaning of one selector, checked on decode and on encode (§3.13.1):
 * the start address and port are the smallest included, the end ones the
 * largest, so start <= end; the one exception is an OPAQUE port, sent as
 * start port 65535 with end port 0.
 */
static int sel_check(const struct ike_ts_sel *s)
{
	size_t alen = ts_addr_len(s->type);

	if (alen == 0)
		return ike_codec_bad("ts: unknown selector type");
	if (s->start_port > s->end_port &&
	    !(s->start_port == IKE_TS_PORT_OPAQUE_START && s->end_port == 0))
		return ike_codec_bad("ts: start port above end port");
	if (memcmp(s->start, s->end, alen) > 0)
		return ike_codec_bad("ts: start address above end address");
	return 0;
}

static int sel_decode(struct rd *r, struct ike_ts_sel *s)
{
	uint16_t len;
	size_t alen;

	memset(s, 0, sizeof(*s));
	if (rd_u8(r, &s->type) < 0 || rd_u8(r, &s->ip_proto) < 0 || rd_u16(r, &len) < 0)
		return ike_codec_bad("ts: truncated selector");
	alen = ts_addr_len(s->type);
	/* §3.13.1: Selector Length is 16 for IPv4 ranges and 40 for IPv6 */
	if (alen == 0 || len != 8 + 2 * alen)
		return ike_codec_bad("ts: unknown type or wrong selector length");
	if (rd_u16(r, &s->start_port) < 0 || rd_u16(r, &s->end_port) < 0 ||
	    rd_bytes(r, s->start, alen) < 0 || rd_bytes(r, s->end, alen) < 0)
		return ike_codec_bad("ts: selector longer than payload");
	return sel_check(s);
}

int ike_pl_ts_decode(const struct ike_pl *p, struct ike_pl_ts *ts)
{
	uint8_t count;
	struct rd r;

	memset(ts, 0, sizeof(*ts));
	if (p->type != PL_TSi && p->type != PL_TSr)
		return ike_codec_bad("ts: not a TS payload");
	rd_init(&r, p->body, p->len);
	if (rd_u8(&r, &count) < 0 || rd_skip(&r, 3) < 0)
		return ike_codec_bad("ts: truncated header");
	/* the one-octet count is all the room ts[] needs */
	_Static_assert(IKE_MAX_TS >= UINT8_MAX, "IKE_MAX_TS below the wire's limit");
	if (count == 0)
		return ike_codec_bad("ts: no selector");
	for (unsigned i = 0; i < count; i++) {
		if (sel_decode(&r, &ts->ts[i]) < 0)
			return -1;
	}
	if (rd_left(&r) != 0)
		return ike_codec_bad("ts: selector count does not match the length");
	ts->n = count;
	return 0;
}

int ike_put_ts(struct ike_mw *b, uint8_t pl_type, const struct ike_pl_ts *ts)
{
	struct wr *w = b->w;

	if (pl_type != PL_TSi && pl_type != PL_TSr)
		return ike_codec_bad("ts: not a TS payload type");
	if (ts->n == 0 || ts->n > IKE_MAX_TS)
		return ike_codec_bad("ts: no selector, or too many");
	for (unsigned i = 0; i < ts->n; i++) {
		if (sel_check(&ts->ts[i]) < 0)
			return -1;
	}
	if (ike_mw_open(b, pl_type, false) < 0)
		return -1;
	if (wr_u8(w, (uint8_t)ts->n) < 0 || wr_zero(w, 3) < 0)
		return -1;
	for (unsigned i = 0; i < ts->n; i++) {
		const struct ike_ts_sel *s = &ts->ts[i];
		size_t alen = ts_addr_len(s->type);

		if (wr_u8(w, s->type) < 0 || wr_u8(w, s->ip_proto) < 0 ||
		    wr_u16(w, (uint16_t)(8 + 2 * alen)) < 0 || wr_u16(w, s->start_port) < 0 ||
		    wr_u16(w, s->end_port) < 0 || wr_bytes(w, s->start, alen) < 0 ||
		    wr_bytes(w, s->end, alen) < 0)
			return -1;
	}
	return ike_mw_close(b);
}
