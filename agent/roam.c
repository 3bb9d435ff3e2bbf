/*
 * Following the user across networks.
 *
 * rtnetlink (agent/netwatch.h) says, once a burst of changes has settled,
 * that addresses, links or routes changed. We then ask the kernel for the
 * route to the gateway with ikeagent's fwmark (so the tunnel's own routes
 * never count) and move the IKE SA when the path in use no longer has
 * that route's source address: the address went away, its link went down,
 * or another uplink is now preferred. A move is a race (race.c) for the
 * UPDATE_SA_ADDRESSES of RFC 4555: UDP first, then TCP, TLS, the proxy, as
 * [transport] order says, the same request over each (RFC 9329 §7.1). A
 * gateway without MOBIKE gets a new IKE SA instead.
 *
 * The memory (agent/netmem.h, state_dir/roam/networks) holds per network the
 * transport that last worked and whether UDP got no answer there. On a
 * network remembered as UDP-hostile the remembered transport goes first,
 * for the first IKE_SA_INIT and for moves, instead of waiting udp_timeout
 * for UDP; ROAM_UDP_PROBE_MS after a race was won there, UDP is tried
 * once more in the background (a move raced against the path in use), so
 * a network that changed its mind is noticed; each check UDP fails doubles
 * the wait, up to ROAM_UDP_PROBE_MAX_MS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/session.h"
#include "util/log.h"

#define ROAM_UDP_PROBE_MS	10000
#define ROAM_UDP_PROBE_MAX_MS	600000
#define ROAM_DIR		"roam"	/* in state_dir: the memory, handed to [agent] user */

/* ss has address ip (16 bytes, zero-padded, as netwatch and cfgmap_addr give it). */
static bool same_ip(const struct sockaddr_storage *ss, int family, const uint8_t *ip)
{
	uint8_t a[16];
	uint16_t port;

	cfgmap_addr(ss, a, &port);
	return ss->ss_family == family && !memcmp(a, ip, sizeof(a));
}

/* The route to the gateway now; the network it goes through into s->roam. */
static int route_now(struct session *s, struct net_route *r)
{
	uint8_t ip[16];
	uint16_t port;

	cfgmap_addr(&s->penv.gw, ip, &port);
	if (netwatch_route(s->penv.gw.ss_family, ip, s->cfg->agent.fwmark, r) < 0) {
		s->roam.ifindex = 0;	/* new paths: not bound to a device */
		return -1;
	}
	if (netwatch_network_id(r, s->roam.network, sizeof(s->roam.network)) < 0)
		s->roam.network[0] = '\0';
	s->roam.ifindex = r->ifindex;
	memcpy(s->roam.src, r->src, sizeof(s->roam.src));
	return 0;
}

/* See session.h: the MAC may not be known yet. */
const struct netmem_entry *roam_lookup(const struct netmem *m, const char *id)
{
	const struct netmem_entry *e = netmem_get(m, id), *found = NULL;
	const char *dev = strstr(id, " dev ");
	size_t n;

	if (e || strncmp(id, "gw ", 3) || !dev)
		return e;
	n = (size_t)(dev - id) + 1;	/* "gw IP " */
	for (size_t i = 0; i < m->n; i++) {
		if (strncmp(m->e[i].key, id, n) || strstr(m->e[i].key, " dev "))
			continue;
		if (found)
			return NULL;
		found = &m->e[i];
	}
	return found;
}

static const struct netmem_entry *remembered(const struct session *s)
{
	if (!s->roam.mem_ok || !s->roam.network[0])
		return NULL;
	return roam_lookup(&s->roam.mem, s->roam.network);
}

unsigned roam_pick_order(const struct config *cfg, const struct netmem_entry *e,
			 enum config_transport *order, bool *hostile)
{
	unsigned n = 0;

