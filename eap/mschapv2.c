/*
 * EAP-MSCHAPv2, peer side (draft-kamath-pppext-eap-mschapv2-02, RFC 2759).
 * We see the Type-Data after the EAP Type octet:
 *
 *   request                                 our response
 *   Challenge  1 | ID | MS-Length |         Response  2 | ID | MS-Length |
 *              16 | challenge | Name                  49 | Peer-Challenge |
 *                                                     8 zero | NT-Response |
 *                                                     0 | Name
 *   Success    3 | ID | MS-Length |         Success Response  3
 *              "S=<40 hex> M=<msg>"
 *   Failure    4 | ID | MS-Length |         Failure Response  4
 *              "E=e R=r C=c V=v M=<msg>"
 *
 * States: CHALLENGE -> (Challenge) -> SUCCESS -> (Success, S= right) -> DONE
 *                                             -> (Failure, or S= wrong) -> FAILED
 * What arrives in the wrong state is dropped (EAP_M_DROP): a Success or
 * Failure before we answered a Challenge, a second Challenge once we
 * answered one (IKE retransmits for us; we neither retry after a Failure
 * nor change passwords, so a new Challenge has no place), anything after
 * DONE or FAILED. Malformed requests (lengths, Value-Size, opcodes we do
 * not handle, a Failure without a readable E=) are dropped too (RFC 3748
 * §2.1); a Success whose S= is missing, malformed or wrong ends the login
 * (RFC 2759 §5).
 */
#include "eap/mschapv2.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "eap/method.h"
#include "eap/mschap.h"

#define OP_CHALLENGE	1
#define OP_RESPONSE	2
#define OP_SUCCESS	3
#define OP_FAILURE	4
#define RESP_VALUE_SIZE	49	/* Peer-Challenge 16, Reserved 8, NT-Response 24, Flags 1 */

/* Windows error codes in a Failure request's E= (RFC 2759 §6). */
#define ERROR_RESTRICTED_LOGON_HOURS	646
#define ERROR_ACCT_DISABLED		647
#define ERROR_PASSWD_EXPIRED		648
#define ERROR_NO_DIALIN_PERMISSION	649
#define ERROR_AUTHENTICATION_FAILURE	691
#define ERROR_CHANGING_PASSWORD		709

enum ms_state { ST_CHALLENGE, ST_SUCCESS, ST_DONE, ST_FAILED };

struct mschapv2 {
	enum ms_state state;
	uint8_t pw_hash[MSCHAP_HASH_LEN];	/* NtPasswordHash: all we keep of the password */
	uint8_t user[EAP_IDENTITY_MAX];
	size_t user_len;
	struct mschap_result res;		/* valid from ST_SUCCESS on */
	bool fixed_pc;				/* tests: peer_chal set by the hook */
	uint8_t peer_chal[MSCHAP_CHALLENGE_LEN];
	enum eap_fail_kind why_kind;
	char why[160];				/* set when the server refused us */
};

static void *ms_start(const struct eap_cfg *cfg, struct eap_merr *e)
{
	const char *user = cfg->user ? cfg->user : cfg->identity;
	struct mschapv2 *s;
	size_t ulen;

	if (!cfg->password || !cfg->password_len) {
		eap_merr_set(e, EAP_FAIL_LOCAL, "no password for EAP-MSCHAPv2");
		return NULL;
	}
	if (!user || !*user) {
		eap_merr_set(e, EAP_FAIL_LOCAL, "no user name for EAP-MSCHAPv2");
		return NULL;
	}
	ulen = strlen(user);
	if (ulen > EAP_IDENTITY_MAX) {
		eap_merr_set(e, EAP_FAIL_LOCAL, "the EAP-MSCHAPv2 user name is longer than %d octets",
			     EAP_IDENTITY_MAX);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		eap_merr_set(e, EAP_FAIL_LOCAL, "out of memory");
		return NULL;
	}
	memcpy(s->user, user, ulen);
	s->user_len = ulen;
	/* Hash now: a bad password or a missing MD4 shows before we answer anything. */
	if (mschap_nt_password_hash(cfg->password, cfg->password_len, s->pw_hash, e->text,
				    sizeof(e->text)) < 0) {
		e->kind = EAP_FAIL_LOCAL;
		OPENSSL_cleanse(s, sizeof(*s));
		free(s);
		return NULL;
	}
	return s;
}

