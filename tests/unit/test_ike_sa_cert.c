/*
 * Certificate authentication between the IKE initiator (ike/sa*.c) and the
 * scripted gateway of ike_responder.c, at the limits of ike/cert.h:
 *   - CERTREQ (RFC 7296 §3.7) from a trust file of 100 CAs carries 100
 *     hashes; IKE_TRUST_MAX_CA CAs load, one more fails by name;
 *   - our chain (RSA-4096 certificate, two RSA-4096 intermediates) makes
 *     IKE_AUTH larger than 4096 bytes and still goes out; an RSA-8192 key
 *     signs an AUTH payload over 1024 octets; the largest
 *     credential (IKE_CRED_MAX_BYTES) with the largest CERTREQ too; one
 *     byte or one certificate more fails at load, by name;
 *   - the gateway's chain: ten intermediates verify; more than
 *     IKE_CERT_MAX_CHAIN are logged by name and the first ones used, and
 *     a path through a dropped one fails saying so.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/unit/check_main.h"
#include "tests/unit/ike_responder.c"
#include "tests/unit/pki.h"

#define IKE_P	"aes256gcm16-prfsha256-x25519"
#define ESP_P	"aes256gcm16"
#define CLIENT_SAN "email:client@example.com"	/* h_init's local id */
#define GW_SAN	"DNS:" GW_ID

static struct harness H;
static struct gw G;

/* A certificate with its key; by == NULL: self-signed. */
struct pc {
	X509 *x;
	EVP_PKEY *k;
};

static struct pc client_ca, gw_ca;
static struct ike_trust *client_trust;	/* H.cfg borrows these */
static struct ike_cred *client_cred;

static EVP_PKEY *p256(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	ck_assert_ptr_nonnull(k);
	return k;
}

static EVP_PKEY *rsa(size_t bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);

	ck_assert_ptr_nonnull(k);
	return k;
}

/* Takes k. */
static struct pc issue(EVP_PKEY *k, const struct certopt *o, const struct pc *by)
{
	struct pc c = { .k = k };

	c.x = make_cert(k, o, by ? by->x : NULL, by ? by->k : k);
	return c;
}

static struct pc new_ca(const char *cn, const struct pc *by)
{
	struct certopt o = { .cn = cn, .ca = true, .to = 30 * DAY };

	return issue(p256(), &o, by);
}

static void pc_free(struct pc *c)
{
	X509_free(c->x);
	EVP_PKEY_free(c->k);
	c->x = NULL;
	c->k = NULL;
}

static void chain_free(struct pc *chain, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		pc_free(&chain[i]);
}

static struct pc *new_cas(unsigned n)
{
	struct pc *cas = calloc(n, sizeof(*cas));
	char cn[64];

	ck_assert_ptr_nonnull(cas);
	for (unsigned i = 0; i < n; i++) {
		snprintf(cn, sizeof(cn), "ikeagent unit CA %u", i);
		cas[i] = new_ca(cn, NULL);
	}
	return cas;
}

static void cas_free(struct pc *cas, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		pc_free(&cas[i]);
	free(cas);
}

/* The trust file of n certificates; NULL with err filled if it does not load. */
static struct ike_trust *trust_of(const struct pc *cas, unsigned n, char *err, size_t errlen)
{
	X509 **xs = calloc(n, sizeof(*xs));
	struct ike_trust *t;
	char path[64];

	ck_assert_ptr_nonnull(xs);
	for (unsigned i = 0; i < n; i++)
		xs[i] = cas[i].x;
	write_pem(path, xs, n, NULL, NULL);
	t = ike_trust_load(path, err, errlen);
	unlink(path);
	free(xs);
	return t;
}

/* chain[0]'s key signs; NULL with err filled if the files do not load. */
static struct ike_cred *cred_of(const struct pc *chain, unsigned n, char *err, size_t errlen)
{
	X509 *xs[16];
	char cp[64], kp[64];
	struct ike_cred *c;

