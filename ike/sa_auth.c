/*
 * IKE_AUTH (RFC 7296 §1.2, §2.15, §2.16) as one exchange unit (struct
 * sa_auth_x): our first request, the gateway's AUTH verified (PSK, or its
 * certificate against [auth] ca), and the Child SA it sets up. With EAP the
 * rounds in between are sa_eap.c's.
 */
#include "ike/sa_int.h"
#include <stdarg.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rsa.h>

#include "ike/auth.h"
#include "ike/names.h"
#include "util/log.h"

/*
 * Our AUTH data: a PSK's MAC, or RFC 7427 §3 one-octet length |
 * AlgorithmIdentifier | signature, as long as the largest RSA modulus
 * OpenSSL signs with (16384 bits).
 */
#define AUTH_DATA_MAX	(1 + 255 + OPENSSL_RSA_MAX_MODULUS_BITS / 8)
#define CERT_PL_HDR	5	/* generic header + Cert Encoding (§3.6, §3.7) */

/*
 * IKE_AUTH (§1.2) at its largest: everything but CERT and CERTREQ -- IDi
 * and IDr, AUTH, CP, the ESP SA payload, TSi, TSr, two notifies, the IKE
 * header and SK's header, IV, padding and ICV -- plus our largest
 * credential and CERTREQ must fit SA_MSG_MAX: no limit of ours can make
 * IKE_AUTH too large to build.
 */
#define AUTH_REST_MAX	(2 * (8 + IKE_ID_MAX) + 8 + AUTH_DATA_MAX + 8 + 4 * IKE_MAX_CP_ATTRS +	\
			 4 + PROP_LIST_MAX * (12 + IKE_PROP_MAX_BUILD * 12) +			\
			 (8 + 2 * IKE_TS_IPV6_LEN) + (8 + IKE_SA_MAX_REMOTE_TS * IKE_TS_IPV6_LEN) + 2 * 8 + \
			 IKE_HDR_LEN + 4 + 16 + 16 + SK_MAX_ICV_LEN)
_Static_assert(AUTH_REST_MAX + IKE_CRED_MAX_CERTS * CERT_PL_HDR + IKE_CRED_MAX_BYTES +
	       CERT_PL_HDR + IKE_TRUST_CERTREQ_MAX <= SA_MSG_MAX,
	       "the largest IKE_AUTH does not fit SA_MSG_MAX");

/* RestOfInitIDPayload (§2.15): ID Type, three reserved octets, the data. */
size_t sa_id_body(const struct ike_id *id, uint8_t *out, size_t cap)
{
	if (cap < 4u + id->len)
		return 0;
	out[0] = id->type;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, id->data, id->len);
	return 4u + id->len;
}

/* Any address (IPv4, and IPv6 when wanted): the gateway narrows it to the virtual IP. */
static void any_ts(struct ike_pl_ts *ts, bool ip6)
{
	memset(ts, 0, sizeof(*ts));
	ts->n = ip6 ? 2 : 1;
	ts->ts[0].type = TS_IPV4_ADDR_RANGE;
	ts->ts[0].end_port = 65535;
	memset(ts->ts[0].end, 0xff, 4);
	ts->ts[1].type = TS_IPV6_ADDR_RANGE;
	ts->ts[1].end_port = 65535;
	memset(ts->ts[1].end, 0xff, 16);
}

/* TSr as we propose it: the configured remote_ts, else any address. */
static void remote_ts(const struct ike_sa *sa, struct ike_pl_ts *ts)
{
	if (sa->cfg.n_remote_ts == 0) {
		any_ts(ts, sa->cfg.want_ip6);
		return;
	}
	memset(ts, 0, sizeof(*ts));
	ts->n = sa->cfg.n_remote_ts;
	memcpy(ts->ts, sa->cfg.remote_ts, ts->n * sizeof(ts->ts[0]));
}

static int put_any_ts(struct ike_mw *b, uint8_t type, bool ip6)
{
	struct ike_pl_ts ts;

	any_ts(&ts, ip6);
	return ike_put_ts(b, type, &ts);
}

static int put_remote_ts(struct ike_sa *sa, struct ike_mw *b)
{
	struct ike_pl_ts ts;

	remote_ts(sa, &ts);
	return ike_put_ts(b, PL_TSr, &ts);
}

