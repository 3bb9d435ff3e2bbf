/*
 * The network watcher: debounce arithmetic, summaries, network ids and
 * rtnetlink parsing without system access; then, in a private network
 * namespace (root only, else SKIP), route lookups and the watcher itself.
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "agent/netwatch.h"
#include "tests/unit/test_tun.h"

/* ---- the debounce ------------------------------------------------------ */

START_TEST(due_settles_and_caps)
{
	/* one message: reported after the quiet time */
	ck_assert_uint_eq(netwatch_due_ms(1000, 1000, 1000), 1000 + NETWATCH_SETTLE_MS);
	/* each message pushes it back... */
	ck_assert_uint_eq(netwatch_due_ms(1000, 1250, 1250), 1250 + NETWATCH_SETTLE_MS);
	/* ...but never past the first message + the maximum wait */
	ck_assert_uint_eq(netwatch_due_ms(1000, 1450, 1450), 1000 + NETWATCH_MAX_WAIT_MS);
	ck_assert_uint_eq(netwatch_due_ms(1000, 1499, 1499), 1000 + NETWATCH_MAX_WAIT_MS);
	/* overdue (a slow callback, a suspend): now, not in the past */
	ck_assert_uint_eq(netwatch_due_ms(1000, 1000, 5000), 5000);
	ck_assert_uint_eq(netwatch_due_ms(1000, 1600, 1600), 1600);
}
END_TEST

/* ---- the summary ------------------------------------------------------ */

