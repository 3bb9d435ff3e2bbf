/*
 * Requests from the gateway (RFC 7296 §1.4, §1.3.3): liveness checks,
 * DELETE of Child SAs or of the IKE SA, and Child SA rekeys; and the
 * responses to our own INFORMATIONAL requests.
 */
#include "ike/sa_int.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ike/names.h"
#include "util/log.h"

struct sa_reply {
	uint8_t plain[SA_MSG_MAX];
	struct wr w;
	struct ike_mw b;
};

static int reply_begin(struct sa_reply *r)
{
	wr_init(&r->w, r->plain, sizeof(r->plain));
	return ike_mw_begin_inner(&r->b, &r->w);
}

/* Protect, send, and cache the response; the gateway's next request ID advances (§2.3). */
static void reply_send(struct ike_sa *sa, const struct ike_msg *m, struct sa_reply *r)
{
	size_t plen = 0, need = 0, len;
	uint8_t *out = NULL;
	int rc = ike_mw_finish(&r->b, &plen);

	/* sealed straight into the cache, sized to the message */
	if (rc == 0) {
		need = sk_message_len(&sa->sk_out, plen);
		out = need <= SA_MSG_MAX ? sa_msg_room(&sa->resp_cache, need) : NULL;
	}
	if (!out || sa_protect(sa, m->hdr.exchange, true, m->hdr.msg_id, ike_mw_first(&r->b),
			       r->plain, plen, out, need, &len) < 0)
		rc = -1;
	OPENSSL_cleanse(r->plain, wr_len(&r->w));	/* the writer never writes past its length */
	if (rc < 0) {
		/* the cache's old contents may be overwritten: it answers nothing now */
		sa->have_resp_cache = false;
		log_warn("ike: cannot build the response to %s #%u", ike_exchange_name(m->hdr.exchange),
			 m->hdr.msg_id);
		return;
	}
	sa->resp_cache.len = len;
	sa->have_resp_cache = true;
	sa->peer_next_id = m->hdr.msg_id + 1;
	if (sa->ops.send(sa->ctx, sa->resp_cache.p, len) < 0)
		log_debug("ike: response not sent; the gateway will retransmit");
}

/*
 * The Child SA to rekey was deleted: rekey one that is left. With none
 * left the IKE SA carries no traffic: unless the gateway sets up a new one
 * first (child_rekey_request), we ask for one SA_CHILD_AGAIN_MS later.
 */
static void child_gone(struct ike_sa *sa)
{
	if (!sa->child_spi_in || sa_child_by_spi(sa, sa->child_spi_in, true))
		return;
	sa->child_spi_in = 0;
	for (unsigned i = 0; i < SA_MAX_CHILDREN; i++)
		if (sa->children[i].used)
			sa->child_spi_in = sa->children[i].spi_in;
	if (!sa->child_spi_in && sa->state == IKE_SA_ESTABLISHED) {
		log_warn("ike: no Child SA left; asking the gateway for a new one in %.1f s unless it "
			 "sets one up", SA_CHILD_AGAIN_MS / 1000.0);
		sa->child_rekey_at = sa->now_ms + SA_CHILD_AGAIN_MS;
	}
}

static bool have_child(const struct ike_sa *sa)
{
	for (unsigned i = 0; i < SA_MAX_CHILDREN; i++)
		if (sa->children[i].used)
			return true;
	return false;
}

/*
 * MOBIKE in the gateway's INFORMATIONAL (RFC 4555): its additional
 * addresses, and what our response must carry back.
 */
