/* IKE_SA_INIT (RFC 7296 §1.2): the first exchange, in the clear. */
#include "ike/sa_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ike/names.h"
#include "util/log.h"

#define SA_MAX_INIT_RETRIES 4

/* §2.23: SHA-1(SPIi | SPIr | IP | Port) */
int sa_natd_hash(const struct ike_sa *sa, const uint8_t *ip, uint16_t port,
		     uint8_t out[IKE_NAT_DETECTION_LEN])
{
	uint8_t buf[8 + 8 + 16 + 2];
	size_t iplen = sa->cfg.family == AF_INET6 ? 16 : 4;
	unsigned outl;

	memcpy(buf, sa->spi_i, 8);
	memcpy(buf + 8, sa->spi_r, 8);
	memcpy(buf + 16, ip, iplen);
	put_be16(buf + 16 + iplen, port);
	return EVP_Digest(buf, 16 + iplen + 2, out, &outl, EVP_sha1(), NULL) == 1 ? 0 : -1;
}

bool sa_group_offered(const struct proposal_list *l, uint16_t group)
{
	for (unsigned i = 0; i < l->n; i++)
		for (unsigned j = 0; j < l->p[i].n_dh; j++)
			if (l->p[i].dh[j] == group)
				return true;
	return false;
}

void sa_take_alg(const struct ike_transform *t, struct ike_algs *algs, uint16_t *dh)
{
	switch (t->type) {
	case TRANS_ENCR: algs->encr = t->id; algs->encr_keybits = t->key_len; break;
	case TRANS_PRF: algs->prf = t->id; break;
	case TRANS_INTEG: algs->integ = t->id; break;
	case TRANS_DH: *dh = t->id; break;
	default: break;
	}
}

static int add_transform(struct ike_proposal *p, uint8_t type, uint16_t id, uint16_t key_len)
{
	if (p->n_trans >= IKE_PROP_MAX_BUILD)
		return -1;
	p->trans[p->n_trans++] = (struct ike_transform){ .type = type, .id = id, .key_len = key_len };
	return 0;
}

/* Our proposals (protocol IKE or ESP) as an SA payload, numbered 1..n. */
int sa_put_proposals(struct ike_mw *b, const struct proposal_list *l, uint8_t proto,
		     const uint8_t *spi, uint8_t spi_size)
{
	struct ike_proposal props[PROP_LIST_MAX];

	if (l->n == 0 || l->n > PROP_LIST_MAX)
		return -1;
	memset(props, 0, sizeof(props));
	for (unsigned i = 0; i < l->n; i++) {
		const struct proposal *pp = &l->p[i];
		struct ike_proposal *p = &props[i];
		int rc = 0;

		p->num = (uint8_t)(i + 1);
		p->proto = proto;
		p->spi_size = spi_size;
		if (spi_size)
			memcpy(p->spi, spi, spi_size);
		for (unsigned j = 0; j < pp->n_encr; j++)
			rc |= add_transform(p, TRANS_ENCR, pp->encr[j].id, pp->encr[j].key_bits);
		for (unsigned j = 0; j < pp->n_prf; j++)
			rc |= add_transform(p, TRANS_PRF, pp->prf[j], 0);
		for (unsigned j = 0; j < pp->n_integ; j++)
			rc |= add_transform(p, TRANS_INTEG, pp->integ[j], 0);
		for (unsigned j = 0; j < pp->n_dh; j++)
			rc |= add_transform(p, TRANS_DH, pp->dh[j], 0);
		if (proto == PROTO_ESP) {
			if (pp->n_esn == 0)
				rc |= add_transform(p, TRANS_ESN, ESN_NO, 0);
			for (unsigned j = 0; j < pp->n_esn; j++)
				rc |= add_transform(p, TRANS_ESN, pp->esn[j], 0);
		}
		if (rc)
			return -1;
	}
	return ike_put_sa(b, props, l->n);
}

