#include "ike/proposal.h"
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* One algorithm name. The first name of each (type, id, bits) is canonical. */
struct alg {
	const char *name;
	uint8_t type;		/* enum ike_transform_type */
	uint16_t id;
	uint16_t bits;		/* encr key length */
	bool aead;
};

static const struct alg algs[] = {
	{ "aes128", TRANS_ENCR, ENCR_AES_CBC, 128, false },
	{ "aes192", TRANS_ENCR, ENCR_AES_CBC, 192, false },
	{ "aes256", TRANS_ENCR, ENCR_AES_CBC, 256, false },
	{ "aes", TRANS_ENCR, ENCR_AES_CBC, 128, false },
	{ "aes128gcm16", TRANS_ENCR, ENCR_AES_GCM_16, 128, true },
	{ "aes192gcm16", TRANS_ENCR, ENCR_AES_GCM_16, 192, true },
	{ "aes256gcm16", TRANS_ENCR, ENCR_AES_GCM_16, 256, true },
	{ "aes128gcm128", TRANS_ENCR, ENCR_AES_GCM_16, 128, true },
	{ "aes192gcm128", TRANS_ENCR, ENCR_AES_GCM_16, 192, true },
	{ "aes256gcm128", TRANS_ENCR, ENCR_AES_GCM_16, 256, true },
	{ "chacha20poly1305", TRANS_ENCR, ENCR_CHACHA20_POLY1305, 0, true },
	{ "sha256", TRANS_INTEG, AUTH_HMAC_SHA2_256_128, 0, false },
	{ "sha384", TRANS_INTEG, AUTH_HMAC_SHA2_384_192, 0, false },
	{ "sha512", TRANS_INTEG, AUTH_HMAC_SHA2_512_256, 0, false },
	{ "sha2_256", TRANS_INTEG, AUTH_HMAC_SHA2_256_128, 0, false },
	{ "sha2_384", TRANS_INTEG, AUTH_HMAC_SHA2_384_192, 0, false },
	{ "sha2_512", TRANS_INTEG, AUTH_HMAC_SHA2_512_256, 0, false },
	{ "prfsha256", TRANS_PRF, PRF_HMAC_SHA2_256, 0, false },
	{ "prfsha384", TRANS_PRF, PRF_HMAC_SHA2_384, 0, false },
	{ "prfsha512", TRANS_PRF, PRF_HMAC_SHA2_512, 0, false },
	{ "x25519", TRANS_DH, DH_CURVE25519, 0, false },
	{ "curve25519", TRANS_DH, DH_CURVE25519, 0, false },
	{ "ecp256", TRANS_DH, DH_ECP_256, 0, false },
	{ "ecp384", TRANS_DH, DH_ECP_384, 0, false },
	{ "modp2048", TRANS_DH, DH_MODP_2048, 0, false },
	{ "noesn", TRANS_ESN, ESN_NO, 0, false },
	{ "esn", TRANS_ESN, ESN_YES, 0, false },
};

/* Names strongSwan knows that ikeagent deliberately does not implement. */
static const char *const unsupported[] = {
	"3des", "des", "blowfish", "cast128", "null", "aes128ctr", "aes192ctr", "aes256ctr",
	"aes128ccm8", "aes128ccm12", "aes128ccm16", "aes192ccm8", "aes192ccm12",
	"aes192ccm16", "aes256ccm8", "aes256ccm12", "aes256ccm16", "aes128gcm8",
	"aes128gcm12", "aes192gcm8", "aes192gcm12", "aes256gcm8", "aes256gcm12",
	"aes128gmac", "aes192gmac", "aes256gmac", "camellia128", "camellia192",
	"camellia256", "md5", "md5_128", "sha1", "sha", "sha1_160", "sha256_96",
	"aesxcbc", "aescmac", "prfmd5", "prfsha1", "prfaesxcbc", "prfaescmac",
	"modp768", "modp1024", "modp1536", "modp3072", "modp4096", "modp6144",
	"modp8192", "modp1024s160", "modp2048s224", "modp2048s256", "ecp192",
	"ecp224", "ecp521", "ecp224bp", "ecp256bp", "ecp384bp", "ecp512bp",
	"x448", "curve448", "none",
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))


