#include "util/fperm.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"

static int refused(void)
{
	errno = EPERM;
	return -1;
}

int fperm_check(const struct stat *st, unsigned flags, char *why, size_t cap)
{
	unsigned mode = (unsigned)st->st_mode & 07777;
	uid_t me = geteuid();

	if (st->st_uid != 0 && st->st_uid != me) {
		if (me == 0)
			(void)err_set(why, cap, "is owned by uid %u, not root; chown root it",
				      (unsigned)st->st_uid);
		else
			(void)err_set(why, cap, "is owned by uid %u, not root or uid %u; chown it",
				      (unsigned)st->st_uid, (unsigned)me);
		return refused();
	}
	if (mode & (S_IWGRP | S_IWOTH)) {
		(void)err_set(why, cap, "is writable by %s (mode %04o); chmod go-w it",
			      mode & S_IWOTH ? "others" : "group", mode);
		return refused();
	}
	if ((flags & FPERM_SECRET) && (mode & (S_IRGRP | S_IROTH))) {
		(void)err_set(why, cap, "is readable by group/others (chmod 600)");
		return refused();
	}
	return 0;
}

int fperm_open(const char *path, unsigned flags, struct stat *st, char *why, size_t cap)
{
	int fd, e;

	/* A first look keeps a device from being opened at all; fstat decides. */
	if (stat(path, st) < 0)
		goto fail;
	if (!S_ISREG(st->st_mode))
		goto not_regular;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		goto fail;
	if (fstat(fd, st) < 0) {
		e = errno;
		close(fd);
		errno = e;
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		goto not_regular;
	}
	if (fperm_check(st, flags, why, cap) < 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
not_regular:
	(void)err_set(why, cap, "not a regular file");
	errno = EINVAL;
	return -1;
fail:
	/* EPERM is kept for a refusal by fperm_check: callers tell the two apart. */
	e = errno;
	(void)err_set(why, cap, "cannot read: %s", strerror(e));
	errno = e == EPERM ? EACCES : e;
	return -1;
}
