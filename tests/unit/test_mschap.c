/*
 * EAP-MSCHAPv2: the crypto against RFC 2759 §9.2 and RFC 3079 §3.5.3, the
 * method's message handling, and the decisive check against strongSwan:
 * the capture tests/fixtures/eap_mschapv2_* (a strongSwan client logging in
 * to a strongSwan gateway as testuser / testpass-123) replayed through our
 * method must give strongSwan's NT-Response, accept its gateway's S=, and
 * give an MSK from which our AUTH equals the one strongSwan's client sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/provider.h>

#include "eap/method.h"
#include "eap/mschap.h"
#include "eap/mschapv2.h"
#include "ike/auth.h"
#include "ike/keys.h"
#include "ike/msg.h"
#include "ike/sk.h"
#include "tests/unit/check_main.h"
#include "tests/unit/sa_flat.h"
#include "tests/unit/testutil.h"

/* RFC 2759 §9.2 */
static const char rfc_user[] = "User";
static const char rfc_pass[] = "clientPass";
static const char rfc_auth_chal[] = "5B5D7C7D7B3F2F3E3C2C602132262628";
static const char rfc_peer_chal[] = "21402324255E262A28295F2B3A337C7E";
static const char rfc_ch_hash[] = "D02E4386BCE91226";
static const char rfc_pw_hash[] = "44EBBA8D5312B8D611474411F56989AE";
static const char rfc_nt_resp[] = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF";
static const char rfc_pw_hash_hash[] = "41C00C584BD2D91C4017A2A12FA59F3F";
static const char rfc_auth_str[] = "S=407A5589115FD0D6209F510FE9C04566932CDA56";
/* RFC 3079 §3.5.3 (same credentials and challenges) */
static const char rfc_master_key[] = "FDECE3717A8C838CB388E527AE3CDD31";
static const char rfc_send_start_key128[] = "8B7CDC149B993A1BA118CB153F56DCCB";

static void hex_eq(const uint8_t *got, size_t len, const char *want_hex, const char *what)
{
	uint8_t want[128];
	size_t n = unhex(want_hex, want, sizeof(want));

	ck_assert_msg(n == len, "%s: length %zu, want %zu", what, len, n);
	ck_assert_msg(memcmp(got, want, n) == 0, "%s differs from the RFC", what);
}

START_TEST(rfc2759_vectors)
{
	uint8_t pw_hash[16], hh[16], ac[16], pc[16], ch[8], nt[24], auth[20];
	char s[MSCHAP_AUTH_STR_LEN + 1], err[200] = "";

	unhex(rfc_auth_chal, ac, sizeof(ac));
	unhex(rfc_peer_chal, pc, sizeof(pc));
	ck_assert_msg(mschap_nt_password_hash((const uint8_t *)rfc_pass, strlen(rfc_pass), pw_hash,
					      err, sizeof(err)) == 0, "%s", err);
	hex_eq(pw_hash, 16, rfc_pw_hash, "PasswordHash");
	ck_assert_int_eq(mschap_hash_nt_password_hash(pw_hash, hh), 0);
	hex_eq(hh, 16, rfc_pw_hash_hash, "PasswordHashHash");
	ck_assert_int_eq(mschap_challenge_hash(pc, ac, (const uint8_t *)rfc_user, 4, ch), 0);
	hex_eq(ch, 8, rfc_ch_hash, "ChallengeHash");
	ck_assert_int_eq(mschap_challenge_response(ch, pw_hash, nt), 0);
	hex_eq(nt, 24, rfc_nt_resp, "NT-Response");
	ck_assert_int_eq(mschap_auth_response(hh, nt, ch, auth), 0);
	mschap_auth_string(auth, s);
	ck_assert_str_eq(s, rfc_auth_str);
	ck_assert_int_eq(mschap_auth_check(auth, rfc_auth_str, strlen(rfc_auth_str)), 0);
}
END_TEST

START_TEST(rfc3079_master_keys)
{
	uint8_t hh[16], nt[24], mk[16], k[16], msk[64];

	unhex(rfc_pw_hash_hash, hh, sizeof(hh));
	unhex(rfc_nt_resp, nt, sizeof(nt));
	ck_assert_int_eq(mschap_master_key(hh, nt, mk), 0);
	hex_eq(mk, 16, rfc_master_key, "MasterKey");
	/* the RFC's sample: GetAsymmetricStartKey(MasterKey, 16, IsSend, IsServer) */
	ck_assert_int_eq(mschap_start_key(mk, true, true, k), 0);
	hex_eq(k, 16, rfc_send_start_key128, "SendStartKey128");
	/* the server's send key is the client's receive key, and the other way round */
	ck_assert_int_eq(mschap_start_key(mk, false, false, k), 0);
	hex_eq(k, 16, rfc_send_start_key128, "client MasterReceiveKey");
	ck_assert_int_eq(mschap_msk(hh, nt, msk), 0);
	hex_eq(msk + 16, 16, rfc_send_start_key128, "MSK[16..31]");
	ck_assert_int_eq(mschap_start_key(mk, true, false, k), 0);
	ck_assert_mem_eq(msk, k, 16);
	ck_assert_int_eq(mschap_start_key(mk, false, true, k), 0);
	ck_assert_mem_eq(msk, k, 16);
	for (int i = 32; i < 64; i++)
		ck_assert_uint_eq(msk[i], 0);
}
END_TEST

