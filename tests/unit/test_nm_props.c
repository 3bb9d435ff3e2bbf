/*
 * nm/props.c: a NetworkManager connection's vpn.data and vpn.secrets ->
 * agent.conf text and --secrets-fd lines. The text is read back by
 * ikeagent's own parser (config_parse_buf + config_validate), so what the
 * service writes is what ikeagent accepts.
 */
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "nm/props.h"
#include "tests/unit/check_main.h"

#define MAXKV 32

struct conn {
	struct nmprops_kv data[MAXKV], secrets[MAXKV];
	struct nmprops_in in;
	struct nmprops_out out;
	char err[512];
};

/* "k=v" strings (NULL-terminated lists) -> a connection. */
static void conn_set(struct conn *c, const char *const *data, const char *const *secrets)
{
	static char store[2 * MAXKV][256];
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; data && data[i]; i++, n++) {
		snprintf(store[n], sizeof(store[n]), "%s", data[i]);
		char *eq = strchr(store[n], '=');
		ck_assert_ptr_nonnull(eq);
		*eq = '\0';
		c->data[c->in.ndata++] = (struct nmprops_kv){ store[n], eq + 1 };
	}
	for (size_t i = 0; secrets && secrets[i]; i++, n++) {
		snprintf(store[n], sizeof(store[n]), "%s", secrets[i]);
		char *eq = strchr(store[n], '=');
		ck_assert_ptr_nonnull(eq);
		*eq = '\0';
		c->secrets[c->in.nsecrets++] = (struct nmprops_kv){ store[n], eq + 1 };
	}
	c->in.data = c->data;
	c->in.secrets = c->secrets;
	c->in.tun_name = "ikanm123";
	c->in.state_dir = "/run/nm-ikeagent-Ab12Cd";
}

static int build(struct conn *c, const char *const *data, const char *const *secrets)
{
	conn_set(c, data, secrets);
	return nmprops_build(&c->in, &c->out, c->err, sizeof(c->err));
}

/* The conf with its secrets put back into [auth] parses and validates in ikeagent. */
static void expect_ikeagent_accepts(struct conn *c)
{
	char text[8192], *auth, *line;
	struct config cfg;
	char err[512] = "";
	size_t head;

	auth = strstr(c->out.conf, "[auth]\n");
	ck_assert_ptr_nonnull(auth);
	head = (size_t)(auth - c->out.conf) + strlen("[auth]\n");
	snprintf(text, sizeof(text), "%.*s", (int)head, c->out.conf);
	/* psk VALUE -> psk = "VALUE"; proxy-password stays out (the URL has the user). */
	for (line = c->out.secrets; line && *line; line = strchr(line, '\n') + 1) {
		int len = (int)strcspn(line, " ");
		if (strncmp(line, "proxy-password", 14) == 0)
			continue;
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%.*s = \"", len, line);
		for (const char *v = line + len + 1; *v != '\n'; v++)
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%c",
				 *v == '"' || *v == '\\' ? "\\" : "", *v);
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "\"\n");
	}
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s", c->out.conf + head);
	ck_assert_msg(config_parse_buf("agent.conf", text, strlen(text), &cfg, err,
				       sizeof(err)) == 0 &&
		      config_validate(&cfg, err, sizeof(err)) == 0,
		      "ikeagent rejects what we wrote: %s\n%s", err, text);
	config_free(&cfg);
}

static void expect_line(const struct conn *c, const char *line)
{
	ck_assert_msg(strstr(c->out.conf, line), "no line '%s' in:\n%s", line, c->out.conf);
}

static void expect_fail(const char *const *data, const char *const *secrets, const char *why)
{
	struct conn c;

	ck_assert_int_eq(build(&c, data, secrets), -1);
	ck_assert_msg(strstr(c.err, why), "error '%s' does not say '%s'", c.err, why);
	ck_assert_ptr_null(c.out.conf);
}

