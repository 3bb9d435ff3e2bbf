/*
 * nm-ikeagent-auth-dialog: what NetworkManager's secret agents (nmcli
 * --ask and passwd-file, GNOME Shell) run to learn which secrets an
 * ikeagent connection needs. It reads the connection's data and secrets on
 * stdin (libnm's DATA_KEY/DATA_VAL/SECRET_KEY/SECRET_VAL ... DONE format)
 * and, in --external-ui-mode, prints the "[VPN Plugin UI]" key file that
 * names them (the agent asks the user and hands them to NetworkManager).
 * Without --external-ui-mode it has no window to ask in: it prints the
 * secrets it was given ("key\nvalue\n" ... "\n\n"), then waits for QUIT, or
 * fails with one line if one is missing.
 *
 *   nm-ikeagent-auth-dialog -u UUID -n NAME -s SERVICE [-i] [-r] [-t HINT]... [--external-ui-mode]
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <NetworkManager.h>

#include "nm/props.h"
#include "nm/service.h"

static const char *const labels[] = { "Pre-shared key", "Password", "Proxy password" };

/* The connection's pairs as props.c takes them. */
static size_t pairs(GHashTable *t, struct nmprops_kv *out, size_t max)
{
	GHashTableIter it;
	gpointer k, v;
	size_t n = 0;

	g_hash_table_iter_init(&it, t);
	while (n < max && g_hash_table_iter_next(&it, &k, &v))
		out[n++] = (struct nmprops_kv){ k, v };
	return n;
}

/* A key file value on one line (GKeyFile escapes: \\ \n \t \r). */
static void kf_value(const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '\\': fputs("\\\\", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		default: putchar(*s);
		}
	}
	putchar('\n');
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "uuid", required_argument, NULL, 'u' },
		{ "name", required_argument, NULL, 'n' },
		{ "service", required_argument, NULL, 's' },
		{ "allow-interaction", no_argument, NULL, 'i' },
		{ "reprompt", no_argument, NULL, 'r' },
		{ "hint", required_argument, NULL, 't' },
		{ "external-ui-mode", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	g_autoptr(GHashTable) data = NULL, secrets = NULL;
	struct nmprops_kv d[64], sec[8];
	const char *name = "VPN", *service = NULL;
	bool external = false, reprompt = false;
	unsigned need, all;
	int c;

	while ((c = getopt_long(argc, argv, "u:n:s:irt:", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 's': service = optarg; break;
		case 'r': reprompt = true; break;
		case 'x': external = true; break;
		case 'u': case 'i': case 't': break;
		default:
			fprintf(stderr, "nm-ikeagent-auth-dialog: unknown option\n");
			return 1;
		}
	}
	if (g_strcmp0(service, NM_IKEAGENT_BUS_NAME) != 0) {
		fprintf(stderr, "nm-ikeagent-auth-dialog: this dialog is for %s, not %s\n",
			NM_IKEAGENT_BUS_NAME, service ? service : "(no --service)");
		return 1;
	}
	if (!nm_vpn_service_plugin_read_vpn_details(STDIN_FILENO, &data, &secrets)) {
		fprintf(stderr, "nm-ikeagent-auth-dialog: cannot read the connection on stdin\n");
		return 1;
	}
	struct nmprops_in in = { .data = d, .ndata = pairs(data, d, 64), .secrets = sec,
				 .nsecrets = pairs(secrets, sec, 8) };
	need = nmprops_missing_secrets(&in);
	in.nsecrets = 0;
	all = nmprops_missing_secrets(&in);	/* what the method takes at all */
	if (reprompt)
		need = all;
	if (external) {
		printf("[VPN Plugin UI]\nVersion=2\nTitle=Authenticate VPN %s\n", name);
		printf("Description=ikeagent needs these to connect to %s.\n\n",
		       (const char *)g_hash_table_lookup(data, "gateway") ?: "the gateway");
		for (unsigned b = 1, i = 0; i < 3; b <<= 1, i++) {
			const char *have = g_hash_table_lookup(secrets, nmprops_secret_name(b));

			if (!(all & b))
				continue;
			printf("[%s]\nValue=", nmprops_secret_name(b));
			kf_value(have ? have : "");
			printf("Label=%s\nIsSecret=true\nShouldAsk=%s\n\n", labels[i],
			       (need & b) ? "true" : "false");
		}
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (need) {
		fprintf(stderr, "nm-ikeagent-auth-dialog: %s needs its %s and this dialog has no "
			"window: use nmcli --ask or a desktop secret agent\n", name,
			nmprops_secret_name(need & -need));
		return 1;
	}
	for (unsigned b = 1; b <= NMPROPS_PROXY_PASSWORD; b <<= 1) {
		const char *have = g_hash_table_lookup(secrets, nmprops_secret_name(b));

		if ((all & b) && have)
			printf("%s\n%s\n", nmprops_secret_name(b), have);
	}
	printf("\n\n");
	fflush(stdout);
	/* The protocol: wait until NetworkManager says QUIT (or closes stdin). */
	{
		char line[64];

		while (fgets(line, sizeof(line), stdin) && strncmp(line, "QUIT", 4) != 0)
			;
	}
	return 0;
}
