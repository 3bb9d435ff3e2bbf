/*
 * ikeagent's JSON events -> NetworkManager's VPN plugin dictionaries.
 *
 * NetworkManager's encoding (nm-vpn-dbus-interface.h): an IPv4 address is a
 * uint32 holding the address in network byte order, an IPv6 address 16
 * bytes; IPv4 routes are [network, prefix, next hop, metric] arrays, IPv6
 * routes (network, prefix, next hop, metric) tuples. Routes whose next hop
 * is 0 go out of the tun device itself.
 */
#include "nm/events.h"

#include <arpa/inet.h>
#include <string.h>

#include <NetworkManager.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

static char *get_str(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
		return g_strdup(json_node_get_string(n));
	return g_strdup("");
}

static guint get_uint(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64) {
		gint64 v = json_node_get_int(n);
		return v >= 0 && v <= G_MAXUINT ? (guint)v : 0;
	}
	return 0;
}

static gboolean get_bool(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN &&
	       json_node_get_boolean(n);
}

/* An array of strings; other elements are skipped. Never NULL. */
static char **get_strv(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);
	GPtrArray *a = g_ptr_array_new();

	if (n && JSON_NODE_HOLDS_ARRAY(n)) {
		JsonArray *arr = json_node_get_array(n);

		for (guint i = 0; i < json_array_get_length(arr); i++) {
			JsonNode *e = json_array_get_element(arr, i);
			if (JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING)
				g_ptr_array_add(a, g_strdup(json_node_get_string(e)));
		}
	}
	g_ptr_array_add(a, NULL);
	return (char **)g_ptr_array_free(a, FALSE);
}

static void parse_ip(JsonObject *o, NmEvIp *ip)
{
	ip->tundev = get_str(o, "tundev");
	ip->mtu = get_uint(o, "mtu");
	ip->gateway = get_str(o, "gateway");
	ip->transport = get_str(o, "transport");
	ip->address4 = get_str(o, "address4");
	ip->prefix4 = get_uint(o, "prefix4");
	ip->routes4 = get_strv(o, "routes4");
	ip->dns4 = get_strv(o, "dns4");
	ip->address6 = get_str(o, "address6");
	ip->prefix6 = get_uint(o, "prefix6");
	ip->routes6 = get_strv(o, "routes6");
	ip->dns6 = get_strv(o, "dns6");
	ip->full4 = get_bool(o, "full4");
	ip->full6 = get_bool(o, "full6");
}

gboolean nm_ev_parse(const char *line, NmEv *ev, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonNode *root;
	JsonObject *o;
	g_autofree char *event = NULL;

	memset(ev, 0, sizeof(*ev));
	if (!json_parser_load_from_data(parser, line, -1, error))
		return FALSE;
	root = json_parser_get_root(parser);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a JSON object");
		return FALSE;
	}
	o = json_node_get_object(root);
	event = get_str(o, "event");
	if (!*event) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no \"event\" in it");
		return FALSE;
	}
	if (strcmp(event, "state") == 0) {
		ev->type = NM_EV_STATE;
		ev->state = get_str(o, "state");
		ev->why = get_str(o, "why");
	} else if (strcmp(event, "failure") == 0) {
		ev->type = NM_EV_FAILURE;
		ev->kind = get_str(o, "kind");
		ev->why = get_str(o, "why");
	} else if (strcmp(event, "ip") == 0) {
		ev->type = NM_EV_IP;
		parse_ip(o, &ev->ip);
	} else {
		ev->type = NM_EV_OTHER;
	}
	return TRUE;
}

void nm_ev_clear(NmEv *ev)
{
	NmEvIp *ip = &ev->ip;

	g_free(ev->state);
	g_free(ev->why);
	g_free(ev->kind);
	g_free(ip->tundev);
	g_free(ip->gateway);
	g_free(ip->transport);
	g_free(ip->address4);
	g_free(ip->address6);
	g_strfreev(ip->routes4);
	g_strfreev(ip->routes6);
	g_strfreev(ip->dns4);
	g_strfreev(ip->dns6);
	memset(ev, 0, sizeof(*ev));
}