static int put_cp_request(struct ike_sa *sa, struct ike_mw *b)
{
	struct ike_pl_cp cp = { .cfg_type = CFG_REQUEST };

	if (sa->cfg.want_vip)
		cp.attr[cp.n++] = (struct ike_cp_attr){ .type = INTERNAL_IP4_ADDRESS };
	if (sa->cfg.want_dns)
		cp.attr[cp.n++] = (struct ike_cp_attr){ .type = INTERNAL_IP4_DNS };
	if (sa->cfg.want_vip && sa->cfg.want_ip6)
		cp.attr[cp.n++] = (struct ike_cp_attr){ .type = INTERNAL_IP6_ADDRESS };
	if (sa->cfg.want_dns && sa->cfg.want_ip6)
		cp.attr[cp.n++] = (struct ike_cp_attr){ .type = INTERNAL_IP6_DNS };
	return cp.n ? ike_put_cp(b, &cp) : 0;
}

static int put_status(struct ike_mw *b, uint16_t type)
{
	struct ike_pl_notify n = { .type = type };

	return ike_put_notify(b, &n);
}

/*
 * The SignedOctets of §2.15 (RealMessage | Nonce | prf(SK_p, RestOfIDPayload))
 * in a buffer sized by the message; NULL on failure. Free with so_free().
 */
static uint8_t *signed_octets(const struct ike_sa *sa, bool initiator, const struct auth_octets *o,
			      size_t *len, size_t *cap)
{
	const uint8_t *skp;
	size_t skplen;
	uint8_t *so;

	*cap = o->msg_len + o->nonce_len + PRF_MAX_LEN;
	if (!(so = malloc(*cap)))
		return NULL;
	auth_sk_p(&sa->keys, initiator, &skp, &skplen);
	if (auth_signed_octets(sa->algs.prf, skp, skplen, o, so, *cap, len) < 0) {
		free(so);
		return NULL;
	}
	return so;
}

static void so_free(uint8_t *so, size_t cap)
{
	if (so)
		OPENSSL_cleanse(so, cap);
	free(so);
}

/* Our AUTH value (§2.15): the PSK's MAC, or a signature over InitiatorSignedOctets. */
static int auth_value(struct ike_sa *sa, const uint8_t *idb, size_t idlen, uint8_t *out,
		      size_t cap, size_t *len, uint8_t *method)
{
	const uint8_t *skp;
	uint8_t *so;
	size_t skplen, solen, socap = 0;
	char err[160] = "";
	int rc = -1;

	struct auth_octets o = { .msg = sa->init_req, .msg_len = sa->init_req_len,
				 .nonce = sa->nr, .nonce_len = sa->nr_len,
				 .id = idb, .id_len = idlen };
	if (!sa->cfg.cred) {
		auth_sk_p(&sa->keys, true, &skp, &skplen);
		*method = AUTH_SHARED_KEY_MIC;
		return sa->cfg.psk ? auth_psk_compute(sa->algs.prf, sa->cfg.psk, sa->cfg.psk_len, skp,
						      skplen, &o, out, cap, len) : -1;
	}
	so = signed_octets(sa, true, &o, &solen, &socap);
	if (so && ike_sig_sign(sa->cfg.cred, ike_sig_pick_hash(sa->cfg.cred, sa->peer_hashes,
							       sa->n_peer_hashes),
			       so, solen, out, cap, len, method, err, sizeof(err)) == 0)
		rc = 0;
	else
		log_warn("ike: cannot sign our AUTH payload: %s", err[0] ? err : "out of memory");
	so_free(so, socap);
	return rc;
}

/* CERT payloads with our certificate and its intermediates (§3.6). */
static int put_certs(struct ike_sa *sa, struct ike_mw *b)
{
	const uint8_t *der;
	size_t len;

	for (unsigned i = 0; sa->cfg.cred && ike_cred_cert_der(sa->cfg.cred, i, &der, &len) == 0; i++) {
		struct ike_pl_cert c = { .encoding = CERT_X509_SIGNATURE, .data = der,
					 .len = (uint16_t)len };

		if (len > IKE_PL_BODY_MAX - 1 || ike_put_cert(b, &c) < 0)
			return -1;
	}
	return 0;
}

/*
 * CERTREQ naming the CAs we trust (§3.7), so the gateway sends its
 * certificate: one hash per CA of the trust file, all of them.
 */
