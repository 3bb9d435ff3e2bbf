/*
 * Trust store, our credential, the gateway's certificate chain and the
 * binding of its IDr payload to the certificate. Policy: see ike/cert.h.
 */
#include "ike/cert.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ike/id.h"
#include "ike/ikev2.h"
#include "ike/msg.h"
#include "util/fperm.h"

#define SHA1_LEN	20
#define CERT_DER_MAX	(IKE_PL_BODY_MAX - 1)	/* CERT body: encoding octet + DER */

struct ike_trust {
	X509_STORE *store;
	STACK_OF(X509) *cas;	/* in file order, for CERTREQ */
	time_t at;		/* 0: now */
};

struct ike_cred {
	EVP_PKEY *key;
	unsigned n;		/* certificates: [0] ours, then intermediates */
	uint8_t *der[IKE_CRED_MAX_CERTS];
	size_t der_len[IKE_CRED_MAX_CERTS];
};

struct ike_peer_cert {
	X509 *cert;		/* owns the public key */
};

int ike_cert_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	ERR_clear_error();
	return -1;
}

/* Never prompt for a passphrase: encrypted keys simply fail to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

/* Read everything OpenSSL wrote to a memory BIO as a NUL-terminated string. */
static const char *bio_str(BIO *b, char *buf, size_t len)
{
	int n;

	if (!len)
		return buf;
	n = b ? BIO_read(b, buf, (int)(len - 1 < INT_MAX ? len - 1 : INT_MAX)) : -1;
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* "CN=<cn>" when the name has a common name, else the RFC 2253 DN; escaped for logs. */
static const char *name_label(const X509_NAME *name, bool cn_only, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int i = cn_only ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
	unsigned long fl = ASN1_STRFLGS_RFC2253 | ASN1_STRFLGS_ESC_MSB;

	if (b && i >= 0) {
		BIO_puts(b, "CN=");
		ASN1_STRING_print_ex(b, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)), fl);
	} else if (b) {
		X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
	}
	bio_str(b, buf, len);
	BIO_free(b);
	return buf;
}