/* ---- to NetworkManager's dictionaries --------------------------------------- */

static gboolean bad(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean bad(GError **error, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, msg);
	g_free(msg);
	return FALSE;
}

static GVariant *addr6_variant(const struct in6_addr *a)
{
	return g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, a, sizeof(*a), 1);
}

/* "A/N" or "A" (a host) -> address and prefix. */
static gboolean parse_cidr(int af, const char *s, void *addr, guint *prefix)
{
	g_autofree char *a = g_strdup(s);
	char *slash = strchr(a, '/'), *end;
	guint max = af == AF_INET ? 32 : 128;
	guint64 p = max;

	if (slash) {
		*slash++ = '\0';
		p = g_ascii_strtoull(slash, &end, 10);
		if (!*slash || *end || p > max)
			return FALSE;
	}
	*prefix = (guint)p;
	return inet_pton(af, a, addr) == 1;
}

static gboolean is_default(const char *cidr)
{
	return strcmp(cidr, "0.0.0.0/0") == 0 || strcmp(cidr, "::/0") == 0;
}

static GVariant *build_ip4(const NmEvIp *ip, GError **error)
{
	GVariantBuilder b, routes, dns;
	struct in_addr a;
	guint prefix;

	if (inet_pton(AF_INET, ip->address4, &a) != 1)
		return bad(error, "the gateway's IPv4 address '%s' is not an address", ip->address4),
		       NULL;
	if (ip->prefix4 < 1 || ip->prefix4 > 32)
		return bad(error, "IPv4 prefix /%u is out of range", ip->prefix4), NULL;
	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_IP4_CONFIG_ADDRESS,
			      g_variant_new_uint32(a.s_addr));
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_IP4_CONFIG_PREFIX,
			      g_variant_new_uint32(ip->prefix4));

	g_variant_builder_init(&routes, G_VARIANT_TYPE("aau"));
	for (char **r = ip->routes4; *r; r++) {
		guint32 route[4] = { 0, 0, 0, 0 };

		if (!parse_cidr(AF_INET, *r, &a, &prefix)) {
			g_variant_builder_clear(&routes);
			g_variant_builder_clear(&b);
			return bad(error, "IPv4 route '%s' is not a network", *r), NULL;
		}
		/* The default route is NetworkManager's to make (never-default). */
		if (is_default(*r))
			continue;
		route[0] = a.s_addr;
		route[1] = prefix;
		g_variant_builder_add_value(&routes, g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32,
									       route, 4, 4));
	}
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_IP4_CONFIG_ROUTES,
			      g_variant_builder_end(&routes));

	g_variant_builder_init(&dns, G_VARIANT_TYPE("au"));
	for (char **d = ip->dns4; *d; d++) {
		if (inet_pton(AF_INET, *d, &a) == 1)
			g_variant_builder_add(&dns, "u", a.s_addr);
		else
			g_warning("ignoring the DNS server '%s': not an IPv4 address", *d);
	}
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_IP4_CONFIG_DNS, g_variant_builder_end(&dns));
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_IP4_CONFIG_NEVER_DEFAULT,
			      g_variant_new_boolean(!ip->full4));
	return g_variant_builder_end(&b);
}

