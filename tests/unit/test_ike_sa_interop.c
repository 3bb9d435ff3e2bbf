/*
 * SA payloads as real gateways send them.
 *
 * 1. strongSwan 5.9's `default` proposals, captured from real charon
 *    processes (tests/fixtures/default_*, scripts/capture-fixtures.sh):
 *    the initial IKE offer (38 transforms in one proposal), the ESP offer in
 *    IKE_AUTH, the gateway's Child SA and IKE SA rekeys (inside SK, decrypted
 *    with the logged keys). Each decodes to exactly what tshark and the
 *    capture script's own decoder saw (default_sa_expect.txt), and our
 *    chooser picks what a user of that configuration expects from them.
 * 2. Long proposal lists of other common peers, written from their
 *    published defaults (not captured here): what Windows' built-in IKEv2
 *    client, Apple iOS/macOS and libreswan offer. They decode, and we choose
 *    from them or refuse with NO_PROPOSAL_CHOSEN, never INVALID_SYNTAX.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/keys.h"
#include "ike/msg.h"
#include "ike/proposal.h"
#include "ike/sa_int.h"		/* sa_choose() */
#include "ike/sk.h"
#include "tests/unit/check_main.h"
#include "tests/unit/sa_flat.h"
#include "tests/unit/testutil.h"

static uint8_t msg_buf[70000], plain_buf[70000];

static struct ike_keys K;	/* the IKE SA of the `default` capture */

static void need_fixtures(void)
{
	FILE *f = fopen(FIX "default_sa_expect.txt", "r");

	/* part of the repository: missing is a failure, not a skip */
	ck_assert_msg(f != NULL, "tests/fixtures/default_* missing (scripts/capture-fixtures.sh)");
	fclose(f);
}

static const struct ike_pl *first_pl(const struct ike_msg *m, uint8_t type)
{
	unsigned it = 0;
	const struct ike_pl *p = ike_msg_find(m, type, &it);

	ck_assert_msg(p != NULL, "no payload type %u", type);
	return p;
}

/* The keys of the captured IKE SA, derived again from the logged DH secret and nonces. */
static void default_keys(void)
{
	struct ike_algs a = { .encr = ENCR_AES_GCM_16, .encr_keybits = 256,
			      .prf = PRF_HMAC_SHA2_256 };

	load_keys("default");
	ck_assert_int_eq(ike_keys_derive(&K, &a, key("g_ir")->val, key("g_ir")->len,
					 key("ni")->val, key("ni")->len, key("nr")->val,
					 key("nr")->len, key("spi_i")->val, key("spi_r")->val), 0);
	ck_assert_mem_eq(K.sk_er, key("sk_er")->val, K.e_len);
}

/* file (without .bin) decoded into m; inner: its SK payload decrypted and appended. */
static void open_msg(const char *file, bool inner, struct ike_msg *m)
{
	char path[256];
	struct sk_dir d;
	size_t len, plen;
	uint8_t first;
	FILE *f;

	snprintf(path, sizeof(path), FIX "%s", file);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "missing %s", path);
	len = fread(msg_buf, 1, sizeof(msg_buf), f);
	fclose(f);
	ck_assert_msg(ike_msg_decode(m, msg_buf, len) == 0, "%s does not decode", file);
	if (!inner)
		return;
	ck_assert(m->has_sk);
	/* the gateway is the responder of this IKE SA: its requests come with SK_er */
	ck_assert_int_eq(sk_init_ike(&d, &K, !(m->hdr.flags & IKE_FLAG_INITIATOR), false), 0);
	ck_assert_msg(sk_decrypt(&d, msg_buf, len, m->sk_off, plain_buf, sizeof(plain_buf), &plen,
				 &first) == 0, "%s does not decrypt", file);
	ck_assert_int_eq(ike_msg_decode_inner(m, first, plain_buf, plen), 0);
	sk_dir_free(&d);
}

/* "1:20/256,2:5,4:31": the transforms as the expect file writes them. */
static void format_ids(const struct sa_flat_prop *p, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < p->n_trans; i++) {
		const struct ike_transform *t = &p->trans[i];
		int w = t->key_len ? snprintf(out + n, cap - n, "%s%u:%u/%u", i ? "," : "", t->type,
					      t->id, t->key_len)
				   : snprintf(out + n, cap - n, "%s%u:%u", i ? "," : "", t->type, t->id);

		ck_assert(w > 0 && (size_t)w < cap - n);
		n += (size_t)w;
	}
}

