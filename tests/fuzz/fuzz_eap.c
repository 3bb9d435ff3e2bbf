/*
 * The EAP peer (eap/eap.c and the methods behind it) on a sequence of
 * arbitrary EAP packets, as a gateway would send them inside IKE_AUTH.
 * Every answer must be one well-formed EAP Response with the request's
 * Identifier and a Length equal to what was written; after Success or
 * Failure nothing more is taken; an MSK exists only after Success.
 *
 * Input: byte 0 picks the methods allowed (bit 0 MSCHAPv2, bit 1 TLS, the
 * latter without a certificate: its start fails), then packets, each
 * preceded by a 2-byte big-endian length.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eap/eap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t password[] = "fuzz-password";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[EAP_MSG_MAX];
	struct eap_cfg cfg = { .identity = "fuzz@example", .password = password,
			       .password_len = sizeof(password) - 1 };
	struct eap_peer *p;
	const uint8_t *msk;
	size_t at = 1, olen, mlen;
	bool over = false, success = false;

	if (size < 1)
		return 0;
	cfg.methods = data[0] & (EAP_ALLOW_MSCHAPV2 | EAP_ALLOW_TLS);
	if (!(p = eap_peer_new(&cfg)))
		return 0;
	while (at + 2 <= size) {
		size_t len = (size_t)data[at] << 8 | data[at + 1];

		at += 2;
		if (len > size - at)
			len = size - at;
		enum eap_status st = eap_peer_input(p, data + at, len, out, sizeof(out), &olen);

		if (over && st != EAP_DROP)
			abort();
		if (st == EAP_CONT) {
			if (olen < 5 || olen > EAP_MSG_MAX || out[0] != EAP_CODE_RESPONSE ||
			    out[1] != data[at + 1] || ((size_t)out[2] << 8 | out[3]) != olen)
				abort();
		} else if (olen != 0) {
			abort();
		}
		if (st == EAP_SUCCESS || st == EAP_FAIL) {
			over = true;
			success = st == EAP_SUCCESS;
			if (!success && !eap_peer_error(p)[0])
				abort();
		}
		at += len;
	}
	if (!success && eap_peer_msk(p, &msk, &mlen) == 0)
		abort();
	if (success && eap_peer_msk(p, &msk, &mlen) == 0 && (mlen == 0 || mlen > EAP_MSK_MAX))
		abort();
	eap_peer_free(p);
	return 0;
}
