/*
 * ikeagent status [--socket PATH] [--json] [--follow]: ask the running agent
 * and print its answer. No agent: one line, exit 1. --follow: the agent's
 * events (state changes with reasons, the IP configuration, failures), one
 * JSON object per line, until it stops.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/cmd.h"
#include "agent/ctl.h"

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CTL_DEFAULT_PATH;
	char reply[CTL_REPLY_MAX + 1];
	bool json = false, follow = false;
	char ob[8];
	int c, code;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'j': json = true; break;
		case 'f': follow = true; break;
		case 'h': printf("Usage: %s status [--socket PATH] [--json] [--follow]\n", PROG_NAME);
			return 0;
		case ':': return cmd_usage_error("status", "option '%s' needs a value", argv[optind - 1]);
		default: return cmd_usage_error("status", "unknown option '%s'",
					       cmd_bad_option(argv, optind, optopt, ob, sizeof(ob)));
		}
	}
	if (optind < argc)
		return cmd_usage_error("status", "unexpected argument '%s'", argv[optind]);
	if (follow) {
		code = ctl_follow(path, stdout, reply, sizeof(reply));
		return code ? cmd_ctl_failed(path, code, reply) : CMD_EXIT_OK;
	}
	code = ctl_request(path, json ? "status json" : "status", reply, sizeof(reply));
	if (code)
		return cmd_ctl_failed(path, code, reply);
	fputs(reply, stdout);
	return CMD_EXIT_OK;
}
