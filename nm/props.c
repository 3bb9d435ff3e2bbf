/*
 * vpn.data / vpn.secrets -> agent.conf text + secrets for --secrets-fd.
 *
 * Every value is checked here for its shape (a port is a number, a path is
 * absolute, no control character anywhere) and written quoted, so no value
 * can add a line or a key to the file; what the values mean together
 * (proposal names, a proxy URL's port...) ikeagent's own parser checks, and
 * its one-line error reaches NetworkManager's log. Secrets never go into the
 * file: they become "NAME VALUE" lines for the pipe.
 */
#include "nm/props.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

enum kind {
	K_HOST,      /* host name or IP address */
	K_TEXT,      /* an identity or user name: any printable text */
	K_PATH,      /* absolute file name */
	K_METHOD,    /* psk | pubkey | eap */
	K_EAP,       /* mschapv2 and/or tls */
	K_PROPOSALS, /* strongSwan-style proposal list */
	K_CIDRS,     /* comma-separated networks; empty = everything */
	K_ORDER,     /* udp, tcp, tls, each at most once */
	K_PORT,      /* 1..65535 */
	K_BOOL,      /* yes/no */
	K_PROXY,     /* http://host:port, no credentials */
	K_FLAGS,     /* NMSettingSecretFlags, 0..7 */
	K_CC,        /* a TCP congestion control name, or "default" */
};

struct key {
	const char *name;
	enum kind kind;
};

static const struct key data_keys[] = {
	{ "gateway", K_HOST },
	{ "gateway-id", K_TEXT },
	{ "method", K_METHOD },
	{ "local-id", K_TEXT },
	{ "user", K_TEXT },
	{ "cert", K_PATH },
	{ "key", K_PATH },
	{ "ca", K_PATH },
	{ "eap", K_EAP },
	{ "ike", K_PROPOSALS },
	{ "esp", K_PROPOSALS },
	{ "remote-ts", K_CIDRS },
	{ "mobike", K_BOOL },
	{ "offload", K_BOOL },
	{ "threads", K_BOOL },
	{ "transport-order", K_ORDER },
	{ "tcp-port", K_PORT },
	{ "tls-port", K_PORT },
	{ "tls-verify", K_BOOL },
	{ "tls-sni", K_HOST },
	{ "tcp-congestion", K_CC },
	{ "proxy", K_PROXY },
	{ "proxy-user", K_TEXT },
	{ "proxy-allow-basic", K_BOOL },
	{ "psk-flags", K_FLAGS },
	{ "password-flags", K_FLAGS },
	{ "proxy-password-flags", K_FLAGS },
	{ "key-password-flags", K_FLAGS },
};

static const char *const secret_keys[] = { "psk", "password", "proxy-password", "key-password" };

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))
#define SECRET_FLAG_NOT_REQUIRED 4u
#define SECRETS_MAX 4096 /* what ikeagent reads from its fd */

/* The value of key in kv, or NULL when absent or empty (nmcli's "key=" unsets). */
static const char *kv_get(const struct nmprops_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (kv[i].key && strcmp(kv[i].key, key) == 0)
			return kv[i].value && kv[i].value[0] ? kv[i].value : NULL;
	return NULL;
}

static const char *data(const struct nmprops_in *in, const char *key)
{
	return kv_get(in->data, in->ndata, key);
}

static const char *secret(const struct nmprops_in *in, const char *key)
{
	return kv_get(in->secrets, in->nsecrets, key);
}

static bool only_chars(const char *s, const char *allowed)
{
	return s[strspn(s, allowed)] == '\0';
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

#define DIGITS "0123456789"
#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS

/* The words of s (separated by spaces or commas) all in words[], none twice. */
static int check_words(const char *s, const char *const *words, size_t nwords, char *why,
		       size_t whylen)
{
	unsigned seen = 0;

	while (*s) {
		size_t len = strcspn(s, " ,");
		size_t i;

		if (len) {
			for (i = 0; i < nwords; i++)
				if (strlen(words[i]) == len && strncmp(s, words[i], len) == 0)
					break;
			if (i == nwords)
				return err_set(why, whylen, "'%.*s' is not one of the allowed words",
					    (int)len, s);
			if (seen & (1u << i))
				return err_set(why, whylen, "'%s' appears twice", words[i]);
			seen |= 1u << i;
		}
		s += len;
		s += strspn(s, " ,");
	}
	return seen ? 0 : err_set(why, whylen, "no word given");
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < NKEYS(yes); i++) {
		if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
			*out = strcmp(s, yes[i]) == 0;
			return true;
		}
	}
	return false;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!s[0] || !only_chars(s, DIGITS) || strlen(s) > 10)
		return false;
	*out = strtoul(s, &end, 10);
	return *out <= max;
}

