/*
 * Journaled changes, split and full-tunnel routing, teardown, and recovery
 * after a crashed run. Every test that touches the network has its own
 * namespace; the state files live in a temporary directory.
 */
#include "tests/unit/test_tun.h"

#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define MARK	0x4500
#define TABLE	4500

/*
 * A stand-in for the LAN: device up0 with 192.0.2.2 and 2001:db8::2 and
 * default routes via 192.0.2.1 / 2001:db8::1 in main.
 */
static void uplink(struct tun_dev *up)
{
	struct tun_cidr a4 = tt_cidr("192.0.2.2/32"), a6 = tt_cidr("2001:db8::2/128");
	struct tun_route_spec r[4] = {
		{ .dst = tt_cidr("192.0.2.0/24") },
		{ .dst = tt_cidr("0.0.0.0/0"), .gw = tt_ip("192.0.2.1") },
		{ .dst = tt_cidr("2001:db8::/64") },
		{ .dst = tt_cidr("::/0"), .gw = tt_ip("2001:db8::1") },
	};

	ck_assert_int_eq(tun_dev_open(up, "up0", 1500, 0), 0);
	ck_assert_int_eq(tun_nl_addr_add(up->ifindex, &a4), 0);
	ck_assert_int_eq(tun_nl_addr_add(up->ifindex, &a6), 0);
	for (int i = 0; i < 4; i++) {
		r[i].oif = up->ifindex;
		ck_assert_int_eq(tun_nl_route_add(&r[i]), 0);
	}
}

static void tunnel_addrs(struct tun_journal *j, const struct tun_dev *dev)
{
	struct tun_cidr a4 = tt_cidr("10.77.0.1/32"), a6 = tt_cidr("fd00:77::1/128");

	ck_assert_int_eq(tun_j_addr_add(j, dev, &a4), 0);
	ck_assert_int_eq(tun_j_addr_add(j, dev, &a6), 0);
}

static size_t rule_count(int family)
{
	struct tun_rule_spec r[64];
	size_t n;

	ck_assert_int_eq(tun_nl_rule_list(family, r, 64, &n), 0);
	return n;
}

static void state_path(const char *dir, char *path, size_t cap)
{
	snprintf(path, cap, "%s/ikt0.state", dir);
}