START_TEST(strongswan_default_decodes_as_tshark_saw_it)
{
	char line[4096], file[128], where[8], proto[8], ids[3072], got[3072];
	unsigned num, spi_size, n_trans, lines = 0, max_trans = 0, k = 0;
	char open_file[128] = "";
	struct ike_msg m;
	struct ike_pl_sa sap;
	struct sa_flat *f = malloc(sizeof(*f));
	FILE *ex;

	need_fixtures();
	ck_assert_ptr_nonnull(f);
	default_keys();
	ex = fopen(FIX "default_sa_expect.txt", "r");
	ck_assert_ptr_nonnull(ex);
	while (fgets(line, sizeof(line), ex)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		ck_assert_int_eq(sscanf(line, "%127s %7s prop=%u proto=%7s spi_size=%u transforms=%u "
					"ids=%3071s", file, where, &num, proto, &spi_size, &n_trans,
					ids), 7);
		if (strcmp(file, open_file) != 0) {
			char path[160];

			snprintf(path, sizeof(path), "%s", file);
			open_msg(path, strcmp(where, "inner") == 0, &m);
			ck_assert_int_eq(ike_pl_sa_decode(first_pl(&m, PL_SA), &sap), 0);
			sa_flat(&sap, f);
			snprintf(open_file, sizeof(open_file), "%s", file);
			k = 0;
		}
		ck_assert_msg(k < f->n_prop, "%s: more proposals expected than decoded", file);
		ck_assert_uint_eq(f->prop[k].num, num);
		ck_assert_uint_eq(f->prop[k].proto, strcmp(proto, "IKE") == 0 ? PROTO_IKE : PROTO_ESP);
		ck_assert_uint_eq(f->prop[k].spi_size, spi_size);
		ck_assert_uint_eq(f->prop[k].n_trans, n_trans);
		format_ids(&f->prop[k], got, sizeof(got));
		ck_assert_msg(strcmp(got, ids) == 0, "%s proposal %u:\n  got  %s\n  want %s", file, num,
			      got, ids);
		if (n_trans > max_trans)
			max_trans = n_trans;
		k++;
		lines++;
	}
	fclose(ex);
	free(f);
	ck_assert_uint_ge(lines, 20);
	ck_assert_uint_ge(max_trans, 38);	/* what broke the 16-transform codec */
}
END_TEST

/* sa_choose() with our proposals `ours` from the SA payload of file; the chosen number. */
static unsigned choose(const char *file, uint8_t proto, const char *ours, uint16_t ke_group,
		       uint16_t *dh)
{
	struct proposal_list l;
	struct ike_proposal out;
	struct ike_algs algs;
	struct ike_pl_sa sap;
	struct ike_msg m;
	char err[160];

	ck_assert_msg(proposal_list_parse(proto, ours, &l, err, sizeof(err)) == 0, "%s", err);
	open_msg(file, true, &m);
	ck_assert_int_eq(ike_pl_sa_decode(first_pl(&m, PL_SA), &sap), 0);
	if (sa_choose(&l, &sap, proto, ke_group, &out, &algs, dh) < 0)
		return 0;
	return out.num;
}

START_TEST(strongswan_default_rekeys_are_chosen_from)
{
	const char *ike = "default_3_create_child_sa_req.bin", *esp = "default_1_create_child_sa_req.bin";
	uint16_t dh;

	need_fixtures();
	default_keys();
	/* the IKE rekey: its KE is x25519 and its first proposals carry it */
	ck_assert_uint_eq(choose(ike, PROTO_IKE, "aes256gcm16-prfsha256-x25519", 31, &dh), 1);
	ck_assert_uint_eq(dh, DH_CURVE25519);
	ck_assert_uint_eq(choose(ike, PROTO_IKE, "aes256-sha256-x25519", 31, &dh), 4);
	/* only in the 38-transform proposal #6 (and no x25519 in ours: the KE must be redone) */
	ck_assert_uint_eq(choose(ike, PROTO_IKE, "aes128gcm16-prfsha512-ecp384", 31, &dh), 6);
	ck_assert_uint_eq(dh, DH_ECP_384);
	ck_assert_uint_eq(choose(ike, PROTO_IKE, "aes256-sha384-modp2048", 31, &dh), 5);
	ck_assert_uint_eq(choose(ike, PROTO_IKE, "aes256gcm16-prfsha256-modp2048", 31, &dh), 6);
	ck_assert_uint_eq(dh, DH_MODP_2048);
	/* the Child SA rekey (no KE: no PFS) */
	ck_assert_uint_eq(choose(esp, PROTO_ESP, "aes256gcm16", 0, &dh), 1);
	ck_assert_uint_eq(dh, 0);
	ck_assert_uint_eq(choose(esp, PROTO_ESP, "chacha20poly1305", 0, &dh), 2);
	ck_assert_uint_eq(choose(esp, PROTO_ESP, "aes192gcm16", 0, &dh), 6);
	/* ESP with PFS: the gateway offers none, so no proposal fits */
	ck_assert_uint_eq(choose(esp, PROTO_ESP, "aes256gcm16-x25519", 0, &dh), 0);
}
END_TEST

/* ---- other peers' long lists, as published (not captured here) ---- */

#define E RAW_E
#define I RAW_I
#define P RAW_P
#define D RAW_D

/*
 * Windows 10/11 built-in IKEv2 client (Agile VPN) without a policy of its
 * own: one proposal per suite, the old ones first (3DES, SHA-1,
 * MODP-1024 and MODP-2048), AES-CBC-256 with SHA-256 later. As
 * documented by Microsoft and seen in strongSwan's Windows interop notes.
 */
