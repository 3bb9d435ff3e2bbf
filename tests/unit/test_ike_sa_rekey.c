/*
 * Rekeying (RFC 7296 §1.3.2, §1.3.3, §2.8, §2.17, §2.18) between the IKE
 * initiator (ike/sa*.c) and the scripted gateway of ike_responder.c: Child
 * SA and IKE SA rekeys started by either side, with the keys each side
 * derives compared, the DELETE of what the rekey replaced, and both ends
 * rekeying the same Child SA at once (§2.8.1, §2.25.1).
 */
#include <string.h>

#include "ike/names.h"
#include "ike/sa_int.h"	/* SA_PROBE_DELAY_MS */
#include "tests/unit/check_main.h"
#include "tests/unit/ike_responder.c"
#include "tests/unit/sa_flat.h"

#define IKE_P	"aes256gcm16-prfsha256-x25519"

static struct harness H;
static struct gw G;

static void setup(void)
{
	gw_init(&G);
}

static void teardown(void)
{
	h_free(&H);
	gw_free(&G);
}

static void put_ke(struct ike_mw *b, struct dh *d, uint16_t group)
{
	uint8_t pub[DH_MAX_PUBLIC_LEN];
	size_t len;

	ck_assert_int_eq(dh_new(d, group), 0);
	ck_assert_int_eq(dh_public(d, pub, sizeof(pub), &len), 0);
	ck_assert_int_eq(ike_put_ke(b, &(struct ike_pl_ke){ .group = group, .data = pub,
				    .len = (uint16_t)len }), 0);
}

/* g^ir from the KE in the gateway's last opened message. */
static size_t take_ke(struct dh *d, uint8_t *gir)
{
	struct ike_pl_any ke;
	size_t len;

	gw_get(&G, PL_KE, &ke);
	ck_assert_uint_eq(ke.u.ke.group, d->group);
	ck_assert_int_eq(dh_derive(d, ke.u.ke.data, ke.u.ke.len, gir, DH_MAX_SECRET_LEN, &len), 0);
	dh_free(d);
	return len;
}

static void put_nonce(struct ike_mw *b, uint8_t n[32])
{
	ck_assert_int_eq(RAND_bytes(n, 32), 1);
	ck_assert_int_eq(ike_put_nonce(b, &(struct ike_pl_nonce){ .data = n, .len = 32 }), 0);
}

/* A proposal like strongSwan's: aes256gcm16 [-x25519] for ESP, aes256gcm16-prfsha256-x25519 for IKE. */
static void put_sa(struct ike_mw *b, uint8_t proto, const uint8_t *spi, bool pfs)
{
	struct ike_proposal prop = { 0 }, *p = &prop;

	p->num = 1;
	p->proto = proto;
	p->spi_size = proto == PROTO_IKE ? 8 : 4;
	memcpy(p->spi, spi, p->spi_size);
	p->trans[p->n_trans++] = (struct ike_transform){ .type = TRANS_ENCR, .id = ENCR_AES_GCM_16,
							 .key_len = 256 };
	if (proto == PROTO_IKE)
		p->trans[p->n_trans++] = (struct ike_transform){ .type = TRANS_PRF,
								 .id = PRF_HMAC_SHA2_256 };
	if (pfs)
		p->trans[p->n_trans++] = (struct ike_transform){ .type = TRANS_DH, .id = DH_CURVE25519 };
	if (proto == PROTO_ESP)
		p->trans[p->n_trans++] = (struct ike_transform){ .type = TRANS_ESN, .id = ESN_NO };
	ck_assert_int_eq(ike_put_sa(b, p, 1), 0);
}

/* A gateway's SA payload, as long as it likes. */
static void put_sa_raw(struct ike_mw *b, const struct raw_prop *props, unsigned n,
		       const uint8_t *spi)
{
	ck_assert_int_eq(ike_mw_open(b, PL_SA, false), 0);
	sa_raw_write(b->w, props, n, spi);
	ck_assert_int_eq(ike_mw_close(b), 0);
}

#define E RAW_E
#define I RAW_I
#define P RAW_P
#define D RAW_D
#define DH_ALL	D(19), D(20), D(21), D(28), D(29), D(30), D(31), D(32), D(15), D(16), \
		D(17), D(18), D(14), D(27), D(26), D(25)

/*
 * Shaped like strongSwan 5.9's `default` IKE proposals behind two of its
 * own (the gateway: "aes256gcm16-prfsha256-ecp256,
 * aes256-sha256-modp2048, default"), then a proposal with a transform
 * type nobody defines. The third has 16 DH groups, the fourth 46
 * transforms; x25519 (31) is not the first DH group anywhere.
 */
static const struct raw_prop default_like[] = {
	{ PROTO_IKE, { E(ENCR_AES_GCM_16, 256), P(5), D(19) } },
	{ PROTO_IKE, { E(ENCR_AES_CBC, 256), I(12), P(5), D(14) } },
	{ PROTO_IKE, { E(ENCR_AES_GCM_16, 128), E(ENCR_AES_GCM_16, 192), E(ENCR_AES_GCM_16, 256),
		       E(ENCR_CHACHA20_POLY1305, 0), P(5), P(6), P(7), P(2), DH_ALL } },
	{ PROTO_IKE, { E(ENCR_AES_CBC, 128), E(ENCR_AES_CBC, 192), E(ENCR_AES_CBC, 256),
		       E(23, 128), E(23, 192), E(23, 256), E(13, 128), E(13, 192), E(13, 256),
		       I(12), I(13), I(14), I(2), I(5), I(8), I(1), P(5), P(6), P(7), P(2), P(4),
		       P(8), P(1), DH_ALL, D(2), D(5), D(22), D(23), D(24), D(1), D(3) } },
	{ PROTO_IKE, { E(ENCR_AES_GCM_16, 256), P(5), D(31), { 241, 1, 0 } } },
};

/* The gateway deletes Child SA gw_in; we lose ours (our_in) and answer with it. */
static void gw_deletes_child(uint32_t gw_in, uint32_t our_in)
{
	struct gw_out o;
	struct ike_pl_any d;
	unsigned down = H.n_down;
	uint32_t id = G.ike.next_req;

	gw_begin(&o);
	gw_delete(&o.b, PROTO_ESP, gw_in);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_down, down + 1);
	ck_assert_uint_eq(H.down[down], our_in);
	gw_expect_response(&G, &G.ike, &H, INFORMATIONAL, id);
	gw_get(&G, PL_DELETE, &d);
	ck_assert_uint_eq(d.u.del.spi[0], our_in);
}

