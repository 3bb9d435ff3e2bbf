/*
 * Coalescing (GRO) of TCP segments bound for a vnet tun: consecutive
 * segments of one flow become one super-segment with a partial checksum,
 * which the kernel takes as a single packet.
 */
#include "tun/tun.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "tun/vnet_int.h"

#define IPV4_DF		0x4000
#define IPV4_FRAG	0x3fff

/* A segment that may be coalesced, as read from its headers. */
struct seg {
	bool v6;
	size_t l3len, hlen, plen;
	uint32_t seq;
	uint8_t flags;
};

/* IPv4 (no options, no fragment, valid header checksum) or IPv6 (no extension header), TCP. */
static bool seg_parse(const uint8_t *p, size_t len, struct seg *s)
{
	size_t doff;

	if (len >= 20 && p[0] == 0x45) {
		if (get_be16(p + 2) != len || (get_be16(p + 6) & IPV4_FRAG) || p[9] != IPPROTO_TCP ||
		    cs_fold(cs_add(0, p, 20)) != 0xffff)
			return false;
		s->v6 = false;
		s->l3len = 20;
	} else if (len >= 40 && p[0] >> 4 == 6) {
		if (40 + (size_t)get_be16(p + 4) != len || p[6] != IPPROTO_TCP)
			return false;
		s->v6 = true;
		s->l3len = 40;
	} else {
		return false;
	}
	if (len - s->l3len < 20)
		return false;
	doff = (size_t)(p[s->l3len + 12] >> 4) * 4;
	if (doff < 20 || doff > len - s->l3len)
		return false;
	s->hlen = s->l3len + doff;
	s->plen = len - s->hlen;
	s->seq = get_be32(p + s->l3len + 4);
	s->flags = p[s->l3len + 13];
	return s->plen > 0 && (s->flags & TCPF_ACK) &&
	       !(s->flags & (TCPF_SYN | TCPF_RST | TCPF_URG | TCPF_CWR));
}

/* Its TCP checksum, given the sum of its payload. */
static bool seg_csum_ok(const uint8_t *p, const struct seg *s, uint64_t payload_sum)
{
	uint64_t sum = cs_pseudo(p, s->v6, IPPROTO_TCP, s->hlen - s->l3len + s->plen);

	sum = cs_add(sum + payload_sum, p + s->l3len, s->hlen - s->l3len);
	return cs_fold(sum) == 0xffff;
}

/* Does s continue the pending super-segment? */
static bool continues(const struct tun_gro *g, const uint8_t *p, const struct seg *s)
{
	const uint8_t *q = g->buf, *tq = q + g->l3len, *tp = p + s->l3len;

	if (s->v6 != (g->l3len == 40) || s->hlen != g->hlen || g->segs >= TUN_GRO_MAX_SEGS ||
	    g->last_short || s->plen > g->gso_size || s->plen > TUN_GSO_MAX - g->len ||
	    s->plen > g->cap - g->len || (tq[13] & (TCPF_PSH | TCPF_FIN)))
		return false;
	if (s->v6) {
		/* version, traffic class, flow label; next header, hop limit; addresses */
		if (memcmp(q, p, 4) != 0 || memcmp(q + 6, p + 6, 2) != 0 || memcmp(q + 8, p + 8, 32) != 0)
			return false;
	} else {
		/* version, TOS; DF; TTL, protocol; addresses (not length, ID, checksum) */
		if (memcmp(q, p, 2) != 0 || memcmp(q + 6, p + 6, 4) != 0 || memcmp(q + 12, p + 12, 8) != 0)
			return false;
		if (!(get_be16(p + 6) & IPV4_DF) && get_be16(p + 4) != g->next_id)
			return false;
	}
	/* ports; ack, data offset; flags but PSH/FIN; window; options */
	return memcmp(tq, tp, 4) == 0 && s->seq == g->next_seq && memcmp(tq + 8, tp + 8, 5) == 0 &&
	       ((tq[13] ^ tp[13]) & ~(TCPF_PSH | TCPF_FIN)) == 0 && memcmp(tq + 14, tp + 14, 2) == 0 &&
	       memcmp(tq + 20, tp + 20, s->hlen - s->l3len - 20) == 0;
}

static void next_expected(struct tun_gro *g, const uint8_t *p, const struct seg *s)
{
	g->next_seq = s->seq + (uint32_t)s->plen;
	g->next_id = (uint16_t)(s->v6 ? 0 : get_be16(p + 4) + 1);
	g->last_short = s->plen < g->gso_size;
}

/* Append s's payload (copied and summed in one pass); false if its checksum is wrong. */
static bool append(struct tun_gro *g, const uint8_t *p, const struct seg *s)
{
	uint64_t sum = cs_copy(g->buf + g->len, p + s->hlen, s->plen, 0);

	if (!seg_csum_ok(p, s, sum))
		return false;
	g->len += s->plen;
	g->segs++;
	g->merged++;
	g->buf[g->l3len + 13] |= s->flags & (TCPF_PSH | TCPF_FIN);
	next_expected(g, p, s);
	return true;
}

