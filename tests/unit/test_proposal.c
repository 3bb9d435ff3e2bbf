#include <string.h>

#include "ike/proposal.h"
#include "tests/unit/check_main.h"

static char err[256];

static struct proposal parse_one(enum ike_proto proto, const char *text)
{
	struct proposal p;

	err[0] = '\0';
	ck_assert_msg(proposal_parse(proto, text, strlen(text), &p, err, sizeof(err)) == 0,
		      "%s: %s", text, err);
	return p;
}

START_TEST(ike_aead_proposal)
{
	struct proposal p = parse_one(PROTO_IKE, "aes256gcm16-prfsha256-x25519");

	ck_assert_uint_eq(p.proto, PROTO_IKE);
	ck_assert_uint_eq(p.n_encr, 1);
	ck_assert_uint_eq(p.encr[0].id, ENCR_AES_GCM_16);
	ck_assert_uint_eq(p.encr[0].key_bits, 256);
	ck_assert_uint_eq(p.n_prf, 1);
	ck_assert_uint_eq(p.prf[0], PRF_HMAC_SHA2_256);
	ck_assert_uint_eq(p.n_integ, 0);
	ck_assert_uint_eq(p.n_dh, 1);
	ck_assert_uint_eq(p.dh[0], DH_CURVE25519);
	ck_assert_uint_eq(p.n_esn, 0);
	ck_assert(proposal_is_aead(&p));
}
END_TEST

START_TEST(ike_several_groups)
{
	struct proposal p = parse_one(PROTO_IKE, "aes128gcm16-prfsha384-ecp256-modp2048");

	ck_assert_uint_eq(p.encr[0].key_bits, 128);
	ck_assert_uint_eq(p.prf[0], PRF_HMAC_SHA2_384);
	ck_assert_uint_eq(p.n_dh, 2);
	ck_assert_uint_eq(p.dh[0], DH_ECP_256);
	ck_assert_uint_eq(p.dh[1], DH_MODP_2048);

	p = parse_one(PROTO_IKE, "aes128gcm16-aes192gcm16-chacha20poly1305-prfsha512-ecp384");
	ck_assert_uint_eq(p.n_encr, 3);
	ck_assert_uint_eq(p.encr[1].key_bits, 192);
	ck_assert_uint_eq(p.encr[2].id, ENCR_CHACHA20_POLY1305);
	ck_assert_uint_eq(p.encr[2].key_bits, 0);
	ck_assert_uint_eq(p.prf[0], PRF_HMAC_SHA2_512);
	ck_assert_uint_eq(p.dh[0], DH_ECP_384);
}
END_TEST

START_TEST(ike_cbc_implies_prf)
{
	struct proposal p = parse_one(PROTO_IKE, "aes256-sha256-modp2048");

	ck_assert_uint_eq(p.encr[0].id, ENCR_AES_CBC);
	ck_assert_uint_eq(p.encr[0].key_bits, 256);
	ck_assert_uint_eq(p.n_integ, 1);
	ck_assert_uint_eq(p.integ[0], AUTH_HMAC_SHA2_256_128);
	ck_assert_uint_eq(p.n_prf, 1);
	ck_assert_uint_eq(p.prf[0], PRF_HMAC_SHA2_256);
	ck_assert(!proposal_is_aead(&p));

	p = parse_one(PROTO_IKE, "aes128-sha384-sha2_512-sha256-ecp256");
	ck_assert_uint_eq(p.n_integ, 3);
	ck_assert_uint_eq(p.integ[1], AUTH_HMAC_SHA2_512_256);
	ck_assert_uint_eq(p.n_prf, 3);
	ck_assert_uint_eq(p.prf[0], PRF_HMAC_SHA2_384);
	ck_assert_uint_eq(p.prf[1], PRF_HMAC_SHA2_512);
	ck_assert_uint_eq(p.prf[2], PRF_HMAC_SHA2_256);

	/* an explicit prf wins */
	p = parse_one(PROTO_IKE, "aes256-sha256-prfsha512-x25519");
	ck_assert_uint_eq(p.n_prf, 1);
	ck_assert_uint_eq(p.prf[0], PRF_HMAC_SHA2_512);
}
END_TEST

