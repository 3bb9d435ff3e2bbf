/*
 * The codec against real strongSwan 5.9 messages (tests/fixtures/, see
 * the README there): every captured IKE message decodes, every payload
 * outside SK passes its typed decoder, and header fields, payload order,
 * SA proposals, KE and nonces are what the capture says. Values that
 * change with each capture (SPIs, nonces) come from <case>_keys.txt.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/msg.h"
#include "ike/names.h"
#include "tests/unit/check_main.h"
#include "tests/unit/sa_flat.h"

#define FIX "tests/fixtures/"

static uint8_t msg[70000];

struct fx_case {
	const char *name;
	uint16_t encr, key_len, integ, dh;
	size_t ke_len;
	bool certreq;		/* the gateway has a certificate */
	unsigned auth_rounds;	/* IKE_AUTH exchanges */
};

static const struct fx_case cases[] = {
	{ "psk_gcm", ENCR_AES_GCM_16, 256, 0, DH_CURVE25519, 32, false, 1 },
	{ "psk_cbc", ENCR_AES_CBC, 256, AUTH_HMAC_SHA2_256_128, DH_MODP_2048, 256, false, 1 },
	{ "psk_chacha", ENCR_CHACHA20_POLY1305, 0, 0, DH_ECP_256, 64, false, 1 },
	{ "rsa_cert", ENCR_AES_GCM_16, 256, 0, DH_CURVE25519, 32, true, 1 },
	{ "rsa_cert_frag", ENCR_AES_GCM_16, 256, 0, DH_CURVE25519, 32, true, 1 },
	{ "eap_mschapv2", ENCR_AES_GCM_16, 256, 0, DH_CURVE25519, 32, true, 5 },
};

static int load(const char *path, uint8_t *out, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");

	if (!f)
		return -1;
	*len = fread(out, 1, cap, f);
	fclose(f);
	return 0;
}

/* "name = hex" from <case>_keys.txt. */
static size_t key_hex(const char *c, const char *name, uint8_t *out, size_t cap)
{
	char path[256], line[2048];
	size_t nl = strlen(name), n = 0;
	FILE *f;

	snprintf(path, sizeof(path), FIX "%s_keys.txt", c);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "missing %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, nl) != 0 || strncmp(line + nl, " = ", 3) != 0)
			continue;
		for (const char *p = line + nl + 3; isxdigit((unsigned char)p[0]) &&
		     isxdigit((unsigned char)p[1]) && n < cap; p += 2) {
			unsigned v;

			ck_assert_int_eq(sscanf(p, "%2x", &v), 1);
			out[n++] = (uint8_t)v;
		}
		break;
	}
	fclose(f);
	ck_assert_msg(n > 0, "%s: no %s", path, name);
	return n;
}

static uint64_t key_u64(const char *c, const char *name)
{
	uint8_t b[8];

	ck_assert_uint_eq(key_hex(c, name, b, sizeof(b)), 8);
	return (uint64_t)get_be32(b) << 32 | get_be32(b + 4);
}

static void decode_file(const char *c, const char *rest, struct ike_msg *m)
{
	char path[256];
	size_t len = 0;

	snprintf(path, sizeof(path), FIX "%s_%s.bin", c, rest);
	ck_assert_msg(load(path, msg, sizeof(msg), &len) == 0, "missing %s", path);
	ck_assert_msg(ike_msg_decode(m, msg, len) == 0, "%s does not decode", path);
	ck_assert_uint_eq(m->hdr.length, len);
	ck_assert_uint_eq(m->hdr.version, IKE_VERSION);
}

static const struct ike_transform *find_trans(const struct sa_flat_prop *p, uint8_t type)
{
	for (unsigned i = 0; i < p->n_trans; i++) {
		if (p->trans[i].type == type)
			return &p->trans[i];
	}
	return NULL;
}

static void check_sa(const struct fx_case *fc, const struct ike_pl *p)
{
	const struct ike_transform *t;
	struct ike_pl_sa sap;
	struct sa_flat sa;

	ck_assert_int_eq(ike_pl_sa_decode(p, &sap), 0);
	sa_flat(&sap, &sa);
	ck_assert_uint_eq(sa.n_prop, 1);	/* the client offers only this one */
	ck_assert_uint_eq(sa.prop[0].num, 1);
	ck_assert_uint_eq(sa.prop[0].proto, PROTO_IKE);
	ck_assert_uint_eq(sa.prop[0].spi_size, 0);
	ck_assert_uint_eq(sa.prop[0].n_trans, fc->integ ? 4 : 3);
	t = find_trans(&sa.prop[0], TRANS_ENCR);
	ck_assert(t && t->id == fc->encr && t->key_len == fc->key_len && !t->unknown_attr);
	t = find_trans(&sa.prop[0], TRANS_PRF);
	ck_assert(t && t->id == PRF_HMAC_SHA2_256);
	t = find_trans(&sa.prop[0], TRANS_DH);
	ck_assert(t && t->id == fc->dh);
	t = find_trans(&sa.prop[0], TRANS_INTEG);
	if (fc->integ)
		ck_assert(t && t->id == fc->integ);
	else
		ck_assert_ptr_null(t);
}