static int put_certreq(struct ike_sa *sa, struct ike_mw *b)
{
	uint8_t h[IKE_TRUST_CERTREQ_MAX];
	size_t len;

	if (!sa->cfg.trust)
		return 0;
	if (ike_trust_certreq(sa->cfg.trust, h, sizeof(h), &len) < 0) {
		log_warn("ike: cannot hash the CA certificates for CERTREQ");
		return -1;
	}
	struct ike_pl_cert c = { .encoding = CERT_X509_SIGNATURE, .data = h, .len = (uint16_t)len };

	return ike_put_certreq(b, &c);
}

/*
 * Our first IKE_AUTH (§1.2): IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, CP, SA,
 * TSi, TSr and notifies. With EAP (§2.16) there is no AUTH and no CERT
 * yet: the gateway proves itself first, then EAP runs.
 */
static int auth_payloads(struct ike_sa *sa, struct ike_mw *b)
{
	uint8_t idb[4 + IKE_ID_MAX], authv[AUTH_DATA_MAX], spi[4], method;
	size_t idlen, alen;
	bool eap = sa->cfg.eap != NULL;
	int rc = -1;

	idlen = sa_id_body(&sa->cfg.local_id, idb, sizeof(idb));
	if (!idlen || (!eap && auth_value(sa, idb, idlen, authv, sizeof(authv), &alen, &method) < 0))
		goto out;
	put_be32(spi, sa->auth->spi_in);
	struct ike_pl_id idi = { .type = sa->cfg.local_id.type, .data = sa->cfg.local_id.data,
				 .len = sa->cfg.local_id.len };
	struct ike_pl_id idr = { .type = sa->cfg.remote_id.type, .data = sa->cfg.remote_id.data,
				 .len = sa->cfg.remote_id.len };
	struct ike_pl_auth au = { .method = method, .data = authv, .len = (uint16_t)alen };

	if (ike_put_id(b, PL_IDi, &idi) < 0 || (!eap && put_certs(sa, b) < 0) ||
	    put_certreq(sa, b) < 0 ||
	    (sa->cfg.remote_id.type && ike_put_id(b, PL_IDr, &idr) < 0) ||
	    (!eap && ike_put_auth(b, &au) < 0) || put_cp_request(sa, b) < 0 ||
	    sa_put_proposals(b, &sa->cfg.esp_props, PROTO_ESP, spi, 4) < 0 ||
	    put_any_ts(b, PL_TSi, sa->cfg.want_ip6) < 0 ||
	    put_remote_ts(sa, b) < 0 || put_status(b, N_INITIAL_CONTACT) < 0 ||
	    (sa->cfg.mobike && put_status(b, N_MOBIKE_SUPPORTED) < 0))
		goto out;
	rc = 0;
out:
	if (!eap)
		OPENSSL_cleanse(authv, sizeof(authv));
	return rc;
}

/*
 * Our IKE_AUTH does not fit one message. The compile-time budget above
 * says this cannot happen; if it does, it is final, not worth retrying.
 */
static void auth_too_large(struct ike_sa *sa, size_t plen)
{
	size_t total = plen ? sk_message_len(&sa->sk_out, plen) : 0;

	if (total)
		sa_fail(sa, IKE_FAIL_AUTH, "our IKE_AUTH would be %zu bytes, ikeagent sends at most "
			"%d (SA_MSG_MAX)", total, SA_MSG_MAX);
	else
		sa_fail(sa, IKE_FAIL_AUTH, "our IKE_AUTH is larger than %d bytes (SA_MSG_MAX)",
			SA_MSG_MAX);
}

