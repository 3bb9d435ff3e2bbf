/*
 * RFC 3948 UDP encapsulation: one port (4500) carries IKE, ESP and NAT
 * keepalives, told apart by their first bytes. RFC 9329 TCP frames carry the
 * same bodies, so the same classification serves both.
 */
#include "esp/esp.h"

#define NAT_KEEPALIVE 0xff

enum esp_udp_kind esp_udp_classify(const uint8_t *p, size_t len, const uint8_t **body,
				   size_t *body_len)
{
	struct rd r;
	uint32_t first;
	uint8_t b;

	*body = NULL;
	*body_len = 0;
	rd_init(&r, p, len);
	/* RFC 3948 §2.3: keepalives are "a one-octet-long payload with the value 0xFF"; ignored. */
	if (len == 1 && rd_peek_u8(&r, 0, &b) == 0 && b == NAT_KEEPALIVE)
		return ESP_UDP_KEEPALIVE;
	if (rd_peek_u32(&r, 0, &first) < 0)
		return ESP_UDP_INVALID;
	if (first != 0) {
		/*
		 * RFC 3948 §2.1: "The SPI field in the ESP header MUST NOT be a
		 * zero value", which is what tells ESP from the marker.
		 */
		*body = p;
		*body_len = len;
		return ESP_UDP_ESP;
	}
	/* RFC 3948 §2.2: the 4-octet zero Non-ESP Marker precedes an IKE message. */
	if (rd_skip(&r, ESP_NON_ESP_MARKER_LEN) < 0 || rd_left(&r) == 0)
		return ESP_UDP_INVALID;
	*body = rd_cur(&r);
	*body_len = rd_left(&r);
	return ESP_UDP_IKE;
}

int esp_udp_write_ike(struct wr *w, const uint8_t *ike, size_t len)
{
	/* Check the room first so a failure writes nothing. */
	if (len == 0 || wr_room(w) < ESP_NON_ESP_MARKER_LEN ||
	    wr_room(w) - ESP_NON_ESP_MARKER_LEN < len)
		return -1;
	if (wr_zero(w, ESP_NON_ESP_MARKER_LEN) < 0 || wr_bytes(w, ike, len) < 0)
		return -1;
	return 0;
}