void eap_mschapv2_fix_peer_challenge(void *st, const uint8_t pc[MSCHAP_CHALLENGE_LEN])
{
	struct mschapv2 *s = st;

	memcpy(s->peer_chal, pc, MSCHAP_CHALLENGE_LEN);
	s->fixed_pc = true;
}

static enum eap_mstatus fail_local(struct mschapv2 *s, struct eap_merr *e, const char *what)
{
	s->state = ST_FAILED;
	mschap_result_clear(&s->res);
	return eap_merr_set(e, EAP_FAIL_LOCAL, "%s", what);
}

/* Challenge (RFC 2759 §3) -> Response (§4). r is after the MS-Length. */
static enum eap_mstatus on_challenge(struct mschapv2 *s, uint8_t ms_id, struct rd *r,
				     struct wr *out, struct eap_merr *e)
{
	const uint8_t *chal;
	uint8_t vsize;
	size_t start = wr_len(out), mark;

	if (s->state != ST_CHALLENGE)
		return EAP_M_DROP;
	/* RFC 2759 §3: "MS-CHAP-V2 authenticators send an 16-octet challenge Value field" */
	if (rd_u8(r, &vsize) < 0 || vsize != MSCHAP_CHALLENGE_LEN ||
	    rd_ptr(r, MSCHAP_CHALLENGE_LEN, &chal) < 0)
		return EAP_M_DROP;
	/* the rest is the server's Name: not used */
	if (!s->fixed_pc && RAND_bytes(s->peer_chal, sizeof(s->peer_chal)) != 1)
		return fail_local(s, e, "no random bytes for the MSCHAPv2 Peer-Challenge");
	if (mschap_peer_compute(s->pw_hash, chal, s->peer_chal, s->user, s->user_len, &s->res) < 0)
		return fail_local(s, e, mschap_crypto_error());

	/* RFC 2759 §4: the 8 Reserved octets and the Flags octet MUST be zero */
	if (wr_u8(out, OP_RESPONSE) < 0 || wr_u8(out, ms_id) < 0 || wr_reserve(out, 2, &mark) < 0 ||
	    wr_u8(out, RESP_VALUE_SIZE) < 0 || wr_bytes(out, s->peer_chal, MSCHAP_CHALLENGE_LEN) < 0 ||
	    wr_zero(out, 8) < 0 || wr_bytes(out, s->res.nt_response, MSCHAP_NT_RESP_LEN) < 0 ||
	    wr_u8(out, 0) < 0 || wr_bytes(out, s->user, s->user_len) < 0 ||
	    /* draft-kamath §2: MS-Length "MUST be set to the value of the Length field minus 5" */
	    wr_fill_u16(out, mark, (uint16_t)(wr_len(out) - start)) < 0)
		return fail_local(s, e, "the MSCHAPv2 Response does not fit");
	s->state = ST_SUCCESS;
	return EAP_M_REPLY;
}

struct tok {
	const char *p;
	size_t len;
};

/* A Success or Failure message: the rest of r, up to a NUL some servers end it with. */
static void message_of(struct rd *r, struct rd *msg)
{
	const uint8_t *nul = memchr(rd_cur(r), '\0', rd_left(r));

	if (rd_sub(r, nul ? (size_t)(nul - rd_cur(r)) : rd_left(r), msg) < 0)
		rd_init(msg, NULL, 0);	/* cannot happen: the length is what is left */
}