int sa_auth_request(struct ike_sa *sa, sa_fill_fn fill, uint64_t now)
{
	/* Two messages of up to 64 KiB: in the heap, not on the stack. */
	uint8_t *plain = malloc(SA_MSG_MAX), *out = malloc(SA_MSG_MAX);
	struct ike_mw b;
	struct wr w = { 0 };
	size_t plen = 0, len;
	int rc = -1;

	if (!plain || !out)
		goto out;
	if (++sa->auth->rounds > SA_AUTH_MAX_ROUNDS) {
		sa_fail(sa, IKE_FAIL_PROTOCOL, "IKE_AUTH did not end within %d round trips",
			SA_AUTH_MAX_ROUNDS);
		goto out;
	}
	wr_init(&w, plain, SA_MSG_MAX);
	if (ike_mw_begin_inner(&b, &w) < 0 || fill(sa, &b) < 0 || ike_mw_finish(&b, &plen) < 0) {
		if (!wr_ok(&w))
			auth_too_large(sa, 0);
		goto out;
	}
	if (sk_message_len(&sa->sk_out, plen) > SA_MSG_MAX) {
		auth_too_large(sa, plen);
		goto out;
	}
	if (sa_protect(sa, IKE_AUTH, false, sa->next_msg_id, ike_mw_first(&b), plain, plen, out,
		       SA_MSG_MAX, &len) < 0)
		goto out;
	rc = sa_send_request(sa, REQ_AUTH, IKE_AUTH, out, len, now);
	if (rc == 0 && sa->auth->rounds == 1)
		log_info("ike: IKE_AUTH sent (%s, %zu bytes)", sa->cfg.eap ? "EAP" :
			 sa->cfg.cred ? "certificate" : "psk", len);
	else if (rc == 0)
		log_debug("ike: IKE_AUTH round %u sent (%zu bytes)", sa->auth->rounds, len);
out:
	if (plain)
		OPENSSL_cleanse(plain, wr_len(&w));	/* the writer never writes past its length */
	free(plain);
	free(out);
	return rc;
}

int sa_auth_send(struct ike_sa *sa, uint64_t now)
{
	sa_auth_free(sa);
	if (!(sa->auth = calloc(1, sizeof(*sa->auth))))
		return -1;
	sa->auth->spi_in = sa_random_spi();
	sa->auth->step = sa->cfg.eap ? AUTH_EAP_FIRST : AUTH_ONE;
	if (sa->cfg.eap && sa_eap_begin(sa) < 0)
		return -1;
	sa_set_state(sa, IKE_SA_AUTH_SENT);
	return sa_auth_request(sa, auth_payloads, now);
}

void sa_auth_free(struct ike_sa *sa)
{
	if (!sa->auth)
		return;
	eap_peer_free(sa->auth->eap);
	OPENSSL_cleanse(sa->auth, sizeof(*sa->auth));
	free(sa->auth);
	sa->auth = NULL;
}

static bool is_signature(uint8_t method)
{
	return method == AUTH_RSA_SIG || method == AUTH_ECDSA_256 || method == AUTH_ECDSA_384 ||
	       method == AUTH_ECDSA_521 || method == AUTH_DIGITAL_SIGNATURE;
}

/*
 * The gateway's certificate chain from its CERT payloads (§3.6): the first
 * is its own, then intermediates, of which we keep IKE_CERT_MAX_CHAIN.
 */
static int peer_cert(struct ike_sa *sa, const struct ike_msg *m, const struct ike_pl_id *id,
		     struct ike_peer_cert **pc)
{
	const uint8_t *chain[IKE_CERT_MAX_CHAIN];
	size_t chain_len[IKE_CERT_MAX_CHAIN];
	struct ike_pl_cert ee = { 0 }, c;
	unsigned it = 0, n = 0, extra = 0, other = 0;
	const struct ike_pl *p;
	char err[200];

	while ((p = ike_msg_find(m, PL_CERT, &it))) {
		if (ike_pl_cert_decode(p, &c) < 0 || c.encoding != CERT_X509_SIGNATURE) {
			other++;	/* Hash and URL and others: not supported */
			continue;
		}
		if (!ee.data) {
			ee = c;
		} else if (n < IKE_CERT_MAX_CHAIN) {
			chain[n] = c.data;
			chain_len[n++] = c.len;
		} else {
			extra++;
		}
	}
	if (other)
		log_info("ike: ignored %u CERT payloads that are not X.509 certificates", other);
	if (extra)
		log_warn("ike: gateway sent %u intermediate certificates, ikeagent keeps the first "
			 "%d (IKE_CERT_MAX_CHAIN)", n + extra, IKE_CERT_MAX_CHAIN);
	if (!ee.data) {
		sa_fail(sa, IKE_FAIL_AUTH, "gateway sent no X.509 certificate");
		return -1;
	}
	if (ike_peer_cert_verify(sa->cfg.trust, ee.data, ee.len, chain, chain_len, n, id->type,
				 id->data, id->len, pc, err, sizeof(err)) < 0) {
		if (extra)
			sa_fail(sa, IKE_FAIL_AUTH, "%s; %u intermediates past IKE_CERT_MAX_CHAIN "
				"(%d) unused", err, extra, IKE_CERT_MAX_CHAIN);
		else
			sa_fail(sa, IKE_FAIL_AUTH, "%s", err);
		return -1;
	}
	return 0;
}

