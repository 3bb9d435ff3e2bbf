/*
 * AUTH payload signatures (RFC 7296 §2.15): RFC 7427 Digital Signature
 * (method 14) both ways, and verification of the legacy methods 1 (RSA
 * PKCS#1 v1.5 with SHA-1) and 9/10/11 (RFC 4754 ECDSA). The signed data
 * is always the SignedOctets from auth_signed_octets(), given whole to
 * EVP_DigestSign/EVP_DigestVerify.
 */
#include "ike/cert.h"

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ike/ikev2.h"

#define ALG_ID_MAX	255	/* RFC 7427 §3: one-octet ASN.1 Length */
#define PSS_SALT_MAX	1024

/* What a received signature claims to be. */
struct sig_spec {
	int key_type;		/* EVP_PKEY_RSA, _EC, _ED25519, _ED448 */
	const EVP_MD *md;	/* NULL: pure EdDSA */
	bool pss;		/* RSASSA-PSS with mgf1 and salt */
	const EVP_MD *mgf1;
	int salt;
	int curve;		/* methods 9/10/11: the key's curve; else 0 */
	size_t raw_half;	/* methods 9/10/11: octets of r and of s */
	char name[96];
};

const uint16_t ike_sig_hashes[IKE_SIG_HASH_N] = {
	HASH_SHA2_256, HASH_SHA2_384, HASH_SHA2_512, HASH_IDENTITY,
};

/* RFC 7427 algorithms with a fixed digest (PSS is parsed on its own). */
static const struct {
	int nid;
	int key_type;
	int md_nid;		/* NID_undef: pure EdDSA (RFC 8420) */
} algs[] = {
	{ NID_sha256WithRSAEncryption, EVP_PKEY_RSA, NID_sha256 },
	{ NID_sha384WithRSAEncryption, EVP_PKEY_RSA, NID_sha384 },
	{ NID_sha512WithRSAEncryption, EVP_PKEY_RSA, NID_sha512 },
	{ NID_ecdsa_with_SHA256, EVP_PKEY_EC, NID_sha256 },
	{ NID_ecdsa_with_SHA384, EVP_PKEY_EC, NID_sha384 },
	{ NID_ecdsa_with_SHA512, EVP_PKEY_EC, NID_sha512 },
	{ NID_ED25519, EVP_PKEY_ED25519, NID_undef },
	{ NID_ED448, EVP_PKEY_ED448, NID_undef },
};

#define N_ALGS (sizeof(algs) / sizeof(algs[0]))

static const EVP_MD *sha2_md(int nid)
{
	switch (nid) {
	case NID_sha256: return EVP_sha256();
	case NID_sha384: return EVP_sha384();
	case NID_sha512: return EVP_sha512();
	default: return NULL;
	}
}

static int hash_to_nid(uint16_t hash)
{
	switch (hash) {
	case HASH_SHA2_256: return NID_sha256;
	case HASH_SHA2_384: return NID_sha384;
	case HASH_SHA2_512: return NID_sha512;
	default: return NID_undef;
	}
}

/* ECDSA: the hash that matches the curve size (P-256/SHA-256, ...). */
static uint16_t ec_default_hash(const EVP_PKEY *k)
{
	int bits = EVP_PKEY_get_bits(k);

	return bits <= 256 ? HASH_SHA2_256 : bits <= 384 ? HASH_SHA2_384 : HASH_SHA2_512;
}

/* A SHA-2 AlgorithmIdentifier with absent or NULL parameters; NULL otherwise. */
static const EVP_MD *algor_sha2(const X509_ALGOR *a)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;

	if (!a)
		return NULL;	/* absent in RSASSA-PSS-params: SHA-1 (RFC 4055 §3.1) */
	X509_ALGOR_get0(&obj, &ptype, &pval, a);
	if (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL)
		return NULL;
	return sha2_md(OBJ_obj2nid(obj));
}

