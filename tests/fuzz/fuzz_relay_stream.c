/*
 * ikerelay's stream input on arbitrary bytes: relay_stream_input()
 * (relay/stream_in.c, what the relay's conn_input runs on every read)
 * with the deframer set up as the relay sets it up for a client
 * (relay_stream_init: the "IKETCP" prefix expected, TCPFRAME_MAX_LEN, a
 * block within the budget for a frame spanning reads), and each body
 * classified as conn_body does (relay_body_keys toward the gateway,
 * relay_body_ike). The budget is large enough never to refuse; what a run
 * holds at its end is a partial frame at most, none once the stream ends.
 *
 * Input: chunk sizes:4, stop:1, then the stream. The stream is fed whole,
 * then in reads of the chunk sizes in turn (0 counts as 1), then whole
 * again with the body handler closing the stream at body number stop. All
 * three must see the same bodies in the same order, the same keys and
 * headers, and the same verdict (a bad stream is bad however it arrives);
 * the third must stop at once with RELAY_STREAM_CLOSED.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/map.c"
#include "relay/stream_in.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODIES 256

struct seen {
	unsigned n, stop;		/* stop: the body whose handler returns -1; 0: none */
	uint64_t sum[MAX_BODIES];	/* per body: length, keys and header folded */
};

static uint64_t fold(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL;
}

static int on_body(void *ctx, const uint8_t *b, size_t n)
{
	struct seen *s = ctx;
	struct relay_key keys[RELAY_BODY_KEYS];
	struct relay_ike h;
	size_t nk;
	uint64_t sum = 0xcbf29ce484222325ULL;
	bool is_ike;

	if (n < TCPFRAME_MIN_BODY || n > TCPFRAME_MAX_LEN)
		abort();
	nk = relay_body_keys(b, n, RELAY_TO_GW, keys);
	is_ike = relay_body_ike(b, n, &h) == 0;
	if (nk > RELAY_BODY_KEYS)
		abort();
	if (is_ike) {
		if (n < RELAY_NON_ESP_MARKER + RELAY_IKE_HDR_LEN || b[0] | b[1] | b[2] | b[3])
			abort();
		/* keys: the header's SPIs that are set, nothing else */
		for (size_t i = 0; i < nk; i++)
			if (keys[i].kind != RELAY_KEY_IKE || !keys[i].spi ||
			    (keys[i].spi != h.spi_i && keys[i].spi != h.spi_r))
				abort();
		sum = fold(sum, h.spi_i);
		sum = fold(sum, h.spi_r);
		sum = fold(sum, (uint64_t)h.exch << 40 | (uint64_t)h.flags << 32 | h.mid);
	} else if (nk) {
		/* ESP toward the gateway: a non-zero SPI first, then at least the sequence number */
		uint32_t spi = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];

		if (nk != 1 || keys[0].kind != RELAY_KEY_ESP_TO_GW || keys[0].spi != spi || !spi ||
		    n < RELAY_ESP_MIN)
			abort();
	}
	for (size_t i = 0; i < nk; i++)
		sum = fold(fold(sum, keys[i].spi), keys[i].kind);
	for (size_t i = 0; i < n; i += 8) {	/* the bytes, eight at a time */
		uint64_t w = 0;

		memcpy(&w, b + i, n - i < 8 ? n - i : 8);
		sum = fold(sum, w);
	}
	sum = fold(sum, n);
	if (s->n < MAX_BODIES)
		s->sum[s->n] = sum;
	s->n++;
	return s->stop && s->n == s->stop ? -1 : 0;
}

static struct relay_budget budget = { .total = 4 * TCPFRAME_MAX_LEN };

/* Feed stream in reads of the sizes in chunk (NULL: one read); the verdict.
 * The stream then ends: nothing is held after. */
static int run(struct tcpframe_rx *rx, struct seen *s, const uint8_t *stream, size_t len,
	       const uint8_t *chunk)
{
	size_t off = 0;
	unsigned i = 0;
	int r = 0;

	if (relay_stream_init(rx, &budget) < 0)
		abort();
	if (!chunk) {
		r = relay_stream_input(rx, stream, len, on_body, s);
	} else {
		while (off < len && r == 0) {
			size_t n = chunk[i++ % 4] ? chunk[(i - 1) % 4] : 1;

			if (n > len - off)
				n = len - off;
			r = relay_stream_input(rx, stream + off, n, on_body, s);
			if (budget.partial != tcpframe_rx_held(rx) || budget.partial > TCPFRAME_MAX_LEN)
				abort();
			off += n;
		}
	}
	(void)tcpframe_rx_eof(rx);
	if (budget.partial || budget.partial_refused)
		abort();
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tcpframe_rx rx;
	static struct seen a, b, c;
	const uint8_t *stream;
	size_t len;
	int ra, rb, rc;

	if (size < 5 || size > 3 * TCPFRAME_MAX_LEN)
		return 0;
	stream = data + 5;
	len = size - 5;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));

	ra = run(&rx, &a, stream, len, NULL);
	rb = run(&rx, &b, stream, len, data);
	if (ra == RELAY_STREAM_CLOSED || rb == RELAY_STREAM_CLOSED)
		abort();
	if (ra != rb || a.n != b.n)
		abort();
	for (unsigned i = 0; i < a.n && i < MAX_BODIES; i++)
		if (a.sum[i] != b.sum[i])
			abort();

	c.stop = data[4] % 8 + 1;
	rc = run(&rx, &c, stream, len, NULL);
	if (a.n >= c.stop) {
		if (rc != RELAY_STREAM_CLOSED || c.n != c.stop)
			abort();
	} else if (rc != ra || c.n != a.n) {
		abort();
	}
	for (unsigned i = 0; i < c.n && i < MAX_BODIES; i++)
		if (a.sum[i] != c.sum[i])
			abort();
	return 0;
}
