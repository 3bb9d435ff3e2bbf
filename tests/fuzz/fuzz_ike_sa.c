/*
 * The IKE initiator's state machine (ike/sa*.c) against the scripted
 * gateway of the unit tests (tests/unit/ike_responder.c), with the input
 * choosing what happens: IKE_SA_INIT, IKE_AUTH, then DPD, rekeys of the
 * Child and the IKE SA (ours and the gateway's), deletes, MOBIKE updates,
 * time passing, and, at every delivery, whether the gateway's message
 * arrives as it is, with bits flipped, after a forged one, twice, late, or
 * not at all.
 *
 * Input: cfg:1 (bit 0 MOBIKE, 1 PFS on the Child SA, 2 DPD, 3 Child rekey
 * timer, 4 IKE rekey timer, 5 reliable transport), then steps of op:1 and
 * what the op reads. Ops are picked so that a plain run of "answer" ops
 * establishes the SA and answers every request it makes.
 *
 * Random numbers are a stream seeded per input (OpenSSL's RAND method is
 * replaced, for the library and the gateway alike): a run is reproducible.
 *
 * The gateway asserts what it opens is what it expects (ck_assert); here
 * a failed assertion jumps back and the gateway is out for the rest of the
 * run (only forged input and time then). Checked on the SA: no crash, leak
 * or UB; state names valid; transitions reported from the state it was in
 * and never out of "dead"; our requests' message IDs only go up on each
 * IKE SA; a Child SA goes down only once and only if it came up; at most
 * IKE_SA_MAX_CHILDREN up at once; dead means no deadline.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

/* The gateway's Check assertions, as jumps back into this file. */
#define CHECK_H 1
static void fz_gw_fail(void);
#define ck_assert(c)		do { if (!(c)) fz_gw_fail(); } while (0)
#define ck_assert_msg(c, ...)	ck_assert(c)
#define ck_assert_int_eq(a, b)	ck_assert((a) == (b))
#define ck_assert_uint_eq(a, b)	ck_assert((a) == (b))
#define ck_assert_uint_gt(a, b)	ck_assert((a) > (b))
#define ck_assert_uint_le(a, b)	ck_assert((a) <= (b))
#define ck_assert_uint_lt(a, b)	ck_assert((a) < (b))
#define ck_assert_ptr_nonnull(p) ck_assert((p) != NULL)
#define ck_assert_mem_eq(a, b, n) ck_assert(memcmp((a), (b), (n)) == 0)

#include "tests/unit/ike_responder.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS 48

/* ---- reproducible random numbers ------------------------------------------- */

static uint64_t rng_state;

static int fz_rand_bytes(unsigned char *buf, int num)
{
	for (int i = 0; i < num; i++) {
		uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		buf[i] = (unsigned char)(z ^ (z >> 31));
	}
	return 1;
}

