/*
 * IKEv2 AUTH payload data (RFC 7296 §2.15), pre-shared key method.
 *
 *   InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI
 *   MACedIDForI           = prf(SK_pi, RestOfInitIDPayload)
 *   ResponderSignedOctets = RealMessage2 | NonceIData | MACedIDForR
 *   MACedIDForR           = prf(SK_pr, RestOfRespIDPayload)
 *   AUTH (PSK)            = prf( prf(Shared Secret, "Key Pad for IKEv2"),
 *                                <SignedOctets> )
 *
 * RealMessage1/2 is the whole IKE_SA_INIT message the signing side sent
 * (header included); the nonce is the *other* side's Nonce payload data;
 * RestOfIDPayload is the ID payload body after its 4-byte generic header
 * (ID Type, 3 reserved octets, identification data).
 *
 * Signing side: initiator -> (msg1, Nr, IDi body, SK_pi); responder ->
 * (msg2, Ni, IDr body, SK_pr). To verify the peer, use the peer's values.
 */
#ifndef IKEAGENT_IKE_AUTH_H
#define IKEAGENT_IKE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/keys.h"
#include "ike/prf.h"
#include "util/buf.h"

#define AUTH_KEY_PAD		"Key Pad for IKEv2"
#define AUTH_KEY_PAD_LEN	17	/* no terminating NUL */

/* What one side signs. */
struct auth_octets {
	const uint8_t *msg;	/* RealMessage1 or RealMessage2 */
	size_t msg_len;
	const uint8_t *nonce;	/* the peer's nonce data */
	size_t nonce_len;
	const uint8_t *id;	/* RestOfIDPayload of the signing side */
	size_t id_len;
};

/* The signing side's SK_p: SK_pi for the initiator, SK_pr for the responder. */
void auth_sk_p(const struct ike_keys *k, bool initiator, const uint8_t **sk_p, size_t *sk_p_len);

/* MACedIDFor = prf(SK_p, RestOfIDPayload); writes prf_out_len bytes. */
int auth_maced_id(uint16_t prf_id, const uint8_t *sk_p, size_t sk_p_len, const uint8_t *id,
		  size_t id_len, uint8_t *out, size_t cap, size_t *out_len) MUST_CHECK;
/* The whole SignedOctets (needed for signature methods later). */
int auth_signed_octets(uint16_t prf_id, const uint8_t *sk_p, size_t sk_p_len,
		       const struct auth_octets *o, uint8_t *out, size_t cap,
		       size_t *out_len) MUST_CHECK;
/* The PSK AUTH value (prf_out_len bytes). */
int auth_psk_compute(uint16_t prf_id, const uint8_t *psk, size_t psk_len, const uint8_t *sk_p,
		     size_t sk_p_len, const struct auth_octets *o, uint8_t *out, size_t cap,
		     size_t *out_len) MUST_CHECK;
/* 0 if auth/auth_len is the right PSK AUTH value (constant-time compare), else -1. */
int auth_psk_verify(uint16_t prf_id, const uint8_t *psk, size_t psk_len, const uint8_t *sk_p,
		    size_t sk_p_len, const struct auth_octets *o, const uint8_t *auth,
		    size_t auth_len) MUST_CHECK;

#endif
