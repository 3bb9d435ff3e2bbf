/*
 * ESP security associations: tunnel-mode encapsulation and decapsulation
 * in place with a combined-mode cipher (RFC 4303 §3.3.2.2, §3.4.4.2):
 * AES-GCM with a 16-byte ICV (RFC 4106) or ChaCha20-Poly1305 (RFC 7634).
 *
 * Both ciphers see the same packet: AAD = SPI || Sequence Number (32-bit
 * sequence numbers, RFC 4106 §5, RFC 7634 §2.1), nonce = salt || IV, the IV
 * in clear after the header, the ICV at the end.
 */
#include "esp/esp.h"

#include <string.h>

#include <openssl/crypto.h>

#define DEFAULT_PAD_ALIGN 4

int esp_sa_init(struct esp_sa *sa, enum esp_dir dir, enum aead_alg alg, const uint8_t *keymat,
		size_t keymat_len, uint32_t spi)
{
	memset(sa, 0, sizeof(*sa));
	if (dir != ESP_OUT && dir != ESP_IN)
		return -1;
	/*
	 * RFC 4303 §2.1: "The SPI value of zero (0) is reserved for local,
	 * implementation-specific use and MUST NOT be sent on the wire."
	 * RFC 3948 §2.1 relies on it too: a zero there is the non-ESP marker.
	 */
	if (spi == 0)
		return -1;
	if (aead_init(&sa->aead, alg, dir == ESP_OUT, keymat, keymat_len) < 0)
		return -1;
	sa->spi = spi;
	sa->dir = dir;
	sa->pad_align = DEFAULT_PAD_ALIGN;
	esp_replay_init(&sa->replay);
	return 0;
}

void esp_sa_free(struct esp_sa *sa)
{
	aead_free(&sa->aead);
	OPENSSL_cleanse(sa, sizeof(*sa));
}

void esp_sa_set_soft_limits(struct esp_sa *sa, uint64_t packets, uint64_t bytes)
{
	sa->soft_packets = packets;
	sa->soft_bytes = bytes;
}

int esp_sa_set_pad_align(struct esp_sa *sa, unsigned align)
{
	/* The pad length is one octet, so at most 255 bytes of padding. */
	if (align < DEFAULT_PAD_ALIGN || align > ESP_MAX_PAD + 1 || (align & (align - 1)))
		return -1;
	sa->pad_align = (uint16_t)align;
	return 0;
}

bool esp_sa_needs_rekey(const struct esp_sa *sa)
{
	uint32_t seq = sa->dir == ESP_OUT ? sa->seq : sa->replay.top;

	if (seq >= ESP_SEQ_SOFT_LIMIT)
		return true;
	if (sa->soft_packets && sa->packets >= sa->soft_packets)
		return true;
	if (sa->soft_bytes && sa->bytes >= sa->soft_bytes)
		return true;
	return false;
}

void esp_sa_test_set_seq(struct esp_sa *sa, uint32_t seq)
{
	sa->seq = seq;
}

/* Payload + padding + Pad Length + Next Header, aligned as the SA pads. */
static inline size_t ciphertext_len(const struct esp_sa *sa, size_t inner_len)
{
	size_t n = inner_len + ESP_TRAILER_LEN;

	return (n + sa->pad_align - 1) & ~((size_t)sa->pad_align - 1);
}

size_t esp_encap_len(const struct esp_sa *sa, size_t inner_len)
{
	return ESP_HEADROOM + ciphertext_len(sa, inner_len) + ESP_ICV_LEN;
}

/* Tunnel mode: the Next Header is the inner packet's IP version. */
static int inner_next_header(uint8_t first_byte, uint8_t *nh)
{
	switch (first_byte >> 4) {
	case 4:
		*nh = ESP_NH_IPV4;
		return 0;
	case 6:
		*nh = ESP_NH_IPV6;
		return 0;
	default:
		return -1;
	}
}

/* Header, IV, padding and trailer around the inner packet; *icv gets the ICV's place. */
static int write_frame(struct wr *w, const struct esp_sa *sa, uint32_t seq,
		       const uint8_t iv[ESP_IV_LEN], size_t inner_len, size_t pad, uint8_t nh,
		       uint8_t **icv)
{
	uint8_t *inner, *p;

	if (wr_u32(w, sa->spi) < 0 || wr_u32(w, seq) < 0 || wr_bytes(w, iv, ESP_IV_LEN) < 0 ||
	    wr_alloc(w, inner_len, &inner) < 0 || wr_alloc(w, pad, &p) < 0)
		return -1;
	/*
	 * RFC 4303 §2.4: without cipher-specific padding "the following
	 * default processing MUST be used": the pad bytes are 1, 2, 3, ...
	 */
	for (size_t i = 0; i < pad; i++)
		p[i] = (uint8_t)(i + 1);
	if (wr_u8(w, (uint8_t)pad) < 0 || wr_u8(w, nh) < 0 || wr_alloc(w, ESP_ICV_LEN, icv) < 0)
		return -1;
	return 0;
}

