/* Shared by journal.c and journal_fmt.c only: one journal entry and its text. */
#ifndef IKEAGENT_TUN_JOURNAL_INT_H
#define IKEAGENT_TUN_JOURNAL_INT_H

#include "tun/tun.h"

#define JLINE_MAX	2048

enum jkind { J_DEV = 1, J_ADDR, J_ROUTE, J_RULE, J_DNS };

/*
 * One change. Only the fields of its kind are used; everything needed to
 * undo it is here, so it can be undone by a later process. Interfaces are
 * kept by name: an index means nothing after the device is recreated.
 */
struct tun_jent {
	unsigned seq;
	enum jkind kind;
	char ifname[IFNAMSIZ];		/* DEV, ADDR, ROUTE (its oif) */
	struct tun_cidr cidr;		/* ADDR */
	struct tun_route_spec route;	/* ROUTE: dst masked, table set, oif unused */
	struct tun_rule_spec rule;	/* RULE */
	enum tun_dns_method dns;	/* DNS: programs and paths come from the config */
	struct tun_dns_req req;		/* DNS */
	struct tun_dev *dev;		/* DEV made by this process, else NULL */
};

/*
 * The text after "+<seq> ", e.g.
 *   route 10.99.0.0/16 dev ikt0 via - table 254 metric 0
 * ENAMETOOLONG if it does not fit.
 */
int jent_fmt(const struct tun_jent *e, char *buf, size_t cap) MUST_CHECK;
/* Parse such text (tokenised in place); EINVAL if malformed. */
int jent_parse(char *text, struct tun_jent *e) MUST_CHECK;
/* The same change (for tun_j_*_del); DNS entries all match. */
bool jent_same(const struct tun_jent *a, const struct tun_jent *b);

#endif