/* Parse exactly len octets of DER as one certificate. */
static X509 *der_to_x509(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (!der || !len || len > LONG_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* ---- Trust store ---- */

static int trust_add(struct ike_trust *t, X509 *x, const char *path, char *err, size_t errlen)
{
	char name[160];

	if (!X509_check_ca(x))
		return ike_cert_err(err, errlen, "CA file %s: %s is not a CA certificate", path,
				    name_label(X509_get_subject_name(x), false, name, sizeof(name)));
	if (!X509_STORE_add_cert(t->store, x) || !sk_X509_push(t->cas, x))
		return ike_cert_err(err, errlen, "CA file %s: out of memory", path);
	return 0;
}

/* End of a PEM file: only "no start line" after the last block is clean. */
static bool pem_clean_eof(void)
{
	unsigned long e = ERR_peek_last_error();

	return !e || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
}

/*
 * A BIO on path, checked as util/fperm.h says (flags: FPERM_SECRET for a
 * private key); NULL with "WHAT PATH: why" or "WHAT PATH is writable ..." in err.
 */
static BIO *open_checked(const char *what, const char *path, unsigned flags, char *err,
			 size_t errlen)
{
	char why[128];
	struct stat st;
	FILE *f = NULL;
	BIO *bio;
	int fd;

	if (!path) {
		ike_cert_err(err, errlen, "%s (none): %s", what, strerror(ENOENT));
		return NULL;
	}
	fd = fperm_open(path, flags, &st, why, sizeof(why));
	if (fd < 0) {
		ike_cert_err(err, errlen, "%s %s%s%s", what, path, errno == EPERM ? " " : ": ",
			     why);
		return NULL;
	}
	if (!(f = fdopen(fd, "r")) || !(bio = BIO_new_fp(f, BIO_CLOSE))) {
		ike_cert_err(err, errlen, "%s %s: out of memory", what, path);
		if (f)
			fclose(f);
		else
			close(fd);
		return NULL;
	}
	return bio;
}

struct ike_trust *ike_trust_load(const char *ca_path, char *err, size_t errlen)
{
	struct ike_trust *t = calloc(1, sizeof(*t));
	BIO *bio = NULL;
	X509 *x = NULL;
	unsigned n = 0;
	int rc = -1;

	if (!t || !(t->store = X509_STORE_new()) || !(t->cas = sk_X509_new_null())) {
		ike_cert_err(err, errlen, "CA file: out of memory");
		goto cleanup;
	}
	if (!(bio = open_checked("CA file", ca_path, 0, err, errlen)))
		goto cleanup;
	ERR_clear_error();
	for (; (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)); n++) {
		if (n >= IKE_TRUST_MAX_CA)
			X509_free(x);	/* past the limit only counted, to say how many */
		else if (trust_add(t, x, ca_path, err, errlen) < 0)
			goto cleanup;
		x = NULL;	/* owned by t->cas now, or freed */
	}
	if (!pem_clean_eof()) {
		ike_cert_err(err, errlen, "CA file %s: a PEM certificate is corrupt", ca_path);
		goto cleanup;
	}
	if (n == 0) {
		ike_cert_err(err, errlen, "CA file %s: no certificate found", ca_path);
		goto cleanup;
	}
	/* A config error rather than a cut: a dropped CA could be the gateway's. */
	if (n > IKE_TRUST_MAX_CA) {
		ike_cert_err(err, errlen, "CA file %s has %u certificates, ikeagent keeps at most "
			     "%d (IKE_TRUST_MAX_CA)", ca_path, n, IKE_TRUST_MAX_CA);
		goto cleanup;
	}
	ERR_clear_error();
	rc = 0;
cleanup:
	X509_free(x);
	BIO_free(bio);
	if (rc < 0) {
		ike_trust_free(t);
		t = NULL;
	}
	return t;
}

void ike_trust_free(struct ike_trust *t)
{
	if (!t)
		return;
	X509_STORE_free(t->store);
	sk_X509_pop_free(t->cas, X509_free);
	free(t);
}

void ike_trust_set_time(struct ike_trust *t, time_t at)
{
	if (t)
		t->at = at;
}

int ike_trust_certreq(const struct ike_trust *t, uint8_t *out, size_t cap, size_t *len)
{
	struct wr w;

	if (!t || !len)
		return -1;
	wr_init(&w, out, cap);
	for (int i = 0; i < sk_X509_num(t->cas); i++) {
		unsigned char *spki = NULL;
		int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(sk_X509_value(t->cas, i)), &spki);
		uint8_t *h;
		int ok;

		/*
		 * §3.7: "Each is encoded as the SHA-1 hash of the Subject Public
		 * Key Info element ... from each Trust Anchor certificate."
		 */
		ok = n > 0 && wr_alloc(&w, SHA1_LEN, &h) == 0 &&
		     EVP_Digest(spki, (size_t)n, h, NULL, EVP_sha1(), NULL);
		OPENSSL_free(spki);
		if (!ok)
			return -1;
	}
	*len = wr_len(&w);
	return 0;
}

/* ---- Our credential ---- */

/* Every CERT payload fits (a CERT body is the encoding octet and the DER). */
_Static_assert(IKE_CRED_MAX_BYTES <= CERT_DER_MAX, "IKE_CRED_MAX_BYTES exceeds a CERT payload");

/* DER of the file's certificates, counted in *bytes; kept while under IKE_CRED_MAX_CERTS. */
static int cred_add_cert(struct ike_cred *c, X509 *x, size_t *bytes, const char *path, char *err,
			 size_t errlen)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	if (n <= 0) {
		OPENSSL_free(der);
		return ike_cert_err(err, errlen, "certificate file %s: cannot encode certificate",
				    path);
	}
	*bytes += (size_t)n;
	if (c->n >= IKE_CRED_MAX_CERTS) {
		OPENSSL_free(der);
		return 0;
	}
	c->der[c->n] = der;
	c->der_len[c->n++] = (size_t)n;
	return 0;
}