static const struct alg *alg_lookup(const char *name)
{
	for (size_t i = 0; i < NELEMS(algs); i++)
		if (strcasecmp(algs[i].name, name) == 0)
			return &algs[i];
	return NULL;
}

static bool is_unsupported(const char *name)
{
	for (size_t i = 0; i < NELEMS(unsupported); i++)
		if (strcasecmp(unsupported[i], name) == 0)
			return true;
	return false;
}

const char *proposal_alg_name(enum ike_transform_type type, uint16_t id, uint16_t key_bits)
{
	for (size_t i = 0; i < NELEMS(algs); i++) {
		if (algs[i].type != type || algs[i].id != id)
			continue;
		if (type == TRANS_ENCR && algs[i].bits != key_bits)
			continue;
		return algs[i].name;
	}
	return NULL;
}

static bool encr_is_aead(uint16_t id)
{
	return id == ENCR_AES_GCM_16 || id == ENCR_CHACHA20_POLY1305;
}

bool proposal_is_aead(const struct proposal *p)
{
	return p->n_encr > 0 && encr_is_aead(p->encr[0].id);
}

/* Append id to list (count n, capacity cap); -1 if it is there already or full. */
static int add_id(uint16_t *list, uint8_t *n, size_t cap, uint16_t id, bool *dup)
{
	*dup = false;
	for (unsigned i = 0; i < *n; i++) {
		if (list[i] == id) {
			*dup = true;
			return -1;
		}
	}
	if (*n >= cap)
		return -1;
	list[(*n)++] = id;
	return 0;
}

static int add_encr(struct proposal *p, const struct alg *a, bool *dup)
{
	*dup = false;
	for (unsigned i = 0; i < p->n_encr; i++) {
		if (p->encr[i].id == a->id && p->encr[i].key_bits == a->bits) {
			*dup = true;
			return -1;
		}
	}
	if (p->n_encr >= PROP_MAX_ALGS)
		return -1;
	p->encr[p->n_encr].id = a->id;
	p->encr[p->n_encr].key_bits = a->bits;
	p->n_encr++;
	return 0;
}

static int add_alg(struct proposal *p, const struct alg *a, bool *dup)
{
	switch (a->type) {
	case TRANS_ENCR:
		return add_encr(p, a, dup);
	case TRANS_PRF:
		return add_id(p->prf, &p->n_prf, PROP_MAX_ALGS, a->id, dup);
	case TRANS_INTEG:
		return add_id(p->integ, &p->n_integ, PROP_MAX_ALGS, a->id, dup);
	case TRANS_DH:
		return add_id(p->dh, &p->n_dh, PROP_MAX_ALGS, a->id, dup);
	default:
		return add_id(p->esn, &p->n_esn, PROP_MAX_ESN, a->id, dup);
	}
}

/* Check and add one token; name is NUL-terminated. */
static int take_token(struct proposal *p, const char *name, char *err, size_t errlen)
{
	const struct alg *a = alg_lookup(name);
	const char *pname = p->proto == PROTO_IKE ? "ike" : "esp";
	bool dup;

	if (!a) {
		if (is_unsupported(name))
			(void)err_set(err, errlen, "'%s' is not supported by ikeagent", name);
		else
			(void)err_set(err, errlen, "unknown algorithm '%s'", name);
		return -1;
	}
	if (a->type == TRANS_PRF && p->proto == PROTO_ESP) {
		(void)err_set(err, errlen, "'%s': esp proposals have no prf", name);
		return -1;
	}
	if (a->type == TRANS_ESN && p->proto == PROTO_IKE) {
		(void)err_set(err, errlen, "'%s' is only valid in esp proposals", name);
		return -1;
	}
	if (add_alg(p, a, &dup) < 0) {
		if (dup)
			(void)err_set(err, errlen, "'%s' appears twice in one %s proposal", name, pname);
		else
			(void)err_set(err, errlen, "too many algorithms like '%s' in one proposal (max %d)",
			       name, a->type == TRANS_ESN ? PROP_MAX_ESN : PROP_MAX_ALGS);
		return -1;
	}
	return 0;
}

