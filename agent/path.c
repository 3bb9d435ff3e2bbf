/*
 * What every path shares: lifetime, names, failure reports, and the
 * dispatch to its kind (path_udp.c, path_stream.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/path.h"
#include "esp/esp.h"
#include "transport/udp.h"
#include "util/log.h"

const char *path_kind_name(enum config_transport k)
{
	switch (k) {
	case CONFIG_TRANSPORT_UDP: return "udp";
	case CONFIG_TRANSPORT_TCP: return "tcp";
	case CONFIG_TRANSPORT_TLS: return "tls";
	}
	return "?";
}

const char *path_bare_error(const char *err)
{
	if (!strncmp(err, "tcp: ", 5) || !strncmp(err, "tls: ", 5))
		return err + 5;
	return err;
}

/* The owner learns of a failure from the loop, never from inside a call. */
static void on_report(void *ctx)
{
	struct path *p = ctx;

	p->env->own->failed(p->env->ctx, p);
}

void path_report_failure(struct path *p)
{
	p->state = PATH_FAILED;
	loop_timer_arm(p->env->loop, &p->t_report, 0);
}

struct path *path_new(const struct path_env *env, enum config_transport k, bool nat_port)
{
	struct path *p = calloc(1, sizeof(*p));
	const struct config *cfg = env->cfg;
	uint16_t port = k == CONFIG_TRANSPORT_UDP ? (nat_port ? cfg->gateway.nat_port :
						      cfg->gateway.port) :
			k == CONFIG_TRANSPORT_TCP ? cfg->transport.tcp_port : cfg->transport.tls_port;
	struct sockaddr_storage gw = env->gw;
	char a[64];

	if (!p)
		return NULL;
	p->env = env;
	p->kind = k;
	p->nat_port = nat_port;
	p->fd = p->sk_ike.fd = p->sk_nat.fd = -1;
	p->proxy = k != CONFIG_TRANSPORT_UDP && cfg->transport.proxy_host;
	sockaddr_set_port(&gw, port);
	snprintf(p->where, sizeof(p->where), "%s", sockaddr_str((struct sockaddr *)&gw, a, sizeof(a)));
	loop_timer_init(&p->t_report, "path report", on_report, p);
	loop_timer_init(&p->t_retry, "path retry", NULL, p);
	loop_timer_init(&p->t_keepalive, "keepalive", NULL, p);
	return p;
}

int path_open(struct path *p)
{
	p->start_ms = loop_now_ms();
	p->state = PATH_CONNECTING;
	if (p->kind == CONFIG_TRANSPORT_UDP)
		return path_udp_open(p, p->nat_port);
	return path_stream_open(p);
}

void path_free(struct path *p)
{
	if (!p)
		return;
	loop_timer_disarm(p->env->loop, &p->t_report);
	if (p->kind == CONFIG_TRANSPORT_UDP)
		path_udp_close(p);
	else
		path_stream_close(p);
	free(p->rx);
	free(p);
}

int path_send_ike(struct path *p, const uint8_t *msg, size_t len)
{
	if (p->kind == CONFIG_TRANSPORT_UDP)
		return path_udp_send_ike(p, msg, len);
	return path_stream_send_ike(p, msg, len);
}

int path_send_esp(struct path *p, const struct iovec *pkts, unsigned n)
{
	if (p->kind == CONFIG_TRANSPORT_UDP)
		return path_udp_send_esp(p, pkts, n);
	return path_stream_send_esp(p, pkts, n);
}

bool path_esp_ready(const struct path *p)
{
	if (p->kind == CONFIG_TRANSPORT_UDP)
		return p->sk_nat.fd >= 0;
	return p->state == PATH_UP;
}

void path_float(struct path *p)
{
	/*
	 * A stream carries IKE and ESP on its one connection. RFC 9329 §6 ≈:
	 * "all messages for that IKE SA and its Child SAs MUST be sent over a
	 * TCP connection"; "ESP NAT keep-alives SHOULD NOT be sent when using
	 * TCP encapsulation" (so no keepalive timer either).
	 */
	if (p->kind == CONFIG_TRANSPORT_UDP)
		path_udp_float(p);
}

const char *path_describe(const struct path *p, char *buf, size_t cap)
{
	char a[64] = "-";

	if (p->local.ss_family)
		sockaddr_str((const struct sockaddr *)&p->local, a, sizeof(a));
	snprintf(buf, cap, "%s %s -> %s%s", path_kind_name(p->kind), a, p->where,
		 p->proxy ? " (proxy)" : "");
	return buf;
}

/* A datagram on the NAT-T port, or an RFC 9329 frame body: the same bytes. */
void path_natt_input(struct path *p, uint8_t *pkt, size_t len)
{
	const struct path_env *e = p->env;
	const uint8_t *body;
	size_t body_len;

	switch (esp_udp_classify(pkt, len, &body, &body_len)) {
	case ESP_UDP_KEEPALIVE:
		return;
	case ESP_UDP_IKE:
		e->own->ike_input(e->ctx, p, body, body_len);
		return;
	case ESP_UDP_ESP:
		e->own->esp_input(e->ctx, p, pkt, len);
		return;
	case ESP_UDP_INVALID:
		break;
	}
	e->own->dropped(e->ctx, p);
}
