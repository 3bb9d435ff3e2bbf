/*
 * agent/cfgmap.c: configuration text -> struct ike_sa_cfg (identities,
 * traffic selector ranges, proposals, defaults, NAT detection addresses),
 * selector ranges -> CIDRs for routing, and the JSON status escaping.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/session.h"
#include "ike/ikev2.h"
#include "tests/unit/check_main.h"

#define BASE "[gateway]\naddress = vpn.example.com\n[auth]\nid = alice@example.com\n" \
	     "psk = S3cr3t-Value\n"

static char err[512];

/* Config text -> ike_sa_cfg, as `ikeagent run` does it (0 ok, -1 config or map error). */
static int map_text(const char *text, struct config *cfg, struct ike_sa_cfg *ike)
{
	err[0] = '\0';
	if (config_parse_buf("agent.conf", text, strlen(text), cfg, err, sizeof(err)) < 0 ||
	    config_validate(cfg, err, sizeof(err)) < 0)
		return -1;
	return cfgmap_ike(cfg, NULL, NULL, ike, err, sizeof(err));
}

static void ip4(uint8_t *out, const char *s)
{
	ck_assert_int_eq(inet_pton(AF_INET, s, out), 1);
}

static void expect_range4(const struct ike_ts_sel *ts, const char *start, const char *end)
{
	uint8_t a[4], b[4];

	ip4(a, start);
	ip4(b, end);
	ck_assert_uint_eq(ts->type, TS_IPV4_ADDR_RANGE);
	ck_assert_uint_eq(ts->ip_proto, 0);
	ck_assert_uint_eq(ts->start_port, 0);
	ck_assert_uint_eq(ts->end_port, 65535);
	ck_assert_mem_eq(ts->start, a, 4);
	ck_assert_mem_eq(ts->end, b, 4);
}

START_TEST(defaults_full_tunnel)
{
	struct config cfg;
	struct ike_sa_cfg ike;

	ck_assert_msg(map_text(BASE, &cfg, &ike) == 0, "%s", err);
	ck_assert_uint_eq(ike.local_id.type, ID_RFC822_ADDR);
	ck_assert_uint_eq(ike.local_id.len, strlen("alice@example.com"));
	ck_assert_mem_eq(ike.local_id.data, "alice@example.com", ike.local_id.len);
	/* gateway id defaults to its address: a name, so ID_FQDN */
	ck_assert_uint_eq(ike.remote_id.type, ID_FQDN);
	ck_assert_mem_eq(ike.remote_id.data, "vpn.example.com", ike.remote_id.len);
	ck_assert_ptr_eq(ike.psk, cfg.auth.psk);
	ck_assert_uint_eq(ike.psk_len, strlen("S3cr3t-Value"));
	/* remote_ts default 0.0.0.0/0 */
	ck_assert_uint_eq(ike.n_remote_ts, 1);
	expect_range4(&ike.remote_ts[0], "0.0.0.0", "255.255.255.255");
	ck_assert(ike.want_vip && ike.want_dns && ike.mobike && ike.force_encap);
	ck_assert_uint_eq(ike.dpd_ms, 30000);
	ck_assert_uint_eq(ike.retransmit_ms, 1000);
	ck_assert_uint_eq(ike.retransmit_tries, 5);
	ck_assert_int_eq(ike.family, AF_INET);
	ck_assert_uint_eq(ike.local_port, 0);
	config_free(&cfg);
}
END_TEST

START_TEST(split_ts_and_ids)
{
	struct config cfg;
	struct ike_sa_cfg ike;

	ck_assert_msg(map_text(BASE "[tunnel]\nremote_ts = 10.99.1.0/24, 192.168.0.0/16, 10.1.2.3/32\n"
			       "dns = no\nvirtual_ip = no\nmobike = no\ndpd = 0\n"
			       "[gateway]\nid = 10.99.0.1\n", &cfg, &ike) == 0, "%s", err);
	ck_assert_uint_eq(ike.remote_id.type, ID_IPV4_ADDR);
	ck_assert_uint_eq(ike.remote_id.len, 4);
	ck_assert_uint_eq(ike.n_remote_ts, 3);
	expect_range4(&ike.remote_ts[0], "10.99.1.0", "10.99.1.255");
	expect_range4(&ike.remote_ts[1], "192.168.0.0", "192.168.255.255");
	expect_range4(&ike.remote_ts[2], "10.1.2.3", "10.1.2.3");
	ck_assert(!ike.want_vip && !ike.want_dns && !ike.mobike);
	ck_assert_uint_eq(ike.dpd_ms, 0);
	config_free(&cfg);
}
END_TEST

