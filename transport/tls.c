/*
 * TLS client for the stream transport (RFC 9329 Appendix A): TLS 1.2 or
 * later, SNI, optional server verification, no client certificate,
 * session resumption through a struct stream_tls_cache, non-blocking on a
 * socket the stream owns.
 *
 * The socket is reached through a small BIO of our own that sends with
 * MSG_NOSIGNAL, so a peer that reset the connection gives EPIPE instead
 * of killing a process that did not ignore SIGPIPE.
 *
 * RFC 9329 Appendix A: the security of the IKE SA comes from IKE, "not
 * from the TLS session", so certificate checking is policy (verify), and
 * the server "SHOULD NOT request the client's certificate": we have none.
 */
#include "transport/stream_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fperm.h"
#include "util/log.h"

#define TLS_KEY_LEN 300

struct stream_tls_cache {
	SSL_SESSION *sess;
	char key[TLS_KEY_LEN];		/* which server and policy it is for */
	SSL_CTX *ctx;			/* made by stream_tls_cache_prepare, or NULL */
	char ctx_key[TLS_KEY_LEN];	/* its verify and CA file */
};

struct tlsc {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	bool eof;			/* the socket read returned 0 */
	struct stream_tls_cache *cache;
	char key[TLS_KEY_LEN];
	char name[256];
	bool verify;
	char err[STREAM_ERR_LEN];
};

/* ---- session cache ------------------------------------------------------ */

struct stream_tls_cache *stream_tls_cache_new(void)
{
	return calloc(1, sizeof(struct stream_tls_cache));
}

void stream_tls_cache_clear(struct stream_tls_cache *c)
{
	if (!c)
		return;
	SSL_SESSION_free(c->sess);
	c->sess = NULL;
	c->key[0] = '\0';
}

void stream_tls_cache_free(struct stream_tls_cache *c)
{
	stream_tls_cache_clear(c);
	if (c)
		SSL_CTX_free(c->ctx);
	free(c);
}

/*
 * TLS 1.3 tickets arrive after the handshake, so sessions are taken when
 * OpenSSL announces them rather than read once after SSL_connect.
 *
 * The cache keeps its own copy: SSL_free() of a connection that ended
 * without close_notify (a reset: exactly when we reconnect) marks that
 * connection's session not resumable (ssl_clear_bad_session), which
 * would otherwise be the cached object itself.
 */
static int tlsc_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tlsc *t = SSL_get_app_data(ssl);
	SSL_SESSION *copy;

	if (!t || !t->cache || !SSL_SESSION_is_resumable(sess))
		return 0;
	copy = SSL_SESSION_dup(sess);
	if (!copy)
		return 0;
	SSL_SESSION_free(t->cache->sess);
	t->cache->sess = copy;
	memcpy(t->cache->key, t->key, sizeof(t->key));
	return 0;	/* OpenSSL keeps its reference to sess */
}

/* ---- socket BIO --------------------------------------------------------- */

static BIO_METHOD *bio_meth;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_write(BIO *b, const char *buf, int len)
{
	struct tlsc *t = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = send(t->fd, buf, (size_t)len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
	struct tlsc *t = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = recv(t->fd, buf, (size_t)len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	if (n == 0)
		t->eof = true;
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tlsc *t = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return t && t->eof;
	default:
		return 0;
	}
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void bio_meth_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "ikeagent socket");

	if (!m)
		return;
	if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
	    !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
		BIO_meth_free(m);
		return;
	}
	bio_meth = m;
}

/* ---- errors ------------------------------------------------------------- */

