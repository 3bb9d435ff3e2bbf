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
	size_t plen, len;

	if (ike_mw_finish(&r->b, &plen) < 0 ||
	    sa_protect(sa, m->hdr.exchange, true, m->hdr.msg_id, ike_mw_first(&r->b), r->plain, plen,
		       sa->resp_cache, sizeof(sa->resp_cache), &len) < 0) {
		log_warn("ike: cannot build the response to %s #%u", ike_exchange_name(m->hdr.exchange),
			 m->hdr.msg_id);
		return;
	}
	OPENSSL_cleanse(r->plain, sizeof(r->plain));
	sa->resp_cache_len = len;
	sa->have_resp_cache = true;
	sa->peer_next_id = m->hdr.msg_id + 1;
	if (sa->ops.send(sa->ctx, sa->resp_cache, len) < 0)
		log_debug("ike: response not sent; the gateway will retransmit");
}

static int reply_notify(struct sa_reply *r, uint16_t type)
{
	struct ike_pl_notify n = { .type = type };

	return ike_put_notify(&r->b, &n);
}

/* The Child SA to rekey was deleted: rekey one that is left, or none. */
static void child_gone(struct ike_sa *sa)
{
	if (!sa->child_spi_in || sa_child_by_spi(sa, sa->child_spi_in, true))
		return;
	sa->child_spi_in = 0;
	for (unsigned i = 0; i < SA_MAX_CHILDREN; i++)
		if (sa->children[i].used)
			sa->child_spi_in = sa->children[i].spi_in;
	if (!sa->child_spi_in)
		sa->child_rekey_at = 0;
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
			struct sa_child *c = sa_child_by_spi(sa, d.spi[i], false);

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
	reply_send(sa, m, &r);
	if (ike_deleted)
		sa_fail(sa, IKE_FAIL_DELETED, "gateway deleted the IKE SA");
	else if (!out.n_spi)
		log_debug("ike: answered INFORMATIONAL #%u", m->hdr.msg_id);
}

/*
 * We are the responder of this exchange (§2.7): pick one of the gateway's
 * proposals for proto whose every transform type we can match from one of
 * our proposals, one transform of each type.
 */
static int choose_one(const struct proposal *pp, const struct ike_proposal *tp,
		      struct ike_proposal *out)
{
	unsigned have = 0, want = 0;

	memset(out, 0, sizeof(*out));
	for (unsigned k = 0; k < tp->n_trans; k++) {
		const struct ike_transform *t = &tp->trans[k];

		if (t->type > TRANS_ESN)
			continue;
		want |= 1u << t->type;
		if ((have & (1u << t->type)) || !sa_offered(pp, t))
			continue;
		have |= 1u << t->type;
		out->trans[out->n_trans++] = *t;
	}
	/* A DH group we insist on (PFS) must be in their proposal too. */
	if (have != want || !(have & (1u << TRANS_ENCR)) ||
	    ((pp->n_dh > 0) != !!(have & (1u << TRANS_DH))))
		return -1;
	out->num = tp->num;
	out->proto = tp->proto;
	return 0;
}

int sa_choose(const struct proposal_list *ours, const struct ike_pl_sa *offer, uint8_t proto,
	      struct ike_proposal *out, struct ike_algs *algs, uint16_t *dh)
{
	uint8_t spi_size = proto == PROTO_IKE ? 8 : 4;