/* 8. The gateway rekeys the Child SA (_i = 1: with PFS). */
START_TEST(test_gateway_rekeys_child)
{
	bool pfs = _i;
	struct gw_out o;
	struct ike_pl_any sa, nonce;
	struct child_keys ck;
	struct dh d = { 0 };
	uint8_t ni[32], gir[DH_MAX_SECRET_LEN], spi[4];
	size_t glen = 0;
	uint32_t old_in, new_gw_in;

	h_init(&H, IKE_P, pfs ? "aes256gcm16-x25519" : "aes256gcm16");
	h_new(&H);
	h_establish(&H, &G);
	old_in = H.up[0].ci.spi_in;
	new_gw_in = G.esp_in ^ 0x01010000;
	put_be32(spi, new_gw_in);

	/* §1.3.3: REKEY_SA (the gateway's inbound SPI), SA, Ni, [KEi], TSi, TSr */
	gw_begin(&o);
	gw_notify(&o.b, N_REKEY_SA, PROTO_ESP, G.esp_in);
	put_sa(&o.b, PROTO_ESP, spi, pfs);
	put_nonce(&o.b, ni);
	if (pfs)
		put_ke(&o.b, &d, DH_CURVE25519);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSi, &G.ts_net), 0);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSr, &G.ts_client), 0);
	gw_request(&G, &G.ike, &o, CREATE_CHILD_SA);
	gw_deliver(&G, &H);

	gw_expect_response(&G, &G.ike, &H, CREATE_CHILD_SA, 0);
	gw_get(&G, PL_SA, &sa);
	gw_get(&G, PL_NONCE, &nonce);
	ck_assert_uint_eq(sa.u.sa.n_prop, 1);
	ck_assert_uint_eq(sa_first_prop(&sa.u.sa).spi_size, 4);
	ck_assert_uint_eq(gw_has(&G, PL_KE), pfs);
	if (pfs)
		glen = take_ke(&d, gir);
	/* §2.17: the gateway started the exchange: its nonce is Ni, encr_i its outbound key. */
	ck_assert_int_eq(child_keys_derive(&ck, &G.ike.keys, &G.esp, glen ? gir : NULL, glen, ni, 32,
					   nonce.u.nonce.data, nonce.u.nonce.len), 0);
	ck_assert_uint_eq(H.n_up, 2);
	ck_assert(H.up[1].ci.rekey);
	ck_assert_uint_eq(H.up[1].ci.spi_in, get_be32(sa_first_prop(&sa.u.sa).spi));
	ck_assert_uint_eq(H.up[1].ci.spi_out, new_gw_in);
	ck_assert_uint_ne(H.up[1].ci.spi_in, old_in);
	h_check_keys(&H.up[1], &ck, false);
	ck_assert_mem_eq(H.up[1].ci.ts_local.ts[0].start, G.ts_client.ts[0].start, 4);
	ck_assert_uint_eq(H.n_down, 0);

	/* The gateway deletes the old Child SA. */
	gw_deletes_child(G.esp_in, old_in);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	child_keys_clear(&ck);
}
END_TEST

/*
 * 8b. The gateway's Child SA rekey asks for more than the Child SA it
 * replaces (_i = 0: its side, TSi, 0.0.0.0/0 instead of its network; _i =
 * 1: our side, TSr, all addresses instead of our virtual IP): refused with
 * TS_UNACCEPTABLE (§2.9, §3.10.1), nothing installed, the old one stays.
 */
START_TEST(test_gateway_rekeys_child_ts_widened)
{
	struct ike_pl_ts wide;
	struct ike_pl_notify n;
	struct gw_out o;
	uint8_t ni[32], spi[4];
	uint32_t id;

	h_init(&H, IKE_P, "aes256gcm16");
	h_new(&H);
	h_establish(&H, &G);
	wide = _i ? G.ts_client : G.ts_net;
	memset(wide.ts[0].start, 0, 4);
	memset(wide.ts[0].end, 0xff, 4);
	put_be32(spi, G.esp_in ^ 0x01010000);
	gw_begin(&o);
	gw_notify(&o.b, N_REKEY_SA, PROTO_ESP, G.esp_in);
	put_sa(&o.b, PROTO_ESP, spi, false);
	put_nonce(&o.b, ni);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSi, _i ? &G.ts_net : &wide), 0);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSr, _i ? &wide : &G.ts_client), 0);
	id = G.ike.next_req;
	gw_request(&G, &G.ike, &o, CREATE_CHILD_SA);
	gw_deliver(&G, &H);
	gw_expect_response(&G, &G.ike, &H, CREATE_CHILD_SA, id);
	ck_assert(gw_has_notify(&G, N_TS_UNACCEPTABLE, &n));
	ck_assert(!gw_has(&G, PL_SA));
	ck_assert_uint_eq(H.n_up, 1);
	ck_assert_uint_eq(H.n_down, 0);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(ike_sa_rekeys(H.sa), 0);
}
END_TEST

/*
 * Answer our Child SA rekey request (open in G.m) with the gateway's new
 * SPI and nonce nr (NULL: 32 random octets); ck: the new keys.
 */
static bool gw_no_pfs;	/* the gateway leaves DH and KE out of its answer to our rekey */

static void gw_answer_child_rekey_nr(uint32_t new_gw_in, struct child_keys *ck,
				     const uint8_t *nr_in, size_t nr_len)
{
	struct gw_out o;
	struct ike_pl_any sa, nonce, ke;
	struct ike_proposal chosen;
	struct ike_algs esp;
	struct dh d = { 0 };
	uint8_t nr[IKE_NONCE_MAX], gir[DH_MAX_SECRET_LEN];
	size_t glen = 0;
	uint16_t dh;

	gw_get(&G, PL_SA, &sa);
	gw_get(&G, PL_NONCE, &nonce);
	ck_assert(gw_has(&G, PL_TSi) && gw_has(&G, PL_TSr));
	/* SA, Nr, [KEr], TSi, TSr */
	gw_pick(&sa.u.sa, !gw_no_pfs, 0, &chosen, &esp, &dh);
	put_be32(chosen.spi, new_gw_in);
	gw_begin(&o);
	ck_assert_int_eq(ike_put_sa(&o.b, &chosen, 1), 0);
	if (nr_in) {
		memcpy(nr, nr_in, nr_len);
		ck_assert_int_eq(ike_put_nonce(&o.b, &(struct ike_pl_nonce){ .data = nr,
					       .len = (uint16_t)nr_len }), 0);
	} else {
		nr_len = 32;
		put_nonce(&o.b, nr);
	}
	if (dh) {
		gw_get(&G, PL_KE, &ke);
		ck_assert_uint_eq(ke.u.ke.group, dh);
		put_ke(&o.b, &d, dh);
		ck_assert_int_eq(dh_derive(&d, ke.u.ke.data, ke.u.ke.len, gir, sizeof(gir), &glen), 0);
		dh_free(&d);
	}
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSi, &G.ts_client), 0);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSr, &G.ts_net), 0);
	/* We started the exchange: our nonce is Ni and encr_i our outbound key. */
	ck_assert_int_eq(child_keys_derive(ck, &G.ike.keys, &esp, glen ? gir : NULL, glen,
					   nonce.u.nonce.data, nonce.u.nonce.len, nr, nr_len), 0);
	gw_answer(&G, &G.ike, &o);
	gw_deliver(&G, &H);
}

static void gw_answer_child_rekey(uint32_t new_gw_in, struct child_keys *ck)
{
	gw_answer_child_rekey_nr(new_gw_in, ck, NULL, 0);
}

