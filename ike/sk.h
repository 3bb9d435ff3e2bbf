/*
 * The Encrypted and Authenticated (SK) payload, RFC 7296 §3.14, with
 * AES-GCM-16 (RFC 5282), ChaCha20-Poly1305 (RFC 7634) and AES-CBC with
 * HMAC-SHA2 (RFC 3602, RFC 4868).
 *
 * A protected message is
 *
 *   IKE header (28) | [unencrypted payloads] | SK generic header (4) |
 *   IV | ciphertext( inner payloads | padding | pad length ) | ICV
 *
 * AEAD: 8-byte IV, AAD = message start .. end of the SK generic header
 * (RFC 5282 §5.1), 16-byte ICV, no block alignment (we send no padding).
 * AES-CBC: random 16-byte IV, block-aligned padding, ICV = HMAC over the
 * message start .. end of the ciphertext, truncated (16/24/32 bytes).
 *
 * One struct sk_dir is one direction of one IKE SA: its cipher and MAC
 * contexts are keyed once and reused for every message.
 *
 * AEAD IV uniqueness: each outbound sk_dir draws a random 64-bit start at
 * sk_init and then counts up by one per message; it refuses to encrypt
 * once 2^64 - 1 IVs have been used. IVs are thus unique for the life of the
 * sk_dir, and a (buggy) second sk_dir on the same key only collides with
 * negligible probability. Keep one outbound sk_dir per SA key.
 */
#ifndef IKEAGENT_IKE_SK_H
#define IKEAGENT_IKE_SK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/ikev2.h"
#include "ike/keys.h"
#include "ike/prf.h"
#include "util/aead.h"
#include "util/buf.h"

#define SK_CBC_IV_LEN	16
#define SK_MAX_ICV_LEN	32

struct sk_dir {
	uint16_t encr;
	uint16_t integ;
	bool encrypt;
	size_t iv_len;		/* 8 (AEAD) or 16 (CBC) */
	size_t icv_len;		/* 16 (AEAD), 16/24/32 (CBC + HMAC) */
	size_t block;		/* padding alignment: 1 (AEAD) or 16 (CBC) */
	struct aead aead;	/* AEAD ciphers */
	void *cbc;		/* EVP_CIPHER_CTX * (AES-CBC) */
	struct prf_ctx *mac;	/* HMAC (AES-CBC) */
	uint64_t iv_next;	/* AEAD, outbound: next IV */
	uint64_t iv_used;	/* AEAD, outbound: IVs used so far */
};

/*
 * Key one direction. ekey: AEAD key || 4-byte salt, or the bare AES-CBC
 * key; akey: HMAC key for CBC (NULL/0 with an AEAD, where integ must be
 * AUTH_NONE).
 */
int sk_init(struct sk_dir *d, bool encrypt, uint16_t encr, const uint8_t *ekey, size_t ekey_len,
	    uint16_t integ, const uint8_t *akey, size_t akey_len) MUST_CHECK;
/*
 * Key from derived IKE SA keys: the initiator sends with SK_ei/SK_ai and
 * receives with SK_er/SK_ar, the responder the other way round.
 */
int sk_init_ike(struct sk_dir *d, const struct ike_keys *k, bool initiator,
		bool outbound) MUST_CHECK;
/* Not sk_free: OpenSSL's stack.h defines that name as a macro. */
void sk_dir_free(struct sk_dir *d);

/* Total message length sk_encrypt produces for plen bytes of inner payloads; 0 if too long. */
size_t sk_message_len(const struct sk_dir *d, size_t plen) MUST_CHECK;

/*
 * Build a complete protected message in out: hdr is the 28-byte IKE
 * header (SPIs, version, exchange, flags, message ID are copied; Next
 * Payload is set to SK (46) and Length filled in); first_np is the type of
 * the first inner payload; plain the inner payload chain. plain and out
 * must not overlap.
 */
int sk_encrypt(struct sk_dir *d, const uint8_t hdr[IKE_HDR_LEN], uint8_t first_np,
	       const uint8_t *plain, size_t plen, uint8_t *out, size_t cap,
	       size_t *out_len) MUST_CHECK;

/*
 * Verify and decrypt a received message. msg/msg_len is the whole IKE
 * message (its header Length must equal msg_len); sk_off is where the SK
 * payload's generic header starts (it must be the last payload, its length
 * reaching exactly to msg_len). Integrity is verified before anything is
 * decrypted. On success the inner payload chain is in plain[0..*plen) and
 * *first_np is its first payload type; cap >= msg_len always suffices.
 * On failure plain holds nothing.
 */
int sk_decrypt(struct sk_dir *d, const uint8_t *msg, size_t msg_len, size_t sk_off,
	       uint8_t *plain, size_t cap, size_t *plen, uint8_t *first_np) MUST_CHECK;

#endif
