/*
 * EAP-TLS peer: RFC 5216 (TLS 1.2) and RFC 9190 (TLS 1.3).
 *
 * OpenSSL runs the TLS client over two memory BIOs: the server's TLS data,
 * once a whole message has been reassembled from its EAP-TLS fragments, is
 * written into the read BIO; what OpenSSL writes into the write BIO is sent
 * back in fragments of TLS_FRAG octets. No sockets.
 *
 *   Start (S)                     -> ClientHello
 *   fragment with M               -> empty response (fragment ACK)
 *   server flight                 -> our flight (Certificate ... Finished),
 *                                    its first fragment with L and M
 *   empty request (ACK)           -> our next fragment
 *   TLS 1.2: server Finished      -> empty response; done(): Success may come
 *   TLS 1.3: commitment (0x00)    -> empty response; done(): Success may come
 *   TLS alert                     -> empty response; Failure comes next
 *
 * The server's certificate is checked by cfg->verify_server from inside
 * the handshake (OpenSSL's certificate verify callback), so an untrusted
 * server never sees our certificate or Finished.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "eap/method.h"
#include "util/buf.h"
#include "util/log.h"

/* RFC 5216 §3.1: Flags */
#define FLAG_L	0x80	/* Length included */
#define FLAG_M	0x40	/* More fragments */
#define FLAG_S	0x20	/* EAP-TLS start */

/*
 * TLS data in each fragment we send: 1024 octets, strongSwan's default
 * (charon.plugins.eap-tls.fragment_size). With the EAP header (5), flags
 * and length (5), the EAP payload header (4), the IKE header (28) and the
 * encrypted payload's header, IV, padding and ICV (at most 52), the
 * IKE_AUTH request is at most ~1120 octets; with IPv6 and UDP (48) and
 * the non-ESP marker (4) it stays below IPv6's minimum MTU of 1280: no IP
 * fragmentation and no need for IKE fragmentation, whatever the path.
 */
#define TLS_FRAG	1024
/* One TLS message (set of records) from the server, reassembled: RFC 5216 sets no limit. */
#define TLS_IN_MAX	(64 * 1024)
/* All TLS data from the server in one conversation (a few flights, many times over). */
#define TLS_IN_TOTAL_MAX	(256 * 1024)
/* One flight of ours (our certificate chain, mostly) */
#define TLS_OUT_MAX	(64 * 1024)
/* Intermediates of the server passed to verify_server */
#define TLS_CHAIN_MAX	16

#define LABEL_TLS12	"client EAP encryption"
#define LABEL_TLS13	"EXPORTER_EAP_TLS_Key_Material"
#define KEY_MATERIAL_LEN	128

enum tls_phase {
	PH_START,	/* waiting for the server's Start */
	PH_HANDSHAKE,	/* the TLS handshake is under way */
	PH_COMMIT,	/* TLS 1.3: handshake done, waiting for the commitment message */
	PH_DONE,	/* done(): EAP-Success may come */
	PH_ALERTED,	/* the server sent an alert, we answered: EAP-Failure comes next */
	PH_DEAD,	/* we returned EAP_M_FAIL */
};

struct tls_st {
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *rbio, *wbio;	/* owned by ssl */
	eap_verify_fn verify;
	void *verify_ctx;
	enum tls_phase phase;

	/* the server's message being reassembled */
	uint8_t *in;
	size_t in_len, in_want;	/* received so far, announced by L */
	size_t in_total;	/* TLS data received in this conversation */

	/* our message being sent in fragments */
	uint8_t *out;
	size_t out_len, out_pos;

	bool verified;		/* verify_server accepted the server's certificate */
	bool verify_failed;
	bool sent_cert;		/* our Certificate message was written */
	int alert;		/* the last alert the server sent (description), -1: none */
	char verr[160];		/* verify_server's reason */
	char why[200];		/* why_failed() after an alert */
	enum eap_fail_kind why_kind;

