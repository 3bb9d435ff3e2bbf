/*
 * EAP-MSCHAPv2 (eap/mschapv2.c) beyond struct eap_method: a hook for tests
 * that replay a captured exchange and so need the Peer-Challenge the
 * captured client drew.
 */
#ifndef IKEAGENT_EAP_MSCHAPV2_H
#define IKEAGENT_EAP_MSCHAPV2_H

#include <stdint.h>

#include "eap/mschap.h"

/* Tests only: answer the next Challenge with this Peer-Challenge, not a random one. */
void eap_mschapv2_fix_peer_challenge(void *st, const uint8_t pc[MSCHAP_CHALLENGE_LEN]);

#endif
