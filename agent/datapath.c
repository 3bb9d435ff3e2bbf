/*
 * The data path, batched (syscalls, not crypto, decide the speed):
 *
 *   tun --read x32--> esp_encap in place --> the session's path (sendmmsg
 *                                            to gateway:4500, or frames)
 *   any path --ESP--> SA by SPI -> esp_decap -> traffic selectors -> tun
 *   (the path classifies what arrives: agent/path.c)
 *
 * Buffers are allocated once; the inner packet is read straight into
 * buf + ESP_HEADROOM and encrypted where it lies. Inbound, esp_decap()
 * checks integrity, then the anti-replay window, then the inner length;
 * the inner addresses are then checked against the Child SA's traffic
 * selectors before anything is written to tun.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/session.h"
#include "ike/ikev2.h"
#include "util/log.h"

int dp_init(struct datapath *dp)
{
	size_t per = DP_PKT_CAP;

	memset(dp, 0, sizeof(*dp));
	dp->mem = aligned_alloc(64, 2 * UDP_BATCH_MAX * per + DP_IKE_MAX);
	if (!dp->mem)
		return -1;
	for (size_t i = 0; i < UDP_BATCH_MAX; i++) {
		dp->tx[i] = dp->mem + i * per;
		dp->rx[i] = dp->mem + (UDP_BATCH_MAX + i) * per;
	}
	dp->ike_tx = dp->mem + 2 * UDP_BATCH_MAX * per;
	return 0;
}

void dp_free(struct datapath *dp)
{
	free(dp->mem);
	memset(dp, 0, sizeof(*dp));
}

/* ---- Child SAs ---------------------------------------------------------- */

/*
 * Outbound traffic goes over the newest Child SA installed, unless it is
 * the redundant one of a rekey collision (RFC 7296 §2.8.1: serial 0, it
 * receives until deleted). Older ones receive until the IKE SA removes
 * them (ops.child_down); it never holds more than SESSION_CHILDREN.
 */
struct session_child *dp_child_current(struct session *s)
{
	struct session_child *cur = NULL;

	for (size_t i = 0; i < SESSION_CHILDREN; i++)
		if (s->child[i].used && (!cur || s->child[i].serial > cur->serial))
			cur = &s->child[i];
	return cur;
}

static struct session_child *child_by_spi_in(struct session *s, uint32_t spi)
{
	for (size_t i = 0; i < SESSION_CHILDREN; i++)
		if (s->child[i].used && s->child[i].in.spi == spi)
			return &s->child[i];
	return NULL;
}

/* Keep its counters for status, wipe its keys. */
static void child_free(struct session *s, struct session_child *c)
{
	if (!c->used)
		return;
	s->st.packets_in += c->in.packets;
	s->st.bytes_in += c->in.bytes;
	s->st.packets_out += c->out.packets;
	s->st.bytes_out += c->out.bytes;
	esp_sa_free(&c->in);
	esp_sa_free(&c->out);
	memset(c, 0, sizeof(*c));
}

static struct session_child *child_slot(struct session *s)
{
	for (size_t i = 0; i < SESSION_CHILDREN; i++)
		if (!s->child[i].used)
			return &s->child[i];
	return NULL;
}

int dp_child_install(struct session *s, const struct ike_child_info *ci)
{
	struct session_child *c;
	enum aead_alg alg;

	if (cfgmap_aead(ci->encr, &alg) < 0) {
		log_err("esp: cipher %u is not one ikeagent's ESP runs; Child SA in %08x not "
			"installed", ci->encr, ci->spi_in);
		return -1;
	}
	c = child_slot(s);
	if (!c) {
		/* Cannot happen: the IKE SA holds no more than this and removes each one it drops. */
		log_err("esp: no room for Child SA in %08x (%d installed)", ci->spi_in,
			SESSION_CHILDREN);
		return -1;
	}
	if (esp_sa_init(&c->in, ESP_IN, alg, ci->key_in, ci->key_len, ci->spi_in) < 0 ||
	    esp_sa_init(&c->out, ESP_OUT, alg, ci->key_out, ci->key_len, ci->spi_out) < 0) {
		esp_sa_free(&c->in);
		esp_sa_free(&c->out);
		memset(c, 0, sizeof(*c));
		log_err("esp: cannot set up Child SA in %08x (key length %zu)", ci->spi_in,
			ci->key_len);
		return -1;
	}
	c->used = true;
	c->serial = ci->redundant ? 0 : ++s->child_serial;
	c->ts_local = ci->ts_local;
	c->ts_remote = ci->ts_remote;
	log_info("esp: Child SA %s: in %08x, out %08x, %s", ci->redundant ? "redundant (receive only)" :
		 ci->rekey ? "rekeyed" : "installed", ci->spi_in, ci->spi_out,
		 alg == AEAD_AES_GCM_16 ? "aes-gcm-16" : "chacha20-poly1305");
	return 0;
}

void dp_child_remove(struct session *s, uint32_t spi_in)
{
	struct session_child *c = child_by_spi_in(s, spi_in);

	if (!c) {
		log_debug("esp: Child SA in %08x to remove is not installed", spi_in);
		return;
	}
	log_info("esp: Child SA in %08x, out %08x removed", c->in.spi, c->out.spi);
	child_free(s, c);
}

