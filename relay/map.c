/*
 * SPI -> session table: which per-client UDP socket a stream belongs to.
 *
 * Pure logic over memory (no sockets, no clock of its own), so the unit
 * test includes this file directly. Every session holds at most
 * RELAY_SESS_KEYS keys; each key entry is also a node of one hash chain,
 * so the table needs no allocation after init and a session is forgotten
 * by unlinking its own entries.
 */
#include "relay/relay.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- keys in a body ------------------------------------------------------ */

static size_t ike_keys(struct rd *r, struct relay_key *out)
{
	uint64_t spi_i, spi_r;
	size_t n = 0;

	/* RFC 7296 §3.1: IKE SA Initiator's SPI, then Responder's SPI (zero
	 * in the first message), then the rest of the 28-byte header. */
	if (rd_left(r) < RELAY_IKE_HDR_LEN || rd_u64(r, &spi_i) < 0 || rd_u64(r, &spi_r) < 0)
		return 0;
	if (spi_i)
		out[n++] = (struct relay_key){ .spi = spi_i, .kind = RELAY_KEY_IKE };
	if (spi_r)
		out[n++] = (struct relay_key){ .spi = spi_r, .kind = RELAY_KEY_IKE };
	return n;
}

size_t relay_body_keys(const uint8_t *body, size_t len, enum relay_dir dir,
		       struct relay_key out[RELAY_BODY_KEYS])
{
	struct rd r;
	uint32_t first;

	rd_init(&r, body, len);
	if (rd_peek_u32(&r, 0, &first) < 0)
		return 0;
	if (first == 0) {
		/* RFC 3948 §2.2 / RFC 9329 §3: a zero non-ESP marker, then IKE. */
		if (rd_skip(&r, RELAY_NON_ESP_MARKER) < 0)
			return 0;
		return ike_keys(&r, out);
	}
	/* ESP: a non-zero SPI and a sequence number at least. */
	if (rd_left(&r) < RELAY_ESP_MIN)
		return 0;
	out[0] = (struct relay_key){
		.spi = first,
		.kind = dir == RELAY_TO_GW ? RELAY_KEY_ESP_TO_GW : RELAY_KEY_ESP_FROM_GW,
	};
	return 1;
}

int relay_body_ike(const uint8_t *body, size_t len, struct relay_ike *h)
{
	struct rd r;
	uint32_t marker, len32;
	uint8_t next, ver;

	/* RFC 7296 §3.1: SPIi, SPIr, Next Payload, Version, Exchange Type,
	 * Flags, Message ID, Length: 28 bytes, behind the zero marker. */
	rd_init(&r, body, len);
	if (rd_u32(&r, &marker) < 0 || marker != 0 || rd_left(&r) < RELAY_IKE_HDR_LEN)
		return -1;
	if (rd_u64(&r, &h->spi_i) < 0 || rd_u64(&r, &h->spi_r) < 0 || rd_u8(&r, &next) < 0 ||
	    rd_u8(&r, &ver) < 0 || rd_u8(&r, &h->exch) < 0 || rd_u8(&r, &h->flags) < 0 ||
	    rd_u32(&r, &h->mid) < 0 || rd_u32(&r, &len32) < 0)
		return -1;
	return 0;
}

const char *relay_key_str(const struct relay_key *k, char *buf, size_t len)
{
	switch (k->kind) {
	case RELAY_KEY_IKE:
		snprintf(buf, len, "ike spi %016" PRIx64, k->spi);
		break;
	case RELAY_KEY_ESP_TO_GW:
	case RELAY_KEY_ESP_FROM_GW:
		snprintf(buf, len, "esp spi %08" PRIx64, k->spi);
		break;
	default:
		snprintf(buf, len, "no spi");
		break;
	}
	return buf;
}

/* ---- the table ----------------------------------------------------------- */

static bool key_eq(const struct relay_key *a, const struct relay_key *b)
{
	return a->kind == b->kind && a->spi == b->spi;
}

/* SPIs are chosen by the peers; a per-process seed keeps anyone from
 * steering many keys into one chain. */
static size_t key_bucket(const struct relay_map *m, const struct relay_key *k)
{
	uint64_t h = (k->spi ^ m->seed) + (uint64_t)k->kind * 0x9e3779b97f4a7c15ULL;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (size_t)h & (m->nbuckets - 1);
}

