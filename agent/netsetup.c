/*
 * The network around the tunnel: the tun device (always ours: we read and
 * write it) and what goes on it, through one of two setups chosen at
 * start. Journaled (`ikeagent run`, systemd): addresses, routes, rules and
 * DNS set here and undone through the journal. Report (`--network report`,
 * a NetworkManager plugin): nothing set but the device; the ip event
 * (nm/PROTOCOL.md) tells the driver what to apply, at every change.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "agent/session.h"
#include "util/log.h"

/*
 * Undo every journaled change (tun included). keep_journal: the file stays
 * open for the next setup (we may no longer be allowed to create it).
 */
void netsetup_down(struct session *s, bool keep_journal)
{
	s->tun_active = false;
	(void)dp_tx_sync(s);	/* nobody reads the tun from here on */
	if (s->journal_open) {
		if (keep_journal) {
			if (tun_journal_reset(&s->journal) < 0)
				s->undo_failed = true;	/* journal.c logged what stays */
		} else {
			if (tun_journal_close(&s->journal) < 0)
				s->undo_failed = true;
			s->journal_open = false;
		}
	}
	tun_dev_close(&s->tun);	/* no-op if the journal closed it */
	memset(&s->net, 0, sizeof(s->net));
}

static int journaled_dns(struct session *s)
{
	struct tun_dns_req req;

	memset(&req, 0, sizeof(req));
	snprintf(req.ifname, sizeof(req.ifname), "%s", s->tun.name);
	memcpy(req.servers, s->net.dns, s->net.n_dns * sizeof(req.servers[0]));
	req.n_servers = s->net.n_dns;
	req.full_tunnel = s->net.full;
	return tun_j_dns_up(&s->journal, &req, &s->net.dns_method);
}

/* IPv6 in the tunnel: an IPv6 virtual address or IPv6 selectors. */
static bool net_has_ipv6(const struct session_net *n)
{
	if (n->has_vip6)
		return true;
	for (size_t i = 0; i < n->n_routes; i++)
		if (n->routes[i].family == AF_INET6)
			return true;
	return false;
}

/*
 * IPv6 on the tun we created, per the tunnel: off for an IPv4-only one, so
 * the kernel's link-local chatter (router solicitations, MLD) never reaches
 * it; on when IPv6 travels through it (the host default may be off). Best
 * effort, except that the IPv6 address then fails to be added; the setting
 * goes with the device. An existing persistent tun is left as it is.
 */
static void net_set_ipv6(const struct session *s, bool on)
{
	char path[96];
	bool ok = false;
	FILE *f;

	if (!s->tun.created)
		return;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", s->tun.name);
	f = fopen(path, "w");
	if (f) {
		ok = fputs(on ? "0" : "1", f) >= 0;
		ok = fclose(f) == 0 && ok;
	}
	if (!ok)
		log_debug("tun: cannot %s IPv6 on %s: %s", on ? "enable" : "disable", s->tun.name,
			  strerror(errno));
}

/* Journaled: addresses, routes (and rules for a full tunnel) and DNS, undone on exit or after a crash. */
static int journaled_configure(struct session *s)
{
	struct tun_journal *j = &s->journal;

	if (s->net.has_vip && tun_j_addr_add(j, &s->tun, &s->net.vip) < 0)
		return -1;
	if (s->net.has_vip6 && tun_j_addr_add(j, &s->tun, &s->net.vip6) < 0)
		return -1;
	if (tun_routes_install(j, &s->tun, s->net.routes, s->net.n_routes, s->cfg->agent.fwmark,
			       s->cfg->agent.table) < 0)
		return -1;
	return s->net.n_dns ? journaled_dns(s) : 0;
}

/* Report only: whoever drives ikeagent applies what the ip event says (NetworkManager does). */
static int report_configure(struct session *s)
{
	log_info("tun: %s up; its addresses, routes and DNS are left to the driver (--network report)",
		 s->tun.name);
	return 0;
}

const struct netsetup netsetup_journaled = { "journaled", journaled_configure };
const struct netsetup netsetup_report = { "report", report_configure };

static int net_up(struct session *s, const struct session_net *want)
{
	unsigned mtu = s->cfg->tunnel.mtu ? s->cfg->tunnel.mtu : SESSION_MTU_UDP;
	struct tun_journal *j = &s->journal;

	if (!s->journal_open) {
		errno = EBADF;
		return -1;
	}
	s->net = *want;
	s->net.up = false;
	if (tun_j_dev_open(j, &s->tun, mtu, TUN_DEFAULT_TXQLEN, s->cfg->tunnel.offload) < 0)
		goto fail;
	net_set_ipv6(s, net_has_ipv6(&s->net));
	if (s->roam.nw)
		netwatch_ignore_ifindex(s->roam.nw, s->tun.ifindex);	/* the tunnel is no network */
	s->tun_active = true;
	if (dp_tx_sync(s) < 0)	/* the loop thread or the worker reads it */
		goto fail;
	if (s->netsetup->configure(s) < 0)
		goto fail;
	s->net.up = true;
	session_emit_ip(s);
	return 0;
fail:
	{
		int err = errno;

		log_err("tun: network setup of %s failed: %s", s->cfg->agent.tun_name, strerror(err));
		netsetup_down(s, true);
		errno = err;
	}
	return -1;
}

int netsetup_ensure(struct session *s, const struct ike_child_info *ci)
{
	struct session_net want;

	cfgmap_net(s->cfg, ci, &want);
	if (s->net.up && cfgmap_net_same(&s->net, &want))
		return 0;
	if (s->net.up) {
		log_info("tun: the gateway changed address, selectors or DNS; rebuilding %s",
			 s->tun.name);
		netsetup_down(s, true);
	}
	return net_up(s, &want);
}