	ck_assert_uint_le(n, 16);
	for (unsigned i = 0; i < n; i++)
		xs[i] = chain[i].x;
	write_pem(cp, xs, n, NULL, NULL);
	write_pem(kp, NULL, 0, chain[0].k, NULL);
	c = ike_cred_load(cp, kp, err, errlen);
	unlink(cp);
	unlink(kp);
	return c;
}

static size_t der_len(X509 *x)
{
	int n = i2d_X509(x, NULL);

	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

/* The gateway: its certificate from by, CERT payloads of it alone. */
static struct pc gw_leaf(const struct pc *by)
{
	struct certopt o = { .cn = GW_ID, .san = GW_SAN };
	struct pc ee = issue(p256(), &o, by);
	char err[256] = "";

	ike_cred_free(G.cred);
	G.cred = cred_of(&ee, 1, err, sizeof(err));
	ck_assert_msg(G.cred != NULL, "%s", err);
	return ee;
}

/* The client trusts these CAs; the SA borrows the store. */
static void client_trusts(const struct pc *cas, unsigned n)
{
	char err[256] = "";

	ike_trust_free(client_trust);
	client_trust = trust_of(cas, n, err, sizeof(err));
	ck_assert_msg(client_trust != NULL, "%s", err);
	H.cfg.trust = client_trust;
}

static void client_uses(const struct pc *chain, unsigned n)
{
	char err[256] = "";

	ike_cred_free(client_cred);
	client_cred = cred_of(chain, n, err, sizeof(err));
	ck_assert_msg(client_cred != NULL, "%s", err);
	H.cfg.cred = client_cred;
}

static void setup(void)
{
	char err[256] = "";

	h_init(&H, IKE_P, ESP_P);
	gw_init(&G);
	client_ca = new_ca("ikeagent client CA", NULL);
	gw_ca = new_ca("ikeagent gateway CA", NULL);
	G.trust = trust_of(&client_ca, 1, err, sizeof(err));
	ck_assert_msg(G.trust != NULL, "%s", err);
}

static void teardown(void)
{
	h_free(&H);
	gw_free(&G);
	ike_trust_free(client_trust);
	ike_cred_free(client_cred);
	client_trust = NULL;
	client_cred = NULL;
	pc_free(&client_ca);
	pc_free(&gw_ca);
}

/* A client certificate from client_ca, for the ID h_init sets. */
static struct pc client_leaf(EVP_PKEY *k, const struct pc *by, const char *comment)
{
	struct certopt o = { .cn = "client", .san = CLIENT_SAN, .comment = comment };

	return issue(k, &o, by ? by : &client_ca);
}

static void establish(void)
{
	h_new(&H);
	h_establish(&H, &G);
	ck_assert_msg(G.peer_auth_ok, "%s", G.peer_err);
}

/* The IKE_AUTH request as the gateway got it, opened into G.m. */
static void open_auth_request(void)
{
	gw_open(&G, &G.ike, H.q[1].buf, H.q[1].len);
	ck_assert_uint_eq(G.m.hdr.exchange, IKE_AUTH);
}

static unsigned count(uint8_t type)
{
	unsigned it = 0, n = 0;

	while (ike_msg_find(&G.m, type, &it))
		n++;
	return n;
}

/* The one CERTREQ of G.m, decoded. */
static struct ike_pl_cert certreq(void)
{
	unsigned it = 0;
	const struct ike_pl *p = ike_msg_find(&G.m, PL_CERTREQ, &it);
	struct ike_pl_cert c;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(ike_pl_certreq_decode(p, &c), 0);
	ck_assert_ptr_null(ike_msg_find(&G.m, PL_CERTREQ, &it));
	ck_assert_uint_eq(c.encoding, CERT_X509_SIGNATURE);
	return c;
}

/* §3.7: SHA-1 of the CA's SubjectPublicKeyInfo. */
static void spki_sha1(X509 *x, uint8_t out[20])
{
	unsigned char *spki = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);

	ck_assert_int_gt(n, 0);
	ck_assert(EVP_Digest(spki, (size_t)n, out, NULL, EVP_sha1(), NULL));
	OPENSSL_free(spki);
}

