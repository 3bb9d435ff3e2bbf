/*
 * An inner packet against a Child SA's traffic selectors (RFC 4301 §5.1,
 * §5.2): pure functions, used by the data path (agent/datapath.c) for every
 * packet in and out, and fuzzed on their own (tests/fuzz/fuzz_dp_inbound.c).
 */
#ifndef IKEAGENT_AGENT_TS_CHECK_H
#define IKEAGENT_AGENT_TS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/msg.h"

/* addr (16 bytes if v6, else 4) with protocol proto in one of ts's selectors; none: true. */
bool ts_contains(const struct ike_pl_ts *ts, bool v6, const uint8_t *addr, uint8_t proto);
/*
 * The IP packet pkt of len bytes: inbound its source must be in remote and
 * its destination in local, outbound the other way round. Too short or not
 * IPv4/IPv6: false.
 */
bool ts_allows(const struct ike_pl_ts *local, const struct ike_pl_ts *remote, const uint8_t *pkt,
	       size_t len, bool inbound);

#endif
