/*
 * `ikeagent status`: a snapshot of the session, as text for people and as
 * one JSON object for scripts. The JSON is written by hand: every string
 * goes through json_str(), which escapes quotes, backslashes and control
 * characters.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/session.h"

const char *session_state_name(enum session_state st)
{
	switch (st) {
	case SESS_CONNECTING: return "connecting";
	case SESS_ESTABLISHED: return "established";
	case SESS_RECONNECTING: return "reconnecting";
	case SESS_CLOSING: return "closing";
	}
	return "unknown";
}

static void collect_net(const struct session *s, struct status_info *si)
{
	const struct session_net *n = &s->net;

	if (n->has_vip) {
		struct tun_ip ip = { .family = n->vip.family };

		memcpy(ip.addr, n->vip.addr, sizeof(ip.addr));
		tun_ip_fmt(&ip, si->virtual_ip, sizeof(si->virtual_ip));
	}
	if (n->has_vip6) {
		struct tun_ip ip = { .family = n->vip6.family };

		memcpy(ip.addr, n->vip6.addr, sizeof(ip.addr));
		tun_ip_fmt(&ip, si->virtual_ip6, sizeof(si->virtual_ip6));
	}
	si->n_routes = n->n_routes;
	for (size_t i = 0; i < n->n_routes; i++)
		tun_cidr_fmt(&n->routes[i], si->routes[i], sizeof(si->routes[i]));
	si->n_dns = n->n_dns;
	for (size_t i = 0; i < n->n_dns; i++)
		tun_ip_fmt(&n->dns[i], si->dns[i], sizeof(si->dns[i]));
	if (s->tun.fd >= 0) {
		const struct path *p = s->path;
		bool gro = p && p->kind == CONFIG_TRANSPORT_UDP && p->sk_nat.off.gro;

		snprintf(si->tun, sizeof(si->tun), "%s", s->tun.name);
		snprintf(si->datapath, sizeof(si->datapath), "tun %s%s%s, udp gro %s, %s",
			 !s->tun.vnet ? "without offloads" : "csum",
			 s->tun.offload & TUN_F_TSO4 ? " tso" : "", s->tun.offload & TUN_F_USO4 ? " uso" : "",
			 gro ? "on" : "off",
			 dp_worker_active(s) ? "encrypting on the worker thread" :
			 s->cfg->tunnel.threads ? "encrypting on the loop thread (the worker from 16 Mbit/s out)" :
			 "one thread");
	}
}

/* The path in use (or the newest tried while racing): transport, addresses, proxy. */
static void collect_path(const struct session *s, struct status_info *si)
{
	const struct path *p = s->path ? s->path : race_latest(s);
	const struct config *cfg = s->cfg;

	si->transport = cfg->transport.n_order ? path_kind_name(cfg->transport.order[0]) : "udp";
	sockaddr_str((const struct sockaddr *)&s->penv.gw, si->remote, sizeof(si->remote));
	if (!p)
		return;	/* between attempts: what comes first next time */
	si->transport = path_kind_name(p->kind);
	if (p->state == PATH_UP && p->local.ss_family)
		sockaddr_str((const struct sockaddr *)&p->local, si->local, sizeof(si->local));
	snprintf(si->remote, sizeof(si->remote), "%s", p->where);
	si->proxy = p->proxy;
	if (p->proxy)
		snprintf(si->proxy_addr, sizeof(si->proxy_addr), "%s%s%s:%u",
			 strchr(cfg->transport.proxy_host, ':') ? "[" : "", cfg->transport.proxy_host,
			 strchr(cfg->transport.proxy_host, ':') ? "]" : "", cfg->transport.proxy_port);
}

