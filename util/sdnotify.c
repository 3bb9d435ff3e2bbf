#include "util/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"

#define SDN_MAX 512	/* one datagram: a few short lines */

static int sdn_fd = -1;
static uint64_t sdn_wd_ms;

/* WATCHDOG_USEC, if it is meant for this process. */
static uint64_t watchdog_from_env(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (!us || !*us)
		return 0;
	if (pid && *pid) {
		errno = 0;
		v = strtoull(pid, &end, 10);
		if (errno || *end || v != (unsigned long long)getpid())
			return 0;
	}
	errno = 0;
	v = strtoull(us, &end, 10);
	if (errno || *end || v < 1000)
		return 0;
	return v / 1000;
}

int sdnotify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = path ? strlen(path) : 0;
	socklen_t alen;
	int fd;

	sdnotify_close();
	sdn_wd_ms = watchdog_from_env();
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (!len)
		return 0;
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun.sun_path)) {
		unsetenv("NOTIFY_SOCKET");
		errno = EINVAL;
		return -1;
	}
	memcpy(sun.sun_path, path, len);
	unsetenv("NOTIFY_SOCKET");	/* path pointed into the environment */
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract namespace */
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Connected now: the path may be out of reach once we are no longer root. */
	if (connect(fd, (struct sockaddr *)&sun, alen) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	sdn_fd = fd;
	return 0;
}

bool sdnotify_enabled(void)
{
	return sdn_fd >= 0;
}

uint64_t sdnotify_watchdog_ms(void)
{
	return sdn_fd >= 0 ? sdn_wd_ms : 0;
}

void sdnotify_send(const char *lines)
{
	if (sdn_fd < 0)
		return;
	if (send(sdn_fd, lines, strlen(lines), MSG_NOSIGNAL) < 0)
		log_debug("sdnotify: %s", strerror(errno));
}

/* "<prefix>STATUS=<text>", the text made one line. */
static void send_status(const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void send_status(const char *prefix, const char *fmt, va_list ap)
{
	char buf[SDN_MAX];
	int n;

	if (sdn_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%sSTATUS=", prefix);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	for (char *p = buf + n; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = ' ';
	sdnotify_send(buf);
}

void sdnotify_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_status("", fmt, ap);
	va_end(ap);
}

void sdnotify_ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_status("READY=1\n", fmt, ap);
	va_end(ap);
}

void sdnotify_close(void)
{
	if (sdn_fd >= 0)
		close(sdn_fd);
	sdn_fd = -1;
}
