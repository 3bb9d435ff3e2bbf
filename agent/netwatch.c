/*
 * The network watcher: an rtnetlink socket in the loop, small tables of the
 * links and addresses seen (so a repeat is not a change), and the debounce.
 */
#include "agent/netwatch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "util/log.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP	0x10000	/* linux/if.h; net/if.h lacks it */
#endif
#define LINK_FLAGS	(IFF_UP | IFF_LOWER_UP | IFF_RUNNING)
#define ADDR_FLAGS	(IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED)
#define RECV_SIZE	32768	/* MNL_SOCKET_DUMP_SIZE: the kernel's largest message */
#define RECV_BATCH	64	/* reads per wakeup; the loop calls again if more wait */
#define RCVBUF		(1 << 20)	/* asked for; the kernel may give less */
#define GROUPS		(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | \
			 RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE)

struct nw_link {
	int ifindex;	/* 0 = free */
	uint32_t flags;
	char name[IF_NAMESIZE];
};

struct nw_addr {
	int ifindex;	/* 0 = free */
	int family;
	uint8_t addr[16];
	uint8_t prefix_len;
	uint32_t flags;
};

enum nw_dump { DUMP_NONE, DUMP_LINKS, DUMP_ADDRS };

struct netwatch {
	struct loop *l;
	struct mnl_socket *nl;
	int fd;
	uint32_t portid;
	void (*changed)(void *ctx, const char *why);
	void *ctx;
	int ignore_ifindex;

	/* the burst being debounced */
	struct loop_timer timer;
	bool pending;
	uint64_t first_ms, last_ms;
	struct netwatch_why why;

	/* our dump of the links, then the addresses, answered on this socket */
	enum nw_dump dump;
	uint32_t dump_seq;
	bool redump;		/* events were lost during the dump: dump again after it */

	struct nw_link links[NETWATCH_LINKS];
	unsigned link_evict;	/* next slot to reuse when the table is full */
	struct nw_addr addrs[NETWATCH_ADDRS];
	unsigned addr_evict;

	uint32_t buf[RECV_SIZE / 4];	/* aligned for the headers in it */
};

/* ---- names ------------------------------------------------------------ */

static struct nw_link *link_find(struct netwatch *w, int ifindex)
{
	for (size_t i = 0; i < NETWATCH_LINKS; i++)
		if (w->links[i].ifindex == ifindex)
			return &w->links[i];
	return NULL;
}

static const char *ifname(struct netwatch *w, int ifindex, char buf[IF_NAMESIZE])
{
	struct nw_link *k = ifindex > 0 ? link_find(w, ifindex) : NULL;

	if (k && k->name[0])
		return k->name;
	if (ifindex > 0 && if_indextoname((unsigned)ifindex, buf))
		return buf;
	snprintf(buf, IF_NAMESIZE, "if%d", ifindex);
	return buf;
}

static const char *link_state(uint32_t flags)
{
	if (!(flags & IFF_UP))
		return "down";
	if (!(flags & IFF_LOWER_UP))
		return "up, no carrier";
	if (!(flags & IFF_RUNNING))
		return "up, not running";
	return "up";
}

/* ---- the debounce ----------------------------------------------------- */

static void nw_due(void *ctx)
{
	struct netwatch *w = ctx;
	char why[NETWATCH_WHY_MAX + 1];

	snprintf(why, sizeof(why), "%s", netwatch_why_str(&w->why));
	log_debug("netwatch: burst over after %llu ms: %s",
		  (unsigned long long)(loop_now_ms() - w->first_ms), why);
	w->pending = false;
	memset(&w->why, 0, sizeof(w->why));
	w->changed(w->ctx, why);	/* last: it may free w */
}

/* A relevant change: start or extend the burst. */
static void nw_note(struct netwatch *w, const char *phrase)
{
	uint64_t now = loop_now_ms();

	log_debug("netwatch: %s", phrase);
	if (!w->pending) {
		w->pending = true;
		w->first_ms = now;
	}
	w->last_ms = now;
	netwatch_why_add(&w->why, phrase);
	loop_timer_arm(w->l, &w->timer, netwatch_due_ms(w->first_ms, w->last_ms, now) - now);
}

/* ---- the dumps -------------------------------------------------------- */