START_TEST(psk_full_tunnel)
{
	static const char *const d[] = { "gateway=vpn.example.com", "local-id=alice@example.com",
					 "method=psk", NULL };
	static const char *const s[] = { "psk=S3cr3t \"quoted\" #x", NULL };
	struct conn c;

	ck_assert_msg(build(&c, d, s) == 0, "%s", c.err);
	expect_line(&c, "address = \"vpn.example.com\"\n");
	expect_line(&c, "id = \"alice@example.com\"\n");
	expect_line(&c, "remote_ts = \"0.0.0.0/0\"\n");
	expect_line(&c, "reconnect = yes\n");
	expect_line(&c, "tun_name = \"ikanm123\"\n");
	expect_line(&c, "state_dir = \"/run/nm-ikeagent-Ab12Cd\"\n");
	/* The secret is on the pipe, never in the file. */
	ck_assert_ptr_null(strstr(c.out.conf, "S3cr3t"));
	ck_assert_ptr_null(strstr(c.out.conf, "psk ="));
	ck_assert_str_eq(c.out.secrets, "psk S3cr3t \"quoted\" #x\n");
	ck_assert_uint_eq(c.out.secrets_len, strlen(c.out.secrets));
	expect_ikeagent_accepts(&c);
	nmprops_out_free(&c.out);
}
END_TEST

START_TEST(eap_split_tunnel_all_keys)
{
	static const char *const d[] = {
		"gateway=192.0.2.1", "gateway-id=vpn.example.com", "method=eap", "user=bob",
		"ca=/etc/ikeagent/ca.pem", "eap=mschapv2", "ike=aes256gcm16-prfsha256-x25519",
		"esp=aes256gcm16, chacha20poly1305", "remote-ts=10.0.0.0/8, 192.168.1.0/24",
		"transport-order=udp,tls", "tcp-port=4500", "tls-port=8443", "tls-verify=true",
		"tls-sni=vpn.example.com", "mobike=no", "password-flags=2", "offload=no",
		"threads=no", "tcp-congestion=cubic", NULL
	};
	static const char *const s[] = { "password=pa ss", NULL };
	struct conn c;

	ck_assert_msg(build(&c, d, s) == 0, "%s", c.err);
	/* local-id defaults to the EAP user. */
	expect_line(&c, "id = \"bob\"\n");
	expect_line(&c, "user = \"bob\"\n");
	expect_line(&c, "method = eap\n");
	expect_line(&c, "remote_ts = \"10.0.0.0/8, 192.168.1.0/24\"\n");
	expect_line(&c, "order = udp tls\n");
	expect_line(&c, "tls_verify = yes\n");
	expect_line(&c, "mobike = no\n");
	expect_line(&c, "offload = no\n");
	expect_line(&c, "threads = no\n");
	expect_line(&c, "tcp_congestion = \"cubic\"\n");
	ck_assert_str_eq(c.out.secrets, "password pa ss\n");
	expect_ikeagent_accepts(&c);
	nmprops_out_free(&c.out);
}
END_TEST

START_TEST(pubkey)
{
	static const char *const d[] = { "gateway=vpn.example.com", "local-id=CN=alice",
					 "method=pubkey", "cert=/etc/ikeagent/c.pem",
					 "key=/etc/ikeagent/k.pem", "ca=/etc/ikeagent/ca.pem", NULL };
	/* A stale psk from an agent is not passed on: ikeagent refuses psk with pubkey. */
	static const char *const s[] = { "psk=old", NULL };
	struct conn c;

	ck_assert_msg(build(&c, d, s) == 0, "%s", c.err);
	ck_assert_str_eq(c.out.secrets, "");
	ck_assert_uint_eq(nmprops_missing_secrets(&c.in), 0);
	expect_ikeagent_accepts(&c);
	nmprops_out_free(&c.out);
}
END_TEST

/* The proxy password goes on the pipe; the URL in the file has only the user. */
START_TEST(proxy_credentials)
{
	static const char *const d[] = { "gateway=vpn.example.com", "local-id=alice",
					 "transport-order=tcp tls", "proxy=http://proxy.lan:3128",
					 "proxy-user=dom\\al ice@x", "proxy-allow-basic=yes", NULL };
	static const char *const s[] = { "psk=k", "proxy-password=pr:ox@y", NULL };
	struct conn c;

	ck_assert_msg(build(&c, d, s) == 0, "%s", c.err);
	expect_line(&c, "proxy = \"http://dom%5Cal%20ice%40x@proxy.lan:3128\"\n");
	expect_line(&c, "proxy_allow_basic = yes\n");
	ck_assert_ptr_null(strstr(c.out.conf, "pr:ox"));
	ck_assert_str_eq(c.out.secrets, "psk k\nproxy-password pr:ox@y\n");
	expect_ikeagent_accepts(&c);
	nmprops_out_free(&c.out);

	static const char *const d2[] = { "gateway=vpn.example.com", "local-id=alice",
					  "transport-order=tcp", "proxy=proxy.lan:3128", NULL };
	static const char *const s2[] = { "psk=k", NULL };
	ck_assert_msg(build(&c, d2, s2) == 0, "%s", c.err);
	expect_line(&c, "proxy = \"http://proxy.lan:3128\"\n");
	ck_assert_ptr_null(strstr(c.out.conf, "proxy_allow_basic"));	/* default: no */
	expect_ikeagent_accepts(&c);
	nmprops_out_free(&c.out);
}
END_TEST

