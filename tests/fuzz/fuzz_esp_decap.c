/*
 * Fuzz target for esp_decap() with fixed-key SAs (AES-GCM-128/256 and
 * ChaCha20-Poly1305). Random bytes rarely get past the ICV, so the input
 * can also be made into authentic packets first:
 *
 *   byte 0, bits 0-1: cipher (0 AES-128-GCM, 1 AES-256-GCM, 2-3 ChaCha20)
 *           bits 2-3: mode
 *             0  decapsulate the rest as it is
 *             1  encapsulate the rest as an inner packet, flip bits of one
 *                byte (index bytes 1-2, mask byte 3; mask 0 = untouched),
 *                decapsulate: a changed packet must be dropped, an untouched
 *                valid one must come back unchanged
 *             2  seal the rest as the whole plaintext (padding, Pad Length,
 *                Next Header chosen by the input) to reach the checks that
 *                run after the ICV
 *             3  encapsulate, then decapsulate only a prefix (bytes 1-2)
 *           bit 4: fix up the inner IP header's version and length (modes 1, 3)
 *           bit 5: IPv6 rather than IPv4 for that fix-up
 *           bits 6-7: padding alignment 4, 16, 64 or 256
 */
#include <stdlib.h>
#include <string.h>

#include "esp/esp.h"

#define SPI 0x0a0b0c0du
#define MAX_INNER 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pair {
	struct esp_sa out, in;
	struct aead raw;	/* encrypting context for hand-made plaintexts */
};

static struct pair pairs[3];
static uint8_t buf[ESP_HEADROOM + MAX_INNER + ESP_TAILROOM_MAX];

static void setup(void)
{
	static int done;
	uint8_t km[36];

	if (done)
		return;
	for (int i = 0; i < 36; i++)
		km[i] = (uint8_t)(0x40 + 3 * i);
	for (int i = 0; i < 3; i++) {
		enum aead_alg alg = i == 2 ? AEAD_CHACHA20_POLY1305 : AEAD_AES_GCM_16;
		size_t len = i == 0 ? 20 : 36;

		if (esp_sa_init(&pairs[i].out, ESP_OUT, alg, km, len, SPI) < 0 ||
		    esp_sa_init(&pairs[i].in, ESP_IN, alg, km, len, SPI) < 0 ||
		    aead_init(&pairs[i].raw, alg, true, km, len) < 0)
			abort();
	}
	done = 1;
}

/* Decapsulate an exact-size heap copy, so any overread is caught. */
static enum esp_drop decap_copy(struct esp_sa *in, const uint8_t *p, size_t len, uint8_t *inner,
				size_t *inner_len)
{
	uint8_t *c = malloc(len ? len : 1);
	enum esp_drop d;

	if (!c)
		abort();
	memcpy(c, p, len);
	d = esp_decap(in, c, len, inner_len);
	if (d == ESP_DROP_NONE) {
		if (*inner_len > len - ESP_MIN_LEN)
			abort();
		memcpy(inner, c + ESP_HEADROOM, *inner_len);
	} else if (*inner_len != 0) {
		abort();
	}
	free(c);
	return d;
}

static bool fix_inner(uint8_t *p, size_t len, bool v6)
{
	if (len < 40)
		return false;
	if (v6) {
		p[0] = (uint8_t)(0x60 | (p[0] & 0x0f));
		put_be16(p + 4, (uint16_t)(len - 40));
	} else {
		p[0] = 0x45;
		put_be16(p + 2, (uint16_t)len);
	}
	return true;
}

static void mutate_and_decap(struct pair *pr, uint8_t mode, const uint8_t *data, size_t size)
{
	static uint8_t inner[MAX_INNER], back[sizeof(buf)];
	size_t len, n, m;
	uint16_t at;
	uint8_t mask;
	bool valid;
	enum esp_drop d;

	if (size < 4)
		return;
	at = get_be16(data + 1);
	mask = data[3];
	len = size - 4;
	if (len > MAX_INNER)
		len = MAX_INNER;
	memcpy(inner, data + 4, len);
	valid = (mode & 0x10) && fix_inner(inner, len, mode & 0x20);
	memcpy(buf + ESP_HEADROOM, inner, len);
	if (esp_encap(&pr->out, buf, sizeof(buf), len, &n) != 0)
		return;
	if ((mode & 0x0c) == 0x0c) {
		/* prefix only: anything shorter than the packet is dropped */
		size_t cut = at % n;

		if (decap_copy(&pr->in, buf, cut, back, &m) == ESP_DROP_NONE)
			abort();
		return;
	}
	buf[at % n] ^= mask;
	d = decap_copy(&pr->in, buf, n, back, &m);
	if (mask && d == ESP_DROP_NONE)
		abort();	/* a changed packet got through */
	if (!mask && valid && (d != ESP_DROP_NONE || m != len || memcmp(back, inner, len) != 0))
		abort();	/* an authentic valid packet did not */
}

static void seal_and_decap(struct pair *pr, const uint8_t *data, size_t size)
{
	static uint8_t inner[sizeof(buf)];
	size_t len = size, m;

	if (len < ESP_TRAILER_LEN)
		return;
	if (len > MAX_INNER)
		len = MAX_INNER;
	put_be32(buf, SPI);
	put_be32(buf + 4, 1);
	memset(buf + 8, 0x5a, ESP_IV_LEN);
	if (aead_seal(&pr->raw, buf + 8, buf, ESP_HDR_LEN, data, len, buf + ESP_HEADROOM,
		      buf + ESP_HEADROOM + len) < 0)
		abort();
	if (decap_copy(&pr->in, buf, ESP_HEADROOM + len + ESP_ICV_LEN, inner, &m) == ESP_DROP_NONE &&
	    (m + ESP_TRAILER_LEN > len || memcmp(inner, data, m) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned aligns[4] = { 4, 16, 64, 256 };
	static uint8_t inner[sizeof(buf)];
	struct pair *pr;
	uint8_t mode;
	size_t m;

	if (size < 1)
		return 0;
	setup();
	mode = data[0];
	pr = &pairs[(mode & 3) == 3 ? 2 : mode & 3];
	/* every input starts from fresh sequence numbers and an empty window */
	esp_sa_test_set_seq(&pr->out, 0);
	esp_replay_init(&pr->in.replay);
	if (esp_sa_set_pad_align(&pr->out, aligns[mode >> 6]) < 0)
		abort();
	switch (mode & 0x0c) {
	case 0x00:
		(void)decap_copy(&pr->in, data + 1, size - 1, inner, &m);
		break;
	case 0x08:
		seal_and_decap(pr, data + 1, size - 1);
		break;
	default:
		mutate_and_decap(pr, mode, data, size);
		break;
	}
	return 0;
}
