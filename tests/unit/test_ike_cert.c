/*
 * ike/cert.c and ike/sig.c: certificate chains, identities and AUTH
 * signatures.
 *   - strongSwan 5.9 (tests/fixtures/rsa_cert_*): the gateway's CERT and
 *     AUTH from a real IKE_AUTH response verify against rsa_cert_ca.pem,
 *     its IDr and the ResponderSignedOctets from auth_signed_octets(); our
 *     CERTREQ equals the one strongSwan's client sent; every bit flip and
 *     truncation of the CERT DER and the AUTH data fails cleanly.
 *   - a PKI generated here with OpenSSL (CA, intermediate, RSA-2048, P-256,
 *     P-384, Ed25519, Ed448 leaves): sign/verify round trips, RSASSA-PSS and
 *     legacy methods 1/9/10 made independently with EVP, SHA-1 refused,
 *     expired / foreign / weak certificates, identities of every type.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ike/auth.h"
#include "ike/cert.h"
#include "ike/id.h"
#include "ike/keys.h"
#include "ike/msg.h"
#include "ike/sk.h"
#include "tests/unit/check_main.h"
#include "tests/unit/pki.h"
#include "tests/unit/testutil.h"

/* ---- strongSwan fixture (loading as in test_ike_fixtures.c) ---- */

static const struct ike_pl *first_pl(const struct ike_msg *m, uint8_t type)
{
	unsigned it = 0;
	const struct ike_pl *p = ike_msg_find(m, type, &it);

	ck_assert_msg(p != NULL, "no payload type %u", type);
	return p;
}

static struct {
	uint8_t init_req[2048], init_resp[2048], req[4096], resp[4096], qplain[4096], rplain[4096];
	size_t init_resp_len;
	struct ike_msg mq, mr;		/* IKE_AUTH request and response, decrypted */
	const uint8_t *cert[IKE_CERT_MAX_CHAIN + 1];
	size_t cert_len[IKE_CERT_MAX_CHAIN + 1];
	unsigned n_cert;
	const struct ike_pl *idr;
	struct ike_pl_id id;
	struct ike_pl_auth auth;
	uint8_t so[4096];		/* ResponderSignedOctets */
	size_t so_len;
	time_t valid_at;		/* inside the gateway certificate's validity */
} fx;

static void fx_decrypt(const struct ike_keys *k, bool from_initiator, uint8_t *msg, size_t len,
		       struct ike_msg *m, uint8_t *plain)
{
	struct sk_dir d;
	size_t plen;
	uint8_t first;

	ck_assert_int_eq(ike_msg_decode(m, msg, len), 0);
	ck_assert(m->has_sk);
	ck_assert_int_eq(sk_init_ike(&d, k, !from_initiator, false), 0);
	ck_assert_int_eq(sk_decrypt(&d, msg, len, m->sk_off, plain, 4096, &plen, &first), 0);
	ck_assert_int_eq(ike_msg_decode_inner(m, first, plain, plen), 0);
	sk_dir_free(&d);
}

static time_t cert_not_before(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	struct tm tm;

	ck_assert_ptr_nonnull(x);
	ck_assert(ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm));
	X509_free(x);
	return timegm(&tm);
}

/* Everything the rsa_cert tests need, from the capture and keys.txt. */
static void fx_load(void)
{
	struct ike_msg mi;
	struct ike_pl_nonce ni;
	struct ike_algs a = { .encr = ENCR_AES_GCM_16, .encr_keybits = 256, .prf = PRF_HMAC_SHA2_256 };
	struct ike_keys k;
	struct ike_pl_cert c;
	const struct ike_pl *p;
	size_t qlen, rlen;
	unsigned it = 0;

	load_keys("rsa_cert");
	ck_assert_int_eq(ike_msg_decode(&mi, fx.init_req, load_fixture("rsa_cert", "1_ike_sa_init_req", fx.init_req,
								    sizeof(fx.init_req))), 0);
	ck_assert_int_eq(ike_pl_nonce_decode(first_pl(&mi, PL_NONCE), &ni), 0);
	fx.init_resp_len = load_fixture("rsa_cert", "1_ike_sa_init_resp", fx.init_resp, sizeof(fx.init_resp));
	ck_assert_int_eq(ike_keys_derive(&k, &a, key("g_ir")->val, key("g_ir")->len, ni.data, ni.len,
					 key("nr")->val, key("nr")->len, key("spi_i")->val,
					 key("spi_r")->val), 0);
	ck_assert_mem_eq(k.sk_pr, key("sk_pr")->val, k.p_len);
	qlen = load_fixture("rsa_cert", "2_ike_auth_req", fx.req, sizeof(fx.req));
	rlen = load_fixture("rsa_cert", "2_ike_auth_resp", fx.resp, sizeof(fx.resp));
	fx_decrypt(&k, true, fx.req, qlen, &fx.mq, fx.qplain);
	fx_decrypt(&k, false, fx.resp, rlen, &fx.mr, fx.rplain);

	fx.n_cert = 0;
	while ((p = ike_msg_find(&fx.mr, PL_CERT, &it)) && fx.n_cert <= IKE_CERT_MAX_CHAIN) {
		ck_assert_int_eq(ike_pl_cert_decode(p, &c), 0);
		ck_assert_uint_eq(c.encoding, CERT_X509_SIGNATURE);
		fx.cert[fx.n_cert] = c.data;
		fx.cert_len[fx.n_cert++] = c.len;
	}
	ck_assert_uint_ge(fx.n_cert, 1);
	fx.idr = first_pl(&fx.mr, PL_IDr);
	ck_assert_int_eq(ike_pl_id_decode(fx.idr, &fx.id), 0);
	ck_assert_int_eq(ike_pl_auth_decode(first_pl(&fx.mr, PL_AUTH), &fx.auth), 0);

	/* ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload) */
	struct auth_octets o = { .msg = fx.init_resp, .msg_len = fx.init_resp_len, .nonce = ni.data,
				 .nonce_len = ni.len, .id = fx.idr->body, .id_len = fx.idr->len };
	ck_assert_int_eq(auth_signed_octets(k.algs.prf, k.sk_pr, k.p_len, &o, fx.so, sizeof(fx.so),
					    &fx.so_len), 0);
	fx.valid_at = cert_not_before(fx.cert[0], fx.cert_len[0]) + DAY;
	ike_keys_clear(&k);
}

static struct ike_trust *fx_trust(void)
{
	char err[256] = "";
	struct ike_trust *t = ike_trust_load(FIX "rsa_cert_ca.pem", err, sizeof(err));

	ck_assert_msg(t != NULL, "%s", err);
	/* the capture's certificates must keep verifying after they expire */
	ike_trust_set_time(t, fx.valid_at);
	return t;
}

