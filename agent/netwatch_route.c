/*
 * The network watcher's synchronous questions: the route to the gateway,
 * the prefix of its source address, the router's link-layer address, and
 * the network id made of them, each one nl_talk() (util/nl.h): a socket of
 * its own that waits NL_TIMEOUT_MS at most per answer.
 */
#include "agent/netwatch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/log.h"
#include "util/nl.h"

#define LLADDR_MAX	20	/* longest link-layer address named in an id (InfiniBand) */
#define NUD_KNOWN	(NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT)

/* ---- the route -------------------------------------------------------- */

struct route_ans {
	struct net_route *out;
	uint8_t type;	/* rtm_type, 0 until answered */
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_ans *ra = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct net_route *r = ra->out;
	const struct nlattr *a;
	uint32_t v;

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) ||
	    rtm->rtm_family != r->family)
		return MNL_CB_OK;
	ra->type = rtm->rtm_type;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		switch (mnl_attr_get_type(a)) {
		case RTA_OIF:
			if (nl_attr_u32(a, &v) == 0)
				r->ifindex = (int)v;
			break;
		case RTA_PREFSRC:
			(void)nl_attr_addr(a, r->family, r->src);
			break;
		case RTA_GATEWAY:
			if (nl_attr_addr(a, r->family, r->gw) == 0)
				r->has_gw = true;
			break;
		}
	}
	return MNL_CB_OK;
}

struct addr_ans {
	const struct net_route *r;
	uint8_t prefix_len;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_ans *aa = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	uint8_t local[16], addr[16];
	bool has_local = false, has_addr = false;

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa) ||
	    ifa->ifa_family != aa->r->family || (int)ifa->ifa_index != aa->r->ifindex)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(a) == IFA_LOCAL)
			has_local = nl_attr_addr(a, ifa->ifa_family, local) == 0;
		else if (mnl_attr_get_type(a) == IFA_ADDRESS)
			has_addr = nl_attr_addr(a, ifa->ifa_family, addr) == 0;
	}
	/* IFA_LOCAL is the own address where both exist (peer setups). */
	if ((has_local && memcmp(local, aa->r->src, 16) == 0) ||
	    (!has_local && has_addr && memcmp(addr, aa->r->src, 16) == 0))
		aa->prefix_len = ifa->ifa_prefixlen;
	return MNL_CB_OK;
}

/* The prefix length of r->src on r->ifindex; 0 if it is not found. */
static uint8_t route_prefix_len(const struct net_route *r)
{
	uint8_t buf[NL_REQ_SIZE];
	struct addr_ans aa = { .r = r };
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = (uint8_t)r->family;
	if (nl_talk(nlh, addr_cb, &aa) < 0) {
		log_debug("netwatch: address dump: %s", strerror(errno));
		return 0;
	}
	return aa.prefix_len;
}

int netwatch_route(int family, const uint8_t *dst_ip, uint32_t mark, struct net_route *out)
{
	uint8_t buf[NL_REQ_SIZE];
	size_t n = nl_alen(family);
	struct route_ans ra = { .out = out };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	memset(out, 0, sizeof(*out));
	if (!n) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	out->family = family;
	nlh = nl_req(buf, RTM_GETROUTE, 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)(n * 8);
	mnl_attr_put(nlh, RTA_DST, n, dst_ip);
	if (mark)
		mnl_attr_put_u32(nlh, RTA_MARK, mark);
	if (nl_talk(nlh, route_cb, &ra) < 0)
		return -1;
	if (ra.type != RTN_UNICAST || out->ifindex <= 0) {
		/* unreachable, blackhole, prohibit, local, or no answer at all */
		memset(out, 0, sizeof(*out));
		errno = ENETUNREACH;
		return -1;
	}
	if (!if_indextoname((unsigned)out->ifindex, out->ifname))
		snprintf(out->ifname, sizeof(out->ifname), "if%d", out->ifindex);
	out->prefix_len = route_prefix_len(out);
	return 0;
}