START_TEST(peer_compute_matches_parts)
{
	uint8_t pw_hash[16], ac[16], pc[16];
	struct mschap_result r;

	unhex(rfc_pw_hash, pw_hash, sizeof(pw_hash));
	unhex(rfc_auth_chal, ac, sizeof(ac));
	unhex(rfc_peer_chal, pc, sizeof(pc));
	ck_assert_int_eq(mschap_peer_compute(pw_hash, ac, pc, (const uint8_t *)"User", 4, &r), 0);
	hex_eq(r.nt_response, 24, rfc_nt_resp, "NT-Response");
	ck_assert_int_eq(mschap_auth_check(r.auth_response, rfc_auth_str, 42), 0);
	/* RFC 2759 §8.2: a domain prefix is not hashed */
	ck_assert_int_eq(mschap_peer_compute(pw_hash, ac, pc, (const uint8_t *)"DOM\\User", 8, &r), 0);
	hex_eq(r.nt_response, 24, rfc_nt_resp, "NT-Response with DOM\\");
	mschap_result_clear(&r);
}
END_TEST

START_TEST(auth_string_checks)
{
	uint8_t auth[20];
	char lower[] = "S=407a5589115fd0d6209f510fe9c04566932cda56";
	char bad[sizeof(rfc_auth_str)];

	unhex(rfc_auth_str + 2, auth, sizeof(auth));
	ck_assert_int_eq(mschap_auth_check(auth, lower, strlen(lower)), 0);
	ck_assert_int_lt(mschap_auth_check(auth, rfc_auth_str, 41), 0);
	memcpy(bad, rfc_auth_str, sizeof(bad));
	bad[0] = 's';
	ck_assert_int_lt(mschap_auth_check(auth, bad, 42), 0);
	memcpy(bad, rfc_auth_str, sizeof(bad));
	bad[20] = 'G';
	ck_assert_int_lt(mschap_auth_check(auth, bad, 42), 0);
	memcpy(bad, rfc_auth_str, sizeof(bad));
	bad[41] = bad[41] == '6' ? '7' : '6';
	ck_assert_int_lt(mschap_auth_check(auth, bad, 42), 0);
}
END_TEST

/* MD4 on our own, to check the UTF-16LE conversion independently. */
static void md4_here(const uint8_t *p, size_t len, uint8_t out[16])
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
	OSSL_PROVIDER *prov;
	EVP_MD *md;

	ck_assert(ctx != NULL);
	prov = OSSL_PROVIDER_load(ctx, "legacy");
	ck_assert(prov != NULL);
	md = EVP_MD_fetch(ctx, "MD4", NULL);
	ck_assert(md != NULL);
	ck_assert_int_eq(EVP_Digest(p, len, out, NULL, md, NULL), 1);
	EVP_MD_free(md);
	OSSL_PROVIDER_unload(prov);
	OSSL_LIB_CTX_free(ctx);
}

START_TEST(utf8_passwords)
{
	/* "pä€😀": U+00E4, U+20AC, U+1F600 (a surrogate pair in UTF-16) */
	static const uint8_t good[] = { 'p', 0xc3, 0xa4, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80 };
	static const uint8_t u16[] = { 'p', 0, 0xe4, 0, 0xac, 0x20, 0x3d, 0xd8, 0x00, 0xde };
	static const struct { const char *what; uint8_t b[4]; size_t n; } bad[] = {
		{ "truncated", { 0xe2, 0x82 }, 2 },
		{ "stray continuation", { 0x80 }, 1 },
		{ "overlong", { 0xc0, 0xaf }, 2 },
		{ "surrogate", { 0xed, 0xa0, 0x80 }, 3 },
		{ "above U+10FFFF", { 0xf4, 0x90, 0x80, 0x80 }, 4 },
		{ "0xff", { 0xff }, 1 },
	};
	uint8_t h[16], want[16], big[2 * 257];
	char err[200];

	ck_assert_int_eq(mschap_nt_password_hash(good, sizeof(good), h, err, sizeof(err)), 0);
	md4_here(u16, sizeof(u16), want);
	ck_assert_mem_eq(h, want, 16);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(mschap_nt_password_hash(bad[i].b, bad[i].n, h, err, sizeof(err)) < 0,
			      "%s accepted", bad[i].what);
		ck_assert_msg(strstr(err, "not valid UTF-8"), "%s: %s", bad[i].what, err);
	}
	/* 256 UTF-16 units are allowed, 257 are not */
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(mschap_nt_password_hash(big, 256, h, err, sizeof(err)), 0);
	ck_assert_int_lt(mschap_nt_password_hash(big, 257, h, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "too long"), "%s", err);
}
END_TEST


