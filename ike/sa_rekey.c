/*
 * Rekeying (RFC 7296 §1.3.2, §1.3.3, §2.8, §2.18): our own Child SA and
 * IKE SA rekeys before their lifetimes end, the DELETE of the Child SA a
 * rekey replaced, the gateway's IKE SA rekey, and the replaced IKE SA kept
 * just long enough to answer the gateway's DELETE for it.
 */
#include "ike/sa_int.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ike/names.h"
#include "util/log.h"

#define REKEY_RETRY_MS	10000	/* after a refused rekey, try again this much later */
#define OLD_SA_KEEP_MS	30000	/* how long a replaced IKE SA may still be deleted */

void sa_rekey_schedule(struct ike_sa *sa, bool ike, bool child)
{
	if (ike)
		sa->ike_rekey_at = sa->cfg.ike_rekey_ms ? sa->now_ms + sa->cfg.ike_rekey_ms : 0;
	if (child)
		sa->child_rekey_at = sa->cfg.child_rekey_ms ? sa->now_ms + sa->cfg.child_rekey_ms : 0;
}

uint64_t sa_rekey_deadline(const struct ike_sa *sa)
{
	uint64_t t = sa->delete_child_spi ? sa->now_ms : 0;

	if (sa->ike_rekey_at && (!t || sa->ike_rekey_at < t))
		t = sa->ike_rekey_at;
	if (sa->child_rekey_at && (!t || sa->child_rekey_at < t))
		t = sa->child_rekey_at;
	return t;
}

static int put_notify_spi(struct ike_mw *b, uint16_t type, uint8_t proto, uint32_t spi)
{
	struct ike_pl_notify n = { .proto = proto, .spi_size = 4, .type = type };

	put_be32(n.spi, spi);
	return ike_put_notify(b, &n);
}

static int fill_delete_child(struct ike_sa *sa, struct ike_mw *b)
{
	struct ike_pl_delete d = { .proto = PROTO_ESP, .spi_size = 4, .n_spi = 1 };

	d.spi[0] = sa->delete_child_spi;
	return ike_put_delete(b, &d);
}

/* Our KE and nonce for a rekey, with the group of the first proposal that has one. */
static int rekey_ke(struct ike_sa *sa, uint16_t group, struct ike_mw *b)
{
	uint8_t pub[DH_MAX_PUBLIC_LEN];
	size_t len;

	dh_free(&sa->rk_dh);
	if (RAND_bytes(sa->rk_ni, sizeof(sa->rk_ni)) != 1)
		return -1;
	struct ike_pl_nonce n = { .data = sa->rk_ni, .len = sizeof(sa->rk_ni) };

	if (ike_put_nonce(b, &n) < 0)
		return -1;
	if (!group)
		return 0;
	if (dh_new(&sa->rk_dh, group) < 0 || dh_public(&sa->rk_dh, pub, sizeof(pub), &len) < 0)
		return -1;
	struct ike_pl_ke ke = { .group = group, .data = pub, .len = (uint16_t)len };

	return ike_put_ke(b, &ke);
}

/* The group of our rekey's KE: the one the gateway asked for, else ours (0: none). */
static uint16_t rekey_group(struct ike_sa *sa, uint16_t ours)
{
	uint16_t g = sa->rk_group ? sa->rk_group : ours;

	sa->rk_group = 0;
	return g;
}

static int fill_rekey_child(struct ike_sa *sa, struct ike_mw *b)
{
	const struct proposal_list *l = &sa->cfg.esp_props;
	uint32_t spi = sa_random_spi();

	put_be32(sa->rk_spi, spi);
	sa_collide_start(sa, sa->child_spi_in);	/* the SA we replace, for the response */
	/* §1.3.3: REKEY_SA names the Child SA being replaced; none: a new one (§1.3.1) */
	if ((sa->child_spi_in && put_notify_spi(b, N_REKEY_SA, PROTO_ESP, sa->child_spi_in) < 0) ||
	    sa_put_proposals(b, l, PROTO_ESP, sa->rk_spi, 4) < 0 ||
	    rekey_ke(sa, rekey_group(sa, l->p[0].n_dh ? l->p[0].dh[0] : 0), b) < 0 ||
	    ike_put_ts(b, PL_TSi, &sa->ts_i) < 0 || ike_put_ts(b, PL_TSr, &sa->ts_r) < 0)
		return -1;
	return 0;
}

