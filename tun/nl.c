/* rtnetlink with libmnl: links and addresses. */
#include "tun/tun.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "util/log.h"
#include "util/nl.h"

/* ---- links ------------------------------------------------------------ */

static void link_kind(const struct nlattr *linkinfo, struct tun_link_info *out)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, linkinfo) {
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
		    mnl_attr_validate(a, MNL_TYPE_STRING) == 0) {
			size_t len = mnl_attr_get_payload_len(a);

			if (len >= sizeof(out->kind))
				len = sizeof(out->kind) - 1;
			memcpy(out->kind, mnl_attr_get_payload(a), len);
			out->kind[len] = '\0';
		}
	}
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct tun_link_info *out = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	uint32_t v;

	if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return MNL_CB_OK;
	memset(out, 0, sizeof(*out));
	out->ifindex = ifi->ifi_index;
	out->flags = ifi->ifi_flags;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_MTU:
			if (nl_attr_u32(a, &v) == 0)
				out->mtu = v;
			break;
		case IFLA_TXQLEN:
			if (nl_attr_u32(a, &v) == 0)
				out->txqlen = v;
			break;
		case IFLA_LINKINFO:
			if (mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
				link_kind(a, out);
			break;
		}
	}
	return MNL_CB_OK;
}

int tun_nl_link_get(const char *name, struct tun_link_info *out)
{
	uint8_t buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (tun_ifname_check(name) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	nlh = nl_req(buf, RTM_GETLINK, 0);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (nl_talk(nlh, link_cb, out) < 0)
		return -1;
	if (!out->ifindex) {
		errno = ENODEV;
		return -1;
	}
	return 0;
}

int tun_nl_link_del_tun(const char *name)
{
	uint8_t buf[NL_REQ_SIZE];
	struct tun_link_info li;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (tun_nl_link_get(name, &li) < 0)
		return -1;
	if (strcmp(li.kind, "tun") != 0) {
		log_warn("tun: %s is not a tun device (kind \"%s\"), left alone", name, li.kind);
		errno = EPERM;
		return -1;
	}
	nlh = nl_req(buf, RTM_DELLINK, 0);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = li.ifindex;
	return nl_talk(nlh, NULL, NULL);
}

int tun_nl_link_set_gso_max_segs(int ifindex, uint32_t segs)
{
	uint8_t buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	nlh = nl_req(buf, RTM_NEWLINK, 0);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	mnl_attr_put_u32(nlh, IFLA_GSO_MAX_SEGS, segs);
	return nl_talk(nlh, NULL, NULL);
}

/* ---- addresses -------------------------------------------------------- */

static int addr_msg(uint16_t type, uint16_t flags, int ifindex, const struct tun_cidr *a)
{
	uint8_t buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	size_t alen = nl_alen(a->family);

	if (tun_cidr_check(a) < 0)
		return -1;
	if (ifindex <= 0) {
		errno = ENODEV;
		return -1;
	}
	nlh = nl_req(buf, type, flags);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = a->prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	/* A tunnel address is usable at once: no duplicate detection. */
	if (a->family == AF_INET6 && type == RTM_NEWADDR)
		ifa->ifa_flags = IFA_F_NODAD;
	mnl_attr_put(nlh, IFA_LOCAL, alen, a->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, a->addr);
	return nl_talk(nlh, NULL, NULL);
}

int tun_nl_addr_add(int ifindex, const struct tun_cidr *a)
{
	return addr_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, a);
}

int tun_nl_addr_del(int ifindex, const struct tun_cidr *a)
{
	return addr_msg(RTM_DELADDR, 0, ifindex, a);
}

struct addr_list {
	int ifindex;
	struct tun_cidr *out;
	size_t max, n;
};

static int addr_list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_list *l = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	struct tun_cidr c = { 0 };
	bool have_local = false, have = false;

	if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return MNL_CB_OK;
	if (l->ifindex && (int)ifa->ifa_index != l->ifindex)
		return MNL_CB_OK;
	c.family = ifa->ifa_family;
	c.prefix = ifa->ifa_prefixlen;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		uint16_t t = mnl_attr_get_type(a);

		/* IFA_LOCAL is the own address where both exist (peer setups). */
		if (t == IFA_LOCAL && nl_attr_addr(a, c.family, c.addr) == 0)
			have = have_local = true;
		else if (t == IFA_ADDRESS && !have_local && nl_attr_addr(a, c.family, c.addr) == 0)
			have = true;
	}
	if (!have)
		return MNL_CB_OK;
	if (l->n == l->max) {
		errno = ENOBUFS;
		return MNL_CB_ERROR;
	}
	l->out[l->n++] = c;
	return MNL_CB_OK;
}

int tun_nl_addr_list(int family, int ifindex, struct tun_cidr *out, size_t max, size_t *n)
{
	uint8_t buf[NL_REQ_SIZE];
	struct addr_list l = { .ifindex = ifindex, .out = out, .max = max };
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	int ret;

	nlh = nl_req(buf, RTM_GETADDR, NLM_F_DUMP);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ret = nl_talk(nlh, addr_list_cb, &l);
	*n = l.n;
	return ret;
}