/* The prf strongSwan pairs with an integrity algorithm. */
static uint16_t prf_for_integ(uint16_t integ)
{
	switch (integ) {
	case AUTH_HMAC_SHA2_384_192:
		return PRF_HMAC_SHA2_384;
	case AUTH_HMAC_SHA2_512_256:
		return PRF_HMAC_SHA2_512;
	default:
		return PRF_HMAC_SHA2_256;
	}
}

static const char *encr_name(const struct prop_encr *e)
{
	return proposal_alg_name(TRANS_ENCR, e->id, e->key_bits);
}

/* Structural rules once every token is in; text/len only for messages. */
static int check_proposal(struct proposal *p, const char *text, int len,
			  char *err, size_t errlen)
{
	bool aead;
	bool dup;

	if (p->n_encr == 0) {
		(void)err_set(err, errlen, "proposal '%.*s' has no encryption algorithm", len, text);
		return -1;
	}
	aead = encr_is_aead(p->encr[0].id);
	for (unsigned i = 1; i < p->n_encr; i++) {
		if (encr_is_aead(p->encr[i].id) != aead) {
			(void)err_set(err, errlen, "'%s' and '%s' cannot share a proposal (AEAD and "
			       "non-AEAD); use two proposals", encr_name(&p->encr[0]),
			       encr_name(&p->encr[i]));
			return -1;
		}
	}
	if (aead && p->n_integ) {
		(void)err_set(err, errlen, "'%s' cannot be combined with AEAD '%s'",
		       proposal_alg_name(TRANS_INTEG, p->integ[0], 0), encr_name(&p->encr[0]));
		return -1;
	}
	if (!aead && !p->n_integ) {
		(void)err_set(err, errlen, "proposal '%.*s' has no integrity algorithm (e.g. sha256)",
		       len, text);
		return -1;
	}
	if (p->proto == PROTO_ESP) {
		if (!p->n_esn)
			p->esn[p->n_esn++] = ESN_NO;
		return 0;
	}
	if (!p->n_prf && aead) {
		(void)err_set(err, errlen, "proposal '%.*s' has no prf (e.g. prfsha256)", len, text);
		return -1;
	}
	/* strongSwan: without a prf, each integrity algorithm brings its own */
	if (!p->n_prf)
		for (unsigned i = 0; i < p->n_integ; i++)
			(void)add_id(p->prf, &p->n_prf, PROP_MAX_ALGS,
				     prf_for_integ(p->integ[i]), &dup);
	if (!p->n_dh) {
		(void)err_set(err, errlen, "proposal '%.*s' has no DH group (e.g. x25519)", len, text);
		return -1;
	}
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

int proposal_parse(enum ike_proto proto, const char *text, size_t len,
		   struct proposal *out, char *err, size_t errlen)
{
	struct proposal p;
	int show = len > 80 ? 80 : (int)len;	/* how much of text messages quote */
	size_t pos = 0;

	memset(&p, 0, sizeof(p));
	p.proto = (uint8_t)proto;
	if (proto != PROTO_IKE && proto != PROTO_ESP) {
		(void)err_set(err, errlen, "proposals are for ike or esp only");
		return -1;
	}
	while (pos <= len) {
		size_t end = pos, a, b;
		char name[PROP_NAME_MAX + 8];

		while (end < len && text[end] != '-')
			end++;
		for (a = pos; a < end && is_space(text[a]); a++)
			;
		for (b = end; b > a && is_space(text[b - 1]); b--)
			;
		if (a == b) {
			(void)err_set(err, errlen, "empty algorithm name in '%.*s'", show, text);
			return -1;
		}
		if (b - a >= PROP_NAME_MAX) {
			(void)err_set(err, errlen, "unknown algorithm '%.*s...'", PROP_NAME_MAX, text + a);
			return -1;
		}
		memcpy(name, text + a, b - a);
		name[b - a] = '\0';
		if (take_token(&p, name, err, errlen) < 0)
			return -1;
		pos = end + 1;
	}
	if (check_proposal(&p, text, show, err, errlen) < 0)
		return -1;
	*out = p;
	return 0;
}

int proposal_list_parse(enum ike_proto proto, const char *text,
			struct proposal_list *out, char *err, size_t errlen)
{
	struct proposal_list l;
	size_t len = strlen(text), pos = 0;

	memset(&l, 0, sizeof(l));
	while (pos <= len) {
		size_t end = pos, a, b;

		while (end < len && text[end] != ',')
			end++;
		for (a = pos; a < end && is_space(text[a]); a++)
			;
		for (b = end; b > a && is_space(text[b - 1]); b--)
			;
		if (a == b) {
			(void)err_set(err, errlen, "empty proposal in list");
			return -1;
		}
		if (l.n >= PROP_LIST_MAX) {
			(void)err_set(err, errlen, "too many proposals (max %d)", PROP_LIST_MAX);
			return -1;
		}
		if (proposal_parse(proto, text + a, b - a, &l.p[l.n], err, errlen) < 0)
			return -1;
		l.n++;
		pos = end + 1;
	}
	*out = l;
	return 0;
}

/* Append "-name" (or "name" at the start) to buf; -1 when it does not fit. */
static int put_name(char *buf, size_t len, size_t *pos, const char *name)
{
	int n;

	if (!name)
		name = "?";
	n = snprintf(buf + *pos, len - *pos, "%s%s", *pos ? "-" : "", name);
	if (n < 0 || (size_t)n >= len - *pos) {
		*pos = len - 1;
		return -1;
	}
	*pos += (size_t)n;
	return 0;
}

int proposal_format(const struct proposal *p, char *buf, size_t len)
{
	size_t pos = 0;
	int rc = 0;

	if (!len)
		return -1;
	buf[0] = '\0';
	for (unsigned i = 0; i < p->n_encr && i < PROP_MAX_ALGS; i++)
		rc |= put_name(buf, len, &pos, encr_name(&p->encr[i]));
	for (unsigned i = 0; i < p->n_integ && i < PROP_MAX_ALGS; i++)
		rc |= put_name(buf, len, &pos, proposal_alg_name(TRANS_INTEG, p->integ[i], 0));
	for (unsigned i = 0; i < p->n_prf && i < PROP_MAX_ALGS; i++)
		rc |= put_name(buf, len, &pos, proposal_alg_name(TRANS_PRF, p->prf[i], 0));
	for (unsigned i = 0; i < p->n_dh && i < PROP_MAX_ALGS; i++)
		rc |= put_name(buf, len, &pos, proposal_alg_name(TRANS_DH, p->dh[i], 0));
	if (!(p->n_esn == 1 && p->esn[0] == ESN_NO))
		for (unsigned i = 0; i < p->n_esn && i < PROP_MAX_ESN; i++)
			rc |= put_name(buf, len, &pos, proposal_alg_name(TRANS_ESN, p->esn[i], 0));
	return rc ? -1 : 0;
}

int proposal_list_format(const struct proposal_list *l, char *buf, size_t len)
{
	size_t pos = 0;

	if (!len)
		return -1;
	buf[0] = '\0';
	for (unsigned i = 0; i < l->n && i < PROP_LIST_MAX; i++) {
		if (i) {
			if (len - pos < 3)
				return -1;
			memcpy(buf + pos, ", ", 3);
			pos += 2;
		}
		if (proposal_format(&l->p[i], buf + pos, len - pos) < 0)
			return -1;
		pos += strlen(buf + pos);
	}
	return 0;
}
