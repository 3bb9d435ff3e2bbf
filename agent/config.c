/*
 * The config reader: an INI scanner feeding a table of options, one row per
 * option with its section, key, value type, field, limits, default and
 * help. Defaults go through the same parsers as the file does. The syntax
 * is described in agent/config.h; agent.conf.example documents every option
 * (a unit test keeps the two in step).
 */
#include "agent/config.h"
#include "util/err.h"
#include "util/fperm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

enum opt_type {
	T_IDENT,	/* free text up to 255 bytes (an IKE identity) */
	T_HOST, T_SNI, T_PATH, T_IFNAME, T_ACCOUNT,	/* strings, checked */
	T_BOOL, T_DURATION, T_UINT, T_TABLE, T_SIZE, T_PORT, T_MTU,
	T_CIDRS, T_LOCAL_TS, T_IKE, T_ESP,
	T_METHOD, T_LOG_LEVEL, T_ORDER,
	T_PSK, T_PSK_FILE, T_PROXY,		/* set several fields */
	T_PASSWORD, T_PASSWORD_FILE, T_EAP,
	T_CONGESTION,		/* a name, or default/empty: NULL */
};

enum {
	OPT_REQUIRED = 1 << 0,	/* validate: must be set */
	OPT_SECRET = 1 << 1,	/* never quote the value */
	OPT_ZERO_OK = 1 << 2,	/* durations: 0 (= off) allowed below min */
	OPT_EMPTY_OK = 1 << 3,	/* an empty value is a value */
};

struct cfg_opt {
	struct config_option_info info;
	enum opt_type type;
	size_t off;		/* field in struct config */
	uint32_t min, max;	/* numbers; durations in ms */
	unsigned flags;
	const char *conflict;	/* key in the same section that may not be set too */
};

#define OFF(f) offsetof(struct config, f)
#define FIELD(cfg, o, type) ((type *)(void *)((char *)(cfg) + (o)->off))
#define MS_S 1000u
#define MS_M (60 * MS_S)
#define MS_H (60 * MS_M)
#define MS_D (24 * MS_H)
#define OPT(sec, key, def, help, type, field, min, max, flags) \
	{ { sec, key, def, help, ((flags) & OPT_REQUIRED) != 0 }, type, OFF(field), min, max, \
	  flags, NULL }

