/*
 * A NetworkManager connection's vpn.data and vpn.secrets (key/value pairs)
 * -> the agent.conf text ikeagent reads (no secret in it) and the lines for
 * its --secrets-fd. Plain C, no GLib, so the unit test needs nothing from
 * NetworkManager. The keys are listed in nm-ikeagent(5).
 */
#ifndef IKEAGENT_NM_PROPS_H
#define IKEAGENT_NM_PROPS_H

#include <stdbool.h>
#include <stddef.h>

#define NMPROPS_MUST_CHECK __attribute__((warn_unused_result))

struct nmprops_kv {
	const char *key;
	const char *value;
};

struct nmprops_in {
	const struct nmprops_kv *data;
	size_t ndata;
	const struct nmprops_kv *secrets;
	size_t nsecrets;
	const char *tun_name;  /* [agent] tun_name, unique per connection */
	const char *state_dir; /* [agent] state_dir, the service's private directory */
	bool debug;            /* [agent] log_level = debug */
};

struct nmprops_out {
	char *conf;    /* agent.conf text */
	char *secrets; /* "NAME VALUE\n" lines for --secrets-fd; wiped by nmprops_out_free */
	size_t secrets_len;
};

/* The secrets ikeagent takes on its fd, as named in vpn.secrets. */
enum nmprops_secret {
	NMPROPS_PSK = 1u << 0,
	NMPROPS_PASSWORD = 1u << 1,
	NMPROPS_PROXY_PASSWORD = 1u << 2,
};

/*
 * Checks every key and value; on success fills out (free it with
 * nmprops_out_free). On failure returns -1 and err names the key and why,
 * e.g. "vpn.data: unknown key 'gatway'".
 */
int nmprops_build(const struct nmprops_in *in, struct nmprops_out *out, char *err,
		  size_t errlen) NMPROPS_MUST_CHECK;
void nmprops_out_free(struct nmprops_out *out);

/*
 * The secrets this connection needs (NMPROPS_* bits) and still lacks: psk
 * for method psk, password for EAP-MSCHAPv2, proxy-password with a
 * proxy-user. A secret whose *-flags include NOT_REQUIRED (4) is never
 * asked for. Bad data (unknown method...) counts as needing nothing: the
 * connect step reports it.
 */
unsigned nmprops_missing_secrets(const struct nmprops_in *in);

/* The vpn.secrets name of one NMPROPS_* bit ("psk", "password", "proxy-password"). */
const char *nmprops_secret_name(unsigned bit);

#endif