static int fz_rand_status(void)
{
	return 1;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static const RAND_METHOD fz_rand = {
	.bytes = fz_rand_bytes, .pseudorand = fz_rand_bytes, .status = fz_rand_status,
};

static void rng_install(void)
{
	static bool done;

	if (!done && RAND_set_rand_method(&fz_rand) != 1)
		abort();
	done = true;
}
#pragma GCC diagnostic pop

/* ---- input ------------------------------------------------------------------ */

struct in {
	const uint8_t *p;
	size_t left;
};

static uint8_t in_u8(struct in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint16_t in_u16(struct in *in)
{
	return (uint16_t)(in_u8(in) << 8 | in_u8(in));
}

/* ---- the SA's side: ops that record and check -------------------------------- */

static struct harness H;
static struct gw G;
static jmp_buf gw_jmp;
static bool gw_armed, gw_out;

static void fz_gw_fail(void)
{
	if (!gw_armed)
		abort();
	longjmp(gw_jmp, 1);
}

static struct {
	enum ike_sa_state state;
	uint32_t live[16];		/* Child SAs up: their inbound SPIs */
	unsigned n_live;
	struct { uint64_t spi_i, spi_r; uint32_t id; } ids[8];	/* last request ID per IKE SA */
	unsigned n_ids;
} T;

static void check(bool c, const char *what)
{
	if (!c) {
		fprintf(stderr, "fuzz_ike_sa: %s\n", what);
		abort();
	}
}

static void note_request(const uint8_t *msg, size_t len)
{
	uint64_t si, sr;
	uint32_t id;

	if (len < IKE_HDR_LEN || (msg[19] & IKE_FLAG_RESPONSE))
		return;
	si = be64(msg);
	sr = be64(msg + 8);
	id = get_be32(msg + 20);
	for (unsigned i = 0; i < T.n_ids; i++) {
		if (T.ids[i].spi_i == si && T.ids[i].spi_r == sr) {
			check(id >= T.ids[i].id, "a request's message ID went down");
			T.ids[i].id = id;
			return;
		}
	}
	if (T.n_ids < 8)
		T.ids[T.n_ids++] = (typeof(T.ids[0])){ si, sr, id };
}

static int fz_send(void *ctx, const uint8_t *msg, size_t len)
{
	struct h_msg *m = &H.q[H.nq % H_QLEN];

	check(len <= sizeof(m->buf) && len >= IKE_HDR_LEN, "sent a message of an odd size");
	memcpy(m->buf, msg, len);
	m->len = len;
	H.nq++;
	note_request(msg, len);
	return 0;
}

static void fz_float(void *ctx)
{
	H.n_float++;
}

static void fz_child_up(void *ctx, const struct ike_child_info *ci)
{
	check(ci->key_len && ci->key_len <= IKE_ENCR_KEY_MAX, "child_up: key length");
	for (unsigned i = 0; i < T.n_live; i++)
		check(T.live[i] != ci->spi_in, "child_up: inbound SPI already up");
	check(T.n_live < IKE_SA_MAX_CHILDREN, "more Child SAs than IKE_SA_MAX_CHILDREN");
	T.live[T.n_live++] = ci->spi_in;
	/* a read of every byte the data path would copy */
	volatile uint8_t x = 0;
	for (size_t i = 0; i < ci->key_len; i++)
		x ^= ci->key_in[i] ^ ci->key_out[i];
	(void)x;
	H.n_up++;
}

static void fz_child_down(void *ctx, uint32_t spi_in)
{
	for (unsigned i = 0; i < T.n_live; i++) {
		if (T.live[i] == spi_in) {
			T.live[i] = T.live[--T.n_live];
			H.n_down++;
			return;
		}
	}
	check(false, "child_down for a Child SA that is not up");
}

static void fz_state(void *ctx, enum ike_sa_state old, enum ike_sa_state now)
{
	check(old == T.state, "state_changed: old is not the state it was in");
	check(old != IKE_SA_DEAD, "state_changed out of dead");
	check(now <= IKE_SA_DEAD && ike_sa_state_name(now) != NULL, "state_changed: bad state");
	T.state = now;
}

static void fz_moved(void *ctx, int result, const char *why)
{
	check(result == 0 || result == -1, "moved: result");
	check(why && strlen(why) < 1024, "moved: why");
	H.n_moved++;
}

static const struct ike_sa_ops fz_ops = {
	.send = fz_send, .float_port = fz_float, .child_up = fz_child_up,
	.child_down = fz_child_down, .state_changed = fz_state, .moved = fz_moved,
};

static void check_sa(void)
{
	enum ike_sa_state s = ike_sa_state(H.sa);
	const char *name = ike_sa_state_name(s);

	check(s <= IKE_SA_DEAD && name && *name, "state");
	if (T.state == IKE_SA_DEAD)
		check(s == IKE_SA_DEAD, "alive again after dead was reported");
	if (s == IKE_SA_ESTABLISHED || s == IKE_SA_DEAD)
		check(s == T.state, "established or dead, and not reported");
	if (s == IKE_SA_DEAD)
		check(ike_sa_next_deadline(H.sa) == 0, "dead with a deadline");
	check(ike_sa_failure_text(H.sa) != NULL, "failure text");
}

/* ---- the gateway ------------------------------------------------------------ */

static uint32_t gw_child_in;	/* the gateway's inbound SPI of the newest Child SA */
static uint32_t next_spi = 0x6a000001;
static uint8_t last_req[GW_MSG_MAX];	/* the SA's request the gateway last answered */
static size_t last_req_len;
static uint8_t last_ans[GW_MSG_MAX];
static size_t last_ans_len;

static void put_nonce(struct ike_mw *b, uint8_t n[32])
{
	ck_assert_int_eq(RAND_bytes(n, 32), 1);
	ck_assert_int_eq(ike_put_nonce(b, &(struct ike_pl_nonce){ .data = n, .len = 32 }), 0);
}

/* Our KE for group, and g^ir with the peer's ke. */
static size_t put_ke_derive(struct ike_mw *b, uint16_t group, const struct ike_pl_ke *peer,
			    uint8_t *gir)
{
	uint8_t pub[DH_MAX_PUBLIC_LEN];
	struct dh d = { 0 };
	size_t len, glen = 0;
	int ok;

	ok = dh_new(&d, group) == 0 && dh_public(&d, pub, sizeof(pub), &len) == 0 &&
	     ike_put_ke(b, &(struct ike_pl_ke){ .group = group, .data = pub, .len = (uint16_t)len }) == 0 &&
	     dh_derive(&d, peer->data, peer->len, gir, DH_MAX_SECRET_LEN, &glen) == 0;
	dh_free(&d);
	ck_assert(ok);
	return glen;
}

/* The gateway moves to a new IKE SA (keys per RFC 7296 §2.18), keeping the old one. */
static void gw_new_ike(const struct ike_algs *algs, const uint8_t *gir, size_t glen,
		       const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
		       const uint8_t spi_i[8], const uint8_t spi_r[8], bool gw_initiated)
{
	struct gw_ike k = { 0 };

	memcpy(k.spi_i, spi_i, 8);
	memcpy(k.spi_r, spi_r, 8);
	k.initiator = gw_initiated;
	if (ike_keys_derive_rekey(&k.keys, algs, &G.ike.keys, gir, glen, ni, ni_len, nr, nr_len,
				  spi_i, spi_r) < 0 ||
	    sk_init_ike(&k.in, &k.keys, gw_initiated, false) < 0 ||
	    sk_init_ike(&k.out, &k.keys, gw_initiated, true) < 0) {
		gw_ike_free(&k);
		ck_assert(false);
	}
	gw_ike_free(&G.old);
	G.old = G.ike;
	G.ike = k;
}

static struct gw_ike *gw_ike_of(const uint8_t *msg)
{
	if (!memcmp(msg, G.ike.spi_i, 8) && !memcmp(msg + 8, G.ike.spi_r, 8))
		return &G.ike;
	if (!memcmp(msg, G.old.spi_i, 8) && !memcmp(msg + 8, G.old.spi_r, 8))
		return &G.old;
	return NULL;
}

/* Our CREATE_CHILD_SA request, open in G.m on k: rekey the Child or the IKE SA. */
static void gw_answer_create(struct gw_ike *k)
{
	struct ike_pl_any sa, nonce, ke;
	struct ike_proposal chosen;
	struct ike_algs algs;
	struct ike_sa_prop first;
	struct child_keys ck;
	struct gw_out o;
	struct rd props;
	uint8_t nr[32], gir[DH_MAX_SECRET_LEN], spi_r[8];
	size_t glen = 0;
	uint16_t dh;
	bool has_ke = gw_has(&G, PL_KE);

	gw_get(&G, PL_SA, &sa);
	gw_get(&G, PL_NONCE, &nonce);
	if (has_ke)
		gw_get(&G, PL_KE, &ke);
	props = ike_sa_props(&sa.u.sa);
	ck_assert(ike_sa_next_prop(&props, &first));
	gw_pick(&sa.u.sa, has_ke, has_ke ? ke.u.ke.group : 0, &chosen, &algs, &dh);
	gw_begin(&o);
	if (first.proto == PROTO_IKE) {
		ck_assert(has_ke && dh && first.spi_size == 8);
		ck_assert_int_eq(RAND_bytes(spi_r, 8), 1);
		memcpy(chosen.spi, spi_r, 8);
		ck_assert_int_eq(ike_put_sa(&o.b, &chosen, 1), 0);
		put_nonce(&o.b, nr);
		glen = put_ke_derive(&o.b, dh, &ke.u.ke, gir);
		gw_answer(&G, k, &o);
		gw_new_ike(&algs, gir, glen, nonce.u.nonce.data, nonce.u.nonce.len, nr, 32,
			   first.spi, spi_r, false);
		return;
	}
	gw_child_in = next_spi++;
	put_be32(chosen.spi, gw_child_in);
	ck_assert_int_eq(ike_put_sa(&o.b, &chosen, 1), 0);
	put_nonce(&o.b, nr);
	if (dh && has_ke)
		glen = put_ke_derive(&o.b, dh, &ke.u.ke, gir);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSi, &G.ts_client), 0);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSr, &G.ts_net), 0);
	ck_assert_int_eq(child_keys_derive(&ck, &k->keys, &algs, glen ? gir : NULL, glen,
					   nonce.u.nonce.data, nonce.u.nonce.len, nr, 32), 0);
	OPENSSL_cleanse(&ck, sizeof(ck));
	gw_answer(&G, k, &o);
}