static int fill_rekey_ike(struct ike_sa *sa, struct ike_mw *b)
{
	do {
		if (RAND_bytes(sa->rk_spi, sizeof(sa->rk_spi)) != 1)
			return -1;
	} while (!memcmp(sa->rk_spi, "\0\0\0\0\0\0\0\0", 8));
	/* §1.3.2: the SA payload carries the new initiator SPI; KE is mandatory. */
	if (sa_put_proposals(b, &sa->cfg.ike_props, PROTO_IKE, sa->rk_spi, 8) < 0 ||
	    rekey_ke(sa, rekey_group(sa, sa->dh_group), b) < 0)
		return -1;
	return 0;
}

bool sa_rekey_tick(struct ike_sa *sa, uint64_t now)
{
	if (sa->delete_child_spi) {
		if (sa_request(sa, REQ_DELETE_CHILD, INFORMATIONAL, fill_delete_child, now) == 0)
			return true;
		sa->delete_child_spi = 0;
	}
	if (sa->ike_rekey_at && now >= sa->ike_rekey_at) {
		sa->ike_rekey_at = now + REKEY_RETRY_MS;
		log_info("ike: rekeying the IKE SA");
		if (sa_request(sa, REQ_REKEY_IKE, CREATE_CHILD_SA, fill_rekey_ike, now) == 0)
			return true;
	}
	if (sa->child_rekey_at && now >= sa->child_rekey_at) {
		sa->child_rekey_at = now + REKEY_RETRY_MS;
		if (sa->child_spi_in)
			log_info("ike: rekeying Child SA %08x", sa->child_spi_in);
		else
			log_info("ike: asking the gateway for a new Child SA");
		if (sa_request(sa, REQ_REKEY_CHILD, CREATE_CHILD_SA, fill_rekey_child, now) == 0)
			return true;
	}
	return false;
}

/* The peer's KE for our rekey: g^ir into gir. */
static int rekey_gir(struct ike_sa *sa, const struct ike_msg *m, uint16_t group, uint8_t *gir,
		     size_t *glen)
{
	struct ike_pl_any ke;

	*glen = 0;
	if (!group)
		return 0;
	if (sa_decode_first(m, PL_KE, &ke) < 0 || ke.u.ke.group != group || sa->rk_dh.group != group)
		return -1;
	return dh_derive(&sa->rk_dh, ke.u.ke.data, ke.u.ke.len, gir, DH_MAX_SECRET_LEN, glen);
}

/*
 * The gateway answered our rekey with an error. INVALID_KE_PAYLOAD naming
 * a group of ours (§1.3 refers to §1.2: "the initiator [...] retries with
 * the corrected Diffie-Hellman group") is retried at once with it
 * (*retry_at = now); anything else in REKEY_RETRY_MS.
 */
static bool refused(struct ike_sa *sa, const struct ike_msg *m, const char *what,
		    const struct proposal_list *l, uint64_t *retry_at)
{
	struct ike_pl_notify n;
	uint16_t err;

	if (sa_first_error_notify(m, &err) < 0)
		return false;
	dh_free(&sa->rk_dh);
	if (err == N_INVALID_KE_PAYLOAD && sa_find_notify(m, N_INVALID_KE_PAYLOAD, &n) &&
	    n.len == 2 && sa_group_offered(l, get_be16(n.data))) {
		sa->rk_group = get_be16(n.data);
		*retry_at = sa->now_ms;
		log_info("ike: gateway wants DH group %s for our %s rekey; rekeying with it",
			 ike_transform_name(TRANS_DH, sa->rk_group), what);
		return true;
	}
	log_warn("ike: gateway refused our %s rekey with %s; retrying in %us", what,
		 ike_notify_name(err), REKEY_RETRY_MS / 1000);
	if (err != N_TEMPORARY_FAILURE && err != N_INVALID_KE_PAYLOAD)
		sa_probe(sa, sa->now_ms, SA_PROBE_DELAY_MS, "our rekey was refused");
	return true;
}