/* RSASSA-PSS-params (RFC 4055 §3.1): SHA-2 hash, MGF1 with SHA-2, trailer 1. */
static int pss_params(int ptype, const void *pval, struct sig_spec *s, char *err, size_t errlen)
{
	const ASN1_STRING *seq = pval;
	const unsigned char *p, *start;
	RSA_PSS_PARAMS *pp = NULL;
	X509_ALGOR *mgf_md = NULL;
	int64_t salt = 20, trailer = 1;
	int rc = -1, len;

	/* absent parameters are SHA-1 / MGF1-SHA-1 / salt 20 */
	if (ptype != V_ASN1_SEQUENCE || !seq) {
		ike_cert_err(err, errlen, "AUTH signature algorithm RSASSA-PSS with default (SHA-1) "
			     "parameters is not accepted");
		goto cleanup;
	}
	start = p = ASN1_STRING_get0_data(seq);
	len = ASN1_STRING_length(seq);
	pp = d2i_RSA_PSS_PARAMS(NULL, &p, len);
	if (!pp || p != start + len)
		goto bad;
	s->md = algor_sha2(pp->hashAlgorithm);
	if (pp->maskGenAlgorithm && OBJ_obj2nid(pp->maskGenAlgorithm->algorithm) == NID_mgf1)
		mgf_md = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
						   pp->maskGenAlgorithm->parameter);
	s->mgf1 = algor_sha2(mgf_md);
	if ((pp->saltLength && !ASN1_INTEGER_get_int64(&salt, pp->saltLength)) ||
	    (pp->trailerField && !ASN1_INTEGER_get_int64(&trailer, pp->trailerField)) ||
	    salt < 0 || salt > PSS_SALT_MAX || trailer != 1)
		goto bad;
	if (!s->md || !s->mgf1) {
		ike_cert_err(err, errlen, "AUTH signature algorithm RSASSA-PSS is accepted only with "
			     "SHA-2 and MGF1 with SHA-2");
		goto cleanup;
	}
	s->pss = true;
	s->salt = (int)salt;
	s->key_type = EVP_PKEY_RSA;
	snprintf(s->name, sizeof(s->name), "RSASSA-PSS %s MGF1-%s salt %d", EVP_MD_get0_name(s->md),
		 EVP_MD_get0_name(s->mgf1), s->salt);
	rc = 0;
	goto cleanup;
bad:
	ike_cert_err(err, errlen, "AUTH signature algorithm RSASSA-PSS has invalid parameters");
cleanup:
	X509_ALGOR_free(mgf_md);
	RSA_PSS_PARAMS_free(pp);
	return rc;
}

static int spec_from_algor(const X509_ALGOR *a, struct sig_spec *s, bool allow_sha1, char *err,
			   size_t errlen)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype, nid, md_nid = NID_undef, pk_nid;

	X509_ALGOR_get0(&obj, &ptype, &pval, a);
	nid = OBJ_obj2nid(obj);
	OBJ_obj2txt(s->name, sizeof(s->name), obj, 0);
	if (nid == NID_rsassaPss)
		return pss_params(ptype, pval, s, err, errlen);
	for (size_t i = 0; i < N_ALGS; i++) {
		if (algs[i].nid != nid)
			continue;
		/*
		 * PKCS#1 and ECDSA: NULL or absent accepted (RFC 4055, RFC 5758).
		 * EdDSA, RFC 8410 §3: "For all of the OIDs, the parameters MUST be absent."
		 */
		if (ptype != V_ASN1_UNDEF && (ptype != V_ASN1_NULL || algs[i].md_nid == NID_undef))
			return ike_cert_err(err, errlen, "AUTH signature algorithm %s has unexpected "
					    "parameters", s->name);
		s->key_type = algs[i].key_type;
		s->md = sha2_md(algs[i].md_nid);
		return 0;
	}
	/*
	 * RFC 8247 §3 lists SHA1 as MUST NOT among the RFC 7427 signature
	 * hash algorithms; we never announce it and refuse it here.
	 */
	if (OBJ_find_sigid_algs(nid, &md_nid, &pk_nid) && md_nid == NID_sha1 && allow_sha1 &&
	    (pk_nid == NID_rsaEncryption || pk_nid == NID_X9_62_id_ecPublicKey) &&
	    (ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL)) {
		s->key_type = pk_nid == NID_rsaEncryption ? EVP_PKEY_RSA : EVP_PKEY_EC;
		s->md = EVP_sha1();
		return 0;
	}
	if (OBJ_find_sigid_algs(nid, &md_nid, &pk_nid) && (md_nid == NID_sha1 || md_nid == NID_md5))
		return ike_cert_err(err, errlen, "AUTH signature algorithm %s is not accepted (%s%s)",
				    s->name, OBJ_nid2sn(md_nid),
				    md_nid == NID_sha1 ? "; [auth] allow_sha1 = yes accepts it" : "");
	return ike_cert_err(err, errlen, "AUTH signature algorithm %s is not supported", s->name);
}