/* Checks one value against its kind; why says what is wrong (without the key). */
static int check_value(enum kind kind, const char *v, char *why, size_t whylen)
{
	static const char *const order[] = { "udp", "tcp", "tls" };
	static const char *const eap[] = { "mschapv2", "tls" };
	unsigned long n;
	bool b;

	if (!printable(v))
		return err_set(why, whylen, "contains a control character");
	switch (kind) {
	case K_HOST:
		if (strlen(v) > 253 || !only_chars(v, ALNUM ".-:_"))
			return err_set(why, whylen, "'%s' is not a host name or IP address", v);
		return 0;
	case K_TEXT:
		return strlen(v) > 255 ? err_set(why, whylen, "longer than 255 bytes") : 0;
	case K_PATH:
		if (v[0] != '/' || strlen(v) >= 4096)
			return err_set(why, whylen, "'%s' is not an absolute file name", v);
		return 0;
	case K_METHOD:
		if (strcmp(v, "psk") && strcmp(v, "pubkey") && strcmp(v, "eap"))
			return err_set(why, whylen, "'%s' is not psk, pubkey or eap", v);
		return 0;
	case K_EAP:
		return check_words(v, eap, NKEYS(eap), why, whylen) < 0 ?
		       err_set(why, whylen, "'%s' is not mschapv2, tls or both", v) : 0;
	case K_PROPOSALS:
		if (strlen(v) > 1024 || !only_chars(v, "abcdefghijklmnopqrstuvwxyz" DIGITS "-, "))
			return err_set(why, whylen, "'%s' is not a proposal list "
				    "(e.g. aes256gcm16-prfsha256-x25519)", v);
		return 0;
	case K_CIDRS:
		if (strlen(v) > 1024 || !only_chars(v, DIGITS "abcdefABCDEF.:/, "))
			return err_set(why, whylen, "'%s' is not a list of networks "
				    "(e.g. 10.0.0.0/8, 192.168.1.0/24)", v);
		return 0;
	case K_ORDER:
		return check_words(v, order, NKEYS(order), why, whylen) < 0 ?
		       err_set(why, whylen, "'%s' is not a list of udp, tcp and tls, each at most "
			    "once", v) : 0;
	case K_PORT:
		if (!parse_uint(v, 65535, &n) || n == 0)
			return err_set(why, whylen, "'%s' is not a port (1..65535)", v);
		return 0;
	case K_BOOL:
		return parse_bool(v, &b) ? 0 : err_set(why, whylen, "'%s' is not yes or no", v);
	case K_PROXY:
		if (strchr(v, '@'))
			return err_set(why, whylen, "has credentials in it: give the user as proxy-user "
				    "and the password as the secret proxy-password");
		if (strstr(v, "://") && strncmp(v, "http://", 7) != 0)
			return err_set(why, whylen, "'%s' is not an http:// URL", v);
		if (strlen(v) > 512 || strpbrk(v, " \"\\"))
			return err_set(why, whylen, "'%s' is not a proxy URL (http://host:port)", v);
		return 0;
	case K_FLAGS:
		if (!parse_uint(v, 7, &n))
			return err_set(why, whylen, "'%s' is not secret flags (0..7)", v);
		return 0;
	case K_CC:
		/* the kernel's names: TCP_CA_NAME_MAX is 16 with the NUL */
		if (!v[0] || strlen(v) > 15 || !only_chars(v, "abcdefghijklmnopqrstuvwxyz" DIGITS "_"))
			return err_set(why, whylen, "'%s' is not a TCP congestion control name "
				    "(e.g. bbr, cubic, default)", v);
		return 0;
	}
	return err_set(why, whylen, "unknown kind");
}

