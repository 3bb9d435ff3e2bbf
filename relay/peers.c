/*
 * Per-address state: how many streams and sessions a client address holds,
 * and its token bucket for new IKE SAs. The gateway sees every client at
 * the relay's address, so what strongSwan would count per address
 * (half-open SAs, cookie and block thresholds) the relay counts here.
 *
 * Pure logic over memory, like map.c: a fixed table allocated once, an
 * entry kept while anything refers to it and reused for another address
 * after that (losing its bucket, which then starts full again: the global
 * bucket still bounds what all addresses together may start).
 */
#include "relay/relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool relay_bucket_take(struct relay_bucket *b, uint64_t now_ms, unsigned per_min,
		       unsigned burst)
{
	uint64_t cap = (uint64_t)burst * 1000, add;

	if (!b->primed) {
		b->primed = true;
		b->milli = cap;
		b->last_ms = now_ms;
	}
	if (now_ms > b->last_ms) {
		/* per_min tokens a minute: per_min / 60 thousandths a ms. The
		 * clock moves on by the time what was added stands for, so
		 * slow rates are not rounded away by frequent calls. */
		add = (now_ms - b->last_ms) * per_min / 60;
		if (b->milli + add >= cap) {
			b->milli = cap;
			b->last_ms = now_ms;
		} else if (add) {
			b->milli += add;
			b->last_ms += per_min ? add * 60 / per_min : 0;
		}
	}
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}

int relay_peer_key(const struct sockaddr *sa, struct relay_peer_key *k)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		k->fam = 4;
		memcpy(k->b, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (!memcmp(in6->sin6_addr.s6_addr, v4mapped, sizeof(v4mapped))) {
			k->fam = 4;
			memcpy(k->b, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			k->fam = 6;
			memcpy(k->b, in6->sin6_addr.s6_addr, 8);	/* the /64 */
		}
		return 0;
	}
	return -1;
}

const char *relay_peer_str(const struct relay_peer_key *k, char *buf, size_t len)
{
	uint8_t a6[16] = { 0 };
	char tmp[INET6_ADDRSTRLEN];

	if (k->fam == 4 && inet_ntop(AF_INET, k->b, tmp, sizeof(tmp))) {
		snprintf(buf, len, "%s", tmp);
		return buf;
	}
	memcpy(a6, k->b, 8);
	if (k->fam == 6 && inet_ntop(AF_INET6, a6, tmp, sizeof(tmp))) {
		snprintf(buf, len, "%s/64", tmp);
		return buf;
	}
	snprintf(buf, len, "?");
	return buf;
}

int relay_peers_init(struct relay_peers *p, size_t max, uint64_t seed)
{
	memset(p, 0, sizeof(*p));
	if (max == 0 || max > 1u << 22)
		return -1;
	p->nbuckets = 16;
	while (p->nbuckets < max)
		p->nbuckets <<= 1;
	p->tab = calloc(max, sizeof(*p->tab));
	p->buckets = calloc(p->nbuckets, sizeof(*p->buckets));
	if (!p->tab || !p->buckets) {
		relay_peers_fini(p);
		return -1;
	}
	p->max = max;
	p->seed = seed;
	return 0;
}

void relay_peers_fini(struct relay_peers *p)
{
	free(p->tab);
	free(p->buckets);
	memset(p, 0, sizeof(*p));
}

/* Addresses are the clients' choice: a keyed hash keeps chains short. */
static size_t peer_bucket(const struct relay_peers *p, const struct relay_peer_key *k)
{
	uint64_t h = p->seed ^ k->fam;

	for (size_t i = 0; i < sizeof(k->b); i++) {
		h ^= k->b[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (p->nbuckets - 1);
}

static bool peer_key_eq(const struct relay_peer_key *a, const struct relay_peer_key *b)
{
	return a->fam == b->fam && !memcmp(a->b, b->b, sizeof(a->b));
}

static void peer_unlink(struct relay_peers *p, struct relay_peer *e)
{
	struct relay_peer **pp;

	for (pp = &p->buckets[peer_bucket(p, &e->key)]; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	memset(e, 0, sizeof(*e));
	p->count--;
}

/* A free entry, else one nothing refers to; NULL if there is none. */
static struct relay_peer *peer_spare(struct relay_peers *p)
{
	struct relay_peer *spare = NULL;

	for (size_t i = 0; i < p->max; i++) {
		struct relay_peer *e = &p->tab[i];

		if (!e->used)
			return e;
		if (!spare && !e->conns && !e->sessions)
			spare = e;
	}
	if (spare) {
		peer_unlink(p, spare);
		p->reclaimed++;
	}
	return spare;
}

struct relay_peer *relay_peers_get(struct relay_peers *p, const struct relay_peer_key *k)
{
	size_t b = peer_bucket(p, k);
	struct relay_peer *e;

	for (e = p->buckets[b]; e; e = e->next)
		if (peer_key_eq(&e->key, k))
			return e;
	e = peer_spare(p);
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->used = true;
	e->next = p->buckets[b];
	p->buckets[b] = e;
	p->count++;
	return e;
}
