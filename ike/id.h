/*
 * IKE identities (RFC 7296 §3.5) from the strings a user writes, with the
 * same conventions as strongSwan: an IP literal is ID_IPV4_ADDR or
 * ID_IPV6_ADDR; "user@example.com" is ID_RFC822_ADDR; "@host" or a plain
 * name is ID_FQDN; "@#0a1b" is ID_KEY_ID (hex); "C=CH, O=x, CN=y" is a
 * distinguished name (ID_DER_ASN1_DN).
 */
#ifndef IKEAGENT_IKE_ID_H
#define IKEAGENT_IKE_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define IKE_ID_MAX 512

struct ike_id {
	uint8_t type;		/* enum ike_id_type */
	uint16_t len;
	uint8_t data[IKE_ID_MAX];
};

int ike_id_parse(const char *s, struct ike_id *id) MUST_CHECK;
bool ike_id_equal(const struct ike_id *a, const struct ike_id *b);
/* Printable form for logs ("fqdn:gw.example.com", "ipv4:10.0.0.1", ...). */
const char *ike_id_str(const struct ike_id *id, char *buf, size_t len);

#endif
