/*
 * SA proposals in strongSwan's text syntax, mapped to IKEv2 transform IDs.
 *
 * One proposal is a '-'-separated list of algorithm names, e.g.
 *   ike: aes256gcm16-prfsha256-x25519, aes256-sha256-modp2048
 *   esp: aes256gcm16, chacha20poly1305, aes256gcm16-x25519-esn
 * and a proposal list is a ','-separated list of proposals, tried in order.
 * Names are matched case-insensitively. Several algorithms of one type may
 * appear in one proposal (aes128gcm16-aes256gcm16-prfsha256-x25519-ecp256).
 *
 * Rules (what ikeagent can negotiate, and what strongSwan would accept):
 *  - encryption: aes128/192/256 (CBC), aes128/192/256gcm16, chacha20poly1305;
 *    AEAD and non-AEAD ciphers are not mixed in one proposal.
 *  - integrity: sha256, sha384, sha512 (HMAC-SHA2, truncated per RFC 4868);
 *    required with a CBC cipher, forbidden with an AEAD one.
 *  - prf (IKE only): prfsha256/384/512. An IKE proposal without one takes
 *    the prf matching each integrity algorithm, as strongSwan does; an AEAD
 *    IKE proposal must name its prf.
 *  - DH group: x25519 (= curve25519), ecp256, ecp384, modp2048. Required in
 *    IKE; optional in ESP (where it means PFS on rekeying).
 *  - ESN (ESP only): esn, noesn; default noesn.
 * Anything else (3des, md5, sha1, modp1024, aes256ccm16, ...) is refused with
 * a message naming the token.
 *
 * This module knows nothing about the agent's config; it only needs the
 * IANA numbers in ike/ikev2.h. (struct proposal is the configured choice;
 * the wire form of an SA payload is struct ike_proposal in ike/msg.h.)
 */
#ifndef IKEAGENT_IKE_PROPOSAL_H
#define IKEAGENT_IKE_PROPOSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/ikev2.h"
#include "util/buf.h"

#define PROP_MAX_ALGS	8	/* per transform type in one proposal */
#define PROP_MAX_ESN	2
#define PROP_LIST_MAX	8	/* proposals in one list */
#define PROP_NAME_MAX	24	/* longest algorithm name + NUL */

struct prop_encr {
	uint16_t id;		/* enum ike_encr */
	uint16_t key_bits;	/* Key Length attribute; 0 = none (ChaCha20) */
};

struct proposal {
	uint8_t proto;		/* PROTO_IKE or PROTO_ESP */
	uint8_t n_encr, n_prf, n_integ, n_dh, n_esn;
	struct prop_encr encr[PROP_MAX_ALGS];
	uint16_t prf[PROP_MAX_ALGS];	/* enum ike_prf; IKE only */
	uint16_t integ[PROP_MAX_ALGS];	/* enum ike_integ; none with AEAD */
	uint16_t dh[PROP_MAX_ALGS];	/* enum ike_dh; ESP: PFS groups */
	uint16_t esn[PROP_MAX_ESN];	/* enum ike_esn; ESP only */
};

struct proposal_list {
	unsigned n;
	struct proposal p[PROP_LIST_MAX];
};

/*
 * Parse one proposal of len bytes (no ','). proto is PROTO_IKE or PROTO_ESP.
 * On error err holds one line naming the bad token, e.g.
 * "'3des' is not supported by ikeagent".
 */
int proposal_parse(enum ike_proto proto, const char *text, size_t len,
		   struct proposal *out, char *err, size_t errlen) MUST_CHECK;

/* Parse a ','-separated list of proposals (NUL-terminated text). */
int proposal_list_parse(enum ike_proto proto, const char *text,
			struct proposal_list *out, char *err, size_t errlen) MUST_CHECK;

/*
 * Canonical text for logs, e.g. "aes256gcm16-prfsha256-x25519"; parsing the
 * result gives the same proposal back. Order: encr, integ, prf, dh, esn
 * (esn only when it differs from the default noesn). -1 if buf is too small
 * (buf then holds a truncated, NUL-terminated prefix).
 */
int proposal_format(const struct proposal *p, char *buf, size_t len) MUST_CHECK;
/* The list joined with ", ". */
int proposal_list_format(const struct proposal_list *l, char *buf, size_t len) MUST_CHECK;

bool proposal_is_aead(const struct proposal *p);

/*
 * Canonical name of one transform, e.g. (TRANS_ENCR, ENCR_AES_GCM_16, 256)
 * -> "aes256gcm16", (TRANS_DH, DH_CURVE25519, 0) -> "x25519"; NULL if
 * unknown. key_bits is ignored for types other than TRANS_ENCR.
 */
const char *proposal_alg_name(enum ike_transform_type type, uint16_t id, uint16_t key_bits);

#endif
