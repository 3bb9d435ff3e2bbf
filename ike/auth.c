#include "ike/auth.h"

#include <string.h>

#include <openssl/crypto.h>

#include "ike/ikev2.h"

void auth_sk_p(const struct ike_keys *k, bool initiator, const uint8_t **sk_p, size_t *sk_p_len)
{
	*sk_p = initiator ? k->sk_pi : k->sk_pr;
	*sk_p_len = k->p_len;
}

static bool octets_ok(const struct auth_octets *o)
{
	return o && o->msg && o->msg_len >= IKE_HDR_LEN && o->nonce && o->nonce_len && o->id &&
	       o->id_len;
}

int auth_maced_id(uint16_t prf_id, const uint8_t *sk_p, size_t sk_p_len, const uint8_t *id,
		  size_t id_len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t n = prf_out_len(prf_id);

	if (!n || !sk_p || !sk_p_len || !id || !id_len)
		return -1;
	if (prf(prf_id, sk_p, sk_p_len, id, id_len, out, cap) < 0)
		return -1;
	*out_len = n;
	return 0;
}

int auth_signed_octets(uint16_t prf_id, const uint8_t *sk_p, size_t sk_p_len,
		       const struct auth_octets *o, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t maced[PRF_MAX_LEN];
	size_t mlen = 0;
	struct wr w;
	int rc = -1;

	if (!octets_ok(o) || auth_maced_id(prf_id, sk_p, sk_p_len, o->id, o->id_len, maced,
					   sizeof(maced), &mlen) < 0)
		return -1;
	wr_init(&w, out, cap);
	if (wr_bytes(&w, o->msg, o->msg_len) < 0 || wr_bytes(&w, o->nonce, o->nonce_len) < 0 ||
	    wr_bytes(&w, maced, mlen) < 0)
		goto cleanup;
	*out_len = wr_len(&w);
	rc = 0;
cleanup:
	OPENSSL_cleanse(maced, sizeof(maced));
	return rc;
}

int auth_psk_compute(uint16_t prf_id, const uint8_t *psk, size_t psk_len, const uint8_t *sk_p,
		     size_t sk_p_len, const struct auth_octets *o, uint8_t *out, size_t cap,
		     size_t *out_len)
{
	uint8_t key[PRF_MAX_LEN], maced[PRF_MAX_LEN];
	size_t n = prf_out_len(prf_id), mlen = 0;
	struct prf_chunk c[3];
	int rc = -1;

	/* An empty pre-shared key would authenticate anyone. */
	if (!n || !psk || !psk_len || !octets_ok(o) || cap < n)
		return -1;
	if (auth_maced_id(prf_id, sk_p, sk_p_len, o->id, o->id_len, maced, sizeof(maced),
			  &mlen) < 0)
		goto cleanup;
	/* §2.15: the PSK is first turned into a key with the fixed pad string. */
	if (prf(prf_id, psk, psk_len, (const uint8_t *)AUTH_KEY_PAD, AUTH_KEY_PAD_LEN, key,
		sizeof(key)) < 0)
		goto cleanup;
	c[0] = (struct prf_chunk){ o->msg, o->msg_len };
	c[1] = (struct prf_chunk){ o->nonce, o->nonce_len };
	c[2] = (struct prf_chunk){ maced, mlen };
	if (prf_chunks(prf_id, key, n, c, 3, out, cap) < 0)
		goto cleanup;
	*out_len = n;
	rc = 0;
cleanup:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(maced, sizeof(maced));
	return rc;
}

int auth_psk_verify(uint16_t prf_id, const uint8_t *psk, size_t psk_len, const uint8_t *sk_p,
		    size_t sk_p_len, const struct auth_octets *o, const uint8_t *auth,
		    size_t auth_len)
{
	uint8_t want[PRF_MAX_LEN];
	size_t n = 0;
	int rc = -1;

	if (!auth || auth_psk_compute(prf_id, psk, psk_len, sk_p, sk_p_len, o, want, sizeof(want),
				      &n) < 0)
		goto cleanup;
	if (auth_len == n && CRYPTO_memcmp(want, auth, n) == 0)
		rc = 0;
cleanup:
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}
