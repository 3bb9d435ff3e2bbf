/*
 * HTTP CONNECT through a proxy with libcurl, without blocking the loop.
 *
 * libcurl 7.88 runs CURLOPT_CONNECT_ONLY transfers in the multi interface
 * (documented there since 7.x: "If the connect only transfer is done using
 * the multi interface, the particular easy handle must remain added to the
 * multi handle ..."); the proxy CONNECT, its authentication round trips
 * (CURLAUTH_ANYSAFE: Digest, NTLM, Negotiate; Basic too only with
 * pxy_params.allow_basic) and name resolution (threaded resolver) are all
 * state machines driven by curl_multi_socket_action.
 *
 * curl may hold several sockets at once (happy eyeballs, a resolver pipe,
 * a reconnect after a 407 that closed the connection) and wants timers.
 * We collect all of them in one private epoll fd: curl's sockets through
 * CURLMOPT_SOCKETFUNCTION and its timer as a timerfd through
 * CURLMOPT_TIMERFUNCTION. The caller's loop watches that single fd for
 * EPOLLIN and needs no timer of its own.
 *
 * When curl reports the transfer done, the tunnel's socket
 * (CURLINFO_ACTIVESOCKET) is taken over: our CURLOPT_CLOSESOCKETFUNCTION
 * leaves that one fd open while curl tears its handles down, so from then
 * on the socket belongs to the stream alone and curl keeps nothing.
 * Sockets are created by our CURLOPT_OPENSOCKETFUNCTION, which adds
 * SOCK_CLOEXEC and SO_MARK.
 *
 * The URL is http://target:port/ with CURLOPT_HTTPPROXYTUNNEL: curl sends
 * "CONNECT target:port" and, being connect-only, nothing after it. The
 * password goes to curl only (CURLOPT_PROXYPASSWORD), never to a log.
 *
 * libcurl is not linked: curl_dl.c loads it the first time a proxied
 * stream starts, and every call here goes through its table (p->c).
 */
#include "transport/curl_dl.h"
#include "transport/stream_int.h"
#include "transport/udp.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define PROXY_EVENTS 8

struct pxy {
	const struct curl_fns *c;	/* libcurl, loaded */
	CURLM *multi;
	CURL *easy;
	int epfd;
	int tfd;			/* curl's timer */
	int taken;			/* the tunnel socket once taken, else -1 */
	uint32_t mark;
	int ifindex;
	bool cb_failed;			/* a callback could not do its job */
	bool has_user;			/* credentials given */
	unsigned long auth;		/* CURLOPT_PROXYAUTH */
	char target[300];		/* host:port, for messages */
	char via[300];			/* proxy host:port */
	char url[320];
	char curl_err[CURL_ERROR_SIZE];
	char err[STREAM_ERR_LEN];
	struct timespec t0;
};

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void errf(struct pxy *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errf(struct pxy *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

/* ---- curl callbacks ----------------------------------------------------- */

static curl_socket_t cb_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct pxy *p = clientp;
	int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

	if (fd < 0)
		return CURL_SOCKET_BAD;
	if (p->mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &p->mark, sizeof(p->mark)) < 0) {
		errf(p, "proxy: SO_MARK %u: %s", p->mark, strerror(errno));
		p->cb_failed = true;
		close(fd);
		return CURL_SOCKET_BAD;
	}
	if (sock_bind_dev(fd, p->ifindex) < 0) {
		errf(p, "proxy: device %d: %s", p->ifindex, strerror(errno));
		p->cb_failed = true;
		close(fd);
		return CURL_SOCKET_BAD;
	}
	return fd;
}

static int cb_close(void *clientp, curl_socket_t fd)
{
	struct pxy *p = clientp;

	if (fd == p->taken)
		return 0;	/* the tunnel: the stream's now */
	return close(fd);
}

static int cb_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct pxy *p = userp;
	struct epoll_event ev = { .data.fd = fd };

	if (what == CURL_POLL_REMOVE) {
		(void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 &&
	    (errno != ENOENT || epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)) {
		errf(p, "proxy: epoll: %s", strerror(errno));
		p->cb_failed = true;
	}
	return 0;
}

static int cb_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct pxy *p = userp;
	struct itimerspec its = { 0 };

	if (timeout_ms >= 0) {
		/* 0 means "as soon as possible"; a zero it_value would disarm */
		its.it_value.tv_sec = timeout_ms / 1000;
		its.it_value.tv_nsec = (timeout_ms % 1000) * 1000000L;
		if (timeout_ms == 0)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(p->tfd, 0, &its, NULL) < 0) {
		errf(p, "proxy: timerfd: %s", strerror(errno));
		p->cb_failed = true;
	}
	return 0;
}

