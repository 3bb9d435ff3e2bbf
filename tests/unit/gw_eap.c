/*
 * Test-only: the scripted gateway of ike_responder.c runs EAP-MSCHAPv2 as
 * strongSwan's gateway does (RFC 7296 §2.16; draft-kamath-pppext-eap-
 * mschapv2): IKE_AUTH without AUTH -> IDr, AUTH, EAP Identity; then
 * MSCHAPv2 Challenge, Success or Failure request, EAP Success or Failure;
 * the client's AUTH from the MSK -> the gateway's AUTH from the MSK, CP,
 * SA, TSi, TSr. Included after ike_responder.c by test files.
 */
#include "eap/eap.h"
#include "eap/mschap.h"

struct gw_eap {
	const char *user, *password;	/* the account the gateway knows */
	enum { GE_IDENTITY, GE_CHALLENGE, GE_SUCCESS, GE_FAILURE, GE_AUTH, GE_DONE } step;
	uint8_t id;			/* EAP Identifier of the last request */
	uint8_t chal[MSCHAP_CHALLENGE_LEN];
	uint8_t msk[MSCHAP_MSK_LEN];
	uint8_t first[GW_MSG_MAX];	/* the client's first IKE_AUTH: its SA, CP, TS */
	size_t first_len;
	uint8_t idr[4 + 64];
	size_t idr_len;
	uint16_t final_error;		/* answer the client's last AUTH with this notify */
	bool bad_final_auth;		/* our last AUTH from another key */
	bool rejected;
};

static void ge_put(struct ike_mw *b, uint8_t code, uint8_t id, uint8_t type, const uint8_t *d,
		   size_t len)
{
	struct ike_pl_eap e = { .code = code, .id = id, .type = type, .data = d,
				.len = (uint16_t)len };

	ck_assert_int_eq(ike_put_eap(b, &e), 0);
}

/* An MSCHAPv2 packet's Type-Data: OpCode, MS-CHAPv2-ID, MS-Length, then body. */
static size_t ge_ms(uint8_t *out, uint8_t op, uint8_t ms_id, const uint8_t *body, size_t blen)
{
	out[0] = op;
	out[1] = ms_id;
	put_be16(out + 2, (uint16_t)(blen + 4));
	memcpy(out + 4, body, blen);
	return blen + 4;
}

static void gw_eap_first(struct gw *g, const uint8_t *req, size_t len)
{
	struct gw_eap *e = g->eap;
	struct gw_out o;

	ck_assert_uint_le(len, sizeof(e->first));
	memcpy(e->first, req, len);
	e->first_len = len;
	e->idr_len = id_body(ID_FQDN, GW_ID, e->idr);
	struct ike_pl_id idr = { .type = ID_FQDN, .data = e->idr + 4,
				 .len = (uint16_t)(e->idr_len - 4) };
	struct auth_octets orr = { .msg = g->msg2, .msg_len = g->msg2_len, .nonce = g->ni,
				   .nonce_len = g->ni_len, .id = e->idr, .id_len = e->idr_len };

	gw_begin(&o);
	ck_assert_int_eq(ike_put_id(&o.b, PL_IDr, &idr), 0);
	gw_put_own_auth(g, &o.b, &orr);
	e->id = 0x21;
	ge_put(&o.b, IKE_EAP_REQUEST, e->id, EAP_TYPE_IDENTITY, NULL, 0);
	e->step = GE_IDENTITY;
	gw_answer(g, &g->ike, &o);
}

/* The MSCHAPv2 Response: the NT-Response checked with the password the gateway knows. */
static void ge_response(struct gw *g, struct gw_eap *e, const struct ike_pl_eap *in,
			struct gw_out *o)
{
	uint8_t pwh[MSCHAP_HASH_LEN], pwhh[MSCHAP_HASH_LEN], ch[MSCHAP_CH_HASH_LEN];
	uint8_t want[MSCHAP_NT_RESP_LEN], auth[MSCHAP_AUTH_LEN], td[128];
	char s[MSCHAP_AUTH_STR_LEN + 1], msg[120];
	const uint8_t *peer_chal, *nt;
	char err[128];

