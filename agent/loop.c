#include "agent/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define LOOP_MAX_FDS 64	/* control clients take up to CTL_MAX_CLIENTS + CTL_MAX_SUBS */

struct loop_fd {
	int fd;
	uint32_t gen;	/* bumped on every add and delete: stale events are dropped */
	loop_fd_cb cb;
	void *ctx;
};

struct loop {
	int epfd;
	bool stop;
	struct loop_fd fds[LOOP_MAX_FDS];
	struct loop_timer *timers;	/* unsorted list: a client has few timers */
	int sigfd;
	void (*sig_cb)(void *ctx, int signo);
	void *sig_ctx;
	int resume_fd;			/* timerfd on CLOCK_BOOTTIME, see loop_watch_resume() */
	int64_t boot_offset_ms;		/* CLOCK_BOOTTIME - CLOCK_MONOTONIC at the last look */
	void (*resume_cb)(void *ctx, uint64_t slept_ms);
	void *resume_ctx;
	loop_timer_cb round_cb;		/* after each round, see loop_on_round() */
	void *round_ctx;
};

static int64_t clock_ms(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t loop_now_ms(void)
{
	return (uint64_t)clock_ms(CLOCK_MONOTONIC);
}

uint64_t loop_slept_ms(int64_t *offset_ms, int64_t boot_ms, int64_t mono_ms)
{
	int64_t now = boot_ms - mono_ms, d = now - *offset_ms;

	*offset_ms = now;
	return d >= LOOP_RESUME_MIN_MS ? (uint64_t)d : 0;
}


struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->sigfd = -1;
	l->resume_fd = -1;
	for (int i = 0; i < LOOP_MAX_FDS; i++)
		l->fds[i].fd = -1;
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->resume_fd >= 0)
		close(l->resume_fd);
	close(l->epfd);
	free(l);
}

static struct loop_fd *loop_slot(struct loop *l, int fd)
{
	for (int i = 0; i < LOOP_MAX_FDS; i++)
		if (l->fds[i].fd == fd)
			return &l->fds[i];
	return NULL;
}

/* epoll's data: the slot index and its generation, never a bare pointer. */
static uint64_t slot_key(const struct loop *l, const struct loop_fd *s)
{
	return (uint64_t)s->gen << 32 | (uint64_t)(s - l->fds);
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *ctx)
{
	/*
	 * A slot still holding this fd number belongs to a descriptor that was
	 * closed without loop_del_fd (closing removed it from epoll): take it over
	 * rather than leave it to shadow the new one.
	 */
	struct loop_fd *s = fd >= 0 ? loop_slot(l, fd) : NULL;
	struct epoll_event ev = { .events = events };

	if (!s)
		s = loop_slot(l, -1);
	if (!s || fd < 0)
		return -1;
	s->gen++;
	ev.data.u64 = slot_key(l, s);
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		s->fd = -1;
		return -1;
	}
	s->fd = fd;
	s->cb = cb;
	s->ctx = ctx;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	struct loop_fd *s = loop_slot(l, fd);
	struct epoll_event ev = { .events = events };

	if (!s || fd < 0)
		return -1;
	ev.data.u64 = slot_key(l, s);
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void loop_del_fd(struct loop *l, int fd)
{
	struct loop_fd *s = fd >= 0 ? loop_slot(l, fd) : NULL;

	if (!s)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	s->fd = -1;
	s->gen++;
	s->cb = NULL;
}

void loop_timer_init(struct loop_timer *t, const char *name, loop_timer_cb cb, void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->cb = cb;
	t->ctx = ctx;
}

static bool loop_timer_listed(struct loop *l, struct loop_timer *t)
{
	for (struct loop_timer *i = l->timers; i; i = i->next)
		if (i == t)
			return true;
	return false;
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t in_ms)
{
	t->due_ms = loop_now_ms() + in_ms;
	if (t->due_ms == 0)
		t->due_ms = 1;
	if (!loop_timer_listed(l, t)) {
		t->next = l->timers;
		l->timers = t;
	}
}

void loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
	struct loop_timer **pp;

	t->due_ms = 0;
	for (pp = &l->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			t->next = NULL;
			return;
		}
	}
}

static void loop_sig_event(void *ctx, uint32_t events)
{
	struct loop *l = ctx;
	struct signalfd_siginfo si;

	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (l->sig_cb)
			l->sig_cb(l->sig_ctx, (int)si.ssi_signo);
}

/*
 * CLOCK_MONOTONIC stands still while the system sleeps, CLOCK_BOOTTIME
 * does not: a timer on the latter has expired during a suspend and wakes
 * us right after the resume, when the two clocks are further apart.
 */
static void loop_resume_event(void *ctx, uint32_t events)
{
	struct loop *l = ctx;
	uint64_t n, slept;

	while (read(l->resume_fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
		;
	slept = loop_slept_ms(&l->boot_offset_ms, clock_ms(CLOCK_BOOTTIME),
			      clock_ms(CLOCK_MONOTONIC));
	if (slept && l->resume_cb)
		l->resume_cb(l->resume_ctx, slept);
}

int loop_watch_resume(struct loop *l, void (*cb)(void *ctx, uint64_t slept_ms), void *ctx)
{
	struct itimerspec its = { .it_interval = { LOOP_RESUME_CHECK_MS / 1000, 0 },
				  .it_value = { LOOP_RESUME_CHECK_MS / 1000, 0 } };

	l->resume_fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->resume_fd < 0 || timerfd_settime(l->resume_fd, 0, &its, NULL) < 0)
		return -1;
	l->boot_offset_ms = clock_ms(CLOCK_BOOTTIME) - clock_ms(CLOCK_MONOTONIC);
	l->resume_cb = cb;
	l->resume_ctx = ctx;
	return loop_add_fd(l, l->resume_fd, EPOLLIN, loop_resume_event, l);
}

int loop_watch_signals(struct loop *l, void (*cb)(void *ctx, int signo), void *ctx)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0)
		return -1;
	l->sig_cb = cb;
	l->sig_ctx = ctx;
	return loop_add_fd(l, l->sigfd, EPOLLIN, loop_sig_event, l);
}

/* Fire due timers; return ms until the next one, or -1 if none. */
static int loop_run_timers(struct loop *l)
{
	uint64_t now = loop_now_ms(), next = UINT64_MAX;
	bool fired;

	do {
		fired = false;
		for (struct loop_timer *t = l->timers; t; t = t->next) {
			if (t->due_ms && t->due_ms <= now) {
				loop_timer_disarm(l, t);
				t->cb(t->ctx);
				fired = true;
				break;	/* the callback may have changed the list */
			}
		}
		now = loop_now_ms();
	} while (fired && !l->stop);
	for (struct loop_timer *t = l->timers; t; t = t->next)
		if (t->due_ms && t->due_ms < next)
			next = t->due_ms;
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[16];

	l->stop = false;
	while (!l->stop) {
		int timeout = loop_run_timers(l), n;

		if (l->stop)
			break;
		n = epoll_wait(l->epfd, evs, 16, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("loop: epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n && !l->stop; i++) {
			uint64_t key = evs[i].data.u64;
			struct loop_fd *s = &l->fds[(uint32_t)key % LOOP_MAX_FDS];

			/* An event for a slot deleted or reused earlier in this batch is stale. */
			if (s->fd >= 0 && s->cb && s->gen == (uint32_t)(key >> 32))
				s->cb(s->ctx, evs[i].events);
		}
		if (l->round_cb && !l->stop)
			l->round_cb(l->round_ctx);
	}
	return 0;
}

void loop_on_round(struct loop *l, loop_timer_cb cb, void *ctx)
{
	l->round_cb = cb;
	l->round_ctx = ctx;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
