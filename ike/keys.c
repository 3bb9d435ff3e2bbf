#include "ike/keys.h"

#include <string.h>

#include <openssl/crypto.h>

#include "ike/ikev2.h"

/* The most prf+ output any suite needs: 3 * 64 + 2 * 64 + 2 * 36. */
#define KEYMAT_MAX	(3 * PRF_MAX_LEN + 2 * IKE_INTEG_KEY_MAX + 2 * IKE_ENCR_KEY_MAX)

bool ike_encr_is_aead(uint16_t encr)
{
	return encr == ENCR_AES_GCM_16 || encr == ENCR_CHACHA20_POLY1305;
}

size_t ike_encr_keymat_len(uint16_t encr, uint16_t keybits)
{
	switch (encr) {
	case ENCR_AES_CBC:
	case ENCR_AES_GCM_16:
		if (keybits != 128 && keybits != 192 && keybits != 256)
			return 0;
		return keybits / 8 + (encr == ENCR_AES_GCM_16 ? AEAD_SALT_LEN : 0);
	case ENCR_CHACHA20_POLY1305:
		/* RFC 7634 §2: fixed 256-bit key, no Key Length attribute. */
		if (keybits != 0 && keybits != 256)
			return 0;
		return 32 + AEAD_SALT_LEN;
	default:
		return 0;
	}
}

size_t ike_integ_key_len(uint16_t integ)
{
	switch (integ) {
	case AUTH_HMAC_SHA2_256_128: return 32;
	case AUTH_HMAC_SHA2_384_192: return 48;
	case AUTH_HMAC_SHA2_512_256: return 64;
	default: return 0;
	}
}

int ike_algs_check(const struct ike_algs *a, bool child)
{
	if (!ike_encr_keymat_len(a->encr, a->encr_keybits))
		return -1;
	/* RFC 5282 §8: an AEAD is negotiated without an integrity transform. */
	if (ike_encr_is_aead(a->encr) ? a->integ != AUTH_NONE : !ike_integ_key_len(a->integ))
		return -1;
	if (!child && !prf_out_len(a->prf))
		return -1;
	return 0;
}

static bool nonce_ok(size_t len)
{
	return len >= IKE_NONCE_MIN && len <= IKE_NONCE_MAX;
}

static void set_lengths(struct ike_keys *k, const struct ike_algs *a)
{
	k->algs = *a;
	k->d_len = prf_out_len(a->prf);
	k->p_len = k->d_len;
	k->a_len = ike_integ_key_len(a->integ);
	k->e_len = ike_encr_keymat_len(a->encr, a->encr_keybits);
}

/* Copy n bytes from the key stream at *off into dst. */
static void take(uint8_t *dst, const uint8_t *km, size_t *off, size_t n)
{
	memcpy(dst, km + *off, n);
	*off += n;
}

/* {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, ...) */
static int split_sa_keys(struct ike_keys *k, const uint8_t *skeyseed, size_t seed_len,
			 const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
			 const uint8_t *spi_i, const uint8_t *spi_r)
{
	const struct prf_chunk s[4] = {
		{ ni, ni_len }, { nr, nr_len }, { spi_i, IKE_SPI_LEN }, { spi_r, IKE_SPI_LEN },
	};
	size_t total = k->d_len + 2 * k->a_len + 2 * k->e_len + 2 * k->p_len, off = 0;
	uint8_t km[KEYMAT_MAX];

	if (prf_plus_chunks(k->algs.prf, skeyseed, seed_len, s, 4, km, total) < 0)
		return -1;
	take(k->sk_d, km, &off, k->d_len);
	take(k->sk_ai, km, &off, k->a_len);
	take(k->sk_ar, km, &off, k->a_len);
	take(k->sk_ei, km, &off, k->e_len);
	take(k->sk_er, km, &off, k->e_len);
	take(k->sk_pi, km, &off, k->p_len);
	take(k->sk_pr, km, &off, k->p_len);
	OPENSSL_cleanse(km, sizeof(km));
	return 0;
}

static int derive_args_ok(const struct ike_algs *a, const uint8_t *gir, size_t gir_len,
			  const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
			  const uint8_t *spi_i, const uint8_t *spi_r)
{
	if (ike_algs_check(a, false) < 0 || !gir || !gir_len || !ni || !nonce_ok(ni_len) ||
	    !nr || !nonce_ok(nr_len) || !spi_i || !spi_r)
		return -1;
	return 0;
}

