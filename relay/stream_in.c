/*
 * A client's stream, deframed, and the memory budget its partial frames
 * share with the queues towards clients: see relay.h. No sockets, no
 * globals, so tests/fuzz/fuzz_relay_stream.c and tests/unit include it.
 */
#include "relay/relay.h"

#include <stdlib.h>

bool relay_budget_ok(const struct relay_budget *b, size_t old, size_t cap, bool ike)
{
	size_t limit = b->total + (ike ? b->total / 8 : 0);

	return b->queued + b->partial - old + cap <= limit;
}

void relay_budget_note(struct relay_budget *b)
{
	if (b->queued + b->partial > b->peak)
		b->peak = b->queued + b->partial;
}

/* tcpframe heap mode: a block for a frame spanning reads, within the
 * budget. Partial frames get no IKE reserve: that is for the answers. */
static void *partial_get(void *ctx, size_t len)
{
	struct relay_budget *b = ctx;
	void *p;

	if (!relay_budget_ok(b, 0, len, false)) {
		b->partial_refused++;
		return NULL;
	}
	p = malloc(len);
	if (!p)
		return NULL;
	b->partial += len;
	relay_budget_note(b);
	return p;
}

static void partial_put(void *ctx, void *block, size_t len)
{
	struct relay_budget *b = ctx;

	b->partial -= len;
	free(block);
}

int relay_stream_init(struct tcpframe_rx *rx, struct relay_budget *b)
{
	const struct tcpframe_rx_mem mem = { .get = partial_get, .put = partial_put, .ctx = b };

	return tcpframe_rx_init_heap(rx, true, TCPFRAME_MAX_LEN, &mem);
}

int relay_stream_input(struct tcpframe_rx *rx, const uint8_t *data, size_t len,
		       int (*body)(void *ctx, const uint8_t *b, size_t n), void *ctx)
{
	const uint8_t *b;
	size_t n;
	int r;

	if (tcpframe_rx_feed(rx, data, len) < 0)
		return RELAY_STREAM_BAD;
	while ((r = tcpframe_rx_next(rx, &b, &n)) > 0)
		if (body(ctx, b, n) < 0)
			return RELAY_STREAM_CLOSED;
	return r < 0 ? RELAY_STREAM_BAD : 0;
}