/* Make s the pending super-segment; false if its checksum is wrong or it does not fit. */
static bool start(struct tun_gro *g, const uint8_t *p, const struct seg *s)
{
	uint64_t sum;

	if (s->hlen + s->plen > g->cap)
		return false;
	memcpy(g->buf, p, s->hlen);
	sum = cs_copy(g->buf + s->hlen, p + s->hlen, s->plen, 0);
	if (!seg_csum_ok(p, s, sum))
		return false;
	g->len = s->hlen + s->plen;
	g->segs = 1;
	g->gso_size = (uint16_t)s->plen;
	g->l3len = (uint8_t)s->l3len;
	g->hlen = (uint8_t)s->hlen;
	next_expected(g, p, s);
	return true;
}

/* Fill in the lengths, checksums and hdr of the pending packet (idempotent). */
static void finish(struct tun_gro *g, struct virtio_net_hdr *h)
{
	uint8_t *p = g->buf;
	bool v6 = g->l3len == 40;

	memset(h, 0, sizeof(*h));
	if (g->segs < 2)
		return;		/* as it came */
	if (v6) {
		put_be16(p + 4, (uint16_t)(g->len - 40));
	} else {
		put_be16(p + 2, (uint16_t)g->len);
		p[10] = p[11] = 0;
		cs_put(p + 10, (uint16_t)~cs_fold(cs_add(0, p, 20)));
	}
	/* CHECKSUM_PARTIAL: the field holds the pseudo header's sum, the kernel adds the rest. */
	cs_put(p + g->l3len + 16, cs_fold(cs_pseudo(p, v6, IPPROTO_TCP, g->len - g->l3len)));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h->hdr_len = g->hlen;
	h->gso_size = g->gso_size;
	h->csum_start = g->l3len;
	h->csum_offset = 16;
}

static int emit(const struct tun_gro *g, const struct tun_dev *t, const struct virtio_net_hdr *h,
		const uint8_t *pkt, size_t len)
{
	ssize_t n;

	if (g->write)
		return g->write(g->arg, t, h, pkt, len);
	n = h ? tun_write_vnet(t, h, pkt, len) : tun_write(t, pkt, len);
	if (n < 0)
		return -1;
	if ((size_t)n != len + (h ? TUN_VNET_HDR_LEN : 0)) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* One packet as it is: a zero hdr on a vnet tun. */
static int write_plain(struct tun_gro *g, const struct tun_dev *t, const uint8_t *pkt, size_t len)
{
	struct virtio_net_hdr z;

	memset(&z, 0, sizeof(z));
	if (emit(g, t, t->vnet ? &z : NULL, pkt, len) < 0) {
		g->dropped++;
		return -1;
	}
	return 0;
}

/* Remember the first failure's errno. */
static void keep_err(int *err, int r)
{
	if (r < 0 && *err == 0)
		*err = errno ? errno : EIO;
}

void tun_gro_init(struct tun_gro *g, uint8_t *buf, size_t cap)
{
	memset(g, 0, sizeof(*g));
	g->buf = buf;
	g->cap = cap;
}

void tun_gro_set_writer(struct tun_gro *g, tun_gro_write_fn *fn, void *arg)
{
	g->write = fn;
	g->arg = arg;
}

const uint8_t *tun_gro_pending(struct tun_gro *g, struct virtio_net_hdr *h, size_t *len)
{
	if (g->len == 0)
		return NULL;
	finish(g, h);
	*len = g->len;
	return g->buf;
}

int tun_gro_flush(struct tun_gro *g, const struct tun_dev *t)
{
	struct virtio_net_hdr h;
	int r;

	if (g->len == 0)
		return 0;
	finish(g, &h);
	r = emit(g, t, &h, g->buf, g->len);
	if (r < 0)
		g->dropped += g->segs;
	g->len = 0;
	g->segs = 0;
	return r;
}

int tun_gro_add(struct tun_gro *g, const struct tun_dev *t, const uint8_t *pkt, size_t len)
{
	struct seg s;
	int err = 0;

	if (!t->vnet || g->cap < TUN_GRO_BUF || !seg_parse(pkt, len, &s)) {
		keep_err(&err, tun_gro_flush(g, t));
		keep_err(&err, write_plain(g, t, pkt, len));
	} else if (g->len && continues(g, pkt, &s) && append(g, pkt, &s)) {
		return 0;
	} else {
		keep_err(&err, tun_gro_flush(g, t));
		if (!start(g, pkt, &s))
			keep_err(&err, write_plain(g, t, pkt, len));
	}
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}
