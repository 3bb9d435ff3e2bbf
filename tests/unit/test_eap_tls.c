/*
 * eap/tls.c: the EAP-TLS peer against an EAP-TLS server played here with
 * OpenSSL over memory BIOs (Start, fragments with L/M, ACKs, the TLS 1.3
 * commitment message, the Success or Failure decision), with a PKI made
 * here (a root CA, an intermediate, RSA-2048 and P-256 leaves, a foreign
 * CA).
 *   - TLS 1.2 and 1.3, RSA and ECDSA client certificates: Success, the MSK
 *     equal to the server's exporter output, nonzero;
 *   - small server fragments and a large client chain: many fragments both
 *     ways; one large message with L on an unfragmented message;
 *   - TLS 1.3 with NewSessionTickets and the commitment in a request of
 *     its own: done() only after it;
 *   - an untrusted server: EAP_M_FAIL before our certificate goes out;
 *   - a server that refuses our certificate: its alert answered, then
 *     why_failed() names it;
 *   - malformed framing: DROP or FAIL, never a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "eap/method.h"
#include "tests/unit/check_main.h"
#include "tests/unit/pki.h"

#define RESP_CAP (EAP_MSG_MAX - 5)	/* Type-Data room under the EAP header and Type */
#define OUR_FRAG 1024

/* ---- PKI, made once per run (unchecked fixture) ---- */

static struct {
	EVP_PKEY *ca_key, *sub_key, *other_key, *srv_key, *rsa_key, *ec_key, *big_key, *alien_key;
	X509 *ca, *sub, *other, *srv, *rsa, *ec, *big, *alien;
	STACK_OF(X509) *sub_chain;	/* [sub] */
} pki;

static EVP_PKEY *key_ec(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	ck_assert_ptr_nonnull(k);
	return k;
}

static EVP_PKEY *key_rsa(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);

	ck_assert_ptr_nonnull(k);
	return k;
}

static void pki_setup(void)
{
	static char comment[4001];
	struct certopt o = { 0 };

	memset(comment, 'x', sizeof(comment) - 1);
	pki.ca_key = key_ec();
	pki.sub_key = key_ec();
	pki.other_key = key_ec();
	pki.srv_key = key_ec();
	pki.rsa_key = key_rsa();
	pki.ec_key = key_ec();
	pki.big_key = key_rsa();
	pki.alien_key = key_ec();

	o.ca = true;
	o.cn = "EAP root CA";
	pki.ca = make_cert(pki.ca_key, &o, NULL, pki.ca_key);
	o.cn = "EAP sub CA";
	pki.sub = make_cert(pki.sub_key, &o, pki.ca, pki.ca_key);
	o.cn = "Other CA";
	pki.other = make_cert(pki.other_key, &o, NULL, pki.other_key);

	o.ca = false;
	o.cn = "radius.ikeagent.test";
	o.san = "DNS:radius.ikeagent.test";
	pki.srv = make_cert(pki.srv_key, &o, pki.sub, pki.sub_key);
	o.san = NULL;
	o.cn = "alice rsa";
	pki.rsa = make_cert(pki.rsa_key, &o, pki.ca, pki.ca_key);
	o.cn = "alice ec";
	pki.ec = make_cert(pki.ec_key, &o, pki.ca, pki.ca_key);
	o.cn = "alice big";
	o.comment = comment;
	pki.big = make_cert(pki.big_key, &o, pki.sub, pki.sub_key);
	o.comment = NULL;
	o.cn = "mallory";
	pki.alien = make_cert(pki.alien_key, &o, pki.other, pki.other_key);

	pki.sub_chain = sk_X509_new_null();
	ck_assert_ptr_nonnull(pki.sub_chain);
	ck_assert(sk_X509_push(pki.sub_chain, pki.sub));
}

static void pki_teardown(void)
{
	sk_X509_free(pki.sub_chain);
	X509_free(pki.ca); X509_free(pki.sub); X509_free(pki.other); X509_free(pki.srv);
	X509_free(pki.rsa); X509_free(pki.ec); X509_free(pki.big); X509_free(pki.alien);
	EVP_PKEY_free(pki.ca_key); EVP_PKEY_free(pki.sub_key); EVP_PKEY_free(pki.other_key);
	EVP_PKEY_free(pki.srv_key); EVP_PKEY_free(pki.rsa_key); EVP_PKEY_free(pki.ec_key);
	EVP_PKEY_free(pki.big_key); EVP_PKEY_free(pki.alien_key);
}

/* ---- the client's check of the server (cfg->verify_server) ---- */

struct vctx {
	bool refuse;
	unsigned calls, n_chain;
};