static int info_mobike(struct ike_sa *sa, const struct ike_msg *m, struct ike_mw *b)
{
	struct ike_pl_notify n;

	sa_mobike_peer_addrs(sa, m);
	/* RFC 4555 §3.7: "if included, the recipient of an INFORMATIONAL request
	 * MUST copy the notification as-is to the response" */
	if (sa_find_notify(m, N_COOKIE2, &n)) {
		struct ike_pl_notify c = { .type = N_COOKIE2, .data = n.data, .len = n.len };

		if (ike_put_notify(b, &c) < 0)
			return -1;
	}
	/* RFC 4555 §3.8: NAT detection "MAY be included in any INFORMATIONAL request;
	 * if the request includes them, the responder MUST also include them in the
	 * response" */
	if ((sa_find_notify(m, N_NAT_DETECTION_SOURCE_IP, &n) ||
	     sa_find_notify(m, N_NAT_DETECTION_DESTINATION_IP, &n)) && sa_put_natd(sa, b) < 0)
		return -1;
	if (sa_find_notify(m, N_UPDATE_SA_ADDRESSES, &n))
		log_debug("ike: ignored UPDATE_SA_ADDRESSES from the gateway: only the IKE SA's "
			  "initiator moves it (RFC 4555 §3.1)");
	return 0;
}

static void info_request(struct ike_sa *sa, const struct ike_msg *m)
{
	struct ike_pl_delete out = { .proto = PROTO_ESP, .spi_size = 4 };
	struct sa_reply r;
	bool ike_deleted = false;
	unsigned it = 0;
	const struct ike_pl *p;

	if (reply_begin(&r) < 0)
		return;
	while ((p = ike_msg_find(m, PL_DELETE, &it))) {
		struct ike_pl_delete d;

		if (ike_pl_delete_decode(p, &d) < 0)
			continue;
		if (d.proto == PROTO_IKE) {
			ike_deleted = true;
			continue;
		}
		/* The Delete lists the sender's inbound SPIs: our outbound ones. */
		for (unsigned i = 0; i < d.n_spi && d.proto == PROTO_ESP; i++) {
			struct sa_child *c = sa_child_by_spi(sa, ike_delete_spi(&d, i), false);

			if (!c)
				continue;
			/* §1.4.1: answer with a Delete for the other direction of each SA. */
			if (out.n_spi < IKE_MAX_DELETE_SPIS)
				out.spi[out.n_spi++] = c->spi_in;
			log_info("ike: gateway deleted Child SA in %08x out %08x", c->spi_in, c->spi_out);
			if (sa->ops.child_down)
				sa->ops.child_down(sa->ctx, c->spi_in);
			c->used = false;
		}
	}
	child_gone(sa);
	if (out.n_spi && ike_put_delete(&r.b, &out) < 0)
		return;
	if (info_mobike(sa, m, &r.b) < 0)
		return;
	reply_send(sa, m, &r);
	if (ike_deleted)
		sa_fail(sa, IKE_FAIL_DELETED, "gateway deleted the IKE SA");
	else if (!out.n_spi)
		log_debug("ike: answered INFORMATIONAL #%u", m->hdr.msg_id);
}

/*
 * We are the responder of this exchange (§2.7): one transform of each
 * type from the gateway's proposal tp that our proposal pp offers too;
 * only_dh: take no DH group but this one (0: any). §3.3.6: "If the
 * responder receives a proposal that contains a Transform Type it does not
 * understand, or a proposal that is missing a mandatory Transform Type, it
 * MUST consider this proposal unacceptable; however, other proposals in
 * the same SA payload are processed as usual. Similarly, if the responder
 * receives a transform that it does not understand in one of the
 * proposals, it MUST ignore that transform". Types a protocol does not use
 * (§3.3.3: ESN in IKE, PRF in ESP) count as not understood.
 */
