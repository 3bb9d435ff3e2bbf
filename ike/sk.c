#include "ike/sk.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define AES_BLOCK	16
#define SK_GEN_HDR	IKE_GENERIC_HDR_LEN
#define SK_LEN_OFF	24	/* Length field in the IKE header */
#define SK_NP_OFF	16	/* Next Payload field in the IKE header */

/* HMAC-SHA2 integrity transform -> (PRF with the same hash, ICV length). */
static int integ_params(uint16_t integ, uint16_t *prf_id, size_t *icv_len)
{
	switch (integ) {
	case AUTH_HMAC_SHA2_256_128: *prf_id = PRF_HMAC_SHA2_256; *icv_len = 16; return 0;
	case AUTH_HMAC_SHA2_384_192: *prf_id = PRF_HMAC_SHA2_384; *icv_len = 24; return 0;
	case AUTH_HMAC_SHA2_512_256: *prf_id = PRF_HMAC_SHA2_512; *icv_len = 32; return 0;
	default: return -1;
	}
}

static const EVP_CIPHER *cbc_cipher(size_t keylen)
{
	switch (keylen) {
	case 16: return EVP_aes_128_cbc();
	case 24: return EVP_aes_192_cbc();
	case 32: return EVP_aes_256_cbc();
	default: return NULL;
	}
}

static int sk_init_aead(struct sk_dir *d, const uint8_t *ekey, size_t ekey_len, uint16_t integ)
{
	enum aead_alg alg = d->encr == ENCR_AES_GCM_16 ? AEAD_AES_GCM_16 : AEAD_CHACHA20_POLY1305;

	/* RFC 5282 §8: no separate integrity transform with an AEAD. */
	if (integ != AUTH_NONE || aead_init(&d->aead, alg, d->encrypt, ekey, ekey_len) < 0)
		return -1;
	d->iv_len = AEAD_IV_LEN;
	d->icv_len = AEAD_ICV_LEN;
	d->block = 1;
	if (d->encrypt && RAND_bytes((uint8_t *)&d->iv_next, sizeof(d->iv_next)) != 1)
		return -1;
	return 0;
}

static int sk_init_cbc(struct sk_dir *d, const uint8_t *ekey, size_t ekey_len, uint16_t integ,
		       const uint8_t *akey, size_t akey_len)
{
	const EVP_CIPHER *c = cbc_cipher(ekey_len);
	EVP_CIPHER_CTX *ctx;
	uint16_t prf_id;

	if (!c || integ_params(integ, &prf_id, &d->icv_len) < 0 || !akey ||
	    akey_len != ike_integ_key_len(integ))
		return -1;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	d->cbc = ctx;
	if (EVP_CipherInit_ex(ctx, c, NULL, ekey, NULL, d->encrypt ? 1 : 0) != 1)
		return -1;
	d->mac = prf_ctx_new(prf_id, akey, akey_len);
	if (!d->mac)
		return -1;
	d->iv_len = SK_CBC_IV_LEN;
	d->block = AES_BLOCK;
	return 0;
}

int sk_init(struct sk_dir *d, bool encrypt, uint16_t encr, const uint8_t *ekey, size_t ekey_len,
	    uint16_t integ, const uint8_t *akey, size_t akey_len)
{
	int rc = -1;

	memset(d, 0, sizeof(*d));
	d->encr = encr;
	d->integ = integ;
	d->encrypt = encrypt;
	if (!ekey)
		return -1;
	switch (encr) {
	case ENCR_AES_GCM_16:
	case ENCR_CHACHA20_POLY1305:
		rc = sk_init_aead(d, ekey, ekey_len, integ);
		break;
	case ENCR_AES_CBC:
		rc = sk_init_cbc(d, ekey, ekey_len, integ, akey, akey_len);
		break;
	default:
		break;
	}
	if (rc < 0)
		sk_dir_free(d);
	return rc;
}

int sk_init_ike(struct sk_dir *d, const struct ike_keys *k, bool initiator, bool outbound)
{
	/* Traffic from the initiator is protected with the "i" keys. */
	bool i_keys = initiator == outbound;

	return sk_init(d, outbound, k->algs.encr, i_keys ? k->sk_ei : k->sk_er, k->e_len,
		       k->algs.integ, k->a_len ? (i_keys ? k->sk_ai : k->sk_ar) : NULL, k->a_len);
}