/*
 * RFC 7427 §3: Authentication Data = ASN.1 Length (1 octet) |
 * AlgorithmIdentifier (DER) | Signature Value.
 */
static int spec_7427(const uint8_t *data, size_t len, struct sig_spec *s, const uint8_t **sig,
		     size_t *sig_len, bool allow_sha1, char *err, size_t errlen)
{
	const unsigned char *alg, *p;
	X509_ALGOR *a = NULL;
	struct rd r;
	uint8_t alen;
	int rc;

	rd_init(&r, data, len);
	if (rd_u8(&r, &alen) < 0 || alen == 0 || rd_ptr(&r, alen, &alg) < 0 || rd_left(&r) == 0)
		return ike_cert_err(err, errlen, "AUTH data is malformed (RFC 7427 length %u, "
				    "%zu octets)", len ? data[0] : 0, len);
	*sig = rd_cur(&r);
	*sig_len = rd_left(&r);
	p = alg;
	a = d2i_X509_ALGOR(NULL, &p, alen);
	if (!a || p != alg + alen)
		rc = ike_cert_err(err, errlen, "AUTH signature AlgorithmIdentifier is not valid DER");
	else
		rc = spec_from_algor(a, s, allow_sha1, err, errlen);
	X509_ALGOR_free(a);
	return rc;
}

static int spec_for_method(uint8_t method, const uint8_t *data, size_t len, struct sig_spec *s,
			   const uint8_t **sig, size_t *sig_len, bool allow_sha1, char *err,
			   size_t errlen)
{
	static const struct { uint8_t method; int md_nid, curve; size_t half; const char *name; } ec[] = {
		{ AUTH_ECDSA_256, NID_sha256, NID_X9_62_prime256v1, 32, "ECDSA P-256 SHA-256" },
		{ AUTH_ECDSA_384, NID_sha384, NID_secp384r1, 48, "ECDSA P-384 SHA-384" },
		{ AUTH_ECDSA_521, NID_sha512, NID_secp521r1, 66, "ECDSA P-521 SHA-512" },
	};

	memset(s, 0, sizeof(*s));
	*sig = data;
	*sig_len = len;
	if (method == AUTH_DIGITAL_SIGNATURE)
		return spec_7427(data, len, s, sig, sig_len, allow_sha1, err, errlen);
	if (method == AUTH_RSA_SIG) {
		/*
		 * RFC 7296 §3.8: RSASSA-PKCS1-v1_5; the hash is SHA-1 (RFC 4718
		 * §3.2). RFC 8247 §3.2 ≈: SHA-1 as the signature hash is MUST NOT
		 * for RFC 7427 signatures, and method 1 is only kept for
		 * gateways without RFC 7427: refused unless allowed.
		 */
		if (!allow_sha1)
			return ike_cert_err(err, errlen, "AUTH method 1 (RSA PKCS#1 v1.5 with SHA-1) is "
					    "not accepted; [auth] allow_sha1 = yes accepts it");
		s->key_type = EVP_PKEY_RSA;
		s->md = EVP_sha1();
		snprintf(s->name, sizeof(s->name), "RSA PKCS#1 v1.5 SHA-1 (method 1)");
		return 0;
	}
	for (size_t i = 0; i < sizeof(ec) / sizeof(ec[0]); i++) {
		if (ec[i].method != method)
			continue;
		s->key_type = EVP_PKEY_EC;
		s->md = sha2_md(ec[i].md_nid);
		s->curve = ec[i].curve;
		s->raw_half = ec[i].half;
		snprintf(s->name, sizeof(s->name), "%s (RFC 4754)", ec[i].name);
		return 0;
	}
	return ike_cert_err(err, errlen, "AUTH method %u is not supported with a certificate",
			    method);
}