/* 9. We rekey the Child SA when child_rekey_ms is up, with PFS, then delete the old one. */
START_TEST(test_we_rekey_child)
{
	struct gw_out o;
	struct ike_pl_any sa, ke, del;
	struct ike_pl_notify rn;
	struct child_keys ck;
	uint64_t t0;
	uint32_t old_in, old_gw_in, new_gw_in;

	h_init(&H, IKE_P, "aes256gcm16-x25519");
	H.cfg.child_rekey_ms = 60000;
	h_new(&H);
	h_establish(&H, &G);
	t0 = H.now;
	old_in = H.up[0].ci.spi_in;
	old_gw_in = G.esp_in;
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), t0 + 60000);
	ike_sa_tick(H.sa, t0 + 59999);
	ck_assert_uint_eq(H.nq, 2);
	H.now = t0 + 60000;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, CREATE_CHILD_SA), 2);
	ck_assert(gw_has_notify(&G, N_REKEY_SA, &rn));
	ck_assert_uint_eq(rn.proto, PROTO_ESP);
	ck_assert_uint_eq(get_be32(rn.spi), old_in);	/* our inbound SPI (§1.3.3) */
	gw_get(&G, PL_SA, &sa);
	gw_get(&G, PL_KE, &ke);
	ck_assert_uint_eq(ke.u.ke.group, DH_CURVE25519);
	new_gw_in = old_gw_in ^ 0x00ff0000;
	H.now += 10;
	gw_answer_child_rekey(new_gw_in, &ck);
	ck_assert_uint_eq(H.n_up, 2);
	ck_assert(H.up[1].ci.rekey);
	ck_assert_uint_eq(H.up[1].ci.spi_in, get_be32(sa_first_prop(&sa.u.sa).spi));
	ck_assert_uint_eq(H.up[1].ci.spi_out, new_gw_in);
	h_check_keys(&H.up[1], &ck, true);
	ck_assert_uint_eq(H.n_down, 0);

	/* §2.8: then we delete the old Child SA (listing our inbound SPI). */
	ck_assert_uint_le(ike_sa_next_deadline(H.sa), H.now);
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, INFORMATIONAL), 3);
	gw_get(&G, PL_DELETE, &del);
	ck_assert_uint_eq(del.u.del.proto, PROTO_ESP);
	ck_assert_uint_eq(del.u.del.spi[0], old_in);
	gw_begin(&o);
	gw_delete(&o.b, PROTO_ESP, old_gw_in);
	gw_answer(&G, &G.ike, &o);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.n_down, 1);
	ck_assert_uint_eq(H.down[0], old_in);
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(H.nq, 4);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + 60000);
	child_keys_clear(&ck);
}
END_TEST

/*
 * Our proposal has a DH group (PFS): an answer to our Child SA rekey that
 * chose no DH group (no KEr) is refused; the old Child SA stays, no new
 * one goes up, and the rekey is tried again 10 s later.
 */
START_TEST(test_we_rekey_child_pfs_required)
{
	struct child_keys ck;
	uint64_t t0;

	h_init(&H, IKE_P, "aes256gcm16-x25519");
	H.cfg.child_rekey_ms = 60000;
	h_new(&H);
	h_establish(&H, &G);
	t0 = H.now;
	H.now = t0 + 60000;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, CREATE_CHILD_SA), 2);
	ck_assert(gw_has(&G, PL_KE));
	gw_no_pfs = true;
	gw_answer_child_rekey(G.esp_in ^ 0x00ff0000, &ck);
	gw_no_pfs = false;
	child_keys_clear(&ck);
	ck_assert_uint_eq(H.n_up, 1);
	ck_assert_uint_eq(H.n_down, 0);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(ike_sa_rekeys(H.sa), 0);
	/* the next try, with KE again */
	H.now += 10000;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, CREATE_CHILD_SA), 3);
	ck_assert(gw_has(&G, PL_KE));
	gw_answer_child_rekey(G.esp_in ^ 0x00fe0000, &ck);
	ck_assert_uint_eq(H.n_up, 2);
	h_check_keys(&H.up[1], &ck, true);
	child_keys_clear(&ck);
}
END_TEST

/*
 * §2.9: the answer to our Child SA rekey widens TSr (0.0.0.0/0 for the
 * 10.1.0.0/16 we proposed, the first Child SA's): refused, no new Child
 * SA, the old one stays, and we ask the gateway to delete its new one.
 */
START_TEST(test_we_rekey_child_ts_widened)
{
	struct child_keys ck;
	struct ike_pl_any del;
	uint32_t new_in;

	h_init(&H, IKE_P, "aes256gcm16");
	H.cfg.child_rekey_ms = 60000;
	h_new(&H);
	h_establish(&H, &G);
	H.now += 60000;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, CREATE_CHILD_SA), 2);
	{
		struct ike_pl_any sa;

		gw_get(&G, PL_SA, &sa);
		new_in = get_be32(sa_first_prop(&sa.u.sa).spi);
	}
	memset(G.ts_net.ts[0].start, 0, 4);
	memset(G.ts_net.ts[0].end, 0xff, 4);
	gw_answer_child_rekey(G.esp_in ^ 0x00ff0000, &ck);
	child_keys_clear(&ck);
	ck_assert_uint_eq(H.n_up, 1);
	ck_assert_uint_eq(H.n_down, 0);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, INFORMATIONAL), 3);
	gw_get(&G, PL_DELETE, &del);
	ck_assert_uint_eq(del.u.del.spi[0], new_in);
}
END_TEST

/* §2.8.1's "lowest": octet by octet, and a nonce that ends first is the lower one. */
START_TEST(test_nonce_order)
{
	static const uint8_t a[] = { 0, 1, 2 }, b[] = { 0, 1, 3 }, c[] = { 0, 1 }, d[] = { 1 };

	ck_assert_int_lt(sa_nonce_cmp(a, 3, b, 3), 0);
	ck_assert_int_gt(sa_nonce_cmp(b, 3, a, 3), 0);
	ck_assert_int_eq(sa_nonce_cmp(a, 3, a, 3), 0);
	ck_assert_int_lt(sa_nonce_cmp(c, 2, a, 3), 0);	/* a prefix is lower */
	ck_assert_int_gt(sa_nonce_cmp(a, 3, c, 2), 0);
	ck_assert_int_gt(sa_nonce_cmp(d, 1, a, 3), 0);	/* not compared as integers */
}
END_TEST

static bool h_is_down(uint32_t spi)
{
	for (unsigned i = 0; i < H.n_down; i++)
		if (H.down[i] == spi)
			return true;
	return false;
}

/* What agent/datapath.c sends on: the newest Child SA up and not down, unless redundant. */
static uint32_t h_outbound(void)
{
	for (unsigned i = H.n_up; i-- > 0;)
		if (!H.up[i].ci.redundant && !h_is_down(H.up[i].ci.spi_in))
			return H.up[i].ci.spi_in;
	return 0;
}

