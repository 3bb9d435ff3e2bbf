/* rtnetlink with libmnl: routes, route lookups and policy rules. */
#include "tun/tun.h"

#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "util/nl.h"

/* rtm_table/frh->table is 8 bits; larger ids travel in RTA_TABLE/FRA_TABLE. */
static uint8_t table8(uint32_t table)
{
	return table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
}

/* ---- routes ----------------------------------------------------------- */

static int route_check(const struct tun_route_spec *r, struct tun_cidr *dst)
{
	if (tun_cidr_check(&r->dst) < 0)
		return -1;
	if (r->oif <= 0) {
		errno = ENODEV;
		return -1;
	}
	if (r->gw.family && r->gw.family != r->dst.family) {
		errno = EINVAL;
		return -1;
	}
	*dst = r->dst;
	tun_cidr_mask(dst);
	return 0;
}

static int route_msg(uint16_t type, uint16_t flags, const struct tun_route_spec *r)
{
	uint8_t buf[NL_REQ_SIZE];
	uint32_t table = r->table ? r->table : RT_TABLE_MAIN;
	struct tun_cidr dst;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	size_t alen;

	if (route_check(r, &dst) < 0)
		return -1;
	alen = nl_alen(dst.family);
	nlh = nl_req(buf, type, flags);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)dst.family;
	rtm->rtm_dst_len = dst.prefix;
	rtm->rtm_table = table8(table);
	if (type == RTM_NEWROUTE) {
		rtm->rtm_protocol = RTPROT_STATIC;
		rtm->rtm_type = RTN_UNICAST;
		/* As `ip route`: an IPv4 route without gateway is on-link. */
		rtm->rtm_scope = dst.family == AF_INET && !r->gw.family ? RT_SCOPE_LINK
									 : RT_SCOPE_UNIVERSE;
	} else {
		rtm->rtm_scope = RT_SCOPE_NOWHERE;	/* any scope */
	}
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (dst.prefix)
		mnl_attr_put(nlh, RTA_DST, alen, dst.addr);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->oif);
	if (r->gw.family)
		mnl_attr_put(nlh, RTA_GATEWAY, alen, r->gw.addr);
	if (r->metric)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, r->metric);
	return nl_talk(nlh, NULL, NULL);
}

int tun_nl_route_add(const struct tun_route_spec *r)
{
	return route_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, r);
}

int tun_nl_route_del(const struct tun_route_spec *r)
{
	return route_msg(RTM_DELROUTE, 0, r);
}

/* Fields of one RTM_NEWROUTE answer. */
struct route_parsed {
	struct tun_route_spec spec;
	struct tun_route_info info;
	uint32_t flags;
};

static void route_parse(const struct nlmsghdr *nlh, struct route_parsed *p)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	uint32_t v;
	int fam = rtm->rtm_family;

	memset(p, 0, sizeof(*p));
	p->spec.dst.family = fam;
	p->spec.dst.prefix = rtm->rtm_dst_len;
	p->spec.table = rtm->rtm_table;
	p->info.type = rtm->rtm_type;
	p->flags = rtm->rtm_flags;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		switch (mnl_attr_get_type(a)) {
		case RTA_DST:
			nl_attr_addr(a, fam, p->spec.dst.addr);
			break;
		case RTA_OIF:
			if (nl_attr_u32(a, &v) == 0)
				p->spec.oif = (int)v;
			break;
		case RTA_GATEWAY:
			if (nl_attr_addr(a, fam, p->spec.gw.addr) == 0)
				p->spec.gw.family = fam;
			break;
		case RTA_PREFSRC:
			if (nl_attr_addr(a, fam, p->info.src.addr) == 0)
				p->info.src.family = fam;
			break;
		case RTA_TABLE:
			nl_attr_u32(a, &p->spec.table);
			break;
		case RTA_PRIORITY:
			nl_attr_u32(a, &p->spec.metric);
			break;
		}
	}
	p->info.oif = p->spec.oif;
	p->info.gw = p->spec.gw;
	p->info.table = p->spec.table;
}

static int route_get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_parsed p;

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct rtmsg))
		return MNL_CB_OK;
	route_parse(nlh, &p);
	*(struct tun_route_info *)data = p.info;
	return MNL_CB_OK;
}

int tun_nl_route_get(const struct tun_ip *dst, uint32_t mark, struct tun_route_info *out)
{
	uint8_t buf[NL_REQ_SIZE];
	size_t alen = nl_alen(dst->family);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	memset(out, 0, sizeof(*out));
	if (!alen) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	nlh = nl_req(buf, RTM_GETROUTE, 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)dst->family;
	rtm->rtm_dst_len = (uint8_t)(alen * 8);
	rtm->rtm_flags = RTM_F_LOOKUP_TABLE;	/* report the FIB table used */
	mnl_attr_put(nlh, RTA_DST, alen, dst->addr);
	if (mark)
		mnl_attr_put_u32(nlh, RTA_MARK, mark);
	if (nl_talk(nlh, route_get_cb, out) < 0)
		return -1;
	if (!out->type) {
		errno = ENOMSG;	/* acknowledged without an answer */
		return -1;
	}
	return 0;
}

