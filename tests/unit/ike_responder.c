/* Test-only scripted IKEv2 responder; see ike_responder.h. #included by test files. */
#include "tests/unit/ike_responder.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>

#include "ike/auth.h"
#include "util/log.h"

uint64_t be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* ---- the agent side: ops that record ---- */

static int h_send(void *ctx, const uint8_t *msg, size_t len)
{
	struct harness *h = ctx;
	struct h_msg *m = &h->q[h->nq % H_QLEN];

	ck_assert_uint_le(len, sizeof(m->buf));
	memcpy(m->buf, msg, len);
	m->len = len;
	h->nq++;
	return 0;
}

static void h_float(void *ctx)
{
	struct harness *h = ctx;

	if (h->n_float++ == 0)
		h->float_at_nq = h->nq;
}

static void h_child_up(void *ctx, const struct ike_child_info *ci)
{
	struct harness *h = ctx;
	struct h_child *c = &h->up[h->n_up++];

	ck_assert_uint_le(h->n_up, 8);
	ck_assert_uint_le(ci->key_len, IKE_ENCR_KEY_MAX);
	c->ci = *ci;
	memcpy(c->key_in, ci->key_in, ci->key_len);
	memcpy(c->key_out, ci->key_out, ci->key_len);
	c->ci.key_in = c->key_in;
	c->ci.key_out = c->key_out;
}

static void h_child_down(void *ctx, uint32_t spi_in)
{
	struct harness *h = ctx;

	ck_assert_uint_lt(h->n_down, 8);
	h->down[h->n_down++] = spi_in;
}

static void h_state(void *ctx, enum ike_sa_state old, enum ike_sa_state now)
{
	struct harness *h = ctx;

	ck_assert_uint_lt(h->n_states, 16);
	h->states[h->n_states++] = now;
}

static void h_moved(void *ctx, int result, const char *why)
{
	struct harness *h = ctx;

	ck_assert_uint_lt(h->n_moved, 8);
	h->moved[h->n_moved++] = result;
	snprintf(h->moved_why, sizeof(h->moved_why), "%s", why);
}

static const struct ike_sa_ops h_ops = {
	.send = h_send, .float_port = h_float, .child_up = h_child_up,
	.child_down = h_child_down, .state_changed = h_state, .moved = h_moved,
};

