/*
 * tun offloads: tun_vnet_split (TSO/USO segmentation) and tun_gro_*
 * (coalescing), checked against a bytewise RFC 1071 checksum written here,
 * plus (as root, in a private namespace) a vnet tun taking a coalesced
 * packet.
 */
#include "tests/unit/test_tun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

/* ---- independent reference: bytewise RFC 1071 --------------------------- */

static uint32_t ref_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t ref_csum(const uint8_t *p, size_t len)
{
	return (uint16_t)~ref_fold(ref_sum(0, p, len));
}

static bool is_v6(const uint8_t *p)
{
	return p[0] >> 4 == 6;
}

static size_t l3_len(const uint8_t *p)
{
	return is_v6(p) ? 40 : (size_t)(p[0] & 15) * 4;
}

/* Pseudo header + transport bytes, the way RFC 793/768/8200 define the sum. */
static uint32_t ref_pseudo(const uint8_t *p, size_t len)
{
	size_t l3 = l3_len(p), l4len = len - l3;
	uint8_t ph[40];
	size_t n;

	memset(ph, 0, sizeof(ph));
	if (is_v6(p)) {
		memcpy(ph, p + 8, 32);
		ph[34] = (uint8_t)(l4len >> 8);
		ph[35] = (uint8_t)l4len;
		ph[39] = p[6];
		n = 40;
	} else {
		memcpy(ph, p + 12, 8);
		ph[9] = p[9];
		ph[10] = (uint8_t)(l4len >> 8);
		ph[11] = (uint8_t)l4len;
		n = 12;
	}
	return ref_sum(0, ph, n);
}

/* 0 when the TCP/UDP checksum of a whole packet is right. */
static uint16_t ref_l4_check(const uint8_t *p, size_t len)
{
	size_t l3 = l3_len(p);

	return (uint16_t)~ref_fold(ref_sum(ref_pseudo(p, len), p + l3, len - l3));
}

/* What the checksum field must hold, computed with the field taken as zero. */
static uint16_t ref_l4_full(const uint8_t *p, size_t len)
{
	static uint8_t tmp[70000];
	size_t l3 = l3_len(p);
	size_t off = l3 + ((is_v6(p) ? p[6] : p[9]) == IPPROTO_TCP ? 16 : 6);

	ck_assert_uint_le(len, sizeof(tmp));
	memcpy(tmp, p, len);
	tmp[off] = tmp[off + 1] = 0;
	return (uint16_t)~ref_fold(ref_sum(ref_pseudo(tmp, len), tmp + l3, len - l3));
}

/* ---- packets ------------------------------------------------------------- */

struct pk {
	bool v6;
	uint8_t proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	size_t ipopt;		/* IPv4 option bytes (multiple of 4) */
	size_t tcpopt;		/* TCP option bytes (multiple of 4) */
	size_t plen;
	uint8_t flags;		/* TCP */
	uint32_t seq;
	uint16_t id;
	uint16_t sport;
	uint32_t tsval;
	size_t poff;		/* payload = pattern from this offset */
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 8) * 7 + 3);
}

/* A complete packet (checksums right); returns its length. */
static size_t build(uint8_t *p, const struct pk *k)
{
	size_t l3 = k->v6 ? 40 : 20 + k->ipopt;
	size_t l4h = k->proto == IPPROTO_TCP ? 20 + k->tcpopt : 8;
	size_t len = l3 + l4h + k->plen;
	uint8_t *t = p + l3;

	memset(p, 0, l3 + l4h);
	if (k->v6) {
		p[0] = 0x60 | 0x0b;	/* traffic class 0xb.. */
		p[1] = 0x80;
		p[3] = 0x42;	/* flow label */
		put_be16(p + 4, (uint16_t)(len - 40));
		p[6] = k->proto;
		p[7] = 61;
		ck_assert_int_eq(inet_pton(AF_INET6, "fd00:1::2", p + 8), 1);
		ck_assert_int_eq(inet_pton(AF_INET6, "fd00:2::7", p + 24), 1);
	} else {
		p[0] = (uint8_t)(0x40 | l3 / 4);
		p[1] = 0x02;	/* ECT(0) */
		put_be16(p + 2, (uint16_t)len);
		put_be16(p + 4, k->id);
		put_be16(p + 6, 0x4000);	/* DF */
		p[8] = 63;
		p[9] = k->proto;
		ck_assert_int_eq(inet_pton(AF_INET, "10.1.2.3", p + 12), 1);
		ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.200", p + 16), 1);
		for (size_t i = 20; i < l3; i++)
			p[i] = i + 1 == l3 ? 0 : 1;	/* NOPs, then end of options */
		put_be16(p + 10, ref_csum(p, l3));
	}
	put_be16(t, k->sport ? k->sport : 40000);
	put_be16(t + 2, 443);
	if (k->proto == IPPROTO_TCP) {
		put_be32(t + 4, k->seq);
		put_be32(t + 8, 0xa1b2c3d4);
		t[12] = (uint8_t)((20 + k->tcpopt) / 4 << 4);
		t[13] = k->flags;
		put_be16(t + 14, 501);
		if (k->tcpopt >= 12) {	/* NOP NOP timestamps */
			t[20] = 1;
			t[21] = 1;
			t[22] = 8;
			t[23] = 10;
			put_be32(t + 24, k->tsval ? k->tsval : 0x01020304);
			put_be32(t + 28, 0x0a0b0c0d);
			for (size_t i = 32; i < 20 + k->tcpopt; i++)
				t[i] = 1;
		}
	} else {
		put_be16(t + 4, (uint16_t)(len - l3));
	}
	for (size_t i = 0; i < k->plen; i++)
		p[l3 + l4h + i] = pattern(k->poff + i);
	put_be16(t + (k->proto == IPPROTO_TCP ? 16 : 6), ref_l4_full(p, len));
	ck_assert_uint_eq(ref_l4_check(p, len), 0);
	return len;
}

