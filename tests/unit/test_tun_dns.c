/*
 * DNS hand-over with fake resolvconf/resolvectl/hook scripts and a
 * temporary resolv.conf in /tmp. Nothing here touches the network or the
 * real /etc/resolv.conf, so no namespace is needed.
 */
#include "tests/unit/test_tun.h"

#include <sys/wait.h>
#include <time.h>

struct fx {
	char dir[64];
	char resolvconf[128], resolvectl[128], hook[128], probe[128], resolv[128];
	struct tun_dns_cfg cfg;		/* everything disabled until a test names it */
	struct tun_dns_req req;
	struct tun_journal j;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	tt_tmpdir(f->dir, sizeof(f->dir));
	tt_script(f->dir, "resolvconf", f->resolvconf, sizeof(f->resolvconf));
	tt_script(f->dir, "resolvectl", f->resolvectl, sizeof(f->resolvectl));
	tt_script(f->dir, "hook", f->hook, sizeof(f->hook));
	snprintf(f->probe, sizeof(f->probe), "%s/io.systemd.Resolve", f->dir);
	snprintf(f->resolv, sizeof(f->resolv), "%s/resolv.conf", f->dir);
	f->cfg.timeout_ms = 5000;
	snprintf(f->req.ifname, sizeof(f->req.ifname), "ikt0");
	f->req.servers[0] = tt_ip("10.0.0.53");
	f->req.servers[1] = tt_ip("fd00::53");
	f->req.n_servers = 2;
	snprintf(f->req.domain, sizeof(f->req.domain), "corp.example");
	f->req.full_tunnel = true;
	ck_assert_int_eq(tun_journal_open(&f->j, f->dir, "ikt0", &f->cfg), 0);
}

static void fx_flag(const struct fx *f, const char *name, bool on)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	if (on)
		tt_write(path, "", 0600);
	else
		ck_assert_int_eq(unlink(path), 0);
}

static void fx_log(const struct fx *f, char *buf, size_t cap)
{
	tt_read_in(f->dir, "log", buf, cap);
}

START_TEST(defaults_name_system_paths)
{
	struct tun_dns_cfg cfg;

	tun_dns_cfg_default(&cfg);
	ck_assert_str_eq(cfg.resolvconf, "resolvconf");
	ck_assert_str_eq(cfg.resolvectl, "resolvectl");
	ck_assert_str_eq(cfg.resolv_conf, "/etc/resolv.conf");
	ck_assert_ptr_null(cfg.hook);
	ck_assert(!cfg.rewrite_resolv_conf);
}
END_TEST

START_TEST(resolvconf_preferred)
{
	enum tun_dns_method used;
	struct fx f;
	char text[1024];

	fx_init(&f);
	f.cfg.resolvconf = f.resolvconf;
	f.cfg.resolvectl = f.resolvectl;
	f.cfg.resolved_probe = f.probe;
	f.cfg.hook = f.hook;
	fx_flag(&f, "io.systemd.Resolve", true);
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, &used), 0);
	ck_assert_int_eq(used, TUN_DNS_RESOLVCONF);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "resolvconf -a ikt0.ikeagent\n");
	tt_read_in(f.dir, "stdin", text, sizeof(text));
	ck_assert_str_eq(text, "nameserver 10.0.0.53\nnameserver fd00::53\nsearch corp.example\n");
	ck_assert_int_eq(tun_journal_close(&f.j), 0);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "resolvconf -a ikt0.ikeagent\nresolvconf -d ikt0.ikeagent\n");
	tt_rmrf(f.dir);
}
END_TEST

