/*
 * The data path, batched (syscalls, not crypto, decide the speed):
 *
 *   tun --read--> [split a TSO/USO super-segment] --> esp_encap each in
 *   place --> the session's path (UDP GSO sendmmsg to gateway:4500, or
 *   frames on the stream)
 *   any path --ESP--> SA by SPI -> esp_decap -> traffic selectors ->
 *   [coalesce one TCP flow's segments] -> tun
 *   (the path classifies what arrives: agent/path.c)
 *
 * Buffers are allocated once. Without offloads the inner packet is read
 * straight into its slot at ESP_HEADROOM and encrypted where it lies; with
 * them one read brings a virtio_net_hdr and up to 64 KB, which
 * tun_vnet_split() copies into as many slots as it has segments, each a
 * complete packet with its checksums. Inbound, esp_decap() checks
 * integrity, then the anti-replay window, then the inner length; the inner
 * addresses are then checked against the Child SA's traffic selectors
 * before anything goes to the tun, where tun_gro_add() merges consecutive
 * segments of one TCP flow into one write until dp_esp_flush().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "agent/session.h"
#include "agent/ts_check.h"
#include "ike/ikev2.h"
#include "util/log.h"

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

int dp_init(struct datapath *dp, unsigned mtu_max, bool offload)
{
	size_t stride = ALIGN64(ESP_HEADROOM + (size_t)mtu_max + ESP_TAILROOM_MAX);
	size_t rx_n = offload ? DP_RX_GRO : DP_RX_PLAIN;
	size_t rx_cap = offload ? ALIGN64(UDP_GRO_BUF) : DP_PKT_CAP;
	size_t tun_rx = offload ? ALIGN64(DP_TUN_READ_MAX) : 0;
	size_t gro = offload ? ALIGN64(TUN_GRO_BUF) : 0;
	size_t mem_len;
	uint8_t *m;

	memset(dp, 0, sizeof(*dp));
	if (mtu_max == 0 || stride > DP_PKT_CAP) {
		errno = EINVAL;
		return -1;
	}
	mem_len = DP_TX_SLOTS * stride + rx_n * rx_cap + tun_rx + gro + DP_IKE_MAX;
	/* Only the pages a packet touches count: a quiet tunnel costs little. */
	dp->mem = aligned_alloc(64, ALIGN64(mem_len));
	if (!dp->mem)
		return -1;
	m = dp->mem;
	dp->stride = stride;
	for (size_t i = 0; i < DP_TX_SLOTS; i++, m += stride)
		dp->tx[i] = m;
	for (size_t i = 0; i < rx_n; i++, m += rx_cap)
		dp->rx[i] = m;
	dp->rx_n = (unsigned)rx_n;
	dp->rx_cap = rx_cap;
	if (offload) {
		dp->tun_rx = m;
		m += tun_rx;
		tun_gro_init(&dp->gro, m, gro);
		m += gro;
	} else {
		tun_gro_init(&dp->gro, NULL, 0);	/* each packet written as it comes */
	}
	dp->ike_tx = m;
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
		if (session_child_live(&s->child[i]) && (!cur || s->child[i].serial > cur->serial))
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
	c->used = false;
	(void)dp_tx_sync(s);	/* the outbound direction lets go of it first */
	s->st.packets_in += c->in.packets;
	s->st.bytes_in += c->in.bytes;
	s->st.packets_out += c->out.packets;
	s->st.bytes_out += c->out.bytes;
	esp_sa_free(&c->in);
	esp_sa_free(&c->out);
	memset(c, 0, sizeof(*c));
}

/* A free slot; if none, the lingering Child SA due first gives up its own. */
static struct session_child *child_slot(struct session *s)
{
	struct session_child *oldest = NULL;

	for (size_t i = 0; i < SESSION_CHILDREN; i++) {
		struct session_child *c = &s->child[i];

		if (!c->used)
			return c;
		if (c->linger_until && (!oldest || c->linger_until < oldest->linger_until))
			oldest = c;
	}
	if (oldest)
		child_free(s, oldest);
	return oldest;
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
	c->serial = ci->redundant ? 0 : ++s->child_serial;
	c->ts_local = ci->ts_local;
	c->ts_remote = ci->ts_remote;
	c->used = true;
	(void)dp_tx_sync(s);	/* a new newest one: the outbound direction moves to it */
	log_info("esp: Child SA %s: in %08x, out %08x, %s", ci->redundant ? "redundant (receive only)" :
		 ci->rekey ? "rekeyed" : "installed", ci->spi_in, ci->spi_out,
		 alg == AEAD_AES_GCM_16 ? "aes-gcm-16" : "chacha20-poly1305");
	return 0;
}

/* t_linger at the lingering Child SA due first; disarmed when none lingers. */
static void linger_arm(struct session *s)
{
	uint64_t next = 0, now = loop_now_ms();

	for (size_t i = 0; i < SESSION_CHILDREN; i++) {
		uint64_t t = s->child[i].used ? s->child[i].linger_until : 0;

		if (t && (!next || t < next))
			next = t;
	}
	if (next)
		loop_timer_arm(s->loop, &s->t_linger, next > now ? next - now : 0);
	else
		loop_timer_disarm(s->loop, &s->t_linger);
}

