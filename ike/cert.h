/*
 * Certificate authentication for the IKE initiator: RFC 7296 §2.15 (AUTH
 * over the SignedOctets), §3.6 (CERT), §3.7 (CERTREQ), RFC 7427 (Digital
 * Signature, AUTH method 14), RFC 4754 (ECDSA methods 9/10/11).
 *
 * Objects (opaque; every _free accepts NULL):
 *   struct ike_trust      CA certificates trusted for the gateway (cert.c)
 *   struct ike_cred       our certificate (+ intermediates) and private key
 *   struct ike_peer_cert  the gateway's certificate once it verified
 *
 * Gateway certificate policy (ike_peer_cert_verify):
 *   - DER of the first CERT payload (encoding CERT_X509_SIGNATURE; the
 *     caller refuses other encodings) is the end entity; later CERT
 *     payloads are untrusted intermediates (at most IKE_CERT_MAX_CHAIN).
 *   - The chain must reach a certificate of the trust file, checked by
 *     OpenSSL's X509_verify_cert at the current time (or the time set with
 *     ike_trust_set_time). Every certificate of the trust file is an
 *     anchor, an intermediate CA too (X509_V_FLAG_PARTIAL_CHAIN, as in
 *     strongSwan's cacerts). No purpose / extended key usage is required
 *     (neither serverAuth nor id-kp-ipsecIKE). No CRL or OCSP checks.
 *   - If the end entity has a keyUsage extension, it must allow
 *     digitalSignature or nonRepudiation (RFC 4945 §5.1.3.2).
 *   - The key must be RSA >= 2048 bits, EC >= 256 bits, Ed25519 or Ed448.
 *   - The IDr payload (type + data) must be in the certificate:
 *       ID_FQDN         a SAN dNSName, ASCII case-insensitive, no wildcards
 *       ID_IPV4_ADDR    a SAN iPAddress of 4 octets
 *       ID_IPV6_ADDR    a SAN iPAddress of 16 octets
 *       ID_RFC822_ADDR  a SAN rfc822Name (local part exact, domain any case)
 *       ID_DER_ASN1_DN  the subject DN (X509_NAME_cmp: canonical equality)
 *     There is no fallback to the subject CN. Other ID types are refused.
 *     Whether the IDr is the identity the user expects is the caller's
 *     comparison (ike_id_equal); this only binds the IDr to the key.
 *
 * Errors are one line in err (never a secret), e.g.
 *   "gateway certificate: unable to get local issuer certificate (CN=gw.ikeagent.test)"
 *   "gateway certificate does not contain identity fqdn:gw.example.com"
 *   "AUTH signature algorithm sha1WithRSAEncryption is not accepted (SHA1)"
 */
#ifndef IKEAGENT_IKE_CERT_H
#define IKEAGENT_IKE_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>
#include <openssl/x509.h>

#include "util/buf.h"

/*
 * Limits. Each is far above what real setups use, and hitting one is an
 * error that names it, never a silent cut:
 *
 * IKE_TRUST_MAX_CA: CA certificates in the trust file ([auth] ca). A VPN
 *   needs one to three; Debian's whole ca-certificates bundle has about 140
 *   roots. Every CA is one 20-octet hash in our CERTREQ (§3.7): 256 CAs
 *   are 5120 octets, which IKE_AUTH always has room for (the budget is
 *   checked at compile time in ike/sa_auth.c). More: ike_trust_load fails
 *   with "CA file <path> has <n> certificates, ikeagent keeps at most 256
 *   (IKE_TRUST_MAX_CA)".
 * IKE_CERT_MAX_CHAIN: the gateway's intermediates (CERT payloads after the
 *   first). Real chains have one to three. A gateway that sends more is
 *   logged by name and verified with the first IKE_CERT_MAX_CHAIN (RFC 7296
 *   §3.6 has the chain in order, its own certificate first); if the path
 *   needed a dropped one, the failure says so.
 * IKE_CRED_MAX_CERTS, IKE_CRED_MAX_BYTES: our certificate file: our
 *   certificate and up to four intermediates, at most 32 KiB of DER in all
 *   (an RSA-4096 certificate is about 1.5 KiB). Both keep our IKE_AUTH
 *   inside one IKE message (we send no RFC 7383 fragments); more is an
 *   error of ike_cred_load naming the limit.
 */
