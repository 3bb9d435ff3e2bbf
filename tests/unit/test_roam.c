/*
 * agent/roam.c's choice of transports for a network: [transport] order,
 * with what the network memory says worked there first when UDP got no
 * answer there; what a network change counts as a move is covered by
 * tests/net/test_roam.sh against strongSwan.
 */
#include <string.h>

#include "agent/session.h"
#include "tests/unit/check_main.h"

#define BASE "[gateway]\naddress = vpn.example.com\n[auth]\nid = alice@example.com\n" \
	     "psk = S3cr3t-Value\n"

static void load(struct config *cfg, const char *extra)
{
	char text[512], err[256] = "";

	snprintf(text, sizeof(text), "%s%s", BASE, extra);
	ck_assert_msg(config_parse_buf("agent.conf", text, strlen(text), cfg, err, sizeof(err)) == 0 &&
		      config_validate(cfg, err, sizeof(err)) == 0, "%s", err);
}

static struct netmem_entry entry(enum config_transport t, bool udp_blocked)
{
	struct netmem_entry e;

	memset(&e, 0, sizeof(e));
	snprintf(e.key, sizeof(e.key), "gw 10.1.0.1 02:00:00:00:00:01");
	e.transport = t;
	e.udp_blocked = udp_blocked;
	e.seen_s = 1000;
	return e;
}

static void expect(const enum config_transport *got, unsigned n, const char *want)
{
	char s[64] = "";

	for (unsigned i = 0; i < n; i++)
		snprintf(s + strlen(s), sizeof(s) - strlen(s), "%s%s", i ? " " : "",
			 path_kind_name(got[i]));
	ck_assert_str_eq(s, want);
}

START_TEST(unknown_network_takes_config_order)
{
	enum config_transport o[CONFIG_MAX_TRANSPORTS];
	struct config cfg;
	bool hostile = true;

	load(&cfg, "");
	expect(o, roam_pick_order(&cfg, NULL, o, &hostile), "udp tcp tls");
	ck_assert(!hostile);
	config_free(&cfg);
}
END_TEST

START_TEST(udp_hostile_network_starts_with_what_worked)
{
	enum config_transport o[CONFIG_MAX_TRANSPORTS];
	struct netmem_entry e = entry(CONFIG_TRANSPORT_TLS, true);
	struct config cfg;
	bool hostile = false;

	load(&cfg, "");
	expect(o, roam_pick_order(&cfg, &e, o, &hostile), "tls udp tcp");
	ck_assert(hostile);
	config_free(&cfg);
}
END_TEST

START_TEST(udp_that_worked_changes_nothing)
{
	enum config_transport o[CONFIG_MAX_TRANSPORTS];
	struct netmem_entry e = entry(CONFIG_TRANSPORT_UDP, false);
	struct netmem_entry t = entry(CONFIG_TRANSPORT_TCP, false);	/* tcp, udp not tried */
	struct config cfg;
	bool hostile = true;

	load(&cfg, "");
	expect(o, roam_pick_order(&cfg, &e, o, &hostile), "udp tcp tls");
	ck_assert(!hostile);
	expect(o, roam_pick_order(&cfg, &t, o, &hostile), "udp tcp tls");
	ck_assert(!hostile);
	config_free(&cfg);
}
END_TEST

START_TEST(remembered_transport_no_longer_configured_is_ignored)
{
	enum config_transport o[CONFIG_MAX_TRANSPORTS];
	struct netmem_entry e = entry(CONFIG_TRANSPORT_TLS, true);
	struct config cfg;
	bool hostile = true;

	load(&cfg, "[transport]\norder = udp tcp\n");
	expect(o, roam_pick_order(&cfg, &e, o, &hostile), "udp tcp");
	ck_assert(!hostile);
	config_free(&cfg);
}
END_TEST

static void put(struct netmem *m, const char *key, enum config_transport t)
{
	struct netmem_entry *e = &m->e[m->n++];

	memset(e, 0, sizeof(*e));
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->transport = t;
	e->udp_blocked = t != CONFIG_TRANSPORT_UDP;
	e->seen_s = 1000 + m->n;
}

/* The router's MAC not learnt yet: the one router of that address stands in for it. */
START_TEST(router_mac_not_known_yet)
{
	static struct netmem m;

	memset(&m, 0, sizeof(m));
	m.dirfd = -1;
	put(&m, "gw 10.98.0.1 02:00:00:00:00:01", CONFIG_TRANSPORT_TCP);
	put(&m, "net 10.5.0.0/24 dev wlan0", CONFIG_TRANSPORT_TLS);
	ck_assert_str_eq(roam_lookup(&m, "gw 10.98.0.1 02:00:00:00:00:01")->key,
			 "gw 10.98.0.1 02:00:00:00:00:01");
	ck_assert_str_eq(roam_lookup(&m, "gw 10.98.0.1 dev wlan0")->key,
			 "gw 10.98.0.1 02:00:00:00:00:01");
	ck_assert_ptr_null(roam_lookup(&m, "gw 10.98.0.10 dev wlan0"));	/* not a prefix match */
	ck_assert_ptr_null(roam_lookup(&m, "gw 10.98.0.1 02:00:00:00:00:02"));	/* another router */
	ck_assert_str_eq(roam_lookup(&m, "net 10.5.0.0/24 dev wlan0")->key, "net 10.5.0.0/24 dev wlan0");
	/* two networks behind 10.98.0.1: which one is unknown */
	put(&m, "gw 10.98.0.1 02:00:00:00:00:02", CONFIG_TRANSPORT_UDP);
	ck_assert_ptr_null(roam_lookup(&m, "gw 10.98.0.1 dev wlan0"));
}
END_TEST

static Suite *roam_suite(void)
{
	Suite *s = suite_create("roam");
	TCase *tc = tcase_create("order");

	tcase_add_test(tc, unknown_network_takes_config_order);
	tcase_add_test(tc, udp_hostile_network_starts_with_what_worked);
	tcase_add_test(tc, udp_that_worked_changes_nothing);
	tcase_add_test(tc, remembered_transport_no_longer_configured_is_ignored);
	tcase_add_test(tc, router_mac_not_known_yet);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(roam_suite)