void status_collect(const struct session *s, struct status_info *si)
{
	const struct session_child *cur = NULL;

	memset(si, 0, sizeof(*si));
	si->state = session_state_name(s->state);
	si->ike_state = s->ike ? ike_sa_state_name(ike_sa_state(s->ike)) : "none";
	collect_path(s, si);
	snprintf(si->network, sizeof(si->network), "%s", s->roam.network);
	snprintf(si->why, sizeof(si->why), "%s", s->roam.why);
	si->last_move = s->last_move;
	collect_net(s, si);
	if (s->ike)
		ike_sa_spis(s->ike, &si->spi_i, &si->spi_r);
	for (size_t i = 0; i < SESSION_CHILDREN; i++)	/* dp_child_current(), on a const session */
		if (session_child_live(&s->child[i]) && (!cur || s->child[i].serial > cur->serial))
			cur = &s->child[i];
	if (cur) {
		si->child_spi_in = cur->in.spi;
		si->child_spi_out = cur->out.spi;
	}
	si->st = s->st;
	si->st.merged = s->dp.gro.merged;
	dp_worker_peek(s, &si->st);
	for (size_t i = 0; i < SESSION_CHILDREN; i++) {
		if (!s->child[i].used)
			continue;
		si->st.packets_in += s->child[i].in.packets;
		si->st.bytes_in += s->child[i].in.bytes;
		si->st.packets_out += esp_sa_packets(&s->child[i].out);	/* the worker's */
		si->st.bytes_out += esp_sa_bytes(&s->child[i].out);
	}
	if (s->state == SESS_ESTABLISHED && s->up_since_ms)
		si->uptime_s = (loop_now_ms() - s->up_since_ms) / 1000;
	si->last_error = s->last_error;
	if (s->last_move.done)
		si->move_ago_s = (loop_now_ms() - s->last_move.at_ms) / 1000;
}

const char *status_join(char (*items)[TUN_CIDR_STRLEN], size_t n, char *out, size_t cap)
{
	size_t off = 0;

	if (cap)
		out[0] = '\0';
	if (n == 0) {
		snprintf(out, cap, "none");
		return out;
	}
	for (size_t i = 0; i < n && off < cap; i++)
		off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? ", " : "", items[i]);
	return out;
}

/* Appending writer over a fixed buffer; overflow sticks. */
struct sbuf {
	char *p;
	size_t cap, len;
	bool over;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->over = true;
		b->p[b->len] = '\0';
		return;
	}
	b->len += (size_t)n;
}

static int sb_done(struct sbuf *b)
{
	return b->over ? -1 : 0;
}

static void spi_text(const struct status_info *si, char *buf, size_t cap)
{
	if (si->spi_i || si->spi_r)
		snprintf(buf, cap, "%016" PRIx64 ":%016" PRIx64, si->spi_i, si->spi_r);
	else
		snprintf(buf, cap, "none");
}

int status_text(const struct status_info *si, char *out, size_t cap)
{
	struct sbuf b = { out, cap, 0, false };
	char list[SESSION_MAX_ROUTES * (TUN_CIDR_STRLEN + 2)], spi[40];

	if (!cap)
		return -1;
	out[0] = '\0';
	spi_text(si, spi, sizeof(spi));
	sb_printf(&b, "state:       %s (IKE SA %s)\n", si->state, si->ike_state);
	sb_printf(&b, "transport:   %s %s -> %s%s%s\n", si->transport, si->local[0] ? si->local : "-",
		  si->remote, si->proxy ? " through proxy " : "", si->proxy ? si->proxy_addr : "");
	sb_printf(&b, "tun:         %s\n", si->tun[0] ? si->tun : "none");
	sb_printf(&b, "virtual ip:  %s\n", si->virtual_ip[0] ? si->virtual_ip : "none");
	if (si->virtual_ip6[0])
		sb_printf(&b, "virtual ip6: %s\n", si->virtual_ip6);
	sb_printf(&b, "routes:      %s\n",
		  status_join((char (*)[TUN_CIDR_STRLEN])si->routes, si->n_routes, list, sizeof(list)));
	sb_printf(&b, "dns:         %s\n",
		  status_join((char (*)[TUN_CIDR_STRLEN])si->dns, si->n_dns, list, sizeof(list)));
	sb_printf(&b, "ike spi:     %s\n", spi);
	if (si->child_spi_in)
		sb_printf(&b, "child spi:   in %08x, out %08x\n", si->child_spi_in, si->child_spi_out);
	else
		sb_printf(&b, "child spi:   none\n");
	if (si->datapath[0])
		sb_printf(&b, "data path:   %s; %" PRIu64 " tun reads split, %" PRIu64
			  " segments merged\n", si->datapath, si->st.supersegs, si->st.merged);
	sb_printf(&b, "traffic:     in %" PRIu64 " bytes (%" PRIu64 " packets), out %" PRIu64
		  " bytes (%" PRIu64 " packets), %" PRIu64 " dropped, %" PRIu64
		  " late on a replaced Child SA\n", si->st.bytes_in, si->st.packets_in,
		  si->st.bytes_out, si->st.packets_out, si->st.drops, si->st.late_in);
	/* reconnects counts both: the IKE SA set up again, and a TCP/TLS
	 * connection re-made under the same IKE SA (transport reconnects). */
	sb_printf(&b, "rekeys:      %" PRIu64 ", reconnects: %" PRIu64 " (transport: %" PRIu64 ")\n",
		  si->st.rekeys, si->st.reconnects, si->st.transport_reconnects);
	sb_printf(&b, "uptime:      %" PRIu64 "s\n", si->uptime_s);
	if (si->network[0])
		sb_printf(&b, "network:     %s\n", si->network);
	if (si->why[0])
		sb_printf(&b, "why %s:%*s%s\n", si->transport, (int)(8 - strlen(si->transport)), "",
			  si->why);
	sb_printf(&b, "moves:       %" PRIu64, si->st.path_changes);
	if (si->last_move.done)
		sb_printf(&b, ", last %" PRIu64 "s ago: %s -> %s in %.2fs", si->move_ago_s,
			  si->last_move.from, si->last_move.to, si->last_move.ms / 1000.0);
	sb_printf(&b, "\n");
	if (si->last_error && si->last_error[0])
		sb_printf(&b, "last error:  %s\n", si->last_error);
	return sb_done(&b);
}