#define IKE_TRUST_MAX_CA	256
#define IKE_TRUST_CERTREQ_MAX	(IKE_TRUST_MAX_CA * 20)	/* octets of CERTREQ data, SHA-1 each */
#define IKE_CERT_MAX_CHAIN	16
#define IKE_CRED_MAX_CERTS	5
#define IKE_CRED_MAX_BYTES	32768
#define IKE_SIG_HASH_N		4

/* ---- Trust store ---- */

struct ike_trust;

/* PEM file with one or more CA certificates (other PEM blocks are skipped). */
struct ike_trust *ike_trust_load(const char *ca_path, char *err, size_t errlen);
void ike_trust_free(struct ike_trust *t);
/* Verify at time `at` instead of now (0: now again). For tests and replays. */
void ike_trust_set_time(struct ike_trust *t, time_t at);
/*
 * CERTREQ Certification Authority data (§3.7): per CA the SHA-1 of its
 * SubjectPublicKeyInfo, 20 octets each, concatenated; at most
 * IKE_TRUST_CERTREQ_MAX octets. cap too small: -1.
 */
int ike_trust_certreq(const struct ike_trust *t, uint8_t *out, size_t cap,
		      size_t *len) MUST_CHECK;

/* ---- Our credential ---- */

struct ike_cred;

/*
 * cert_path: PEM, our certificate first, then intermediates to send in
 * further CERT payloads (IKE_CRED_MAX_CERTS and IKE_CRED_MAX_BYTES in all).
 * key_path: unencrypted PEM private key (PKCS#8 or traditional) matching
 * the certificate; never prompts.
 */
struct ike_cred *ike_cred_load(const char *cert_path, const char *key_path, char *err,
			       size_t errlen);
void ike_cred_free(struct ike_cred *c);
/* DER of our certificate (idx 0) and of the intermediates (1..); -1 past the end. */
int ike_cred_cert_der(const struct ike_cred *c, unsigned idx, const uint8_t **der,
		      size_t *len) MUST_CHECK;
/*
 * The same credential as OpenSSL objects (EAP-TLS): *cert and *chain (the
 * intermediates, NULL if none) are new: free them with X509_free and
 * sk_X509_pop_free(chain, X509_free); the key is borrowed. -1 on failure.
 */
int ike_cred_x509(const struct ike_cred *c, X509 **cert, STACK_OF(X509) **chain) MUST_CHECK;
EVP_PKEY *ike_cred_key(const struct ike_cred *c);

/* ---- The gateway's certificate ---- */

struct ike_peer_cert;

/*
 * chain_der: the intermediates, n_chain <= IKE_CERT_MAX_CHAIN (more is a
 * caller error: keep the first ones). *out is set only on success; free it
 * with ike_peer_cert_free.
 */
int ike_peer_cert_verify(const struct ike_trust *t, const uint8_t *ee_der, size_t ee_len,
			 const uint8_t *const *chain_der, const size_t *chain_len,
			 unsigned n_chain, uint8_t id_type, const uint8_t *id, size_t id_len,
			 struct ike_peer_cert **out, char *err, size_t errlen) MUST_CHECK;
void ike_peer_cert_free(struct ike_peer_cert *pc);
/* Subject DN (RFC 2253, escaped) for logs. */
const char *ike_peer_cert_subject(const struct ike_peer_cert *pc, char *buf, size_t len);

/* ---- AUTH payload signatures (sig.c) ---- */

