/*
 * The event loop: one epoll set, a handful of timers, signals through a
 * signalfd. Nothing in ikeagent blocks; every socket is non-blocking.
 */
#ifndef IKEAGENT_AGENT_LOOP_H
#define IKEAGENT_AGENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

struct loop;
typedef void (*loop_fd_cb)(void *ctx, uint32_t events);
typedef void (*loop_timer_cb)(void *ctx);

struct loop_timer {
	uint64_t due_ms;	/* 0 = not armed */
	loop_timer_cb cb;
	void *ctx;
	const char *name;
	struct loop_timer *next;
};

struct loop *loop_new(void);
void loop_free(struct loop *l);
uint64_t loop_now_ms(void);	/* CLOCK_MONOTONIC */

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *ctx) MUST_CHECK;
int loop_mod_fd(struct loop *l, int fd, uint32_t events) MUST_CHECK;
void loop_del_fd(struct loop *l, int fd);

void loop_timer_init(struct loop_timer *t, const char *name, loop_timer_cb cb, void *ctx);
void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t in_ms);
void loop_timer_disarm(struct loop *l, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t) { return t->due_ms != 0; }

/* SIGINT/SIGTERM/SIGHUP arrive as calls of cb(ctx, signo). */
int loop_watch_signals(struct loop *l, void (*cb)(void *ctx, int signo), void *ctx) MUST_CHECK;

/*
 * cb(ctx, slept_ms) right after the system resumes from a suspend of at
 * least LOOP_RESUME_MIN_MS (CLOCK_BOOTTIME ran ahead of CLOCK_MONOTONIC);
 * a CLOCK_BOOTTIME timer looks every LOOP_RESUME_CHECK_MS.
 */
#define LOOP_RESUME_MIN_MS	2000
#define LOOP_RESUME_CHECK_MS	10000
int loop_watch_resume(struct loop *l, void (*cb)(void *ctx, uint64_t slept_ms), void *ctx) MUST_CHECK;
/* The arithmetic of it: ms slept since *offset_ms was taken (0: below the minimum); updates it. */
uint64_t loop_slept_ms(int64_t *offset_ms, int64_t boot_ms, int64_t mono_ms);

/* cb(ctx) after each round of timers and events (one callback; NULL: none). */
void loop_on_round(struct loop *l, loop_timer_cb cb, void *ctx);
/* Run until loop_stop(); returns 0, or -1 if epoll failed. */
int loop_run(struct loop *l) MUST_CHECK;
void loop_stop(struct loop *l);

#endif