	*hostile = e && e->udp_blocked && e->transport != CONFIG_TRANSPORT_UDP &&
		   config_uses_transport(cfg, e->transport);
	if (*hostile)
		order[n++] = e->transport;
	for (unsigned i = 0; i < cfg->transport.n_order && n < CONFIG_MAX_TRANSPORTS; i++)
		if (!*hostile || cfg->transport.order[i] != order[0])
			order[n++] = cfg->transport.order[i];
	return n;
}

unsigned roam_order(struct session *s, enum config_transport *order)
{
	const struct netmem_entry *e;
	struct net_route r;
	unsigned n;
	char d[128];

	if (route_now(s, &r) < 0)
		s->roam.network[0] = '\0';
	e = remembered(s);
	n = roam_pick_order(s->cfg, e, order, &s->roam.hostile);
	if (s->roam.hostile) {
		snprintf(s->roam.why, sizeof(s->roam.why), "remembered for this network: %s",
			 netmem_describe(e, (uint64_t)time(NULL), d, sizeof(d)));
		log_info("agent: network %s: %s, trying %s first", s->roam.network, s->roam.why,
			 path_kind_name(order[0]));
	} else {
		snprintf(s->roam.why, sizeof(s->roam.why), "first of [transport] order");
	}
	return n;
}

void roam_won(struct session *s, const struct path *p, bool udp_tried)
{
	const struct netmem_entry *e;
	struct net_route r;
	bool blocked = udp_tried;

	/* Traffic went out there: the router's MAC is known now, the id is its best. */
	(void)route_now(s, &r);
	e = remembered(s);

	if (p->kind == CONFIG_TRANSPORT_UDP)
		snprintf(s->roam.why, sizeof(s->roam.why), "udp answered");
	else if (udp_tried)
		snprintf(s->roam.why, sizeof(s->roam.why), "udp got no answer on this network");
	/* On a network remembered as UDP-hostile, UDP is tried again later. */
	if (s->roam.hostile && p->kind != CONFIG_TRANSPORT_UDP && s->cfg->tunnel.roam &&
	    config_uses_transport(s->cfg, CONFIG_TRANSPORT_UDP)) {
		/* 10 s, then twice as long after each check UDP failed, up to 10 min */
		s->roam.probe_ms = !s->roam.probe_ms ? ROAM_UDP_PROBE_MS :
				   s->roam.probe_ms >= ROAM_UDP_PROBE_MAX_MS / 2 ?
				   ROAM_UDP_PROBE_MAX_MS : s->roam.probe_ms * 2;
		loop_timer_arm(s->loop, &s->roam.t_udp_probe, s->roam.probe_ms);
	} else {
		loop_timer_disarm(s->loop, &s->roam.t_udp_probe);
		s->roam.probe_ms = 0;
	}
	/* Not tried this time: what we knew of UDP here stays. */
	if (!udp_tried && p->kind != CONFIG_TRANSPORT_UDP && e)
		blocked = e->udp_blocked;
	if (!s->roam.mem_ok || !s->roam.network[0])
		return;
	if (netmem_put(&s->roam.mem, s->roam.network, p->kind, p->proxy, blocked,
		       (uint64_t)time(NULL)) < 0)
		log_warn("agent: cannot remember the transport for network %s: %s",
			 s->roam.network, strerror(errno));
}

/* ---- moves ---------------------------------------------------------------- */

static void move(struct session *s, const char *why, struct path *keep)
{
	enum config_transport order[CONFIG_MAX_TRANSPORTS];
	unsigned n;
	char line[320];

	if (!ike_sa_mobike(s->ike)) {
		snprintf(line, sizeof(line), "%s, and the gateway did not agree to MOBIKE", why);
		session_restart(s, line);
		return;
	}
	n = roam_order(s, order);
	if (!keep)
		s->roam.probe_ms = 0;	/* a new network: its first check comes soon */
	if (keep) {
		/* the background check: UDP, else the path in use */
		order[0] = CONFIG_TRANSPORT_UDP;
		order[1] = keep->kind;
		n = 2;
	}
	s->roam.change_ms = loop_now_ms();
	snprintf(line, sizeof(line), "%s; moving the IKE SA", why);
	if (race_start(s, RACE_MOVE, order, n, keep, line) < 0)
		session_restart(s, "no path to the gateway on the new network");
}