static int verify_server(void *ctx, const uint8_t *ee_der, size_t ee_len,
			 const uint8_t *const *chain_der, const size_t *chain_len, unsigned n_chain,
			 char *err, size_t errlen)
{
	struct vctx *v = ctx;
	const unsigned char *p = ee_der;
	X509 *ee = d2i_X509(NULL, &p, (long)ee_len), *sub = NULL;
	int rc = -1;

	v->calls++;
	v->n_chain = n_chain;
	if (v->refuse) {
		snprintf(err, errlen, "unknown issuer (test)");
		goto out;
	}
	if (!ee || n_chain != 1) {
		snprintf(err, errlen, "expected a leaf and one intermediate");
		goto out;
	}
	p = chain_der[0];
	sub = d2i_X509(NULL, &p, (long)chain_len[0]);
	if (sub && X509_verify(sub, pki.ca_key) == 1 &&
	    X509_verify(ee, X509_get0_pubkey(sub)) == 1)
		rc = 0;
	else
		snprintf(err, errlen, "bad chain");
out:
	X509_free(ee);
	X509_free(sub);
	return rc;
}

/* ---- the EAP-TLS server ---- */

enum srv_result { SRV_CONT, SRV_SUCCESS, SRV_FAILURE };

struct srv_opt {
	int max_version;	/* 0: 1.3 */
	size_t frag;		/* TLS data per fragment it sends */
	bool len_always;	/* L on unfragmented messages too (strongSwan's include_length) */
	bool tickets;		/* TLS 1.3 NewSessionTickets */
	bool commit_apart;	/* TLS 1.3: the commitment in a request of its own */
	bool fail_silently;	/* EAP-Failure instead of the last TLS message, no alert */
};

struct srv {
	struct srv_opt o;
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *rb, *wb;
	uint8_t *out;
	size_t out_len, out_pos;
	uint8_t *in;
	size_t in_len, in_want;
	bool hs_done, committed, alerted, got_cert;
	unsigned frags_sent, frags_recv;	/* fragments with M, either way */
	uint8_t msk[64];
};

static void srv_msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
		       SSL *ssl, void *arg)
{
	struct srv *s = arg;

	if (!write_p && content_type == SSL3_RT_HANDSHAKE && len >= 1 &&
	    ((const uint8_t *)buf)[0] == SSL3_MT_CERTIFICATE)
		s->got_cert = true;
}

static struct srv *srv_new(const struct srv_opt *o)
{
	struct srv *s = calloc(1, sizeof(*s));

	ck_assert_ptr_nonnull(s);
	s->o = *o;
	s->ctx = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(s->ctx);
	ck_assert(SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION));
	ck_assert(SSL_CTX_set_max_proto_version(s->ctx, o->max_version ? o->max_version :
						TLS1_3_VERSION));
	ck_assert_int_eq(SSL_CTX_use_certificate(s->ctx, pki.srv), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(s->ctx, pki.srv_key), 1);
	ck_assert(SSL_CTX_add1_chain_cert(s->ctx, pki.sub));
	ck_assert(X509_STORE_add_cert(SSL_CTX_get_cert_store(s->ctx), pki.ca));
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_num_tickets(s->ctx, o->tickets ? 2 : 0);
	SSL_CTX_set_msg_callback(s->ctx, srv_msg_cb);
	SSL_CTX_set_msg_callback_arg(s->ctx, s);
	s->ssl = SSL_new(s->ctx);
	s->rb = BIO_new(BIO_s_mem());
	s->wb = BIO_new(BIO_s_mem());
	ck_assert(s->ssl && s->rb && s->wb);
	BIO_set_mem_eof_return(s->rb, -1);
	SSL_set_bio(s->ssl, s->rb, s->wb);
	SSL_set_accept_state(s->ssl);
	return s;
}

static void srv_free(struct srv *s)
{
	SSL_free(s->ssl);
	SSL_CTX_free(s->ctx);
	free(s->in);
	free(s->out);
	free(s);
}

/* The next fragment of what the server wrote into req. */
static void srv_fragment(struct srv *s, uint8_t *req, size_t *len)
{
	size_t left = s->out_len - s->out_pos, n = left < s->o.frag ? left : s->o.frag;
	bool more = n < left, first = s->out_pos == 0;
	size_t at = 1;

	req[0] = (uint8_t)((more ? 0x40 : 0) | (first && (more || s->o.len_always) ? 0x80 : 0));
	if (req[0] & 0x80) {
		put_be32(req + 1, (uint32_t)s->out_len);
		at = 5;
	}
	memcpy(req + at, s->out + s->out_pos, n);
	*len = at + n;
	s->out_pos += n;
	if (more)
		s->frags_sent++;
	if (s->out_pos == s->out_len) {
		free(s->out);
		s->out = NULL;
	}
}

