/*
 * Anti-replay window, RFC 4303 §3.4.3 and Appendix A, kept as a ring of
 * 64-bit words that slides a whole word at a time (the RFC 6479 layout):
 * moving the window right only clears the words it passes over, never
 * shifts the bitmap.
 *
 * RFC 4303 §3.4.3: "A minimum window size of 32 packets MUST be supported
 * when 32-bit Sequence Numbers are employed; a window size of 64 is
 * preferred" -- here ESP_REPLAY_WINDOW (4032) packets behind the highest.
 */
#include "esp/esp.h"

#include <string.h>

#define WORD_MASK (ESP_REPLAY_WORDS - 1)

_Static_assert((ESP_REPLAY_WORDS & WORD_MASK) == 0, "ring size must be a power of two");
_Static_assert(ESP_REPLAY_WINDOW >= 1024, "window of at least 1024 packets");

void esp_replay_init(struct esp_replay *r)
{
	memset(r, 0, sizeof(*r));
}

static inline uint64_t bit_of(uint32_t seq)
{
	return UINT64_C(1) << (seq & 63);
}

static inline size_t word_of(uint32_t seq)
{
	return (seq >> 6) & WORD_MASK;
}

enum esp_replay_res esp_replay_check(const struct esp_replay *r, uint32_t seq)
{
	/*
	 * RFC 4303 §3.3.3: "the first packet sent using a given SA will
	 * contain a sequence number of 1": 0 is never genuine.
	 */
	if (seq == 0)
		return ESP_REPLAY_INVALID;
	if (seq > r->top)
		return ESP_REPLAY_OK;
	/*
	 * RFC 4303 §3.4.3: "Packets that contain sequence numbers lower than
	 * the "left" edge of the window are rejected."
	 */
	if (r->top - seq >= ESP_REPLAY_WINDOW)
		return ESP_REPLAY_TOO_OLD;
	/* ... and "Duplicates are rejected through the use of a sliding receive window." */
	if (r->bitmap[word_of(seq)] & bit_of(seq))
		return ESP_REPLAY_DUPLICATE;
	return ESP_REPLAY_OK;
}

enum esp_replay_res esp_replay_update(struct esp_replay *r, uint32_t seq)
{
	enum esp_replay_res res = esp_replay_check(r, seq);

	if (res != ESP_REPLAY_OK)
		return res;
	if (seq > r->top) {
		uint32_t cur = r->top >> 6, next = seq >> 6;
		uint32_t n = next - cur;

		/* Clear the words the window slides over (all of them on a big jump). */
		if (n > ESP_REPLAY_WORDS)
			n = ESP_REPLAY_WORDS;
		for (uint32_t i = 1; i <= n; i++)
			r->bitmap[(cur + i) & WORD_MASK] = 0;
		r->top = seq;
	}
	r->bitmap[word_of(seq)] |= bit_of(seq);
	return ESP_REPLAY_OK;
}
