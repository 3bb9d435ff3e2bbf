/*
 * Routing the tunnel's traffic selectors into the tun, journaled: split
 * routes, or wg-quick's full-tunnel scheme for a /0, and their teardown.
 *
 * Full tunnel, per family (the agent marks its own sockets with fwmark):
 *   default dev TUN table TABLE               every unmarked packet ...
 *   not fwmark MARK lookup TABLE              ... looks up TABLE,
 *   lookup main suppress_prefixlength 0       after main's specific routes.
 */
#include "tun/tun.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/log.h"

static int check_all(const struct tun_cidr *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tun_cidr_check(&c[i]) < 0)
			return -1;
	return 0;
}

static void split_spec(const struct tun_dev *dev, const struct tun_cidr *c, uint32_t table,
		       struct tun_route_spec *r)
{
	memset(r, 0, sizeof(*r));
	r->dst = *c;
	r->oif = dev->ifindex;
	r->table = table;
}

int tun_route_split_del(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *c,
			size_t n, uint32_t table)
{
	int err = 0;

	for (size_t i = n; i-- > 0;) {
		struct tun_route_spec r;

		split_spec(dev, &c[i], table, &r);
		/* ENOENT: never ours (was there before, or a duplicate). */
		if (tun_j_route_del(j, &r) < 0 && errno != ENOENT && !err)
			err = errno;
	}
	errno = err;
	return err ? -1 : 0;
}

int tun_route_split(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *c,
		    size_t n, uint32_t table)
{
	char buf[TUN_CIDR_STRLEN];

	if (check_all(c, n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct tun_route_spec r;
		int err;

		split_spec(dev, &c[i], table, &r);
		if (tun_j_route_add(j, &r) == 0)
			continue;
		err = errno;
		if (err == EEXIST) {
			log_debug("tun: route %s via %s already present, skipped",
				  tun_cidr_fmt(&c[i], buf, sizeof(buf)), dev->name);
			continue;
		}
		log_err("tun: cannot route %s via %s: %s", tun_cidr_fmt(&c[i], buf, sizeof(buf)),
			dev->name, strerror(err));
		if (tun_route_split_del(j, dev, c, i, table) < 0)
			log_warn("tun: split routes only partly rolled back: %s", strerror(errno));
		errno = err;
		return -1;
	}
	return 0;
}

/* The three pieces of the full-tunnel scheme. */
struct full {
	struct tun_route_spec route;
	struct tun_rule_spec not_marked;
	struct tun_rule_spec main_first;
};

static int full_specs(const struct tun_dev *dev, int family, uint32_t fwmark, uint32_t table,
		      struct full *f)
{
	memset(f, 0, sizeof(*f));
	if (family != AF_INET && family != AF_INET6) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	/* main, default and local cannot double as the tunnel's table. */
	if (!fwmark || !table || table == RT_TABLE_MAIN || table == RT_TABLE_DEFAULT ||
	    table == RT_TABLE_LOCAL) {
		errno = EINVAL;
		return -1;
	}
	f->route.dst.family = family;	/* prefix 0: default */
	f->route.oif = dev->ifindex;
	f->route.table = table;
	f->not_marked = (struct tun_rule_spec){ .family = family, .table = table, .fwmark = fwmark,
						.invert = true, .suppress_prefixlen = -1 };
	f->main_first = (struct tun_rule_spec){ .family = family, .table = RT_TABLE_MAIN,
						.suppress_prefixlen = 0 };
	return 0;
}

int tun_route_full_del(struct tun_journal *j, const struct tun_dev *dev, int family, uint32_t fwmark,
		       uint32_t table)
{
	struct full f;
	int err = 0;

	if (full_specs(dev, family, fwmark, table, &f) < 0)
		return -1;
	if (tun_j_rule_del(j, &f.main_first) < 0 && errno != ENOENT)
		err = errno;
	if (tun_j_rule_del(j, &f.not_marked) < 0 && errno != ENOENT && !err)
		err = errno;
	if (tun_j_route_del(j, &f.route) < 0 && errno != ENOENT && !err)
		err = errno;
	errno = err;
	return err ? -1 : 0;
}

int tun_route_full(struct tun_journal *j, const struct tun_dev *dev, int family, uint32_t fwmark,
		   uint32_t table)
{
	const char *fam = family == AF_INET6 ? "IPv6" : "IPv4";
	struct full f;
	int err;

	if (full_specs(dev, family, fwmark, table, &f) < 0)
		return -1;
	if (tun_j_route_add(j, &f.route) < 0 || tun_j_rule_add(j, &f.not_marked) < 0 ||
	    tun_j_rule_add(j, &f.main_first) < 0) {
		err = errno;
		log_err("tun: full tunnel (%s) via %s table %u: %s", fam, dev->name, table,
			strerror(err));
		if (tun_route_full_del(j, dev, family, fwmark, table) < 0)
			log_warn("tun: full tunnel only partly rolled back: %s", strerror(errno));
		errno = err;
		return -1;
	}
	log_info("tun: full tunnel (%s) via %s: table %u, unmarked traffic (fwmark 0x%x exempt)",
		 fam, dev->name, table, fwmark);
	return 0;
}

/*
 * Split the list: which families go full, and the CIDRs still needing a
 * route of their own (those of a full family are covered by its default).
 */
static struct tun_cidr *plan(const struct tun_cidr *c, size_t n, bool *full4, bool *full6,
			     size_t *n_split)
{
	struct tun_cidr *split = calloc(n ? n : 1, sizeof(*split));

	*full4 = *full6 = false;
	*n_split = 0;
	if (!split)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (c[i].prefix == 0)
			*(c[i].family == AF_INET ? full4 : full6) = true;
	}
	for (size_t i = 0; i < n; i++) {
		bool covered = c[i].family == AF_INET ? *full4 : *full6;

		if (!covered)
			split[(*n_split)++] = c[i];
	}
	return split;
}

