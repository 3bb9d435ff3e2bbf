/*
 * Client streams: plain TCP, or TLS on the server side with OpenSSL
 * (RFC 9329 Appendix A: the prefix and the frames run inside TLS; TLS only
 * gets through middleboxes, IKE authentication secures the tunnel).
 *
 * Every socket is non-blocking. OpenSSL may need the socket readable to
 * write (and writable to read); a call that cannot go on returns 0 and sets
 * want_write when it waits for writability, and the relay calls both
 * directions on any event, so either wait ends in a retry.
 */
#include "relay/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "util/log.h"

struct relay_tls {
	SSL_CTX *ctx;
};

static const char *ssl_reason(void)
{
	static char buf[160];
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static int tls_ctx_setup(SSL_CTX *ctx, const char *cert, const char *key)
{
	static const unsigned char sid_ctx[] = RELAY_NAME;

	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		log_err("relay: tls: certificate %s: %s", cert, ssl_reason());
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		log_err("relay: tls: private key %s: %s", key, ssl_reason());
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_err("relay: tls: %s does not match %s: %s", key, cert, ssl_reason());
		return -1;
	}
	/* Writes go out of a queue that moves while a write waits, and may
	 * be taken in part. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* A TCP FIN without close_notify ends the stream like an EOF; the
	 * framing itself notices a cut frame (and discards it). */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
	/* RFC 9329 Appendix A: reconnecting clients should resume, so tickets
	 * stay on (and the server cache for TLS 1.2 session IDs). */
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1)
		return -1;
	return 0;
}

int relay_tls_init(struct relay_tls **out, const char *cert, const char *key)
{
	struct relay_tls *t = calloc(1, sizeof(*t));
	int ret = -1;

	if (!t)
		goto done;
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (!t->ctx) {
		log_err("relay: tls: SSL_CTX_new: %s", ssl_reason());
		goto done;
	}
	if (tls_ctx_setup(t->ctx, cert, key) < 0)
		goto done;
	*out = t;
	t = NULL;
	ret = 0;
done:
	relay_tls_free(t);
	return ret;
}

void relay_tls_free(struct relay_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

int relay_stream_open(struct relay_stream *st, int fd, struct relay_tls *tls)
{
	memset(st, 0, sizeof(*st));
	st->fd = fd;
	if (!tls) {
		st->established = true;
		return 0;
	}
	st->ssl = SSL_new(tls->ctx);
	if (!st->ssl || SSL_set_fd(st->ssl, fd) != 1) {
		log_warn("relay: tls: SSL_new: %s", ssl_reason());
		relay_stream_close(st);
		return -1;
	}
	SSL_set_accept_state(st->ssl);
	return 0;
}

void relay_stream_close(struct relay_stream *st)
{
	if (st->ssl) {
		/* One non-blocking try at close_notify; nothing waits for it. */
		if (st->established && !st->failed)
			(void)SSL_shutdown(st->ssl);
		SSL_free(st->ssl);
		st->ssl = NULL;
	}
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	ERR_clear_error();
}

static const char *errno_why(int e)
{
	if (e == ECONNRESET || e == EPIPE)
		return "reset";
	return strerror(e);
}

/* 0: retry later, -1: the stream is over (*why says why). */
static int tls_err(struct relay_stream *st, int r, const char **why)
{
	int e = errno;
	static char buf[200];

	switch (SSL_get_error(st->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		st->want_write = false;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		st->want_write = true;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		*why = "eof";
		return -1;
	case SSL_ERROR_SYSCALL:
		st->failed = true;
		*why = e ? errno_why(e) : "eof";
		ERR_clear_error();
		return -1;
	default:
		st->failed = true;
		snprintf(buf, sizeof(buf), "tls: %s", ssl_reason());
		*why = buf;
		return -1;
	}
}

static ssize_t tls_read(struct relay_stream *st, uint8_t *buf, size_t len, const char **why)
{
	size_t n = 0;
	int r;

	if (!st->established) {
		r = SSL_do_handshake(st->ssl);
		if (r != 1)
			return tls_err(st, r, why);
		st->established = true;
		st->want_write = false;
	}
	r = SSL_read_ex(st->ssl, buf, len, &n);
	if (r != 1)
		return tls_err(st, r, why);
	st->want_write = false;
	return (ssize_t)n;
}

ssize_t relay_stream_read(struct relay_stream *st, uint8_t *buf, size_t len, const char **why)
{
	ssize_t n;

	if (st->ssl)
		return tls_read(st, buf, len, why);
	do
		n = recv(st->fd, buf, len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return n;
	if (n == 0) {
		*why = "eof";
		return -1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	*why = errno_why(errno);
	return -1;
}

ssize_t relay_stream_write(struct relay_stream *st, const uint8_t *buf, size_t len,
			   const char **why)
{
	ssize_t n;

	if (st->ssl) {
		size_t done = 0;
		int r;

		if (!st->established)
			return 0;	/* the handshake runs from the read side */
		r = SSL_write_ex(st->ssl, buf, len, &done);
		if (r != 1)
			return tls_err(st, r, why);
		st->want_write = false;
		return (ssize_t)done;
	}
	do
		n = send(st->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	*why = errno_why(errno);
	return -1;
}

const char *relay_stream_info(const struct relay_stream *st, char *buf, size_t len)
{
	if (!st->ssl) {
		snprintf(buf, len, "%s", "");
		return buf;
	}
	snprintf(buf, len, " (%s %s%s)", SSL_get_version(st->ssl),
		 SSL_get_cipher_name(st->ssl), SSL_session_reused(st->ssl) ? ", resumed" : "");
	return buf;
}