void h_init(struct harness *h, const char *ike, const char *esp)
{
	struct ike_sa_cfg *c = &h->cfg;
	char err[128];

	log_set_level(getenv("SA_TEST_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERR);
	/* All but the queue's 2 MB of buffers (only what len says is read): the fuzzer calls this per run. */
	memset(h, 0, offsetof(struct harness, q));
	memset(&h->nq, 0, sizeof(*h) - offsetof(struct harness, nq));
	for (unsigned i = 0; i < H_QLEN; i++)
		h->q[i].len = 0;
	h->now = 1000000;
	ck_assert_int_eq(ike_id_parse("client@example.com", &c->local_id), 0);
	ck_assert_int_eq(ike_id_parse(GW_ID, &c->remote_id), 0);
	c->psk = (const uint8_t *)GW_PSK;
	c->psk_len = strlen(GW_PSK);
	ck_assert_msg(proposal_list_parse(PROTO_IKE, ike, &c->ike_props, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(proposal_list_parse(PROTO_ESP, esp, &c->esp_props, err, sizeof(err)) == 0, "%s", err);
	c->want_vip = c->want_dns = true;
	c->retransmit_ms = 500;
	c->retransmit_tries = 4;
	c->family = AF_INET;
	inet_pton(AF_INET, "192.168.1.10", c->local_ip);
	c->local_port = 500;
	inet_pton(AF_INET, "203.0.113.1", c->remote_ip);
	c->remote_port = 500;
	c->force_encap = true;
}

void h_new(struct harness *h)
{
	h->sa = ike_sa_new(&h->cfg, &h_ops, h);
	ck_assert_ptr_nonnull(h->sa);
}

void h_free(struct harness *h)
{
	ike_sa_free(h->sa);
	h->sa = NULL;
}

const struct h_msg *h_last(const struct harness *h)
{
	ck_assert_uint_gt(h->nq, 0);
	return &h->q[(h->nq - 1) % H_QLEN];
}

void h_input(struct harness *h, const uint8_t *msg, size_t len)
{
	ike_sa_input(h->sa, msg, len, h->now);
}

/* ---- the gateway ---- */

static void ts_range(struct ike_pl_ts *ts, const char *from, const char *to)
{
	memset(ts, 0, sizeof(*ts));
	ts->n = 1;
	ts->ts[0].type = TS_IPV4_ADDR_RANGE;
	ts->ts[0].end_port = 65535;
	inet_pton(AF_INET, from, ts->ts[0].start);
	inet_pton(AF_INET, to, ts->ts[0].end);
}

void gw_init(struct gw *g)
{
	memset(g, 0, sizeof(*g));
	g->psk = g->my_psk = GW_PSK;
	ts_range(&g->ts_client, "10.9.0.7", "10.9.0.7");
	ts_range(&g->ts_net, "10.1.0.0", "10.1.255.255");
}

static void gw_ike_free(struct gw_ike *k)
{
	sk_dir_free(&k->in);
	sk_dir_free(&k->out);
	ike_keys_clear(&k->keys);
}

void gw_free(struct gw *g)
{
	gw_ike_free(&g->ike);
	gw_ike_free(&g->old);
	ike_trust_free(g->trust);
	ike_cred_free(g->cred);
	g->trust = NULL;
	g->cred = NULL;
}

void gw_open(struct gw *g, struct gw_ike *k, const uint8_t *msg, size_t len)
{
	size_t plen;
	uint8_t first;

	ck_assert_uint_le(len, sizeof(g->raw));
	memcpy(g->raw, msg, len);
	ck_assert_int_eq(ike_msg_decode(&g->m, g->raw, len), 0);
	if (!g->m.has_sk)
		return;
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(sk_decrypt(&k->in, g->raw, len, g->m.sk_off, g->plain, sizeof(g->plain),
				    &plen, &first), 0);
	ck_assert_int_eq(ike_msg_decode_inner(&g->m, first, g->plain, plen), 0);
}

void gw_delete(struct ike_mw *b, uint8_t proto, uint32_t spi)
{
	struct ike_pl_delete d = { .proto = proto };

	if (proto == PROTO_ESP) {
		d.spi_size = 4;
		d.n_spi = 1;
		d.spi[0] = spi;
	}
	ck_assert_int_eq(ike_put_delete(b, &d), 0);
}

bool gw_has(struct gw *g, uint8_t type)
{
	unsigned it = 0;

	return ike_msg_find(&g->m, type, &it) != NULL;
}

void gw_get(struct gw *g, uint8_t type, struct ike_pl_any *a)
{
	unsigned it = 0;
	const struct ike_pl *p = ike_msg_find(&g->m, type, &it);

	ck_assert_msg(p != NULL, "no payload %u", type);
	ck_assert_int_eq(ike_pl_any_decode(p, a), 0);
}

bool gw_has_notify(struct gw *g, uint16_t type, struct ike_pl_notify *n)
{
	unsigned it = 0;
	const struct ike_pl *p;

	while ((p = ike_msg_find(&g->m, PL_NOTIFY, &it)))
		if (ike_pl_notify_decode(p, n) == 0 && n->type == type)
			return true;
	return false;
}

void gw_begin(struct gw_out *o)
{
	wr_init(&o->w, o->plain, sizeof(o->plain));
	ck_assert_int_eq(ike_mw_begin_inner(&o->b, &o->w), 0);
}

void gw_notify(struct ike_mw *b, uint16_t type, uint8_t proto, uint32_t spi)
{
	struct ike_pl_notify n = { .type = type, .proto = proto, .spi_size = proto ? 4 : 0 };

	put_be32(n.spi, spi);
	ck_assert_int_eq(ike_put_notify(b, &n), 0);
}

void gw_seal(struct gw *g, struct gw_ike *k, struct gw_out *o, uint8_t exch, bool response,
	     uint32_t msg_id)
{
	struct ike_hdr h = { .version = IKE_VERSION, .exchange = exch, .msg_id = msg_id,
			     .next_payload = PL_SK };
	uint8_t hdr[IKE_HDR_LEN];
	struct wr w;
	size_t plen;

	h.spi_i = be64(k->spi_i);
	h.spi_r = be64(k->spi_r);
	h.flags = (k->initiator ? IKE_FLAG_INITIATOR : 0) | (response ? IKE_FLAG_RESPONSE : 0);
	ck_assert_int_eq(ike_mw_finish(&o->b, &plen), 0);
	wr_init(&w, hdr, sizeof(hdr));
	ck_assert_int_eq(ike_hdr_encode(&w, &h), 0);
	ck_assert_int_eq(sk_encrypt(&k->out, hdr, ike_mw_first(&o->b), o->plain, plen, g->out,
				    sizeof(g->out), &g->out_len), 0);
}

void gw_request(struct gw *g, struct gw_ike *k, struct gw_out *o, uint8_t exch)
{
	gw_seal(g, k, o, exch, false, k->next_req++);
}

void gw_answer(struct gw *g, struct gw_ike *k, struct gw_out *o)
{
	gw_seal(g, k, o, g->m.hdr.exchange, true, g->m.hdr.msg_id);
}

void gw_expect_response(struct gw *g, struct gw_ike *k, const struct harness *h, uint8_t exch,
			uint32_t id)
{
	const struct h_msg *m = h_last(h);

	gw_open(g, k, m->buf, m->len);
	ck_assert(g->m.hdr.flags & IKE_FLAG_RESPONSE);
	ck_assert_uint_eq(g->m.hdr.exchange, exch);
	ck_assert_uint_eq(g->m.hdr.msg_id, id);
	ck_assert_uint_eq(g->m.hdr.spi_i, be64(k->spi_i));
	ck_assert_uint_eq(g->m.hdr.spi_r, be64(k->spi_r));
}

uint32_t gw_expect_request(struct gw *g, struct gw_ike *k, const struct harness *h, uint8_t exch)
{
	const struct h_msg *m = h_last(h);

	gw_open(g, k, m->buf, m->len);
	ck_assert(!(g->m.hdr.flags & IKE_FLAG_RESPONSE));
	ck_assert_uint_eq(g->m.hdr.exchange, exch);
	ck_assert_uint_eq(g->m.hdr.spi_i, be64(k->spi_i));
	ck_assert_uint_eq(g->m.hdr.spi_r, be64(k->spi_r));
	/* §3.1: the original initiator of the IKE SA sets the Initiator flag. */
	ck_assert_int_eq(!!(g->m.hdr.flags & IKE_FLAG_INITIATOR), !k->initiator);
	return g->m.hdr.msg_id;
}

void gw_pick(const struct ike_pl_sa *sa, bool with_dh, uint16_t want_dh,
	     struct ike_proposal *out, struct ike_algs *a, uint16_t *dh)
{
	struct rd props = ike_sa_props(sa), trs;
	struct ike_sa_prop p;
	struct ike_transform tr;
	const struct ike_transform *t = &tr;
	unsigned seen = 0;

	memset(out, 0, sizeof(*out));
	memset(a, 0, sizeof(*a));
	*dh = 0;
	ck_assert(ike_sa_next_prop(&props, &p));
	out->num = p.num;
	out->proto = p.proto;
	out->spi_size = p.spi_size;
	memcpy(out->spi, p.spi, sizeof(out->spi));
	for (trs = p.trans; ike_sa_next_trans(&trs, &tr);) {

		if ((seen & (1u << t->type)) ||
		    (t->type == TRANS_DH && (!with_dh || (want_dh && t->id != want_dh))))
			continue;
		seen |= 1u << t->type;
		out->trans[out->n_trans++] = *t;
		if (t->type == TRANS_ENCR) {
			a->encr = t->id;
			a->encr_keybits = t->key_len;
		} else if (t->type == TRANS_PRF) {
			a->prf = t->id;
		} else if (t->type == TRANS_INTEG) {
			a->integ = t->id;
		} else if (t->type == TRANS_DH) {
			*dh = t->id;
		}
	}
}

/* An IKE_SA_INIT response in the clear: header, then the payloads fill() writes. */
static void init_reply(struct gw *g, uint64_t spi_r, struct ike_mw *b, struct wr *w)
{
	struct ike_hdr h = { .version = IKE_VERSION, .exchange = IKE_SA_INIT,
			     .flags = IKE_FLAG_RESPONSE, .spi_i = g->m.hdr.spi_i, .spi_r = spi_r };

	wr_init(w, g->out, sizeof(g->out));
	ck_assert_int_eq(ike_mw_begin(b, w, &h), 0);
}

static void init_error(struct gw *g, uint16_t type, const void *data, uint16_t len)
{
	struct ike_pl_notify n = { .type = type, .data = data, .len = len };
	struct ike_mw b;
	struct wr w;

	init_reply(g, 0, &b, &w);
	ck_assert_int_eq(ike_put_notify(&b, &n), 0);
	ck_assert_int_eq(ike_mw_finish(&b, &g->out_len), 0);
}

void gw_sa_init(struct gw *g, const uint8_t *req, size_t len)
{
	static const uint8_t cookie[16] = "cookie-from-gw!";
	struct ike_pl_any sap, ke, nonce;
	struct ike_proposal chosen;
	struct ike_pl_notify cn;
	uint8_t pub[DH_MAX_PUBLIC_LEN], gir[DH_MAX_SECRET_LEN], natd[IKE_NAT_DETECTION_LEN] = { 1 };
	size_t publen, glen;
	struct dh d = { 0 };
	struct ike_mw b;
	struct wr w;

	gw_open(g, NULL, req, len);
	ck_assert_uint_eq(g->m.hdr.exchange, IKE_SA_INIT);
	ck_assert_uint_eq(g->m.hdr.flags, IKE_FLAG_INITIATOR);
	ck_assert_uint_eq(g->m.hdr.msg_id, 0);
	ck_assert_uint_eq(g->m.hdr.spi_r, 0);
	g->n_init_req++;
	gw_get(g, PL_SA, &sap);
	gw_get(g, PL_KE, &ke);
	gw_get(g, PL_NONCE, &nonce);
	if (g->cookie && !gw_has_notify(g, N_COOKIE, &cn)) {
		init_error(g, N_COOKIE, cookie, sizeof(cookie));
		return;
	}
	if (g->init_error) {
		init_error(g, g->init_error, NULL, 0);
		return;
	}
	if (g->want_group && ke.u.ke.group != g->want_group) {
		uint8_t grp[2];

		put_be16(grp, g->want_group);
		init_error(g, N_INVALID_KE_PAYLOAD, grp, 2);
		return;
	}
	gw_pick(&sap.u.sa, true, ke.u.ke.group, &chosen, &g->algs, &g->group);
	ck_assert_uint_eq(g->group, ke.u.ke.group);
	put_be64(g->ike.spi_i, g->m.hdr.spi_i);
	ck_assert_int_eq(RAND_bytes(g->ike.spi_r, 8), 1);
	ck_assert_int_eq(RAND_bytes(g->nr, sizeof(g->nr)), 1);
	memcpy(g->ni, nonce.u.nonce.data, nonce.u.nonce.len);
	g->ni_len = nonce.u.nonce.len;
	ck_assert_int_eq(dh_new(&d, g->group), 0);
	ck_assert_int_eq(dh_public(&d, pub, sizeof(pub), &publen), 0);
	ck_assert_int_eq(dh_derive(&d, ke.u.ke.data, ke.u.ke.len, gir, sizeof(gir), &glen), 0);
	dh_free(&d);

	struct ike_pl_ke kp = { .group = g->group, .data = pub, .len = (uint16_t)publen };
	struct ike_pl_nonce np = { .data = g->nr, .len = sizeof(g->nr) };
	struct ike_pl_notify src = { .type = N_NAT_DETECTION_SOURCE_IP, .data = natd,
				     .len = sizeof(natd) };
	struct ike_pl_notify dst = { .type = N_NAT_DETECTION_DESTINATION_IP, .data = natd,
				     .len = sizeof(natd) };

	init_reply(g, be64(g->ike.spi_r), &b, &w);
	ck_assert_int_eq(ike_put_sa(&b, &chosen, 1), 0);
	ck_assert_int_eq(ike_put_ke(&b, &kp), 0);
	ck_assert_int_eq(ike_put_nonce(&b, &np), 0);
	ck_assert_int_eq(ike_put_notify(&b, &src), 0);
	ck_assert_int_eq(ike_put_notify(&b, &dst), 0);
	ck_assert_int_eq(ike_mw_finish(&b, &g->out_len), 0);

	/* The gateway's keys, derived independently of the SA's. */
	gw_ike_free(&g->ike);
	ck_assert_int_eq(ike_keys_derive(&g->ike.keys, &g->algs, gir, glen, g->ni, g->ni_len, g->nr,
					 sizeof(g->nr), g->ike.spi_i, g->ike.spi_r), 0);
	ck_assert_int_eq(sk_init_ike(&g->ike.in, &g->ike.keys, false, false), 0);
	ck_assert_int_eq(sk_init_ike(&g->ike.out, &g->ike.keys, false, true), 0);
	memcpy(g->msg1, req, len);
	g->msg1_len = len;
	memcpy(g->msg2, g->out, g->out_len);
	g->msg2_len = g->out_len;
}

/* RestOfIDPayload (§2.15) of an ID payload we write. */
static size_t id_body(uint8_t type, const char *s, uint8_t *out)
{
	out[0] = type;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, s, strlen(s));
	return 4 + strlen(s);
}

/* The client's certificate chain (its CERT payloads) and signature AUTH over oi. */
static bool gw_verify_cert(struct gw *g, const struct ike_pl_auth *au, const struct auth_octets *oi)
{
	static uint8_t so[GW_MSG_MAX + IKE_NONCE_MAX + PRF_MAX_LEN];
	const uint8_t *chain[IKE_CERT_MAX_CHAIN];
	size_t chain_len[IKE_CERT_MAX_CHAIN], solen;
	struct ike_pl_cert ee = { 0 }, c;
	struct ike_pl_any idi;
	struct ike_peer_cert *pc = NULL;
	const uint8_t *skp;
	size_t skplen;
	unsigned it = 0, n = 0;
	const struct ike_pl *p;
	bool ok;

	while ((p = ike_msg_find(&g->m, PL_CERT, &it))) {
		ck_assert_int_eq(ike_pl_cert_decode(p, &c), 0);
		ck_assert_uint_eq(c.encoding, CERT_X509_SIGNATURE);
		if (!ee.data) {
			ee = c;
		} else {
			ck_assert_uint_lt(n, IKE_CERT_MAX_CHAIN);
			chain[n] = c.data;
			chain_len[n++] = c.len;
		}
	}
	gw_get(g, PL_IDi, &idi);
	auth_sk_p(&g->ike.keys, true, &skp, &skplen);
	ck_assert_int_eq(auth_signed_octets(g->algs.prf, skp, skplen, oi, so, sizeof(so), &solen), 0);
	ok = ee.data &&
	     ike_peer_cert_verify(g->trust, ee.data, ee.len, chain, chain_len, n, idi.u.id.type,
				  idi.u.id.data, idi.u.id.len, &pc, g->peer_err,
				  sizeof(g->peer_err)) == 0 &&
	     ike_sig_verify(pc, au->method, au->data, au->len, so, solen, g->peer_err,
			    sizeof(g->peer_err)) == 0;
	ike_peer_cert_free(pc);
	return ok;
}

/* The gateway's own CERT payloads (cred's, then more_der) and signature AUTH over orr. */
static void gw_put_cert_auth(struct gw *g, struct ike_mw *b, const struct auth_octets *orr)
{
	static uint8_t so[GW_MSG_MAX + IKE_NONCE_MAX + PRF_MAX_LEN];
	uint8_t sig[2304], method;
	const uint8_t *skp, *der;
	size_t skplen, solen, siglen, dlen;
	char err[256] = "";

	for (unsigned i = 0; ike_cred_cert_der(g->cred, i, &der, &dlen) == 0; i++) {
		struct ike_pl_cert c = { .encoding = CERT_X509_SIGNATURE, .data = der,
					 .len = (uint16_t)dlen };

		ck_assert_int_eq(ike_put_cert(b, &c), 0);
	}
	for (unsigned i = 0; i < g->n_more; i++) {
		struct ike_pl_cert c = { .encoding = CERT_X509_SIGNATURE, .data = g->more_der[i],
					 .len = (uint16_t)g->more_len[i] };

		ck_assert_int_eq(ike_put_cert(b, &c), 0);
	}
	auth_sk_p(&g->ike.keys, false, &skp, &skplen);
	ck_assert_int_eq(auth_signed_octets(g->algs.prf, skp, skplen, orr, so, sizeof(so), &solen), 0);
	ck_assert_msg(ike_sig_sign(g->cred, 0, so, solen, sig, sizeof(sig), &siglen, &method, err,
				   sizeof(err)) == 0, "%s", err);
	struct ike_pl_auth ar = { .method = method, .data = sig, .len = (uint16_t)siglen };

	ck_assert_int_eq(ike_put_auth(b, &ar), 0);
}

/* The gateway's AUTH over orr: signed with cred, else keyed with my_psk. */
static void gw_put_own_auth(struct gw *g, struct ike_mw *b, const struct auth_octets *orr)
{
	uint8_t mac[PRF_MAX_LEN];
	const uint8_t *skp;
	size_t skplen, maclen;

	if (g->cred) {
		gw_put_cert_auth(g, b, orr);
		return;
	}
	auth_sk_p(&g->ike.keys, false, &skp, &skplen);
	ck_assert_int_eq(auth_psk_compute(g->algs.prf, (const uint8_t *)g->my_psk, strlen(g->my_psk),
					  skp, skplen, orr, mac, sizeof(mac), &maclen), 0);
	struct ike_pl_auth ar = { .method = AUTH_SHARED_KEY_MIC, .data = mac, .len = (uint16_t)maclen };

	ck_assert_int_eq(ike_put_auth(b, &ar), 0);
}

/* The Child SA part of the last IKE_AUTH response (CP, SA, TSi, TSr) for the request in g->m. */
void gw_auth_child(struct gw *g, struct gw_out *o)
{
	struct ike_pl_any sap, cp;
	struct ike_proposal chosen;
	uint8_t vip[4], dns[2][4];
	uint16_t dh;

	gw_get(g, PL_CP, &cp);
	ck_assert_uint_eq(cp.u.cp.cfg_type, CFG_REQUEST);
	inet_pton(AF_INET, "10.9.0.7", vip);
	inet_pton(AF_INET, "10.9.0.1", dns[0]);
	inet_pton(AF_INET, "10.9.0.2", dns[1]);
	struct ike_pl_cp cpr = { .cfg_type = CFG_REPLY, .n = 3, .attr = {
		{ .type = INTERNAL_IP4_ADDRESS, .val = vip, .len = 4 },
		{ .type = INTERNAL_IP4_DNS, .val = dns[0], .len = 4 },
		{ .type = INTERNAL_IP4_DNS, .val = dns[1], .len = 4 } } };

	ck_assert_int_eq(ike_put_cp(&o->b, &cpr), 0);
	gw_get(g, PL_SA, &sap);
	/* strongSwan leaves the PFS group out of the IKE_AUTH Child SA (§1.2). */
	gw_pick(&sap.u.sa, false, 0, &chosen, &g->esp, &dh);
	ck_assert_uint_eq(chosen.spi_size, 4);
	g->esp_out = get_be32(chosen.spi);
	ck_assert_int_eq(RAND_bytes((uint8_t *)&g->esp_in, 4), 1);
	g->esp_in |= 0x1000;
	put_be32(chosen.spi, g->esp_in);
	ck_assert_int_eq(ike_put_sa(&o->b, &chosen, 1), 0);
	/* Narrowed: TSi to the virtual IP, TSr to the gateway's network. */
	ck_assert_int_eq(ike_put_ts(&o->b, PL_TSi, &g->ts_client), 0);
	ck_assert_int_eq(ike_put_ts(&o->b, PL_TSr, &g->ts_net), 0);
	ck_assert_int_eq(child_keys_derive(&g->ck, &g->ike.keys, &g->esp, NULL, 0, g->ni, g->ni_len,
					   g->nr, sizeof(g->nr)), 0);
}

void gw_auth(struct gw *g, const uint8_t *req, size_t len)
{
	struct ike_pl_any idi, au;
	uint8_t idb[4 + 64];
	const uint8_t *skp;
	size_t skplen, idlen;
	unsigned it = 0;
	struct gw_out o;

	gw_open(g, &g->ike, req, len);
	ck_assert_uint_eq(g->m.hdr.exchange, IKE_AUTH);
	ck_assert_uint_eq(g->m.hdr.msg_id, 1);
	gw_get(g, PL_IDi, &idi);
	if (g->eap_first && !gw_has(g, PL_AUTH)) {
		g->eap_first(g, req, len);	/* RFC 7296 §2.16: no AUTH, EAP wanted */
		return;
	}
	gw_get(g, PL_AUTH, &au);
	const struct ike_pl *idp = ike_msg_find(&g->m, PL_IDi, &it);
	/* InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI */
	struct auth_octets oi = { .msg = g->msg1, .msg_len = g->msg1_len, .nonce = g->nr,
				  .nonce_len = sizeof(g->nr), .id = idp->body, .id_len = idp->len };

	if (g->trust) {
		g->peer_auth_ok = gw_verify_cert(g, &au.u.auth, &oi);
	} else {
		ck_assert_uint_eq(au.u.auth.method, AUTH_SHARED_KEY_MIC);
		auth_sk_p(&g->ike.keys, true, &skp, &skplen);
		g->peer_auth_ok = auth_psk_verify(g->algs.prf, (const uint8_t *)g->psk,
						  strlen(g->psk), skp, skplen, &oi, au.u.auth.data,
						  au.u.auth.len) == 0;
	}
	gw_begin(&o);
	if (!g->peer_auth_ok) {
		gw_notify(&o.b, N_AUTHENTICATION_FAILED, 0, 0);
		gw_answer(g, &g->ike, &o);
		return;
	}
	idlen = id_body(ID_FQDN, GW_ID, idb);
	struct ike_pl_id idr = { .type = ID_FQDN, .data = idb + 4, .len = (uint16_t)(idlen - 4) };
	struct auth_octets orr = { .msg = g->msg2, .msg_len = g->msg2_len, .nonce = g->ni,
				   .nonce_len = g->ni_len, .id = idb, .id_len = idlen };

	/* §1.2: IDr, [CERT,] AUTH */
	ck_assert_int_eq(ike_put_id(&o.b, PL_IDr, &idr), 0);
	gw_put_own_auth(g, &o.b, &orr);
	if (g->auth_error) {
		gw_notify(&o.b, g->auth_error, 0, 0);
		gw_answer(g, &g->ike, &o);
		return;
	}
	if (g->mobike) {
		struct ike_pl_notify mn;

		/* RFC 4555 §3.2: only if the client announced it */
		if (gw_has_notify(g, N_MOBIKE_SUPPORTED, &mn))
			gw_notify(&o.b, N_MOBIKE_SUPPORTED, 0, 0);
		for (unsigned i = 0; i < g->n_add_addrs; i++) {
			const struct ike_sa_addr *a = &g->add_addrs[i];
			struct ike_pl_notify an = {
				.type = a->family == AF_INET ? N_ADDITIONAL_IP4_ADDRESS
							     : N_ADDITIONAL_IP6_ADDRESS,
				.data = a->ip, .len = a->family == AF_INET ? 4 : 16 };

			ck_assert_int_eq(ike_put_notify(&o.b, &an), 0);
		}
	}
	gw_auth_child(g, &o);
	gw_answer(g, &g->ike, &o);
}

void gw_natd(const struct gw_ike *k, int family, const uint8_t *ip, uint16_t port,
	     uint8_t out[IKE_NAT_DETECTION_LEN])
{
	uint8_t buf[8 + 8 + 16 + 2];
	size_t iplen = family == AF_INET6 ? 16 : 4;
	unsigned outl;

	memcpy(buf, k->spi_i, 8);
	memcpy(buf + 8, k->spi_r, 8);
	memcpy(buf + 16, ip, iplen);
	put_be16(buf + 16 + iplen, port);
	ck_assert_int_eq(EVP_Digest(buf, 16 + iplen + 2, out, &outl, EVP_sha1(), NULL), 1);
}

static bool natd_is(struct gw *g, uint16_t type, const uint8_t *want)
{
	struct ike_pl_notify n;

	ck_assert_msg(gw_has_notify(g, type, &n), "no notify %u", type);
	return n.len == IKE_NAT_DETECTION_LEN && memcmp(n.data, want, n.len) == 0;
}

uint32_t gw_update(struct gw *g, const struct harness *h, const struct gw_path *claimed)
{
	uint8_t want[IKE_NAT_DETECTION_LEN], src[IKE_NAT_DETECTION_LEN], dst[IKE_NAT_DETECTION_LEN];
	uint8_t elsewhere[16] = { 198, 51, 100, 99 };
	struct ike_pl_notify n, c;
	struct gw_out o;
	uint32_t id = gw_expect_request(g, &g->ike, h, INFORMATIONAL);

	/* RFC 4555 §3.5: UPDATE_SA_ADDRESSES, NAT detection, here COOKIE2 (§3.7) */
	ck_assert(gw_has_notify(g, N_UPDATE_SA_ADDRESSES, &n));
	ck_assert_uint_eq(n.len, 0);
	gw_natd(&g->ike, claimed->family, claimed->local, claimed->local_port, want);
	g->natd_src_ok = natd_is(g, N_NAT_DETECTION_SOURCE_IP, want);
	gw_natd(&g->ike, claimed->family, claimed->remote, claimed->remote_port, want);
	g->natd_dst_ok = natd_is(g, N_NAT_DETECTION_DESTINATION_IP, want);
	ck_assert(gw_has_notify(g, N_COOKIE2, &c));
	/* §4.2.5: 8 to 64 octets */
	ck_assert(c.len >= 8 && c.len <= 64);
	memcpy(g->cookie2_seen, c.data, c.len);
	g->cookie2_len = c.len;

	gw_begin(&o);
	if (g->update_error)
		gw_notify(&o.b, g->update_error, 0, 0);
	if (g->cookie2 != GW_COOKIE2_DROP) {
		struct ike_pl_notify e = { .type = N_COOKIE2, .data = g->cookie2_seen,
					   .len = (uint16_t)c.len };

		if (g->cookie2 == GW_COOKIE2_WRONG)
			g->cookie2_seen[0] ^= 1;
		ck_assert_int_eq(ike_put_notify(&o.b, &e), 0);
	}
	/* §3.8: the response carries NAT detection as the gateway sees the packet */
	gw_natd(&g->ike, claimed->family, claimed->remote, claimed->remote_port, src);
	gw_natd(&g->ike, claimed->family, g->nat_client ? elsewhere : claimed->local,
		claimed->local_port, dst);
	ck_assert_int_eq(ike_put_notify(&o.b, &(struct ike_pl_notify){
		.type = N_NAT_DETECTION_SOURCE_IP, .data = src, .len = sizeof(src) }), 0);
	ck_assert_int_eq(ike_put_notify(&o.b, &(struct ike_pl_notify){
		.type = N_NAT_DETECTION_DESTINATION_IP, .data = dst, .len = sizeof(dst) }), 0);
	gw_answer(g, &g->ike, &o);
	return id;
}

void gw_deliver(struct gw *g, struct harness *h)
{
	h_input(h, g->out, g->out_len);
}

void h_establish(struct harness *h, struct gw *g)
{
	ck_assert_int_eq(ike_sa_start(h->sa, h->now), 0);
	gw_sa_init(g, h_last(h)->buf, h_last(h)->len);
	gw_deliver(g, h);
	ck_assert_int_eq(ike_sa_state(h->sa), IKE_SA_AUTH_SENT);
	gw_auth(g, h_last(h)->buf, h_last(h)->len);
	gw_deliver(g, h);
	ck_assert_msg(ike_sa_state(h->sa) == IKE_SA_ESTABLISHED, "state %s: %s",
		      ike_sa_state_name(ike_sa_state(h->sa)), ike_sa_failure_text(h->sa));
}

void h_check_keys(const struct h_child *c, const struct child_keys *ck, bool we_initiated)
{
	ck_assert_uint_eq(c->ci.key_len, ck->e_len);
	/* §2.17: encr_i protects traffic from the exchange's initiator. */
	ck_assert_mem_eq(c->ci.key_out, we_initiated ? ck->encr_i : ck->encr_r, ck->e_len);
	ck_assert_mem_eq(c->ci.key_in, we_initiated ? ck->encr_r : ck->encr_i, ck->e_len);
}

size_t h_mangle(const uint8_t *msg, size_t len, size_t i, uint8_t *out)
{
	memcpy(out, msg, len);
	if (i < len) {
		out[i] ^= (uint8_t)(1u << (i % 8));
		return len;
	}
	i -= len;
	if (i >= IKE_HDR_LEN && i % 2)
		put_be32(out + IKE_HDR_LENGTH_OFF, (uint32_t)i);	/* lengths that agree */
	return i;
}

void h_all_dropped(struct harness *h, const uint8_t *msg, size_t len)
{
	uint8_t bad[GW_MSG_MAX];
	enum ike_sa_state s = ike_sa_state(h->sa);
	unsigned nq = h->nq, up = h->n_up, down = h->n_down;
	uint64_t dl = ike_sa_next_deadline(h->sa);

	for (size_t i = 0; i < 2 * len; i++) {
		h_input(h, bad, h_mangle(msg, len, i, bad));
		ck_assert_msg(ike_sa_state(h->sa) == s && h->nq == nq && h->n_up == up &&
			      h->n_down == down && ike_sa_next_deadline(h->sa) == dl,
			      "variant %zu of %zu changed something", i, len);
	}
}
