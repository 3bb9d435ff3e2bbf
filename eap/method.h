/*
 * What an EAP method gives the peer (eap/eap.c): eap/ internal. A method
 * sees only its Type-Data (after the Type octet) and writes only the
 * Type-Data of its response; eap.c owns Code, Identifier and Length.
 */
#ifndef IKEAGENT_EAP_METHOD_H
#define IKEAGENT_EAP_METHOD_H

#include "eap/eap.h"

enum eap_mstatus {
	EAP_M_REPLY,	/* the Type-Data of our response is in out */
	EAP_M_DROP,	/* silently discard the request (malformed, unexpected) */
	EAP_M_FAIL,	/* the login cannot go on: err says why */
};

struct eap_merr {
	enum eap_fail_kind kind;
	char text[200];
};

/* Fill err; returns EAP_M_FAIL (for `return eap_merr_set(...)`). */
enum eap_mstatus eap_merr_set(struct eap_merr *e, enum eap_fail_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct eap_method {
	uint8_t type;		/* EAP_TYPE_* */
	unsigned allow;		/* EAP_ALLOW_* */
	const char *name;	/* "MSCHAPv2" */
	/* NULL with e set when the method cannot run with this cfg (no password, no key). */
	void *(*start)(const struct eap_cfg *cfg, struct eap_merr *e);
	/* One request of this type, its Identifier and Type-Data. */
	enum eap_mstatus (*process)(void *st, uint8_t id, const uint8_t *data, size_t len,
				    struct wr *out, struct eap_merr *e);
	/*
	 * May EAP-Success end the method now? True once it finished and
	 * authenticated the server (MSCHAPv2: the authenticator response
	 * verified; TLS: the handshake done and the server's certificate checked).
	 */
	bool (*done)(const void *st);
	/* After done(): the MSK (RFC 5216 §2.3, draft-kamath §...); -1: none */
	int (*msk)(const void *st, uint8_t out[EAP_MSK_MAX], size_t *len);
	/*
	 * On EAP-Failure: the method's reading of why (MSCHAPv2's Failure
	 * request, E=691: the password was rejected), with its kind; NULL if
	 * it has none (eap.c then says "EAP failure").
	 */
	const char *(*why_failed)(const void *st, enum eap_fail_kind *kind);
	void (*free)(void *st);
};

extern const struct eap_method eap_method_mschapv2;	/* eap/mschapv2.c */
extern const struct eap_method eap_method_tls;		/* eap/tls.c */

#endif