/*
 * The gateway answers what the SA sent last, into G.out: false if there is
 * nothing to answer (the SA's last message was a response, or none).
 */
static bool gw_respond(void)
{
	const struct h_msg *m;
	struct gw_ike *k;
	struct gw_out o;
	uint8_t exch;

	if (!H.nq)
		return false;
	m = h_last(&H);
	if (m->buf[19] & IKE_FLAG_RESPONSE)
		return false;
	/* a retransmission: the answer again, as a responder keeps it (§2.1) */
	if (m->len == last_req_len && !memcmp(m->buf, last_req, m->len)) {
		memcpy(G.out, last_ans, last_ans_len);
		G.out_len = last_ans_len;
		return true;
	}
	exch = m->buf[18];
	if (exch == IKE_SA_INIT) {
		gw_sa_init(&G, m->buf, m->len);
		G.ike.next_req = 0;
	} else if (exch == IKE_AUTH) {
		gw_auth(&G, m->buf, m->len);
		gw_child_in = G.esp_in;
	} else {
		ck_assert((k = gw_ike_of(m->buf)) != NULL);
		gw_open(&G, k, m->buf, m->len);
		if (exch == CREATE_CHILD_SA) {
			gw_answer_create(k);
		} else {
			struct ike_pl_notify n;

			ck_assert(exch == INFORMATIONAL);
			gw_begin(&o);
			if (gw_has_notify(&G, N_UPDATE_SA_ADDRESSES, &n)) {
				struct ike_pl_notify c;

				/* echo COOKIE2 (RFC 4555 §3.7) */
				if (gw_has_notify(&G, N_COOKIE2, &c))
					ck_assert_int_eq(ike_put_notify(&o.b, &(struct ike_pl_notify){
						.type = N_COOKIE2, .data = c.data, .len = c.len }), 0);
			}
			gw_answer(&G, k, &o);
		}
	}
	memcpy(last_req, m->buf, m->len);
	last_req_len = m->len;
	memcpy(last_ans, G.out, G.out_len);
	last_ans_len = G.out_len;
	return true;
}

