/*
 * ESP (RFC 4303) in tunnel mode, done in userspace: one struct esp_sa per
 * direction with AES-GCM-16 (RFC 4106) or ChaCha20-Poly1305 (RFC 7634),
 * 32-bit sequence numbers (no ESN), an anti-replay window for the inbound
 * side, and the RFC 3948 classification of what arrives on UDP port 4500
 * (also the body of an RFC 9329 TCP frame).
 *
 * Zero-copy data path. Both directions work in place in a caller buffer in
 * which the inner IP packet sits ESP_HEADROOM bytes after the start:
 *
 *   buf: | SPI(4) Seq(4) IV(8) | inner packet ... | pad | pl | nh | ICV(16) |
 *        ^buf                  ^buf + ESP_HEADROOM
 *
 * esp_encap() takes the inner packet at buf + ESP_HEADROOM and turns buf
 * into the ESP packet (it needs esp_tailroom() spare bytes behind the inner
 * packet); esp_decap() takes the ESP packet at buf and leaves the inner
 * packet at buf + ESP_HEADROOM. No allocation per packet; one EVP context
 * per SA, reused.
 */
#ifndef IKEAGENT_ESP_ESP_H
#define IKEAGENT_ESP_ESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/aead.h"
#include "util/buf.h"

#define ESP_HDR_LEN	8			/* SPI + Sequence Number */
#define ESP_IV_LEN	AEAD_IV_LEN		/* 8 */
#define ESP_ICV_LEN	AEAD_ICV_LEN		/* 16 */
#define ESP_HEADROOM	(ESP_HDR_LEN + ESP_IV_LEN)	/* 16: in front of the inner packet */
#define ESP_TRAILER_LEN	2			/* Pad Length + Next Header */
#define ESP_MAX_PAD	255
#define ESP_TAILROOM_MAX (ESP_MAX_PAD + ESP_TRAILER_LEN + ESP_ICV_LEN)
/* Smallest ESP packet: header, IV, an empty payload's trailer, ICV. */
#define ESP_MIN_LEN	(ESP_HEADROOM + ESP_TRAILER_LEN + ESP_ICV_LEN)

/* Next Header values (IANA protocol numbers) used in tunnel mode. */
#define ESP_NH_IPV4	4
#define ESP_NH_IPV6	41
#define ESP_NH_NONE	59	/* dummy packet, RFC 4303 §2.6 */

/* The outbound sequence number at which esp_sa_needs_rekey() turns true. */
#define ESP_SEQ_SOFT_LIMIT UINT32_C(0xff000000)	/* 2^32 - 2^24 */

/* ---- Anti-replay window (RFC 4303 §3.4.3, bitmap sliding by word as RFC 6479) ---- */

#define ESP_REPLAY_BITS		4096
#define ESP_REPLAY_WORDS	(ESP_REPLAY_BITS / 64)
/* Packets accepted behind the highest one seen: the top word is partly future. */
#define ESP_REPLAY_WINDOW	(ESP_REPLAY_BITS - 64)	/* 4032 */

struct esp_replay {
	uint32_t top;				/* highest sequence number accepted; 0 = none */
	uint64_t bitmap[ESP_REPLAY_WORDS];	/* ring of words, bit n = seq n seen */
};

enum esp_replay_res {
	ESP_REPLAY_OK = 0,
	ESP_REPLAY_INVALID,	/* sequence number 0 is never sent */
	ESP_REPLAY_TOO_OLD,	/* left of the window */
	ESP_REPLAY_DUPLICATE,
};

void esp_replay_init(struct esp_replay *r);
/* Would seq be accepted? Does not change the window. */
enum esp_replay_res esp_replay_check(const struct esp_replay *r, uint32_t seq);
/* Mark seq seen (call only once the packet's ICV verified); checks again. */
enum esp_replay_res esp_replay_update(struct esp_replay *r, uint32_t seq);

/* ---- Security association, one direction ---- */

enum esp_dir { ESP_OUT, ESP_IN };

struct esp_sa {
	struct aead aead;		/* keyed EVP context, reused for every packet */
	uint32_t spi;			/* host order */
	enum esp_dir dir;
	uint16_t pad_align;		/* ciphertext aligned to this: 4, or a power of two up to 256 */
	uint32_t seq;			/* out: last sequence number sent (0 = none yet) */
	struct esp_replay replay;	/* in only */
	uint64_t packets, bytes;	/* packets and inner bytes protected or accepted;
					 * outbound stored atomically: esp_sa_packets() reads them
					 * from another thread */
	uint64_t soft_packets, soft_bytes;	/* rekey thresholds, 0 = none */
};

/*
 * keymat is the cipher key followed by the 4-byte salt, as IKEv2's KEYMAT
 * gives it (RFC 4106 §8.1, RFC 7634 §2): 16+4 or 32+4 bytes for AES-GCM
 * (24+4 also works), 32+4 for ChaCha20-Poly1305. spi in host order.
 */
int esp_sa_init(struct esp_sa *sa, enum esp_dir dir, enum aead_alg alg, const uint8_t *keymat,
		size_t keymat_len, uint32_t spi) MUST_CHECK;