/* Child SAs up and not down; each one down exactly once, and only ones that were up. */
static unsigned h_live(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < H.n_down; i++) {
		bool was_up = false;

		for (unsigned j = 0; j < H.n_up; j++)
			was_up |= H.up[j].ci.spi_in == H.down[i];
		ck_assert_msg(was_up, "child_down(%08x) of an SA never up", H.down[i]);
		for (unsigned j = i + 1; j < H.n_down; j++)
			ck_assert_uint_ne(H.down[i], H.down[j]);
	}
	for (unsigned i = 0; i < H.n_up; i++)
		n += !h_is_down(H.up[i].ci.spi_in);
	return n;
}

/*
 * The gateway's request to rekey the Child SA it receives on as old_gw_in:
 * its new SPI new_gw_in, its nonce ni; into G.out.
 */
static void gw_rekey_child_request(uint32_t old_gw_in, uint32_t new_gw_in, const uint8_t *ni,
				   size_t ni_len)
{
	struct gw_out o;
	uint8_t spi[4];

	gw_begin(&o);
	gw_notify(&o.b, N_REKEY_SA, PROTO_ESP, old_gw_in);
	put_be32(spi, new_gw_in);
	put_sa(&o.b, PROTO_ESP, spi, false);
	ck_assert_int_eq(ike_put_nonce(&o.b, &(struct ike_pl_nonce){ .data = ni,
				       .len = (uint16_t)ni_len }), 0);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSi, &G.ts_net), 0);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSr, &G.ts_client), 0);
	gw_request(&G, &G.ike, &o, CREATE_CHILD_SA);
}

/* Deliver the gateway's rekey request; returns the SA we made for it (our inbound SPI). */
static uint32_t gw_rekey_child_answered(void)
{
	struct ike_pl_any sa;
	uint32_t id = G.ike.next_req - 1;

	gw_deliver(&G, &H);
	gw_expect_response(&G, &G.ike, &H, CREATE_CHILD_SA, id);
	gw_get(&G, PL_SA, &sa);
	return get_be32(sa_first_prop(&sa.u.sa).spi);
}

/* We send one INFORMATIONAL with one Delete: of our inbound SPI want. */
static void expect_our_delete(uint32_t want)
{
	struct ike_pl_any del;

	ike_sa_tick(H.sa, H.now);
	gw_expect_request(&G, &G.ike, &H, INFORMATIONAL);
	gw_get(&G, PL_DELETE, &del);
	ck_assert_uint_eq(del.u.del.proto, PROTO_ESP);
	ck_assert_uint_eq(del.u.del.n_spi, 1);
	ck_assert_uint_eq(ike_delete_spi(&del.u.del, 0), want);
}

/*
 * 9b. Both ends rekey the same Child SA O at once (RFC 7296 §2.8.1): ours
 * makes A, the gateway's B. _i bit 0: the lowest of the four nonces is in
 * the gateway's exchange (else in ours); bit 1: our response arrives
 * first, the gateway's request after it (else its request arrives while
 * ours is outstanding). The lowest nonces share a 16-octet prefix of
 * zeros with the other exchange's lowest and are lower by being shorter.
 * Then: the redundant SA is never sent on once both are up; whoever made
 * it deletes it, whoever made the survivor deletes O; we send exactly the
 * one Delete that is ours; every SA removed reaches child_down; the
 * survivor is the one rekeyed next.
 */
START_TEST(test_rekey_collision)
{
	bool theirs_low = _i & 1, ours_first = _i & 2;
	uint8_t zero16[16] = { 0 }, zero16_1[32] = { 0 };
	const uint8_t *gw_ni = theirs_low ? zero16 : zero16_1;	/* Ni of its exchange */
	const uint8_t *gw_nr = theirs_low ? zero16_1 : zero16;	/* Nr of ours */
	size_t gw_ni_len = theirs_low ? 16 : 32, gw_nr_len = theirs_low ? 32 : 16;
	struct ike_pl_notify rn;
	struct child_keys ck;
	struct gw_out o;
	struct h_msg ours;
	uint32_t o_in, o_gw, a_in = 0, a_gw, b_in, b_gw, survivor, redundant;
	unsigned nq;

	memset(zero16_1 + 16, 1, 16);
	h_init(&H, IKE_P, "aes256gcm16");
	H.cfg.child_rekey_ms = 60000;
	h_new(&H);
	h_establish(&H, &G);
	o_in = H.up[0].ci.spi_in;
	o_gw = G.esp_in;
	a_gw = o_gw ^ 0x00f00000;
	b_gw = o_gw ^ 0x0f000000;
	H.now += 60000;
	ike_sa_tick(H.sa, H.now);
	ours = *h_last(&H);
	gw_open(&G, &G.ike, ours.buf, ours.len);
	ck_assert(gw_has_notify(&G, N_REKEY_SA, &rn));
	ck_assert_uint_eq(get_be32(rn.spi), o_in);
	if (ours_first) {
		/* 2: our response first: A is up and sent on, O's Delete queued, not yet out */
		gw_answer_child_rekey_nr(a_gw, &ck, gw_nr, gw_nr_len);
		ck_assert_uint_eq(H.n_up, 2);
		a_in = H.up[1].ci.spi_in;
		ck_assert(!H.up[1].ci.redundant);
		ck_assert_uint_eq(h_outbound(), a_in);
		gw_rekey_child_request(o_gw, b_gw, gw_ni, gw_ni_len);
		b_in = gw_rekey_child_answered();
	} else {
		/* 1: the gateway's request while ours is outstanding: answered as usual */
		gw_rekey_child_request(o_gw, b_gw, gw_ni, gw_ni_len);
		b_in = gw_rekey_child_answered();
		ck_assert_uint_eq(H.n_up, 2);
		ck_assert_uint_eq(H.up[1].ci.spi_in, b_in);
		ck_assert(!H.up[1].ci.redundant);
		ck_assert_uint_eq(h_outbound(), b_in);
		gw_open(&G, &G.ike, ours.buf, ours.len);
		gw_answer_child_rekey_nr(a_gw, &ck, gw_nr, gw_nr_len);
		a_in = H.up[2].ci.spi_in;
		h_check_keys(&H.up[2], &ck, true);
	}
	child_keys_clear(&ck);
	/* three SAs, none removed yet; traffic goes out over the survivor */
	ck_assert_uint_eq(H.n_up, 3);
	ck_assert_uint_eq(H.n_down, 0);
	ck_assert_uint_eq(ike_sa_rekeys(H.sa), 2);
	survivor = theirs_low ? a_in : b_in;
	redundant = theirs_low ? b_in : a_in;
	ck_assert_uint_eq(H.up[2].ci.redundant, (H.up[2].ci.spi_in == redundant));
	ck_assert_uint_eq(h_outbound(), survivor);

	nq = H.nq;
	if (theirs_low) {
		/* B is the gateway's to delete; A survives and we made it: we delete O */
		expect_our_delete(o_in);
		gw_begin(&o);
		gw_delete(&o.b, PROTO_ESP, o_gw);
		gw_answer(&G, &G.ike, &o);
		gw_deliver(&G, &H);
		ck_assert_uint_eq(H.n_down, 1);
		ck_assert_uint_eq(H.down[0], o_in);
		gw_deletes_child(b_gw, b_in);
	} else {
		/* A is ours to delete; B survives and the gateway made it: it deletes O */
		expect_our_delete(a_in);
		gw_begin(&o);
		gw_delete(&o.b, PROTO_ESP, a_gw);
		gw_answer(&G, &G.ike, &o);
		gw_deliver(&G, &H);
		ck_assert_uint_eq(H.n_down, 1);
		ck_assert_uint_eq(H.down[0], a_in);
		gw_deletes_child(o_gw, o_in);
	}
	/* our one Delete and our answer to the gateway's: nothing else, O or the survivor */
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(H.nq, nq + 2);
	ck_assert_uint_eq(H.n_down, 2);
	ck_assert_uint_eq(h_live(), 1);
	ck_assert_uint_eq(h_outbound(), survivor);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);

	/* the survivor is the Child SA we rekey next */
	H.now = ike_sa_next_deadline(H.sa);
	ike_sa_tick(H.sa, H.now);
	gw_expect_request(&G, &G.ike, &H, CREATE_CHILD_SA);
	ck_assert(gw_has_notify(&G, N_REKEY_SA, &rn));
	ck_assert_uint_eq(get_be32(rn.spi), survivor);
}
END_TEST