static int put_natd(struct ike_mw *b, uint16_t type, const uint8_t *hash)
{
	struct ike_pl_notify n = { .type = type, .data = hash, .len = IKE_NAT_DETECTION_LEN };

	return ike_put_notify(b, &n);
}

int sa_put_natd(struct ike_sa *sa, struct ike_mw *b)
{
	uint8_t src[IKE_NAT_DETECTION_LEN], dst[IKE_NAT_DETECTION_LEN];

	/*
	 * §2.23: a peer "MAY" pretend to be behind a NAT to force UDP
	 * encapsulation: ikeagent does ESP in userspace over UDP 4500 only,
	 * so it sends a source hash that cannot match (as strongSwan's encap).
	 */
	if (sa->cfg.force_encap) {
		if (RAND_bytes(src, sizeof(src)) != 1)
			return -1;
	} else if (sa_natd_hash(sa, sa->cfg.local_ip, sa->cfg.local_port, src) < 0) {
		return -1;
	}
	if (sa_natd_hash(sa, sa->cfg.remote_ip, sa->cfg.remote_port, dst) < 0 ||
	    put_natd(b, N_NAT_DETECTION_SOURCE_IP, src) < 0 ||
	    put_natd(b, N_NAT_DETECTION_DESTINATION_IP, dst) < 0)
		return -1;
	return 0;
}

bool sa_natd_ours(const struct ike_sa *sa, const struct ike_msg *m, bool *have)
{
	struct ike_pl_notify n;
	uint8_t h[IKE_NAT_DETECTION_LEN];

	/* §2.23: a NAT_DETECTION_DESTINATION_IP that does not match the hash of our
	 * address and port means that we are behind a NAT. */
	*have = sa_find_notify(m, N_NAT_DETECTION_DESTINATION_IP, &n) != NULL;
	if (!*have)
		return false;
	return !(sa_natd_hash(sa, sa->cfg.local_ip, sa->cfg.local_port, h) == 0 &&
		 n.len == sizeof(h) && CRYPTO_memcmp(h, n.data, sizeof(h)) == 0);
}

static int init_build(struct ike_sa *sa, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t ke[DH_MAX_PUBLIC_LEN];
	struct ike_hdr h;
	struct ike_mw b;
	struct wr w;
	size_t kelen;

	if (dh_public(&sa->dh, ke, sizeof(ke), &kelen) < 0)
		return -1;
	sa_hdr(sa, &h, IKE_SA_INIT, false, 0);
	wr_init(&w, buf, cap);
	if (ike_mw_begin(&b, &w, &h) < 0)
		return -1;
	/* §2.6: the COOKIE notify MUST be the first payload of the retried request. */
	if (sa->cookie_len) {
		struct ike_pl_notify n = { .type = N_COOKIE, .data = sa->cookie,
					   .len = (uint16_t)sa->cookie_len };

		if (ike_put_notify(&b, &n) < 0)
			return -1;
	}
	struct ike_pl_ke kep = { .group = sa->dh_group, .data = ke, .len = (uint16_t)kelen };
	struct ike_pl_nonce np = { .data = sa->ni, .len = SA_NONCE_LEN };

	if (sa_put_proposals(&b, &sa->cfg.ike_props, PROTO_IKE, NULL, 0) < 0 ||
	    ike_put_ke(&b, &kep) < 0 || ike_put_nonce(&b, &np) < 0 || sa_put_natd(sa, &b) < 0)
		return -1;
	/* RFC 7427 §4: announce the hashes we accept, so the gateway signs with one of them. */
	if (sa->cfg.trust || sa->cfg.cred) {
		uint8_t hashes[sizeof(ike_sig_hashes)];
		unsigned n = sizeof(ike_sig_hashes) / sizeof(ike_sig_hashes[0]);

		for (unsigned i = 0; i < n; i++)
			put_be16(hashes + 2 * i, ike_sig_hashes[i]);
		struct ike_pl_notify sh = { .type = N_SIGNATURE_HASH_ALGORITHMS, .data = hashes,
					    .len = (uint16_t)(2 * n) };
		if (ike_put_notify(&b, &sh) < 0)
			return -1;
	}
	return ike_mw_finish(&b, len);
}

