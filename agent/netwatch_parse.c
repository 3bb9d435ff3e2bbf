/* The pure parts of the network watcher: rtnetlink parsing, the debounce, the summary. */
#include "agent/netwatch.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <limits.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/nl.h"

/* ---- the debounce ----------------------------------------------------- */

uint64_t netwatch_due_ms(uint64_t first_ms, uint64_t last_ms, uint64_t now_ms)
{
	uint64_t settle = last_ms + NETWATCH_SETTLE_MS, cap = first_ms + NETWATCH_MAX_WAIT_MS;
	uint64_t due = settle < cap ? settle : cap;

	return due > now_ms ? due : now_ms;
}

/* ---- the summary ------------------------------------------------------ */

/* Room kept for " (+4294967295 more)". */
#define WHY_MORE_ROOM	19

static bool why_has(const char *s, const char *phrase)
{
	size_t n = strlen(phrase);

	for (const char *p = s; (p = strstr(p, phrase)); p++)
		if ((p == s || (p >= s + 2 && p[-2] == ',' && p[-1] == ' ')) &&
		    (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

void netwatch_why_add(struct netwatch_why *y, const char *phrase)
{
	size_t have = strnlen(y->s, sizeof(y->s) - 1), n = strlen(phrase), sep = have ? 2 : 0;

	if (!n || why_has(y->s, phrase))
		return;
	if (have + sep + n > NETWATCH_WHY_MAX - WHY_MORE_ROOM) {
		if (y->more < UINT_MAX)
			y->more++;
		return;
	}
	snprintf(y->s + have, sizeof(y->s) - have, "%s%s", sep ? ", " : "", phrase);
}

const char *netwatch_why_str(struct netwatch_why *y)
{
	size_t have = strnlen(y->s, sizeof(y->s) - 1);

	y->s[have] = '\0';
	if (y->more) {
		snprintf(y->s + have, sizeof(y->s) - have, "%s(+%u more)", have ? " " : "",
			 y->more);
		y->more = 0;
	}
	return y->s;
}

/* ---- rtnetlink messages ----------------------------------------------- */

/* A name attribute, NUL-terminated or not, cut to IF_NAMESIZE - 1. */
static void attr_name(const struct nlattr *a, char out[IF_NAMESIZE])
{
	size_t n = mnl_attr_get_payload_len(a);
	const char *p = mnl_attr_get_payload(a), *nul = memchr(p, '\0', n);

	if (nul)
		n = (size_t)(nul - p);
	if (n >= IF_NAMESIZE)
		n = IF_NAMESIZE - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static bool parse_link(const struct nlmsghdr *nlh, struct netwatch_event *ev)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return false;
	ev->kind = NETWATCH_EV_LINK;
	ev->family = ifi->ifi_family;
	ev->ifindex = ifi->ifi_index;
	ev->flags = ifi->ifi_flags;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		if (mnl_attr_get_type(a) == IFLA_IFNAME)
			attr_name(a, ev->ifname);
	}
	return true;
}

static bool parse_addr(const struct nlmsghdr *nlh, struct netwatch_event *ev)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	bool have_local = false;
	uint32_t v;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return false;
	ev->kind = NETWATCH_EV_ADDR;
	ev->family = ifa->ifa_family;
	ev->ifindex = (int)ifa->ifa_index;
	ev->flags = ifa->ifa_flags;
	ev->prefix_len = ifa->ifa_prefixlen;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		switch (mnl_attr_get_type(a)) {
		case IFA_LOCAL:	/* the own address where both exist (peer setups) */
			if (nl_attr_addr(a, ev->family, ev->addr) == 0)
				ev->has_addr = have_local = true;
			break;
		case IFA_ADDRESS:
			if (!have_local && nl_attr_addr(a, ev->family, ev->addr) == 0)
				ev->has_addr = true;
			break;
		case IFA_LABEL:
			attr_name(a, ev->ifname);
			break;
		case IFA_FLAGS:
			if (nl_attr_u32(a, &v) == 0)
				ev->flags = v;
			break;
		}
	}
	return true;
}

static bool parse_route(const struct nlmsghdr *nlh, struct netwatch_event *ev)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	uint32_t v;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return false;
	ev->kind = NETWATCH_EV_ROUTE;
	ev->family = rtm->rtm_family;
	ev->flags = rtm->rtm_flags;
	ev->prefix_len = rtm->rtm_dst_len;
	ev->table = rtm->rtm_table;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		switch (mnl_attr_get_type(a)) {
		case RTA_DST:
			if (nl_attr_addr(a, ev->family, ev->addr) == 0)
				ev->has_addr = true;
			break;
		case RTA_OIF:
			if (nl_attr_u32(a, &v) == 0)
				ev->ifindex = (int)v;
			break;
		case RTA_TABLE:
			(void)nl_attr_u32(a, &ev->table);
			break;
		}
	}
	return true;
}

static bool parse_error(const struct nlmsghdr *nlh, struct netwatch_event *ev)
{
	int32_t err;

	/* NLMSG_ERROR: struct nlmsgerr starts with the error; NLMSG_DONE may carry one. */
	ev->kind = nlh->nlmsg_type == NLMSG_DONE ? NETWATCH_EV_DONE : NETWATCH_EV_ERROR;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(err)) {
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
		ev->error = err < 0 && err > -4096 ? -err : 0;
	} else if (ev->kind == NETWATCH_EV_ERROR) {
		ev->error = EBADMSG;
	}
	return true;
}

static bool parse_one(const struct nlmsghdr *nlh, struct netwatch_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->seq = nlh->nlmsg_seq;
	ev->portid = nlh->nlmsg_pid;
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		ev->del = nlh->nlmsg_type == RTM_DELLINK;
		return parse_link(nlh, ev);
	case RTM_NEWADDR:
	case RTM_DELADDR:
		ev->del = nlh->nlmsg_type == RTM_DELADDR;
		return parse_addr(nlh, ev);
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		ev->del = nlh->nlmsg_type == RTM_DELROUTE;
		return parse_route(nlh, ev);
	case NLMSG_DONE:
	case NLMSG_ERROR:
		return parse_error(nlh, ev);
	}
	return false;
}

int netwatch_parse(const void *buf, size_t len, netwatch_event_cb cb, void *ctx)
{
	const struct nlmsghdr *nlh = buf;
	struct netwatch_event ev;
	int left, n = 0;

	/* libmnl counts in int; one recv is far smaller anyway. */
	if (len > INT_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	left = (int)len;
	/*
	 * mnl_nlmsg_ok() compares (int)nlmsg_len <= left: a length of 2^31 or
	 * more turns negative and passes. Compare unsigned as well. And
	 * mnl_attr_for_each() walks up to MNL_ALIGN(nlmsg_len): the padding
	 * must be in the buffer too (the kernel always sends it; a message cut
	 * just before its padding let an attribute reach 1-3 bytes past the
	 * end, found by fuzz_netwatch).
	 */
	for (; mnl_nlmsg_ok(nlh, left) && nlh->nlmsg_len <= (uint32_t)left &&
	       MNL_ALIGN(nlh->nlmsg_len) <= (uint32_t)left;
	     nlh = mnl_nlmsg_next(nlh, &left)) {
		if (parse_one(nlh, &ev)) {
			cb(ctx, &ev);
			n++;
		}
	}
	/* Anything left that is not the padding of the last message is a cut message. */
	if (left > 0) {
		errno = EBADMSG;
		return -1;
	}
	return n;
}
