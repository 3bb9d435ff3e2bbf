/*
 * The user's EAP login (RFC 7296 §2.16): what each IKE SA's EAP peer gets
 * (identity, methods, password, the EAP-TLS certificate), and where the
 * password comes from: [auth] password or password_file, the terminal
 * (asked once, no echo), or `ikeagent password` on the control socket.
 * The password lives in this one copy until the agent stops; it is wiped
 * then and never logged or written anywhere.
 */
#include "agent/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "agent/askpass.h"
#include "util/err.h"
#include "util/log.h"

static void password_wipe(struct session_login *l)
{
	if (l->password)
		OPENSSL_cleanse(l->password, CONFIG_PASSWORD_MAX + 2);
	free(l->password);
	l->password = NULL;
	l->password_len = 0;
	l->cfg.password = NULL;
	l->cfg.password_len = 0;
}

static int password_take(struct session_login *l, const void *p, size_t len, char *err,
			 size_t errlen)
{
	if (len == 0 || len > CONFIG_PASSWORD_MAX)
		return err_set(err, errlen, "the password must be 1..%d bytes", CONFIG_PASSWORD_MAX);
	password_wipe(l);
	if (!(l->password = malloc(CONFIG_PASSWORD_MAX + 2)))
		return err_set(err, errlen, "out of memory");
	memcpy(l->password, p, len);
	l->password_len = len;
	l->cfg.password = l->password;
	l->cfg.password_len = len;
	return 0;
}

/* Asked once on the terminal, echo off. */
static int ask_terminal(struct session_login *l, const char *user, const char *gw, char *err,
			size_t errlen)
{
	char buf[CONFIG_PASSWORD_MAX + 2], prompt[200];
	size_t n;
	int rc = -1;

	snprintf(prompt, sizeof(prompt), "Password for %s at %s: ", user, gw);
	if (askpass_tty(prompt, buf, sizeof(buf), &n, err, errlen) < 0) {
		if (errno == ENXIO)
			(void)err_set(err, errlen, "no password for user '%s' and no terminal to ask "
				      "on: set [auth] password_file (or password), or run with "
				      "--password-from control and give it with `ikeagent password`",
				      user);
	} else {
		rc = password_take(l, buf, n, err, errlen);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int login_prepare(struct session *s, enum login_password_from from, char *err, size_t errlen)
{
	const struct config *cfg = s->cfg;
	struct session_login *l = &s->login;

	if (cfg->auth.method != CONFIG_AUTH_EAP)
		return 0;
	l->user = cfg->auth.user ? cfg->auth.user : cfg->auth.id;
	l->cfg.identity = l->user;
	l->cfg.user = l->user;
	l->cfg.methods = cfg->auth.eap;	/* CONFIG_EAP_* are EAP_ALLOW_* */
	if (cfg->auth.eap & CONFIG_EAP_TLS) {
		if (ike_cred_x509(s->cred, &l->cert, &l->chain) < 0)
			return err_set(err, errlen, "[auth] cert: cannot use it for EAP-TLS");
		l->cfg.cert = l->cert;
		l->cfg.chain = l->chain;
		l->cfg.key = ike_cred_key(s->cred);
	}
	if (!(cfg->auth.eap & CONFIG_EAP_MSCHAPV2))
		return 0;
	if (cfg->auth.password)
		return password_take(l, cfg->auth.password, cfg->auth.password_len, err, errlen);
	if (from == LOGIN_FROM_CONTROL) {
		l->waiting = true;
		log_info("auth: waiting for the password of '%s' on the control socket "
			 "(ikeagent password)", l->user);
		return 0;
	}
	return ask_terminal(l, l->user, cfg->gateway.address, err, errlen);
}

bool login_waiting(const struct session *s)
{
	return s->login.waiting;
}

int login_ctl_password(struct session *s, const char *arg, char *reply, size_t cap)
{
	struct session_login *l = &s->login;
	char err[160];

	if (!l->waiting) {
		snprintf(reply, cap, "no password is awaited (it was given already, or comes "
			 "from the configuration)\n");
		return 2;
	}
	if (password_take(l, arg, strlen(arg), err, sizeof(err)) < 0) {
		snprintf(reply, cap, "%s\n", err);
		return 2;
	}
	l->waiting = false;
	log_info("auth: password for '%s' received on the control socket", l->user);
	snprintf(reply, cap, "password taken, connecting\n");
	return 0;
}

void login_free(struct session *s)
{
	struct session_login *l = &s->login;

	password_wipe(l);
	X509_free(l->cert);
	sk_X509_pop_free(l->chain, X509_free);
	memset(l, 0, sizeof(*l));
}