START_TEST(missing_secrets)
{
	static const char *const psk[] = { "gateway=g", "local-id=a", NULL };
	static const char *const eap[] = { "gateway=g", "method=eap", "user=u", "ca=/ca", NULL };
	static const char *const eap_tls[] = { "gateway=g", "method=eap", "user=u", "ca=/ca",
					       "eap=tls", "cert=/c", "key=/k", NULL };
	static const char *const eap_certs[] = { "gateway=g", "method=eap", "user=u", "ca=/ca",
						 "cert=/c", "key=/k", NULL };
	static const char *const proxy[] = { "gateway=g", "local-id=a", "proxy=p:1",
					     "proxy-user=u", NULL };
	static const char *const proxy_nr[] = { "gateway=g", "local-id=a", "proxy=p:1",
						"proxy-user=u", "proxy-password-flags=4", NULL };
	static const char *const have_psk[] = { "psk=x", NULL };
	struct conn c;

	conn_set(&c, psk, NULL);
	ck_assert_uint_eq(nmprops_missing_secrets(&c.in), NMPROPS_PSK);
	conn_set(&c, psk, have_psk);
	ck_assert_uint_eq(nmprops_missing_secrets(&c.in), 0);
	conn_set(&c, eap, NULL);
	ck_assert_uint_eq(nmprops_missing_secrets(&c.in), NMPROPS_PASSWORD);
	conn_set(&c, eap_tls, NULL);
	ck_assert_uint_eq(nmprops_missing_secrets(&c.in), 0);
	/* ikeagent's default with cert and key and no eap key: EAP-TLS, no password. */
	conn_set(&c, eap_certs, NULL);
	ck_assert_uint_eq(nmprops_missing_secrets(&c.in), 0);
	conn_set(&c, proxy, have_psk);
	ck_assert_uint_eq(nmprops_missing_secrets(&c.in), NMPROPS_PROXY_PASSWORD);
	conn_set(&c, proxy_nr, have_psk);
	ck_assert_uint_eq(nmprops_missing_secrets(&c.in), 0);
	ck_assert_str_eq(nmprops_secret_name(NMPROPS_PROXY_PASSWORD), "proxy-password");

	expect_fail(psk, NULL, "vpn.secrets: psk is missing");
	expect_fail(eap, NULL, "vpn.secrets: password is missing");
}
END_TEST