/* ---- the method ---- */

struct run {
	uint8_t out[EAP_MSG_MAX];
	size_t len;
	struct eap_merr e;
};

static void *start_with(const char *user, const char *identity, const char *pass)
{
	struct eap_cfg cfg = { .identity = identity, .user = user,
			       .password = (const uint8_t *)pass, .password_len = pass ? strlen(pass) : 0 };
	struct eap_merr e = { 0 };
	void *st = eap_method_mschapv2.start(&cfg, &e);

	ck_assert_msg(st != NULL, "start: %s", e.text);
	return st;
}

static enum eap_mstatus feed(void *st, const uint8_t *data, size_t len, struct run *r)
{
	struct wr w;
	enum eap_mstatus rc;

	memset(r, 0, sizeof(*r));
	wr_init(&w, r->out, sizeof(r->out));
	rc = eap_method_mschapv2.process(st, 7, data, len, &w, &r->e);
	r->len = wr_len(&w);
	if (rc != EAP_M_REPLY)
		ck_assert_uint_eq(r->len, 0);	/* nothing written unless we reply */
	return rc;
}

/* Type-Data of a Challenge: OpCode 1, ID, MS-Length, Value-Size, challenge, Name. */
static size_t mk_challenge(uint8_t *p, uint8_t ms_id, uint8_t vsize, const uint8_t *chal,
			   size_t chal_len, const char *name)
{
	size_t n = 0, nl = strlen(name);

	p[n++] = 1;
	p[n++] = ms_id;
	n += 2;
	p[n++] = vsize;
	memcpy(p + n, chal, chal_len);
	n += chal_len;
	memcpy(p + n, name, nl);
	n += nl;
	put_be16(p + 2, (uint16_t)n);
	return n;
}

/* Type-Data of a Success or Failure request with the given message. */
static size_t mk_msg(uint8_t *p, uint8_t op, const char *msg)
{
	size_t n = strlen(msg);

	p[0] = op;
	p[1] = 0x42;
	put_be16(p + 2, (uint16_t)(n + 4));
	memcpy(p + 4, msg, n);
	return n + 4;
}

/* A method that answered the RFC 2759 §9.2 challenge as "User" / "clientPass". */
static void *rfc_answered(void)
{
	uint8_t ac[16], pc[16], pkt[128];
	struct run r;
	void *st = start_with(NULL, "User", "clientPass");
	size_t n;

	unhex(rfc_auth_chal, ac, sizeof(ac));
	unhex(rfc_peer_chal, pc, sizeof(pc));
	eap_mschapv2_fix_peer_challenge(st, pc);
	n = mk_challenge(pkt, 0x42, 16, ac, 16, "server");
	ck_assert_int_eq(feed(st, pkt, n, &r), EAP_M_REPLY);
	return st;
}

START_TEST(start_needs_credentials)
{
	struct eap_cfg cfg = { .identity = "user" };
	struct eap_merr e = { 0 };
	static const uint8_t bad_utf8[] = { 'a', 0xc3 };

	ck_assert_ptr_null(eap_method_mschapv2.start(&cfg, &e));
	ck_assert_int_eq(e.kind, EAP_FAIL_LOCAL);
	ck_assert_str_eq(e.text, "no password for EAP-MSCHAPv2");
	cfg.password = bad_utf8;
	cfg.password_len = sizeof(bad_utf8);
	memset(&e, 0, sizeof(e));
	ck_assert_ptr_null(eap_method_mschapv2.start(&cfg, &e));
	ck_assert_int_eq(e.kind, EAP_FAIL_LOCAL);
	ck_assert_msg(strstr(e.text, "not valid UTF-8"), "%s", e.text);
	cfg.password = (const uint8_t *)"pw";
	cfg.password_len = 2;
	cfg.identity = NULL;
	memset(&e, 0, sizeof(e));
	ck_assert_ptr_null(eap_method_mschapv2.start(&cfg, &e));
	ck_assert_int_eq(e.kind, EAP_FAIL_LOCAL);
	eap_method_mschapv2.free(NULL);
}
END_TEST