/* The gateway's own requests on its current IKE SA, into G.out. */
static void gw_req_dpd(void)
{
	struct gw_out o;

	gw_begin(&o);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
}

static void gw_req_delete(bool ike)
{
	struct gw_out o;

	gw_begin(&o);
	gw_delete(&o.b, ike ? PROTO_IKE : PROTO_ESP, gw_child_in);
	gw_request(&G, &G.ike, &o, INFORMATIONAL);
}

static void gw_req_rekey_child(void)
{
	struct ike_proposal p = { .num = 1, .proto = PROTO_ESP, .spi_size = 4 };
	struct gw_out o;
	uint8_t ni[32];

	gw_begin(&o);
	gw_notify(&o.b, N_REKEY_SA, PROTO_ESP, gw_child_in);
	gw_child_in = next_spi++;
	put_be32(p.spi, gw_child_in);
	p.trans[p.n_trans++] = (struct ike_transform){ .type = TRANS_ENCR, .id = ENCR_AES_GCM_16,
						       .key_len = 256 };
	p.trans[p.n_trans++] = (struct ike_transform){ .type = TRANS_ESN, .id = ESN_NO };
	ck_assert_int_eq(ike_put_sa(&o.b, &p, 1), 0);
	put_nonce(&o.b, ni);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSi, &G.ts_net), 0);
	ck_assert_int_eq(ike_put_ts(&o.b, PL_TSr, &G.ts_client), 0);
	gw_request(&G, &G.ike, &o, CREATE_CHILD_SA);
}

