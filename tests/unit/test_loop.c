/* The event loop: timers, fd callbacks, and no event reaching a callback after its fd went. */
#include <sys/epoll.h>
#include <unistd.h>

#include "agent/loop.h"
#include "tests/unit/check_main.h"

struct probe {
	struct loop *l;
	int calls;
	int other_fd;		/* deleted by this callback, if >= 0 */
	int new_fd;		/* then added in its place, if >= 0 */
	struct probe *new_probe;
};


static void on_read(void *ctx, uint32_t events)
{
	struct probe *p = ctx;

	p->calls++;
	if (p->other_fd >= 0) {
		loop_del_fd(p->l, p->other_fd);
		p->other_fd = -1;
		if (p->new_fd >= 0)
			ck_assert_int_eq(loop_add_fd(p->l, p->new_fd, EPOLLIN, on_read, p->new_probe), 0);
	}
}

static void on_timer(void *ctx)
{
	int *order = ctx;

	*order = *order * 10 + 1;
}

static void on_timer2(void *ctx)
{
	int *order = ctx;

	*order = *order * 10 + 2;
}

static void on_stop(void *ctx)
{
	loop_stop(ctx);
}

/* A suspend is CLOCK_BOOTTIME running ahead of CLOCK_MONOTONIC. */
START_TEST(resume_is_boottime_ahead_of_monotonic)
{
	int64_t off = 1000;

	ck_assert_uint_eq(loop_slept_ms(&off, 50000, 49000), 0);	/* no change */
	ck_assert_int_eq(off, 1000);
	ck_assert_uint_eq(loop_slept_ms(&off, 60000, 58990), 0);	/* 10 ms of drift */
	ck_assert_uint_eq(loop_slept_ms(&off, 70000, 68990 - LOOP_RESUME_MIN_MS + 1), 0);
	off = 1000;
	ck_assert_uint_eq(loop_slept_ms(&off, 100000, 57000), 42000);	/* slept 42 s */
	ck_assert_int_eq(off, 43000);
	ck_assert_uint_eq(loop_slept_ms(&off, 100500, 57500), 0);	/* and not twice */
}
END_TEST

static void on_resume_cb(void *ctx, uint64_t slept_ms)
{
	*(uint64_t *)ctx = slept_ms;
}

/* Watching costs one timerfd and reports nothing while the system stays awake. */
START_TEST(resume_watch_is_quiet_awake)
{
	struct loop *l = loop_new();
	struct loop_timer t;
	uint64_t slept = 0;

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(loop_watch_resume(l, on_resume_cb, &slept), 0);
	loop_timer_init(&t, "stop", on_stop, l);
	loop_timer_arm(l, &t, 50);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_uint_eq(slept, 0);
	loop_free(l);
}
END_TEST

START_TEST(timers_fire_in_order)
{
	struct loop *l = loop_new();
	struct loop_timer a, b, stop;
	int order = 0;

	loop_timer_init(&a, "a", on_timer, &order);
	loop_timer_init(&b, "b", on_timer2, &order);
	loop_timer_init(&stop, "stop", on_stop, l);
	loop_timer_arm(l, &b, 20);
	loop_timer_arm(l, &a, 5);
	loop_timer_arm(l, &stop, 40);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(order, 12);
	ck_assert(!loop_timer_armed(&a));
	loop_free(l);
}
END_TEST

/*
 * Two readable fds in one batch; the first callback deletes the second and
 * adds a third, idle fd, which takes the freed slot. The second's pending
 * event must reach nobody: not the deleted fd, not the newcomer.
 */
START_TEST(deleted_fd_gets_no_stale_event)
{
	struct loop *l = loop_new();
	int p1[2], p2[2], p3[2];
	struct loop_timer stop;
	struct probe c = { .l = l, .other_fd = -1, .new_fd = -1 };
	struct probe a = { .l = l, .new_probe = &c }, b = { .l = l, .new_probe = &c };

	ck_assert_int_eq(pipe(p1), 0);
	ck_assert_int_eq(pipe(p2), 0);
	ck_assert_int_eq(pipe(p3), 0);		/* never written: never readable */
	ck_assert_int_eq(write(p1[1], "x", 1), 1);
	ck_assert_int_eq(write(p2[1], "x", 1), 1);
	a.other_fd = p2[0];
	a.new_fd = p3[0];
	b.other_fd = p1[0];
	b.new_fd = p3[0];
	ck_assert_int_eq(loop_add_fd(l, p1[0], EPOLLIN, on_read, &a), 0);
	ck_assert_int_eq(loop_add_fd(l, p2[0], EPOLLIN, on_read, &b), 0);
	loop_timer_init(&stop, "stop", on_stop, l);
	loop_timer_arm(l, &stop, 50);
	ck_assert_int_eq(loop_run(l), 0);
	/* whichever ran first deleted the other; the idle newcomer was never called */
	ck_assert_int_eq(c.calls, 0);
	loop_free(l);
	close(p1[0]); close(p1[1]); close(p2[0]); close(p2[1]); close(p3[0]); close(p3[1]);
}
END_TEST

/*
 * An fd closed without loop_del_fd, whose number comes back for a new fd:
 * the new fd's callback must get its events, also after loop_mod_fd.
 */
START_TEST(reused_fd_number_is_adopted)
{
	struct loop *l = loop_new();
	int p[2], q[2];
	struct loop_timer stop;
	struct probe a = { .l = l, .other_fd = -1, .new_fd = -1 };
	struct probe b = { .l = l, .other_fd = -1, .new_fd = -1 };

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(loop_add_fd(l, p[0], EPOLLIN, on_read, &a), 0);
	close(p[0]);
	ck_assert_int_eq(pipe(q), 0);	/* gets the lowest free number: p[0]'s */
	ck_assert_int_eq(q[0], p[0]);
	ck_assert_int_eq(loop_add_fd(l, q[0], EPOLLIN, on_read, &b), 0);
	ck_assert_int_eq(loop_mod_fd(l, q[0], EPOLLIN), 0);
	ck_assert_int_eq(write(q[1], "x", 1), 1);
	loop_timer_init(&stop, "stop", on_stop, l);
	loop_timer_arm(l, &stop, 30);
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_ge(b.calls, 1);
	loop_free(l);
	close(p[1]); close(q[0]); close(q[1]);
}
END_TEST

static Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, timers_fire_in_order);
	tcase_add_test(tc, deleted_fd_gets_no_stale_event);
	tcase_add_test(tc, reused_fd_number_is_adopted);
	tcase_add_test(tc, resume_is_boottime_ahead_of_monotonic);
	tcase_add_test(tc, resume_watch_is_quiet_awake);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(loop_suite)
