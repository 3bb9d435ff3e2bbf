#include "ike/prf.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "ike/ikev2.h"

struct prf_ctx {
	EVP_MAC_CTX *mac;
	size_t len;
};

static const char *prf_digest(uint16_t prf_id)
{
	switch (prf_id) {
	case PRF_HMAC_SHA2_256: return "SHA256";
	case PRF_HMAC_SHA2_384: return "SHA384";
	case PRF_HMAC_SHA2_512: return "SHA512";
	default: return NULL;
	}
}

size_t prf_out_len(uint16_t prf_id)
{
	switch (prf_id) {
	case PRF_HMAC_SHA2_256: return 32;
	case PRF_HMAC_SHA2_384: return 48;
	case PRF_HMAC_SHA2_512: return 64;
	default: return 0;
	}
}

struct prf_ctx *prf_ctx_new(uint16_t prf_id, const uint8_t *key, size_t klen)
{
	static const uint8_t empty_key[1];
	const char *digest = prf_digest(prf_id);
	OSSL_PARAM params[2];
	struct prf_ctx *pc = NULL;
	EVP_MAC *mac = NULL;

	if (!digest || (!key && klen))
		return NULL;
	/* EVP_MAC_init treats a NULL key as "keep the old one": never pass NULL. */
	if (!key)
		key = empty_key;
	pc = OPENSSL_zalloc(sizeof(*pc));
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!pc || !mac)
		goto fail;
	pc->mac = EVP_MAC_CTX_new(mac);
	if (!pc->mac)
		goto fail;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(pc->mac, key, klen, params) != 1)
		goto fail;
	pc->len = prf_out_len(prf_id);
	EVP_MAC_free(mac);
	return pc;
fail:
	EVP_MAC_free(mac);
	prf_ctx_free(pc);
	return NULL;
}

size_t prf_ctx_len(const struct prf_ctx *pc)
{
	return pc ? pc->len : 0;
}

int prf_ctx_mac(struct prf_ctx *pc, const struct prf_chunk *c, size_t n, uint8_t *out, size_t cap)
{
	size_t i, outl = 0;

	if (!pc || !pc->mac || cap < pc->len || n > PRF_MAX_CHUNKS)
		return -1;
	/* Re-initialise with the key already set (NULL key: keep it). */
	if (EVP_MAC_init(pc->mac, NULL, 0, NULL) != 1)
		return -1;
	for (i = 0; i < n; i++) {
		if (c[i].len && EVP_MAC_update(pc->mac, c[i].p, c[i].len) != 1)
			return -1;
	}
	if (EVP_MAC_final(pc->mac, out, &outl, cap) != 1 || outl != pc->len) {
		OPENSSL_cleanse(out, cap < pc->len ? cap : pc->len);
		return -1;
	}
	return 0;
}

void prf_ctx_free(struct prf_ctx *pc)
{
	if (!pc)
		return;
	/* EVP_MAC_CTX_free cleanses the HMAC key schedule. */
	EVP_MAC_CTX_free(pc->mac);
	OPENSSL_clear_free(pc, sizeof(*pc));
}

int prf_chunks(uint16_t prf_id, const uint8_t *key, size_t klen, const struct prf_chunk *c,
	       size_t n, uint8_t *out, size_t cap)
{
	struct prf_ctx *pc;
	int rc;

	pc = prf_ctx_new(prf_id, key, klen);
	if (!pc)
		return -1;
	rc = prf_ctx_mac(pc, c, n, out, cap);
	prf_ctx_free(pc);
	return rc;
}

int prf(uint16_t prf_id, const uint8_t *key, size_t klen, const uint8_t *data, size_t dlen,
	uint8_t *out, size_t cap)
{
	struct prf_chunk c = { data, dlen };

	return prf_chunks(prf_id, key, klen, &c, 1, out, cap);
}

/* One prf+ block: T = prf(K, Tprev | S | counter), Tprev empty for n == 1. */
static int prf_plus_block(struct prf_ctx *pc, const uint8_t *prev, size_t prev_len,
			  const struct prf_chunk *seed, size_t n, uint8_t counter, uint8_t *t)
{
	struct prf_chunk all[PRF_MAX_CHUNKS];
	size_t i, k = 0;

	all[k++] = (struct prf_chunk){ prev, prev_len };
	for (i = 0; i < n; i++)
		all[k++] = seed[i];
	all[k++] = (struct prf_chunk){ &counter, 1 };
	return prf_ctx_mac(pc, all, k, t, PRF_MAX_LEN);
}

int prf_plus_chunks(uint16_t prf_id, const uint8_t *key, size_t klen, const struct prf_chunk *c,
		    size_t n, uint8_t *out, size_t len)
{
	uint8_t t[PRF_MAX_LEN];
	size_t hlen = prf_out_len(prf_id), done = 0, take;
	struct prf_ctx *pc = NULL;
	unsigned iter;
	int rc = -1;

	if (!hlen || !len || n > PRF_MAX_CHUNKS - 2)
		return -1;
	/* §2.13: the counter is one octet, so at most 255 blocks. */
	if ((len + hlen - 1) / hlen > PRF_PLUS_MAX_ITER)
		return -1;
	pc = prf_ctx_new(prf_id, key, klen);
	if (!pc)
		return -1;
	for (iter = 1; done < len; iter++) {
		if (prf_plus_block(pc, t, iter == 1 ? 0 : hlen, c, n, (uint8_t)iter, t) < 0)
			goto cleanup;
		take = len - done < hlen ? len - done : hlen;
		memcpy(out + done, t, take);
		done += take;
	}
	rc = 0;
cleanup:
	if (rc < 0)
		OPENSSL_cleanse(out, len);
	OPENSSL_cleanse(t, sizeof(t));
	prf_ctx_free(pc);
	return rc;
}

int prf_plus(uint16_t prf_id, const uint8_t *key, size_t klen, const uint8_t *seed, size_t slen,
	     uint8_t *out, size_t len)
{
	struct prf_chunk c = { seed, slen };

	return prf_plus_chunks(prf_id, key, klen, &c, 1, out, len);
}