/* ---- the network id --------------------------------------------------- */

struct neigh_ans {
	const struct net_route *r;
	uint8_t lladdr[LLADDR_MAX];
	size_t lladdr_len;
};

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct neigh_ans *na = data;
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *ll = NULL;
	uint8_t dst[16];
	bool has_dst = false;

	if (nlh->nlmsg_type != RTM_NEWNEIGH || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ndm) ||
	    ndm->ndm_family != na->r->family || ndm->ndm_ifindex != na->r->ifindex ||
	    !(ndm->ndm_state & NUD_KNOWN))
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ndm)) {
		if (mnl_attr_get_type(a) == NDA_DST)
			has_dst = nl_attr_addr(a, ndm->ndm_family, dst) == 0;
		else if (mnl_attr_get_type(a) == NDA_LLADDR)
			ll = a;
	}
	if (!has_dst || memcmp(dst, na->r->gw, 16) != 0 || !ll ||
	    !mnl_attr_get_payload_len(ll) || mnl_attr_get_payload_len(ll) > LLADDR_MAX)
		return MNL_CB_OK;
	na->lladdr_len = mnl_attr_get_payload_len(ll);
	memcpy(na->lladdr, mnl_attr_get_payload(ll), na->lladdr_len);
	return MNL_CB_OK;
}

int netwatch_network_id(const struct net_route *r, char *out, size_t cap)
{
	uint8_t buf[NL_REQ_SIZE];
	struct neigh_ans na = { .r = r };
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;

	if (r->has_gw && nl_alen(r->family)) {
		nlh = nl_req(buf, RTM_GETNEIGH, NLM_F_DUMP);
		ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
		ndm->ndm_family = (uint8_t)r->family;
		if (nl_talk(nlh, neigh_cb, &na) < 0) {
			log_debug("netwatch: neighbour dump: %s", strerror(errno));
			na.lladdr_len = 0;
		}
	}
	return netwatch_network_id_fmt(r, na.lladdr_len ? na.lladdr : NULL, na.lladdr_len, out,
				       cap);
}

int netwatch_network_id_fmt(const struct net_route *r, const uint8_t *lladdr, size_t lladdr_len,
			    char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN], ll[LLADDR_MAX * 3 + 1] = "", name[IF_NAMESIZE];
	uint8_t net[16] = { 0 };
	size_t n = nl_alen(r->family), bits = r->prefix_len;
	int len;

	if (cap)
		out[0] = '\0';
	if (!n || bits > n * 8) {
		errno = EINVAL;
		return -1;
	}
	snprintf(name, sizeof(name), "%.*s", IF_NAMESIZE - 1, r->ifname);
	if (!name[0])
		snprintf(name, sizeof(name), "if%d", r->ifindex);
	if (lladdr && lladdr_len && lladdr_len <= LLADDR_MAX) {
		for (size_t i = 0; i < lladdr_len; i++)
			snprintf(ll + 3 * i, sizeof(ll) - 3 * i, "%02x:", lladdr[i]);
		ll[3 * lladdr_len - 1] = '\0';
	}
	if (r->has_gw) {
		inet_ntop(r->family, r->gw, ip, sizeof(ip));
		len = ll[0] ? snprintf(out, cap, "gw %s %s", ip, ll)
			    : snprintf(out, cap, "gw %s dev %s", ip, name);
	} else if (bits) {
		memcpy(net, r->src, bits / 8);
		if (bits % 8)
			net[bits / 8] = (uint8_t)(r->src[bits / 8] & (0xff00 >> (bits % 8)));
		inet_ntop(r->family, net, ip, sizeof(ip));
		len = snprintf(out, cap, "net %s/%zu dev %s", ip, bits, name);
	} else {
		len = snprintf(out, cap, "dev %s", name);
	}
	if (len < 0 || (size_t)len >= cap || len > NETWATCH_ID_MAX) {
		if (cap)
			out[0] = '\0';
		errno = ENOSPC;
		return -1;
	}
	return 0;
}