/*
 * 9c. Our rekey of O is answered and our Delete of O is out when the
 * gateway's rekey of O arrives: §2.25.1, "a request to rekey a Child SA
 * that it is currently trying to close": TEMPORARY_FAILURE, nothing
 * installed, and A stays the one SA.
 */
START_TEST(test_rekey_collision_closing)
{
	uint8_t ni[32];
	struct ike_pl_notify n;
	struct child_keys ck;
	uint32_t o_in, o_gw, id;

	h_init(&H, IKE_P, "aes256gcm16");
	H.cfg.child_rekey_ms = 60000;
	h_new(&H);
	h_establish(&H, &G);
	o_in = H.up[0].ci.spi_in;
	o_gw = G.esp_in;
	H.now += 60000;
	ike_sa_tick(H.sa, H.now);
	gw_expect_request(&G, &G.ike, &H, CREATE_CHILD_SA);
	gw_answer_child_rekey(o_gw ^ 0x00f00000, &ck);
	child_keys_clear(&ck);
	expect_our_delete(o_in);
	memset(ni, 0, sizeof(ni));	/* the lowest nonce: it would win were it taken */
	gw_rekey_child_request(o_gw, o_gw ^ 0x0f000000, ni, sizeof(ni));
	id = G.ike.next_req - 1;
	gw_deliver(&G, &H);
	gw_expect_response(&G, &G.ike, &H, CREATE_CHILD_SA, id);
	ck_assert(gw_has_notify(&G, N_TEMPORARY_FAILURE, &n));
	ck_assert(!gw_has(&G, PL_SA));
	ck_assert_uint_eq(H.n_up, 2);
	ck_assert_uint_eq(h_outbound(), H.up[1].ci.spi_in);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
}
END_TEST

/*
 * 9d. The gateway's rekey of O arrives while ours is outstanding, then the
 * gateway refuses ours (TEMPORARY_FAILURE, as §2.25 allows): no collision
 * is left. B replaced O; O is the gateway's to delete, so we send no
 * Delete, and the next rekey (of B) is B's lifetime away, not a retry.
 */
START_TEST(test_rekey_collision_ours_refused)
{
	uint8_t ni[32];
	struct gw_out o;
	struct h_msg ours;
	uint32_t o_gw, b_in;
	unsigned nq;

	h_init(&H, IKE_P, "aes256gcm16");
	H.cfg.child_rekey_ms = 60000;
	h_new(&H);
	h_establish(&H, &G);
	o_gw = G.esp_in;
	H.now += 60000;
	ike_sa_tick(H.sa, H.now);
	ours = *h_last(&H);
	ck_assert_int_eq(RAND_bytes(ni, sizeof(ni)), 1);
	gw_rekey_child_request(o_gw, o_gw ^ 0x0f000000, ni, sizeof(ni));
	b_in = gw_rekey_child_answered();
	gw_open(&G, &G.ike, ours.buf, ours.len);
	gw_begin(&o);
	gw_notify(&o.b, N_TEMPORARY_FAILURE, 0, 0);
	gw_answer(&G, &G.ike, &o);
	gw_deliver(&G, &H);
	nq = H.nq;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(H.nq, nq);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + 60000);
	ck_assert_uint_eq(h_outbound(), b_in);
	gw_deletes_child(o_gw, H.up[0].ci.spi_in);
	ck_assert_uint_eq(h_live(), 1);
}
END_TEST

/* Switch the gateway to the new IKE SA (keys per §2.18), keeping the old one. */
static void gw_switch(const struct ike_algs *algs, const uint8_t *gir, size_t glen,
		      const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
		      const uint8_t spi_i[8], const uint8_t spi_r[8], bool gw_initiated)
{
	struct gw_ike *k = &G.ike;

	sk_dir_free(&G.old.in);
	sk_dir_free(&G.old.out);
	G.old = G.ike;
	memset(k, 0, sizeof(*k));
	ck_assert_int_eq(ike_keys_derive_rekey(&k->keys, algs, &G.old.keys, gir, glen, ni, ni_len,
					       nr, nr_len, spi_i, spi_r), 0);
	memcpy(k->spi_i, spi_i, 8);
	memcpy(k->spi_r, spi_r, 8);
	k->initiator = gw_initiated;
	ck_assert_int_eq(sk_init_ike(&k->in, &k->keys, gw_initiated, false), 0);
	ck_assert_int_eq(sk_init_ike(&k->out, &k->keys, gw_initiated, true), 0);
}

/* The gateway's DPD on its current IKE SA is answered there. */
static void gw_dpd(void)
{
	struct gw_out o;
	uint32_t id = G.ike.next_req;

	gw_begin(&o);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	gw_expect_response(&G, &G.ike, &H, INFORMATIONAL, id);
	ck_assert_int_eq(!!(G.m.hdr.flags & IKE_FLAG_INITIATOR), !G.ike.initiator);
}