static void srv_send(struct srv *s, uint8_t *req, size_t *len)
{
	size_t pend = BIO_ctrl_pending(s->wb);

	ck_assert_msg(pend > 0, "the test server has nothing to send");
	s->out = malloc(pend);
	ck_assert_ptr_nonnull(s->out);
	ck_assert_int_eq(BIO_read(s->wb, s->out, (int)pend), (int)pend);
	s->out_len = pend;
	s->out_pos = 0;
	srv_fragment(s, req, len);
}

static void srv_keys(struct srv *s)
{
	static const uint8_t tc = 13;
	uint8_t km[128];

	if (SSL_version(s->ssl) == TLS1_3_VERSION)
		ck_assert_int_eq(SSL_export_keying_material(s->ssl, km, 128,
				 "EXPORTER_EAP_TLS_Key_Material", 29, &tc, 1, 1), 1);
	else
		ck_assert_int_eq(SSL_export_keying_material(s->ssl, km, 128,
				 "client EAP encryption", 21, NULL, 0, 0), 1);
	memcpy(s->msk, km, 64);
}

static void srv_commit(struct srv *s)
{
	static const uint8_t zero = 0;

	ck_assert_int_eq(SSL_write(s->ssl, &zero, 1), 1);
	s->committed = true;
}

static bool srv_success_ready(const struct srv *s)
{
	return s->hs_done && (SSL_version(s->ssl) != TLS1_3_VERSION || s->committed);
}

/* A whole message from the peer. */
static enum srv_result srv_message(struct srv *s, const uint8_t *m, size_t n, uint8_t *req,
				   size_t *len)
{
	int r;

	if (n == 0) {
		if (s->alerted)
			return SRV_FAILURE;
		if (s->hs_done && SSL_version(s->ssl) == TLS1_3_VERSION && !s->committed) {
			srv_commit(s);
			srv_send(s, req, len);
			return SRV_CONT;
		}
		ck_assert_msg(srv_success_ready(s), "an empty response before the end");
		return SRV_SUCCESS;
	}
	ck_assert_msg(!s->hs_done && !s->alerted, "TLS data from the peer after the handshake");
	ck_assert_int_eq(BIO_write(s->rb, m, (int)n), (int)n);
	r = SSL_do_handshake(s->ssl);
	if (r == 1 && s->o.fail_silently)
		return SRV_FAILURE;
	if (r == 1) {
		s->hs_done = true;
		srv_keys(s);
		if (SSL_version(s->ssl) == TLS1_3_VERSION && !(s->o.commit_apart && s->o.tickets))
			srv_commit(s);
	} else if (SSL_get_error(s->ssl, r) != SSL_ERROR_WANT_READ) {
		s->alerted = true;
		ERR_clear_error();
	}
	srv_send(s, req, len);
	return SRV_CONT;
}

/* Start: S and no data. */
static void srv_start(uint8_t *req, size_t *len)
{
	req[0] = 0x20;
	*len = 1;
}

/* One response (Type-Data) from the peer; the next request in req. */
static enum srv_result srv_input(struct srv *s, const uint8_t *resp, size_t n, uint8_t *req,
				 size_t *len)
{
	uint8_t flags;
	size_t at = 1;

	ck_assert_uint_ge(n, 1);
	flags = resp[0];
	ck_assert_msg(!(flags & 0x20), "S from the peer");
	if (s->out) {
		ck_assert_msg(n == 1 && flags == 0, "the peer did not ACK our fragment");
		srv_fragment(s, req, len);
		return SRV_CONT;
	}
	if (flags & 0x80) {
		ck_assert_uint_ge(n, 5);
		at = 5;
	}
	if (flags & 0x40) {
		s->frags_recv++;
		if (!s->in) {
			ck_assert_msg(flags & 0x80, "the peer's first fragment has no L");
			s->in_want = get_be32(resp + 1);
			s->in = malloc(s->in_want);
			s->in_len = 0;
			ck_assert_ptr_nonnull(s->in);
		} else {
			ck_assert_msg(!(flags & 0x80), "L on a later fragment");
		}
		ck_assert_uint_le(n - at, OUR_FRAG);
		ck_assert_uint_le(s->in_len + n - at, s->in_want);
		memcpy(s->in + s->in_len, resp + at, n - at);
		s->in_len += n - at;
		req[0] = 0;	/* ACK */
		*len = 1;
		return SRV_CONT;
	}
	if (s->in) {
		enum srv_result res;

		ck_assert_msg(!(flags & 0x80), "L on the last fragment");
		ck_assert_uint_eq(s->in_len + n - at, s->in_want);
		memcpy(s->in + s->in_len, resp + at, n - at);
		res = srv_message(s, s->in, s->in_want, req, len);
		free(s->in);
		s->in = NULL;
		return res;
	}
	ck_assert_msg(!(flags & 0x80), "L on an unfragmented message (RFC 5216 §3.1 MUST NOT)");
	return srv_message(s, resp + at, n - at, req, len);
}

