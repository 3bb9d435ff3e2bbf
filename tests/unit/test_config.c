#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "tests/unit/check_main.h"

#define MINIMAL "[gateway]\naddress = vpn.example.com\n[auth]\nid = alice\npsk = S3cr3t-Value\n"
#define SECRET "S3cr3t-Value"

static char err[512];

static int parse(const char *text, struct config *cfg)
{
	err[0] = '\0';
	return config_parse_buf("agent.conf", text, strlen(text), cfg, err, sizeof(err));
}

/* parse + validate, as the agent does with a file */
static int parse_all(const char *text, struct config *cfg)
{
	if (parse(text, cfg) < 0)
		return -1;
	return config_validate(cfg, err, sizeof(err));
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Expect failure with exactly msg, cfg left zeroed, and the psk not quoted. */
static void expect_err(const char *text, const char *msg)
{
	struct config cfg;

	ck_assert_msg(parse_all(text, &cfg) == -1, "accepted: %s", text);
	ck_assert_str_eq(err, msg);
	ck_assert_ptr_null(strstr(err, SECRET));
	ck_assert(all_zero(&cfg, sizeof(cfg)));
	config_free(&cfg);
}

/* A new file each time: a 0400 one left by the last call is not writable (but by root). */
static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	ck_assert_msg(unlink(path) == 0 || errno == ENOENT, "%s: %s", path, strerror(errno));
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void temp_path(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "/tmp/ikeagent-cfg-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void check_cidr(const struct cidr *c, int family, const char *addr, unsigned prefix)
{
	uint8_t want[16] = { 0 };

	ck_assert_int_eq(inet_pton(family, addr, want), 1);
	ck_assert_uint_eq(c->family, family);
	ck_assert_uint_eq(c->prefix, prefix);
	ck_assert(memcmp(c->addr, want, family == AF_INET ? 4 : 16) == 0);
}

START_TEST(defaults)
{
	struct config c;

	ck_assert_msg(parse_all(MINIMAL, &c) == 0, "%s", err);
	ck_assert_str_eq(c.source, "agent.conf");
	ck_assert_str_eq(c.gateway.address, "vpn.example.com");
	ck_assert_str_eq(c.gateway.id, "vpn.example.com");	/* derived */
	ck_assert_uint_eq(c.gateway.port, 500);
	ck_assert_uint_eq(c.gateway.nat_port, 4500);
	ck_assert_str_eq(c.auth.id, "alice");
	ck_assert_int_eq(c.auth.method, CONFIG_AUTH_PSK);
	ck_assert_uint_eq(c.auth.psk_len, strlen(SECRET));
	ck_assert(memcmp(c.auth.psk, SECRET, c.auth.psk_len) == 0);
	ck_assert_ptr_null(c.auth.psk_file);
	ck_assert_ptr_null(c.auth.ca);
	ck_assert_uint_eq(c.tunnel.ike.n, 3);
	ck_assert_uint_eq(c.tunnel.ike.p[0].dh[0], DH_CURVE25519);
	ck_assert_uint_eq(c.tunnel.ike.p[1].prf[0], PRF_HMAC_SHA2_384);
	ck_assert_uint_eq(c.tunnel.ike.p[2].encr[0].id, ENCR_AES_CBC);
	ck_assert_uint_eq(c.tunnel.esp.n, 3);
	ck_assert_uint_eq(c.tunnel.esp.p[1].encr[0].id, ENCR_CHACHA20_POLY1305);
	ck_assert_uint_eq(c.tunnel.esp.p[2].encr[0].key_bits, 128);
	ck_assert_uint_eq(c.tunnel.remote_ts.n, 1);
	check_cidr(&c.tunnel.remote_ts.v[0], AF_INET, "0.0.0.0", 0);
	ck_assert_uint_eq(c.tunnel.local_ts.n, 0);
	ck_assert(c.tunnel.virtual_ip && c.tunnel.dns && c.tunnel.mobike && c.tunnel.reconnect);
	ck_assert_uint_eq(c.tunnel.dpd_ms, 30000);
	ck_assert_uint_eq(c.tunnel.ike_lifetime_ms, 4 * 3600 * 1000);
	ck_assert_uint_eq(c.tunnel.child_lifetime_ms, 3600 * 1000);
	ck_assert_uint_eq(c.tunnel.rekey_jitter_ms, 300 * 1000);
	ck_assert_uint_eq(c.tunnel.reconnect_max_delay_ms, 300 * 1000);
	ck_assert_uint_eq(c.tunnel.mtu, 0);
	ck_assert_uint_eq(c.transport.n_order, 3);
	ck_assert_int_eq(c.transport.order[0], CONFIG_TRANSPORT_UDP);
	ck_assert_int_eq(c.transport.order[2], CONFIG_TRANSPORT_TLS);
	ck_assert_uint_eq(c.transport.tcp_port, 4500);
	ck_assert_uint_eq(c.transport.tls_port, 443);
	ck_assert_uint_eq(c.transport.udp_timeout_ms, 1000);
	ck_assert_ptr_null(c.transport.proxy_host);
	ck_assert(!c.transport.proxy_from_env);
	ck_assert(c.transport.tls_verify);
	ck_assert_ptr_null(c.transport.tls_ca);
	ck_assert_ptr_null(c.transport.tls_sni);
	ck_assert_uint_eq(c.transport.max_frame, 65535);
	ck_assert_str_eq(c.transport.tcp_congestion, "bbr");
	ck_assert_str_eq(c.agent.socket, "/run/ikeagent.sock");
	ck_assert_int_eq(c.agent.log_level, LOG_LVL_INFO);
	ck_assert_str_eq(c.agent.tun_name, "ika0");
	ck_assert_uint_eq(c.agent.fwmark, 0xca6c);
	ck_assert_uint_eq(c.agent.table, 51820);
	ck_assert_ptr_null(c.agent.dns_hook);
	ck_assert_str_eq(c.agent.state_dir, "/run/ikeagent");
	config_free(&c);
	ck_assert(all_zero(&c, sizeof(c)));
	config_free(&c);	/* twice is fine */
}
END_TEST

/* Every option set to something other than its default. */
static const char every_option[] =
	"# full example\n"
	"[gateway]\n"
	"address = 192.0.2.1   # trailing comment\n"
	"id = \"C=CH, O=Example, CN=vpn.example.com\"\n"
	"port = 1500\n"
	"nat_port = 14500\n"
	"\n"
	"[auth]\n"
	"  id=bob@example.com  \n"
	"method = psk\n"
	"psk = \"a#b ;c \\\"q\\\" \\\\\"  ; comment\n"
	"[tunnel]\n"
	"ike = aes128gcm16-prfsha384-ecp256-modp2048, aes256-sha512-ecp384\n"
	"esp = aes256gcm16-x25519-esn, aes128-sha256\n"
	"remote_ts = 10.0.0.0/8, 192.168.1.0/24 ,2001:db8::/32, 198.51.100.7\n"
	"local_ts = 10.9.0.0/16\n"
	"virtual_ip = no\n"
	"dns = off\n"
	"dpd = 0\n"
	"ike_lifetime = 8h\n"
	"child_lifetime = 90m\n"
	"rekey_jitter = 2m\n"
	"mtu = 1380\n"
	"mobike = false\n"
	"reconnect = 0\n"
	"reconnect_max_delay = 10m\n"
	"[transport]\n"
	"order = tls  tcp\n"
	"tcp_port = 8443\n"
	"tls_port = 4443\n"
	"udp_timeout = 2500ms\n"
	"proxy = http://us%40er:p%3Ass@proxy.example.com:3128/\n"
	"proxy_from_env = no\n"
	"proxy_allow_basic = yes\n"
	"tls_verify = no\n"
	"tls_ca = /etc/ikeagent/tls ca.pem\n"
	"tls_sni = vpn.example.com\n"
	"max_frame = 16k\n"
	"tcp_congestion = cubic\n"
	"[agent]\n"
	"socket = /tmp/ika.sock\n"
	"log_level = debug\n"
	"tun_name = vpn0\n"
	"fwmark = 0x1234\n"
	"table = 100\n"
	"dns_hook = /usr/local/bin/dns-hook\n"
	"state_dir = /var/lib/ikeagent\n";

START_TEST(every_option_parses)
{
	struct config c;

	ck_assert_msg(parse_all(every_option, &c) == 0, "%s", err);
	ck_assert_str_eq(c.gateway.address, "192.0.2.1");
	ck_assert_str_eq(c.gateway.id, "C=CH, O=Example, CN=vpn.example.com");
	ck_assert_uint_eq(c.gateway.port, 1500);
	ck_assert_uint_eq(c.gateway.nat_port, 14500);
	ck_assert_str_eq(c.auth.id, "bob@example.com");
	ck_assert_uint_eq(c.auth.psk_len, strlen("a#b ;c \"q\" \\"));
	ck_assert(memcmp(c.auth.psk, "a#b ;c \"q\" \\", c.auth.psk_len) == 0);
	ck_assert_uint_eq(c.tunnel.ike.n, 2);
	ck_assert_uint_eq(c.tunnel.ike.p[0].n_dh, 2);
	ck_assert_uint_eq(c.tunnel.ike.p[1].integ[0], AUTH_HMAC_SHA2_512_256);
	ck_assert_uint_eq(c.tunnel.ike.p[1].prf[0], PRF_HMAC_SHA2_512);
	ck_assert_uint_eq(c.tunnel.esp.p[0].esn[0], ESN_YES);
	ck_assert_uint_eq(c.tunnel.esp.p[0].dh[0], DH_CURVE25519);
	ck_assert_uint_eq(c.tunnel.esp.p[1].encr[0].id, ENCR_AES_CBC);
	ck_assert_uint_eq(c.tunnel.remote_ts.n, 4);
	check_cidr(&c.tunnel.remote_ts.v[0], AF_INET, "10.0.0.0", 8);
	check_cidr(&c.tunnel.remote_ts.v[1], AF_INET, "192.168.1.0", 24);
	check_cidr(&c.tunnel.remote_ts.v[2], AF_INET6, "2001:db8::", 32);
	check_cidr(&c.tunnel.remote_ts.v[3], AF_INET, "198.51.100.7", 32);
	ck_assert_uint_eq(c.tunnel.local_ts.n, 1);
	check_cidr(&c.tunnel.local_ts.v[0], AF_INET, "10.9.0.0", 16);
	ck_assert(!c.tunnel.virtual_ip && !c.tunnel.dns && !c.tunnel.mobike && !c.tunnel.reconnect);
	ck_assert_uint_eq(c.tunnel.dpd_ms, 0);
	ck_assert_uint_eq(c.tunnel.ike_lifetime_ms, 8 * 3600 * 1000);
	ck_assert_uint_eq(c.tunnel.child_lifetime_ms, 90 * 60 * 1000);
	ck_assert_uint_eq(c.tunnel.rekey_jitter_ms, 120 * 1000);
	ck_assert_uint_eq(c.tunnel.mtu, 1380);
	ck_assert_uint_eq(c.tunnel.reconnect_max_delay_ms, 600 * 1000);
	ck_assert_uint_eq(c.transport.n_order, 2);
	ck_assert_int_eq(c.transport.order[0], CONFIG_TRANSPORT_TLS);
	ck_assert_int_eq(c.transport.order[1], CONFIG_TRANSPORT_TCP);
	ck_assert_uint_eq(c.transport.tcp_port, 8443);
	ck_assert_uint_eq(c.transport.tls_port, 4443);
	ck_assert_uint_eq(c.transport.udp_timeout_ms, 2500);
	ck_assert_str_eq(c.transport.proxy_host, "proxy.example.com");
	ck_assert_uint_eq(c.transport.proxy_port, 3128);
	ck_assert_str_eq(c.transport.proxy_user, "us@er");
	ck_assert_str_eq(c.transport.proxy_pass, "p:ss");
	ck_assert(c.transport.proxy_allow_basic);
	ck_assert(!c.transport.tls_verify);
	ck_assert_str_eq(c.transport.tls_ca, "/etc/ikeagent/tls ca.pem");
	ck_assert_str_eq(c.transport.tls_sni, "vpn.example.com");
	ck_assert_uint_eq(c.transport.max_frame, 16384);
	ck_assert_str_eq(c.transport.tcp_congestion, "cubic");
	ck_assert_str_eq(c.agent.socket, "/tmp/ika.sock");
	ck_assert_int_eq(c.agent.log_level, LOG_LVL_DEBUG);
	ck_assert_str_eq(c.agent.tun_name, "vpn0");
	ck_assert_uint_eq(c.agent.fwmark, 0x1234);
	ck_assert_uint_eq(c.agent.table, 100);
	ck_assert_str_eq(c.agent.dns_hook, "/usr/local/bin/dns-hook");
	ck_assert_str_eq(c.agent.state_dir, "/var/lib/ikeagent");
	config_free(&c);
}
END_TEST

/* tcp_congestion: a name as given; default or empty: the kernel's (NULL). */
START_TEST(tcp_congestion_values)
{
	static const struct { const char *line; const char *want; } cases[] = {
		{ "tcp_congestion = bbr\n", "bbr" },
		{ "tcp_congestion = cubic\n", "cubic" },
		{ "tcp_congestion = \"reno\"\n", "reno" },
		{ "tcp_congestion = abcdefghijklmno\n", "abcdefghijklmno" },	/* 15 */
		{ "tcp_congestion = bbr_2\n", "bbr_2" },
		{ "tcp_congestion = default\n", NULL },
		{ "tcp_congestion =\n", NULL },
		{ "tcp_congestion = \"\"\n", NULL },
	};
	char text[256];
	struct config c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), MINIMAL "[transport]\n%s", cases[i].line);
		ck_assert_msg(parse_all(text, &c) == 0, "%s: %s", cases[i].line, err);
		if (cases[i].want)
			ck_assert_str_eq(c.transport.tcp_congestion, cases[i].want);
		else
			ck_assert_ptr_null(c.transport.tcp_congestion);
		config_free(&c);
	}
}
END_TEST