static void errf(struct tlsc *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errf(struct tlsc *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
}

static void tlsc_errf(struct tlsc *t, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (reason)
		errf(t, "tls: %s: %s", what, reason);
	else if (errno)
		errf(t, "tls: %s: %s", what, strerror(errno));
	else
		errf(t, "tls: %s", what);
}

static bool tlsc_unexpected_eof(const struct tlsc *t)
{
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
	if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return true;
#endif
	return t->eof;
}

/* Map a failed SSL_* call: TLSC_AGAIN with *want, TLSC_EOF or TLSC_FAIL. */
static int tlsc_result(struct tlsc *t, int r, const char *what, uint32_t *want)
{
	int e = SSL_get_error(t->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = EPOLLIN;
		return TLSC_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = EPOLLOUT;
		return TLSC_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		errf(t, "tls: peer sent close_notify");
		return TLSC_EOF;
	case SSL_ERROR_SYSCALL:
	case SSL_ERROR_SSL:
		if (tlsc_unexpected_eof(t)) {
			errf(t, "tls: connection closed by peer during %s (no close_notify)", what);
			return TLSC_EOF;
		}
		tlsc_errf(t, what);
		return TLSC_FAIL;
	default:
		errf(t, "tls: %s: SSL error %d", what, e);
		return TLSC_FAIL;
	}
}

/* ---- setup -------------------------------------------------------------- */

static bool is_ip_literal(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET, s, &a) == 1 || inet_pton(AF_INET6, s, &a) == 1;
}

static void ctx_key(bool verify, const char *ca_file, char *out, size_t cap)
{
	snprintf(out, cap, "%d|%s", verify, ca_file ? ca_file : "");
}

/* A client context; with verify, the CA certificates are read now. */
/*
 * tls_ca into ctx's store, read from the descriptor it was checked on
 * (util/fperm.h: a CA file others may rewrite would let them vouch for
 * any gateway). 0, or -1 with err.
 */
static int ctx_load_ca(SSL_CTX *ctx, const char *ca_file, char *err, size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	char why[128];
	struct stat st;
	unsigned n = 0;
	X509 *x;
	FILE *f;
	int fd = fperm_open(ca_file, 0, &st, why, sizeof(why));

	if (fd < 0) {
		snprintf(err, errlen, "tls: CA file %s%s%s", ca_file, errno == EPERM ? " " : ": ",
			 why);
		return -1;
	}
	if (!(f = fdopen(fd, "r"))) {
		close(fd);
		snprintf(err, errlen, "tls: CA file %s: %s", ca_file, strerror(errno));
		return -1;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	fclose(f);
	ERR_clear_error();
	if (n == 0) {
		snprintf(err, errlen, "tls: cannot load CA certificates from %s", ca_file);
		return -1;
	}
	return 0;
}

static SSL_CTX *ctx_new(bool verify, const char *ca_file, char *err, size_t errlen)
{
	const long mode = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		snprintf(err, errlen, "tls: cannot create a context");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_mode(ctx, mode);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tlsc_new_session);
	if (!verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file && ctx_load_ca(ctx, ca_file, err, errlen) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (!ca_file && !SSL_CTX_set_default_verify_paths(ctx)) {
		snprintf(err, errlen, "tls: cannot load CA certificates from the system store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int stream_tls_cache_prepare(struct stream_tls_cache *c, bool verify, const char *ca_file,
			     char *err, size_t errlen)
{
	SSL_CTX *ctx = ctx_new(verify, ca_file, err, errlen);

	if (!ctx)
		return -1;
	SSL_CTX_free(c->ctx);
	c->ctx = ctx;
	ctx_key(verify, ca_file, c->ctx_key, sizeof(c->ctx_key));
	return 0;
}

/* The prepared context when it fits, else a new one. */
static int tlsc_ctx_setup(struct tlsc *t, const struct tlsc_params *p, char *err, size_t errlen)
{
	char key[TLS_KEY_LEN];

	ctx_key(p->verify, p->ca_file, key, sizeof(key));
	if (p->cache && p->cache->ctx && !strcmp(key, p->cache->ctx_key) &&
	    SSL_CTX_up_ref(p->cache->ctx)) {
		t->ctx = p->cache->ctx;
		return 0;
	}
	t->ctx = ctx_new(p->verify, p->ca_file, err, errlen);
	return t->ctx ? 0 : -1;
}

/* SNI for a name only (RFC 6066: never a literal); the certificate must
 * name what we connected to, as a DNS name or an IP address. */
static int tlsc_name_setup(struct tlsc *t, const struct tlsc_params *p)
{
	bool literal = is_ip_literal(p->name);

	if (!literal && !SSL_set_tlsext_host_name(t->ssl, p->name))
		return -1;
	if (!p->verify)
		return 0;
	if (literal)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), p->name) ? 0 : -1;
	return SSL_set1_host(t->ssl, p->name) ? 0 : -1;
}

static int tlsc_ssl_setup(struct tlsc *t, const struct tlsc_params *p)
{
	BIO *bio;

	t->ssl = SSL_new(t->ctx);
	bio = bio_meth ? BIO_new(bio_meth) : NULL;
	if (!t->ssl || !bio) {
		BIO_free(bio);
		return -1;
	}
	BIO_set_data(bio, t);
	SSL_set_bio(t->ssl, bio, bio);
	SSL_set_app_data(t->ssl, t);
	if (tlsc_name_setup(t, p) < 0)
		return -1;
	/* RFC 9329 Appendix A: reconnects should resume the TLS session. A
	 * copy again, so an abort of this connection leaves the cache usable. */
	if (t->cache && t->cache->sess && strcmp(t->cache->key, t->key) == 0) {
		SSL_SESSION *copy = SSL_SESSION_dup(t->cache->sess);
		int ok = copy && SSL_set_session(t->ssl, copy);

		SSL_SESSION_free(copy);
		if (!ok)
			return -1;
	}
	SSL_set_connect_state(t->ssl);
	return 0;
}

struct tlsc *tlsc_new(int fd, const struct tlsc_params *p, char *err, size_t errlen)
{
	struct tlsc *t;

	if (!p->name || strlen(p->name) >= sizeof(t->name)) {
		snprintf(err, errlen, "tls: no usable server name");
		return NULL;
	}
	if (pthread_once(&bio_once, bio_meth_init) != 0 || !bio_meth) {
		snprintf(err, errlen, "tls: cannot create the socket BIO");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "tls: out of memory");
		return NULL;
	}
	t->fd = fd;
	t->cache = p->cache;
	t->verify = p->verify;
	snprintf(t->name, sizeof(t->name), "%s", p->name);
	/* A session made without verification must not skip a later check. */
	snprintf(t->key, sizeof(t->key), "%s|%d|%s", p->name, p->verify,
		 p->ca_file ? p->ca_file : "");
	ERR_clear_error();
	if (tlsc_ctx_setup(t, p, err, errlen) < 0)
		goto fail;
	if (tlsc_ssl_setup(t, p) < 0) {
		snprintf(err, errlen, "tls: cannot set up the connection for %s", p->name);
		goto fail;
	}
	return t;
fail:
	tlsc_free(t);
	return NULL;
}

