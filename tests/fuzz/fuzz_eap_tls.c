/*
 * Fuzz the EAP-TLS peer (eap/tls.c): after the server's Start, requests
 * whose Type-Data comes from the input, through reassembly, fragment ACKs,
 * our own fragments and OpenSSL's parsing of the server's TLS records.
 *
 * Input: byte 0 picks the options (bit 0: stay at TLS 1.2; bit 1: the
 * server's certificate is refused), then requests, each a 2-octet length
 * and that many octets of Type-Data. Whatever the method answers must fit
 * one EAP message; done() and the MSK must agree; nothing may crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "eap/method.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                \
	do {                                                                    \
		if (!(c)) {                                                     \
			fprintf(stderr, "fuzz_eap_tls: %s:%d: %s\n", __FILE__,  \
				__LINE__, #c);                                  \
			abort();                                                \
		}                                                               \
	} while (0)

static struct {
	EVP_PKEY *key;
	X509 *cert;
} g;

static void init(void)
{
	X509_NAME *n;

	g.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	g.cert = X509_new();
	CHECK(g.key && g.cert);
	n = X509_get_subject_name(g.cert);
	CHECK(X509_set_version(g.cert, 2));
	CHECK(ASN1_INTEGER_set(X509_get_serialNumber(g.cert), 1));
	CHECK(ASN1_TIME_set_string(X509_getm_notBefore(g.cert), "20000101000000Z"));
	CHECK(ASN1_TIME_set_string(X509_getm_notAfter(g.cert), "20991231000000Z"));
	CHECK(X509_set_pubkey(g.cert, g.key));
	CHECK(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz peer",
					 -1, -1, 0));
	CHECK(X509_set_issuer_name(g.cert, n));
	CHECK(X509_sign(g.cert, g.key, EVP_sha256()) > 0);
}

static int verify(void *ctx, const uint8_t *ee_der, size_t ee_len,
		  const uint8_t *const *chain_der, const size_t *chain_len, unsigned n_chain,
		  char *err, size_t errlen)
{
	const bool *refuse = ctx;

	CHECK(ee_der && ee_len > 0);
	for (unsigned i = 0; i < n_chain; i++)
		CHECK(chain_der[i] && chain_len[i] > 0);
	if (*refuse) {
		snprintf(err, errlen, "refused by the fuzzer");
		return -1;
	}
	return 0;
}

static void one_request(void *st, uint8_t id, const uint8_t *d, size_t n)
{
	uint8_t resp[EAP_MSG_MAX - 5], msk[EAP_MSK_MAX];
	enum eap_fail_kind kind;
	struct eap_merr e = { 0 };
	enum eap_mstatus s;
	size_t msk_len;
	struct wr w;

	wr_init(&w, resp, sizeof(resp));
	s = eap_method_tls.process(st, id, d, n, &w, &e);
	CHECK(s == EAP_M_REPLY || s == EAP_M_DROP || s == EAP_M_FAIL);
	if (s == EAP_M_REPLY)
		CHECK(wr_ok(&w) && wr_len(&w) >= 1 && wr_len(&w) <= 1 + 4 + 1024);
	if (s == EAP_M_FAIL)
		CHECK(e.kind != EAP_FAIL_NONE && e.text[0]);
	CHECK(eap_method_tls.done(st) == (eap_method_tls.msk(st, msk, &msk_len) == 0));
	(void)eap_method_tls.why_failed(st, &kind);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static const uint8_t start = 0x20;
	bool refuse;
	struct eap_cfg cfg = { .identity = "fuzz", .methods = EAP_ALLOW_TLS };
	struct eap_merr e;
	uint8_t id = 1;
	size_t at = 1;
	void *st;

	if (!ready) {
		init();
		ready = true;
	}
	if (size < 1 || size > 200000)
		return 0;
	refuse = data[0] & 2;
	cfg.cert = g.cert;
	cfg.key = g.key;
	cfg.verify_server = verify;
	cfg.verify_ctx = &refuse;
	cfg.tls_max_version = data[0] & 1 ? TLS1_2_VERSION : 0;
	st = eap_method_tls.start(&cfg, &e);
	CHECK(st);
	one_request(st, id++, &start, 1);
	while (at + 2 <= size) {
		size_t n = (size_t)data[at] << 8 | data[at + 1];

		at += 2;
		if (n > size - at)
			n = size - at;
		one_request(st, id++, data + at, n);
		at += n;
	}
	eap_method_tls.free(st);
	ERR_clear_error();
	return 0;
}