/* ---- the conversation ---- */

struct run {
	enum srv_result res;
	enum eap_mstatus last;	/* the method's last answer */
	struct eap_merr err;
	unsigned requests;
};

static struct eap_cfg cfg_for(X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain, struct vctx *v,
			      int max)
{
	struct eap_cfg c = {
		.identity = "alice", .methods = EAP_ALLOW_TLS,
		.cert = cert, .chain = chain, .key = key,
		.verify_server = verify_server, .verify_ctx = v, .tls_max_version = max,
	};

	return c;
}

static uint8_t req[1 << 17];

/* Plays the conversation until Success, Failure or the method stops answering. */
static struct run converse(struct srv *s, void *st)
{
	struct run run = { .res = SRV_CONT };
	uint8_t resp[EAP_MSG_MAX];
	size_t len;
	uint8_t id = 1;

	srv_start(req, &len);
	for (run.requests = 1; run.requests < 2000; run.requests++) {
		struct wr w;

		wr_init(&w, resp, RESP_CAP);
		run.last = eap_method_tls.process(st, id++, req, len, &w, &run.err);
		if (run.last != EAP_M_REPLY)
			return run;
		ck_assert(wr_ok(&w));
		ck_assert_uint_le(wr_len(&w), 1 + 4 + OUR_FRAG);
		/* RFC 9190 §2.5, RFC 5216 §2.1.1: never done before the server's last word */
		if (!srv_success_ready(s))
			ck_assert(!eap_method_tls.done(st));
		run.res = srv_input(s, resp, wr_len(&w), req, &len);
		if (run.res != SRV_CONT)
			return run;
	}
	ck_abort_msg("no end after %u requests", run.requests);
	return run;
}

static void *start(const struct eap_cfg *c)
{
	struct eap_merr e = { 0 };
	void *st = eap_method_tls.start(c, &e);

	ck_assert_msg(st != NULL, "start: %s", e.text);
	return st;
}

/* A whole login that must succeed; returns the negotiated version. */
static int login_ok(const struct srv_opt *o, X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
		    int client_max, struct srv **sp)
{
	struct vctx v = { 0 };
	struct eap_cfg c = cfg_for(cert, key, chain, &v, client_max);
	struct srv *s = srv_new(o);
	void *st = start(&c);
	struct run run = converse(s, st);
	uint8_t msk[EAP_MSK_MAX], zero[EAP_MSK_MAX] = { 0 };
	size_t msk_len = 0;
	int version = SSL_version(s->ssl);

	ck_assert_msg(run.last == EAP_M_REPLY, "method stopped: %s", run.err.text);
	ck_assert_int_eq(run.res, SRV_SUCCESS);
	ck_assert(eap_method_tls.done(st));
	ck_assert_int_eq(eap_method_tls.msk(st, msk, &msk_len), 0);
	ck_assert_uint_eq(msk_len, 64);
	ck_assert_mem_eq(msk, s->msk, 64);
	ck_assert(memcmp(msk, zero, sizeof(zero)) != 0);
	ck_assert_uint_eq(v.calls, 1);
	ck_assert_uint_eq(v.n_chain, 1);
	ck_assert(s->got_cert);
	ck_assert_ptr_nonnull(SSL_get0_peer_certificate(s->ssl));
	eap_method_tls.free(st);
	if (sp)
		*sp = s;
	else
		srv_free(s);
	return version;
}

static const struct srv_opt SRV_DEFAULT = { .frag = 1024 };

START_TEST(tls12_rsa)
{
	ck_assert_int_eq(login_ok(&SRV_DEFAULT, pki.rsa, pki.rsa_key, NULL, TLS1_2_VERSION, NULL),
			 TLS1_2_VERSION);
}
END_TEST

START_TEST(tls12_ecdsa_server_caps)
{
	struct srv_opt o = SRV_DEFAULT;

	o.max_version = TLS1_2_VERSION;	/* we offer 1.3, the server takes 1.2 */
	ck_assert_int_eq(login_ok(&o, pki.ec, pki.ec_key, NULL, 0, NULL), TLS1_2_VERSION);
}
END_TEST