START_TEST(full_tunnel_installed_and_removed)
{
	struct tun_cidr c[] = { tt_cidr("0.0.0.0/0"), tt_cidr("::/0"), tt_cidr("10.1.0.0/16") };
	struct tun_journal j;
	struct tun_dev up, dev;
	struct tun_route_info ri;
	char dir[64], path[128];

	NEED_NETNS();
	tt_tmpdir(dir, sizeof(dir));
	uplink(&up);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), 0);
	ck_assert_int_eq(tun_j_dev_open(&j, &dev, 1400, 0, false), 0);
	tunnel_addrs(&j, &dev);
	ck_assert_int_eq(tun_routes_install(&j, &dev, c, 3, MARK, TABLE), 0);

	/* ip rule add not fwmark MARK table TABLE; ip rule add table main suppress_prefixlength 0 */
	ck_assert_uint_eq(tt_rules(AF_INET, TABLE, MARK, true, -1), 1);
	ck_assert_uint_eq(tt_rules(AF_INET, RT_TABLE_MAIN, 0, false, 0), 1);
	ck_assert_uint_eq(tt_rules(AF_INET6, TABLE, MARK, true, -1), 1);
	ck_assert_uint_eq(tt_rules(AF_INET6, RT_TABLE_MAIN, 0, false, 0), 1);
	ck_assert_uint_eq(tt_routes(AF_INET, TABLE, dev.ifindex), 1);
	ck_assert_uint_eq(tt_routes(AF_INET6, TABLE, dev.ifindex), 1);
	ck_assert_uint_eq(tt_routes(AF_INET, 0, dev.ifindex), 0);	/* 10.1/16: covered */

	/* Unmarked traffic goes into the tunnel, marked traffic (ours) to main. */
	ck_assert_int_eq(tt_get("198.51.100.7", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, dev.ifindex);
	ck_assert_uint_eq(ri.table, TABLE);
	ck_assert_int_eq(tt_get("198.51.100.7", MARK, &ri), 0);
	ck_assert_int_eq(ri.oif, up.ifindex);
	ck_assert_uint_eq(ri.table, RT_TABLE_MAIN);
	ck_assert_int_eq(ri.gw.family, AF_INET);
	/* main's specific routes still win (suppress_prefixlength 0). */
	ck_assert_int_eq(tt_get("192.0.2.9", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, up.ifindex);
	ck_assert_int_eq(tt_get("2001:db8:ffff::1", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, dev.ifindex);
	ck_assert_int_eq(tt_get("2001:db8:ffff::1", MARK, &ri), 0);
	ck_assert_int_eq(ri.oif, up.ifindex);

	ck_assert_int_eq(tun_routes_remove(&j, &dev, c, 3, MARK, TABLE), 0);
	ck_assert_uint_eq(tt_rules(AF_INET, TABLE, MARK, true, -1), 0);
	ck_assert_uint_eq(tt_rules(AF_INET, RT_TABLE_MAIN, 0, false, 0), 0);
	ck_assert_uint_eq(tt_rules(AF_INET6, TABLE, MARK, true, -1), 0);
	ck_assert_uint_eq(tt_rules(AF_INET6, RT_TABLE_MAIN, 0, false, 0), 0);
	ck_assert_uint_eq(tt_routes(AF_INET, TABLE, dev.ifindex), 0);
	ck_assert_int_eq(tt_get("198.51.100.7", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, up.ifindex);

	ck_assert_int_eq(tun_journal_close(&j), 0);
	ck_assert_uint_eq(if_nametoindex("ikt0"), 0);
	state_path(dir, path, sizeof(path));
	ck_assert(!tt_exists(path));
	tun_dev_close(&up);
	tt_rmrf(dir);
}
END_TEST

START_TEST(full_tunnel_input_checked)
{
	struct tun_journal j;
	struct tun_dev dev;
	struct tun_cidr c = tt_cidr("0.0.0.0/0");
	char dir[64];

	NEED_NETNS();
	tt_tmpdir(dir, sizeof(dir));
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), 0);
	ck_assert_int_eq(tun_j_dev_open(&j, &dev, 1400, 0, false), 0);
	ck_assert_int_eq(tun_route_full(&j, &dev, AF_INET, 0, TABLE), -1);	/* no mark */
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(tun_route_full(&j, &dev, AF_INET, MARK, RT_TABLE_MAIN), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(tun_route_full(&j, &dev, AF_PACKET, MARK, TABLE), -1);
	ck_assert_int_eq(errno, EAFNOSUPPORT);
	c.prefix = 33;
	ck_assert_int_eq(tun_routes_install(&j, &dev, &c, 1, MARK, TABLE), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(rule_count(AF_INET), 3);	/* local, main, default */
	ck_assert_int_eq(tun_journal_close(&j), 0);
	tt_rmrf(dir);
}
END_TEST

/* Close without any explicit teardown: the journal removes it all. */
START_TEST(close_undoes_everything)
{
	struct tun_cidr c[] = { tt_cidr("0.0.0.0/0"), tt_cidr("10.99.0.0/16"),
				tt_cidr("fd00:99::/64"), tt_cidr("fd00:99::/64") };
	size_t rules4, rules6;
	struct tun_journal j;
	struct tun_dev up, dev;
	struct tun_route_info ri;
	char dir[64];

	NEED_NETNS();
	tt_tmpdir(dir, sizeof(dir));
	uplink(&up);
	rules4 = rule_count(AF_INET);
	rules6 = rule_count(AF_INET6);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), 0);
	ck_assert_int_eq(tun_j_dev_open(&j, &dev, 1400, 0, false), 0);
	tunnel_addrs(&j, &dev);
	ck_assert_int_eq(tun_routes_install(&j, &dev, c, 4, MARK, TABLE), 0);
	ck_assert_int_eq(tt_get("10.99.1.5", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, dev.ifindex);
	ck_assert_uint_eq(ri.table, TABLE);	/* covered by the full tunnel */
	ck_assert_int_eq(tt_get("fd00:99::5", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, dev.ifindex);
	ck_assert_uint_eq(ri.table, RT_TABLE_MAIN);	/* a split route (IPv6 is not full) */
	ck_assert_uint_eq(rule_count(AF_INET), rules4 + 2);
	ck_assert_uint_eq(rule_count(AF_INET6), rules6);

	ck_assert_int_eq(tun_journal_close(&j), 0);
	ck_assert_int_eq(dev.fd, -1);
	ck_assert_uint_eq(if_nametoindex("ikt0"), 0);
	ck_assert_uint_eq(rule_count(AF_INET), rules4);
	ck_assert_uint_eq(tt_routes(AF_INET, TABLE, dev.ifindex), 0);
	ck_assert_int_eq(tt_get("10.99.1.5", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, up.ifindex);
	ck_assert_int_eq(tt_get("fd00:99::5", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, up.ifindex);
	tun_dev_close(&up);
	tt_rmrf(dir);
}
END_TEST

START_TEST(split_routes_and_teardown)
{
	struct tun_cidr c[] = { tt_cidr("10.99.1.0/24"), tt_cidr("10.99.1.0/24"),
				tt_cidr("fd00:99::/64") };
	struct tun_journal j;
	struct tun_dev dev;
	struct tun_route_info ri;
	char dir[64];

	NEED_NETNS();
	tt_tmpdir(dir, sizeof(dir));
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), 0);
	ck_assert_int_eq(tun_j_dev_open(&j, &dev, 1400, 0, false), 0);
	tunnel_addrs(&j, &dev);
	ck_assert_int_eq(tun_route_split(&j, &dev, c, 3, 0), 0);	/* duplicate skipped */
	ck_assert_int_eq(tt_get("10.99.1.5", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, dev.ifindex);
	ck_assert_int_eq(ri.src.family, AF_INET);
	ck_assert_int_eq(tt_get("fd00:99::5", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, dev.ifindex);

	ck_assert_int_eq(tun_route_split_del(&j, &dev, c, 3, 0), 0);
	ck_assert_int_eq(tt_get("10.99.1.5", 0, &ri), -1);
	ck_assert_int_eq(errno, ENETUNREACH);
	ck_assert_int_eq(tt_get("fd00:99::5", 0, &ri), -1);
	ck_assert_int_eq(tun_journal_close(&j), 0);
	tt_rmrf(dir);
}
END_TEST

/* A failed change is cancelled in the file; deleting what is not ours is refused. */
START_TEST(failed_change_not_kept)
{
	struct tun_route_spec r = { .dst = tt_cidr("10.50.0.0/16"), .gw = tt_ip("10.250.0.1") };
	struct tun_rule_spec ru = { .family = AF_INET, .table = 77, .suppress_prefixlen = -1 };
	struct tun_cidr a = tt_cidr("10.77.0.1/32");
	struct tun_journal j;
	struct tun_dev dev;
	char dir[64], path[128], text[4096];
	size_t n;

	NEED_NETNS();
	tt_tmpdir(dir, sizeof(dir));
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), 0);
	ck_assert_int_eq(tun_j_dev_open(&j, &dev, 1400, 0, false), 0);
	r.oif = dev.ifindex;
	n = j.n;
	ck_assert_int_eq(tun_j_route_add(&j, &r), -1);	/* gateway unreachable */
	ck_assert_int_eq(errno, ENETUNREACH);
	ck_assert_uint_eq(j.n, n);
	ck_assert_int_eq(tun_j_addr_add(&j, &dev, &a), 0);
	ck_assert_int_eq(tun_j_addr_add(&j, &dev, &a), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_uint_eq(j.n, n + 1);
	ck_assert_int_eq(tun_j_rule_del(&j, &ru), -1);
	ck_assert_int_eq(errno, ENOENT);
	r.oif = 0;
	ck_assert_int_eq(tun_j_route_add(&j, &r), -1);
	ck_assert_int_eq(errno, ENODEV);

	state_path(dir, path, sizeof(path));
	tt_read(path, text, sizeof(text));
	ck_assert_ptr_nonnull(strstr(text, "+2 route 10.50.0.0/16 dev ikt0 via 10.250.0.1 table 254"));
	ck_assert_ptr_nonnull(strstr(text, "\n-2\n"));
	ck_assert_ptr_nonnull(strstr(text, "+3 addr 10.77.0.1/32 dev ikt0\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n-4\n"));	/* the EEXIST one */
	ck_assert_int_eq(tun_journal_close(&j), 0);
	tt_rmrf(dir);
}
END_TEST

START_TEST(busy_journal_refused)
{
	struct tun_journal j1, j2;
	char dir[64], sub[128];

	tt_tmpdir(dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/a/b", dir);	/* created on demand */
	ck_assert_int_eq(tun_journal_open(&j1, sub, "ikt0", NULL), 0);
	ck_assert_int_eq(tun_journal_open(&j2, sub, "ikt0", NULL), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_int_eq(tun_journal_open(&j2, sub, "bad/name", NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(tun_journal_open(&j2, "relative", "ikt0", NULL), -1);
	ck_assert_int_eq(tun_journal_close(&j1), 0);
	ck_assert_int_eq(tun_journal_open(&j2, sub, "ikt0", NULL), 0);
	ck_assert_int_eq(tun_journal_close(&j2), 0);
	ck_assert_int_eq(tun_journal_recover(sub, "ikt0", NULL), 0);	/* nothing left: no-op */
	tt_rmrf(dir);
}
END_TEST

/*
 * Recovery runs what the journal names: a state dir or file others may
 * write, or that neither root nor we own, is refused before it is read.
 */
START_TEST(state_dir_and_file_checked)
{
	struct tun_journal j;
	char dir[64], path[128];

	tt_tmpdir(dir, sizeof(dir));
	state_path(dir, path, sizeof(path));
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert(!tt_exists(path));			/* refused before anything is created */
	ck_assert_int_eq(chmod(dir, 01777), 0);		/* sticky is not enough: it is ours alone */
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), -1);
	ck_assert_int_eq(chmod(dir, 0770), 0);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), 0);
	ck_assert_int_eq(tun_journal_close(&j), 0);

	tt_write(path, "# ikeagent undo journal v1 pid 999999\n", 0600);
	ck_assert_int_eq(chmod(path, 0620), 0);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), -1);
	ck_assert_int_eq(errno, EPERM);
	if (geteuid() != 0) {
		check_skip("state_dir_and_file_checked", "the owner check needs root (chown)");
		tt_rmrf(dir);
		return;
	}
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(chown(path, 4242, (gid_t)-1), 0);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(chown(path, 0, (gid_t)-1), 0);
	ck_assert_int_eq(chown(dir, 4242, (gid_t)-1), 0);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(chown(dir, 0, (gid_t)-1), 0);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), 0);
	ck_assert_int_eq(tun_journal_close(&j), 0);
	tt_rmrf(dir);
}
END_TEST