START_TEST(response_layout)
{
	uint8_t ac[16] = { 1 }, pkt[128];
	struct run r;
	void *st = start_with("DOMAIN\\alice", "alice@example", "secret");
	size_t n = mk_challenge(pkt, 0x99, 16, ac, 16, "gw");

	ck_assert_int_eq(feed(st, pkt, n, &r), EAP_M_REPLY);
	/* OpCode 2, same MS-CHAPv2-ID, MS-Length = Type-Data length, Value-Size 49 */
	ck_assert_uint_eq(r.len, 4 + 1 + 49 + strlen("DOMAIN\\alice"));
	ck_assert_uint_eq(r.out[0], 2);
	ck_assert_uint_eq(r.out[1], 0x99);
	ck_assert_uint_eq(get_be16(r.out + 2), r.len);
	ck_assert_uint_eq(r.out[4], 49);
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(r.out[5 + 16 + i], 0);	/* Reserved */
	ck_assert_uint_eq(r.out[5 + 48], 0);			/* Flags */
	ck_assert_mem_eq(r.out + 54, "DOMAIN\\alice", 12);	/* cfg->user before identity */
	/* a second Challenge once answered: dropped */
	ck_assert_int_eq(feed(st, pkt, n, &r), EAP_M_DROP);
	ck_assert(!eap_method_mschapv2.done(st));
	eap_method_mschapv2.free(st);
}
END_TEST

START_TEST(bad_challenges_dropped)
{
	uint8_t ac[16] = { 0 }, pkt[256], cut[256];
	struct run r;
	void *st = start_with(NULL, "user", "pw");
	size_t n = mk_challenge(pkt, 1, 16, ac, 16, "name");

	/* every truncation, with MS-Length as sent and with MS-Length made to fit */
	for (size_t l = 0; l < n; l++) {
		memcpy(cut, pkt, l);
		ck_assert_int_eq(feed(st, cut, l, &r), EAP_M_DROP);
		if (l >= 4) {
			put_be16(cut + 2, (uint16_t)l);
			ck_assert_msg(feed(st, cut, l, &r) == (l >= 21 ? EAP_M_REPLY : EAP_M_DROP),
				      "length %zu", l);
			if (l >= 21) {	/* 21: no Name, which we accept */
				eap_method_mschapv2.free(st);
				st = start_with(NULL, "user", "pw");
			}
		}
	}
	/* MS-Length disagreeing with the length, either way */
	memcpy(cut, pkt, n);
	put_be16(cut + 2, (uint16_t)(n - 1));
	ck_assert_int_eq(feed(st, cut, n, &r), EAP_M_DROP);
	put_be16(cut + 2, (uint16_t)(n + 1));
	ck_assert_int_eq(feed(st, cut, n, &r), EAP_M_DROP);
	cut[n] = 'x';
	put_be16(cut + 2, (uint16_t)n);
	ck_assert_int_eq(feed(st, cut, n + 1, &r), EAP_M_DROP);	/* a trailing octet */
	/* Value-Size other than 16 */
	for (unsigned v = 0; v < 256; v += 1) {
		if (v == 16)
			continue;
		n = mk_challenge(cut, 1, (uint8_t)v, ac, 16, "name");
		ck_assert_int_eq(feed(st, cut, n, &r), EAP_M_DROP);
	}
	/* opcodes a peer does not take: Response, Change-Password, unknown */
	for (unsigned op = 0; op < 256; op++) {
		if (op == 1 || op == 3 || op == 4)
			continue;
		memcpy(cut, pkt, sizeof(pkt));
		cut[0] = (uint8_t)op;
		ck_assert_int_eq(feed(st, cut, get_be16(pkt + 2), &r), EAP_M_DROP);
	}
	/* Success and Failure before any Challenge */
	n = mk_msg(cut, 3, rfc_auth_str);
	ck_assert_int_eq(feed(st, cut, n, &r), EAP_M_DROP);
	n = mk_msg(cut, 4, "E=691 R=0");
	ck_assert_int_eq(feed(st, cut, n, &r), EAP_M_DROP);
	/* still waiting for a good Challenge */
	n = mk_challenge(pkt, 1, 16, ac, 16, "name");
	ck_assert_int_eq(feed(st, pkt, n, &r), EAP_M_REPLY);
	eap_method_mschapv2.free(st);
}
END_TEST

