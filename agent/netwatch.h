/*
 * Watching the outer network, for MOBIKE: the agent must notice when the
 * laptop changes network (Wi-Fi to Ethernet, a new café, a cable pulled).
 *
 * A watcher listens to rtnetlink (links, IPv4/IPv6 addresses and routes)
 * and tells its owner once per burst of changes: after the first relevant
 * message it waits for NETWATCH_SETTLE_MS of quiet, but never longer than
 * NETWATCH_MAX_WAIT_MS after that first message, then calls
 * changed(ctx, why) with a short summary ("address 10.2.0.2/24 added on
 * veth-b, route changed"). A lost notification (socket overrun) counts as a
 * change. Messages about the agent's own tun device are ignored.
 *
 * What counts: a link whose IFF_UP, IFF_LOWER_UP or IFF_RUNNING changed, or
 * that went away; an address added or removed, or whose tentative, dadfailed
 * or deprecated flag changed (an IPv6 router advertisement refreshing the
 * lifetimes is not a change); any route added or removed except through the
 * ignored device (route cache clones are skipped).
 *
 * Then the owner asks where its packets to the gateway go now
 * (netwatch_route) and which network that is (netwatch_network_id).
 */
#ifndef IKEAGENT_AGENT_NETWATCH_H
#define IKEAGENT_AGENT_NETWATCH_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/loop.h"
#include "util/buf.h"

#define NETWATCH_SETTLE_MS	100	/* quiet time that ends a burst */
#define NETWATCH_MAX_WAIT_MS	500	/* a burst is reported this long after it began at most */
#define NETWATCH_WHY_MAX	120	/* characters of changed()'s why */
#define NETWATCH_ID_MAX		127	/* characters of a network id */
#define NETWATCH_LINKS		64	/* links whose flags are remembered */
#define NETWATCH_ADDRS		64	/* addresses remembered */

struct netwatch;

/*
 * Open the rtnetlink socket and register it with the loop. The current
 * links and addresses are asked for at once (a dump answered on the same
 * socket, not waited for) so later changes can be told from repeats.
 * NULL with errno on failure. changed() may call netwatch_free().
 */
struct netwatch *netwatch_new(struct loop *l, void (*changed)(void *ctx, const char *why),
			      void *ctx);
/* Ignore links, addresses and routes of this interface (the tun); 0 = none. */
void netwatch_ignore_ifindex(struct netwatch *w, int ifindex);
/* Close the socket, disarm the timer; NULL is fine. */
void netwatch_free(struct netwatch *w);

/* ---- where packets to the gateway go --------------------------------- */

struct net_route {
	int family;		/* AF_INET or AF_INET6 */
	int ifindex;		/* outgoing interface */
	char ifname[IF_NAMESIZE];
	uint8_t src[16];	/* the source address the kernel would pick */
	bool has_gw;
	uint8_t gw[16];		/* next hop, if has_gw */
	uint8_t prefix_len;	/* of src on ifindex (RTM_GETADDR), 0 if unknown */
};

/*
 * Ask the kernel for its route to dst_ip (4 or 16 bytes by family) as a
 * packet marked with fwmark `mark` (0 = unmarked) would take it, so that
 * policy routing with the agent's fwmark is honoured: the tunnel's own
 * routes are bypassed as for the agent's own IKE and ESP packets. Blocks
 * NL_TIMEOUT_MS (util/nl.h) at most per answer (a few requests: the route,
 * then an address dump for prefix_len). -1 with errno: the kernel's
 * (ENETUNREACH, EHOSTUNREACH, ...), EAFNOSUPPORT, ETIMEDOUT, or ENETUNREACH
 * for a route that is not unicast (unreachable, blackhole, prohibit, local).
 */
int netwatch_route(int family, const uint8_t *dst_ip, uint32_t mark, struct net_route *out)
	MUST_CHECK;