static int fx_verify(const struct ike_trust *t, const uint8_t *der, size_t len, uint8_t id_type,
		     const void *id, size_t id_len, struct ike_peer_cert **pc, char *err)
{
	return ike_peer_cert_verify(t, der, len, fx.cert + 1, fx.cert_len + 1, fx.n_cert - 1,
				    id_type, id, id_len, pc, err, 256);
}

/* ---- a PKI generated with OpenSSL ---- */

enum { K_RSA, K_P256, K_P384, K_ED25519, K_ED448, K_RSA1024, K_CA, K_CA2, K_INT, K_N };

static EVP_PKEY *gk[K_N];
static X509 *ca, *ca2, *inter;
static char ca_path[64], ca2_path[64], two_ca_path[64];

static EVP_PKEY *gen_key(int i)
{
	switch (i) {
	case K_RSA: return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case K_RSA1024: return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	case K_P384: return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	case K_ED25519: return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	case K_ED448: return EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	default: return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	}
}

static void pki_setup(void)
{
	struct certopt o = { .cn = "ikeagent unit CA", .ca = true, .to = 30 * DAY };
	X509 *both[2];

	for (int i = 0; i < K_N; i++)
		ck_assert_ptr_nonnull(gk[i] = gen_key(i));
	ca = make_cert(gk[K_CA], &o, NULL, gk[K_CA]);
	o.cn = "ikeagent other CA";
	ca2 = make_cert(gk[K_CA2], &o, NULL, gk[K_CA2]);
	o.cn = "ikeagent intermediate CA";
	inter = make_cert(gk[K_INT], &o, ca, gk[K_CA]);
	write_pem(ca_path, &ca, 1, NULL, NULL);
	write_pem(ca2_path, &ca2, 1, NULL, NULL);
	both[0] = ca;
	both[1] = ca2;
	write_pem(two_ca_path, both, 2, NULL, NULL);
}

static void pki_teardown(void)
{
	for (int i = 0; i < K_N; i++)
		EVP_PKEY_free(gk[i]);
	X509_free(ca);
	X509_free(ca2);
	X509_free(inter);
	unlink(ca_path);
	unlink(ca2_path);
	unlink(two_ca_path);
}

static const char *const leaf_san =
	"DNS:gw.test.example,IP:192.0.2.1,IP:2001:db8::1,email:vpn@Example.COM";

static X509 *leaf(int ki, const char *san, const char *ku, long from, long to)
{
	struct certopt o = { .cn = "gw.test.example", .san = san, .ku = ku, .from = from, .to = to };

	return make_cert(gk[ki], &o, ca, gk[K_CA]);
}

static struct ike_trust *load_trust(const char *path)
{
	char err[256] = "";
	struct ike_trust *t = ike_trust_load(path, err, sizeof(err));

	ck_assert_msg(t != NULL, "%s", err);
	return t;
}

/* Verify x (with optional intermediate) for an ID; returns 0/-1, err filled. */
static int verify_x(X509 *x, X509 *mid, uint8_t id_type, const void *id, size_t id_len,
		    struct ike_peer_cert **pc, char *err)
{
	struct ike_trust *t = load_trust(ca_path);
	unsigned char *der = NULL, *mder = NULL;
	int n = i2d_X509(x, &der), mn = mid ? i2d_X509(mid, &mder) : 0, rc;
	const uint8_t *chain[1] = { mder };
	size_t clen[1] = { (size_t)mn };
	struct ike_peer_cert *tmp = NULL;

	ck_assert_int_gt(n, 0);
	rc = ike_peer_cert_verify(t, der, (size_t)n, chain, clen, mid ? 1 : 0, id_type, id, id_len,
				  pc ? pc : &tmp, err, 256);
	ike_peer_cert_free(tmp);
	OPENSSL_free(der);
	OPENSSL_free(mder);
	ike_trust_free(t);
	return rc;
}

static int verify_fqdn(X509 *x, X509 *mid, const char *fqdn, char *err)
{
	return verify_x(x, mid, ID_FQDN, fqdn, strlen(fqdn), NULL, err);
}

#define ASSERT_ERR(call, err, needle) do {						\
		ck_assert_int_lt((call), 0);						\
		ck_assert_msg(strstr((err), (needle)) != NULL, "error \"%s\" lacks \"%s\"",	\
			      (err), (needle));						\
	} while (0)

/* ---- strongSwan: the real gateway certificate and AUTH ---- */

static void check_same_as_pem(const uint8_t *der, size_t len, const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char *d = NULL;
	int n = x ? i2d_X509(x, &d) : -1;

	ck_assert_int_eq(n, (int)len);
	ck_assert_mem_eq(d, der, len);
	OPENSSL_free(d);
	X509_free(x);
	fclose(f);
}

/* True if some CERTREQ payload of m carries exactly the hashes in want. */
static bool has_certreq(const struct ike_msg *m, const uint8_t *want, size_t len)
{
	const struct ike_pl *p;
	struct ike_pl_cert c;
	unsigned it = 0;

	while ((p = ike_msg_find(m, PL_CERTREQ, &it))) {
		ck_assert_int_eq(ike_pl_certreq_decode(p, &c), 0);
		if (c.encoding == CERT_X509_SIGNATURE && c.len == len && memcmp(c.data, want, len) == 0)
			return true;
	}
	return false;
}

START_TEST(strongswan_gateway_cert_and_auth)
{
	struct ike_trust *t;
	struct ike_peer_cert *pc = NULL;
	char err[256] = "", alg[128], subj[256];
	uint8_t cr[IKE_TRUST_MAX_CA * 20];
	size_t crlen = 0;
	struct ike_msg mi;

	fx_load();
	t = fx_trust();
	check_same_as_pem(fx.cert[0], fx.cert_len[0], FIX "rsa_cert_gw.pem");
	ck_assert_uint_eq(fx.id.type, ID_FQDN);
	ck_assert_uint_eq(fx.id.len, strlen("gw.ikeagent.test"));
	ck_assert_mem_eq(fx.id.data, "gw.ikeagent.test", fx.id.len);
	ck_assert_msg(fx_verify(t, fx.cert[0], fx.cert_len[0], fx.id.type, fx.id.data, fx.id.len,
				&pc, err) == 0, "%s", err);
	ike_sig_alg_str(fx.auth.method, fx.auth.data, fx.auth.len, alg, sizeof(alg));
	fprintf(stderr, "strongSwan gateway %s: %u CERT, AUTH method %u, %s, %u octets\n",
		ike_peer_cert_subject(pc, subj, sizeof(subj)), fx.n_cert, fx.auth.method, alg,
		fx.auth.len);
	ck_assert_uint_eq(fx.auth.method, AUTH_DIGITAL_SIGNATURE);
	ck_assert_msg(ike_sig_verify(pc, fx.auth.method, fx.auth.data, fx.auth.len, fx.so,
				     fx.so_len, err, sizeof(err)) == 0, "%s", err);
	/* every part of the ResponderSignedOctets is covered */
	for (size_t at = 0; at < fx.so_len; at += fx.so_len / 7) {
		fx.so[at] ^= 0x80;
		ASSERT_ERR(ike_sig_verify(pc, fx.auth.method, fx.auth.data, fx.auth.len, fx.so,
					  fx.so_len, err, sizeof(err)), err, "does not verify");
		fx.so[at] ^= 0x80;
	}
	/* the same octets are no legacy method-1 signature */
	ck_assert_int_lt(ike_sig_verify(pc, AUTH_RSA_SIG, fx.auth.data, fx.auth.len, fx.so,
					fx.so_len, err, sizeof(err)), 0);

	/* §3.7: our CERTREQ for this CA is byte for byte what strongSwan sent */
	ck_assert_int_eq(ike_trust_certreq(t, cr, sizeof(cr), &crlen), 0);
	ck_assert_uint_eq(crlen, 20);
	ck_assert_int_eq(ike_msg_decode(&mi, fx.init_resp, fx.init_resp_len), 0);
	ck_assert(has_certreq(&fx.mq, cr, crlen) || has_certreq(&mi, cr, crlen));
	ike_peer_cert_free(pc);
	ike_trust_free(t);
}
END_TEST