START_TEST(pubkey_config)
{
	struct config c;

	ck_assert_msg(parse_all("[gateway]\naddress = [2001:db8::1]\n[auth]\nid = alice\n"
				"method = pubkey\nca = /etc/ca.pem\ncert = /etc/c.pem\n"
				"key = /etc/k.pem\n", &c) == 0, "%s", err);
	ck_assert_str_eq(c.gateway.address, "2001:db8::1");
	ck_assert_int_eq(c.auth.method, CONFIG_AUTH_PUBKEY);
	ck_assert_str_eq(c.auth.ca, "/etc/ca.pem");
	ck_assert_str_eq(c.auth.cert, "/etc/c.pem");
	ck_assert_str_eq(c.auth.key, "/etc/k.pem");
	ck_assert_ptr_null(c.auth.psk);
	config_free(&c);
}
END_TEST

/* method = eap: the methods allowed follow the credentials unless eap names them. */
START_TEST(eap_config)
{
	struct config c;

	ck_assert_msg(parse_all("[gateway]\naddress = g\n[auth]\nid = a@b\nmethod = eap\n"
				"ca = /etc/ca.pem\nuser = alice\npassword = p w\n", &c) == 0, "%s", err);
	ck_assert_int_eq(c.auth.method, CONFIG_AUTH_EAP);
	ck_assert_uint_eq(c.auth.eap, CONFIG_EAP_MSCHAPV2);
	ck_assert_str_eq(c.auth.user, "alice");
	ck_assert_uint_eq(c.auth.password_len, 3);
	ck_assert(memcmp(c.auth.password, "p w", 3) == 0);
	ck_assert(!c.auth.insecure);
	ck_assert(!c.auth.allow_sha1);	/* SHA-1 in the gateway's AUTH: refused by default */
	config_free(&c);
	ck_assert_msg(parse_all("[gateway]\naddress = g\n[auth]\nid = a@b\nca = /etc/ca.pem\n"
				"psk = 0123456789abcdef\nallow_sha1 = yes\n", &c) == 0, "%s", err);
	ck_assert(c.auth.allow_sha1);
	config_free(&c);
	/* a certificate and no password: EAP-TLS only (nothing to ask for) */
	ck_assert_msg(parse_all("[gateway]\naddress = g\n[auth]\nid = a\nmethod = eap\n"
				"insecure = yes\ncert = /c.pem\nkey = /k.pem\n", &c) == 0, "%s", err);
	ck_assert_uint_eq(c.auth.eap, CONFIG_EAP_TLS);
	ck_assert(c.auth.insecure);
	ck_assert_ptr_null(c.auth.password);
	config_free(&c);
	/* both named: both allowed, the password to be asked for */
	ck_assert_msg(parse_all("[gateway]\naddress = g\n[auth]\nid = a\nmethod = eap\n"
				"ca = /ca\neap = tls, mschapv2\ncert = /c.pem\nkey = /k.pem\n", &c) == 0,
		      "%s", err);
	ck_assert_uint_eq(c.auth.eap, CONFIG_EAP_MSCHAPV2 | CONFIG_EAP_TLS);
	config_free(&c);
}
END_TEST