void dp_child_remove(struct session *s, uint32_t spi_in)
{
	struct session_child *c = child_by_spi_in(s, spi_in);

	if (!c || c->linger_until) {
		log_debug("esp: Child SA in %08x to remove is not installed", spi_in);
		return;
	}
	c->linger_until = loop_now_ms() + SESSION_LINGER_MS;
	(void)dp_tx_sync(s);	/* the outbound direction lets go of it first */
	log_info("esp: Child SA in %08x, out %08x removed (receives for %.0f s more)", c->in.spi,
		 c->out.spi, SESSION_LINGER_MS / 1000.0);
	linger_arm(s);
}

void dp_linger_timer(void *ctx)
{
	struct session *s = ctx;
	uint64_t now = loop_now_ms();

	for (size_t i = 0; i < SESSION_CHILDREN; i++) {
		struct session_child *c = &s->child[i];

		if (c->used && c->linger_until && c->linger_until <= now) {
			log_debug("esp: Child SA in %08x freed (%" PRIu64 " packets in)", c->in.spi,
				  c->in.packets);
			child_free(s, c);
		}
	}
	linger_arm(s);
}

void dp_children_free(struct session *s)
{
	for (size_t i = 0; i < SESSION_CHILDREN; i++)
		child_free(s, &s->child[i]);
	loop_timer_disarm(s->loop, &s->t_linger);
}

/* ---- traffic selectors --------------------------------------------------- */

/* An inner packet against the Child SA's selectors: agent/ts_check.c. */
static bool child_allows(const struct session_child *c, const uint8_t *pkt, size_t len, bool inbound)
{
	return ts_allows(&c->ts_local, &c->ts_remote, pkt, len, inbound);
}

/* ---- outbound ------------------------------------------------------------ */
/*
 * dp_tx_run() is the outbound direction for whichever thread owns it (the
 * loop's, or the worker's: dp_worker.c); it touches only its struct dp_tx,
 * the data path's tx buffers and the Child SA's outbound state, and says
 * what the IKE side must hear of (drops, a tun failure, a rekey) in
 * tx->out instead of calling it.
 */

/* Encrypt the inner packet in slot n (tx_len[n] bytes at ESP_HEADROOM); 1 queued, 0 dropped. */
static int seal(struct dp_tx *tx, unsigned n)
{
	static struct log_ratelimit rl_enc;
	struct datapath *dp = tx->dp;
	struct session_child *c = tx->c;
	size_t out_len;
	int rc;

	if (!child_allows(c, dp->tx[n] + ESP_HEADROOM, dp->tx_len[n], false)) {
		tx->out.drops++;	/* e.g. IPv6 link-local chatter of the tun itself */
		return 0;
	}
	rc = esp_encap(&c->out, dp->tx[n], dp->stride, dp->tx_len[n], &out_len);
	if (rc < 0) {
		tx->out.drops++;
		if (log_ratelimit_ok(&rl_enc, 10))
			log_warn("esp: outbound packet dropped (%s)", rc == ESP_ENCAP_SEQ_EXHAUSTED ?
				 "sequence numbers exhausted, rekey overdue" : "not IP or too large");
		return 0;
	}
	/* RFC 4303 §3.3.3: the counter must not cycle, so rekey well before it would. */
	if (!c->rekey_asked && esp_sa_needs_rekey(&c->out)) {
		c->rekey_asked = true;
		tx->out.rekey = true;
	}
	dp->iov[n].iov_base = dp->tx[n];
	dp->iov[n].iov_len = out_len;
	return 1;
}

/*
 * One tun read into slots n.. (one packet, or the segments of a super-segment);
 * returns how many slots it filled with inner packets (0: nothing to send),
 * or -1 when the tun has nothing more (or failed: tx->out.tun_err).
 */
