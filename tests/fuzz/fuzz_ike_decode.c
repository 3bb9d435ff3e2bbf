/*
 * Fuzz target for the IKEv2 codec: decode a whole message, treat an SK
 * payload's body as if it were the decrypted inner chain (no crypto here),
 * decode every payload with its typed decoder, re-encode what decodes, and
 * check that the re-encoding decodes again and is a fixed point:
 * encode(decode(encode(decode(x)))) == encode(decode(x)).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ike/msg.h"
#include "ike/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX 70000

static uint8_t out1[OUT_MAX], out2[OUT_MAX];

/* Names are only for logs, but must cope with any value. */
static void touch_names(const struct ike_pl_any *a)
{
	size_t sum = 0;

	sum += strlen(ike_payload_name(a->type));
	if (a->type == PL_NOTIFY)
		sum += strlen(ike_notify_name(a->u.notify.type));
	if (a->type == PL_SA) {
		struct rd props = ike_sa_props(&a->u.sa), trs;
		struct ike_sa_prop p;
		struct ike_transform t;
		unsigned n = 0;

		/* the readers see exactly what the decoder counted */
		while (ike_sa_next_prop(&props, &p)) {
			unsigned k = 0;

			for (trs = p.trans; ike_sa_next_trans(&trs, &t); k++)
				sum += strlen(ike_transform_name(t.type, t.id));
			if (k != p.n_trans)
				abort();
			n++;
		}
		if (n != a->u.sa.n_prop)
			abort();
	}
	if (sum == 0)
		abort();
}

/*
 * Re-encodes every typed payload of m that decodes into one plain chain.
 * With strict, every payload must decode (a re-encoded message is all
 * valid by construction).
 */
static size_t reencode(const struct ike_msg *m, uint8_t *out, bool strict)
{
	struct ike_pl_any a;
	struct ike_mw b;
	struct wr w;
	size_t len = 0;

	wr_init(&w, out, OUT_MAX);
	if (ike_mw_begin(&b, &w, &m->hdr) < 0)
		abort();
	for (unsigned i = 0; i < m->n; i++) {
		const struct ike_pl *p = &m->pl[i];

		if (p->type == PL_SK || p->type == PL_SKF)
			continue;
		if (ike_pl_any_decode(p, &a) < 0) {
			if (strict)
				abort();
			continue;
		}
		touch_names(&a);
		/* what decodes must encode */
		if (ike_put_any(&b, &a) < 0)
			abort();
	}
	if (ike_mw_finish(&b, &len) < 0)
		abort();
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ike_msg m, m2;
	size_t len1, len2;

	if (ike_msg_decode(&m, data, size) < 0)
		return 0;
	if (m.has_sk && m.sk_inner_first != PL_NONE &&
	    ike_msg_decode_inner(&m, m.sk_inner_first, m.sk_body, m.sk_body_len) < 0 &&
	    m.n != m.sk_idx + 1)
		abort();	/* a failed inner walk must leave the outer payloads only */

	len1 = reencode(&m, out1, false);
	if (ike_msg_decode(&m2, out1, len1) < 0)
		abort();
	len2 = reencode(&m2, out2, true);
	if (len1 != len2 || memcmp(out1, out2, len1) != 0)
		abort();
	return 0;
}