static int choose_one(const struct proposal *pp, const struct ike_sa_prop *tp,
		      uint16_t only_dh, struct ike_proposal *out)
{
	unsigned have = 0, want = 0, known;
	struct ike_transform t;
	struct rd trs;

	known = tp->proto == PROTO_IKE ? (1u << TRANS_ENCR) | (1u << TRANS_PRF) |
						 (1u << TRANS_INTEG) | (1u << TRANS_DH)
				       : (1u << TRANS_ENCR) | (1u << TRANS_INTEG) |
						 (1u << TRANS_DH) | (1u << TRANS_ESN);
	memset(out, 0, sizeof(*out));
	for (trs = tp->trans; ike_sa_next_trans(&trs, &t);) {
		unsigned bit = t.type < 16 ? 1u << t.type : 0;

		if (!(bit & known))
			return -1;
		want |= bit;
		if ((have & bit) || t.unknown_attr || !sa_offered(pp, &t) ||
		    (t.type == TRANS_DH && only_dh && t.id != only_dh))
			continue;
		have |= bit;
		out->trans[out->n_trans++] = t;
	}
	/* A DH group we insist on (PFS) must be in their proposal too. */
	if (have != want || !(have & (1u << TRANS_ENCR)) ||
	    ((pp->n_dh > 0) != !!(have & (1u << TRANS_DH))))
		return -1;
	out->num = tp->num;
	out->proto = tp->proto;
	out->spi_size = tp->spi_size;
	memcpy(out->spi, tp->spi, sizeof(out->spi));
	return 0;
}

/* The algorithms of a chosen proposal. */
static void chosen_algs(const struct ike_proposal *p, struct ike_algs *algs, uint16_t *dh)
{
	memset(algs, 0, sizeof(*algs));
	*dh = 0;
	for (unsigned k = 0; k < p->n_trans; k++)
		sa_take_alg(&p->trans[k], algs, dh);
}

static int choose_pass(const struct proposal_list *ours, const struct ike_pl_sa *offer,
		       uint8_t proto, uint16_t only_dh, struct ike_proposal *out,
		       struct ike_algs *algs, uint16_t *dh)
{
	uint8_t spi_size = proto == PROTO_IKE ? 8 : 4;
	struct rd props = ike_sa_props(offer);
	struct ike_sa_prop tp;

	while (ike_sa_next_prop(&props, &tp)) {
		if (tp.proto != proto || tp.spi_size != spi_size)
			continue;
		for (unsigned j = 0; j < ours->n; j++) {
			if (choose_one(&ours->p[j], &tp, only_dh, out) < 0)
				continue;
			chosen_algs(out, algs, dh);
			if (proto == PROTO_ESP && !ike_encr_is_aead(algs->encr))
				continue;	/* our ESP does AEAD only */
			if (ike_algs_check(algs, proto == PROTO_ESP) == 0)
				return 0;
		}
	}
	return -1;
}

int sa_choose(const struct proposal_list *ours, const struct ike_pl_sa *offer, uint8_t proto,
	      uint16_t ke_group, struct ike_proposal *out, struct ike_algs *algs, uint16_t *dh)
{
	/*
	 * First a proposal that fits the KE payload the gateway sent (no
	 * INVALID_KE_PAYLOAD round trip); failing that, any: then the caller
	 * asks for the group we chose (§1.2, §1.3).
	 */
	if (ke_group && choose_pass(ours, offer, proto, ke_group, out, algs, dh) == 0)
		return 0;
	return choose_pass(ours, offer, proto, 0, out, algs, dh);
}

/* PFS (§1.3.1): our KE for the gateway's, and the shared secret. */
static int child_pfs(uint16_t group, const struct ike_msg *m, uint8_t *pub, size_t *publen,
		     uint8_t *gir, size_t *girlen)
{
	struct ike_pl_any ke;
	struct dh d = { 0 };
	int rc = -1;

	if (sa_decode_first(m, PL_KE, &ke) < 0 || ke.u.ke.group != group || dh_new(&d, group) < 0)
		return -1;
	if (dh_public(&d, pub, DH_MAX_PUBLIC_LEN, publen) == 0 &&
	    dh_derive(&d, ke.u.ke.data, ke.u.ke.len, gir, DH_MAX_SECRET_LEN, girlen) == 0)
		rc = 0;
	dh_free(&d);
	return rc;
}

/*
 * Answers the gateway's request with the error notify of *no, logs why,
 * and, when the refusal may cost us the IKE SA, checks its liveness soon:
 * a gateway whose rekey we refused may drop the SA without a DELETE.
 */