int tun_routes_remove(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *c,
		      size_t n, uint32_t fwmark, uint32_t table)
{
	bool full4, full6;
	struct tun_cidr *split;
	size_t n_split;
	int err = 0;

	if (check_all(c, n) < 0)
		return -1;
	split = plan(c, n, &full4, &full6, &n_split);
	if (!split)
		return -1;
	if (tun_route_split_del(j, dev, split, n_split, 0) < 0)
		err = errno;
	if (full6 && tun_route_full_del(j, dev, AF_INET6, fwmark, table) < 0 && !err)
		err = errno;
	if (full4 && tun_route_full_del(j, dev, AF_INET, fwmark, table) < 0 && !err)
		err = errno;
	free(split);
	errno = err;
	return err ? -1 : 0;
}

int tun_routes_install(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *c,
		       size_t n, uint32_t fwmark, uint32_t table)
{
	bool full4, full6;
	struct tun_cidr *split;
	size_t n_split;
	int ret = 0, err;

	if (check_all(c, n) < 0)
		return -1;
	split = plan(c, n, &full4, &full6, &n_split);
	if (!split)
		return -1;
	if ((full4 && tun_route_full(j, dev, AF_INET, fwmark, table) < 0) ||
	    (full6 && tun_route_full(j, dev, AF_INET6, fwmark, table) < 0) ||
	    tun_route_split(j, dev, split, n_split, 0) < 0) {
		err = errno;
		if (tun_routes_remove(j, dev, c, n, fwmark, table) < 0)
			log_warn("tun: routes only partly rolled back: %s", strerror(errno));
		errno = err;
		ret = -1;
	}
	free(split);
	return ret;
}

int tun_route_pin_host(struct tun_journal *j, const struct tun_dev *dev, const struct tun_ip *peer,
		       struct tun_route_spec *pinned)
{
	struct tun_route_info info;
	char buf[TUN_CIDR_STRLEN];

	memset(pinned, 0, sizeof(*pinned));
	if (tun_nl_route_get(peer, 0, &info) < 0)
		return -1;
	if (info.type != RTN_UNICAST)
		return 0;	/* local or otherwise special: nothing to keep */
	if (dev && info.oif == dev->ifindex) {
		errno = ELOOP;
		return -1;
	}
	pinned->dst.family = peer->family;
	memcpy(pinned->dst.addr, peer->addr, sizeof(pinned->dst.addr));
	pinned->dst.prefix = peer->family == AF_INET ? 32 : 128;
	pinned->oif = info.oif;
	pinned->gw = info.gw;
	if (tun_j_route_add(j, pinned) < 0) {
		int err = errno;

		memset(pinned, 0, sizeof(*pinned));
		if (err == EEXIST)
			return 0;
		errno = err;
		return -1;
	}
	log_info("tun: host route %s pinned to its current path",
		 tun_cidr_fmt(&pinned->dst, buf, sizeof(buf)));
	return 0;
}