void sk_dir_free(struct sk_dir *d)
{
	if (d->aead.ctx)
		aead_free(&d->aead);
	EVP_CIPHER_CTX_free(d->cbc);	/* cleanses the key schedule */
	prf_ctx_free(d->mac);
	OPENSSL_cleanse(d, sizeof(*d));
}

/* Padding so that plaintext | padding | pad length fills whole blocks. */
static size_t pad_len_for(const struct sk_dir *d, size_t plen)
{
	return (d->block - (plen + 1) % d->block) % d->block;
}

size_t sk_message_len(const struct sk_dir *d, size_t plen)
{
	size_t sk_len;

	if (!d->iv_len || plen > UINT16_MAX)
		return 0;
	sk_len = SK_GEN_HDR + d->iv_len + plen + pad_len_for(d, plen) + 1 + d->icv_len;
	/* The SK payload's own length is a 16-bit field. */
	if (sk_len > UINT16_MAX)
		return 0;
	return IKE_HDR_LEN + sk_len;
}

/* AEAD outbound IV: the next value of the per-direction counter. */
static int next_aead_iv(struct sk_dir *d, uint8_t iv[AEAD_IV_LEN])
{
	uint64_t v = d->iv_next;
	int i;

	if (d->iv_used == UINT64_MAX)
		return -1;
	for (i = AEAD_IV_LEN - 1; i >= 0; i--, v >>= 8)
		iv[i] = (uint8_t)v;
	d->iv_next++;
	d->iv_used++;
	return 0;
}

/* HMAC over data, truncated to the transform's ICV length. */
static int cbc_icv(struct sk_dir *d, const uint8_t *data, size_t len, uint8_t *icv)
{
	struct prf_chunk c = { data, len };
	uint8_t full[PRF_MAX_LEN];
	int rc;

	rc = prf_ctx_mac(d->mac, &c, 1, full, sizeof(full));
	if (rc == 0)
		memcpy(icv, full, d->icv_len);
	OPENSSL_cleanse(full, sizeof(full));
	return rc;
}