START_TEST(strongswan_wrong_ca_and_time)
{
	struct ike_trust *t = load_trust(ca_path);
	struct ike_peer_cert *pc = NULL;
	char err[256] = "";

	fx_load();
	ASSERT_ERR(fx_verify(t, fx.cert[0], fx.cert_len[0], fx.id.type, fx.id.data, fx.id.len,
			     &pc, err), err, "unable to get local issuer certificate");
	ck_assert_ptr_null(pc);
	ck_assert_ptr_nonnull(strstr(err, "(CN=gw.ikeagent.test)"));
	ike_trust_free(t);

	t = fx_trust();
	ike_trust_set_time(t, fx.valid_at - 2 * DAY);
	ASSERT_ERR(fx_verify(t, fx.cert[0], fx.cert_len[0], fx.id.type, fx.id.data, fx.id.len,
			     &pc, err), err, "not yet valid");
	ike_trust_free(t);
}
END_TEST

START_TEST(strongswan_identities)
{
	static const struct { const char *id; bool ok; } cases[] = {
		{ "gw.ikeagent.test", true }, { "GW.IkeAgent.TEST", true }, { "10.99.0.1", true },
		{ "fd99::1", true }, { "C=CH, O=ikeagent testbed, CN=gw.ikeagent.test", true },
		{ "C=CH,O=ikeagent testbed,CN=GW.ikeagent.test", true },
		{ "gw.example.com", false }, { "gw.ikeagent.tes", false }, { "10.99.0.2", false },
		{ "fd99::2", false }, { "gw@ikeagent.test", false }, { "@#0102", false },
		{ "C=CH, O=ikeagent testbed, CN=other", false },
	};
	struct ike_trust *t;
	struct ike_peer_cert *pc;
	char err[256] = "";

	fx_load();
	t = fx_trust();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ike_id id;
		int rc;

		ck_assert_int_eq(ike_id_parse(cases[i].id, &id), 0);
		pc = NULL;
		rc = fx_verify(t, fx.cert[0], fx.cert_len[0], id.type, id.data, id.len, &pc, err);
		ck_assert_msg((rc == 0) == cases[i].ok, "%s: %d %s", cases[i].id, rc, err);
		ck_assert((pc != NULL) == cases[i].ok);
		ike_peer_cert_free(pc);
	}
	ASSERT_ERR(fx_verify(t, fx.cert[0], fx.cert_len[0], ID_FQDN, "gw.example.com", 14, &pc, err),
		   err, "gateway certificate does not contain identity fqdn:gw.example.com");
	ASSERT_ERR(fx_verify(t, fx.cert[0], fx.cert_len[0], ID_IPV4_ADDR, "\x0a\x63\x00", 3, &pc,
			     err), err, "does not contain identity ipv4:");
	ASSERT_ERR(fx_verify(t, fx.cert[0], fx.cert_len[0], ID_KEY_ID, "\x01", 1, &pc, err), err,
		   "cannot be checked");
	ike_trust_free(t);
}
END_TEST

/* Every single bit flip and every truncation of the CERT DER and the AUTH data fails cleanly. */
START_TEST(strongswan_bit_flips_and_truncations)
{
	static uint8_t buf[4096];
	struct ike_trust *t;
	struct ike_peer_cert *pc = NULL, *bad;
	char err[256];
	size_t n;

	fx_load();
	t = fx_trust();
	ck_assert_int_eq(fx_verify(t, fx.cert[0], fx.cert_len[0], fx.id.type, fx.id.data, fx.id.len,
				   &pc, err), 0);
	n = fx.cert_len[0];
	memcpy(buf, fx.cert[0], n);
	for (size_t bit = 0; bit < n * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
		bad = NULL;
		ck_assert_msg(fx_verify(t, buf, n, fx.id.type, fx.id.data, fx.id.len, &bad, err) < 0,
			      "cert bit %zu", bit);
		ck_assert_ptr_null(bad);
		buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
	}
	for (size_t len = 0; len <= n + 1; len++)
		if (len != n)
			ck_assert_int_lt(fx_verify(t, buf, len, fx.id.type, fx.id.data, fx.id.len,
						   &bad, err), 0);

	n = fx.auth.len;
	memcpy(buf, fx.auth.data, n);
	for (size_t bit = 0; bit < n * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
		ck_assert_msg(ike_sig_verify(pc, AUTH_DIGITAL_SIGNATURE, buf, n, fx.so, fx.so_len, err,
					     sizeof(err)) < 0, "AUTH bit %zu", bit);
		buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
	}
	for (size_t len = 0; len < n; len++)
		ck_assert_int_lt(ike_sig_verify(pc, AUTH_DIGITAL_SIGNATURE, buf, len, fx.so, fx.so_len,
						err, sizeof(err)), 0);
	ck_assert_int_eq(ike_sig_verify(pc, AUTH_DIGITAL_SIGNATURE, buf, n, fx.so, fx.so_len, err,
					sizeof(err)), 0);
	ike_peer_cert_free(pc);
	ike_trust_free(t);
}
END_TEST

/* ---- generated PKI: trust store and CERTREQ ---- */

