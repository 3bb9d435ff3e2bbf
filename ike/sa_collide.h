/*
 * Both ends rekey the same Child SA at once (RFC 7296 §2.8.1, §2.25.1):
 * the state of that collision and the rule that ends it, in sa_collide.c.
 * Internal to ike/sa*.c (included by sa_int.h).
 */
#ifndef IKEAGENT_IKE_SA_COLLIDE_H
#define IKEAGENT_IKE_SA_COLLIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/ikev2.h"

struct ike_sa;

/* One of the two CREATE_CHILD_SA exchanges, once it completed. */
struct sa_collide_xchg {
	bool done;
	uint32_t spi_in;		/* the Child SA it made (our inbound SPI) */
	uint8_t low[IKE_NONCE_MAX];	/* the lower of its Ni and Nr: all the rule needs */
	size_t low_len;
};

/*
 * Our rekey of one Child SA, from our request until the old SA's Delete
 * goes out, and the gateway's rekey of the same SA if one arrives then.
 * The first exchange to complete is noted; the second decides.
 */
struct sa_collide {
	uint32_t old_spi;		/* the Child SA our rekey replaces (inbound); 0: none */
	struct sa_collide_xchg ours, theirs;
};

/* Our request to rekey Child SA old (our inbound SPI; 0: a new one) goes out. */
void sa_collide_start(struct ike_sa *sa, uint32_t old);
/* Our rekey failed or was refused: whatever the gateway's rekey made stands alone. */
void sa_collide_abort(struct ike_sa *sa);
/* Our Delete of Child SA old (inbound SPI) is outstanding: a rekey of it is refused (§2.25.1). */
bool sa_collide_closing(const struct ike_sa *sa, uint32_t old);
/*
 * An exchange that replaced Child SA old (our inbound SPI) completed, ours
 * (we sent the request) or the gateway's: new_in is the SA it made, ni and
 * nr its nonces. Queues the Delete we owe (sa->delete_child_spi): of old
 * after our rekey, or, when the two collided, of whichever §2.8.1 says.
 * True if new_in is the redundant SA of a collision: to be installed to
 * receive on, and not to send on (ike_child_info.redundant).
 */
bool sa_rekey_collision(struct ike_sa *sa, bool ours, uint32_t old, uint32_t new_in,
			const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len);
/* §2.8.1's "lowest": octet by octet; a nonce that ends first is the lower. <0, 0, >0. */
int sa_nonce_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

#endif
