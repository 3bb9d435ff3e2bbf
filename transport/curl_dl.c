/*
 * libcurl by dlopen: one table of function pointers, filled once.
 * See curl_dl.h for why ikeagent does not link it.
 */
#include "transport/curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct curl_fns fns;
static const struct curl_fns *loaded;	/* &fns once complete */
static const char *soname = CURL_DL_SONAME;

/* Symbol name and where its address goes, in struct curl_fns order. */
#define SYM(name, field) { #name, (void **)&fns.field }
static const struct {
	const char *name;
	void **slot;
} syms[] = {
	SYM(curl_easy_init, easy_init),
	SYM(curl_easy_setopt, easy_setopt),
	SYM(curl_easy_getinfo, easy_getinfo),
	SYM(curl_easy_strerror, easy_strerror),
	SYM(curl_easy_cleanup, easy_cleanup),
	SYM(curl_multi_init, multi_init),
	SYM(curl_multi_setopt, multi_setopt),
	SYM(curl_multi_add_handle, multi_add_handle),
	SYM(curl_multi_remove_handle, multi_remove_handle),
	SYM(curl_multi_socket_action, multi_socket_action),
	SYM(curl_multi_info_read, multi_info_read),
	SYM(curl_multi_strerror, multi_strerror),
	SYM(curl_multi_cleanup, multi_cleanup),
};
#undef SYM

void curl_dl_set_soname(const char *name)
{
	pthread_mutex_lock(&lock);
	soname = name ? name : CURL_DL_SONAME;
	pthread_mutex_unlock(&lock);
}

/* dlerror() without the file name it starts with (the message names it). */
static const char *dl_reason(void)
{
	const char *e = dlerror();
	size_t n = strlen(soname);

	if (!e)
		return "unknown error";
	if (strncmp(e, soname, n) == 0 && strncmp(e + n, ": ", 2) == 0)
		return e + n + 2;
	return e;
}

/* dlopen, every symbol, curl_global_init. 0, or -1 with err set. */
static int load(char *err, size_t errlen)
{
	CURLcode (*global_init)(long flags);
	void *h;

	dlerror();
	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, errlen, "proxy: cannot load %s: %s", soname, dl_reason());
		return -1;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].slot = dlsym(h, syms[i].name);
		if (!*syms[i].slot) {
			snprintf(err, errlen, "proxy: %s has no %s", soname, syms[i].name);
			goto fail;
		}
	}
	*(void **)&global_init = dlsym(h, "curl_global_init");
	if (!global_init) {
		snprintf(err, errlen, "proxy: %s has no curl_global_init", soname);
		goto fail;
	}
	if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "proxy: libcurl init failed");
		goto fail;
	}
	log_info("proxy: loaded %s", soname);
	return 0;
fail:
	dlclose(h);
	return -1;
}

const struct curl_fns *curl_dl(char *err, size_t errlen)
{
	const struct curl_fns *t;

	pthread_mutex_lock(&lock);
	if (!loaded && load(err, errlen) == 0)
		loaded = &fns;
	t = loaded;
	pthread_mutex_unlock(&lock);
	return t;
}
