/*
 * The privileged helper (tun/priv.c) as the agent uses it: started as
 * root, after which the process becomes nobody with CAP_NET_ADMIN only
 * (util/privdrop.c). Runs as root in a private network namespace. A drop
 * cannot be undone, so each scenario runs in a child process that reports
 * the first step that failed as its exit status; the parent, still root,
 * checks what the helper left behind.
 */
#include "tests/unit/test_tun.h"

#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "util/privdrop.h"

/* A hook that logs its arguments and the uid it ran as. */
static void uid_hook(const char *dir, char *path, size_t cap)
{
	static const char body[] =
		"#!/bin/sh\n"
		"d=$(dirname \"$0\")\n"
		"echo \"$1 $2 $(id -u)\" >> \"$d/log\"\n";

	ck_assert_uint_lt((size_t)snprintf(path, cap, "%s/hook", dir), cap);
	tt_write(path, body, 0700);	/* root only, as an admin's hook may be */
}

static int become_nobody(void)
{
	static const int keep[] = { CAP_NET_ADMIN };
	struct privdrop_id id;
	char err[256];

	if (privdrop_user("nobody", &id) < 0 || privdrop_become(&id, keep, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "drop: %s\n", err);
		return -1;
	}
	return 0;
}

/* "CapEff:\t0000000000001000" from /proc/self/status. */
static unsigned long long cap_eff(void)
{
	char text[4096], *p;

	tt_read("/proc/self/status", text, sizeof(text));
	p = strstr(text, "CapEff:");
	return p ? strtoull(p + 7, NULL, 16) : ~0ULL;
}

/*
 * What the agent does: journal opened as root, helper started, drop; then
 * a tun, an address and DNS, all undone and made again (a rebuild after the
 * gateway changed its assignment), then a clean close.
 */
static int agent_child(const char *dir, const char *hook)
{
	struct tun_dns_cfg cfg = { .hook = hook, .timeout_ms = 5000 };
	struct tun_dns_req req = { .ifname = "ikt0", .n_servers = 1 };
	struct tun_cidr a = tt_cidr("10.77.0.1/32");
	struct tun_journal j;
	struct tun_dev dev;
	struct stat st;
	int fd;

	req.servers[0] = tt_ip("10.0.0.53");
	if (tun_journal_open(&j, dir, "ikt0", &cfg) < 0)
		return 10;
	if (tun_priv_start(&cfg) < 0)
		return 11;
	if (become_nobody() < 0)
		return 12;
	if (getuid() == 0 || cap_eff() != (1ULL << CAP_NET_ADMIN))
		return 13;
	/* Where the node is root-only, we could not open it ourselves any more. */
	if (stat("/dev/net/tun", &st) == 0 && !(st.st_mode & 0006)) {
		fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return 14;
	}
	for (int round = 0; round < 2; round++) {
		if (tun_j_dev_open(&j, &dev, 1400, 0, false) < 0)
			return 20 + round;
		if (tun_j_addr_add(&j, &dev, &a) < 0)
			return 22 + round;
		if (tun_j_dns_up(&j, &req, NULL) < 0)
			return 24 + round;
		if (round == 0 && tun_journal_reset(&j) < 0)
			return 26;
	}
	if (tun_journal_close(&j) < 0)
		return 27;
	tun_priv_stop();
	return tun_priv_active() ? 28 : 0;
}

START_TEST(unprivileged_agent_through_helper)
{
	char dir[64], hook[128], path[128], text[1024];
	int status;
	pid_t pid;

	NEED_NETNS();
	tt_tmpdir(dir, sizeof(dir));
	uid_hook(dir, hook, sizeof(hook));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(agent_child(dir, hook));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "agent child failed at step %d",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	/* The root-only hook ran as root, up and down, twice. */
	tt_read_in(dir, "log", text, sizeof(text));
	ck_assert_str_eq(text, "up ikt0 0\ndown ikt0 0\nup ikt0 0\ndown ikt0 0\n");
	ck_assert_uint_eq(if_nametoindex("ikt0"), 0);
	/* The state directory is root's: the journal could not go, it is left empty. */
	snprintf(path, sizeof(path), "%s/ikt0.state", dir);
	ck_assert(tt_exists(path));
	tt_read(path, text, sizeof(text));
	ck_assert_str_eq(text, "");
	/* The next start (root) finds nothing to undo and removes it. */
	ck_assert_int_eq(tun_journal_recover(dir, "ikt0", NULL), 0);
	ck_assert(!tt_exists(path));
	tt_rmrf(dir);
}
END_TEST

static bool helper_gone(pid_t helper)
{
	return waitpid(helper, NULL, WNOHANG) == helper;
}

/* Bad requests, signals aimed at the group, and the agent's death. */
static int helper_child(const char *hook, int report)
{
	struct tun_dns_cfg cfg = { .hook = hook, .timeout_ms = 5000 };
	struct tun_dns_req bad = { .ifname = "a/b", .n_servers = 1 };
	pid_t helper;

	bad.servers[0] = tt_ip("10.0.0.53");
	if (tun_priv_start(&cfg) < 0)
		return 10;
	helper = tun_priv_pid();
	if (write(report, &helper, sizeof(helper)) != (ssize_t)sizeof(helper))
		return 11;
	if (become_nobody() < 0)
		return 12;
	/* Checked by the helper as well: nothing runs. */
	errno = 0;
	if (tun_dns_apply(&cfg, TUN_DNS_HOOK, &bad, true) == 0 || errno != EINVAL)
		return 13;
	if (tun_dns_apply(&cfg, (enum tun_dns_method)77, &bad, true) == 0)
		return 14;
	/* A stop request (systemd signals the whole group) leaves the helper working. */
	if (kill(helper, SIGTERM) < 0 && errno != EPERM)
		return 15;
	if (tun_dns_choose(&cfg) != TUN_DNS_HOOK)
		return 16;
	return 0;	/* no tun_priv_stop: the helper must notice we are gone */
}

START_TEST(helper_refuses_bad_requests_and_ends_with_agent)
{
	struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	char dir[64], hook[128], text[256];
	int status, fds[2];
	pid_t pid, helper = 0;

	NEED_NETNS();
	tt_tmpdir(dir, sizeof(dir));
	uid_hook(dir, hook, sizeof(hook));
	/* The orphaned helper comes to us, so we can see it exit. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(helper_child(hook, fds[1]));
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &helper, sizeof(helper)), (ssize_t)sizeof(helper));
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed at step %d",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	for (int i = 0; i < 500 && !helper_gone(helper); i++)
		nanosleep(&tick, NULL);
	ck_assert_msg(kill(helper, 0) < 0 && errno == ESRCH, "helper %d still there", (int)helper);
	tt_read_in(dir, "log", text, sizeof(text));
	ck_assert_str_eq(text, "");	/* the bad requests ran nothing */
	tt_rmrf(dir);
}
END_TEST

static Suite *tun_priv_suite(void)
{
	Suite *s = suite_create("tun_priv");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, unprivileged_agent_through_helper);
	tcase_add_test(tc, helper_refuses_bad_requests_and_ends_with_agent);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tun_priv_suite)