/* SA, KE, Nonce, then notifies (and CERTREQ in a gateway's answer). */
static void check_sa_init(const struct fx_case *fc, bool resp)
{
	uint8_t nonce[256];
	size_t nlen = key_hex(fc->name, resp ? "nr" : "ni", nonce, sizeof(nonce));
	bool nat_s = false, nat_d = false, certreq = false;
	struct ike_pl_nonce no;
	struct ike_pl_ke ke;
	struct ike_msg m;

	decode_file(fc->name, resp ? "1_ike_sa_init_resp" : "1_ike_sa_init_req", &m);
	ck_assert_uint_eq(m.hdr.exchange, IKE_SA_INIT);
	ck_assert_uint_eq(m.hdr.flags, resp ? IKE_FLAG_RESPONSE : IKE_FLAG_INITIATOR);
	ck_assert_uint_eq(m.hdr.msg_id, 0);
	ck_assert_uint_eq(m.hdr.spi_i, key_u64(fc->name, "spi_i"));
	ck_assert_uint_eq(m.hdr.spi_r, resp ? key_u64(fc->name, "spi_r") : 0);
	ck_assert_uint_ge(m.n, 5);
	ck_assert(!m.has_sk);
	ck_assert_uint_eq(m.n_skipped, 0);
	ck_assert_uint_eq(m.pl[0].type, PL_SA);
	ck_assert_uint_eq(m.pl[1].type, PL_KE);
	ck_assert_uint_eq(m.pl[2].type, PL_NONCE);
	check_sa(fc, &m.pl[0]);
	ck_assert_int_eq(ike_pl_ke_decode(&m.pl[1], &ke), 0);
	ck_assert_uint_eq(ke.group, fc->dh);
	ck_assert_uint_eq(ke.len, fc->ke_len);
	ck_assert_int_eq(ike_pl_nonce_decode(&m.pl[2], &no), 0);
	ck_assert_uint_eq(no.len, nlen);
	ck_assert_mem_eq(no.data, nonce, nlen);
	for (unsigned i = 3; i < m.n; i++) {
		struct ike_pl_notify n;
		struct ike_pl_cert c;

		if (m.pl[i].type == PL_CERTREQ) {
			ck_assert_int_eq(ike_pl_certreq_decode(&m.pl[i], &c), 0);
			ck_assert_uint_eq(c.encoding, CERT_X509_SIGNATURE);
			certreq = true;
			continue;
		}
		ck_assert_uint_eq(m.pl[i].type, PL_NOTIFY);
		ck_assert_int_eq(ike_pl_notify_decode(&m.pl[i], &n), 0);
		nat_s |= n.type == N_NAT_DETECTION_SOURCE_IP;
		nat_d |= n.type == N_NAT_DETECTION_DESTINATION_IP;
	}
	ck_assert(nat_s && nat_d);
	ck_assert(certreq == (resp && fc->certreq));
}

/* Protected: nothing but the SK payload, right after the header. */
static void check_auth(const struct fx_case *fc, unsigned round, bool resp)
{
	char rest[64];
	struct ike_msg m;
	uint8_t first = resp ? PL_IDr : PL_IDi;

	if (round > 0)	/* EAP rounds; the last carries the AUTH payloads */
		first = round + 1 == fc->auth_rounds ? PL_AUTH : PL_EAP;
	snprintf(rest, sizeof(rest), "%u_ike_auth_%s", round + 2, resp ? "resp" : "req");
	if (resp && !strcmp(fc->name, "rsa_cert_frag")) {
		decode_file(fc->name, "2_ike_auth_resp_frag1of2", &m);
		ck_assert_uint_eq(m.sk_type, PL_SKF);
		ck_assert_uint_eq(m.skf_num, 1);
		ck_assert_uint_eq(m.skf_total, 2);
		ck_assert_uint_eq(m.sk_inner_first, PL_IDr);
		ck_assert_uint_eq(m.sk_aad_len, IKE_HDR_LEN + IKE_SKF_HDR_LEN);
		decode_file(fc->name, "2_ike_auth_resp_frag2of2", &m);
		ck_assert_uint_eq(m.skf_num, 2);
		ck_assert_uint_eq(m.sk_inner_first, PL_NONE);
		return;
	}
	decode_file(fc->name, rest, &m);
	ck_assert_uint_eq(m.hdr.exchange, IKE_AUTH);
	ck_assert_uint_eq(m.hdr.flags, resp ? IKE_FLAG_RESPONSE : IKE_FLAG_INITIATOR);
	ck_assert_uint_eq(m.hdr.msg_id, round + 1);
	ck_assert_uint_eq(m.hdr.spi_i, key_u64(fc->name, "spi_i"));
	ck_assert_uint_eq(m.hdr.spi_r, key_u64(fc->name, "spi_r"));
	ck_assert_uint_eq(m.hdr.next_payload, PL_SK);
	ck_assert_uint_eq(m.n, 1);
	ck_assert(m.has_sk);
	ck_assert_uint_eq(m.sk_type, PL_SK);
	ck_assert_uint_eq(m.sk_off, IKE_HDR_LEN);
	ck_assert_uint_eq(m.sk_aad_len, IKE_HDR_LEN + IKE_GENERIC_HDR_LEN);
	ck_assert_uint_eq(m.sk_body_len, m.hdr.length - m.sk_aad_len);
	ck_assert_msg(m.sk_inner_first == first, "%s %s: inner first %s", fc->name, rest,
		      ike_payload_name(m.sk_inner_first));
}