START_TEST(resolvectl_when_resolved_runs)
{
	enum tun_dns_method used;
	struct fx f;
	char text[1024];

	fx_init(&f);
	f.cfg.resolvectl = f.resolvectl;
	f.cfg.resolved_probe = f.probe;
	fx_flag(&f, "io.systemd.Resolve", true);
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, &used), 0);
	ck_assert_int_eq(used, TUN_DNS_RESOLVECTL);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "resolvectl dns ikt0 10.0.0.53 fd00::53\n"
			       "resolvectl domain ikt0 ~. corp.example\n");
	/* A second up replaces the first: revert, then set again (split now). */
	f.req.full_tunnel = false;
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, &used), 0);
	ck_assert_int_eq(tun_j_dns_down(&f.j), 0);
	ck_assert_int_eq(tun_j_dns_down(&f.j), 0);	/* nothing left: fine */
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "resolvectl dns ikt0 10.0.0.53 fd00::53\n"
			       "resolvectl domain ikt0 ~. corp.example\n"
			       "resolvectl revert ikt0\n"
			       "resolvectl dns ikt0 10.0.0.53 fd00::53\n"
			       "resolvectl domain ikt0 corp.example\n"
			       "resolvectl default-route ikt0 no\n"
			       "resolvectl revert ikt0\n");
	ck_assert_int_eq(tun_journal_close(&f.j), 0);
	tt_rmrf(f.dir);
}
END_TEST

START_TEST(hook_when_resolved_absent)
{
	enum tun_dns_method used;
	struct fx f;
	char text[1024];

	fx_init(&f);
	f.cfg.resolvectl = f.resolvectl;
	f.cfg.resolved_probe = f.probe;	/* does not exist: resolved not running */
	f.cfg.hook = f.hook;
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, &used), 0);
	ck_assert_int_eq(used, TUN_DNS_HOOK);
	tt_read_in(f.dir, "env", text, sizeof(text));
	ck_assert_str_eq(text, "IKEAGENT_DNS=10.0.0.53 fd00::53\nIKEAGENT_DOMAIN=corp.example\n"
			       "IKEAGENT_FULL_TUNNEL=1\nIKEAGENT_TUN=ikt0\n");
	ck_assert_int_eq(tun_journal_close(&f.j), 0);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "hook up ikt0 10.0.0.53 fd00::53\nhook down ikt0 10.0.0.53 fd00::53\n");
	tt_rmrf(f.dir);
}
END_TEST

START_TEST(nothing_found_is_logged_only)
{
	enum tun_dns_method used = TUN_DNS_HOOK;
	struct fx f;
	char text[64];

	fx_init(&f);
	f.cfg.resolvconf = "/nonexistent/resolvconf";
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, &used), 0);
	ck_assert_int_eq(used, TUN_DNS_NONE);
	ck_assert_uint_eq(f.j.n, 0);
	ck_assert_int_eq(tun_journal_close(&f.j), 0);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "");
	tt_rmrf(f.dir);
}
END_TEST

START_TEST(resolv_conf_rewritten_and_restored)
{
	static const char orig[] = "# the LAN's\nnameserver 192.168.1.1\noptions edns0\n";
	enum tun_dns_method used;
	struct fx f;
	char text[1024], backup[160];

	fx_init(&f);
	tt_write(f.resolv, orig, 0644);
	f.cfg.resolv_conf = f.resolv;
	f.cfg.rewrite_resolv_conf = true;
	f.cfg.backup_dir = f.dir;
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, &used), 0);
	ck_assert_int_eq(used, TUN_DNS_FILE);
	tt_read(f.resolv, text, sizeof(text));
	ck_assert_ptr_nonnull(strstr(text, "\nnameserver 10.0.0.53\nnameserver fd00::53\nsearch corp.example\n"));
	ck_assert_ptr_null(strstr(text, "192.168.1.1"));
	snprintf(backup, sizeof(backup), "%s/ikt0.resolv.conf", f.dir);
	tt_read(backup, text, sizeof(text));
	ck_assert_str_eq(text, orig);
	ck_assert_int_eq(tun_journal_close(&f.j), 0);
	tt_read(f.resolv, text, sizeof(text));
	ck_assert_str_eq(text, orig);
	ck_assert(!tt_exists(backup));
	tt_rmrf(f.dir);
}
END_TEST