START_TEST(ipv6_ts)
{
	struct config cfg;
	struct ike_sa_cfg ike;
	uint8_t start[16], end[16];

	ck_assert_msg(map_text(BASE "[tunnel]\nremote_ts = fd99:1::/64, ::/0\n", &cfg, &ike) == 0,
		      "%s", err);
	ck_assert_uint_eq(ike.n_remote_ts, 2);
	ck_assert_uint_eq(ike.remote_ts[0].type, TS_IPV6_ADDR_RANGE);
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99:1::", start), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99:1::ffff:ffff:ffff:ffff", end), 1);
	ck_assert_mem_eq(ike.remote_ts[0].start, start, 16);
	ck_assert_mem_eq(ike.remote_ts[0].end, end, 16);
	memset(start, 0, 16);
	memset(end, 0xff, 16);
	ck_assert_mem_eq(ike.remote_ts[1].start, start, 16);
	ck_assert_mem_eq(ike.remote_ts[1].end, end, 16);
	ck_assert(ike.want_ip6 && ike.want_vip && ike.want_dns);
	config_free(&cfg);
}
END_TEST

/* An IPv6 selector among IPv4 ones asks for the IPv6 address and DNS too. */
START_TEST(want_ip6_mixed)
{
	struct config cfg;
	struct ike_sa_cfg ike;

	ck_assert_msg(map_text(BASE "[tunnel]\nremote_ts = 10.99.1.0/24\n", &cfg, &ike) == 0,
		      "%s", err);
	ck_assert(!ike.want_ip6);
	config_free(&cfg);
	ck_assert_msg(map_text(BASE "[tunnel]\nremote_ts = 10.99.1.0/24, fd99:1::/64\n", &cfg,
			       &ike) == 0, "%s", err);
	ck_assert_uint_eq(ike.n_remote_ts, 2);
	ck_assert_uint_eq(ike.remote_ts[1].type, TS_IPV6_ADDR_RANGE);
	ck_assert(ike.want_ip6 && ike.want_vip && ike.want_dns);
	config_free(&cfg);
	ck_assert_msg(map_text(BASE "[tunnel]\nremote_ts = 10.99.1.0/24, fd99:1::/64\n"
			       "virtual_ip = no\ndns = no\n", &cfg, &ike) == 0, "%s", err);
	ck_assert(ike.want_ip6 && !ike.want_vip && !ike.want_dns);
	config_free(&cfg);
}
END_TEST

START_TEST(proposals_copied)
{
	struct config cfg;
	struct ike_sa_cfg ike;
	char text[256];

	ck_assert_msg(map_text(BASE "[tunnel]\nike = aes128gcm16-prfsha384-ecp256, "
			       "chacha20poly1305-prfsha256-x25519\nesp = chacha20poly1305, aes256gcm16\n",
			       &cfg, &ike) == 0, "%s", err);
	ck_assert_uint_eq(ike.ike_props.n, 2);
	ck_assert_uint_eq(ike.esp_props.n, 2);
	ck_assert_int_eq(proposal_list_format(&ike.ike_props, text, sizeof(text)), 0);
	ck_assert_str_eq(text, "aes128gcm16-prfsha384-ecp256, chacha20poly1305-prfsha256-x25519");
	ck_assert_int_eq(proposal_list_format(&ike.esp_props, text, sizeof(text)), 0);
	ck_assert_str_eq(text, "chacha20poly1305, aes256gcm16");
	ck_assert_mem_eq(&ike.ike_props, &cfg.tunnel.ike, sizeof(ike.ike_props));
	config_free(&cfg);
}
END_TEST