/* The gateway's AUTH as a signature over ResponderSignedOctets (§2.15, RFC 7427). */
static int verify_signature(struct ike_sa *sa, const struct ike_msg *m, const struct ike_pl *idp,
			    const struct ike_pl_id *id, const struct ike_pl_auth *au)
{
	struct ike_peer_cert *pc = NULL;
	uint8_t *so;
	size_t solen, socap = 0;
	char err[200], subj[160], alg[64];
	int rc = -1;

	if (peer_cert(sa, m, id, &pc) < 0)
		return -1;
	struct auth_octets o = { .msg = sa->init_resp, .msg_len = sa->init_resp_len,
				 .nonce = sa->ni, .nonce_len = SA_NONCE_LEN,
				 .id = idp->body, .id_len = idp->len };
	if (!(so = signed_octets(sa, false, &o, &solen, &socap))) {
		sa_fail(sa, IKE_FAIL_LOCAL, "cannot build the gateway's signed octets");
	} else if (ike_sig_verify_opt(pc, au->method, au->data, au->len, so, solen,
				      sa->cfg.allow_sha1, err, sizeof(err)) < 0) {
		sa_fail(sa, IKE_FAIL_AUTH, "gateway's AUTH signature did not verify: %s", err);
	} else {
		log_info("ike: gateway authenticated with certificate %s (%s)",
			 ike_peer_cert_subject(pc, subj, sizeof(subj)),
			 ike_sig_alg_str(au->method, au->data, au->len, alg, sizeof(alg)));
		sa->auth->peer_ok = true;
		rc = 0;
	}
	so_free(so, socap);
	ike_peer_cert_free(pc);
	return rc;
}

/*
 * A shared-key AUTH of the gateway (§2.15): key is the PSK, or with EAP
 * the MSK (§2.16: "the shared key from the EAP method").
 */
static int verify_mac(struct ike_sa *sa, const uint8_t *idb, size_t idlen,
		      const struct ike_pl_auth *au, const uint8_t *key, size_t key_len)
{
	const uint8_t *skp;
	size_t skplen;

	auth_sk_p(&sa->keys, false, &skp, &skplen);
	/* ResponderSignedOctets = RealMessage2 | NonceIData | MACedIDForR (§2.15) */
	struct auth_octets o = { .msg = sa->init_resp, .msg_len = sa->init_resp_len,
				 .nonce = sa->ni, .nonce_len = SA_NONCE_LEN,
				 .id = idb, .id_len = idlen };
	return key && auth_psk_verify(sa->algs.prf, key, key_len, skp, skplen, &o, au->data,
				      au->len) == 0 ? 0 : -1;
}

/* The gateway's last AUTH after EAP: the MSK's MAC over the IDr of its first answer. */
static int verify_eap_mac(struct ike_sa *sa, const struct ike_msg *m, const uint8_t *msk,
			  size_t msk_len)
{
	unsigned it = 0;
	const struct ike_pl *ap = ike_msg_find(m, PL_AUTH, &it);
	struct ike_pl_auth au;

	if (!ap || ike_pl_auth_decode(ap, &au) < 0) {
		sa_fail(sa, IKE_FAIL_PROTOCOL, "the gateway's last IKE_AUTH response lacks AUTH");
		return -1;
	}
	if (au.method != AUTH_SHARED_KEY_MIC ||
	    verify_mac(sa, sa->auth->idr, sa->auth->idr_len, &au, msk, msk_len) < 0) {
		sa_fail(sa, IKE_FAIL_AUTH, "the gateway's AUTH after EAP did not verify (%s): it "
			"does not hold the EAP key", ike_auth_method_name(au.method));
		return -1;
	}
	sa->auth->peer_ok = true;
	return 0;
}