void sa_rekey_child_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
	struct ike_pl_any nonce, tsi, tsr;
	struct ike_algs algs;
	uint8_t gir[DH_MAX_SECRET_LEN], spi_out[IKE_MAX_SPI];
	size_t glen = 0;
	uint16_t dh;
	/*
	 * The SA our REKEY_SA named, not child_spi_in: a rekey by the gateway
	 * may have installed a newer Child SA meanwhile (§2.25.1), and that
	 * one must not be deleted in place of the one we replaced.
	 */
	uint32_t old = sa->collide.old_spi, spi_in = get_be32(sa->rk_spi);
	char why[320];
	bool redundant;

	if (refused(sa, m, "Child SA", &sa->cfg.esp_props, &sa->child_rekey_at)) {
		sa_collide_abort(sa);
		return;
	}
	if (sa_accepted(m, &sa->cfg.esp_props, PROTO_ESP, 4, &algs, &dh, spi_out) < 0 ||
	    !ike_encr_is_aead(algs.encr) || ike_algs_check(&algs, true) < 0)
		goto unusable;
	/*
	 * PFS: we sent KEi of a group (our proposal has DH), and the answer
	 * must choose that group and carry KEr (§1.3.1 ≈: the responder
	 * replies with the accepted offer and a Diffie-Hellman value in KEr
	 * if KEi was included and the chosen suite includes that group). A
	 * proposal without DH would derive the new keys from SK_d alone: our
	 * policy asks for PFS, so that is refused.
	 */
	if (sa->rk_dh.group && dh != sa->rk_dh.group) {
		log_warn("ike: gateway answered our Child SA rekey %s, but we asked for PFS with %s; "
			 "keeping Child SA %08x, retrying in %us", dh ? "with another DH group" :
			 "without PFS", ike_transform_name(TRANS_DH, sa->rk_dh.group), old,
			 REKEY_RETRY_MS / 1000);
		sa_collide_abort(sa);
		goto out;
	}
	if (sa_decode_first(m, PL_NONCE, &nonce) < 0 || sa_decode_first(m, PL_TSi, &tsi) < 0 ||
	    sa_decode_first(m, PL_TSr, &tsr) < 0 || rekey_gir(sa, m, dh, gir, &glen) < 0) {
unusable:
		log_warn("ike: unusable answer to our Child SA rekey; retrying in %us", REKEY_RETRY_MS / 1000);
		sa_probe(sa, now, SA_PROBE_DELAY_MS, "our Child SA rekey failed");
		sa_collide_abort(sa);
		goto out;
	}
	/* §2.9: the responder narrows what we proposed (sa->ts_i, ts_r); it must not widen it. */
	if (sa_ts_check(&tsi.u.ts, &sa->ts_i, "TSi", why, sizeof(why)) < 0 ||
	    sa_ts_check(&tsr.u.ts, &sa->ts_r, "TSr", why, sizeof(why)) < 0) {
		log_warn("ike: refused the gateway's answer to our Child SA rekey (TS_UNACCEPTABLE): "
			 "%s; keeping Child SA %08x, retrying in %us", why, old, REKEY_RETRY_MS / 1000);
		sa_collide_abort(sa);
		/* the gateway set up its side of the new Child SA: ask it to delete that */
		if (!sa->delete_child_spi)
			sa->delete_child_spi = spi_in;
		goto out;
	}
	sa->rekeys++;
	/* Queues the Delete of old, or settles a collision with the gateway's rekey of it. */
	redundant = sa_rekey_collision(sa, true, old, spi_in, sa->rk_ni, sizeof(sa->rk_ni),
				       nonce.u.nonce.data, nonce.u.nonce.len);
	sa_child_install(sa, &algs, spi_in, get_be32(spi_out), glen ? gir : NULL, glen, sa->rk_ni,
			 sizeof(sa->rk_ni), nonce.u.nonce.data, nonce.u.nonce.len, true, &tsi.u.ts,
			 &tsr.u.ts, NULL, redundant ? SA_INSTALL_REDUNDANT : SA_INSTALL_REKEY);
out:
	OPENSSL_cleanse(gir, sizeof(gir));
	dh_free(&sa->rk_dh);
}