START_TEST(success_verified)
{
	uint8_t pkt[256], hh[16], nt[24], msk_want[64], msk[EAP_MSK_MAX];
	char msg[128];
	struct run r;
	size_t n, mlen = 0;
	void *st = rfc_answered();

	ck_assert_int_eq(eap_method_mschapv2.msk(st, msk, &mlen), -1);	/* not before done */
	snprintf(msg, sizeof(msg), "%s M=Welcome", rfc_auth_str);
	n = mk_msg(pkt, 3, msg);
	ck_assert_int_eq(feed(st, pkt, n, &r), EAP_M_REPLY);
	ck_assert_uint_eq(r.len, 1);
	ck_assert_uint_eq(r.out[0], 3);		/* Success Response: the OpCode alone */
	ck_assert(eap_method_mschapv2.done(st));
	ck_assert_int_eq(eap_method_mschapv2.msk(st, msk, &mlen), 0);
	ck_assert_uint_eq(mlen, 64);
	unhex(rfc_pw_hash_hash, hh, sizeof(hh));
	unhex(rfc_nt_resp, nt, sizeof(nt));
	ck_assert_int_eq(mschap_msk(hh, nt, msk_want), 0);
	ck_assert_mem_eq(msk, msk_want, 64);
	/* after done: everything dropped */
	ck_assert_int_eq(feed(st, pkt, n, &r), EAP_M_DROP);
	n = mk_msg(pkt, 4, "E=691");
	ck_assert_int_eq(feed(st, pkt, n, &r), EAP_M_DROP);
	ck_assert_ptr_null(eap_method_mschapv2.why_failed(st, &(enum eap_fail_kind){ 0 }));
	eap_method_mschapv2.free(st);

	/* S= alone, in lower case, after other fields, ended by a NUL */
	static const char *const good[] = {
		"S=407A5589115FD0D6209F510FE9C04566932CDA56",
		"S=407a5589115fd0d6209f510fe9c04566932cda56 M=ok",
		"X=1  S=407A5589115FD0D6209F510FE9C04566932CDA56",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		st = rfc_answered();
		n = mk_msg(pkt, 3, good[i]);
		ck_assert_msg(feed(st, pkt, n, &r) == EAP_M_REPLY, "%s", good[i]);
		eap_method_mschapv2.free(st);
	}
	st = rfc_answered();
	n = mk_msg(pkt, 3, "S=407A5589115FD0D6209F510FE9C04566932CDA56 M=x");
	pkt[n] = '\0';
	put_be16(pkt + 2, (uint16_t)(n + 1));
	ck_assert_int_eq(feed(st, pkt, n + 1, &r), EAP_M_REPLY);
	eap_method_mschapv2.free(st);
}
END_TEST

START_TEST(success_bad_authenticator)
{
	static const struct {
		const char *msg;
		enum eap_fail_kind kind;
	} bad[] = {
		{ "S=407A5589115FD0D6209F510FE9C04566932CDA57", EAP_FAIL_SERVER },	/* wrong */
		{ "S=0000000000000000000000000000000000000000 M=hi", EAP_FAIL_SERVER },
		{ "S=407A5589115FD0D6209F510FE9C04566932CDA5", EAP_FAIL_PROTOCOL },	/* short */
		{ "S=407A5589115FD0D6209F510FE9C04566932CDA566", EAP_FAIL_PROTOCOL },	/* long */
		{ "S=407A5589115FD0D6209F510FE9C04566932CDAZZ", EAP_FAIL_PROTOCOL },	/* not hex */
		{ "M=S=407A5589115FD0D6209F510FE9C04566932CDA56", EAP_FAIL_PROTOCOL },	/* in M= */
		{ "M=welcome", EAP_FAIL_PROTOCOL },					/* missing */
		{ "", EAP_FAIL_PROTOCOL },
		{ "S=", EAP_FAIL_PROTOCOL },
	};
	uint8_t pkt[256], msk[EAP_MSK_MAX];
	struct run r;
	size_t mlen;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *st = rfc_answered();
		size_t n = mk_msg(pkt, 3, bad[i].msg);

		ck_assert_msg(feed(st, pkt, n, &r) == EAP_M_FAIL, "%s accepted", bad[i].msg);
		ck_assert_msg(r.e.kind == bad[i].kind, "%s: kind %d", bad[i].msg, r.e.kind);
		if (bad[i].kind == EAP_FAIL_SERVER)
			ck_assert_str_eq(r.e.text, "the server's MSCHAPv2 authenticator response is "
				     "wrong: it does not know the password");
		ck_assert(!eap_method_mschapv2.done(st));
		ck_assert_int_eq(eap_method_mschapv2.msk(st, msk, &mlen), -1);
		/* and it stays failed */
		n = mk_msg(pkt, 3, rfc_auth_str);
		ck_assert_int_eq(feed(st, pkt, n, &r), EAP_M_DROP);
		eap_method_mschapv2.free(st);
	}
}
END_TEST

START_TEST(failure_named)
{
	static const struct {
		const char *msg;
		const char *why;
	} cases[] = {
		{ "E=691 R=1 C=00112233445566778899AABBCCDDEEFF V=3 M=Authentication failure",
		  "the server rejected the password (E=691)" },
		{ "E=646 R=0 V=3", "the server refused the login: outside the account's logon hours (E=646)" },
		{ "E=647", "the server refused the login: the account is disabled (E=647)" },
		{ "E=648 R=0", "the server refused the login: the password has expired (E=648)" },
		{ "E=649 R=0", "the server refused the login: the account has no dial-in permission (E=649)" },
		{ "E=709 R=0", "the server refused the login: it is changing the password (E=709)" },
		{ "R=0 E=0000000691", "the server rejected the password (E=691)" },
		{ "E=9999999999", "the server refused the login (E=9999999999)" },
	};
	uint8_t pkt[256], msk[EAP_MSK_MAX];
	struct run r;
	size_t mlen;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		void *st = rfc_answered();
		size_t n = mk_msg(pkt, 4, cases[i].msg);
		enum eap_fail_kind kind = EAP_FAIL_NONE;
		const char *why;

		ck_assert_msg(feed(st, pkt, n, &r) == EAP_M_REPLY, "%s", cases[i].msg);
		ck_assert_uint_eq(r.len, 1);
		ck_assert_uint_eq(r.out[0], 4);		/* Failure Response: the OpCode alone */
		why = eap_method_mschapv2.why_failed(st, &kind);
		ck_assert_ptr_nonnull(why);
		ck_assert_str_eq(why, cases[i].why);
		ck_assert_int_eq(kind, EAP_FAIL_REJECTED);
		ck_assert(!eap_method_mschapv2.done(st));
		ck_assert_int_eq(eap_method_mschapv2.msk(st, msk, &mlen), -1);
		/* no retry: a new Challenge (R=1) and a late Success are dropped */
		n = mk_msg(pkt, 3, rfc_auth_str);
		ck_assert_int_eq(feed(st, pkt, n, &r), EAP_M_DROP);
		eap_method_mschapv2.free(st);
	}
}
END_TEST