/* ---- recovery after a crash ------------------------------------------- */

enum crash_mode {
	CRASH_PLAIN,		/* the device dies with the process */
	CRASH_PERSIST,		/* the device survives (made persistent) */
	CRASH_FOREIGN,		/* the device existed before: not ours to delete */
};

/* The crashed run: changes everything, then exits without cleaning up. */
static void crash_child(const char *dir, const char *hook, enum crash_mode mode)
{
	struct tun_cidr c[] = { tt_cidr("0.0.0.0/0"), tt_cidr("10.99.0.0/16"), tt_cidr("fd00:99::/64") };
	struct tun_dns_cfg cfg = { .hook = hook };
	struct tun_dns_req req = { .ifname = "ikt0", .n_servers = 1 };
	struct tun_cidr a4 = tt_cidr("10.77.0.1/32"), a6 = tt_cidr("fd00:77::1/128");
	struct tun_journal j;
	struct tun_dev dev;

	req.servers[0] = tt_ip("10.0.0.53");
	if (tun_journal_open(&j, dir, "ikt0", &cfg) < 0 || tun_j_dev_open(&j, &dev, 1400, 0, false) < 0)
		_exit(10);
	if (mode == CRASH_PERSIST && ioctl(dev.fd, TUNSETPERSIST, 1) < 0)
		_exit(11);
	if (tun_j_addr_add(&j, &dev, &a4) < 0 || tun_j_addr_add(&j, &dev, &a6) < 0)
		_exit(12);
	/* 10.99/16 is covered by the full tunnel; add it as a split route too. */
	if (tun_routes_install(&j, &dev, c, 3, MARK, TABLE) < 0 ||
	    tun_route_split(&j, &dev, &c[1], 1, 0) < 0)
		_exit(13);
	if (tun_j_dns_up(&j, &req, NULL) < 0)
		_exit(14);
	_exit(0);
}

