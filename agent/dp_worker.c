/*
 * The outbound direction on a second core ([tunnel] threads).
 *
 * On a UDP path with outbound traffic of more than 16 Mbit/s the worker
 * thread reads the tun, splits, encrypts and sends (dp_tx_run() with a
 * sendmmsg of its own), while the loop thread receives, decrypts, writes
 * the tun and runs IKE: encryption and decryption each have a core. Below
 * 4 Mbit/s (a quiet tunnel, the ACKs of a download), on a stream (TCP,
 * TLS), and before there is a Child SA, the loop thread does both: the
 * worker's wakeups would cost more than they give, and a stream's output
 * belongs to the thread that owns the connection.
 *
 * Exactly one thread owns the outbound direction at a time (the tun's
 * reads, the tx buffers, the current Child SA's outbound ESP state).
 * dp_tx_sync() is the one place that moves it: it computes the owner and
 * what it needs from the session and, when that changed, hands it over:
 *
 *   loop -> worker   stop watching the tun; publish the new conf
 *   worker -> *      publish the new conf, wait until the worker has read
 *                    it (it then no longer touches the old one)
 *
 * A conf is published by writing it and then bumping gen (release); the
 * worker reads gen (acquire), copies the conf and stores seen = gen
 * (release); the loop thread writes the conf again only after seeing
 * seen == gen (acquire). The worker checks gen before each batch, and a
 * batch is bounded (non-blocking fds, DP_RX_PLAIN reads), so a handover
 * waits at most one batch. Nothing on the hot path takes a lock.
 *
 * The worker sends on its own dup() of the path's NAT-T socket: a path
 * that closes its socket does not pull the fd from under it; until the next
 * sync it sends to where the session sent a moment ago.
 *
 * The worker tells the loop thread of drops, a tun failure and a needed
 * rekey through atomics and an eventfd (on_tell). dp_tx_sync() is called
 * at every Child SA install and removal, when the tun comes and goes, and
 * after each round of the loop (path changes, the outbound rate).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/session.h"
#include "transport/udp.h"
#include "util/log.h"

#define WORKER_STACK		(256 * 1024)
#define WORKER_SYNC_WAIT_MS	2000	/* one batch takes microseconds */
#define DP_RATE_WINDOW_MS	500
#define DP_WORKER_ON_BPS	(2 * 1000 * 1000)	/* 16 Mbit/s out: the worker encrypts */
#define DP_WORKER_OFF_BPS	(500 * 1000)	/* below 4 Mbit/s: back on the loop */

/* What the outbound owner needs; published by the loop thread. */
struct dp_conf {
	int tun_fd;			/* -1: park */
	bool stop;
	struct session_child *c;	/* NULL: drop */
	int fd;				/* the worker's dup of the NAT-T socket */
};

struct dp_worker {
	pthread_t thread;
	_Atomic bool dead;		/* the worker thread ended on an error */
	int wake;			/* eventfd: loop -> worker (a new conf) */
	int tell;			/* eventfd: worker -> loop (see the atomics below) */
	/* handover */
	struct dp_conf conf;		/* written by the loop thread while seen == gen */
	_Atomic uint64_t gen, seen;
	/* worker -> loop */
	_Atomic uint64_t drops, supersegs;
	_Atomic int tun_err;
	_Atomic bool rekey;
	/* the worker's own */
	struct datapath *dp;
	struct tun_dev tun;		/* a copy: fd and vnet */
	struct udp_offload off;
};

/* ---- the worker thread ---------------------------------------------------- */

/* The worker's own view of what to send on (its copy of the conf, never w->conf). */
struct worker_out {
	struct dp_worker *w;
	int fd;
};

static int worker_send(void *ctx, const struct iovec *pkts, unsigned n)
{
	static struct log_ratelimit rl;
	struct worker_out *o = ctx;
	int sent = udp_send_batch_gso(o->fd, &o->w->off, pkts, n);

	if (sent < 0 && errno != EAGAIN && log_ratelimit_ok(&rl, 10))
		log_warn("udp: send to gateway: %s", strerror(errno));
	return sent;
}