START_TEST(synonyms_and_case)
{
	struct proposal a = parse_one(PROTO_IKE, "chacha20poly1305-prfsha256-curve25519");
	struct proposal b = parse_one(PROTO_IKE, "CHACHA20POLY1305-PrfSha256-X25519");

	ck_assert_uint_eq(a.dh[0], DH_CURVE25519);
	ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
	a = parse_one(PROTO_IKE, "aes-sha2_256-modp2048");
	ck_assert_uint_eq(a.encr[0].key_bits, 128);
	ck_assert_uint_eq(a.integ[0], AUTH_HMAC_SHA2_256_128);
	a = parse_one(PROTO_ESP, " aes256gcm128 ");
	ck_assert_uint_eq(a.encr[0].id, ENCR_AES_GCM_16);
}
END_TEST

START_TEST(esp_proposals)
{
	struct proposal p = parse_one(PROTO_ESP, "aes256gcm16");

	ck_assert_uint_eq(p.proto, PROTO_ESP);
	ck_assert_uint_eq(p.n_prf, 0);
	ck_assert_uint_eq(p.n_dh, 0);
	ck_assert_uint_eq(p.n_esn, 1);
	ck_assert_uint_eq(p.esn[0], ESN_NO);

	p = parse_one(PROTO_ESP, "chacha20poly1305");
	ck_assert_uint_eq(p.encr[0].id, ENCR_CHACHA20_POLY1305);
	p = parse_one(PROTO_ESP, "aes256gcm16-x25519");
	ck_assert_uint_eq(p.n_dh, 1);
	ck_assert_uint_eq(p.dh[0], DH_CURVE25519);
	p = parse_one(PROTO_ESP, "aes256gcm16-esn");
	ck_assert_uint_eq(p.n_esn, 1);
	ck_assert_uint_eq(p.esn[0], ESN_YES);
	p = parse_one(PROTO_ESP, "aes256gcm16-noesn");
	ck_assert_uint_eq(p.esn[0], ESN_NO);
	p = parse_one(PROTO_ESP, "aes256gcm16-esn-noesn");
	ck_assert_uint_eq(p.n_esn, 2);
	ck_assert_uint_eq(p.esn[1], ESN_NO);
	p = parse_one(PROTO_ESP, "aes128-sha256");
	ck_assert_uint_eq(p.integ[0], AUTH_HMAC_SHA2_256_128);
	ck_assert_uint_eq(p.n_prf, 0);
}
END_TEST