void dp_children_free(struct session *s)
{
	for (size_t i = 0; i < SESSION_CHILDREN; i++)
		child_free(s, &s->child[i]);
}

/* ---- traffic selectors --------------------------------------------------- */

static bool ts_contains(const struct ike_pl_ts *ts, bool v6, const uint8_t *addr, uint8_t proto)
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

/*
 * An inner packet against the Child SA's selectors: inbound its source must
 * be in the remote and its destination in the local ones, outbound the
 * other way round (RFC 4301 §5.1, §5.2).
 */
static bool ts_allows(const struct session_child *c, const uint8_t *pkt, size_t len, bool inbound)
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
	return ts_contains(&c->ts_remote, v6, src, proto) && ts_contains(&c->ts_local, v6, dst, proto);
}

/* ---- outbound ------------------------------------------------------------ */

/* Read one packet into dp->tx[n] + ESP_HEADROOM and encrypt it; 1 queued, 0 dropped, -1 stop. */
static int tun_take(struct session *s, struct session_child *c, unsigned n)
{
	static struct log_ratelimit rl_enc;
	struct datapath *dp = &s->dp;
	uint8_t *buf = dp->tx[n];
	size_t out_len;
	ssize_t len;
	int rc;

	len = tun_read(&s->tun, buf + ESP_HEADROOM, DP_PKT_CAP - ESP_HEADROOM - ESP_TAILROOM_MAX);
	if (len < 0 && errno == EMSGSIZE) {
		s->st.drops++;
		return 0;
	}
	if (len < 0 && errno != EAGAIN) {
		session_tun_failed(s, errno);
		return -1;
	}
	if (len <= 0)
		return -1;
	if (!c || !s->path || !path_esp_ready(s->path)) {
		s->st.drops++;	/* no Child SA (yet, or while reconnecting): fail closed */
		return 0;
	}
	if (!ts_allows(c, buf + ESP_HEADROOM, (size_t)len, false)) {
		s->st.drops++;	/* e.g. IPv6 link-local chatter of the tun itself */
		return 0;
	}
	rc = esp_encap(&c->out, buf, DP_PKT_CAP, (size_t)len, &out_len);
	if (rc < 0) {
		s->st.drops++;
		if (log_ratelimit_ok(&rl_enc, 10))
			log_warn("esp: outbound packet dropped (%s)", rc == ESP_ENCAP_SEQ_EXHAUSTED ?
				 "sequence numbers exhausted, rekey overdue" : "not IP or too large");
		return 0;
	}
	/* RFC 4303 §3.3.3: the counter must not cycle, so rekey well before it would. */
	if (!c->rekey_asked && esp_sa_needs_rekey(&c->out)) {
		c->rekey_asked = true;
		session_rekey_child(s);
	}
	dp->iov[n].iov_base = buf;
	dp->iov[n].iov_len = out_len;
	return 1;
}

void dp_tun_event(void *ctx, uint32_t events)
{
	static struct log_ratelimit rl;
	struct session *s = ctx;
	struct session_child *c = dp_child_current(s);
	unsigned n = 0, taken = 0;
	int sent;

	/* At most one batch per wakeup: the socket side gets its turn too. */
	while (taken++ < UDP_BATCH_MAX) {
		int rc = tun_take(s, c, n);

		if (rc < 0)
			break;
		n += (unsigned)rc;
	}
	if (n == 0)
		return;
	sent = path_send_esp(s->path, s->dp.iov, n);	/* UDP, or frames on the path's stream */
	if (sent < 0) {
		if (errno != EAGAIN && log_ratelimit_ok(&rl, 10))
			log_warn("udp: send to gateway: %s", strerror(errno));
		sent = 0;
	}
	s->st.drops += n - (unsigned)sent;
}

/* ---- inbound ------------------------------------------------------------- */

void dp_esp_input(struct session *s, uint8_t *p, size_t len)
{
	static struct log_ratelimit rl_spi, rl_drop, rl_ts, rl_tun;
	struct session_child *c = child_by_spi_in(s, get_be32(p));
	enum esp_drop d;
	size_t inner;

	if (!c) {
		s->st.drops++;
		if (log_ratelimit_ok(&rl_spi, 10))
			log_debug("esp: packet for unknown SPI %08x dropped", get_be32(p));
		return;
	}
	d = esp_decap(&c->in, p, len, &inner);
	if (d != ESP_DROP_NONE) {
		if (d == ESP_DROP_DUMMY)
			return;	/* RFC 4303 §2.6: discarded silently */
		s->st.drops++;
		if (log_ratelimit_ok(&rl_drop, 10))
			log_warn("esp: inbound packet on SPI %08x dropped: %s", c->in.spi,
				 esp_drop_name(d));
		return;
	}
	if (!ts_allows(c, p + ESP_HEADROOM, inner, true)) {
		s->st.drops++;
		if (log_ratelimit_ok(&rl_ts, 10))
			log_warn("esp: inbound packet outside the traffic selectors dropped");
		return;
	}
	if (s->tun.fd < 0 || tun_write(&s->tun, p + ESP_HEADROOM, inner) < 0) {
		s->st.drops++;
		if (s->tun.fd >= 0 && log_ratelimit_ok(&rl_tun, 10))
			log_warn("tun: write to %s: %s", s->tun.name, strerror(errno));
	}
}