static void persistent_tun(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	strcpy(ifr.ifr_name, name);
	ck_assert_int_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
	ck_assert_int_eq(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
}

static bool has_addr(int ifindex, const char *cidr)
{
	struct tun_cidr want = tt_cidr(cidr), got[16];
	size_t n;

	ck_assert_int_eq(tun_nl_addr_list(AF_UNSPEC, ifindex, got, 16, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (got[i].family == want.family && memcmp(got[i].addr, want.addr, 16) == 0)
			return true;
	return false;
}

static void crash_and_recover(enum crash_mode mode)
{
	struct tun_route_info ri;
	struct tun_journal j;
	char dir[64], hook[128], path[128], text[4096];
	struct tun_dns_cfg cfg = { .hook = hook };	/* the next start's own configuration */
	int status, idx;
	pid_t pid;

	tt_tmpdir(dir, sizeof(dir));
	tt_script(dir, "hook", hook, sizeof(hook));
	state_path(dir, path, sizeof(path));
	if (mode == CRASH_FOREIGN)
		persistent_tun("ikt0");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		crash_child(dir, hook, mode);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: %d", status);

	/* What the dead run left behind. */
	tt_read(path, text, sizeof(text));
	ck_assert_ptr_nonnull(strstr(text, "+"));
	ck_assert_uint_eq(tt_rules(AF_INET, TABLE, MARK, true, -1), 1);
	ck_assert_uint_eq(tt_rules(AF_INET, RT_TABLE_MAIN, 0, false, 0), 1);
	tt_read_in(dir, "log", text, sizeof(text));
	ck_assert_str_eq(text, "hook up ikt0 10.0.0.53\n");
	idx = (int)if_nametoindex("ikt0");
	if (mode == CRASH_PLAIN) {
		ck_assert_int_eq(idx, 0);
	} else {
		ck_assert_int_ne(idx, 0);
		ck_assert(has_addr(idx, "10.77.0.1/32"));
		ck_assert_uint_eq(tt_routes(AF_INET, TABLE, idx), 1);
		ck_assert_uint_eq(tt_routes(AF_INET, 0, idx), 1);
	}

	/* The next start. */
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", &cfg), 0);
	ck_assert_uint_eq(tt_rules(AF_INET, TABLE, MARK, true, -1), 0);
	ck_assert_uint_eq(tt_rules(AF_INET, RT_TABLE_MAIN, 0, false, 0), 0);
	tt_read_in(dir, "log", text, sizeof(text));
	ck_assert_str_eq(text, "hook up ikt0 10.0.0.53\nhook down ikt0 10.0.0.53\n");
	if (mode == CRASH_FOREIGN) {
		/* Kept, but stripped of what the dead run put on it. */
		idx = (int)if_nametoindex("ikt0");
		ck_assert_int_ne(idx, 0);
		ck_assert(!has_addr(idx, "10.77.0.1/32"));
		ck_assert(!has_addr(idx, "fd00:77::1/128"));
		ck_assert_uint_eq(tt_routes(AF_INET, TABLE, idx), 0);
		ck_assert_uint_eq(tt_routes(AF_INET, 0, idx), 0);
		ck_assert_int_eq(tt_get("fd00:99::5", 0, &ri), -1);
		ck_assert_int_eq(tun_nl_link_del_tun("ikt0"), 0);
	} else {
		ck_assert_uint_eq(if_nametoindex("ikt0"), 0);
	}
	tt_read(path, text, sizeof(text));
	ck_assert_ptr_null(strstr(text, "+"));	/* a fresh file for this run */
	ck_assert_ptr_nonnull(strstr(text, "pid "));
	ck_assert_int_eq(tun_journal_close(&j), 0);
	ck_assert(!tt_exists(path));
	tt_rmrf(dir);
}

START_TEST(recovery_after_crash)
{
	NEED_NETNS();
	crash_and_recover(CRASH_PLAIN);
}
END_TEST

START_TEST(recovery_removes_persistent_device)
{
	NEED_NETNS();
	crash_and_recover(CRASH_PERSIST);
}
END_TEST

START_TEST(recovery_keeps_foreign_device)
{
	NEED_NETNS();
	crash_and_recover(CRASH_FOREIGN);
}
END_TEST

/* A hand-made file: cancelled entries stay, garbage and a torn line are skipped. */
START_TEST(recovery_reads_damaged_file)
{
	static const char state[] =
		"# ikeagent undo journal v1 pid 999999\n"
		"+1 rule inet table 4600 prio 0 fwmark 0x4600 not 1 suppress -1\n"
		"+2 this is not an entry\n"
		"+3 route 10.0.0.0/8 dev nosuch0 via - table 254 metric 0\n"
		"+4 rule inet table 4700 prio 0 fwmark 0x4700 not 1 suppress -1\n"
		"-4\n"
		"+5 rule inet table 4800 prio 0 fwmark 0x4800 not 1 sup";
	struct tun_rule_spec r[3] = {
		{ .family = AF_INET, .table = 4600, .fwmark = 0x4600, .invert = true, .suppress_prefixlen = -1 },
		{ .family = AF_INET, .table = 4700, .fwmark = 0x4700, .invert = true, .suppress_prefixlen = -1 },
		{ .family = AF_INET, .table = 4800, .fwmark = 0x4800, .invert = true, .suppress_prefixlen = -1 },
	};
	struct tun_journal j;
	char dir[64], path[128];

	NEED_NETNS();
	tt_tmpdir(dir, sizeof(dir));
	state_path(dir, path, sizeof(path));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(tun_nl_rule_add(&r[i]), 0);
	tt_write(path, state, 0600);
	ck_assert_int_eq(tun_journal_recover(dir, "ikt0", NULL), 0);
	ck_assert_uint_eq(tt_rules(AF_INET, 4600, 0x4600, true, -1), 0);	/* undone */
	ck_assert_uint_eq(tt_rules(AF_INET, 4700, 0x4700, true, -1), 1);	/* was cancelled */
	ck_assert_uint_eq(tt_rules(AF_INET, 4800, 0x4800, true, -1), 1);	/* torn: never made */
	ck_assert(!tt_exists(path));

	/* A file others may write is not trusted (it names programs to run). */
	tt_write(path, state, 0600);
	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_uint_eq(tt_rules(AF_INET, 4700, 0x4700, true, -1), 1);
	tt_rmrf(dir);
}
END_TEST

/*
 * A journal file others may write is not trusted: recovery runs what it
 * names (hooks, route and device removals). Needs no root or namespace, so
 * this holds wherever the tests run, not only where the netns tests do.
 */
START_TEST(journal_others_can_write_refused)
{
	static const char state[] =
		"# ikeagent undo journal v1 pid 999999\n"
		"+1 rule inet table 4600 prio 0 fwmark 0x4600 not 1 suppress -1\n";
	static const mode_t modes[] = { 0666, 0620, 0602 };
	struct tun_journal j;
	char dir[64], path[128], text[512];

	tt_tmpdir(dir, sizeof(dir));
	state_path(dir, path, sizeof(path));
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		tt_write(path, state, 0600);
		ck_assert_int_eq(chmod(path, modes[i]), 0);
		errno = 0;
		ck_assert_msg(tun_journal_open(&j, dir, "ikt0", NULL) == -1,
			      "journal with mode %o opened", (unsigned)modes[i]);
		ck_assert_int_eq(errno, EPERM);
		tt_read(path, text, sizeof(text));
		ck_assert_str_eq(text, state);	/* neither recovered nor rewritten */
	}
	/* gone, a fresh journal opens: the refusals above were about the mode */
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), 0);
	ck_assert_int_eq(tun_journal_close(&j), 0);
	tt_rmrf(dir);
}
END_TEST

