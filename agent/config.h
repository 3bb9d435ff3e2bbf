/*
 * The agent's configuration: an INI file read once at start.
 *
 * Syntax
 *   [section]              one of gateway, auth, tunnel, transport, agent
 *   key = value            whitespace around key and value is trimmed
 *   # comment / ; comment  whole-line comments
 *   key = value  # note    a '#' or ';' that follows whitespace starts a
 *                          trailing comment; one inside a word does not
 *                          ("psk = a#b" is the value "a#b")
 *   key = "a #b \"c\" \\"  double quotes keep everything literally; only \"
 *                          and \\ are escapes; after the closing quote only
 *                          whitespace and a comment may follow
 * Lines are at most CONFIG_LINE_MAX bytes; NUL and other control characters
 * (except tab, and a CR before the newline) are errors; a UTF-8 BOM at the
 * start is skipped. A section may appear more than once; a key only once.
 *
 * Every error is one line "FILE:LINE: what is wrong" (or "FILE: ..." for a
 * missing option) naming the bad key and value, except that secret values
 * (psk, a proxy password) are never echoed. On any failure every secret
 * read so far is wiped, all memory is freed and cfg is left zeroed.
 */
#ifndef IKEAGENT_AGENT_CONFIG_H
#define IKEAGENT_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ike/proposal.h"
#include "util/buf.h"
#include "util/log.h"

#define CONFIG_LINE_MAX		4096		/* bytes per line, without newline */
#define CONFIG_FILE_MAX		(1024 * 1024)
#define CONFIG_PSK_MAX		1024		/* bytes, from psk or psk_file */
#define CONFIG_PASSWORD_MAX	256		/* bytes, from password or password_file */
#define CONFIG_EAP_MSCHAPV2	(1u << 0)	/* = EAP_ALLOW_* (eap/eap.h) */
#define CONFIG_EAP_TLS		(1u << 1)
#define CONFIG_MAX_TS		16		/* CIDRs in one traffic selector list */
#define CONFIG_MAX_OPTS		64		/* capacity of the option table */
#define CONFIG_DEFAULT_USER	"ikeagent"	/* [agent] user and socket_group */

struct cidr {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t prefix;		/* 0..32 or 0..128 */
	uint8_t addr[16];	/* network order; IPv4 in the first 4 bytes */
};

struct cidr_list {
	unsigned n;
	struct cidr v[CONFIG_MAX_TS];
};

enum config_auth_method {
	CONFIG_AUTH_PSK,
	CONFIG_AUTH_PUBKEY,
	CONFIG_AUTH_EAP,	/* EAP in IKE_AUTH (RFC 7296 §2.16) */
};

enum config_transport {
	CONFIG_TRANSPORT_UDP,
	CONFIG_TRANSPORT_TCP,	/* RFC 9329 */
	CONFIG_TRANSPORT_TLS,	/* RFC 9329 inside TLS */
};
#define CONFIG_MAX_TRANSPORTS 3

