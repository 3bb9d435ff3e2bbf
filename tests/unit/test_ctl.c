/*
 * The control socket's server never waits for a client: a client that
 * trickles its request (one byte every 190 ms) must not hold up the loop's
 * timers or other clients, and is closed at its deadline; event listeners
 * that do not read are dropped instead of blocking ctl_broadcast().
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/ctl.h"
#include "agent/loop.h"
#include "tests/unit/check_main.h"

static char sock_path[64];

static int handler(void *ctx, const char *request, char *reply, size_t cap)
{
	if (strcmp(request, "events") == 0) {
		snprintf(reply, cap, "{\"hello\":1}\n");
		return CTL_SUBSCRIBE;
	}
	snprintf(reply, cap, "ok %s\n", request);
	return 0;
}

static struct ctl_server *server(struct loop **l)
{
	struct ctl_server *s;

	snprintf(sock_path, sizeof(sock_path), "/tmp/ikeagent-ctl-%d.sock", (int)getpid());
	*l = loop_new();
	ck_assert_ptr_nonnull(*l);
	s = ctl_server_open(*l, sock_path, CTL_NO_GROUP, handler, NULL);
	ck_assert_ptr_nonnull(s);
	return s;
}

static void on_stop(void *ctx)
{
	loop_stop(ctx);
}

/* Run the loop for ms. */
static void run_for(struct loop *l, uint64_t ms)
{
	struct loop_timer t;

	loop_timer_init(&t, "test stop", on_stop, l);
	loop_timer_arm(l, &t, ms);
	ck_assert_int_eq(loop_run(l), 0);
	loop_timer_disarm(l, &t);
}

/*
 * A child that sends n bytes of a request with no newline, one every
 * period_ms, then waits. It writes one byte to ready after its first byte
 * and exits with the tenths of a second after which the agent closed the
 * connection (255: not within the trickle and 2 s more).
 */
static pid_t trickler(unsigned n, unsigned period_ms, int ready)
{
	pid_t pid = fork();
	uint64_t start;
	int fd;

	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	fd = ctl_connect(sock_path);
	if (fd < 0)
		_exit(254);
	start = loop_now_ms();
	for (unsigned i = 0; i < n + 2000 / period_ms; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

		if (i < n && send(fd, "s", 1, MSG_NOSIGNAL) != 1)
			break;
		if (i == 0 && write(ready, "r", 1) != 1)
			_exit(253);
		if (poll(&p, 1, (int)period_ms) == 1) {
			char b[64];

			if (read(fd, b, sizeof(b)) <= 0)
				break;
		}
	}
	if (loop_now_ms() - start >= (uint64_t)(n * period_ms + 1900))
		_exit(255);
	_exit((int)((loop_now_ms() - start) / 100));
}

/* A child asking "status"; exits 0 if the answer came, right, within 1 s. */
static pid_t requester(void)
{
	pid_t pid = fork();
	char out[256];
	uint64_t start;
	int rc;

	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	start = loop_now_ms();
	rc = ctl_request(sock_path, "status", out, sizeof(out));
	if (rc != 0 || strcmp(out, "ok status\n") != 0)
		_exit(2);
	_exit(loop_now_ms() - start <= 1000 ? 0 : 1);
}

static int child_status(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void wait_ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b;

	ck_assert_int_eq(poll(&p, 1, 2000), 1);
	ck_assert_int_eq(read(fd, &b, 1), 1);
}

struct fired {
	struct loop *l;
	uint64_t at;
};

static void on_fire(void *ctx)
{
	struct fired *f = ctx;

	f->at = loop_now_ms();
}

/*
 * The review's finding: one byte every 190 ms stalled the IKE timers for
 * seconds (the old server waited up to 200 ms for each next byte). 150 ms
 * here keeps such a server stuck whatever the scheduler's jitter.
 */
START_TEST(slow_loris_does_not_stall_timers)
{
	struct loop *l;
	struct ctl_server *s = server(&l);
	struct fired f = { .l = l };
	struct loop_timer t;
	int ready[2];
	pid_t slow, quick;
	uint64_t start;

	ck_assert_int_eq(pipe(ready), 0);
	slow = trickler(20, 150, ready[1]);
	wait_ready(ready[0]);
	quick = requester();
	loop_timer_init(&t, "test probe", on_fire, &f);
	start = loop_now_ms();
	loop_timer_arm(l, &t, 500);
	run_for(l, 1500);
	ck_assert_msg(f.at, "a 500 ms timer did not fire within 1500 ms");
	ck_assert_msg(f.at - start <= 600, "a 500 ms timer fired after %llu ms",
		      (unsigned long long)(f.at - start));
	ck_assert_int_eq(child_status(quick), 0);	/* answered within 1 s */
	kill(slow, SIGKILL);
	ck_assert_int_eq(waitpid(slow, NULL, 0), slow);
	ctl_server_close(s);
	loop_free(l);
}
END_TEST

