/* Shared by nl.c and nl_route.c only: one rtnetlink request and its answers. */
#ifndef IKEAGENT_TUN_NL_INT_H
#define IKEAGENT_TUN_NL_INT_H

#include <libmnl/libmnl.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define NL_REQ_SIZE	1024	/* every request here is a header and a few attributes */

/*
 * Send the request in `nlh` (NLM_F_ACK is added unless it is a dump) on a
 * fresh NETLINK_ROUTE socket and feed each answer to cb (may be NULL).
 * -1 with errno from the kernel's NLMSG_ERROR (its extended-ack text is
 * logged at debug level) or from the socket.
 */
int nl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data) MUST_CHECK;

/* A fresh request header in buf (NL_REQ_SIZE bytes). */
struct nlmsghdr *nl_req(void *buf, uint16_t type, uint16_t flags);

/* Address length of a family, 0 if unsupported. */
size_t nl_alen(int family);

/*
 * Read an attribute of the right size; -1 and *out untouched otherwise, so
 * a malformed optional attribute may simply be ignored.
 */
int nl_attr_addr(const struct nlattr *a, int family, uint8_t out[16]);
int nl_attr_u32(const struct nlattr *a, uint32_t *out);

#endif
