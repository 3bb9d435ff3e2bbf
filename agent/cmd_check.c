/*
 * ikeagent check -c FILE: parse and validate, as `run` would, and print one
 * line: "FILE: ok (gateway X, auth psk, ike ..., esp ...)" or the error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ike/cert.h"
#include "agent/cmd.h"
#include "agent/config.h"
#include "agent/session.h"
#include "eap/eap.h"
#include "transport/stream.h"
#include "util/err.h"

static const char *const method_names[] = { "psk", "pubkey", "eap" };

/* The list as text; a list too long for buf ends in "...". */
static void props_text(const struct proposal_list *l, char *buf, size_t len)
{
	if (proposal_list_format(l, buf, len) < 0)
		memcpy(buf + len - 4, "...", 4);
}

static int check_parse(int argc, char **argv, const char **file)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char ob[8];
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': *file = optarg; break;
		case 'h': printf("Usage: %s check -c FILE\n", PROG_NAME); return 1;
		case ':': return cmd_usage_error("check", "option '%s' needs a value", argv[optind - 1]);
		default: return cmd_usage_error("check", "unknown option '%s'",
					       cmd_bad_option(argv, optind, optopt, ob, sizeof(ob)));
		}
	}
	if (optind < argc)
		return cmd_usage_error("check", "unexpected argument '%s'", argv[optind]);
	if (!*file)
		return cmd_usage_error("check", "missing -c FILE");
	return 0;
}

/* The certificate files (IKE and TLS) must load as run would load them. */
static int check_credentials(const struct config *cfg, char *err, size_t errlen)
{
	char why[256];
	struct ike_trust *t = NULL;
	struct ike_cred *c = NULL;

	if (cfg->auth.ca && !(t = ike_trust_load(cfg->auth.ca, why, sizeof(why)))) {
		snprintf(err, errlen, "[auth] ca: %s", why);
		return -1;
	}
	ike_trust_free(t);
	if (cfg->auth.cert &&
	    !(c = ike_cred_load(cfg->auth.cert, cfg->auth.key, why, sizeof(why)))) {
		snprintf(err, errlen, "[auth] cert/key: %s", why);
		return -1;
	}
	ike_cred_free(c);
	if (config_uses_transport(cfg, CONFIG_TRANSPORT_TLS)) {
		struct stream_tls_cache *tc = stream_tls_cache_new();
		int ret;

		if (!tc)
			return err_set(err, errlen, "out of memory");
		ret = stream_tls_cache_prepare(tc, cfg->transport.tls_verify, cfg->transport.tls_ca,
					       why, sizeof(why));
		stream_tls_cache_free(tc);
		if (ret < 0)
			return err_set(err, errlen, "[transport] %s", why);
	}
	return 0;
}

int cmd_check(int argc, char **argv)
{
	const char *file = NULL;
	struct config cfg;
	struct ike_sa_cfg ike;
	char err[512], ikes[256], esps[256];
	int rc = check_parse(argc, argv, &file);

	if (rc)
		return rc == 1 ? CMD_EXIT_OK : rc;
	if (config_load(file, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", PROG_NAME, err);
		return CMD_EXIT_USAGE;
	}
	if (cfgmap_ike(&cfg, NULL, NULL, &ike, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", PROG_NAME, file, err);
		config_free(&cfg);
		return CMD_EXIT_USAGE;
	}
	if (check_credentials(&cfg, err, sizeof(err)) < 0 || drop_check(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", PROG_NAME, file, err);
		config_free(&cfg);
		return CMD_EXIT_USAGE;
	}
	props_text(&cfg.tunnel.ike, ikes, sizeof(ikes));
	props_text(&cfg.tunnel.esp, esps, sizeof(esps));
	if (cfg.auth.method == CONFIG_AUTH_EAP) {
		char m[64];

		printf("%s: ok (gateway %s, auth eap: %s, ike %s, esp %s)\n", file,
		       cfg.gateway.address, eap_methods_str(cfg.auth.eap, m, sizeof(m)), ikes, esps);
	} else {
		printf("%s: ok (gateway %s, auth %s, ike %s, esp %s)\n", file, cfg.gateway.address,
		       method_names[cfg.auth.method], ikes, esps);
	}
	config_free(&cfg);
	return CMD_EXIT_OK;
}