/* ---- CERTREQ and the trust file ---- */

START_TEST(certreq_names_100_cas)
{
	struct pc *cas = new_cas(100), client;
	struct pc gw = gw_leaf(&cas[57]);
	struct ike_pl_cert cr;
	uint8_t want[20];

	client = client_leaf(p256(), NULL, NULL);
	client_uses(&client, 1);
	client_trusts(cas, 100);
	establish();
	open_auth_request();
	cr = certreq();
	ck_assert_uint_eq(cr.len, 100 * IKE_CERTREQ_HASH_LEN);
	for (unsigned i = 0; i < 100; i++) {
		spki_sha1(cas[i].x, want);
		ck_assert_msg(memcmp(cr.data + 20 * i, want, 20) == 0, "hash %u", i);
	}
	pc_free(&gw);
	pc_free(&client);
	cas_free(cas, 100);
}
END_TEST

START_TEST(trust_file_over_the_cap)
{
	struct pc *cas = new_cas(IKE_TRUST_MAX_CA + 1);
	uint8_t cr[IKE_TRUST_CERTREQ_MAX];
	char err[256] = "", want[128];
	struct ike_trust *t;
	size_t len = 0;

	t = trust_of(cas, IKE_TRUST_MAX_CA, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	ck_assert_int_eq(ike_trust_certreq(t, cr, sizeof(cr), &len), 0);
	ck_assert_uint_eq(len, IKE_TRUST_MAX_CA * IKE_CERTREQ_HASH_LEN);
	ike_trust_free(t);

	ck_assert_ptr_null(trust_of(cas, IKE_TRUST_MAX_CA + 1, err, sizeof(err)));
	snprintf(want, sizeof(want), "has %d certificates, ikeagent keeps at most %d "
		 "(IKE_TRUST_MAX_CA)", IKE_TRUST_MAX_CA + 1, IKE_TRUST_MAX_CA);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
	cas_free(cas, IKE_TRUST_MAX_CA + 1);
}
END_TEST

/* ---- our own chain ---- */

START_TEST(rsa4096_chain_makes_auth_large)
{
	struct certopt o = { .cn = "ikeagent RSA intermediate 1", .ca = true, .to = 30 * DAY };
	EVP_PKEY *mid_key = rsa(4096);
	struct pc chain[3], gw = gw_leaf(&gw_ca);
	unsigned it = 0;
	const struct ike_pl *p;
	struct ike_pl_cert c;

	/* the two intermediates share a key: one slow RSA-4096 key generation less */
	chain[2] = issue(mid_key, &o, &client_ca);
	o.cn = "ikeagent RSA intermediate 2";
	EVP_PKEY_up_ref(mid_key);
	chain[1] = issue(mid_key, &o, &chain[2]);
	chain[0] = client_leaf(rsa(4096), &chain[1], NULL);
	client_uses(chain, 3);
	client_trusts(&gw_ca, 1);
	establish();
	fprintf(stderr, "IKE_AUTH with an RSA-4096 chain of 3: %zu bytes\n", H.q[1].len);
	ck_assert_uint_gt(H.q[1].len, 4096);
	/* the gateway got our three certificates, in order */
	open_auth_request();
	for (unsigned i = 0; i < 3; i++) {
		unsigned char *der = NULL;
		int n = i2d_X509(chain[i].x, &der);

		ck_assert_ptr_nonnull(p = ike_msg_find(&G.m, PL_CERT, &it));
		ck_assert_int_eq(ike_pl_cert_decode(p, &c), 0);
		ck_assert_uint_eq(c.len, (size_t)n);
		ck_assert_mem_eq(c.data, der, c.len);
		OPENSSL_free(der);
	}
	ck_assert_ptr_null(ike_msg_find(&G.m, PL_CERT, &it));
	chain_free(chain, 3);
	pc_free(&gw);
}
END_TEST

/*
 * RSA-8192: the signature alone is 1024 octets. The key is a file made once
 * (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:8192): generating
 * one takes half a minute.
 */
START_TEST(rsa8192_key_signs_auth)
{
	FILE *f = fopen("tests/unit/rsa8192_key.pem", "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	struct pc client, gw = gw_leaf(&gw_ca);
	struct ike_pl_any au;

	ck_assert_ptr_nonnull(k);
	fclose(f);
	ck_assert_int_eq(EVP_PKEY_get_bits(k), 8192);
	client = client_leaf(k, NULL, NULL);
	client_uses(&client, 1);
	client_trusts(&gw_ca, 1);
	establish();
	open_auth_request();
	gw_get(&G, PL_AUTH, &au);
	ck_assert_uint_eq(au.u.auth.method, AUTH_DIGITAL_SIGNATURE);
	ck_assert_uint_gt(au.u.auth.len, 1024);
	pc_free(&client);
	pc_free(&gw);
}
END_TEST

/* A comment of n characters. */
static char *filler(size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, 'x', n);
	s[n] = '\0';
	return s;
}

/*
 * Our largest credential: IKE_CRED_MAX_CERTS certificates of
 * IKE_CRED_MAX_BYTES + over octets of DER, padded with comments. The
 * intermediates are Ed25519 so the end entity's signature has one length.
 */
static void max_chain(struct pc chain[IKE_CRED_MAX_CERTS], long over)
{
	struct certopt o = { .ca = true, .to = 30 * DAY };
	char cn[64];
	long target = IKE_CRED_MAX_BYTES + over, total = 0;
	size_t mids = 0, len;
	char *pad = filler(6000);

	o.comment = pad;
	for (int i = IKE_CRED_MAX_CERTS - 1; i >= 1; i--) {
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

		ck_assert_ptr_nonnull(k);
		snprintf(cn, sizeof(cn), "ikeagent padded intermediate %d", i);
		o.cn = cn;
		chain[i] = issue(k, &o, i == IKE_CRED_MAX_CERTS - 1 ? &client_ca : &chain[i + 1]);
		mids += der_len(chain[i].x);
	}
	free(pad);
	ck_assert_uint_lt(mids, IKE_CRED_MAX_BYTES - 2000);
	/* past a few hundred octets, one more comment octet is one more DER octet */
	len = IKE_CRED_MAX_BYTES - mids - 1000;
	chain[0] = (struct pc){ 0 };
	for (int tries = 0; tries < 4 && total != target; tries++) {
		pc_free(&chain[0]);
		pad = filler(len);
		chain[0] = client_leaf(p256(), &chain[1], pad);
		free(pad);
		total = (long)(mids + der_len(chain[0].x));
		len = (size_t)((long)len + target - total);
	}
	ck_assert_int_eq(total, target);
}

START_TEST(largest_credential_and_certreq)
{
	struct pc chain[IKE_CRED_MAX_CERTS], *cas = new_cas(IKE_TRUST_MAX_CA);
	struct pc gw;

	max_chain(chain, 0);
	client_uses(chain, IKE_CRED_MAX_CERTS);
	/* the gateway's CA is the last one of a full trust file */
	gw = gw_leaf(&cas[IKE_TRUST_MAX_CA - 1]);
	client_trusts(cas, IKE_TRUST_MAX_CA);
	establish();
	fprintf(stderr, "largest IKE_AUTH: %zu bytes\n", H.q[1].len);
	ck_assert_uint_gt(H.q[1].len, IKE_CRED_MAX_BYTES + IKE_TRUST_CERTREQ_MAX);
	open_auth_request();
	ck_assert_uint_eq(count(PL_CERT), IKE_CRED_MAX_CERTS);
	ck_assert_uint_eq(certreq().len, IKE_TRUST_CERTREQ_MAX);
	pc_free(&gw);
	chain_free(chain, IKE_CRED_MAX_CERTS);
	cas_free(cas, IKE_TRUST_MAX_CA);
}
END_TEST

START_TEST(credential_over_the_caps)
{
	struct pc chain[IKE_CRED_MAX_CERTS + 1];
	char err[256] = "", want[128];
	struct ike_cred *c;

	max_chain(chain, 1);
	ck_assert_ptr_null(cred_of(chain, IKE_CRED_MAX_CERTS, err, sizeof(err)));
	snprintf(want, sizeof(want), "has %d bytes of certificates, ikeagent sends at most %d "
		 "(IKE_CRED_MAX_BYTES)", IKE_CRED_MAX_BYTES + 1, IKE_CRED_MAX_BYTES);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
	chain_free(chain, IKE_CRED_MAX_CERTS);

	for (unsigned i = 0; i <= IKE_CRED_MAX_CERTS; i++)
		chain[i] = i ? new_ca("ikeagent small CA", NULL) : client_leaf(p256(), NULL, NULL);
	c = cred_of(chain, IKE_CRED_MAX_CERTS, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ike_cred_free(c);
	ck_assert_ptr_null(cred_of(chain, IKE_CRED_MAX_CERTS + 1, err, sizeof(err)));
	snprintf(want, sizeof(want), "has %d certificates, ikeagent sends at most %d "
		 "(IKE_CRED_MAX_CERTS)", IKE_CRED_MAX_CERTS + 1, IKE_CRED_MAX_CERTS);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
	chain_free(chain, IKE_CRED_MAX_CERTS + 1);
}
END_TEST

/* ---- the gateway's chain ---- */

/* stderr into a memfd while the SA runs, warnings included. */
struct capture {
	int saved, fd;
};

static void cap_begin(struct capture *c)
{
	log_set_level(LOG_LVL_WARN);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	c->fd = memfd_create("log", 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(dup2(c->fd, STDERR_FILENO), STDERR_FILENO);
}

static char *cap_end(struct capture *c)
{
	off_t size;
	char *buf;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	size = lseek(c->fd, 0, SEEK_END);
	buf = calloc(1, (size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(c->fd, buf, (size_t)size, 0), size);
	close(c->fd);
	fputs(buf, stderr);
	return buf;
}

/* The gateway sends its certificate, then these (DER kept in ders[]). */
static void gw_sends(X509 *const *xs, unsigned n, uint8_t **ders, size_t *lens)
{
	for (unsigned i = 0; i < n; i++) {
		int len = i2d_X509(xs[i], NULL);
		unsigned char *p;

		ck_assert_int_gt(len, 0);
		ders[i] = p = malloc((size_t)len);
		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(i2d_X509(xs[i], &p), len);
		lens[i] = (size_t)len;
	}
	G.more_der = (const uint8_t *const *)ders;
	G.more_len = lens;
	G.n_more = n;
}

static void ders_free(uint8_t **ders, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(ders[i]);
}

START_TEST(gateway_chain_of_ten)
{
	struct pc mids[10], client = client_leaf(p256(), NULL, NULL), gw;
	X509 *xs[10];
	uint8_t *ders[10];
	size_t lens[10];
	char cn[64];

	/* gw_ca -> mids[9] -> ... -> mids[0] -> the gateway */
	for (int i = 9; i >= 0; i--) {
		snprintf(cn, sizeof(cn), "ikeagent gateway intermediate %d", i);
		mids[i] = new_ca(cn, i == 9 ? &gw_ca : &mids[i + 1]);
	}
	gw = gw_leaf(&mids[0]);
	for (unsigned i = 0; i < 10; i++)
		xs[i] = mids[i].x;
	gw_sends(xs, 10, ders, lens);
	client_uses(&client, 1);
	client_trusts(&gw_ca, 1);
	establish();
	ders_free(ders, 10);
	chain_free(mids, 10);
	pc_free(&gw);
	pc_free(&client);
}
END_TEST

#define MORE	(IKE_CERT_MAX_CHAIN + 4)

/* The gateway's one real intermediate at position `at` of MORE, the rest unrelated CAs. */
static char *more_than_kept(unsigned at)
{
	struct pc mid = new_ca("ikeagent gateway intermediate", &gw_ca), client, gw;
	struct pc *junk = new_cas(MORE);
	X509 *xs[MORE];
	uint8_t *ders[MORE];
	size_t lens[MORE];
	struct capture cap;
	char *log;

	client = client_leaf(p256(), NULL, NULL);
	gw = gw_leaf(&mid);
	for (unsigned i = 0; i < MORE; i++)
		xs[i] = i == at ? mid.x : junk[i].x;
	gw_sends(xs, MORE, ders, lens);
	client_uses(&client, 1);
	client_trusts(&gw_ca, 1);
	h_new(&H);
	cap_begin(&cap);
	ck_assert_int_eq(ike_sa_start(H.sa, H.now), 0);
	gw_sa_init(&G, h_last(&H)->buf, h_last(&H)->len);
	gw_deliver(&G, &H);
	gw_auth(&G, h_last(&H)->buf, h_last(&H)->len);
	ck_assert_msg(G.peer_auth_ok, "%s", G.peer_err);
	gw_deliver(&G, &H);
	log = cap_end(&cap);
	ders_free(ders, MORE);
	cas_free(junk, MORE);
	pc_free(&mid);
	pc_free(&gw);
	pc_free(&client);
	return log;
}

static void log_names_the_cap(const char *log)
{
	char want[160];

	snprintf(want, sizeof(want), "gateway sent %d intermediate certificates, ikeagent keeps "
		 "the first %d (IKE_CERT_MAX_CHAIN)", MORE, IKE_CERT_MAX_CHAIN);
	ck_assert_msg(strstr(log, want) != NULL, "log lacks '%s'", want);
}

START_TEST(gateway_more_intermediates_than_kept)
{
	char *log = more_than_kept(0);

	ck_assert_msg(ike_sa_state(H.sa) == IKE_SA_ESTABLISHED, "%s",
		      ike_sa_failure_text(H.sa));
	log_names_the_cap(log);
	free(log);
}
END_TEST

START_TEST(gateway_path_through_a_dropped_intermediate)
{
	char *log = more_than_kept(IKE_CERT_MAX_CHAIN);

	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_DEAD);
	ck_assert_uint_eq(ike_sa_failure(H.sa), IKE_FAIL_AUTH);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), 0);
	ck_assert_msg(strstr(ike_sa_failure_text(H.sa), "unable to get local issuer certificate") &&
		      strstr(ike_sa_failure_text(H.sa), "IKE_CERT_MAX_CHAIN"), "%s",
		      ike_sa_failure_text(H.sa));
	log_names_the_cap(log);
	free(log);
}
END_TEST

static Suite *sa_cert_suite(void)
{
	Suite *s = suite_create("ike_sa_cert");
	TCase *tc = tcase_create("limits");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, certreq_names_100_cas);
	tcase_add_test(tc, trust_file_over_the_cap);
	tcase_add_test(tc, rsa4096_chain_makes_auth_large);
	tcase_add_test(tc, rsa8192_key_signs_auth);
	tcase_add_test(tc, largest_credential_and_certreq);
	tcase_add_test(tc, credential_over_the_caps);
	tcase_add_test(tc, gateway_chain_of_ten);
	tcase_add_test(tc, gateway_more_intermediates_than_kept);
	tcase_add_test(tc, gateway_path_through_a_dropped_intermediate);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sa_cert_suite)