START_TEST(failure_not_recorded)
{
	struct fx f;
	char text[1024];

	fx_init(&f);
	f.cfg.resolvconf = f.resolvconf;
	fx_flag(&f, "fail--a", true);
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, NULL), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_uint_eq(f.j.n, 0);
	ck_assert_int_eq(tun_journal_close(&f.j), 0);
	/* The half-done setup is cleared at once, and not again at close. */
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "resolvconf -a ikt0.ikeagent\nresolvconf -d ikt0.ikeagent\n");
	tt_rmrf(f.dir);
}
END_TEST

START_TEST(slow_program_killed)
{
	struct timespec t0, t1;
	struct fx f;
	long ms;

	fx_init(&f);
	f.cfg.hook = f.hook;
	f.cfg.timeout_ms = 200;
	fx_flag(&f, "sleep", true);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, NULL), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_lt(ms, 2000);
	fx_flag(&f, "sleep", false);
	ck_assert_int_eq(tun_journal_close(&f.j), 0);
	tt_rmrf(f.dir);
}
END_TEST

START_TEST(bad_request_refused)
{
	struct fx f;
	char text[64];

	fx_init(&f);
	f.cfg.resolvconf = f.resolvconf;
	snprintf(f.req.domain, sizeof(f.req.domain), "evil.example\nnameserver 6.6.6.6");
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	snprintf(f.req.domain, sizeof(f.req.domain), "a b");
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, NULL), -1);
	f.req.domain[0] = '\0';
	f.req.n_servers = 0;
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	f.req.n_servers = TUN_DNS_MAX + 1;
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, NULL), -1);
	f.req.n_servers = 1;
	f.req.servers[0].family = 0;
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	f.req.servers[0] = tt_ip("10.0.0.53");
	snprintf(f.req.ifname, sizeof(f.req.ifname), "a/b");
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "");	/* nothing was run */
	ck_assert_int_eq(tun_journal_close(&f.j), 0);
	tt_rmrf(f.dir);
}
END_TEST

/* The crashed run's DNS is taken back by the next start. */
START_TEST(dns_recovered_after_crash)
{
	struct fx f;
	char text[1024];
	int status;
	pid_t pid;

	fx_init(&f);
	ck_assert_int_eq(tun_journal_close(&f.j), 0);
	f.cfg.resolvconf = f.resolvconf;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (tun_journal_open(&f.j, f.dir, "ikt0", &f.cfg) < 0 ||
		    tun_j_dns_up(&f.j, &f.req, NULL) < 0)
			_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "resolvconf -a ikt0.ikeagent\n");
	ck_assert_int_eq(tun_journal_recover(f.dir, "ikt0", &f.cfg), 0);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "resolvconf -a ikt0.ikeagent\nresolvconf -d ikt0.ikeagent\n");
	tt_rmrf(f.dir);
}
END_TEST

/* An undo that fails at exit stays in the file and is retried at the next start. */
START_TEST(failed_undo_kept_for_next_start)
{
	struct fx f;
	char text[1024], path[128];

	fx_init(&f);
	f.cfg.hook = f.hook;
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, NULL), 0);
	fx_flag(&f, "fail-down", true);
	ck_assert_int_eq(tun_journal_close(&f.j), -1);
	snprintf(path, sizeof(path), "%s/ikt0.state", f.dir);
	tt_read(path, text, sizeof(text));
	ck_assert_ptr_nonnull(strstr(text, " dns hook dev ikt0 full 1 "));
	fx_flag(&f, "fail-down", false);
	ck_assert_int_eq(tun_journal_recover(f.dir, "ikt0", &f.cfg), 0);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "hook up ikt0 10.0.0.53 fd00::53\nhook down ikt0 10.0.0.53 fd00::53\n"
			       "hook down ikt0 10.0.0.53 fd00::53\n");
	ck_assert(!tt_exists(path));
	tt_rmrf(f.dir);
}
END_TEST