static void refuse(struct ike_sa *sa, const struct ike_msg *m, const char *what,
		   const struct sa_refusal *no)
{
	uint8_t group[2];
	struct ike_pl_notify n = { .type = no->notify };
	struct sa_reply r;

	log_warn("ike: refused the gateway's %s: %s; answering %s", what, no->why,
		 ike_notify_name(no->notify));
	/* §3.10.1 INVALID_KE_PAYLOAD: "the notification data contains the
	 * two-octet [group] number of the accepted group" */
	if (no->notify == N_INVALID_KE_PAYLOAD) {
		put_be16(group, no->group);
		n.data = group;
		n.len = sizeof(group);
	}
	if (reply_begin(&r) < 0 || ike_put_notify(&r.b, &n) < 0)
		return;
	reply_send(sa, m, &r);
	/* INVALID_KE_PAYLOAD and TEMPORARY_FAILURE ask for a retry: nothing is lost. */
	if (no->notify != N_INVALID_KE_PAYLOAD && no->notify != N_TEMPORARY_FAILURE)
		sa_probe(sa, sa->now_ms, SA_PROBE_DELAY_MS, "a gateway request was refused");
}

/* The Child SA a REKEY_SA notify names (by either of its SPIs) as our inbound SPI; 0: none. */
static uint32_t named_child(struct ike_sa *sa, uint32_t spi)
{
	const struct sa_child *c = sa_child_by_spi(sa, spi, true);

	if (!c)
		c = sa_child_by_spi(sa, spi, false);
	return c ? c->spi_in : 0;
}

