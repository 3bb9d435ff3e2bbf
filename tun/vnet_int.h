/*
 * Internet checksums (RFC 1071) for the offload code, kept in the host's
 * byte order: RFC 1071 section 2(B) lets the sum be taken over words in
 * either order as long as the result is stored back the same way, so
 * nothing is swapped. Words are loaded 32 bits at a time (memcpy: any
 * alignment) into a 64-bit accumulator and folded once at the end.
 *
 * Partial sums may be added together only when each covers a range that
 * starts at an even offset from where the checksummed data starts.
 */
#ifndef IKEAGENT_TUN_VNET_INT_H
#define IKEAGENT_TUN_VNET_INT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TCPF_FIN	0x01
#define TCPF_SYN	0x02
#define TCPF_RST	0x04
#define TCPF_PSH	0x08
#define TCPF_ACK	0x10
#define TCPF_URG	0x20
#define TCPF_ECE	0x40
#define TCPF_CWR	0x80

/* The last 0..7 bytes of a range; an odd last byte counts as its word's high byte. */
static inline uint64_t cs_tail(uint64_t s, const uint8_t *p, size_t len)
{
	uint32_t w4 = 0;
	uint16_t w2 = 0;

	if (len & 4) {
		memcpy(&w4, p, 4);
		s += w4;
		p += 4;
	}
	if (len & 2) {
		memcpy(&w2, p, 2);
		s += w2;
		p += 2;
	}
	if (len & 1) {
		w2 = 0;
		memcpy(&w2, p, 1);	/* the byte first, a zero byte after it */
		s += w2;
	}
	return s;
}

/* Add len bytes at p to the sum s. */
static inline uint64_t cs_add(uint64_t s, const uint8_t *p, size_t len)
{
	uint64_t w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		s += (w & 0xffffffffu) + (w >> 32);
	}
	return cs_tail(s, p, len);
}

/* Copy len bytes from src to dst and add them to s: one pass over the data. */
static inline uint64_t cs_copy(uint8_t *dst, const uint8_t *src, size_t len, uint64_t s)
{
	uint64_t w;

	for (; len >= 8; src += 8, dst += 8, len -= 8) {
		memcpy(&w, src, 8);
		memcpy(dst, &w, 8);
		s += (w & 0xffffffffu) + (w >> 32);
	}
	memcpy(dst, src, len);
	return cs_tail(s, src, len);
}

/* A 16-bit field given by value (a length, a protocol number). */
static inline uint64_t cs_val(uint64_t s, uint16_t v)
{
	return s + htons(v);
}

/* The folded 16-bit sum, host order; ~ of it is the checksum. */
static inline uint16_t cs_fold(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Store a value from cs_fold (or its complement) into a checksum field. */
static inline void cs_put(uint8_t *field, uint16_t v)
{
	memcpy(field, &v, 2);
}

/* The TCP/UDP pseudo header of an IPv4 or IPv6 packet for l4len bytes of proto. */
static inline uint64_t cs_pseudo(const uint8_t *ip, bool v6, uint8_t proto, size_t l4len)
{
	uint64_t s = v6 ? cs_add(0, ip + 8, 32) : cs_add(0, ip + 12, 8);

	return cs_val(cs_val(s, proto), (uint16_t)l4len);
}

#endif
