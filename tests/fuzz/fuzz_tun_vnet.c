/*
 * Fuzz the tun offloads. Input: byte 0 selects the mode.
 *   even: split. Bytes 1..10 are a struct virtio_net_hdr, byte 11 picks
 *         out_cap (small, to hit EMSGSIZE) and byte 12 max_out; the rest
 *         is the packet. Every segment must fit out_cap, and for a GSO
 *         packet the payloads must concatenate back to the input's.
 *   odd:  coalesce. The rest is a list of packets, each a 2-byte length
 *         then that many bytes, offered to tun_gro_add with a capturing
 *         writer; a super-segment written must be within 65535 bytes and
 *         its hdr must describe it. Every fed segment gets a valid checksum
 *         for half of the inputs (bit 1 of byte 0) so that merging happens.
 * The packet is copied to a buffer of exactly its size, so ASan sees any
 * read past it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tun/tun.h"
#include "tun/vnet_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                \
	do {                                                                    \
		if (!(c)) {                                                     \
			fprintf(stderr, "fuzz_tun_vnet: %s:%d: %s\n", __FILE__, \
				__LINE__, #c);                                  \
			abort();                                                \
		}                                                               \
	} while (0)

#define MAX_OUT	64
static uint8_t outbuf[MAX_OUT][2048 + 1];

static void fuzz_split(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr h;
	uint8_t *out[MAX_OUT], *pkt;
	size_t lens[MAX_OUT], cap, len, done = 0;
	unsigned max_out;
	int n;

	if (size < 12)
		return;
	memcpy(&h, data, sizeof(h));
	cap = 40 + (size_t)data[10] * 8;	/* 40..2080, capped below */
	if (cap > 2048)
		cap = 2048;
	max_out = data[11] % (MAX_OUT + 1);
	len = size - 12;
	pkt = malloc(len ? len : 1);
	CHECK(pkt);
	memcpy(pkt, data + 12, len);
	for (int i = 0; i < MAX_OUT; i++)
		out[i] = outbuf[i] + 1;	/* odd alignment */
	n = tun_vnet_split(&h, pkt, len, out, cap, lens, max_out);
	if (n < 0) {
		free(pkt);
		return;
	}
	CHECK(n >= 1 && (unsigned)n <= max_out);
	for (int i = 0; i < n; i++)
		CHECK(lens[i] <= cap);
	if (n == 1) {
		CHECK(lens[0] == len);
	} else {
		/* the first segment is full: its headers are lens[0] - gso_size bytes */
		size_t hl = lens[0] - h.gso_size;

		for (int i = 0; i < n; i++) {
			CHECK(lens[i] > hl && lens[i] - hl <= h.gso_size);
			CHECK(memcmp(out[i] + hl, pkt + hl + done, lens[i] - hl) == 0);
			done += lens[i] - hl;
		}
		CHECK(hl + done == len);
	}
	free(pkt);
}

struct cap {
	size_t writes;
};

static int capture(void *arg, const struct tun_dev *t, const struct virtio_net_hdr *h,
		   const uint8_t *pkt, size_t len)
{
	struct cap *c = arg;

	CHECK(h != NULL);
	CHECK(len <= TUN_GSO_MAX || h->gso_type == 0);
	if (h->gso_type != 0) {
		size_t l3 = h->csum_start;

		CHECK(h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4 || h->gso_type == VIRTIO_NET_HDR_GSO_TCPV6);
		CHECK(h->flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && h->csum_offset == 16);
		CHECK(l3 == (h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4 ? 20u : 40u));
		CHECK(h->hdr_len >= l3 + 20 && h->hdr_len < len && h->gso_size > 0);
		CHECK(len - h->hdr_len > h->gso_size);
		CHECK(len - h->hdr_len <= (size_t)h->gso_size * TUN_GRO_MAX_SEGS);
		if (l3 == 20)
			CHECK(get_be16(pkt + 2) == len && cs_fold(cs_add(0, pkt, 20)) == 0xffff);
		else
			CHECK(get_be16(pkt + 4) + 40u == len);
	}
	c->writes++;
	return 0;
}

/* Give a TCP segment a right checksum, if it looks like one. */
static void fix_csum(uint8_t *p, size_t len)
{
	size_t l3;
	bool v6;

	if (len >= 20 && p[0] == 0x45 && p[9] == 6) {
		v6 = false;
		l3 = 20;
		put_be16(p + 2, (uint16_t)len);
		p[10] = p[11] = 0;
		cs_put(p + 10, (uint16_t)~cs_fold(cs_add(0, p, 20)));
	} else if (len >= 40 && p[0] >> 4 == 6 && p[6] == 6) {
		v6 = true;
		l3 = 40;
		put_be16(p + 4, (uint16_t)(len - 40));
	} else {
		return;
	}
	if (len < l3 + 20)
		return;
	p[l3 + 16] = p[l3 + 17] = 0;
	cs_put(p + l3 + 16, (uint16_t)~cs_fold(cs_add(cs_pseudo(p, v6, 6, len - l3), p + l3, len - l3)));
}

static uint8_t grobuf[TUN_GRO_BUF];

static void fuzz_gro(const uint8_t *data, size_t size, bool fix)
{
	const struct tun_dev t = { .fd = -1, .vnet = true };
	struct tun_gro g;
	struct cap c = { 0 };

	tun_gro_init(&g, grobuf, sizeof(grobuf));
	tun_gro_set_writer(&g, capture, &c);
	while (size >= 2) {
		size_t len = get_be16(data);
		uint8_t *pkt;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		pkt = malloc(len ? len : 1);
		CHECK(pkt);
		memcpy(pkt, data, len);
		if (fix)
			fix_csum(pkt, len);
		CHECK(tun_gro_add(&g, &t, pkt, len) == 0);
		free(pkt);
		data += len;
		size -= len;
	}
	CHECK(tun_gro_flush(&g, &t) == 0);
	CHECK(g.dropped == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_gro(data + 1, size - 1, data[0] & 2);
	else
		fuzz_split(data + 1, size - 1);
	return 0;
}