static int check_keys(const struct nmprops_in *in, char *err, size_t errlen)
{
	char why[256];

	for (size_t i = 0; i < in->ndata; i++) {
		const char *k = in->data[i].key, *v = in->data[i].value ? in->data[i].value : "";
		size_t j;

		for (j = 0; j < NKEYS(data_keys); j++)
			if (strcmp(k, data_keys[j].name) == 0)
				break;
		if (j == NKEYS(data_keys))
			return err_set(err, errlen, "vpn.data: unknown key '%s'", k);
		for (size_t m = 0; m < i; m++)
			if (strcmp(in->data[m].key, k) == 0)
				return err_set(err, errlen, "vpn.data: %s given twice", k);
		if (v[0] && check_value(data_keys[j].kind, v, why, sizeof(why)) < 0)
			return err_set(err, errlen, "vpn.data: %s: %s", k, why);
	}
	for (size_t i = 0; i < in->nsecrets; i++) {
		const char *k = in->secrets[i].key, *v = in->secrets[i].value;
		size_t j;

		for (j = 0; j < NKEYS(secret_keys); j++)
			if (strcmp(k, secret_keys[j]) == 0)
				break;
		if (j == NKEYS(secret_keys))
			return err_set(err, errlen, "vpn.secrets: unknown secret '%s'", k);
		/* The pipe carries one secret per line. */
		if (v && strchr(v, '\n'))
			return err_set(err, errlen, "vpn.secrets: %s contains a line break", k);
	}
	return 0;
}

static const char *method_of(const struct nmprops_in *in)
{
	const char *m = data(in, "method");

	return m ? m : "psk";
}

static bool eap_has(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *s = list; *s;) {
		size_t len = strcspn(s, " ,");

		if (len == wl && strncmp(s, word, wl) == 0)
			return true;
		s += len;
		s += strspn(s, " ,");
	}
	return false;
}

/* EAP-MSCHAPv2 is possible: eap lists it, or (as ikeagent's default) no cert+key. */
static bool eap_mschapv2(const struct nmprops_in *in)
{
	const char *eap = data(in, "eap");

	if (eap)
		return eap_has(eap, "mschapv2");
	return !(data(in, "cert") && data(in, "key"));
}

/* The secrets this connection's settings use, NMPROPS_* bits. */
static unsigned secrets_used(const struct nmprops_in *in)
{
	const char *m = method_of(in);
	unsigned used = 0;

	if (strcmp(m, "psk") == 0)
		used |= NMPROPS_PSK;
	else if (strcmp(m, "eap") == 0 && eap_mschapv2(in))
		used |= NMPROPS_PASSWORD;
	if (data(in, "proxy-user"))
		used |= NMPROPS_PROXY_PASSWORD;
	return used;
}

const char *nmprops_secret_name(unsigned bit)
{
	switch (bit) {
	case NMPROPS_PSK:
		return "psk";
	case NMPROPS_PASSWORD:
		return "password";
	case NMPROPS_PROXY_PASSWORD:
		return "proxy-password";
	default:
		return NULL;
	}
}

static bool not_required(const struct nmprops_in *in, const char *name)
{
	char key[64];
	const char *v;
	unsigned long flags;

	snprintf(key, sizeof(key), "%s-flags", name);
	v = data(in, key);
	return v && parse_uint(v, 7, &flags) && (flags & SECRET_FLAG_NOT_REQUIRED);
}

unsigned nmprops_missing_secrets(const struct nmprops_in *in)
{
	unsigned used = secrets_used(in), missing = 0;

	for (unsigned bit = 1; bit <= NMPROPS_PROXY_PASSWORD; bit <<= 1) {
		const char *name = nmprops_secret_name(bit);

		if ((used & bit) && !secret(in, name) && !not_required(in, name))
			missing |= bit;
	}
	return missing;
}

/* ---- the output text ---------------------------------------------------------- */

struct text {
	char *s;
	size_t len, cap;
	bool oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if (t->s && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap : 256;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		/* Grow by copying so a secret never lingers in a freed block. */
		char *s = malloc(cap);
		if (!s) {
			t->oom = true;
			return;
		}
		if (t->s) {
			memcpy(s, t->s, t->len + 1);
			explicit_bzero(t->s, t->cap);
			free(t->s);
		} else {
			s[0] = '\0';
		}
		t->s = s;
		t->cap = cap;
	}
}

