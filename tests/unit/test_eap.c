/*
 * The EAP peer's framework (eap/eap.c): Identity, Notification, Nak,
 * Success and Failure, and the EAP header's lengths (RFC 3748). The
 * methods have their own tests (test_mschap.c, test_eap_tls.c).
 */
#include <stdio.h>
#include <string.h>

#include "eap/eap.h"
#include "tests/unit/check_main.h"

static const uint8_t password[] = "pass";

static struct eap_peer *peer(unsigned methods)
{
	struct eap_cfg c = { .identity = "alice", .methods = methods, .password = password,
			     .password_len = 4 };
	struct eap_peer *p = eap_peer_new(&c);

	ck_assert_ptr_nonnull(p);
	return p;
}

static enum eap_status in(struct eap_peer *p, const uint8_t *m, size_t len, uint8_t *out,
			  size_t *olen)
{
	return eap_peer_input(p, m, len, out, EAP_MSG_MAX, olen);
}

START_TEST(identity_is_answered)
{
	static const uint8_t req[] = { 1, 7, 0, 5, EAP_TYPE_IDENTITY };
	static const uint8_t want[] = { 2, 7, 0, 10, EAP_TYPE_IDENTITY, 'a', 'l', 'i', 'c', 'e' };
	uint8_t out[EAP_MSG_MAX];
	size_t n;
	struct eap_peer *p = peer(EAP_ALLOW_MSCHAPV2);

	ck_assert_int_eq(in(p, req, sizeof(req), out, &n), EAP_CONT);
	ck_assert_uint_eq(n, sizeof(want));
	ck_assert(memcmp(out, want, n) == 0);
	ck_assert_ptr_null(eap_peer_method(p));
	eap_peer_free(p);
}
END_TEST

/* RFC 3748 §5.3.1: a method we do not allow gets a Nak with the ones we do. */
START_TEST(unknown_method_gets_nak_then_failure_names_both)
{
	static const uint8_t md5[] = { 1, 2, 0, 6, 4, 0x10 };
	static const uint8_t failure[] = { 4, 3, 0, 4 };
	uint8_t out[EAP_MSG_MAX];
	size_t n;
	struct eap_peer *p = peer(EAP_ALLOW_MSCHAPV2 | EAP_ALLOW_TLS);

	ck_assert_int_eq(in(p, md5, sizeof(md5), out, &n), EAP_CONT);
	ck_assert_uint_eq(n, 7);
	ck_assert_uint_eq(out[0], EAP_CODE_RESPONSE);
	ck_assert_uint_eq(out[1], 2);
	ck_assert_uint_eq(out[4], EAP_TYPE_NAK);
	ck_assert_uint_eq(out[5], EAP_TYPE_MSCHAPV2);
	ck_assert_uint_eq(out[6], EAP_TYPE_TLS);
	ck_assert_int_eq(in(p, failure, sizeof(failure), out, &n), EAP_FAIL);
	ck_assert_int_eq(eap_peer_fail_kind(p), EAP_FAIL_NO_METHOD);
	ck_assert_str_eq(eap_peer_error(p), "no EAP method in common: the gateway offers "
			 "EAP-MD5-Challenge, ikeagent allows MSCHAPv2, TLS ([auth] eap)");
	/* over: nothing more is taken */
	ck_assert_int_eq(in(p, md5, sizeof(md5), out, &n), EAP_DROP);
	eap_peer_free(p);
}
END_TEST

START_TEST(nak_with_nothing_allowed_is_zero)
{
	static const uint8_t tls[] = { 1, 2, 0, 6, EAP_TYPE_TLS, 0x20 };
	uint8_t out[EAP_MSG_MAX];
	size_t n;
	struct eap_peer *p = peer(0);

	ck_assert_int_eq(in(p, tls, sizeof(tls), out, &n), EAP_CONT);
	ck_assert_uint_eq(n, 6);
	ck_assert_uint_eq(out[4], EAP_TYPE_NAK);
	ck_assert_uint_eq(out[5], 0);
	eap_peer_free(p);
}
END_TEST

/* Success before any method finished would skip the server's proof. */
START_TEST(early_success_fails)
{
	static const uint8_t id[] = { 1, 1, 0, 5, EAP_TYPE_IDENTITY };
	static const uint8_t success[] = { 3, 2, 0, 4 };
	uint8_t out[EAP_MSG_MAX];
	const uint8_t *msk;
	size_t n;
	struct eap_peer *p = peer(EAP_ALLOW_MSCHAPV2);

	ck_assert_int_eq(in(p, id, sizeof(id), out, &n), EAP_CONT);
	ck_assert_int_eq(in(p, success, sizeof(success), out, &n), EAP_FAIL);
	ck_assert_int_eq(eap_peer_fail_kind(p), EAP_FAIL_PROTOCOL);
	ck_assert_int_eq(eap_peer_msk(p, &msk, &n), -1);
	eap_peer_free(p);
}
END_TEST

START_TEST(failure_without_method_is_a_rejection)
{
	static const uint8_t failure[] = { 4, 9, 0, 4 };
	uint8_t out[EAP_MSG_MAX];
	size_t n;
	struct eap_peer *p = peer(EAP_ALLOW_MSCHAPV2);

	ck_assert_int_eq(in(p, failure, sizeof(failure), out, &n), EAP_FAIL);
	ck_assert_int_eq(eap_peer_fail_kind(p), EAP_FAIL_REJECTED);
	eap_peer_free(p);
}
END_TEST

