/*
 * Tests only: a decoded SA payload (a view, ike/msg.h) copied into arrays,
 * so assertions can index proposals and transforms. Bigger than anything
 * the tests decode; sa_flat() fails the test when a payload does not fit.
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

#endif
