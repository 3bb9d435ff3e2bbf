#include <string.h>

#include "tests/unit/check_main.h"
#include "util/buf.h"

START_TEST(reads_within_bounds)
{
	const uint8_t in[] = { 1, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 1, 2, 3, 4, 5, 6, 7, 8 };
	struct rd r;
	uint8_t a;
	uint16_t b;
	uint32_t c;
	uint64_t d;

	rd_init(&r, in, sizeof(in));
	ck_assert_int_eq(rd_u8(&r, &a), 0);
	ck_assert_int_eq(rd_u16(&r, &b), 0);
	ck_assert_int_eq(rd_u32(&r, &c), 0);
	ck_assert_int_eq(rd_u64(&r, &d), 0);
	ck_assert_uint_eq(a, 1);
	ck_assert_uint_eq(b, 0x0203);
	ck_assert_uint_eq(c, 0x04050607);
	ck_assert_uint_eq(d, 0x0102030405060708ULL);
	ck_assert_uint_eq(rd_left(&r), 0);
	ck_assert(rd_ok(&r));
}
END_TEST

START_TEST(overrun_fails_and_sticks)
{
	const uint8_t in[] = { 1, 2, 3 };
	struct rd r;
	uint32_t v = 0xdeadbeef;
	uint8_t u;

	rd_init(&r, in, sizeof(in));
	ck_assert_int_eq(rd_u32(&r, &v), -1);
	ck_assert_uint_eq(v, 0xdeadbeef);	/* nothing read */
	ck_assert(!rd_ok(&r));
	ck_assert_int_eq(rd_u8(&r, &u), -1);	/* sticky */
	ck_assert_uint_eq(rd_left(&r), 0);
}
END_TEST

START_TEST(sub_reader_is_bounded)
{
	const uint8_t in[] = { 9, 8, 7, 6, 5 };
	struct rd r, s;
	const uint8_t *p;
	uint8_t u;

	rd_init(&r, in, sizeof(in));
	ck_assert_int_eq(rd_sub(&r, 2, &s), 0);
	ck_assert_int_eq(rd_ptr(&s, 2, &p), 0);
	ck_assert_uint_eq(p[1], 8);
	ck_assert_int_eq(rd_u8(&s, &u), -1);
	ck_assert(rd_ok(&r));
	ck_assert_uint_eq(rd_left(&r), 3);
	ck_assert_int_eq(rd_sub(&r, 4, &s), -1);
	ck_assert_int_eq(rd_skip(&r, (size_t)-1), -1);	/* no wrap-around */
}
END_TEST

START_TEST(peek_does_not_consume)
{
	const uint8_t in[] = { 0, 0, 0, 0, 0xab, 0xcd };
	struct rd r;
	uint32_t v;
	uint16_t w;

	rd_init(&r, in, sizeof(in));
	ck_assert_int_eq(rd_peek_u32(&r, 0, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(rd_peek_u16(&r, 4, &w), 0);
	ck_assert_uint_eq(w, 0xabcd);
	ck_assert_int_eq(rd_peek_u16(&r, 5, &w), -1);
	ck_assert_int_eq(rd_peek_u32(&r, (size_t)-2, &v), -1);
	ck_assert_uint_eq(rd_left(&r), 6);
}
END_TEST

START_TEST(writer_reserve_then_fill)
{
	uint8_t out[8];
	struct wr w;
	size_t mark;

	wr_init(&w, out, sizeof(out));
	ck_assert_int_eq(wr_reserve(&w, 2, &mark), 0);
	ck_assert_int_eq(wr_u32(&w, 0x11223344), 0);
	ck_assert_int_eq(wr_fill_u16(&w, mark, (uint16_t)wr_len(&w)), 0);
	ck_assert_uint_eq(out[0], 0);
	ck_assert_uint_eq(out[1], 6);
	ck_assert_uint_eq(out[2], 0x11);
	ck_assert_int_eq(wr_u16(&w, 1), 0);
	ck_assert_uint_eq(wr_room(&w), 0);
	ck_assert_int_eq(wr_u8(&w, 1), -1);	/* full */
	ck_assert(!wr_ok(&w));
	ck_assert_int_eq(wr_fill_u16(&w, 7, 1), -1);	/* also refused once failed */
}
END_TEST

START_TEST(writer_fill_out_of_range)
{
	uint8_t out[4];
	struct wr w;

	wr_init(&w, out, sizeof(out));
	ck_assert_int_eq(wr_u16(&w, 0), 0);
	ck_assert_int_eq(wr_fill_u16(&w, 1, 5), -1);	/* would cross pos */
	ck_assert_int_eq(wr_fill_u32(&w, 0, 5), -1);
	ck_assert_int_eq(wr_bytes(&w, "abc", 3), -1);
	ck_assert_uint_eq(wr_len(&w), 2);
}
END_TEST

static Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, reads_within_bounds);
	tcase_add_test(tc, overrun_fails_and_sticks);
	tcase_add_test(tc, sub_reader_is_bounded);
	tcase_add_test(tc, peek_does_not_consume);
	tcase_add_test(tc, writer_reserve_then_fill);
	tcase_add_test(tc, writer_fill_out_of_range);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(buf_suite)
