/*
 * From the user's configuration to what the IKE SA needs, and between the
 * two ways of naming networks: the config's CIDRs and IKEv2's traffic
 * selector ranges (RFC 7296 §3.13.1).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "agent/session.h"
#include "ike/ikev2.h"
#include "util/log.h"

int cfgmap_aead(uint16_t encr, enum aead_alg *alg)
{
	switch (encr) {
	case ENCR_AES_GCM_16:
		*alg = AEAD_AES_GCM_16;
		return 0;
	case ENCR_CHACHA20_POLY1305:
		*alg = AEAD_CHACHA20_POLY1305;
		return 0;
	default:
		return -1;
	}
}

void cfgmap_cidr_to_ts(const struct cidr *c, struct ike_ts_sel *ts)
{
	size_t bytes = c->family == AF_INET6 ? 16 : 4;

	memset(ts, 0, sizeof(*ts));
	ts->type = c->family == AF_INET6 ? TS_IPV6_ADDR_RANGE : TS_IPV4_ADDR_RANGE;
	ts->ip_proto = 0;
	ts->start_port = 0;
	ts->end_port = 65535;
	for (size_t i = 0; i < bytes; i++) {
		unsigned bits = c->prefix > i * 8 ? c->prefix - (unsigned)i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		ts->start[i] = c->addr[i] & mask;
		ts->end[i] = (uint8_t)(c->addr[i] | (uint8_t)~mask);
	}
}

typedef unsigned __int128 u128;

static u128 load_addr(const uint8_t *p, size_t bytes)
{
	u128 v = 0;

	for (size_t i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void store_cidr(u128 v, unsigned prefix, int family, struct tun_cidr *c)
{
	size_t bytes = family == AF_INET6 ? 16 : 4;

	memset(c, 0, sizeof(*c));
	c->family = family;
	c->prefix = (uint8_t)prefix;
	for (size_t i = bytes; i-- > 0;) {
		c->addr[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* All ones in the low k bits (k = 0..128). */
static u128 low_mask(unsigned k)
{
	return k >= 128 ? ~(u128)0 : ((u128)1 << k) - 1;
}

/*
 * Largest aligned block [start, start + 2^k - 1] inside [start, end]: the
 * size is bounded by start's lowest set bit and by what is left.
 */
static unsigned block_bits(u128 start, u128 end, unsigned width)
{
	unsigned k = 0;

	while (k < width) {
		u128 m = low_mask(k + 1);

		if ((start & m) || end - start < m)
			break;
		k++;
	}
	return k;
}

int cfgmap_ts_to_cidrs(const struct ike_ts_sel *ts, struct tun_cidr *out, size_t max, size_t *n)
{
	bool v6 = ts->type == TS_IPV6_ADDR_RANGE;
	unsigned width = v6 ? 128 : 32;
	size_t bytes = v6 ? 16 : 4;
	u128 start, end;

	*n = 0;
	if (ts->type != TS_IPV4_ADDR_RANGE && !v6) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	start = load_addr(ts->start, bytes);
	end = load_addr(ts->end, bytes);
	if (start > end) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		unsigned k = block_bits(start, end, width);
		u128 last;

		if (*n == max) {
			errno = ENOBUFS;
			return -1;
		}
		store_cidr(start, width - k, v6 ? AF_INET6 : AF_INET, &out[(*n)++]);
		last = start + low_mask(k);
		if (last >= end)
			return 0;
		start = last + 1;
	}
}

/* ---- the network a Child SA asks for --------------------------------------- */

/*
 * The tun setup for a new Child SA: its virtual IPs as a /32 and a /128, a
 * route for each narrowed remote selector (a /0 means the full-tunnel
 * scheme), and the gateway's DNS servers (IPv4 first) when the config takes
 * them. INTERNAL_IP6_ADDRESS's prefix length describes the internal network
 * (RFC 7296 §3.15.1); the address itself is ours alone, and what is reached
 * through the tunnel is what the selectors route.
 */
