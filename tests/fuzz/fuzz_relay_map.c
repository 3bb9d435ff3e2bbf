/*
 * ikerelay's SPI extraction and session table driven by arbitrary input:
 * a sequence of records (op:1, len:2, body:len) where op picks a client
 * slot, a direction and an action (new stream / learn / detach / time
 * passes). Bodies come from the network in the real relay, so every
 * length must hold; the table must stay consistent: the session a learned
 * client-side key maps to is always a live one, a session with a stream is
 * never handed to another (LIVE), and a detached one only on proof.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/map.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS 4

static void forget(struct relay_sess **cur, const struct relay_sess *s)
{
	for (int i = 0; i < SLOTS; i++)
		if (cur[i] == s)
			cur[i] = NULL;
}

static void new_stream(struct relay_map *m, struct relay_sess **cur, int slot,
		       const struct relay_key *keys, size_t n, const struct relay_ike *h,
		       uint64_t now)
{
	struct relay_place p;
	struct relay_sess *s = NULL;

	relay_map_place(m, keys, n, &p);
	switch (p.kind) {
	case RELAY_PLACE_LIVE:
		if (!p.sess->attached)
			abort();
		return;
	case RELAY_PLACE_PROBE:
		if (p.sess->attached)
			abort();
		/* as if the gateway answered at once */
		if (!h || !relay_map_is_proof(p.sess, h))
			return;
		s = p.sess;
		break;
	case RELAY_PLACE_EVICT:
		if (p.victim->attached || p.victim->established)
			abort();
		forget(cur, p.victim);
		relay_map_free_sess(m, p.victim);
		/* fall through */
	case RELAY_PLACE_NEW:
		s = relay_map_new_sess(m, now);
		break;
	case RELAY_PLACE_FULL:
		return;
	}
	if (!s)
		return;
	relay_map_attach(s, now);
	relay_map_learn(m, s, keys, n);
	cur[slot] = s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_sess *cur[SLOTS] = { 0 };
	struct relay_map m;
	struct rd r;
	uint64_t now = 1;
	uint8_t op;
	uint16_t len;

	if (relay_map_init(&m, SLOTS, 42) < 0)
		return 0;
	rd_init(&r, data, size);
	while (rd_u8(&r, &op) == 0 && rd_u16(&r, &len) == 0) {
		struct relay_key keys[RELAY_BODY_KEYS];
		struct relay_ike h;
		bool is_ike;
		const uint8_t *body;
		uint8_t *copy;
		size_t n, want = len % (rd_left(&r) + 1);
		int slot = (op >> 1) % SLOTS;
		char buf[64];

		if (rd_ptr(&r, want, &body) < 0)
			break;
		/* an exact-size heap copy, so ASan sees any overread */
		copy = malloc(want ? want : 1);
		if (!copy)
			break;
		memcpy(copy, body, want);
		n = relay_body_keys(copy, want, (op & 1) ? RELAY_FROM_GW : RELAY_TO_GW, keys);
		is_ike = relay_body_ike(copy, want, &h) == 0;
		free(copy);
		if (n > RELAY_BODY_KEYS)
			abort();
		for (size_t i = 0; i < n; i++)
			relay_key_str(&keys[i], buf, sizeof(buf));
		switch ((op >> 3) & 3) {
		case 0:
			new_stream(&m, cur, slot, keys, n, is_ike ? &h : NULL, now);
			break;
		case 1:
			if (!cur[slot])
				break;
			relay_map_learn(&m, cur[slot], keys, n);
			if (is_ike && !(op & 1))
				relay_map_note_request(cur[slot], &h);
			else if (op & 1)
				relay_map_gw_spoke(cur[slot], is_ike ? &h : NULL);
			break;
		case 2:
			if (cur[slot])
				relay_map_detach(cur[slot], now);
			break;
		default: {
			size_t it = 0;
			struct relay_sess *s;

			now += (uint64_t)len * 100;
			while ((s = relay_map_next_expired(&m, now, 300000, &it))) {
				forget(cur, s);
				relay_map_free_sess(&m, s);
			}
		}
		}
		/* every client-side key still in the table points at a live session */
		for (size_t i = 0; i < n; i++) {
			struct relay_sess *s = relay_map_lookup(&m, &keys[i]);

			if (s && !s->id)
				abort();
		}
	}
	relay_map_fini(&m);
	return 0;
}
