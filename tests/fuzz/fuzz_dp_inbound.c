/*
 * The data path's inbound classification and traffic selector check on
 * arbitrary input. Layout: flags:1, n_local:1, n_remote:1, then that many
 * selectors of 35 bytes each (type:1 proto:1 start:16 end:16 pad:1; type
 * bit 0 picks IPv4/IPv6 ranges unless bit 7 keeps the raw byte), then one
 * datagram as it comes off the NAT-T socket (or out of an RFC 9329 frame).
 *
 * The datagram goes through path_natt_input() (agent/path.c) with an owner
 * that records what it was handed, and esp_udp_classify() directly: exactly
 * one owner call, pointing inside the datagram. The datagram, and the ESP
 * body if it is one, are then checked as inner packets against the
 * selectors (agent/ts_check.c): the answer must not depend on which way is
 * called inbound once local and remote are swapped, and must agree with a
 * plain loop over the selectors here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/path.h"
#include "agent/ts_check.h"
#include "esp/esp.h"
#include "ike/ikev2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEL_BYTES 35
#define MAX_SEL 8

static struct {
	unsigned calls, ike, esp, dropped;
	const uint8_t *msg;
	size_t len;
} seen;

static void on_ike(void *ctx, struct path *p, const uint8_t *msg, size_t len)
{
	seen.calls++;
	seen.ike++;
	seen.msg = msg;
	seen.len = len;
}

static void on_esp(void *ctx, struct path *p, uint8_t *pkt, size_t len)
{
	seen.calls++;
	seen.esp++;
	seen.msg = pkt;
	seen.len = len;
}

static void on_dropped(void *ctx, struct path *p)
{
	seen.calls++;
	seen.dropped++;
}

static const struct path_owner owner = {
	.ike_input = on_ike, .esp_input = on_esp, .dropped = on_dropped,
};

static size_t take_sels(struct ike_pl_ts *ts, unsigned n, const uint8_t *p, size_t left)
{
	size_t used = 0;

	ts->n = 0;
	for (unsigned i = 0; i < n && left - used >= SEL_BYTES; i++) {
		struct ike_ts_sel *s = &ts->ts[ts->n++];
		const uint8_t *q = p + used;

		memset(s, 0, sizeof(*s));
		s->type = (q[0] & 0x80) ? q[0] : (q[0] & 1) ? TS_IPV6_ADDR_RANGE : TS_IPV4_ADDR_RANGE;
		s->ip_proto = q[1];
		memcpy(s->start, q + 2, 16);
		memcpy(s->end, q + 18, 16);
		s->start_port = 0;
		s->end_port = 0xffff;
		used += SEL_BYTES;
	}
	return used;
}

/* The reference: the same rule written the simplest way. */
static bool ref_in(const struct ike_pl_ts *ts, bool v6, const uint8_t *a, uint8_t proto)
{
	size_t alen = v6 ? 16 : 4;
	bool any = false;

	for (unsigned i = 0; i < ts->n; i++) {
		const struct ike_ts_sel *s = &ts->ts[i];
		int lo = memcmp(a, s->start, alen), hi = memcmp(a, s->end, alen);

		if (s->type == (v6 ? TS_IPV6_ADDR_RANGE : TS_IPV4_ADDR_RANGE) &&
		    (!s->ip_proto || s->ip_proto == proto) && lo >= 0 && hi <= 0)
			any = true;
	}
	return ts->n == 0 || any;
}

static void check_inner(const struct ike_pl_ts *l, const struct ike_pl_ts *r, const uint8_t *p,
			size_t len)
{
	bool in = ts_allows(l, r, p, len, true), out = ts_allows(l, r, p, len, false);
	bool v6, want;

	if (in != ts_allows(r, l, p, len, false) || out != ts_allows(r, l, p, len, true))
		abort();
	if (len >= 20 && p[0] >> 4 == 4)
		v6 = false;
	else if (len >= 40 && p[0] >> 4 == 6)
		v6 = true;
	else if (in || out)
		abort();	/* neither IPv4 nor IPv6: never allowed */
	else
		return;
	{
		const uint8_t *src = v6 ? p + 8 : p + 12, *dst = v6 ? p + 24 : p + 16;
		uint8_t proto = v6 ? p[6] : p[9];

		want = ref_in(r, v6, src, proto) && ref_in(l, v6, dst, proto);
		if (in != want)
			abort();
		want = ref_in(r, v6, dst, proto) && ref_in(l, v6, src, proto);
		if (out != want)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ike_pl_ts local, remote;
	struct path_env env = { .own = &owner };
	struct path p = { .env = &env };
	const uint8_t *body;
	size_t off, body_len;
	enum esp_udp_kind k;
	uint8_t *pkt;

	if (size < 3 || size > 70000)
		return 0;
	off = 3;
	off += take_sels(&local, data[1] % (MAX_SEL + 1), data + off, size - off);
	off += take_sels(&remote, data[2] % (MAX_SEL + 1), data + off, size - off);
	size -= off;
	/* its own buffer, exactly as long: ASan sees any read past the datagram */
	pkt = malloc(size ? size : 1);
	if (!pkt)
		return 0;
	memcpy(pkt, data + off, size);

	memset(&seen, 0, sizeof(seen));
	path_natt_input(&p, pkt, size);
	k = esp_udp_classify(pkt, size, &body, &body_len);
	if (seen.calls > 1)
		abort();
	switch (k) {
	case ESP_UDP_KEEPALIVE:
		if (seen.calls || size != 1 || pkt[0] != 0xff || body)
			abort();
		break;
	case ESP_UDP_IKE:
		if (seen.ike != 1 || size < ESP_NON_ESP_MARKER_LEN + 1 || body != pkt + 4 ||
		    body_len != size - 4 || seen.msg != body || seen.len != body_len)
			abort();
		for (size_t i = 0; i < 4; i++)
			if (pkt[i])
				abort();
		break;
	case ESP_UDP_ESP:
		if (seen.esp != 1 || size < 4 || body != pkt || body_len != size ||
		    seen.msg != pkt || seen.len != size || !(pkt[0] | pkt[1] | pkt[2] | pkt[3]))
			abort();
		break;
	case ESP_UDP_INVALID:
		if (seen.dropped != 1 || body || body_len)
			abort();
		break;
	default:
		abort();
	}

	check_inner(&local, &remote, pkt, size);
	if (k == ESP_UDP_IKE || k == ESP_UDP_ESP)
		check_inner(&local, &remote, body, body_len);
	free(pkt);
	return 0;
}