/* The kernel's view of a GSO packet: the checksum field holds the pseudo header's sum. */
static void make_partial(uint8_t *p, size_t len)
{
	size_t off = l3_len(p) + ((is_v6(p) ? p[6] : p[9]) == IPPROTO_TCP ? 16 : 6);

	put_be16(p + off, ref_fold(ref_pseudo(p, len)));
}

static struct virtio_net_hdr gso_hdr(const struct pk *k, uint8_t type, uint16_t gso_size)
{
	struct virtio_net_hdr h;
	size_t l3 = k->v6 ? 40 : 20 + k->ipopt;

	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = type;
	h.gso_size = gso_size;
	h.csum_start = (uint16_t)l3;
	h.csum_offset = k->proto == IPPROTO_TCP ? 16 : 6;
	h.hdr_len = (uint16_t)(l3 + (k->proto == IPPROTO_TCP ? 20 + k->tcpopt : 8));
	return h;
}

/* Output buffers at an odd offset, as ESP headroom + 1 would put them. */
#define NOUT	80
#define OUTCAP	2048
static uint8_t tx[NOUT][OUTCAP + 17];
static uint8_t *outv[NOUT];
static size_t lens[NOUT];

static void outs_init(void)
{
	for (int i = 0; i < NOUT; i++)
		outv[i] = tx[i] + 17;
}

/* Every segment complete and right; payloads concatenate back. */
static void check_segments(const uint8_t *orig, const struct pk *k, int n, uint16_t gso)
{
	size_t l3 = k->v6 ? 40 : 20 + k->ipopt;
	size_t l4h = k->proto == IPPROTO_TCP ? 20 + k->tcpopt : 8, done = 0;

	ck_assert_int_eq(n, (int)((k->plen + gso - 1) / gso));
	for (int i = 0; i < n; i++) {
		const uint8_t *o = outv[i], *t = o + l3;
		size_t plen = k->plen - done < gso ? k->plen - done : gso;

		ck_assert_uint_eq(lens[i], l3 + l4h + plen);
		if (k->v6) {
			ck_assert_uint_eq(get_be16(o + 4), lens[i] - 40);
			ck_assert_int_eq(memcmp(o, orig, 4), 0);
			ck_assert_int_eq(memcmp(o + 6, orig + 6, 34), 0);
		} else {
			ck_assert_uint_eq(get_be16(o + 2), lens[i]);
			ck_assert_uint_eq(get_be16(o + 4), (uint16_t)(k->id + i));
			ck_assert_uint_eq(ref_csum(o, l3), 0);
			ck_assert_int_eq(memcmp(o + 6, orig + 6, 4), 0);
			ck_assert_int_eq(memcmp(o + 12, orig + 12, l3 - 12), 0);
		}
		if (k->proto == IPPROTO_TCP) {
			uint8_t f = k->flags;

			ck_assert_uint_eq(get_be32(t + 4), k->seq + (uint32_t)done);
			if (i > 0)
				f &= (uint8_t)~0x80;
			if (i + 1 < n)
				f &= (uint8_t)~0x09;
			ck_assert_uint_eq(t[13], f);
			ck_assert_int_eq(memcmp(t + 20, orig + l3 + 20, k->tcpopt), 0);
			ck_assert_int_eq(memcmp(t + 8, orig + l3 + 8, 5), 0);	/* ack, offset */
			ck_assert_int_eq(memcmp(t + 14, orig + l3 + 14, 2), 0);	/* window */
		} else {
			ck_assert_uint_eq(get_be16(t + 4), lens[i] - l3);
			ck_assert_uint_ne(get_be16(t + 6), 0);
		}
		ck_assert_uint_eq(ref_l4_check(o, lens[i]), 0);
		ck_assert_int_eq(memcmp(o + l3 + l4h, orig + l3 + l4h + done, plen), 0);
		done += plen;
	}
	ck_assert_uint_eq(done, k->plen);
}

/* ---- split ----------------------------------------------------------------- */

START_TEST(split_v4_tcp_options)
{
	static uint8_t pkt[70000];
	struct pk k = { .proto = IPPROTO_TCP, .ipopt = 8, .tcpopt = 12, .plen = 4000,
			.flags = 0x80 | 0x10 | 0x08 | 0x01, .seq = 0xfffff000, .id = 0xfffe };
	struct virtio_net_hdr h = gso_hdr(&k, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 999);
	size_t len = build(pkt, &k);
	int n;

	make_partial(pkt, len);
	outs_init();
	n = tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, NOUT);
	ck_assert_int_eq(n, 5);
	check_segments(pkt, &k, n, 999);
	/* hdr_len is a hint only: a larger one (skb_headlen) changes nothing */
	h.hdr_len = 200;
	ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, NOUT), 5);
	check_segments(pkt, &k, n, 999);
	/* without NEEDS_CSUM the same */
	h.flags = 0;
	ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, NOUT), 5);
	check_segments(pkt, &k, n, 999);
}
END_TEST

