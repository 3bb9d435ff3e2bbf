/*
 * Fuzz the network watcher's rtnetlink parser: whatever a recv() returns
 * must be walked without reading outside it (the input is copied into an
 * aligned buffer of exactly its size, so ASan sees any overread), every
 * event must hold together, and the summary and network id built from the
 * events must stay within their limits.
 */
#include <linux/if_addr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/netwatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                \
	do {                                                                    \
		if (!(c)) {                                                     \
			fprintf(stderr, "fuzz_netwatch: %s:%d: %s\n", __FILE__, \
				__LINE__, #c);                                  \
			abort();                                                \
		}                                                               \
	} while (0)

struct run {
	int n;
	struct netwatch_why why;
	const uint8_t *lladdr;	/* the input's first bytes stand in for a router's MAC */
	size_t lladdr_len;
};

static void on_event(void *ctx, const struct netwatch_event *ev)
{
	struct run *r = ctx;
	struct net_route nr = { .family = ev->family, .ifindex = ev->ifindex };
	char id[NETWATCH_ID_MAX + 1], phrase[64];

	r->n++;
	CHECK(ev->kind >= NETWATCH_EV_LINK && ev->kind <= NETWATCH_EV_ERROR);
	CHECK(memchr(ev->ifname, '\0', sizeof(ev->ifname)) != NULL);
	CHECK(!ev->has_addr || ev->family == AF_INET || ev->family == AF_INET6);
	CHECK(ev->kind != NETWATCH_EV_ERROR || (ev->error >= 0 && ev->error < 4096));
	if (ev->family == AF_INET && ev->has_addr)
		for (int i = 4; i < 16; i++)
			CHECK(ev->addr[i] == 0);

	snprintf(phrase, sizeof(phrase), "%d %s %u", ev->kind, ev->ifname, ev->prefix_len);
	netwatch_why_add(&r->why, phrase);

	memcpy(nr.src, ev->addr, 16);
	memcpy(nr.gw, ev->addr, 16);
	nr.has_gw = ev->kind == NETWATCH_EV_ROUTE;
	nr.prefix_len = ev->prefix_len;
	memcpy(nr.ifname, ev->ifname, sizeof(nr.ifname));
	if (netwatch_network_id_fmt(&nr, r->lladdr, r->lladdr_len, id, sizeof(id)) == 0)
		CHECK(strlen(id) <= NETWATCH_ID_MAX && strlen(id) > 0);
	else
		CHECK(id[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* malloc'd: aligned as the kernel's buffers are, and exactly `size` long */
	uint8_t *buf = malloc(size ? size : 1);
	struct run r1 = { 0 }, r2 = { 0 };
	int n1, n2;

	CHECK(buf);
	if (size)
		memcpy(buf, data, size);
	r1.lladdr = r2.lladdr = data;
	r1.lladdr_len = r2.lladdr_len = size < 24 ? size : 24;
	n1 = netwatch_parse(buf, size, on_event, &r1);
	CHECK(n1 == -1 || n1 == r1.n);
	/* the same bytes, the same events */
	n2 = netwatch_parse(buf, size, on_event, &r2);
	CHECK(n1 == n2 && r1.n == r2.n);
	CHECK(strlen(netwatch_why_str(&r1.why)) <= NETWATCH_WHY_MAX);
	CHECK(strcmp(r1.why.s, netwatch_why_str(&r2.why)) == 0);
	CHECK(memcmp(buf, data, size) == 0);	/* the parser never writes */
	free(buf);
	return 0;
}