/* A request not complete within CTL_CLIENT_DEADLINE_MS: the connection is closed. */
START_TEST(incomplete_request_closed_at_deadline)
{
	struct loop *l;
	struct ctl_server *s = server(&l);
	int ready[2], ds;
	pid_t slow;

	ck_assert_int_eq(pipe(ready), 0);
	slow = trickler(30, 190, ready[1]);
	wait_ready(ready[0]);
	run_for(l, CTL_CLIENT_DEADLINE_MS + 800);
	ds = child_status(slow);
	ck_assert_msg(ds >= CTL_CLIENT_DEADLINE_MS / 100 - 2 && ds <= CTL_CLIENT_DEADLINE_MS / 100 + 4,
		      "closed after %d00 ms (255: not closed)", ds);
	ctl_server_close(s);
	loop_free(l);
}
END_TEST

static int client_send(const char *text)
{
	int fd = ctl_connect(sock_path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
	return fd;
}

/* Read what has arrived: its length, 0 at EOF, -1 if nothing yet. */
static ssize_t drain(int fd, char *buf, size_t cap)
{
	ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);

	if (n < 0 && errno == ECONNRESET)
		return 0;
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Listeners get every line; one that stops reading is dropped, broadcasts never wait. */
START_TEST(event_listeners_and_a_slow_one)
{
	struct loop *l;
	struct ctl_server *s = server(&l);
	char buf[CTL_OUT_MAX * 2], line[1000];
	int good = client_send("events\n"), slow = client_send("events\n");
	uint64_t start;
	ssize_t n;

	run_for(l, 100);
	ck_assert_int_gt(drain(good, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "{\"hello\":1}\n");
	ctl_broadcast(s, "{\"state\":\"up\"}\n");
	ck_assert_int_gt(drain(good, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "{\"state\":\"up\"}\n");

	/* slow never reads: its socket and then its backlog fill up */
	memset(line, 'x', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	start = loop_now_ms();
	for (int i = 0; i < 1000; i++) {
		ctl_broadcast(s, line);
		if (i % 8 == 0)
			while (drain(good, buf, sizeof(buf)) > 0)
				;
	}
	ck_assert_uint_le(loop_now_ms() - start, 500);
	while (drain(good, buf, sizeof(buf)) > 0)
		;
	/* good is still subscribed; slow was dropped: its stream ends */
	ctl_broadcast(s, "{\"state\":\"down\"}\n");
	ck_assert_int_gt(drain(good, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "{\"state\":\"down\"}\n");
	while ((n = drain(slow, buf, sizeof(buf))) > 0)
		;
	ck_assert_int_eq(n, 0);
	close(good);
	close(slow);
	ctl_server_close(s);
	loop_free(l);
}
END_TEST

/* At most CTL_MAX_CLIENTS requests at a time: the next is closed at once. */
START_TEST(too_many_clients_refused)
{
	struct loop *l;
	struct ctl_server *s = server(&l);
	int fds[CTL_MAX_CLIENTS + 1];
	char buf[64];

	for (int i = 0; i <= CTL_MAX_CLIENTS; i++)
		fds[i] = client_send("st");
	run_for(l, 200);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		ck_assert_int_eq(drain(fds[i], buf, sizeof(buf)), -1);	/* still waited for */
	ck_assert_int_eq(drain(fds[CTL_MAX_CLIENTS], buf, sizeof(buf)), 0);
	/* a finished request makes room */
	ck_assert_int_eq(send(fds[0], "atus\n", 5, MSG_NOSIGNAL), 5);
	run_for(l, 100);
	ck_assert_int_gt(drain(fds[0], buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf + 1, "ok status\n");
	for (int i = 0; i <= CTL_MAX_CLIENTS; i++)
		close(fds[i]);
	ctl_server_close(s);
	loop_free(l);
}
END_TEST

static Suite *ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("server");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, slow_loris_does_not_stall_timers);
	tcase_add_test(tc, incomplete_request_closed_at_deadline);
	tcase_add_test(tc, event_listeners_and_a_slow_one);
	tcase_add_test(tc, too_many_clients_refused);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ctl_suite)
