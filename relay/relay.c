/*
 * The relay program's frame: one epoll loop over the listeners, the client
 * streams (conns, session.c) and the per-client UDP sockets (sessions,
 * session.c); timers (prefix, idle) by a sweep at the earliest deadline;
 * SIGINT/SIGTERM through a signalfd.
 *
 * A conn that is closed, or a session that is freed, goes to a graveyard
 * freed after the current batch of events, so an event still pending for it
 * in that batch finds it marked dead instead of freed.
 */
#include "relay/relay.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "transport/udp.h"
#include "util/log.h"
#include "util/privdrop.h"
#include "util/sdnotify.h"

#define ACCEPT_BURST	32
#define EV_MAX		64
#define ACCEPT_PAUSE_MS	1000	/* out of descriptors: stop accepting a while */

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

struct relay *R;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- listeners -------------------------------------------------------------- */

bool rl_conn_log_ok(void)
{
	if (!relay_bucket_take(&R->connlog, R->now, RELAY_CONNLOG_RATE, RELAY_CONNLOG_BURST)) {
		R->connlog_suppressed++;
		return false;
	}
	if (R->connlog_suppressed) {
		log_info("relay: %" PRIu64 " accept/close lines left out (over %u a minute)",
			 R->connlog_suppressed, RELAY_CONNLOG_RATE);
		R->connlog_suppressed = 0;
	}
	return true;
}

/* Refused at accept: counted, logged within the accept/close rate. */
static void conn_refuse(struct listener *l, int fd, const struct sockaddr_storage *ss,
			const char *why)
{
	char peer[RELAY_ADDRSTRLEN];

	R->refused++;
	if (rl_conn_log_ok())
		log_info("relay: client %s refused on %s: %s",
			 sockaddr_str((const struct sockaddr *)ss, peer, sizeof(peer)), l->name, why);
	close(fd);
}

/*
 * A stream whose client went away without a FIN or RST (it moved, or its
 * NAT forgot it) would hold its session for the kernel's retransmission
 * time, ~15 minutes, and a live session is never given to another stream:
 * TCP keepalives and a user timeout end it within about a minute.
 */
static void conn_sockopts(int fd)
{
	int on = 1, idle = 30, intvl = 10, cnt = 3, user_ms = 60000;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof(user_ms));
}

/*
 * The relay is full: the oldest stream that has not sent a whole frame yet
 * makes room. A client sends the prefix and its first frame within a round
 * trip of connecting; a stream that holds a slot without (idle or
 * slow-loris, from however many addresses) loses it to the next newcomer
 * instead of locking everyone out until its --prefix-timeout.
 */
static bool evict_unframed(void)
{
	struct conn *oldest = NULL;

	for (struct conn *c = R->conns; c; c = c->next)
		if (!c->dead && !c->framed)
			oldest = c;	/* the list is newest first */
	if (!oldest)
		return false;
	R->evicted++;
	rl_conn_close(oldest, "the relay is full and it had sent no frame yet");
	return true;
}