/* AES-CBC without padding (ours is IKE's own), in place allowed. */
static int cbc_run(struct sk_dir *d, const uint8_t *iv, const uint8_t *in, size_t len,
		   uint8_t *out)
{
	int outl = 0, fin = 0;

	if (len > INT_MAX || len % AES_BLOCK)
		return -1;
	if (EVP_CipherInit_ex(d->cbc, NULL, NULL, NULL, iv, -1) != 1 ||
	    EVP_CIPHER_CTX_set_padding(d->cbc, 0) != 1 ||
	    EVP_CipherUpdate(d->cbc, out, &outl, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(d->cbc, out + outl, &fin) != 1 || (size_t)(outl + fin) != len)
		return -1;
	return 0;
}

/* Seal the already laid out message: AAD/MAC input is the message itself. */
static int sk_seal(struct sk_dir *d, uint8_t *msg, size_t aad_len, uint8_t *iv, uint8_t *ct,
		   size_t ct_len, uint8_t *icv)
{
	if (d->aead.ctx) {
		if (next_aead_iv(d, iv) < 0)
			return -1;
		return aead_seal(&d->aead, iv, msg, aad_len, ct, ct_len, ct, icv);
	}
	if (RAND_bytes(iv, (int)d->iv_len) != 1 || cbc_run(d, iv, ct, ct_len, ct) < 0)
		return -1;
	/* §3.14: the checksum covers the IKE header through the Pad Length. */
	return cbc_icv(d, msg, (size_t)(icv - msg), icv);
}

int sk_encrypt(struct sk_dir *d, const uint8_t hdr[IKE_HDR_LEN], uint8_t first_np,
	       const uint8_t *plain, size_t plen, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t total = sk_message_len(d, plen), pad = pad_len_for(d, plen), ct_len;
	uint8_t *iv, *ct, *icv;
	struct wr w;
	int rc = -1;

	if (!d->encrypt || !total || !hdr || (!plain && plen) || !out || cap < total)
		return -1;
	ct_len = plen + pad + 1;
	wr_init(&w, out, cap);
	/* IKE header with Next Payload = SK and the final Length. */
	if (wr_bytes(&w, hdr, SK_NP_OFF) < 0 || wr_u8(&w, PL_SK) < 0 ||
	    wr_bytes(&w, hdr + SK_NP_OFF + 1, SK_LEN_OFF - SK_NP_OFF - 1) < 0 ||
	    wr_u32(&w, (uint32_t)total) < 0)
		goto cleanup;
	/* SK generic header: next payload = first inner payload, flags 0. */
	if (wr_u8(&w, first_np) < 0 || wr_u8(&w, 0) < 0 ||
	    wr_u16(&w, (uint16_t)(total - IKE_HDR_LEN)) < 0)
		goto cleanup;
	if (wr_alloc(&w, d->iv_len, &iv) < 0 || wr_alloc(&w, ct_len, &ct) < 0 ||
	    wr_alloc(&w, d->icv_len, &icv) < 0 || wr_len(&w) != total)
		goto cleanup;
	if (plen)
		memcpy(ct, plain, plen);
	memset(ct + plen, 0, pad);
	ct[ct_len - 1] = (uint8_t)pad;
	if (sk_seal(d, out, IKE_HDR_LEN + SK_GEN_HDR, iv, ct, ct_len, icv) < 0)
		goto cleanup;
	*out_len = total;
	rc = 0;
cleanup:
	if (rc < 0)
		OPENSSL_cleanse(out, wr_len(&w));
	return rc;
}

/* Check and decrypt; the integrity check always comes first. */
static int sk_open(struct sk_dir *d, const uint8_t *msg, size_t msg_len, size_t aad_len,
		   const uint8_t *iv, const uint8_t *ct, size_t ct_len, const uint8_t *icv,
		   uint8_t *plain)
{
	uint8_t mac[SK_MAX_ICV_LEN];
	int ok;

	if (d->aead.ctx)
		return aead_open(&d->aead, iv, msg, aad_len, ct, ct_len, plain, icv);
	if (cbc_icv(d, msg, msg_len - d->icv_len, mac) < 0)
		return -1;
	ok = CRYPTO_memcmp(mac, icv, d->icv_len) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	if (!ok)
		return -1;
	return cbc_run(d, iv, ct, ct_len, plain);
}

int sk_decrypt(struct sk_dir *d, const uint8_t *msg, size_t msg_len, size_t sk_off,
	       uint8_t *plain, size_t cap, size_t *plen, uint8_t *first_np)
{
	const uint8_t *iv, *ct, *icv;
	uint8_t np, flags, pad;
	uint16_t sk_len;
	uint32_t hdr_len;
	size_t ct_len = 0, min_ct;
	struct rd r;
	int rc = -1;

	if (d->encrypt || !d->iv_len || !msg || !plain || sk_off < IKE_HDR_LEN)
		return -1;
	rd_init(&r, msg, msg_len);
	if (rd_peek_u32(&r, SK_LEN_OFF, &hdr_len) < 0 || hdr_len != msg_len ||
	    rd_skip(&r, sk_off) < 0 || rd_u8(&r, &np) < 0 || rd_u8(&r, &flags) < 0 ||
	    rd_u16(&r, &sk_len) < 0)
		return -1;
	/* The SK payload is the last one: its length runs to the end exactly. */
	if (sk_len != msg_len - sk_off)
		return -1;
	min_ct = d->block == 1 ? 1 : d->block;
	if (sk_len < SK_GEN_HDR + d->iv_len + min_ct + d->icv_len)
		return -1;
	ct_len = sk_len - SK_GEN_HDR - d->iv_len - d->icv_len;
	if (ct_len % d->block || cap < ct_len ||
	    rd_ptr(&r, d->iv_len, &iv) < 0 || rd_ptr(&r, ct_len, &ct) < 0 ||
	    rd_ptr(&r, d->icv_len, &icv) < 0 || rd_left(&r) != 0)
		return -1;
	if (sk_open(d, msg, msg_len, sk_off + SK_GEN_HDR, iv, ct, ct_len, icv, plain) < 0)
		goto cleanup;
	/* The Pad Length octet must leave room for itself and the padding. */
	pad = plain[ct_len - 1];
	if ((size_t)pad + 1 > ct_len)
		goto cleanup;
	*plen = ct_len - pad - 1;
	*first_np = np;
	rc = 0;
cleanup:
	if (rc < 0)
		OPENSSL_cleanse(plain, ct_len);
	return rc;
}