START_TEST(nat_detection_addresses)
{
	struct config cfg;
	struct ike_sa_cfg ike;
	struct sockaddr_storage l = { 0 }, r = { 0 };
	struct sockaddr_in *l4 = (struct sockaddr_in *)&l, *r4 = (struct sockaddr_in *)&r;
	uint8_t a[4];

	l4->sin_family = r4->sin_family = AF_INET;
	ip4((uint8_t *)&l4->sin_addr, "10.99.0.2");
	l4->sin_port = htons(40000);
	ip4((uint8_t *)&r4->sin_addr, "10.99.0.1");
	r4->sin_port = htons(500);
	err[0] = '\0';
	ck_assert(config_parse_buf("agent.conf", BASE, strlen(BASE), &cfg, err, sizeof(err)) == 0);
	ck_assert(config_validate(&cfg, err, sizeof(err)) == 0);
	ck_assert_msg(cfgmap_ike(&cfg, &l, &r, &ike, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(ike.family, AF_INET);
	ip4(a, "10.99.0.2");
	ck_assert_mem_eq(ike.local_ip, a, 4);
	ck_assert_uint_eq(ike.local_port, 40000);
	ip4(a, "10.99.0.1");
	ck_assert_mem_eq(ike.remote_ip, a, 4);
	ck_assert_uint_eq(ike.remote_port, 500);
	config_free(&cfg);
}
END_TEST

START_TEST(refused)
{
	struct config cfg;
	struct ike_sa_cfg ike;

	ck_assert_int_eq(map_text(BASE "[tunnel]\nesp = aes256gcm16, aes256-sha256\n", &cfg, &ike), -1);
	ck_assert_str_eq(err, "[tunnel] esp proposal 'aes256-sha256': ikeagent's ESP does AEAD only "
			 "(aes*gcm16, chacha20poly1305)");
	config_free(&cfg);
	/* tcp and tls alone are fine now (agent/race.c) */
	ck_assert_int_eq(map_text(BASE "[transport]\norder = tcp tls\n", &cfg, &ike), 0);
	config_free(&cfg);
	ck_assert_int_eq(map_text(BASE "[tunnel]\nlocal_ts = 10.0.0.0/8\n", &cfg, &ike), -1);
	ck_assert_ptr_nonnull(strstr(err, "local_ts"));
	config_free(&cfg);
	/* nothing of the psk in any message */
	ck_assert_ptr_null(strstr(err, "S3cr3t"));
}
END_TEST

static void expect_cidrs(const char *start, const char *end, const char *want)
{
	struct ike_ts_sel ts = { .type = TS_IPV4_ADDR_RANGE, .end_port = 65535 };
	struct tun_cidr c[40];
	char got[512] = "", one[TUN_CIDR_STRLEN];
	size_t n;

	ip4(ts.start, start);
	ip4(ts.end, end);
	ck_assert_int_eq(cfgmap_ts_to_cidrs(&ts, c, 40, &n), 0);
	for (size_t i = 0; i < n; i++) {
		strcat(got, i ? " " : "");
		strcat(got, tun_cidr_fmt(&c[i], one, sizeof(one)));
	}
	ck_assert_str_eq(got, want);
}

START_TEST(ts_to_cidrs)
{
	struct ike_ts_sel ts = { .type = TS_IPV6_ADDR_RANGE, .end_port = 65535 };
	struct tun_cidr c[4];
	size_t n;

	expect_cidrs("10.99.1.0", "10.99.1.255", "10.99.1.0/24");
	expect_cidrs("0.0.0.0", "255.255.255.255", "0.0.0.0/0");
	expect_cidrs("10.99.100.7", "10.99.100.7", "10.99.100.7/32");
	expect_cidrs("10.0.0.1", "10.0.0.6", "10.0.0.1/32 10.0.0.2/31 10.0.0.4/31 10.0.0.6/32");
	expect_cidrs("255.255.255.254", "255.255.255.255", "255.255.255.254/31");
	/* IPv6: the whole space, and a /64 */
	memset(ts.end, 0xff, 16);
	ck_assert_int_eq(cfgmap_ts_to_cidrs(&ts, c, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(c[0].prefix, 0);
	ck_assert_int_eq(c[0].family, AF_INET6);
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99:1::", ts.start), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99:1::ffff:ffff:ffff:ffff", ts.end), 1);
	ck_assert_int_eq(cfgmap_ts_to_cidrs(&ts, c, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(c[0].prefix, 64);
	/* too many pieces for the room given */
	ts.type = TS_IPV4_ADDR_RANGE;
	ip4(ts.start, "10.0.0.1");
	ip4(ts.end, "10.0.0.6");
	errno = 0;
	ck_assert_int_eq(cfgmap_ts_to_cidrs(&ts, c, 2, &n), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	/* start above end */
	ip4(ts.start, "10.0.0.9");
	ck_assert_int_eq(cfgmap_ts_to_cidrs(&ts, c, 4, &n), -1);
}
END_TEST

START_TEST(child_net_plan)
{
	struct config cfg;
	struct ike_sa_cfg ike;
	struct ike_child_info ci;
	struct session_net a, b;
	char buf[TUN_CIDR_STRLEN];

	ck_assert_msg(map_text(BASE, &cfg, &ike) == 0, "%s", err);
	memset(&ci, 0, sizeof(ci));
	ci.has_vip4 = true;
	ip4(ci.vip4, "10.99.100.1");
	ci.n_dns4 = 1;
	ip4(ci.dns4[0], "10.99.1.53");
	ci.ts_remote.n = 2;
	ci.ts_remote.ts[0].type = TS_IPV4_ADDR_RANGE;
	ip4(ci.ts_remote.ts[0].start, "10.99.1.0");
	ip4(ci.ts_remote.ts[0].end, "10.99.1.255");
	ci.ts_remote.ts[1].type = TS_IPV4_ADDR_RANGE;
	ip4(ci.ts_remote.ts[1].start, "10.99.2.0");
	ip4(ci.ts_remote.ts[1].end, "10.99.3.255");
	cfgmap_net(&cfg, &ci, &a);
	ck_assert(a.has_vip && !a.full);
	ck_assert_str_eq(tun_cidr_fmt(&a.vip, buf, sizeof(buf)), "10.99.100.1/32");
	ck_assert_uint_eq(a.n_routes, 2);
	ck_assert_str_eq(tun_cidr_fmt(&a.routes[0], buf, sizeof(buf)), "10.99.1.0/24");
	ck_assert_str_eq(tun_cidr_fmt(&a.routes[1], buf, sizeof(buf)), "10.99.2.0/23");
	ck_assert_uint_eq(a.n_dns, 1);
	cfgmap_net(&cfg, &ci, &b);
	ck_assert(cfgmap_net_same(&a, &b));
	/* the whole space: the full-tunnel scheme */
	ci.ts_remote.n = 1;
	ip4(ci.ts_remote.ts[0].start, "0.0.0.0");
	ip4(ci.ts_remote.ts[0].end, "255.255.255.255");
	cfgmap_net(&cfg, &ci, &b);
	ck_assert(b.full);
	ck_assert(!cfgmap_net_same(&a, &b));
	/* dns = no: the gateway's servers are not taken */
	cfg.tunnel.dns = false;
	cfgmap_net(&cfg, &ci, &b);
	ck_assert_uint_eq(b.n_dns, 0);
	config_free(&cfg);
}
END_TEST

START_TEST(child_net_plan_ipv6)
{
	struct config cfg;
	struct ike_sa_cfg ike;
	struct ike_child_info ci;
	struct session_net a, b;
	char buf[TUN_CIDR_STRLEN];
	struct status_info si;
	char out[CTL_REPLY_MAX];

	ck_assert_msg(map_text(BASE "[tunnel]\nremote_ts = 10.99.1.0/24, fd99:1::/64\n", &cfg,
			       &ike) == 0, "%s", err);
	memset(&ci, 0, sizeof(ci));
	ci.has_vip4 = true;
	ip4(ci.vip4, "10.99.100.1");
	ci.has_vip6 = true;
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99:100::1", ci.vip6), 1);
	ci.vip6_prefix = 120;
	ci.n_dns4 = 1;
	ip4(ci.dns4[0], "10.99.1.53");
	ci.n_dns6 = 2;
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99:1::53", ci.dns6[0]), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99:1::54", ci.dns6[1]), 1);
	ci.ts_remote.n = 2;
	ci.ts_remote.ts[0].type = TS_IPV4_ADDR_RANGE;
	ip4(ci.ts_remote.ts[0].start, "10.99.1.0");
	ip4(ci.ts_remote.ts[0].end, "10.99.1.255");
	ci.ts_remote.ts[1].type = TS_IPV6_ADDR_RANGE;
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99:1::", ci.ts_remote.ts[1].start), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "fd99:1::ffff:ffff:ffff:ffff", ci.ts_remote.ts[1].end), 1);
	cfgmap_net(&cfg, &ci, &a);
	ck_assert(a.has_vip && a.has_vip6 && !a.full);
	ck_assert_str_eq(tun_cidr_fmt(&a.vip, buf, sizeof(buf)), "10.99.100.1/32");
	/* the host's own address, not the pool's prefix length */
	ck_assert_str_eq(tun_cidr_fmt(&a.vip6, buf, sizeof(buf)), "fd99:100::1/128");
	ck_assert_uint_eq(a.n_routes, 2);
	ck_assert_str_eq(tun_cidr_fmt(&a.routes[1], buf, sizeof(buf)), "fd99:1::/64");
	ck_assert_uint_eq(a.n_dns, 3);
	ck_assert_int_eq(a.dns[0].family, AF_INET);
	ck_assert_int_eq(a.dns[1].family, AF_INET6);
	ck_assert_str_eq(tun_ip_fmt(&a.dns[2], buf, sizeof(buf)), "fd99:1::54");
	cfgmap_net(&cfg, &ci, &b);
	ck_assert(cfgmap_net_same(&a, &b));
	/* another IPv6 address: a different network */
	ci.vip6[15] = 2;
	cfgmap_net(&cfg, &ci, &b);
	ck_assert(!cfgmap_net_same(&a, &b));
	/* status: both addresses */
	memset(&si, 0, sizeof(si));
	si.state = si.ike_state = si.transport = "x";
	si.last_error = "";
	snprintf(si.virtual_ip, sizeof(si.virtual_ip), "10.99.100.1");
	snprintf(si.virtual_ip6, sizeof(si.virtual_ip6), "fd99:100::1");
	ck_assert_int_eq(status_json(&si, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"virtual_ip\":\"10.99.100.1\",\"virtual_ip6\":\"fd99:100::1\","));
	ck_assert_int_eq(status_text(&si, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "virtual ip6: fd99:100::1\n"));
	config_free(&cfg);
}
END_TEST

START_TEST(aead_ids)
{
	enum aead_alg a;

	ck_assert_int_eq(cfgmap_aead(ENCR_AES_GCM_16, &a), 0);
	ck_assert_int_eq(a, AEAD_AES_GCM_16);
	ck_assert_int_eq(cfgmap_aead(ENCR_CHACHA20_POLY1305, &a), 0);
	ck_assert_int_eq(a, AEAD_CHACHA20_POLY1305);
	ck_assert_int_eq(cfgmap_aead(12 /* ENCR_AES_CBC */, &a), -1);
}
END_TEST

START_TEST(status_json_escapes)
{
	struct status_info si;
	char out[CTL_REPLY_MAX];

	memset(&si, 0, sizeof(si));
	si.state = "established";
	si.ike_state = "established";
	si.transport = "udp";
	snprintf(si.remote, sizeof(si.remote), "10.99.0.1:4500");
	snprintf(si.virtual_ip, sizeof(si.virtual_ip), "10.99.100.1");
	si.n_routes = 1;
	snprintf(si.routes[0], sizeof(si.routes[0]), "10.99.1.0/24");
	si.spi_i = 0x0102030405060708ULL;
	si.spi_r = 0xa0b0c0d0e0f00010ULL;
	si.child_spi_in = 0xc0ffee01;
	si.last_error = "gateway said \"no\"\\\n";
	ck_assert_int_eq(status_json(&si, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "{\"state\":\"established\","));
	ck_assert_ptr_nonnull(strstr(out, "\"local\":null,"));
	ck_assert_ptr_nonnull(strstr(out, "\"routes\":[\"10.99.1.0/24\"],\"dns\":[],"));
	ck_assert_ptr_nonnull(strstr(out, "\"ike_spi\":\"0102030405060708:a0b0c0d0e0f00010\""));
	ck_assert_ptr_nonnull(strstr(out, "\"child_spi_in\":\"c0ffee01\",\"child_spi_out\":null"));
	ck_assert_ptr_nonnull(strstr(out, "\"last_error\":\"gateway said \\\"no\\\"\\\\\\u000a\","));
	ck_assert_ptr_nonnull(strstr(out, "\"path_changes\":0,\"last_move\":null}"));
	/* too small: an error, never an overrun */
	ck_assert_int_eq(status_json(&si, out, 40), -1);
	ck_assert_uint_lt(strlen(out), 40);
}
END_TEST

static Suite *cfgmap_suite(void)
{
	Suite *s = suite_create("cfgmap");
	TCase *tc = tcase_create("map");

	tcase_add_test(tc, defaults_full_tunnel);
	tcase_add_test(tc, split_ts_and_ids);
	tcase_add_test(tc, ipv6_ts);
	tcase_add_test(tc, want_ip6_mixed);
	tcase_add_test(tc, proposals_copied);
	tcase_add_test(tc, nat_detection_addresses);
	tcase_add_test(tc, refused);
	tcase_add_test(tc, ts_to_cidrs);
	tcase_add_test(tc, child_net_plan);
	tcase_add_test(tc, child_net_plan_ipv6);
	tcase_add_test(tc, aead_ids);
	tcase_add_test(tc, status_json_escapes);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cfgmap_suite)
