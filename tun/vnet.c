/*
 * Segmentation of what a vnet tun hands us (TSO/USO super-segments and
 * packets with a partial checksum) into complete wire packets.
 */
#include "tun/tun.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "tun/vnet_int.h"

#define IPV4_DF		0x4000
#define IPV4_FRAG	0x3fff	/* MF and the fragment offset */

/* Where the headers of a GSO packet end, read from the packet itself. */
struct gso_layout {
	bool v6, tcp;
	size_t l3len;		/* IP header */
	size_t hlen;		/* IP + TCP/UDP header */
	size_t plen;		/* payload to cut */
};

static int einval(void)
{
	errno = EINVAL;
	return -1;
}

/* The IP header: version, lengths that add up to pkt_len, no fragment, no extension header. */
static int parse_ip(const uint8_t *pkt, size_t len, struct gso_layout *L, uint8_t *proto)
{
	if (len < 1)
		return einval();
	if (pkt[0] >> 4 == 4) {
		L->v6 = false;
		L->l3len = (size_t)(pkt[0] & 0x0f) * 4;
		if (len < 20 || L->l3len < 20 || L->l3len > len || get_be16(pkt + 2) != len ||
		    (get_be16(pkt + 6) & IPV4_FRAG))
			return einval();
		*proto = pkt[9];
		return 0;
	}
	if (pkt[0] >> 4 == 6) {
		L->v6 = true;
		L->l3len = 40;
		if (len < 40 || 40 + (size_t)get_be16(pkt + 4) != len)
			return einval();
		*proto = pkt[6];	/* anything but TCP/UDP (extension headers too) fails below */
		return 0;
	}
	return einval();
}

/* Check h against the packet and find its headers. */
static int parse_gso(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len,
		     struct gso_layout *L)
{
	unsigned type = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	uint8_t proto = 0;

	if (parse_ip(pkt, len, L, &proto) < 0)
		return -1;
	switch (type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (L->v6 != (type == VIRTIO_NET_HDR_GSO_TCPV6) || proto != IPPROTO_TCP)
			return einval();
		L->tcp = true;
		break;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (proto != IPPROTO_UDP || (h->gso_type & VIRTIO_NET_HDR_GSO_ECN))
			return einval();
		L->tcp = false;
		break;
	default:
		return einval();
	}
	if (L->tcp) {
		size_t doff;

		if (len - L->l3len < 20)
			return einval();
		doff = (size_t)(pkt[L->l3len + 12] >> 4) * 4;
		if (doff < 20 || doff > len - L->l3len)
			return einval();
		L->hlen = L->l3len + doff;
	} else {
		if (len - L->l3len < 8)
			return einval();
		L->hlen = L->l3len + 8;
	}
	L->plen = len - L->hlen;
	/* hdr_len is only a hint (kernels fill it differently): it must fit, nothing more. */
	if (L->plen == 0 || h->gso_size == 0 || h->hdr_len > len)
		return einval();
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (h->csum_start != L->l3len || h->csum_offset != (L->tcp ? 16 : 6)))
		return einval();
	return 0;
}

/* Segment i of n: headers fixed, payload copied and summed, checksums in place. */
static size_t put_segment(const struct gso_layout *L, const uint8_t *pkt, unsigned gso,
			  uint64_t pseudo, unsigned i, unsigned n, uint8_t *o)
{
	size_t off = (size_t)i * gso;
	size_t plen = L->plen - off < gso ? L->plen - off : gso;
	size_t seglen = L->hlen + plen, l4len = seglen - L->l3len;
	uint8_t *l4 = o + L->l3len;
	uint64_t s;
	uint16_t c;

	memcpy(o, pkt, L->hlen);
	s = cs_copy(o + L->hlen, pkt + L->hlen + off, plen, 0);
	if (L->v6) {
		put_be16(o + 4, (uint16_t)(seglen - 40));
	} else {
		put_be16(o + 2, (uint16_t)seglen);
		put_be16(o + 4, (uint16_t)(get_be16(pkt + 4) + i));
		o[10] = o[11] = 0;
		cs_put(o + 10, (uint16_t)~cs_fold(cs_add(0, o, L->l3len)));
	}
	if (L->tcp) {
		uint8_t flags = l4[13];

		put_be32(l4 + 4, get_be32(pkt + L->l3len + 4) + (uint32_t)off);
		if (i > 0)
			flags &= (uint8_t)~TCPF_CWR;
		if (i + 1 < n)
			flags &= (uint8_t)~(TCPF_FIN | TCPF_PSH);
		l4[13] = flags;
		l4[16] = l4[17] = 0;
	} else {
		put_be16(l4 + 4, (uint16_t)l4len);
		l4[6] = l4[7] = 0;
	}
	s += cs_val(pseudo, (uint16_t)l4len);
	c = (uint16_t)~cs_fold(cs_add(s, l4, L->hlen - L->l3len));
	if (!L->tcp && c == 0)
		c = 0xffff;	/* RFC 768: 0 means "no checksum" */
	cs_put(l4 + (L->tcp ? 16 : 6), c);
	return seglen;
}

/* Not GSO: the packet as it is, its checksum completed if the kernel left it partial. */
static int copy_one(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len, uint8_t *o,
		    size_t cap, size_t *olen)
{
	if (len == 0 || (h->gso_type & VIRTIO_NET_HDR_GSO_ECN))
		return einval();
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (h->csum_start >= len || len - h->csum_start < 2 ||
	     h->csum_offset > len - h->csum_start - 2))
		return einval();
	if (len > cap) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(o, pkt, len);
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		/* The field holds the pseudo header's sum: the sum from csum_start is the checksum. */
		uint16_t c = (uint16_t)~cs_fold(cs_add(0, o + h->csum_start, len - h->csum_start));

		cs_put(o + h->csum_start + h->csum_offset, c ? c : 0xffff);
	}
	*olen = len;
	return 0;
}

int tun_vnet_split(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t pkt_len,
		   uint8_t *const *out, size_t out_cap, size_t *lens, unsigned max_out)
{
	struct gso_layout L = { 0 };
	uint64_t pseudo;
	size_t n;

	if (max_out == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_NONE)
		return copy_one(h, pkt, pkt_len, out[0], out_cap, &lens[0]) < 0 ? -1 : 1;
	if (parse_gso(h, pkt, pkt_len, &L) < 0)
		return -1;
	n = (L.plen + h->gso_size - 1) / h->gso_size;
	if (n > max_out || L.hlen + (L.plen < h->gso_size ? L.plen : h->gso_size) > out_cap) {
		errno = EMSGSIZE;
		return -1;
	}
	pseudo = cs_pseudo(pkt, L.v6, L.tcp ? IPPROTO_TCP : IPPROTO_UDP, 0);
	for (unsigned i = 0; i < n; i++)
		lens[i] = put_segment(&L, pkt, h->gso_size, pseudo, i, (unsigned)n, out[i]);
	return (int)n;
}