	uint8_t msk[EAP_MSK_MAX];
	bool have_msk;
};

static const struct {
	int code;
	const char *name;
} alert_names[] = {
	{ 0, "close notify" }, { 10, "unexpected message" }, { 20, "bad record mac" },
	{ 22, "record overflow" }, { 40, "handshake failure" }, { 42, "bad certificate" },
	{ 43, "unsupported certificate" }, { 44, "certificate revoked" },
	{ 45, "certificate expired" }, { 46, "certificate unknown" }, { 47, "illegal parameter" },
	{ 48, "unknown ca" }, { 49, "access denied" }, { 50, "decode error" },
	{ 51, "decrypt error" }, { 70, "protocol version" }, { 71, "insufficient security" },
	{ 80, "internal error" }, { 86, "inappropriate fallback" }, { 90, "user canceled" },
	{ 109, "missing extension" }, { 110, "unsupported extension" },
	{ 112, "unrecognized name" }, { 116, "certificate required" },
};

static const char *alert_name(int code, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(alert_names) / sizeof(alert_names[0]); i++)
		if (alert_names[i].code == code)
			return alert_names[i].name;
	snprintf(buf, len, "%d", code);
	return buf;
}

/* Alerts that say the server did not accept our certificate (RFC 8446 §6.2, RFC 5246 §7.2.2). */
static bool alert_about_cert(int code)
{
	switch (code) {
	case 42: case 43: case 44: case 45: case 46: case 48: case 49: case 116:
		return true;
	default:
		return false;
	}
}

static const char *version_name(int v)
{
	return v == TLS1_3_VERSION ? "TLS 1.3" : v == TLS1_2_VERSION ? "TLS 1.2" : "TLS (old)";
}

/* ---- OpenSSL callbacks ---- */

/* Sees every TLS message: the server's alerts, our Certificate going out. */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
		   SSL *ssl, void *arg)
{
	struct tls_st *st = arg;
	const uint8_t *b = buf;

	/*
	 * Fatal alerts and close_notify; in TLS 1.3 every alert but
	 * user_canceled ends the connection (RFC 8446 §6), whatever its level.
	 */
	if (!write_p && content_type == SSL3_RT_ALERT && len == 2 &&
	    (b[0] == SSL3_AL_FATAL || b[1] == SSL_AD_CLOSE_NOTIFY ||
	     (SSL_version(ssl) == TLS1_3_VERSION && b[1] != SSL_AD_USER_CANCELLED)))
		st->alert = b[1];
	else if (write_p && content_type == SSL3_RT_HANDSHAKE && len >= 1 &&
		 b[0] == SSL3_MT_CERTIFICATE)
		st->sent_cert = true;
}

static void free_ders(uint8_t *ee, uint8_t **ders, unsigned n)
{
	OPENSSL_free(ee);
	for (unsigned i = 0; i < n; i++)
		OPENSSL_free(ders[i]);
}

/*
 * OpenSSL's certificate check, replaced by verify_server: called while
 * the server's Certificate is processed, before we write anything more.
 */
