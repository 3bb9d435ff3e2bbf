#include "util/aead.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static const EVP_CIPHER *aead_cipher(enum aead_alg alg, size_t keylen)
{
	if (alg == AEAD_CHACHA20_POLY1305)
		return keylen == 32 ? EVP_chacha20_poly1305() : NULL;
	switch (keylen) {
	case 16: return EVP_aes_128_gcm();
	case 24: return EVP_aes_192_gcm();
	case 32: return EVP_aes_256_gcm();
	default: return NULL;
	}
}

int aead_init(struct aead *a, enum aead_alg alg, bool encrypt, const uint8_t *keymat,
	      size_t keymat_len)
{
	const EVP_CIPHER *c;
	EVP_CIPHER_CTX *ctx;
	size_t keylen;

	memset(a, 0, sizeof(*a));
	if (keymat_len <= AEAD_SALT_LEN)
		return -1;
	keylen = keymat_len - AEAD_SALT_LEN;
	c = aead_cipher(alg, keylen);
	if (!c)
		return -1;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	if (EVP_CipherInit_ex(ctx, c, NULL, NULL, NULL, encrypt ? 1 : 0) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, AEAD_SALT_LEN + AEAD_IV_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, keymat, NULL, -1) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return -1;
	}
	a->ctx = ctx;
	a->alg = alg;
	a->encrypt = encrypt;
	memcpy(a->salt, keymat + keylen, AEAD_SALT_LEN);
	return 0;
}

void aead_free(struct aead *a)
{
	/* EVP_CIPHER_CTX_free cleanses the key schedule. */
	EVP_CIPHER_CTX_free(a->ctx);
	OPENSSL_cleanse(a, sizeof(*a));
}

static int aead_start(struct aead *a, const uint8_t *iv, const uint8_t *aad, size_t aad_len)
{
	uint8_t nonce[AEAD_SALT_LEN + AEAD_IV_LEN];
	int outl;

	if (!a->ctx || aad_len > INT_MAX)
		return -1;
	memcpy(nonce, a->salt, AEAD_SALT_LEN);
	memcpy(nonce + AEAD_SALT_LEN, iv, AEAD_IV_LEN);
	if (EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, nonce, -1) != 1)
		return -1;
	if (aad_len && EVP_CipherUpdate(a->ctx, NULL, &outl, aad, (int)aad_len) != 1)
		return -1;
	return 0;
}

int aead_seal(struct aead *a, const uint8_t iv[AEAD_IV_LEN], const uint8_t *aad, size_t aad_len,
	      const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[AEAD_ICV_LEN])
{
	int outl, fin;

	if (!a->encrypt || len > INT_MAX || aead_start(a, iv, aad, aad_len) < 0)
		return -1;
	if (EVP_CipherUpdate(a->ctx, out, &outl, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(a->ctx, out + outl, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_ICV_LEN, tag) != 1)
		return -1;
	return 0;
}

int aead_open(struct aead *a, const uint8_t iv[AEAD_IV_LEN], const uint8_t *aad, size_t aad_len,
	      const uint8_t *in, size_t len, uint8_t *out, const uint8_t tag[AEAD_ICV_LEN])
{
	uint8_t t[AEAD_ICV_LEN];
	int outl, fin;

	if (a->encrypt || len > INT_MAX || aead_start(a, iv, aad, aad_len) < 0)
		return -1;
	memcpy(t, tag, sizeof(t));
	/* The tag is checked inside EVP_CipherFinal_ex with a constant-time compare. */
	if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_ICV_LEN, t) != 1 ||
	    EVP_CipherUpdate(a->ctx, out, &outl, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(a->ctx, out + outl, &fin) != 1)
		return -1;
	return 0;
}
