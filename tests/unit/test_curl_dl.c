/*
 * libcurl by dlopen (transport/curl_dl.c): nothing maps libcurl until the
 * first proxied stream asks for it; a library that cannot be loaded, or
 * that lacks a function, gives one clear line; a failed load is tried
 * again; and a proxied stream whose libcurl cannot be loaded fails at
 * once with that line (the agent then falls back like after any failed
 * proxy connect). Each test runs in its own forked child (CK_FORK), so
 * every one starts with nothing loaded.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/check_main.h"
#include "transport/curl_dl.h"
#include "transport/stream.h"

#define MISSING "libcurl-ikeagent-test-missing.so.4"

/* Whether a file whose name holds "libcurl" is mapped into this process. */
static bool curl_mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	bool found = false;

	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libcurl") != NULL;
	fclose(f);
	return found;
}

START_TEST(not_linked)
{
	/* The test binary links what ikeagent links: libcurl is not among it. */
	ck_assert_msg(!curl_mapped(), "libcurl is mapped before any proxy was used");
}
END_TEST

START_TEST(loads_on_first_use)
{
	char err[256] = "";
	const struct curl_fns *c = curl_dl(err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(curl_mapped());
	ck_assert_ptr_eq(curl_dl(err, sizeof(err)), c);		/* once */
	ck_assert_str_eq(c->easy_strerror(CURLE_OK), "No error");
	ck_assert_str_eq(c->multi_strerror(CURLM_OK), "No error");
}
END_TEST

START_TEST(missing_library)
{
	char err[256] = "", want[128];

	curl_dl_set_soname(MISSING);
	ck_assert_ptr_null(curl_dl(err, sizeof(err)));
	snprintf(want, sizeof(want), "proxy: cannot load %s: ", MISSING);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got \"%s\"", err);
	/* dlerror's reason, without the name twice */
	ck_assert_str_eq(err + strlen(want), "cannot open shared object file: No such file or directory");
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert(!curl_mapped());
}
END_TEST

START_TEST(missing_symbol)
{
	char err[256] = "";

	curl_dl_set_soname("libc.so.6");
	ck_assert_ptr_null(curl_dl(err, sizeof(err)));
	ck_assert_str_eq(err, "proxy: libc.so.6 has no curl_easy_init");
}
END_TEST

START_TEST(retried_after_failure)
{
	char err[256] = "";

	curl_dl_set_soname(MISSING);
	ck_assert_ptr_null(curl_dl(err, sizeof(err)));
	curl_dl_set_soname(NULL);
	ck_assert_msg(curl_dl(err, sizeof(err)) != NULL, "%s", err);
}
END_TEST

/* What the agent sees: stream_connect fails at once, the line as its error. */
START_TEST(proxied_stream_fails_clearly)
{
	struct stream_cfg c = { .kind = STREAM_TCP, .peerlen = sizeof(struct sockaddr_in) };
	struct sockaddr_in *a = (struct sockaddr_in *)&c.peer;
	char want[128];
	struct stream *s;

	a->sin_family = AF_INET;
	a->sin_port = htons(4500);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c.peer_host = "127.0.0.1";
	c.proxy_host = "127.0.0.1";
	c.proxy_port = 3128;
	curl_dl_set_soname(MISSING);
	s = stream_new(&c);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(stream_connect(s), -1);
	ck_assert_int_eq(stream_status(s), STREAM_CLOSED);
	snprintf(want, sizeof(want), "proxy: cannot load %s: ", MISSING);
	ck_assert_msg(strncmp(stream_error(s), want, strlen(want)) == 0, "got \"%s\"",
		      stream_error(s));
	stream_free(s);
}
END_TEST

static Suite *curl_dl_suite(void)
{
	Suite *s = suite_create("curl_dl");
	TCase *t = tcase_create("curl_dl");

	tcase_add_test(t, not_linked);
	tcase_add_test(t, loads_on_first_use);
	tcase_add_test(t, missing_library);
	tcase_add_test(t, missing_symbol);
	tcase_add_test(t, retried_after_failure);
	tcase_add_test(t, proxied_stream_fails_clearly);
	suite_add_tcase(s, t);
	return s;
}

CHECK_MAIN(curl_dl_suite)