/* 10. We rekey the IKE SA; afterwards both sides use the new SPIs, keys and message IDs. */
START_TEST(test_we_rekey_ike)
{
	struct gw_out o;
	struct ike_pl_any sa, nonce, ke, del;
	struct ike_proposal chosen;
	struct ike_algs algs;
	struct dh d = { 0 };
	uint8_t nr[32], gir[DH_MAX_SECRET_LEN], spi_i[8], spi_r[8] = "newspi-r";
	uint64_t t0, si, sr;
	size_t glen;
	uint16_t dh;
	unsigned nq;

	h_init(&H, IKE_P, "aes256gcm16");
	H.cfg.ike_rekey_ms = 60000;
	H.cfg.dpd_ms = 50000;
	h_new(&H);
	h_establish(&H, &G);
	t0 = H.now;
	H.now = t0 + 60000;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, CREATE_CHILD_SA), 2);
	gw_get(&G, PL_SA, &sa);
	gw_get(&G, PL_NONCE, &nonce);
	gw_get(&G, PL_KE, &ke);
	ck_assert_uint_eq(sa_first_prop(&sa.u.sa).proto, PROTO_IKE);
	ck_assert_uint_eq(sa_first_prop(&sa.u.sa).spi_size, 8);
	memcpy(spi_i, sa_first_prop(&sa.u.sa).spi, 8);
	ck_assert_mem_ne(spi_i, G.ike.spi_i, 8);

	gw_pick(&sa.u.sa, true, ke.u.ke.group, &chosen, &algs, &dh);
	memcpy(chosen.spi, spi_r, 8);
	gw_begin(&o);
	ck_assert_int_eq(ike_put_sa(&o.b, &chosen, 1), 0);
	put_nonce(&o.b, nr);
	put_ke(&o.b, &d, dh);
	ck_assert_int_eq(dh_derive(&d, ke.u.ke.data, ke.u.ke.len, gir, sizeof(gir), &glen), 0);
	dh_free(&d);
	gw_answer(&G, &G.ike, &o);
	gw_deliver(&G, &H);

	/* We delete the old IKE SA on the old SA (ID 3); the gateway answers there. */
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, INFORMATIONAL), 3);
	gw_get(&G, PL_DELETE, &del);
	ck_assert_uint_eq(del.u.del.proto, PROTO_IKE);
	gw_switch(&algs, gir, glen, nonce.u.nonce.data, nonce.u.nonce.len, nr, 32, spi_i, spi_r,
		  false);
	gw_begin(&o);
	gw_answer(&G, &G.old, &o);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(ike_sa_rekeys(H.sa), 1);
	ike_sa_spis(H.sa, &si, &sr);
	ck_assert_uint_eq(si, be64(spi_i));
	ck_assert_uint_eq(sr, be64(spi_r));

	/* The old SA is gone: the gateway's DPD on it is not answered. */
	nq = H.nq;
	gw_begin(&o);
	gw_request(&G, &G.old, &o, INFORMATIONAL);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(H.nq, nq);

	/* Our DPD on the new SA: message ID 0, Initiator flag set, the gateway's new keys decrypt it. */
	H.now += 50000;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, INFORMATIONAL), 0);
	gw_begin(&o);
	gw_answer(&G, &G.ike, &o);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), t0 + 120000);	/* the next IKE rekey */
	gw_dpd();
	ck_assert_uint_eq(H.n_up, 1);
	ck_assert_uint_eq(H.n_down, 0);
}
END_TEST

/*
 * 11. The gateway rekeys the IKE SA, then deletes the old one on the old
 * SA. _i = 1: with proposals shaped like strongSwan's `default` (more
 * transforms than the codec once kept), the KE of the group we use.
 */
START_TEST(test_gateway_rekeys_ike)
{
	struct gw_out o;
	struct ike_pl_any sa, nonce;
	struct dh d = { 0 };
	uint8_t ni[32], gir[DH_MAX_SECRET_LEN], spi_i[8] = "gwnewspi", spi_r[8];
	struct h_msg req, resp;
	uint64_t si, sr;
	size_t glen;
	uint32_t id;

	/* _i = 1: we offer ecp256 too, which the gateway lists before x25519 */
	h_init(&H, _i ? IKE_P "-ecp256" : IKE_P, "aes256gcm16");
	H.cfg.dpd_ms = 30000;
	h_new(&H);
	h_establish(&H, &G);

	/* §1.3.2: SA (IKE, the gateway's new SPI), Ni, KEi */
	gw_begin(&o);
	if (_i)
		put_sa_raw(&o.b, default_like, 5, spi_i);
	else
		put_sa(&o.b, PROTO_IKE, spi_i, true);
	put_nonce(&o.b, ni);
	put_ke(&o.b, &d, DH_CURVE25519);
	gw_request(&G, &G.ike, &o, CREATE_CHILD_SA);
	req.len = G.out_len;
	memcpy(req.buf, G.out, G.out_len);
	gw_deliver(&G, &H);
	resp = *h_last(&H);
	gw_expect_response(&G, &G.ike, &H, CREATE_CHILD_SA, 0);
	ck_assert(G.m.hdr.flags & IKE_FLAG_INITIATOR);	/* still the old SA: we started it */
	gw_get(&G, PL_SA, &sa);
	gw_get(&G, PL_NONCE, &nonce);
	ck_assert_uint_eq(sa_first_prop(&sa.u.sa).proto, PROTO_IKE);
	ck_assert_uint_eq(sa_first_prop(&sa.u.sa).spi_size, 8);
	/* the first proposal we can match, with the KE payload's group */
	ck_assert_uint_eq(sa_first_prop(&sa.u.sa).num, _i ? 3 : 1);
	{
		struct sa_flat f;

		sa_flat(&sa.u.sa, &f);
		ck_assert_uint_eq(f.prop[0].n_trans, 3);
		for (unsigned k = 0; k < 3; k++)
			if (f.prop[0].trans[k].type == TRANS_DH)
				ck_assert_uint_eq(f.prop[0].trans[k].id, DH_CURVE25519);
	}
	memcpy(spi_r, sa_first_prop(&sa.u.sa).spi, 8);
	glen = take_ke(&d, gir);
	/* The gateway started the rekey: its nonce is Ni and its SPI SPIi (§2.18). */
	gw_switch(&G.algs, gir, glen, ni, 32, nonce.u.nonce.data, nonce.u.nonce.len, spi_i, spi_r,
		  true);
	ike_sa_spis(H.sa, &si, &sr);
	ck_assert_uint_eq(si, be64(spi_i));
	ck_assert_uint_eq(sr, be64(spi_r));

	/* Our answer got lost: the retransmitted request gets the same answer (§2.3). */
	h_input(&H, req.buf, req.len);
	ck_assert_uint_eq(h_last(&H)->len, resp.len);
	ck_assert_mem_eq(h_last(&H)->buf, resp.buf, resp.len);
	ck_assert_uint_eq(ike_sa_rekeys(H.sa), 1);

	/* The gateway deletes the old IKE SA with its old SPIs and keys; we answer there. */
	id = G.old.next_req;
	gw_begin(&o);
	gw_delete(&o.b, PROTO_IKE, 0);
	gw_request(&G, &G.old, &o, INFORMATIONAL);
	h_all_dropped(&H, G.out, G.out_len);
	gw_deliver(&G, &H);
	gw_expect_response(&G, &G.old, &H, INFORMATIONAL, id);
	ck_assert(G.m.hdr.flags & IKE_FLAG_INITIATOR);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(ike_sa_failure(H.sa), IKE_FAIL_NONE);

	/* On the new SA the gateway is the original initiator: our flags lack the I bit. */
	H.now += 30000;
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_eq(gw_expect_request(&G, &G.ike, &H, INFORMATIONAL), 0);
	ck_assert(!(G.m.hdr.flags & IKE_FLAG_INITIATOR));
	gw_begin(&o);
	gw_answer(&G, &G.ike, &o);
	gw_deliver(&G, &H);
	gw_dpd();
	ck_assert(!(G.m.hdr.flags & IKE_FLAG_INITIATOR));
	ck_assert_uint_eq(H.n_up, 1);
	ck_assert_uint_eq(H.n_down, 0);

	/* The Child SA lives on under the new IKE SA: the gateway can still delete it. */
	gw_deletes_child(G.esp_in, H.up[0].ci.spi_in);
}
END_TEST