/* The next space-separated token of a Success or Failure message. */
static bool next_token(struct rd *r, struct tok *t)
{
	uint8_t c;

	while (rd_peek_u8(r, 0, &c) == 0 && c == ' ')
		if (rd_skip(r, 1) < 0)
			return false;
	t->p = (const char *)rd_cur(r);
	t->len = 0;
	while (rd_peek_u8(r, t->len, &c) == 0 && c != ' ')
		t->len++;
	return t->len && rd_skip(r, t->len) == 0;
}

static bool tok_is(const struct tok *t, const char *key)
{
	return t->len >= 2 && t->p[0] == key[0] && t->p[1] == '=';
}

/* "S=" and 40 hex digits (RFC 2759 §5: auth_string). */
static bool is_auth_string(const struct tok *t)
{
	if (t->len != MSCHAP_AUTH_STR_LEN)
		return false;
	for (size_t i = 2; i < t->len; i++)
		if (!t->p[i] || !strchr("0123456789ABCDEFabcdef", t->p[i]))
			return false;
	return true;
}

/* Success request (RFC 2759 §5): "S=<auth_string> M=<message>". */
static enum eap_mstatus on_success(struct mschapv2 *s, struct rd *in, struct wr *out,
				   struct eap_merr *e)
{
	struct tok t, sig = { NULL, 0 };
	struct rd m;

	if (s->state != ST_SUCCESS)
		return EAP_M_DROP;
	message_of(in, &m);
	/* M= comes last and runs to the end: stop there, its text may hold anything */
	while (next_token(&m, &t) && !tok_is(&t, "M"))
		if (tok_is(&t, "S") && !sig.p)
			sig = t;
	/*
	 * RFC 2759 §5: "If the authenticator response is either missing or
	 * incorrect, the peer MUST end the session."
	 */
	if (!sig.p || !is_auth_string(&sig)) {
		s->state = ST_FAILED;
		mschap_result_clear(&s->res);
		return eap_merr_set(e, EAP_FAIL_PROTOCOL, "the server's MSCHAPv2 Success has no valid "
				    "authenticator response (S=)");
	}
	/* RFC 2759 §8.8 CheckAuthenticatorResponse, before we accept anything */
	if (mschap_auth_check(s->res.auth_response, sig.p, sig.len) < 0) {
		s->state = ST_FAILED;
		mschap_result_clear(&s->res);
		return eap_merr_set(e, EAP_FAIL_SERVER, "the server's MSCHAPv2 authenticator response "
				    "is wrong: it does not know the password");
	}
	/* draft-kamath §2: the Success Response is the OpCode alone */
	if (wr_u8(out, OP_SUCCESS) < 0)
		return fail_local(s, e, "the MSCHAPv2 Success Response does not fit");
	s->state = ST_DONE;
	return EAP_M_REPLY;
}