START_TEST(trust_certreq)
{
	struct ike_trust *t = load_trust(two_ca_path);
	uint8_t cr[64], want[40];
	size_t len = 0;
	X509 *cas[2] = { ca, ca2 };

	/* §3.7: SHA-1 of each CA's whole SubjectPublicKeyInfo, in file order */
	for (int i = 0; i < 2; i++) {
		unsigned char *spki = NULL;
		int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cas[i]), &spki);

		ck_assert(EVP_Digest(spki, (size_t)n, want + 20 * i, NULL, EVP_sha1(), NULL));
		OPENSSL_free(spki);
	}
	ck_assert_int_eq(ike_trust_certreq(t, cr, sizeof(cr), &len), 0);
	ck_assert_uint_eq(len, 40);
	ck_assert_mem_eq(cr, want, 40);
	ck_assert_int_lt(ike_trust_certreq(t, cr, 39, &len), 0);
	ike_trust_free(t);
}
END_TEST

START_TEST(trust_load_errors)
{
	char err[256] = "", path[64];
	X509 *x = leaf(K_P256, leaf_san, NULL, 0, 0);
	FILE *f;

	ck_assert_ptr_null(ike_trust_load("/nonexistent/ca.pem", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/ca.pem"));
	write_pem(path, NULL, 0, NULL, NULL);
	ck_assert_ptr_null(ike_trust_load(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no certificate found"));
	unlink(path);
	write_pem(path, &x, 1, NULL, NULL);
	ck_assert_ptr_null(ike_trust_load(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "is not a CA certificate"));
	unlink(path);
	/* a PEM block whose base64 is cut short */
	write_pem(path, &ca, 1, NULL, NULL);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIBATAKBggqhkjOPQQDAjA+MQswCQYDVQQGEwJDSDEW\n"
	      "-----END CERTIFICATE-----\n", f);
	fclose(f);
	ck_assert_ptr_null(ike_trust_load(path, err, sizeof(err)));
	unlink(path);
	ike_trust_free(NULL);
	X509_free(x);
}
END_TEST

/* Keys, certificates and CAs others may write (or read, for a key) are refused. */
START_TEST(file_modes_and_owner)
{
	char err[256] = "", cp[64], kp[64], want[256];
	X509 *x = leaf(K_P256, leaf_san, NULL, 0, 0);
	struct ike_cred *c;
	struct ike_trust *t;

	write_pem(cp, &x, 1, NULL, NULL);
	write_pem(kp, NULL, 0, gk[K_P256], NULL);
	ck_assert_int_eq(chmod(cp, 0644), 0);		/* public: may be read by all */
	c = ike_cred_load(cp, kp, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ike_cred_free(c);

	ck_assert_int_eq(chmod(kp, 0640), 0);
	ck_assert_ptr_null(ike_cred_load(cp, kp, err, sizeof(err)));
	snprintf(want, sizeof(want), "key file %s is readable by group/others (chmod 600)", kp);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(chmod(kp, 0620), 0);
	ck_assert_ptr_null(ike_cred_load(cp, kp, err, sizeof(err)));
	snprintf(want, sizeof(want), "key file %s is writable by group (mode 0620); chmod go-w it",
		 kp);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(chmod(kp, 0600), 0);
	ck_assert_int_eq(chmod(cp, 0666), 0);
	ck_assert_ptr_null(ike_cred_load(cp, kp, err, sizeof(err)));
	snprintf(want, sizeof(want), "certificate file %s is writable by others (mode 0666); "
		 "chmod go-w it", cp);
	ck_assert_str_eq(err, want);
	unlink(cp);

	write_pem(cp, &ca, 1, NULL, NULL);
	ck_assert_int_eq(chmod(cp, 0664), 0);
	ck_assert_ptr_null(ike_trust_load(cp, err, sizeof(err)));
	snprintf(want, sizeof(want), "CA file %s is writable by group (mode 0664); chmod go-w it",
		 cp);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(chmod(cp, 0644), 0);
	t = ike_trust_load(cp, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	ike_trust_free(t);

	if (geteuid() != 0) {
		check_skip("file_modes_and_owner", "the owner check needs root (chown)");
	} else {
		ck_assert_int_eq(chown(kp, 4242, (gid_t)-1), 0);
		ck_assert_ptr_null(ike_cred_load(cp, kp, err, sizeof(err)));
		snprintf(want, sizeof(want), "key file %s is owned by uid 4242, not root; "
			 "chown root it", kp);
		ck_assert_str_eq(err, want);
		ck_assert_int_eq(chown(cp, 4242, (gid_t)-1), 0);
		ck_assert_ptr_null(ike_trust_load(cp, err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "is owned by uid 4242, not root"));
	}
	unlink(cp);
	unlink(kp);
	X509_free(x);
}
END_TEST

/* ---- sign with ike_sig_sign, verify with ike_sig_verify ---- */

static const struct { int key; const char *alg[3]; } rt[] = {
	{ K_RSA, { "sha256WithRSAEncryption", "sha384WithRSAEncryption", "sha512WithRSAEncryption" } },
	{ K_P256, { "ecdsa-with-SHA256", "ecdsa-with-SHA384", "ecdsa-with-SHA512" } },
	{ K_P384, { "ecdsa-with-SHA384", "ecdsa-with-SHA384", "ecdsa-with-SHA512" } },
	{ K_ED25519, { "ED25519" } },
	{ K_ED448, { "ED448" } },
};

static struct ike_cred *load_cred(X509 *x, EVP_PKEY *k, X509 *mid)
{
	char cp[64], kp[64], err[256] = "";
	X509 *certs[2] = { x, mid };
	struct ike_cred *c;

	write_pem(cp, certs, mid ? 2 : 1, NULL, NULL);
	write_pem(kp, NULL, 0, k, NULL);
	c = ike_cred_load(cp, kp, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	unlink(cp);
	unlink(kp);
	return c;
}

START_TEST(sign_verify_round_trip)
{
	int ki = rt[_i].key;
	bool ed = ki == K_ED25519 || ki == K_ED448;
	X509 *x = leaf(ki, leaf_san, "critical,digitalSignature", 0, 0);
	struct ike_cred *c = load_cred(x, gk[ki], NULL);
	struct ike_peer_cert *pc = NULL;
	static const uint16_t hashes[] = { 0, HASH_SHA2_384, HASH_SHA2_512 };
	uint8_t so[333], sig[1024], method = 0;
	char err[256] = "", name[128];
	const uint8_t *der;
	size_t len = 0, dlen;

	ck_assert_int_eq(ike_cred_cert_der(c, 0, &der, &dlen), 0);
	ck_assert_int_lt(ike_cred_cert_der(c, 1, &der, &dlen), 0);
	ck_assert_msg(verify_x(x, NULL, ID_FQDN, "gw.test.example", 15, &pc, err) == 0, "%s", err);
	ck_assert(RAND_bytes(so, sizeof(so)) == 1);
	for (unsigned h = 0; h < (ed ? 1u : 3u); h++) {
		ck_assert_msg(ike_sig_sign(c, hashes[h], so, sizeof(so), sig, sizeof(sig), &len, &method,
					   err, sizeof(err)) == 0, "%s", err);
		ck_assert_uint_eq(method, AUTH_DIGITAL_SIGNATURE);
		ike_sig_alg_str(method, sig, len, name, sizeof(name));
		ck_assert_msg(strstr(name, rt[_i].alg[h]) != NULL, "%s vs %s", name, rt[_i].alg[h]);
		ck_assert_msg(ike_sig_verify(pc, method, sig, len, so, sizeof(so), err, sizeof(err)) == 0,
			      "%s: %s", name, err);
		so[17] ^= 4;
		ASSERT_ERR(ike_sig_verify(pc, method, sig, len, so, sizeof(so), err, sizeof(err)), err,
			   "does not verify");
		so[17] ^= 4;
		sig[len - 3] ^= 0x10;
		ck_assert_int_lt(ike_sig_verify(pc, method, sig, len, so, sizeof(so), err, sizeof(err)), 0);
		sig[len - 3] ^= 0x10;
		ck_assert_int_lt(ike_sig_verify(pc, method, sig, len - 1, so, sizeof(so), err,
						sizeof(err)), 0);
	}
	/* no room, or a hash the key cannot use */
	ck_assert_int_lt(ike_sig_sign(c, 0, so, sizeof(so), sig, 40, &len, &method, err, sizeof(err)), 0);
	ck_assert_int_lt(ike_sig_sign(c, ed ? HASH_SHA2_256 : HASH_IDENTITY, so, sizeof(so), sig,
				      sizeof(sig), &len, &method, err, sizeof(err)), 0);
	ck_assert_int_lt(ike_sig_sign(c, HASH_SHA1, so, sizeof(so), sig, sizeof(sig), &len, &method,
				      err, sizeof(err)), 0);
	ike_peer_cert_free(pc);
	ike_cred_free(c);
	X509_free(x);
}
END_TEST

START_TEST(pick_hash)
{
	static const uint16_t all[] = { HASH_SHA1, HASH_SHA2_512, HASH_SHA2_384, HASH_SHA2_256,
					HASH_IDENTITY };
	static const uint16_t only512[] = { HASH_SHA2_512 }, only1[] = { HASH_SHA1 };
	static const struct { int key; uint16_t want_all, want_512; } cases[] = {
		{ K_RSA, HASH_SHA2_256, HASH_SHA2_512 }, { K_P256, HASH_SHA2_256, HASH_SHA2_512 },
		{ K_P384, HASH_SHA2_384, HASH_SHA2_512 }, { K_ED25519, HASH_IDENTITY, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *x = leaf(cases[i].key, leaf_san, NULL, 0, 0);
		struct ike_cred *c = load_cred(x, gk[cases[i].key], NULL);

		ck_assert_uint_eq(ike_sig_pick_hash(c, all, 5), cases[i].want_all);
		ck_assert_uint_eq(ike_sig_pick_hash(c, only512, 1), cases[i].want_512);
		ck_assert_uint_eq(ike_sig_pick_hash(c, only1, 1), 0);
		ck_assert_uint_eq(ike_sig_pick_hash(c, NULL, 0), 0);
		ike_cred_free(c);
		X509_free(x);
	}
	ck_assert_uint_eq(ike_sig_hashes[0], HASH_SHA2_256);
}
END_TEST

/* ---- signatures made here with EVP, independently of ike_sig_sign ---- */

struct ext_sig {
	uint8_t alg[128];	/* DER AlgorithmIdentifier, from OpenSSL's "algorithm-id" */
	size_t alg_len;
	uint8_t sig[600];
	size_t sig_len;
	uint8_t auth[800];	/* RFC 7427 Authentication Data */
	size_t auth_len;
};

static void ext_sign(EVP_PKEY *k, const EVP_MD *md, int salt, const EVP_MD *mgf1, const uint8_t *so,
		     size_t so_len, struct ext_sig *e)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *p = NULL;
	OSSL_PARAM ps[2];

	ck_assert(EVP_DigestSignInit(m, &p, md, NULL, k) == 1);
	if (mgf1) {
		ck_assert(EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PSS_PADDING) == 1);
		ck_assert(EVP_PKEY_CTX_set_rsa_pss_saltlen(p, salt) == 1);
		ck_assert(EVP_PKEY_CTX_set_rsa_mgf1_md(p, mgf1) == 1);
	}
	ps[0] = OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, e->alg,
						  sizeof(e->alg));
	ps[1] = OSSL_PARAM_construct_end();
	ck_assert(EVP_PKEY_CTX_get_params(p, ps) == 1);
	e->alg_len = ps[0].return_size;
	e->sig_len = sizeof(e->sig);
	ck_assert(EVP_DigestSign(m, e->sig, &e->sig_len, so, so_len) == 1);
	EVP_MD_CTX_free(m);
	e->auth[0] = (uint8_t)e->alg_len;
	memcpy(e->auth + 1, e->alg, e->alg_len);
	memcpy(e->auth + 1 + e->alg_len, e->sig, e->sig_len);
	e->auth_len = 1 + e->alg_len + e->sig_len;
}

static struct ike_peer_cert *peer(int ki)
{
	X509 *x = leaf(ki, leaf_san, NULL, 0, 0);
	struct ike_peer_cert *pc = NULL;
	char err[256] = "";

	ck_assert_msg(verify_x(x, NULL, ID_IPV4_ADDR, "\xc0\x00\x02\x01", 4, &pc, err) == 0, "%s", err);
	X509_free(x);
	return pc;
}

START_TEST(rsa_pss)
{
	struct ike_peer_cert *pc = peer(K_RSA);
	static struct ext_sig e;
	uint8_t so[200];
	char err[256] = "", name[128];

	memset(so, 0x5a, sizeof(so));
	/* strongSwan's form: SHA-256, MGF1-SHA-256, salt = hash length */
	ext_sign(gk[K_RSA], EVP_sha256(), RSA_PSS_SALTLEN_DIGEST, EVP_sha256(), so, sizeof(so), &e);
	ck_assert_msg(ike_sig_verify(pc, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so, sizeof(so),
				     err, sizeof(err)) == 0, "%s", err);
	ike_sig_alg_str(AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, name, sizeof(name));
	ck_assert_msg(strstr(name, "RSASSA-PSS") && strstr(name, "salt 32"), "%s", name);
	so[0] ^= 1;
	ck_assert_int_lt(ike_sig_verify(pc, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so,
					sizeof(so), err, sizeof(err)), 0);
	so[0] ^= 1;
	/* SHA-512 with MGF1-SHA-384 and salt 0 */
	ext_sign(gk[K_RSA], EVP_sha512(), 0, EVP_sha384(), so, sizeof(so), &e);
	ck_assert_msg(ike_sig_verify(pc, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so, sizeof(so),
				     err, sizeof(err)) == 0, "%s", err);
	/* signed with salt 24 but claiming salt 32 (the last octet of the parameters) */
	ext_sign(gk[K_RSA], EVP_sha256(), 24, EVP_sha256(), so, sizeof(so), &e);
	ck_assert_uint_eq(e.auth[e.alg_len], 24);
	e.auth[e.alg_len] = 32;
	ck_assert_int_lt(ike_sig_verify(pc, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so,
					sizeof(so), err, sizeof(err)), 0);
	/* SHA-1 anywhere in PSS is refused */
	ext_sign(gk[K_RSA], EVP_sha1(), 20, EVP_sha1(), so, sizeof(so), &e);
	ASSERT_ERR(ike_sig_verify(pc, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so, sizeof(so), err,
				  sizeof(err)), err, "RSASSA-PSS");
	ext_sign(gk[K_RSA], EVP_sha256(), 32, EVP_sha1(), so, sizeof(so), &e);
	ASSERT_ERR(ike_sig_verify(pc, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so, sizeof(so), err,
				  sizeof(err)), err, "only with SHA-2");
	ike_peer_cert_free(pc);
}
END_TEST

/*
 * SHA-1 in the gateway's AUTH: RFC 7427 sha1WithRSAEncryption and
 * ecdsa-with-SHA1, and AUTH method 1 (RSA PKCS#1 v1.5, always SHA-1), are
 * refused by default ([auth] allow_sha1 = no) and verify with it set.
 */
START_TEST(sha1_refused)
{
	struct ike_peer_cert *rsa = peer(K_RSA), *ec = peer(K_P256);
	static struct ext_sig e;
	uint8_t so[100] = { 1, 2, 3 }, m1[1024];
	size_t m1_len = sizeof(m1);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	char err[256] = "";

	ext_sign(gk[K_RSA], EVP_sha1(), 0, NULL, so, sizeof(so), &e);
	ASSERT_ERR(ike_sig_verify(rsa, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so, sizeof(so),
				  err, sizeof(err)), err,
		   "AUTH signature algorithm sha1WithRSAEncryption is not accepted");
	ck_assert_msg(ike_sig_verify_opt(rsa, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so,
					 sizeof(so), true, err, sizeof(err)) == 0, "%s", err);
	ext_sign(gk[K_P256], EVP_sha1(), 0, NULL, so, sizeof(so), &e);
	ASSERT_ERR(ike_sig_verify(ec, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so, sizeof(so),
				  err, sizeof(err)), err, "ecdsa-with-SHA1 is not accepted");
	ck_assert_msg(ike_sig_verify_opt(ec, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so,
					 sizeof(so), true, err, sizeof(err)) == 0, "%s", err);

	/* method 1: a bare RSASSA-PKCS1-v1_5 SHA-1 signature, valid */
	ck_assert_ptr_nonnull(mc);
	ck_assert_int_eq(EVP_DigestSignInit(mc, NULL, EVP_sha1(), NULL, gk[K_RSA]), 1);
	ck_assert_int_eq(EVP_DigestSign(mc, m1, &m1_len, so, sizeof(so)), 1);
	EVP_MD_CTX_free(mc);
	ASSERT_ERR(ike_sig_verify(rsa, AUTH_RSA_SIG, m1, m1_len, so, sizeof(so), err, sizeof(err)),
		   err, "AUTH method 1 (RSA PKCS#1 v1.5 with SHA-1) is not accepted");
	ASSERT_ERR(ike_sig_verify_opt(rsa, AUTH_RSA_SIG, m1, m1_len, so, sizeof(so), false, err,
				      sizeof(err)), err, "allow_sha1 = yes");
	ck_assert_msg(ike_sig_verify_opt(rsa, AUTH_RSA_SIG, m1, m1_len, so, sizeof(so), true, err,
					 sizeof(err)) == 0, "%s", err);
	so[5] ^= 1;
	ASSERT_ERR(ike_sig_verify_opt(rsa, AUTH_RSA_SIG, m1, m1_len, so, sizeof(so), true, err,
				      sizeof(err)), err, "does not verify");

	/* MD5 never, even when SHA-1 is allowed: an OID that is no signature algorithm: 1.2.3.4 */
	memcpy(e.auth, "\x05\x30\x03\x06\x01\x2a", 6);
	ASSERT_ERR(ike_sig_verify_opt(ec, AUTH_DIGITAL_SIGNATURE, e.auth, 7, so, sizeof(so), true,
				      err, sizeof(err)), err, "is not supported");
	ike_peer_cert_free(rsa);
	ike_peer_cert_free(ec);
}
END_TEST

START_TEST(key_type_mismatch)
{
	struct ike_peer_cert *rsa = peer(K_RSA), *ec = peer(K_P256), *ed = peer(K_ED25519);
	static struct ext_sig e;
	uint8_t so[64] = { 9 };
	char err[256] = "";

	ext_sign(gk[K_RSA], EVP_sha256(), 0, NULL, so, sizeof(so), &e);
	ASSERT_ERR(ike_sig_verify(ec, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so, sizeof(so),
				  err, sizeof(err)), err, "does not match the certificate's EC key");
	ext_sign(gk[K_P256], EVP_sha256(), 0, NULL, so, sizeof(so), &e);
	ASSERT_ERR(ike_sig_verify(rsa, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so, sizeof(so),
				  err, sizeof(err)), err, "does not match");
	ASSERT_ERR(ike_sig_verify(ed, AUTH_DIGITAL_SIGNATURE, e.auth, e.auth_len, so, sizeof(so),
				  err, sizeof(err)), err, "does not match");
	ASSERT_ERR(ike_sig_verify(rsa, AUTH_SHARED_KEY_MIC, so, 32, so, sizeof(so), err, sizeof(err)),
		   err, "AUTH method 2 is not supported");
	ike_peer_cert_free(rsa);
	ike_peer_cert_free(ec);
	ike_peer_cert_free(ed);
}
END_TEST

/* RFC 4754 §7: r | s, each exactly as long as the group order. */
static size_t der_to_raw(const uint8_t *der, size_t len, size_t half, uint8_t *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_r(s), out, (int)half), (int)half);
	ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_s(s), out + half, (int)half), (int)half);
	ECDSA_SIG_free(s);
	return 2 * half;
}