START_TEST(bad_keys_and_values)
{
	static const char *const ok_psk[] = { "psk=x", NULL };
#define BAD(why, ...)                                                          \
	do {                                                                   \
		static const char *const d[] = { __VA_ARGS__, NULL };          \
		expect_fail(d, ok_psk, why);                                   \
	} while (0)

	BAD("vpn.data: unknown key 'gatway'", "gatway=g", "local-id=a");
	BAD("vpn.data: gateway is required", "local-id=a");
	BAD("vpn.data: local-id is required", "gateway=g");
	BAD("vpn.data: method: 'cert' is not psk, pubkey or eap", "gateway=g", "local-id=a",
	    "method=cert");
	BAD("vpn.data: gateway: 'a b' is not a host name", "gateway=a b", "local-id=a");
	BAD("vpn.data: local-id: contains a control character", "gateway=g",
	    "local-id=a\n[agent]");
	BAD("vpn.data: tcp-port: '0' is not a port", "gateway=g", "local-id=a", "tcp-port=0");
	BAD("vpn.data: tls-port: '65536' is not a port", "gateway=g", "local-id=a",
	    "tls-port=65536");
	BAD("vpn.data: mobike: 'maybe' is not yes or no", "gateway=g", "local-id=a",
	    "mobike=maybe");
	BAD("vpn.data: threads: '2' is not yes or no", "gateway=g", "local-id=a", "threads=2");
	BAD("vpn.data: tcp-congestion: 'bbr\"x' is not a TCP congestion", "gateway=g",
	    "local-id=a", "tcp-congestion=bbr\"x");
	BAD("vpn.data: tcp-congestion: 'averyveryverylongname' is not", "gateway=g",
	    "local-id=a", "tcp-congestion=averyveryverylongname");
	BAD("vpn.data: transport-order: 'udp udp'", "gateway=g", "local-id=a",
	    "transport-order=udp udp");
	BAD("vpn.data: transport-order: 'udp quic'", "gateway=g", "local-id=a",
	    "transport-order=udp quic");
	BAD("vpn.data: remote-ts: '10.0.0.0/8; rm' is not a list", "gateway=g", "local-id=a",
	    "remote-ts=10.0.0.0/8; rm");
	BAD("vpn.data: cert: 'c.pem' is not an absolute", "gateway=g", "local-id=a",
	    "cert=c.pem");
	BAD("vpn.data: proxy: has credentials", "gateway=g", "local-id=a",
	    "proxy=http://u:p@h:1");
	BAD("vpn.data: proxy: 'socks5://h:1' is not an http:// URL", "gateway=g", "local-id=a",
	    "proxy=socks5://h:1");
	BAD("vpn.data: psk-flags: '8' is not secret flags", "gateway=g", "local-id=a",
	    "psk-flags=8");
	BAD("vpn.data: eap: 'md5' is not mschapv2, tls", "gateway=g", "method=eap", "user=u",
	    "ca=/ca", "eap=md5");
	BAD("vpn.data: user is only used with method=eap", "gateway=g", "local-id=a",
	    "user=u");
	BAD("vpn.data: cert is required with method=pubkey", "gateway=g", "local-id=a",
	    "method=pubkey", "ca=/ca");
	BAD("vpn.data: ca is required with method=eap", "gateway=g", "method=eap", "user=u");
	BAD("vpn.data: proxy-allow-basic: 'maybe' is not yes or no", "gateway=g", "local-id=a",
	    "proxy=p:1", "proxy-allow-basic=maybe");
	BAD("vpn.data: proxy-user is set but proxy is not", "gateway=g", "local-id=a",
	    "proxy-user=u");
#undef BAD

	static const char *const d[] = { "gateway=g", "local-id=a", NULL };
	static const char *const unknown[] = { "psk=x", "pin=1", NULL };
	static const char *const newline[] = { "psk=x\ny", NULL };
	static const char *const keypw[] = { "psk=x", "key-password=k", NULL };
	expect_fail(d, unknown, "vpn.secrets: unknown secret 'pin'");
	expect_fail(d, newline, "vpn.secrets: psk contains a line break");
	expect_fail(d, keypw, "key-password is set, but ikeagent cannot read an encrypted");
}
END_TEST

/* Quotes and backslashes in a value stay inside its quotes. */
START_TEST(quoting)
{
	static const char *const d[] = { "gateway=g", "local-id=a\"b\\c # d", NULL };
	static const char *const s[] = { "psk=x", NULL };
	struct conn c;
	struct config cfg;
	char err[512];

	ck_assert_msg(build(&c, d, s) == 0, "%s", c.err);
	expect_line(&c, "id = \"a\\\"b\\\\c # d\"\n");
	expect_ikeagent_accepts(&c);
	ck_assert_int_eq(config_parse_buf("agent.conf", c.out.conf, strlen(c.out.conf), &cfg, err,
					  sizeof(err)), 0);
	ck_assert_str_eq(cfg.auth.id, "a\"b\\c # d");
	config_free(&cfg);
	nmprops_out_free(&c.out);
}
END_TEST

static Suite *nm_props_suite(void)
{
	Suite *s = suite_create("nm_props");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, psk_full_tunnel);
	tcase_add_test(tc, eap_split_tunnel_all_keys);
	tcase_add_test(tc, pubkey);
	tcase_add_test(tc, proxy_credentials);
	tcase_add_test(tc, missing_secrets);
	tcase_add_test(tc, bad_keys_and_values);
	tcase_add_test(tc, quoting);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(nm_props_suite)
