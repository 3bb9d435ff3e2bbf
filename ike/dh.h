/*
 * Diffie-Hellman for the IKEv2 KE payload on OpenSSL 3 EVP_PKEY:
 *
 *   group 31  Curve25519 (RFC 8031)   public 32 bytes, secret 32 bytes
 *   group 19  ECP-256    (RFC 5903)   public x || y (64), secret x (32)
 *   group 14  MODP-2048  (RFC 3526)   public and secret left-padded to 256
 *
 * The peer's public value is checked before use: its length exactly; an
 * ECP point must lie on the curve; a MODP value must satisfy
 * 1 < y < p-1 (RFC 7296 §2.12, RFC 6989 §2.2); a Curve25519 result must
 * not be all zero (RFC 8031 §2).
 */
#ifndef IKEAGENT_IKE_DH_H
#define IKEAGENT_IKE_DH_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define DH_MAX_PUBLIC_LEN	256
#define DH_MAX_SECRET_LEN	256

struct dh {
	uint16_t group;		/* DH_* transform ID; 0 when empty */
	void *pkey;		/* EVP_PKEY *: our key pair */
};

/* Lengths for a group; 0 if unsupported. */
size_t dh_public_len(uint16_t group);
size_t dh_secret_len(uint16_t group);

/* Generate a fresh key pair for group. */
int dh_new(struct dh *d, uint16_t group) MUST_CHECK;
/* Our public value in KE payload form; *len = dh_public_len(group). */
int dh_public(const struct dh *d, uint8_t *out, size_t cap, size_t *len) MUST_CHECK;
/*
 * g^ir from the peer's KE payload data. On failure nothing is left in
 * secret. The secret is the caller's to OPENSSL_cleanse.
 */
int dh_derive(struct dh *d, const uint8_t *peer, size_t len, uint8_t *secret, size_t cap,
	      size_t *slen) MUST_CHECK;
/* Frees the key (OpenSSL cleanses it); d may then be reused. */
void dh_free(struct dh *d);

/*
 * TEST ONLY (known-answer tests): like dh_new, but with a fixed private
 * value instead of a random one: 32 bytes for groups 31 (RFC 7748 scalar
 * encoding) and 19 (big-endian), up to 256 bytes big-endian for group 14.
 * Never call this outside tests: a fixed private key defeats PFS.
 */
int dh_set_private_for_test(struct dh *d, uint16_t group, const uint8_t *priv,
			    size_t len) MUST_CHECK;

#endif
