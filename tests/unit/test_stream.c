/*
 * Stream transport on loopback, no root: in-test servers (framed echo over
 * TCP or TLS, scripted misbehaviour, a small HTTP CONNECT proxy) run in a
 * thread with blocking sockets; the client side is driven the way the
 * agent drives it: an epoll loop, non-blocking, deadlines instead of
 * sleeps.
 *
 * With IKEAGENT_TEST_PROXY=host:port[:user:pass] and
 * IKEAGENT_TEST_PROXY_PORTS=tcp_port,tls_port (ports the proxy allows, for
 * the in-test echo servers) the "external proxy" cases run through a real
 * proxy (tests/net/test_stream_proxy.sh starts tinyproxy for them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check_main.h"
#include "transport/stream.h"
#include "transport/stream_int.h"	/* strm_now_us, strm_queued: the bulk limit cases */
#include "transport/tcpframe.h"

#define WAIT_MS		10000	/* generous deadline: loaded CI machines */
#define MAX_BODY	(TCPFRAME_MAX_LEN - TCPFRAME_HDR_LEN)
#define BATCH		32
#define MAX_CONN	4

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- frames the tests send: deterministic, sizes 5..max ------------------ */

static size_t gen_len(unsigned i, size_t maxb)
{
	if (i % 50 == 0)
		return maxb;
	if (i % 50 == 1)
		return TCPFRAME_MIN_BODY;
	return TCPFRAME_MIN_BODY + (i * 2654435761u) % (maxb - TCPFRAME_MIN_BODY + 1);
}

static void gen_fill(unsigned i, uint8_t *p, size_t len)
{
	for (size_t j = 0; j < len; j++)
		p[j] = (uint8_t)(i * 131 + j * 7 + (j >> 8));
}

static bool gen_check(unsigned i, size_t maxb, const uint8_t *p, size_t len)
{
	if (len != gen_len(i, maxb))
		return false;
	for (size_t j = 0; j < len; j++)
		if (p[j] != (uint8_t)(i * 131 + j * 7 + (j >> 8)))
			return false;
	return true;
}

/* Client side traffic: what was queued, what came back intact. */
struct traffic {
	size_t maxb;
	unsigned total, sent, got;
	bool bad;
	bool any;		/* count whatever arrives, check nothing */
	size_t bytes;		/* framed bytes queued, for the server's count */
};

static uint8_t pool[BATCH][MAX_BODY];

/* Queue as many of the remaining frames as fit, a batch at a time. */
static void feed(struct stream *s, struct traffic *t)
{
	while (t->sent < t->total) {
		struct iovec iov[BATCH];
		unsigned n = 0;
		int q;

		while (n < BATCH && t->sent + n < t->total) {
			iov[n].iov_len = gen_len(t->sent + n, t->maxb);
			iov[n].iov_base = pool[n];
			gen_fill(t->sent + n, pool[n], iov[n].iov_len);
			n++;
		}
		q = stream_send_batch(s, iov, n);
		ck_assert_int_ge(q, 0);
		for (int k = 0; k < q; k++)
			t->bytes += TCPFRAME_HDR_LEN + iov[k].iov_len;
		t->sent += (unsigned)q;
		if ((unsigned)q < n) {
			ck_assert_int_eq(errno, EAGAIN);
			return;
		}
	}
}

/* ---- the client loop: epoll, re-registered whenever fd/events change ---- */

struct tloop {
	int ep, fd;
	uint32_t ev;
};

static void tl_init(struct tloop *l)
{
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_ge(l->ep, 0);
	l->fd = -1;
	l->ev = 0;
}

static void tl_sync(struct tloop *l, const struct stream *s)
{
	struct epoll_event e = { .events = stream_events(s), .data.fd = stream_fd(s) };

	if (e.data.fd != l->fd && l->fd >= 0)
		(void)epoll_ctl(l->ep, EPOLL_CTL_DEL, l->fd, NULL);
	if (e.data.fd >= 0 && (e.data.fd != l->fd || e.events != l->ev) &&
	    epoll_ctl(l->ep, EPOLL_CTL_MOD, e.data.fd, &e) < 0)
		ck_assert_int_eq(epoll_ctl(l->ep, EPOLL_CTL_ADD, e.data.fd, &e), 0);
	l->fd = e.data.fd;
	l->ev = e.events;
}

/* One loop turn: wait, handle, drain received frames into t (none taken
 * without t: frames echoed early wait for the turn that counts them). */
static enum stream_status step(struct tloop *l, struct stream *s, struct traffic *t)
{
	struct epoll_event e = { 0 };
	const uint8_t *body;
	size_t len;
	int n, r;

	tl_sync(l, s);
	n = epoll_wait(l->ep, &e, 1, 100);
	ck_assert_int_ge(n, 0);
	(void)stream_handle(s, n > 0 ? e.events : 0);
	while (t && (r = stream_recv(s, &body, &len)) > 0) {
		if (!t->any && !gen_check(t->got, t->maxb, body, len))
			t->bad = true;
		t->got++;
	}
	if (t && stream_status(s) == STREAM_UP)
		feed(s, t);
	return stream_status(s);
}

static enum stream_status run_until_up_or_closed(struct tloop *l, struct stream *s)
{
	long long end = now_ms() + WAIT_MS;
	enum stream_status st = stream_status(s);

	while (st == STREAM_CONNECTING && now_ms() < end)
		st = step(l, s, NULL);
	return st;
}

static enum stream_status run_until_closed(struct tloop *l, struct stream *s, struct traffic *t)
{
	long long end = now_ms() + WAIT_MS;
	enum stream_status st = stream_status(s);

	while (st != STREAM_CLOSED && now_ms() < end)
		st = step(l, s, t);
	return st;
}

/* Send t->total frames and wait for all of them to come back. */
static void echo_all(struct tloop *l, struct stream *s, struct traffic *t)
{
	long long end = now_ms() + WAIT_MS;

	feed(s, t);
	while (t->got < t->total && !t->bad && now_ms() < end)
		ck_assert_int_ne(step(l, s, t), STREAM_CLOSED);
	ck_assert_msg(!t->bad, "frame %u came back different", t->got);
	ck_assert_uint_eq(t->got, t->total);
}

static struct stream_cfg cfg_loopback(enum stream_kind kind, uint16_t port)
{
	struct stream_cfg c = { .kind = kind, .peerlen = sizeof(struct sockaddr_in) };
	struct sockaddr_in *a = (struct sockaddr_in *)&c.peer;

	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return c;
}

/* ---- in-test servers (blocking, one thread) ------------------------------ */

enum srv_mode { SRV_ECHO, SRV_WAIT_ECHO, SRV_CLOSE_MIDFRAME, SRV_GARBAGE };

struct conn_log {
	bool prefix_ok, reused;
	size_t bytes;		/* stream bytes read, prefix included */
	unsigned frames;
	char sni[64];
};

struct srv {
	int lfd;
	uint16_t port;
	enum srv_mode mode;
	SSL_CTX *tls;
	int nconn;
	int go[2];
	pthread_t th;
	struct conn_log c[MAX_CONN];
};

struct sconn {
	int fd;
	SSL *ssl;
};

