/*
 * The link object: what every transport shares (the IKE SA and its
 * callbacks, status, the hooks the data path calls) and the UDP link,
 * which uses the session's two sockets. Stream links are in
 * link_stream.c, the race in race.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/session.h"
#include "util/log.h"

const char *link_kind_name(enum config_transport k)
{
	switch (k) {
	case CONFIG_TRANSPORT_UDP: return "udp";
	case CONFIG_TRANSPORT_TCP: return "tcp";
	case CONFIG_TRANSPORT_TLS: return "tls";
	}
	return "?";
}

const char *link_bare_error(const char *err)
{
	if (!strncmp(err, "tcp: ", 5) || !strncmp(err, "tls: ", 5))
		return err + 5;
	return err;
}

static bool is_winner(const struct link *l)
{
	return l->s->link == l;
}

/* ---- the IKE SA's callbacks (ctx: the link) ----------------------------- */

static int op_send(void *ctx, const uint8_t *msg, size_t len)
{
	struct link *l = ctx;
	struct session *s = l->s;

	if (l->kind != CONFIG_TRANSPORT_UDP)
		return link_stream_send_ike(l, msg, len);
	return dp_send_ike(s, s->sock_nat.fd >= 0 ? &s->sock_nat : &s->sock_ike, msg, len);
}

static void op_float(void *ctx)
{
	link_float(ctx);
}

static void op_child_up(void *ctx, const struct ike_child_info *ci)
{
	struct link *l = ctx;

	if (is_winner(l))
		session_child_up(l->s, ci);
}

static void op_child_down(void *ctx, uint32_t spi_in)
{
	struct link *l = ctx;

	if (is_winner(l))
		dp_child_remove(l->s, spi_in);
}

static void op_state(void *ctx, enum ike_sa_state old, enum ike_sa_state now)
{
	struct link *l = ctx;

	if (is_winner(l)) {
		session_ike_state(l->s, old, now);
		return;
	}
	if (now == IKE_SA_DEAD) {
		snprintf(l->err, sizeof(l->err), "%s", ike_sa_failure_text(l->ike));
		link_report_failure(l);
	}
}

static const struct ike_sa_ops link_ike_ops = {
	.send = op_send,
	.float_port = op_float,
	.child_up = op_child_up,
	.child_down = op_child_down,
	.state_changed = op_state,
};

/* ---- the link's IKE SA ---------------------------------------------------- */

