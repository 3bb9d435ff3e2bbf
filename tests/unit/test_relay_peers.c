/*
 * ikerelay's per-address table (relay/peers.c, included directly like
 * map.c): the key of an address (IPv4, v4-mapped, IPv6 by /64), entries
 * kept while referred to and reused after, and the token bucket that
 * limits new IKE SAs per address and in all.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/peers.c"
#include "tests/unit/check_main.h"

static struct relay_peer_key v4(const char *a)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(1234) };
	struct relay_peer_key k;

	ck_assert_int_eq(inet_pton(AF_INET, a, &in.sin_addr), 1);
	ck_assert_int_eq(relay_peer_key((struct sockaddr *)&in, &k), 0);
	return k;
}

static struct relay_peer_key v6(const char *a)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(1234) };
	struct relay_peer_key k;

	ck_assert_int_eq(inet_pton(AF_INET6, a, &in6.sin6_addr), 1);
	ck_assert_int_eq(relay_peer_key((struct sockaddr *)&in6, &k), 0);
	return k;
}

START_TEST(keys_by_address)
{
	struct relay_peer_key a = v4("192.0.2.1"), b = v4("192.0.2.2");
	struct relay_peer_key m = v6("::ffff:192.0.2.1");
	struct relay_peer_key x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff::9");
	struct relay_peer_key z = v6("2001:db8:1:3::1");
	struct sockaddr_un_like { sa_family_t f; char p[20]; } un = { .f = AF_UNIX };
	struct relay_peer_key k;
	char buf[64];

	ck_assert(!peer_key_eq(&a, &b));
	ck_assert(peer_key_eq(&a, &m));		/* v4-mapped is the v4 address */
	ck_assert(peer_key_eq(&x, &y));		/* one /64, one client */
	ck_assert(!peer_key_eq(&x, &z));
	ck_assert_str_eq(relay_peer_str(&a, buf, sizeof(buf)), "192.0.2.1");
	ck_assert_str_eq(relay_peer_str(&x, buf, sizeof(buf)), "2001:db8:1:2::/64");
	ck_assert_int_eq(relay_peer_key((struct sockaddr *)&un, &k), -1);
}
END_TEST

START_TEST(entries_kept_while_referred_to)
{
	struct relay_peers p;
	struct relay_peer *e[4], *again;
	char name[32];

	ck_assert_int_eq(relay_peers_init(&p, 0, 1), -1);
	ck_assert_int_eq(relay_peers_init(&p, 3, 1), 0);
	for (int i = 0; i < 3; i++) {
		struct relay_peer_key k;

		snprintf(name, sizeof(name), "198.51.100.%d", i + 1);
		k = v4(name);
		e[i] = relay_peers_get(&p, &k);
		ck_assert_ptr_nonnull(e[i]);
		ck_assert_ptr_eq(relay_peers_get(&p, &k), e[i]);	/* found again */
		e[i]->conns = 1;
	}
	ck_assert_uint_eq(p.count, 3);
	/* Every entry referred to: a fourth address gets none. */
	struct relay_peer_key k4 = v4("203.0.113.9");
	ck_assert_ptr_null(relay_peers_get(&p, &k4));
	/* One let go: it is reused, its address forgotten. */
	e[1]->conns = 0;
	e[3] = relay_peers_get(&p, &k4);
	ck_assert_ptr_eq(e[3], e[1]);
	ck_assert(e[3]->conns == 0 && e[3]->sessions == 0 && !e[3]->inits.primed);
	ck_assert_uint_eq(p.reclaimed, 1);
	struct relay_peer_key k2 = v4("198.51.100.2");
	e[3]->sessions = 1;
	ck_assert_ptr_null(relay_peers_get(&p, &k2));
	/* The others are still found. */
	struct relay_peer_key k1 = v4("198.51.100.1");
	again = relay_peers_get(&p, &k1);
	ck_assert_ptr_eq(again, e[0]);
	relay_peers_fini(&p);
}
END_TEST

START_TEST(bucket_burst_then_rate)
{
	struct relay_bucket b = { 0 };
	int n = 0;

	/* Full at first: burst tokens at once. */
	while (relay_bucket_take(&b, 1000, 60, 5))
		n++;
	ck_assert_int_eq(n, 5);
	/* 60 a minute: one a second, not before. */
	ck_assert(!relay_bucket_take(&b, 1999, 60, 5));
	ck_assert(relay_bucket_take(&b, 2000, 60, 5));
	ck_assert(!relay_bucket_take(&b, 2000, 60, 5));
	/* Frequent calls do not round a slow rate away: 1 a minute, asked
	 * every 100 ms. */
	struct relay_bucket slow = { 0 };
	ck_assert(relay_bucket_take(&slow, 0, 1, 1));
	n = 0;
	for (uint64_t t = 100; t <= 60000; t += 100)
		n += relay_bucket_take(&slow, t, 1, 1);
	ck_assert_int_eq(n, 1);
	/* Never more than the burst, however long it rested. */
	n = 0;
	while (relay_bucket_take(&b, 10ULL * 3600 * 1000, 60, 5))
		n++;
	ck_assert_int_eq(n, 5);
}
END_TEST

static Suite *relay_peers_suite(void)
{
	Suite *s = suite_create("relay_peers");
	TCase *tc = tcase_create("peers");

	tcase_add_test(tc, keys_by_address);
	tcase_add_test(tc, entries_kept_while_referred_to);
	tcase_add_test(tc, bucket_burst_then_rate);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(relay_peers_suite)
