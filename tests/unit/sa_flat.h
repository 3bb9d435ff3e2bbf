/*
 * Tests only: SA payloads both ways.
 *  - sa_flat(): a decoded SA payload (a view, ike/msg.h) copied into
 *    arrays, so assertions can index proposals and transforms. Bigger than
 *    anything the tests decode; it fails the test when a payload does not fit.
 *  - sa_raw_write(): proposals as gateways send them, written octet by
 *    octet (the encoder's IKE_PROP_MAX_BUILD is for our own proposals).
 */
#ifndef IKEAGENT_TESTS_SA_FLAT_H
#define IKEAGENT_TESTS_SA_FLAT_H

#include <check.h>
#include <string.h>

#include "ike/msg.h"

#define SA_FLAT_PROPS	16
#define SA_FLAT_TRANS	80

struct sa_flat_prop {
	uint8_t num, proto, spi_size, n_trans;
	uint8_t spi[IKE_MAX_SPI];
	struct ike_transform trans[SA_FLAT_TRANS];
};

struct sa_flat {
	unsigned n_prop;
	struct sa_flat_prop prop[SA_FLAT_PROPS];
};

static inline void sa_flat(const struct ike_pl_sa *sa, struct sa_flat *out)
{
	struct rd props = ike_sa_props(sa), trs;
	struct ike_sa_prop p;
	struct ike_transform t;

	memset(out, 0, sizeof(*out));
	while (ike_sa_next_prop(&props, &p)) {
		struct sa_flat_prop *f;
		unsigned n = 0;

		ck_assert_uint_lt(out->n_prop, SA_FLAT_PROPS);
		f = &out->prop[out->n_prop++];
		f->num = p.num;
		f->proto = p.proto;
		f->spi_size = p.spi_size;
		f->n_trans = p.n_trans;
		memcpy(f->spi, p.spi, sizeof(f->spi));
		for (trs = p.trans; ike_sa_next_trans(&trs, &t); n++) {
			ck_assert_uint_lt(n, SA_FLAT_TRANS);
			f->trans[n] = t;
		}
		ck_assert_uint_eq(n, p.n_trans);
	}
	ck_assert_uint_eq(out->n_prop, sa->n_prop);
}

/* The first proposal of a decoded SA payload (the test fails if there is none). */
static inline struct ike_sa_prop sa_first_prop(const struct ike_pl_sa *sa)
{
	struct rd props = ike_sa_props(sa);
	struct ike_sa_prop p;

	ck_assert(ike_sa_next_prop(&props, &p));
	return p;
}

/* One proposal of a raw SA payload: {type, id, key length} until type 0. */
struct raw_prop {
	uint8_t proto;
	uint16_t t[80][3];
};

#define RAW_E(id, bits)	{ TRANS_ENCR, id, bits }
#define RAW_I(id)	{ TRANS_INTEG, id, 0 }
#define RAW_P(id)	{ TRANS_PRF, id, 0 }
#define RAW_D(id)	{ TRANS_DH, id, 0 }

/* The SA payload body of n proposals, numbered from 1, each with spi (8 octets for IKE, else 4). */
static inline void sa_raw_write(struct wr *w, const struct raw_prop *props, unsigned n,
				const uint8_t *spi)
{
	for (unsigned i = 0; i < n; i++) {
		const struct raw_prop *p = &props[i];
		uint8_t spi_size = p->proto == PROTO_IKE ? 8 : 4;
		size_t at = wr_len(w), mark;
		unsigned k = 0;

		while (p->t[k][0])
			k++;
		ck_assert_int_eq(wr_u8(w, i + 1 < n ? 2 : 0), 0);
		ck_assert_int_eq(wr_u8(w, 0), 0);
		ck_assert_int_eq(wr_reserve(w, 2, &mark), 0);
		ck_assert_int_eq(wr_u8(w, (uint8_t)(i + 1)), 0);
		ck_assert_int_eq(wr_u8(w, p->proto), 0);
		ck_assert_int_eq(wr_u8(w, spi_size), 0);
		ck_assert_int_eq(wr_u8(w, (uint8_t)k), 0);
		ck_assert_int_eq(wr_bytes(w, spi, spi_size), 0);
		for (unsigned j = 0; j < k; j++) {
			ck_assert_int_eq(wr_u8(w, j + 1 < k ? 3 : 0), 0);
			ck_assert_int_eq(wr_u8(w, 0), 0);
			ck_assert_int_eq(wr_u16(w, p->t[j][2] ? 12 : 8), 0);
			ck_assert_int_eq(wr_u8(w, (uint8_t)p->t[j][0]), 0);
			ck_assert_int_eq(wr_u8(w, 0), 0);
			ck_assert_int_eq(wr_u16(w, p->t[j][1]), 0);
			if (p->t[j][2]) {
				ck_assert_int_eq(wr_u16(w, TRANS_ATTR_TV | TRANS_ATTR_KEY_LENGTH), 0);
				ck_assert_int_eq(wr_u16(w, p->t[j][2]), 0);
			}
		}
		ck_assert_int_eq(wr_fill_u16(w, mark, (uint16_t)(wr_len(w) - at)), 0);
	}
	ck_assert(wr_ok(w));
}

#endif