void cfgmap_net(const struct config *cfg, const struct ike_child_info *ci, struct session_net *n)
{
	memset(n, 0, sizeof(*n));
	if (ci->has_vip4) {
		n->has_vip = true;
		n->vip.family = AF_INET;
		memcpy(n->vip.addr, ci->vip4, 4);
		n->vip.prefix = 32;
	}
	if (ci->has_vip6) {
		n->has_vip6 = true;
		n->vip6.family = AF_INET6;
		memcpy(n->vip6.addr, ci->vip6, 16);
		n->vip6.prefix = 128;
	}
	for (unsigned i = 0; i < ci->ts_remote.n; i++) {
		size_t k = 0;

		if (cfgmap_ts_to_cidrs(&ci->ts_remote.ts[i], n->routes + n->n_routes,
				       SESSION_MAX_ROUTES - n->n_routes, &k) < 0)
			log_warn("tun: traffic selector %u of %u not fully routed: %s (at most %d routes, "
				 "SESSION_MAX_ROUTES)", i + 1, ci->ts_remote.n, strerror(errno),
				 SESSION_MAX_ROUTES);
		n->n_routes += k;
	}
	for (size_t i = 0; i < n->n_routes; i++)
		if (n->routes[i].prefix == 0)
			n->full = true;
	if (!cfg->tunnel.dns)
		return;
	for (unsigned i = 0; i < ci->n_dns4 && i < IKE_SA_MAX_DNS; i++) {
		n->dns[n->n_dns].family = AF_INET;
		memcpy(n->dns[n->n_dns++].addr, ci->dns4[i], 4);
	}
	for (unsigned i = 0; i < ci->n_dns6 && i < IKE_SA_MAX_DNS; i++) {
		n->dns[n->n_dns].family = AF_INET6;
		memcpy(n->dns[n->n_dns++].addr, ci->dns6[i], 16);
	}
}

bool cfgmap_net_same(const struct session_net *a, const struct session_net *b)
{
	return a->has_vip == b->has_vip && !memcmp(&a->vip, &b->vip, sizeof(a->vip)) &&
	       a->has_vip6 == b->has_vip6 && !memcmp(&a->vip6, &b->vip6, sizeof(a->vip6)) &&
	       a->n_routes == b->n_routes &&
	       !memcmp(a->routes, b->routes, a->n_routes * sizeof(a->routes[0])) &&
	       a->n_dns == b->n_dns && !memcmp(a->dns, b->dns, a->n_dns * sizeof(a->dns[0]));
}

/* ---- struct config -> struct ike_sa_cfg ------------------------------------ */

static int id_from(const char *what, const char *s, struct ike_id *id, char *err, size_t errlen)
{
	if (ike_id_parse(s, id) == 0)
		return 0;
	snprintf(err, errlen, "%s '%s' is not a usable IKE identity", what, s);
	return -1;
}

/* ikeagent's ESP is AEAD only: a proposal the data path cannot run is refused here. */
static int esp_props_check(const struct proposal_list *l, char *err, size_t errlen)
{
	for (unsigned i = 0; i < l->n; i++) {
		char text[128];

		if (proposal_is_aead(&l->p[i]))
			continue;
		if (proposal_format(&l->p[i], text, sizeof(text)) < 0)
			snprintf(text, sizeof(text), "#%u", i + 1);
		snprintf(err, errlen, "[tunnel] esp proposal '%s': ikeagent's ESP does AEAD "
			 "only (aes*gcm16, chacha20poly1305)", text);
		return -1;
	}
	return 0;
}