static void dump_start(struct netwatch *w, enum nw_dump what)
{
	/* a header and the larger of struct ifinfomsg and struct ifaddrmsg */
	uint32_t req[(MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct ifinfomsg))) / 4] = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);

	_Static_assert(sizeof(struct ifinfomsg) >= sizeof(struct ifaddrmsg), "req too small");
	nlh->nlmsg_type = what == DUMP_LINKS ? RTM_GETLINK : RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++w->dump_seq;
	/* AF_UNSPEC in either header's family byte: every family. */
	if (what == DUMP_LINKS)
		mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	else
		mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg));
	w->dump = what;
	if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) < 0) {
		/* Not fatal: every link and address then simply counts once. */
		log_warn("netwatch: cannot ask for the current %s: %s",
			 what == DUMP_LINKS ? "links" : "addresses", strerror(errno));
		w->dump = DUMP_NONE;
	}
}

static bool from_dump(const struct netwatch *w, const struct netwatch_event *ev)
{
	return w->dump != DUMP_NONE && ev->portid == w->portid && ev->seq == w->dump_seq;
}

static void dump_done(struct netwatch *w, const struct netwatch_event *ev)
{
	if (ev->error)
		log_debug("netwatch: dump %u failed: %s", ev->seq, strerror(ev->error));
	if (w->dump == DUMP_LINKS) {
		dump_start(w, DUMP_ADDRS);
	} else if (w->redump) {
		w->redump = false;
		dump_start(w, DUMP_LINKS);
	} else {
		w->dump = DUMP_NONE;
	}
}

/* Events were lost: they count as a change, and the tables are refreshed. */
static void nw_overrun(struct netwatch *w, const char *what)
{
	log_info("netwatch: %s, network events lost: treated as a change", what);
	nw_note(w, "netlink overrun");
	if (w->dump == DUMP_NONE)
		dump_start(w, DUMP_LINKS);
	else
		w->redump = true;
}

/* ---- links and addresses --------------------------------------------- */

static void on_link(struct netwatch *w, const struct netwatch_event *ev, bool quiet)
{
	struct nw_link *k = link_find(w, ev->ifindex);
	char phrase[64], nb[IF_NAMESIZE];
	bool changed;

	if (ev->ifindex <= 0)
		return;
	if (ev->del) {
		snprintf(phrase, sizeof(phrase), "link %s removed",
			 ev->ifname[0] ? ev->ifname : ifname(w, ev->ifindex, nb));
		if (k)
			memset(k, 0, sizeof(*k));
		if (!quiet)
			nw_note(w, phrase);
		return;
	}
	/* A link not seen before counts if it is up already. */
	changed = k ? (k->flags ^ ev->flags) & LINK_FLAGS : ev->flags & IFF_UP;
	if (!k) {
		k = link_find(w, 0);
		if (!k)
			k = &w->links[w->link_evict++ % NETWATCH_LINKS];
	}
	k->ifindex = ev->ifindex;
	k->flags = ev->flags;
	if (ev->ifname[0])
		memcpy(k->name, ev->ifname, sizeof(k->name));
	if (changed && !quiet) {
		snprintf(phrase, sizeof(phrase), "link %s %s", ifname(w, ev->ifindex, nb),
			 link_state(ev->flags));
		nw_note(w, phrase);
	}
}

static struct nw_addr *addr_find(struct netwatch *w, const struct netwatch_event *ev)
{
	for (size_t i = 0; i < NETWATCH_ADDRS; i++) {
		struct nw_addr *a = &w->addrs[i];

		if (a->ifindex == ev->ifindex && a->family == ev->family &&
		    a->prefix_len == ev->prefix_len && memcmp(a->addr, ev->addr, 16) == 0)
			return a;
	}
	return NULL;
}

static void on_addr(struct netwatch *w, const struct netwatch_event *ev, bool quiet)
{
	struct nw_addr *a = addr_find(w, ev), *slot;
	char phrase[112], ip[INET6_ADDRSTRLEN] = "?", nb[IF_NAMESIZE];
	const char *what;

	if (ev->ifindex <= 0 || !ev->has_addr)
		return;
	if (ev->del) {
		if (a)
			memset(a, 0, sizeof(*a));
		what = "removed from";
	} else if (a && !((a->flags ^ ev->flags) & ADDR_FLAGS)) {
		return;		/* a repeat, e.g. a router advertisement refreshing lifetimes */
	} else {
		what = a ? "changed on" : "added on";
		slot = a ? a : addr_find(w, &(struct netwatch_event){ 0 });
		if (!slot)
			slot = &w->addrs[w->addr_evict++ % NETWATCH_ADDRS];
		slot->ifindex = ev->ifindex;
		slot->family = ev->family;
		slot->prefix_len = ev->prefix_len;
		memcpy(slot->addr, ev->addr, 16);
		slot->flags = ev->flags;
	}
	if (quiet)
		return;
	inet_ntop(ev->family, ev->addr, ip, sizeof(ip));
	snprintf(phrase, sizeof(phrase), "address %s/%u %s %s", ip, ev->prefix_len, what,
		 ifname(w, ev->ifindex, nb));
	nw_note(w, phrase);
}