/* RFC 3748 §5.2: Notification is answered with an empty Notification. */
START_TEST(notification_is_acknowledged)
{
	static const uint8_t note[] = { 1, 4, 0, 10, EAP_TYPE_NOTIFICATION, 'h', 'e', 'l', 'l', 0x07 };
	static const uint8_t want[] = { 2, 4, 0, 5, EAP_TYPE_NOTIFICATION };
	uint8_t out[EAP_MSG_MAX];
	size_t n;
	struct eap_peer *p = peer(EAP_ALLOW_MSCHAPV2);

	ck_assert_int_eq(in(p, note, sizeof(note), out, &n), EAP_CONT);
	ck_assert_uint_eq(n, sizeof(want));
	ck_assert(memcmp(out, want, n) == 0);
	eap_peer_free(p);
}
END_TEST

/* RFC 3748 §4.1: lengths. Too long or too short: dropped; octets past Length: padding. */
START_TEST(lengths)
{
	static const uint8_t longer[] = { 1, 1, 0, 6, EAP_TYPE_IDENTITY };
	static const uint8_t shorter[] = { 1, 1, 0, 3, EAP_TYPE_IDENTITY };
	static const uint8_t no_type[] = { 1, 1, 0, 4 };
	static const uint8_t padded[] = { 1, 1, 0, 5, EAP_TYPE_IDENTITY, 0xee, 0xee };
	static const uint8_t response[] = { 2, 1, 0, 5, EAP_TYPE_IDENTITY };
	static const uint8_t nak_req[] = { 1, 1, 0, 5, EAP_TYPE_NAK };
	static const uint8_t code9[] = { 9, 1, 0, 4 };
	uint8_t out[EAP_MSG_MAX];
	size_t n;
	struct eap_peer *p = peer(EAP_ALLOW_MSCHAPV2);

	ck_assert_int_eq(in(p, longer, sizeof(longer), out, &n), EAP_DROP);
	ck_assert_int_eq(in(p, shorter, sizeof(shorter), out, &n), EAP_DROP);
	ck_assert_int_eq(in(p, no_type, sizeof(no_type), out, &n), EAP_DROP);
	ck_assert_int_eq(in(p, longer, 3, out, &n), EAP_DROP);
	ck_assert_int_eq(in(p, response, sizeof(response), out, &n), EAP_DROP);
	ck_assert_int_eq(in(p, nak_req, sizeof(nak_req), out, &n), EAP_DROP);
	ck_assert_int_eq(in(p, code9, sizeof(code9), out, &n), EAP_DROP);
	ck_assert_int_eq(in(p, padded, sizeof(padded), out, &n), EAP_CONT);
	ck_assert_uint_eq(n, 10);
	eap_peer_free(p);
}
END_TEST

/* Once a method ran, the server may not switch to another one (RFC 3748 §2.1). */
START_TEST(no_method_switch)
{
	/* an MSCHAPv2 Challenge (OpCode 1, Value-Size 16, name "gw") */
	uint8_t chal[5 + 4 + 1 + 16 + 2] = { 1, 5, 0, sizeof(chal), EAP_TYPE_MSCHAPV2,
					     1, 5, 0, sizeof(chal) - 5, 16 };
	static const uint8_t tls_start[] = { 1, 6, 0, 6, EAP_TYPE_TLS, 0x20 };
	uint8_t out[EAP_MSG_MAX];
	size_t n;
	struct eap_peer *p = peer(EAP_ALLOW_MSCHAPV2 | EAP_ALLOW_TLS);

	memcpy(chal + sizeof(chal) - 2, "gw", 2);
	ck_assert_int_eq(in(p, chal, sizeof(chal), out, &n), EAP_CONT);
	ck_assert_str_eq(eap_peer_method(p), "MSCHAPv2");
	ck_assert_int_eq(in(p, tls_start, sizeof(tls_start), out, &n), EAP_DROP);
	ck_assert_str_eq(eap_peer_method(p), "MSCHAPv2");
	eap_peer_free(p);
}
END_TEST

START_TEST(methods_str)
{
	char b[64];

	ck_assert_str_eq(eap_methods_str(EAP_ALLOW_MSCHAPV2 | EAP_ALLOW_TLS, b, sizeof(b)),
			 "MSCHAPv2, TLS");
	ck_assert_str_eq(eap_methods_str(EAP_ALLOW_TLS, b, sizeof(b)), "TLS");
	ck_assert_str_eq(eap_methods_str(0, b, sizeof(b)), "none");
}
END_TEST

static Suite *eap_suite(void)
{
	Suite *s = suite_create("eap");
	TCase *tc = tcase_create("peer");

	tcase_add_test(tc, identity_is_answered);
	tcase_add_test(tc, unknown_method_gets_nak_then_failure_names_both);
	tcase_add_test(tc, nak_with_nothing_allowed_is_zero);
	tcase_add_test(tc, early_success_fails);
	tcase_add_test(tc, failure_without_method_is_a_rejection);
	tcase_add_test(tc, notification_is_acknowledged);
	tcase_add_test(tc, lengths);
	tcase_add_test(tc, no_method_switch);
	tcase_add_test(tc, methods_str);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(eap_suite)