/*
 * The gateway rekeys the IKE SA (RFC 7296 §2.18, as the initiator of the
 * new one): its request, into G.out; gw_dh, gw_ni and gw_new_spi wait for
 * the SA's answer, which gw_rekey_ike_done() takes to switch to the new SA.
 */
static struct dh gw_dh;
static bool gw_dh_live;
static uint8_t gw_ni[32], gw_new_spi[8];
static uint32_t gw_rekey_id;

static void gw_dh_drop(void)
{
	if (gw_dh_live)
		dh_free(&gw_dh);
	gw_dh_live = false;
}

static void gw_req_rekey_ike(void)
{
	struct ike_proposal p = { .num = 1, .proto = PROTO_IKE, .spi_size = 8 };
	uint8_t pub[DH_MAX_PUBLIC_LEN];
	struct gw_out o;
	size_t len;

	gw_dh_drop();
	ck_assert_int_eq(RAND_bytes(gw_new_spi, 8), 1);
	memcpy(p.spi, gw_new_spi, 8);
	p.trans[p.n_trans++] = (struct ike_transform){ .type = TRANS_ENCR, .id = ENCR_AES_GCM_16,
						       .key_len = 256 };
	p.trans[p.n_trans++] = (struct ike_transform){ .type = TRANS_PRF, .id = PRF_HMAC_SHA2_256 };
	p.trans[p.n_trans++] = (struct ike_transform){ .type = TRANS_DH, .id = DH_CURVE25519 };
	gw_begin(&o);
	ck_assert_int_eq(ike_put_sa(&o.b, &p, 1), 0);
	put_nonce(&o.b, gw_ni);
	gw_dh_live = dh_new(&gw_dh, DH_CURVE25519) == 0;
	ck_assert(gw_dh_live);
	ck_assert_int_eq(dh_public(&gw_dh, pub, sizeof(pub), &len), 0);
	ck_assert_int_eq(ike_put_ke(&o.b, &(struct ike_pl_ke){ .group = DH_CURVE25519, .data = pub,
				    .len = (uint16_t)len }), 0);
	gw_rekey_id = G.ike.next_req;
	gw_request(&G, &G.ike, &o, CREATE_CHILD_SA);
}

/* The SA's answer to gw_req_rekey_ike, if it is its last message: switch to the new SA. */
static void gw_rekey_ike_done(unsigned nq_before)
{
	const struct h_msg *m = h_last(&H);
	struct ike_pl_any sa, nonce, ke;
	struct ike_proposal chosen;
	struct ike_algs algs;
	struct ike_sa_prop first;
	struct rd props;
	uint8_t gir[DH_MAX_SECRET_LEN];
	size_t glen;
	uint16_t dh;

	if (H.nq == nq_before || !gw_dh_live || m->buf[18] != CREATE_CHILD_SA ||
	    !(m->buf[19] & IKE_FLAG_RESPONSE) || get_be32(m->buf + 20) != gw_rekey_id ||
	    gw_ike_of(m->buf) != &G.ike)
		return;
	gw_open(&G, &G.ike, m->buf, m->len);
	if (!gw_has(&G, PL_SA) || !gw_has(&G, PL_KE)) {
		gw_dh_drop();	/* refused (an error notify): nothing changes */
		return;
	}
	gw_get(&G, PL_SA, &sa);
	gw_get(&G, PL_NONCE, &nonce);
	gw_get(&G, PL_KE, &ke);
	props = ike_sa_props(&sa.u.sa);
	ck_assert(ike_sa_next_prop(&props, &first) && first.proto == PROTO_IKE &&
		  first.spi_size == 8);
	gw_pick(&sa.u.sa, true, DH_CURVE25519, &chosen, &algs, &dh);
	ck_assert(ke.u.ke.group == DH_CURVE25519);
	ck_assert_int_eq(dh_derive(&gw_dh, ke.u.ke.data, ke.u.ke.len, gir, sizeof(gir), &glen), 0);
	gw_dh_drop();
	gw_new_ike(&algs, gir, glen, gw_ni, 32, nonce.u.nonce.data, nonce.u.nonce.len, gw_new_spi,
		   first.spi, true);
}

/* The gateway deletes the IKE SA it rekeyed away from, on that one. */
static void gw_req_delete_old(void)
{
	struct gw_out o;

	gw_begin(&o);
	gw_delete(&o.b, PROTO_IKE, 0);
	gw_request(&G, &G.old, &o, INFORMATIONAL);
}