static void conn_new(struct listener *l, int fd, const struct sockaddr_storage *ss)
{
	struct relay_peer_key pk;
	struct relay_peer *addr;
	struct conn *c;

	if (relay_peer_key((const struct sockaddr *)ss, &pk) < 0 ||
	    !(addr = relay_peers_get(&R->peers, &pk))) {
		conn_refuse(l, fd, ss, "error (no address entry)");
		return;
	}
	if (addr->conns >= R->cfg->conns_per_addr) {
		char why[RELAY_ADDRSTRLEN + 48], a[RELAY_ADDRSTRLEN];

		snprintf(why, sizeof(why), "limit (%u streams from %s)", R->cfg->conns_per_addr,
			 relay_peer_str(&pk, a, sizeof(a)));
		conn_refuse(l, fd, ss, why);
		return;
	}
	if (R->nconns >= R->cfg->max_clients && !evict_unframed()) {
		char why[64];

		snprintf(why, sizeof(why), "limit (%u clients)", R->cfg->max_clients);
		conn_refuse(l, fd, ss, why);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || relay_stream_init(&c->rx, &R->budget) < 0)
		goto fail;
	conn_sockopts(fd);
	sockaddr_str((const struct sockaddr *)ss, c->peer, sizeof(c->peer));
	c->ev.kind = EV_CONN;
	c->tls = l->tls;
	if (relay_stream_open(&c->st, fd, l->tls ? R->tls : NULL) < 0) {
		fd = -1;	/* closed by relay_stream_open */
		goto fail;
	}
	fd = -1;
	c->events = EPOLLIN;
	if (rl_ep_add(c->st.fd, &c->ev, c->events) < 0) {
		relay_stream_close(&c->st);
		goto fail;
	}
	/* RFC 9329 §4 ≈ : the prefix, then frames; a stream that sends
	 * neither within the prefix timeout goes, not after the idle time. */
	c->deadline_ms = R->now + (uint64_t)R->cfg->prefix_timeout_s * 1000;
	rl_due_at(c->deadline_ms);
	c->addr = addr;
	addr->conns++;
	c->next = R->conns;
	if (R->conns)
		R->conns->prev = c;
	R->conns = c;
	R->nconns++;
	R->accepted++;
	if (rl_conn_log_ok())
		log_info("relay: client %s accepted on %s (%u/%u clients, %u from its address)",
			 c->peer, l->name, R->nconns, R->cfg->max_clients, addr->conns);
	return;
fail:
	log_warn("relay: cannot take a connection on %s: %s", l->name, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (c)
		rl_conn_free(c);
}

static void listeners_arm(uint32_t events)
{
	for (size_t i = 0; i < R->nlis; i++) {
		struct epoll_event e = { .events = events, .data.ptr = &R->lis[i].ev };

		(void)epoll_ctl(R->epfd, EPOLL_CTL_MOD, R->lis[i].fd, &e);
	}
}

static void on_accept(struct listener *l)
{
	static struct log_ratelimit lim;

	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_new(l, fd, &ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (log_ratelimit_ok(&lim, 10))
			log_warn("relay: accept on %s: %s", l->name, strerror(errno));
		/* Out of descriptors: the backlog would wake us at once again. */
		listeners_arm(0);
		R->accept_paused_until = R->now + ACCEPT_PAUSE_MS;
		rl_due_at(R->accept_paused_until);
		return;
	}
}

static int listener_open(struct listener *l, const struct relay_addr *a, bool tls)
{
	int on = 1;

	l->ev.kind = EV_LISTEN;
	l->tls = tls;
	snprintf(l->name, sizeof(l->name), "%s ", tls ? "tls" : "tcp");
	sockaddr_str((const struct sockaddr *)&a->ss, l->name + 4, sizeof(l->name) - 4);
	l->fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0 ||
	    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(l->fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(l->fd, SOMAXCONN) < 0 || rl_ep_add(l->fd, &l->ev, EPOLLIN) < 0) {
		log_err("relay: cannot listen on %s: %s", l->name, strerror(errno));
		return -1;
	}
	log_info("relay: listening on %s", l->name);
	return 0;
}

/* ---- timers, signals, the loop ----------------------------------------------- */

static void sweep(void)
{
	struct relay_sess *m;
	struct conn *c, *next;
	size_t it = 0;

	R->sweep_due = UINT64_MAX;
	if (R->accept_paused_until) {
		if (R->now >= R->accept_paused_until) {
			R->accept_paused_until = 0;
			listeners_arm(EPOLLIN);
		} else {
			rl_due_at(R->accept_paused_until);
		}
	}
	for (c = R->conns; c; c = next) {
		next = c->next;
		if (c->sess)
			continue;	/* the session's idle time rules */
		if (R->now >= c->deadline_ms)
			rl_conn_close(c, !c->prefix_ok ? "prefix timeout" :
					 !c->framed ? "first frame timeout" :
					 c->probe ? "probation over (the gateway answered none of its requests)" :
					 "no session (its frames name another stream's session)");
		else
			rl_due_at(c->deadline_ms);
	}
	while ((m = relay_map_next_expired(&R->map, R->now, rl_idle_ms(), &it)))
		rl_sess_free(m->ctx, "idle");
	rl_due_at(relay_map_next_due(&R->map, rl_idle_ms()));
}

static void on_signal(void)
{
	struct signalfd_siginfo si;

	while (read(R->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_info("relay: signal %" PRIu32 ", shutting down", si.ssi_signo);
		R->stop = true;
	}
}

static void bury(void)
{
	while (R->grave_conns) {
		struct conn *c = R->grave_conns;

		R->grave_conns = c->next;
		rl_conn_free(c);
	}
	while (R->grave_sess) {
		struct session *s = R->grave_sess;

		R->grave_sess = s->next_dead;
		free(s);
	}
}

static void dispatch(struct ev *ev)
{
	switch (ev->kind) {
	case EV_LISTEN:
		on_accept(container_of(ev, struct listener, ev));
		break;
	case EV_SIGNAL:
		on_signal();
		break;
	case EV_CONN: {
		struct conn *c = container_of(ev, struct conn, ev);

		if (!c->dead)
			rl_conn_event(c);
		break;
	}
	case EV_UDP: {
		struct session *s = container_of(ev, struct session, ev);

		if (!s->dead)
			rl_sess_udp_event(s);
		break;
	}
	}
}

/* systemd: WATCHDOG=1 from the loop, STATUS= when the counts changed. */
static void service_tick(void)
{
	uint64_t wd = sdnotify_watchdog_ms();

	if (!sdnotify_enabled())
		return;
	if (wd && R->now >= R->wd_due) {
		sdnotify_send("WATCHDOG=1");
		R->wd_due = R->now + wd / 2;
	}
	if (wd)
		rl_due_at(R->wd_due);
	if (R->now >= R->status_due &&
	    (R->nconns != R->status_conns || R->map.count != R->status_sess)) {
		R->status_conns = R->nconns;
		R->status_sess = R->map.count;
		R->status_due = R->now + RELAY_STATUS_MS;
		sdnotify_status("relaying %u streams, %zu sessions to udp %s (%" PRIu64 " accepted, %"
				PRIu64 " refused)", R->nconns, R->map.count, R->gw, R->accepted,
				R->refused);
	}
}

static int loop(void)
{
	struct epoll_event evs[EV_MAX];

	while (!R->stop) {
		int n, timeout = -1;

		R->now = now_ms();
		if (R->now >= R->sweep_due)
			sweep();
		bury();
		service_tick();
		if (R->sweep_due <= R->now)
			timeout = 0;
		else if (R->sweep_due != UINT64_MAX)
			timeout = R->sweep_due - R->now > 60000 ? 60000 : (int)(R->sweep_due - R->now);
		else if (sdnotify_enabled())
			timeout = RELAY_STATUS_MS;	/* counts may have changed: say so */
		n = epoll_wait(R->epfd, evs, EV_MAX, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("relay: epoll_wait: %s", strerror(errno));
			return -1;
		}
		R->now = now_ms();
		for (int i = 0; i < n && !R->stop; i++)
			dispatch(evs[i].data.ptr);
	}
	return 0;
}

static int signals_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	R->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	R->sig_ev.kind = EV_SIGNAL;
	if (R->sigfd < 0 || rl_ep_add(R->sigfd, &R->sig_ev, EPOLLIN) < 0) {
		log_err("relay: signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int relay_setup(const struct relay_cfg *cfg)
{
	uint64_t seed = 0;

	R->cfg = cfg;
	R->budget.total = cfg->queue_total;
	R->sigfd = -1;
	R->sweep_due = UINT64_MAX;
	sockaddr_str((const struct sockaddr *)&cfg->gateway.ss, R->gw, sizeof(R->gw));
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = now_ms();
	if (relay_map_init(&R->map, cfg->max_clients, seed) < 0 ||
	    relay_peers_init(&R->peers, (size_t)cfg->max_clients * 2 + 64, seed ^ 0x5a5a) < 0)
		return -1;
	for (size_t i = 0; i < RELAY_UDP_BATCH; i++)
		if (!(R->ubufs[i] = malloc(RELAY_UDP_BUF)))
			return -1;
	R->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (R->epfd < 0 || signals_open() < 0)
		return -1;
	if (cfg->listen_tls.len && relay_tls_init(&R->tls, cfg->cert, cfg->key) < 0)
		return -1;
	R->nlis = 1;
	if (listener_open(&R->lis[0], &cfg->listen, false) < 0)
		return -1;
	if (cfg->listen_tls.len) {
		R->nlis = 2;
		if (listener_open(&R->lis[1], &cfg->listen_tls, true) < 0)
			return -1;
	}
	log_info("relay: forwarding to udp %s (max %u clients, %u streams and %u sessions per "
		 "address, idle %us, prefix timeout %us, queue %zu bytes per client, %zu in all with "
		 "partial frames, new IKE SAs %u a minute per address and %u in all)", R->gw, cfg->max_clients,
		 cfg->conns_per_addr, cfg->sess_per_addr, cfg->idle_s, cfg->prefix_timeout_s,
		 cfg->max_queue, cfg->queue_total, cfg->init_rate, cfg->init_total);
	return 0;
}

static void relay_teardown(void)
{
	for (size_t i = 0; i < R->map.max; i++)
		if (R->map.sess && R->map.sess[i].id)
			rl_sess_free(R->map.sess[i].ctx, "shutdown");
	while (R->conns)
		rl_conn_close(R->conns, "shutdown");
	bury();
	for (size_t i = 0; i < R->nlis; i++)
		if (R->lis[i].fd >= 0)
			close(R->lis[i].fd);
	if (R->sigfd >= 0)
		close(R->sigfd);
	if (R->epfd >= 0)
		close(R->epfd);
	for (size_t i = 0; i < RELAY_UDP_BATCH; i++)
		free(R->ubufs[i]);
	relay_tls_free(R->tls);
	relay_map_fini(&R->map);
	relay_peers_fini(&R->peers);
}

/*
 * After binding (and reading the TLS key) the relay needs no privilege at
 * all: its per-client UDP sockets use ephemeral ports.
 */
static int drop_root(const struct relay_cfg *cfg)
{
	char err[256];

	if (!cfg->drop)
		return 0;
	if (privdrop_become(&cfg->run_as, NULL, 0, err, sizeof(err)) < 0) {
		log_err("relay: %s", err);
		return -1;
	}
	log_info("relay: running as %s (uid %u) without capabilities", cfg->run_as.name,
		 (unsigned)cfg->run_as.uid);
	return 0;
}

int relay_run(const struct relay_cfg *cfg)
{
	char lis[2 * sizeof(R->lis[0].name) + 16];
	int ret = -1;

	R = calloc(1, sizeof(*R));
	if (!R)
		return -1;
	R->epfd = -1;
	R->lis[0].fd = R->lis[1].fd = -1;
	if (relay_setup(cfg) < 0 || drop_root(cfg) < 0)
		goto done;
	snprintf(lis, sizeof(lis), "%s%s%s", R->lis[0].name, R->nlis > 1 ? " and tls " : "",
		 R->nlis > 1 ? R->lis[1].name : "");
	sdnotify_ready("listening on %s, forwarding to udp %s", lis, R->gw);
	ret = loop();
	sdnotify_send("STOPPING=1");
	log_info("relay: stopping: closing %u clients and %zu sessions (%" PRIu64 " accepted, %"
		 PRIu64 " refused, %" PRIu64 " closed to make room, %" PRIu64 " reattached, %" PRIu64
		 " closed with a partial frame over the budget; frames dropped: %" PRIu64 " naming a "
		 "live session, %" PRIu64 " new IKE SAs over the rate, %" PRIu64 " over the queue "
		 "budget; budget peak %zu of %zu bytes, queues and partial frames)", R->nconns,
		 R->map.count, R->accepted, R->refused, R->evicted, R->reattached,
		 R->budget.partial_refused, R->live_drops, R->init_drops, R->budget_drops,
		 R->budget.peak, R->budget.total);
done:
	relay_teardown();
	free(R);
	R = NULL;
	return ret;
}
