/*
 * Names of IKEv2 numbers for logs: "NO_PROPOSAL_CHOSEN" instead of 14.
 *
 * Every function returns a static string for a known value. An unknown
 * value is formatted as e.g. "NOTIFY(12345)" into a small per-thread ring
 * of IKE_NAME_RING buffers, so up to that many unknown names may appear
 * in one log call; the string stays valid until the ring wraps.
 */
#ifndef IKEAGENT_IKE_NAMES_H
#define IKEAGENT_IKE_NAMES_H

#include <stdint.h>

#define IKE_NAME_RING	8

const char *ike_exchange_name(uint8_t exchange);
const char *ike_payload_name(uint8_t type);
const char *ike_notify_name(uint16_t type);
const char *ike_proto_name(uint8_t proto);
const char *ike_transform_type_name(uint8_t type);
/* A transform ID within its type: ike_transform_name(TRANS_DH, 31) = "CURVE25519". */
const char *ike_transform_name(uint8_t type, uint16_t id);
const char *ike_id_type_name(uint8_t type);
const char *ike_auth_method_name(uint8_t method);
const char *ike_cert_encoding_name(uint8_t encoding);
const char *ike_ts_type_name(uint8_t type);
const char *ike_cfg_type_name(uint8_t type);
const char *ike_cfg_attr_name(uint16_t type);

#endif
