#include "ike/dh.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "ike/ikev2.h"

#define X25519_LEN	32
#define ECP256_COORD	32
#define MODP2048_LEN	256

static const char ecp256_name[] = "P-256";
static const char modp2048_name[] = "modp_2048";

size_t dh_public_len(uint16_t group)
{
	switch (group) {
	case DH_CURVE25519: return X25519_LEN;
	case DH_ECP_256: return 2 * ECP256_COORD;
	case DH_MODP_2048: return MODP2048_LEN;
	default: return 0;
	}
}

size_t dh_secret_len(uint16_t group)
{
	switch (group) {
	case DH_CURVE25519: return X25519_LEN;
	case DH_ECP_256: return ECP256_COORD;
	case DH_MODP_2048: return MODP2048_LEN;
	default: return 0;
	}
}

/* Build a key of the given type from parameters; NULL on any failure. */
static EVP_PKEY *pkey_fromdata(const char *type, int selection, OSSL_PARAM *params)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, selection, params) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static EVP_PKEY *keygen_modp2048(void)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[2];

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						     (char *)modp2048_name, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_params(ctx, params) != 1 ||
	    EVP_PKEY_generate(ctx, &pkey) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

int dh_new(struct dh *d, uint16_t group)
{
	EVP_PKEY *pkey;

	memset(d, 0, sizeof(*d));
	switch (group) {
	case DH_CURVE25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
		break;
	case DH_ECP_256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", ecp256_name);
		break;
	case DH_MODP_2048:
		pkey = keygen_modp2048();
		break;
	default:
		return -1;
	}
	if (!pkey)
		return -1;
	d->group = group;
	d->pkey = pkey;
	return 0;
}

void dh_free(struct dh *d)
{
	EVP_PKEY_free(d->pkey);
	memset(d, 0, sizeof(*d));
}

/* A BIGNUM parameter of our key as exactly len big-endian bytes. */
static int get_bn_padded(const EVP_PKEY *pkey, const char *name, uint8_t *out, size_t len)
{
	BIGNUM *bn = NULL;
	int rc = -1;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) == 1 &&
	    BN_bn2binpad(bn, out, (int)len) == (int)len)
		rc = 0;
	BN_free(bn);
	return rc;
}

int dh_public(const struct dh *d, uint8_t *out, size_t cap, size_t *len)
{
	size_t want = dh_public_len(d->group), got = want;

	if (!d->pkey || !want || cap < want)
		return -1;
	switch (d->group) {
	case DH_CURVE25519:
		if (EVP_PKEY_get_raw_public_key(d->pkey, out, &got) != 1 || got != want)
			return -1;
		break;
	case DH_ECP_256:
		/* RFC 5903 §7: x || y, each padded to the field size. */
		if (get_bn_padded(d->pkey, OSSL_PKEY_PARAM_EC_PUB_X, out, ECP256_COORD) < 0 ||
		    get_bn_padded(d->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, out + ECP256_COORD,
				  ECP256_COORD) < 0)
			return -1;
		break;
	case DH_MODP_2048:
		/* RFC 7296 §3.4: left-padded with zeros to the prime's length. */
		if (get_bn_padded(d->pkey, OSSL_PKEY_PARAM_PUB_KEY, out, MODP2048_LEN) < 0)
			return -1;
		break;
	default:
		return -1;
	}
	*len = want;
	return 0;
}

static EVP_PKEY *peer_ecp256(const uint8_t *peer)
{
	uint8_t point[1 + 2 * ECP256_COORD];
	OSSL_PARAM params[3];

	/* Importing decodes the point and refuses one that is not on the curve. */
	point[0] = POINT_CONVERSION_UNCOMPRESSED;
	memcpy(point + 1, peer, 2 * ECP256_COORD);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						     (char *)ecp256_name, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point,
						      sizeof(point));
	params[2] = OSSL_PARAM_construct_end();
	return pkey_fromdata("EC", EVP_PKEY_PUBLIC_KEY, params);
}

/* RFC 7296 §2.12 / RFC 6989 §2.2: a MODP public value must be in (1, p-1). */
static int modp_value_ok(const EVP_PKEY *own, const BIGNUM *y)
{
	BIGNUM *p = NULL;
	int ok = 0;

	if (EVP_PKEY_get_bn_param(own, OSSL_PKEY_PARAM_FFC_P, &p) != 1)
		return 0;
	if (BN_sub_word(p, 1) == 1 && BN_cmp(y, BN_value_one()) > 0 && BN_cmp(y, p) < 0)
		ok = 1;
	BN_free(p);
	return ok;
}

/* A MODP-2048 key from its public value y, and its private exponent x if given. */
static EVP_PKEY *modp2048_key(const BIGNUM *x, const BIGNUM *y)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pkey = NULL;

	if (!bld ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, modp2048_name, 0) != 1 ||
	    (x && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, x) != 1) ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y) != 1)
		goto cleanup;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (params)
		pkey = pkey_fromdata("DH", x ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
cleanup:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static EVP_PKEY *peer_modp2048(const EVP_PKEY *own, const uint8_t *peer)
{
	EVP_PKEY *pkey = NULL;
	BIGNUM *y = BN_bin2bn(peer, MODP2048_LEN, NULL);

	if (y && modp_value_ok(own, y))
		pkey = modp2048_key(NULL, y);
	BN_free(y);
	return pkey;
}

static EVP_PKEY *peer_key(const struct dh *d, const uint8_t *peer)
{
	switch (d->group) {
	case DH_CURVE25519:
		return EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer, X25519_LEN);
	case DH_ECP_256:
		return peer_ecp256(peer);
	case DH_MODP_2048:
		return peer_modp2048(d->pkey, peer);
	default:
		return NULL;
	}
}

