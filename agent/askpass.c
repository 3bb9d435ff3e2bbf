/*
 * Reading a secret from the user: the controlling terminal with its echo
 * off, or one line of standard input. Shared by `ikeagent run` (the EAP
 * password at start) and `ikeagent password`.
 */
#include "agent/askpass.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/err.h"

/* One line from fd into buf (cap - 1 bytes at most kept); its length, or -1 with errno. */
static ssize_t read_line(int fd, char *buf, size_t cap, bool *too_long)
{
	size_t n = 0;
	ssize_t r;
	char c;

	*too_long = false;
	while ((r = read(fd, &c, 1)) == 1 && c != '\n') {
		if (n + 1 < cap)
			buf[n++] = c;
		else
			*too_long = true;
	}
	if (r < 0)
		return -1;
	if (n && buf[n - 1] == '\r')
		n--;
	return (ssize_t)n;
}

static int take(ssize_t n, bool too_long, size_t max, size_t *len, char *err, size_t errlen)
{
	if (n < 0)
		return err_set(err, errlen, "cannot read the password: %s", strerror(errno));
	if (too_long || (size_t)n > max)
		return err_set(err, errlen, "the password is longer than %zu bytes", max);
	if (n == 0)
		return err_set(err, errlen, "no password given");
	*len = (size_t)n;
	return 0;
}

int askpass_tty(const char *prompt, char *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
	struct termios old, quiet;
	bool too_long;
	ssize_t n;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC), rc = -1;

	if (fd < 0 || tcgetattr(fd, &old) < 0) {
		if (fd >= 0)
			close(fd);
		errno = ENXIO;
		return err_set(err, errlen, "no terminal");
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	dprintf(fd, "%s", prompt);
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
		(void)err_set(err, errlen, "cannot turn off the terminal's echo: %s", strerror(errno));
	} else {
		n = read_line(fd, buf, cap, &too_long);
		(void)tcsetattr(fd, TCSAFLUSH, &old);
		dprintf(fd, "\n");
		rc = take(n, too_long, cap - 2, len, err, errlen);
	}
	if (rc < 0)
		OPENSSL_cleanse(buf, cap);
	close(fd);
	return rc;
}

int askpass_stdin(char *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
	bool too_long;
	ssize_t n = read_line(STDIN_FILENO, buf, cap, &too_long);
	int rc = take(n, too_long, cap - 2, len, err, errlen);

	if (rc < 0)
		OPENSSL_cleanse(buf, cap);
	return rc;
}