/*
 * 12. What we answer a gateway's rekey we cannot take (RFC 7296 §3.10.1,
 * §3.3.6), and that we then check at once whether it dropped the IKE SA:
 *   0: IKE rekey, no proposal fits      -> NO_PROPOSAL_CHOSEN, probe, gateway answers
 *   1: same, the gateway is gone        -> NO_PROPOSAL_CHOSEN, probe, SA fails in < 5 s
 *   2: IKE rekey, SA payload truncated  -> INVALID_SYNTAX, probe
 *   3: IKE rekey, KE of another group   -> INVALID_KE_PAYLOAD naming x25519, no probe
 *   4: Child rekey, only unknown transform types -> NO_PROPOSAL_CHOSEN, probe
 */
START_TEST(test_gateway_rekey_refused)
{
	static const struct raw_prop unsupported[] = {
		{ PROTO_IKE, { E(3, 0), I(2), P(2), D(2) } },			/* 3des-sha1-modp1024 */
		{ PROTO_IKE, { E(ENCR_AES_GCM_16, 256), P(5), D(31), { 241, 1, 0 } } },
	};
	static const struct raw_prop esp_unknown[] = {
		{ PROTO_ESP, { E(ENCR_AES_GCM_16, 256), { TRANS_ESN, 0, 0 }, { 7, 1, 0 } } },
		{ 9, { E(ENCR_AES_GCM_16, 256), { TRANS_ESN, 0, 0 } } },		/* protocol 9 */
	};
	static const uint16_t want[] = { N_NO_PROPOSAL_CHOSEN, N_NO_PROPOSAL_CHOSEN,
					 N_INVALID_SYNTAX, N_INVALID_KE_PAYLOAD,
					 N_NO_PROPOSAL_CHOSEN };
	struct gw_out o;
	struct ike_pl_notify n;
	struct dh d = { 0 };
	uint8_t ni[32], spi[8] = "gwnewspi";
	uint32_t id;
	uint64_t t0;

	h_init(&H, IKE_P, "aes256gcm16");
	H.cfg.dpd_ms = 600000;		/* DPD would be 10 minutes away */
	h_new(&H);
	h_establish(&H, &G);
	gw_begin(&o);
	if (_i == 4) {
		gw_notify(&o.b, N_REKEY_SA, PROTO_ESP, G.esp_in);
		put_sa_raw(&o.b, esp_unknown, 2, spi);
		put_nonce(&o.b, ni);
		ck_assert_int_eq(ike_put_ts(&o.b, PL_TSi, &G.ts_net), 0);
		ck_assert_int_eq(ike_put_ts(&o.b, PL_TSr, &G.ts_client), 0);
	} else {
		if (_i == 2) {
			/* a proposal that claims 3 transforms and carries 2 */
			static const uint8_t bad[] = { 0, 0, 0, 32, 1, PROTO_IKE, 8, 3,
				'g', 'w', 'n', 'e', 'w', 's', 'p', 'i',
				3, 0, 0, 12, TRANS_ENCR, 0, 0, ENCR_AES_GCM_16, 0x80, 0x0e, 1, 0,
				0, 0, 0, 8, TRANS_PRF, 0, 0, 5 };

			ck_assert_int_eq(ike_mw_raw(&o.b, PL_SA, false, bad, sizeof(bad)), 0);
		} else if (_i == 3) {
			put_sa(&o.b, PROTO_IKE, spi, true);
		} else {
			put_sa_raw(&o.b, unsupported, 2, spi);
		}
		put_nonce(&o.b, ni);
		put_ke(&o.b, &d, _i == 3 ? DH_ECP_256 : DH_CURVE25519);
	}
	id = G.ike.next_req;
	gw_request(&G, &G.ike, &o, CREATE_CHILD_SA);
	gw_deliver(&G, &H);
	dh_free(&d);
	gw_expect_response(&G, &G.ike, &H, CREATE_CHILD_SA, id);
	ck_assert_msg(gw_has_notify(&G, want[_i], &n), "case %d: no %s in the answer", _i,
		      ike_notify_name(want[_i]));
	ck_assert(!gw_has(&G, PL_SA));
	if (_i == 3) {
		ck_assert_uint_eq(n.len, 2);
		ck_assert_uint_eq(get_be16(n.data), DH_CURVE25519);
	}
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(ike_sa_rekeys(H.sa), 0);

	/* the liveness check is due in SA_PROBE_DELAY_MS, not after dpd_ms */
	t0 = H.now;
	if (_i == 3) {
		ck_assert_uint_gt(ike_sa_next_deadline(H.sa), t0 + 60000);
		return;
	}
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), t0 + SA_PROBE_DELAY_MS);
	H.now = t0 + SA_PROBE_DELAY_MS;
	ike_sa_tick(H.sa, H.now);
	id = gw_expect_request(&G, &G.ike, &H, INFORMATIONAL);
	ck_assert(!gw_has(&G, PL_DELETE) && !gw_has(&G, PL_NOTIFY));	/* empty: a liveness check */
	if (_i != 1) {
		gw_begin(&o);
		gw_answer(&G, &G.ike, &o);
		gw_deliver(&G, &H);
		ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
		ck_assert_uint_gt(ike_sa_next_deadline(H.sa), H.now + 60000);
		return;
	}
	/* no answer: retransmitted after 0.5 and 1 s, given up 2 s later */
	while (ike_sa_state(H.sa) == IKE_SA_ESTABLISHED) {
		uint64_t next = ike_sa_next_deadline(H.sa);

		ck_assert_uint_gt(next, H.now);
		H.now = next;
		ike_sa_tick(H.sa, H.now);
	}
	ck_assert_uint_eq(ike_sa_failure(H.sa), IKE_FAIL_TIMEOUT);
	ck_assert_uint_le(H.now - t0, 5000);
}
END_TEST

/*
 * 13. The gateway deletes our only Child SA (it expired there). _i = 0: it
 * sets up a new one at once (CREATE_CHILD_SA without REKEY_SA), which we
 * take in its place; _i = 1: it does not, and we ask for one ourselves
 * SA_CHILD_AGAIN_MS later. Either way traffic has an SA again.
 */