static int s_read(struct sconn *c, uint8_t *p, size_t n)
{
	while (n > 0) {
		int r = c->ssl ? SSL_read(c->ssl, p, (int)n) : (int)recv(c->fd, p, n, 0);

		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int s_write(struct sconn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		int r = c->ssl ? SSL_write(c->ssl, p, (int)n) : (int)send(c->fd, p, n, MSG_NOSIGNAL);

		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void s_echo(struct sconn *c, struct conn_log *log)
{
	static uint8_t buf[TCPFRAME_MAX_LEN];

	for (;;) {
		size_t len;

		if (s_read(c, buf, TCPFRAME_HDR_LEN) < 0)
			return;
		len = get_be16(buf);
		if (len < TCPFRAME_HDR_LEN || s_read(c, buf + 2, len - 2) < 0 || s_write(c, buf, len) < 0)
			return;
		log->bytes += len;
		log->frames++;
	}
}

static void s_misbehave(struct sconn *c, enum srv_mode mode)
{
	static const uint8_t good_then_cut[] = {
		0x00, 0x03, 0xff,				/* NAT keepalive: dropped */
		0x00, 0x06, 0, 0, 0, 0,				/* 4-byte runt: dropped */
		0x00, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,	/* one 10-byte body */
		0x00, 0x64, 1, 2, 3, 4, 5, 6, 7, 8		/* 98 announced, 8 sent */
	};
	static const uint8_t garbage[] = { 0x00, 0x01, 'x', 'y', 'z' };	/* Length 1 */
	uint8_t b;

	if (mode == SRV_CLOSE_MIDFRAME) {
		(void)s_write(c, good_then_cut, sizeof(good_then_cut));
		return;
	}
	(void)s_write(c, garbage, sizeof(garbage));
	while (s_read(c, &b, 1) == 0)
		;	/* until the client gives up on us */
}

static void s_serve(struct srv *sv, int fd, struct conn_log *log)
{
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
	struct sconn c = { .fd = fd };
	uint8_t pre[TCPFRAME_PREFIX_LEN];
	char b;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (sv->tls) {
		const char *sni;

		c.ssl = SSL_new(sv->tls);
		SSL_set_fd(c.ssl, fd);
		if (SSL_accept(c.ssl) != 1)
			goto out;
		log->reused = SSL_session_reused(c.ssl);
		sni = SSL_get_servername(c.ssl, TLSEXT_NAMETYPE_host_name);
		snprintf(log->sni, sizeof(log->sni), "%s", sni ? sni : "");
	}
	if (sv->mode == SRV_WAIT_ECHO && read(sv->go[0], &b, 1) != 1)
		goto out;
	if (s_read(&c, pre, sizeof(pre)) < 0)
		goto out;
	log->prefix_ok = memcmp(pre, TCPFRAME_PREFIX, TCPFRAME_PREFIX_LEN) == 0;
	log->bytes = sizeof(pre);
	if (sv->mode == SRV_ECHO || sv->mode == SRV_WAIT_ECHO)
		s_echo(&c, log);
	else
		s_misbehave(&c, sv->mode);
out:
	if (c.ssl) {
		(void)SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	close(fd);
}

static int accept_wait(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	if (poll(&p, 1, WAIT_MS) != 1 || (p.revents & POLLIN) == 0)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static void *srv_main(void *arg)
{
	struct srv *sv = arg;

	for (int i = 0; i < sv->nconn; i++) {
		int fd = accept_wait(sv->lfd);

		if (fd < 0)
			break;
		s_serve(sv, fd, &sv->c[i]);
	}
	return NULL;
}

static int listen_on(uint16_t port, int rcvbuf, uint16_t *bound)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int on = 1;

	ck_assert_int_ge(fd, 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (rcvbuf)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*bound = ntohs(a.sin_port);
	return fd;
}

static void srv_start(struct srv *sv, enum srv_mode mode, SSL_CTX *tls, int nconn, uint16_t port,
		      int rcvbuf)
{
	memset(sv, 0, sizeof(*sv));
	sv->mode = mode;
	sv->tls = tls;
	sv->nconn = nconn;
	ck_assert_int_eq(pipe(sv->go), 0);
	sv->lfd = listen_on(port, rcvbuf, &sv->port);
	ck_assert_int_eq(pthread_create(&sv->th, NULL, srv_main, sv), 0);
}

static void srv_join(struct srv *sv)
{
	ck_assert_int_eq(pthread_join(sv->th, NULL), 0);
	close(sv->lfd);
	close(sv->go[0]);
	close(sv->go[1]);
}

/* A port nobody listens on. */
static uint16_t closed_port(void)
{
	uint16_t port;
	int fd = listen_on(0, 0, &port);

	close(fd);
	return port;
}

/* ---- certificates made on the fly --------------------------------------- */

struct cert {
	EVP_PKEY *key;
	X509 *crt;
	char path[64];		/* PEM of crt, to use as a CA file */
};

static void cert_make(struct cert *c, const char *cn, const char *san)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	X509_NAME *name;
	FILE *f;
	int fd;

	c->key = EVP_EC_gen("P-256");
	c->crt = X509_new();
	ck_assert_ptr_nonnull(c->key);
	ck_assert_ptr_nonnull(c->crt);
	X509_set_version(c->crt, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c->crt), (long)(now_ms() & 0xffffff));
	X509_gmtime_adj(X509_getm_notBefore(c->crt), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c->crt), 86400);
	X509_set_pubkey(c->crt, c->key);
	name = X509_get_subject_name(c->crt);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c->crt, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, c->crt, c->crt, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(c->crt, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(c->crt, c->key, EVP_sha256()), 0);
	snprintf(c->path, sizeof(c->path), "/tmp/test_stream_ca.XXXXXX");
	fd = mkstemp(c->path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, c->crt), 1);
	fclose(f);
}

static void cert_free(struct cert *c)
{
	unlink(c->path);
	X509_free(c->crt);
	EVP_PKEY_free(c->key);
}

static SSL_CTX *server_ctx(const struct cert *c)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_use_certificate(ctx, c->crt), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, c->key), 1);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"t", 1);
	return ctx;
}

/* ---- a small HTTP CONNECT proxy ----------------------------------------- */

struct mproxy {
	int lfd;
	uint16_t port;
	const char *auth;	/* Proxy-Authorization value wanted; NULL: none */
	bool auth_prefix;	/* auth need only start the value (Digest) */
	const char *offer;	/* Proxy-Authenticate value(s) in a 407; NULL: Basic */
	bool deny;		/* answer 403 */
	unsigned requests;
	unsigned basic_seen;	/* requests with "Proxy-Authorization: Basic" */
	char line[128];		/* the last request line */
	pthread_t th;
};

static int p_head(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		if (recv(fd, buf + n, 1, 0) != 1)
			return -1;
		buf[++n] = '\0';
		if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0)
			return 0;
	}
	return -1;
}

static bool p_authorized(const struct mproxy *mp, const char *head)
{
	char want[256];

	if (!mp->auth)
		return true;
	snprintf(want, sizeof(want), "\r\nProxy-Authorization: %s%s", mp->auth,
		 mp->auth_prefix ? "" : "\r\n");
	return strstr(head, want) != NULL;
}

static void p_send(int fd, const char *s)
{
	(void)send(fd, s, strlen(s), MSG_NOSIGNAL);
}

