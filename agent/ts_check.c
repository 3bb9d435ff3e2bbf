/* Traffic selector checks of inner packets; see ts_check.h. */
#include "agent/ts_check.h"

#include <string.h>

bool ts_contains(const struct ike_pl_ts *ts, bool v6, const uint8_t *addr, uint8_t proto)
{
	uint8_t type = v6 ? TS_IPV6_ADDR_RANGE : TS_IPV4_ADDR_RANGE;
	size_t alen = v6 ? 16 : 4;

	if (ts->n == 0)
		return true;	/* none given: nothing to check against */
	for (unsigned i = 0; i < ts->n; i++) {
		const struct ike_ts_sel *sel = &ts->ts[i];

		if (sel->type != type || (sel->ip_proto && sel->ip_proto != proto))
			continue;
		if (memcmp(addr, sel->start, alen) >= 0 && memcmp(addr, sel->end, alen) <= 0)
			return true;
	}
	return false;
}

bool ts_allows(const struct ike_pl_ts *local, const struct ike_pl_ts *remote, const uint8_t *pkt,
	       size_t len, bool inbound)
{
	const uint8_t *src, *dst;
	uint8_t proto;
	bool v6;

	if (len >= 20 && pkt[0] >> 4 == 4) {
		v6 = false;
		proto = pkt[9];
		src = pkt + 12;
		dst = pkt + 16;
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		v6 = true;
		proto = pkt[6];
		src = pkt + 8;
		dst = pkt + 24;
	} else {
		return false;
	}
	if (!inbound) {
		const uint8_t *t = src;

		src = dst;
		dst = t;
	}
	return ts_contains(remote, v6, src, proto) && ts_contains(local, v6, dst, proto);
}