struct route_list {
	uint32_t table;
	struct tun_route_spec *out;
	size_t max, n;
};

static int route_list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_list *l = data;
	struct route_parsed p;

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct rtmsg))
		return MNL_CB_OK;
	route_parse(nlh, &p);
	if (p.flags & RTM_F_CLONED || p.spec.table != l->table)
		return MNL_CB_OK;
	if (l->n == l->max) {
		errno = ENOBUFS;
		return MNL_CB_ERROR;
	}
	l->out[l->n++] = p.spec;
	return MNL_CB_OK;
}

int tun_nl_route_list(int family, uint32_t table, struct tun_route_spec *out, size_t max, size_t *n)
{
	uint8_t buf[NL_REQ_SIZE];
	struct route_list l = { .table = table ? table : RT_TABLE_MAIN, .out = out, .max = max };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int ret;

	nlh = nl_req(buf, RTM_GETROUTE, NLM_F_DUMP);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	ret = nl_talk(nlh, route_list_cb, &l);
	*n = l.n;
	return ret;
}

/* ---- policy rules ----------------------------------------------------- */

static int rule_msg(uint16_t type, uint16_t flags, const struct tun_rule_spec *r)
{
	uint8_t buf[NL_REQ_SIZE];
	struct fib_rule_hdr *frh;
	struct nlmsghdr *nlh;

	if (!nl_alen(r->family)) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (!r->table || r->suppress_prefixlen < -1 ||
	    r->suppress_prefixlen > (int)nl_alen(r->family) * 8) {
		errno = EINVAL;
		return -1;
	}
	nlh = nl_req(buf, type, flags);
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)r->family;
	frh->action = FR_ACT_TO_TBL;
	frh->table = table8(r->table);
	if (r->invert)
		frh->flags |= FIB_RULE_INVERT;
	mnl_attr_put_u32(nlh, FRA_TABLE, r->table);
	if (r->priority)
		mnl_attr_put_u32(nlh, FRA_PRIORITY, r->priority);
	if (r->fwmark)
		mnl_attr_put_u32(nlh, FRA_FWMARK, r->fwmark);
	if (r->suppress_prefixlen >= 0)
		mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN, (uint32_t)r->suppress_prefixlen);
	return nl_talk(nlh, NULL, NULL);
}

int tun_nl_rule_add(const struct tun_rule_spec *r)
{
	return rule_msg(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, r);
}

int tun_nl_rule_del(const struct tun_rule_spec *r)
{
	return rule_msg(RTM_DELRULE, 0, r);
}

struct rule_list {
	struct tun_rule_spec *out;
	size_t max, n;
};

static int rule_list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_list *l = data;
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	struct tun_rule_spec r = { .suppress_prefixlen = -1 };
	const struct nlattr *a;
	uint32_t v;

	if (nlh->nlmsg_type != RTM_NEWRULE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*frh))
		return MNL_CB_OK;
	r.family = frh->family;
	r.table = frh->table;
	r.invert = frh->flags & FIB_RULE_INVERT;
	mnl_attr_for_each(a, nlh, sizeof(*frh)) {
		switch (mnl_attr_get_type(a)) {
		case FRA_TABLE:
			nl_attr_u32(a, &r.table);
			break;
		case FRA_PRIORITY:
			nl_attr_u32(a, &r.priority);
			break;
		case FRA_FWMARK:
			nl_attr_u32(a, &r.fwmark);
			break;
		case FRA_SUPPRESS_PREFIXLEN:
			if (nl_attr_u32(a, &v) == 0)
				r.suppress_prefixlen = (int)v;	/* 0xffffffff: none */
			break;
		}
	}
	if (l->n == l->max) {
		errno = ENOBUFS;
		return MNL_CB_ERROR;
	}
	l->out[l->n++] = r;
	return MNL_CB_OK;
}

int tun_nl_rule_list(int family, struct tun_rule_spec *out, size_t max, size_t *n)
{
	uint8_t buf[NL_REQ_SIZE];
	struct rule_list l = { .out = out, .max = max };
	struct fib_rule_hdr *frh;
	struct nlmsghdr *nlh;
	int ret;

	nlh = nl_req(buf, RTM_GETRULE, NLM_F_DUMP);
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)family;
	ret = nl_talk(nlh, rule_list_cb, &l);
	*n = l.n;
	return ret;
}