/*
 * A stable name of the network a route goes through, for per-network
 * memory (which transport worked there, for instance):
 *   "gw <gw-ip> <lladdr>"       through a router whose link-layer address
 *                               the neighbour table knows (reachable,
 *                               stale, delay, probe or permanent);
 *   "gw <gw-ip> dev <ifname>"   through a router whose address it does not;
 *   "net <prefix>/<len> dev <ifname>"  directly connected;
 *   "dev <ifname>"              directly connected, prefix unknown.
 * Why the router's MAC: 192.168.1.0/24 behind 192.168.1.1 is every home and
 * café; the router's link-layer address tells them apart. Interface and
 * prefix are the fallback. At most NETWATCH_ID_MAX characters; -1 with
 * errno ENOSPC if cap is too small, EINVAL for a bad route.
 */
int netwatch_network_id(const struct net_route *r, char *out, size_t cap) MUST_CHECK;
/* (It asks the kernel's neighbour table, a dump; synchronous as netwatch_route.) */

/* ---- the pure parts, for tests and the fuzzer ------------------------ */

/*
 * When to report a burst whose first message came at first_ms and whose
 * latest at last_ms: last + NETWATCH_SETTLE_MS, but first +
 * NETWATCH_MAX_WAIT_MS at the latest, and never before now_ms.
 */
uint64_t netwatch_due_ms(uint64_t first_ms, uint64_t last_ms, uint64_t now_ms);

/* The id's text from a route and its router's link-layer address (NULL/0: unknown). */
int netwatch_network_id_fmt(const struct net_route *r, const uint8_t *lladdr, size_t lladdr_len,
			    char *out, size_t cap) MUST_CHECK;

/* The summary of a burst: distinct phrases, ", "-separated, then "(+N more)". */
struct netwatch_why {
	char s[NETWATCH_WHY_MAX + 1];
	unsigned more;		/* phrases that did not fit */
};
void netwatch_why_add(struct netwatch_why *y, const char *phrase);
/* The finished text, at most NETWATCH_WHY_MAX characters. */
const char *netwatch_why_str(struct netwatch_why *y);

enum netwatch_ev_kind {
	NETWATCH_EV_LINK = 1,	/* RTM_NEWLINK / RTM_DELLINK */
	NETWATCH_EV_ADDR,	/* RTM_NEWADDR / RTM_DELADDR */
	NETWATCH_EV_ROUTE,	/* RTM_NEWROUTE / RTM_DELROUTE */
	NETWATCH_EV_DONE,	/* NLMSG_DONE: end of a dump */
	NETWATCH_EV_ERROR,	/* NLMSG_ERROR: error is the errno (0: an ack) */
};

/* One rtnetlink message, as far as the watcher cares. */
struct netwatch_event {
	enum netwatch_ev_kind kind;
	bool del;		/* DELLINK, DELADDR, DELROUTE */
	uint32_t seq, portid;	/* of the header: our dump's answers carry ours */
	int family;
	int ifindex;		/* link, address; route: RTA_OIF, 0 without one */
	uint32_t flags;		/* link: ifi_flags; address: IFA_FLAGS or ifa_flags;
				   route: rtm_flags */
	uint8_t addr[16];	/* address: IFA_LOCAL, else IFA_ADDRESS; route: RTA_DST */
	bool has_addr;
	uint8_t prefix_len;	/* address: ifa_prefixlen; route: rtm_dst_len */
	uint32_t table;		/* route: RTA_TABLE, else rtm_table */
	char ifname[IF_NAMESIZE];	/* link: IFLA_IFNAME; address: IFA_LABEL; "" if none */
	int error;		/* NETWATCH_EV_ERROR, NETWATCH_EV_DONE */
};

/*
 * Walk the messages in buf (one recv's worth, 4-byte aligned) and call cb for each that
 * is one of the kinds above; other types are skipped. Every header and
 * attribute is checked against what is left before it is read; a message
 * too short for its fixed header is skipped, an attribute of the wrong
 * size ignored. Returns the number of events, or -1 with errno EBADMSG if
 * the buffer ends in a truncated message (the events before it were
 * delivered).
 */
typedef void (*netwatch_event_cb)(void *ctx, const struct netwatch_event *ev);
int netwatch_parse(const void *buf, size_t len, netwatch_event_cb cb, void *ctx) MUST_CHECK;

#endif