int sa_init_send(struct ike_sa *sa, uint64_t now)
{
	uint8_t buf[SA_MSG_MAX];
	size_t len;

	if (!sa->dh_group) {
		if (sa->cfg.ike_props.n == 0 || sa->cfg.ike_props.p[0].n_dh == 0)
			return -1;
		sa->dh_group = sa->cfg.ike_props.p[0].dh[0];
	}
	if (!sa->dh.group && dh_new(&sa->dh, sa->dh_group) < 0)
		return -1;
	if (init_build(sa, buf, sizeof(buf), &len) < 0)
		return -1;
	free(sa->init_req);
	sa->init_req = malloc(len);
	if (!sa->init_req)
		return -1;
	memcpy(sa->init_req, buf, len);
	sa->init_req_len = len;
	sa->next_msg_id = 0;
	log_info("ike: IKE_SA_INIT sent (%s, %zu bytes)",
		 ike_transform_name(TRANS_DH, sa->dh_group), len);
	return sa_send_request(sa, REQ_INIT, IKE_SA_INIT, buf, len, now);
}

/*
 * COOKIE (§2.6) and INVALID_KE_PAYLOAD (§1.2): retry IKE_SA_INIT. 1 =
 * handled (retried, or an unusable one noted by sa_unverified()), -1 =
 * malformed. Both arrive in the clear: a group we did not offer, or
 * retries without end, are not the gateway's word, only a likely cause.
 */
static int init_retry(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
	struct ike_pl_notify n;

	if (sa_find_notify(m, N_COOKIE, &n)) {
		if (n.len < 1 || n.len > IKE_COOKIE_MAX)
			return -1;
		if (sa->ke_retries + 1 > SA_MAX_INIT_RETRIES) {
			sa_unverified(sa, "IKE_SA_INIT answer N(COOKIE) after %d retries",
				      SA_MAX_INIT_RETRIES);
			return 1;
		}
		memcpy(sa->cookie, n.data, n.len);
		sa->cookie_len = n.len;
		log_info("ike: gateway asked for a COOKIE, retrying IKE_SA_INIT");
	} else if (sa_find_notify(m, N_INVALID_KE_PAYLOAD, &n)) {
		uint16_t g;

		if (n.len != 2)
			return -1;
		g = get_be16(n.data);
		/* Never a group we do not accept: a forged notify must not downgrade us. */
		if (!sa_group_offered(&sa->cfg.ike_props, g) || g == sa->dh_group) {
			sa_unverified(sa, "IKE_SA_INIT answer N(INVALID_KE_PAYLOAD) for DH group %s, "
				      "which we %s", ike_transform_name(TRANS_DH, g),
				      g == sa->dh_group ? "sent" : "did not offer");
			return 1;
		}
		if (sa->ke_retries + 1 > SA_MAX_INIT_RETRIES) {
			sa_unverified(sa, "IKE_SA_INIT answer N(INVALID_KE_PAYLOAD) after %d retries",
				      SA_MAX_INIT_RETRIES);
			return 1;
		}
		log_info("ike: gateway prefers DH group %s, retrying IKE_SA_INIT",
			 ike_transform_name(TRANS_DH, g));
		dh_free(&sa->dh);
		sa->dh_group = g;
	} else {
		return 0;
	}
	sa->ke_retries++;
	sa->req.active = false;
	if (sa_init_send(sa, now) < 0)
		sa_fail(sa, IKE_FAIL_LOCAL, "cannot rebuild IKE_SA_INIT");
	return 1;
}

