/*
 * IKEv2 key derivation (RFC 7296 §2.14, §2.17, §2.18).
 *
 *   SKEYSEED = prf(Ni | Nr, g^ir)                       initial IKE SA
 *   SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)    rekeyed IKE SA
 *   {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
 *            = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
 *   KEYMAT   = prf+(SK_d, [g^ir (new) |] Ni | Nr)        Child SA
 *            split as encr_i | integ_i | encr_r | integ_r
 *
 * Key lengths: SK_d, SK_pi, SK_pr are the PRF's output length. For an AEAD
 * cipher (AES-GCM-16, ChaCha20-Poly1305) the encryption "key" is the cipher
 * key followed by a 4-byte salt (RFC 5282 §7.1, RFC 4106 §8.1, RFC 7634 §4)
 * and there is no integrity key; for AES-CBC it is the bare AES key and the
 * integrity key is that of the HMAC-SHA2 transform (32/48/64 bytes).
 */
#ifndef IKEAGENT_IKE_KEYS_H
#define IKEAGENT_IKE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/prf.h"
#include "util/aead.h"
#include "util/buf.h"

#define IKE_SPI_LEN		8
#define IKE_ENCR_KEY_MAX	(AEAD_MAX_KEY_LEN + AEAD_SALT_LEN)	/* 36 */
#define IKE_INTEG_KEY_MAX	64

/* A negotiated suite (transform IDs from ike/ikev2.h). */
struct ike_algs {
	uint16_t encr;		/* ENCR_AES_CBC, ENCR_AES_GCM_16, ENCR_CHACHA20_POLY1305 */
	uint16_t encr_keybits;	/* Key Length attribute: 128/192/256; ChaCha: 0 or 256 */
	uint16_t integ;		/* AUTH_NONE with an AEAD; AUTH_HMAC_SHA2_* with AES-CBC */
	uint16_t prf;		/* PRF_HMAC_SHA2_*; IKE SA only (ignored for a Child SA) */
};

bool ike_encr_is_aead(uint16_t encr);
/* Encryption key material length (AEAD: key + salt); 0 if invalid. */
size_t ike_encr_keymat_len(uint16_t encr, uint16_t keybits);
/* Integrity key length; 0 for AUTH_NONE or an unknown transform. */
size_t ike_integ_key_len(uint16_t integ);
/* 0 if encr/keybits/integ (and prf unless child) form a usable suite. */
int ike_algs_check(const struct ike_algs *a, bool child) MUST_CHECK;

struct ike_keys {
	struct ike_algs algs;
	size_t d_len;		/* = p_len = prf output length */
	size_t a_len;		/* integrity key length, 0 with AEAD */
	size_t e_len;		/* encryption key material length */
	size_t p_len;
	uint8_t sk_d[PRF_MAX_LEN];
	uint8_t sk_ai[IKE_INTEG_KEY_MAX];
	uint8_t sk_ar[IKE_INTEG_KEY_MAX];
	uint8_t sk_ei[IKE_ENCR_KEY_MAX];
	uint8_t sk_er[IKE_ENCR_KEY_MAX];
	uint8_t sk_pi[PRF_MAX_LEN];
	uint8_t sk_pr[PRF_MAX_LEN];
};

/* Nonces must be 16..256 bytes (§3.9); gir is the DH shared secret. */
int ike_keys_derive(struct ike_keys *k, const struct ike_algs *a, const uint8_t *gir,
		    size_t gir_len, const uint8_t *ni, size_t ni_len, const uint8_t *nr,
		    size_t nr_len, const uint8_t spi_i[IKE_SPI_LEN],
		    const uint8_t spi_r[IKE_SPI_LEN]) MUST_CHECK;
/*
 * Rekeyed IKE SA (§2.18): SKEYSEED uses the old SA's PRF and SK_d; the new
 * keys come from prf+ with the new SA's PRF (a->prf). Nonces and SPIs are
 * those of the CREATE_CHILD_SA exchange / the new SA.
 */
int ike_keys_derive_rekey(struct ike_keys *k, const struct ike_algs *a,
			  const struct ike_keys *old, const uint8_t *gir, size_t gir_len,
			  const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
			  const uint8_t spi_i[IKE_SPI_LEN],
			  const uint8_t spi_r[IKE_SPI_LEN]) MUST_CHECK;
void ike_keys_clear(struct ike_keys *k);

struct child_keys {
	struct ike_algs algs;	/* prf unused */
	size_t e_len;		/* encryption key material (AEAD: key + salt) */
	size_t a_len;		/* integrity key, 0 with AEAD */
	uint8_t encr_i[IKE_ENCR_KEY_MAX];	/* initiator -> responder */
	uint8_t integ_i[IKE_INTEG_KEY_MAX];
	uint8_t encr_r[IKE_ENCR_KEY_MAX];	/* responder -> initiator */
	uint8_t integ_r[IKE_INTEG_KEY_MAX];
};

/*
 * Child SA keys (§2.17) from the IKE SA's SK_d and PRF. gir is the
 * CREATE_CHILD_SA KE shared secret, or NULL/0 without PFS (and for the
 * Child SA created by IKE_AUTH).
 */
int child_keys_derive(struct child_keys *ck, const struct ike_keys *ike,
		      const struct ike_algs *esp, const uint8_t *gir, size_t gir_len,
		      const uint8_t *ni, size_t ni_len, const uint8_t *nr,
		      size_t nr_len) MUST_CHECK;
void child_keys_clear(struct child_keys *ck);

#endif