START_TEST(tls13_rsa)
{
	ck_assert_int_eq(login_ok(&SRV_DEFAULT, pki.rsa, pki.rsa_key, NULL, 0, NULL),
			 TLS1_3_VERSION);
}
END_TEST

START_TEST(tls13_ecdsa)
{
	ck_assert_int_eq(login_ok(&SRV_DEFAULT, pki.ec, pki.ec_key, NULL, TLS1_3_VERSION, NULL),
			 TLS1_3_VERSION);
}
END_TEST

/* 200-octet server fragments, a ~5 KB client chain in 1024-octet fragments of ours. */
static void many_fragments(int max)
{
	struct srv_opt o = { .frag = 200, .max_version = max };
	struct srv *s;

	login_ok(&o, pki.big, pki.big_key, pki.sub_chain, 0, &s);
	ck_assert_uint_ge(s->frags_sent, 4);
	ck_assert_uint_ge(s->frags_recv, 4);
	srv_free(s);
}

START_TEST(tls12_many_fragments) { many_fragments(TLS1_2_VERSION); }
END_TEST

START_TEST(tls13_many_fragments) { many_fragments(0); }
END_TEST

START_TEST(large_messages_with_l)
{
	struct srv_opt o = { .frag = 60000, .len_always = true };
	struct srv *s;

	login_ok(&o, pki.ec, pki.ec_key, NULL, 0, &s);
	ck_assert_uint_eq(s->frags_sent, 0);
	srv_free(s);
	o.max_version = TLS1_2_VERSION;
	login_ok(&o, pki.rsa, pki.rsa_key, NULL, 0, NULL);
}
END_TEST

/* NewSessionTickets first, the commitment in a request of its own (RFC 9190 Figure 9 style). */
START_TEST(tls13_commitment_apart)
{
	struct srv_opt o = { .frag = 1024, .tickets = true, .commit_apart = true };

	ck_assert_int_eq(login_ok(&o, pki.ec, pki.ec_key, NULL, 0, NULL), TLS1_3_VERSION);
	o.commit_apart = false;	/* tickets and commitment together */
	ck_assert_int_eq(login_ok(&o, pki.rsa, pki.rsa_key, NULL, 0, NULL), TLS1_3_VERSION);
}
END_TEST

static void untrusted(int max)
{
	struct vctx v = { .refuse = true };
	struct eap_cfg c = cfg_for(pki.rsa, pki.rsa_key, NULL, &v, max);
	struct srv_opt o = { .frag = 300 };
	struct srv *s = srv_new(&o);
	void *st = start(&c);
	struct run run = converse(s, st);
	enum eap_fail_kind kind = EAP_FAIL_NONE;
	uint8_t msk[EAP_MSK_MAX];
	size_t len;

	ck_assert_int_eq(run.last, EAP_M_FAIL);
	ck_assert_int_eq(run.err.kind, EAP_FAIL_SERVER);
	ck_assert_str_eq(run.err.text, "EAP-TLS server certificate not trusted: unknown issuer (test)");
	ck_assert_uint_eq(v.calls, 1);
	ck_assert(!s->got_cert);
	ck_assert_ptr_null(SSL_get0_peer_certificate(s->ssl));
	ck_assert(!eap_method_tls.done(st));
	ck_assert_int_eq(eap_method_tls.msk(st, msk, &len), -1);
	ck_assert_ptr_null(eap_method_tls.why_failed(st, &kind));
	/* nothing more is taken */
	{
		uint8_t resp[16];
		struct wr w;

		wr_init(&w, resp, sizeof(resp));
		ck_assert_int_eq(eap_method_tls.process(st, 99, req, 1, &w, &run.err), EAP_M_DROP);
	}
	eap_method_tls.free(st);
	srv_free(s);
}

START_TEST(tls12_server_untrusted) { untrusted(TLS1_2_VERSION); }
END_TEST

START_TEST(tls13_server_untrusted) { untrusted(0); }
END_TEST