bool sa_offered(const struct proposal *pp, const struct ike_transform *t)
{
	const uint16_t *ids = NULL;
	unsigned n = 0;

	switch (t->type) {
	case TRANS_ENCR:
		for (unsigned i = 0; i < pp->n_encr; i++)
			if (pp->encr[i].id == t->id && pp->encr[i].key_bits == t->key_len)
				return true;
		return false;
	case TRANS_PRF: ids = pp->prf; n = pp->n_prf; break;
	case TRANS_INTEG: ids = pp->integ; n = pp->n_integ; break;
	case TRANS_DH: ids = pp->dh; n = pp->n_dh; break;
	case TRANS_ESN:
		if (pp->n_esn == 0)
			return t->id == ESN_NO;
		ids = pp->esn; n = pp->n_esn; break;
	default:
		return false;
	}
	for (unsigned i = 0; i < n; i++)
		if (ids[i] == t->id)
			return true;
	return false;
}

/*
 * §2.7: the responder picks one proposal and one transform of each type
 * from it. Check that it is one we offered, and return the algorithms.
 */
static int check_choice(const struct proposal_list *l, const struct ike_sa_prop *p,
			struct ike_algs *algs, uint16_t *dh)
{
	const struct proposal *pp;
	struct ike_transform t;
	struct rd trs;
	unsigned seen = 0;

	if (p->num < 1 || p->num > l->n)
		return -1;
	pp = &l->p[p->num - 1];
	memset(algs, 0, sizeof(*algs));
	*dh = 0;
	for (trs = p->trans; ike_sa_next_trans(&trs, &t);) {
		if (t.type == 0 || t.type > TRANS_ESN || (seen & (1u << t.type)) ||
		    !sa_offered(pp, &t))
			return -1;
		seen |= 1u << t.type;
		sa_take_alg(&t, algs, dh);
	}
	return algs->encr ? 0 : -1;
}

int sa_accepted(const struct ike_msg *m, const struct proposal_list *l, uint8_t proto,
		uint8_t spi_size, struct ike_algs *algs, uint16_t *dh, uint8_t spi[IKE_MAX_SPI])
{
	struct ike_pl_any sap;
	struct ike_sa_prop p;
	struct rd props;

	/* §3.3: "the SA payload in the response MUST contain exactly one proposal" (§2.7) */
	if (sa_decode_first(m, PL_SA, &sap) < 0 || sap.u.sa.n_prop != 1)
		return -1;
	props = ike_sa_props(&sap.u.sa);
	if (!ike_sa_next_prop(&props, &p) || p.proto != proto || p.spi_size != spi_size ||
	    check_choice(l, &p, algs, dh) < 0)
		return -1;
	if (spi)
		memcpy(spi, p.spi, spi_size);
	return 0;
}

static int init_choose(struct ike_sa *sa, const struct ike_msg *m)
{
	uint16_t dh;

	if (sa_accepted(m, &sa->cfg.ike_props, PROTO_IKE, 0, &sa->algs, &dh, NULL) < 0 ||
	    dh != sa->dh_group || ike_algs_check(&sa->algs, false) < 0)
		return -1;
	return 0;
}

/* Keys from the gateway's KE and nonce; on failure nothing changed and our DH stays. */
static int init_keys(struct ike_sa *sa, const struct ike_msg *m)
{
	unsigned it = 0, it2 = 0;
	const struct ike_pl *kp = ike_msg_find(m, PL_KE, &it), *np = ike_msg_find(m, PL_NONCE, &it2);
	uint8_t gir[DH_MAX_SECRET_LEN];
	struct ike_pl_ke ke;
	struct ike_pl_nonce n;
	size_t glen;
	int rc = -1;

	if (!kp || !np || ike_pl_ke_decode(kp, &ke) < 0 || ike_pl_nonce_decode(np, &n) < 0 ||
	    ke.group != sa->dh_group || n.len > sizeof(sa->nr))
		return -1;
	if (dh_derive(&sa->dh, ke.data, ke.len, gir, sizeof(gir), &glen) < 0)
		goto out;
	memcpy(sa->nr, n.data, n.len);
	sa->nr_len = n.len;
	if (ike_keys_derive(&sa->keys, &sa->algs, gir, glen, sa->ni, SA_NONCE_LEN, sa->nr,
			    sa->nr_len, sa->spi_i, sa->spi_r) < 0)
		goto out;
	if (sk_init_ike(&sa->sk_out, &sa->keys, true, true) < 0 ||
	    sk_init_ike(&sa->sk_in, &sa->keys, true, false) < 0) {
		sk_dir_free(&sa->sk_out);
		sk_dir_free(&sa->sk_in);
		ike_keys_clear(&sa->keys);
		goto out;
	}
	sa->have_keys = true;
	dh_free(&sa->dh);
	rc = 0;
out:
	OPENSSL_cleanse(gir, sizeof(gir));
	return rc;
}