void sa_delete_child_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
	struct sa_child *c = sa_child_by_spi(sa, sa->delete_child_spi, true);

	if (c) {
		log_info("ike: Child SA in %08x out %08x deleted", c->spi_in, c->spi_out);
		if (sa->ops.child_down)
			sa->ops.child_down(sa->ctx, c->spi_in);
		c->used = false;
	}
	sa->delete_child_spi = 0;
}

/* Replace the IKE SA's keys and SPIs (after either side rekeyed it). */
static int ike_switch(struct ike_sa *sa, const struct ike_keys *nk, const uint8_t spi_i[8],
		      const uint8_t spi_r[8], bool orig_initiator)
{
	struct sk_dir out, in;

	if (sk_init_ike(&out, nk, orig_initiator, true) < 0)
		return -1;
	if (sk_init_ike(&in, nk, orig_initiator, false) < 0) {
		sk_dir_free(&out);
		return -1;
	}
	sk_dir_free(&sa->sk_out);
	sk_dir_free(&sa->sk_in);
	sa->sk_out = out;
	sa->sk_in = in;
	ike_keys_clear(&sa->keys);
	sa->keys = *nk;
	memcpy(sa->spi_i, spi_i, 8);
	memcpy(sa->spi_r, spi_r, 8);
	sa->orig_initiator = orig_initiator;
	/* §2.18: the new IKE SA starts its message IDs at zero, in both directions. */
	sa->next_msg_id = 0;
	sa->peer_next_id = 0;
	sa->have_resp_cache = false;
	sa->rekeys++;
	sa_rekey_schedule(sa, true, false);
	log_info("ike: IKE SA rekeyed, now %016llx_i %016llx_r",
		 (unsigned long long)sa_spi_u64(spi_i), (unsigned long long)sa_spi_u64(spi_r));
	return 0;
}

void sa_rekey_ike_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
	struct ike_pl_any nonce;
	struct ike_algs algs;
	struct ike_keys nk;
	uint8_t gir[DH_MAX_SECRET_LEN], spi_r[8];
	size_t glen = 0;
	uint16_t dh;

	memset(&nk, 0, sizeof(nk));
	if (refused(sa, m, "IKE SA", &sa->cfg.ike_props, &sa->ike_rekey_at))
		return;
	if (sa_accepted(m, &sa->cfg.ike_props, PROTO_IKE, 8, &algs, &dh, spi_r) < 0 ||
	    dh != sa->rk_dh.group || ike_algs_check(&algs, false) < 0 ||
	    sa_decode_first(m, PL_NONCE, &nonce) < 0 || rekey_gir(sa, m, dh, gir, &glen) < 0) {
		log_warn("ike: unusable answer to our IKE SA rekey; retrying in %us", REKEY_RETRY_MS / 1000);
		sa_probe(sa, now, SA_PROBE_DELAY_MS, "our IKE SA rekey failed");
		goto out;
	}
	/* §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), with the new SPIs. */
	if (ike_keys_derive_rekey(&nk, &algs, &sa->keys, gir, glen, sa->rk_ni, sizeof(sa->rk_ni),
				  nonce.u.nonce.data, nonce.u.nonce.len, sa->rk_spi, spi_r) < 0) {
		log_warn("ike: cannot derive the rekeyed IKE SA's keys");
		goto out;
	}
	if (sa_delete_once(sa) < 0)
		log_debug("ike: DELETE for the replaced IKE SA not sent");
	sa->algs = algs;
	sa->dh_group = dh;
	if (ike_switch(sa, &nk, sa->rk_spi, spi_r, true) < 0)
		sa_fail(sa, IKE_FAIL_LOCAL, "cannot switch to the rekeyed IKE SA");
out:
	ike_keys_clear(&nk);
	OPENSSL_cleanse(gir, sizeof(gir));
	dh_free(&sa->rk_dh);
}

void sa_old_drop(struct ike_sa *sa)
{
	if (!sa->old.active)
		return;
	sk_dir_free(&sa->old.sk_in);
	sk_dir_free(&sa->old.sk_out);
	sa_msg_free(&sa->old.resp);
	OPENSSL_cleanse(&sa->old, sizeof(sa->old));
}