/* Durations are milliseconds; 0 where documented means "off". */
struct config {
	char *source;			/* file name used in messages */
	struct {
		char *address;		/* host name or IP literal (required) */
		char *id;		/* identity the gateway must prove; default: address */
		uint16_t port;		/* 500 */
		uint16_t nat_port;	/* 4500 */
	} gateway;
	struct {
		char *id;		/* our identity (required) */
		enum config_auth_method method;
		uint8_t *psk;		/* secret: from psk or psk_file; not NUL-terminated */
		size_t psk_len;
		char *psk_file;		/* path the psk came from, NULL if inline */
		char *ca, *cert, *key;	/* absolute paths; cert/key: pubkey, or eap with tls */
		unsigned eap;		/* CONFIG_EAP_*: methods allowed (method = eap) */
		char *user;		/* EAP identity and MSCHAPv2 user; NULL: id */
		uint8_t *password;	/* secret: from password or password_file; NULL: ask */
		size_t password_len;
		char *password_file;
		bool insecure;		/* EAP without a verified gateway */
		bool allow_sha1;	/* gateway's AUTH signature with SHA-1 (method 1, or in 14) */
	} auth;
	struct {
		struct proposal_list ike, esp;
		struct cidr_list remote_ts;	/* default 0.0.0.0/0 */
		struct cidr_list local_ts;	/* n == 0: dynamic (the virtual IP) */
		bool virtual_ip, dns, mobike, reconnect;
		bool offload;		/* tun TSO/USO + GRO, UDP GSO/GRO on the ESP socket */
		bool threads;		/* encrypt on a worker thread (UDP) */
		bool roam;		/* watch the network, move on a change (MOBIKE) */
		bool network_memory;	/* state_dir/networks: the transport per network */
		uint32_t dpd_ms;		/* 0 = off */
		uint32_t ike_lifetime_ms;	/* rekey IKE SA after this */
		uint32_t child_lifetime_ms;	/* rekey Child SA after this */
		uint32_t rekey_jitter_ms;	/* rekey up to this much earlier, at random */
		uint32_t reconnect_max_delay_ms;
		uint16_t mtu;			/* 0 = auto */
	} tunnel;
	struct {
		enum config_transport order[CONFIG_MAX_TRANSPORTS];
		unsigned n_order;
		uint16_t tcp_port, tls_port;
		uint32_t udp_timeout_ms;
		char *proxy_host;	/* NULL: no proxy */
		uint16_t proxy_port;
		char *proxy_user;	/* percent-decoded; NULL if none */
		char *proxy_pass;	/* secret; percent-decoded; NULL if none */
		bool proxy_from_env;
		bool proxy_allow_basic;	/* Basic proxy auth: the password in the clear */
		bool tls_verify;
		char *tls_ca;		/* NULL: system store */
		char *tls_sni;		/* NULL: the gateway address when it is a name */
		uint32_t max_frame;
		char *tcp_congestion;	/* NULL: the kernel's default */
	} transport;
	struct {
		char *socket;
		enum log_level log_level;
		char *tun_name;
		uint32_t fwmark;
		uint32_t table;
		char *dns_hook;		/* NULL: none */
		char *state_dir;
		char *user;		/* after setup; "root": stay root */
		char *socket_group;	/* may use the control socket */
	} agent;
	/* private: line each option was set on (0 = default), by table index */
	uint32_t set_line[CONFIG_MAX_OPTS];
};

/*
 * Read, parse and validate a file; with proxy_from_env, take the proxy from
 * https_proxy / HTTPS_PROXY. A psk or proxy password written in a file that
 * group or others can read is refused. cfg need not be initialised.
 */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen) MUST_CHECK;
/*
 * The same, with secrets a driver passed (`run --secrets-fd`, see
 * nm/PROTOCOL.md): lines "psk VALUE", "password VALUE", "proxy-password
 * VALUE", set after the file (overriding it) and before validation.
 */
int config_load_secrets(const char *path, const char *secrets, size_t len, struct config *cfg,
			char *err, size_t errlen) MUST_CHECK;
/* Those secret lines into a parsed cfg (before config_validate); on failure cfg is freed. */
int config_set_secrets(struct config *cfg, const char *text, size_t len, char *err,
		       size_t errlen) MUST_CHECK;

/*
 * Parse text (len bytes, need not be NUL-terminated) into cfg, starting from
 * the defaults; name is used in messages. Syntax and values only: call
 * config_validate next. psk_file is read here. Overwrites cfg without
 * freeing it.
 */
int config_parse_buf(const char *name, const char *buf, size_t len, struct config *cfg,
		     char *err, size_t errlen) MUST_CHECK;

/*
 * Required options and conflicts between options; fills in derived
 * defaults (gateway id). On failure cfg is freed, like any other failure.
 */
int config_validate(struct config *cfg, char *err, size_t errlen) MUST_CHECK;

/*
 * With proxy_from_env = yes and no proxy yet, parse value (an https_proxy
 * URL; NULL or "" = no proxy) as the proxy. config_load calls it.
 */
int config_proxy_from_env(struct config *cfg, const char *value, char *err,
			  size_t errlen) MUST_CHECK;

/* Wipe secrets, free everything, zero cfg. Safe on a zeroed or freed cfg. */
void config_free(struct config *cfg);

/* Is transport t in [transport] order? */
bool config_uses_transport(const struct config *cfg, enum config_transport t);
/* Was section.key written in the file (not left at its default)? */
bool config_is_set(const struct config *cfg, const char *section, const char *key);

/* The option table, for documentation and tests. */
struct config_option_info {
	const char *section;
	const char *key;
	const char *def;	/* default as written in the file; NULL: none or derived */
	const char *help;
	bool required;
};
size_t config_option_count(void);
const struct config_option_info *config_option(size_t i);

/*
 * Secrets: config_wipe_free() wipes len bytes with OPENSSL_cleanse, calls
 * the test hook (if set) and frees. The hook sees every secret buffer the
 * config code releases (psk, proxy user and password, file and line
 * buffers) after it was wiped and before it is freed.
 */