/*
 * A journal line names no program: whoever undoes it uses its own
 * configuration. A file written by an unprivileged (maybe compromised)
 * agent can therefore not make root run something else.
 */
START_TEST(journal_line_cannot_choose_program)
{
	static const char state_fmt[] =
		"# ikeagent undo journal v1 pid 999999\n"
		"+1 dns hook dev ikt0 prog %s backup - full 1 domain - timeout 10000 ns 10.0.0.53\n";
	char evil[128], path[128], state[512], text[1024];
	struct fx f;

	fx_init(&f);
	ck_assert_int_eq(tun_journal_close(&f.j), 0);
	tt_script(f.dir, "evil", evil, sizeof(evil));
	snprintf(path, sizeof(path), "%s/ikt0.state", f.dir);
	snprintf(state, sizeof(state), state_fmt, evil);
	/* No hook configured: nothing runs (recovery logs what it left in place). */
	tt_write(path, state, 0600);
	ck_assert_int_eq(tun_journal_recover(f.dir, "ikt0", &f.cfg), 0);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "");
	/* The configured hook undoes it; the program the line named never runs. */
	tt_write(path, state, 0600);
	f.cfg.hook = f.hook;
	ck_assert_int_eq(tun_journal_recover(f.dir, "ikt0", &f.cfg), 0);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "hook down ikt0 10.0.0.53\n");
	ck_assert(!tt_exists(path));
	tt_rmrf(f.dir);
}
END_TEST

/* Reset undoes everything but keeps the same file, open and locked. */
START_TEST(journal_reset_keeps_file)
{
	struct stat before, after;
	char path[128], text[1024];
	struct fx f;

	fx_init(&f);
	f.cfg.hook = f.hook;
	snprintf(path, sizeof(path), "%s/ikt0.state", f.dir);
	ck_assert_int_eq(stat(path, &before), 0);
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, NULL), 0);
	ck_assert_int_eq(tun_journal_reset(&f.j), 0);
	ck_assert_uint_eq(f.j.n, 0);
	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert_uint_eq(before.st_ino, after.st_ino);
	tt_read(path, text, sizeof(text));
	ck_assert_ptr_null(strstr(text, "+"));
	ck_assert_int_eq(tun_j_dns_up(&f.j, &f.req, NULL), 0);
	ck_assert_int_eq(tun_journal_close(&f.j), 0);
	fx_log(&f, text, sizeof(text));
	ck_assert_str_eq(text, "hook up ikt0 10.0.0.53 fd00::53\nhook down ikt0 10.0.0.53 fd00::53\n"
			       "hook up ikt0 10.0.0.53 fd00::53\nhook down ikt0 10.0.0.53 fd00::53\n");
	ck_assert(!tt_exists(path));
	tt_rmrf(f.dir);
}
END_TEST

static Suite *tun_dns_suite(void)
{
	Suite *s = suite_create("tun_dns");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, defaults_name_system_paths);
	tcase_add_test(tc, resolvconf_preferred);
	tcase_add_test(tc, resolvectl_when_resolved_runs);
	tcase_add_test(tc, hook_when_resolved_absent);
	tcase_add_test(tc, nothing_found_is_logged_only);
	tcase_add_test(tc, resolv_conf_rewritten_and_restored);
	tcase_add_test(tc, failure_not_recorded);
	tcase_add_test(tc, slow_program_killed);
	tcase_add_test(tc, bad_request_refused);
	tcase_add_test(tc, dns_recovered_after_crash);
	tcase_add_test(tc, failed_undo_kept_for_next_start);
	tcase_add_test(tc, journal_line_cannot_choose_program);
	tcase_add_test(tc, journal_reset_keeps_file);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tun_dns_suite)