	/* OpCode 2, MS-CHAPv2-ID, MS-Length, Value-Size 49, Response(49), Name */
	ck_assert_uint_ge(in->len, 4 + 1 + 49);
	ck_assert_uint_eq(in->data[0], 2);
	ck_assert_uint_eq(in->data[4], 49);
	peer_chal = in->data + 5;
	nt = in->data + 5 + 16 + 8;
	ck_assert_uint_eq(in->len - 54, strlen(e->user));
	ck_assert(memcmp(in->data + 54, e->user, strlen(e->user)) == 0);
	ck_assert_int_eq(mschap_nt_password_hash((const uint8_t *)e->password, strlen(e->password),
						 pwh, err, sizeof(err)), 0);
	ck_assert_int_eq(mschap_challenge_hash(peer_chal, e->chal, (const uint8_t *)e->user,
					       strlen(e->user), ch), 0);
	ck_assert_int_eq(mschap_challenge_response(ch, pwh, want), 0);
	e->id++;
	if (memcmp(want, nt, sizeof(want)) != 0) {
		/* the Failure request of draft-kamath §2.3 as strongSwan writes it */
		size_t n = (size_t)snprintf(msg, sizeof(msg), "E=691 R=1 C=%032X V=3 M=FAILED", 0);

		ge_put(&o->b, IKE_EAP_REQUEST, e->id, EAP_TYPE_MSCHAPV2, td,
		       ge_ms(td, 4, in->data[1], (const uint8_t *)msg, n));
		e->step = GE_FAILURE;
		return;
	}
	ck_assert_int_eq(mschap_hash_nt_password_hash(pwh, pwhh), 0);
	ck_assert_int_eq(mschap_auth_response(pwhh, nt, ch, auth), 0);
	ck_assert_int_eq(mschap_msk(pwhh, nt, e->msk), 0);
	mschap_auth_string(auth, s);
	size_t n = (size_t)snprintf(msg, sizeof(msg), "%s M=Welcome2strongSwan", s);

	ge_put(&o->b, IKE_EAP_REQUEST, e->id, EAP_TYPE_MSCHAPV2, td,
	       ge_ms(td, 3, in->data[1], (const uint8_t *)msg, n));
	e->step = GE_SUCCESS;
}

/* The client's last AUTH (§2.16): prf(prf(MSK, "Key Pad for IKEv2"), InitiatorSignedOctets). */
static void ge_final(struct gw *g, struct gw_eap *e, struct gw_out *o)
{
	struct ike_pl_any au;
	uint8_t mac[PRF_MAX_LEN], theirs[PRF_MAX_LEN];
	const uint8_t *skp;
	size_t skplen, maclen, theirs_len;
	uint32_t id = g->m.hdr.msg_id;
	unsigned it = 0;

	gw_get(g, PL_AUTH, &au);
	ck_assert_uint_eq(au.u.auth.method, AUTH_SHARED_KEY_MIC);
	ck_assert_uint_le(au.u.auth.len, sizeof(theirs));
	theirs_len = au.u.auth.len;
	memcpy(theirs, au.u.auth.data, theirs_len);	/* g->plain is reused below */
	gw_open(g, &g->ike, e->first, e->first_len);	/* IDi, SA, CP, TS of the first request */
	const struct ike_pl *idp = ike_msg_find(&g->m, PL_IDi, &it);
	struct auth_octets oi = { .msg = g->msg1, .msg_len = g->msg1_len, .nonce = g->nr,
				  .nonce_len = sizeof(g->nr), .id = idp->body, .id_len = idp->len };
	struct auth_octets orr = { .msg = g->msg2, .msg_len = g->msg2_len, .nonce = g->ni,
				   .nonce_len = g->ni_len, .id = e->idr, .id_len = e->idr_len };

	auth_sk_p(&g->ike.keys, true, &skp, &skplen);
	g->peer_auth_ok = auth_psk_verify(g->algs.prf, e->msk, sizeof(e->msk), skp, skplen, &oi,
					  theirs, theirs_len) == 0;
	g->m.hdr.msg_id = id;	/* answer the last request, not the first */
	if (!g->peer_auth_ok || e->final_error) {
		gw_notify(&o->b, e->final_error ? e->final_error : N_AUTHENTICATION_FAILED, 0, 0);
		return;
	}
	auth_sk_p(&g->ike.keys, false, &skp, &skplen);
	ck_assert_int_eq(auth_psk_compute(g->algs.prf, e->msk, sizeof(e->msk), skp, skplen, &orr,
					  mac, sizeof(mac), &maclen), 0);
	struct ike_pl_auth ar = { .method = AUTH_SHARED_KEY_MIC, .data = mac, .len = (uint16_t)maclen };

	if (e->bad_final_auth)
		mac[0] ^= 1;
	ck_assert_int_eq(ike_put_auth(&o->b, &ar), 0);
	gw_auth_child(g, o);
	e->step = GE_DONE;
}