static int key_curve(EVP_PKEY *k)
{
	char g[64];
	size_t glen = 0;
	int nid;

	if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, g, sizeof(g), &glen))
		return NID_undef;
	nid = OBJ_sn2nid(g);
	return nid != NID_undef ? nid : EC_curve_nist2nid(g);
}

static const char *key_name(int base)
{
	switch (base) {
	case EVP_PKEY_RSA: return "RSA";
	case EVP_PKEY_RSA_PSS: return "RSA-PSS";
	case EVP_PKEY_EC: return "EC";
	case EVP_PKEY_ED25519: return "Ed25519";
	case EVP_PKEY_ED448: return "Ed448";
	default: return OBJ_nid2sn(base);
	}
}

/* ---- Key policy ---- */

int ike_cert_key_ok(EVP_PKEY *k, const char *who, char *err, size_t errlen)
{
	int bits = k ? EVP_PKEY_get_bits(k) : 0;

	if (!k)
		return ike_cert_err(err, errlen, "%s: no public key", who);
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		/* RFC 8247 §3: RSA authentication keys of at least 2048 bits */
		if (bits < 2048)
			return ike_cert_err(err, errlen, "%s: RSA key of %d bits is too small",
					    who, bits);
		return 0;
	case EVP_PKEY_EC:
		if (bits < 256)
			return ike_cert_err(err, errlen, "%s: EC key of %d bits is too small",
					    who, bits);
		return 0;
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
		return 0;
	default:
		return ike_cert_err(err, errlen, "%s: key type %s is not supported", who,
				    key_name(EVP_PKEY_get_base_id(k)));
	}
}

static int key_matches(EVP_PKEY *k, const struct sig_spec *s, char *err, size_t errlen)
{
	int base = EVP_PKEY_get_base_id(k), kt = base;

	if (kt == EVP_PKEY_RSA_PSS && s->pss)
		kt = EVP_PKEY_RSA;	/* an RSA-PSS key signs PSS only */
	if (kt != s->key_type)
		return ike_cert_err(err, errlen, "AUTH signature algorithm %s does not match the "
				    "certificate's %s key", s->name, key_name(base));
	if (s->curve && key_curve(k) != s->curve)
		return ike_cert_err(err, errlen, "AUTH method %s does not match the certificate's "
				    "curve", s->name);
	return 0;
}

/* RFC 4754 §7: the signature is r | s, each as long as the group order; OpenSSL wants DER. */
static int raw_ecdsa_to_der(const uint8_t *sig, size_t len, size_t half, unsigned char **der,
			    size_t *der_len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = NULL, *s = NULL;
	int n = -1;

	if (es && len == 2 * half && (r = BN_bin2bn(sig, (int)half, NULL)) &&
	    (s = BN_bin2bn(sig + half, (int)half, NULL)) && ECDSA_SIG_set0(es, r, s)) {
		r = s = NULL;	/* owned by es */
		n = i2d_ECDSA_SIG(es, der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	if (n <= 0)
		return -1;
	*der_len = (size_t)n;
	return 0;
}

static int do_verify(EVP_PKEY *k, const struct sig_spec *s, const uint8_t *sig, size_t sig_len,
		     const uint8_t *so, size_t so_len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int rc = -1;

	if (!m || EVP_DigestVerifyInit(m, &pctx, s->md, NULL, k) != 1)
		goto cleanup;
	if (s->pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, s->mgf1) != 1 ||
		       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, s->salt) != 1))
		goto cleanup;
	if (EVP_DigestVerify(m, sig, sig_len, so, so_len) == 1)
		rc = 0;