int relay_map_init(struct relay_map *m, size_t max, uint64_t seed)
{
	size_t want;

	memset(m, 0, sizeof(*m));
	if (max == 0 || max > 1u << 20)
		return -1;
	want = max * RELAY_SESS_KEYS;
	m->nbuckets = 16;
	while (m->nbuckets < want)
		m->nbuckets <<= 1;
	m->sess = calloc(max, sizeof(*m->sess));
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (!m->sess || !m->buckets) {
		relay_map_fini(m);
		return -1;
	}
	m->max = max;
	m->seed = seed;
	m->next_id = 1;
	return 0;
}

void relay_map_fini(struct relay_map *m)
{
	free(m->sess);
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}

struct relay_sess *relay_map_lookup(const struct relay_map *m, const struct relay_key *k)
{
	struct relay_keyent *e;

	if (k->kind == RELAY_KEY_NONE)
		return NULL;
	for (e = m->buckets[key_bucket(m, k)]; e; e = e->next)
		if (key_eq(&e->key, k))
			return e->owner;
	return NULL;
}

static void key_unlink(struct relay_map *m, struct relay_keyent *e)
{
	struct relay_keyent **pp;

	if (!e->owner)
		return;
	for (pp = &m->buckets[key_bucket(m, &e->key)]; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	e->owner = NULL;
	e->next = NULL;
}

/* s's entry for k, marked seen now; NULL if s does not have k. */
static struct relay_keyent *sess_seen_key(struct relay_sess *s, const struct relay_key *k)
{
	for (size_t i = 0; i < RELAY_SESS_KEYS; i++) {
		struct relay_keyent *e = &s->keys[i];

		if (e->owner && key_eq(&e->key, k)) {
			e->seen = s->tick;
			return e;
		}
	}
	return NULL;
}

/* A free entry, else the one seen longest ago. */
static struct relay_keyent *sess_spare_key(struct relay_sess *s)
{
	struct relay_keyent *best = &s->keys[0];

	for (size_t i = 0; i < RELAY_SESS_KEYS; i++) {
		struct relay_keyent *e = &s->keys[i];

		if (!e->owner)
			return e;
		if (e->seen < best->seen)
			best = e;
	}
	return best;
}

static void sess_add_key(struct relay_map *m, struct relay_sess *s, const struct relay_key *k)
{
	struct relay_keyent *e = sess_spare_key(s);
	size_t b;

	key_unlink(m, e);
	e->key = *k;
	e->owner = s;
	e->seen = s->tick;
	b = key_bucket(m, k);
	e->next = m->buckets[b];
	m->buckets[b] = e;
}

void relay_map_learn(struct relay_map *m, struct relay_sess *s,
		     const struct relay_key *keys, size_t n)
{
	s->tick++;
	for (size_t i = 0; i < n; i++) {
		struct relay_sess *owner;

		if (keys[i].kind == RELAY_KEY_NONE)
			continue;
		/* The session's own keys first: the common case, no hashing. */
		if (sess_seen_key(s, &keys[i]))
			continue;
		owner = relay_map_lookup(m, &keys[i]);
		if (owner) {
			m->conflicts++;
			continue;
		}
		sess_add_key(m, s, &keys[i]);
	}
}

struct relay_sess *relay_map_new_sess(struct relay_map *m, uint64_t now_ms)
{
	for (size_t i = 0; i < m->max; i++) {
		struct relay_sess *s = &m->sess[i];

		if (s->id)
			continue;
		memset(s, 0, sizeof(*s));
		s->id = m->next_id++;
		if (m->next_id == 0)
			m->next_id = 1;
		s->last_ms = now_ms;
		m->count++;
		return s;
	}
	return NULL;
}

void relay_map_free_sess(struct relay_map *m, struct relay_sess *s)
{
	if (!s->id)
		return;
	for (size_t i = 0; i < RELAY_SESS_KEYS; i++)
		key_unlink(m, &s->keys[i]);
	memset(s, 0, sizeof(*s));
	m->count--;
}

/* The detached session idle longest the gateway never spoke encrypted
 * IKE or ESP to: the one a table-full may evict. Not one of a client that
 * may be reconnecting: unknown SPIs cost anyone nothing to send. */
static struct relay_sess *oldest_evictable(const struct relay_map *m)
{
	struct relay_sess *best = NULL;

	for (size_t i = 0; i < m->max; i++) {
		struct relay_sess *s = &m->sess[i];

		if (s->id && !s->attached && !s->established &&
		    (!best || s->last_ms < best->last_ms))
			best = s;
	}
	return best;
}

void relay_map_place(const struct relay_map *m, const struct relay_key *keys, size_t n,
		     struct relay_place *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		struct relay_sess *s;

		/* What a client receives names nothing it sends. */
		if (keys[i].kind == RELAY_KEY_ESP_FROM_GW)
			continue;
		s = relay_map_lookup(m, &keys[i]);
		if (s) {
			out->kind = s->attached ? RELAY_PLACE_LIVE : RELAY_PLACE_PROBE;
			out->sess = s;
			out->key = keys[i];
			return;
		}
	}
	if (m->count < m->max) {
		out->kind = RELAY_PLACE_NEW;
		return;
	}
	out->victim = oldest_evictable(m);
	out->kind = out->victim ? RELAY_PLACE_EVICT : RELAY_PLACE_FULL;
}