START_TEST(split_v4_tcp_large)
{
	static uint8_t pkt[70000];
	struct pk k = { .proto = IPPROTO_TCP, .tcpopt = 12, .plen = 65535 - 52, .flags = 0x18,
			.seq = 1, .id = 7 };
	struct virtio_net_hdr h = gso_hdr(&k, VIRTIO_NET_HDR_GSO_TCPV4, 1448);
	size_t len = build(pkt, &k);
	int n;

	make_partial(pkt, len);
	outs_init();
	n = tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, NOUT);
	ck_assert_int_eq(n, 46);
	check_segments(pkt, &k, n, 1448);
}
END_TEST

START_TEST(split_v6_tcp)
{
	static uint8_t pkt[70000];
	struct pk k = { .v6 = true, .proto = IPPROTO_TCP, .tcpopt = 12, .plen = 10001,
			.flags = 0x10 | 0x08, .seq = 123456 };
	struct virtio_net_hdr h = gso_hdr(&k, VIRTIO_NET_HDR_GSO_TCPV6, 1428);
	size_t len = build(pkt, &k);
	int n;

	make_partial(pkt, len);
	outs_init();
	n = tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, NOUT);
	ck_assert_int_eq(n, 8);
	check_segments(pkt, &k, n, 1428);
}
END_TEST

START_TEST(split_udp)
{
	static uint8_t pkt[70000];
	struct pk k4 = { .proto = IPPROTO_UDP, .ipopt = 4, .plen = 3333, .id = 100 };
	struct pk k6 = { .v6 = true, .proto = IPPROTO_UDP, .plen = 2800 };
	struct virtio_net_hdr h;
	size_t len;
	int n;

	outs_init();
	len = build(pkt, &k4);
	make_partial(pkt, len);
	h = gso_hdr(&k4, VIRTIO_NET_HDR_GSO_UDP_L4, 1200);
	n = tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, NOUT);
	ck_assert_int_eq(n, 3);
	check_segments(pkt, &k4, n, 1200);

	len = build(pkt, &k6);
	make_partial(pkt, len);
	h = gso_hdr(&k6, VIRTIO_NET_HDR_GSO_UDP_L4, 1400);
	n = tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, NOUT);
	ck_assert_int_eq(n, 2);
	check_segments(pkt, &k6, n, 1400);
}
END_TEST

/* A UDP checksum that comes out 0 is sent as 0xffff (RFC 768, RFC 8200). */
START_TEST(split_udp_zero_checksum)
{
	static uint8_t pkt[70000];
	struct pk ks[2] = { { .proto = IPPROTO_UDP, .plen = 3000 },
			    { .v6 = true, .proto = IPPROTO_UDP, .plen = 3000 } };

	outs_init();
	for (int v = 0; v < 2; v++) {
		struct virtio_net_hdr h = gso_hdr(&ks[v], VIRTIO_NET_HDR_GSO_UDP_L4, 1000);
		size_t len = build(pkt, &ks[v]), word = len - 2;	/* last segment's last word */
		uint16_t c;

		/* Make that word the complement of the rest: the checksum is then 0. */
		pkt[word] = pkt[word + 1] = 0;
		ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, NOUT), 3);
		c = get_be16(outv[2] + l3_len(outv[2]) + 6);
		put_be16(pkt + word, c);
		ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, NOUT), 3);
		ck_assert_uint_eq(get_be16(outv[2] + l3_len(outv[2]) + 6), 0xffff);
		ck_assert_uint_eq(ref_l4_check(outv[2], lens[2]), 0);
		ck_assert_uint_eq(ref_l4_check(outv[0], lens[0]), 0);
	}
}
END_TEST

START_TEST(split_not_gso)
{
	static uint8_t pkt[2000], full[2000];
	struct pk k = { .proto = IPPROTO_TCP, .tcpopt = 12, .plen = 777, .flags = 0x18, .seq = 9 };
	struct virtio_net_hdr h = gso_hdr(&k, VIRTIO_NET_HDR_GSO_NONE, 0);
	size_t len = build(full, &k);

	outs_init();
	memcpy(pkt, full, len);
	make_partial(pkt, len);
	ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, 1), 1);
	ck_assert_uint_eq(lens[0], len);
	ck_assert_int_eq(memcmp(outv[0], full, len), 0);
	/* no NEEDS_CSUM: as it is, whatever it holds */
	h.flags = 0;
	ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, 1), 1);
	ck_assert_int_eq(memcmp(outv[0], pkt, len), 0);
	/* DATA_VALID (the kernel sets it for checked packets) is ignored */
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	ck_assert_int_eq(tun_vnet_split(&h, full, len, outv, OUTCAP, lens, 1), 1);
	ck_assert_int_eq(memcmp(outv[0], full, len), 0);
	/* any payload, even not IP: copied */
	ck_assert_int_eq(tun_vnet_split(&h, (const uint8_t *)"xyz", 3, outv, OUTCAP, lens, 1), 1);
	ck_assert_uint_eq(lens[0], 3);
}
END_TEST

/* Split a heap copy of exactly len bytes (ASan sees any read past it); expect -1/err. */
static void expect_fail(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len, int err,
			const char *what)
{
	uint8_t *copy = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, pkt, len);
	errno = 0;
	ck_assert_msg(tun_vnet_split(h, copy, len, outv, OUTCAP, lens, NOUT) == -1, "accepted: %s", what);
	ck_assert_msg(errno == err, "%s: errno %d", what, errno);
	free(copy);
}