/* ---- steps ------------------------------------------------------------------- */

enum op {
	OP_ANSWER,		/* the gateway answers the SA's last request; delivered per mode */
	OP_TICK,		/* to the next deadline (or a little later) */
	OP_WAIT,		/* some time passes */
	OP_GW_DPD,		/* the gateway's requests */
	OP_GW_DEL_CHILD,
	OP_GW_DEL_IKE,
	OP_GW_REKEY_CHILD,
	OP_MOVE,		/* MOBIKE: new addresses, ike_sa_move */
	OP_RAW,			/* a forged message from the input */
	OP_MANGLE,		/* the gateway's last message with bits flipped */
	OP_REPLAY,		/* the gateway's last message again */
	OP_RESEND,		/* ike_sa_resend (another path) */
	OP_RECONNECTED,		/* ike_sa_reconnected (a new TCP connection) */
	OP_GW_REKEY_IKE,	/* the gateway rekeys the IKE SA */
	OP_GW_DEL_OLD,		/* and deletes the old one */
	OP_N
};

static void input(const uint8_t *msg, size_t len)
{
	ike_sa_input(H.sa, msg, len, H.now);
	check_sa();
}

static void mangled(struct in *in, const uint8_t *msg, size_t len)
{
	static uint8_t buf[GW_MSG_MAX];
	unsigned flips = 1 + in_u8(in) % 4;

	if (!len)
		return;
	memcpy(buf, msg, len);
	for (unsigned i = 0; i < flips; i++) {
		uint16_t at = in_u16(in);

		buf[at % len] ^= (uint8_t)(1u << (at >> 13));
	}
	if (in_u8(in) & 1)
		len -= in_u8(in) % len;	/* and cut short */
	input(buf, len);
}

static void raw(struct in *in)
{
	static uint8_t buf[GW_MSG_MAX];
	size_t len = in_u8(in);

	if (len > in->left)
		len = in->left;
	memcpy(buf, in->p, len);
	in->p += len;
	in->left -= len;
	/* the header of the gateway's current IKE SA in front, often */
	if (len >= IKE_HDR_LEN && (buf[0] & 1)) {
		memcpy(buf, G.ike.spi_i, 8);
		memcpy(buf + 8, G.ike.spi_r, 8);
		put_be32(buf + 24, (uint32_t)len);
	}
	input(buf, len);
}

/* Deliver G.out as the mode byte says. */
static void deliver(struct in *in, bool request)
{
	uint8_t mode = in_u8(in) % 8;

	switch (mode) {
	case 1:
		mangled(in, G.out, G.out_len);
		break;
	case 2:
		raw(in);
		break;
	case 3:
		input(G.out, G.out_len);
		break;	/* and again below */
	case 4:
		H.now += in_u16(in);
		ike_sa_tick(H.sa, H.now);
		check_sa();
		break;
	case 5:
		if (request)
			G.ike.next_req--;	/* lost: the gateway sends it again later */
		return;
	default:
		break;
	}
	input(G.out, G.out_len);
}