/* Keep the current IKE SA's identity as "old" before the gateway's rekey replaces it. */
static void old_keep(struct ike_sa *sa)
{
	sa_old_drop(sa);
	sa->old.active = true;
	sa->old.orig_initiator = sa->orig_initiator;
	memcpy(sa->old.spi_i, sa->spi_i, 8);
	memcpy(sa->old.spi_r, sa->spi_r, 8);
	sa->old.sk_in = sa->sk_in;
	sa->old.sk_out = sa->sk_out;
	memset(&sa->sk_in, 0, sizeof(sa->sk_in));
	memset(&sa->sk_out, 0, sizeof(sa->sk_out));
	sa->old.expire_ms = sa->now_ms + OLD_SA_KEEP_MS;
	/* The answer to the rekey was just sent on it: if it is lost, the gateway retransmits. */
	if (sa->have_resp_cache && sa_msg_set(&sa->old.resp, sa->resp_cache.p, sa->resp_cache.len) == 0) {
		sa->old.have_resp = true;
		sa->old.resp_id = sa->peer_next_id - 1;
	}
}

/* A protected answer on the replaced IKE SA: an empty response to its request. */
static void old_reply(struct ike_sa *sa, const struct ike_msg *m)
{
	uint8_t hdr[IKE_HDR_LEN], out[256];
	struct ike_hdr h = { .version = IKE_VERSION, .exchange = m->hdr.exchange,
			     .msg_id = m->hdr.msg_id, .next_payload = PL_SK };
	struct wr w;
	size_t len;

	h.spi_i = m->hdr.spi_i;
	h.spi_r = m->hdr.spi_r;
	h.flags = IKE_FLAG_RESPONSE | (sa->old.orig_initiator ? IKE_FLAG_INITIATOR : 0);
	wr_init(&w, hdr, sizeof(hdr));
	if (ike_hdr_encode(&w, &h) < 0 ||
	    sk_encrypt(&sa->old.sk_out, hdr, PL_NONE, NULL, 0, out, sizeof(out), &len) < 0 ||
	    sa->ops.send(sa->ctx, out, len) < 0)
		log_debug("ike: answer on the replaced IKE SA not sent");
}

bool sa_old_input(struct ike_sa *sa, const struct ike_msg *cm, const uint8_t *msg, size_t len)
{
	static uint8_t plain[IKE_PL_BODY_MAX];	/* SK's body at most, as in ike_sa_input() */
	struct ike_msg m = *cm;
	size_t plen;
	uint8_t first;
	unsigned it = 0;
	const struct ike_pl *p;
	bool deleted = false;

	if (!sa->old.active || !m.has_sk || m.sk_type != PL_SK ||
	    m.hdr.spi_i != sa_spi_u64(sa->old.spi_i) || m.hdr.spi_r != sa_spi_u64(sa->old.spi_r))
		return false;
	if (sk_decrypt(&sa->old.sk_in, msg, len, m.sk_off, plain, sizeof(plain), &plen, &first) < 0)
		return true;	/* ours, but not authentic: dropped (sk_decrypt wiped plain) */
	if (ike_msg_decode_inner(&m, first, plain, plen) < 0) {
		OPENSSL_cleanse(plain, plen);
		return true;	/* authentic but malformed: dropped */
	}
	if (m.hdr.flags & IKE_FLAG_RESPONSE) {
		OPENSSL_cleanse(plain, plen);
		return true;	/* the answer to our DELETE of it */
	}
	/* §2.3: a retransmitted request is answered with the same response, not processed again. */
	if (sa->old.have_resp && m.hdr.msg_id == sa->old.resp_id) {
		if (sa->ops.send(sa->ctx, sa->old.resp.p, sa->old.resp.len) < 0)
			log_debug("ike: resend on the replaced IKE SA failed");
		OPENSSL_cleanse(plain, plen);
		return true;
	}
	while ((p = ike_msg_find(&m, PL_DELETE, &it))) {
		struct ike_pl_delete d;

		if (ike_pl_delete_decode(p, &d) == 0 && d.proto == PROTO_IKE)
			deleted = true;
	}
	old_reply(sa, &m);
	if (deleted) {
		log_info("ike: gateway deleted the replaced IKE SA");
		sa_old_drop(sa);
	}
	OPENSSL_cleanse(plain, plen);
	return true;
}

static int refuse(struct sa_refusal *no, uint16_t notify, uint16_t group, const char *why)
{
	*no = (struct sa_refusal){ .notify = notify, .group = group, .why = why };
	return -1;
}