static const struct {
	enum ike_proto proto;
	const char *text;
	const char *msg;
} bad[] = {
	{ PROTO_IKE, "3des-sha256-modp2048", "'3des' is not supported by ikeagent" },
	{ PROTO_IKE, "aes256-md5-modp2048", "'md5' is not supported by ikeagent" },
	{ PROTO_IKE, "aes256-sha1-modp2048", "'sha1' is not supported by ikeagent" },
	{ PROTO_IKE, "aes256-sha256-modp1024", "'modp1024' is not supported by ikeagent" },
	{ PROTO_ESP, "aes256ccm16", "'aes256ccm16' is not supported by ikeagent" },
	{ PROTO_IKE, "foo-prfsha256-x25519", "unknown algorithm 'foo'" },
	{ PROTO_IKE, "aes256gcm16-prfsha256-x25519-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "unknown algorithm 'aaaaaaaaaaaaaaaaaaaaaaaa...'" },
	{ PROTO_IKE, "aes256gcm16-sha256-prfsha256-x25519",
	  "'sha256' cannot be combined with AEAD 'aes256gcm16'" },
	{ PROTO_ESP, "aes128gcm16-sha384", "'sha384' cannot be combined with AEAD 'aes128gcm16'" },
	{ PROTO_IKE, "aes256gcm16-x25519", "proposal 'aes256gcm16-x25519' has no prf (e.g. prfsha256)" },
	{ PROTO_IKE, "aes256gcm16-prfsha256",
	  "proposal 'aes256gcm16-prfsha256' has no DH group (e.g. x25519)" },
	{ PROTO_IKE, "aes256-sha256", "proposal 'aes256-sha256' has no DH group (e.g. x25519)" },
	{ PROTO_IKE, "aes256-prfsha256-x25519",
	  "proposal 'aes256-prfsha256-x25519' has no integrity algorithm (e.g. sha256)" },
	{ PROTO_ESP, "aes256", "proposal 'aes256' has no integrity algorithm (e.g. sha256)" },
	{ PROTO_ESP, "aes256gcm16-prfsha256", "'prfsha256': esp proposals have no prf" },
	{ PROTO_IKE, "aes256gcm16-prfsha256-x25519-esn", "'esn' is only valid in esp proposals" },
	{ PROTO_ESP, "sha256-x25519", "proposal 'sha256-x25519' has no encryption algorithm" },
	{ PROTO_IKE, "aes256-aes256gcm16-sha256-x25519",
	  "'aes256' and 'aes256gcm16' cannot share a proposal (AEAD and non-AEAD); use two proposals" },
	{ PROTO_IKE, "aes256gcm16-prfsha256-x25519-curve25519",
	  "'curve25519' appears twice in one ike proposal" },
	{ PROTO_ESP, "aes256gcm16-esn-esn", "'esn' appears twice in one esp proposal" },
	{ PROTO_IKE, "aes256gcm16--x25519", "empty algorithm name in 'aes256gcm16--x25519'" },
	{ PROTO_IKE, "aes256gcm16-prfsha256-x25519-", "empty algorithm name in 'aes256gcm16-prfsha256-x25519-'" },
	{ PROTO_ESP, "", "empty algorithm name in ''" },
	{ PROTO_AH, "aes256gcm16", "proposals are for ike or esp only" },
};

START_TEST(bad_proposals)
{
	struct proposal p;
	const char *t = bad[_i].text;

	memset(err, 0, sizeof(err));
	ck_assert_int_eq(proposal_parse(bad[_i].proto, t, strlen(t), &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, bad[_i].msg);
}
END_TEST

START_TEST(lists)
{
	struct proposal_list l;
	char text[512];

	ck_assert_int_eq(proposal_list_parse(PROTO_IKE, "aes256gcm16-prfsha256-x25519, "
					     "aes256gcm16-prfsha384-ecp256 ,aes256-sha256-modp2048",
					     &l, err, sizeof(err)), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_uint_eq(l.p[1].dh[0], DH_ECP_256);
	ck_assert_uint_eq(l.p[2].integ[0], AUTH_HMAC_SHA2_256_128);

	ck_assert_int_eq(proposal_list_parse(PROTO_ESP, "aes256gcm16,,aes128gcm16", &l, err,
					     sizeof(err)), -1);
	ck_assert_str_eq(err, "empty proposal in list");
	ck_assert_int_eq(proposal_list_parse(PROTO_ESP, "aes256gcm16,", &l, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "empty proposal in list");
	ck_assert_int_eq(proposal_list_parse(PROTO_ESP, "", &l, err, sizeof(err)), -1);
	ck_assert_int_eq(proposal_list_parse(PROTO_ESP, "aes256gcm16, 3des-sha256", &l, err,
					     sizeof(err)), -1);
	ck_assert_str_eq(err, "'3des' is not supported by ikeagent");

	text[0] = '\0';
	for (int i = 0; i < PROP_LIST_MAX + 1; i++)
		strcat(text, i ? ",aes128gcm16" : "aes128gcm16");
	ck_assert_int_eq(proposal_list_parse(PROTO_ESP, text, &l, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "too many proposals (max 8)");
	strrchr(text, ',')[0] = '\0';
	ck_assert_int_eq(proposal_list_parse(PROTO_ESP, text, &l, err, sizeof(err)), 0);
	ck_assert_uint_eq(l.n, PROP_LIST_MAX);
}
END_TEST

/* text -> canonical form; parsing the canonical form gives the same proposal */
static const struct {
	enum ike_proto proto;
	const char *in, *out;
} trips[] = {
	{ PROTO_IKE, "aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519" },
	{ PROTO_IKE, "aes128gcm16-prfsha384-ecp256-modp2048", "aes128gcm16-prfsha384-ecp256-modp2048" },
	{ PROTO_IKE, "aes256-sha256-modp2048", "aes256-sha256-prfsha256-modp2048" },
	{ PROTO_IKE, "AES-prfsha512-sha2_384-curve25519", "aes128-sha384-prfsha512-x25519" },
	{ PROTO_IKE, "chacha20poly1305-prfsha256-curve25519", "chacha20poly1305-prfsha256-x25519" },
	{ PROTO_IKE, "aes192gcm128-aes256gcm16-prfsha256-ecp384",
	  "aes192gcm16-aes256gcm16-prfsha256-ecp384" },
	{ PROTO_ESP, "aes256gcm16", "aes256gcm16" },
	{ PROTO_ESP, "aes256gcm16-noesn", "aes256gcm16" },
	{ PROTO_ESP, "aes256gcm16-x25519-esn", "aes256gcm16-x25519-esn" },
	{ PROTO_ESP, "aes256gcm16-noesn-esn", "aes256gcm16-noesn-esn" },
	{ PROTO_ESP, "aes192-sha512", "aes192-sha512" },
};

START_TEST(format_round_trip)
{
	struct proposal a = parse_one(trips[_i].proto, trips[_i].in), b;
	char text[256];

	ck_assert_int_eq(proposal_format(&a, text, sizeof(text)), 0);
	ck_assert_str_eq(text, trips[_i].out);
	b = parse_one(trips[_i].proto, text);
	ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
}
END_TEST

START_TEST(format_list_and_truncation)
{
	const char *in = "aes256gcm16-prfsha256-x25519, aes256gcm16-prfsha384-ecp256, "
			 "aes256-sha256-prfsha256-modp2048";
	struct proposal_list l;
	char text[256], small[12];

	ck_assert_int_eq(proposal_list_parse(PROTO_IKE, in, &l, err, sizeof(err)), 0);
	ck_assert_int_eq(proposal_list_format(&l, text, sizeof(text)), 0);
	ck_assert_str_eq(text, in);
	ck_assert_int_eq(proposal_list_format(&l, small, sizeof(small)), -1);
	ck_assert_uint_lt(strlen(small), sizeof(small));
	ck_assert_int_eq(proposal_format(&l.p[0], small, sizeof(small)), -1);
	ck_assert_str_eq(small, "aes256gcm16");
	ck_assert_int_eq(proposal_format(&l.p[0], small, 0), -1);
}
END_TEST

START_TEST(alg_names)
{
	ck_assert_str_eq(proposal_alg_name(TRANS_ENCR, ENCR_AES_GCM_16, 256), "aes256gcm16");
	ck_assert_str_eq(proposal_alg_name(TRANS_ENCR, ENCR_AES_CBC, 128), "aes128");
	ck_assert_str_eq(proposal_alg_name(TRANS_DH, DH_CURVE25519, 0), "x25519");
	ck_assert_str_eq(proposal_alg_name(TRANS_INTEG, AUTH_HMAC_SHA2_384_192, 0), "sha384");
	ck_assert_str_eq(proposal_alg_name(TRANS_PRF, PRF_HMAC_SHA2_512, 0), "prfsha512");
	ck_assert_str_eq(proposal_alg_name(TRANS_ESN, ESN_YES, 0), "esn");
	ck_assert_ptr_null(proposal_alg_name(TRANS_ENCR, ENCR_AES_CBC, 100));
	ck_assert_ptr_null(proposal_alg_name(TRANS_DH, 2, 0));
}
END_TEST

static Suite *proposal_suite(void)
{
	Suite *s = suite_create("proposal");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, ike_aead_proposal);
	tcase_add_test(tc, ike_several_groups);
	tcase_add_test(tc, ike_cbc_implies_prf);
	tcase_add_test(tc, synonyms_and_case);
	tcase_add_test(tc, esp_proposals);
	tcase_add_loop_test(tc, bad_proposals, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, lists);
	tcase_add_loop_test(tc, format_round_trip, 0, sizeof(trips) / sizeof(trips[0]));
	tcase_add_test(tc, format_list_and_truncation);
	tcase_add_test(tc, alg_names);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(proposal_suite)