START_TEST(test_lost_child_is_replaced)
{
	struct gw_out o;
	struct ike_pl_any sa;
	struct ike_pl_notify rn;
	struct child_keys ck;
	uint8_t ni[32], spi[4];
	uint32_t id, new_gw_in;

	h_init(&H, IKE_P, "aes256gcm16");
	H.cfg.dpd_ms = 600000;
	h_new(&H);
	h_establish(&H, &G);
	new_gw_in = G.esp_in ^ 0x0ff00000;
	gw_deletes_child(G.esp_in, H.up[0].ci.spi_in);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + SA_CHILD_AGAIN_MS);
	if (_i == 0) {
		gw_begin(&o);
		put_be32(spi, new_gw_in);
		put_sa(&o.b, PROTO_ESP, spi, false);
		put_nonce(&o.b, ni);
		ck_assert_int_eq(ike_put_ts(&o.b, PL_TSi, &G.ts_net), 0);
		ck_assert_int_eq(ike_put_ts(&o.b, PL_TSr, &G.ts_client), 0);
		id = G.ike.next_req;
		gw_request(&G, &G.ike, &o, CREATE_CHILD_SA);
		gw_deliver(&G, &H);
		gw_expect_response(&G, &G.ike, &H, CREATE_CHILD_SA, id);
		ck_assert(gw_has(&G, PL_SA));
		ck_assert(!gw_has_notify(&G, N_NO_ADDITIONAL_SAS, &rn));
		ck_assert_uint_eq(H.n_up, 2);
		ck_assert_uint_eq(H.up[1].ci.spi_out, new_gw_in);
		/* and nothing else asked for: no request of ours is due */
		ck_assert_uint_gt(ike_sa_next_deadline(H.sa), H.now + 60000);
		return;
	}
	H.now += SA_CHILD_AGAIN_MS;
	ike_sa_tick(H.sa, H.now);
	gw_expect_request(&G, &G.ike, &H, CREATE_CHILD_SA);
	ck_assert(!gw_has_notify(&G, N_REKEY_SA, &rn));	/* a new one, not a rekey (§1.3.1) */
	gw_get(&G, PL_SA, &sa);
	gw_answer_child_rekey(new_gw_in, &ck);
	ck_assert_uint_eq(H.n_up, 2);
	ck_assert_uint_eq(H.up[1].ci.spi_out, new_gw_in);
	h_check_keys(&H.up[1], &ck, true);
	/* no old Child SA to delete */
	ike_sa_tick(H.sa, H.now);
	ck_assert_uint_gt(ike_sa_next_deadline(H.sa), H.now + 60000);
	child_keys_clear(&ck);
}
END_TEST

/*
 * 14. The gateway answers our rekey INVALID_KE_PAYLOAD: with a group we
 * offer we rekey again at once with it (_i = 0: Child SA with PFS, 1: the
 * IKE SA); with one we do not offer we wait REKEY_RETRY_MS (_i = 2).
 */
START_TEST(test_our_rekey_invalid_ke)
{
	static const uint16_t want[] = { DH_ECP_256, DH_ECP_256, DH_MODP_2048 };
	struct gw_out o;
	struct ike_pl_any ke;
	uint8_t grp[2];
	uint64_t t0;

	h_init(&H, _i == 1 ? IKE_P "-ecp256" : IKE_P, "aes256gcm16-x25519-ecp256");
	if (_i == 1)
		H.cfg.ike_rekey_ms = 60000;
	else
		H.cfg.child_rekey_ms = 60000;
	H.cfg.dpd_ms = 600000;
	h_new(&H);
	h_establish(&H, &G);
	t0 = H.now;
	H.now = t0 + 60000;
	ike_sa_tick(H.sa, H.now);
	gw_expect_request(&G, &G.ike, &H, CREATE_CHILD_SA);
	gw_get(&G, PL_KE, &ke);
	ck_assert_uint_eq(ke.u.ke.group, DH_CURVE25519);
	put_be16(grp, want[_i]);
	gw_begin(&o);
	ck_assert_int_eq(ike_put_notify(&o.b, &(struct ike_pl_notify){
		.type = N_INVALID_KE_PAYLOAD, .data = grp, .len = 2 }), 0);
	gw_answer(&G, &G.ike, &o);
	gw_deliver(&G, &H);
	ck_assert_uint_eq(ike_sa_state(H.sa), IKE_SA_ESTABLISHED);
	if (_i == 2) {
		/* not ours: the next try is the usual one, no probe either (a retry was asked for) */
		ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now + 10000);
		return;
	}
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), H.now);
	ike_sa_tick(H.sa, H.now);
	gw_expect_request(&G, &G.ike, &H, CREATE_CHILD_SA);
	gw_get(&G, PL_KE, &ke);
	ck_assert_uint_eq(ke.u.ke.group, DH_ECP_256);
}
END_TEST

/*
 * 15. After a suspend the agent asks for a liveness check now: an empty
 * INFORMATIONAL at once; a gateway that lost the SA fails it in < 5 s.
 */
START_TEST(test_liveness_check_now)
{
	uint64_t t0;

	h_init(&H, IKE_P, "aes256gcm16");
	H.cfg.dpd_ms = 600000;
	h_new(&H);
	ike_sa_check_liveness(H.sa, H.now, "not yet");	/* not established: nothing */
	h_establish(&H, &G);
	t0 = H.now;
	ike_sa_check_liveness(H.sa, t0, "resumed from a suspend");
	ck_assert_uint_eq(ike_sa_next_deadline(H.sa), t0);
	ike_sa_tick(H.sa, t0);
	gw_expect_request(&G, &G.ike, &H, INFORMATIONAL);
	ck_assert(!gw_has(&G, PL_DELETE) && !gw_has(&G, PL_NOTIFY));
	while (ike_sa_state(H.sa) == IKE_SA_ESTABLISHED) {
		H.now = ike_sa_next_deadline(H.sa);
		ike_sa_tick(H.sa, H.now);
	}
	ck_assert_uint_eq(ike_sa_failure(H.sa), IKE_FAIL_TIMEOUT);
	ck_assert_uint_le(H.now - t0, 4000);
}
END_TEST

static Suite *ike_sa_rekey_suite(void)
{
	Suite *s = suite_create("ike_sa_rekey");
	TCase *tc = tcase_create("rekey");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_gateway_rekeys_child, 0, 2);
	tcase_add_loop_test(tc, test_gateway_rekeys_child_ts_widened, 0, 2);
	tcase_add_test(tc, test_we_rekey_child);
	tcase_add_test(tc, test_we_rekey_child_pfs_required);
	tcase_add_test(tc, test_we_rekey_child_ts_widened);
	tcase_add_test(tc, test_nonce_order);
	tcase_add_loop_test(tc, test_rekey_collision, 0, 4);
	tcase_add_test(tc, test_rekey_collision_closing);
	tcase_add_test(tc, test_rekey_collision_ours_refused);
	tcase_add_test(tc, test_we_rekey_ike);
	tcase_add_loop_test(tc, test_gateway_rekeys_ike, 0, 2);
	tcase_add_loop_test(tc, test_gateway_rekey_refused, 0, 5);
	tcase_add_loop_test(tc, test_lost_child_is_replaced, 0, 2);
	tcase_add_loop_test(tc, test_our_rekey_invalid_ke, 0, 3);
	tcase_add_test(tc, test_liveness_check_now);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ike_sa_rekey_suite)
