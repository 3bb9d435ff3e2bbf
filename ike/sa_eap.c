/*
 * The EAP rounds of IKE_AUTH (RFC 7296 §2.16): the gateway proves itself
 * with its AUTH before anything of ours goes into EAP, the EAP peer
 * (eap/eap.h) answers each request, and once EAP succeeded both sides
 * send an AUTH keyed with the method's MSK.
 */
#include "ike/sa_int.h"

#include <string.h>

#include <openssl/crypto.h>

#include "ike/auth.h"
#include "ike/names.h"
#include "util/err.h"
#include "util/log.h"

/* EAP-TLS: the EAP server's certificate is checked as the gateway's is in IKE. */
static int verify_eap_server(void *ctx, const uint8_t *ee, size_t ee_len,
			     const uint8_t *const *chain, const size_t *chain_len, unsigned n,
			     char *err, size_t errlen)
{
	struct ike_sa *sa = ctx;
	struct ike_peer_cert *pc = NULL;
	const uint8_t *id;
	size_t idlen;
	uint8_t type;
	char subj[160];

	if (!sa->cfg.trust) {
		if (!sa->cfg.eap_unverified)
			return err_set(err, errlen, "no [auth] ca to check the EAP server against");
		log_warn("eap: EAP server certificate NOT verified ([auth] insecure = yes)");
		return 0;
	}
	/* The identity the gateway proved in IKE (its IDr, checked against gateway id). */
	if (sa->auth->idr_len < 4)
		return err_set(err, errlen, "no gateway identity to check the EAP server against");
	type = sa->auth->idr[0];
	id = sa->auth->idr + 4;
	idlen = sa->auth->idr_len - 4;
	if (n > IKE_CERT_MAX_CHAIN)
		n = IKE_CERT_MAX_CHAIN;
	if (ike_peer_cert_verify(sa->cfg.trust, ee, ee_len, chain, chain_len, n, type, id, idlen,
				 &pc, err, errlen) < 0)
		return -1;
	log_info("eap: EAP server authenticated with certificate %s",
		 ike_peer_cert_subject(pc, subj, sizeof(subj)));
	ike_peer_cert_free(pc);
	return 0;
}

int sa_eap_begin(struct ike_sa *sa)
{
	struct sa_auth_x *a = sa->auth;

	a->eap_cfg = *sa->cfg.eap;
	a->eap_cfg.verify_server = verify_eap_server;
	a->eap_cfg.verify_ctx = sa;
	return (a->eap = eap_peer_new(&a->eap_cfg)) ? 0 : -1;
}

static int fill_eap(struct ike_sa *sa, struct ike_mw *b)
{
	struct sa_auth_x *a = sa->auth;
	struct ike_pl_eap e = { .code = IKE_EAP_RESPONSE, .id = a->eap_out[1],
				.type = a->eap_out_len > 4 ? a->eap_out[4] : 0,
				.data = a->eap_out + 5,
				.len = (uint16_t)(a->eap_out_len > 5 ? a->eap_out_len - 5 : 0) };

	return ike_put_eap(b, &e);
}

/* §2.16: "the shared key from the EAP method"; SK_pi/SK_pr when it has none. */
static void eap_key(struct ike_sa *sa, bool initiator, const uint8_t **key, size_t *len)
{
	if (eap_peer_msk(sa->auth->eap, key, len) < 0)
		auth_sk_p(&sa->keys, initiator, key, len);
}