/* The gateway rekeys a Child SA (§1.3.3): answer, install the new one, keep the old one. */
static void child_rekey_request(struct ike_sa *sa, const struct ike_msg *m)
{
	static const char what[] = "Child SA rekey";
	struct ike_pl_any sap, tsi, tsr, nonce, ke;
	struct ike_pl_notify rn;
	struct ike_proposal chosen;
	struct ike_algs algs;
	uint8_t nr[SA_NONCE_LEN], pub[DH_MAX_PUBLIC_LEN], gir[DH_MAX_SECRET_LEN];
	size_t publen = 0, girlen = 0;
	uint32_t spi_in = sa_random_spi(), spi_out;
	struct sa_refusal no = { .notify = N_NO_PROPOSAL_CHOSEN };
	struct sa_reply r;
	char why[320];
	uint16_t dh;
	bool have_ke, redundant;
	uint32_t old_in = 0;		/* the Child SA it replaces: our inbound SPI */

	if (!sa_find_notify(m, N_REKEY_SA, &rn)) {
		if (have_child(sa)) {
			/* ikeagent runs one Child SA and only rekeys it (§1.3: NO_ADDITIONAL_SAS). */
			no.notify = N_NO_ADDITIONAL_SAS;
			no.why = "a new Child SA besides ours (no REKEY_SA)";
			refuse(sa, m, "CREATE_CHILD_SA", &no);
			return;
		}
		/* ours expired or was deleted: the gateway's new one takes its place */
		log_info("ike: the gateway sets up a new Child SA in place of the one that is gone");
	} else if (rn.proto != PROTO_ESP || rn.spi_size != 4 ||
	    !(old_in = named_child(sa, get_be32(rn.spi)))) {
		/* §1.3.3 / §3.10.1 CHILD_SA_NOT_FOUND */
		no.notify = N_CHILD_SA_NOT_FOUND;
		no.why = "REKEY_SA names a Child SA we do not have";
		refuse(sa, m, what, &no);
		return;
	} else if (sa_collide_closing(sa, old_in)) {
		/* §2.25.1: "If a peer receives a request to rekey a Child SA that it is
		 * currently trying to close, it SHOULD reply with TEMPORARY_FAILURE." */
		no.notify = N_TEMPORARY_FAILURE;
		no.why = "we rekeyed that Child SA and our Delete of it is out";
		refuse(sa, m, what, &no);
		return;
	}
	/* §1.3.3: "SA, Ni, [KEi,] TSi, TSr"; a payload that is missing or does not parse */
	if (sa_decode_first(m, PL_SA, &sap) < 0 || sa_decode_first(m, PL_NONCE, &nonce) < 0 ||
	    sa_decode_first(m, PL_TSi, &tsi) < 0 || sa_decode_first(m, PL_TSr, &tsr) < 0) {
		no.notify = N_INVALID_SYNTAX;
		no.why = "SA, nonce or traffic selectors missing or malformed";
		refuse(sa, m, what, &no);
		return;
	}
	/*
	 * §2.9: the traffic selectors are what both sides agreed to; here the
	 * gateway proposes and we answer, and ours were narrowed to the Child SA
	 * we have (sa->ts_i ours, ts_r its side). A new one may cover no more:
	 * §3.10.1 TS_UNACCEPTABLE, "none of the addresses/protocols/ports in the
	 * supplied traffic selectors is acceptable".
	 */
	if (sa_ts_check(&tsi.u.ts, &sa->ts_r, "TSi", why, sizeof(why)) < 0 ||
	    sa_ts_check(&tsr.u.ts, &sa->ts_i, "TSr", why, sizeof(why)) < 0) {
		no.notify = N_TS_UNACCEPTABLE;
		no.why = why;
		refuse(sa, m, what, &no);
		return;
	}
	have_ke = sa_decode_first(m, PL_KE, &ke) == 0;
	if (sa_choose(&sa->cfg.esp_props, &sap.u.sa, PROTO_ESP, have_ke ? ke.u.ke.group : 0,
		      &chosen, &algs, &dh) < 0) {
		no.why = "none of its ESP proposals is one of ours";
		refuse(sa, m, what, &no);
		return;
	}
	if (dh && (!have_ke || ke.u.ke.group != dh)) {
		/* §1.3.3 refers to §1.2: INVALID_KE_PAYLOAD names the group we chose */
		no = (struct sa_refusal){ .notify = N_INVALID_KE_PAYLOAD, .group = dh,
					  .why = "its KE payload is missing or of another group" };
		refuse(sa, m, what, &no);
		return;
	}
	if ((dh && child_pfs(dh, m, pub, &publen, gir, &girlen) < 0) ||
	    RAND_bytes(nr, sizeof(nr)) != 1) {
		no.why = "cannot compute the PFS secret (bad KE value?)";
		refuse(sa, m, what, &no);
		goto out;
	}
	spi_out = get_be32(chosen.spi);
	put_be32(chosen.spi, spi_in);
	struct ike_pl_nonce np = { .data = nr, .len = sizeof(nr) };
	struct ike_pl_ke kp = { .group = dh, .data = pub, .len = (uint16_t)publen };

	if (reply_begin(&r) < 0 || ike_put_sa(&r.b, &chosen, 1) < 0 ||
	    ike_put_nonce(&r.b, &np) < 0 || (dh && ike_put_ke(&r.b, &kp) < 0) ||
	    ike_put_ts(&r.b, PL_TSi, &tsi.u.ts) < 0 || ike_put_ts(&r.b, PL_TSr, &tsr.u.ts) < 0) {
		no.why = "our answer does not fit a message";
		refuse(sa, m, what, &no);
		goto out;
	}
	reply_send(sa, m, &r);
	sa->rekeys++;
	/* Our rekey of the same Child SA: noted, or settled now (§2.8.1, sa_collide.c). */
	redundant = sa_rekey_collision(sa, false, old_in, spi_in, nonce.u.nonce.data,
				       nonce.u.nonce.len, nr, sizeof(nr));
	/* §2.17: the gateway started this exchange, so its nonce is Ni and encr_i is its key. */
	sa_child_install(sa, &algs, spi_in, spi_out, dh ? gir : NULL, girlen, nonce.u.nonce.data,
			 nonce.u.nonce.len, nr, sizeof(nr), false, &tsi.u.ts, &tsr.u.ts, NULL,
			 redundant ? SA_INSTALL_REDUNDANT : SA_INSTALL_REKEY);
out:
	OPENSSL_cleanse(gir, sizeof(gir));
	OPENSSL_cleanse(nr, sizeof(nr));
}