START_TEST(legacy_methods)
{
	struct ike_peer_cert *rsa = peer(K_RSA), *p256 = peer(K_P256), *p384 = peer(K_P384);
	static struct ext_sig e;
	uint8_t so[150], raw[132];
	char err[256] = "";
	size_t n;

	memset(so, 0xa5, sizeof(so));
	/* method 1: RSASSA-PKCS1-v1_5 with SHA-1, signature only ([auth] allow_sha1 = yes) */
	ext_sign(gk[K_RSA], EVP_sha1(), 0, NULL, so, sizeof(so), &e);
	ck_assert_msg(ike_sig_verify_opt(rsa, AUTH_RSA_SIG, e.sig, e.sig_len, so, sizeof(so), true,
					 err, sizeof(err)) == 0, "%s", err);
	e.sig[5] ^= 1;
	ck_assert_int_lt(ike_sig_verify_opt(rsa, AUTH_RSA_SIG, e.sig, e.sig_len, so, sizeof(so), true,
					    err, sizeof(err)), 0);
	ck_assert_int_lt(ike_sig_verify_opt(p256, AUTH_RSA_SIG, e.sig, e.sig_len, so, sizeof(so),
					    true, err, sizeof(err)), 0);
	/* methods 9 and 10: ECDSA on the matching curve */
	ext_sign(gk[K_P256], EVP_sha256(), 0, NULL, so, sizeof(so), &e);
	n = der_to_raw(e.sig, e.sig_len, 32, raw);
	ck_assert_msg(ike_sig_verify(p256, AUTH_ECDSA_256, raw, n, so, sizeof(so), err,
				     sizeof(err)) == 0, "%s", err);
	ck_assert_int_lt(ike_sig_verify(p256, AUTH_ECDSA_256, raw, n - 1, so, sizeof(so), err,
					sizeof(err)), 0);
	ck_assert_int_lt(ike_sig_verify(p256, AUTH_ECDSA_256, e.sig, e.sig_len, so, sizeof(so), err,
					sizeof(err)), 0);
	ASSERT_ERR(ike_sig_verify(p256, AUTH_ECDSA_384, raw, n, so, sizeof(so), err, sizeof(err)),
		   err, "curve");
	raw[40] ^= 2;
	ck_assert_int_lt(ike_sig_verify(p256, AUTH_ECDSA_256, raw, n, so, sizeof(so), err,
					sizeof(err)), 0);
	ext_sign(gk[K_P384], EVP_sha384(), 0, NULL, so, sizeof(so), &e);
	n = der_to_raw(e.sig, e.sig_len, 48, raw);
	ck_assert_msg(ike_sig_verify(p384, AUTH_ECDSA_384, raw, n, so, sizeof(so), err,
				     sizeof(err)) == 0, "%s", err);
	ck_assert_int_lt(ike_sig_verify(p384, AUTH_ECDSA_521, raw, n, so, sizeof(so), err,
					sizeof(err)), 0);
	ike_peer_cert_free(rsa);
	ike_peer_cert_free(p256);
	ike_peer_cert_free(p384);
}
END_TEST