static void on_route(struct netwatch *w, const struct netwatch_event *ev)
{
	char phrase[64], nb[IF_NAMESIZE];

	if (ev->flags & RTM_F_CLONED)
		return;
	if (ev->prefix_len || !ev->ifindex) {
		nw_note(w, "route changed");
		return;
	}
	snprintf(phrase, sizeof(phrase), "default route %s %s",
		 ev->del ? "removed from" : "added on", ifname(w, ev->ifindex, nb));
	nw_note(w, phrase);
}

static void on_event(void *ctx, const struct netwatch_event *ev)
{
	struct netwatch *w = ctx;
	bool quiet = from_dump(w, ev);

	if (ev->kind == NETWATCH_EV_DONE || ev->kind == NETWATCH_EV_ERROR) {
		if (quiet)
			dump_done(w, ev);
		return;
	}
	if (w->ignore_ifindex && ev->ifindex == w->ignore_ifindex)
		return;
	switch (ev->kind) {
	case NETWATCH_EV_LINK:
		on_link(w, ev, quiet);
		break;
	case NETWATCH_EV_ADDR:
		on_addr(w, ev, quiet);
		break;
	case NETWATCH_EV_ROUTE:
		if (!quiet)
			on_route(w, ev);
		break;
	default:
		break;
	}
}

/* ---- the socket ------------------------------------------------------- */

static void nw_readable(void *ctx, uint32_t events)
{
	struct netwatch *w = ctx;
	ssize_t n;

	for (int i = 0; i < RECV_BATCH; i++) {
		/* MSG_TRUNC: the full length of a message that did not fit. */
		n = recv(w->fd, w->buf, sizeof(w->buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				nw_overrun(w, "socket overrun");
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("netwatch: recv: %s", strerror(errno));
			return;
		}
		if ((size_t)n > sizeof(w->buf)) {
			nw_overrun(w, "message too large");
			continue;
		}
		if (netwatch_parse(w->buf, (size_t)n, on_event, w) < 0)
			log_debug("netwatch: %zd bytes ending in a cut message", n);
	}
}

struct netwatch *netwatch_new(struct loop *l, void (*changed)(void *ctx, const char *why),
			      void *ctx)
{
	struct netwatch *w = calloc(1, sizeof(*w));
	int rcvbuf = RCVBUF, err;

	if (!w)
		return NULL;
	w->l = l;
	w->changed = changed;
	w->ctx = ctx;
	w->fd = -1;
	loop_timer_init(&w->timer, "netwatch settle", nw_due, w);
	w->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!w->nl)
		goto fail;
	w->fd = mnl_socket_get_fd(w->nl);
	/* Best effort: a larger buffer makes overruns rarer; rmem_max caps it. */
	(void)setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (mnl_socket_bind(w->nl, GROUPS, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	w->portid = mnl_socket_get_portid(w->nl);
	if (loop_add_fd(l, w->fd, EPOLLIN, nw_readable, w) < 0)
		goto fail;
	dump_start(w, DUMP_LINKS);
	log_debug("netwatch: watching links, addresses and routes (netlink port %u)", w->portid);
	return w;
fail:
	err = errno;
	if (w->nl)
		mnl_socket_close(w->nl);
	free(w);
	errno = err;
	return NULL;
}

void netwatch_ignore_ifindex(struct netwatch *w, int ifindex)
{
	w->ignore_ifindex = ifindex > 0 ? ifindex : 0;
}

void netwatch_free(struct netwatch *w)
{
	if (!w)
		return;
	loop_timer_disarm(w->l, &w->timer);
	loop_del_fd(w->l, w->fd);
	mnl_socket_close(w->nl);
	free(w);
}