START_TEST(host_route_pinned)
{
	struct tun_route_spec pinned, list[16];
	struct tun_journal j;
	struct tun_dev up, dev;
	struct tun_route_info ri;
	struct tun_ip peer = tt_ip("198.51.100.7"), self = tt_ip("192.0.2.2");
	struct tun_cidr full = tt_cidr("0.0.0.0/0");
	char dir[64];
	size_t n;

	NEED_NETNS();
	tt_tmpdir(dir, sizeof(dir));
	uplink(&up);
	ck_assert_int_eq(tun_journal_open(&j, dir, "ikt0", NULL), 0);
	ck_assert_int_eq(tun_j_dev_open(&j, &dev, 1400, 0, false), 0);
	ck_assert_int_eq(tun_route_pin_host(&j, &dev, &peer, &pinned), 0);
	ck_assert_int_eq(pinned.oif, up.ifindex);
	ck_assert_uint_eq(pinned.dst.prefix, 32);
	ck_assert_int_eq(pinned.gw.family, AF_INET);
	/* Without marks the peer stays on the uplink under a full tunnel. */
	ck_assert_int_eq(tun_route_full(&j, &dev, AF_INET, MARK, TABLE), 0);
	ck_assert_int_eq(tt_get("198.51.100.7", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, up.ifindex);
	ck_assert_int_eq(tt_get("198.51.100.8", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, dev.ifindex);
	/* Local: nothing to pin. Already via the tunnel: refused. */
	ck_assert_int_eq(tun_route_pin_host(&j, &dev, &self, &list[0]), 0);
	ck_assert_int_eq(list[0].oif, 0);
	peer = tt_ip("198.51.100.9");
	ck_assert_int_eq(tun_route_pin_host(&j, &dev, &peer, &list[0]), -1);
	ck_assert_int_eq(errno, ELOOP);

	ck_assert_int_eq(tun_routes_remove(&j, &dev, &full, 1, MARK, TABLE), 0);
	ck_assert_int_eq(tun_j_route_del(&j, &pinned), 0);
	ck_assert_int_eq(tun_nl_route_list(AF_INET, 0, list, 16, &n), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_ne(list[i].dst.prefix, 32);
	ck_assert_int_eq(tun_j_route_del(&j, &pinned), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(tun_journal_close(&j), 0);
	tun_dev_close(&up);
	tt_rmrf(dir);
}
END_TEST

static Suite *tun_journal_suite(void)
{
	Suite *s = suite_create("tun_journal");
	TCase *tc = tcase_create("netns");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, full_tunnel_installed_and_removed);
	tcase_add_test(tc, full_tunnel_input_checked);
	tcase_add_test(tc, close_undoes_everything);
	tcase_add_test(tc, split_routes_and_teardown);
	tcase_add_test(tc, failed_change_not_kept);
	tcase_add_test(tc, busy_journal_refused);
	tcase_add_test(tc, state_dir_and_file_checked);
	tcase_add_test(tc, recovery_after_crash);
	tcase_add_test(tc, recovery_removes_persistent_device);
	tcase_add_test(tc, recovery_keeps_foreign_device);
	tcase_add_test(tc, recovery_reads_damaged_file);
	tcase_add_test(tc, journal_others_can_write_refused);
	tcase_add_test(tc, host_route_pinned);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tun_journal_suite)