/* §1.3.2: the gateway rekeys the IKE SA; the Child SAs move to the new one. */
static void ike_rekey_request(struct ike_sa *sa, const struct ike_msg *m)
{
	static const char what[] = "IKE SA rekey";
	struct ike_keys nk;
	uint8_t spi_i[8];
	struct sa_refusal no;
	struct sa_reply r;

	memset(&nk, 0, sizeof(nk));
	if (sa->req.active && sa->req.kind == REQ_REKEY_IKE) {
		/* §2.25.2: a simultaneous IKE rekey; ours goes on, the gateway retries. */
		no = (struct sa_refusal){ .notify = N_TEMPORARY_FAILURE,
					  .why = "we are rekeying it ourselves (§2.25.2)" };
		refuse(sa, m, what, &no);
		return;
	}
	if (reply_begin(&r) < 0)
		return;
	if (sa_rekey_ike_answer(sa, m, &r.b, &nk, spi_i, &no) < 0) {
		refuse(sa, m, what, &no);
		ike_keys_clear(&nk);
		return;
	}
	reply_send(sa, m, &r);
	if (sa->req.active) {
		/* Our outstanding request belongs to the old IKE SA: it is abandoned with it;
		 * an address update is sent again on the new one. */
		if (sa->req.kind == REQ_UPDATE)
			sa->mob.pending = true;
		sa->req.active = false;
	}
	sa_rekey_ike_commit(sa, &nk, spi_i);
	ike_keys_clear(&nk);
}

/* Which SA the gateway's CREATE_CHILD_SA is for: the protocol of its first proposal. */
static void create_child_request(struct ike_sa *sa, const struct ike_msg *m)
{
	struct ike_pl_any sap;
	struct ike_sa_prop p;
	struct rd props;
	unsigned it = 0;

	/* §2.21.2 / §3.10.1: an SA payload we cannot parse is INVALID_SYNTAX, not a refusal. */
	if (ike_msg_find(m, PL_SA, &it) && sa_decode_first(m, PL_SA, &sap) < 0) {
		struct sa_refusal no = { .notify = N_INVALID_SYNTAX,
					 .why = "its SA payload does not parse" };

		refuse(sa, m, "CREATE_CHILD_SA", &no);
		return;
	}
	if (it) {
		props = ike_sa_props(&sap.u.sa);
		log_debug("ike: gateway's CREATE_CHILD_SA offers %u proposals, up to %u transforms each",
			  sap.u.sa.n_prop, sap.u.sa.max_trans);
		if (ike_sa_next_prop(&props, &p) && p.proto == PROTO_IKE) {
			ike_rekey_request(sa, m);
			return;
		}
	}
	child_rekey_request(sa, m);
}

void sa_peer_request(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
	/*
	 * Before IKE_AUTH completes the gateway has not proven its identity
	 * (§2.21.2: "treat the information with caution"), and it has no
	 * reason to send requests (§1.2: the SA is not set up yet). A Delete
	 * then could be anyone's who answered IKE_SA_INIT: ignored, not answered.
	 */
	if (sa->state != IKE_SA_ESTABLISHED && sa->state != IKE_SA_DELETING) {
		log_warn("ike: ignored %s request #%u from the gateway in state %s: it has not "
			 "authenticated yet", ike_exchange_name(m->hdr.exchange), m->hdr.msg_id,
			 ike_sa_state_name(sa->state));
		return;
	}
	switch (m->hdr.exchange) {
	case INFORMATIONAL:
		info_request(sa, m);
		break;
	case CREATE_CHILD_SA:
		if (sa->state == IKE_SA_ESTABLISHED)
			create_child_request(sa, m);
		break;
	default:
		log_debug("ike: ignored %s request from the gateway", ike_exchange_name(m->hdr.exchange));
	}
}

void sa_info_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
	if (sa->state == IKE_SA_DELETING) {
		sa_fail(sa, IKE_FAIL_LOCAL, "IKE SA deleted");
		return;
	}
	log_debug("ike: gateway answered our INFORMATIONAL #%u", m->hdr.msg_id);
}