static void init_log_nat(struct ike_sa *sa, const struct ike_msg *m)
{
	bool have;

	sa->mob.nat = sa_natd_ours(sa, m, &have);
	if (!have)
		log_info("ike: gateway sent no NAT detection; using port 4500 anyway");
	else if (!sa->mob.nat)
		log_info("ike: no NAT between us and the gateway; forcing UDP encapsulation");
	else
		log_info("ike: NAT detected on our side");
}

/*
 * RFC 7296 §2.21.1 ≈: the IKE_SA_INIT response is not cryptographically
 * protected; an error notify in it, or an SA/KE we cannot use, may come
 * from anyone on the path. Such answers are noted (sa_unverified()) and
 * the request stays outstanding until a usable answer or the end of its
 * retransmission budget.
 */
void sa_init_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
	uint16_t err;
	int r = init_retry(sa, m, now);

	if (r != 0) {
		if (r < 0)
			log_debug("ike: dropped IKE_SA_INIT response with a malformed notify");
		return;
	}
	if (sa_first_error_notify(m, &err) == 0) {
		sa_unverified(sa, "IKE_SA_INIT answer N(%s)", ike_notify_name(err));
		return;
	}
	if (m->hdr.spi_r == 0) {
		log_debug("ike: dropped IKE_SA_INIT response without responder SPI");
		return;
	}
	if (init_choose(sa, m) < 0) {
		sa_unverified(sa, "IKE_SA_INIT answer with an IKE proposal we did not offer");
		return;
	}
	put_be32(sa->spi_r, (uint32_t)(m->hdr.spi_r >> 32));
	put_be32(sa->spi_r + 4, (uint32_t)m->hdr.spi_r);
	if (init_keys(sa, m) < 0) {
		memset(sa->spi_r, 0, sizeof(sa->spi_r));
		sa_unverified(sa, "IKE_SA_INIT answer with a KE or nonce we cannot use");
		return;
	}
	sa->answers++;
	sa->req.active = false;
	sa->next_msg_id = 1;
	sa->unverified[0] = '\0';
	free(sa->init_resp);
	sa->init_resp = malloc(m->raw_len);
	if (!sa->init_resp) {
		sa_fail(sa, IKE_FAIL_LOCAL, "out of memory");
		return;
	}
	memcpy(sa->init_resp, m->raw, m->raw_len);
	sa->init_resp_len = m->raw_len;
	log_info("ike: IKE_SA_INIT done: %s-%s-%s", ike_transform_name(TRANS_ENCR, sa->algs.encr),
		 ike_transform_name(TRANS_PRF, sa->algs.prf), ike_transform_name(TRANS_DH, sa->dh_group));
	init_log_nat(sa, m);
	{
		struct ike_pl_notify sh;

		if (sa_find_notify(m, N_SIGNATURE_HASH_ALGORITHMS, &sh))
			for (unsigned i = 0; i + 1 < sh.len && sa->n_peer_hashes < 8; i += 2)
				sa->peer_hashes[sa->n_peer_hashes++] = get_be16(sh.data + i);
	}
	/* §2.23: after NAT detection, both sides move to port 4500. */
	if (sa->ops.float_port)
		sa->ops.float_port(sa->ctx);
	sa->on_nat_port = true;
	if (sa_auth_send(sa, now) < 0)
		sa_fail(sa, IKE_FAIL_LOCAL, "cannot build IKE_AUTH");
}
