/*
 * ikeagent: the command table. Each subcommand lives in agent/cmd_*.c.
 */
#include <stdio.h>
#include <string.h>

#include "agent/cmd.h"

static const struct cmd commands[] = {
	{ "run", cmd_run, "-c FILE [--socket PATH] [-v|--debug]",
	  "connect and keep the tunnel up (foreground)" },
	{ "password", cmd_password, "[--socket PATH]",
	  "give a waiting agent the EAP password (terminal or stdin)" },
	{ "check", cmd_check, "-c FILE", "parse and validate a configuration file" },
	{ "status", cmd_status, "[--socket PATH] [--json] [--follow]", "show the running agent's state" },
	{ "down", cmd_down, "[--socket PATH]", "disconnect the running agent and wait for it to exit" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s <command> [options]\n\nCommands:\n", PROG_NAME);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-7s %-38s %s\n", commands[i].name, commands[i].args,
			commands[i].summary);
	fprintf(f, "  %-7s %-38s %s\n", "help", "", "show this text");
	fprintf(f, "  %-7s %-38s %s\n", "version", "", "print the version");
	fprintf(f, "\nExit status: 0 ok, 1 runtime error, 2 usage or configuration error,\n"
		   "3 the gateway refused the connection (run).\n");
}

int main(int argc, char **argv);

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;

	if (!name) {
		fprintf(stderr, "%s: no command given (see '%s --help')\n", PROG_NAME, PROG_NAME);
		return CMD_EXIT_USAGE;
	}
	if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
		usage(stdout);
		return CMD_EXIT_OK;
	}
	if (!strcmp(name, "version") || !strcmp(name, "--version")) {
		printf("%s %s\n", PROG_NAME, PROG_VERSION);
		return CMD_EXIT_OK;
	}
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(name, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	if (name[0] == '-')
		fprintf(stderr, "%s: unknown option '%s' (see '%s --help')\n", PROG_NAME, name,
			PROG_NAME);
	else
		fprintf(stderr, "%s: unknown command '%s' (see '%s --help')\n", PROG_NAME, name,
			PROG_NAME);
	return CMD_EXIT_USAGE;
}