void cfgmap_addr(const struct sockaddr_storage *ss, uint8_t ip[16], uint16_t *port)
{
	memset(ip, 0, 16);
	*port = 0;
	if (!ss)
		return;
	if (ss->ss_family == AF_INET)
		memcpy(ip, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else if (ss->ss_family == AF_INET6)
		memcpy(ip, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	*port = sockaddr_port(ss);
}

/* What this build cannot do yet is refused, not ignored. */
static int supported(const struct config *cfg, char *err, size_t errlen)
{
	if (cfg->transport.n_order == 0) {
		snprintf(err, errlen, "[transport] order: no transport to try");
		return -1;
	}
	if (cfg->tunnel.local_ts.n) {
		snprintf(err, errlen, "[tunnel] local_ts: only dynamic is supported by this build");
		return -1;
	}
	return 0;
}

static int map_ts(const struct config *cfg, struct ike_sa_cfg *out, char *err, size_t errlen)
{
	const struct cidr_list *ts = &cfg->tunnel.remote_ts;

	_Static_assert(CONFIG_MAX_TS <= IKE_SA_MAX_REMOTE_TS, "remote_ts fits the IKE SA's");
	if (ts->n == 0 || ts->n > IKE_SA_MAX_REMOTE_TS) {
		snprintf(err, errlen, "[tunnel] remote_ts: 1..%d networks needed, %u given",
			 IKE_SA_MAX_REMOTE_TS, ts->n);
		return -1;
	}
	out->n_remote_ts = ts->n;
	for (unsigned i = 0; i < ts->n; i++) {
		cfgmap_cidr_to_ts(&ts->v[i], &out->remote_ts[i]);
		/* an IPv6 network to reach: an IPv6 TSi, address and DNS too */
		if (ts->v[i].family == AF_INET6)
			out->want_ip6 = true;
	}
	return 0;
}

/* Rekey up to jitter earlier than the lifetime, at random, so peers do not collide. */
static uint32_t rekey_after(uint32_t lifetime_ms, uint32_t jitter_ms)
{
	uint32_t r = 0;

	if (!lifetime_ms)
		return 0;
	if (jitter_ms && jitter_ms < lifetime_ms && RAND_bytes((uint8_t *)&r, sizeof(r)) == 1)
		return lifetime_ms - r % jitter_ms;
	return lifetime_ms;
}

int cfgmap_ike(const struct config *cfg, const struct sockaddr_storage *local,
	       const struct sockaddr_storage *remote, struct ike_sa_cfg *out, char *err,
	       size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (supported(cfg, err, errlen) < 0)
		goto fail;
	if (id_from("[auth] id", cfg->auth.id, &out->local_id, err, errlen) < 0 ||
	    id_from("[gateway] id", cfg->gateway.id ? cfg->gateway.id : cfg->gateway.address,
		    &out->remote_id, err, errlen) < 0)
		goto fail;
	out->psk = cfg->auth.psk;
	out->allow_sha1 = cfg->auth.allow_sha1;
	out->psk_len = cfg->auth.psk_len;
	out->ike_props = cfg->tunnel.ike;
	out->esp_props = cfg->tunnel.esp;
	if (esp_props_check(&out->esp_props, err, errlen) < 0 || map_ts(cfg, out, err, errlen) < 0)
		goto fail;
	out->want_vip = cfg->tunnel.virtual_ip;
	out->want_dns = cfg->tunnel.dns;
	out->mobike = cfg->tunnel.mobike;
	out->dpd_ms = cfg->tunnel.dpd_ms;
	out->ike_rekey_ms = rekey_after(cfg->tunnel.ike_lifetime_ms, cfg->tunnel.rekey_jitter_ms);
	out->child_rekey_ms = rekey_after(cfg->tunnel.child_lifetime_ms, cfg->tunnel.rekey_jitter_ms);
	out->retransmit_ms = SESSION_RETRANSMIT_MS;
	out->retransmit_tries = SESSION_RETRANSMIT_TRIES;
	out->family = remote && remote->ss_family == AF_INET6 ? AF_INET6 : AF_INET;
	cfgmap_addr(local, out->local_ip, &out->local_port);
	cfgmap_addr(remote, out->remote_ip, &out->remote_port);
	/* ESP always travels in UDP (RFC 7296 §2.23 allows faking the NAT). */
	out->force_encap = true;
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -1;
}