/* ---- I/O ---------------------------------------------------------------- */

int tlsc_handshake(struct tlsc *t, uint32_t *want)
{
	long vr;
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_connect(t->ssl);
	if (r == 1) {
		log_info("tls: handshake done with %s (%s, %s, certificate %s)", t->name,
			 SSL_get_version(t->ssl), SSL_session_reused(t->ssl) ? "resumed" : "full",
			 t->verify ? "verified" : "not checked");
		return 1;
	}
	r = tlsc_result(t, r, "handshake", want);
	if (r == TLSC_AGAIN)
		return 0;
	vr = SSL_get_verify_result(t->ssl);
	if (t->verify && vr != X509_V_OK)
		errf(t, "tls: certificate verification failed for %s: %s",
			 t->name, X509_verify_cert_error_string(vr));
	return -1;	/* the stream logs why it closed */
}

ssize_t tlsc_read(struct tlsc *t, uint8_t *buf, size_t n, uint32_t *want)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_read(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	return tlsc_result(t, r, "read", want);
}

ssize_t tlsc_write(struct tlsc *t, const uint8_t *buf, size_t n, uint32_t *want)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_write(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	r = tlsc_result(t, r, "write", want);
	return r == TLSC_EOF ? TLSC_FAIL : r;
}

void tlsc_shutdown(struct tlsc *t)
{
	if (!t || !SSL_is_init_finished(t->ssl))
		return;
	ERR_clear_error();
	/* RFC 9329 §6.1 ≈: after DELETE the initiator closes; close_notify
	 * first. One try: the loop does not wait for the peer's answer. */
	(void)SSL_shutdown(t->ssl);
}

const char *tlsc_error(const struct tlsc *t) { return t->err; }
bool tlsc_resumed(const struct tlsc *t) { return t && SSL_session_reused(t->ssl); }

void tlsc_free(struct tlsc *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	free(t);
}
