/*
 * The command line: a table of subcommands (agent/main.c), one file each
 * (agent/cmd_*.c), as WireGuard's wg(8) does. Each subcommand gets its own
 * argv (argv[0] is its name) and returns the process exit status:
 *
 *   0  done			2  bad usage or configuration
 *   1  runtime failure		3  the gateway refused us (run only)
 *
 * Every error is one line on stderr starting with "ikeagent: ".
 */
#ifndef IKEAGENT_AGENT_CMD_H
#define IKEAGENT_AGENT_CMD_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PROG_NAME "ikeagent"
#define PROG_VERSION "0.1.0"

enum cmd_exit {
	CMD_EXIT_OK = 0,
	CMD_EXIT_RUNTIME = 1,
	CMD_EXIT_USAGE = 2,	/* also a configuration error */
	CMD_EXIT_REFUSED = 3,	/* fatal IKE failure before the tunnel was ever up */
};

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;	/* synopsis after the name */
	const char *summary;
};

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_password(int argc, char **argv);

/* "ikeagent: <cmd>: <message> (see 'ikeagent <cmd> --help')" on stderr; returns 2. */
static inline int cmd_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: ", PROG_NAME, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s %s --help')\n", PROG_NAME, cmd);
	return CMD_EXIT_USAGE;
}

/*
 * A control request that did not succeed (ctl_request's code, not 0): the
 * agent could not be reached (-1, errno says why) or it refused (its one
 * line in reply). One line on stderr; returns the exit status.
 */
static inline int cmd_ctl_failed(const char *path, int code, const char *reply)
{
	if (code > 0)
		fprintf(stderr, "%s: %s", PROG_NAME, reply);
	else if (errno == EACCES || errno == EPERM)
		fprintf(stderr, "%s: permission denied on %s (only root and the agent's "
			"socket_group may use it)\n", PROG_NAME, path);
	else if (errno == ENOENT || errno == ECONNREFUSED)
		fprintf(stderr, "%s: no agent at %s (is it running?)\n", PROG_NAME, path);
	else
		fprintf(stderr, "%s: cannot reach the agent at %s: %s\n", PROG_NAME, path,
			strerror(errno));
	return code > 0 ? code : CMD_EXIT_RUNTIME;
}

/*
 * getopt_long() said '?': the unknown option as the user wrote it (a short
 * one inside a cluster such as -vx is named alone).
 */
static inline const char *cmd_bad_option(char **argv, int ind, int opt, char *buf, size_t len)
{
	if (opt > 0 && opt < 256) {
		snprintf(buf, len, "-%c", opt);
		return buf;
	}
	return argv[ind - 1];
}

#endif