struct relay_sess *relay_map_foreign(const struct relay_map *m, const struct relay_sess *s,
				     const struct relay_key *keys, size_t n, size_t *which)
{
	for (size_t i = 0; i < n; i++) {
		struct relay_sess *o;

		if (keys[i].kind == RELAY_KEY_ESP_FROM_GW)
			continue;
		o = relay_map_lookup(m, &keys[i]);
		if (o && o != s) {
			*which = i;
			return o;
		}
	}
	return NULL;
}

/* Whether e is an IKE entry for one of h's SPIs. */
static bool ike_ent_match(const struct relay_keyent *e, const struct relay_ike *h)
{
	return e->owner && e->key.kind == RELAY_KEY_IKE &&
	       (e->key.spi == h->spi_i || (h->spi_r && e->key.spi == h->spi_r));
}

void relay_map_note_request(struct relay_sess *s, const struct relay_ike *h)
{
	if (!relay_ike_is_request(h))
		return;
	for (size_t i = 0; i < RELAY_SESS_KEYS; i++) {
		struct relay_keyent *e = &s->keys[i];

		if (!ike_ent_match(e, h))
			continue;
		if (!e->has_req || h->mid > e->req_mid)
			e->req_mid = h->mid;
		e->has_req = true;
	}
}

bool relay_map_is_proof(const struct relay_sess *s, const struct relay_ike *h)
{
	bool seen = false;
	uint32_t hi = 0;

	if (!relay_ike_is_request(h))
		return false;
	for (size_t i = 0; i < RELAY_SESS_KEYS; i++) {
		const struct relay_keyent *e = &s->keys[i];

		if (!ike_ent_match(e, h) || !e->has_req)
			continue;
		seen = true;
		if (e->req_mid > hi)
			hi = e->req_mid;
	}
	/* The gateway answers an old request again from its cache (RFC 7296
	 * §2.1), to anyone who replays it; a new one only if it decrypts. */
	if (!seen || h->mid > hi)
		return true;
	/* IKE_SA_INIT is in the clear: until the SA got further, there is
	 * nothing a stranger could take over but the half-open exchange. */
	return h->exch == RELAY_IKE_SA_INIT && h->mid == 0 && hi == 0 && !s->established;
}

void relay_map_gw_spoke(struct relay_sess *s, const struct relay_ike *h)
{
	if (!h || h->mid > 0 || h->exch != RELAY_IKE_SA_INIT)
		s->established = true;
}

void relay_map_attach(struct relay_sess *s, uint64_t now_ms)
{
	s->attached = true;
	s->last_ms = now_ms;
}

/* A session without a stream is kept for the idle time from now. */
void relay_map_detach(struct relay_sess *s, uint64_t now_ms)
{
	s->attached = false;
	s->last_ms = now_ms;
}

struct relay_sess *relay_map_next_expired(struct relay_map *m, uint64_t now_ms,
					  uint64_t idle_ms, size_t *iter)
{
	while (*iter < m->max) {
		struct relay_sess *s = &m->sess[(*iter)++];

		if (s->id && now_ms >= s->last_ms + idle_ms)
			return s;
	}
	return NULL;
}

uint64_t relay_map_next_due(const struct relay_map *m, uint64_t idle_ms)
{
	uint64_t due = UINT64_MAX;

	for (size_t i = 0; i < m->max; i++) {
		const struct relay_sess *s = &m->sess[i];

		if (s->id && s->last_ms + idle_ms < due)
			due = s->last_ms + idle_ms;
	}
	return due;
}
