/*
 * The NetworkManager plugin's reading of a connection (nm/props.c), whose
 * vpn.data and vpn.secrets come over D-Bus from anyone who may edit
 * connections. Input: "key=value" lines, data first, then an empty line,
 * then secrets. Never a crash or an overread; a refusal names a key. What
 * it accepts is an agent.conf that ikeagent's own reader parses line by
 * line (the text is well formed); ikeagent may still refuse a value props.c
 * checks only for shape (e.g. remote-ts=05.99.1.0/24): then its one line
 * names the agent.conf key, and the plugin passes that line on.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "nm/props.c"	/* not in libikeagent.a: the service's own file */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_KV 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nmprops_kv kv[2][MAX_KV];
	size_t n[2] = { 0, 0 };
	int part = 0;
	char *text = malloc(size + 1), *line, err[256];
	struct nmprops_out out;
	struct config cfg;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strlen(text) != size) {	/* D-Bus strings hold no NUL */
		free(text);
		return 0;
	}
	/* strsep keeps empty lines: the one between data and secrets */
	for (char *p = text; (line = strsep(&p, "\n")) != NULL;) {
		char *eq;

		if (!*line) {
			part = 1;
			continue;
		}
		if (!(eq = strchr(line, '=')) || n[part] >= MAX_KV)
			continue;
		*eq = '\0';
		kv[part][n[part]++] = (struct nmprops_kv){ line, eq + 1 };
	}
	struct nmprops_in in = { .data = kv[0], .ndata = n[0], .secrets = kv[1], .nsecrets = n[1],
				 .tun_name = "ikanm0", .state_dir = "/run/nm-ikeagent-fuzz" };

	(void)nmprops_missing_secrets(&in);
	if (nmprops_build(&in, &out, err, sizeof(err)) < 0) {
		if (!strstr(err, "vpn."))
			abort();	/* every refusal names vpn.data or vpn.secrets */
		free(text);
		return 0;
	}
	if (config_parse_buf("nm.conf", out.conf, strlen(out.conf), &cfg, err, sizeof(err)) < 0) {
		/* a value refused is fine; text ikeagent cannot read as lines is not */
		const char *why = strncmp(err, "nm.conf:", 8) == 0 ? strstr(err + 8, ": ") : NULL;

		if (!why || !strncmp(why, ": unknown key", 13) || !strncmp(why, ": unknown section", 17) ||
		    !strncmp(why, ": expected 'key", 15) || !strncmp(why, ": unexpected text", 17)) {
			fprintf(stderr, "props wrote what ikeagent cannot read: %s\n%s", err,
				out.conf);
			abort();
		}
	} else if (config_set_secrets(&cfg, out.secrets ? out.secrets : "", out.secrets_len, err,
				      sizeof(err)) == 0 &&
		   config_validate(&cfg, err, sizeof(err)) == 0) {
		config_free(&cfg);
	}
	nmprops_out_free(&out);
	free(text);
	return 0;
}