static void rejected(int max)
{
	struct vctx v = { 0 };
	struct eap_cfg c = cfg_for(pki.alien, pki.alien_key, NULL, &v, max);
	struct srv *s = srv_new(&SRV_DEFAULT);
	void *st = start(&c);
	struct run run = converse(s, st);
	enum eap_fail_kind kind = EAP_FAIL_NONE;
	uint8_t msk[EAP_MSK_MAX];
	const char *why;
	size_t len;

	ck_assert_msg(run.last == EAP_M_REPLY, "method stopped: %s", run.err.text);
	ck_assert_int_eq(run.res, SRV_FAILURE);	/* the alert answered with an empty response */
	ck_assert(s->got_cert);
	ck_assert(!eap_method_tls.done(st));
	ck_assert_int_eq(eap_method_tls.msk(st, msk, &len), -1);
	why = eap_method_tls.why_failed(st, &kind);
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, "the server rejected our certificate (TLS alert: unknown ca)");
	ck_assert_int_eq(kind, EAP_FAIL_REJECTED);
	eap_method_tls.free(st);
	srv_free(s);
}

START_TEST(tls12_client_rejected) { rejected(TLS1_2_VERSION); }
END_TEST

START_TEST(tls13_client_rejected) { rejected(0); }
END_TEST

/* EAP-Failure right after our Finished flight, no alert: still our certificate, most likely. */
START_TEST(failure_without_alert)
{
	struct vctx v = { 0 };
	struct eap_cfg c = cfg_for(pki.ec, pki.ec_key, NULL, &v, 0);
	struct srv_opt o = { .frag = 1024, .fail_silently = true };
	struct srv *s = srv_new(&o);
	void *st = start(&c);
	enum eap_fail_kind kind = EAP_FAIL_NONE;
	const char *why;

	ck_assert_int_eq(converse(s, st).res, SRV_FAILURE);
	ck_assert(!eap_method_tls.done(st));
	why = eap_method_tls.why_failed(st, &kind);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(kind, EAP_FAIL_REJECTED);
	ck_assert_ptr_nonnull(strstr(why, "no TLS alert"));
	eap_method_tls.free(st);
	srv_free(s);
}
END_TEST

/* ---- framing ---- */

static struct vctx fv;

/* A method that has answered the Start with its ClientHello. */
static void *started(void)
{
	struct eap_cfg c = cfg_for(pki.ec, pki.ec_key, NULL, &fv, 0);
	void *st = start(&c);
	uint8_t s = 0x20, resp[RESP_CAP];
	struct eap_merr e;
	struct wr w;

	wr_init(&w, resp, sizeof(resp));
	ck_assert_int_eq(eap_method_tls.process(st, 1, &s, 1, &w, &e), EAP_M_REPLY);
	ck_assert_uint_gt(wr_len(&w), 50);
	ck_assert_uint_eq(resp[0], 0);	/* a ClientHello fits one fragment: no L, no M */
	return st;
}

static enum eap_mstatus feed(void *st, const uint8_t *d, size_t n, struct eap_merr *e,
			     size_t *out_len)
{
	uint8_t resp[RESP_CAP];
	struct wr w;
	enum eap_mstatus s;

	wr_init(&w, resp, sizeof(resp));
	memset(e, 0, sizeof(*e));
	s = eap_method_tls.process(st, 7, d, n, &w, e);
	if (out_len)
		*out_len = wr_len(&w);
	if (s == EAP_M_REPLY && out_len && *out_len == 1)
		ck_assert_uint_eq(resp[0], 0);
	return s;
}

/* flags, optional length, n octets of 0x16 */
static size_t frame(uint8_t *buf, uint8_t flags, uint32_t l, size_t n)
{
	size_t at = 1;

	buf[0] = flags;
	if (flags & 0x80) {
		put_be32(buf + 1, l);
		at = 5;
	}
	memset(buf + at, 0x16, n);
	return at + n;
}

START_TEST(framing_before_start)
{
	struct eap_cfg c = cfg_for(pki.ec, pki.ec_key, NULL, &fv, 0);
	void *st = start(&c);
	uint8_t b[64];
	struct eap_merr e;

	ck_assert_int_eq(feed(st, b, frame(b, 0, 0, 10), &e, NULL), EAP_M_DROP);
	ck_assert_int_eq(feed(st, b, 0, &e, NULL), EAP_M_DROP);
	ck_assert_int_eq(feed(st, b, frame(b, 0x20, 0, 3), &e, NULL), EAP_M_DROP);	/* Start with data */
	ck_assert_int_eq(feed(st, b, frame(b, 0xa0, 0, 0), &e, NULL), EAP_M_DROP);	/* Start with L */
	eap_method_tls.free(st);
}
END_TEST