/* A JSON string: quotes, backslash and control characters escaped (RFC 8259 §7). */
static void json_str(struct sbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			sb_printf(b, "\\u%04x", *p);
		else
			sb_printf(b, "%c", *p);
	}
	sb_printf(b, "\"");
}

static void json_key_str(struct sbuf *b, const char *key, const char *val, bool null_if_empty)
{
	sb_printf(b, ",\"%s\":", key);
	if (null_if_empty && !val[0])
		sb_printf(b, "null");
	else
		json_str(b, val);
}

static void json_list(struct sbuf *b, const char *key, const char (*items)[TUN_CIDR_STRLEN],
		      size_t n)
{
	sb_printf(b, ",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_printf(b, ",");
		json_str(b, items[i]);
	}
	sb_printf(b, "]");
}

int status_json(const struct status_info *si, char *out, size_t cap)
{
	struct sbuf b = { out, cap, 0, false };
	char spi[40], hex[16];

	if (!cap)
		return -1;
	out[0] = '\0';
	spi[0] = '\0';
	if (si->spi_i || si->spi_r)
		spi_text(si, spi, sizeof(spi));
	sb_printf(&b, "{\"state\":");
	json_str(&b, si->state);
	json_key_str(&b, "ike_state", si->ike_state, false);
	json_key_str(&b, "transport", si->transport, false);
	sb_printf(&b, ",\"proxy\":%s", si->proxy ? "true" : "false");
	json_key_str(&b, "proxy_address", si->proxy_addr, true);
	json_key_str(&b, "local", si->local, true);
	json_key_str(&b, "remote", si->remote, true);
	json_key_str(&b, "tun", si->tun, true);
	json_key_str(&b, "datapath", si->datapath, true);
	sb_printf(&b, ",\"tun_reads_split\":%" PRIu64 ",\"segments_merged\":%" PRIu64,
		  si->st.supersegs, si->st.merged);
	json_key_str(&b, "virtual_ip", si->virtual_ip, true);
	json_key_str(&b, "virtual_ip6", si->virtual_ip6, true);
	json_list(&b, "routes", si->routes, si->n_routes);
	json_list(&b, "dns", si->dns, si->n_dns);
	json_key_str(&b, "ike_spi", spi, true);
	snprintf(hex, sizeof(hex), "%08x", si->child_spi_in);
	json_key_str(&b, "child_spi_in", si->child_spi_in ? hex : "", true);
	snprintf(hex, sizeof(hex), "%08x", si->child_spi_out);
	json_key_str(&b, "child_spi_out", si->child_spi_out ? hex : "", true);
	sb_printf(&b, ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 ",\"packets_in\":%" PRIu64
		  ",\"packets_out\":%" PRIu64 ",\"drops\":%" PRIu64 ",\"late_in\":%" PRIu64
		  ",\"unknown_spi\":%" PRIu64 ",\"rekeys\":%" PRIu64
		  ",\"reconnects\":%" PRIu64 ",\"transport_reconnects\":%" PRIu64
		  ",\"uptime\":%" PRIu64, si->st.bytes_in,
		  si->st.bytes_out, si->st.packets_in, si->st.packets_out, si->st.drops,
		  si->st.late_in, si->st.unknown_spi, si->st.rekeys, si->st.reconnects,
		  si->st.transport_reconnects, si->uptime_s);
	json_key_str(&b, "last_error", si->last_error ? si->last_error : "", true);
	json_key_str(&b, "network", si->network, true);
	json_key_str(&b, "transport_why", si->why, true);
	sb_printf(&b, ",\"path_changes\":%" PRIu64 ",\"last_move\":", si->st.path_changes);
	if (si->last_move.done) {
		sb_printf(&b, "{\"from\":");
		json_str(&b, si->last_move.from);
		json_key_str(&b, "to", si->last_move.to, false);
		json_key_str(&b, "transport", path_kind_name(si->last_move.transport), false);
		sb_printf(&b, ",\"ms\":%" PRIu64 ",\"ago\":%" PRIu64 "}", si->last_move.ms,
			  si->move_ago_s);
	} else {
		sb_printf(&b, "null");
	}
	sb_printf(&b, "}\n");
	return sb_done(&b);
}

