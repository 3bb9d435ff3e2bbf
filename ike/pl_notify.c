/*
 * Notify (RFC 7296 §3.10) and Delete (§3.11) payloads.
 */
#include "ike/msg.h"

#include <string.h>

#define DEL_ESP_SPI_SIZE 4

struct notify_rule {
	uint16_t type;
	uint16_t min, max;	/* notification data length */
	bool even;		/* a list of 2-octet values */
};

/* Notifies whose data has a fixed shape. */
static const struct notify_rule notify_rules[] = {
	/* §3.10.1: "the Notification Data contains the one-octet payload type" */
	{ N_UNSUPPORTED_CRITICAL_PAYLOAD, 1, 1, false },
	/* §3.10.1: two-octet accepted DH group */
	{ N_INVALID_KE_PAYLOAD, 2, 2, false },
	/* §2.23: SHA-1 digests */
	{ N_NAT_DETECTION_SOURCE_IP, IKE_NAT_DETECTION_LEN, IKE_NAT_DETECTION_LEN, false },
	{ N_NAT_DETECTION_DESTINATION_IP, IKE_NAT_DETECTION_LEN, IKE_NAT_DETECTION_LEN, false },
	/* §3.10.1 COOKIE: "MUST be between 1 and 64 octets in length (inclusive)" */
	{ N_COOKIE, 1, IKE_COOKIE_MAX, false },
	{ N_SET_WINDOW_SIZE, 4, 4, false },
	/* RFC 4555 §3.6: an address each */
	{ N_ADDITIONAL_IP4_ADDRESS, 4, 4, false },
	{ N_ADDITIONAL_IP6_ADDRESS, 16, 16, false },
	/* RFC 7427 §4: list of 2-octet hash algorithm identifiers */
	{ N_SIGNATURE_HASH_ALGORITHMS, 2, UINT16_MAX, true },
};

static int notify_check(const struct ike_pl_notify *n)
{
	if (n->type == 0)
		return ike_codec_bad("notify: type 0");
	if (n->len && !n->data)
		return ike_codec_bad("notify: data length without data");
	/*
	 * §3.10 Protocol ID: "For notifications concerning Child SAs, this
	 * field MUST contain either (2) to indicate AH or (3) to indicate ESP.
	 * ... If the SPI field is empty, this field MUST be sent as zero and
	 * MUST be ignored on receipt." SPIs are 4 octets for AH/ESP, 8 for IKE.
	 */
	switch (n->spi_size) {
	case 0:
		break;
	case 4:
		if (n->proto != PROTO_AH && n->proto != PROTO_ESP)
			return ike_codec_bad("notify: 4-octet SPI but not AH/ESP");
		break;
	case 8:
		if (n->proto != PROTO_IKE)
			return ike_codec_bad("notify: 8-octet SPI but not IKE");
		break;
	default:
		return ike_codec_bad("notify: bad SPI size");
	}
	if (n->type == N_REKEY_SA && n->spi_size != 4)
		return ike_codec_bad("notify: REKEY_SA without a Child SA SPI");
	for (size_t i = 0; i < sizeof(notify_rules) / sizeof(notify_rules[0]); i++) {
		const struct notify_rule *rule = &notify_rules[i];

		if (rule->type != n->type)
			continue;
		if (n->len < rule->min || n->len > rule->max || (rule->even && n->len % 2))
			return ike_codec_bad("notify: wrong data length for its type");
	}
	return 0;
}

int ike_pl_notify_decode(const struct ike_pl *p, struct ike_pl_notify *n)
{
	struct rd r;

	memset(n, 0, sizeof(*n));
	if (p->type != PL_NOTIFY)
		return ike_codec_bad("notify: not a Notify payload");
	rd_init(&r, p->body, p->len);
	if (rd_u8(&r, &n->proto) < 0 || rd_u8(&r, &n->spi_size) < 0 || rd_u16(&r, &n->type) < 0)
		return ike_codec_bad("notify: truncated header");
	if (n->spi_size > IKE_MAX_SPI)
		return ike_codec_bad("notify: bad SPI size");
	if (rd_bytes(&r, n->spi, n->spi_size) < 0)
		return ike_codec_bad("notify: truncated SPI");
	if (n->spi_size == 0)
		n->proto = PROTO_NONE;	/* "MUST be ignored on receipt" */
	n->len = (uint16_t)rd_left(&r);
	if (rd_ptr(&r, n->len, &n->data) < 0)
		return -1;
	return notify_check(n);
}