static const struct cfg_opt opts[] = {
	OPT("gateway", "address", NULL, "gateway host name or IP address",
	    T_HOST, gateway.address, 0, 0, OPT_REQUIRED),
	OPT("gateway", "id", NULL, "identity the gateway must prove (default: its address)",
	    T_IDENT, gateway.id, 0, 0, 0),
	OPT("gateway", "port", "500", "IKE port", T_PORT, gateway.port, 0, 0, 0),
	OPT("gateway", "nat_port", "4500", "NAT-T port", T_PORT, gateway.nat_port, 0, 0, 0),

	OPT("auth", "id", NULL, "our identity", T_IDENT, auth.id, 0, 0, OPT_REQUIRED),
	OPT("auth", "method", "psk", "psk, pubkey or eap", T_METHOD, auth.method, 0, 0, 0),
	{ { "auth", "psk", NULL, "pre-shared key", false }, T_PSK, OFF(auth.psk), 0, 0,
	  OPT_SECRET, "psk_file" },
	{ { "auth", "psk_file", NULL, "file holding the pre-shared key, mode 0600", false },
	  T_PSK_FILE, OFF(auth.psk_file), 0, 0, 0, "psk" },
	OPT("auth", "ca", NULL, "CA of the gateway's certificate (set: gateway must use one)", T_PATH, auth.ca, 0, 0, 0),
	OPT("auth", "cert", NULL, "our certificate", T_PATH, auth.cert, 0, 0, 0),
	OPT("auth", "key", NULL, "our private key", T_PATH, auth.key, 0, 0, 0),
	OPT("auth", "eap", NULL, "EAP methods allowed: mschapv2, tls (default: those with "
	    "credentials)", T_EAP, auth.eap, 0, 0, 0),
	OPT("auth", "user", NULL, "EAP user name (default: id)", T_IDENT, auth.user, 0, 0, 0),
	{ { "auth", "password", NULL, "EAP password (none: asked on the terminal)", false },
	  T_PASSWORD, OFF(auth.password), 0, 0, OPT_SECRET, "password_file" },
	{ { "auth", "password_file", NULL, "file holding the EAP password, mode 0600", false },
	  T_PASSWORD_FILE, OFF(auth.password_file), 0, 0, 0, "password" },
	OPT("auth", "insecure", "no", "EAP without verifying the gateway (tests only)", T_BOOL,
	    auth.insecure, 0, 0, 0),
	OPT("auth", "allow_sha1", "no", "accept the gateway's certificate AUTH signed with SHA-1",
	    T_BOOL, auth.allow_sha1, 0, 0, 0),

	OPT("tunnel", "ike", "aes256gcm16-prfsha256-x25519, aes256gcm16-prfsha384-ecp256, "
	    "aes256-sha256-modp2048", "IKE proposals", T_IKE, tunnel.ike, 0, 0, 0),
	OPT("tunnel", "esp", "aes256gcm16, chacha20poly1305, aes128gcm16", "ESP proposals",
	    T_ESP, tunnel.esp, 0, 0, 0),
	OPT("tunnel", "remote_ts", "0.0.0.0/0", "networks behind the gateway",
	    T_CIDRS, tunnel.remote_ts, 0, 0, 0),
	OPT("tunnel", "local_ts", "dynamic", "our side: dynamic (the virtual IP) or CIDRs",
	    T_LOCAL_TS, tunnel.local_ts, 0, 0, 0),
	OPT("tunnel", "virtual_ip", "yes", "ask for an address", T_BOOL, tunnel.virtual_ip,
	    0, 0, 0),
	OPT("tunnel", "dns", "yes", "use the gateway's DNS servers", T_BOOL, tunnel.dns, 0, 0, 0),
	OPT("tunnel", "dpd", "30s", "dead peer detection interval, 0 = off", T_DURATION,
	    tunnel.dpd_ms, MS_S, MS_H, OPT_ZERO_OK),
	OPT("tunnel", "ike_lifetime", "4h", "rekey the IKE SA after", T_DURATION,
	    tunnel.ike_lifetime_ms, 5 * MS_S, 7 * MS_D, 0),
	OPT("tunnel", "child_lifetime", "1h", "rekey the Child SA after", T_DURATION,
	    tunnel.child_lifetime_ms, 5 * MS_S, 7 * MS_D, 0),
	OPT("tunnel", "rekey_jitter", "5m", "rekey up to this much earlier", T_DURATION,
	    tunnel.rekey_jitter_ms, 0, MS_D, 0),
	OPT("tunnel", "mtu", "auto", "tunnel MTU", T_MTU, tunnel.mtu, 576, 9000, 0),
	OPT("tunnel", "offload", "yes", "tun TSO/GRO and UDP GSO/GRO for the data path", T_BOOL,
	    tunnel.offload, 0, 0, 0),
	OPT("tunnel", "threads", "yes", "encrypt on a second thread (UDP)", T_BOOL,
	    tunnel.threads, 0, 0, 0),
	OPT("tunnel", "mobike", "yes", "follow address changes (RFC 4555)", T_BOOL,
	    tunnel.mobike, 0, 0, 0),
	OPT("tunnel", "roam", "yes", "watch the network and move the tunnel when it changes",
	    T_BOOL, tunnel.roam, 0, 0, 0),
	OPT("tunnel", "network_memory", "yes", "remember per network which transport worked",
	    T_BOOL, tunnel.network_memory, 0, 0, 0),
	OPT("tunnel", "reconnect", "yes", "reconnect forever with back-off", T_BOOL,
	    tunnel.reconnect, 0, 0, 0),
	OPT("tunnel", "reconnect_max_delay", "5m", "longest back-off", T_DURATION,
	    tunnel.reconnect_max_delay_ms, MS_S, MS_D, 0),

	OPT("transport", "order", "udp tcp tls", "transports to try", T_ORDER, transport.order,
	    0, 0, 0),
	OPT("transport", "tcp_port", "4500", "RFC 9329 TCP port", T_PORT, transport.tcp_port,
	    0, 0, 0),
	OPT("transport", "tls_port", "443", "RFC 9329 TLS port", T_PORT, transport.tls_port,
	    0, 0, 0),
	OPT("transport", "udp_timeout", "1s", "start the next transport after", T_DURATION,
	    transport.udp_timeout_ms, 100, 10 * MS_S, 0),
	{ { "transport", "proxy", NULL, "HTTP CONNECT proxy URL", false }, T_PROXY,
	  OFF(transport.proxy_host), 0, 0, OPT_SECRET, NULL },
	OPT("transport", "proxy_from_env", "no", "take the proxy from https_proxy", T_BOOL,
	    transport.proxy_from_env, 0, 0, 0),
	OPT("transport", "proxy_allow_basic", "no", "let the proxy have the password by Basic "
	    "authentication (in the clear)", T_BOOL, transport.proxy_allow_basic, 0, 0, 0),
	OPT("transport", "tls_verify", "yes", "verify the gateway's TLS certificate", T_BOOL,
	    transport.tls_verify, 0, 0, 0),
	OPT("transport", "tls_ca", NULL, "CA file for TLS", T_PATH, transport.tls_ca, 0, 0, 0),
	OPT("transport", "tls_sni", NULL, "TLS server name", T_SNI, transport.tls_sni, 0, 0, 0),
	OPT("transport", "max_frame", "65535", "largest TCP/TLS frame", T_SIZE,
	    transport.max_frame, 1500, 65535, 0),
	OPT("transport", "tcp_congestion", "bbr", "TCP congestion control for tcp and tls; "
	    "default: the kernel's", T_CONGESTION, transport.tcp_congestion, 0, 0, OPT_EMPTY_OK),

	OPT("agent", "socket", "/run/ikeagent.sock", "control socket", T_PATH, agent.socket,
	    0, 0, 0),
	OPT("agent", "log_level", "info", "error, warn, info or debug", T_LOG_LEVEL,
	    agent.log_level, 0, 0, 0),
	OPT("agent", "tun_name", "ika0", "tun interface", T_IFNAME, agent.tun_name, 0, 0, 0),
	OPT("agent", "fwmark", "0xca6c", "mark on our own packets", T_UINT, agent.fwmark,
	    1, UINT32_MAX, 0),
	OPT("agent", "table", "51820", "routing table for the full tunnel", T_TABLE,
	    agent.table, 1, UINT32_MAX - 1, 0),
	OPT("agent", "dns_hook", NULL, "DNS script", T_PATH, agent.dns_hook, 0, 0, 0),
	OPT("agent", "state_dir", "/run/ikeagent", "runtime state", T_PATH, agent.state_dir,
	    0, 0, 0),
	OPT("agent", "user", CONFIG_DEFAULT_USER, "run as this user after setup; root: stay root",
	    T_ACCOUNT, agent.user, 0, 0, 0),
	OPT("agent", "socket_group", CONFIG_DEFAULT_USER, "group that may use the control socket",
	    T_ACCOUNT, agent.socket_group, 0, 0, 0),
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))
_Static_assert(NOPTS <= CONFIG_MAX_OPTS, "raise CONFIG_MAX_OPTS");