START_TEST(comments_quotes_bom_crlf)
{
	struct config c;

	ck_assert_int_eq(parse("\xef\xbb\xbf; top\r\n[ gateway ] # hi\r\naddress=h.example\r\n"
			       "[auth]\r\n\t# indented comment\r\npsk = a#b\r\n", &c), 0);
	ck_assert_str_eq(c.gateway.address, "h.example");
	ck_assert_uint_eq(c.auth.psk_len, 3);
	ck_assert(memcmp(c.auth.psk, "a#b", 3) == 0);
	config_free(&c);

	ck_assert_int_eq(parse("[auth]\npsk = a #b\n", &c), 0);
	ck_assert_uint_eq(c.auth.psk_len, 1);
	config_free(&c);
	ck_assert_int_eq(parse("[auth]\npsk = a;b ; c\n", &c), 0);
	ck_assert_uint_eq(c.auth.psk_len, 3);
	ck_assert(memcmp(c.auth.psk, "a;b", 3) == 0);
	config_free(&c);
	ck_assert_int_eq(parse("[auth]\npsk = \"  x = y  \"\n", &c), 0);
	ck_assert_uint_eq(c.auth.psk_len, 9);
	config_free(&c);
	ck_assert_int_eq(parse("", &c), 0);	/* empty text: defaults only */
	config_free(&c);
}
END_TEST