	for (unsigned i = 0; i < offer->n_prop; i++) {
		const struct ike_proposal *tp = &offer->prop[i];

		if (tp->proto != proto || tp->spi_size != spi_size)
			continue;
		for (unsigned j = 0; j < ours->n; j++) {
			if (choose_one(&ours->p[j], tp, out) < 0)
				continue;
			out->spi_size = spi_size;
			memset(algs, 0, sizeof(*algs));
			*dh = 0;
			for (unsigned k = 0; k < out->n_trans; k++) {
				const struct ike_transform *t = &out->trans[k];

				if (t->type == TRANS_ENCR) {
					algs->encr = t->id;
					algs->encr_keybits = t->key_len;
				} else if (t->type == TRANS_INTEG) {
					algs->integ = t->id;
				} else if (t->type == TRANS_PRF) {
					algs->prf = t->id;
				} else if (t->type == TRANS_DH) {
					*dh = t->id;
				}
			}
			if (proto == PROTO_ESP && !ike_encr_is_aead(algs->encr))
				continue;	/* our ESP does AEAD only */
			if (ike_algs_check(algs, proto == PROTO_ESP) == 0)
				return 0;
		}
	}
	return -1;
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

/* The gateway rekeys a Child SA (§1.3.3): answer, install the new one, keep the old one. */
static void child_rekey_request(struct ike_sa *sa, const struct ike_msg *m)
{
	struct ike_pl_any sap, tsi, tsr, nonce;
	struct ike_pl_notify rn;
	struct ike_pl_sa chosen = { .n_prop = 1 };
	struct ike_algs algs;
	uint8_t nr[SA_NONCE_LEN], pub[DH_MAX_PUBLIC_LEN], gir[DH_MAX_SECRET_LEN];
	size_t publen = 0, girlen = 0;
	uint32_t spi_in = sa_random_spi(), spi_out;
	struct sa_reply r;
	uint16_t dh;

	if (reply_begin(&r) < 0)
		return;
	if (!sa_find_notify(m, N_REKEY_SA, &rn) || rn.proto != PROTO_ESP || rn.spi_size != 4 ||
	    (!sa_child_by_spi(sa, get_be32(rn.spi), true) && !sa_child_by_spi(sa, get_be32(rn.spi), false))) {
		/* Only rekeys: ikeagent runs one Child SA (§1.3: NO_ADDITIONAL_SAS). */
		if (reply_notify(&r, sa_find_notify(m, N_REKEY_SA, &rn) ? N_CHILD_SA_NOT_FOUND : N_NO_ADDITIONAL_SAS) == 0)
			reply_send(sa, m, &r);
		return;
	}
	if (sa_decode_first(m, PL_SA, &sap) < 0 || sa_decode_first(m, PL_NONCE, &nonce) < 0 ||
	    sa_decode_first(m, PL_TSi, &tsi) < 0 || sa_decode_first(m, PL_TSr, &tsr) < 0 ||
	    sa_choose(&sa->cfg.esp_props, &sap.u.sa, PROTO_ESP, &chosen.prop[0], &algs, &dh) < 0 ||
	    (dh && child_pfs(dh, m, pub, &publen, gir, &girlen) < 0) ||
	    RAND_bytes(nr, sizeof(nr)) != 1) {
		log_warn("ike: refused the gateway's Child SA rekey: no acceptable proposal");
		if (reply_notify(&r, N_NO_PROPOSAL_CHOSEN) == 0)
			reply_send(sa, m, &r);
		goto out;
	}
	spi_out = 0;
	for (unsigned i = 0; i < sap.u.sa.n_prop; i++)
		if (sap.u.sa.prop[i].num == chosen.prop[0].num)
			spi_out = get_be32(sap.u.sa.prop[i].spi);
	put_be32(chosen.prop[0].spi, spi_in);
	struct ike_pl_nonce np = { .data = nr, .len = sizeof(nr) };
	struct ike_pl_ke kp = { .group = dh, .data = pub, .len = (uint16_t)publen };

	if (ike_put_sa(&r.b, &chosen) < 0 || ike_put_nonce(&r.b, &np) < 0 ||
	    (dh && ike_put_ke(&r.b, &kp) < 0) || ike_put_ts(&r.b, PL_TSi, &tsi.u.ts) < 0 ||
	    ike_put_ts(&r.b, PL_TSr, &tsr.u.ts) < 0)
		goto out;
	reply_send(sa, m, &r);
	sa->rekeys++;
	/* §2.17: the gateway started this exchange, so its nonce is Ni and encr_i is its key. */
	sa_child_install(sa, &algs, spi_in, spi_out, dh ? gir : NULL, girlen, nonce.u.nonce.data,
			 nonce.u.nonce.len, nr, sizeof(nr), false, &tsi.u.ts, &tsr.u.ts, NULL, true);
out:
	OPENSSL_cleanse(gir, sizeof(gir));
	OPENSSL_cleanse(nr, sizeof(nr));
}

/* §1.3.2: the gateway rekeys the IKE SA; the Child SAs move to the new one. */
static void ike_rekey_request(struct ike_sa *sa, const struct ike_msg *m)
{
	struct ike_keys nk;
	uint8_t spi_i[8];
	struct sa_reply r;

	memset(&nk, 0, sizeof(nk));
	if (reply_begin(&r) < 0)
		return;
	if (sa->req.active && sa->req.kind == REQ_REKEY_IKE) {
		/* §2.25.2: a simultaneous IKE rekey; ours goes on, the gateway retries. */
		if (reply_notify(&r, N_TEMPORARY_FAILURE) == 0)
			reply_send(sa, m, &r);
		return;
	}
	if (sa_rekey_ike_answer(sa, m, &r.b, &nk, spi_i) < 0) {
		log_warn("ike: refused the gateway's IKE SA rekey: no acceptable proposal");
		if (reply_begin(&r) == 0 && reply_notify(&r, N_NO_PROPOSAL_CHOSEN) == 0)
			reply_send(sa, m, &r);
		ike_keys_clear(&nk);
		return;
	}
	reply_send(sa, m, &r);
	if (sa->req.active) {
		/* Our outstanding request belongs to the old IKE SA: it is abandoned with it. */
		sa->req.active = false;
	}
	sa_rekey_ike_commit(sa, &nk, spi_i);
	ike_keys_clear(&nk);
}

static void create_child_request(struct ike_sa *sa, const struct ike_msg *m)
{
	struct ike_pl_any sap;
	unsigned it = 0;
	struct sa_reply r;

	/* §2.21.2 / §3.10.1: an SA payload we cannot parse is INVALID_SYNTAX, not a refusal. */
	if (ike_msg_find(m, PL_SA, &it) && sa_decode_first(m, PL_SA, &sap) < 0) {
		log_warn("ike: gateway's CREATE_CHILD_SA has a malformed SA payload, answering INVALID_SYNTAX");
		if (reply_begin(&r) == 0 && reply_notify(&r, N_INVALID_SYNTAX) == 0)
			reply_send(sa, m, &r);
		return;
	}
	if (sa_decode_first(m, PL_SA, &sap) == 0 && sap.u.sa.n_prop > 0 &&
	    sap.u.sa.prop[0].proto == PROTO_IKE) {
		ike_rekey_request(sa, m);
		return;
	}
	child_rekey_request(sa, m);
}

void sa_peer_request(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
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