static void step(struct in *in, uint8_t op_byte)
{
	enum op op = (enum op)(op_byte % OP_N);
	bool est = ike_sa_state(H.sa) == IKE_SA_ESTABLISHED;

	if (gw_out && op != OP_TICK && op != OP_WAIT && op != OP_RAW)
		op = OP_RAW;
	switch (op) {
	case OP_ANSWER:
		if (gw_respond())
			deliver(in, false);
		break;
	case OP_TICK: {
		uint64_t d = ike_sa_next_deadline(H.sa);

		if (d) {
			if (d > H.now)
				H.now = d;
			H.now += in_u8(in) & 0x0f;
			ike_sa_tick(H.sa, H.now);
			check_sa();
		}
		break;
	}
	case OP_WAIT:
		H.now += (uint64_t)in_u16(in) * 16;
		ike_sa_tick(H.sa, H.now);
		check_sa();
		break;
	case OP_GW_DPD:
	case OP_GW_DEL_CHILD:
	case OP_GW_DEL_IKE:
	case OP_GW_REKEY_CHILD:
		if (!est)
			break;
		if (op == OP_GW_DPD)
			gw_req_dpd();
		else if (op == OP_GW_REKEY_CHILD)
			gw_req_rekey_child();
		else
			gw_req_delete(op == OP_GW_DEL_IKE);
		deliver(in, true);
		break;
	case OP_MOVE: {
		uint8_t ip[16] = { 10, 20, 0, 0 };

		ip[3] = in_u8(in);
		ike_sa_set_addrs(H.sa, AF_INET, ip, 4500, H.cfg.remote_ip, 4500);
		if (ike_sa_move(H.sa, H.now) < 0)
			check(errno == ENOTSUP || ike_sa_state(H.sa) == IKE_SA_DEAD, "move: errno");
		check_sa();
		break;
	}
	case OP_RAW:
		raw(in);
		break;
	case OP_MANGLE:
		mangled(in, G.out, G.out_len);
		break;
	case OP_REPLAY:
		input(G.out, G.out_len);
		break;
	case OP_RESEND:
		if (ike_sa_resend(H.sa, H.now) < 0)
			check(errno == ENOENT || errno == EIO, "resend: errno");
		check_sa();
		break;
	case OP_RECONNECTED:
		ike_sa_reconnected(H.sa, H.now);
		check_sa();
		break;
	case OP_GW_REKEY_IKE: {
		unsigned nq = H.nq;

		if (!est)
			break;
		gw_req_rekey_ike();
		deliver(in, true);
		gw_rekey_ike_done(nq);
		break;
	}
	case OP_GW_DEL_OLD:
		if (!est || !G.old.out.encr)
			break;
		gw_req_delete_old();
		deliver(in, false);
		break;
	case OP_N:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct in in;	/* static: kept across the gateway's longjmp */
	uint8_t cfg;
	volatile unsigned steps = 0;
	static int trace = -1;

	if (size < 1 || size > 8192)
		return 0;
	in = (struct in){ data, size };
	rng_install();
	if (trace < 0)
		trace = getenv("FUZZ_IKE_SA_TRACE") != NULL;
	rng_state = 0x1cea9e47;
	cfg = in_u8(&in);
	memset(&T, 0, sizeof(T));
	last_req_len = last_ans_len = 0;
	gw_child_in = 0;
	next_spi = 0x6a000001;
	gw_out = false;

	h_init(&H, "aes256gcm16-prfsha256-x25519", (cfg & 2) ? "aes256gcm16-x25519" : "aes256gcm16");
	log_set_level(LOG_LVL_ERR);
	gw_init(&G);
	H.cfg.mobike = cfg & 1;
	G.mobike = cfg & 1;
	H.cfg.dpd_ms = (cfg & 4) ? 20000 : 0;
	H.cfg.child_rekey_ms = (cfg & 8) ? 30000 : 0;
	H.cfg.ike_rekey_ms = (cfg & 16) ? 45000 : 0;
	H.sa = ike_sa_new(&H.cfg, &fz_ops, &H);
	check(H.sa != NULL, "ike_sa_new");
	if (cfg & 32)
		ike_sa_set_reliable(H.sa, true);
	if (ike_sa_start(H.sa, H.now) < 0)
		abort();
	check_sa();

	gw_armed = true;
	if (setjmp(gw_jmp))
		gw_out = true;	/* the gateway did not expect that: it keeps out of it */
	while (in.left && steps < MAX_STEPS) {
		uint8_t op = in_u8(&in);

		steps++;
		step(&in, op);
		if (trace) {	/* FUZZ_IKE_SA_TRACE=1: what each step did, for writing seeds */
			uint32_t fnv = 2166136261u;

			for (size_t i = 0; H.nq && i < h_last(&H)->len; i++)
				fnv = (fnv ^ h_last(&H)->buf[i]) * 16777619u;
			fprintf(stderr, "step %u op %u: %s rekeys %u up %u down %u sent %u (last %08x)%s\n",
				steps, op % OP_N, ike_sa_state_name(ike_sa_state(H.sa)),
				ike_sa_rekeys(H.sa), H.n_up, H.n_down, H.nq, fnv,
				gw_out ? " (gateway out)" : "");
		}
	}
	gw_armed = false;

	gw_dh_drop();
	ike_sa_free(H.sa);
	H.sa = NULL;
	gw_free(&G);
	return 0;
}