/* One of the client's later IKE_AUTH requests: its EAP response, or its last AUTH. */
static void gw_eap_round(struct gw *g, const uint8_t *req, size_t len)
{
	struct gw_eap *e = g->eap;
	struct ike_pl_any ep;
	uint8_t td[64];
	struct gw_out o;

	gw_open(g, &g->ike, req, len);
	ck_assert_uint_eq(g->m.hdr.exchange, IKE_AUTH);
	gw_begin(&o);
	if (e->step == GE_AUTH) {
		ge_final(g, e, &o);
		gw_answer(g, &g->ike, &o);
		return;
	}
	gw_get(g, PL_EAP, &ep);
	ck_assert_uint_eq(ep.u.eap.code, IKE_EAP_RESPONSE);
	ck_assert_uint_eq(ep.u.eap.id, e->id);
	switch (e->step) {
	case GE_IDENTITY:
		ck_assert_uint_eq(ep.u.eap.type, EAP_TYPE_IDENTITY);
		ck_assert_uint_eq(ep.u.eap.len, strlen(e->user));
		ck_assert_int_eq(RAND_bytes(e->chal, sizeof(e->chal)), 1);
		e->id++;
		td[0] = sizeof(e->chal);
		memcpy(td + 1, e->chal, sizeof(e->chal));
		memcpy(td + 17, "gw", 2);
		{
			uint8_t t[64];

			ge_put(&o.b, IKE_EAP_REQUEST, e->id, EAP_TYPE_MSCHAPV2, t,
			       ge_ms(t, 1, 0x42, td, 19));
		}
		e->step = GE_CHALLENGE;
		break;
	case GE_CHALLENGE:
		ck_assert_uint_eq(ep.u.eap.type, EAP_TYPE_MSCHAPV2);
		ge_response(g, e, &ep.u.eap, &o);
		break;
	case GE_SUCCESS:
		/* the Success Response: OpCode 3 alone */
		ck_assert_uint_eq(ep.u.eap.type, EAP_TYPE_MSCHAPV2);
		ck_assert_uint_eq(ep.u.eap.len, 1);
		ck_assert_uint_eq(ep.u.eap.data[0], 3);
		ge_put(&o.b, IKE_EAP_SUCCESS, ++e->id, 0, NULL, 0);
		e->step = GE_AUTH;
		break;
	case GE_FAILURE:
		ck_assert_uint_eq(ep.u.eap.type, EAP_TYPE_MSCHAPV2);
		ck_assert_uint_eq(ep.u.eap.len, 1);
		ck_assert_uint_eq(ep.u.eap.data[0], 4);
		/* strongSwan: EAP Failure and AUTHENTICATION_FAILED beside it */
		ge_put(&o.b, IKE_EAP_FAILURE, ++e->id, 0, NULL, 0);
		gw_notify(&o.b, N_AUTHENTICATION_FAILED, 0, 0);
		e->rejected = true;
		e->step = GE_DONE;
		break;
	default:
		ck_abort_msg("gateway: EAP request in step %d", e->step);
	}
	gw_answer(g, &g->ike, &o);
}

static void gw_eap_init(struct gw *g, struct gw_eap *e, const char *user, const char *password)
{
	memset(e, 0, sizeof(*e));
	e->user = user;
	e->password = password;
	g->eap = e;
	g->eap_first = gw_eap_first;
}