static int cred_read_certs(struct ike_cred *c, const char *path, X509 **ee, char *err,
			   size_t errlen)
{
	BIO *bio = open_checked("certificate file", path, 0, err, errlen);
	X509 *x = NULL;
	unsigned n = 0;
	size_t bytes = 0;
	int rc = -1;

	if (!bio)
		return -1;
	ERR_clear_error();
	for (; (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)); n++) {
		if (cred_add_cert(c, x, &bytes, path, err, errlen) < 0)
			goto cleanup;
		if (!*ee) {
			*ee = x;	/* the first one is ours */
			x = NULL;
		}
		X509_free(x);
		x = NULL;
	}
	if (!pem_clean_eof() || !*ee) {
		ike_cert_err(err, errlen, "certificate file %s: no valid PEM certificate", path);
		goto cleanup;
	}
	/* Our IKE_AUTH must fit one IKE message: we send no RFC 7383 fragments. */
	if (n > IKE_CRED_MAX_CERTS) {
		ike_cert_err(err, errlen, "certificate file %s has %u certificates, ikeagent sends "
			     "at most %d (IKE_CRED_MAX_CERTS)", path, n, IKE_CRED_MAX_CERTS);
		goto cleanup;
	}
	if (bytes > IKE_CRED_MAX_BYTES) {
		ike_cert_err(err, errlen, "certificate file %s has %zu bytes of certificates, "
			     "ikeagent sends at most %d (IKE_CRED_MAX_BYTES)", path, bytes,
			     IKE_CRED_MAX_BYTES);
		goto cleanup;
	}
	rc = 0;
cleanup:
	X509_free(x);
	BIO_free(bio);
	return rc;
}

struct ike_cred *ike_cred_load(const char *cert_path, const char *key_path, char *err,
			       size_t errlen)
{
	struct ike_cred *c = calloc(1, sizeof(*c));
	X509 *ee = NULL;
	BIO *bio = NULL;
	int rc = -1;

	if (!c) {
		ike_cert_err(err, errlen, "credential: out of memory");
		goto cleanup;
	}
	if (cred_read_certs(c, cert_path, &ee, err, errlen) < 0)
		goto cleanup;
	/* A private key: nobody else may read it, like psk_file. */
	if (!(bio = open_checked("key file", key_path, FPERM_SECRET, err, errlen)))
		goto cleanup;
	c->key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!c->key) {
		ike_cert_err(err, errlen, "key file %s: no usable private key (PEM, unencrypted)",
			     key_path);
		goto cleanup;
	}
	if (X509_check_private_key(ee, c->key) != 1) {
		ike_cert_err(err, errlen, "key file %s does not match certificate %s", key_path,
			     cert_path);
		goto cleanup;
	}
	if (ike_cert_key_ok(c->key, "our certificate", err, errlen) < 0)
		goto cleanup;
	rc = 0;
cleanup:
	BIO_free(bio);
	X509_free(ee);
	if (rc < 0) {
		ike_cred_free(c);
		c = NULL;
	}
	return c;
}

void ike_cred_free(struct ike_cred *c)
{
	if (!c)
		return;
	EVP_PKEY_free(c->key);
	for (unsigned i = 0; i < c->n; i++)
		OPENSSL_free(c->der[i]);
	free(c);
}

static X509 *der_x509(const uint8_t *der, size_t len)
{
	const uint8_t *p = der;

	return len <= LONG_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
}

int ike_cred_x509(const struct ike_cred *c, X509 **cert, STACK_OF(X509) **chain)
{
	*cert = NULL;
	*chain = NULL;
	if (!c || !c->n || !(*cert = der_x509(c->der[0], c->der_len[0])))
		goto fail;
	for (unsigned i = 1; i < c->n; i++) {
		X509 *x = der_x509(c->der[i], c->der_len[i]);

		if (!x || (!*chain && !(*chain = sk_X509_new_null())) || !sk_X509_push(*chain, x)) {
			X509_free(x);
			goto fail;
		}
	}
	return 0;
fail:
	X509_free(*cert);
	sk_X509_pop_free(*chain, X509_free);
	*cert = NULL;
	*chain = NULL;
	return -1;
}

EVP_PKEY *ike_cred_key(const struct ike_cred *c)
{
	return c ? c->key : NULL;
}

int ike_cred_cert_der(const struct ike_cred *c, unsigned idx, const uint8_t **der, size_t *len)
{
	if (!c || idx >= c->n)
		return -1;
	*der = c->der[idx];
	*len = c->der_len[idx];
	return 0;
}

EVP_PKEY *ike_cred_pkey(const struct ike_cred *c)
{
	return c ? c->key : NULL;
}

/* ---- Identity ↔ certificate ---- */

static uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 'a' - 'A') : c;
}