cleanup:
	EVP_MD_CTX_free(m);
	return rc;
}

int ike_sig_verify(const struct ike_peer_cert *pc, uint8_t auth_method, const uint8_t *auth_data,
		   size_t auth_len, const uint8_t *signed_octets, size_t so_len, char *err,
		   size_t errlen)
{
	return ike_sig_verify_opt(pc, auth_method, auth_data, auth_len, signed_octets, so_len, false,
				  err, errlen);
}

int ike_sig_verify_opt(const struct ike_peer_cert *pc, uint8_t auth_method,
		       const uint8_t *auth_data, size_t auth_len, const uint8_t *signed_octets,
		       size_t so_len, bool allow_sha1, char *err, size_t errlen)
{
	EVP_PKEY *k = ike_peer_cert_pkey(pc);
	unsigned char *der = NULL;
	const uint8_t *sig;
	size_t sig_len;
	struct sig_spec s;
	int rc = -1;

	if (!k || !auth_data || !auth_len || !signed_octets || !so_len)
		return ike_cert_err(err, errlen, "AUTH: no signature or no gateway key");
	if (spec_for_method(auth_method, auth_data, auth_len, &s, &sig, &sig_len, allow_sha1, err,
			    errlen) < 0 ||
	    key_matches(k, &s, err, errlen) < 0)
		return -1;
	if (s.raw_half) {
		if (raw_ecdsa_to_der(sig, sig_len, s.raw_half, &der, &sig_len) < 0) {
			ike_cert_err(err, errlen, "AUTH %s signature has %zu octets, expected %zu",
				     s.name, sig_len, 2 * s.raw_half);
			goto cleanup;
		}
		sig = der;
	}
	if (do_verify(k, &s, sig, sig_len, signed_octets, so_len) < 0) {
		ike_cert_err(err, errlen, "gateway AUTH signature (%s) does not verify", s.name);
		goto cleanup;
	}
	rc = 0;
cleanup:
	OPENSSL_free(der);
	return rc;
}

const char *ike_sig_alg_str(uint8_t auth_method, const uint8_t *auth_data, size_t auth_len,
			    char *buf, size_t len)
{
	struct sig_spec s;
	const uint8_t *sig;
	size_t sig_len;

	if (spec_for_method(auth_method, auth_data, auth_len, &s, &sig, &sig_len, true, NULL, 0) < 0)
		snprintf(buf, len, "AUTH method %u (unsupported)", auth_method);
	else if (auth_method == AUTH_DIGITAL_SIGNATURE)
		snprintf(buf, len, "RFC 7427 %s", s.name);
	else
		snprintf(buf, len, "%s", s.name);
	return buf;
}

/* ---- Signing ---- */

/* The RFC 7427 algorithm for our key and hash; -1 if they do not go together. */
static int sign_alg(EVP_PKEY *k, uint16_t hash, int *alg_nid, const EVP_MD **md)
{
	int kt = EVP_PKEY_get_base_id(k), md_nid;

	if (kt == EVP_PKEY_ED25519 || kt == EVP_PKEY_ED448) {
		/* RFC 8420: EdDSA is used pure, announced as the Identity hash */
		if (hash && hash != HASH_IDENTITY)
			return -1;
		md_nid = NID_undef;
	} else if (kt == EVP_PKEY_RSA || kt == EVP_PKEY_EC) {
		if (!hash)
			hash = kt == EVP_PKEY_RSA ? HASH_SHA2_256 : ec_default_hash(k);
		if ((md_nid = hash_to_nid(hash)) == NID_undef)
			return -1;
	} else {
		return -1;
	}
	for (size_t i = 0; i < N_ALGS; i++) {
		if (algs[i].key_type == kt && algs[i].md_nid == md_nid) {
			*alg_nid = algs[i].nid;
			*md = sha2_md(md_nid);
			return 0;
		}
	}
	return -1;
}

