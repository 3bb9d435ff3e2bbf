/*
 * AEAD with a reusable OpenSSL EVP context, shared by the IKE SK payload
 * (RFC 5282, RFC 7634) and ESP (RFC 4106, RFC 7634).
 *
 * Both protocols build the cipher the same way: the key material is the
 * cipher key followed by a 4-byte salt; the 12-byte nonce is salt || the
 * 8-byte IV carried in the packet; the ICV is 16 bytes. One struct aead is
 * one direction of one SA: set up once, then only the IV changes per packet
 * (creating EVP contexts per packet is a classic slowdown).
 */
#ifndef IKEAGENT_UTIL_AEAD_H
#define IKEAGENT_UTIL_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum aead_alg {
	AEAD_AES_GCM_16,	/* key 16, 24 or 32 bytes + 4 salt */
	AEAD_CHACHA20_POLY1305,	/* key 32 bytes + 4 salt */
};

#define AEAD_SALT_LEN 4
#define AEAD_IV_LEN 8
#define AEAD_ICV_LEN 16
#define AEAD_MAX_KEY_LEN 32

struct aead {
	void *ctx;		/* EVP_CIPHER_CTX *, kept for the SA's life */
	enum aead_alg alg;
	bool encrypt;
	uint8_t salt[AEAD_SALT_LEN];
};

/* keymat is key || salt; keymat_len must be 16+4, 24+4 or 32+4 (ChaCha: 32+4). */
int aead_init(struct aead *a, enum aead_alg alg, bool encrypt, const uint8_t *keymat,
	      size_t keymat_len) MUST_CHECK;
void aead_free(struct aead *a);

/* Encrypt len bytes of in to out (may be the same buffer), write the 16-byte tag. */
int aead_seal(struct aead *a, const uint8_t iv[AEAD_IV_LEN], const uint8_t *aad, size_t aad_len,
	      const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[AEAD_ICV_LEN]) MUST_CHECK;
/* Decrypt and verify; -1 if the tag does not match (out is then undefined, wipe it). */
int aead_open(struct aead *a, const uint8_t iv[AEAD_IV_LEN], const uint8_t *aad, size_t aad_len,
	      const uint8_t *in, size_t len, uint8_t *out, const uint8_t tag[AEAD_ICV_LEN]) MUST_CHECK;

#endif
