/*
 * Configuration payload (RFC 7296 §3.15).
 */
#include "ike/msg.h"

#include <string.h>

enum cp_len_rule {
	CP_LEN_ANY,	/* any length (text, unknown attributes) */
	CP_LEN_FIXED,	/* 0 (a request) or exactly len */
	CP_LEN_EVEN,	/* a list of 2-octet values */
};

struct cp_rule {
	uint16_t type;
	uint8_t rule;
	uint8_t len;
};

/* §3.15.1 attribute table ("Length: 0 or 4 octets" etc.), RFC 8598 for DNS domains */
static const struct cp_rule cp_rules[] = {
	{ INTERNAL_IP4_ADDRESS, CP_LEN_FIXED, 4 },
	{ INTERNAL_IP4_NETMASK, CP_LEN_FIXED, 4 },
	{ INTERNAL_IP4_DNS, CP_LEN_FIXED, 4 },
	{ INTERNAL_IP4_NBNS, CP_LEN_FIXED, 4 },
	{ INTERNAL_IP4_DHCP, CP_LEN_FIXED, 4 },
	{ APPLICATION_VERSION, CP_LEN_ANY, 0 },
	{ INTERNAL_IP6_ADDRESS, CP_LEN_FIXED, 17 },	/* address + prefix length */
	{ INTERNAL_IP6_DNS, CP_LEN_FIXED, 16 },
	{ INTERNAL_IP6_DHCP, CP_LEN_FIXED, 16 },
	{ INTERNAL_IP4_SUBNET, CP_LEN_FIXED, 8 },	/* address + netmask */
	{ SUPPORTED_ATTRIBUTES, CP_LEN_EVEN, 0 },
	{ INTERNAL_IP6_SUBNET, CP_LEN_FIXED, 17 },
	{ INTERNAL_DNS_DOMAIN, CP_LEN_ANY, 0 },
};

static const struct cp_rule *cp_rule_of(uint16_t type)
{
	for (size_t i = 0; i < sizeof(cp_rules) / sizeof(cp_rules[0]); i++) {
		if (cp_rules[i].type == type)
			return &cp_rules[i];
	}
	return NULL;
}

/* Length and value rules for one attribute, on decode and on encode. */
static int attr_check(const struct ike_cp_attr *a)
{
	const struct cp_rule *rule = cp_rule_of(a->type);

	if (a->type > IKE_CFG_ATTR_TYPE_MASK)
		return ike_codec_bad("cp: attribute type above 15 bits");
	if (a->len && !a->val)
		return ike_codec_bad("cp: attribute without value");
	if (!rule)
		return 0;	/* unknown: kept as is, the caller ignores it */
	switch (rule->rule) {
	case CP_LEN_FIXED:
		if (a->len != 0 && a->len != rule->len)
			return ike_codec_bad("cp: wrong attribute length");
		break;
	case CP_LEN_EVEN:
		if (a->len % 2)
			return ike_codec_bad("cp: odd attribute list length");
		break;
	default:
		break;
	}
	/* IPv6 address/subnet: 16 octets then a prefix length of 0..128 */
	if ((a->type == INTERNAL_IP6_ADDRESS || a->type == INTERNAL_IP6_SUBNET) &&
	    a->len == 17 && a->val[16] > 128)
		return ike_codec_bad("cp: IPv6 prefix length above 128");
	return 0;
}

static int cfg_type_ok(uint8_t t)
{
	return t >= CFG_REQUEST && t <= CFG_ACK ? 0 : ike_codec_bad("cp: unknown CFG type");
}

int ike_pl_cp_decode(const struct ike_pl *p, struct ike_pl_cp *cp)
{
	struct rd r;

	memset(cp, 0, sizeof(*cp));
	if (p->type != PL_CP)
		return ike_codec_bad("cp: not a CP payload");
	rd_init(&r, p->body, p->len);
	if (rd_u8(&r, &cp->cfg_type) < 0 || rd_skip(&r, 3) < 0)
		return ike_codec_bad("cp: truncated header");
	if (cfg_type_ok(cp->cfg_type) < 0)
		return -1;
	while (rd_left(&r) > 0) {
		struct ike_cp_attr a;
		uint16_t type;

		if (rd_u16(&r, &type) < 0 || rd_u16(&r, &a.len) < 0)
			return ike_codec_bad("cp: truncated attribute");
		/* §3.15.1: "Reserved (1 bit) - This bit MUST be set to zero
		 * and MUST be ignored on receipt." */
		a.type = type & IKE_CFG_ATTR_TYPE_MASK;
		if (rd_ptr(&r, a.len, &a.val) < 0)
			return ike_codec_bad("cp: attribute longer than payload");
		if (attr_check(&a) < 0)
			return -1;
		/* beyond IKE_MAX_CP_ATTRS: checked and counted, not kept (the caller logs it) */
		if (cp->n < IKE_MAX_CP_ATTRS)
			cp->attr[cp->n++] = a;
		cp->n_total++;
	}
	return 0;
}

int ike_put_cp(struct ike_mw *b, const struct ike_pl_cp *cp)
{
	struct wr *w = b->w;

	if (cfg_type_ok(cp->cfg_type) < 0)
		return -1;
	if (cp->n > IKE_MAX_CP_ATTRS)
		return ike_codec_bad("cp: too many attributes");
	for (unsigned i = 0; i < cp->n; i++) {
		if (attr_check(&cp->attr[i]) < 0)
			return -1;
	}
	if (ike_mw_open(b, PL_CP, false) < 0)
		return -1;
	if (wr_u8(w, cp->cfg_type) < 0 || wr_zero(w, 3) < 0)
		return -1;
	for (unsigned i = 0; i < cp->n; i++) {
		const struct ike_cp_attr *a = &cp->attr[i];

		if (wr_u16(w, a->type) < 0 || wr_u16(w, a->len) < 0 ||
		    wr_bytes(w, a->val, a->len) < 0)
			return -1;
	}
	return ike_mw_close(b);
}
