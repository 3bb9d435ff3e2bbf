/*
 * The stream state machine:
 *
 *   NEW ─connect─> TCP_CONNECTING ──┐
 *       └────────> PROXY ───────────┴─> [TLS_HANDSHAKE] ─> UP ─> CLOSED
 *
 * Any state may end in CLOSED, with the reason in s->err. Every move goes
 * through set_state(), which logs it at debug level; strm_fail() logs the
 * reason a connection ended, once. The data path (output buffer, frames in
 * and out) is in stream_io.c.
 */
#include "transport/stream.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "transport/stream_int.h"
#include "transport/tcpframe.h"
#include "transport/udp.h"
#include "util/log.h"

static const char *const st_names[] = {
	[ST_NEW] = "new", [ST_TCP_CONNECTING] = "tcp connecting",
	[ST_PROXY] = "proxy CONNECT", [ST_TLS_HANDSHAKE] = "tls handshake",
	[ST_UP] = "up", [ST_CLOSED] = "closed",
};

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* strerror() with a lower-case first letter, to read well inside a line. */
const char *strm_errstr(int e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(e));
	buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

static void set_state(struct stream *s, enum st to)
{
	if (s->st == to)
		return;
	log_debug("stream %s: %s -> %s", s->where, st_names[s->st], st_names[to]);
	s->st = to;
}

static void teardown(struct stream *s)
{
	tlsc_free(s->tls);
	s->tls = NULL;
	pxy_free(s->proxy);
	s->proxy = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->tx_want = s->hs_want = 0;
	s->rx_want_write = false;
}