static int encap(struct esp_sa *sa, uint8_t *buf, size_t cap, size_t inner_len,
		 const uint8_t *explicit_iv, size_t *out_len)
{
	uint8_t ivb[ESP_IV_LEN];
	const uint8_t *iv;
	uint8_t *icv;
	size_t ct_len;
	uint8_t nh, first;
	struct wr w;
	struct rd r;
	uint32_t seq;

	*out_len = 0;
	if (sa->dir != ESP_OUT || cap < ESP_HEADROOM || inner_len == 0 ||
	    inner_len > cap - ESP_HEADROOM || inner_len > SIZE_MAX / 2)
		return ESP_ENCAP_ERR;
	rd_init(&r, buf + ESP_HEADROOM, inner_len);
	if (rd_peek_u8(&r, 0, &first) < 0 || inner_next_header(first, &nh) < 0)
		return ESP_ENCAP_ERR;
	/*
	 * RFC 4303 §3.3.3: "the sender MUST NOT send a packet on an SA if
	 * doing so would cause the sequence number to cycle" (and §2.2: the
	 * counters "MUST be reset (by establishing a new SA and thus a new
	 * key) prior to the transmission of the 2^32nd packet on an SA").
	 * The first packet is seq 1, so seq 2^32-1 is the last one allowed.
	 */
	if (sa->seq == UINT32_MAX)
		return ESP_ENCAP_SEQ_EXHAUSTED;
	seq = sa->seq + 1;
	ct_len = ciphertext_len(sa, inner_len);
	if (cap - ESP_HEADROOM < ct_len + ESP_ICV_LEN)
		return ESP_ENCAP_ERR;
	/*
	 * RFC 4106 §3.1: "For a given key, the IV MUST NOT repeat." RFC 7634
	 * §2: "The IV MUST be unique for each invocation for a particular SA".
	 * The sequence number never repeats within an SA, so it is the IV.
	 */
	if (explicit_iv) {
		iv = explicit_iv;
	} else {
		put_be32(ivb, 0);
		put_be32(ivb + 4, seq);
		iv = ivb;
	}
	wr_init(&w, buf, cap);
	if (write_frame(&w, sa, seq, iv, inner_len, ct_len - inner_len - ESP_TRAILER_LEN, nh,
			&icv) < 0)
		return ESP_ENCAP_ERR;
	/* The sequence number (and the IV with it) is used up even if sealing fails. */
	sa->seq = seq;
	if (aead_seal(&sa->aead, iv, buf, ESP_HDR_LEN, buf + ESP_HEADROOM, ct_len,
		      buf + ESP_HEADROOM, icv) < 0)
		return ESP_ENCAP_ERR;
	/* Stored whole (relaxed): another thread may read them for a status report. */
	__atomic_store_n(&sa->packets, sa->packets + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&sa->bytes, sa->bytes + inner_len, __ATOMIC_RELAXED);
	*out_len = wr_len(&w);
	return 0;
}

int esp_encap(struct esp_sa *sa, uint8_t *buf, size_t cap, size_t inner_len, size_t *out_len)
{
	return encap(sa, buf, cap, inner_len, NULL, out_len);
}

int esp_encap_test_iv(struct esp_sa *sa, uint8_t *buf, size_t cap, size_t inner_len,
		      const uint8_t iv[ESP_IV_LEN], size_t *out_len)
{
	return encap(sa, buf, cap, inner_len, iv, out_len);
}

/* The inner IP header must describe exactly the bytes that were decrypted. */
static enum esp_drop check_inner(const uint8_t *p, size_t len, uint8_t nh)
{
	uint8_t vihl;
	uint16_t tot;
	struct rd r;

	rd_init(&r, p, len);
	if (nh == ESP_NH_IPV4) {
		if (rd_peek_u8(&r, 0, &vihl) < 0 || rd_peek_u16(&r, 2, &tot) < 0)
			return ESP_DROP_BAD_INNER_LEN;
		if (vihl >> 4 != 4 || (vihl & 0x0f) < 5 || (size_t)(vihl & 0x0f) * 4 > len ||
		    tot != len)
			return ESP_DROP_BAD_INNER_LEN;
		return ESP_DROP_NONE;
	}
	/* IPv6; a jumbogram (payload length 0) cannot fit in one ESP packet here. */
	if (len < 40 || rd_peek_u8(&r, 0, &vihl) < 0 || rd_peek_u16(&r, 4, &tot) < 0)
		return ESP_DROP_BAD_INNER_LEN;
	if (vihl >> 4 != 6 || (size_t)tot + 40 != len)
		return ESP_DROP_BAD_INNER_LEN;
	return ESP_DROP_NONE;
}

/* Pad Length, pad bytes and Next Header of a decrypted payload; *len becomes the inner length. */
static enum esp_drop check_trailer(const uint8_t *pt, size_t *len, uint8_t *nh)
{
	uint8_t pad_len, b;
	struct rd r;