/* Our last AUTH (§2.16): prf(prf(MSK, "Key Pad for IKEv2"), InitiatorSignedOctets). */
static int fill_auth(struct ike_sa *sa, struct ike_mw *b)
{
	uint8_t idb[4 + IKE_ID_MAX], mac[PRF_MAX_LEN];
	const uint8_t *key, *skp;
	size_t idlen, keylen, skplen, maclen;
	int rc = -1;

	idlen = sa_id_body(&sa->cfg.local_id, idb, sizeof(idb));
	eap_key(sa, true, &key, &keylen);
	auth_sk_p(&sa->keys, true, &skp, &skplen);
	struct auth_octets o = { .msg = sa->init_req, .msg_len = sa->init_req_len,
				 .nonce = sa->nr, .nonce_len = sa->nr_len, .id = idb, .id_len = idlen };
	if (idlen && auth_psk_compute(sa->algs.prf, key, keylen, skp, skplen, &o, mac, sizeof(mac),
				      &maclen) == 0) {
		struct ike_pl_auth au = { .method = AUTH_SHARED_KEY_MIC, .data = mac,
					  .len = (uint16_t)maclen };

		rc = ike_put_auth(b, &au);
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

/* The user named in messages: MSCHAPv2's user, else the EAP identity. */
static const char *eap_user(const struct ike_sa *sa)
{
	const struct eap_cfg *c = sa->cfg.eap;

	return c->user ? c->user : c->identity ? c->identity : "";
}

static void eap_failed(struct ike_sa *sa)
{
	const struct eap_peer *p = sa->auth->eap;
	const char *method = eap_peer_method(p), *why = eap_peer_error(p);

	switch (eap_peer_fail_kind(p)) {
	case EAP_FAIL_REJECTED:
		log_info("eap: %s", why);
		if (method && strcmp(method, "MSCHAPv2") == 0)
			sa_fail(sa, IKE_FAIL_AUTH, "gateway rejected the password for user '%s' "
				"(EAP failure)", eap_user(sa));
		else if (method)
			sa_fail(sa, IKE_FAIL_AUTH, "gateway rejected the EAP-%s login of '%s' (EAP "
				"failure: %s)", method, eap_user(sa), why);
		else
			sa_fail(sa, IKE_FAIL_AUTH, "gateway rejected the login of '%s' (EAP failure)",
				eap_user(sa));
		break;
	case EAP_FAIL_SERVER:
		sa_fail(sa, IKE_FAIL_AUTH, "the gateway did not prove itself in EAP-%s: %s",
			method ? method : "?", why);
		break;
	case EAP_FAIL_PROTOCOL:
		sa_fail(sa, IKE_FAIL_PROTOCOL, "EAP: %s", why);
		break;
	default:
		sa_fail(sa, IKE_FAIL_AUTH, "EAP: %s", why);
	}
}

/* One EAP packet of the gateway's, answered in our next IKE_AUTH request. */
static void eap_round(struct ike_sa *sa, const struct ike_pl *ep, uint64_t now)
{
	struct sa_auth_x *a = sa->auth;

	switch (eap_peer_input(a->eap, ep->body, ep->len, a->eap_out, sizeof(a->eap_out),
			       &a->eap_out_len)) {
	case EAP_CONT:
		a->step = AUTH_EAP;
		if (sa_auth_request(sa, fill_eap, now) < 0)
			sa_fail(sa, IKE_FAIL_LOCAL, "cannot build our EAP response");
		break;
	case EAP_SUCCESS:
		a->step = AUTH_EAP_LAST;
		if (sa_auth_request(sa, fill_auth, now) < 0)
			sa_fail(sa, IKE_FAIL_LOCAL, "cannot build our AUTH after EAP");
		break;
	case EAP_FAIL:
		eap_failed(sa);
		break;
	case EAP_DROP:
		/* protected by the IKE SA, so from the gateway: nothing to wait for */
		sa_fail(sa, IKE_FAIL_PROTOCOL, "the gateway's EAP message is malformed or out of order");
		break;
	}
}

void sa_eap_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
	struct sa_auth_x *a = sa->auth;
	const uint8_t *msk;
	size_t msk_len;
	unsigned it = 0;
	const struct ike_pl *ep = ike_msg_find(m, PL_EAP, &it);
	struct ike_pl_notify n;

	if (a->step == AUTH_EAP_LAST) {
		if (sa_auth_refused(sa, m, "our AUTH after EAP"))
			return;
		eap_key(sa, false, &msk, &msk_len);
		if (sa_auth_verify_peer(sa, m, msk, msk_len) == 0)
			sa_auth_finish(sa, m, now);
		return;
	}
	if (a->step == AUTH_EAP_FIRST) {
		/* §2.16: the responder authenticates itself first; nothing of ours goes into
		 * EAP before its AUTH verified (the password stays here if it does not). */
		if (sa_auth_refused(sa, m, "IKE_AUTH") ||
		    (!a->peer_ok && sa_auth_verify_peer(sa, m, NULL, 0) < 0))
			return;
		sa->peer_mobike |= sa_find_notify(m, N_MOBIKE_SUPPORTED, &n) != NULL;
		if (!ep) {
			sa_fail(sa, IKE_FAIL_PROTOCOL, "the gateway did not start EAP (does it expect "
				"another [auth] method?)");
			return;
		}
		eap_round(sa, ep, now);
		return;
	}
	/* The EAP packet first: an EAP Failure says more than AUTHENTICATION_FAILED beside it. */
	if (ep) {
		eap_round(sa, ep, now);
		return;
	}
	if (!sa_auth_refused(sa, m, "our EAP response"))
		sa_fail(sa, IKE_FAIL_PROTOCOL, "the gateway's IKE_AUTH response carries no EAP payload");
}
