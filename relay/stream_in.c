/*
 * A client's stream, deframed: see relay_stream_input() in relay.h. No
 * sockets, no globals, so tests/fuzz/fuzz_relay_stream.c includes it.
 */
#include "relay/relay.h"

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