/* Our answer to the gateway's IKE SA rekey (§1.3.2), built by the caller's reply helpers. */
int sa_rekey_ike_answer(struct ike_sa *sa, const struct ike_msg *m, struct ike_mw *b,
			struct ike_keys *nk, uint8_t spi_i[8], struct sa_refusal *no)
{
	struct ike_pl_any sap, nonce, ke;
	struct ike_proposal chosen;
	struct ike_algs algs;
	uint8_t gir[DH_MAX_SECRET_LEN], pub[DH_MAX_PUBLIC_LEN];
	size_t glen, publen;
	uint16_t dh;
	struct dh d = { 0 };
	int rc = -1;

	/* §1.3.2: "SA, Ni, KEi" are all mandatory in a request to rekey the IKE SA */
	if (sa_decode_first(m, PL_SA, &sap) < 0 || sa_decode_first(m, PL_NONCE, &nonce) < 0 ||
	    sa_decode_first(m, PL_KE, &ke) < 0)
		return refuse(no, N_INVALID_SYNTAX, 0, "SA, nonce or KE payload missing or malformed");
	if (sa_choose(&sa->cfg.ike_props, &sap.u.sa, PROTO_IKE, ke.u.ke.group, &chosen, &algs,
		      &dh) < 0 || !dh)
		return refuse(no, N_NO_PROPOSAL_CHOSEN, 0, "none of its IKE proposals is one of ours");
	/*
	 * §1.3.2 refers to §1.2 / §3.10.1: a KE of another group than the one
	 * chosen is answered INVALID_KE_PAYLOAD with the group we want.
	 */
	if (ke.u.ke.group != dh)
		return refuse(no, N_INVALID_KE_PAYLOAD, dh, "its KE payload is not of the group we chose");
	memcpy(spi_i, chosen.spi, 8);
	do {
		if (RAND_bytes(sa->rk_spi, 8) != 1 || RAND_bytes(sa->rk_ni, sizeof(sa->rk_ni)) != 1)
			return refuse(no, N_NO_PROPOSAL_CHOSEN, 0, "no random numbers");
	} while (!memcmp(sa->rk_spi, "\0\0\0\0\0\0\0\0", 8));
	memcpy(chosen.spi, sa->rk_spi, 8);
	refuse(no, N_NO_PROPOSAL_CHOSEN, 0, "cannot compute the new keys (bad KE value?)");
	if (dh_new(&d, dh) < 0 || dh_public(&d, pub, sizeof(pub), &publen) < 0 ||
	    dh_derive(&d, ke.u.ke.data, ke.u.ke.len, gir, sizeof(gir), &glen) < 0)
		goto out;
	/* The gateway started this exchange: its nonce is Ni, its new SPI is SPIi (§2.18). */
	if (ike_keys_derive_rekey(nk, &algs, &sa->keys, gir, glen, nonce.u.nonce.data,
				  nonce.u.nonce.len, sa->rk_ni, sizeof(sa->rk_ni), spi_i,
				  sa->rk_spi) < 0)
		goto out;
	struct ike_pl_nonce np = { .data = sa->rk_ni, .len = sizeof(sa->rk_ni) };
	struct ike_pl_ke kp = { .group = dh, .data = pub, .len = (uint16_t)publen };

	refuse(no, N_NO_PROPOSAL_CHOSEN, 0, "our answer does not fit a message");
	if (ike_put_sa(b, &chosen, 1) < 0 || ike_put_nonce(b, &np) < 0 || ike_put_ke(b, &kp) < 0)
		goto out;
	sa->algs = algs;
	sa->dh_group = dh;
	rc = 0;
out:
	dh_free(&d);
	OPENSSL_cleanse(gir, sizeof(gir));
	return rc;
}

/* After the answer went out on the current SA: keep it as "old" and switch. */
void sa_rekey_ike_commit(struct ike_sa *sa, struct ike_keys *nk, const uint8_t spi_i[8])
{
	old_keep(sa);
	/* The initiator of the rekey is the original initiator of the new IKE SA (§2.18). */
	if (ike_switch(sa, nk, spi_i, sa->rk_spi, false) < 0)
		sa_fail(sa, IKE_FAIL_LOCAL, "cannot switch to the rekeyed IKE SA");
}