/* Releases the EVP context and wipes the keys and the whole struct. */
void esp_sa_free(struct esp_sa *sa);
/* The counters of an SA another thread may be sealing with, read whole. */
static inline uint64_t esp_sa_packets(const struct esp_sa *sa)
{
	return __atomic_load_n(&sa->packets, __ATOMIC_RELAXED);
}
static inline uint64_t esp_sa_bytes(const struct esp_sa *sa)
{
	return __atomic_load_n(&sa->bytes, __ATOMIC_RELAXED);
}
/* Rekey thresholds in packets and inner bytes (0 = none), besides ESP_SEQ_SOFT_LIMIT. */
void esp_sa_set_soft_limits(struct esp_sa *sa, uint64_t packets, uint64_t bytes);
/* Pad the ciphertext to a multiple of align (4..256, a power of two) to hide lengths. */
int esp_sa_set_pad_align(struct esp_sa *sa, unsigned align) MUST_CHECK;
/* True once the IKE layer should create the replacement Child SA. */
bool esp_sa_needs_rekey(const struct esp_sa *sa);

/* Bytes esp_encap() needs behind the inner packet (at most ESP_TAILROOM_MAX). */
static inline size_t esp_tailroom(const struct esp_sa *sa)
{
	return (size_t)sa->pad_align - 1 + ESP_TRAILER_LEN + ESP_ICV_LEN;
}
/* Most bytes ESP adds to an inner packet (header, IV, padding, trailer, ICV): for the MTU. */
static inline size_t esp_overhead(const struct esp_sa *sa)
{
	return ESP_HEADROOM + esp_tailroom(sa);
}
/* Length of the ESP packet esp_encap() makes from an inner packet of inner_len. */
size_t esp_encap_len(const struct esp_sa *sa, size_t inner_len);

/* esp_encap() results besides 0. */
enum esp_encap_err {
	ESP_ENCAP_ERR = -1,		/* not IPv4/IPv6, buffer too small, wrong direction, crypto */
	ESP_ENCAP_SEQ_EXHAUSTED = -2,	/* the counter would cycle: the SA is spent, rekey */
};

/*
 * Encrypt in place. buf holds cap bytes; the inner IPv4 or IPv6 packet is
 * at buf + ESP_HEADROOM, inner_len bytes, and cap must be at least
 * ESP_HEADROOM + inner_len + esp_tailroom(sa). On success buf holds the ESP
 * packet (from the SPI on), *out_len bytes: 0, or an enum esp_encap_err.
 */
int esp_encap(struct esp_sa *sa, uint8_t *buf, size_t cap, size_t inner_len,
	      size_t *out_len) MUST_CHECK;

/* Why esp_decap() dropped a packet (ESP_DROP_NONE: it did not). */
enum esp_drop {
	ESP_DROP_NONE = 0,
	ESP_DROP_SHORT,			/* shorter than header + IV + trailer + ICV */
	ESP_DROP_BAD_SPI,		/* not this SA's SPI (or an outbound SA) */
	ESP_DROP_REPLAY,		/* duplicate, left of the window, or seq 0 */
	ESP_DROP_AUTH_FAILED,		/* ICV mismatch: forged or corrupted */
	ESP_DROP_BAD_PADDING,		/* pad length too large or pad bytes not 1, 2, 3, ... */
	ESP_DROP_BAD_NEXT_HEADER,	/* neither IPv4 (4), IPv6 (41) nor dummy (59) */
	ESP_DROP_BAD_INNER_LEN,		/* inner IP header disagrees with the decrypted length */
	ESP_DROP_DUMMY,			/* Next Header 59: RFC 4303 §2.6 says discard silently */
	ESP_DROP__COUNT
};

/*
 * Verify and decrypt in place the ESP packet of len bytes at buf (from the
 * SPI on). On ESP_DROP_NONE the inner packet is at buf + ESP_HEADROOM,
 * *inner_len bytes. buf's contents are undefined after a drop.
 */
enum esp_drop esp_decap(struct esp_sa *sa, uint8_t *buf, size_t len, size_t *inner_len) MUST_CHECK;
const char *esp_drop_name(enum esp_drop d);

/* ---- RFC 3948 UDP encapsulation (and RFC 9329 TCP frame bodies) ---- */

#define ESP_NON_ESP_MARKER_LEN 4

enum esp_udp_kind {
	ESP_UDP_INVALID,	/* too short to be anything */
	ESP_UDP_KEEPALIVE,	/* the single byte 0xFF: drop */
	ESP_UDP_IKE,		/* non-ESP marker; the IKE message follows it */
	ESP_UDP_ESP,		/* an ESP packet (non-zero SPI) */
};

/*
 * Classify one datagram (or frame body) of len bytes. For IKE, *body points
 * after the marker; for ESP at the SPI; otherwise NULL with *body_len 0.
 */
enum esp_udp_kind esp_udp_classify(const uint8_t *p, size_t len, const uint8_t **body,
				   size_t *body_len);
/* Write the non-ESP marker and then the IKE message. */
int esp_udp_write_ike(struct wr *w, const uint8_t *ike, size_t len) MUST_CHECK;

/* ---- Test hooks: not for the data path ---- */

/* Pretend seq packets were already sent (exhaustion tests). */
void esp_sa_test_set_seq(struct esp_sa *sa, uint32_t seq);
/*
 * esp_encap() with an explicit IV instead of the sequence number, to match
 * published vectors. The caller then owns IV uniqueness: never in production.
 */
int esp_encap_test_iv(struct esp_sa *sa, uint8_t *buf, size_t cap, size_t inner_len,
		      const uint8_t iv[ESP_IV_LEN], size_t *out_len) MUST_CHECK;

#endif