/* ---- events (nm/PROTOCOL.md): one JSON object and a newline each ---------- */

int status_event_state(const char *state, const char *why, char *out, size_t cap)
{
	struct sbuf b = { out, cap, 0, false };

	sb_printf(&b, "{\"event\":\"state\"");
	json_key_str(&b, "state", state, false);
	json_key_str(&b, "why", why, false);
	sb_printf(&b, "}\n");
	return sb_done(&b);
}

int status_event_failure(const char *kind, const char *why, char *out, size_t cap)
{
	struct sbuf b = { out, cap, 0, false };

	sb_printf(&b, "{\"event\":\"failure\"");
	json_key_str(&b, "kind", kind, false);
	json_key_str(&b, "why", why, false);
	sb_printf(&b, "}\n");
	return sb_done(&b);
}

/* "address4"/"prefix4" (or 6) of the virtual IP, "" and 0 without one. */
static void event_vip(struct sbuf *b, const char *fam, bool has, const struct tun_cidr *c)
{
	char a[TUN_CIDR_STRLEN] = "";
	struct tun_ip ip = { .family = c->family };

	if (has) {
		memcpy(ip.addr, c->addr, sizeof(ip.addr));
		tun_ip_fmt(&ip, a, sizeof(a));
	}
	sb_printf(b, ",\"address%s\":", fam);
	json_str(b, a);
	sb_printf(b, ",\"prefix%s\":%u", fam, has ? c->prefix : 0);
}

/* routesN, dnsN, fullN of one family. */
static void event_family(struct sbuf *b, const struct session_net *n, int family, const char *fam)
{
	char t[TUN_CIDR_STRLEN];
	bool full = false, first = true;

	sb_printf(b, ",\"routes%s\":[", fam);
	for (size_t i = 0; i < n->n_routes; i++) {
		if (n->routes[i].family != family)
			continue;
		full |= n->routes[i].prefix == 0;
		tun_cidr_fmt(&n->routes[i], t, sizeof(t));
		sb_printf(b, "%s", first ? "" : ",");
		json_str(b, t);
		first = false;
	}
	sb_printf(b, "],\"dns%s\":[", fam);
	first = true;
	for (size_t i = 0; i < n->n_dns; i++) {
		if (n->dns[i].family != family)
			continue;
		tun_ip_fmt(&n->dns[i], t, sizeof(t));
		sb_printf(b, "%s", first ? "" : ",");
		json_str(b, t);
		first = false;
	}
	sb_printf(b, "],\"full%s\":%s", fam, full ? "true" : "false");
}

int status_event_ip(const struct session *s, char *out, size_t cap)
{
	struct sbuf b = { out, cap, 0, false };
	const struct session_net *n = &s->net;
	const struct path *p = s->path;
	char gw[64] = "", *colon;

	sockaddr_str((const struct sockaddr *)&s->penv.gw, gw, sizeof(gw));
	/* the address alone: "10.0.0.1:500" -> "10.0.0.1", "[fd00::1]:500" -> "fd00::1" */
	if (gw[0] == '[') {
		memmove(gw, gw + 1, strlen(gw));
		if ((colon = strchr(gw, ']')))
			*colon = '\0';
	} else if ((colon = strrchr(gw, ':'))) {
		*colon = '\0';
	}
	sb_printf(&b, "{\"event\":\"ip\"");
	json_key_str(&b, "tundev", s->tun.name, false);
	sb_printf(&b, ",\"mtu\":%u", s->tun.mtu);
	json_key_str(&b, "gateway", gw, false);
	json_key_str(&b, "transport", p ? path_kind_name(p->kind) : "", false);
	event_vip(&b, "4", n->has_vip, &n->vip);
	event_family(&b, n, AF_INET, "4");
	event_vip(&b, "6", n->has_vip6, &n->vip6);
	event_family(&b, n, AF_INET6, "6");
	sb_printf(&b, "}\n");
	return sb_done(&b);
}