/* E=<decimal>: 1 to 10 digits. */
static bool parse_error_code(const struct tok *t, unsigned long *code)
{
	unsigned long v = 0;

	if (t->len < 3 || t->len > 12)
		return false;
	for (size_t i = 2; i < t->len; i++) {
		if (t->p[i] < '0' || t->p[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(t->p[i] - '0');
	}
	*code = v;
	return true;
}

static void set_why(struct mschapv2 *s, unsigned long code)
{
	static const struct {
		unsigned long code;
		const char *text;
	} names[] = {
		{ ERROR_RESTRICTED_LOGON_HOURS, "the server refused the login: outside the account's "
						"logon hours" },
		{ ERROR_ACCT_DISABLED, "the server refused the login: the account is disabled" },
		{ ERROR_PASSWD_EXPIRED, "the server refused the login: the password has expired" },
		{ ERROR_NO_DIALIN_PERMISSION, "the server refused the login: the account has no "
					      "dial-in permission" },
		{ ERROR_AUTHENTICATION_FAILURE, "the server rejected the password" },
		{ ERROR_CHANGING_PASSWORD, "the server refused the login: it is changing the password" },
	};
	const char *text = "the server refused the login";

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			text = names[i].text;
	snprintf(s->why, sizeof(s->why), "%s (E=%lu)", text, code);
	s->why_kind = EAP_FAIL_REJECTED;
}

/*
 * Failure request (RFC 2759 §6): "E=eeeeeeeeee R=r C=cccc... V=vvvvvvvvvv
 * M=<msg>". Only E= is read: we neither retry (R=1) nor change the
 * password (V=3), so C= and V= have no use.
 */
static enum eap_mstatus on_failure(struct mschapv2 *s, struct rd *in, struct wr *out,
				   struct eap_merr *e)
{
	struct tok t;
	struct rd m;
	unsigned long code = 0;
	bool have = false;

	if (s->state != ST_SUCCESS)
		return EAP_M_DROP;
	message_of(in, &m);
	while (!have && next_token(&m, &t) && !tok_is(&t, "M")) {
		if (!tok_is(&t, "E"))
			continue;
		if (!parse_error_code(&t, &code))
			return EAP_M_DROP;
		have = true;
	}
	if (!have)
		return EAP_M_DROP;
	set_why(s, code);
	s->state = ST_FAILED;
	mschap_result_clear(&s->res);
	/* draft-kamath §2: the Failure Response is the OpCode alone */
	if (wr_u8(out, OP_FAILURE) < 0)
		return eap_merr_set(e, s->why_kind, "%s", s->why);
	return EAP_M_REPLY;
}

static enum eap_mstatus ms_process(void *st, uint8_t id, const uint8_t *data, size_t len,
				   struct wr *out, struct eap_merr *e)
{
	struct mschapv2 *s = st;
	struct rd r;
	uint8_t op, ms_id;
	uint16_t ms_len;

	rd_init(&r, data, len);
	/* every request the peer gets has OpCode, MS-CHAPv2-ID and MS-Length */
	if (rd_u8(&r, &op) < 0 || rd_u8(&r, &ms_id) < 0 || rd_u16(&r, &ms_len) < 0)
		return EAP_M_DROP;
	/* draft-kamath §2: MS-Length "MUST be set to the value of the Length field minus 5" */
	if (ms_len != len)
		return EAP_M_DROP;
	switch (op) {
	case OP_CHALLENGE:
		return on_challenge(s, ms_id, &r, out, e);
	case OP_SUCCESS:
		/* MS-CHAPv2-ID not checked: the S= we verify covers our own challenge */
		return on_success(s, &r, out, e);
	case OP_FAILURE:
		return on_failure(s, &r, out, e);
	default:	/* Response is ours to send; Change-Password is not supported */
		return EAP_M_DROP;
	}
}

static bool ms_done(const void *st)
{
	const struct mschapv2 *s = st;

	return s->state == ST_DONE;
}

static int ms_msk(const void *st, uint8_t out[EAP_MSK_MAX], size_t *len)
{
	const struct mschapv2 *s = st;

	_Static_assert(MSCHAP_MSK_LEN <= EAP_MSK_MAX, "MSK size");
	if (s->state != ST_DONE)
		return -1;
	memcpy(out, s->res.msk, MSCHAP_MSK_LEN);
	*len = MSCHAP_MSK_LEN;
	return 0;
}

static const char *ms_why_failed(const void *st, enum eap_fail_kind *kind)
{
	const struct mschapv2 *s = st;

	if (!s->why[0])
		return NULL;
	*kind = s->why_kind;
	return s->why;
}

static void ms_free(void *st)
{
	struct mschapv2 *s = st;

	if (!s)
		return;
	OPENSSL_cleanse(s, sizeof(*s));	/* password hash, NT-Response, MSK */
	free(s);
}

const struct eap_method eap_method_mschapv2 = {
	.type = EAP_TYPE_MSCHAPV2,
	.allow = EAP_ALLOW_MSCHAPV2,
	.name = "MSCHAPv2",
	.start = ms_start,
	.process = ms_process,
	.done = ms_done,
	.msk = ms_msk,
	.why_failed = ms_why_failed,
	.free = ms_free,
};
