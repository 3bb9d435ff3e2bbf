/*
 * ikeagent down [--socket PATH]: ask the agent to disconnect (it sends
 * DELETE and undoes its network changes) and wait until it is gone, i.e.
 * nothing listens on the control socket any more; at most 5 s.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/cmd.h"
#include "agent/ctl.h"
#include "agent/loop.h"

#define DOWN_DEADLINE_MS 5000
#define DOWN_POLL_MS 50

/*
 * Does anything accept connections on path? A "ping" is sent and its answer
 * read (briefly) so the agent never writes into a closed connection.
 */
static bool agent_listening(const char *path)
{
	struct pollfd pfd;
	char buf[16];
	int fd = ctl_connect(path);

	if (fd < 0)
		return false;
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (write(fd, "ping\n", 5) == 5 && poll(&pfd, 1, DOWN_POLL_MS * 4) == 1 &&
	    read(fd, buf, sizeof(buf)) < 0)
		(void)0;	/* the answer itself does not matter */
	close(fd);
	return true;
}

int cmd_down(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct timespec tick = { .tv_nsec = DOWN_POLL_MS * 1000000L };
	const char *path = CTL_DEFAULT_PATH;
	char reply[CTL_REPLY_MAX + 1];
	uint64_t deadline;
	char ob[8];
	int c, code;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'h': printf("Usage: %s down [--socket PATH]\n", PROG_NAME); return 0;
		case ':': return cmd_usage_error("down", "option '%s' needs a value", argv[optind - 1]);
		default: return cmd_usage_error("down", "unknown option '%s'",
					       cmd_bad_option(argv, optind, optopt, ob, sizeof(ob)));
		}
	}
	if (optind < argc)
		return cmd_usage_error("down", "unexpected argument '%s'", argv[optind]);
	code = ctl_request(path, "down", reply, sizeof(reply));
	if (code)
		return cmd_ctl_failed(path, code, reply);
	deadline = loop_now_ms() + DOWN_DEADLINE_MS;
	while (agent_listening(path)) {
		if (loop_now_ms() >= deadline) {
			fprintf(stderr, "%s: agent at %s still running after %d s\n", PROG_NAME,
				path, DOWN_DEADLINE_MS / 1000);
			return CMD_EXIT_RUNTIME;
		}
		nanosleep(&tick, NULL);
	}
	printf("%s: disconnected\n", PROG_NAME);
	return CMD_EXIT_OK;
}