void config_wipe_free(void *p, size_t len);
extern void (*config_wipe_hook)(const void *p, size_t len);

/*
 * Value parsers (agent/config_values.c). Each takes a NUL-terminated,
 * trimmed value and on error writes a message quoting it, e.g.
 * "'3x' is not a duration (e.g. 30s, 5m)"; the caller adds FILE:LINE: key:.
 */
/*
 * The text after '=' in place: leading and trailing whitespace and a
 * trailing comment removed, or a double-quoted value unescaped. Messages
 * never quote the value (it may be a secret).
 */
int cfgv_raw_value(char *v, char **out, char *err, size_t errlen) MUST_CHECK;
/* yes/no, true/false, on/off, 1/0 */
int cfgv_bool(const char *s, bool *out, char *err, size_t errlen) MUST_CHECK;
/* N with unit ms, s, m, h or d; a bare N is seconds */
int cfgv_duration(const char *s, uint32_t *ms, char *err, size_t errlen) MUST_CHECK;
/* decimal or 0x hex, within min..max */
int cfgv_uint(const char *s, uint32_t min, uint32_t max, uint32_t *out,
	      char *err, size_t errlen) MUST_CHECK;
/* decimal bytes, optional k (x1024) */
int cfgv_size(const char *s, uint32_t *out, char *err, size_t errlen) MUST_CHECK;
int cfgv_port(const char *s, uint16_t *out, char *err, size_t errlen) MUST_CHECK;
/* ADDR or ADDR/PREFIX; host bits must be zero */
int cfgv_cidr(const char *s, struct cidr *out, char *err, size_t errlen) MUST_CHECK;
/* CIDRs separated by ',' (and optional whitespace) */
int cfgv_cidr_list(const char *s, struct cidr_list *out, char *err, size_t errlen) MUST_CHECK;
/* DNS name, IPv4 or IPv6 literal ([...] allowed, stripped into out) */
int cfgv_host(const char *s, char *out, size_t outlen, char *err, size_t errlen) MUST_CHECK;
bool cfgv_is_ip_literal(const char *s);
/* HOST:PORT or [V6]:PORT */
int cfgv_host_port(const char *s, char *host, size_t hostlen, uint16_t *port,
		   char *err, size_t errlen) MUST_CHECK;
/*
 * [http://][user[:pass]@]host:port[/]. Allocates host, user, pass (free and
 * wipe with cfgv_proxy_clear). Messages never quote user or password.
 */
struct cfgv_proxy {
	char *host;
	uint16_t port;
	char *user, *pass;
};
int cfgv_proxy_url(const char *s, struct cfgv_proxy *out, char *err, size_t errlen) MUST_CHECK;
void cfgv_proxy_clear(struct cfgv_proxy *p);
/* absolute path without control characters */
int cfgv_path(const char *s, char *err, size_t errlen) MUST_CHECK;
/* network interface name: 1..15 bytes, no '/', ':' or whitespace */
int cfgv_ifname(const char *s, char *err, size_t errlen) MUST_CHECK;
/* user or group: a name of 1..32 [A-Za-z0-9_.-] not starting with '-', or a number */
int cfgv_account(const char *s, char *err, size_t errlen) MUST_CHECK;
/* A TCP congestion control name as the kernel spells them: 1..15 of [a-z0-9_]. */
int cfgv_tcp_congestion(const char *s, char *err, size_t errlen) MUST_CHECK;

/* space-separated udp, tcp, tls, each at most once */
int cfgv_transport_order(const char *s, enum config_transport *order, unsigned *n,
			 char *err, size_t errlen) MUST_CHECK;
/*
 * Read a regular file of at most max bytes whole (NUL-terminated; release
 * with config_wipe_free(buf, max + 1)); *mode gets st_mode. The file is
 * checked as util/fperm.h says (flags: FPERM_SECRET). Errors read "cannot
 * read: REASON", "not a regular file", "too large (max N bytes)", or with
 * errno EPERM a refusal to follow the path: "is writable by others (mode
 * 0666); chmod go-w it".
 */
int cfgv_read_file(const char *path, size_t max, unsigned flags, char **out, size_t *outlen,
		   mode_t *mode, char *err, size_t errlen) MUST_CHECK;

/* "30s", "5m", "1500ms": the shortest exact form, for messages. */
void cfgv_format_duration(uint32_t ms, char *buf, size_t len);
/* "10.0.0.0/8", "2001:db8::/32" */
void cfgv_format_cidr(const struct cidr *c, char *buf, size_t len);

#endif