static const struct {
	const char *text, *msg;
} errors[] = {
	/* syntax */
	{ "[gateway]\nadress = x\n", "agent.conf:2: unknown key 'adress' in [gateway]" },
	{ "[tunnel]\nnat_port = 1\n",
	  "agent.conf:2: unknown key 'nat_port' in [tunnel] (it belongs in [gateway])" },
	{ "[tunnel]\nid = 1\n", "agent.conf:2: unknown key 'id' in [tunnel]" },
	{ "[gatway]\n", "agent.conf:1: unknown section [gatway]" },
	{ "[gateway] x\n", "agent.conf:1: unexpected text after ']'" },
	{ "[gateway\n", "agent.conf:1: missing ']' in section header" },
	{ "[ ]\n", "agent.conf:1: empty section name" },
	{ "# c\n\naddress = x\n", "agent.conf:3: key outside any section" },
	{ "[gateway]\naddress\n", "agent.conf:2: expected 'key = value' or '[section]'" },
	{ "[gateway]\nAddress = x\n",
	  "agent.conf:2: bad key name 'Address' (lowercase letters, digits, '_')" },
	{ "[gateway]\n= x\n", "agent.conf:2: bad key name '' (lowercase letters, digits, '_')" },
	{ "[gateway]\naddress =   # nothing\n", "agent.conf:2: address: missing value" },
	{ "[auth]\npsk = \"\"\n", "agent.conf:2: psk: missing value" },
	{ "[auth]\npsk = " SECRET "\n[gateway]\n[auth]\npsk = " SECRET "\n",
	  "agent.conf:5: duplicate key 'psk'" },
	{ "[auth]\npsk = " SECRET "\npsk_file = /nonexistent\n",
	  "agent.conf:3: psk_file conflicts with psk (line 2); set only one" },
	{ "[auth]\npsk = \"" SECRET "\n", "agent.conf:2: psk: unterminated quoted value" },
	{ "[auth]\npsk = \"" SECRET "\\n\"\n",
	  "agent.conf:2: psk: bad escape in quoted value (only \\\" and \\\\)" },
	{ "[auth]\npsk = \"" SECRET "\"x\n",
	  "agent.conf:2: psk: unexpected text after the closing quote" },
	{ "[auth]\npsk = " SECRET "\x01\n", "agent.conf:2: control character 0x01 in line" },
	{ "[auth]\npsk = " SECRET "\rx\n", "agent.conf:2: control character 0x0d in line" },
	/* values, one or more per parser */
	{ "[tunnel]\ndpd = 3x\n", "agent.conf:2: dpd: '3x' is not a duration (e.g. 30s, 5m)" },
	{ "[tunnel]\ndpd = -5s\n", "agent.conf:2: dpd: '-5s' is not a duration (e.g. 30s, 5m)" },
	{ "[tunnel]\ndpd = 2h\n", "agent.conf:2: dpd: '2h' is out of range (1s..1h, or 0 for off)" },
	{ "[tunnel]\ndpd = 500ms\n",
	  "agent.conf:2: dpd: '500ms' is out of range (1s..1h, or 0 for off)" },
	{ "[tunnel]\nike_lifetime = 50d\n", "agent.conf:2: ike_lifetime: '50d' is too long (max 49d)" },
	{ "[tunnel]\nchild_lifetime = 4s\n",
	  "agent.conf:2: child_lifetime: '4s' is out of range (5s..7d)" },
	{ "[transport]\nudp_timeout = 11s\n",
	  "agent.conf:2: udp_timeout: '11s' is out of range (100ms..10s)" },
	{ "[tunnel]\nvirtual_ip = maybe\n", "agent.conf:2: virtual_ip: 'maybe' is not yes or no" },
	{ "[transport]\nproxy_allow_basic = plain\n",
	  "agent.conf:2: proxy_allow_basic: 'plain' is not yes or no" },
	{ "[gateway]\nport = 0\n", "agent.conf:2: port: '0' is not a port (1..65535)" },
	{ "[gateway]\nport = 65536\n", "agent.conf:2: port: '65536' is not a port (1..65535)" },
	{ "[transport]\ntls_port = https\n", "agent.conf:2: tls_port: 'https' is not a port (1..65535)" },
	{ "[transport]\nmax_frame = 64k\n", "agent.conf:2: max_frame: '64k' is out of range (1500..65535)" },
	{ "[transport]\nmax_frame = 1.5k\n", "agent.conf:2: max_frame: '1.5k' is not a size (e.g. 1400, 64k)" },
	{ "[agent]\nfwmark = 0x\n", "agent.conf:2: fwmark: '0x' is not a number" },
	{ "[agent]\nfwmark = 0x100000000\n", "agent.conf:2: fwmark: '0x100000000' is not a number" },
	{ "[agent]\nfwmark = 0\n", "agent.conf:2: fwmark: '0' is out of range (1..4294967295)" },
	{ "[agent]\ntable = 254\n", "agent.conf:2: table: '254' is a reserved routing table (253..255)" },
	{ "[agent]\ntable = main\n", "agent.conf:2: table: 'main' is not a number" },
	{ "[tunnel]\nmtu = 100\n", "agent.conf:2: mtu: '100' is out of range (576..9000)" },
	{ "[tunnel]\nmtu = big\n", "agent.conf:2: mtu: 'big' is not auto or a number" },
	{ "[tunnel]\nremote_ts = 10.1.2.3/8\n",
	  "agent.conf:2: remote_ts: '10.1.2.3/8' has host bits set (did you mean 10.0.0.0/8?)" },
	{ "[tunnel]\nremote_ts = 10.0.0.0/33\n",
	  "agent.conf:2: remote_ts: '10.0.0.0/33' is not an address or CIDR (e.g. 10.0.0.0/8)" },
	{ "[tunnel]\nremote_ts = 10.0.0.0/8,,fd00::/8\n",
	  "agent.conf:2: remote_ts: empty entry in list '10.0.0.0/8,,fd00::/8'" },
	{ "[tunnel]\nlocal_ts = static\n",
	  "agent.conf:2: local_ts: 'static' is not an address or CIDR (e.g. 10.0.0.0/8)" },
	{ "[gateway]\naddress = bad_host!\n",
	  "agent.conf:2: address: 'bad_host!' is not a host name or IP address" },
	{ "[gateway]\naddress = 1.2.3\n", "agent.conf:2: address: '1.2.3' is not a host name or IP address" },
	{ "[auth]\nca = ca.pem\n", "agent.conf:2: ca: 'ca.pem' is not an absolute path" },
	{ "[agent]\ntun_name = name-much-too-long0\n",
	  "agent.conf:2: tun_name: 'name-much-too-long0' is not an interface name (1..15 bytes, "
	  "no '/', ':', '%' or spaces)" },
	{ "[agent]\nlog_level = loud\n",
	  "agent.conf:2: log_level: 'loud' is not error, warn, info or debug" },
	{ "[auth]\nmethod = cert\n", "agent.conf:2: method: 'cert' is not psk, pubkey or eap" },
	{ "[auth]\neap = md5\n", "agent.conf:2: eap: 'md5' is not mschapv2 or tls" },
	{ "[auth]\neap = ,\n", "agent.conf:2: eap: no method named (mschapv2, tls)" },
	{ "[auth]\npassword_file = /tmp\n", "agent.conf:2: password_file: /tmp: not a regular file" },
	{ "[transport]\norder = udp tcp udp\n", "agent.conf:2: order: 'udp' is listed twice" },
	{ "[transport]\norder = udp,tcp\n", "agent.conf:2: order: 'udp,tcp' is not udp, tcp or tls" },
	{ "[transport]\nproxy = https://p.example:3128\n",
	  "agent.conf:2: proxy: only http:// proxy URLs are supported" },
	{ "[transport]\nproxy = http://user:" SECRET "@p.example\n",
	  "agent.conf:2: proxy: proxy 'p.example' has no port (e.g. http://proxy:3128)" },
	{ "[transport]\nproxy = http://user:" SECRET "@p.example:3128/path\n",
	  "agent.conf:2: proxy: proxy URL must not have a path (http://[user:pass@]host:port)" },
	{ "[transport]\nproxy = http://:" SECRET "@p.example:3128\n",
	  "agent.conf:2: proxy: proxy URL has an empty user name" },
	{ "[transport]\nproxy = http://u:" SECRET "%zz@p.example:3128\n",
	  "agent.conf:2: proxy: proxy URL: bad %-escape or control character in user or password" },
	{ "[transport]\ntcp_congestion = BBR\n",
	  "agent.conf:2: tcp_congestion: 'BBR' is not a congestion control name (1..15 of a-z, "
	  "0-9, _; or default)" },
	{ "[transport]\ntcp_congestion = bbr2-x\n",
	  "agent.conf:2: tcp_congestion: 'bbr2-x' is not a congestion control name (1..15 of a-z, "
	  "0-9, _; or default)" },
	{ "[transport]\ntcp_congestion = abcdefghijklmnop\n",
	  "agent.conf:2: tcp_congestion: 'abcdefghijklmnop' is not a congestion control name "
	  "(1..15 of a-z, 0-9, _; or default)" },
	{ "[transport]\ntcp_congestion = bbr\ntcp_congestion = cubic\n",
	  "agent.conf:3: duplicate key 'tcp_congestion'" },
	{ "[transport]\ntls_sni = 192.0.2.1\n",
	  "agent.conf:2: tls_sni: '192.0.2.1' is an IP address; SNI takes a DNS name" },
	{ "[tunnel]\nike = aes256-3des\n", "agent.conf:2: ike: '3des' is not supported by ikeagent" },
	{ "[tunnel]\nesp = aes256gcm16-prfsha256\n",
	  "agent.conf:2: esp: 'prfsha256': esp proposals have no prf" },
	{ "[auth]\npsk_file = relative\n", "agent.conf:2: psk_file: 'relative' is not an absolute path" },
	{ "[auth]\npsk_file = /nonexistent/psk\n",
	  "agent.conf:2: psk_file: /nonexistent/psk: cannot read: No such file or directory" },
	{ "[auth]\npsk_file = /tmp\n", "agent.conf:2: psk_file: /tmp: not a regular file" },
	/* semantic checks */
	{ "[auth]\nid = a\npsk = " SECRET "\n", "agent.conf: [gateway] address is required" },
	{ "[gateway]\naddress = g\n[auth]\npsk = " SECRET "\n", "agent.conf: [auth] id is required" },
	{ "[gateway]\naddress = g\n[auth]\nid = a\n",
	  "agent.conf: [auth] method = psk needs psk or psk_file" },
	{ "[gateway]\naddress = g\n[auth]\nid = a\nmethod = pubkey\nca = /ca\nkey = /k\n",
	  "agent.conf:5: [auth] method = pubkey needs cert" },
	{ "[gateway]\naddress = g\n[auth]\nid = a\npsk = " SECRET "\nmethod = pubkey\n",
	  "agent.conf:5: psk is set but [auth] method = pubkey" },
	{ MINIMAL "cert = /c.pem\n", "agent.conf:6: cert is set but [auth] method = psk" },
	{ MINIMAL "user = alice\n", "agent.conf:6: user is set but [auth] method = psk (not eap)" },
	{ "[gateway]\naddress = g\n[auth]\nid = a\nmethod = eap\n",
	  "agent.conf:5: [auth] method = eap needs ca: the gateway's certificate is checked before "
	  "any password or certificate is sent (insecure = yes skips that check)" },
	{ "[gateway]\naddress = g\n[auth]\nid = a\nmethod = eap\nca = /ca\neap = tls\n",
	  "agent.conf:7: eap = tls needs cert and key" },
	{ "[gateway]\naddress = g\n[auth]\nid = a\nmethod = eap\nca = /ca\ncert = /c\n",
	  "agent.conf:7: EAP-TLS needs both cert and key" },
	{ "[gateway]\naddress = g\n[auth]\nid = a\nmethod = eap\nca = /ca\neap = tls\n"
	  "cert = /c\nkey = /k\npassword = " SECRET "\n",
	  "agent.conf:10: a password is set but [auth] eap has no mschapv2" },
	{ "[gateway]\naddress = g\n[auth]\nid = a\nmethod = eap\nca = /ca\npsk = " SECRET "\n",
	  "agent.conf:7: a pre-shared key is set but [auth] method = eap" },
	{ MINIMAL "[tunnel]\nrekey_jitter = 30m\n",
	  "agent.conf:7: rekey_jitter (30m) must be less than half of child_lifetime (1h)" },
	{ MINIMAL "[tunnel]\nike_lifetime = 8m\n",
	  "agent.conf:7: rekey_jitter (5m) must be less than half of ike_lifetime (8m)" },
	{ MINIMAL "[transport]\norder = udp\nproxy = http://p:1\n",
	  "agent.conf:8: proxy is set but [transport] order has neither tcp nor tls" },
	{ MINIMAL "[transport]\nproxy = http://p:1\nproxy_from_env = yes\n",
	  "agent.conf:7: proxy and proxy_from_env = yes are both set; choose one" },
};