/* The connection is over: say why (once), free it, CLOSED. */
void strm_fail(struct stream *s, const char *fmt, ...)
{
	va_list ap;

	if (s->st == ST_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	log_warn("stream %s: closed while %s: %s", s->where, st_names[s->st], s->err);
	teardown(s);
	set_state(s, ST_CLOSED);
}

/* ---- connection setup --------------------------------------------------- */

static void go_up(struct stream *s)
{
	set_state(s, ST_UP);
	s->rx_budget = STREAM_RX_BUDGET;
	(void)strm_flush(s);		/* the prefix, and whatever waited behind it */
}

static void tls_step(struct stream *s)
{
	int r = tlsc_handshake(s->tls, &s->hs_want);

	if (r > 0) {
		s->resumed = tlsc_resumed(s->tls);
		go_up(s);
	} else if (r < 0)
		strm_fail(s, "%s", tlsc_error(s->tls));
}

static void tls_start(struct stream *s)
{
	struct tlsc_params p = {
		.name = s->name, .verify = s->verify, .ca_file = s->ca_file,
		.cache = s->tls_cache,
	};
	char err[STREAM_ERR_LEN];

	s->tls = tlsc_new(s->fd, &p, err, sizeof(err));
	if (!s->tls) {
		strm_fail(s, "%s", err);
		return;
	}
	set_state(s, ST_TLS_HANDSHAKE);
	tls_step(s);
}

/* A TCP path to the gateway exists (directly or through the proxy). */
static void connected(struct stream *s)
{
	if (s->kind == STREAM_TLS)
		tls_start(s);
	else
		go_up(s);
}

/* TCP_CONGESTION refused: say so once per name (reconnects would repeat it). */
static void cc_refused(struct stream *s, int e)
{
	static char said[sizeof(s->cc)];
	char cur[32] = "", eb[80];
	socklen_t len = sizeof(s->cc);

	if (getsockopt(s->fd, IPPROTO_TCP, TCP_CONGESTION, cur, &len) < 0 || !cur[0])
		snprintf(cur, sizeof(cur), "the kernel's default");
	if (strcmp(said, s->cc) == 0) {
		log_debug("tcp: congestion control %s unavailable, using %s", s->cc, cur);
		return;
	}
	snprintf(said, sizeof(said), "%s", s->cc);
	log_info("tcp: congestion control %s unavailable (%s), using %s", s->cc,
		 strm_errstr(e, eb, sizeof(eb)), cur);
}

/*
 * The connection's own settings (stream.h): no Nagle delay for our frames,
 * the kernel's unsent backlog held small so the queue forms in ours, and
 * the congestion control asked for. None of it is fatal.
 */
static void tcp_tune(struct stream *s)
{
	int on = 1, lowat = STREAM_NOTSENT_LOWAT;
	char eb[80];

	(void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (setsockopt(s->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat)) < 0)
		log_debug("tcp: TCP_NOTSENT_LOWAT: %s", strm_errstr(errno, eb, sizeof(eb)));
	if (s->cc[0] && setsockopt(s->fd, IPPROTO_TCP, TCP_CONGESTION, s->cc, strlen(s->cc)) < 0)
		cc_refused(s, errno);
}

static void tcp_check(struct stream *s)
{
	socklen_t elen = sizeof(int);
	int e = 0;
	char eb[80];

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
		e = errno;
	if (e == EINPROGRESS || e == EALREADY)
		return;
	if (e) {
		strm_fail(s, "tcp: connect to %s failed: %s", s->where, strm_errstr(e, eb, sizeof(eb)));
		return;
	}
	log_info("tcp: connected to %s in %ld ms", s->where, ms_since(&s->t0));
	connected(s);
}

static int tcp_start(struct stream *s)
{
	char eb[80];

	s->fd = socket(s->peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		strm_fail(s, "tcp: socket: %s", strm_errstr(errno, eb, sizeof(eb)));
		return -1;
	}
	tcp_tune(s);		/* before connect: the SYN already uses it */
	if (s->mark && setsockopt(s->fd, SOL_SOCKET, SO_MARK, &s->mark, sizeof(s->mark)) < 0) {
		strm_fail(s, "tcp: SO_MARK %u: %s", s->mark, strm_errstr(errno, eb, sizeof(eb)));
		return -1;
	}
	if (sock_bind_dev(s->fd, s->ifindex) < 0) {
		strm_fail(s, "tcp: device %d: %s", s->ifindex, strm_errstr(errno, eb, sizeof(eb)));
		return -1;
	}
	set_state(s, ST_TCP_CONNECTING);
	if (connect(s->fd, (const struct sockaddr *)&s->peer, s->peerlen) == 0) {
		tcp_check(s);
	} else if (errno != EINPROGRESS) {
		strm_fail(s, "tcp: connect to %s failed: %s", s->where, strm_errstr(errno, eb, sizeof(eb)));
		return -1;
	}
	return s->st == ST_CLOSED ? -1 : 0;
}

static int proxy_start(struct stream *s)
{
	struct pxy_params p = {
		.host = s->proxy_host, .port = s->proxy_port,
		.user = s->proxy_user, .pass = s->proxy_pass,
		.allow_basic = s->proxy_allow_basic,
		.target = s->host, .target_port = s->port,
		.mark = s->mark,
		.ifindex = s->ifindex,
	};
	char err[STREAM_ERR_LEN];

	s->proxy = pxy_new(&p, err, sizeof(err));
	if (!s->proxy) {
		strm_fail(s, "%s", err);
		return -1;
	}
	set_state(s, ST_PROXY);
	return 0;
}

static void proxy_step(struct stream *s)
{
	int fd = -1;
	int r = pxy_handle(s->proxy, &fd);

	if (r < 0) {
		strm_fail(s, "%s", pxy_error(s->proxy));
		return;
	}
	if (r == 0)
		return;
	pxy_free(s->proxy);
	s->proxy = NULL;
	s->fd = fd;
	tcp_tune(s);		/* curl's socket: after its CONNECT, before our bytes */
	connected(s);
}

int stream_connect(struct stream *s)
{
	if (s->st != ST_NEW) {
		errno = EALREADY;
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	return s->proxy_host ? proxy_start(s) : tcp_start(s);
}

static void up_step(struct stream *s, uint32_t events)
{
	socklen_t elen = sizeof(int);
	int e = 0;
	char eb[80];

	if ((events & EPOLLERR) &&
	    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &elen) == 0 && e) {
		strm_fail(s, "%s: %s", s->tls ? "tls" : "tcp", strm_errstr(e, eb, sizeof(eb)));
		return;
	}
	s->rx_budget = STREAM_RX_BUDGET;
	if (s->rx_want_write && (events & EPOLLOUT))
		s->rx_want_write = false;
	if (strm_queued(s) > 0 && (s->tx_want == 0 || (events & (s->tx_want | EPOLLERR | EPOLLHUP))))
		(void)strm_flush(s);
}

enum stream_status stream_handle(struct stream *s, uint32_t events)
{
	switch (s->st) {
	case ST_TCP_CONNECTING:
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			tcp_check(s);
		break;
	case ST_PROXY:
		proxy_step(s);
		break;
	case ST_TLS_HANDSHAKE:
		if (events)
			tls_step(s);
		break;
	case ST_UP:
		up_step(s, events);
		break;
	case ST_NEW:
	case ST_CLOSED:
		break;
	}
	return stream_status(s);
}

/* ---- queries ------------------------------------------------------------ */

enum stream_status stream_status(const struct stream *s)
{
	if (s->st == ST_UP)
		return STREAM_UP;
	return s->st == ST_CLOSED ? STREAM_CLOSED : STREAM_CONNECTING;
}

int stream_fd(const struct stream *s)
{
	return s->st == ST_PROXY ? pxy_fd(s->proxy) : s->fd;
}

uint32_t stream_events(const struct stream *s)
{
	uint32_t ev;

	switch (s->st) {
	case ST_TCP_CONNECTING:
		return EPOLLOUT;
	case ST_PROXY:
		return EPOLLIN;
	case ST_TLS_HANDSHAKE:
		return s->hs_want;
	case ST_UP:
		ev = EPOLLIN;
		if (strm_queued(s) > 0 && s->tx_want)
			ev |= s->tx_want;
		if (s->rx_want_write)
			ev |= EPOLLOUT;
		return ev;
	default:
		return 0;
	}
}

int stream_addrs(const struct stream *s, struct sockaddr_storage *local,
		 struct sockaddr_storage *peer)
{
	socklen_t ll = sizeof(*local), pl = sizeof(*peer);

	if (s->fd < 0 || s->st == ST_PROXY || s->st == ST_CLOSED) {
		errno = ENOTCONN;
		return -1;
	}
	memset(local, 0, sizeof(*local));
	memset(peer, 0, sizeof(*peer));
	if (getsockname(s->fd, (struct sockaddr *)local, &ll) < 0 ||
	    getpeername(s->fd, (struct sockaddr *)peer, &pl) < 0)
		return -1;
	return 0;
}

const char *stream_error(const struct stream *s) { return s->err; }
bool stream_tls_resumed(const struct stream *s) { return s->resumed; }

/* ---- lifetime ----------------------------------------------------------- */

void stream_close(struct stream *s)
{
	size_t unsent;

	if (s->st == ST_CLOSED)
		return;
	if (s->st == ST_UP && strm_queued(s) > 0 && s->tx_want == 0)
		(void)strm_flush(s);
	if (s->st == ST_CLOSED)
		return;
	unsent = s->st == ST_UP ? strm_queued(s) : 0;
	/* RFC 9329 §6.1 ≈: once all SAs are deleted "the initiator of the
	 * original connection MUST close the TCP connection"; TLS
	 * close_notify goes first. */
	tlsc_shutdown(s->tls);
	log_info("stream %s: closed by us while %s (%zu bytes unsent)", s->where,
		 st_names[s->st], unsent);
	snprintf(s->err, sizeof(s->err), "closed locally");
	teardown(s);
	set_state(s, ST_CLOSED);
}

static void secret_free(char *p)
{
	if (p)
		explicit_bzero(p, strlen(p));
	free(p);
}

void stream_free(struct stream *s)
{
	if (!s)
		return;
	if (s->st != ST_CLOSED && s->st != ST_NEW)
		stream_close(s);
	teardown(s);
	strm_out_unmap(s);
	free(s->sni);
	free(s->ca_file);
	free(s->peer_host);
	free(s->proxy_host);
	free(s->proxy_user);
	secret_free(s->proxy_pass);
	free(s);
}

static int dup_str(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

static int cfg_ok(const struct stream_cfg *c)
{
	bool inet = c->peer.ss_family == AF_INET || c->peer.ss_family == AF_INET6;

	if (c->kind != STREAM_TCP && c->kind != STREAM_TLS)
		return -1;
	if (c->max_frame && (c->max_frame < TCPFRAME_MIN_MAX_LEN || c->max_frame > TCPFRAME_MAX_LEN))
		return -1;
	if (!inet && !(c->proxy_host && c->peer_host && c->peer_port))
		return -1;
	if (c->proxy_host && !c->proxy_port)
		return -1;
	if (c->congestion && strlen(c->congestion) >= sizeof(((struct stream *)0)->cc))
		return -1;
	return 0;
}

/* Port, log name and TLS name from what the caller gave. */
static int cfg_names(struct stream *s, const struct stream_cfg *c)
{
	char addr[INET6_ADDRSTRLEN] = "";
	const void *a = NULL;
	const char *host;
	bool v6;

	if (c->peer.ss_family == AF_INET)
		a = &((const struct sockaddr_in *)&c->peer)->sin_addr;
	else if (c->peer.ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)&c->peer)->sin6_addr;
	if (a && !inet_ntop(c->peer.ss_family, a, addr, sizeof(addr)))
		return -1;
	s->port = c->peer_port ? c->peer_port : sockaddr_port(&s->peer);
	if (!s->port)
		return -1;
	host = c->peer_host ? c->peer_host : addr;
	v6 = strchr(host, ':') != NULL;
	if (strlen(host) >= sizeof(s->host) || (c->sni && strlen(c->sni) >= sizeof(s->name)))
		return -1;
	snprintf(s->host, sizeof(s->host), "%s", host);
	snprintf(s->name, sizeof(s->name), "%s", c->sni ? c->sni : host);
	snprintf(s->where, sizeof(s->where), "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", s->port);
	return 0;
}

static int cfg_copy(struct stream *s, const struct stream_cfg *c)
{
	s->kind = c->kind;
	s->peer = c->peer;
	s->peerlen = c->peerlen;
	s->mark = c->mark;
	s->ifindex = c->ifindex;
	s->max_frame = c->max_frame ? c->max_frame : TCPFRAME_MAX_LEN;
	snprintf(s->cc, sizeof(s->cc), "%s", c->congestion ? c->congestion : "");
	s->verify = c->verify;
	s->tls_cache = c->tls_cache;
	s->proxy_port = c->proxy_port;
	s->proxy_allow_basic = c->proxy_allow_basic;
	if (dup_str(&s->sni, c->sni) < 0 || dup_str(&s->ca_file, c->ca_file) < 0 ||
	    dup_str(&s->peer_host, c->peer_host) < 0 || dup_str(&s->proxy_host, c->proxy_host) < 0 ||
	    dup_str(&s->proxy_user, c->proxy_user) < 0 || dup_str(&s->proxy_pass, c->proxy_pass) < 0)
		return -1;
	return cfg_names(s, c);
}

struct stream *stream_new(const struct stream_cfg *cfg)
{
	struct stream *s;
	struct wr w;

	if (cfg_ok(cfg) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fd = -1;
	if (strm_out_map(s) < 0 || cfg_copy(s, cfg) < 0)
		goto fail;
	/* The initiator never receives a prefix; frames up to 65535 are
	 * accepted whatever we send. */
	if (tcpframe_rx_init(&s->rx, false, 0, s->rx_frame) < 0)
		goto fail;
	/* RFC 9329 §4: "The first bytes sent on the stream MUST be the stream
	 * prefix value", sent once per connection by the initiator only,
	 * inside TLS when TLS is used (Appendix A): it leads the output. */
	wr_init(&w, s->out, OUT_CAP);
	if (tcpframe_put_prefix(&w) < 0)
		goto fail;
	s->tail = s->touched = wr_len(&w);
	return s;
fail:
	stream_free(s);
	return NULL;
}