int sa_auth_verify_peer(struct ike_sa *sa, const struct ike_msg *m, const uint8_t *msk,
			size_t msk_len)
{
	unsigned i1 = 0, i2 = 0;
	const struct ike_pl *idp, *ap;
	struct ike_pl_id id;
	struct ike_pl_auth au;

	if (msk)
		return verify_eap_mac(sa, m, msk, msk_len);
	idp = ike_msg_find(m, PL_IDr, &i1);
	ap = ike_msg_find(m, PL_AUTH, &i2);
	if (!idp || !ap || ike_pl_id_decode(idp, &id) < 0 || ike_pl_auth_decode(ap, &au) < 0) {
		sa_fail(sa, IKE_FAIL_PROTOCOL, "IKE_AUTH response lacks IDr or AUTH");
		return -1;
	}
	if (sa->cfg.remote_id.type &&
	    (id.type != sa->cfg.remote_id.type || id.len != sa->cfg.remote_id.len ||
	     memcmp(id.data, sa->cfg.remote_id.data, id.len) != 0)) {
		sa_fail(sa, IKE_FAIL_AUTH, "gateway identity is not the configured gateway id");
		return -1;
	}
	if (idp->len > sizeof(sa->auth->idr)) {
		sa_fail(sa, IKE_FAIL_PROTOCOL, "the gateway's IDr is longer than %zu bytes",
			sizeof(sa->auth->idr));
		return -1;
	}
	memcpy(sa->auth->idr, idp->body, idp->len);
	sa->auth->idr_len = idp->len;
	/* The method is the policy's, not the gateway's choice: no downgrade to a PSK. */
	if (sa->cfg.trust) {
		if (!is_signature(au.method)) {
			sa_fail(sa, IKE_FAIL_AUTH, "gateway authenticated with %s, but [auth] ca requires a certificate",
				ike_auth_method_name(au.method));
			return -1;
		}
		return verify_signature(sa, m, idp, &id, &au);
	}
	if (!sa->cfg.psk && sa->cfg.eap_unverified) {
		log_warn("ike: gateway NOT verified (%s; [auth] insecure = yes): anyone on the path "
			 "can pose as it and see the EAP login", ike_auth_method_name(au.method));
		return 0;
	}
	if (au.method != AUTH_SHARED_KEY_MIC) {
		sa_fail(sa, IKE_FAIL_AUTH, "gateway authenticated with %s; set [auth] ca to accept certificates",
			ike_auth_method_name(au.method));
		return -1;
	}
	if (verify_mac(sa, idp->body, idp->len, &au, sa->cfg.psk, sa->cfg.psk_len) < 0) {
		sa_fail(sa, IKE_FAIL_AUTH, "gateway's AUTH did not verify (is the PSK the same on both sides?)");
		return -1;
	}
	sa->auth->peer_ok = true;
	return 0;
}

static void cp_extract(const struct ike_pl_cp *cp, struct ike_child_info *ci)
{
	unsigned dns4 = 0, dns6 = 0;

	if (cp && cp->n_total > cp->n)
		log_warn("ike: gateway's configuration payload has %u attributes; ikeagent reads the "
			 "first %u (IKE_MAX_CP_ATTRS)", cp->n_total, cp->n);
	for (unsigned i = 0; cp && i < cp->n; i++) {
		dns4 += cp->attr[i].type == INTERNAL_IP4_DNS;
		dns6 += cp->attr[i].type == INTERNAL_IP6_DNS;
	}
	if (dns4 > IKE_SA_MAX_DNS || dns6 > IKE_SA_MAX_DNS)
		log_warn("ike: gateway assigned %u IPv4 and %u IPv6 DNS servers; ikeagent uses the first "
			 "%u of each (IKE_SA_MAX_DNS)", dns4, dns6, IKE_SA_MAX_DNS);
	for (unsigned i = 0; cp && i < cp->n; i++) {
		const struct ike_cp_attr *a = &cp->attr[i];

		if (a->type == INTERNAL_IP4_ADDRESS && a->len == 4 && !ci->has_vip4) {
			memcpy(ci->vip4, a->val, 4);
			ci->has_vip4 = true;
		} else if (a->type == INTERNAL_IP4_DNS && a->len == 4 && ci->n_dns4 < IKE_SA_MAX_DNS) {
			memcpy(ci->dns4[ci->n_dns4++], a->val, 4);
		} else if (a->type == INTERNAL_IP6_ADDRESS && a->len == 17 && !ci->has_vip6 &&
			   a->val[16] <= 128) {
			memcpy(ci->vip6, a->val, 16);
			ci->vip6_prefix = a->val[16];
			ci->has_vip6 = true;
		} else if (a->type == INTERNAL_IP6_DNS && a->len == 16 && ci->n_dns6 < IKE_SA_MAX_DNS) {
			memcpy(ci->dns6[ci->n_dns6++], a->val, 16);
		}
	}
}