/* "CONNECT 127.0.0.1:port HTTP/1.1": connect there, blocking. */
static int p_target(const char *head)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char host[64];
	unsigned port;
	int fd;

	if (sscanf(head, "CONNECT %63[0-9.]:%u HTTP/1.1", host, &port) != 2 ||
	    inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	a.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void p_relay(int a, int b)
{
	static uint8_t buf[65536];
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };

	while (poll(p, 2, WAIT_MS) > 0) {
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (!p[i].revents)
				continue;
			n = recv(p[i].fd, buf, sizeof(buf), 0);
			if (n <= 0)
				return;
			for (ssize_t off = 0, w; off < n; off += w) {
				w = send(p[1 - i].fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
				if (w <= 0)
					return;
			}
		}
	}
}

static void p_conn(struct mproxy *mp, int fd)
{
	char head[4096];
	int t;

	for (;;) {
		if (p_head(fd, head, sizeof(head)) < 0)
			return;
		mp->requests++;
		if (strstr(head, "\r\nProxy-Authorization: Basic "))
			mp->basic_seen++;
		snprintf(mp->line, sizeof(mp->line), "%.*s", (int)strcspn(head, "\r"), head);
		if (mp->deny) {
			p_send(fd, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
			return;
		}
		if (p_authorized(mp, head))
			break;
		p_send(fd, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: ");
		p_send(fd, mp->offer ? mp->offer : "Basic realm=\"t\"");
		p_send(fd, "\r\nContent-Length: 0\r\n\r\n");
	}
	t = p_target(head);
	if (t < 0) {
		p_send(fd, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
		return;
	}
	p_send(fd, "HTTP/1.1 200 Connection established\r\n\r\n");
	p_relay(fd, t);
	close(t);
}

static void *mp_main(void *arg)
{
	struct mproxy *mp = arg;
	int fd;

	while ((fd = accept4(mp->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		p_conn(mp, fd);
		close(fd);
	}
	return NULL;
}

static void mp_start(struct mproxy *mp, const char *auth, bool deny)
{
	memset(mp, 0, sizeof(*mp));
	mp->auth = auth;
	mp->deny = deny;
	mp->lfd = listen_on(0, 0, &mp->port);
	ck_assert_int_eq(pthread_create(&mp->th, NULL, mp_main, mp), 0);
}

static void mp_stop(struct mproxy *mp)
{
	(void)shutdown(mp->lfd, SHUT_RDWR);	/* wakes accept() */
	ck_assert_int_eq(pthread_join(mp->th, NULL), 0);
	close(mp->lfd);
}

/* stderr into memory for a while, to check what was logged. */
struct capture {
	int saved, mfd;
};

static void cap_start(struct capture *c)
{
	fflush(stderr);
	c->saved = dup(2);
	c->mfd = memfd_create("log", 0);
	ck_assert_int_ge(c->mfd, 0);
	ck_assert_int_eq(dup2(c->mfd, 2), 2);
}

static char *cap_end(struct capture *c)
{
	off_t size;
	char *buf;

	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	size = lseek(c->mfd, 0, SEEK_END);
	buf = calloc(1, (size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(c->mfd, buf, (size_t)size, 0), size);
	close(c->mfd);
	fputs(buf, stderr);	/* still show it */
	return buf;
}

/* ---- plain TCP ---------------------------------------------------------- */

START_TEST(send_rules)
{
	struct stream_cfg c = cfg_loopback(STREAM_TCP, 9);
	static uint8_t body[1000];
	struct iovec iov = { .iov_base = body, .iov_len = 998 };
	struct stream *s;
	unsigned bulk = 0, ctl = 0;

	c.max_frame = 1000;
	s = stream_new(&c);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(stream_status(s), STREAM_CONNECTING);
	ck_assert_int_eq(stream_send(s, body, 4, STREAM_CTL), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(stream_send(s, body, 999, STREAM_CTL), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	/* queued before connecting: bulk up to its limit, then the reserve */
	while (stream_send(s, body, 998, STREAM_BULK) == 0)
		bulk++;
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(bulk, STREAM_BULK_MAX / 1000 + 1);	/* the one that passes it */
	ck_assert_int_eq(stream_send_batch(s, &iov, 1), 0);
	ck_assert_int_eq(errno, EAGAIN);
	while (stream_send(s, body, 998, STREAM_CTL) == 0)
		ctl++;
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_ge(ctl * 1000, STREAM_CTL_RESERVE - 1000);
	stream_close(s);
	ck_assert_int_eq(stream_status(s), STREAM_CLOSED);
	ck_assert_int_eq(stream_send(s, body, 998, STREAM_CTL), -1);
	ck_assert_int_eq(errno, ENOTCONN);
	ck_assert_int_eq(stream_send_batch(s, &iov, 1), -1);
	stream_free(s);

	c.max_frame = 3;
	ck_assert_ptr_null(stream_new(&c));
	c.max_frame = 0;
	c.proxy_host = "127.0.0.1";
	ck_assert_ptr_null(stream_new(&c));	/* no proxy port */
}
END_TEST

START_TEST(tcp_echo)
{
	struct traffic t = { .maxb = MAX_BODY, .total = 400 };
	struct stream_cfg c;
	struct tloop l;
	struct srv sv;
	struct stream *s;

	srv_start(&sv, SRV_ECHO, NULL, 1, 0, 0);
	c = cfg_loopback(STREAM_TCP, sv.port);
	s = stream_new(&c);
	ck_assert_ptr_nonnull(s);
	/* frames queued before the connection exists wait behind the prefix */
	for (; t.sent < 10; t.sent++) {
		size_t len = gen_len(t.sent, t.maxb);

		gen_fill(t.sent, pool[0], len);
		ck_assert_int_eq(stream_send(s, pool[0], len, STREAM_CTL), 0);
		t.bytes += TCPFRAME_HDR_LEN + len;
	}
	tl_init(&l);
	ck_assert_int_eq(stream_connect(s), 0);
	ck_assert_int_eq(run_until_up_or_closed(&l, s), STREAM_UP);
	echo_all(&l, s, &t);
	stream_close(s);
	stream_free(s);
	srv_join(&sv);
	ck_assert(sv.c[0].prefix_ok);
	ck_assert_uint_eq(sv.c[0].frames, t.total);
	/* the prefix exactly once, then exactly our frames */
	ck_assert_uint_eq(sv.c[0].bytes, TCPFRAME_PREFIX_LEN + t.bytes);
	close(l.ep);
}
END_TEST

/* The server reads nothing until told: writes fall short, then the bulk
 * part fills; IKE still fits; then everything must come back intact. */
static void short_writes(SSL_CTX *tls, const char *ca_file)
{
	struct traffic t = { .maxb = 1400, .total = 1500 };
	struct stream_cfg c;
	struct tloop l;
	struct srv sv;
	struct stream *s;
	int small = 4096;
	size_t len;

	srv_start(&sv, SRV_WAIT_ECHO, tls, 1, 0, small);
	c = cfg_loopback(tls ? STREAM_TLS : STREAM_TCP, sv.port);
	c.max_frame = t.maxb + TCPFRAME_HDR_LEN;
	c.verify = tls != NULL;
	c.ca_file = ca_file;
	s = stream_new(&c);
	ck_assert_ptr_nonnull(s);
	tl_init(&l);
	ck_assert_int_eq(stream_connect(s), 0);
	ck_assert_int_eq(run_until_up_or_closed(&l, s), STREAM_UP);
	ck_assert_int_eq(setsockopt(stream_fd(s), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	feed(s, &t);
	ck_assert_uint_lt(t.sent, t.total);
	ck_assert(stream_events(s) & EPOLLOUT);
	len = gen_len(t.sent, t.maxb);
	gen_fill(t.sent, pool[0], len);
	ck_assert_int_eq(stream_send(s, pool[0], len, STREAM_CTL), 0);
	t.bytes += TCPFRAME_HDR_LEN + len;
	t.sent++;
	ck_assert_int_eq(write(sv.go[1], "g", 1), 1);
	echo_all(&l, s, &t);
	stream_free(s);
	srv_join(&sv);
	ck_assert(sv.c[0].prefix_ok);
	ck_assert_uint_eq(sv.c[0].bytes, TCPFRAME_PREFIX_LEN + t.bytes);
	close(l.ep);
}

START_TEST(tcp_short_writes)
{
	short_writes(NULL, NULL);
}
END_TEST

/* Connect to a misbehaving server and run until the stream closes. */
static struct stream *run_bad_server(enum srv_mode mode, SSL_CTX *tls, struct traffic *t)
{
	struct stream_cfg c;
	struct tloop l;
	struct srv sv;
	struct stream *s;

	srv_start(&sv, mode, tls, 1, 0, 0);
	c = cfg_loopback(tls ? STREAM_TLS : STREAM_TCP, sv.port);
	s = stream_new(&c);
	ck_assert_ptr_nonnull(s);
	tl_init(&l);
	ck_assert_int_eq(stream_connect(s), 0);
	ck_assert_int_eq(run_until_closed(&l, s, t), STREAM_CLOSED);
	srv_join(&sv);
	close(l.ep);
	return s;
}

START_TEST(tcp_peer_closes_midframe)
{
	struct traffic t = { .any = true };
	struct stream *s = run_bad_server(SRV_CLOSE_MIDFRAME, NULL, &t);

	ck_assert_uint_eq(t.got, 1);	/* the whole frame only: no keepalive, runt, cut one */
	ck_assert_ptr_nonnull(strstr(stream_error(s), "partial frame discarded"));
	stream_free(s);
}
END_TEST

START_TEST(tcp_garbage)
{
	struct traffic t = { .any = true };
	struct stream *s = run_bad_server(SRV_GARBAGE, NULL, &t);

	ck_assert_uint_eq(t.got, 0);
	ck_assert_ptr_nonnull(strstr(stream_error(s), "framing error"));
	stream_free(s);
}
END_TEST

START_TEST(tcp_refused)
{
	struct stream_cfg c = cfg_loopback(STREAM_TCP, closed_port());
	struct stream *s = stream_new(&c);
	struct tloop l;

	ck_assert_ptr_nonnull(s);
	tl_init(&l);
	if (stream_connect(s) == 0)
		ck_assert_int_eq(run_until_closed(&l, s, NULL), STREAM_CLOSED);
	ck_assert_int_eq(stream_status(s), STREAM_CLOSED);
	ck_assert_ptr_nonnull(strstr(stream_error(s), "connection refused"));
	ck_assert_int_eq(stream_fd(s), -1);
	stream_free(s);
	close(l.ep);
}
END_TEST

/* ---- the connection's settings and the bulk limit ------------------------ */

/* A line of a /proc file, "" if unreadable. */
static void proc_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f && fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

static void sock_cc(int fd, char *name, size_t len)
{
	socklen_t l = (socklen_t)len - 1;

	memset(name, 0, len);
	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &l), 0);
}

/* Connect to a listening socket on loopback; the accepted end, non-blocking. */
static struct stream *connect_raw(struct stream_cfg *c, struct tloop *l, int lfd, int *afd)
{
	struct stream *s = stream_new(c);

	ck_assert_ptr_nonnull(s);
	tl_init(l);
	ck_assert_int_eq(stream_connect(s), 0);
	ck_assert_int_eq(run_until_up_or_closed(l, s), STREAM_UP);
	*afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	ck_assert_int_ge(*afd, 0);
	return s;
}

/* The congestion control asked for, the unsent backlog held low, no Nagle. */
START_TEST(tcp_socket_settings)
{
	static const char *const names[] = { "cubic", "bbr", "reno" };
	char avail[256], got[32];
	uint16_t port;
	int lfd = listen_on(0, 0, &port);

	proc_line("/proc/sys/net/ipv4/tcp_available_congestion_control", avail, sizeof(avail));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct stream_cfg c = cfg_loopback(STREAM_TCP, port);
		int v = 0, afd;
		socklen_t vl = sizeof(v);
		struct tloop l;
		struct stream *s;

		c.congestion = names[i];
		s = connect_raw(&c, &l, lfd, &afd);
		sock_cc(stream_fd(s), got, sizeof(got));
		/* cubic is always there; bbr and reno when listed (or loaded on demand) */
		if (i == 0 || strstr(avail, names[i]) || strcmp(got, names[i]) == 0)
			ck_assert_str_eq(got, names[i]);
		ck_assert_int_eq(getsockopt(stream_fd(s), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &vl), 0);
		ck_assert_int_eq(v, STREAM_NOTSENT_LOWAT);
		ck_assert_int_eq(getsockopt(stream_fd(s), IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
		ck_assert_int_ne(v, 0);
		stream_free(s);
		close(afd);
		close(l.ep);
	}
	close(lfd);
}
END_TEST

/* An unknown congestion control: one info line, the kernel's default, and
 * the stream works; the same name again is not logged at info again. */
START_TEST(tcp_congestion_fallback)
{
	struct traffic t = { .maxb = 1000, .total = 20 };
	char dflt[32], got[32], *log;
	struct capture cap;
	struct stream_cfg c;
	struct tloop l;
	struct srv sv;
	struct stream *s;

	proc_line("/proc/sys/net/ipv4/tcp_congestion_control", dflt, sizeof(dflt));
	srv_start(&sv, SRV_ECHO, NULL, 2, 0, 0);
	c = cfg_loopback(STREAM_TCP, sv.port);
	c.congestion = "nosuchcc";
	for (int round = 0; round < 2; round++) {
		cap_start(&cap);
		s = stream_new(&c);
		ck_assert_ptr_nonnull(s);
		tl_init(&l);
		ck_assert_int_eq(stream_connect(s), 0);
		ck_assert_int_eq(run_until_up_or_closed(&l, s), STREAM_UP);
		log = cap_end(&cap);
		sock_cc(stream_fd(s), got, sizeof(got));
		if (dflt[0])
			ck_assert_str_eq(got, dflt);
		if (round == 0) {
			char want[128];

			snprintf(want, sizeof(want), "tcp: congestion control nosuchcc unavailable "
				 "(no such file or directory), using %s", got);
			ck_assert_msg(strstr(log, want), "no '%s' in: %s", want, log);
		} else {
			ck_assert_ptr_null(strstr(log, "I tcp: congestion control"));
		}
		free(log);
		t.sent = t.got = 0;
		echo_all(&l, s, &t);
		stream_free(s);
		close(l.ep);
	}
	srv_join(&sv);
	/* too long for the kernel: refused at once */
	c.congestion = "abcdefghijklmnop";
	ck_assert_ptr_null(stream_new(&c));
}
END_TEST

/* The test's clock for the drain rate (stream_int.h: strm_now_us). */
static uint64_t fake_us = 1000000;

static uint64_t fake_now(void)
{
	return fake_us;
}

/* Queue 1400-byte bulk frames until one is refused. */
static void bulk_fill(struct stream *s)
{
	size_t before = strm_queued(s), lim;
	struct iovec iov[BATCH];
	int q;

	for (unsigned i = 0; i < BATCH; i++)
		iov[i] = (struct iovec){ .iov_base = pool[i], .iov_len = 1400 };
	do {
		q = stream_send_batch(s, iov, BATCH);
		ck_assert_int_ge(q, 0);
	} while (q == BATCH);
	ck_assert_int_eq(errno, EAGAIN);
	/* refused at the limit, not before; past it by one frame at most,
	 * or by what was queued before the limit shrank */
	lim = TCPFRAME_PREFIX_LEN + stream_bulk_limit(s);
	ck_assert_uint_ge(strm_queued(s), lim);
	ck_assert_uint_lt(strm_queued(s), (before > lim ? before : lim) + TCPFRAME_HDR_LEN + 1400);
}

/* The reader takes up to max bytes, then dt_us pass, then the socket is
 * writable again and the queue refills to the limit. */
static void drain_step(struct stream *s, int afd, size_t max, uint64_t dt_us)
{
	static uint8_t buf[65536];
	size_t got = 0;
	ssize_t n;

	while (got < max && (n = recv(afd, buf, max - got < sizeof(buf) ? max - got : sizeof(buf),
				      MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	fake_us += dt_us;
	ck_assert_int_eq(stream_handle(s, EPOLLOUT), STREAM_UP);
	bulk_fill(s);
}

/*
 * The bulk limit follows the drain rate, on the test's clock: it starts at
 * the ceiling; a reader taking 4 KB per 10 ms brings it down to the floor
 * (and the pages past the window are given back); with the reader stopped
 * bulk frames are refused at the limit while IKE frames still fit; a reader
 * taking everything every 0.1 ms brings it back up.
 */
START_TEST(bulk_limit_follows_drain)
{
	struct stream_cfg c;
	struct stream *s;
	struct tloop l;
	uint16_t port;
	int lfd = listen_on(0, 4096, &port), afd;
	uint64_t (*real_now)(void) = strm_now_us;

	strm_now_us = fake_now;
	c = cfg_loopback(STREAM_TCP, port);
	s = connect_raw(&c, &l, lfd, &afd);
	ck_assert_uint_eq(stream_bulk_limit(s), STREAM_BULK_MAX);
	ck_assert_uint_eq(stream_drain_rate(s), 0);
	bulk_fill(s);			/* nobody reads: a backlog from here */
	ck_assert_uint_ge(s->touched, STREAM_BULK_MAX);

	for (int i = 0; i < 100; i++)	/* 1 s at 400 KB/s */
		drain_step(s, afd, 4096, 10000);
	ck_assert_uint_lt(stream_drain_rate(s), 1000 * 1000);
	ck_assert_uint_eq(stream_bulk_limit(s), STREAM_BULK_MIN);
	ck_assert_uint_le(s->touched, TCPFRAME_PREFIX_LEN + STREAM_BULK_MIN + STREAM_CTL_RESERVE +
			  64 * 1024 + 4096);

	for (int i = 0; i < 5; i++)	/* the reader stops */
		drain_step(s, afd, 0, 10000);
	ck_assert_uint_eq(stream_bulk_limit(s), STREAM_BULK_MIN);
	gen_fill(0, pool[0], MAX_BODY);
	ck_assert_int_eq(stream_send(s, pool[0], 1400, STREAM_BULK), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(stream_send(s, pool[0], MAX_BODY, STREAM_CTL), 0);
	ck_assert_int_eq(stream_send(s, pool[0], MAX_BODY, STREAM_CTL), 0);

	for (int i = 0; i < 2000; i++)	/* 0.2 s, everything read every 0.1 ms */
		drain_step(s, afd, SIZE_MAX, 100);
	ck_assert_uint_gt(stream_drain_rate(s), 50 * 1000 * 1000);
	ck_assert_uint_eq(stream_bulk_limit(s), STREAM_BULK_MAX);

	strm_now_us = real_now;
	stream_free(s);
	close(afd);
	close(lfd);
	close(l.ep);
}
END_TEST

/* ---- TLS ---------------------------------------------------------------- */

struct tls_case {
	const char *sni;
	bool verify;
	bool wrong_ca;
	struct stream_tls_cache *cache;
	unsigned frames;
	struct mproxy *via;		/* through this proxy */
};

/* One TLS echo connection; returns the stream (closed or up) for checks. */
static struct stream *tls_run(const struct tls_case *tc, struct srv *sv, struct cert *ca)
{
	struct traffic t = { .maxb = MAX_BODY, .total = tc->frames };
	struct cert other;
	struct stream_cfg c = cfg_loopback(STREAM_TLS, sv->port);
	struct tloop l;
	struct stream *s;

	if (tc->wrong_ca)
		cert_make(&other, "other", "DNS:gw.test");
	c.sni = tc->sni;
	c.verify = tc->verify;
	c.ca_file = tc->wrong_ca ? other.path : ca->path;
	c.tls_cache = tc->cache;
	if (tc->via) {
		c.proxy_host = "localhost";	/* a name: curl's resolver thread */
		c.proxy_port = tc->via->port;
		/* no peer_host: CONNECT goes to the address, not to the SNI */
	}
	s = stream_new(&c);
	ck_assert_ptr_nonnull(s);
	tl_init(&l);
	ck_assert_int_eq(stream_connect(s), 0);
	if (run_until_up_or_closed(&l, s) == STREAM_UP) {
		echo_all(&l, s, &t);
		stream_close(s);
		ck_assert_str_eq(stream_error(s), "closed locally");
	}
	if (tc->wrong_ca)
		cert_free(&other);
	close(l.ep);
	return s;
}

static void tls_setup(struct cert *ca, SSL_CTX **ctx)
{
	cert_make(ca, "gw.test", "DNS:gw.test,IP:127.0.0.1");
	*ctx = server_ctx(ca);
}

START_TEST(tls_verify_ok)
{
	struct tls_case tc = { .sni = "gw.test", .verify = true, .frames = 300 };
	struct cert ca;
	SSL_CTX *ctx;
	struct srv sv;
	struct stream *s;

	tls_setup(&ca, &ctx);
	srv_start(&sv, SRV_ECHO, ctx, 1, 0, 0);
	s = tls_run(&tc, &sv, &ca);
	srv_join(&sv);
	ck_assert_int_eq(stream_status(s), STREAM_CLOSED);
	ck_assert_uint_eq(sv.c[0].frames, tc.frames);
	ck_assert(sv.c[0].prefix_ok);		/* first bytes inside TLS */
	ck_assert_str_eq(sv.c[0].sni, "gw.test");
	stream_free(s);
	SSL_CTX_free(ctx);
	cert_free(&ca);
}
END_TEST

START_TEST(tls_verify_ip_no_sni)
{
	struct tls_case tc = { .verify = true, .frames = 20 };
	struct cert ca;
	SSL_CTX *ctx;
	struct srv sv;
	struct stream *s;

	tls_setup(&ca, &ctx);
	srv_start(&sv, SRV_ECHO, ctx, 1, 0, 0);
	s = tls_run(&tc, &sv, &ca);	/* name: 127.0.0.1, checked as an IP */
	srv_join(&sv);
	ck_assert_uint_eq(sv.c[0].frames, tc.frames);
	ck_assert_str_eq(sv.c[0].sni, "");	/* never SNI for a literal */
	stream_free(s);
	SSL_CTX_free(ctx);
	cert_free(&ca);
}
END_TEST

static void tls_expect_failure(const struct tls_case *tc, const char *want)
{
	struct cert ca;
	SSL_CTX *ctx;
	struct srv sv;
	struct stream *s;

	tls_setup(&ca, &ctx);
	srv_start(&sv, SRV_ECHO, ctx, 1, 0, 0);
	s = tls_run(tc, &sv, &ca);
	srv_join(&sv);
	ck_assert_int_eq(stream_status(s), STREAM_CLOSED);
	ck_assert_msg(strstr(stream_error(s), want), "error \"%s\" lacks \"%s\"",
		      stream_error(s), want);
	ck_assert_uint_eq(sv.c[0].bytes, 0);	/* nothing got through */
	stream_free(s);
	SSL_CTX_free(ctx);
	cert_free(&ca);
}

START_TEST(tls_wrong_ca)
{
	struct tls_case tc = { .sni = "gw.test", .verify = true, .wrong_ca = true };

	tls_expect_failure(&tc, "certificate verification failed");
}
END_TEST

START_TEST(tls_wrong_name)
{
	struct tls_case tc = { .sni = "other.test", .verify = true };

	tls_expect_failure(&tc, "certificate verification failed for other.test");
}
END_TEST

START_TEST(tls_verify_off)
{
	struct tls_case tc = { .sni = "other.test", .verify = false, .wrong_ca = true, .frames = 50 };
	struct cert ca;
	SSL_CTX *ctx;
	struct srv sv;
	struct stream *s;

	tls_setup(&ca, &ctx);
	srv_start(&sv, SRV_ECHO, ctx, 1, 0, 0);
	s = tls_run(&tc, &sv, &ca);
	srv_join(&sv);
	ck_assert_uint_eq(sv.c[0].frames, tc.frames);
	stream_free(s);
	SSL_CTX_free(ctx);
	cert_free(&ca);
}
END_TEST

START_TEST(tls_resume)
{
	struct tls_case tc = { .sni = "gw.test", .verify = true, .frames = 20 };
	struct cert ca;
	SSL_CTX *ctx;
	struct srv sv;
	struct stream *s;

	tc.cache = stream_tls_cache_new();
	ck_assert_ptr_nonnull(tc.cache);
	tls_setup(&ca, &ctx);
	srv_start(&sv, SRV_ECHO, ctx, 2, 0, 0);
	s = tls_run(&tc, &sv, &ca);
	ck_assert(!stream_tls_resumed(s));
	stream_free(s);
	s = tls_run(&tc, &sv, &ca);
	ck_assert(stream_tls_resumed(s));		/* and client side */
	srv_join(&sv);
	ck_assert(!sv.c[0].reused);
	ck_assert(sv.c[1].reused);			/* SSL_session_reused, server side */
	ck_assert_uint_eq(sv.c[1].frames, tc.frames);
	ck_assert(sv.c[1].prefix_ok);			/* again on the new connection */
	stream_free(s);
	stream_tls_cache_free(tc.cache);
	SSL_CTX_free(ctx);
	cert_free(&ca);
}
END_TEST

START_TEST(tls_peer_closes_midframe)
{
	struct traffic t = { .any = true };
	struct cert ca;
	SSL_CTX *ctx;
	struct stream *s;

	tls_setup(&ca, &ctx);
	s = run_bad_server(SRV_CLOSE_MIDFRAME, ctx, &t);
	ck_assert_uint_eq(t.got, 1);
	ck_assert_ptr_nonnull(strstr(stream_error(s), "partial frame discarded"));
	stream_free(s);
	SSL_CTX_free(ctx);
	cert_free(&ca);
}
END_TEST

START_TEST(tls_short_writes)
{
	struct cert ca;
	SSL_CTX *ctx;

	tls_setup(&ca, &ctx);
	short_writes(ctx, ca.path);
	SSL_CTX_free(ctx);
	cert_free(&ca);
}
END_TEST

/* ---- through an HTTP CONNECT proxy -------------------------------------- */

struct proxy_case {
	const char *host;		/* the proxy */
	uint16_t port;
	const char *user, *pass;
	bool allow_basic;		/* stream_cfg.proxy_allow_basic */
	uint16_t target_port;
	unsigned frames;
};

/* TCP echo through the proxy; returns the stream for checks. */
static struct stream *proxy_run(const struct proxy_case *pc)
{
	struct traffic t = { .maxb = 1400, .total = pc->frames };
	struct stream_cfg c = cfg_loopback(STREAM_TCP, pc->target_port);
	struct tloop l;
	struct stream *s;

	c.proxy_host = pc->host;
	c.proxy_port = pc->port;
	c.proxy_user = pc->user;
	c.proxy_pass = pc->pass;
	c.proxy_allow_basic = pc->allow_basic;
	c.peer_host = "127.0.0.1";
	c.max_frame = t.maxb + TCPFRAME_HDR_LEN;
	s = stream_new(&c);
	ck_assert_ptr_nonnull(s);
	tl_init(&l);
	ck_assert_int_eq(stream_connect(s), 0);
	if (run_until_up_or_closed(&l, s) == STREAM_UP) {
		echo_all(&l, s, &t);
		stream_close(s);
	}
	close(l.ep);
	return s;
}

static void expect_refusal(struct stream *s, uint16_t port, int code)
{
	char want[128];

	snprintf(want, sizeof(want), "proxy refused CONNECT to 127.0.0.1:%u: HTTP %d", port, code);
	ck_assert_int_eq(stream_status(s), STREAM_CLOSED);
	ck_assert_str_eq(stream_error(s), want);
}

/* base64("alice:s3cret-pass") */
#define ALICE_B64 "YWxpY2U6czNjcmV0LXBhc3M="

/* pc through a mock proxy that wants Basic alice:s3cret-pass to an echo
 * server taking conns connections; what was logged meanwhile. */
static char *basic_proxy_run(struct proxy_case *pc, struct mproxy *mp, struct srv *sv,
			     unsigned conns, struct stream **s)
{
	struct capture cap;
	char *log;

	srv_start(sv, SRV_ECHO, NULL, conns, 0, 0);
	mp_start(mp, "Basic " ALICE_B64, false);
	pc->port = mp->port;
	pc->target_port = sv->port;
	cap_start(&cap);
	*s = proxy_run(pc);
	log = cap_end(&cap);
	srv_join(sv);
	mp_stop(mp);
	return log;
}

START_TEST(proxy_basic_auth)
{
	struct proxy_case pc = { .host = "127.0.0.1", .user = "alice", .pass = "s3cret-pass",
				 .allow_basic = true, .frames = 100 };
	struct mproxy mp;
	struct srv sv;
	struct stream *s;
	char want[64], *log;

	log = basic_proxy_run(&pc, &mp, &sv, 1, &s);
	stream_free(s);
	ck_assert_uint_eq(sv.c[0].frames, pc.frames);
	ck_assert(sv.c[0].prefix_ok);
	snprintf(want, sizeof(want), "CONNECT 127.0.0.1:%u HTTP/1.1", sv.port);
	ck_assert_str_eq(mp.line, want);
	ck_assert_ptr_nonnull(strstr(log, "proxy: CONNECT 127.0.0.1:"));
	ck_assert_ptr_null(strstr(log, "s3cret"));	/* never a secret in a log */
	ck_assert_ptr_null(strstr(log, ALICE_B64));
	free(log);
}
END_TEST

/* By default a proxy that offers only Basic gets no credentials at all:
 * the leg to it is plain HTTP. The error says which key allows it. */
START_TEST(proxy_basic_refused)
{
	struct proxy_case pc = { .host = "127.0.0.1", .user = "alice", .pass = "s3cret-pass" };
	struct mproxy mp;
	struct srv sv;
	struct stream *s;
	char want[256], *log;

	log = basic_proxy_run(&pc, &mp, &sv, 0, &s);
	ck_assert_int_eq(stream_status(s), STREAM_CLOSED);
	snprintf(want, sizeof(want), "proxy: 127.0.0.1:%u offers only Basic authentication, "
		 "which sends the password in the clear; set [transport] proxy_allow_basic = yes "
		 "to allow it", mp.port);
	ck_assert_str_eq(stream_error(s), want);
	ck_assert_uint_ge(mp.requests, 1);	/* it asked, and got the 407 */
	ck_assert_uint_eq(mp.basic_seen, 0);	/* never sent the password */
	ck_assert_ptr_null(strstr(log, "s3cret"));
	stream_free(s);
	free(log);
}
END_TEST

/* A proxy offering Digest and Basic gets Digest by default (the mock
 * checks the scheme and user, not the response). */
START_TEST(proxy_digest_default)
{
	struct proxy_case pc = { .host = "127.0.0.1", .user = "alice", .pass = "s3cret-pass",
				 .frames = 20 };
	struct mproxy mp;
	struct srv sv;
	struct stream *s;

	srv_start(&sv, SRV_ECHO, NULL, 1, 0, 0);
	mp_start(&mp, "Digest username=\"alice\", realm=\"t\"", false);
	mp.auth_prefix = true;
	mp.offer = "Digest realm=\"t\", nonce=\"bm9uY2U\", qop=\"auth\"\r\n"
		   "Proxy-Authenticate: Basic realm=\"t\"";
	pc.port = mp.port;
	pc.target_port = sv.port;
	s = proxy_run(&pc);
	ck_assert_str_eq(stream_error(s), "closed locally");
	stream_free(s);
	srv_join(&sv);
	mp_stop(&mp);
	ck_assert_uint_eq(sv.c[0].frames, pc.frames);
	ck_assert_uint_eq(mp.basic_seen, 0);
}
END_TEST

START_TEST(proxy_tls)
{
	struct tls_case tc = { .sni = "gw.test", .verify = true, .frames = 50 };
	struct mproxy mp;
	struct cert ca;
	SSL_CTX *ctx;
	struct srv sv;
	struct stream *s;

	tls_setup(&ca, &ctx);
	srv_start(&sv, SRV_ECHO, ctx, 1, 0, 0);
	mp_start(&mp, NULL, false);
	tc.via = &mp;
	s = tls_run(&tc, &sv, &ca);
	srv_join(&sv);
	mp_stop(&mp);
	ck_assert_uint_eq(sv.c[0].frames, tc.frames);
	ck_assert(sv.c[0].prefix_ok);
	ck_assert_str_eq(sv.c[0].sni, "gw.test");
	stream_free(s);
	SSL_CTX_free(ctx);
	cert_free(&ca);
}
END_TEST

/* A wrong password, and no credentials at all (a 407 then stays a refusal:
 * there is nothing to allow): HTTP 407. */
START_TEST(proxy_wrong_password)
{
	const struct proxy_case cases[] = {
		{ .host = "127.0.0.1", .user = "alice", .pass = "wrong", .allow_basic = true },
		{ .host = "127.0.0.1" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proxy_case pc = cases[i];
		struct mproxy mp;
		struct srv sv;
		struct stream *s;

		free(basic_proxy_run(&pc, &mp, &sv, 0, &s));
		expect_refusal(s, sv.port, 407);
		stream_free(s);
	}
}
END_TEST

START_TEST(proxy_forbidden)
{
	struct proxy_case pc = { .host = "127.0.0.1" };
	struct mproxy mp;
	struct stream *s;

	mp_start(&mp, NULL, true);
	pc.port = mp.port;
	pc.target_port = closed_port();
	s = proxy_run(&pc);
	expect_refusal(s, pc.target_port, 403);
	stream_free(s);
	mp_stop(&mp);
}
END_TEST

START_TEST(proxy_unreachable)
{
	struct proxy_case pc = { .host = "127.0.0.1", .port = closed_port(), .target_port = 4500 };
	struct stream *s = proxy_run(&pc);

	ck_assert_int_eq(stream_status(s), STREAM_CLOSED);
	ck_assert_ptr_nonnull(strstr(stream_error(s), "proxy: CONNECT to 127.0.0.1:4500 via"));
	stream_free(s);
}
END_TEST

/* Freeing a stream in the middle of its CONNECT returns at once (the agent
 * does this when UDP wins the race). */
START_TEST(proxy_free_midway)
{
	struct proxy_case pc = { .host = "localhost", .target_port = 4500 };
	struct stream_cfg c = cfg_loopback(STREAM_TLS, pc.target_port);
	struct pollfd p = { .events = POLLIN };
	long long end = now_ms() + WAIT_MS, t0;
	struct tloop l;
	struct stream *s;

	p.fd = listen_on(0, 0, &pc.port);	/* accepts nothing, answers nothing */
	c.proxy_host = pc.host;
	c.proxy_port = pc.port;
	c.peer_host = "127.0.0.1";
	s = stream_new(&c);
	ck_assert_ptr_nonnull(s);
	tl_init(&l);
	ck_assert_int_eq(stream_connect(s), 0);
	while (poll(&p, 1, 0) == 0 && now_ms() < end)	/* until curl has connected */
		ck_assert_int_eq(step(&l, s, NULL), STREAM_CONNECTING);
	ck_assert(p.revents & POLLIN);
	ck_assert_int_eq(step(&l, s, NULL), STREAM_CONNECTING);
	t0 = now_ms();
	stream_free(s);
	ck_assert_int_lt(now_ms() - t0, 500);
	close(p.fd);
	close(l.ep);
}
END_TEST

/* ---- an external proxy (tinyproxy, from tests/net/test_stream_proxy.sh) -- */

struct ext {
	char host[64], user[64], pass[64];
	uint16_t port, tcp_port, tls_port;
	bool creds;
};

static bool ext_get(struct ext *e)
{
	const char *p = getenv("IKEAGENT_TEST_PROXY");
	const char *ports = getenv("IKEAGENT_TEST_PROXY_PORTS");
	unsigned port, a, b;
	int n;

	memset(e, 0, sizeof(*e));
	if (!p || !ports || sscanf(ports, "%u,%u", &a, &b) != 2)
		return false;
	n = sscanf(p, "%63[^:]:%u:%63[^:]:%63s", e->host, &port, e->user, e->pass);
	if (n != 2 && n != 4)
		return false;
	e->port = (uint16_t)port;
	e->creds = n == 4;
	e->tcp_port = (uint16_t)a;
	e->tls_port = (uint16_t)b;
	return true;
}

START_TEST(ext_proxy_tcp)
{
	struct ext e;
	struct proxy_case pc = { .frames = 200 };
	struct srv sv;
	struct stream *s;

	ck_assert(ext_get(&e));
	srv_start(&sv, SRV_ECHO, NULL, 1, e.tcp_port, 0);
	pc.host = e.host;
	pc.port = e.port;
	pc.user = e.creds ? e.user : NULL;
	pc.pass = e.creds ? e.pass : NULL;
	pc.allow_basic = true;		/* tinyproxy's BasicAuth */
	pc.target_port = e.tcp_port;
	s = proxy_run(&pc);
	ck_assert_str_eq(stream_error(s), "closed locally");
	stream_free(s);
	srv_join(&sv);
	ck_assert_uint_eq(sv.c[0].frames, pc.frames);
	ck_assert(sv.c[0].prefix_ok);
}
END_TEST

START_TEST(ext_proxy_tls)
{
	struct tls_case tc = { .sni = "gw.test", .verify = true, .frames = 100 };
	struct stream_cfg c;
	struct traffic t = { .maxb = MAX_BODY, .total = 100 };
	struct ext e;
	struct cert ca;
	SSL_CTX *ctx;
	struct srv sv;
	struct tloop l;
	struct stream *s;

	ck_assert(ext_get(&e));
	tls_setup(&ca, &ctx);
	srv_start(&sv, SRV_ECHO, ctx, 1, e.tls_port, 0);
	c = cfg_loopback(STREAM_TLS, e.tls_port);
	c.sni = tc.sni;
	c.verify = true;
	c.ca_file = ca.path;
	c.proxy_host = e.host;
	c.proxy_port = e.port;
	c.proxy_user = e.creds ? e.user : NULL;
	c.proxy_pass = e.creds ? e.pass : NULL;
	c.proxy_allow_basic = true;
	c.peer_host = "127.0.0.1";
	s = stream_new(&c);
	ck_assert_ptr_nonnull(s);
	tl_init(&l);
	ck_assert_int_eq(stream_connect(s), 0);
	ck_assert_int_eq(run_until_up_or_closed(&l, s), STREAM_UP);
	echo_all(&l, s, &t);
	stream_free(s);
	srv_join(&sv);
	ck_assert_uint_eq(sv.c[0].frames, t.total);
	ck_assert_str_eq(sv.c[0].sni, "gw.test");
	SSL_CTX_free(ctx);
	cert_free(&ca);
	close(l.ep);
}
END_TEST

START_TEST(ext_proxy_wrong_password)
{
	struct ext e;
	struct proxy_case pc = { 0 };
	struct stream *s;
	char want[128];

	ck_assert(ext_get(&e));
	if (!e.creds) {		/* the proxy wants none: nothing to get wrong */
		check_skip(__func__, "the external proxy takes no credentials");
		return;
	}
	pc.host = e.host;
	pc.port = e.port;
	pc.user = e.user;
	pc.pass = "not-the-password";
	pc.allow_basic = true;
	pc.target_port = e.tcp_port;
	s = proxy_run(&pc);
	/* 407 asks for credentials; tinyproxy answers wrong ones with 401 */
	ck_assert_int_eq(stream_status(s), STREAM_CLOSED);
	snprintf(want, sizeof(want), "proxy refused CONNECT to 127.0.0.1:%u: HTTP 40", e.tcp_port);
	ck_assert_msg(strncmp(stream_error(s), want, strlen(want)) == 0 &&
		      (strstr(stream_error(s), "HTTP 407") || strstr(stream_error(s), "HTTP 401")),
		      "unexpected error \"%s\"", stream_error(s));
	stream_free(s);
}
END_TEST

/* tinyproxy offers only Basic: by default it never sees the password. */
START_TEST(ext_proxy_basic_refused)
{
	struct ext e;
	struct proxy_case pc = { 0 };
	struct stream *s;

	ck_assert(ext_get(&e));
	if (!e.creds) {
		check_skip(__func__, "the external proxy takes no credentials");
		return;
	}
	pc.host = e.host;
	pc.port = e.port;
	pc.user = e.user;
	pc.pass = e.pass;
	pc.target_port = e.tcp_port;
	s = proxy_run(&pc);
	ck_assert_int_eq(stream_status(s), STREAM_CLOSED);
	ck_assert_msg(strstr(stream_error(s), "offers only Basic authentication") &&
		      strstr(stream_error(s), "proxy_allow_basic = yes"),
		      "unexpected error \"%s\"", stream_error(s));
	stream_free(s);
}
END_TEST

START_TEST(ext_proxy_port_not_allowed)
{
	struct ext e;
	struct proxy_case pc = { 0 };
	struct srv sv;
	struct stream *s;

	ck_assert(ext_get(&e));
	srv_start(&sv, SRV_ECHO, NULL, 0, 0, 0);	/* listens, never serves */
	pc.host = e.host;
	pc.port = e.port;
	pc.user = e.creds ? e.user : NULL;
	pc.pass = e.creds ? e.pass : NULL;
	pc.allow_basic = true;		/* tinyproxy's BasicAuth */
	pc.target_port = sv.port;
	s = proxy_run(&pc);
	expect_refusal(s, sv.port, 403);
	stream_free(s);
	srv_join(&sv);
}
END_TEST

static Suite *stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tcp = tcase_create("tcp");
	TCase *tls = tcase_create("tls");
	TCase *proxy = tcase_create("proxy");
	struct ext e;

	tcase_set_timeout(tcp, 60);
	tcase_add_test(tcp, send_rules);
	tcase_add_test(tcp, tcp_echo);
	tcase_add_test(tcp, tcp_short_writes);
	tcase_add_test(tcp, tcp_peer_closes_midframe);
	tcase_add_test(tcp, tcp_garbage);
	tcase_add_test(tcp, tcp_refused);
	tcase_add_test(tcp, tcp_socket_settings);
	tcase_add_test(tcp, tcp_congestion_fallback);
	tcase_add_test(tcp, bulk_limit_follows_drain);
	tcase_set_timeout(tls, 60);
	tcase_add_test(tls, tls_verify_ok);
	tcase_add_test(tls, tls_verify_ip_no_sni);
	tcase_add_test(tls, tls_wrong_ca);
	tcase_add_test(tls, tls_wrong_name);
	tcase_add_test(tls, tls_verify_off);
	tcase_add_test(tls, tls_resume);
	tcase_add_test(tls, tls_peer_closes_midframe);
	tcase_add_test(tls, tls_short_writes);
	tcase_set_timeout(proxy, 60);
	tcase_add_test(proxy, proxy_basic_auth);
	tcase_add_test(proxy, proxy_basic_refused);
	tcase_add_test(proxy, proxy_digest_default);
	tcase_add_test(proxy, proxy_tls);
	tcase_add_test(proxy, proxy_wrong_password);
	tcase_add_test(proxy, proxy_forbidden);
	tcase_add_test(proxy, proxy_unreachable);
	tcase_add_test(proxy, proxy_free_midway);
	suite_add_tcase(s, tcp);
	suite_add_tcase(s, tls);
	suite_add_tcase(s, proxy);
	if (ext_get(&e)) {
		TCase *ext = tcase_create("external_proxy");

		printf("stream: external proxy %s:%u%s, echo ports %u,%u\n", e.host, e.port,
		       e.creds ? " with credentials" : "", e.tcp_port, e.tls_port);
		tcase_set_timeout(ext, 60);
		tcase_add_test(ext, ext_proxy_tcp);
		tcase_add_test(ext, ext_proxy_tls);
		tcase_add_test(ext, ext_proxy_wrong_password);
		tcase_add_test(ext, ext_proxy_basic_refused);
		tcase_add_test(ext, ext_proxy_port_not_allowed);
		suite_add_tcase(s, ext);
	}
	return s;
}

CHECK_MAIN(stream_suite)