/* ---- setup -------------------------------------------------------------- */

/* host:port with brackets around an IPv6 literal. */
static int hostport(char *out, size_t len, const char *host, uint16_t port)
{
	bool v6 = strchr(host, ':') != NULL;
	int n = snprintf(out, len, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", port);

	return n > 0 && (size_t)n < len ? 0 : -1;
}

static int easy_setup(struct pxy *p, const struct pxy_params *pp)
{
	CURL *e = p->easy;
	CURLcode rc = CURLE_OK;

#define SET(opt, val) do { if (rc == CURLE_OK) rc = p->c->easy_setopt(e, opt, val); } while (0)
	SET(CURLOPT_URL, p->url);
	SET(CURLOPT_PROTOCOLS_STR, "http");
	SET(CURLOPT_PROXY, p->via);
	SET(CURLOPT_PROXYTYPE, (long)CURLPROXY_HTTP);
	SET(CURLOPT_NOPROXY, "");		/* no_proxy in the environment must not bypass it */
	SET(CURLOPT_HTTPPROXYTUNNEL, 1L);
	SET(CURLOPT_CONNECT_ONLY, 1L);
	/* The leg to the proxy is plain HTTP: Basic sends the password in the
	 * clear (base64) to whoever answers 407 with it, the proxy or anyone
	 * on the path to it. Only allow_basic lets curl use it. */
	p->auth = pp->allow_basic ? CURLAUTH_ANY : CURLAUTH_ANYSAFE;
	SET(CURLOPT_PROXYAUTH, p->auth);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_QUICK_EXIT, 1L);		/* freeing mid-resolve must not join the thread */
	SET(CURLOPT_TCP_NODELAY, 1L);
	SET(CURLOPT_ERRORBUFFER, p->curl_err);
	SET(CURLOPT_OPENSOCKETFUNCTION, cb_open);
	SET(CURLOPT_OPENSOCKETDATA, p);
	SET(CURLOPT_CLOSESOCKETFUNCTION, cb_close);
	SET(CURLOPT_CLOSESOCKETDATA, p);
	if (pp->user) {
		SET(CURLOPT_PROXYUSERNAME, pp->user);
		SET(CURLOPT_PROXYPASSWORD, pp->pass ? pp->pass : "");
	}
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

static int multi_setup(struct pxy *p)
{
	CURLM *m = p->multi;
	CURLMcode rc = CURLM_OK;

#define SET(opt, val) do { if (rc == CURLM_OK) rc = p->c->multi_setopt(m, opt, val); } while (0)
	SET(CURLMOPT_SOCKETFUNCTION, cb_socket);
	SET(CURLMOPT_SOCKETDATA, p);
	SET(CURLMOPT_TIMERFUNCTION, cb_timer);
	SET(CURLMOPT_TIMERDATA, p);
#undef SET
	return rc == CURLM_OK ? 0 : -1;
}

static int fds_setup(struct pxy *p)
{
	struct epoll_event ev = { .events = EPOLLIN };

	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->epfd < 0 || p->tfd < 0)
		return -1;
	ev.data.fd = p->tfd;
	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->tfd, &ev);
}

struct pxy *pxy_new(const struct pxy_params *pp, char *err, size_t errlen)
{
	struct pxy *p = calloc(1, sizeof(*p));

	if (!p) {
		snprintf(err, errlen, "proxy: out of memory");
		return NULL;
	}
	p->epfd = p->tfd = p->taken = -1;
	p->mark = pp->mark;
	p->ifindex = pp->ifindex;
	p->has_user = pp->user != NULL;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	if (hostport(p->target, sizeof(p->target), pp->target, pp->target_port) < 0 ||
	    hostport(p->via, sizeof(p->via), pp->host, pp->port) < 0 ||
	    snprintf(p->url, sizeof(p->url), "http://%s/", p->target) >= (int)sizeof(p->url)) {
		snprintf(err, errlen, "proxy: host name too long");
		goto fail;
	}
	p->c = curl_dl(err, errlen);
	if (!p->c)
		goto fail;
	if (fds_setup(p) < 0) {
		snprintf(err, errlen, "proxy: epoll/timerfd: %s", strerror(errno));
		goto fail;
	}
	p->multi = p->c->multi_init();
	p->easy = p->c->easy_init();
	if (!p->multi || !p->easy || multi_setup(p) < 0 || easy_setup(p, pp) < 0 ||
	    p->c->multi_add_handle(p->multi, p->easy) != CURLM_OK) {
		snprintf(err, errlen, "proxy: libcurl setup failed");
		goto fail;
	}
	log_info("proxy: CONNECT %s via %s%s", p->target, p->via,
		 pp->user ? " with credentials" : "");
	return p;
fail:
	pxy_free(p);
	return NULL;
}