static GVariant *build_ip6(const NmEvIp *ip, GError **error)
{
	GVariantBuilder b, routes, dns;
	struct in6_addr a, zero = IN6ADDR_ANY_INIT;
	guint prefix;

	if (inet_pton(AF_INET6, ip->address6, &a) != 1)
		return bad(error, "the gateway's IPv6 address '%s' is not an address", ip->address6),
		       NULL;
	if (ip->prefix6 < 1 || ip->prefix6 > 128)
		return bad(error, "IPv6 prefix /%u is out of range", ip->prefix6), NULL;
	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_IP6_CONFIG_ADDRESS, addr6_variant(&a));
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_IP6_CONFIG_PREFIX,
			      g_variant_new_uint32(ip->prefix6));

	g_variant_builder_init(&routes, G_VARIANT_TYPE("a(ayuayu)"));
	for (char **r = ip->routes6; *r; r++) {
		if (!parse_cidr(AF_INET6, *r, &a, &prefix)) {
			g_variant_builder_clear(&routes);
			g_variant_builder_clear(&b);
			return bad(error, "IPv6 route '%s' is not a network", *r), NULL;
		}
		if (is_default(*r))
			continue;
		g_variant_builder_add(&routes, "(@ayu@ayu)", addr6_variant(&a), prefix,
				      addr6_variant(&zero), 0u);
	}
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_IP6_CONFIG_ROUTES,
			      g_variant_builder_end(&routes));

	g_variant_builder_init(&dns, G_VARIANT_TYPE("aay"));
	for (char **d = ip->dns6; *d; d++) {
		if (inet_pton(AF_INET6, *d, &a) == 1)
			g_variant_builder_add_value(&dns, addr6_variant(&a));
		else
			g_warning("ignoring the DNS server '%s': not an IPv6 address", *d);
	}
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_IP6_CONFIG_DNS, g_variant_builder_end(&dns));
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_IP6_CONFIG_NEVER_DEFAULT,
			      g_variant_new_boolean(!ip->full6));
	return g_variant_builder_end(&b);
}

static GVariant *build_config(const NmEvIp *ip, gboolean has4, gboolean has6, GError **error)
{
	GVariantBuilder b;
	struct in_addr a4;
	struct in6_addr a6;

	if (!*ip->tundev)
		return bad(error, "no tun device named"), NULL;
	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_CONFIG_TUNDEV,
			      g_variant_new_string(ip->tundev));
	/* NetworkManager keeps a host route to the gateway outside the tunnel. */
	if (inet_pton(AF_INET, ip->gateway, &a4) == 1) {
		g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_CONFIG_EXT_GATEWAY,
				      g_variant_new_uint32(a4.s_addr));
	} else if (inet_pton(AF_INET6, ip->gateway, &a6) == 1) {
		g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_CONFIG_EXT_GATEWAY,
				      addr6_variant(&a6));
	} else {
		g_variant_builder_clear(&b);
		return bad(error, "the gateway's outer address '%s' is not an IP address",
			   ip->gateway), NULL;
	}
	if (ip->mtu)
		g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_CONFIG_MTU,
				      g_variant_new_uint32(ip->mtu));
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_CONFIG_HAS_IP4, g_variant_new_boolean(has4));
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_CONFIG_HAS_IP6, g_variant_new_boolean(has6));
	/* ikeagent reconnects and follows address changes (MOBIKE) by itself. */
	g_variant_builder_add(&b, "{sv}", NM_VPN_PLUGIN_CAN_PERSIST, g_variant_new_boolean(TRUE));
	return g_variant_builder_end(&b);
}

gboolean nm_ev_ip_config(const NmEvIp *ip, GVariant **config, GVariant **ip4, GVariant **ip6,
			 GError **error)
{
	gboolean has4 = *ip->address4 != '\0', has6 = *ip->address6 != '\0';

	*config = *ip4 = *ip6 = NULL;
	if (!has4 && !has6)
		return bad(error, "the gateway assigned no address (no virtual IP, IPv4 or IPv6)");
	if (has4 && !(*ip4 = build_ip4(ip, error)))
		goto fail;
	if (has6 && !(*ip6 = build_ip6(ip, error)))
		goto fail;
	if (!(*config = build_config(ip, has4, has6, error)))
		goto fail;
	return TRUE;
fail:
	if (*ip4)
		g_variant_unref(g_variant_ref_sink(*ip4));
	if (*ip6)
		g_variant_unref(g_variant_ref_sink(*ip6));
	*ip4 = *ip6 = NULL;
	return FALSE;
}
