/*
 * MS-CHAPv2 crypto (RFC 2759 §8) and the MPPE master keys of RFC 3079 §3,
 * as EAP-MSCHAPv2 (eap/mschapv2.c) uses them. Pure functions: no state but
 * a private OpenSSL library context for MD4 and DES, which OpenSSL 3 keeps
 * in its legacy provider.
 *
 *   PasswordHash     = MD4(UTF-16LE(password))                      §8.3
 *   PasswordHashHash = MD4(PasswordHash)                            §8.4
 *   ChallengeHash    = SHA1(PeerChallenge | AuthChallenge | User)[0..7]  §8.2
 *   NT-Response      = DES(k1, CH) | DES(k2, CH) | DES(k3, CH),
 *                      k1|k2|k3 = PasswordHash | 5 zero octets      §8.5
 *   AuthResponse     = SHA1(SHA1(PasswordHashHash | NT-Response | Magic1)
 *                           | ChallengeHash | Magic2)               §8.7
 *   MasterKey        = SHA1(PasswordHashHash | NT-Response | Magic1)[0..15]
 *                                                      (RFC 3079 §3.4)
 *   start keys       = SHA1(MasterKey | SHSpad1 | Magic2/3 | SHSpad2)[0..15]
 *
 * Every function returns 0 or -1 (a crypto call failed: only MD4/DES can,
 * when the legacy provider is missing; mschap_crypto_error() says so).
 */
#ifndef IKEAGENT_EAP_MSCHAP_H
#define IKEAGENT_EAP_MSCHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define MSCHAP_CHALLENGE_LEN	16	/* Authenticator- and Peer-Challenge */
#define MSCHAP_CH_HASH_LEN	8	/* ChallengeHash */
#define MSCHAP_HASH_LEN		16	/* PasswordHash, PasswordHashHash, MasterKey */
#define MSCHAP_NT_RESP_LEN	24
#define MSCHAP_AUTH_LEN		20	/* the binary AuthenticatorResponse */
#define MSCHAP_AUTH_STR_LEN	42	/* "S=" + 40 uppercase hex digits */
#define MSCHAP_MSK_LEN		64
#define MSCHAP_PW_MAX_UNITS	256	/* §8.2: 0 to 256 Unicode characters */

/* What one challenge gives the peer. Secret: mschap_result_clear() it. */
struct mschap_result {
	uint8_t nt_response[MSCHAP_NT_RESP_LEN];
	uint8_t auth_response[MSCHAP_AUTH_LEN];	/* what the server's S= must say */
	uint8_t msk[MSCHAP_MSK_LEN];
};

/* The line for a crypto failure (MD4 or DES unavailable). */
const char *mschap_crypto_error(void);

/*
 * NtPasswordHash (§8.3) of a UTF-8 password, converted to UTF-16LE here.
 * -1 with a line in err for invalid UTF-8, a password over 256 UTF-16
 * units, or no MD4.
 */
int mschap_nt_password_hash(const uint8_t *pw, size_t len, uint8_t out[MSCHAP_HASH_LEN],
			    char *err, size_t errlen) MUST_CHECK;
/* HashNtPasswordHash (§8.4). */
int mschap_hash_nt_password_hash(const uint8_t hash[MSCHAP_HASH_LEN],
				 uint8_t out[MSCHAP_HASH_LEN]) MUST_CHECK;
/* ChallengeHash (§8.2); user is the user name without a domain prefix. */
int mschap_challenge_hash(const uint8_t peer_chal[MSCHAP_CHALLENGE_LEN],
			  const uint8_t auth_chal[MSCHAP_CHALLENGE_LEN], const uint8_t *user,
			  size_t user_len, uint8_t out[MSCHAP_CH_HASH_LEN]) MUST_CHECK;
/* ChallengeResponse (§8.5). */
int mschap_challenge_response(const uint8_t ch_hash[MSCHAP_CH_HASH_LEN],
			      const uint8_t pw_hash[MSCHAP_HASH_LEN],
			      uint8_t out[MSCHAP_NT_RESP_LEN]) MUST_CHECK;
/* GenerateAuthenticatorResponse (§8.7) in binary; mschap_auth_string() formats it. */
int mschap_auth_response(const uint8_t pw_hash_hash[MSCHAP_HASH_LEN],
			 const uint8_t nt_resp[MSCHAP_NT_RESP_LEN],
			 const uint8_t ch_hash[MSCHAP_CH_HASH_LEN],
			 uint8_t out[MSCHAP_AUTH_LEN]) MUST_CHECK;
/* "S=" and 40 uppercase hex digits, NUL-terminated. */
void mschap_auth_string(const uint8_t auth[MSCHAP_AUTH_LEN], char out[MSCHAP_AUTH_STR_LEN + 1]);
/*
 * CheckAuthenticatorResponse (§8.8): 0 if the 42 characters at s are
 * "S=" and the hex of auth (either case), compared in constant time.
 */
int mschap_auth_check(const uint8_t auth[MSCHAP_AUTH_LEN], const char *s, size_t len) MUST_CHECK;

/* GetMasterKey (RFC 3079 §3.4). */
int mschap_master_key(const uint8_t pw_hash_hash[MSCHAP_HASH_LEN],
		      const uint8_t nt_resp[MSCHAP_NT_RESP_LEN],
		      uint8_t out[MSCHAP_HASH_LEN]) MUST_CHECK;
/* GetAsymmetricStartKey (RFC 3079 §3.4) for 128-bit keys (16 octets). */
int mschap_start_key(const uint8_t master[MSCHAP_HASH_LEN], bool is_send, bool is_server,
		     uint8_t out[MSCHAP_HASH_LEN]) MUST_CHECK;
/* The EAP-MSCHAPv2 MSK as strongSwan derives it for IKEv2 (see mschap.c). */
int mschap_msk(const uint8_t pw_hash_hash[MSCHAP_HASH_LEN],
	       const uint8_t nt_resp[MSCHAP_NT_RESP_LEN], uint8_t out[MSCHAP_MSK_LEN]) MUST_CHECK;

/*
 * The peer's whole computation for one challenge: NT-Response, the
 * authenticator response to expect and the MSK. user is the Name the peer
 * sends; ChallengeHash uses it without a "DOMAIN\" prefix (§8.2).
 */
int mschap_peer_compute(const uint8_t pw_hash[MSCHAP_HASH_LEN],
			const uint8_t auth_chal[MSCHAP_CHALLENGE_LEN],
			const uint8_t peer_chal[MSCHAP_CHALLENGE_LEN], const uint8_t *user,
			size_t user_len, struct mschap_result *r) MUST_CHECK;
void mschap_result_clear(struct mschap_result *r);

#endif