/* ---- progress ----------------------------------------------------------- */

static int ev_to_curl(uint32_t ev)
{
	int mask = 0;

	if (ev & EPOLLIN)
		mask |= CURL_CSELECT_IN;
	if (ev & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (ev & (EPOLLERR | EPOLLHUP))
		mask |= CURL_CSELECT_ERR;
	return mask;
}

static int drive(struct pxy *p)
{
	struct epoll_event evs[PROXY_EVENTS];
	int running, n;
	uint64_t ticks;

	n = epoll_wait(p->epfd, evs, PROXY_EVENTS, 0);
	if (n < 0 && errno != EINTR) {
		errf(p, "proxy: epoll_wait: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		CURLMcode rc;

		if (fd == p->tfd) {
			if (read(p->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				return -1;
			rc = p->c->multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		} else {
			rc = p->c->multi_socket_action(p->multi, fd, ev_to_curl(evs[i].events),
						      &running);
		}
		if (rc != CURLM_OK) {
			errf(p, "proxy: libcurl: %s", p->c->multi_strerror(rc));
			return -1;
		}
	}
	return p->cb_failed ? -1 : 0;
}

/* A 407 after which curl gave up because the proxy offered Basic and
 * nothing else we allow. */
static bool basic_refused(struct pxy *p, long code)
{
	long avail = 0;

	if (code != 407 || !p->has_user ||
	    p->c->easy_getinfo(p->easy, CURLINFO_PROXYAUTH_AVAIL, &avail) != CURLE_OK)
		return false;
	return (avail & CURLAUTH_BASIC) && !((unsigned long)avail & p->auth);
}

static void refused(struct pxy *p, CURLcode res)
{
	long code = 0;

	(void)p->c->easy_getinfo(p->easy, CURLINFO_HTTP_CONNECTCODE, &code);
	if (basic_refused(p, code))
		errf(p, "proxy: %s offers only Basic authentication, which sends the password "
			"in the clear; set [transport] proxy_allow_basic = yes to allow it", p->via);
	else if (code >= 300 || (code > 0 && code < 200))
		errf(p, "proxy refused CONNECT to %s: HTTP %ld",
			 p->target, code);
	else if (!p->cb_failed)
		errf(p, "proxy: CONNECT to %s via %s failed: %s",
			 p->target, p->via, p->curl_err[0] ? p->curl_err : p->c->easy_strerror(res));
}

/* Take the tunnel's socket; curl closes everything else it had. */
static int take_socket(struct pxy *p, int *fd)
{
	curl_socket_t s = CURL_SOCKET_BAD;
	long code = 0;

	if (p->c->easy_getinfo(p->easy, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
	    s == CURL_SOCKET_BAD) {
		errf(p, "proxy: no socket after CONNECT to %s", p->target);
		return -1;
	}
	(void)p->c->easy_getinfo(p->easy, CURLINFO_HTTP_CONNECTCODE, &code);
	p->taken = s;
	(void)p->c->multi_remove_handle(p->multi, p->easy);
	p->c->easy_cleanup(p->easy);
	p->easy = NULL;
	*fd = s;
	log_info("proxy: CONNECT %s via %s done in %ld ms (HTTP %ld)", p->target, p->via,
		 ms_since(&p->t0), code);
	return 1;
}

int pxy_handle(struct pxy *p, int *fd)
{
	CURLMsg *msg;
	int left;

	if (!p->easy)
		return -1;
	if (drive(p) < 0)
		return -1;	/* the stream logs why it closed */
	while ((msg = p->c->multi_info_read(p->multi, &left))) {
		if (msg->msg != CURLMSG_DONE || msg->easy_handle != p->easy)
			continue;
		if (msg->data.result != CURLE_OK) {
			refused(p, msg->data.result);
			return -1;
		}
		return take_socket(p, fd);
	}
	return 0;
}

int pxy_fd(const struct pxy *p) { return p->epfd; }
const char *pxy_error(const struct pxy *p) { return p->err; }

void pxy_free(struct pxy *p)
{
	if (!p)
		return;
	if (p->easy) {
		if (p->multi)
			(void)p->c->multi_remove_handle(p->multi, p->easy);
		p->c->easy_cleanup(p->easy);
	}
	if (p->multi)
		p->c->multi_cleanup(p->multi);
	if (p->tfd >= 0)
		close(p->tfd);
	if (p->epfd >= 0)
		close(p->epfd);
	free(p);
}
