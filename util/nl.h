/*
 * One rtnetlink request and its answers, with libmnl: used by tun/ (links,
 * addresses, routes, rules) and by the network watcher's questions.
 *
 * Each request has a NETLINK_ROUTE socket of its own, closed before
 * nl_talk() returns, that waits NL_TIMEOUT_MS at most per answer, so no
 * request can block the agent's loop for good.
 */
#ifndef IKEAGENT_UTIL_NL_H
#define IKEAGENT_UTIL_NL_H

#include <libmnl/libmnl.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define NL_REQ_SIZE	1024	/* every request is a header and a few attributes */
#define NL_TIMEOUT_MS	1000	/* a request gives up after this per answer */

/*
 * Send the request in `nlh` (NLM_F_ACK is added unless it is a dump) and
 * feed each answer to cb (may be NULL). -1 with errno: the kernel's from
 * NLMSG_ERROR or NLMSG_DONE (an extended-ack text is logged at debug
 * level), the socket's, ENOSPC for an overrun, ETIMEDOUT.
 */
int nl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data) MUST_CHECK;

/* A fresh request header in buf (NL_REQ_SIZE bytes). */
struct nlmsghdr *nl_req(void *buf, uint16_t type, uint16_t flags);

/* Address length of a family (4 or 16), 0 if unsupported. */
size_t nl_alen(int family);

/*
 * Read an attribute of exactly the right size; -1 and *out untouched
 * otherwise, so a malformed optional attribute may simply be ignored.
 * nl_attr_addr zero-fills out[] past an IPv4 address.
 */
int nl_attr_addr(const struct nlattr *a, int family, uint8_t out[16]);
int nl_attr_u32(const struct nlattr *a, uint32_t *out);

#endif