static void on_udp_probe(void *ctx)
{
	struct session *s = ctx;

	if (s->state != SESS_ESTABLISHED || race_active(s) || !s->path ||
	    s->path->kind == CONFIG_TRANSPORT_UDP || !s->ike || !ike_sa_mobike(s->ike))
		return;
	move(s, "network remembered as UDP-hostile: checking UDP again", s->path);
}

void roam_check(struct session *s, const char *why)
{
	struct net_route r;
	char src[64], line[300];
	bool changed;
	int prev_if = s->roam.ifindex;
	uint8_t prev_src[16];

	memcpy(prev_src, s->roam.src, sizeof(prev_src));
	if (route_now(s, &r) < 0) {
		log_info("network: %s; no route to the gateway now (%s), waiting", why,
			 strerror(errno));
		return;
	}
	changed = r.ifindex != prev_if || memcmp(r.src, prev_src, sizeof(prev_src));
	inet_ntop(r.family, r.src, src, sizeof(src));
	snprintf(line, sizeof(line), "network: %s; the gateway is now reached from %s on %s", why,
		 src, r.ifname);
	switch (s->state) {
	case SESS_CLOSING:
		return;
	case SESS_RECONNECTING:
		if (loop_timer_armed(&s->t_reconnect)) {
			log_info("%s: reconnecting now", line);
			loop_timer_arm(s->loop, &s->t_reconnect, 0);
		}
		return;
	case SESS_CONNECTING:
		if (changed && race_active(s) && !s->ike) {
			session_restart(s, line);
		}
		return;
	case SESS_ESTABLISHED:
		break;
	}
	if (race_active(s) && race_goal(s) == RACE_MOVE && changed) {
		/* The move under way aims at a network that is gone already: aim again
		 * (the outstanding update is rebuilt in place, same message ID). */
		race_stop(s);
		move(s, line, NULL);
		return;
	}
	if (race_active(s)) {
		if (changed)
			s->roam.recheck = true;
		return;
	}
	if (!s->path || !s->ike)
		return;
	if (same_ip(&s->path->local, r.family, r.src) && s->path->state != PATH_FAILED) {
		log_debug("%s: the tunnel's path (%s) is still it", line, src);
		return;
	}
	move(s, line, NULL);
}

/* ---- set-up --------------------------------------------------------------- */

static void on_change(void *ctx, const char *why)
{
	roam_check(ctx, why);
}

void roam_init(struct session *s)
{
	const struct config *cfg = s->cfg;
	struct net_route r;
	char err[256];

	loop_timer_init(&s->roam.t_udp_probe, "udp probe", on_udp_probe, s);
	s->roam.mem.dirfd = -1;
	if (cfg->tunnel.network_memory) {
		char dir[NETMEM_PATH_MAX];

		snprintf(dir, sizeof(dir), "%s/" ROAM_DIR, cfg->agent.state_dir);
		/* Handed to [agent] user by an earlier run: read it as root all the same. */
		if (netmem_open(&s->roam.mem, dir, drop_user_uid(cfg), err, sizeof(err)) < 0)
			log_warn("agent: network memory off: %s", err);
		else
			s->roam.mem_ok = true;
	}
	if (route_now(s, &r) < 0)
		log_info("agent: no route to the gateway yet (%s)", strerror(errno));
	if (!cfg->tunnel.roam)
		return;
	s->roam.nw = netwatch_new(s->loop, on_change, s);
	if (!s->roam.nw)
		log_warn("agent: cannot watch the network (%s): a network change is noticed only "
			 "when the gateway stops answering", strerror(errno));
}

void roam_free(struct session *s)
{
	if (s->loop)
		loop_timer_disarm(s->loop, &s->roam.t_udp_probe);
	netwatch_free(s->roam.nw);
	s->roam.nw = NULL;
	if (s->roam.mem_ok)
		netmem_close(&s->roam.mem);
	s->roam.mem_ok = false;
}