static const struct raw_prop windows_ike[] = {
	{ PROTO_IKE, { E(3, 0), I(2), P(2), D(2) } },
	{ PROTO_IKE, { E(ENCR_AES_CBC, 256), I(2), P(2), D(2) } },
	{ PROTO_IKE, { E(3, 0), I(12), P(5), D(2) } },
	{ PROTO_IKE, { E(ENCR_AES_CBC, 256), I(12), P(5), D(2) } },
	{ PROTO_IKE, { E(3, 0), I(2), P(2), D(14) } },
	{ PROTO_IKE, { E(ENCR_AES_CBC, 256), I(2), P(2), D(14) } },
	{ PROTO_IKE, { E(3, 0), I(12), P(5), D(14) } },
	{ PROTO_IKE, { E(ENCR_AES_CBC, 256), I(12), P(5), D(14) } },
};

/* Apple iOS/macOS IKEv2 defaults: AES-256-GCM and AES-256-CBC, SHA-256/512, ECP/MODP groups. */
static const struct raw_prop apple_ike[] = {
	{ PROTO_IKE, { E(ENCR_AES_GCM_16, 256), P(5), P(7), D(19), D(20), D(21), D(14) } },
	{ PROTO_IKE, { E(ENCR_AES_CBC, 256), E(ENCR_AES_CBC, 128), I(12), I(14), I(2), P(5),
		       P(7), P(2), D(19), D(20), D(21), D(14), D(5) } },
};

/*
 * libreswan 4.x default IKE proposals: AES-GCM and CBC, SHA2 and (for old
 * peers) SHA-1, MODP-2048..8192, DH19..21, each proposal listing all of its
 * groups; then one proposal with a transform type defined after RFC 7296
 * (6: additional key exchange, RFC 9370) that we must find unacceptable.
 */
static const struct raw_prop libreswan_ike[] = {
	{ PROTO_IKE, { E(ENCR_AES_GCM_16, 256), E(ENCR_AES_GCM_16, 128), P(7), P(6), P(5),
		       D(31), D(14), D(15), D(16), D(17), D(18), D(19), D(20), D(21) } },
	{ PROTO_IKE, { E(ENCR_AES_CBC, 256), E(ENCR_AES_CBC, 128), I(14), I(13), I(12), I(2),
		       P(7), P(6), P(5), P(2), D(31), D(14), D(15), D(16), D(17), D(18), D(19),
		       D(20), D(21) } },
	{ PROTO_IKE, { E(ENCR_AES_GCM_16, 256), P(5), D(31), { 6, 19, 0 } } },
};

static unsigned choose_from(const struct raw_prop *props, unsigned n, uint8_t proto,
			    const char *ours, uint16_t ke_group)
{
	static uint8_t body[8192];
	struct ike_pl pl = { .type = PL_SA, .body = body };
	struct proposal_list l;
	struct ike_proposal out;
	struct ike_algs algs;
	struct ike_pl_sa sap;
	char err[160];
	uint16_t dh;
	struct wr w;

	wr_init(&w, body, sizeof(body));
	sa_raw_write(&w, props, n, (const uint8_t *)"spi-spi-");
	pl.len = (uint16_t)wr_len(&w);
	ck_assert_int_eq(ike_pl_sa_decode(&pl, &sap), 0);	/* never INVALID_SYNTAX */
	ck_assert_uint_eq(sap.n_prop, n);
	ck_assert_msg(proposal_list_parse(proto, ours, &l, err, sizeof(err)) == 0, "%s", err);
	return sa_choose(&l, &sap, proto, ke_group, &out, &algs, &dh) == 0 ? out.num : 0;
}

START_TEST(other_peers_long_lists)
{
	/* Windows: the first one we implement is AES-256-CBC + SHA-256 + MODP-2048 (#8) */
	ck_assert_uint_eq(choose_from(windows_ike, 8, PROTO_IKE, "aes256-sha256-modp2048", 2), 8);
	ck_assert_uint_eq(choose_from(windows_ike, 8, PROTO_IKE, "aes256gcm16-prfsha256-x25519", 2),
			  0);
	ck_assert_uint_eq(choose_from(apple_ike, 2, PROTO_IKE, "aes256gcm16-prfsha256-ecp256", 19), 1);
	ck_assert_uint_eq(choose_from(apple_ike, 2, PROTO_IKE, "aes128-sha256-modp2048", 19), 2);
	ck_assert_uint_eq(choose_from(libreswan_ike, 3, PROTO_IKE, "aes128gcm16-prfsha384-x25519",
				      31), 1);
	/* the proposal with an unknown transform type is skipped, not an error */
	ck_assert_uint_eq(choose_from(&libreswan_ike[2], 1, PROTO_IKE,
				      "aes256gcm16-prfsha256-x25519", 31), 0);
}
END_TEST

static Suite *ike_sa_interop_suite(void)
{
	Suite *s = suite_create("ike_sa_interop");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, strongswan_default_decodes_as_tshark_saw_it);
	tcase_add_test(tc, strongswan_default_rekeys_are_chosen_from);
	tcase_add_test(tc, other_peers_long_lists);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ike_sa_interop_suite)