/* DER AlgorithmIdentifier: NULL parameters for PKCS#1 (RFC 4055), absent otherwise. */
static int alg_der(int nid, bool null_params, unsigned char **der)
{
	X509_ALGOR *a = X509_ALGOR_new();
	int n = -1;

	if (a && X509_ALGOR_set0(a, OBJ_nid2obj(nid), null_params ? V_ASN1_NULL : V_ASN1_UNDEF,
				 NULL))
		n = i2d_X509_ALGOR(a, der);
	X509_ALGOR_free(a);
	return n;
}

int ike_sig_sign(const struct ike_cred *c, uint16_t hash_alg, const uint8_t *signed_octets,
		 size_t so_len, uint8_t *auth_data, size_t cap, size_t *len,
		 uint8_t *auth_method, char *err, size_t errlen)
{
	EVP_PKEY *k = ike_cred_pkey(c);
	unsigned char *alg = NULL;
	EVP_MD_CTX *m = NULL;
	const EVP_MD *md = NULL;
	uint8_t *sig;
	size_t sig_len;
	int nid, alen, rc = -1;
	struct wr w;

	if (!k || !signed_octets || !so_len || !auth_data || !len || !auth_method)
		return ike_cert_err(err, errlen, "AUTH signing: bad arguments");
	if (sign_alg(k, hash_alg, &nid, &md) < 0)
		return ike_cert_err(err, errlen, "AUTH signing: hash algorithm %u cannot be used "
				    "with our %s key", hash_alg, key_name(EVP_PKEY_get_base_id(k)));
	alen = alg_der(nid, EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA, &alg);
	sig_len = (size_t)EVP_PKEY_get_size(k);
	wr_init(&w, auth_data, cap);
	/* RFC 7427 §3: ASN.1 Length | AlgorithmIdentifier | Signature Value */
	if (alen <= 0 || alen > ALG_ID_MAX || wr_u8(&w, (uint8_t)alen) < 0 ||
	    wr_bytes(&w, alg, (size_t)alen) < 0 || wr_alloc(&w, sig_len, &sig) < 0) {
		ike_cert_err(err, errlen, "AUTH signing: no room for the signature");
		goto cleanup;
	}
	if (!(m = EVP_MD_CTX_new()) || EVP_DigestSignInit(m, NULL, md, NULL, k) != 1 ||
	    EVP_DigestSign(m, sig, &sig_len, signed_octets, so_len) != 1) {
		ike_cert_err(err, errlen, "AUTH signing with %s failed", OBJ_nid2ln(nid));
		goto cleanup;
	}
	*len = 1 + (size_t)alen + sig_len;
	*auth_method = AUTH_DIGITAL_SIGNATURE;
	rc = 0;
cleanup:
	EVP_MD_CTX_free(m);
	OPENSSL_free(alg);
	return rc;
}

static bool in_list(uint16_t h, const uint16_t *list, unsigned n)
{
	for (unsigned i = 0; list && i < n; i++)
		if (list[i] == h)
			return true;
	return false;
}

uint16_t ike_sig_pick_hash(const struct ike_cred *c, const uint16_t *peer, unsigned n)
{
	EVP_PKEY *k = ike_cred_pkey(c);
	uint16_t pref[3] = { HASH_SHA2_256, HASH_SHA2_384, HASH_SHA2_512 };
	int kt = k ? EVP_PKEY_get_base_id(k) : EVP_PKEY_NONE;

	if (kt == EVP_PKEY_ED25519 || kt == EVP_PKEY_ED448)
		return in_list(HASH_IDENTITY, peer, n) ? HASH_IDENTITY : 0;
	if (kt != EVP_PKEY_RSA && kt != EVP_PKEY_EC)
		return 0;
	if (kt == EVP_PKEY_EC && in_list(ec_default_hash(k), peer, n))
		return ec_default_hash(k);
	for (unsigned i = 0; i < 3; i++)
		if (in_list(pref[i], peer, n))
			return pref[i];
	return 0;
}