START_TEST(split_malformed)
{
	static uint8_t good[8000], p[8000];
	struct pk k = { .proto = IPPROTO_TCP, .ipopt = 4, .tcpopt = 12, .plen = 3000, .flags = 0x10 };
	struct pk k6 = { .v6 = true, .proto = IPPROTO_TCP, .plen = 3000, .flags = 0x10 };
	struct virtio_net_hdr h0 = gso_hdr(&k, VIRTIO_NET_HDR_GSO_TCPV4, 1000), h;
	size_t len = build(good, &k), len6;

	outs_init();
	ck_assert_int_eq(tun_vnet_split(&h0, good, len, outv, OUTCAP, lens, NOUT), 3);
#define MUT(stmt, what)							\
	do {								\
		memcpy(p, good, len);					\
		h = h0;							\
		stmt;							\
		expect_fail(&h, p, len, EINVAL, what);			\
	} while (0)
	MUT(h.gso_size = 0, "gso_size 0");
	MUT(h.csum_start = 20, "csum_start");
	MUT(h.csum_offset = 6, "csum_offset");
	MUT(h.hdr_len = (uint16_t)(len + 1), "hdr_len past the packet");
	MUT(h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6, "TCPV6 on IPv4");
	MUT(h.gso_type = VIRTIO_NET_HDR_GSO_UDP, "UFO");
	MUT(h.gso_type = 2, "unknown type");
	MUT(h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4, "UDP_L4 on TCP");
	MUT(p[0] = 0x44, "ihl 4");
	MUT(p[0] = 0x4f, "ihl 15, options past the TCP header");
	MUT(p[0] = 0x55, "version 5");
	MUT(put_be16(p + 2, (uint16_t)(len - 1)), "total length short");
	MUT(put_be16(p + 2, (uint16_t)(len + 1)), "total length long");
	MUT(p[6] |= 0x20, "MF");
	MUT(p[7] = 1, "fragment offset");
	MUT(p[9] = IPPROTO_UDP, "UDP under TCPV4");
	MUT(p[24 + 12] = 0x40, "data offset 4");
#undef MUT
	/* every truncation */
	for (size_t cut = 0; cut < len; cut += cut < 200 ? 1 : 97)
		expect_fail(&h0, good, cut, EINVAL, "truncated");
	/* a TCP header longer than the packet */
	{
		struct pk kt = { .proto = IPPROTO_TCP, .tcpopt = 40, .plen = 0, .flags = 0x10 };
		size_t lt = build(p, &kt);

		h = gso_hdr(&kt, VIRTIO_NET_HDR_GSO_TCPV4, 1000);
		expect_fail(&h, p, lt, EINVAL, "no payload");
		put_be16(p + 2, 20 + 40);	/* cut into the options */
		expect_fail(&h, p, 60, EINVAL, "options past the end");
	}
	/* IPv6 */
	len6 = build(p, &k6);
	h = gso_hdr(&k6, VIRTIO_NET_HDR_GSO_TCPV6, 1000);
	ck_assert_int_eq(tun_vnet_split(&h, p, len6, outv, OUTCAP, lens, NOUT), 3);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	expect_fail(&h, p, len6, EINVAL, "TCPV4 on IPv6");
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	p[6] = 0;	/* hop-by-hop options */
	expect_fail(&h, p, len6, EINVAL, "extension header");
	p[6] = IPPROTO_TCP;
	put_be16(p + 4, (uint16_t)(len6 - 41));
	expect_fail(&h, p, len6, EINVAL, "payload length");
	put_be16(p + 4, (uint16_t)(len6 - 40));
	expect_fail(&h, p, 39, EINVAL, "short IPv6 header");
	/* UDP: ECN is TCP's */
	{
		struct pk ku = { .proto = IPPROTO_UDP, .plen = 3000 };
		size_t lu = build(p, &ku);

		h = gso_hdr(&ku, VIRTIO_NET_HDR_GSO_UDP_L4 | VIRTIO_NET_HDR_GSO_ECN, 1000);
		expect_fail(&h, p, lu, EINVAL, "UDP with ECN");
		h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
		expect_fail(&h, p, 20 + 7, EINVAL, "cut UDP header");
	}
	/* not GSO: the checksum place must be inside */
	h = gso_hdr(&k, VIRTIO_NET_HDR_GSO_NONE, 0);
	expect_fail(&h, good, 0, EINVAL, "empty");
	h.csum_start = (uint16_t)len;
	expect_fail(&h, good, len, EINVAL, "csum_start at the end");
	h.csum_start = (uint16_t)(len - 2);
	h.csum_offset = 1;
	expect_fail(&h, good, len, EINVAL, "csum field past the end");
	h.csum_start = (uint16_t)(len - 1);
	h.csum_offset = 0;
	expect_fail(&h, good, len, EINVAL, "csum field one byte");
	h.csum_start = 0;
	h.csum_offset = 0xffff;
	expect_fail(&h, good, len, EINVAL, "csum_offset huge");
	h.flags = 0;
	h.gso_type = VIRTIO_NET_HDR_GSO_ECN;
	expect_fail(&h, good, len, EINVAL, "ECN without GSO");
}
END_TEST

