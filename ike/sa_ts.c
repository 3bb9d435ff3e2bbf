/*
 * The gateway's traffic selectors against ours (RFC 7296 §2.9): the
 * responder may narrow what we proposed, never widen it. Each selector it
 * returns must lie inside the union of the ones we sent for that side.
 */
#include "ike/sa_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ike/names.h"

static size_t ts_alen(const struct ike_ts_sel *t)
{
	return t->type == TS_IPV6_ADDR_RANGE ? 16 : 4;
}

/* Protocol and ports of ours cover those of r (OPAQUE ports, 65535..0, inside any range). */
static bool ts_covers_ports(const struct ike_ts_sel *ours, const struct ike_ts_sel *r)
{
	return ours->type == r->type && (ours->ip_proto == 0 || ours->ip_proto == r->ip_proto) &&
	       ours->start_port <= r->start_port && r->end_port <= ours->end_port;
}

/* a + 1 in place (big-endian); false if it wrapped past all ones. */
static bool addr_inc(uint8_t *a, size_t n)
{
	for (size_t i = n; i-- > 0;)
		if (++a[i] != 0)
			return true;
	return false;
}

/*
 * r's addresses covered by the union of the address ranges of those of
 * ours that cover its protocol and ports: walk from r's start, each step
 * past the end of a range of ours that holds the current address.
 */
static bool ts_covered(const struct ike_pl_ts *ours, const struct ike_ts_sel *r)
{
	size_t n = ts_alen(r);
	uint8_t cur[16];

	memcpy(cur, r->start, n);
	for (unsigned steps = 0; steps <= ours->n; steps++) {
		const struct ike_ts_sel *best = NULL;

		for (unsigned i = 0; i < ours->n; i++) {
			const struct ike_ts_sel *o = &ours->ts[i];

			if (!ts_covers_ports(o, r) || memcmp(o->start, cur, n) > 0 ||
			    memcmp(o->end, cur, n) < 0)
				continue;
			if (!best || memcmp(o->end, best->end, n) > 0)
				best = o;
		}
		if (!best)
			return false;
		if (memcmp(best->end, r->end, n) >= 0)
			return true;
		memcpy(cur, best->end, n);
		if (!addr_inc(cur, n))
			return true;
	}
	return false;
}

static void ts_str(const struct ike_ts_sel *t, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int af = t->type == TS_IPV6_ADDR_RANGE ? AF_INET6 : AF_INET;

	if (!inet_ntop(af, t->start, a, sizeof(a)) || !inet_ntop(af, t->end, b, sizeof(b)))
		snprintf(a, sizeof(a), "?");
	snprintf(out, cap, "%s-%s proto %u ports %u-%u", a, b, t->ip_proto,
		 t->start_port, t->end_port);
}

int sa_ts_check(const struct ike_pl_ts *got, const struct ike_pl_ts *sent, const char *side,
		char *why, size_t cap)
{
	for (unsigned i = 0; i < got->n; i++) {
		const struct ike_ts_sel *r = &got->ts[i];
		char rs[128], os[128];

		if ((r->type != TS_IPV4_ADDR_RANGE && r->type != TS_IPV6_ADDR_RANGE) ||
		    !ts_covered(sent, r)) {
			ts_str(r, rs, sizeof(rs));
			if (sent->n)
				ts_str(&sent->ts[0], os, sizeof(os));
			snprintf(why, cap, "%s %s is not within what we proposed (%s%s)", side, rs,
				 sent->n ? os : "nothing", sent->n > 1 ? ", ..." : "");
			return -1;
		}
	}
	return 0;
}