	rd_init(&r, pt, *len);
	if (rd_peek_u8(&r, *len - 2, &pad_len) < 0 || rd_peek_u8(&r, *len - 1, nh) < 0)
		return ESP_DROP_SHORT;
	if (pad_len > *len - ESP_TRAILER_LEN)
		return ESP_DROP_BAD_PADDING;
	/*
	 * RFC 4303 §2.4: with the default padding 1, 2, 3, ... "the receiver
	 * SHOULD inspect the Padding field" (after the ICV: this leaks nothing).
	 */
	if (rd_skip(&r, *len - ESP_TRAILER_LEN - pad_len) < 0)
		return ESP_DROP_BAD_PADDING;
	for (unsigned i = 1; i <= pad_len; i++)
		if (rd_u8(&r, &b) < 0 || b != i)
			return ESP_DROP_BAD_PADDING;
	*len -= ESP_TRAILER_LEN + pad_len;
	return ESP_DROP_NONE;
}

enum esp_drop esp_decap(struct esp_sa *sa, uint8_t *buf, size_t len, size_t *inner_len)
{
	const uint8_t *iv, *ct, *icv;
	uint32_t spi, seq;
	enum esp_drop d;
	size_t ct_len;
	struct rd r;
	uint8_t nh;

	*inner_len = 0;
	/* (a) Cheap checks first: length, then the SPI. */
	if (len < ESP_MIN_LEN)
		return ESP_DROP_SHORT;
	rd_init(&r, buf, len);
	if (rd_u32(&r, &spi) < 0 || rd_u32(&r, &seq) < 0 || rd_ptr(&r, ESP_IV_LEN, &iv) < 0)
		return ESP_DROP_SHORT;
	if (sa->dir != ESP_IN || spi != sa->spi)
		return ESP_DROP_BAD_SPI;
	/*
	 * (b) RFC 4303 §3.4.3: the preliminary replay check. "If the
	 * preliminary check is successful, the receiver cannot yet modify its
	 * local counter": this only looks.
	 */
	if (esp_replay_check(&sa->replay, seq) != ESP_REPLAY_OK)
		return ESP_DROP_REPLAY;
	ct_len = rd_left(&r) - ESP_ICV_LEN;
	if (rd_ptr(&r, ct_len, &ct) < 0 || rd_ptr(&r, ESP_ICV_LEN, &icv) < 0)
		return ESP_DROP_SHORT;
	/*
	 * (c) RFC 4303 §3.4.4.2: "If the integrity check performed by the
	 * combined mode algorithm fails, the receiver MUST discard the
	 * received IP datagram as invalid". The tag compare is constant time
	 * inside aead_open. Decrypt in place; on failure wipe what the cipher
	 * already wrote.
	 */
	if (aead_open(&sa->aead, iv, buf, ESP_HDR_LEN, ct, ct_len, buf + ESP_HEADROOM, icv) < 0) {
		OPENSSL_cleanse(buf + ESP_HEADROOM, ct_len);
		return ESP_DROP_AUTH_FAILED;
	}
	/*
	 * (d) RFC 4303 §3.4.3: "The receive window is updated only if the
	 * integrity verification succeeds."
	 */
	if (esp_replay_update(&sa->replay, seq) != ESP_REPLAY_OK)
		return ESP_DROP_REPLAY;
	/* (e) Trailer, then the inner packet itself. */
	d = check_trailer(buf + ESP_HEADROOM, &ct_len, &nh);
	if (d != ESP_DROP_NONE)
		return d;
	/*
	 * RFC 4303 §2.6: for dummy packets (Next Header 59) "a receiver MUST
	 * be prepared to discard such packets, without indicating an error".
	 */
	if (nh == ESP_NH_NONE)
		return ESP_DROP_DUMMY;
	if (nh != ESP_NH_IPV4 && nh != ESP_NH_IPV6)
		return ESP_DROP_BAD_NEXT_HEADER;
	d = check_inner(buf + ESP_HEADROOM, ct_len, nh);
	if (d != ESP_DROP_NONE)
		return d;
	sa->packets++;
	sa->bytes += ct_len;
	*inner_len = ct_len;
	return ESP_DROP_NONE;
}

const char *esp_drop_name(enum esp_drop d)
{
	static const char *const names[ESP_DROP__COUNT] = {
		[ESP_DROP_NONE] = "none",
		[ESP_DROP_SHORT] = "short",
		[ESP_DROP_BAD_SPI] = "bad_spi",
		[ESP_DROP_REPLAY] = "replay",
		[ESP_DROP_AUTH_FAILED] = "auth_failed",
		[ESP_DROP_BAD_PADDING] = "bad_padding",
		[ESP_DROP_BAD_NEXT_HEADER] = "bad_next_header",
		[ESP_DROP_BAD_INNER_LEN] = "bad_inner_len",
		[ESP_DROP_DUMMY] = "dummy",
	};

	if ((unsigned)d >= ESP_DROP__COUNT)
		return "unknown";
	return names[d];
}