START_TEST(split_too_many)
{
	static uint8_t pkt[8000];
	struct pk k = { .proto = IPPROTO_TCP, .plen = 5000, .flags = 0x10 };
	struct virtio_net_hdr h = gso_hdr(&k, VIRTIO_NET_HDR_GSO_TCPV4, 1000);
	size_t len = build(pkt, &k);

	outs_init();
	errno = 0;
	ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, 4), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, 5), 5);
	ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, 1039, lens, 5), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, 1040, lens, 5), 5);
	ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, 0), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	h = gso_hdr(&k, VIRTIO_NET_HDR_GSO_NONE, 0);
	ck_assert_int_eq(tun_vnet_split(&h, pkt, len, outv, len - 1, lens, 1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
}
END_TEST

/* ---- coalesce -------------------------------------------------------------- */

#define NW 80
struct written {
	bool has_h;
	struct virtio_net_hdr h;
	uint8_t pkt[65536];
	size_t len;
};
static struct written w[NW];
static int nw;
static int fail_writes;	/* the next n writes fail with ENOBUFS */

static int capture(void *arg, const struct tun_dev *t, const struct virtio_net_hdr *h,
		   const uint8_t *pkt, size_t len)
{
	if (fail_writes > 0) {
		fail_writes--;
		errno = ENOBUFS;
		return -1;
	}
	ck_assert_int_lt(nw, NW);
	ck_assert_uint_le(len, sizeof(w[nw].pkt));
	w[nw].has_h = h != NULL;
	if (h)
		w[nw].h = *h;
	memcpy(w[nw].pkt, pkt, len);
	w[nw].len = len;
	nw++;
	return 0;
}

static uint8_t grobuf[TUN_GRO_BUF];
static struct tun_gro gro;
static const struct tun_dev vdev = { .fd = -1, .vnet = true };

static void gro_setup(void)
{
	nw = 0;
	fail_writes = 0;
	tun_gro_init(&gro, grobuf, sizeof(grobuf));
	tun_gro_set_writer(&gro, capture, NULL);
}

/* Segment i of a flow: 1000 bytes of payload each unless plen says otherwise. */
static size_t seg(uint8_t *p, bool v6, uint32_t seq, size_t plen, uint8_t flags, uint16_t id)
{
	struct pk k = { .v6 = v6, .proto = IPPROTO_TCP, .tcpopt = 12, .plen = plen,
			.flags = flags, .seq = seq, .id = id, .poff = seq - 5000 };

	return build(p, &k);
}

static void add(const uint8_t *p, size_t len)
{
	ck_assert_int_eq(tun_gro_add(&gro, &vdev, p, len), 0);
}

/* Write i is a single packet (zero hdr) equal to p. */
static void is_plain(int i, const uint8_t *p, size_t len)
{
	static const struct virtio_net_hdr zero;

	ck_assert_int_gt(nw, i);
	ck_assert(w[i].has_h);
	ck_assert_int_eq(memcmp(&w[i].h, &zero, sizeof(zero)), 0);
	ck_assert_uint_eq(w[i].len, len);
	ck_assert_int_eq(memcmp(w[i].pkt, p, len), 0);
}

/* Write i is a coalesced packet of `segs` segments from seq with the pattern payload. */
static void is_coalesced(int i, bool v6, uint32_t seq, size_t total, uint16_t gso, uint8_t flags)
{
	const struct written *x = &w[i];
	size_t l3 = v6 ? 40 : 20, hlen = l3 + 32;
	const uint8_t *t = x->pkt + l3;
	uint8_t tmp[65536];
	uint16_t done;

	ck_assert_int_gt(nw, i);
	ck_assert(x->has_h);
	ck_assert_uint_eq(x->h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	ck_assert_uint_eq(x->h.gso_type, v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4);
	ck_assert_uint_eq(x->h.gso_size, gso);
	ck_assert_uint_eq(x->h.hdr_len, hlen);
	ck_assert_uint_eq(x->h.csum_start, l3);
	ck_assert_uint_eq(x->h.csum_offset, 16);
	ck_assert_uint_eq(x->len, hlen + total);
	if (v6) {
		ck_assert_uint_eq(get_be16(x->pkt + 4), x->len - 40);
	} else {
		ck_assert_uint_eq(get_be16(x->pkt + 2), x->len);
		ck_assert_uint_eq(ref_csum(x->pkt, 20), 0);
	}
	ck_assert_uint_eq(get_be32(t + 4), seq);
	ck_assert_uint_eq(t[13], flags);
	for (size_t j = 0; j < total; j++)
		ck_assert_uint_eq(x->pkt[hlen + j], pattern(seq - 5000 + j));
	/* The field is the pseudo header's sum; the kernel completes it from csum_start on. */
	ck_assert_uint_eq(get_be16(t + 16), ref_fold(ref_pseudo(x->pkt, x->len)));
	memcpy(tmp, x->pkt, x->len);
	done = ref_csum(tmp + l3, x->len - l3);
	put_be16(tmp + l3 + 16, done);
	ck_assert_uint_eq(done, ref_l4_full(x->pkt, x->len));
	ck_assert_uint_eq(ref_l4_check(tmp, x->len), 0);
}

START_TEST(gro_three_segments)
{
	static uint8_t a[2000], b[2000], c[2000];
	size_t la, lb, lc;

	for (int v6 = 0; v6 < 2; v6++) {
		gro_setup();
		la = seg(a, v6, 5000, 1000, 0x10, 1);
		lb = seg(b, v6, 6000, 1000, 0x10, 2);
		lc = seg(c, v6, 7000, 501, 0x18, 3);
		add(a, la);
		add(b, lb);
		add(c, lc);
		ck_assert_int_eq(nw, 0);
		ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
		ck_assert_int_eq(nw, 1);
		is_coalesced(0, v6, 5000, 2501, 1000, 0x18);
		ck_assert_uint_eq(gro.merged, 2);
		ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
		ck_assert_int_eq(nw, 1);
	}
}
END_TEST

START_TEST(gro_pending_is_what_is_written)
{
	static uint8_t a[2000], b[2000];
	struct virtio_net_hdr h;
	size_t la = seg(a, false, 5000, 1000, 0x10, 1), lb = seg(b, false, 6000, 1000, 0x10, 2), n;
	const uint8_t *p;

	gro_setup();
	ck_assert_ptr_null(tun_gro_pending(&gro, &h, &n));
	add(a, la);
	p = tun_gro_pending(&gro, &h, &n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(n, la);
	ck_assert_int_eq(memcmp(p, a, la), 0);
	ck_assert_uint_eq(h.gso_type, 0);
	add(b, lb);
	p = tun_gro_pending(&gro, &h, &n);
	ck_assert_uint_eq(n, la + 1000);
	ck_assert_uint_eq(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
	is_coalesced(0, false, 5000, 2000, 1000, 0x10);
	ck_assert_int_eq(memcmp(w[0].pkt, p, n), 0);
}
END_TEST

/* Each case: a, b continue; the third breaks the run for one reason. */
START_TEST(gro_boundaries)
{
	static uint8_t a[2000], b[2000], c[2000], u[200];
	size_t la, lb, lc, lu;
	struct pk ku = { .proto = IPPROTO_UDP, .plen = 20 };

	/* gap in seq */
	gro_setup();
	la = seg(a, false, 5000, 1000, 0x10, 1);
	lb = seg(b, false, 6000, 1000, 0x10, 2);
	lc = seg(c, false, 8000, 1000, 0x10, 3);
	add(a, la);
	add(b, lb);
	add(c, lc);
	ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
	ck_assert_int_eq(nw, 2);
	is_coalesced(0, false, 5000, 2000, 1000, 0x10);
	is_plain(1, c, lc);

	/* another flow (port) */
	gro_setup();
	lc = seg(c, false, 7000, 1000, 0x10, 3);
	put_be16(c + 20, 40001);
	put_be16(c + 36, 0);
	put_be16(c + 36, ref_l4_full(c, lc));
	add(a, la);
	add(b, lb);
	add(c, lc);
	ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
	ck_assert_int_eq(nw, 2);
	is_coalesced(0, false, 5000, 2000, 1000, 0x10);
	is_plain(1, c, lc);

	/* different options (timestamp) */
	gro_setup();
	{
		struct pk k = { .proto = IPPROTO_TCP, .tcpopt = 12, .plen = 1000, .flags = 0x10,
				.seq = 7000, .id = 3, .poff = 2000, .tsval = 99 };

		lc = build(c, &k);
	}
	add(a, la);
	add(b, lb);
	add(c, lc);
	ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
	ck_assert_int_eq(nw, 2);
	is_plain(1, c, lc);

	/* PSH in the middle */
	gro_setup();
	lb = seg(b, false, 6000, 1000, 0x18, 2);
	lc = seg(c, false, 7000, 1000, 0x10, 3);
	add(a, la);
	add(b, lb);
	add(c, lc);
	ck_assert_int_eq(nw, 1);
	ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
	ck_assert_int_eq(nw, 2);
	is_coalesced(0, false, 5000, 2000, 1000, 0x18);
	is_plain(1, c, lc);

	/* not TCP in between: written at once, after the pending one */
	gro_setup();
	lb = seg(b, false, 6000, 1000, 0x10, 2);
	lu = build(u, &ku);
	add(a, la);
	add(b, lb);
	add(u, lu);
	ck_assert_int_eq(nw, 2);
	add(c, lc);
	ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
	ck_assert_int_eq(nw, 3);
	is_coalesced(0, false, 5000, 2000, 1000, 0x10);
	is_plain(1, u, lu);
	is_plain(2, c, lc);

	/* a shorter segment ends it, even if another follows in sequence */
	gro_setup();
	lb = seg(b, false, 6000, 500, 0x10, 2);
	lc = seg(c, false, 6500, 1000, 0x10, 3);
	add(a, la);
	add(b, lb);
	add(c, lc);
	ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
	ck_assert_int_eq(nw, 2);
	is_coalesced(0, false, 5000, 1500, 1000, 0x10);
	is_plain(1, c, lc);

	/* a longer one after the first does not join */
	gro_setup();
	la = seg(a, false, 5000, 500, 0x10, 1);
	lb = seg(b, false, 5500, 1000, 0x10, 2);
	add(a, la);
	add(b, lb);
	ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
	ck_assert_int_eq(nw, 2);
	is_plain(0, a, la);
	is_plain(1, b, lb);

	/* a wrong TCP checksum is never merged (the kernel drops it, not us) */
	gro_setup();
	la = seg(a, false, 5000, 1000, 0x10, 1);
	lb = seg(b, false, 6000, 1000, 0x10, 2);
	b[lb - 1] ^= 1;
	add(a, la);
	add(b, lb);
	ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
	ck_assert_int_eq(nw, 2);
	is_plain(0, a, la);
	is_plain(1, b, lb);

	/* SYN, CWR, no ACK, a bad IPv4 header checksum, IPv4 options: each alone */
	{
		static const uint8_t fl[] = { 0x12, 0x90, 0x08 };

		for (size_t i = 0; i < 4; i++) {
			gro_setup();
			lb = seg(b, false, 6000, 1000, i < 3 ? fl[i] : 0x10, 2);
			if (i == 3)
				b[10] ^= 1;
			add(a, la);
			add(b, lb);
			ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
			ck_assert_int_eq(nw, 2);
			is_plain(1, b, lb);
		}
		gro_setup();
		{
			struct pk k = { .proto = IPPROTO_TCP, .ipopt = 4, .tcpopt = 12, .plen = 1000,
					.flags = 0x10, .seq = 6000, .id = 2, .poff = 1000 };

			lb = build(b, &k);
		}
		add(b, lb);
		ck_assert_int_eq(nw, 1);
		is_plain(0, b, lb);
	}
}
END_TEST

START_TEST(gro_limits)
{
	static uint8_t p[2000];
	size_t l;

	/* at most 64 segments */
	gro_setup();
	for (uint32_t i = 0; i < 70; i++) {
		l = seg(p, false, 5000 + i * 500, 500, 0x10, (uint16_t)i);
		add(p, l);
	}
	ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
	ck_assert_int_eq(nw, 2);
	is_coalesced(0, false, 5000, 64 * 500, 500, 0x10);
	is_coalesced(1, false, 5000 + 64 * 500, 6 * 500, 500, 0x10);

	/* at most 65535 bytes */
	gro_setup();
	for (uint32_t i = 0; i < 50; i++) {
		l = seg(p, true, 5000 + i * 1400, 1400, 0x10, 0);
		add(p, l);
	}
	ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
	ck_assert_int_eq(nw, 2);
	is_coalesced(0, true, 5000, 46 * 1400, 1400, 0x10);
	ck_assert_uint_le(w[0].len, 65535);
	is_coalesced(1, true, 5000 + 46 * 1400, 4 * 1400, 1400, 0x10);
}
END_TEST

START_TEST(gro_plain_tun_and_write_errors)
{
	static uint8_t a[2000], b[2000];
	const struct tun_dev plain = { .fd = -1, .vnet = false };
	size_t la = seg(a, false, 5000, 1000, 0x10, 1), lb = seg(b, false, 6000, 1000, 0x10, 2);

	/* no vnet: written at once, no hdr */
	gro_setup();
	ck_assert_int_eq(tun_gro_add(&gro, &plain, a, la), 0);
	ck_assert_int_eq(nw, 1);
	ck_assert(!w[0].has_h);
	ck_assert_uint_eq(w[0].len, la);

	/* a failed write: the pending segments are dropped and counted, the new packet handled */
	gro_setup();
	add(a, la);
	add(b, lb);
	fail_writes = 1;
	errno = 0;
	ck_assert_int_eq(tun_gro_add(&gro, &vdev, (const uint8_t *)"\x60", 1), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_eq(gro.dropped, 2);
	ck_assert_int_eq(nw, 1);	/* the odd packet went out */
	fail_writes = 1;
	ck_assert_int_eq(tun_gro_add(&gro, &vdev, (const uint8_t *)"\x60", 1), -1);
	ck_assert_uint_eq(gro.dropped, 3);
	/* a buffer too small: no coalescing at all */
	tun_gro_init(&gro, grobuf, 1000);
	tun_gro_set_writer(&gro, capture, NULL);
	nw = 0;
	add(a, la);
	add(b, lb);
	ck_assert_int_eq(nw, 2);
}
END_TEST

/* Split a super-segment, coalesce its segments again: the same packet comes back. */
START_TEST(round_trip)
{
	static uint8_t pkt[70000];

	for (int v6 = 0; v6 < 2; v6++) {
		struct pk k = { .v6 = v6, .proto = IPPROTO_TCP, .tcpopt = 12, .plen = 30000,
				.flags = 0x18, .seq = 5000, .id = 40 };
		struct virtio_net_hdr h = gso_hdr(&k, v6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
						  VIRTIO_NET_HDR_GSO_TCPV4, 1300);
		size_t len = build(pkt, &k);
		int n;

		make_partial(pkt, len);
		outs_init();
		n = tun_vnet_split(&h, pkt, len, outv, OUTCAP, lens, NOUT);
		ck_assert_int_eq(n, 24);
		gro_setup();
		for (int i = 0; i < n; i++)
			add(outv[i], lens[i]);
		ck_assert_int_eq(tun_gro_flush(&gro, &vdev), 0);
		ck_assert_int_eq(nw, 1);
		is_coalesced(0, v6, 5000, 30000, 1300, 0x18);
		ck_assert_uint_eq(w[0].len, len);
		ck_assert_int_eq(memcmp(w[0].pkt, pkt, len), 0);	/* partial checksum as well */
		ck_assert_uint_eq(w[0].h.hdr_len, h.hdr_len);
	}
}
END_TEST

/* ---- a real vnet tun (root, own namespace) --------------------------------- */

/*
 * The kernel's side of a coalesced packet: written to a vnet tun, routed
 * out through a plain tun (no offloads), where the kernel must cut it into
 * its segments and complete their checksums from our partial one.
 */
START_TEST(vnet_tun_takes_coalesced)
{
	static uint8_t a[2000], b[2000], buf[4096];
	struct tun_cidr in_addr = tt_cidr("10.1.0.1/16");
	struct tun_route_spec r = { .dst = tt_cidr("192.0.2.0/24") };
	struct tun_dev t, out;
	size_t la = seg(a, false, 5000, 1000, 0x10, 1), lb = seg(b, false, 6000, 1000, 0x18, 2);
	int got = 0;

	NEED_NETNS();
	ck_assert_int_eq(tun_dev_open_vnet(&t, "ikv0", 1400, 0), 0);
	ck_assert(t.vnet);
	ck_assert_uint_eq(t.offload & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6),
			  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	ck_assert_int_eq(tun_dev_open(&out, "ikp0", 1400, 0), 0);
	ck_assert(!out.vnet);
	ck_assert_int_eq(tun_nl_addr_add(t.ifindex, &in_addr), 0);	/* 10.1.2.3 is behind t */
	r.oif = out.ifindex;
	ck_assert_int_eq(tun_nl_route_add(&r), 0);
	tt_write("/proc/sys/net/ipv4/ip_forward", "1\n", 0644);
	tt_write("/proc/sys/net/ipv4/conf/all/rp_filter", "0\n", 0644);
	tt_write("/proc/sys/net/ipv4/conf/ikv0/rp_filter", "0\n", 0644);

	gro_setup();
	tun_gro_set_writer(&gro, NULL, NULL);
	ck_assert_int_eq(tun_gro_add(&gro, &t, a, la), 0);
	ck_assert_int_eq(tun_gro_add(&gro, &t, b, lb), 0);
	ck_assert_int_eq(gro.merged, 1);
	ck_assert_int_eq(tun_gro_flush(&gro, &t), 0);
	ck_assert_uint_eq(gro.dropped, 0);

	for (int tries = 0; tries < 50 && got < 2; tries++) {
		struct pollfd pfd = { .fd = out.fd, .events = POLLIN };
		const uint8_t *want = got ? b : a;
		ssize_t n;

		ck_assert_int_ge(poll(&pfd, 1, 2000), 1);
		n = tun_read(&out, buf, sizeof(buf));
		ck_assert_int_gt(n, 0);
		if (buf[0] != 0x45 || buf[9] != IPPROTO_TCP)
			continue;	/* IPv6 chatter */
		ck_assert_uint_eq((size_t)n, la);
		ck_assert_uint_eq(ref_csum(buf, 20), 0);
		ck_assert_uint_eq(buf[8], 62);	/* forwarded */
		ck_assert_uint_eq(ref_l4_check(buf, (size_t)n), 0);
		/* the same TCP segment (the kernel sets the checksum as it likes: 0 or 0xffff) */
		ck_assert_int_eq(memcmp(buf + 20, want + 20, 16), 0);
		ck_assert_int_eq(memcmp(buf + 38, want + 38, (size_t)n - 38), 0);
		got++;
	}
	ck_assert_int_eq(got, 2);
	tun_dev_close(&out);
	tun_dev_close(&t);
}
END_TEST

/* A UDP GSO send (UDP_SEGMENT) through a vnet tun with USO: read as one, split into valid datagrams. */
START_TEST(vnet_tun_uso_read_and_split)
{
	static uint8_t pkt[70000], data[3000];
	struct tun_cidr in_addr = tt_cidr("10.1.0.1/16");
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(4500) };
	struct virtio_net_hdr h;
	struct tun_dev t;
	int s, gso = 1000, n = 0;

	NEED_NETNS();
	ck_assert_int_eq(tun_dev_open_vnet(&t, "ikv0", 1400, 0), 0);
	if (!(t.offload & TUN_F_USO4)) {
		check_skip(__func__, "kernel without USO on tun");
		tun_dev_close(&t);
		return;
	}
	ck_assert_int_eq(tun_nl_addr_add(t.ifindex, &in_addr), 0);
	ck_assert_int_eq(inet_pton(AF_INET, "10.1.9.9", &to.sin_addr), 1);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(setsockopt(s, IPPROTO_UDP, 103 /* UDP_SEGMENT */, &gso, sizeof(gso)), 0);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = pattern(i);
	ck_assert_int_eq(sendto(s, data, 2500, 0, (struct sockaddr *)&to, sizeof(to)), 2500);
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd pfd = { .fd = t.fd, .events = POLLIN };
		ssize_t len;

		ck_assert_int_ge(poll(&pfd, 1, 2000), 1);
		len = tun_read_vnet(&t, &h, pkt, sizeof(pkt));
		ck_assert_int_gt(len, 0);
		if (pkt[0] != 0x45 || pkt[9] != IPPROTO_UDP)
			continue;
		ck_assert_uint_eq(h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
		ck_assert_uint_eq(h.gso_size, 1000);
		ck_assert_uint_eq((size_t)len, 20 + 8 + 2500);
		outs_init();
		n = tun_vnet_split(&h, pkt, (size_t)len, outv, OUTCAP, lens, NOUT);
		break;
	}
	ck_assert_int_eq(n, 3);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(lens[i], 28 + (i < 2 ? 1000u : 500u));
		ck_assert_uint_eq(ref_csum(outv[i], 20), 0);
		ck_assert_uint_eq(ref_l4_check(outv[i], lens[i]), 0);
		ck_assert_int_eq(memcmp(outv[i] + 28, data + i * 1000, lens[i] - 28), 0);
	}
	close(s);
	tun_dev_close(&t);
}
END_TEST

static Suite *vnet_suite(void)
{
	Suite *s = suite_create("tun_vnet");
	TCase *sp = tcase_create("split");
	TCase *co = tcase_create("coalesce");
	TCase *net = tcase_create("netns");

	tcase_add_test(sp, split_v4_tcp_options);
	tcase_add_test(sp, split_v4_tcp_large);
	tcase_add_test(sp, split_v6_tcp);
	tcase_add_test(sp, split_udp);
	tcase_add_test(sp, split_udp_zero_checksum);
	tcase_add_test(sp, split_not_gso);
	tcase_add_test(sp, split_malformed);
	tcase_add_test(sp, split_too_many);
	tcase_add_test(co, gro_three_segments);
	tcase_add_test(co, gro_pending_is_what_is_written);
	tcase_add_test(co, gro_boundaries);
	tcase_add_test(co, gro_limits);
	tcase_add_test(co, gro_plain_tun_and_write_errors);
	tcase_add_test(co, round_trip);
	tcase_set_timeout(net, 20);
	tcase_add_test(net, vnet_tun_takes_coalesced);
	tcase_add_test(net, vnet_tun_uso_read_and_split);
	suite_add_tcase(s, sp);
	suite_add_tcase(s, co);
	suite_add_tcase(s, net);
	return s;
}

CHECK_MAIN(vnet_suite)