/* ---- chains, validity, key usage, key size ---- */

START_TEST(chain_errors)
{
	struct certopt o = { .cn = "gw.test.example", .san = leaf_san };
	X509 *foreign = make_cert(gk[K_P256], &o, ca2, gk[K_CA2]);
	X509 *via_int = make_cert(gk[K_P256], &o, inter, gk[K_INT]);
	X509 *self = make_cert(gk[K_P256], &o, NULL, gk[K_P256]);
	X509 *expired = leaf(K_P256, leaf_san, NULL, -2 * DAY, -DAY);
	X509 *future = leaf(K_P256, leaf_san, NULL, DAY, 2 * DAY);
	X509 *not_ca_issuer = leaf(K_RSA, leaf_san, NULL, 0, 0);
	X509 *under_leaf = make_cert(gk[K_P256], &o, not_ca_issuer, gk[K_RSA]);
	struct ike_trust *t = load_trust(ca_path);
	struct ike_peer_cert *pc = NULL;
	const uint8_t *garbage[1] = { (const uint8_t *)"\x30\x03\x02\x01\x01" };
	size_t glen[1] = { 5 };
	unsigned char *der = NULL;
	char err[256] = "";
	int n;

	ASSERT_ERR(verify_fqdn(foreign, NULL, "gw.test.example", err), err,
		   "gateway certificate: unable to get local issuer certificate (CN=gw.test.example)");
	ASSERT_ERR(verify_fqdn(self, NULL, "gw.test.example", err), err, "self-signed");
	ASSERT_ERR(verify_fqdn(expired, NULL, "gw.test.example", err), err, "certificate has expired");
	ASSERT_ERR(verify_fqdn(future, NULL, "gw.test.example", err), err, "not yet valid");
	/* an intermediate from a further CERT payload */
	ck_assert_msg(verify_fqdn(via_int, inter, "gw.test.example", err) == 0, "%s", err);
	ASSERT_ERR(verify_fqdn(via_int, NULL, "gw.test.example", err), err, "unable to get local issuer");
	ASSERT_ERR(verify_fqdn(under_leaf, not_ca_issuer, "gw.test.example", err), err, "CA");
	n = i2d_X509(via_int, &der);
	ASSERT_ERR(ike_peer_cert_verify(t, der, (size_t)n, garbage, glen, 1, ID_FQDN,
					(const uint8_t *)"gw.test.example", 15, &pc, err, sizeof(err)),
		   err, "intermediate certificate 1 is not valid DER");
	ASSERT_ERR(ike_peer_cert_verify(t, der, (size_t)n, NULL, NULL, IKE_CERT_MAX_CHAIN + 1,
					ID_FQDN, (const uint8_t *)"gw.test.example", 15, &pc, err,
					sizeof(err)), err, "bad arguments");
	ck_assert_ptr_null(pc);
	OPENSSL_free(der);
	ike_trust_free(t);
	X509_free(foreign);
	X509_free(via_int);
	X509_free(self);
	X509_free(expired);
	X509_free(future);
	X509_free(not_ca_issuer);
	X509_free(under_leaf);
}
END_TEST