static int all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

int dh_derive(struct dh *d, const uint8_t *peer, size_t len, uint8_t *secret, size_t cap,
	      size_t *slen)
{
	size_t want = dh_secret_len(d->group), outl = cap;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pp = NULL;
	int rc = -1;

	/* The peer's KE data must be exactly the group's public value length. */
	if (!d->pkey || !want || !peer || len != dh_public_len(d->group) || cap < want)
		return -1;
	pp = peer_key(d, peer);
	if (!pp)
		goto cleanup;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, d->pkey, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) != 1)
		goto cleanup;
	/* MODP: keep leading zeros, the secret is always 256 bytes (§2.14). */
	if (d->group == DH_MODP_2048 && EVP_PKEY_CTX_set_dh_pad(ctx, 1) != 1)
		goto cleanup;
	/* validate_peer = 1: OpenSSL's public-key check on top of ours. */
	if (EVP_PKEY_derive_set_peer_ex(ctx, pp, 1) != 1 ||
	    EVP_PKEY_derive(ctx, secret, &outl) != 1 || outl != want)
		goto cleanup;
	/* RFC 8031 §2: MUST check the Curve25519 result is not all zero. */
	if (d->group == DH_CURVE25519 && all_zero(secret, want))
		goto cleanup;
	*slen = want;
	rc = 0;
cleanup:
	if (rc < 0)
		OPENSSL_cleanse(secret, want);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pp);
	return rc;
}

/* --- test-only fixed private keys ------------------------------------- */

/* An ECP-256 key pair from a fixed scalar: the public point is computed here. */
static EVP_PKEY *ecp256_from_private(const uint8_t *priv, size_t len)
{
	uint8_t point[1 + 2 * ECP256_COORD];
	EC_GROUP *grp = NULL;
	EC_POINT *pub = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *k = NULL;

	if (len != ECP256_COORD)
		return NULL;
	grp = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	k = BN_secure_new();
	pub = grp ? EC_POINT_new(grp) : NULL;
	if (!pub || !k || !BN_bin2bn(priv, (int)len, k) || BN_is_zero(k) ||
	    BN_cmp(k, EC_GROUP_get0_order(grp)) >= 0 ||
	    EC_POINT_mul(grp, pub, k, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(grp, pub, POINT_CONVERSION_UNCOMPRESSED, point, sizeof(point),
			       NULL) != sizeof(point))
		goto cleanup;
	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, ecp256_name, 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, k) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
					     sizeof(point)) != 1)
		goto cleanup;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (params)
		pkey = pkey_fromdata("EC", EVP_PKEY_KEYPAIR, params);
cleanup:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(k);
	EC_POINT_free(pub);
	EC_GROUP_free(grp);
	return pkey;
}

/* A MODP-2048 key pair from a fixed exponent x: public = g^x mod p. */
static EVP_PKEY *modp2048_from_private(const uint8_t *priv, size_t len)
{
	BIGNUM *p = NULL, *g = NULL, *x = NULL, *y = NULL;
	OSSL_PARAM gp[2];
	EVP_PKEY *dom = NULL, *pkey = NULL;
	BN_CTX *bnc = NULL;

	if (!len || len > MODP2048_LEN)
		return NULL;
	gp[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						 (char *)modp2048_name, 0);
	gp[1] = OSSL_PARAM_construct_end();
	dom = pkey_fromdata("DH", EVP_PKEY_KEY_PARAMETERS, gp);
	x = BN_secure_new();
	y = BN_new();
	bnc = BN_CTX_secure_new();
	if (!dom || !x || !y || !bnc || !BN_bin2bn(priv, (int)len, x) || BN_is_zero(x) ||
	    EVP_PKEY_get_bn_param(dom, OSSL_PKEY_PARAM_FFC_P, &p) != 1 ||
	    EVP_PKEY_get_bn_param(dom, OSSL_PKEY_PARAM_FFC_G, &g) != 1 ||
	    BN_mod_exp(y, g, x, p, bnc) != 1)
		goto cleanup;
	pkey = modp2048_key(x, y);
cleanup:
	BN_CTX_free(bnc);
	BN_clear_free(x);
	BN_free(y);
	BN_free(p);
	BN_free(g);
	EVP_PKEY_free(dom);
	return pkey;
}

int dh_set_private_for_test(struct dh *d, uint16_t group, const uint8_t *priv, size_t len)
{
	EVP_PKEY *pkey = NULL;

	memset(d, 0, sizeof(*d));
	switch (group) {
	case DH_CURVE25519:
		if (len == X25519_LEN)
			pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv, len);
		break;
	case DH_ECP_256:
		pkey = ecp256_from_private(priv, len);
		break;
	case DH_MODP_2048:
		pkey = modp2048_from_private(priv, len);
		break;
	default:
		break;
	}
	if (!pkey)
		return -1;
	d->group = group;
	d->pkey = pkey;
	return 0;
}