static void text_wipe(struct text *t)
{
	if (t->s) {
		explicit_bzero(t->s, t->cap);
		free(t->s);
	}
	memset(t, 0, sizeof(*t));
}

/* key = "value", with agent.conf's two escapes (\" and \\). */
static void put_quoted(struct text *t, const char *key, const char *v)
{
	put(t, "%s = \"", key);
	for (; *v; v++)
		put(t, "%s%c", *v == '"' || *v == '\\' ? "\\" : "", *v);
	put(t, "\"\n");
}

static void put_opt(struct text *t, const char *key, const char *v)
{
	if (v)
		put_quoted(t, key, v);
}

static void put_bool(struct text *t, const char *key, const char *v)
{
	bool b;

	if (v && parse_bool(v, &b))
		put(t, "%s = %s\n", key, b ? "yes" : "no");
}

/* Space-separated words of a space/comma list. */
static void put_words(struct text *t, const char *key, const char *v)
{
	const char *sep = "";

	if (!v)
		return;
	put(t, "%s = ", key);
	while (*v) {
		size_t len = strcspn(v, " ,");

		if (len) {
			put(t, "%s%.*s", sep, (int)len, v);
			sep = " ";
		}
		v += len;
		v += strspn(v, " ,");
	}
	put(t, "\n");
}

/* RFC 3986 userinfo: everything but the unreserved characters %-encoded. */
static void put_proxy(struct text *t, const char *url, const char *user)
{
	const char *hostport = strncmp(url, "http://", 7) == 0 ? url + 7 : url;

	put(t, "proxy = \"http://");
	for (const char *u = user; u && *u; u++) {
		if (strchr(ALNUM "-._~", *u))
			put(t, "%c", *u);
		else
			put(t, "%%%02X", (unsigned char)*u);
	}
	put(t, "%s%s\"\n", user ? "@" : "", hostport);
}

static int check_combination(const struct nmprops_in *in, char *err, size_t errlen)
{
	const char *m = method_of(in);
	bool eap = strcmp(m, "eap") == 0, pubkey = strcmp(m, "pubkey") == 0;

	if (!data(in, "gateway"))
		return err_set(err, errlen, "vpn.data: gateway is required (the VPN gateway's host "
			    "name or address)");
	if (!data(in, "local-id") && !(eap && data(in, "user")))
		return err_set(err, errlen, "vpn.data: local-id is required (our identity, as the "
			    "gateway knows it)%s", eap ? ", or user with method=eap" : "");
	if (secret(in, "key-password"))
		return err_set(err, errlen, "vpn.secrets: key-password is set, but ikeagent cannot "
			    "read an encrypted private key yet: use an unencrypted key file (mode "
			    "0600) and remove key-password");
	if (!eap) {
		static const char *const eap_only[] = { "user", "eap" };

		for (size_t i = 0; i < NKEYS(eap_only); i++)
			if (data(in, eap_only[i]))
				return err_set(err, errlen, "vpn.data: %s is only used with method=eap "
					    "(method is %s)", eap_only[i], m);
	}
	if (pubkey || (eap && data(in, "eap") && eap_has(data(in, "eap"), "tls"))) {
		static const char *const files[] = { "cert", "key" };

		for (size_t i = 0; i < NKEYS(files); i++)
			if (!data(in, files[i]))
				return err_set(err, errlen, "vpn.data: %s is required with %s", files[i],
					    pubkey ? "method=pubkey" : "eap=tls");
	}
	if ((pubkey || eap) && !data(in, "ca"))
		return err_set(err, errlen, "vpn.data: ca is required with method=%s (the CA that "
			    "signed the gateway's certificate)", m);
	if (data(in, "proxy-user") && !data(in, "proxy"))
		return err_set(err, errlen, "vpn.data: proxy-user is set but proxy is not");
	return 0;
}