START_TEST(error_messages)
{
	expect_err(errors[_i].text, errors[_i].msg);
}
END_TEST

START_TEST(line_limits_and_nul)
{
	static char text[CONFIG_LINE_MAX + 64];
	static const char nul[] = "[gateway]\naddress = a\0b\n";
	struct config c;

	/* a comment of exactly CONFIG_LINE_MAX bytes (plus CR LF) is fine */
	strcpy(text, "[gateway]\n#");
	memset(text + strlen(text), 'x', CONFIG_LINE_MAX - 1);
	strcat(text, "\r\n");
	ck_assert_msg(parse(text, &c) == 0, "%s", err);
	config_free(&c);
	text[strlen(text) - 2] = 'x';	/* one byte more */
	ck_assert_int_eq(parse(text, &c), -1);
	ck_assert_str_eq(err, "agent.conf:2: line too long (max 4096 bytes)");
	ck_assert(all_zero(&c, sizeof(c)));

	ck_assert_int_eq(config_parse_buf("x.conf", nul, sizeof(nul) - 1, &c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "x.conf:2: NUL byte in line");
	ck_assert(all_zero(&c, sizeof(c)));
}
END_TEST

START_TEST(psk_too_long_is_not_echoed)
{
	static char text[CONFIG_PSK_MAX + 64];
	struct config c;

	strcpy(text, "[auth]\npsk = ");
	memset(text + strlen(text), 'k', CONFIG_PSK_MAX + 1);
	ck_assert_int_eq(parse(text, &c), -1);
	ck_assert_str_eq(err, "agent.conf:2: psk: the key must be 1..1024 bytes");
	text[strlen(text) - 1] = '\0';
	ck_assert_int_eq(parse(text, &c), 0);
	ck_assert_uint_eq(c.auth.psk_len, CONFIG_PSK_MAX);
	config_free(&c);
}
END_TEST

START_TEST(psk_file_modes)
{
	char path[64], text[256], want[256];
	struct config c;

	temp_path(path, sizeof(path));
	snprintf(text, sizeof(text), "[gateway]\naddress = g\n[auth]\npsk_file = %s\nid = a\n", path);

	write_file(path, "file-secret\n", 0600);
	ck_assert_msg(parse_all(text, &c) == 0, "%s", err);
	ck_assert_uint_eq(c.auth.psk_len, 11);
	ck_assert(memcmp(c.auth.psk, "file-secret", 11) == 0);
	ck_assert_str_eq(c.auth.psk_file, path);
	config_free(&c);

	write_file(path, "crlf-secret\r\n", 0400);
	ck_assert_msg(parse_all(text, &c) == 0, "%s", err);
	ck_assert_uint_eq(c.auth.psk_len, 11);
	config_free(&c);

	write_file(path, "file-secret\n", 0644);
	ck_assert_int_eq(parse_all(text, &c), -1);
	snprintf(want, sizeof(want),
		 "agent.conf:4: psk_file: %s is readable by group/others (chmod 600)", path);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(strstr(err, "file-secret"));
	write_file(path, "file-secret\n", 0640);
	ck_assert_int_eq(parse_all(text, &c), -1);
	ck_assert_str_eq(err, want);

	write_file(path, "\n", 0600);
	ck_assert_int_eq(parse_all(text, &c), -1);
	snprintf(want, sizeof(want), "agent.conf:4: psk_file: %s is empty", path);
	ck_assert_str_eq(err, want);
	unlink(path);
}
END_TEST

START_TEST(psk_file_fifo_does_not_hang)
{
	char path[64], text[256], want[256];
	struct config c;

	snprintf(path, sizeof(path), "/tmp/ikeagent-fifo-%d", (int)getpid());
	unlink(path);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	snprintf(text, sizeof(text), "[auth]\npsk_file = %s\n", path);
	ck_assert_int_eq(parse(text, &c), -1);
	snprintf(want, sizeof(want), "agent.conf:2: psk_file: %s: not a regular file", path);
	ck_assert_str_eq(err, want);
	unlink(path);
}
END_TEST

/* The wipe hook sees each secret buffer after OPENSSL_cleanse, before free. */
static unsigned wiped_total, wiped_dirty, wiped_psk;

static void wipe_recorder(const void *p, size_t len)
{
	wiped_total++;
	if (!all_zero(p, len))
		wiped_dirty++;
	if (len == strlen(SECRET))
		wiped_psk++;
}

START_TEST(secrets_wiped_on_failure)
{
	struct config c;

	config_wipe_hook = wipe_recorder;
	wiped_total = wiped_dirty = wiped_psk = 0;
	ck_assert_int_eq(parse(MINIMAL "[tunnel]\ndpd = never\n", &c), -1);
	ck_assert_uint_eq(wiped_psk, 1);		/* the psk itself */
	ck_assert_uint_ge(wiped_total, 2);		/* and the line buffer */
	ck_assert_uint_eq(wiped_dirty, 0);
	ck_assert(all_zero(&c, sizeof(c)));

	/* validation failure, and the proxy password */
	wiped_total = wiped_dirty = wiped_psk = 0;
	ck_assert_int_eq(parse_all(MINIMAL "method = pubkey\n[transport]\n"
				   "proxy = http://u:" SECRET "@p:1\n", &c), -1);
	ck_assert_uint_eq(wiped_psk, 2);		/* psk and proxy password */
	ck_assert_uint_eq(wiped_dirty, 0);
	ck_assert(all_zero(&c, sizeof(c)));

	/* and on success, by config_free */
	ck_assert_int_eq(parse_all(MINIMAL, &c), 0);
	wiped_psk = 0;
	config_free(&c);
	ck_assert_uint_eq(wiped_psk, 1);
	ck_assert_uint_eq(wiped_dirty, 0);
	config_wipe_hook = NULL;
}
END_TEST

START_TEST(load_file_and_permissions)
{
	char path[64], want[256];
	struct config c;

	temp_path(path, sizeof(path));
	write_file(path, MINIMAL, 0600);
	ck_assert_msg(config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.source, path);
	ck_assert_str_eq(c.gateway.id, "vpn.example.com");
	config_free(&c);

	write_file(path, MINIMAL, 0644);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:5: psk holds a secret but %s is readable by "
		 "group/others (chmod 600)", path, path);
	ck_assert_str_eq(err, want);
	ck_assert(all_zero(&c, sizeof(c)));

	/* no secret in it: a readable file is fine */
	write_file(path, "[gateway]\naddress = g\n[auth]\nid = a\nmethod = pubkey\n"
		   "ca = /a\ncert = /b\nkey = /c\n", 0644);
	ck_assert_msg(config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	config_free(&c);

	/* semantic errors come through config_load too */
	write_file(path, "[gateway]\naddress = g\n", 0600);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: [auth] id is required", path);
	ck_assert_str_eq(err, want);
	unlink(path);

	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(config_load("/tmp", &c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/tmp: not a regular file");
}
END_TEST

/*
 * The config names dns_hook, run as root: one others may write, or that
 * neither root nor we own, is refused, and so is such a secret file.
 */
START_TEST(file_owner_and_writers)
{
	char path[64], psk[64], text[256], want[256];
	struct config c;

	temp_path(path, sizeof(path));
	temp_path(psk, sizeof(psk));
	write_file(psk, "file-secret\n", 0600);
	snprintf(text, sizeof(text), "[gateway]\naddress = g\n[auth]\nid = a\npsk_file = %s\n", psk);
	write_file(path, text, 0644);			/* no secret in it: may be read */
	ck_assert_msg(config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	config_free(&c);

	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "config: %s is writable by others (mode 0666); chmod go-w it",
		 path);
	ck_assert_str_eq(err, want);
	ck_assert(all_zero(&c, sizeof(c)));
	ck_assert_int_eq(chmod(path, 0620), 0);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "config: %s is writable by group (mode 0620); chmod go-w it",
		 path);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(chmod(psk, 0602), 0);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:5: psk_file: %s is writable by others (mode 0602); "
		 "chmod go-w it", path, psk);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(chmod(psk, 0600), 0);

	if (geteuid() != 0) {
		check_skip("file_owner_and_writers", "the owner check needs root (chown)");
	} else {
		ck_assert_int_eq(chown(psk, 4242, (gid_t)-1), 0);
		ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s:5: psk_file: %s is owned by uid 4242, not root; "
			 "chown root it", path, psk);
		ck_assert_str_eq(err, want);
		ck_assert_int_eq(chown(psk, 0, (gid_t)-1), 0);
		ck_assert_int_eq(chown(path, 4242, (gid_t)-1), 0);
		ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "config: %s is owned by uid 4242, not root; "
			 "chown root it", path);
		ck_assert_str_eq(err, want);
		ck_assert_int_eq(chown(path, 0, (gid_t)-1), 0);
		ck_assert_msg(config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
		config_free(&c);
	}
	unlink(path);
	unlink(psk);
}
END_TEST