static int tun_take(struct dp_tx *tx, unsigned n)
{
	static struct log_ratelimit rl_split;
	struct datapath *dp = tx->dp;
	size_t inner_cap = dp->stride - ESP_HEADROOM - ESP_TAILROOM_MAX;
	uint8_t *out[DP_TX_SLOTS];
	ssize_t len;
	int segs;

	if (!tx->tun->vnet)
		len = tun_read(tx->tun, dp->tx[n] + ESP_HEADROOM, inner_cap);
	else
		len = tun_read_vnet(tx->tun, (struct virtio_net_hdr *)dp->tun_rx,
				    dp->tun_rx + TUN_VNET_HDR_LEN, DP_TUN_READ_MAX - TUN_VNET_HDR_LEN);
	if (len < 0 && errno == EMSGSIZE) {
		tx->out.drops++;
		return 0;
	}
	if (len < 0 && errno != EAGAIN) {
		tx->out.tun_err = errno;
		return -1;
	}
	if (len <= 0)
		return -1;
	if (!tx->tun->vnet) {
		dp->tx_len[n] = (size_t)len;
		return 1;
	}
	for (unsigned i = n; i < DP_TX_SLOTS; i++)
		out[i - n] = dp->tx[i] + ESP_HEADROOM;
	segs = tun_vnet_split((const struct virtio_net_hdr *)dp->tun_rx, dp->tun_rx + TUN_VNET_HDR_LEN,
			      (size_t)len, out, inner_cap, dp->tx_len + n, DP_TX_SLOTS - n);
	if (segs < 0) {
		tx->out.drops++;
		if (log_ratelimit_ok(&rl_split, 10))
			log_warn("tun: packet of %zd bytes from the kernel dropped: %s", len,
				 errno == EMSGSIZE ? "more segments than the batch holds" :
				 "malformed offload header");
		return 0;
	}
	tx->out.supersegs += segs > 1;
	return segs;
}

static void send_batch(struct dp_tx *tx, unsigned n)
{
	int sent;

	if (n == 0)
		return;
	sent = tx->send(tx->send_ctx, tx->dp->iov, n);
	tx->out.drops += n - (unsigned)(sent > 0 ? sent : 0);
}

/* Room a whole super-segment needs: a batch is sent before a read that might not fit. */
#define DP_SEGS_MAX	TUN_GSO_MAX_SEGS

void dp_tx_run(struct dp_tx *tx)
{
	struct datapath *dp = tx->dp;
	unsigned n = 0, reads = 0;

	/* A bounded amount per wakeup: the other direction and IKE get their turn. */
	while (reads++ < DP_RX_PLAIN) {
		int got, sealed = 0;

		if (n + DP_SEGS_MAX > DP_TX_SLOTS) {
			send_batch(tx, n);
			n = 0;
		}
		got = tun_take(tx, n);
		if (got < 0)
			break;
		if (!tx->c) {
			tx->out.drops += (unsigned)got;	/* no Child SA (yet, or reconnecting): fail closed */
			continue;
		}
		for (int i = 0; i < got; i++) {
			/* Compact: a dropped segment leaves no hole in the batch. */
			if (sealed != i) {
				memcpy(dp->tx[n + sealed] + ESP_HEADROOM, dp->tx[n + i] + ESP_HEADROOM,
				       dp->tx_len[n + i]);
				dp->tx_len[n + sealed] = dp->tx_len[n + i];
			}
			sealed += seal(tx, n + (unsigned)sealed);
		}
		n += (unsigned)sealed;
	}
	send_batch(tx, n);
}

/* The loop thread's sender: UDP, or frames on the path's stream. */
static int send_path(void *ctx, const struct iovec *pkts, unsigned n)
{
	static struct log_ratelimit rl;
	struct session *s = ctx;
	int sent = path_send_esp(s->path, pkts, n);

	if (sent < 0 && errno != EAGAIN && log_ratelimit_ok(&rl, 10))
		log_warn("udp: send to gateway: %s", strerror(errno));
	return sent;
}

void dp_tx_account(struct session *s, struct dp_tx_out *o)
{
	s->st.drops += o->drops;
	s->st.supersegs += o->supersegs;
	if (o->rekey)
		session_rekey_child(s);
	if (o->tun_err)
		session_tun_failed(s, o->tun_err);
	memset(o, 0, sizeof(*o));
}

/* The tun is readable and the loop thread owns the outbound direction. */
void dp_tun_event(void *ctx, uint32_t events)
{
	struct session *s = ctx;
	struct dp_tx tx = {
		.dp = &s->dp, .tun = &s->tun, .send = send_path, .send_ctx = s,
	};
	(void)events;

	if (s->path && path_esp_ready(s->path))
		tx.c = dp_child_current(s);
	dp_tx_run(&tx);
	dp_tx_account(s, &tx.out);
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
		s->st.unknown_spi++;
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
	if (c->linger_until)
		s->st.late_in++;
	if (!child_allows(c, p + ESP_HEADROOM, inner, true)) {
		s->st.drops++;
		if (log_ratelimit_ok(&rl_ts, 10))
			log_warn("esp: inbound packet outside the traffic selectors dropped");
		return;
	}
	if (s->tun.fd < 0 || tun_gro_add(&s->dp.gro, &s->tun, p + ESP_HEADROOM, inner) < 0) {
		s->st.drops++;
		if (s->tun.fd >= 0 && log_ratelimit_ok(&rl_tun, 10))
			log_warn("tun: write to %s: %s", s->tun.name, strerror(errno));
	}
}

void dp_esp_flush(struct session *s)
{
	static struct log_ratelimit rl;

	if (s->tun.fd >= 0 && tun_gro_flush(&s->dp.gro, &s->tun) < 0) {
		s->st.drops++;
		if (log_ratelimit_ok(&rl, 10))
			log_warn("tun: write to %s: %s", s->tun.name, strerror(errno));
	}
}