START_TEST(why_dedups_and_truncates)
{
	struct netwatch_why y;
	char phrase[64];
	const char *s;

	memset(&y, 0, sizeof(y));
	ck_assert_str_eq(netwatch_why_str(&y), "");
	netwatch_why_add(&y, "address 10.2.0.2/24 added on veth-b");
	netwatch_why_add(&y, "route changed");
	netwatch_why_add(&y, "route changed");
	netwatch_why_add(&y, "route");		/* a prefix of a phrase is another phrase */
	netwatch_why_add(&y, "");
	ck_assert_str_eq(netwatch_why_str(&y),
			 "address 10.2.0.2/24 added on veth-b, route changed, route");

	memset(&y, 0, sizeof(y));
	for (int i = 0; i < 40; i++) {
		snprintf(phrase, sizeof(phrase), "address 10.2.0.%d/24 added on veth-b", i);
		netwatch_why_add(&y, phrase);
	}
	s = netwatch_why_str(&y);
	ck_assert_uint_le(strlen(s), NETWATCH_WHY_MAX);
	ck_assert_ptr_nonnull(strstr(s, "address 10.2.0.0/24 added on veth-b, "));
	ck_assert_ptr_nonnull(strstr(s, " more)"));
	ck_assert_str_eq(s + strlen(s) - strlen("(+38 more)"), "(+38 more)");

	/* a phrase longer than everything is only counted */
	memset(&y, 0, sizeof(y));
	for (int i = 0; i < 3; i++)
		netwatch_why_add(&y, "link eth0 down");
	{
		char big[300];

		memset(big, 'y', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		netwatch_why_add(&y, big);
	}
	ck_assert_str_eq(netwatch_why_str(&y), "link eth0 down (+1 more)");
}
END_TEST

/* ---- network ids ------------------------------------------------------ */

static struct net_route nr(int family, const char *src, uint8_t plen, const char *gw,
			   const char *ifname, int ifindex)
{
	struct net_route r = { .family = family, .ifindex = ifindex, .prefix_len = plen };

	ck_assert_int_eq(inet_pton(family, src, r.src), 1);
	if (gw) {
		ck_assert_int_eq(inet_pton(family, gw, r.gw), 1);
		r.has_gw = true;
	}
	snprintf(r.ifname, sizeof(r.ifname), "%s", ifname);
	return r;
}

START_TEST(network_id_formats)
{
	static const uint8_t mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0xab, 0xcd };
	uint8_t ib[20], big[21];
	struct net_route r;
	char id[NETWATCH_ID_MAX + 1];

	r = nr(AF_INET, "192.168.1.23", 24, "192.168.1.1", "wlan0", 3);
	ck_assert_int_eq(netwatch_network_id_fmt(&r, mac, sizeof(mac), id, sizeof(id)), 0);
	ck_assert_str_eq(id, "gw 192.168.1.1 02:00:5e:10:ab:cd");
	ck_assert_int_eq(netwatch_network_id_fmt(&r, NULL, 0, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "gw 192.168.1.1 dev wlan0");

	r = nr(AF_INET, "10.2.0.2", 24, NULL, "veth-b", 7);
	ck_assert_int_eq(netwatch_network_id_fmt(&r, mac, sizeof(mac), id, sizeof(id)), 0);
	ck_assert_str_eq(id, "net 10.2.0.0/24 dev veth-b");	/* no gateway: lladdr unused */
	r = nr(AF_INET, "172.16.77.200", 20, NULL, "eth0", 2);
	ck_assert_int_eq(netwatch_network_id_fmt(&r, NULL, 0, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "net 172.16.64.0/20 dev eth0");
	r = nr(AF_INET, "10.64.0.9", 32, NULL, "wwan0", 5);
	ck_assert_int_eq(netwatch_network_id_fmt(&r, NULL, 0, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "net 10.64.0.9/32 dev wwan0");
	r = nr(AF_INET, "10.64.0.9", 0, NULL, "", 5);		/* prefix and name unknown */
	ck_assert_int_eq(netwatch_network_id_fmt(&r, NULL, 0, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "dev if5");

	r = nr(AF_INET6, "2001:db8:1:2:3:4:5:6", 60, NULL, "eth0", 2);
	ck_assert_int_eq(netwatch_network_id_fmt(&r, NULL, 0, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "net 2001:db8:1::/60 dev eth0");
	r = nr(AF_INET6, "2001:db8::5", 64, "fe80::1", "eth0", 2);
	ck_assert_int_eq(netwatch_network_id_fmt(&r, mac, sizeof(mac), id, sizeof(id)), 0);
	ck_assert_str_eq(id, "gw fe80::1 02:00:5e:10:ab:cd");

	/* the longest: a 39-character IPv6 gateway and a 20-byte lladdr fit */
	memset(ib, 0xee, sizeof(ib));
	r = nr(AF_INET6, "::1", 128, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "ib0", 9);
	ck_assert_int_eq(netwatch_network_id_fmt(&r, ib, sizeof(ib), id, sizeof(id)), 0);
	ck_assert_uint_le(strlen(id), NETWATCH_ID_MAX);
	ck_assert_ptr_nonnull(strstr(id, " ee:ee:"));
	/* longer link-layer addresses are not named: the interface is */
	memset(big, 0xee, sizeof(big));
	ck_assert_int_eq(netwatch_network_id_fmt(&r, big, sizeof(big), id, sizeof(id)), 0);
	ck_assert_str_eq(id, "gw ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff dev ib0");

	/* too small, bad routes */
	r = nr(AF_INET, "192.168.1.23", 24, "192.168.1.1", "wlan0", 3);
	ck_assert_int_eq(netwatch_network_id_fmt(&r, mac, sizeof(mac), id, 10), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_str_eq(id, "");
	r.prefix_len = 33;
	r.has_gw = false;
	ck_assert_int_eq(netwatch_network_id_fmt(&r, NULL, 0, id, sizeof(id)), -1);
	ck_assert_int_eq(errno, EINVAL);
	r.family = AF_UNIX;
	ck_assert_int_eq(netwatch_network_id_fmt(&r, NULL, 0, id, sizeof(id)), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* ---- parsing ---------------------------------------------------------- */

struct evs {
	struct netwatch_event ev[8];
	int n;
};

static void collect(void *ctx, const struct netwatch_event *ev)
{
	struct evs *e = ctx;

	ck_assert_int_lt(e->n, 8);
	e->ev[e->n++] = *ev;
}

/* Messages are appended to one aligned buffer. */
struct msgbuf {
	uint32_t b[1024];
	size_t len;
};

static struct nlmsghdr *put_msg(struct msgbuf *m, uint16_t type, size_t extra)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header((uint8_t *)m->b + m->len);

	nlh->nlmsg_type = type;
	nlh->nlmsg_seq = 7;
	nlh->nlmsg_pid = 4242;
	mnl_nlmsg_put_extra_header(nlh, extra);
	return nlh;
}

static void end_msg(struct msgbuf *m, struct nlmsghdr *nlh)
{
	m->len += MNL_ALIGN(nlh->nlmsg_len);
}

static void put_addr(struct msgbuf *m, uint16_t type, int family, int ifindex, const char *ip,
		     uint8_t plen)
{
	struct nlmsghdr *nlh = put_msg(m, type, sizeof(struct ifaddrmsg));
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	uint8_t a[16];

	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_index = (uint32_t)ifindex;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_flags = IFA_F_PERMANENT;
	ck_assert_int_eq(inet_pton(family, ip, a), 1);
	mnl_attr_put(nlh, IFA_ADDRESS, family == AF_INET ? 4 : 16, a);
	mnl_attr_put(nlh, IFA_LOCAL, family == AF_INET ? 4 : 16, a);
	mnl_attr_put_strz(nlh, IFA_LABEL, "veth-b");
	mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE);
	end_msg(m, nlh);
}

static int parse(const struct msgbuf *m, size_t len, struct evs *e)
{
	memset(e, 0, sizeof(*e));
	return netwatch_parse(m->b, len, collect, e);
}

START_TEST(parse_valid_messages)
{
	struct msgbuf m = { .len = 0 };
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct rtmsg *rtm;
	struct evs e;
	uint8_t dst[4] = { 192, 0, 2, 0 };
	int32_t err = -EBUSY;
	char ip[INET6_ADDRSTRLEN];

	put_addr(&m, RTM_NEWADDR, AF_INET, 7, "10.2.0.2", 24);
	nlh = put_msg(&m, RTM_NEWLINK, sizeof(*ifi));
	ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_index = 7;
	ifi->ifi_flags = IFF_UP | IFF_RUNNING;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "veth-b");
	mnl_attr_put_u32(nlh, IFLA_MTU, 1500);
	end_msg(&m, nlh);
	nlh = put_msg(&m, RTM_DELROUTE, sizeof(*rtm));
	rtm = mnl_nlmsg_get_payload(nlh);
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 24;
	rtm->rtm_table = RT_TABLE_UNSPEC;
	mnl_attr_put(nlh, RTA_DST, 4, dst);
	mnl_attr_put_u32(nlh, RTA_OIF, 7);
	mnl_attr_put_u32(nlh, RTA_TABLE, 1000);
	end_msg(&m, nlh);
	put_addr(&m, RTM_DELADDR, AF_INET6, 8, "2001:db8::1", 64);
	nlh = put_msg(&m, RTM_NEWNEIGH, sizeof(struct ndmsg));	/* not ours: skipped */
	end_msg(&m, nlh);
	nlh = put_msg(&m, NLMSG_DONE, 0);
	mnl_nlmsg_put_extra_header(nlh, sizeof(err));
	memcpy(mnl_nlmsg_get_payload(nlh), &err, sizeof(err));
	end_msg(&m, nlh);

	ck_assert_int_eq(parse(&m, m.len, &e), 5);
	ck_assert_int_eq(e.ev[0].kind, NETWATCH_EV_ADDR);
	ck_assert(!e.ev[0].del);
	ck_assert_int_eq(e.ev[0].ifindex, 7);
	ck_assert_int_eq(e.ev[0].family, AF_INET);
	ck_assert(e.ev[0].has_addr);
	inet_ntop(AF_INET, e.ev[0].addr, ip, sizeof(ip));
	ck_assert_str_eq(ip, "10.2.0.2");
	ck_assert_uint_eq(e.ev[0].prefix_len, 24);
	/* IFA_FLAGS wins over ifa_flags */
	ck_assert_uint_eq(e.ev[0].flags, IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE);
	ck_assert_str_eq(e.ev[0].ifname, "veth-b");
	ck_assert_uint_eq(e.ev[0].seq, 7);
	ck_assert_uint_eq(e.ev[0].portid, 4242);

	ck_assert_int_eq(e.ev[1].kind, NETWATCH_EV_LINK);
	ck_assert_int_eq(e.ev[1].ifindex, 7);
	ck_assert_uint_eq(e.ev[1].flags, IFF_UP | IFF_RUNNING);
	ck_assert_str_eq(e.ev[1].ifname, "veth-b");

	ck_assert_int_eq(e.ev[2].kind, NETWATCH_EV_ROUTE);
	ck_assert(e.ev[2].del);
	ck_assert_int_eq(e.ev[2].ifindex, 7);
	ck_assert_uint_eq(e.ev[2].table, 1000);
	ck_assert_uint_eq(e.ev[2].prefix_len, 24);
	ck_assert(e.ev[2].has_addr);
	ck_assert_mem_eq(e.ev[2].addr, dst, 4);

	ck_assert_int_eq(e.ev[3].kind, NETWATCH_EV_ADDR);
	ck_assert(e.ev[3].del);
	ck_assert_int_eq(e.ev[3].family, AF_INET6);
	inet_ntop(AF_INET6, e.ev[3].addr, ip, sizeof(ip));
	ck_assert_str_eq(ip, "2001:db8::1");

	ck_assert_int_eq(e.ev[4].kind, NETWATCH_EV_DONE);
	ck_assert_int_eq(e.ev[4].error, EBUSY);
}
END_TEST

START_TEST(parse_truncated)
{
	struct msgbuf m = { .len = 0 };
	struct nlmsghdr *nlh;
	struct evs e;
	size_t one;

	put_addr(&m, RTM_NEWADDR, AF_INET, 7, "10.2.0.2", 24);
	one = m.len;
	put_addr(&m, RTM_NEWADDR, AF_INET, 7, "10.2.0.3", 24);

	/* every cut inside the second message: the first still arrives */
	for (size_t len = one + 1; len < m.len; len++) {
		errno = 0;
		ck_assert_int_eq(parse(&m, len, &e), -1);
		ck_assert_int_eq(errno, EBADMSG);
		ck_assert_int_eq(e.n, 1);
	}
	ck_assert_int_eq(parse(&m, m.len, &e), 2);
	ck_assert_int_eq(parse(&m, 0, &e), 0);
	ck_assert_int_eq(parse(&m, 3, &e), -1);

	/* a length beyond the buffer, and one of 2^31 that turns negative as an int */
	nlh = (struct nlmsghdr *)m.b;
	nlh->nlmsg_len = (uint32_t)one + 4;
	ck_assert_int_eq(parse(&m, one, &e), -1);
	ck_assert_int_eq(e.n, 0);
	nlh->nlmsg_len = 0x80000000u;
	ck_assert_int_eq(parse(&m, m.len, &e), -1);
	ck_assert_int_eq(e.n, 0);
	nlh->nlmsg_len = 0xffffffffu;
	ck_assert_int_eq(parse(&m, m.len, &e), -1);
	nlh->nlmsg_len = 8;	/* shorter than a header */
	ck_assert_int_eq(parse(&m, m.len, &e), -1);
	ck_assert_int_eq(e.n, 0);

	/* a message too short for its fixed header is skipped, the next one read */
	memset(&m, 0, sizeof(m));
	nlh = put_msg(&m, RTM_NEWROUTE, 4);	/* struct rtmsg is 12 bytes */
	end_msg(&m, nlh);
	put_addr(&m, RTM_NEWADDR, AF_INET, 7, "10.2.0.2", 24);
	ck_assert_int_eq(parse(&m, m.len, &e), 1);
	ck_assert_int_eq(e.ev[0].kind, NETWATCH_EV_ADDR);
}
END_TEST

/*
 * fuzz_netwatch's finding: a message whose length is not a multiple of 4,
 * last in the buffer without its padding, with an attribute whose length
 * reaches into that padding. mnl_attr_for_each() walks to the aligned end:
 * the message is cut (EBADMSG), nothing is read past the buffer (an
 * exact-size heap copy, so ASan would see it).
 */
START_TEST(parse_message_without_its_padding)
{
	struct msgbuf m = { .len = 0 };
	struct nlmsghdr *nlh = put_msg(&m, RTM_NEWLINK, sizeof(struct ifinfomsg));
	struct nlattr *a = mnl_nlmsg_get_payload_tail(nlh);
	struct evs e;
	uint8_t *copy;
	size_t len;

	a->nla_type = IFLA_IFNAME;
	a->nla_len = 12;			/* 8 bytes of name */
	memcpy(a + 1, "ethernet", 8);
	nlh->nlmsg_len += 9;			/* but the message ends after the 5th */
	len = nlh->nlmsg_len;
	ck_assert_uint_ne(len % 4, 0);
	copy = malloc(len);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, m.b, len);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(netwatch_parse(copy, len, collect, &e), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(e.n, 0);
	free(copy);
}
END_TEST

START_TEST(parse_bad_attributes)
{
	struct msgbuf m = { .len = 0 };
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	struct rtmsg *rtm;
	struct nlattr *a;
	struct evs e;
	uint8_t five[5] = { 10, 2, 0, 2, 9 }, two[2] = { 1, 2 };
	char longname[40];

	/* addresses of the wrong size, a short u32, an overlong unterminated label */
	nlh = put_msg(&m, RTM_NEWADDR, sizeof(*ifa));
	ifa = mnl_nlmsg_get_payload(nlh);
	ifa->ifa_family = AF_INET;
	ifa->ifa_index = 3;
	ifa->ifa_flags = 0x80;
	mnl_attr_put(nlh, IFA_LOCAL, sizeof(five), five);
	mnl_attr_put(nlh, IFA_ADDRESS, 16, longname);	/* IPv6-sized in an IPv4 address */
	mnl_attr_put(nlh, IFA_FLAGS, sizeof(two), two);
	memset(longname, 'n', sizeof(longname));
	mnl_attr_put(nlh, IFA_LABEL, sizeof(longname), longname);
	end_msg(&m, nlh);
	ck_assert_int_eq(parse(&m, m.len, &e), 1);
	ck_assert(!e.ev[0].has_addr);
	ck_assert_uint_eq(e.ev[0].flags, 0x80);
	ck_assert_uint_eq(strlen(e.ev[0].ifname), IF_NAMESIZE - 1);

	/* an attribute whose length runs past its message: the walk stops there */
	memset(&m, 0, sizeof(m));
	nlh = put_msg(&m, RTM_NEWROUTE, sizeof(*rtm));
	rtm = mnl_nlmsg_get_payload(nlh);
	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_MAIN;
	mnl_attr_put_u32(nlh, RTA_OIF, 9);
	a = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, RTA_TABLE, 77);
	a->nla_len = 200;
	end_msg(&m, nlh);
	put_addr(&m, RTM_NEWADDR, AF_INET, 7, "10.2.0.2", 24);	/* and the next message is read */
	ck_assert_int_eq(parse(&m, m.len, &e), 2);
	ck_assert_int_eq(e.ev[0].ifindex, 9);
	ck_assert_uint_eq(e.ev[0].table, RT_TABLE_MAIN);
	ck_assert_int_eq(e.ev[1].kind, NETWATCH_EV_ADDR);

	/* zero-length and too-short attribute headers */
	memset(&m, 0, sizeof(m));
	nlh = put_msg(&m, RTM_NEWROUTE, sizeof(*rtm));
	rtm = mnl_nlmsg_get_payload(nlh);
	rtm->rtm_family = AF_INET6;
	mnl_attr_put(nlh, RTA_DST, 4, five);	/* IPv4-sized in an IPv6 route */
	mnl_attr_put(nlh, RTA_OIF, 2, two);
	a = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, RTA_OIF, 5);
	a->nla_len = 2;
	end_msg(&m, nlh);
	ck_assert_int_eq(parse(&m, m.len, &e), 1);
	ck_assert(!e.ev[0].has_addr);
	ck_assert_int_eq(e.ev[0].ifindex, 0);

	/* an NLMSG_ERROR without its body */
	memset(&m, 0, sizeof(m));
	nlh = put_msg(&m, NLMSG_ERROR, 0);
	end_msg(&m, nlh);
	ck_assert_int_eq(parse(&m, m.len, &e), 1);
	ck_assert_int_eq(e.ev[0].kind, NETWATCH_EV_ERROR);
	ck_assert_int_eq(e.ev[0].error, EBADMSG);
}
END_TEST

/* ---- in a network namespace ------------------------------------------- */

static void sh(const char *cmd)
{
	int rc = system(cmd);

	ck_assert_msg(rc == 0, "`%s` failed (%d)", cmd, rc);
}

static void sysctl(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(val, f);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * veth-a (10.2.0.1/24, fd00:2::1/64) and veth-b, both up, in a fresh
 * namespace; no IPv6 link-local addresses or DAD, whose late changes
 * would be noise in the watcher tests.
 */
static bool two_veths(const char *test)
{
	if (!tt_netns(test))
		return false;
	if (system("ip -V >/dev/null 2>&1") != 0) {
		check_skip(test, "no `ip` command");
		return false;
	}
	sysctl("/proc/sys/net/ipv6/conf/default/addr_gen_mode", "1");
	sysctl("/proc/sys/net/ipv6/conf/default/accept_dad", "0");
	sh("ip link set lo up && ip link add veth-a type veth peer name veth-b && "
	   "ip link set veth-a up && ip link set veth-b up && "
	   "ip addr add 10.2.0.1/24 dev veth-a && ip -6 addr add fd00:2::1/64 dev veth-a nodad");
	return true;
}

static struct net_route route_to(int family, const char *dst, uint32_t mark, int *ret)
{
	struct net_route r;
	uint8_t d[16];

	ck_assert_int_eq(inet_pton(family, dst, d), 1);
	*ret = netwatch_route(family, d, mark, &r);
	return r;
}

START_TEST(route_and_network_id)
{
	struct net_route r;
	char ip[INET6_ADDRSTRLEN], id[NETWATCH_ID_MAX + 1];
	int ret;

	if (!two_veths(__func__))
		return;
	/* directly connected */
	r = route_to(AF_INET, "10.2.0.9", 0, &ret);
	ck_assert_int_eq(ret, 0);
	ck_assert_int_eq(r.family, AF_INET);
	ck_assert_int_eq(r.ifindex, (int)if_nametoindex("veth-a"));
	ck_assert_str_eq(r.ifname, "veth-a");
	inet_ntop(AF_INET, r.src, ip, sizeof(ip));
	ck_assert_str_eq(ip, "10.2.0.1");
	ck_assert(!r.has_gw);
	ck_assert_uint_eq(r.prefix_len, 24);
	ck_assert_int_eq(netwatch_network_id(&r, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "net 10.2.0.0/24 dev veth-a");

	r = route_to(AF_INET6, "fd00:2::9", 0, &ret);
	ck_assert_int_eq(ret, 0);
	inet_ntop(AF_INET6, r.src, ip, sizeof(ip));
	ck_assert_str_eq(ip, "fd00:2::1");
	ck_assert_uint_eq(r.prefix_len, 64);
	ck_assert_int_eq(netwatch_network_id(&r, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "net fd00:2::/64 dev veth-a");

	/* through a router whose MAC is known, and one whose is not */
	sh("ip route add 192.0.2.0/24 via 10.2.0.254 dev veth-a && "
	   "ip neigh add 10.2.0.254 lladdr 02:00:00:00:00:fe dev veth-a nud permanent && "
	   "ip route add 198.51.100.0/24 via 10.2.0.253 dev veth-a");
	r = route_to(AF_INET, "192.0.2.7", 0, &ret);
	ck_assert_int_eq(ret, 0);
	ck_assert(r.has_gw);
	inet_ntop(AF_INET, r.gw, ip, sizeof(ip));
	ck_assert_str_eq(ip, "10.2.0.254");
	ck_assert_int_eq(netwatch_network_id(&r, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "gw 10.2.0.254 02:00:00:00:00:fe");
	r = route_to(AF_INET, "198.51.100.1", 0, &ret);
	ck_assert_int_eq(ret, 0);
	ck_assert_int_eq(netwatch_network_id(&r, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "gw 10.2.0.253 dev veth-a");

	/* no route at all */
	r = route_to(AF_INET, "203.0.113.1", 0, &ret);
	ck_assert_int_eq(ret, -1);
	ck_assert_int_eq(errno, ENETUNREACH);
	ck_assert_int_eq(r.ifindex, 0);
	ck_assert_int_eq(netwatch_route(AF_UNIX, (const uint8_t *)"x", 0, &r), -1);
	ck_assert_int_eq(errno, EAFNOSUPPORT);

	/* the mark is honoured: marked packets see table 100, where 192.0.2.0/24 is unreachable */
	sh("ip rule add fwmark 0x1234 lookup 100 && "
	   "ip route add unreachable 192.0.2.0/24 table 100");
	r = route_to(AF_INET, "192.0.2.7", 0, &ret);
	ck_assert_int_eq(ret, 0);
	r = route_to(AF_INET, "192.0.2.7", 0x1234, &ret);
	ck_assert_int_eq(ret, -1);
	ck_assert_msg(errno == EHOSTUNREACH || errno == ENETUNREACH, "errno %d", errno);
	/* and with a route there, that one is taken */
	sh("ip route del unreachable 192.0.2.0/24 table 100 && "
	   "ip route add 192.0.2.0/24 dev veth-b table 100");
	r = route_to(AF_INET, "192.0.2.7", 0x1234, &ret);
	ck_assert_int_eq(ret, 0);
	ck_assert_str_eq(r.ifname, "veth-b");
	ck_assert(!r.has_gw);
}
END_TEST

struct watch {
	struct loop *l;
	int calls;
	char why[NETWATCH_WHY_MAX + 1];
	uint64_t at_ms;
	struct loop_timer quiet, deadline;
};

/* After a report, wait past the longest burst for a second one that must not come. */
static void on_changed(void *ctx, const char *why)
{
	struct watch *t = ctx;

	t->calls++;
	snprintf(t->why, sizeof(t->why), "%s", why);
	t->at_ms = loop_now_ms();
	loop_timer_arm(t->l, &t->quiet, NETWATCH_MAX_WAIT_MS + 300);
}

static void on_stop(void *ctx)
{
	loop_stop(((struct watch *)ctx)->l);
}

/* Run cmd, then the loop until a report and quiet after it, or the deadline. */
static void watch_run(struct watch *t, const char *cmd, int wait_ms)
{
	uint64_t start;

	t->calls = 0;
	t->why[0] = '\0';
	loop_timer_init(&t->quiet, "quiet", on_stop, t);
	loop_timer_init(&t->deadline, "deadline", on_stop, t);
	loop_timer_arm(t->l, &t->deadline, (uint64_t)wait_ms);
	start = loop_now_ms();
	sh(cmd);
	ck_assert_int_eq(loop_run(t->l), 0);
	loop_timer_disarm(t->l, &t->quiet);
	loop_timer_disarm(t->l, &t->deadline);
	if (t->calls)
		ck_assert_uint_le(t->at_ms - start, NETWATCH_MAX_WAIT_MS + 400);
}

START_TEST(watcher_debounces)
{
	struct watch t = { .calls = 0 };
	struct netwatch *w;
	char why[NETWATCH_WHY_MAX + 1];

	if (!two_veths(__func__))
		return;
	t.l = loop_new();
	ck_assert_ptr_nonnull(t.l);
	w = netwatch_new(t.l, on_changed, &t);
	ck_assert_ptr_nonnull(w);

	/* two addresses back to back: one report naming both */
	watch_run(&t, "ip addr add 10.2.0.2/24 dev veth-a && ip addr add 10.2.0.3/24 dev veth-a",
		  3000);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_msg(strstr(t.why, "address 10.2.0.2/24 added on veth-a") &&
		      strstr(t.why, "address 10.2.0.3/24 added on veth-a"), "why: %s", t.why);
	ck_assert_uint_le(strlen(t.why), NETWATCH_WHY_MAX);

	/* the ignored interface: nothing */
	netwatch_ignore_ifindex(w, (int)if_nametoindex("veth-b"));
	watch_run(&t, "ip addr add 10.3.0.1/24 dev veth-b && ip route add 10.4.0.0/16 dev veth-b",
		  NETWATCH_MAX_WAIT_MS + 300);
	ck_assert_msg(t.calls == 0, "reported: %s", t.why);

	/* a link going down (veth-b ignored, its peer veth-a loses its carrier) */
	watch_run(&t, "ip link set veth-b down", 3000);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_msg(strstr(t.why, "link veth-a up, no carrier"), "why: %s", t.why);
	snprintf(why, sizeof(why), "%s", t.why);
	ck_assert_ptr_null(strstr(why, "veth-b"));

	/* a repeat of the same flags is no change */
	netwatch_ignore_ifindex(w, 0);
	watch_run(&t, "ip link set veth-a up", NETWATCH_MAX_WAIT_MS + 300);
	ck_assert_msg(t.calls == 0, "reported: %s", t.why);

	/* a link removed */
	watch_run(&t, "ip link del veth-a", 3000);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_msg(strstr(t.why, "link veth-a removed") || strstr(t.why, "link veth-b removed"),
		      "why: %s", t.why);

	netwatch_free(w);
	netwatch_free(NULL);
	loop_free(t.l);
}
END_TEST

static Suite *netwatch_suite(void)
{
	Suite *s = suite_create("netwatch");
	TCase *pure = tcase_create("pure"), *ns = tcase_create("netns");

	tcase_add_test(pure, due_settles_and_caps);
	tcase_add_test(pure, why_dedups_and_truncates);
	tcase_add_test(pure, network_id_formats);
	tcase_add_test(pure, parse_valid_messages);
	tcase_add_test(pure, parse_truncated);
	tcase_add_test(pure, parse_bad_attributes);
	tcase_add_test(pure, parse_message_without_its_padding);
	suite_add_tcase(s, pure);
	tcase_set_timeout(ns, 30);
	tcase_add_test(ns, route_and_network_id);
	tcase_add_test(ns, watcher_debounces);
	suite_add_tcase(s, ns);
	return s;
}

CHECK_MAIN(netwatch_suite)
