/*
 * EAP-MSCHAPv2 (eap/mschapv2.c) fed a sequence of request Type-Data as the
 * gateway would send them, user testuser / password testpass-123.
 *
 * Input: 16 octets of Peer-Challenge (so that a captured Challenge and
 * Success pair, tests/fixtures/eap_mschapv2_*, reaches the verified end),
 * then frames of a 2-octet big-endian length and that many octets (the
 * last one cut short by the end of the input).
 *
 * Checked on every request: nothing written unless we reply; a reply's
 * shape (Response: 54 + user octets, OpCode 2, MS-Length; Success and
 * Failure Responses: the OpCode alone); a failure says why; done() and
 * msk() agree; nothing is answered after done or a failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eap/method.h"
#include "eap/mschapv2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define USER	"testuser"
#define PASS	"testpass-123"
#define MAX_FRAMES	16

#define CHECK(c)                                                                     \
	do {                                                                         \
		if (!(c)) {                                                          \
			fprintf(stderr, "fuzz_eap_mschapv2: %s:%d: %s\n", __FILE__,  \
				__LINE__, #c);                                       \
			abort();                                                     \
		}                                                                    \
	} while (0)

static void check_state(void *st)
{
	uint8_t msk[EAP_MSK_MAX];
	size_t mlen = 0;
	int rc = eap_method_mschapv2.msk(st, msk, &mlen);

	CHECK(eap_method_mschapv2.done(st) ? rc == 0 && mlen == 64 : rc == -1);
}

static void check_reply(const uint8_t *in, const uint8_t *out, size_t len)
{
	CHECK(len >= 1);
	switch (in[0]) {
	case 1:	/* Challenge -> Response */
		CHECK(len == 4 + 1 + 49 + strlen(USER));
		CHECK(out[0] == 2 && out[1] == in[1] && get_be16(out + 2) == len && out[4] == 49);
		CHECK(memcmp(out + len - strlen(USER), USER, strlen(USER)) == 0);
		break;
	case 3:
	case 4:
		CHECK(len == 1 && out[0] == in[0]);
		break;
	default:
		CHECK(!"a reply to an opcode we do not take");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[EAP_MSG_MAX];
	struct eap_cfg cfg = { .identity = USER, .password = (const uint8_t *)PASS,
			       .password_len = strlen(PASS), .methods = EAP_ALLOW_MSCHAPV2 };
	struct eap_merr e = { 0 };
	bool ended = false;
	void *st;

	if (size < 16)
		return 0;
	st = eap_method_mschapv2.start(&cfg, &e);
	CHECK(st != NULL);
	eap_mschapv2_fix_peer_challenge(st, data);
	data += 16;
	size -= 16;
	for (int f = 0; f < MAX_FRAMES && size >= 2; f++) {
		size_t len = get_be16(data);
		const uint8_t *p = data + 2;
		enum eap_mstatus rc;
		struct wr w;

		size -= 2;
		if (len > size)
			len = size;
		data = p + len;
		size -= len;
		/* a copy of its own, so that ASan sees any read past the end */
		uint8_t *in = malloc(len ? len : 1);

		CHECK(in != NULL);
		memcpy(in, p, len);
		memset(&e, 0, sizeof(e));
		wr_init(&w, out, sizeof(out));
		rc = eap_method_mschapv2.process(st, (uint8_t)f, in, len, &w, &e);
		switch (rc) {
		case EAP_M_REPLY:
			CHECK(!ended);
			check_reply(in, out, wr_len(&w));
			break;
		case EAP_M_DROP:
			CHECK(wr_len(&w) == 0);
			break;
		case EAP_M_FAIL:
			CHECK(!ended && e.kind != EAP_FAIL_NONE && e.text[0]);
			ended = true;
			break;
		}
		if (rc == EAP_M_REPLY && in[0] == 4) {	/* a Failure answered: the reason is kept */
			enum eap_fail_kind kind = EAP_FAIL_NONE;
			const char *why = eap_method_mschapv2.why_failed(st, &kind);

			CHECK(why && kind == EAP_FAIL_REJECTED);
		}
		ended |= eap_method_mschapv2.done(st) || (rc == EAP_M_REPLY && in[0] == 4);
		free(in);
		check_state(st);
	}
	eap_method_mschapv2.free(st);
	return 0;
}