/* The captures are part of the repository: missing ones fail the test. */
static void need_fixtures(void)
{
	size_t len;

	ck_assert_msg(load(FIX "psk_gcm_1_ike_sa_init_req.bin", msg, sizeof(msg), &len) == 0,
		      "no strongSwan captures in " FIX);
}

START_TEST(strongswan_messages)
{
	const struct fx_case *fc = &cases[_i];

	need_fixtures();
	check_sa_init(fc, false);
	check_sa_init(fc, true);
	for (unsigned r = 0; r < fc->auth_rounds; r++) {
		check_auth(fc, r, false);
		check_auth(fc, r, true);
	}
}
END_TEST

/* Every *_ike_*.bin in the directory: decodes, typed payloads valid, re-encodes. */
START_TEST(every_captured_message_decodes)
{
	DIR *d = opendir(FIX);
	struct dirent *e;
	unsigned count = 0;

	ck_assert_msg(d != NULL, "no %s (run from the top of the tree)", FIX);
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name), len = 0;
		char path[512];
		struct ike_msg m;

		if (!strstr(e->d_name, "_ike_") || nl < 4 || strcmp(e->d_name + nl - 4, ".bin"))
			continue;
		snprintf(path, sizeof(path), FIX "%s", e->d_name);
		ck_assert_int_eq(load(path, msg, sizeof(msg), &len), 0);
		ck_assert_msg(ike_msg_decode(&m, msg, len) == 0, "%s does not decode", path);
		for (unsigned i = 0; i < m.n; i++) {
			struct ike_pl_any a;

			if (m.pl[i].type == PL_SK || m.pl[i].type == PL_SKF)
				continue;
			ck_assert_msg(ike_pl_any_decode(&m.pl[i], &a) == 0, "%s: payload %s", path,
				      ike_payload_name(m.pl[i].type));
		}
		count++;
	}
	closedir(d);
	printf("fixtures: %u captured IKE messages decoded\n", count);
	ck_assert_uint_ge(count, 37);	/* captured today: none may go missing unseen */
}
END_TEST

/* An unprotected strongSwan message re-encodes byte for byte. */
START_TEST(sa_init_reencodes_identically)
{
	static uint8_t out[70000];
	char path[256];
	struct ike_msg m;
	struct ike_mw b;
	struct wr w;
	size_t len = 0, olen = 0;

	need_fixtures();
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int resp = 0; resp < 2; resp++) {
			snprintf(path, sizeof(path), FIX "%s_1_ike_sa_init_%s.bin", cases[c].name,
				 resp ? "resp" : "req");
			ck_assert_int_eq(load(path, msg, sizeof(msg), &len), 0);
			ck_assert_int_eq(ike_msg_decode(&m, msg, len), 0);
			wr_init(&w, out, sizeof(out));
			ck_assert_int_eq(ike_mw_begin(&b, &w, &m.hdr), 0);
			for (unsigned i = 0; i < m.n; i++) {
				struct ike_pl_any a;

				ck_assert_int_eq(ike_pl_any_decode(&m.pl[i], &a), 0);
				ck_assert_int_eq(ike_put_any(&b, &a), 0);
			}
			ck_assert_int_eq(ike_mw_finish(&b, &olen), 0);
			ck_assert_uint_eq(olen, len);
			ck_assert_msg(memcmp(out, msg, len) == 0, "%s re-encodes differently", path);
		}
	}
}
END_TEST

static Suite *ike_codec_fixtures_suite(void)
{
	Suite *s = suite_create("ike_codec_fixtures");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, strongswan_messages, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, every_captured_message_decodes);
	tcase_add_test(tc, sa_init_reencodes_identically);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ike_codec_fixtures_suite)
