/*
 * ikeagent run -c FILE [--socket PATH] [--password-from terminal|control]
 *              [--network setup|report] [--secrets-fd N] [-v|--debug]
 *
 * Loads the configuration (an error is its one "FILE:LINE: ..." line, exit
 * 2) and runs the session in the foreground until SIGINT/SIGTERM or
 * `ikeagent down`. Exit 3 when the gateway refuses us before the tunnel
 * was ever up (authentication, proposals); see agent/cmd.h.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent/cmd.h"
#include "agent/config.h"
#include "agent/session.h"
#include "util/log.h"

static void run_usage(void)
{
	printf("Usage: %s run -c FILE [--socket PATH] [--password-from terminal|control]\n"
	       "       [--network setup|report] [--secrets-fd N] [-v|--debug]\n"
	       "  -c, --config FILE   configuration (see agent.conf.example)\n"
	       "      --socket PATH   control socket (default: [agent] socket)\n"
	       "      --password-from terminal|control\n"
	       "                      EAP password not in the configuration: ask on the\n"
	       "                      terminal (default), or wait for `ikeagent password`\n"
	       "      --network report\n"
	       "                      create the tun only; report addresses, routes and DNS\n"
	       "                      on the control socket's events (a NetworkManager plugin)\n"
	       "      --secrets-fd N  read secrets (psk, password, proxy-password) from fd N\n"
	       "  -v, --debug         log at debug level\n", PROG_NAME);
}

#define RUN_SECRETS_MAX	4096

struct run_opts {
	const char *config;
	const char *socket;
	bool debug;
	enum login_password_from pw;
	bool report_network;
	int secrets_fd;		/* -1: none */
};

static int run_parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "password-from", required_argument, NULL, 'p' },
		{ "network", required_argument, NULL, 'n' },
		{ "secrets-fd", required_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'v' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char ob[8];
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 's': o->socket = optarg; break;
		case 'p':
			if (!strcmp(optarg, "terminal"))
				o->pw = LOGIN_FROM_TERMINAL;
			else if (!strcmp(optarg, "control"))
				o->pw = LOGIN_FROM_CONTROL;
			else
				return cmd_usage_error("run", "--password-from: '%s' is not terminal "
						       "or control", optarg);
			break;
		case 'n':
			if (!strcmp(optarg, "report"))
				o->report_network = true;
			else if (strcmp(optarg, "setup") != 0)
				return cmd_usage_error("run", "--network: '%s' is not setup or report",
						       optarg);
			break;
		case 'f': {
			char *end;
			long fd = strtol(optarg, &end, 10);

			if (!*optarg || *end || fd < 0 || fd > 1023)
				return cmd_usage_error("run", "--secrets-fd: '%s' is not a file "
						       "descriptor", optarg);
			o->secrets_fd = (int)fd;
			break;
		}
		case 'v': o->debug = true; break;
		case 'h': run_usage(); return 1;
		case ':': return cmd_usage_error("run", "option '%s' needs a value", argv[optind - 1]);
		default: return cmd_usage_error("run", "unknown option '%s'",
					       cmd_bad_option(argv, optind, optopt, ob, sizeof(ob)));
		}
	}
	if (optind < argc)
		return cmd_usage_error("run", "unexpected argument '%s'", argv[optind]);
	if (!o->config)
		return cmd_usage_error("run", "missing -c FILE");
	return 0;
}

/* The driver's secrets: fd read to its end (RUN_SECRETS_MAX at most) and closed. */
static int read_secrets(int fd, char *buf, size_t cap, size_t *len)
{
	ssize_t n = 0;

	*len = 0;
	while (*len < cap && (n = read(fd, buf + *len, cap - *len)) > 0)
		*len += (size_t)n;
	if (n < 0 || *len == cap) {
		fprintf(stderr, "%s: --secrets-fd %d: %s\n", PROG_NAME, fd,
			n < 0 ? strerror(errno) : "more than 4 KiB");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * glibc's mmap threshold rises to the size of the largest mmap'd block
 * freed (up to 32 MB), after which big buffers (stream and TLS buffers,
 * OpenSSL's) come from the heap and their pages stay with the process
 * once freed. Fixed at 64 kB, every block that size or more is its own
 * mapping, returned whole on free (bench, idle UDP tunnel: heap ~650 ->
 * ~450 kB, ~60 kB fewer anonymous kB in all). Nothing on the packet path
 * allocates, so the cost is an mmap/munmap per big buffer at setup.
 */
#define RUN_MMAP_THRESHOLD	(64 * 1024)

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { .secrets_fd = -1 };
	struct config cfg;
	struct ike_sa_cfg probe;
	char err[512], secrets[RUN_SECRETS_MAX];
	size_t slen = 0;
	int rc;

	(void)mallopt(M_MMAP_THRESHOLD, RUN_MMAP_THRESHOLD);	/* ASan's allocator: a no-op */
	rc = run_parse(argc, argv, &o);
	if (rc)
		return rc == 1 ? CMD_EXIT_OK : rc;
	if (o.secrets_fd >= 0 && read_secrets(o.secrets_fd, secrets, sizeof(secrets), &slen) < 0)
		return CMD_EXIT_USAGE;
	rc = config_load_secrets(o.config, o.secrets_fd >= 0 ? secrets : NULL, slen, &cfg, err,
				 sizeof(err));
	OPENSSL_cleanse(secrets, sizeof(secrets));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", PROG_NAME, err);
		return CMD_EXIT_USAGE;
	}
	/* What this build cannot do is a configuration error, before anything changes. */
	if (cfgmap_ike(&cfg, NULL, NULL, &probe, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", PROG_NAME, o.config, err);
		config_free(&cfg);
		return CMD_EXIT_USAGE;
	}
	log_set_level(o.debug ? LOG_LVL_DEBUG : cfg.agent.log_level);
	/* A status client that hangs up must not kill the agent. */
	signal(SIGPIPE, SIG_IGN);
	{
		struct session_opts so = { .ctl_path = o.socket ? o.socket : cfg.agent.socket,
					   .pw = o.pw, .report_network = o.report_network };

		rc = session_run(&cfg, &so);
	}
	config_free(&cfg);
	return rc;
}