static const char *const sections[] = { "gateway", "auth", "tunnel", "transport", "agent" };
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

size_t config_option_count(void)
{
	return NOPTS;
}

const struct config_option_info *config_option(size_t i)
{
	return i < NOPTS ? &opts[i].info : NULL;
}

static const struct cfg_opt *find_opt(const char *section, const char *key)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strcmp(opts[i].info.section, section) == 0 && strcmp(opts[i].info.key, key) == 0)
			return &opts[i];
	return NULL;
}

static size_t opt_index(const struct cfg_opt *o)
{
	return (size_t)(o - opts);
}

bool config_uses_transport(const struct config *cfg, enum config_transport t)
{
	for (unsigned i = 0; i < cfg->transport.n_order; i++)
		if (cfg->transport.order[i] == t)
			return true;
	return false;
}

bool config_is_set(const struct config *cfg, const char *section, const char *key)
{
	const struct cfg_opt *o = find_opt(section, key);

	return o && cfg->set_line[opt_index(o)] != 0;
}

/* The field is a malloc'd char * that config_free frees. */
static bool owns_string(const struct cfg_opt *o)
{
	switch (o->type) {
	case T_IDENT: case T_HOST: case T_SNI: case T_PATH: case T_IFNAME: case T_ACCOUNT:
	case T_PSK_FILE: case T_PASSWORD_FILE: case T_CONGESTION:
		return true;
	default:
		return false;
	}
}


/* ---- setting one option ---- */

