/*
 * The IKE decoder through SK decryption with a fixed key: the first byte
 * picks the cipher; the rest is a message. Two paths per input:
 *  1. the input as received: decode, then sk_decrypt (almost always an
 *     integrity failure, which must be clean);
 *  2. the input's payload chain as SK plaintext, encrypted with the fixed
 *     key and decrypted again, so the inner decoder sees fuzzed payloads
 *     behind a valid ICV. Decrypt must give back exactly the plaintext.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ikev2.h"
#include "ike/msg.h"
#include "ike/sk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[36] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
	19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36,
};

static const struct { uint16_t encr; size_t elen; uint16_t integ; size_t alen; } ciphers[] = {
	{ ENCR_AES_GCM_16, 36, AUTH_NONE, 0 },
	{ ENCR_AES_GCM_16, 20, AUTH_NONE, 0 },
	{ ENCR_CHACHA20_POLY1305, 36, AUTH_NONE, 0 },
	{ ENCR_AES_CBC, 32, AUTH_HMAC_SHA2_256_128, 32 },
};

static void decode_all(struct ike_msg *m)
{
	struct ike_pl_any a;

	for (unsigned i = 0; i < m->n; i++)
		if (ike_pl_any_decode(&m->pl[i], &a) < 0)
			continue;	/* a malformed payload is all the decoder has to say */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t plain[70000], msg[70000], back[70000];
	struct sk_dir out, in;
	struct ike_msg m;
	size_t c, mlen, plen;
	uint8_t first, hdr[IKE_HDR_LEN] = { 0 };

	if (size < 2 || size > 60000)
		return 0;
	c = data[0] % (sizeof(ciphers) / sizeof(ciphers[0]));
	if (sk_init(&out, true, ciphers[c].encr, key, ciphers[c].elen, ciphers[c].integ, key,
		    ciphers[c].alen) < 0)
		abort();
	if (sk_init(&in, false, ciphers[c].encr, key, ciphers[c].elen, ciphers[c].integ, key,
		    ciphers[c].alen) < 0)
		abort();
	data++;
	size--;

	/* 1: as received */
	if (ike_msg_decode(&m, data, size) == 0 && m.has_sk && m.sk_type == PL_SK &&
	    sk_decrypt(&in, data, size, m.sk_off, plain, sizeof(plain), &plen, &first) == 0) {
		if (ike_msg_decode_inner(&m, first, plain, plen) == 0)
			decode_all(&m);
	}

	/* 2: behind a valid ICV */
	hdr[17] = IKE_VERSION;
	hdr[18] = INFORMATIONAL;
	hdr[19] = IKE_FLAG_INITIATOR;
	first = size ? data[0] : 0;
	if (sk_encrypt(&out, hdr, first, data + 1, size - 1, msg, sizeof(msg), &mlen) == 0) {
		if (ike_msg_decode(&m, msg, mlen) < 0 || !m.has_sk)
			abort();	/* our own encryption must always decode */
		if (sk_decrypt(&in, msg, mlen, m.sk_off, back, sizeof(back), &plen, &first) < 0 ||
		    plen != size - 1 || first != data[0] || memcmp(back, data + 1, plen) != 0)
			abort();	/* and decrypt to exactly what went in */
		if (ike_msg_decode_inner(&m, first, back, plen) == 0)
			decode_all(&m);
	}
	sk_dir_free(&out);
	sk_dir_free(&in);
	return 0;
}
