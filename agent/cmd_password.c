/*
 * ikeagent password [--socket PATH]: give an agent started with
 * --password-from control its EAP password. Read from the terminal (echo
 * off) when there is one, else one line of standard input (for a caller
 * such as a NetworkManager plugin); sent on the control socket only.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent/askpass.h"
#include "agent/cmd.h"
#include "agent/config.h"
#include "agent/ctl.h"

int cmd_password(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CTL_DEFAULT_PATH;
	char pw[CONFIG_PASSWORD_MAX + 2], req[sizeof(pw) + 16], reply[CTL_REPLY_MAX + 1], err[200];
	char ob[8];
	size_t n;
	int c, code, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'h': printf("Usage: %s password [--socket PATH]\n", PROG_NAME); return 0;
		case ':': return cmd_usage_error("password", "option '%s' needs a value",
						argv[optind - 1]);
		default: return cmd_usage_error("password", "unknown option '%s'",
					       cmd_bad_option(argv, optind, optopt, ob, sizeof(ob)));
		}
	}
	if (optind < argc)
		return cmd_usage_error("password", "unexpected argument '%s'", argv[optind]);
	rc = isatty(STDIN_FILENO) ? askpass_tty("EAP password: ", pw, sizeof(pw), &n, err, sizeof(err))
				  : askpass_stdin(pw, sizeof(pw), &n, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: password: %s\n", PROG_NAME, err);
		return CMD_EXIT_USAGE;
	}
	if (memchr(pw, 0, n)) {
		OPENSSL_cleanse(pw, sizeof(pw));
		fprintf(stderr, "%s: password: it contains a NUL byte\n", PROG_NAME);
		return CMD_EXIT_USAGE;
	}
	snprintf(req, sizeof(req), "password %.*s", (int)n, pw);
	OPENSSL_cleanse(pw, sizeof(pw));
	code = ctl_request(path, req, reply, sizeof(reply));
	OPENSSL_cleanse(req, sizeof(req));
	if (code != 0)
		return cmd_ctl_failed(path, code, reply);
	fputs(reply, stdout);
	return 0;
}