static int set_str(char **dst, const char *val, char *msg, size_t msglen)
{
	char *s = strdup(val);

	if (!s) {
		(void)err_set(msg, msglen, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = s;
	return 0;
}

static void secret_release(uint8_t **p, size_t *len)
{
	config_wipe_free(*p, *len);
	*p = NULL;
	*len = 0;
}

static void secrets_release(struct config *cfg)
{
	secret_release(&cfg->auth.psk, &cfg->auth.psk_len);
	secret_release(&cfg->auth.password, &cfg->auth.password_len);
}

static int set_secret(uint8_t **dst, size_t *dst_len, size_t max, const void *val, size_t len,
		      char *msg, size_t msglen)
{
	const char *what = max == CONFIG_PSK_MAX ? "key" : "password";
	uint8_t *p;

	if (len == 0 || len > max) {
		(void)err_set(msg, msglen, "the %s must be 1..%zu bytes", what, max);
		return -1;
	}
	p = malloc(len);
	if (!p) {
		(void)err_set(msg, msglen, "out of memory");
		return -1;
	}
	memcpy(p, val, len);
	secret_release(dst, dst_len);
	*dst = p;
	*dst_len = len;
	return 0;
}

static int set_psk(struct config *cfg, const void *key, size_t len, char *msg, size_t msglen)
{
	return set_secret(&cfg->auth.psk, &cfg->auth.psk_len, CONFIG_PSK_MAX, key, len, msg, msglen);
}

/*
 * psk_file, password_file: the secret is the file's content minus one
 * trailing newline; a file group or others can read or write, or that
 * neither root nor we own, is refused.
 */
static int set_secret_file(uint8_t **dst, size_t *dst_len, size_t max, char **file,
			   const char *path, char *msg, size_t msglen)
{
	size_t n = 0, cap = max + 2;	/* secret + CR LF */
	char *buf = NULL;
	char why[128];
	mode_t mode;
	int rc = -1;

	if (cfgv_path(path, msg, msglen) < 0)
		return -1;
	/* A refusal reads "PATH is writable by ...", other errors "PATH: not a ...". */
	if (cfgv_read_file(path, cap, FPERM_SECRET, &buf, &n, &mode, why, sizeof(why)) < 0)
		return err_set(msg, msglen, "%s%s%s", path, errno == EPERM ? " " : ": ", why);
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	if (n == 0)
		(void)err_set(msg, msglen, "%s is empty", path);
	else if (set_secret(dst, dst_len, max, buf, n, msg, msglen) == 0)
		rc = set_str(file, path, msg, msglen);
	config_wipe_free(buf, cap + 1);
	return rc;
}

/* eap = mschapv2 tls (spaces or commas) */
static int set_eap(unsigned *m, const char *val, char *msg, size_t msglen)
{
	char buf[128], *save = NULL, *w;

	if (strlen(val) >= sizeof(buf))
		return err_set(msg, msglen, "too long");
	snprintf(buf, sizeof(buf), "%s", val);
	*m = 0;
	for (w = strtok_r(buf, " ,\t", &save); w; w = strtok_r(NULL, " ,\t", &save)) {
		if (strcmp(w, "mschapv2") == 0)
			*m |= CONFIG_EAP_MSCHAPV2;
		else if (strcmp(w, "tls") == 0)
			*m |= CONFIG_EAP_TLS;
		else
			return err_set(msg, msglen, "'%s' is not mschapv2 or tls", w);
	}
	return *m ? 0 : err_set(msg, msglen, "no method named (mschapv2, tls)");
}

static void proxy_release(struct config *cfg)
{
	struct cfgv_proxy p = {
		.host = cfg->transport.proxy_host,
		.user = cfg->transport.proxy_user,
		.pass = cfg->transport.proxy_pass,
	};

	cfgv_proxy_clear(&p);
	cfg->transport.proxy_host = NULL;
	cfg->transport.proxy_user = NULL;
	cfg->transport.proxy_pass = NULL;
	cfg->transport.proxy_port = 0;
}

static int set_proxy(struct config *cfg, const char *val, char *msg, size_t msglen)
{
	struct cfgv_proxy p;

	if (cfgv_proxy_url(val, &p, msg, msglen) < 0)
		return -1;
	proxy_release(cfg);
	cfg->transport.proxy_host = p.host;
	cfg->transport.proxy_port = p.port;
	cfg->transport.proxy_user = p.user;
	cfg->transport.proxy_pass = p.pass;
	return 0;
}

/* tcp_congestion: a name; "default" or empty leaves the kernel's (NULL). */
static int set_congestion(char **out, const char *val, char *msg, size_t msglen)
{
	if (!*val || strcmp(val, "default") == 0) {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (cfgv_tcp_congestion(val, msg, msglen) < 0)
		return -1;
	return set_str(out, val, msg, msglen);
}

static int set_method(enum config_auth_method *m, const char *val, char *msg, size_t msglen)
{
	if (strcmp(val, "psk") == 0)
		*m = CONFIG_AUTH_PSK;
	else if (strcmp(val, "pubkey") == 0)
		*m = CONFIG_AUTH_PUBKEY;
	else if (strcmp(val, "eap") == 0)
		*m = CONFIG_AUTH_EAP;
	else
		return err_set(msg, msglen, "'%s' is not psk, pubkey or eap", val);
	return 0;
}

static int set_duration(const struct cfg_opt *o, const char *val, uint32_t *out,
			char *msg, size_t msglen)
{
	char lo[16], hi[16];
	uint32_t ms;

	if (cfgv_duration(val, &ms, msg, msglen) < 0)
		return -1;
	if ((ms < o->min && !(ms == 0 && (o->flags & OPT_ZERO_OK))) || ms > o->max) {
		cfgv_format_duration(o->min, lo, sizeof(lo));
		cfgv_format_duration(o->max, hi, sizeof(hi));
		(void)err_set(msg, msglen, "'%s' is out of range (%s..%s%s)", val, lo, hi,
		       o->flags & OPT_ZERO_OK ? ", or 0 for off" : "");
		return -1;
	}
	*out = ms;
	return 0;
}

/* T_SIZE, T_MTU and T_TABLE: a number with a twist, then the row's range. */
static int set_number(const struct cfg_opt *o, const char *val, uint32_t *out,
		      char *msg, size_t msglen)
{
	uint32_t v;

	if (o->type == T_MTU && strcmp(val, "auto") == 0) {
		*out = 0;
		return 0;
	}
	if (o->type == T_MTU && cfgv_uint(val, 0, UINT32_MAX, &v, NULL, 0) < 0) {
		(void)err_set(msg, msglen, "'%s' is not auto or a number", val);
		return -1;
	}
	if (o->type == T_SIZE ? cfgv_size(val, &v, msg, msglen) < 0 :
	    cfgv_uint(val, 0, UINT32_MAX, &v, msg, msglen) < 0)
		return -1;
	if (v < o->min || v > o->max) {
		(void)err_set(msg, msglen, "'%s' is out of range (%u..%u)", val, o->min, o->max);
		return -1;
	}
	if (o->type == T_TABLE && v >= 253 && v <= 255) {
		(void)err_set(msg, msglen, "'%s' is a reserved routing table (253..255)", val);
		return -1;
	}
	*out = v;
	return 0;
}

static int set_checked_str(const struct cfg_opt *o, const char *val, char **out,
			   char *msg, size_t msglen)
{
	char host[256];

	switch (o->type) {
	case T_IDENT:
		if (strlen(val) <= 255)
			break;
		(void)err_set(msg, msglen, "'%.32s...' is too long (max 255 bytes)", val);
		return -1;
	case T_PATH:
		if (cfgv_path(val, msg, msglen) < 0)
			return -1;
		break;
	case T_IFNAME:
		if (cfgv_ifname(val, msg, msglen) < 0)
			return -1;
		break;
	case T_ACCOUNT:
		if (cfgv_account(val, msg, msglen) < 0)
			return -1;
		break;
	default:	/* T_HOST, T_SNI */
		if (o->type == T_SNI && cfgv_is_ip_literal(val)) {
			(void)err_set(msg, msglen, "'%s' is an IP address; SNI takes a DNS name", val);
			return -1;
		}
		if (cfgv_host(val, host, sizeof(host), msg, msglen) < 0)
			return -1;
		val = host;
	}
	return set_str(out, val, msg, msglen);
}

/* Parse val into o's field(s). On error msg holds "what is wrong". */
static int set_value(struct config *cfg, const struct cfg_opt *o, const char *val,
		     char *msg, size_t msglen)
{
	void *f = (char *)cfg + o->off;
	uint32_t v;

	switch (o->type) {
	case T_IDENT: case T_HOST: case T_SNI: case T_PATH: case T_IFNAME: case T_ACCOUNT:
		return set_checked_str(o, val, f, msg, msglen);
	case T_BOOL:
		return cfgv_bool(val, f, msg, msglen);
	case T_DURATION:
		return set_duration(o, val, f, msg, msglen);
	case T_UINT:
		return cfgv_uint(val, o->min, o->max, f, msg, msglen);
	case T_TABLE: case T_SIZE:
		return set_number(o, val, f, msg, msglen);
	case T_MTU:
		if (set_number(o, val, &v, msg, msglen) < 0)
			return -1;
		*(uint16_t *)f = (uint16_t)v;
		return 0;
	case T_PORT:
		return cfgv_port(val, f, msg, msglen);
	case T_LOCAL_TS:
		if (strcmp(val, "dynamic") == 0) {
			memset(f, 0, sizeof(struct cidr_list));
			return 0;
		}
		/* fall through */
	case T_CIDRS:
		return cfgv_cidr_list(val, f, msg, msglen);
	case T_IKE: case T_ESP:
		return proposal_list_parse(o->type == T_IKE ? PROTO_IKE : PROTO_ESP, val, f,
					   msg, msglen);
	case T_METHOD:
		return set_method(f, val, msg, msglen);
	case T_LOG_LEVEL:
		if (log_level_parse(val, f) == 0)
			return 0;
		(void)err_set(msg, msglen, "'%s' is not error, warn, info or debug", val);
		return -1;
	case T_ORDER:
		return cfgv_transport_order(val, cfg->transport.order, &cfg->transport.n_order,
					    msg, msglen);
	case T_PSK:
		return set_psk(cfg, val, strlen(val), msg, msglen);
	case T_PSK_FILE:
		return set_secret_file(&cfg->auth.psk, &cfg->auth.psk_len, CONFIG_PSK_MAX,
				       &cfg->auth.psk_file, val, msg, msglen);
	case T_PASSWORD:
		return set_secret(&cfg->auth.password, &cfg->auth.password_len, CONFIG_PASSWORD_MAX,
				  val, strlen(val), msg, msglen);
	case T_PASSWORD_FILE:
		return set_secret_file(&cfg->auth.password, &cfg->auth.password_len,
				       CONFIG_PASSWORD_MAX, &cfg->auth.password_file, val, msg,
				       msglen);
	case T_EAP:
		return set_eap(f, val, msg, msglen);
	case T_PROXY:
		return set_proxy(cfg, val, msg, msglen);
	case T_CONGESTION:
		return set_congestion(f, val, msg, msglen);
	}
	(void)err_set(msg, msglen, "internal error: no parser");
	return -1;
}

/* ---- the scanner ---- */

struct scan {
	struct config *cfg;
	unsigned line;
	int section;		/* index in sections[], -1 before the first */
	char *err;
	size_t errlen;
};

static int line_err(struct scan *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int line_err(struct scan *sc, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)err_set(sc->err, sc->errlen, "%s:%u: %s", sc->cfg->source, sc->line, msg);
	OPENSSL_cleanse(msg, sizeof(msg));
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static char *trim(char *s)
{
	size_t n;

	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static bool is_comment(char c)
{
	return c == '#' || c == ';';
}

static int scan_section(struct scan *sc, char *s)
{
	char *close = strchr(s, ']'), *name, *rest;

	if (!close)
		return line_err(sc, "missing ']' in section header");
	rest = close + 1;
	while (is_space(*rest))
		rest++;
	if (*rest && !is_comment(*rest))
		return line_err(sc, "unexpected text after ']'");
	*close = '\0';
	name = trim(s + 1);
	if (!*name)
		return line_err(sc, "empty section name");
	for (size_t i = 0; i < NSECTIONS; i++) {
		if (strcmp(name, sections[i]) == 0) {
			sc->section = (int)i;
			return 0;
		}
	}
	return line_err(sc, "unknown section [%.64s]", name);
}

static int set_option(struct scan *sc, const struct cfg_opt *o, const char *val)
{
	struct config *cfg = sc->cfg;
	const char *key = o->info.key;
	char msg[320];
	int rc;

	if (cfg->set_line[opt_index(o)])
		return line_err(sc, "duplicate key '%s'", key);
	if (o->conflict) {
		const struct cfg_opt *c = find_opt(o->info.section, o->conflict);

		if (c && cfg->set_line[opt_index(c)])
			return line_err(sc, "%s conflicts with %s (line %u); set only one", key,
					o->conflict, cfg->set_line[opt_index(c)]);
	}
	if (!*val && !(o->flags & OPT_EMPTY_OK))
		return line_err(sc, "%s: missing value", key);
	rc = set_value(cfg, o, val, msg, sizeof(msg));
	if (rc < 0) {
		if ((o->flags & OPT_SECRET) && strstr(msg, val))
			snprintf(msg, sizeof(msg), "invalid value");
		line_err(sc, "%s: %s", key, msg);
	}
	OPENSSL_cleanse(msg, sizeof(msg));
	if (rc == 0)
		cfg->set_line[opt_index(o)] = sc->line;
	return rc;
}

static bool valid_key(const char *k)
{
	return *k && !k[strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_")];
}

/* Name the section a misplaced key belongs in, when there is just one. */
static int unknown_key(struct scan *sc, const char *section, const char *key)
{
	const char *home = NULL;
	unsigned n = 0;

	for (size_t i = 0; i < NOPTS; i++) {
		if (strcmp(opts[i].info.key, key) == 0) {
			home = opts[i].info.section;
			n++;
		}
	}
	if (n == 1)
		return line_err(sc, "unknown key '%s' in [%s] (it belongs in [%s])", key, section,
				home);
	return line_err(sc, "unknown key '%s' in [%s]", key, section);
}

static int scan_assignment(struct scan *sc, char *s)
{
	const char *section = sections[sc->section < 0 ? 0 : sc->section];
	char *eq = strchr(s, '='), *key, *val;
	const struct cfg_opt *o;
	char msg[128];

	if (!eq)
		return line_err(sc, "expected 'key = value' or '[section]'");
	if (sc->section < 0)
		return line_err(sc, "key outside any section");
	*eq = '\0';
	key = trim(s);
	if (!valid_key(key))
		return line_err(sc, "bad key name '%.64s' (lowercase letters, digits, '_')", key);
	o = find_opt(section, key);
	if (!o)
		return unknown_key(sc, section, key);
	if (cfgv_raw_value(eq + 1, &val, msg, sizeof(msg)) < 0)
		return line_err(sc, "%s: %s", key, msg);
	return set_option(sc, o, val);
}

static int scan_line(struct scan *sc, char *line, size_t len)
{
	char *s;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == 0)
			return line_err(sc, "NUL byte in line");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return line_err(sc, "control character 0x%02x in line", c);
	}
	s = trim(line);
	if (!*s || is_comment(*s))
		return 0;
	if (*s == '[')
		return scan_section(sc, s);
	return scan_assignment(sc, s);
}

/* Zero cfg and apply every default through its own parser. */
static int config_init(struct config *cfg, const char *name, char *err, size_t errlen)
{
	char msg[320];

	memset(cfg, 0, sizeof(*cfg));
	cfg->source = strdup(name ? name : "config");
	if (!cfg->source) {
		(void)err_set(err, errlen, "%s: out of memory", name ? name : "config");
		return -1;
	}
	for (size_t i = 0; i < NOPTS; i++) {
		if (opts[i].info.def && set_value(cfg, &opts[i], opts[i].info.def,
						  msg, sizeof(msg)) < 0) {
			(void)err_set(err, errlen, "%s: default of %s: %s", cfg->source,
			       opts[i].info.key, msg);
			config_free(cfg);
			return -1;
		}
	}
	return 0;
}

int config_parse_buf(const char *name, const char *buf, size_t len, struct config *cfg,
		     char *err, size_t errlen)
{
	struct scan sc = { .cfg = cfg, .section = -1, .err = err, .errlen = errlen };
	char line[CONFIG_LINE_MAX + 1];
	size_t pos = 0;
	int rc = -1;

	if (config_init(cfg, name, err, errlen) < 0)
		return -1;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		size_t next = pos + n + (nl ? 1 : 0);

		sc.line++;
		if (n && buf[pos + n - 1] == '\r')
			n--;
		if (n > CONFIG_LINE_MAX) {
			line_err(&sc, "line too long (max %d bytes)", CONFIG_LINE_MAX);
			goto done;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		if (scan_line(&sc, line, n) < 0)
			goto done;
		pos = next;
	}
	rc = 0;
done:
	OPENSSL_cleanse(line, sizeof(line));
	if (config_wipe_hook)
		config_wipe_hook(line, sizeof(line));
	if (rc < 0)
		config_free(cfg);
	return rc;
}

/* ---- semantic checks ---- */

/* "FILE:LINE: msg" when the option at was set in the file, else "FILE: msg". */
static int cfg_err(struct config *cfg, char *err, size_t errlen, const struct cfg_opt *at,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int cfg_err(struct config *cfg, char *err, size_t errlen, const struct cfg_opt *at,
		   const char *fmt, ...)
{
	uint32_t line = at ? cfg->set_line[opt_index(at)] : 0;
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		(void)err_set(err, errlen, "%s:%u: %s", cfg->source, line, msg);
	else
		(void)err_set(err, errlen, "%s: %s", cfg->source ? cfg->source : "config", msg);
	config_free(cfg);
	return -1;
}

/* EAP (method = eap): ca (or insecure), the methods and their credentials. */
static int check_eap(struct config *cfg, char *err, size_t errlen)
{
	const struct cfg_opt *m = find_opt("auth", "method"), *e = find_opt("auth", "eap");
	bool have_cert = cfg->auth.cert && cfg->auth.key;

	if (cfg->auth.psk)
		return cfg_err(cfg, err, errlen, find_opt("auth", cfg->auth.psk_file ? "psk_file" : "psk"),
			       "a pre-shared key is set but [auth] method = eap");
	if (!cfg->auth.ca && !cfg->auth.insecure)
		return cfg_err(cfg, err, errlen, m, "[auth] method = eap needs ca: the gateway's "
			       "certificate is checked before any password or certificate is sent "
			       "(insecure = yes skips that check)");
	if ((cfg->auth.cert != NULL) != (cfg->auth.key != NULL))
		return cfg_err(cfg, err, errlen, find_opt("auth", cfg->auth.cert ? "cert" : "key"),
			       "EAP-TLS needs both cert and key");
	if (!cfg->auth.eap) {
		/* default: the methods we have credentials for; a password can be asked for */
		if (have_cert)
			cfg->auth.eap |= CONFIG_EAP_TLS;
		if (!have_cert || cfg->auth.password)
			cfg->auth.eap |= CONFIG_EAP_MSCHAPV2;
	}
	if ((cfg->auth.eap & CONFIG_EAP_TLS) && !have_cert)
		return cfg_err(cfg, err, errlen, e, "eap = tls needs cert and key");
	if (!(cfg->auth.eap & CONFIG_EAP_TLS) && have_cert)
		return cfg_err(cfg, err, errlen, find_opt("auth", "cert"),
			       "cert is set but [auth] eap has no tls");
	if (!(cfg->auth.eap & CONFIG_EAP_MSCHAPV2) && cfg->auth.password)
		return cfg_err(cfg, err, errlen, find_opt("auth", cfg->auth.password_file ?
							 "password_file" : "password"),
			       "a password is set but [auth] eap has no mschapv2");
	return 0;
}

/*
 * method says how WE authenticate (psk; pubkey with cert + key; eap); ca
 * says how the GATEWAY must: set, with a certificate from that CA; unset,
 * with the PSK. pubkey without ca would leave the gateway unauthenticated.
 */
static int check_auth(struct config *cfg, char *err, size_t errlen)
{
	static const char *const files[] = { "cert", "key", "ca" };
	static const char *const eap_only[] = { "eap", "user", "password", "password_file",
						"insecure" };
	bool pubkey = cfg->auth.method == CONFIG_AUTH_PUBKEY;
	const struct cfg_opt *psk = find_opt("auth", cfg->auth.psk_file ? "psk_file" : "psk");

	if (cfg->auth.method == CONFIG_AUTH_EAP)
		return check_eap(cfg, err, errlen);
	for (size_t i = 0; i < sizeof(eap_only) / sizeof(eap_only[0]); i++)
		if (config_is_set(cfg, "auth", eap_only[i]))
			return cfg_err(cfg, err, errlen, find_opt("auth", eap_only[i]),
				       "%s is set but [auth] method = %s (not eap)", eap_only[i],
				       pubkey ? "pubkey" : "psk");
	if (!pubkey && !cfg->auth.psk)
		return cfg_err(cfg, err, errlen, find_opt("auth", "method"),
			       "[auth] method = psk needs psk or psk_file");
	if (pubkey && cfg->auth.psk)
		return cfg_err(cfg, err, errlen, psk, "%s is set but [auth] method = pubkey",
			       psk->info.key);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const struct cfg_opt *o = find_opt("auth", files[i]);
		bool set = *FIELD(cfg, o, char *) != NULL;

		if (pubkey && !set)
			return cfg_err(cfg, err, errlen, find_opt("auth", "method"),
				       "[auth] method = pubkey needs %s", files[i]);
		if (!pubkey && set && i < 2)
			return cfg_err(cfg, err, errlen, o, "%s is set but [auth] method = psk",
				       files[i]);
	}
	return 0;
}

static int check_jitter(struct config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = { "child_lifetime", "ike_lifetime" };
	const struct cfg_opt *j = find_opt("tunnel", "rekey_jitter");

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct cfg_opt *o = find_opt("tunnel", keys[i]);
		uint32_t life = *FIELD(cfg, o, uint32_t);
		char a[16], b[16];

		if (cfg->tunnel.rekey_jitter_ms < life / 2)
			continue;
		cfgv_format_duration(cfg->tunnel.rekey_jitter_ms, a, sizeof(a));
		cfgv_format_duration(life, b, sizeof(b));
		return cfg_err(cfg, err, errlen, cfg->set_line[opt_index(j)] ? j : o,
			       "rekey_jitter (%s) must be less than half of %s (%s)", a, keys[i], b);
	}
	return 0;
}

static int check_transport(struct config *cfg, char *err, size_t errlen)
{
	const struct cfg_opt *proxy = find_opt("transport", "proxy");
	bool stream = false;

	for (unsigned i = 0; i < cfg->transport.n_order; i++)
		if (cfg->transport.order[i] != CONFIG_TRANSPORT_UDP)
			stream = true;
	if (cfg->transport.proxy_host && cfg->transport.proxy_from_env)
		return cfg_err(cfg, err, errlen, proxy,
			       "proxy and proxy_from_env = yes are both set; choose one");
	if (cfg->transport.proxy_host && !stream)
		return cfg_err(cfg, err, errlen, proxy,
			       "proxy is set but [transport] order has neither tcp nor tls");
	return 0;
}

int config_validate(struct config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct cfg_opt *o = &opts[i];

		if ((o->flags & OPT_REQUIRED) && !*FIELD(cfg, o, char *))
			return cfg_err(cfg, err, errlen, NULL, "[%s] %s is required",
				       o->info.section, o->info.key);
	}
	if (check_auth(cfg, err, errlen) < 0 || check_jitter(cfg, err, errlen) < 0 ||
	    check_transport(cfg, err, errlen) < 0)
		return -1;
	if (!cfg->gateway.id) {
		cfg->gateway.id = strdup(cfg->gateway.address);
		if (!cfg->gateway.id)
			return cfg_err(cfg, err, errlen, NULL, "out of memory");
	}
	return 0;
}

int config_proxy_from_env(struct config *cfg, const char *value, char *err, size_t errlen)
{
	char msg[320];
	int rc;

	if (!cfg->transport.proxy_from_env || cfg->transport.proxy_host || !value || !*value)
		return 0;
	rc = set_proxy(cfg, value, msg, sizeof(msg));
	if (rc < 0)
		cfg_err(cfg, err, errlen, NULL, "https_proxy (proxy_from_env): %s", msg);
	OPENSSL_cleanse(msg, sizeof(msg));
	return rc;
}

/* A secret written into a file others can read is refused, like psk_file. */
static int check_file_secrets(struct config *cfg, mode_t mode, char *err, size_t errlen)
{
	const struct cfg_opt *o = NULL;

	if (!(mode & (S_IRGRP | S_IROTH)))
		return 0;
	if (cfg->auth.psk && !cfg->auth.psk_file)
		o = find_opt("auth", "psk");
	else if (cfg->auth.password && !cfg->auth.password_file)
		o = find_opt("auth", "password");
	else if (cfg->transport.proxy_pass)
		o = find_opt("transport", "proxy");
	if (!o)
		return 0;
	return cfg_err(cfg, err, errlen, o, "%s holds a secret but %s is readable by "
		       "group/others (chmod 600)", o->info.key, cfg->source);
}

/* One "NAME VALUE" line of a driver's secrets (nm/PROTOCOL.md). */
static int set_driver_secret(struct config *cfg, const char *line, size_t len, char *msg,
			     size_t msglen)
{
	const char *sp = memchr(line, ' ', len);
	size_t nlen = sp ? (size_t)(sp - line) : len, vlen = sp ? len - nlen - 1 : 0;
	char *v;
	int rc;

	if (!sp || !vlen)
		return err_set(msg, msglen, "a line is not 'NAME VALUE'");
	if (nlen == 3 && !memcmp(line, "psk", 3))
		return set_psk(cfg, sp + 1, vlen, msg, msglen);
	if (nlen == 8 && !memcmp(line, "password", 8))
		return set_secret(&cfg->auth.password, &cfg->auth.password_len, CONFIG_PASSWORD_MAX,
				  sp + 1, vlen, msg, msglen);
	if (nlen == 14 && !memcmp(line, "proxy-password", 14)) {
		if (!cfg->transport.proxy_user)
			return err_set(msg, msglen, "proxy-password given, but [transport] proxy "
				       "names no user");
		if (memchr(sp + 1, '\0', vlen) || !(v = strndup(sp + 1, vlen)))
			return err_set(msg, msglen, "proxy-password: not a password");
		if (cfg->transport.proxy_pass)
			config_wipe_free(cfg->transport.proxy_pass, strlen(cfg->transport.proxy_pass));
		cfg->transport.proxy_pass = v;
		return 0;
	}
	rc = err_set(msg, msglen, "unknown secret '%.*s' (psk, password, proxy-password)",
		     (int)(nlen > 32 ? 32 : nlen), line);
	return rc;
}

int config_set_secrets(struct config *cfg, const char *text, size_t len, char *err, size_t errlen)
{
	char msg[200];

	while (len) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;

		if (n && set_driver_secret(cfg, text, n, msg, sizeof(msg)) < 0) {
			(void)err_set(err, errlen, "--secrets-fd: %s", msg);
			config_free(cfg);
			return -1;
		}
		text += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
	}
	return 0;
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	return config_load_secrets(path, NULL, 0, cfg, err, errlen);
}

int config_load_secrets(const char *path, const char *secrets, size_t slen, struct config *cfg,
			char *err, size_t errlen)
{
	const char *env;
	char msg[160];
	char *buf = NULL;
	size_t len = 0;
	mode_t mode;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	/* It names dns_hook, run as root: only root (or we) may write it. */
	if (cfgv_read_file(path, CONFIG_FILE_MAX, 0, &buf, &len, &mode, msg, sizeof(msg)) < 0) {
		if (errno == EPERM)
			return err_set(err, errlen, "config: %s %s", path, msg);
		return err_set(err, errlen, "%s: %s", path, msg);
	}
	rc = config_parse_buf(path, buf, len, cfg, err, errlen);
	config_wipe_free(buf, CONFIG_FILE_MAX + 1);
	if (rc < 0 || check_file_secrets(cfg, mode, err, errlen) < 0 ||
	    (secrets && config_set_secrets(cfg, secrets, slen, err, errlen) < 0) ||
	    config_validate(cfg, err, errlen) < 0)
		return -1;
	env = getenv("https_proxy");
	if (!env || !*env)
		env = getenv("HTTPS_PROXY");
	return config_proxy_from_env(cfg, env, err, errlen);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < NOPTS; i++)
		if (owns_string(&opts[i]))
			free(*FIELD(cfg, &opts[i], char *));
	secrets_release(cfg);
	proxy_release(cfg);
	free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
}
