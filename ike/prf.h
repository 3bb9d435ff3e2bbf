/*
 * IKEv2 pseudorandom functions (RFC 7296 §2.13) on OpenSSL 3 EVP_MAC:
 * PRF_HMAC_SHA2_256/384/512 (RFC 4868), and prf+ built on them.
 *
 * Inputs that the RFC writes as concatenations (Ni | Nr, g^ir | Ni | Nr,
 * ...) are passed as a list of chunks so that no caller has to build a
 * temporary buffer holding secrets.
 */
#ifndef IKEAGENT_IKE_PRF_H
#define IKEAGENT_IKE_PRF_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define PRF_MAX_LEN		64	/* HMAC-SHA2-512 output */
#define PRF_PLUS_MAX_ITER	255	/* §2.13: the counter is one octet */
#define PRF_MAX_CHUNKS		8

struct prf_chunk {
	const uint8_t *p;
	size_t len;
};

/* Output length of a PRF transform ID (32, 48 or 64); 0 if unsupported. */
size_t prf_out_len(uint16_t prf_id);

/*
 * out = prf(key, data). Writes exactly prf_out_len(prf_id) bytes; cap is
 * the room in out and must be at least that.
 */
int prf(uint16_t prf_id, const uint8_t *key, size_t klen, const uint8_t *data, size_t dlen,
	uint8_t *out, size_t cap) MUST_CHECK;
/* The same over data = c[0] | c[1] | ... | c[n-1] (n <= PRF_MAX_CHUNKS). */
int prf_chunks(uint16_t prf_id, const uint8_t *key, size_t klen, const struct prf_chunk *c,
	       size_t n, uint8_t *out, size_t cap) MUST_CHECK;

/*
 * prf+ (RFC 7296 §2.13): out = T1 | T2 | ... truncated to len bytes, with
 * T1 = prf(K, S | 0x01) and Tn = prf(K, Tn-1 | S | n). Fails (and writes
 * nothing usable) when len is 0 or needs more than 255 iterations.
 */
int prf_plus(uint16_t prf_id, const uint8_t *key, size_t klen, const uint8_t *seed, size_t slen,
	     uint8_t *out, size_t len) MUST_CHECK;
/* The same with S = c[0] | ... | c[n-1] (n <= PRF_MAX_CHUNKS - 2). */
int prf_plus_chunks(uint16_t prf_id, const uint8_t *key, size_t klen, const struct prf_chunk *c,
		    size_t n, uint8_t *out, size_t len) MUST_CHECK;

/*
 * A keyed HMAC kept for reuse (one EVP_MAC_CTX, key set once), for callers
 * that MAC many messages under one key: prf+ itself and the SK payload's
 * integrity check. prf_ctx_mac writes the full prf_out_len bytes.
 */
struct prf_ctx;

struct prf_ctx *prf_ctx_new(uint16_t prf_id, const uint8_t *key, size_t klen) MUST_CHECK;
size_t prf_ctx_len(const struct prf_ctx *pc);
int prf_ctx_mac(struct prf_ctx *pc, const struct prf_chunk *c, size_t n, uint8_t *out,
		size_t cap) MUST_CHECK;
void prf_ctx_free(struct prf_ctx *pc);

#endif