START_TEST(failure_malformed_dropped)
{
	static const char *const bad[] = {
		"", "R=0 C=00 V=3", "M=E=691", "E=", "E=69x", "E=-1", "E=12345678901", "E",
	};
	uint8_t pkt[256];
	struct run r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *st = rfc_answered();
		size_t n = mk_msg(pkt, 4, bad[i]);

		ck_assert_msg(feed(st, pkt, n, &r) == EAP_M_DROP, "'%s' not dropped", bad[i]);
		ck_assert_ptr_null(eap_method_mschapv2.why_failed(st, &(enum eap_fail_kind){ 0 }));
		/* the good Success still works after it */
		n = mk_msg(pkt, 3, rfc_auth_str);
		ck_assert_int_eq(feed(st, pkt, n, &r), EAP_M_REPLY);
		eap_method_mschapv2.free(st);
	}
}
END_TEST

/* ---- the strongSwan capture ---- */


#define FX_CASE		"eap_mschapv2"
#define FX_USER		"testuser"
#define FX_PASS		"testpass-123"
#define FX_MSG_MAX	4096

/* One IKE message of the capture, decrypted if it is protected. */
struct fx_msg {
	uint8_t raw[FX_MSG_MAX];
	uint8_t plain[FX_MSG_MAX];
	size_t len;
	struct ike_msg m;
};

struct fx {
	struct ike_keys k;
	struct fx_msg init_req, init_resp;
	struct fx_msg auth_req[7], auth_resp[7];	/* [n] for <n>_ike_auth, n = 2..6 */
	const uint8_t *ni, *nr;
	size_t ni_len, nr_len;
};

static const struct ike_pl *fx_pl(const struct ike_msg *m, uint8_t type)
{
	unsigned it = 0;
	const struct ike_pl *p = ike_msg_find(m, type, &it);

	ck_assert_msg(p != NULL, "no payload type %u", type);
	return p;
}

static void fx_load(struct fx_msg *f, const char *what, const struct ike_keys *k,
		    bool from_initiator)
{
	f->len = load_fixture(FX_CASE, what, f->raw, sizeof(f->raw));
	ck_assert_int_eq(ike_msg_decode(&f->m, f->raw, f->len), 0);
	if (k && f->m.has_sk) {
		struct sk_dir d;
		size_t plen;
		uint8_t first;

		/* as the receiving side: the initiator's messages with SK_ei, the gateway's with SK_er */
		ck_assert_int_eq(sk_init_ike(&d, k, !from_initiator, false), 0);
		ck_assert_int_eq(sk_decrypt(&d, f->raw, f->len, f->m.sk_off, f->plain,
					    sizeof(f->plain), &plen, &first), 0);
		ck_assert_int_eq(ike_msg_decode_inner(&f->m, first, f->plain, plen), 0);
		sk_dir_free(&d);
	}
}

static void fx_open(struct fx *x)
{
	struct ike_pl_nonce ni, nr;
	struct ike_pl_sa sap;
	struct sa_flat sa;
	struct ike_algs a = { 0 };
	char what[64];

	load_keys(FX_CASE);
	fx_load(&x->init_req, "1_ike_sa_init_req", NULL, true);
	fx_load(&x->init_resp, "1_ike_sa_init_resp", NULL, false);
	ck_assert_int_eq(ike_pl_nonce_decode(fx_pl(&x->init_req.m, PL_NONCE), &ni), 0);
	ck_assert_int_eq(ike_pl_nonce_decode(fx_pl(&x->init_resp.m, PL_NONCE), &nr), 0);
	x->ni = ni.data;
	x->ni_len = ni.len;
	x->nr = nr.data;
	x->nr_len = nr.len;
	ck_assert_int_eq(ike_pl_sa_decode(fx_pl(&x->init_resp.m, PL_SA), &sap), 0);
	sa_flat(&sap, &sa);
	ck_assert_uint_eq(sa.n_prop, 1);
	for (unsigned i = 0; i < sa.prop[0].n_trans; i++) {
		const struct ike_transform *t = &sa.prop[0].trans[i];

		if (t->type == TRANS_ENCR) {
			a.encr = t->id;
			a.encr_keybits = t->key_len;
		} else if (t->type == TRANS_PRF) {
			a.prf = t->id;
		} else if (t->type == TRANS_INTEG) {
			a.integ = t->id;
		}
	}
	ck_assert_int_eq(ike_keys_derive(&x->k, &a, key("g_ir")->val, key("g_ir")->len, x->ni,
					 x->ni_len, x->nr, x->nr_len, key("spi_i")->val,
					 key("spi_r")->val), 0);
	ck_assert_mem_eq(x->k.sk_pi, key("sk_pi")->val, x->k.p_len);
	for (int n = 2; n <= 6; n++) {
		snprintf(what, sizeof(what), "%d_ike_auth_req", n);
		fx_load(&x->auth_req[n], what, &x->k, true);
		snprintf(what, sizeof(what), "%d_ike_auth_resp", n);
		fx_load(&x->auth_resp[n], what, &x->k, false);
	}
}