int ike_put_notify(struct ike_mw *b, const struct ike_pl_notify *n)
{
	struct wr *w = b->w;

	if (notify_check(n) < 0)
		return -1;
	if (ike_mw_open(b, PL_NOTIFY, false) < 0)
		return -1;
	if (wr_u8(w, n->spi_size ? n->proto : PROTO_NONE) < 0 || wr_u8(w, n->spi_size) < 0 ||
	    wr_u16(w, n->type) < 0 || wr_bytes(w, n->spi, n->spi_size) < 0 ||
	    wr_bytes(w, n->data, n->len) < 0)
		return -1;
	return ike_mw_close(b);
}

/*
 * §3.11 SPI Size: "It MUST be zero for IKE (SPI is in message header) or
 * four for AH and ESP." Deleting the IKE SA names no SPI; an AH/ESP
 * Delete names at least one.
 */
static int delete_check(const struct ike_pl_delete *d, bool decoding)
{
	switch (d->proto) {
	case PROTO_IKE:
		if (d->spi_size != 0 || d->n_spi != 0)
			return ike_codec_bad("delete: IKE with SPI size or SPIs");
		return 0;
	case PROTO_AH:
	case PROTO_ESP:
		if (d->spi_size != DEL_ESP_SPI_SIZE)
			return ike_codec_bad("delete: AH/ESP SPI size is not 4");
		/* decoded: the length bounds the count; ours fit spi[] or come from a decode */
		if (d->n_spi == 0 || (!decoding && !d->spis && d->n_spi > IKE_MAX_DELETE_SPIS))
			return ike_codec_bad("delete: no SPI, or too many");
		return 0;
	default:
		return ike_codec_bad("delete: bad protocol id");
	}
}

int ike_pl_delete_decode(const struct ike_pl *p, struct ike_pl_delete *d)
{
	struct rd r;

	memset(d, 0, sizeof(*d));
	if (p->type != PL_DELETE)
		return ike_codec_bad("delete: not a Delete payload");
	rd_init(&r, p->body, p->len);
	if (rd_u8(&r, &d->proto) < 0 || rd_u8(&r, &d->spi_size) < 0 || rd_u16(&r, &d->n_spi) < 0)
		return ike_codec_bad("delete: truncated header");
	if (delete_check(d, true) < 0)
		return -1;
	/* the SPIs fill the rest exactly: count * size == what is left */
	if ((size_t)d->n_spi * d->spi_size != rd_left(&r))
		return ike_codec_bad("delete: SPI count does not match the length");
	d->spis = rd_cur(&r);
	for (unsigned i = 0; i < d->n_spi && i < IKE_MAX_DELETE_SPIS; i++) {
		if (rd_u32(&r, &d->spi[i]) < 0)
			return -1;
	}
	return 0;
}

uint32_t ike_delete_spi(const struct ike_pl_delete *d, unsigned i)
{
	if (i >= d->n_spi)
		return 0;
	return d->spis ? get_be32(d->spis + 4u * i) : i < IKE_MAX_DELETE_SPIS ? d->spi[i] : 0;
}

int ike_put_delete(struct ike_mw *b, const struct ike_pl_delete *d)
{
	struct wr *w = b->w;

	if (delete_check(d, false) < 0)
		return -1;
	if (ike_mw_open(b, PL_DELETE, false) < 0)
		return -1;
	if (wr_u8(w, d->proto) < 0 || wr_u8(w, d->spi_size) < 0 || wr_u16(w, d->n_spi) < 0)
		return -1;
	for (unsigned i = 0; i < d->n_spi; i++) {
		if (wr_u32(w, ike_delete_spi(d, i)) < 0)
			return -1;
	}
	return ike_mw_close(b);
}
