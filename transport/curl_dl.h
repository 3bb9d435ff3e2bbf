/*
 * libcurl, loaded at run time (private to proxy.c and its tests).
 *
 * ikeagent does not link libcurl: its dependency tree (libssh2, krb5,
 * ldap, rtmp, nghttp2, idn2, ...) costs ~0.5-0.7 MB of relocated,
 * written library data pages in every process that maps it, whether a
 * proxy is configured or not. The first proxied stream loads
 * libcurl.so.4 with dlopen, resolves the functions proxy.c calls and
 * runs curl_global_init; the library then stays loaded for the life of
 * the process. Types and constants still come from <curl/curl.h>.
 *
 * Called from the loop thread only (the encryption worker never reaches
 * proxy code); a mutex makes a stray second caller safe anyway.
 */
#ifndef IKEAGENT_TRANSPORT_CURL_DL_H
#define IKEAGENT_TRANSPORT_CURL_DL_H

#include <curl/curl.h>
#include <stddef.h>

#define CURL_DL_SONAME "libcurl.so.4"

struct curl_fns {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *e, CURLoption opt, ...);
	CURLcode (*easy_getinfo)(CURL *e, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode rc);
	void (*easy_cleanup)(CURL *e);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *m, CURLMoption opt, ...);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *e);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *e);
	CURLMcode (*multi_socket_action)(CURLM *m, curl_socket_t fd, int mask, int *running);
	CURLMsg *(*multi_info_read)(CURLM *m, int *left);
	const char *(*multi_strerror)(CURLMcode rc);
	CURLMcode (*multi_cleanup)(CURLM *m);
};

/*
 * The function table, loading and initialising libcurl on the first call.
 * NULL with one line in err ("proxy: cannot load libcurl.so.4: <dlerror>",
 * a missing symbol, curl_global_init failing); a failed load is tried
 * again on the next call (the package may have been installed since).
 */
const struct curl_fns *curl_dl(char *err, size_t errlen);

/* Tests only: load this file name instead of CURL_DL_SONAME (before the
 * first successful load; NULL restores the default). */
void curl_dl_set_soname(const char *soname);

#endif