static int verify_cb(X509_STORE_CTX *xs, void *arg)
{
	struct tls_st *st = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(xs);
	uint8_t *ee = NULL, *ders[TLS_CHAIN_MAX];
	const uint8_t *cders[TLS_CHAIN_MAX];
	size_t lens[TLS_CHAIN_MAX];
	unsigned n = 0;
	int ee_len, ok = 0;

	st->verr[0] = '\0';
	if (!leaf) {
		snprintf(st->verr, sizeof(st->verr), "the server sent no certificate");
		goto done;
	}
	ee_len = i2d_X509(leaf, &ee);
	if (ee_len <= 0) {
		snprintf(st->verr, sizeof(st->verr), "cannot encode its certificate");
		goto done;
	}
	for (int i = 0; sent && i < sk_X509_num(sent); i++) {
		X509 *x = sk_X509_value(sent, i);
		int l;

		if (x == leaf || X509_cmp(x, leaf) == 0)
			continue;
		if (n == TLS_CHAIN_MAX) {
			snprintf(st->verr, sizeof(st->verr), "more than %d intermediate certificates",
				 TLS_CHAIN_MAX);
			goto done;
		}
		ders[n] = NULL;
		l = i2d_X509(x, &ders[n]);
		if (l <= 0) {
			snprintf(st->verr, sizeof(st->verr), "cannot encode an intermediate certificate");
			goto done;
		}
		cders[n] = ders[n];
		lens[n++] = (size_t)l;
	}
	if (st->verify(st->verify_ctx, ee, (size_t)ee_len, cders, lens, n, st->verr,
		       sizeof(st->verr)) == 0)
		ok = 1;
	else if (!st->verr[0])
		snprintf(st->verr, sizeof(st->verr), "refused");
done:
	free_ders(ee, ders, n);
	if (ok) {
		st->verified = true;
		return 1;
	}
	st->verify_failed = true;
	X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

/* ---- start, free ---- */

static void tls_free(void *vst)
{
	struct tls_st *st = vst;

	if (!st)
		return;
	SSL_free(st->ssl);
	SSL_CTX_free(st->ctx);
	free(st->in);
	free(st->out);
	OPENSSL_cleanse(st->msk, sizeof(st->msk));
	free(st);
}

static bool tls_setup(struct tls_st *st, const struct eap_cfg *cfg, int max, struct eap_merr *e)
{
	const char *what;

	st->ctx = SSL_CTX_new(TLS_client_method());
	if (!st->ctx) {
		what = "no TLS context";
		goto fail;
	}
	/* TLS 1.2 at least: RFC 9190 §5.1 recommends against older versions. */
	if (!SSL_CTX_set_min_proto_version(st->ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(st->ctx, max)) {
		what = "cannot set the TLS versions";
		goto fail;
	}
	/*
	 * No resumption (RFC 9190 §5.7 makes it optional), no renegotiation, no
	 * compression. Servers without RFC 5746's renegotiation_info (strongSwan's
	 * own TLS stack, 5.9.8) are accepted: the attack of RFC 5746 needs a
	 * renegotiation, and we never renegotiate.
	 */
	SSL_CTX_set_options(st->ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_NO_COMPRESSION | SSL_OP_LEGACY_SERVER_CONNECT);
	SSL_CTX_set_session_cache_mode(st->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(st->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(st->ctx, verify_cb, st);
	SSL_CTX_set_msg_callback(st->ctx, msg_cb);
	SSL_CTX_set_msg_callback_arg(st->ctx, st);

	st->ssl = SSL_new(st->ctx);
	st->rbio = BIO_new(BIO_s_mem());
	st->wbio = BIO_new(BIO_s_mem());
	if (!st->ssl || !st->rbio || !st->wbio) {
		BIO_free(st->rbio);
		BIO_free(st->wbio);
		st->rbio = st->wbio = NULL;
		what = "out of memory";
		goto fail;
	}
	BIO_set_mem_eof_return(st->rbio, -1);	/* empty: "try again", not EOF */
	SSL_set_bio(st->ssl, st->rbio, st->wbio);
	SSL_set_connect_state(st->ssl);
	/* these take their own references: cfg's objects stay the caller's */
	if (SSL_use_certificate(st->ssl, cfg->cert) != 1 ||
	    SSL_use_PrivateKey(st->ssl, cfg->key) != 1) {
		what = "our certificate or key is not usable";
		goto fail;
	}
	if (SSL_check_private_key(st->ssl) != 1) {
		what = "our key does not match our certificate";
		goto fail;
	}
	if (cfg->chain && SSL_set1_chain(st->ssl, cfg->chain) != 1) {
		what = "cannot use our intermediate certificates";
		goto fail;
	}
	return true;
fail:
	ERR_clear_error();
	eap_merr_set(e, EAP_FAIL_LOCAL, "EAP-TLS: %s", what);
	return false;
}

static void *tls_start(const struct eap_cfg *cfg, struct eap_merr *e)
{
	int max = cfg->tls_max_version ? cfg->tls_max_version : TLS1_3_VERSION;
	struct tls_st *st;

	if (!cfg->cert || !cfg->key) {
		eap_merr_set(e, EAP_FAIL_LOCAL, "EAP-TLS needs a certificate and its key");
		return NULL;
	}
	if (!cfg->verify_server) {
		eap_merr_set(e, EAP_FAIL_LOCAL, "EAP-TLS needs a check of the server's certificate");
		return NULL;
	}
	if (max != TLS1_2_VERSION && max != TLS1_3_VERSION) {
		eap_merr_set(e, EAP_FAIL_LOCAL, "EAP-TLS: maximum TLS version 0x%x is not 1.2 or 1.3",
			     (unsigned)max);
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		eap_merr_set(e, EAP_FAIL_LOCAL, "EAP-TLS: out of memory");
		return NULL;
	}
	st->verify = cfg->verify_server;
	st->verify_ctx = cfg->verify_ctx;
	st->alert = -1;
	if (!tls_setup(st, cfg, max, e)) {
		tls_free(st);
		return NULL;
	}
	return st;
}

/* ---- what we send ---- */

static enum eap_mstatus fail(struct tls_st *st, struct eap_merr *e, enum eap_fail_kind kind,
			     const char *text)
{
	st->phase = PH_DEAD;
	ERR_clear_error();
	return eap_merr_set(e, kind, "EAP-TLS: %s", text);
}

/* An EAP-TLS response with no data: a fragment ACK, or the answer to the server's last message. */
static enum eap_mstatus reply_empty(struct tls_st *st, struct wr *out, struct eap_merr *e)
{
	if (wr_u8(out, 0) < 0)
		return fail(st, e, EAP_FAIL_LOCAL, "no room for the response");
	return EAP_M_REPLY;
}

/* The next fragment of st->out. */
static enum eap_mstatus send_fragment(struct tls_st *st, struct wr *out, struct eap_merr *e)
{
	size_t left = st->out_len - st->out_pos;
	size_t n = left < TLS_FRAG ? left : TLS_FRAG;
	bool first = st->out_pos == 0, more = n < left;
	/*
	 * RFC 5216 §3.1: the L bit "MUST be set for the first fragment of a
	 * fragmented TLS message or set of messages"; "Implementations MUST
	 * NOT set the L bit in unfragmented messages". M "is set on all but
	 * the last fragment".
	 */
	uint8_t flags = (uint8_t)((more ? FLAG_M : 0) | (first && more ? FLAG_L : 0));

	if (wr_u8(out, flags) < 0 || ((flags & FLAG_L) && wr_u32(out, (uint32_t)st->out_len) < 0) ||
	    wr_bytes(out, st->out + st->out_pos, n) < 0)
		return fail(st, e, EAP_FAIL_LOCAL, "no room for the response");
	st->out_pos += n;
	if (st->out_pos == st->out_len) {
		free(st->out);
		st->out = NULL;
		st->out_len = st->out_pos = 0;
	}
	return EAP_M_REPLY;
}

/* Whatever OpenSSL wrote, as fragments; an empty response if nothing. */
static enum eap_mstatus send_pending(struct tls_st *st, struct wr *out, struct eap_merr *e)
{
	size_t pend = BIO_ctrl_pending(st->wbio);

	if (!pend)
		return reply_empty(st, out, e);
	if (pend > TLS_OUT_MAX)
		return fail(st, e, EAP_FAIL_LOCAL, "our TLS message is too long");
	st->out = malloc(pend);
	if (!st->out)
		return fail(st, e, EAP_FAIL_LOCAL, "out of memory");
	if (BIO_read(st->wbio, st->out, (int)pend) != (int)pend)
		return fail(st, e, EAP_FAIL_LOCAL, "cannot take OpenSSL's output");
	st->out_len = pend;
	st->out_pos = 0;
	return send_fragment(st, out, e);
}

/* ---- the TLS connection ---- */

/*
 * The handshake or a read failed. Our reason first (the server's
 * certificate refused), then the server's alert, then OpenSSL's.
 */
static enum eap_mstatus tls_failed(struct tls_st *st, struct eap_merr *e)
{
	char text[160], num[16];
	unsigned long err;

	if (st->verify_failed) {
		/*
		 * RFC 5216 §2.1.4 says the peer SHOULD send an alert instead; the
		 * method interface ends the login here, which tears down the IKE SA.
		 */
		st->phase = PH_DEAD;
		ERR_clear_error();
		return eap_merr_set(e, EAP_FAIL_SERVER, "EAP-TLS server certificate not trusted: %s",
				    st->verr);
	}
	if (st->alert >= 0) {
		const char *name = alert_name(st->alert, num, sizeof(num));

		if (st->alert == 0) {
			st->why_kind = EAP_FAIL_PROTOCOL;
			snprintf(st->why, sizeof(st->why),
				 "EAP-TLS: the server closed the TLS session before it finished");
		} else if (alert_about_cert(st->alert) && st->sent_cert) {
			st->why_kind = EAP_FAIL_REJECTED;
			snprintf(st->why, sizeof(st->why),
				 "the server rejected our certificate (TLS alert: %s)", name);
		} else {
			st->why_kind = EAP_FAIL_PROTOCOL;
			snprintf(st->why, sizeof(st->why),
				 "EAP-TLS: the server ended the TLS handshake (TLS alert: %s)", name);
		}
		log_info("eap-tls: the server sent TLS alert \"%s\"", name);
		/*
		 * RFC 5216 §2.1.3: "To ensure that the peer receives the TLS alert
		 * message, the EAP server MUST wait for the peer to reply with an
		 * EAP-Response packet"; an EAP-Response "with EAP-Type=EAP-TLS and
		 * no data" makes it send EAP-Failure.
		 */
		st->phase = PH_ALERTED;
		(void)BIO_reset(st->wbio);
		ERR_clear_error();
		return EAP_M_REPLY;
	}
	err = ERR_peek_error();
	snprintf(text, sizeof(text), "TLS failed: %s",
		 err ? ERR_reason_error_string(err) ? ERR_reason_error_string(err) : "unknown error"
		     : "unexpected end");
	return fail(st, e, EAP_FAIL_PROTOCOL, text);
}

/* Reads what the server sent after the handshake; *app: application data arrived. */
static enum eap_mstatus read_records(struct tls_st *st, bool *app, struct eap_merr *e)
{
	uint8_t buf[256];
	int r;

	*app = false;
	for (;;) {
		r = SSL_read(st->ssl, buf, sizeof(buf));
		if (r > 0) {
			*app = true;
			continue;
		}
		break;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	switch (SSL_get_error(st->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return EAP_M_REPLY;
	case SSL_ERROR_ZERO_RETURN:	/* close_notify */
		st->alert = 0;
		/* fall through */
	default:
		return tls_failed(st, e);
	}
}

static enum eap_mstatus export_msk(struct tls_st *st, int version, struct eap_merr *e)
{
	static const uint8_t type_code = EAP_TYPE_TLS;
	uint8_t km[KEY_MATERIAL_LEN];
	int ok;

	if (version == TLS1_3_VERSION)
		/*
		 * RFC 9190 §2.3: Key_Material = TLS-Exporter(
		 *   "EXPORTER_EAP_TLS_Key_Material", Type-Code, 128), Type-Code 0x0D;
		 * MSK = Key_Material(0, 63).
		 */
		ok = SSL_export_keying_material(st->ssl, km, sizeof(km), LABEL_TLS13,
						strlen(LABEL_TLS13), &type_code, 1, 1);
	else
		/*
		 * RFC 5216 §2.3: Key_Material = TLS-PRF-128(master_secret,
		 * "client EAP encryption", client.random || server.random);
		 * MSK = Key_Material(0, 63). An RFC 5705 exporter without context
		 * computes exactly this.
		 */
		ok = SSL_export_keying_material(st->ssl, km, sizeof(km), LABEL_TLS12,
						strlen(LABEL_TLS12), NULL, 0, 0);
	if (ok == 1)
		memcpy(st->msk, km, sizeof(st->msk));
	OPENSSL_cleanse(km, sizeof(km));
	if (ok != 1)
		return fail(st, e, EAP_FAIL_LOCAL, "cannot derive the MSK");
	st->have_msk = true;
	return EAP_M_REPLY;
}

static enum eap_mstatus handshake_done(struct tls_st *st, struct eap_merr *e)
{
	int version = SSL_version(st->ssl);
	const SSL_CIPHER *c = SSL_get_current_cipher(st->ssl);
	enum eap_mstatus s;
	bool app;

	if (!st->verified)	/* e.g. a cipher suite without a certificate */
		return fail(st, e, EAP_FAIL_SERVER, "the server's certificate was not checked");
	s = export_msk(st, version, e);
	if (s != EAP_M_REPLY)
		return s;
	log_info("eap-tls: %s handshake done (%s)", version_name(version),
		 c ? SSL_CIPHER_standard_name(c) : "?");
	if (version != TLS1_3_VERSION) {
		/*
		 * RFC 5216 §2.1.1: the server's ChangeCipherSpec and Finished
		 * verified; "The EAP peer MUST then send an EAP-Response packet of
		 * EAP-Type=EAP-TLS and no data. The EAP server MUST then send an
		 * EAP-Success".
		 */
		st->phase = PH_DONE;
		return EAP_M_REPLY;
	}
	/*
	 * RFC 9190 §2.5: the server sends its commitment message once it
	 * "has successfully processed the TLS client Finished"; data behind
	 * the server's Finished in this flight was sent before it saw ours.
	 */
	st->phase = PH_COMMIT;
	s = read_records(st, &app, e);
	if (s == EAP_M_REPLY && app)
		return fail(st, e, EAP_FAIL_PROTOCOL,
			    "application data before our Finished (RFC 9190 §2.5)");
	return s;
}

/* The server's message is in the read BIO: move TLS on. */
static enum eap_mstatus tls_step(struct tls_st *st, struct eap_merr *e)
{
	enum eap_mstatus s;
	bool app;
	int r;

	ERR_clear_error();
	switch (st->phase) {
	case PH_HANDSHAKE:
		r = SSL_do_handshake(st->ssl);
		if (r == 1)
			return handshake_done(st, e);
		if (SSL_get_error(st->ssl, r) == SSL_ERROR_WANT_READ)
			return EAP_M_REPLY;
		return tls_failed(st, e);
	case PH_COMMIT:
		s = read_records(st, &app, e);
		if (s != EAP_M_REPLY || st->phase != PH_COMMIT)
			return s;
		/*
		 * RFC 9190 §2.5 ≈: the peer MUST take any application data from
		 * the server as its commitment not to send more handshake
		 * messages. Before it (e.g. after NewSessionTicket alone) we
		 * answer with an empty response.
		 */
		if (app) {
			st->phase = PH_DONE;
			log_debug("eap-tls: the server's commitment message arrived");
		}
		return EAP_M_REPLY;
	case PH_DONE:
		/*
		 * RFC 9190 §2.5 ≈: after the commitment message the server sends
		 * EAP-Success, EAP-Failure, or a TLS alert only (RFC 5216: after
		 * its Finished, the same).
		 */
		s = read_records(st, &app, e);
		if (s != EAP_M_REPLY || st->phase != PH_DONE)
			return s;
		return fail(st, e, EAP_FAIL_PROTOCOL, "the server sent TLS data after it finished");
	default:
		return fail(st, e, EAP_FAIL_PROTOCOL, "TLS data at the wrong time");
	}
}

/* A whole TLS message from the server. */
static enum eap_mstatus feed(struct tls_st *st, const uint8_t *p, size_t n, struct wr *out,
			     struct eap_merr *e)
{
	enum eap_mstatus s;

	if (n && BIO_write(st->rbio, p, (int)n) != (int)n)
		return fail(st, e, EAP_FAIL_LOCAL, "cannot pass the server's TLS data to OpenSSL");
	s = tls_step(st, e);
	if (s != EAP_M_REPLY)
		return s;
	if (st->phase == PH_ALERTED)
		return reply_empty(st, out, e);
	return send_pending(st, out, e);
}

/* ---- what we receive ---- */

static enum eap_mstatus on_start(struct tls_st *st, uint8_t flags, size_t n, struct wr *out,
				 struct eap_merr *e)
{
	/* RFC 5216 §2.1.1: "the Start (S) bit set, and no data" */
	if (st->phase != PH_START || (flags & (FLAG_L | FLAG_M)) || n)
		return EAP_M_DROP;
	st->phase = PH_HANDSHAKE;
	return feed(st, NULL, 0, out, e);
}

/* The server's ACK of our fragment: the next one. */
static enum eap_mstatus on_ack(struct tls_st *st, uint8_t flags, size_t n, struct wr *out,
			       struct eap_merr *e)
{
	/*
	 * RFC 5216 §2.1.5: "The EAP server MUST respond with an EAP-Request
	 * with EAP-Type=EAP-TLS and no data. This serves as a fragment ACK."
	 */
	if ((flags & (FLAG_L | FLAG_M)) || n)
		return fail(st, e, EAP_FAIL_PROTOCOL,
			    "the server sent data instead of acknowledging our fragment");
	return send_fragment(st, out, e);
}

/* TLS data, whole or a fragment (RFC 5216 §3.1). */
static enum eap_mstatus on_data(struct tls_st *st, uint8_t flags, uint32_t tlen, struct rd *r,
				struct wr *out, struct eap_merr *e)
{
	size_t n = rd_left(r);
	bool more = flags & FLAG_M;
	const uint8_t *p;
	char text[160];

	if (n == 0 && !more)	/* an ACK when we sent no fragment */
		return EAP_M_DROP;
	if (rd_ptr(r, n, &p) < 0)
		return EAP_M_DROP;
	if (n == 0)
		return fail(st, e, EAP_FAIL_PROTOCOL, "an empty fragment with more to come");
	if (st->in_total + n > TLS_IN_TOTAL_MAX)
		return fail(st, e, EAP_FAIL_PROTOCOL, "the server sent too much TLS data");
	st->in_total += n;

	if (!st->in) {
		if (!(flags & FLAG_L)) {
			/* RFC 5216 §3.1: L "MUST be set for the first fragment" */
			if (more)
				return fail(st, e, EAP_FAIL_PROTOCOL,
					    "the first fragment has no TLS Message Length");
			/* "MUST accept unfragmented messages with and without the L bit" */
			return feed(st, p, n, out, e);
		}
		if (tlen == 0 || tlen > TLS_IN_MAX) {
			snprintf(text, sizeof(text),
				 "the server announced a TLS message of %u octets (at most %u)",
				 (unsigned)tlen, TLS_IN_MAX);
			return fail(st, e, EAP_FAIL_PROTOCOL, text);
		}
		if (n > tlen || (more && n == tlen) || (!more && n < tlen)) {
			snprintf(text, sizeof(text),
				 "%zu octets%s do not match the TLS Message Length %u", n,
				 more ? " and more to come" : "", (unsigned)tlen);
			return fail(st, e, EAP_FAIL_PROTOCOL, text);
		}
		if (!more)
			return feed(st, p, n, out, e);
		st->in = malloc(tlen);
		if (!st->in)
			return fail(st, e, EAP_FAIL_LOCAL, "out of memory");
		st->in_want = tlen;
		st->in_len = 0;
	} else {
		/* L again on a later fragment: tolerated when it does not change. */
		if ((flags & FLAG_L) && tlen != st->in_want) {
			snprintf(text, sizeof(text), "the TLS Message Length changed from %zu to %u",
				 st->in_want, (unsigned)tlen);
			return fail(st, e, EAP_FAIL_PROTOCOL, text);
		}
		if (n > st->in_want - st->in_len || (more && n == st->in_want - st->in_len) ||
		    (!more && n < st->in_want - st->in_len)) {
			snprintf(text, sizeof(text),
				 "fragments of %zu octets%s do not match the TLS Message Length %zu",
				 st->in_len + n, more ? " and more to come" : "", st->in_want);
			return fail(st, e, EAP_FAIL_PROTOCOL, text);
		}
	}
	memcpy(st->in + st->in_len, p, n);
	st->in_len += n;
	if (more)
		/*
		 * RFC 5216 §2.1.5: "When an EAP-TLS peer receives an EAP-Request
		 * packet with the M bit set, it MUST respond with an EAP-Response
		 * with EAP-Type=EAP-TLS and no data."
		 */
		return reply_empty(st, out, e);
	{
		uint8_t *msg = st->in;
		size_t len = st->in_len;
		enum eap_mstatus s;

		st->in = NULL;
		st->in_len = st->in_want = 0;
		s = feed(st, msg, len, out, e);
		free(msg);
		return s;
	}
}

static enum eap_mstatus tls_process(void *vst, uint8_t id, const uint8_t *data, size_t len,
				    struct wr *out, struct eap_merr *e)
{
	struct tls_st *st = vst;
	uint32_t tlen = 0;
	uint8_t flags;
	struct rd r;

	if (st->phase == PH_ALERTED || st->phase == PH_DEAD)
		return EAP_M_DROP;
	rd_init(&r, data, len);
	/* RFC 5216 §3.1: Flags, then the TLS Message Length "only if the L bit is set" */
	if (rd_u8(&r, &flags) < 0 || ((flags & FLAG_L) && rd_u32(&r, &tlen) < 0))
		return EAP_M_DROP;
	if (flags & FLAG_S)
		return on_start(st, flags, rd_left(&r), out, e);
	if (st->phase == PH_START)
		return EAP_M_DROP;
	if (st->out)
		return on_ack(st, flags, rd_left(&r), out, e);
	return on_data(st, flags, tlen, &r, out, e);
}

/* ---- results ---- */

static bool tls_done(const void *vst)
{
	const struct tls_st *st = vst;

	return st->phase == PH_DONE && st->verified && st->have_msk;
}

static int tls_msk(const void *vst, uint8_t out[EAP_MSK_MAX], size_t *len)
{
	const struct tls_st *st = vst;

	if (!tls_done(st))
		return -1;
	memcpy(out, st->msk, EAP_MSK_MAX);
	*len = EAP_MSK_MAX;
	return 0;
}

static const char *tls_why_failed(const void *vst, enum eap_fail_kind *kind)
{
	const struct tls_st *st = vst;

	if (st->phase == PH_ALERTED) {
		*kind = st->why_kind;
		return st->why;
	}
	if (st->sent_cert && (st->phase == PH_HANDSHAKE || st->phase == PH_COMMIT)) {
		*kind = EAP_FAIL_REJECTED;
		return "the server ended EAP-TLS after our certificate (no TLS alert)";
	}
	return NULL;
}

const struct eap_method eap_method_tls = {
	.type = EAP_TYPE_TLS,
	.allow = EAP_ALLOW_TLS,
	.name = "TLS",
	.start = tls_start,
	.process = tls_process,
	.done = tls_done,
	.msk = tls_msk,
	.why_failed = tls_why_failed,
	.free = tls_free,
};
