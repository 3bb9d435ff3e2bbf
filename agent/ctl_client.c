/*
 * Client side of the control socket: `ikeagent status`, `down`,
 * `password`, `events` (agent/ctl.h). These calls may block: they run in
 * the CLI, never in the agent's loop.
 */
#include "agent/ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent/ctl_int.h"

int ctl_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun->sun_path, path);
	return 0;
}

int ctl_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, e;

	if (ctl_addr(path, &sun) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int ctl_request(const char *path, const char *request, char *out, size_t cap)
{
	char buf[CTL_REPLY_MAX + 2];
	size_t got = 0;
	int fd, code = -1;

	if ((fd = ctl_connect(path)) < 0)
		return -1;
	{
		char line[CTL_REQ_MAX + 2];
		int n = snprintf(line, sizeof(line), "%s\n", request);

		bool sent;

		/* The agent may have closed already: an error, not SIGPIPE. */
		sent = n >= 0 && (size_t)n < sizeof(line) &&
		       send(fd, line, (size_t)n, MSG_NOSIGNAL) == (ssize_t)n;
		OPENSSL_cleanse(line, sizeof(line));	/* `password ...` */
		if (!sent)
			goto out;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (got >= sizeof(buf) - 1 || poll(&pfd, 1, 5000) != 1)
			break;
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == 0) {
		errno = EPROTO;
		goto out;
	}
	buf[got] = '\0';
	code = (unsigned char)buf[0];
	if (out && cap)
		snprintf(out, cap, "%s", buf + 1);
out:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return code;
}

int ctl_follow(const char *path, FILE *out, char *err, size_t cap)
{
	char buf[4096];
	bool first = true;
	ssize_t n;
	int fd, rc = -1;

	if ((fd = ctl_connect(path)) < 0)
		return -1;
	if (send(fd, "events\n", 7, MSG_NOSIGNAL) != 7)
		goto out;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		/* A refusal is a status byte and one line, as for any request. */
		if (first && buf[0] != '{') {
			snprintf(err, cap, "%.*s", (int)(n - 1), buf + 1);
			rc = buf[0] ? (unsigned char)buf[0] : 1;
			goto out;
		}
		first = false;
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n || fflush(out) != 0)
			break;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}