START_TEST(framing_short_headers)
{
	void *st = started();
	const uint8_t l2[] = { 0x80, 0, 0 }, l3[] = { 0xc0, 0, 0, 1 };
	uint8_t b[64];
	struct eap_merr e;

	ck_assert_int_eq(feed(st, b, 0, &e, NULL), EAP_M_DROP);		/* no Flags */
	ck_assert_int_eq(feed(st, l2, sizeof(l2), &e, NULL), EAP_M_DROP);	/* truncated length */
	ck_assert_int_eq(feed(st, l3, sizeof(l3), &e, NULL), EAP_M_DROP);
	ck_assert_int_eq(feed(st, b, frame(b, 0, 0, 0), &e, NULL), EAP_M_DROP);	/* stray ACK */
	ck_assert_int_eq(feed(st, b, frame(b, 0x20, 0, 0), &e, NULL), EAP_M_DROP);	/* Start again */
	eap_method_tls.free(st);
}
END_TEST

START_TEST(framing_length_over_cap)
{
	void *st = started();
	uint8_t b[64];
	struct eap_merr e;

	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 64 * 1024 + 1, 20), &e, NULL), EAP_M_FAIL);
	ck_assert_int_eq(e.kind, EAP_FAIL_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(e.text, "65537"));
	/* dead now: everything is dropped */
	ck_assert_int_eq(feed(st, b, frame(b, 0x20, 0, 0), &e, NULL), EAP_M_DROP);
	ck_assert_int_eq(feed(st, b, frame(b, 0, 0, 10), &e, NULL), EAP_M_DROP);
	eap_method_tls.free(st);

	st = started();
	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 0xffffffffu, 20), &e, NULL), EAP_M_FAIL);
	eap_method_tls.free(st);
	st = started();
	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 0, 20), &e, NULL), EAP_M_FAIL);
	eap_method_tls.free(st);
}
END_TEST

START_TEST(framing_overrun)
{
	void *st = started();
	uint8_t b[200];
	struct eap_merr e;
	size_t n;

	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 100, 80), &e, &n), EAP_M_REPLY);
	ck_assert_uint_eq(n, 1);	/* ACK */
	ck_assert_int_eq(feed(st, b, frame(b, 0, 0, 30), &e, NULL), EAP_M_FAIL);
	ck_assert_int_eq(e.kind, EAP_FAIL_PROTOCOL);
	eap_method_tls.free(st);

	/* more data than L in the first fragment itself */
	st = started();
	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 100, 101), &e, NULL), EAP_M_FAIL);
	eap_method_tls.free(st);
	/* M although the first fragment holds all of L */
	st = started();
	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 100, 100), &e, NULL), EAP_M_FAIL);
	eap_method_tls.free(st);
	/* L, no M, fewer octets than L */
	st = started();
	ck_assert_int_eq(feed(st, b, frame(b, 0x80, 100, 99), &e, NULL), EAP_M_FAIL);
	eap_method_tls.free(st);
	/* last fragment short */
	st = started();
	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 100, 50), &e, NULL), EAP_M_REPLY);
	ck_assert_int_eq(feed(st, b, frame(b, 0, 0, 49), &e, NULL), EAP_M_FAIL);
	eap_method_tls.free(st);
	/* more fragments announced after all of L arrived */
	st = started();
	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 100, 50), &e, NULL), EAP_M_REPLY);
	ck_assert_int_eq(feed(st, b, frame(b, 0x40, 0, 50), &e, NULL), EAP_M_FAIL);
	eap_method_tls.free(st);
	/* an empty fragment with M */
	st = started();
	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 100, 50), &e, NULL), EAP_M_REPLY);
	ck_assert_int_eq(feed(st, b, frame(b, 0x40, 0, 0), &e, NULL), EAP_M_FAIL);
	eap_method_tls.free(st);
}
END_TEST

START_TEST(framing_m_without_l)
{
	void *st = started();
	uint8_t b[64];
	struct eap_merr e;

	ck_assert_int_eq(feed(st, b, frame(b, 0x40, 0, 40), &e, NULL), EAP_M_FAIL);
	ck_assert_int_eq(e.kind, EAP_FAIL_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(e.text, "no TLS Message Length"));
	eap_method_tls.free(st);
}
END_TEST

START_TEST(framing_l_changes)
{
	void *st = started();
	uint8_t b[200];
	struct eap_merr e;

	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 100, 50), &e, NULL), EAP_M_REPLY);
	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 200, 10), &e, NULL), EAP_M_FAIL);
	ck_assert_ptr_nonnull(strstr(e.text, "changed from 100 to 200"));
	eap_method_tls.free(st);
}
END_TEST

