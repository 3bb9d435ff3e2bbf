/*
 * ikeagent run -c FILE [--socket PATH] [--password-from terminal|control] [-v|--debug]
 *
 * Loads the configuration (an error is its one "FILE:LINE: ..." line, exit
 * 2) and runs the session in the foreground until SIGINT/SIGTERM or
 * `ikeagent down`. Exit 3 when the gateway refuses us before the tunnel
 * was ever up (authentication, proposals); see agent/cmd.h.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent/cmd.h"
#include "agent/config.h"
#include "agent/session.h"
#include "util/log.h"

static void run_usage(void)
{
	printf("Usage: %s run -c FILE [--socket PATH] [--password-from terminal|control] "
	       "[-v|--debug]\n"
	       "  -c, --config FILE   configuration (see agent.conf.example)\n"
	       "      --socket PATH   control socket (default: [agent] socket)\n"
	       "      --password-from terminal|control\n"
	       "                      EAP password not in the configuration: ask on the\n"
	       "                      terminal (default), or wait for `ikeagent password`\n"
	       "  -v, --debug         log at debug level\n", PROG_NAME);
}

struct run_opts {
	const char *config;
	const char *socket;
	bool debug;
	enum login_password_from pw;
};

static int run_parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "password-from", required_argument, NULL, 'p' },
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

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct config cfg;
	struct ike_sa_cfg probe;
	char err[512];
	int rc;

	rc = run_parse(argc, argv, &o);
	if (rc)
		return rc == 1 ? CMD_EXIT_OK : rc;
	if (config_load(o.config, &cfg, err, sizeof(err)) < 0) {
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
	rc = session_run(&cfg, o.socket ? o.socket : cfg.agent.socket, o.pw);
	config_free(&cfg);
	return rc;
}