static void tell_loop(struct dp_worker *w)
{
	uint64_t one = 1;

	if (write(w->tell, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("dp: worker cannot wake the loop: %s", strerror(errno));
}

static void *worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct dp_conf cur = { .tun_fd = -1, .fd = -1 };
	uint64_t seen = 0;

	for (;;) {
		uint64_t g = atomic_load_explicit(&w->gen, memory_order_acquire);
		struct pollfd pf[2] = { { .fd = w->wake, .events = POLLIN } };
		struct worker_out out;
		struct dp_tx tx;
		uint64_t v;

		if (g != seen) {
			cur = w->conf;
			seen = g;
			w->tun.fd = cur.tun_fd;
			atomic_store_explicit(&w->seen, g, memory_order_release);
		}
		if (cur.stop)
			break;
		pf[1] = (struct pollfd){ .fd = cur.tun_fd, .events = POLLIN };
		if (poll(pf, cur.tun_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("dp: worker thread: poll: %s; the loop thread takes over",
				strerror(errno));
			break;
		}
		if (pf[0].revents & POLLIN) {
			if (read(w->wake, &v, sizeof(v)) < 0 && errno != EAGAIN) {
				log_err("dp: worker thread: eventfd: %s; the loop thread takes over",
					strerror(errno));
				break;
			}
			continue;	/* look at gen first */
		}
		if (cur.tun_fd < 0 || !(pf[1].revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		out = (struct worker_out){ .w = w, .fd = cur.fd };
		tx = (struct dp_tx){ .dp = w->dp, .tun = &w->tun, .c = cur.c, .send = worker_send,
				     .send_ctx = &out };
		dp_tx_run(&tx);
		if (tx.out.drops)
			atomic_fetch_add_explicit(&w->drops, tx.out.drops, memory_order_relaxed);
		if (tx.out.supersegs)
			atomic_fetch_add_explicit(&w->supersegs, tx.out.supersegs,
						  memory_order_relaxed);
		if (tx.out.rekey || tx.out.tun_err) {
			if (tx.out.rekey)
				atomic_store(&w->rekey, true);
			if (tx.out.tun_err)
				atomic_store(&w->tun_err, tx.out.tun_err);
			tell_loop(w);
		}
		if (tx.out.tun_err) {
			/* Parked until the loop thread takes the tun away. */
			w->tun.fd = cur.tun_fd = -1;
		}
	}
	if (!cur.stop) {
		atomic_store(&w->dead, true);	/* publish() stops waiting, sync falls back */
		tell_loop(w);
	}
	return NULL;
}

/* ---- the loop thread -------------------------------------------------------- */

static void on_tell(void *ctx, uint32_t events)
{
	struct session *s = ctx;
	struct dp_worker *w = s->worker;
	struct dp_tx_out o = { 0 };
	uint64_t v;
	(void)events;

	if (read(w->tell, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("dp: worker eventfd: %s", strerror(errno));
	o.rekey = atomic_exchange(&w->rekey, false);
	o.tun_err = atomic_exchange(&w->tun_err, 0);
	dp_tx_account(s, &o);
}

/* Publish w->conf as it is now and wait until the worker has it. */
static int publish(struct dp_worker *w)
{
	uint64_t g = atomic_load_explicit(&w->gen, memory_order_relaxed) + 1;
	uint64_t one = 1, until = loop_now_ms() + WORKER_SYNC_WAIT_MS;

	atomic_store_explicit(&w->gen, g, memory_order_release);
	if (write(w->wake, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -1;
	while (atomic_load_explicit(&w->seen, memory_order_acquire) != g) {
		if (atomic_load(&w->dead)) {
			errno = ESRCH;
			return -1;
		}
		if (loop_now_ms() > until) {
			errno = ETIMEDOUT;
			return -1;
		}
		sched_yield();
	}
	return 0;
}

static int worker_start(struct session *s)
{
	struct dp_worker *w = calloc(1, sizeof(*w));
	pthread_attr_t attr;
	sigset_t all, old;
	int rc;

	if (!w)
		return -1;
	w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->tell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->conf = (struct dp_conf){ .tun_fd = -1, .fd = -1 };
	w->dp = &s->dp;
	w->tun = s->tun;
	w->tun.fd = -1;
	if (w->wake < 0 || w->tell < 0 || loop_add_fd(s->loop, w->tell, EPOLLIN, on_tell, s) < 0)
		goto fail;
	/* Signals stay with the loop thread's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	rc = pthread_create(&w->thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		loop_del_fd(s->loop, w->tell);
		errno = rc;
		goto fail;
	}
	s->worker = w;
	log_info("dp: outbound worker thread started (encryption on its own core)");
	return 0;
fail:
	if (w->wake >= 0)
		close(w->wake);
	if (w->tell >= 0)
		close(w->tell);
	free(w);
	return -1;
}

static void fold_counters(struct session *s)
{
	struct dp_worker *w = s->worker;

	s->st.drops += atomic_exchange_explicit(&w->drops, 0, memory_order_relaxed);
	s->st.supersegs += atomic_exchange_explicit(&w->supersegs, 0, memory_order_relaxed);
}

/* Who should own the outbound direction now, and with what. */
/* Inner bytes sent so far: the session's and its Child SAs' (the worker's, read whole). */
static uint64_t bytes_out(const struct session *s)
{
	uint64_t n = s->st.bytes_out;

	for (size_t i = 0; i < SESSION_CHILDREN; i++)
		if (s->child[i].used)
			n += esp_sa_bytes(&s->child[i].out);
	return n;
}

/*
 * Is the outbound direction busy enough for a core of its own? A second
 * thread costs a wakeup (two context switches) per batch: worth it for an
 * upload, not for the ACKs of a download or a quiet tunnel, which the
 * loop thread sends between two receive batches for free. Measured over
 * DP_RATE_WINDOW_MS, with hysteresis so it does not flap.
 */
static bool tx_heavy(struct session *s)
{
	struct dp_rate *r = &s->tx_rate;
	uint64_t now = loop_now_ms(), n, bps;

	if (r->t0_ms == 0 || now < r->t0_ms) {
		r->t0_ms = now;
		r->bytes0 = bytes_out(s);
		return r->heavy;
	}
	if (now - r->t0_ms < DP_RATE_WINDOW_MS)
		return r->heavy;
	n = bytes_out(s);
	bps = n >= r->bytes0 ? (n - r->bytes0) * 1000 / (now - r->t0_ms) : 0;
	r->t0_ms = now;
	r->bytes0 = n;
	if (!r->heavy && bps >= DP_WORKER_ON_BPS) {
		r->heavy = true;
		log_info("dp: %" PRIu64 " Mbit/s out: encryption moves to the worker thread",
			 bps * 8 / 1000000);
	} else if (r->heavy && bps < DP_WORKER_OFF_BPS) {
		r->heavy = false;
		log_info("dp: %" PRIu64 " Mbit/s out: encryption back on the loop thread",
			 bps * 8 / 1000000);
	}
	return r->heavy;
}

static bool want_worker(struct session *s, struct session_child **c)
{
	*c = NULL;
	if (!s->cfg->tunnel.threads || (s->worker && atomic_load(&s->worker->dead)) || !s->tun_active || s->tun.fd < 0 || !s->path ||
	    s->path->kind != CONFIG_TRANSPORT_UDP || !path_esp_ready(s->path) || !tx_heavy(s))
		return false;
	*c = dp_child_current(s);
	return *c != NULL;
}

int dp_tx_sync(struct session *s)
{
	struct dp_worker *w = s->worker;
	struct session_child *c;
	bool to_worker = want_worker(s, &c);
	bool to_loop = !to_worker && s->tun_active && s->tun.fd >= 0;

	/* Unchanged? (The fd is compared as the path's: the worker holds a dup of it.) */
	if (to_worker && w && w->conf.tun_fd == s->tun.fd && w->conf.c == c &&
	    s->tx_udp_fd == s->path->sk_nat.fd)
		return 0;
	if (!to_worker && s->tun_in_loop == to_loop && (!w || w->conf.tun_fd < 0))
		return 0;

	/* Take it from its owner. */
	if (s->tun_in_loop) {
		loop_del_fd(s->loop, s->tun.fd);
		s->tun_in_loop = false;
	}
	if (w && w->conf.tun_fd >= 0) {
		int old_fd = w->conf.fd;

		w->conf = (struct dp_conf){ .tun_fd = -1, .fd = -1 };
		if (publish(w) < 0)
			log_err("dp: worker did not let go of the outbound direction: %s",
				strerror(errno));	/* cannot happen: see above */
		if (old_fd >= 0)
			close(old_fd);
		s->tx_udp_fd = -1;
		fold_counters(s);
	}

	/* Give it to the new one. */
	if (to_worker && !w && worker_start(s) < 0) {
		log_warn("dp: cannot start the outbound worker (%s); one thread does both directions",
			 strerror(errno));
		to_worker = false;
		to_loop = true;
	}
	w = s->worker;
	if (to_worker) {
		int fd = dup(s->path->sk_nat.fd);

		if (fd >= 0) {
			w->tun = s->tun;
			w->off = s->path->sk_nat.off;
			w->conf = (struct dp_conf){ .tun_fd = s->tun.fd, .c = c, .fd = fd };
			if (publish(w) == 0) {
				s->tx_udp_fd = s->path->sk_nat.fd;
				return 0;
			}
			log_err("dp: worker did not take the outbound direction: %s", strerror(errno));
			w->conf = (struct dp_conf){ .tun_fd = -1, .fd = -1 };
			close(fd);
		}
		to_loop = true;
	}
	if (to_loop) {
		if (loop_add_fd(s->loop, s->tun.fd, EPOLLIN, dp_tun_event, s) < 0) {
			log_err("tun: cannot watch %s: %s", s->tun.name, strerror(errno));
			return -1;
		}
		s->tun_in_loop = true;
	}
	return 0;
}

bool dp_worker_active(const struct session *s)
{
	return s->worker && s->worker->conf.tun_fd >= 0;
}

void dp_worker_peek(const struct session *s, struct session_stats *st)
{
	struct dp_worker *w = s->worker;

	if (!w)
		return;
	st->drops += atomic_load_explicit(&w->drops, memory_order_relaxed);
	st->supersegs += atomic_load_explicit(&w->supersegs, memory_order_relaxed);
}

void dp_worker_stop(struct session *s)
{
	struct dp_worker *w = s->worker;

	int old_fd;

	if (!w)
		return;
	old_fd = w->conf.fd;
	w->conf = (struct dp_conf){ .tun_fd = -1, .fd = -1, .stop = true };
	if (publish(w) < 0)
		log_err("dp: worker does not stop: %s", strerror(errno));
	pthread_join(w->thread, NULL);
	if (old_fd >= 0)
		close(old_fd);
	fold_counters(s);
	loop_del_fd(s->loop, w->tell);
	close(w->tell);
	close(w->wake);
	free(w);
	s->worker = NULL;
	s->tx_udp_fd = -1;
}