static bool ascii_caseeq(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

static const uint8_t *last_at(const uint8_t *p, size_t n)
{
	while (n--)
		if (p[n] == '@')
			return p + n;
	return NULL;
}

/* RFC 5280 §7.5: the local part is compared exactly, the domain in any case. */
static bool email_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	const uint8_t *at = last_at(a, n);
	size_t local = at ? (size_t)(at - a) : 0;

	if (!at || local == 0 || b[local] != '@' || memcmp(a, b, local) != 0)
		return false;
	return ascii_caseeq(a + local, b + local, n - local);
}

static bool san_value_eq(int gen_type, const ASN1_STRING *s, const uint8_t *id, size_t len)
{
	const uint8_t *v = ASN1_STRING_get0_data(s);

	if (!v || ASN1_STRING_length(s) < 0 || (size_t)ASN1_STRING_length(s) != len)
		return false;
	switch (gen_type) {
	case GEN_DNS:
		return ascii_caseeq(v, id, len);
	case GEN_EMAIL:
		return email_eq(id, v, len);
	default:	/* GEN_IPADD */
		return memcmp(v, id, len) == 0;
	}
}

static bool san_has(X509 *x, int gen_type, const uint8_t *id, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;

	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !found; i++) {
		int type;
		const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, i), &type);

		found = type == gen_type && san_value_eq(gen_type, s, id, len);
	}
	GENERAL_NAMES_free(gens);
	return found;
}

static bool dn_eq(X509 *x, const uint8_t *id, size_t len)
{
	const unsigned char *p = id;
	X509_NAME *name = len <= LONG_MAX ? d2i_X509_NAME(NULL, &p, (long)len) : NULL;
	bool eq = name && p == id + len && X509_NAME_cmp(name, X509_get_subject_name(x)) == 0;

	X509_NAME_free(name);
	return eq;
}

static const char *id_label(uint8_t type, const uint8_t *id, size_t len, char *buf, size_t cap)
{
	static const char *const prefix[] = {
		[ID_IPV4_ADDR] = "ipv4", [ID_FQDN] = "fqdn", [ID_RFC822_ADDR] = "email",
		[ID_IPV6_ADDR] = "ipv6", [ID_DER_ASN1_DN] = "dn",
	};
	struct ike_id tmp = { .type = type, .len = (uint16_t)(len < IKE_ID_MAX ? len : IKE_ID_MAX) };
	char val[256];

	memcpy(tmp.data, id, tmp.len);
	snprintf(buf, cap, "%s:%s", type < 10 && prefix[type] ? prefix[type] : "id",
		 ike_id_str(&tmp, val, sizeof(val)));
	return buf;
}

/*
 * The IDr must be authenticated by the key that signs AUTH: RFC 7296 §3.5
 * leaves the binding to local policy; RFC 4945 §3.1 has the ID match a
 * subjectAltName (or for a DN the subject). We require that match.
 */
static int match_id(X509 *x, uint8_t type, const uint8_t *id, size_t len, char *err,
		    size_t errlen)
{
	char label[300];
	bool ok;

	if (!id || !len)
		return ike_cert_err(err, errlen, "gateway identity is empty");
	switch (type) {
	case ID_FQDN:
		ok = san_has(x, GEN_DNS, id, len);
		break;
	case ID_IPV4_ADDR:
	case ID_IPV6_ADDR:
		ok = len == (type == ID_IPV4_ADDR ? 4u : 16u) && san_has(x, GEN_IPADD, id, len);
		break;
	case ID_RFC822_ADDR:
		ok = san_has(x, GEN_EMAIL, id, len);
		break;
	case ID_DER_ASN1_DN:
		ok = dn_eq(x, id, len);
		break;
	default:
		return ike_cert_err(err, errlen, "gateway identity type %u cannot be checked "
				    "against a certificate", type);
	}
	if (!ok)
		return ike_cert_err(err, errlen, "gateway certificate does not contain identity %s",
				    id_label(type, id, len, label, sizeof(label)));
	return 0;
}

/* ---- The gateway's certificate ---- */