int ike_keys_derive(struct ike_keys *k, const struct ike_algs *a, const uint8_t *gir,
		    size_t gir_len, const uint8_t *ni, size_t ni_len, const uint8_t *nr,
		    size_t nr_len, const uint8_t spi_i[IKE_SPI_LEN],
		    const uint8_t spi_r[IKE_SPI_LEN])
{
	uint8_t nn[2 * IKE_NONCE_MAX], skeyseed[PRF_MAX_LEN];
	int rc = -1;

	memset(k, 0, sizeof(*k));
	if (derive_args_ok(a, gir, gir_len, ni, ni_len, nr, nr_len, spi_i, spi_r) < 0)
		return -1;
	set_lengths(k, a);
	/* SKEYSEED = prf(Ni | Nr, g^ir): the nonces are the key. */
	memcpy(nn, ni, ni_len);
	memcpy(nn + ni_len, nr, nr_len);
	if (prf(a->prf, nn, ni_len + nr_len, gir, gir_len, skeyseed, sizeof(skeyseed)) < 0)
		goto cleanup;
	rc = split_sa_keys(k, skeyseed, k->d_len, ni, ni_len, nr, nr_len, spi_i, spi_r);
cleanup:
	OPENSSL_cleanse(skeyseed, sizeof(skeyseed));
	OPENSSL_cleanse(nn, sizeof(nn));
	if (rc < 0)
		ike_keys_clear(k);
	return rc;
}

int ike_keys_derive_rekey(struct ike_keys *k, const struct ike_algs *a,
			  const struct ike_keys *old, const uint8_t *gir, size_t gir_len,
			  const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
			  const uint8_t spi_i[IKE_SPI_LEN], const uint8_t spi_r[IKE_SPI_LEN])
{
	const struct prf_chunk s[3] = { { gir, gir_len }, { ni, ni_len }, { nr, nr_len } };
	uint8_t skeyseed[PRF_MAX_LEN];
	size_t seed_len;
	int rc = -1;

	memset(k, 0, sizeof(*k));
	if (!old || derive_args_ok(a, gir, gir_len, ni, ni_len, nr, nr_len, spi_i, spi_r) < 0)
		return -1;
	/*
	 * §2.18: "it is the old IKE SA's PRF that is used to generate
	 * SKEYSEED"; the new SA's PRF then drives prf+.
	 */
	seed_len = prf_out_len(old->algs.prf);
	if (!seed_len || old->d_len != seed_len)
		return -1;
	set_lengths(k, a);
	if (prf_chunks(old->algs.prf, old->sk_d, old->d_len, s, 3, skeyseed, sizeof(skeyseed)) < 0)
		goto cleanup;
	rc = split_sa_keys(k, skeyseed, seed_len, ni, ni_len, nr, nr_len, spi_i, spi_r);
cleanup:
	OPENSSL_cleanse(skeyseed, sizeof(skeyseed));
	if (rc < 0)
		ike_keys_clear(k);
	return rc;
}

void ike_keys_clear(struct ike_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

int child_keys_derive(struct child_keys *ck, const struct ike_keys *ike,
		      const struct ike_algs *esp, const uint8_t *gir, size_t gir_len,
		      const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len)
{
	const struct prf_chunk s[3] = { { gir, gir_len }, { ni, ni_len }, { nr, nr_len } };
	uint8_t km[2 * IKE_ENCR_KEY_MAX + 2 * IKE_INTEG_KEY_MAX];
	size_t off = 0, total;
	int rc = -1;

	memset(ck, 0, sizeof(*ck));
	if (!ike || !esp || ike_algs_check(esp, true) < 0 || !ni || !nonce_ok(ni_len) ||
	    !nr || !nonce_ok(nr_len) || (!gir && gir_len) || !ike->d_len)
		return -1;
	ck->algs = *esp;
	ck->e_len = ike_encr_keymat_len(esp->encr, esp->encr_keybits);
	ck->a_len = ike_integ_key_len(esp->integ);
	total = 2 * (ck->e_len + ck->a_len);
	/* KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr); an empty g^ir is skipped. */
	if (prf_plus_chunks(ike->algs.prf, ike->sk_d, ike->d_len, s, 3, km, total) < 0)
		goto cleanup;
	/* §2.17: initiator-to-responder first; encryption key, then integrity. */
	take(ck->encr_i, km, &off, ck->e_len);
	take(ck->integ_i, km, &off, ck->a_len);
	take(ck->encr_r, km, &off, ck->e_len);
	take(ck->integ_r, km, &off, ck->a_len);
	rc = 0;
cleanup:
	OPENSSL_cleanse(km, sizeof(km));
	if (rc < 0)
		child_keys_clear(ck);
	return rc;
}

void child_keys_clear(struct child_keys *ck)
{
	OPENSSL_cleanse(ck, sizeof(*ck));
}