START_TEST(key_usage_and_size)
{
	X509 *enc_only = leaf(K_P256, leaf_san, "critical,keyEncipherment", 0, 0);
	X509 *nonrep = leaf(K_P256, leaf_san, "nonRepudiation", 0, 0);
	X509 *weak = leaf(K_RSA1024, leaf_san, NULL, 0, 0);
	char err[256] = "";

	ASSERT_ERR(verify_fqdn(enc_only, NULL, "gw.test.example", err), err,
		   "key usage does not allow signatures");
	ck_assert_msg(verify_fqdn(nonrep, NULL, "gw.test.example", err) == 0, "%s", err);
	ASSERT_ERR(verify_fqdn(weak, NULL, "gw.test.example", err), err,
		   "RSA key of 1024 bits is too small");
	X509_free(enc_only);
	X509_free(nonrep);
	X509_free(weak);
}
END_TEST

/* ---- every ID type against a generated certificate ---- */

START_TEST(identities)
{
	static const struct { const char *id; bool ok; } cases[] = {
		{ "gw.test.example", true }, { "GW.Test.EXAMPLE", true }, { "test.example", false },
		{ "gw.test.example.", false }, { "*.test.example", false }, { "192.0.2.1", true },
		{ "192.0.2.2", false }, { "2001:db8::1", true }, { "2001:db8::2", false },
		{ "vpn@example.com", true }, { "vpn@EXAMPLE.com", true }, { "VPN@example.com", false },
		{ "pn@example.com", false }, { "C=CH, O=ikeagent unit, CN=gw.test.example", true },
		{ "C=CH, O=ikeagent unit, CN=gw", false }, { "@#00", false },
	};
	X509 *x = leaf(K_P256, leaf_san, NULL, 0, 0);
	X509 *no_san = leaf(K_P256, NULL, NULL, 0, 0);
	unsigned char *dn = NULL;
	char err[256] = "";
	int n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ike_id id;
		int rc;

		ck_assert_int_eq(ike_id_parse(cases[i].id, &id), 0);
		rc = verify_x(x, NULL, id.type, id.data, id.len, NULL, err);
		ck_assert_msg((rc == 0) == cases[i].ok, "%s: %d %s", cases[i].id, rc, err);
	}
	/* the subject DN exactly as DER; with trailing garbage it is refused */
	n = i2d_X509_NAME(X509_get_subject_name(x), &dn);
	ck_assert_int_eq(verify_x(x, NULL, ID_DER_ASN1_DN, dn, (size_t)n, NULL, err), 0);
	ck_assert_int_lt(verify_x(x, NULL, ID_DER_ASN1_DN, dn, (size_t)n - 1, NULL, err), 0);
	ck_assert_int_lt(verify_x(x, NULL, ID_IPV6_ADDR, "\x20\x01\x0d\xb8", 4, NULL, err), 0);
	/* no fallback to the CN */
	ASSERT_ERR(verify_fqdn(no_san, NULL, "gw.test.example", err), err,
		   "does not contain identity fqdn:gw.test.example");
	ck_assert_int_eq(verify_x(no_san, NULL, ID_DER_ASN1_DN, dn, (size_t)n, NULL, err), 0);
	ASSERT_ERR(verify_x(x, NULL, ID_FQDN, "", 0, NULL, err), err, "empty");
	OPENSSL_free(dn);
	X509_free(x);
	X509_free(no_san);
}
END_TEST