static int chain_verify(const struct ike_trust *t, X509 *ee, STACK_OF(X509) *untrusted,
			char *err, size_t errlen)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	char name[160];
	int rc = -1;

	if (!ctx || !X509_STORE_CTX_init(ctx, t->store, ee, untrusted)) {
		ike_cert_err(err, errlen, "gateway certificate: out of memory");
		goto cleanup;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_depth(param, IKE_CERT_MAX_CHAIN + 1);
	if (t->at)
		X509_VERIFY_PARAM_set_time(param, t->at);
	if (X509_verify_cert(ctx) != 1) {
		X509 *bad = X509_STORE_CTX_get_current_cert(ctx);

		ike_cert_err(err, errlen, "gateway certificate: %s (%s)",
			     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)),
			     name_label(X509_get_subject_name(bad ? bad : ee), true, name,
					sizeof(name)));
		goto cleanup;
	}
	rc = 0;
cleanup:
	X509_STORE_CTX_free(ctx);
	return rc;
}

/* RFC 4945 §5.1.3.2: a keyUsage, if present, must allow signatures. */
static int ee_usage_ok(X509 *ee, char *err, size_t errlen)
{
	uint32_t ku = X509_get_key_usage(ee);

	if (ku != UINT32_MAX && !(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
		return ike_cert_err(err, errlen, "gateway certificate: key usage does not allow "
				    "signatures");
	return 0;
}

static STACK_OF(X509) *chain_parse(const uint8_t *const *der, const size_t *len, unsigned n,
				   char *err, size_t errlen)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	for (unsigned i = 0; sk && i < n; i++) {
		X509 *x = der_to_x509(der[i], len[i]);

		if (!x || !sk_X509_push(sk, x)) {
			X509_free(x);
			ike_cert_err(err, errlen, "gateway intermediate certificate %u is not valid "
				     "DER", i + 1);
			sk_X509_pop_free(sk, X509_free);
			return NULL;
		}
	}
	if (!sk)
		ike_cert_err(err, errlen, "gateway certificate: out of memory");
	return sk;
}

int ike_peer_cert_verify(const struct ike_trust *t, const uint8_t *ee_der, size_t ee_len,
			 const uint8_t *const *chain_der, const size_t *chain_len,
			 unsigned n_chain, uint8_t id_type, const uint8_t *id, size_t id_len,
			 struct ike_peer_cert **out, char *err, size_t errlen)
{
	STACK_OF(X509) *untrusted = NULL;
	X509 *ee = NULL;
	int rc = -1;

	if (!out)
		return ike_cert_err(err, errlen, "gateway certificate: bad arguments");
	*out = NULL;
	if (!t || n_chain > IKE_CERT_MAX_CHAIN || (n_chain && (!chain_der || !chain_len)))
		return ike_cert_err(err, errlen, "gateway certificate: bad arguments (at most %d "
				    "intermediates)", IKE_CERT_MAX_CHAIN);
	/* §3.6: "The first certificate provided MUST contain the public key used to verify the AUTH field." */
	if (!(ee = der_to_x509(ee_der, ee_len))) {
		ike_cert_err(err, errlen, "gateway certificate is not valid DER");
		goto cleanup;
	}
	if (!(untrusted = chain_parse(chain_der, chain_len, n_chain, err, errlen)) ||
	    chain_verify(t, ee, untrusted, err, errlen) < 0 || ee_usage_ok(ee, err, errlen) < 0 ||
	    ike_cert_key_ok(X509_get0_pubkey(ee), "gateway certificate", err, errlen) < 0 ||
	    match_id(ee, id_type, id, id_len, err, errlen) < 0)
		goto cleanup;
	if (!(*out = calloc(1, sizeof(**out)))) {
		ike_cert_err(err, errlen, "gateway certificate: out of memory");
		goto cleanup;
	}
	(*out)->cert = ee;
	ee = NULL;
	rc = 0;
cleanup:
	X509_free(ee);
	sk_X509_pop_free(untrusted, X509_free);
	return rc;
}

void ike_peer_cert_free(struct ike_peer_cert *pc)
{
	if (!pc)
		return;
	X509_free(pc->cert);
	free(pc);
}

const char *ike_peer_cert_subject(const struct ike_peer_cert *pc, char *buf, size_t len)
{
	if (!pc) {
		snprintf(buf, len, "(none)");
		return buf;
	}
	return name_label(X509_get_subject_name(pc->cert), false, buf, len);
}

EVP_PKEY *ike_peer_cert_pkey(const struct ike_peer_cert *pc)
{
	return pc ? X509_get0_pubkey(pc->cert) : NULL;
}