/* L repeated with the same value on later fragments: tolerated; then OpenSSL refuses the junk. */
START_TEST(framing_junk_tls)
{
	void *st = started();
	uint8_t b[200];
	struct eap_merr e;

	ck_assert_int_eq(feed(st, b, frame(b, 0xc0, 100, 50), &e, NULL), EAP_M_REPLY);
	ck_assert_int_eq(feed(st, b, frame(b, 0x80, 100, 50), &e, NULL), EAP_M_FAIL);
	ck_assert_int_eq(e.kind, EAP_FAIL_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(e.text, "TLS failed"));
	eap_method_tls.free(st);
}
END_TEST

/* Data instead of an ACK while our fragments are pending; data after done. */
START_TEST(framing_out_of_turn)
{
	struct vctx v = { 0 };
	struct eap_cfg c = cfg_for(pki.big, pki.big_key, pki.sub_chain, &v, 0);
	struct srv *s = srv_new(&SRV_DEFAULT);
	void *st = start(&c);
	uint8_t resp[RESP_CAP], b[64];
	struct eap_merr e;
	size_t len;
	struct wr w;
	uint8_t id = 1;

	/* up to our first fragment with M */
	srv_start(req, &len);
	for (;;) {
		wr_init(&w, resp, sizeof(resp));
		ck_assert_int_eq(eap_method_tls.process(st, id++, req, len, &w, &e), EAP_M_REPLY);
		if (resp[0] & 0x40)
			break;
		ck_assert_int_eq(srv_input(s, resp, wr_len(&w), req, &len), SRV_CONT);
	}
	ck_assert_uint_eq(resp[0], 0xc0);
	ck_assert_int_eq(feed(st, b, frame(b, 0, 0, 20), &e, NULL), EAP_M_FAIL);
	ck_assert_ptr_nonnull(strstr(e.text, "instead of acknowledging"));
	eap_method_tls.free(st);
	srv_free(s);

	/* after a whole login */
	s = srv_new(&SRV_DEFAULT);
	c = cfg_for(pki.ec, pki.ec_key, NULL, &v, 0);
	st = start(&c);
	ck_assert_int_eq(converse(s, st).res, SRV_SUCCESS);
	ck_assert(eap_method_tls.done(st));
	{
		enum eap_mstatus r = feed(st, b, frame(b, 0, 0, 30), &e, NULL);

		ck_assert(r == EAP_M_DROP || r == EAP_M_FAIL);
	}
	eap_method_tls.free(st);
	srv_free(s);
}
END_TEST

START_TEST(start_refuses_bad_cfg)
{
	struct vctx v = { 0 };
	struct eap_cfg c = cfg_for(pki.ec, pki.ec_key, NULL, &v, 0);
	struct eap_merr e;

	c.key = NULL;
	ck_assert_ptr_null(eap_method_tls.start(&c, &e));
	ck_assert_int_eq(e.kind, EAP_FAIL_LOCAL);
	c.key = pki.rsa_key;	/* not the certificate's */
	ck_assert_ptr_null(eap_method_tls.start(&c, &e));
	ck_assert_ptr_nonnull(strstr(e.text, "does not match"));
	c.key = pki.ec_key;
	c.verify_server = NULL;
	ck_assert_ptr_null(eap_method_tls.start(&c, &e));
	c.verify_server = verify_server;
	c.tls_max_version = TLS1_1_VERSION;
	ck_assert_ptr_null(eap_method_tls.start(&c, &e));
	ERR_clear_error();
}
END_TEST

static Suite *eap_tls_suite(void)
{
	Suite *s = suite_create("eap_tls");
	TCase *tc = tcase_create("eap_tls");

	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tls12_rsa);
	tcase_add_test(tc, tls12_ecdsa_server_caps);
	tcase_add_test(tc, tls13_rsa);
	tcase_add_test(tc, tls13_ecdsa);
	tcase_add_test(tc, tls12_many_fragments);
	tcase_add_test(tc, tls13_many_fragments);
	tcase_add_test(tc, large_messages_with_l);
	tcase_add_test(tc, tls13_commitment_apart);
	tcase_add_test(tc, tls12_server_untrusted);
	tcase_add_test(tc, tls13_server_untrusted);
	tcase_add_test(tc, tls12_client_rejected);
	tcase_add_test(tc, tls13_client_rejected);
	tcase_add_test(tc, failure_without_alert);
	tcase_add_test(tc, framing_before_start);
	tcase_add_test(tc, framing_short_headers);
	tcase_add_test(tc, framing_length_over_cap);
	tcase_add_test(tc, framing_overrun);
	tcase_add_test(tc, framing_m_without_l);
	tcase_add_test(tc, framing_l_changes);
	tcase_add_test(tc, framing_junk_tls);
	tcase_add_test(tc, framing_out_of_turn);
	tcase_add_test(tc, start_refuses_bad_cfg);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(eap_tls_suite)
