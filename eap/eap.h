/*
 * EAP peer (RFC 3748) as IKEv2 carries it (RFC 7296 §2.16): the IKE SA
 * hands each EAP payload the gateway sends to eap_peer_input() and puts
 * the response it gets back into its next IKE_AUTH request. IKE already
 * retransmits and orders messages, so there are no EAP timers here.
 *
 *   gateway Request/Identity     -> Response/Identity (cfg.identity)
 *   gateway Request/<method>     -> the method's response, or Nak listing
 *                                   the methods we allow when it is not one
 *   gateway Success              -> EAP_SUCCESS once the method finished
 *                                   and authenticated the server (MSK ready)
 *   gateway Failure              -> EAP_FAIL, eap_peer_error() says why
 *
 * Knows neither IKE nor the agent: methods get what they need in
 * struct eap_cfg (OpenSSL objects for EAP-TLS, a callback that checks the
 * server's certificate the way IKE checks the gateway's).
 */
#ifndef IKEAGENT_EAP_EAP_H
#define IKEAGENT_EAP_EAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>
#include <openssl/x509.h>

#include "util/buf.h"

/* EAP Codes (RFC 3748 §4) and Types (§5, IANA) */
#define EAP_CODE_REQUEST	1
#define EAP_CODE_RESPONSE	2
#define EAP_CODE_SUCCESS	3
#define EAP_CODE_FAILURE	4
#define EAP_TYPE_IDENTITY	1
#define EAP_TYPE_NOTIFICATION	2
#define EAP_TYPE_NAK		3
#define EAP_TYPE_TLS		13
#define EAP_TYPE_MSCHAPV2	26

#define EAP_HDR_LEN	4	/* Code, Identifier, Length */
#define EAP_MSG_MAX	4096	/* our responses: an EAP-TLS fragment and headers fit */
#define EAP_MSK_MAX	64
#define EAP_IDENTITY_MAX	253
#define EAP_PASSWORD_MAX	256	/* MSCHAPv2: 256 Unicode characters (RFC 2759 §8.2) */

/* Methods we allow (eap_cfg.methods). */
#define EAP_ALLOW_MSCHAPV2	(1u << 0)
#define EAP_ALLOW_TLS		(1u << 1)

/*
 * Checks the EAP server's certificate (EAP-TLS): DER of its own
 * certificate and of the intermediates it sent. 0: trusted; -1 with a line
 * in err otherwise.
 */
typedef int (*eap_verify_fn)(void *ctx, const uint8_t *ee_der, size_t ee_len,
			     const uint8_t *const *chain_der, const size_t *chain_len, unsigned n_chain,
			     char *err, size_t errlen);

struct eap_cfg {
	const char *identity;		/* EAP identity, e.g. the user name (borrowed) */
	unsigned methods;		/* EAP_ALLOW_*; 0: none (every request is Nak'ed) */
	/* EAP-MSCHAPv2 */
	const char *user;		/* user name sent in the MSCHAPv2 response; NULL: identity */
	const uint8_t *password;	/* UTF-8, not NUL-terminated, borrowed: copy what you keep */
	size_t password_len;
	/* EAP-TLS: our certificate (and intermediates) and key, borrowed */
	X509 *cert;
	STACK_OF(X509) *chain;		/* may be NULL */
	EVP_PKEY *key;
	eap_verify_fn verify_server;	/* required for EAP-TLS */
	void *verify_ctx;
	int tls_max_version;		/* 0: TLS 1.3; TLS1_2_VERSION to stay at 1.2 */
};

enum eap_status {
	EAP_CONT,	/* our response is in out */
	EAP_SUCCESS,	/* Success accepted: the method is done and the MSK ready */
	EAP_FAIL,	/* the login ended: eap_peer_error(), eap_peer_fail_kind() */
	EAP_DROP,	/* the message is not valid now: ignored (RFC 3748 §2.1, §4) */
};

enum eap_fail_kind {
	EAP_FAIL_NONE,
	EAP_FAIL_REJECTED,	/* the server refused our credentials (password, certificate) */
	EAP_FAIL_NO_METHOD,	/* no method both sides allow */
	EAP_FAIL_SERVER,	/* the server did not prove itself (authenticator, certificate) */
	EAP_FAIL_PROTOCOL,	/* Success too early, malformed method data we cannot go on from */
	EAP_FAIL_LOCAL,		/* out of memory, crypto unavailable (MD4), bad local credential */
};

struct eap_peer;

/* The cfg is copied; the pointers in it are borrowed and must outlive the peer. */
struct eap_peer *eap_peer_new(const struct eap_cfg *cfg);
/* Wipes every secret. */
void eap_peer_free(struct eap_peer *p);
/* One EAP packet from the server; on EAP_CONT, *out_len bytes of response in out (cap >= EAP_MSG_MAX). */
enum eap_status eap_peer_input(struct eap_peer *p, const uint8_t *in, size_t len, uint8_t *out,
			       size_t cap, size_t *out_len) MUST_CHECK;
/* After EAP_SUCCESS: the MSK (RFC 7296 §2.16); -1 if the method has none (then AUTH uses SK_pi). */
int eap_peer_msk(const struct eap_peer *p, const uint8_t **msk, size_t *len) MUST_CHECK;
/* After EAP_FAIL: one line for the user, e.g. "the server rejected the password (E=691)". */
const char *eap_peer_error(const struct eap_peer *p);
enum eap_fail_kind eap_peer_fail_kind(const struct eap_peer *p);
/* The method the server chose ("MSCHAPv2", "TLS"), or NULL before one started. */
const char *eap_peer_method(const struct eap_peer *p);
/* "MSCHAPv2, TLS": the names of allowed methods, for messages. */
const char *eap_methods_str(unsigned methods, char *buf, size_t len);

#endif