/*
 * The hashes we verify RFC 7427 signatures with, in the order to announce
 * in our SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4): SHA2-256,
 * SHA2-384, SHA2-512, Identity (RFC 8420, EdDSA).
 */
extern const uint16_t ike_sig_hashes[IKE_SIG_HASH_N];

/*
 * Verify the gateway's AUTH payload over signed_octets (the
 * ResponderSignedOctets of auth_signed_octets()). Methods:
 *   14 (RFC 7427): sha{256,384,512}WithRSAEncryption, RSASSA-PSS (SHA-2
 *       hash and MGF1, any salt length, trailer 1), ecdsa-with-SHA{256,384,
 *       512}, Ed25519, Ed448; SHA-1 algorithms are refused (see _opt);
 *   1:  RSA PKCS#1 v1.5 with SHA-1 (RFC 7296 §3.8, the legacy mandatory one):
 *       refused (see _opt);
 *   9/10/11 (RFC 4754): ECDSA P-256/SHA-256, P-384/SHA-384, P-521/SHA-512,
 *       signature r | s.
 * The algorithm's key type (and for 9/10/11 the curve) must be the
 * certificate's. 0 if the signature verifies.
 */
int ike_sig_verify(const struct ike_peer_cert *pc, uint8_t auth_method, const uint8_t *auth_data,
		   size_t auth_len, const uint8_t *signed_octets, size_t so_len, char *err,
		   size_t errlen) MUST_CHECK;
/*
 * The same; allow_sha1 ([auth] allow_sha1) also accepts method 1 and, in
 * method 14, sha1WithRSAEncryption and ecdsa-with-SHA1. MD5 never.
 */
int ike_sig_verify_opt(const struct ike_peer_cert *pc, uint8_t auth_method,
		       const uint8_t *auth_data, size_t auth_len, const uint8_t *signed_octets,
		       size_t so_len, bool allow_sha1, char *err, size_t errlen) MUST_CHECK;

/*
 * Our AUTH payload: always method 14 (*auth_method = AUTH_DIGITAL_SIGNATURE),
 * auth_data = length | AlgorithmIdentifier | signature. hash_alg: one of the
 * gateway's SIGNATURE_HASH_ALGORITHMS (see ike_sig_pick_hash), or 0 for the
 * key's default: RSA PKCS#1 v1.5 with SHA-256, ECDSA with SHA-256/384/512 by
 * curve size, Ed25519/Ed448 pure (HASH_IDENTITY).
 */
int ike_sig_sign(const struct ike_cred *c, uint16_t hash_alg, const uint8_t *signed_octets,
		 size_t so_len, uint8_t *auth_data, size_t cap, size_t *len,
		 uint8_t *auth_method, char *err, size_t errlen) MUST_CHECK;

/*
 * The hash to sign with given the gateway's SIGNATURE_HASH_ALGORITHMS list;
 * 0 if none fits our key (then method 14 cannot be used).
 */
uint16_t ike_sig_pick_hash(const struct ike_cred *c, const uint16_t *peer, unsigned n);

/* "RFC 7427 sha256WithRSAEncryption", "ECDSA P-256 SHA-256 (RFC 4754)", ... for logs. */
const char *ike_sig_alg_str(uint8_t auth_method, const uint8_t *auth_data, size_t auth_len,
			    char *buf, size_t len);

/* ---- Shared by cert.c and sig.c only ---- */

EVP_PKEY *ike_peer_cert_pkey(const struct ike_peer_cert *pc);
EVP_PKEY *ike_cred_pkey(const struct ike_cred *c);
/* (sig.c) 0 if the key type and size are acceptable; else -1 with "<who>: <reason>" in err. */
int ike_cert_key_ok(EVP_PKEY *k, const char *who, char *err, size_t errlen) MUST_CHECK;
/* printf into err (if any) and clear OpenSSL's error queue; returns -1. */
int ike_cert_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