static void put_conf(struct text *t, const struct nmprops_in *in)
{
	const char *m = method_of(in), *ts = data(in, "remote-ts");
	const char *id = data(in, "local-id") ? data(in, "local-id") : data(in, "user");

	put(t, "# Written by nm-ikeagent-service for one NetworkManager connection.\n"
	       "# No secret in here: they reach ikeagent through a pipe.\n\n[gateway]\n");
	put_quoted(t, "address", data(in, "gateway"));
	put_opt(t, "id", data(in, "gateway-id"));

	put(t, "\n[auth]\n");
	put_quoted(t, "id", id);
	put(t, "method = %s\n", m);
	put_opt(t, "ca", data(in, "ca"));
	put_opt(t, "cert", data(in, "cert"));
	put_opt(t, "key", data(in, "key"));
	put_words(t, "eap", data(in, "eap"));
	put_opt(t, "user", data(in, "user"));

	put(t, "\n[tunnel]\n");
	put_opt(t, "ike", data(in, "ike"));
	put_opt(t, "esp", data(in, "esp"));
	put_quoted(t, "remote_ts", ts ? ts : "0.0.0.0/0");
	put_bool(t, "mobike", data(in, "mobike"));
	put_bool(t, "offload", data(in, "offload"));
	put_bool(t, "threads", data(in, "threads"));
	/* NetworkManager keeps the connection up while ikeagent reconnects. */
	put(t, "reconnect = yes\n");

	put(t, "\n[transport]\n");
	put_words(t, "order", data(in, "transport-order"));
	put_opt(t, "tcp_port", data(in, "tcp-port"));
	put_opt(t, "tls_port", data(in, "tls-port"));
	put_bool(t, "tls_verify", data(in, "tls-verify"));
	put_opt(t, "tls_sni", data(in, "tls-sni"));
	put_opt(t, "tcp_congestion", data(in, "tcp-congestion"));
	if (data(in, "proxy")) {
		put_proxy(t, data(in, "proxy"), data(in, "proxy-user"));
		put_bool(t, "proxy_allow_basic", data(in, "proxy-allow-basic"));
	}

	put(t, "\n[agent]\n");
	put_quoted(t, "tun_name", in->tun_name);
	put_quoted(t, "state_dir", in->state_dir);
	if (in->debug)
		put(t, "log_level = debug\n");
}

int nmprops_build(const struct nmprops_in *in, struct nmprops_out *out, char *err,
		  size_t errlen)
{
	struct text conf = { 0 }, sec = { 0 };
	unsigned used, missing;

	memset(out, 0, sizeof(*out));
	if (check_keys(in, err, errlen) < 0 || check_combination(in, err, errlen) < 0)
		return -1;
	missing = nmprops_missing_secrets(in);
	for (unsigned bit = 1; bit <= NMPROPS_PROXY_PASSWORD; bit <<= 1)
		if (missing & bit)
			return err_set(err, errlen, "vpn.secrets: %s is missing (needed by these "
				    "settings; no secret agent gave it)", nmprops_secret_name(bit));

	put_conf(&conf, in);
	/* Only the secrets these settings use: ikeagent refuses a psk with eap. */
	used = secrets_used(in);
	put(&sec, "%s", ""); /* "" rather than NULL when there is none */
	for (unsigned bit = 1; bit <= NMPROPS_PROXY_PASSWORD; bit <<= 1) {
		const char *name = nmprops_secret_name(bit), *v = secret(in, name);

		if ((used & bit) && v)
			put(&sec, "%s %s\n", name, v);
	}
	if (conf.oom || sec.oom) {
		text_wipe(&conf);
		text_wipe(&sec);
		return err_set(err, errlen, "out of memory");
	}
	if (sec.len > SECRETS_MAX) {
		text_wipe(&conf);
		text_wipe(&sec);
		return err_set(err, errlen, "vpn.secrets: longer than ikeagent takes (%d bytes)",
			    SECRETS_MAX);
	}
	out->conf = conf.s;
	out->secrets = sec.s;
	out->secrets_len = sec.len;
	return 0;
}

void nmprops_out_free(struct nmprops_out *out)
{
	free(out->conf);
	if (out->secrets) {
		explicit_bzero(out->secrets, out->secrets_len);
		free(out->secrets);
	}
	memset(out, 0, sizeof(*out));
}