static void ss_ip(const struct sockaddr_storage *ss, uint8_t ip[16], uint16_t *port)
{
	memset(ip, 0, 16);
	if (ss->ss_family == AF_INET)
		memcpy(ip, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else if (ss->ss_family == AF_INET6)
		memcpy(ip, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	*port = sockaddr_port(ss);
}

/* NAT_DETECTION with the addresses of the transport in use (RFC 9329 §6.5 ≈). */
void link_set_addrs(struct link *l, const struct sockaddr_storage *local,
		    const struct sockaddr_storage *remote)
{
	uint8_t lip[16], rip[16];
	uint16_t lport, rport;

	ss_ip(local, lip, &lport);
	ss_ip(remote, rip, &rport);
	ike_sa_set_addrs(l->ike, remote->ss_family == AF_INET6 ? AF_INET6 : AF_INET, lip, lport,
			 rip, rport);
}

/*
 * RFC 9329 §5 ≈: "it is RECOMMENDED to retransmit the initial UDP message
 * at least once before trying to fall back to TCP": the first
 * retransmission comes at half of udp_timeout when another transport waits.
 */
static uint32_t retransmit_ms(const struct session *s, enum config_transport k)
{
	uint32_t half = s->cfg->transport.udp_timeout_ms / 2;

	if (k != CONFIG_TRANSPORT_UDP || s->cfg->transport.n_order < 2)
		return SESSION_RETRANSMIT_MS;
	if (half < LINK_RETRANSMIT_MIN_MS)
		half = LINK_RETRANSMIT_MIN_MS;
	return half < SESSION_RETRANSMIT_MS ? half : SESSION_RETRANSMIT_MS;
}

int link_ike_start(struct link *l, const struct sockaddr_storage *local,
		   const struct sockaddr_storage *remote)
{
	struct session *s = l->s;
	struct ike_sa_cfg c = s->ike_cfg;

	c.retransmit_ms = retransmit_ms(s, l->kind);
	l->ike = ike_sa_new(&c, &link_ike_ops, l);
	if (!l->ike) {
		snprintf(l->err, sizeof(l->err), "cannot create the IKE SA");
		log_err("ike: %s", l->err);
		return -1;
	}
	link_set_addrs(l, local, remote);
	/* RFC 9329 §6.2 ≈: initiators SHOULD NOT retransmit requests over TCP. */
	if (l->kind != CONFIG_TRANSPORT_UDP)
		ike_sa_set_reliable(l->ike, true);
	if (ike_sa_start(l->ike, loop_now_ms()) < 0) {
		snprintf(l->err, sizeof(l->err), "cannot start the IKE SA");
		return -1;	/* the IKE SA is DEAD and said why */
	}
	link_rearm(l);
	return 0;
}

void link_rearm(struct link *l)
{
	if (is_winner(l))
		session_rearm_ike(l->s);
	else
		race_poke(l->s);
}

/* The race learns of a failure from the loop, never from inside a callback. */
static void on_report(void *ctx)
{
	struct link *l = ctx;

	race_link_failed(l->s, l);
}

void link_report_failure(struct link *l)
{
	if (!is_winner(l))
		loop_timer_arm(l->s->loop, &l->t_report, 0);
}

void link_ike_input(struct link *l, const uint8_t *msg, size_t len)
{
	if (!l || !l->ike)
		return;
	if (is_winner(l)) {
		session_ike_input(l->s, msg, len);
		return;
	}
	ike_sa_input(l->ike, msg, len, loop_now_ms());
	race_input_done(l->s, l);
}

/* ---- UDP ------------------------------------------------------------------ */

static int udp_open_link(struct link *l)
{
	struct session *s = l->s;

	if (dp_sock_open(s, &s->sock_ike, s->cfg->gateway.port, false) < 0) {
		snprintf(l->err, sizeof(l->err), "cannot open a UDP socket: %s", strerror(errno));
		return -1;
	}
	s->sock_ike.link = l;
	l->state = LINK_UP;
	return link_ike_start(l, &s->sock_ike.local, &s->sock_ike.peer);
}

void link_float(struct link *l)
{
	struct session *s;

	/*
	 * A stream carries IKE and ESP on its one connection. RFC 9329 §6 ≈:
	 * "all messages for that IKE SA and its Child SAs MUST be sent over a
	 * TCP connection"; "ESP NAT keep-alives SHOULD NOT be sent when using
	 * TCP encapsulation" (so no keepalive timer either).
	 */
	if (!l || l->kind != CONFIG_TRANSPORT_UDP)
		return;
	s = l->s;
	if (s->sock_nat.fd >= 0)
		return;
	log_info("udp: moving to NAT-T port %u", s->cfg->gateway.nat_port);
	if (dp_sock_open(s, &s->sock_nat, s->cfg->gateway.nat_port, true) < 0)
		return;
	s->sock_nat.link = l;
	s->last_tx_ms = loop_now_ms();
	loop_timer_arm(s->loop, &s->t_keepalive, SESSION_KEEPALIVE_MS);
}

static void udp_close_link(struct link *l)
{
	struct session *s = l->s;

	loop_timer_disarm(s->loop, &s->t_keepalive);
	dp_sock_close(s, &s->sock_nat);
	dp_sock_close(s, &s->sock_ike);
	s->sock_nat.link = s->sock_ike.link = NULL;
}

/* ---- lifetime ------------------------------------------------------------- */

struct link *link_new(struct session *s, enum config_transport k)
{
	struct link *l = calloc(1, sizeof(*l));
	uint16_t port = k == CONFIG_TRANSPORT_UDP ? s->cfg->gateway.port :
			k == CONFIG_TRANSPORT_TCP ? s->cfg->transport.tcp_port :
			s->cfg->transport.tls_port;
	struct sockaddr_storage gw = s->gw;
	char a[64];

	if (!l)
		return NULL;
	l->s = s;
	l->kind = k;
	l->fd = -1;
	l->proxy = k != CONFIG_TRANSPORT_UDP && s->cfg->transport.proxy_host;
	sockaddr_set_port(&gw, port);
	snprintf(l->where, sizeof(l->where), "%s", sockaddr_str((struct sockaddr *)&gw, a, sizeof(a)));
	loop_timer_init(&l->t_retry, "link retry", NULL, l);
	loop_timer_init(&l->t_report, "link report", on_report, l);
	return l;
}

int link_open(struct link *l)
{
	l->start_ms = loop_now_ms();
	l->state = LINK_CONNECTING;
	if (l->kind == CONFIG_TRANSPORT_UDP)
		return udp_open_link(l);
	return link_stream_open(l);
}

void link_free(struct link *l)
{
	if (!l)
		return;
	loop_timer_disarm(l->s->loop, &l->t_retry);
	loop_timer_disarm(l->s->loop, &l->t_report);
	if (l->kind == CONFIG_TRANSPORT_UDP)
		udp_close_link(l);
	else
		link_stream_close(l);
	ike_sa_free(l->ike);
	free(l->rx);
	free(l);
}

/* ---- hooks of the data path and status ------------------------------------ */

bool link_esp_ready(const struct session *s)
{
	const struct link *l = s->link;

	if (!l || l->kind == CONFIG_TRANSPORT_UDP)
		return s->sock_nat.fd >= 0;
	return l->state == LINK_UP;
}

int link_send_esp(struct session *s, const struct iovec *pkts, unsigned n)
{
	struct link *l = s->link;

	if (!l || l->kind == CONFIG_TRANSPORT_UDP)
		return udp_send_batch(s->sock_nat.fd, pkts, n);
	return link_stream_send_esp(l, pkts, n);
}

void link_status(const struct session *s, struct status_info *si)
{
	const struct link *l = s->link ? s->link : race_latest(s);
	const struct config *cfg = s->cfg;

	if (!l) {
		/* between attempts: what comes first next time */
		if (cfg->transport.n_order)
			si->transport = link_kind_name(cfg->transport.order[0]);
		return;
	}
	si->transport = link_kind_name(l->kind);
	if (l->kind == CONFIG_TRANSPORT_UDP)
		return;	/* the sockets, as status_collect found them */
	si->local[0] = '\0';
	if (l->state == LINK_UP)
		sockaddr_str((const struct sockaddr *)&l->local, si->local, sizeof(si->local));
	snprintf(si->remote, sizeof(si->remote), "%s", l->where);
	si->proxy = l->proxy;
	if (l->proxy)
		snprintf(si->proxy_addr, sizeof(si->proxy_addr), "%s%s%s:%u",
			 strchr(cfg->transport.proxy_host, ':') ? "[" : "", cfg->transport.proxy_host,
			 strchr(cfg->transport.proxy_host, ':') ? "]" : "", cfg->transport.proxy_port);
}
