/* tun device and raw rtnetlink: each networking test in its own namespace. */
#include "tests/unit/test_tun.h"

#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* ---- values, no system access ----------------------------------------- */

START_TEST(names_checked)
{
	struct tun_dev t;

	ck_assert_int_eq(tun_ifname_check("abcdefghijklmno"), 0);	/* 15 = IFNAMSIZ-1 */
	ck_assert_int_eq(tun_ifname_check("abcdefghijklmnop"), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_int_eq(tun_ifname_check(""), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(tun_ifname_check("a/b"), -1);
	ck_assert_int_eq(tun_ifname_check("a b"), -1);
	ck_assert_int_eq(tun_ifname_check(".."), -1);
	ck_assert_int_eq(tun_ifname_check("-x"), -1);
	ck_assert_int_eq(tun_ifname_check("tun%d"), -1);
	/* Refused before anything is opened. */
	ck_assert_int_eq(tun_dev_open(&t, "a-much-too-long-name", 1400, 0), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_int_eq(t.fd, -1);
	ck_assert_int_eq(tun_dev_open(&t, "ikt0", 20, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(tun_dev_open(&t, "ikt0", 70000, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(cidrs_parsed_and_checked)
{
	static const char *const bad[] = { "10.0.0.0/33", "fd00::/129", "10.0.0.1/", "10.0.0.1/-1",
					   "x/8", "10.0.0.1/8x", "10.0.0.1/ 8", "" };
	struct tun_cidr c;
	char buf[TUN_CIDR_STRLEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(tun_cidr_parse(bad[i], &c) == -1, "accepted %s", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
	}
	c = tt_cidr("10.99.1.5/24");
	tun_cidr_mask(&c);
	ck_assert_str_eq(tun_cidr_fmt(&c, buf, sizeof(buf)), "10.99.1.0/24");
	c = tt_cidr("fd00:1:2:3:4:5:6:7/100");
	tun_cidr_mask(&c);
	ck_assert_str_eq(tun_cidr_fmt(&c, buf, sizeof(buf)), "fd00:1:2:3:4:5::/100");
	c = tt_cidr("192.0.2.1/0");
	tun_cidr_mask(&c);
	ck_assert_str_eq(tun_cidr_fmt(&c, buf, sizeof(buf)), "0.0.0.0/0");
	c = tt_cidr("fd00::1");
	ck_assert_uint_eq(c.prefix, 128);
	c.prefix = 129;
	ck_assert_int_eq(tun_cidr_check(&c), -1);
	ck_assert_int_eq(errno, EINVAL);
	c.family = 99;
	ck_assert_int_eq(tun_cidr_check(&c), -1);
	ck_assert_int_eq(errno, EAFNOSUPPORT);
}
END_TEST

/* Invalid requests fail before a netlink socket is opened. */
START_TEST(netlink_input_checked)
{
	struct tun_cidr a = tt_cidr("10.0.0.1/32");
	struct tun_route_spec r = { .dst = tt_cidr("fd00::/64"), .oif = 1 };
	struct tun_rule_spec ru = { .family = AF_INET, .table = 0, .suppress_prefixlen = -1 };

	a.prefix = 40;
	ck_assert_int_eq(tun_nl_addr_add(1, &a), -1);
	ck_assert_int_eq(errno, EINVAL);
	a.prefix = 32;
	ck_assert_int_eq(tun_nl_addr_add(0, &a), -1);
	ck_assert_int_eq(errno, ENODEV);
	r.dst.prefix = 200;
	ck_assert_int_eq(tun_nl_route_add(&r), -1);
	ck_assert_int_eq(errno, EINVAL);
	r.dst.prefix = 64;
	r.gw = tt_ip("10.0.0.1");
	ck_assert_int_eq(tun_nl_route_add(&r), -1);
	ck_assert_int_eq(errno, EINVAL);
	r.gw.family = 0;
	r.oif = 0;
	ck_assert_int_eq(tun_nl_route_del(&r), -1);
	ck_assert_int_eq(errno, ENODEV);
	ck_assert_int_eq(tun_nl_rule_add(&ru), -1);
	ck_assert_int_eq(errno, EINVAL);
	ru.table = 100;
	ru.suppress_prefixlen = 33;
	ck_assert_int_eq(tun_nl_rule_add(&ru), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* ---- the device ------------------------------------------------------- */

START_TEST(device_created_configured_up)
{
	struct tun_link_info li;
	struct tun_dev t, t2;
	struct ifreq ifr;
	int s;

	NEED_NETNS();
	ck_assert_int_eq(tun_dev_open(&t, "ikt0", 1400, 0), 0);
	ck_assert(t.created);
	ck_assert_int_ge(t.fd, 0);
	ck_assert_int_eq(fcntl(t.fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	ck_assert_int_eq(fcntl(t.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(tun_nl_link_get("ikt0", &li), 0);
	ck_assert_int_eq(li.ifindex, t.ifindex);
	ck_assert_uint_eq(li.mtu, 1400);
	ck_assert_uint_eq(li.txqlen, TUN_DEFAULT_TXQLEN);
	ck_assert(li.flags & IFF_UP);
	ck_assert_str_eq(li.kind, "tun");
	/* The MTU once more through an independent path. */
	s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "ikt0");
	ck_assert_int_eq(ioctl(s, SIOCGIFMTU, &ifr), 0);
	ck_assert_int_eq(ifr.ifr_mtu, 1400);
	close(s);
	/* A second open of a busy, single-queue device fails. */
	ck_assert_int_eq(tun_dev_open(&t2, "ikt0", 1400, 0), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_int_eq(tun_nl_link_get("ikt0", &li), 0);	/* and left it alone */

	ck_assert_int_eq(tun_dev_set_up(&t, false), 0);
	ck_assert_int_eq(tun_nl_link_get("ikt0", &li), 0);
	ck_assert(!(li.flags & IFF_UP));
	ck_assert_int_eq(tun_dev_set_mtu(&t, 1380), 0);
	ck_assert_int_eq(tun_dev_set_mtu(&t, 10), -1);
	ck_assert_int_eq(tun_nl_link_get("ikt0", &li), 0);
	ck_assert_uint_eq(li.mtu, 1380);

	tun_dev_close(&t);
	ck_assert_int_eq(t.fd, -1);
	ck_assert_int_eq(tun_nl_link_get("ikt0", &li), -1);
	ck_assert_int_eq(errno, ENODEV);
	ck_assert_uint_eq(if_nametoindex("ikt0"), 0);
	tun_dev_close(&t);	/* twice is harmless */
}
END_TEST

START_TEST(txqlen_set)
{
	struct tun_link_info li;
	struct tun_dev t;

	NEED_NETNS();
	ck_assert_int_eq(tun_dev_open(&t, "ikt1", 1500, 3000), 0);
	ck_assert_int_eq(tun_nl_link_get("ikt1", &li), 0);
	ck_assert_uint_eq(li.txqlen, 3000);
	/* Deleting a device that is not a tun is refused. */
	ck_assert_int_eq(tun_nl_link_del_tun("lo"), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(tun_nl_link_del_tun("nosuch0"), -1);
	ck_assert_int_eq(errno, ENODEV);
	tun_dev_close(&t);
}
END_TEST

static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An ICMP echo request from `src` to `dst` with 8 bytes of data. */
static size_t echo_request(uint8_t *p, const char *src, const char *dst)
{
	memset(p, 0, 36);
	p[0] = 0x45;
	p[3] = 36;
	p[8] = 64;
	p[9] = IPPROTO_ICMP;
	ck_assert_int_eq(inet_pton(AF_INET, src, p + 12), 1);
	ck_assert_int_eq(inet_pton(AF_INET, dst, p + 16), 1);
	put_be16(p + 10, csum(p, 20));
	p[20] = 8;	/* echo request */
	put_be16(p + 24, 0x1234);
	memcpy(p + 28, "ikeagent", 8);
	put_be16(p + 22, csum(p + 20, 16));
	return 36;
}

/* Read until an IPv4 ICMP echo reply shows up (IPv6 chatter is skipped). */
static ssize_t read_echo_reply(const struct tun_dev *t, uint8_t *buf, size_t cap)
{
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
		ssize_t n;

		ck_assert_int_ge(poll(&pfd, 1, 2000), 1);
		n = tun_read(t, buf, cap);
		ck_assert_int_gt(n, 0);
		if (n >= 28 && buf[0] >> 4 == 4 && buf[9] == IPPROTO_ICMP && buf[20] == 0)
			return n;
	}
	return -1;
}

START_TEST(packets_read_and_written)
{
	struct tun_cidr a = tt_cidr("10.77.0.1/32");
	struct tun_route_spec r = { .dst = tt_cidr("10.77.1.0/24") };
	uint8_t pkt[2048], small[8];
	struct tun_dev t;
	ssize_t n;
	size_t len;

	NEED_NETNS();
	ck_assert_int_eq(tun_dev_open(&t, "ikt0", 1400, 0), 0);
	r.oif = t.ifindex;
	ck_assert_int_eq(tun_nl_addr_add(t.ifindex, &a), 0);
	ck_assert_int_eq(tun_nl_route_add(&r), 0);
	while (tun_read(&t, pkt, sizeof(pkt)) > 0)
		;	/* drop what the kernel sent on its own */
	ck_assert_int_eq(tun_read(&t, pkt, sizeof(pkt)), -1);
	ck_assert_int_eq(errno, EAGAIN);

	/* The kernel answers a ping injected through the tun. */
	len = echo_request(pkt, "10.77.1.2", "10.77.0.1");
	ck_assert_int_eq(tun_write(&t, pkt, len), (ssize_t)len);
	n = read_echo_reply(&t, pkt, sizeof(pkt));
	ck_assert_int_eq(n, 36);
	ck_assert_int_eq(memcmp(pkt + 12, "\x0a\x4d\x00\x01", 4), 0);	/* from 10.77.0.1 */
	ck_assert_int_eq(memcmp(pkt + 16, "\x0a\x4d\x01\x02", 4), 0);	/* to 10.77.1.2 */
	ck_assert_int_eq(memcmp(pkt + 28, "ikeagent", 8), 0);

	/* A packet bigger than the buffer is reported, not passed on cut. */
	len = echo_request(pkt, "10.77.1.2", "10.77.0.1");
	ck_assert_int_eq(tun_write(&t, pkt, len), (ssize_t)len);
	{
		struct pollfd pfd = { .fd = t.fd, .events = POLLIN };

		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	}
	ck_assert_int_eq(tun_read(&t, small, sizeof(small)), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	/* Garbage is refused by the kernel. */
	ck_assert_int_eq(tun_write(&t, "\x00\x01", 2), -1);
	tun_dev_close(&t);
}
END_TEST

/* ---- addresses, routes, rules ----------------------------------------- */

static bool has_addr(int ifindex, const char *cidr)
{
	struct tun_cidr want = tt_cidr(cidr), got[16];
	size_t n;

	ck_assert_int_eq(tun_nl_addr_list(AF_UNSPEC, ifindex, got, 16, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (got[i].family == want.family && got[i].prefix == want.prefix &&
		    memcmp(got[i].addr, want.addr, 16) == 0)
			return true;
	return false;
}

START_TEST(addresses_added_and_removed)
{
	struct tun_cidr a4 = tt_cidr("10.77.0.2/32"), a6 = tt_cidr("fd00:77::2/128");
	struct tun_dev t;

	NEED_NETNS();
	ck_assert_int_eq(tun_dev_open(&t, "ikt0", 1400, 0), 0);
	ck_assert_int_eq(tun_nl_addr_add(t.ifindex, &a4), 0);
	ck_assert_int_eq(tun_nl_addr_add(t.ifindex, &a6), 0);
	ck_assert(has_addr(t.ifindex, "10.77.0.2/32"));
	ck_assert(has_addr(t.ifindex, "fd00:77::2/128"));
	ck_assert_int_eq(tun_nl_addr_add(t.ifindex, &a4), -1);
	ck_assert_int_eq(errno, EEXIST);

	ck_assert_int_eq(tun_nl_addr_del(t.ifindex, &a4), 0);
	ck_assert_int_eq(tun_nl_addr_del(t.ifindex, &a6), 0);
	ck_assert(!has_addr(t.ifindex, "10.77.0.2/32"));
	ck_assert(!has_addr(t.ifindex, "fd00:77::2/128"));
	ck_assert_int_eq(tun_nl_addr_del(t.ifindex, &a4), -1);
	ck_assert_int_eq(errno, EADDRNOTAVAIL);
	ck_assert_int_eq(tun_nl_addr_del(t.ifindex, &a6), -1);
	ck_assert_int_eq(errno, EADDRNOTAVAIL);
	ck_assert_int_eq(tun_nl_addr_add(99999, &a4), -1);
	ck_assert_int_eq(errno, ENODEV);
	tun_dev_close(&t);
}
END_TEST

START_TEST(routes_added_looked_up_removed)
{
	struct tun_cidr a4 = tt_cidr("10.77.0.1/32");
	struct tun_route_spec r4 = { .dst = tt_cidr("10.99.1.77/24") };	/* host bits cleared */
	struct tun_route_spec r6 = { .dst = tt_cidr("fd00:99::/64") };
	struct tun_route_spec gw = { .dst = tt_cidr("10.98.0.0/16"), .gw = tt_ip("10.99.1.1") };
	struct tun_route_spec t100 = { .dst = tt_cidr("10.97.0.0/16"), .table = 100, .metric = 7 };
	struct tun_ip src4 = tt_ip("10.77.0.1");
	struct tun_route_info ri;
	struct tun_route_spec list[8];
	struct tun_dev t;
	size_t n;

	NEED_NETNS();
	ck_assert_int_eq(tun_dev_open(&t, "ikt0", 1400, 0), 0);
	r4.oif = r6.oif = gw.oif = t100.oif = t.ifindex;
	ck_assert_int_eq(tun_nl_addr_add(t.ifindex, &a4), 0);
	ck_assert_int_eq(tun_nl_route_add(&r4), 0);
	ck_assert_int_eq(tun_nl_route_add(&r6), 0);
	ck_assert_int_eq(tun_nl_route_add(&gw), 0);
	ck_assert_int_eq(tun_nl_route_add(&t100), 0);
	ck_assert_int_eq(tun_nl_route_add(&r4), -1);
	ck_assert_int_eq(errno, EEXIST);

	ck_assert_int_eq(tun_nl_route_get(&(struct tun_ip){ 0 }, 0, &ri), -1);
	ck_assert_int_eq(errno, EAFNOSUPPORT);
	ck_assert_int_eq(tt_get("10.99.1.5", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, t.ifindex);
	ck_assert_uint_eq(ri.type, RTN_UNICAST);
	ck_assert_uint_eq(ri.table, RT_TABLE_MAIN);
	ck_assert_int_eq(ri.gw.family, 0);
	ck_assert_int_eq(ri.src.family, AF_INET);
	ck_assert_int_eq(memcmp(ri.src.addr, src4.addr, 4), 0);
	ck_assert_int_eq(tt_get("fd00:99::5", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, t.ifindex);
	ck_assert_int_eq(tt_get("10.98.3.4", 0, &ri), 0);
	ck_assert_int_eq(ri.oif, t.ifindex);
	ck_assert_int_eq(ri.gw.family, AF_INET);
	ck_assert_int_eq(memcmp(ri.gw.addr, gw.gw.addr, 4), 0);

	ck_assert_int_eq(tun_nl_route_list(AF_INET, 100, list, 8, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(list[0].metric, 7);
	ck_assert_uint_eq(list[0].dst.prefix, 16);
	ck_assert_int_eq(tun_nl_route_list(AF_INET, 100, list, 0, &n), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_eq(tt_routes(AF_INET, 0, t.ifindex), 2);	/* 10.99.1/24, 10.98/16 */

	ck_assert_int_eq(tun_nl_route_del(&gw), 0);
	ck_assert_int_eq(tun_nl_route_del(&r4), 0);
	ck_assert_int_eq(tun_nl_route_del(&r6), 0);
	ck_assert_int_eq(tun_nl_route_del(&t100), 0);
	ck_assert_int_eq(tun_nl_route_del(&r4), -1);
	ck_assert_int_eq(errno, ESRCH);
	ck_assert_int_eq(tun_nl_route_del(&r6), -1);
	ck_assert_int_eq(errno, ESRCH);
	ck_assert_int_eq(tt_get("10.99.1.5", 0, &ri), -1);
	ck_assert_int_eq(errno, ENETUNREACH);
	ck_assert_int_eq(tt_get("fd00:99::5", 0, &ri), -1);
	ck_assert_int_eq(errno, ENETUNREACH);
	ck_assert_uint_eq(tt_routes(AF_INET, 0, t.ifindex), 0);
	/* A gateway that cannot be reached is the kernel's error, passed on. */
	ck_assert_int_eq(tun_nl_route_add(&gw), -1);
	ck_assert_int_eq(errno, ENETUNREACH);
	tun_dev_close(&t);
}
END_TEST

START_TEST(rules_added_and_removed)
{
	struct tun_rule_spec nm = { .family = AF_INET, .table = 4500, .fwmark = 0x4500, .invert = true,
				    .suppress_prefixlen = -1 };
	struct tun_rule_spec sp = { .family = AF_INET6, .table = RT_TABLE_MAIN, .suppress_prefixlen = 0 };
	struct tun_rule_spec pr = { .family = AF_INET, .table = 4501, .priority = 1234,
				    .suppress_prefixlen = -1 };
	struct tun_rule_spec list[32];
	size_t n;

	NEED_NETNS();
	ck_assert_int_eq(tun_nl_rule_add(&nm), 0);
	ck_assert_int_eq(tun_nl_rule_add(&sp), 0);
	ck_assert_int_eq(tun_nl_rule_add(&pr), 0);
	ck_assert_uint_eq(tt_rules(AF_INET, 4500, 0x4500, true, -1), 1);
	ck_assert_uint_eq(tt_rules(AF_INET6, RT_TABLE_MAIN, 0, false, 0), 1);
	ck_assert_int_eq(tun_nl_rule_list(AF_INET, list, 32, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (list[i].table == 4501)
			ck_assert_uint_eq(list[i].priority, 1234);
	/* An exact duplicate (same priority) is refused. */
	ck_assert_int_eq(tun_nl_rule_add(&pr), -1);
	ck_assert_int_eq(errno, EEXIST);

	ck_assert_int_eq(tun_nl_rule_del(&nm), 0);
	ck_assert_int_eq(tun_nl_rule_del(&sp), 0);
	ck_assert_int_eq(tun_nl_rule_del(&pr), 0);
	ck_assert_uint_eq(tt_rules(AF_INET, 4500, 0x4500, true, -1), 0);
	ck_assert_uint_eq(tt_rules(AF_INET6, RT_TABLE_MAIN, 0, false, 0), 0);
	ck_assert_int_eq(tun_nl_rule_del(&nm), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

static Suite *tun_suite(void)
{
	Suite *s = suite_create("tun");
	TCase *val = tcase_create("values");
	TCase *net = tcase_create("netns");

	tcase_add_test(val, names_checked);
	tcase_add_test(val, cidrs_parsed_and_checked);
	tcase_add_test(val, netlink_input_checked);
	tcase_set_timeout(net, 20);
	tcase_add_test(net, device_created_configured_up);
	tcase_add_test(net, txqlen_set);
	tcase_add_test(net, packets_read_and_written);
	tcase_add_test(net, addresses_added_and_removed);
	tcase_add_test(net, routes_added_looked_up_removed);
	tcase_add_test(net, rules_added_and_removed);
	suite_add_tcase(s, val);
	suite_add_tcase(s, net);
	return s;
}

CHECK_MAIN(tun_suite)