/* The EAP packet of an IKE_AUTH message, NULL if it has none. */
static const struct ike_pl *fx_eap(const struct fx_msg *f)
{
	unsigned it = 0;

	return ike_msg_find(&f->m, PL_EAP, &it);
}

/* The Type-Data of an EAP packet: after Code, Identifier, Length and Type. */
static void eap_type_data(const struct ike_pl *e, uint8_t code, const uint8_t **td, size_t *len)
{
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_ge(e->len, 5);
	ck_assert_uint_eq(e->body[0], code);
	ck_assert_uint_eq(get_be16(e->body + 2), e->len);
	ck_assert_uint_eq(e->body[4], EAP_TYPE_MSCHAPV2);
	*td = e->body + 5;
	*len = e->len - 5u;
}

static void fx_auth(const struct fx_msg *f, struct ike_pl_auth *au)
{
	ck_assert_int_eq(ike_pl_auth_decode(fx_pl(&f->m, PL_AUTH), au), 0);
	ck_assert_uint_eq(au->method, AUTH_SHARED_KEY_MIC);
}

/*
 * Message 3 resp: the gateway's Challenge; 4 req: strongSwan's Response;
 * 4 resp: the gateway's Success (S=); 5 req: the Success Response; 5 resp:
 * EAP-Success; 6 req/resp: AUTH from the MSK (RFC 7296 §2.16).
 */
START_TEST(strongswan_login)
{
	static struct fx x;
	const uint8_t *chal, *ss_resp, *succ, *ss_succ_resp;
	size_t chal_len, ss_resp_len, succ_len, ss_succ_resp_len, mlen = 0, alen = 0;
	uint8_t msk[EAP_MSK_MAX], auth[PRF_MAX_LEN], pw_hash[16];
	struct ike_pl_auth au;
	struct mschap_result res;
	struct run r;
	void *st;

	fx_open(&x);
	eap_type_data(fx_eap(&x.auth_resp[3]), EAP_CODE_REQUEST, &chal, &chal_len);
	eap_type_data(fx_eap(&x.auth_req[4]), EAP_CODE_RESPONSE, &ss_resp, &ss_resp_len);
	eap_type_data(fx_eap(&x.auth_resp[4]), EAP_CODE_REQUEST, &succ, &succ_len);
	eap_type_data(fx_eap(&x.auth_req[5]), EAP_CODE_RESPONSE, &ss_succ_resp, &ss_succ_resp_len);
	ck_assert_uint_eq(fx_eap(&x.auth_resp[5])->body[0], EAP_CODE_SUCCESS);
	ck_assert_uint_eq(chal[0], 1);
	ck_assert_uint_eq(ss_resp[0], 2);
	ck_assert_uint_ge(ss_resp_len, 5 + 16);

	/* the crypto alone: strongSwan's NT-Response from its Peer-Challenge (Response offset 5) */
	ck_assert_int_eq(mschap_nt_password_hash((const uint8_t *)FX_PASS, strlen(FX_PASS), pw_hash,
						 NULL, 0), 0);
	ck_assert_int_eq(mschap_peer_compute(pw_hash, chal + 5, ss_resp + 5, (const uint8_t *)FX_USER,
					     strlen(FX_USER), &res), 0);
	ck_assert_msg(memcmp(res.nt_response, ss_resp + 5 + 16 + 8, 24) == 0,
		      "our NT-Response differs from strongSwan's");
	mschap_result_clear(&res);

	/* the method, fed the gateway's requests: byte for byte what strongSwan's client sent */
	st = start_with(NULL, FX_USER, FX_PASS);
	eap_mschapv2_fix_peer_challenge(st, ss_resp + 5);
	ck_assert_int_eq(feed(st, chal, chal_len, &r), EAP_M_REPLY);
	ck_assert_uint_eq(r.len, ss_resp_len);
	ck_assert_msg(memcmp(r.out, ss_resp, r.len) == 0, "our Response differs from strongSwan's");
	ck_assert_int_eq(feed(st, succ, succ_len, &r), EAP_M_REPLY);	/* the gateway's S= verifies */
	ck_assert_uint_eq(r.len, ss_succ_resp_len);
	ck_assert_mem_eq(r.out, ss_succ_resp, r.len);
	ck_assert(eap_method_mschapv2.done(st));
	ck_assert_int_eq(eap_method_mschapv2.msk(st, msk, &mlen), 0);
	ck_assert_uint_eq(mlen, 64);
	eap_method_mschapv2.free(st);

	/*
	 * The decisive check: AUTH = prf(prf(MSK, "Key Pad for IKEv2"),
	 * InitiatorSignedOctets), InitiatorSignedOctets = the IKE_SA_INIT
	 * request | Nr | prf(SK_pi, IDi body) (RFC 7296 §2.15, §2.16).
	 */
	const struct ike_pl *idi = fx_pl(&x.auth_req[2].m, PL_IDi);
	struct auth_octets oi = { .msg = x.init_req.raw, .msg_len = x.init_req.len,
				  .nonce = x.nr, .nonce_len = x.nr_len,
				  .id = idi->body, .id_len = idi->len };
	fx_auth(&x.auth_req[6], &au);
	ck_assert_int_eq(auth_psk_compute(x.k.algs.prf, msk, mlen, x.k.sk_pi, x.k.p_len, &oi, auth,
					  sizeof(auth), &alen), 0);
	ck_assert_uint_eq(alen, au.len);
	ck_assert_msg(memcmp(auth, au.data, alen) == 0,
		      "AUTH from our MSK differs from strongSwan's client's");
	/* and the gateway's AUTH, from the same MSK, verifies */
	const struct ike_pl *idr = fx_pl(&x.auth_resp[2].m, PL_IDr);
	struct auth_octets orr = { .msg = x.init_resp.raw, .msg_len = x.init_resp.len,
				   .nonce = x.ni, .nonce_len = x.ni_len,
				   .id = idr->body, .id_len = idr->len };
	fx_auth(&x.auth_resp[6], &au);
	ck_assert_int_eq(auth_psk_verify(x.k.algs.prf, msk, mlen, x.k.sk_pr, x.k.p_len, &orr,
					 au.data, au.len), 0);
	OPENSSL_cleanse(msk, sizeof(msk));
	ike_keys_clear(&x.k);
}
END_TEST

