/*
 * Simultaneous Child SA rekeying (RFC 7296 §2.8.1): we rekey a Child SA
 * and the gateway rekeys the same one before it learnt of ours. Both
 * exchanges are answered as usual (§2.25.1), so three SAs exist for a
 * while: the old one and two new ones. Once both exchanges completed, the
 * four nonces say which new SA is redundant and who deletes what.
 *
 * The two orders of arrival, seen from here:
 *   1. the gateway's request arrives while ours is outstanding: we answer
 *      it and install its SA; our response then completes the pair;
 *   2. our response arrives first (our SA installed, the old one's Delete
 *      queued), then the gateway's request: answering it completes the
 *      pair. Once our Delete of the old SA is out, its rekey is refused
 *      with TEMPORARY_FAILURE instead (§2.25.1, sa_collide_closing()).
 */
#include "ike/sa_int.h"

#include <string.h>

#include "util/log.h"

void sa_collide_start(struct ike_sa *sa, uint32_t old)
{
	memset(&sa->collide, 0, sizeof(sa->collide));
	sa->collide.old_spi = old;
}

void sa_collide_abort(struct ike_sa *sa)
{
	struct sa_collide *c = &sa->collide;

	if (c->old_spi && c->theirs.done) {
		/* The gateway's SA replaced the old one already (and it deletes the old one):
		 * nothing left to rekey, the new SA's lifetime runs from now. */
		log_info("ike: our rekey of Child SA %08x is moot: the gateway's %08x replaced it",
			 c->old_spi, c->theirs.spi_in);
		sa_rekey_schedule(sa, false, true);
	}
	memset(c, 0, sizeof(*c));
}

bool sa_collide_closing(const struct ike_sa *sa, uint32_t old)
{
	return old && sa->req.active && sa->req.kind == REQ_DELETE_CHILD &&
	       sa->delete_child_spi == old;
}

int sa_nonce_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	if (r)
		return r;
	return alen < blen ? -1 : alen > blen;
}

static void note(struct sa_collide_xchg *x, uint32_t new_in, const uint8_t *ni, size_t ni_len,
		 const uint8_t *nr, size_t nr_len)
{
	bool ni_low = sa_nonce_cmp(ni, ni_len, nr, nr_len) < 0;
	const uint8_t *low = ni_low ? ni : nr;
	size_t len = ni_low ? ni_len : nr_len;

	x->done = true;
	x->spi_in = new_in;
	x->low_len = len < sizeof(x->low) ? len : sizeof(x->low);	/* §3.9: at most 256 */
	memcpy(x->low, low, x->low_len);
}

/* Queue our Delete of Child SA spi (inbound), if it still exists. */
static void delete_later(struct ike_sa *sa, uint32_t spi)
{
	if (sa_child_by_spi(sa, spi, true))
		sa->delete_child_spi = spi;
}

/*
 * RFC 7296 §2.8.1: "If redundant SAs are created through such a collision,
 * the SA created with the lowest of the four nonces used in the two
 * exchanges SHOULD be closed by the endpoint that created it. "Lowest"
 * means an octet-by-octet comparison (instead of, for instance, comparing
 * the nonces as large integers). In other words, start by comparing the
 * first octet; if they are equal, move to the next octet, and so on. If
 * you reach the end of one nonce, that nonce is the lower one. The node
 * that initiated the surviving rekeyed SA should delete the replaced SA
 * after the new one is established."
 *
 * The endpoint that created an SA is the initiator of its exchange. A tie
 * (the same lowest nonce in both exchanges: a nonce repeated) keeps ours:
 * a gateway applying the same rule keeps its own, and two live SAs lose
 * no traffic where two deleted ones would.
 */
static bool decide(struct ike_sa *sa, bool ours)
{
	struct sa_collide *c = &sa->collide;
	bool ours_redundant = sa_nonce_cmp(c->ours.low, c->ours.low_len, c->theirs.low,
					   c->theirs.low_len) < 0;
	uint32_t redundant = ours_redundant ? c->ours.spi_in : c->theirs.spi_in;
	uint32_t survivor = ours_redundant ? c->theirs.spi_in : c->ours.spi_in;

	log_info("ike: both ends rekeyed Child SA %08x (RFC 7296 §2.8.1): the lowest nonce is in "
		 "%s exchange, so %08x is redundant and %08x survives; %s",
		 c->old_spi, ours_redundant ? "our" : "the gateway's", redundant, survivor,
		 ours_redundant ? "we delete the redundant one, the gateway the old one"
				: "we delete the old one, the gateway the redundant one");
	if (ours_redundant) {
		/* Ours to close; the old one is the gateway's to delete: a Delete of it
		 * queued after our response (order 2) is replaced. */
		sa->delete_child_spi = redundant;	/* installed now or before */
	} else {
		delete_later(sa, c->old_spi);
	}
	memset(c, 0, sizeof(*c));
	return ours ? ours_redundant : !ours_redundant;
}

bool sa_rekey_collision(struct ike_sa *sa, bool ours, uint32_t old, uint32_t new_in,
			const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len)
{
	struct sa_collide *c = &sa->collide;

	if (!old || old != c->old_spi)
		return false;	/* a new SA, or an SA we are not rekeying: no collision */
	note(ours ? &c->ours : &c->theirs, new_in, ni, ni_len, nr, nr_len);
	if (c->ours.done && c->theirs.done)
		return decide(sa, ours);
	if (ours) {
		/* §2.8: the initiator of the rekey deletes the old SA once the new one is in
		 * place. Still open to the gateway's rekey of it until the Delete goes out. */
		delete_later(sa, old);
	} else {
		/* §2.8.1: "it cannot yet know which of the exchanges will have the lowest
		 * nonce, so it will just note the situation and respond as usual." */
		log_info("ike: the gateway rekeys Child SA %08x as we do; deciding once ours is "
			 "answered (RFC 7296 §2.8.1)", old);
	}
	return false;
}