/* ---- our credential ---- */

START_TEST(cred_load)
{
	X509 *x = leaf(K_P256, leaf_san, NULL, 0, 0), *certs[2] = { x, inter };
	char cp[64], kp[64], bad[64], enc[64], err[256] = "";
	struct ike_cred *c = load_cred(x, gk[K_P256], inter);
	const uint8_t *der;
	unsigned char *want = NULL;
	size_t len;
	int n;

	/* our certificate, then the intermediate to send in a second CERT */
	ck_assert_int_eq(ike_cred_cert_der(c, 0, &der, &len), 0);
	n = i2d_X509(x, &want);
	ck_assert_uint_eq(len, (size_t)n);
	ck_assert_mem_eq(der, want, len);
	ck_assert_int_eq(ike_cred_cert_der(c, 1, &der, &len), 0);
	ck_assert_int_lt(ike_cred_cert_der(c, 2, &der, &len), 0);
	ike_cred_free(c);
	ike_cred_free(NULL);

	write_pem(cp, certs, 1, NULL, NULL);
	write_pem(bad, NULL, 0, gk[K_P384], NULL);
	write_pem(enc, NULL, 0, gk[K_P256], "secret-passphrase");
	write_pem(kp, NULL, 0, gk[K_P256], NULL);
	ck_assert_ptr_null(ike_cred_load(cp, bad, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "does not match"));
	/* never prompts for a passphrase */
	ck_assert_ptr_null(ike_cred_load(cp, enc, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "unencrypted"));
	ck_assert_ptr_null(strstr(err, "secret-passphrase"));
	ck_assert_ptr_null(ike_cred_load(cp, "/nonexistent.key", err, sizeof(err)));
	ck_assert_ptr_null(ike_cred_load("/nonexistent.pem", kp, err, sizeof(err)));
	ck_assert_ptr_null(ike_cred_load(kp, kp, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no valid PEM certificate"));
	unlink(cp);
	unlink(bad);
	unlink(enc);
	unlink(kp);
	OPENSSL_free(want);
	X509_free(x);
}
END_TEST

START_TEST(alg_str)
{
	char b[128];

	ck_assert_str_eq(ike_sig_alg_str(AUTH_ECDSA_256, (const uint8_t *)"", 0, b, sizeof(b)),
			 "ECDSA P-256 SHA-256 (RFC 4754)");
	ck_assert_str_eq(ike_sig_alg_str(AUTH_DIGITAL_SIGNATURE, (const uint8_t *)"\x05", 1, b,
					 sizeof(b)), "AUTH method 14 (unsupported)");
	ck_assert_str_eq(ike_sig_alg_str(AUTH_DIGITAL_SIGNATURE,
					 (const uint8_t *)"\x07\x30\x05\x06\x03\x2b\x65\x70\x00", 9, b,
					 sizeof(b)), "RFC 7427 ED25519");
}
END_TEST

static Suite *cert_suite(void)
{
	Suite *s = suite_create("ike_cert");
	TCase *fx_tc = tcase_create("strongswan");
	TCase *tc = tcase_create("generated");

	tcase_set_timeout(fx_tc, 120);
	tcase_add_unchecked_fixture(fx_tc, pki_setup, pki_teardown);
	tcase_add_test(fx_tc, strongswan_gateway_cert_and_auth);
	tcase_add_test(fx_tc, strongswan_wrong_ca_and_time);
	tcase_add_test(fx_tc, strongswan_identities);
	tcase_add_test(fx_tc, strongswan_bit_flips_and_truncations);
	suite_add_tcase(s, fx_tc);

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_add_test(tc, trust_certreq);
	tcase_add_test(tc, trust_load_errors);
	tcase_add_test(tc, file_modes_and_owner);
	tcase_add_loop_test(tc, sign_verify_round_trip, 0, (int)(sizeof(rt) / sizeof(rt[0])));
	tcase_add_test(tc, pick_hash);
	tcase_add_test(tc, rsa_pss);
	tcase_add_test(tc, sha1_refused);
	tcase_add_test(tc, key_type_mismatch);
	tcase_add_test(tc, legacy_methods);
	tcase_add_test(tc, chain_errors);
	tcase_add_test(tc, key_usage_and_size);
	tcase_add_test(tc, identities);
	tcase_add_test(tc, cred_load);
	tcase_add_test(tc, alg_str);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cert_suite)