/* The same capture with a wrong password: another NT-Response, and the gateway's S= is refused. */
START_TEST(strongswan_login_wrong_password)
{
	static struct fx x;
	const uint8_t *chal, *ss_resp, *succ;
	size_t chal_len, ss_resp_len, succ_len;
	struct run r;
	void *st;

	fx_open(&x);
	eap_type_data(fx_eap(&x.auth_resp[3]), EAP_CODE_REQUEST, &chal, &chal_len);
	eap_type_data(fx_eap(&x.auth_req[4]), EAP_CODE_RESPONSE, &ss_resp, &ss_resp_len);
	eap_type_data(fx_eap(&x.auth_resp[4]), EAP_CODE_REQUEST, &succ, &succ_len);
	st = start_with(NULL, FX_USER, "testpass-124");
	eap_mschapv2_fix_peer_challenge(st, ss_resp + 5);
	ck_assert_int_eq(feed(st, chal, chal_len, &r), EAP_M_REPLY);
	ck_assert(memcmp(r.out + 5 + 24, ss_resp + 5 + 24, 24) != 0);
	ck_assert_int_eq(feed(st, succ, succ_len, &r), EAP_M_FAIL);
	ck_assert_int_eq(r.e.kind, EAP_FAIL_SERVER);
	ck_assert(!eap_method_mschapv2.done(st));
	eap_method_mschapv2.free(st);
	ike_keys_clear(&x.k);
}
END_TEST

static Suite *mschap_suite(void)
{
	Suite *s = suite_create("mschap");
	TCase *tc = tcase_create("crypto");

	tcase_add_test(tc, rfc2759_vectors);
	tcase_add_test(tc, rfc3079_master_keys);
	tcase_add_test(tc, peer_compute_matches_parts);
	tcase_add_test(tc, auth_string_checks);
	tcase_add_test(tc, utf8_passwords);
	suite_add_tcase(s, tc);
	tc = tcase_create("method");
	tcase_add_test(tc, start_needs_credentials);
	tcase_add_test(tc, response_layout);
	tcase_add_test(tc, bad_challenges_dropped);
	tcase_add_test(tc, success_verified);
	tcase_add_test(tc, success_bad_authenticator);
	tcase_add_test(tc, failure_named);
	tcase_add_test(tc, failure_malformed_dropped);
	suite_add_tcase(s, tc);
	tc = tcase_create("strongswan");
	tcase_add_test(tc, strongswan_login);
	tcase_add_test(tc, strongswan_login_wrong_password);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(mschap_suite)
