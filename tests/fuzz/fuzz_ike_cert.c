/*
 * The gateway's certificate and AUTH signature (ike/cert.c, ike/sig.c).
 * Run from the repository root (the fixture PEMs are read once). The first
 * byte picks the path:
 *   0: the rest is the gateway certificate DER, verified against
 *      tests/fixtures/rsa_cert_ca.pem for IDr fqdn:gw.ikeagent.test;
 *   1: the next byte picks the AUTH method and the key (the fixture's RSA
 *      gateway key or a P-256 key); the rest is the AUTH data, verified
 *      over fixed signed octets;
 *   2: an ID type octet, an ID length octet and the ID, then a certificate
 *      DER. A certificate that parses is re-issued by an Ed25519 CA made at
 *      start-up, so that chain checks pass and the identity, key-usage and
 *      key checks see fuzzed names, extensions and keys.
 * Verification times are fixed, so the corpus replays the same way forever.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ike/cert.h"
#include "ike/ikev2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIX_CA	"tests/fixtures/rsa_cert_ca.pem"
#define FIX_GW	"tests/fixtures/rsa_cert_gw.pem"
#define GW_ID	"gw.ikeagent.test"

static struct {
	struct ike_trust *fx;		/* the fixture CA */
	struct ike_trust *ed;		/* the Ed25519 CA below */
	struct ike_peer_cert *rsa, *ec;
	EVP_PKEY *ca_key;
	X509 *ca;
	uint8_t so[300];		/* signed octets */
} g;

static __attribute__((noreturn)) void die(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_ike_cert: %s: %s\n", what, err);
	abort();
}

static X509 *read_pem(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	if (!x)
		die(path, "cannot read (run from the repository root)");
	return x;
}

static struct ike_peer_cert *peer(const struct ike_trust *t, X509 *x, const char *fqdn)
{
	struct ike_peer_cert *pc = NULL;
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	char err[256] = "";

	if (n <= 0 || ike_peer_cert_verify(t, der, (size_t)n, NULL, NULL, 0, ID_FQDN,
					   (const uint8_t *)fqdn, strlen(fqdn), &pc, err,
					   sizeof(err)) < 0)
		die("start-up certificate", err);
	OPENSSL_free(der);
	X509_free(x);
	return pc;
}

static X509 *issue(EVP_PKEY *k, const char *cn, const char *san, bool is_ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), is_ca ? 1 : 2);
	ASN1_TIME_set_string(X509_getm_notBefore(x), "20000101000000Z");
	ASN1_TIME_set_string(X509_getm_notAfter(x), "20991231000000Z");
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, is_ca ? n : X509_get_subject_name(g.ca));
	X509V3_set_ctx(&ctx, is_ca ? x : g.ca, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, is_ca ? NID_basic_constraints : NID_subject_alt_name,
				is_ca ? "critical,CA:TRUE" : san);
	if (!e || !X509_add_ext(x, e, -1) || !X509_sign(x, g.ca_key, NULL))
		die("start-up", "cannot make a certificate");
	X509_EXTENSION_free(e);
	return x;
}

static void init(void)
{
	char path[] = "/tmp/fuzz_ike_cert_XXXXXX", err[256] = "";
	X509 *gw = read_pem(FIX_GW);
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct tm tm;
	time_t at;
	FILE *f;
	int fd;

	/* a time inside the fixture certificate's validity, whenever this runs */
	if (!ASN1_TIME_to_tm(X509_get0_notBefore(gw), &tm))
		die(FIX_GW, "no notBefore");
	at = timegm(&tm) + 24 * 3600;
	if (!(g.fx = ike_trust_load(FIX_CA, err, sizeof(err))))
		die(FIX_CA, err);
	ike_trust_set_time(g.fx, at);
	g.rsa = peer(g.fx, gw, GW_ID);

	g.ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!g.ca_key || !ec)
		die("start-up", "key generation");
	g.ca = issue(g.ca_key, "fuzz CA", NULL, true);
	fd = mkstemp(path);
	if (fd < 0 || !(f = fdopen(fd, "w")) || !PEM_write_X509(f, g.ca))
		die(path, "cannot write");
	fclose(f);
	g.ed = ike_trust_load(path, err, sizeof(err));
	unlink(path);
	if (!g.ed)
		die("Ed25519 CA", err);
	ike_trust_set_time(g.ed, at);
	g.ec = peer(g.ed, issue(ec, "fuzz gw", "DNS:fuzz.example", false), "fuzz.example");
	EVP_PKEY_free(ec);
	for (size_t i = 0; i < sizeof(g.so); i++)
		g.so[i] = (uint8_t)(i * 7);
}

static void fuzz_cert(const uint8_t *d, size_t n)
{
	struct ike_peer_cert *pc = NULL;
	char err[256];

	if (ike_peer_cert_verify(g.fx, d, n, NULL, NULL, 0, ID_FQDN, (const uint8_t *)GW_ID,
				 strlen(GW_ID), &pc, err, sizeof(err)) == 0 && !pc)
		abort();
	ike_peer_cert_free(pc);
}

static void fuzz_auth(const uint8_t *d, size_t n)
{
	static const uint8_t methods[] = {
		AUTH_DIGITAL_SIGNATURE, AUTH_RSA_SIG, AUTH_ECDSA_256, AUTH_ECDSA_384,
		AUTH_ECDSA_521, AUTH_SHARED_KEY_MIC, AUTH_DSS_SIG, 0,
	};
	char err[256], name[128];

	if (!n)
		return;
	/* nothing but a real signature over g.so could verify */
	if (ike_sig_verify(d[0] & 0x80 ? g.ec : g.rsa, methods[d[0] & 7], d + 1, n - 1, g.so,
			   sizeof(g.so), err, sizeof(err)) == 0)
		abort();
	ike_sig_alg_str(methods[d[0] & 7], d + 1, n - 1, name, sizeof(name));
}

static void fuzz_reissued(const uint8_t *d, size_t n)
{
	const unsigned char *p;
	struct ike_peer_cert *pc = NULL;
	unsigned char *der = NULL;
	char err[256], subj[256];
	uint8_t id_type, id_len;
	X509 *x;
	int len;

	if (n < 2 || (size_t)d[1] + 2 > n)
		return;
	id_type = d[0];
	id_len = d[1];
	p = d + 2 + id_len;
	x = d2i_X509(NULL, &p, (long)(n - 2 - id_len));
	if (x && X509_set_issuer_name(x, X509_get_subject_name(g.ca)) &&
	    X509_sign(x, g.ca_key, NULL) > 0 && (len = i2d_X509(x, &der)) > 0 &&
	    ike_peer_cert_verify(g.ed, der, (size_t)len, NULL, NULL, 0, id_type, d + 2, id_len, &pc,
				 err, sizeof(err)) == 0) {
		ike_peer_cert_subject(pc, subj, sizeof(subj));
		if (ike_sig_verify(pc, AUTH_DIGITAL_SIGNATURE, g.so, sizeof(g.so), g.so, sizeof(g.so),
				   err, sizeof(err)) == 0)
			abort();
	}
	ike_peer_cert_free(pc);
	OPENSSL_free(der);
	X509_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		init();
		ready = true;
	}
	if (size < 1 || size > 8192)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_cert(data + 1, size - 1);
		break;
	case 1:
		fuzz_auth(data + 1, size - 1);
		break;
	default:
		fuzz_reissued(data + 1, size - 1);
	}
	return 0;
}