void sa_child_install(struct ike_sa *sa, const struct ike_algs *algs, uint32_t spi_in,
		      uint32_t spi_out, const uint8_t *gir, size_t gir_len, const uint8_t *ni,
		      size_t ni_len, const uint8_t *nr, size_t nr_len, bool we_initiated, const struct ike_pl_ts *tsi,
		      const struct ike_pl_ts *tsr, const struct ike_pl_cp *cp, enum sa_install how)
{
	struct child_keys ck;
	struct ike_child_info ci;

	memset(&ci, 0, sizeof(ci));
	if (child_keys_derive(&ck, &sa->keys, algs, gir, gir_len, ni, ni_len, nr, nr_len) < 0 ||
	    !sa_child_add(sa, spi_in, spi_out)) {
		child_keys_clear(&ck);
		sa_fail(sa, IKE_FAIL_LOCAL, "cannot set up the Child SA");
		return;
	}
	ci.spi_in = spi_in;
	ci.spi_out = spi_out;
	ci.encr = algs->encr;
	ci.key_len = ck.e_len;
	/* §2.17: encr_i protects traffic from the exchange's initiator. */
	ci.key_out = we_initiated ? ck.encr_i : ck.encr_r;
	ci.key_in = we_initiated ? ck.encr_r : ck.encr_i;
	ci.rekey = how != SA_INSTALL_FIRST;
	ci.redundant = how == SA_INSTALL_REDUNDANT;
	ci.ts_local = we_initiated ? *tsi : *tsr;
	ci.ts_remote = we_initiated ? *tsr : *tsi;
	cp_extract(cp, &ci);
	/* This is now the Child SA to rekey, with our side as TSi (§1.3.3); not a redundant one. */
	if (!ci.redundant) {
		sa->child_spi_in = spi_in;
		sa->ts_i = ci.ts_local;
		sa->ts_r = ci.ts_remote;
		sa_rekey_schedule(sa, false, true);
	}
	log_info("ike: Child SA %s: in %08x out %08x (%s)", ci.redundant ? "rekeyed (redundant)" :
		 ci.rekey ? "rekeyed" : "up", spi_in, spi_out, ike_transform_name(TRANS_ENCR, algs->encr));
	if (sa->ops.child_up)
		sa->ops.child_up(sa->ctx, &ci);
	child_keys_clear(&ck);
}

/*
 * The gateway's AUTH verified but its Child SA refused: the gateway has set
 * up the IKE SA, so a Delete of it (§1.4.1) goes out once before we fail,
 * rather than leaving it to the gateway's liveness checks.
 */
