/*
 * Test-only: certificates made here with OpenSSL (CAs, intermediates,
 * leaves with a chosen subjectAltName and key usage) and PEM files of
 * them under /tmp. Header-only like testutil.h; each test program
 * includes it once.
 */
#ifndef IKEAGENT_TESTS_PKI_H
#define IKEAGENT_TESTS_PKI_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DAY (24 * 3600L)

static inline void pki_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	ck_assert_ptr_nonnull(e);
	ck_assert(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
}

struct certopt {
	const char *cn;
	const char *san;	/* NULL: no subjectAltName */
	const char *ku;		/* NULL: no keyUsage */
	bool ca;
	long from, to;		/* validity, seconds from now */
	const char *comment;	/* NULL: none; else a Netscape comment, to make it larger */
};

/* A certificate for k with subject C=CH, O=ikeagent unit, CN=o->cn; issuer NULL: self-signed. */
static inline X509 *make_cert(EVP_PKEY *k, const struct certopt *o, X509 *issuer, EVP_PKEY *ikey)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);
	X509V3_CTX ctx;
	int it = EVP_PKEY_get_base_id(ikey);

	ck_assert(X509_set_version(x, 2));
	ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), o->from ? o->from : -3600));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), o->to ? o->to : DAY));
	ck_assert(X509_set_pubkey(x, k));
	ck_assert(X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"CH", -1, -1, 0));
	ck_assert(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
					     (const unsigned char *)"ikeagent unit", -1, -1, 0));
	ck_assert(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)o->cn,
					     -1, -1, 0));
	ck_assert(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n));
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	pki_add_ext(x, &ctx, NID_basic_constraints, o->ca ? "critical,CA:TRUE" : "CA:FALSE");
	pki_add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (o->ca)
		pki_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (o->ku)
		pki_add_ext(x, &ctx, NID_key_usage, o->ku);
	if (o->san)
		pki_add_ext(x, &ctx, NID_subject_alt_name, o->san);
	if (o->comment)
		pki_add_ext(x, &ctx, NID_netscape_comment, o->comment);
	ck_assert(X509_sign(x, ikey, it == EVP_PKEY_ED25519 || it == EVP_PKEY_ED448 ? NULL :
			    EVP_sha256()));
	return x;
}

/* PEM file under /tmp: certificates, then (optionally encrypted) key. */
static inline void write_pem(char path[64], X509 *const *c, unsigned n, EVP_PKEY *k,
			     const char *pass)
{
	FILE *f;
	int fd;

	snprintf(path, 64, "/tmp/ike_cert_test_XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	for (unsigned i = 0; i < n; i++)
		ck_assert(PEM_write_X509(f, c[i]));
	if (k)
		ck_assert(PEM_write_PrivateKey(f, k, pass ? EVP_aes_256_cbc() : NULL,
					       (unsigned char *)pass, pass ? (int)strlen(pass) : 0,
					       NULL, NULL));
	fclose(f);
}

#endif