/* Secrets a driver passes on a file descriptor (nm/PROTOCOL.md): set as if in the file. */
START_TEST(driver_secrets)
{
	static const char conf[] = "[gateway]\naddress = g\n[auth]\nid = a\n[transport]\n"
				   "proxy = http://bob@p.example:3128\n";
	static const char secrets[] = "psk " SECRET "\nproxy-password p w\n";
	char path[64];
	struct config c;

	temp_path(path, sizeof(path));
	write_file(path, conf, 0600);
	/* no psk in the file: method = psk fails without the secret, passes with it */
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_msg(config_load_secrets(path, secrets, strlen(secrets), &c, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(c.auth.psk_len, strlen(SECRET));
	ck_assert(memcmp(c.auth.psk, SECRET, c.auth.psk_len) == 0);
	ck_assert_str_eq(c.transport.proxy_user, "bob");
	ck_assert_str_eq(c.transport.proxy_pass, "p w");
	config_free(&c);
	ck_assert_int_eq(config_load_secrets(path, "pin 1234\n", 9, &c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "--secrets-fd: unknown secret 'pin' (psk, password, proxy-password)");
	ck_assert(!strstr(err, "1234"));
	ck_assert_int_eq(config_load_secrets(path, "psk\n", 4, &c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "--secrets-fd: a line is not 'NAME VALUE'");
	write_file(path, "[gateway]\naddress = g\n[auth]\nid = a\n", 0600);
	ck_assert_int_eq(config_load_secrets(path, secrets, strlen(secrets), &c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "--secrets-fd: proxy-password given, but [transport] proxy names no user");
	unlink(path);
}
END_TEST

/* Basic proxy authentication: off unless asked for; harmless without a proxy user. */
START_TEST(proxy_allow_basic_key)
{
	struct config c;

	ck_assert_msg(parse_all(MINIMAL "[transport]\nproxy = http://bob:pw@p.example:3128\n", &c) == 0,
		      "%s", err);
	ck_assert(!c.transport.proxy_allow_basic);
	config_free(&c);
	ck_assert_msg(parse_all(MINIMAL "[transport]\nproxy = http://bob:pw@p.example:3128\n"
				"proxy_allow_basic = yes\n", &c) == 0, "%s", err);
	ck_assert(c.transport.proxy_allow_basic);
	config_free(&c);
	ck_assert_msg(parse_all(MINIMAL "[transport]\nproxy_allow_basic = yes\n", &c) == 0, "%s", err);
	ck_assert(c.transport.proxy_allow_basic);	/* no proxy: accepted, nothing to do */
	config_free(&c);
}
END_TEST

START_TEST(proxy_from_environment)
{
	char path[64];
	struct config c;

	temp_path(path, sizeof(path));
	write_file(path, MINIMAL "[transport]\nproxy_from_env = yes\n", 0600);
	unsetenv("HTTPS_PROXY");
	setenv("https_proxy", "http://env-proxy.example:8080", 1);
	ck_assert_msg(config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.transport.proxy_host, "env-proxy.example");
	ck_assert_uint_eq(c.transport.proxy_port, 8080);
	config_free(&c);

	setenv("https_proxy", "socks5://u:" SECRET "@h:1", 1);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, SECRET));
	ck_assert_ptr_nonnull(strstr(err, ": https_proxy (proxy_from_env): only http://"));
	ck_assert(all_zero(&c, sizeof(c)));

	unsetenv("https_proxy");
	ck_assert_msg(config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_null(c.transport.proxy_host);	/* no variable: direct */
	ck_assert_int_eq(config_proxy_from_env(&c, "proxy:3128", err, sizeof(err)), 0);
	ck_assert_str_eq(c.transport.proxy_host, "proxy");
	config_free(&c);
	unlink(path);
}
END_TEST

/* ---- agent.conf.example: parses, and documents exactly the table ---- */

static char *read_example(size_t *len)
{
	FILE *f = fopen("agent.conf.example", "r");
	char *buf = malloc(65536);

	ck_assert_msg(f != NULL, "run the tests from the repository root");
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, 65535, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

START_TEST(example_parses)
{
	const char extra[] = "\n[auth]\npsk = \"example secret\"\n";
	size_t len;
	char *text = read_example(&len), *full = malloc(len + sizeof(extra));
	struct config c;

	memcpy(full, text, len);
	memcpy(full + len, extra, sizeof(extra));
	ck_assert_int_eq(config_parse_buf("agent.conf.example", full, strlen(full), &c, err,
					  sizeof(err)), 0);
	ck_assert_msg(config_validate(&c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.gateway.address, "vpn.example.com");
	ck_assert_str_eq(c.auth.id, "alice@example.com");
	config_free(&c);

	/* without a psk it is incomplete, and says so */
	ck_assert_int_eq(config_parse_buf("agent.conf.example", text, len, &c, err, sizeof(err)), 0);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "agent.conf.example: [auth] method = psk needs psk or psk_file");
	free(full);
	free(text);
}
END_TEST

struct doc_line {
	char section[32], key[32], value[256];
	bool commented;
};

/* "key = value" or "# key = value" inside a section; false for prose. */
static bool doc_option(const char *line, const char *section, struct doc_line *d)
{
	const char *p = line, *eq;
	size_t klen;

	d->commented = strncmp(p, "# ", 2) == 0;
	if (d->commented)
		p += 2;
	klen = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
	eq = p + klen;
	if (!*section || klen == 0 || klen >= sizeof(d->key) || strncmp(eq, " = ", 3) != 0)
		return false;
	snprintf(d->section, sizeof(d->section), "%s", section);
	snprintf(d->key, sizeof(d->key), "%.*s", (int)klen, p);
	snprintf(d->value, sizeof(d->value), "%s", eq + 3);
	return true;
}

START_TEST(example_documents_every_option)
{
	bool seen[CONFIG_MAX_OPTS] = { false };
	char section[32] = "", *save = NULL, *line;
	size_t len;
	char *text = read_example(&len);

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct doc_line d;
		size_t i;

		if (line[0] == '[') {
			snprintf(section, sizeof(section), "%.*s", (int)strcspn(line + 1, "]"),
				 line + 1);
			continue;
		}
		if (!doc_option(line, section, &d))
			continue;
		for (i = 0; i < config_option_count(); i++) {
			const struct config_option_info *o = config_option(i);

			if (strcmp(o->section, d.section) || strcmp(o->key, d.key))
				continue;
			ck_assert_msg(!seen[i], "[%s] %s documented twice", d.section, d.key);
			seen[i] = true;
			if (o->def)
				ck_assert_msg(d.commented && strcmp(d.value, o->def) == 0,
					      "[%s] %s: example shows '%s', default is '%s'",
					      d.section, d.key, d.value, o->def);
			if (o->required)
				ck_assert_msg(!d.commented, "[%s] %s is required: set it",
					      d.section, d.key);
			break;
		}
		ck_assert_msg(i < config_option_count(), "example documents unknown [%s] %s",
			      d.section, d.key);
	}
	for (size_t i = 0; i < config_option_count(); i++)
		ck_assert_msg(seen[i], "[%s] %s is not in agent.conf.example",
			      config_option(i)->section, config_option(i)->key);
	ck_assert_ptr_null(config_option(config_option_count()));
	free(text);
}
END_TEST

/* ---- robustness: every bit flip and truncation of a full config ---- */

START_TEST(bit_flips_and_truncations)
{
	size_t len = strlen(every_option);
	char *buf = malloc(len);
	unsigned ok = 0;
	struct config c;

	for (size_t cut = 0; cut <= len; cut++) {
		if (config_parse_buf("t", every_option, cut, &c, err, sizeof(err)) == 0 &&
		    config_validate(&c, err, sizeof(err)) == 0)
			ok++;
		config_free(&c);
	}
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, every_option, len);
			buf[i] = (char)(buf[i] ^ (1 << bit));
			if (config_parse_buf("t", buf, len, &c, err, sizeof(err)) == 0 &&
			    config_validate(&c, err, sizeof(err)) == 0)
				ok++;
			config_free(&c);
		}
	}
	ck_assert_uint_gt(ok, 0);
	free(buf);
}
END_TEST

/* ---- value parsers directly ---- */

START_TEST(value_parsers)
{
	struct cfgv_proxy p;
	struct cidr cidr;
	char host[256], text[64];
	uint32_t v;
	uint16_t port;
	bool b;

	ck_assert_int_eq(cfgv_duration("0", &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(cfgv_duration("30", &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v, 30000);
	ck_assert_int_eq(cfgv_duration("1d", &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v, 86400000);
	ck_assert_int_eq(cfgv_duration("4294967295ms", &v, err, sizeof(err)), 0);
	ck_assert_int_eq(cfgv_duration("4294967296ms", &v, err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_duration("99999999999999999999999s", &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'99999999999999999999999s' is too long (max 49d)");
	ck_assert_int_eq(cfgv_duration("5 s", &v, err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_duration("s", &v, err, sizeof(err)), -1);
	cfgv_format_duration(90000, text, sizeof(text));
	ck_assert_str_eq(text, "90s");
	cfgv_format_duration(7200000, text, sizeof(text));
	ck_assert_str_eq(text, "2h");
	cfgv_format_duration(1500, text, sizeof(text));
	ck_assert_str_eq(text, "1500ms");
	cfgv_format_duration(0, text, sizeof(text));
	ck_assert_str_eq(text, "0s");

	ck_assert_int_eq(cfgv_bool("Yes", &b, err, sizeof(err)), 0);
	ck_assert(b);
	ck_assert_int_eq(cfgv_bool("OFF", &b, err, sizeof(err)), 0);
	ck_assert(!b);
	ck_assert_int_eq(cfgv_uint("0xCA6C", 0, UINT32_MAX, &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v, 0xca6c);
	ck_assert_int_eq(cfgv_uint("4294967296", 0, UINT32_MAX, &v, err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_uint("", 0, UINT32_MAX, &v, err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_size("4K", &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(cfgv_port("443", &port, err, sizeof(err)), 0);
	ck_assert_uint_eq(port, 443);

	ck_assert_int_eq(cfgv_cidr("2001:db8::1/64", &cidr, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'2001:db8::1/64' has host bits set (did you mean 2001:db8::/64?)");
	ck_assert_int_eq(cfgv_cidr("::/0", &cidr, err, sizeof(err)), 0);
	ck_assert_int_eq(cfgv_cidr("10.0.0.0/", &cidr, err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_cidr("10.0.0.0/+8", &cidr, err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_cidr("10.128.0.0/9", &cidr, err, sizeof(err)), 0);
	cfgv_format_cidr(&cidr, text, sizeof(text));
	ck_assert_str_eq(text, "10.128.0.0/9");

	ck_assert_int_eq(cfgv_host("[fe80::1]", host, sizeof(host), err, sizeof(err)), 0);
	ck_assert_str_eq(host, "fe80::1");
	ck_assert_int_eq(cfgv_host("[vpn.example]", host, sizeof(host), err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_host("-bad.example", host, sizeof(host), err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_host("a..b", host, sizeof(host), err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_host("vpn.example.", host, sizeof(host), err, sizeof(err)), 0);
	ck_assert_int_eq(cfgv_host_port("[::1]:500", host, sizeof(host), &port, err, sizeof(err)), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 500);
	ck_assert_int_eq(cfgv_host_port("::1:500", host, sizeof(host), &port, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'::1:500': write an IPv6 address as [ADDR]:PORT");
	ck_assert_int_eq(cfgv_host_port("h", host, sizeof(host), &port, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'h' is not HOST:PORT");

	ck_assert_int_eq(cfgv_proxy_url("proxy:3128", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.host, "proxy");
	ck_assert_ptr_null(p.user);
	cfgv_proxy_clear(&p);
	ck_assert_int_eq(cfgv_proxy_url("HTTP://u@[2001:db8::2]:8080", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.host, "2001:db8::2");
	ck_assert_str_eq(p.user, "u");
	ck_assert_ptr_null(p.pass);
	cfgv_proxy_clear(&p);
	ck_assert_int_eq(cfgv_proxy_url("http://u:p@ss@h:1", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.pass, "p@ss");
	cfgv_proxy_clear(&p);
	ck_assert_int_eq(cfgv_proxy_url("http://u:%00@h:1", &p, err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_proxy_url("http://u:%4@h:1", &p, err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_proxy_url("http://[::1]", &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "proxy '[::1]' has no port (e.g. http://proxy:3128)");

	ck_assert_int_eq(cfgv_ifname("..", err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_ifname("tun%d", err, sizeof(err)), -1);
	ck_assert_int_eq(cfgv_ifname("wg-vpn_0", err, sizeof(err)), 0);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, every_option_parses);
	tcase_add_test(tc, tcp_congestion_values);
	tcase_add_test(tc, pubkey_config);
	tcase_add_test(tc, eap_config);
	tcase_add_test(tc, comments_quotes_bom_crlf);
	tcase_add_loop_test(tc, error_messages, 0, sizeof(errors) / sizeof(errors[0]));
	tcase_add_test(tc, line_limits_and_nul);
	tcase_add_test(tc, psk_too_long_is_not_echoed);
	tcase_add_test(tc, psk_file_modes);
	tcase_add_test(tc, psk_file_fifo_does_not_hang);
	tcase_add_test(tc, secrets_wiped_on_failure);
	tcase_add_test(tc, load_file_and_permissions);
	tcase_add_test(tc, file_owner_and_writers);
	tcase_add_test(tc, driver_secrets);
	tcase_add_test(tc, proxy_allow_basic_key);
	tcase_add_test(tc, proxy_from_environment);
	tcase_add_test(tc, example_parses);
	tcase_add_test(tc, example_documents_every_option);
	tcase_add_test(tc, bit_flips_and_truncations);
	tcase_add_test(tc, value_parsers);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(config_suite)