static void auth_child_refused(struct ike_sa *sa, enum ike_sa_fail why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void auth_child_refused(struct ike_sa *sa, enum ike_sa_fail why, const char *fmt, ...)
{
	char text[sizeof(sa->fail_text)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (sa_delete_once(sa) < 0)
		log_debug("ike: DELETE of the IKE SA not sent");
	sa_fail(sa, why, "%s", text);
}

void sa_auth_finish(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
	static struct ike_pl_ts sent;	/* ~10 KB: not on the stack */
	struct ike_pl_any tsi, tsr, cp;
	char why[320] = "";
	struct ike_pl_notify n;
	struct ike_algs algs;
	uint8_t spi_out[IKE_MAX_SPI];
	uint32_t spi_in = sa->auth->spi_in;
	uint16_t dh;
	bool have_cp;

	/* MOBIKE_SUPPORTED: in the gateway's answer with its AUTH (with EAP, the first or the last) */
	sa->peer_mobike |= sa_find_notify(m, N_MOBIKE_SUPPORTED, &n) != NULL;
	sa_mobike_peer_addrs(sa, m);
	if (sa_accepted(m, &sa->cfg.esp_props, PROTO_ESP, 4, &algs, &dh, spi_out) < 0 ||
	    ike_algs_check(&algs, true) < 0 || !ike_encr_is_aead(algs.encr)) {
		auth_child_refused(sa, IKE_FAIL_PROTOCOL, "gateway chose an ESP proposal we did not offer");
		return;
	}
	if (sa_decode_first(m, PL_TSi, &tsi) < 0 || sa_decode_first(m, PL_TSr, &tsr) < 0) {
		auth_child_refused(sa, IKE_FAIL_PROTOCOL, "IKE_AUTH response lacks traffic selectors");
		return;
	}
	/* §2.9: the responder narrows what we proposed; it must not widen it. */
	any_ts(&sent, sa->cfg.want_ip6);
	if (sa_ts_check(&tsi.u.ts, &sent, "TSi", why, sizeof(why)) == 0) {
		remote_ts(sa, &sent);
		if (sa_ts_check(&tsr.u.ts, &sent, "TSr", why, sizeof(why)) == 0)
			why[0] = '\0';
	}
	if (why[0]) {
		auth_child_refused(sa, IKE_FAIL_PROTOCOL,
				   "gateway's traffic selectors refused (TS_UNACCEPTABLE): %s", why);
		return;
	}
	have_cp = sa_decode_first(m, PL_CP, &cp) == 0 && cp.u.cp.cfg_type == CFG_REPLY;
	if (sa->cfg.want_vip && !have_cp) {
		auth_child_refused(sa, IKE_FAIL_PEER_ERROR, "gateway assigned no virtual IP");
		return;
	}
	sa_auth_free(sa);
	free(sa->init_req);
	sa->init_req = NULL;
	sa->now_ms = now;
	sa_rekey_schedule(sa, true, false);
	sa_set_state(sa, IKE_SA_ESTABLISHED);
	sa_child_install(sa, &algs, spi_in, get_be32(spi_out), NULL, 0, sa->ni,
			 SA_NONCE_LEN, sa->nr, sa->nr_len, true, &tsi.u.ts, &tsr.u.ts,
			 have_cp ? &cp.u.cp : NULL, SA_INSTALL_FIRST);
	sa->last_rx_ms = now;
}

/*
 * RFC 7296 §2.21.2: "Although the IKE_AUTH messages are encrypted and
 * integrity protected, if the peer receiving this notification has not
 * authenticated the other end yet, that peer needs to treat the
 * information with caution." SK only proves that the answer comes from
 * whoever answered IKE_SA_INIT, possibly someone on the path who forged
 * that answer. An error notify counts as the gateway's once its AUTH has
 * verified (it may come with IDr and AUTH, as strongSwan sends
 * TS_UNACCEPTABLE); otherwise the SA fails as IKE_FAIL_AUTH_UNVERIFIED
 * (AUTHENTICATION_FAILED) or IKE_FAIL_PEER_UNVERIFIED, which the agent
 * retries with a new IKE SA. Waiting would not help: no one else can
 * answer under these keys.
 */
bool sa_auth_refused(struct ike_sa *sa, const struct ike_msg *m, const char *what)
{
	unsigned i1 = 0, i2 = 0;
	uint16_t err;

	if (sa_first_error_notify(m, &err) < 0)
		return false;
	if (!sa->auth->peer_ok && (sa->auth->step == AUTH_ONE || sa->auth->step == AUTH_EAP_FIRST) &&
	    ike_msg_find(m, PL_IDr, &i1) && ike_msg_find(m, PL_AUTH, &i2) &&
	    sa_auth_verify_peer(sa, m, NULL, 0) < 0)
		return true;	/* failed: its AUTH did not verify */
	if (!sa->auth->peer_ok) {
		log_warn("ike: %s answer N(%s) not authenticated (the gateway has not proven its "
			 "identity yet); giving up this IKE SA", what, ike_notify_name(err));
		sa_fail(sa, err == N_AUTHENTICATION_FAILED ? IKE_FAIL_AUTH_UNVERIFIED :
			IKE_FAIL_PEER_UNVERIFIED, "gateway answered %s with %s before it authenticated "
			"(unverified, maybe forged)", what, ike_notify_name(err));
		return true;
	}
	sa_fail(sa, err == N_AUTHENTICATION_FAILED ? IKE_FAIL_AUTH : IKE_FAIL_PEER_ERROR,
		"gateway answered %s with %s", what, ike_notify_name(err));
	return true;
}

void sa_auth_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
	if (!sa->auth)
		return;
	if (sa->auth->step != AUTH_ONE) {
		sa_eap_response(sa, m, now);
		return;
	}
	if (sa_auth_refused(sa, m, "IKE_AUTH"))
		return;
	if (!sa->auth->peer_ok && sa_auth_verify_peer(sa, m, NULL, 0) < 0)
		return;
	sa_auth_finish(sa, m, now);
}
