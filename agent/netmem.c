/*
 * The network memory and its file <dir>/networks: reading it (a bad
 * one is ignored whole), changing it under an flock shared with other
 * ikeagent processes, and saving it atomically. The text is netmem_fmt.c's.
 */
#include "agent/netmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

#define FILE_NAME	"networks"
#define LOCK_NAME	"networks.lock"

/* ---- the memory ---------------------------------------------------------- */

static bool find(const struct netmem *m, const char *key, size_t *at)
{
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->e[i].key, key) == 0) {
			*at = i;
			return true;
		}
	}
	return false;
}

static void drop(struct netmem *m, size_t i)
{
	memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(m->e[0]));
	m->n--;
}

/* The entry with the smallest seen_s; of equals, the one put first. */
static size_t oldest(const struct netmem *m)
{
	size_t o = 0;

	for (size_t i = 1; i < m->n; i++)
		if (m->e[i].seen_s < m->e[o].seen_s)
			o = i;
	return o;
}

/* One change: e becomes the most recent entry, or (forget) e.key goes. */
struct change {
	bool forget;
	struct netmem_entry e;
};

static void apply(struct netmem *m, const struct change *c)
{
	size_t i;

	if (find(m, c->e.key, &i))
		drop(m, i);
	if (c->forget)
		return;
	if (m->n == NETMEM_MAX) {
		i = oldest(m);
		log_debug("netmem: %d networks remembered, forgetting '%s'", NETMEM_MAX,
			  m->e[i].key);
		drop(m, i);
	}
	m->e[m->n++] = c->e;
}

const struct netmem_entry *netmem_get(const struct netmem *m, const char *key)
{
	size_t i;

	if (!netmem_key_ok(key) || !find(m, key, &i))
		return NULL;
	return &m->e[i];
}

/* ---- the file ------------------------------------------------------------- */

/* Ours, root's, or the user the memory was handed to (m->owner). */
static bool owner_ok(const struct netmem *m, uid_t uid)
{
	return uid == geteuid() || uid == 0 || (m->owner != (uid_t)-1 && uid == m->owner);
}

/* What we read: a regular file of an owner_ok() user that only its owner may write. */
static bool trusted(const struct netmem *m, const struct stat *st)
{
	return S_ISREG(st->st_mode) && owner_ok(m, st->st_uid) && !(st->st_mode & 022);
}

/*
 * Read m->path into m. 0 also when it is missing or ignored (m->n is then 0,
 * and an ignored file is logged); -1 with errno and err on an I/O error.
 */
static int load(struct netmem *m, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[192];
	struct stat st;
	int fd, ret = -1, e;

	m->n = 0;
	fd = openat(m->dirfd, FILE_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno == ELOOP) {
		log_warn("netmem: %s is a symbolic link, ignoring it", m->path);
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0)
		goto done;
	if (!trusted(m, &st)) {
		log_warn("netmem: %s is not a regular file of uid %u, %d or root that only its "
			 "owner may write, ignoring it", m->path, (unsigned)geteuid(), (int)m->owner);
		ret = 0;
		goto done;
	}
	buf = malloc(NETMEM_FILE_MAX + 1);
	if (!buf)
		goto done;
	/* One byte more than allowed, so that a file too long is seen as such. */
	while (len <= NETMEM_FILE_MAX) {
		ssize_t n = read(fd, buf + len, NETMEM_FILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto done;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (netmem_parse(m, buf, len, why, sizeof(why)) < 0)
		log_warn("netmem: %s: %s, ignoring the file", m->path, why);
	ret = 0;
done:
	e = errno;
	if (ret < 0)
		(void)err_set(err, errlen, "cannot read %s: %s", m->path, strerror(e));
	if (fd >= 0)
		close(fd);
	free(buf);
	errno = e;
	return ret;
}

static void fsync_dir(const struct netmem *m)
{
	if (fsync(m->dirfd) < 0)
		log_debug("netmem: cannot fsync %s: %s", m->dir, strerror(errno));
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write m to m->path atomically: networks.tmp.<pid>, fsync, rename, fsync the directory. */
static int save(const struct netmem *m)
{
	char tmp[64];
	uint8_t *buf = malloc(NETMEM_FILE_MAX);
	bool made = false;
	int fd = -1, ret = -1, e;
	size_t len;

	if (!buf || netmem_format(m, buf, NETMEM_FILE_MAX, &len) < 0)
		goto done;
	snprintf(tmp, sizeof(tmp), FILE_NAME ".tmp.%ld", (long)getpid());
	/* Left by a dead process that had our pid, or planted: never written through. */
	if (unlinkat(m->dirfd, tmp, 0) < 0 && errno != ENOENT)
		goto done;
	fd = openat(m->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto done;
	made = true;
	/* 0600 whatever the umask. */
	if (fchmod(fd, 0600) < 0 || write_all(fd, buf, len) < 0 || fsync(fd) < 0)
		goto done;
	e = close(fd);
	fd = -1;
	if (e < 0 || renameat(m->dirfd, tmp, m->dirfd, FILE_NAME) < 0)
		goto done;
	made = false;
	fsync_dir(m);
	ret = 0;
done:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (made)
		unlinkat(m->dirfd, tmp, 0);
	free(buf);
	errno = e;
	return ret;
}

/* Take the lock every change of the file holds; its fd (close to unlock), or -1. */
static int lock_take(const struct netmem *m)
{
	struct stat st;
	int fd;

	fd = openat(m->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
	}
	return fd;
}

/*
 * Apply c to m, then under the lock to what is on disk, save that and make
 * it m. A failure is logged; m keeps the change.
 */
static int commit(struct netmem *m, const struct change *c)
{
	struct netmem *disk = malloc(sizeof(*disk));
	const char *what = "save", *suffix = "";
	char err[320];
	int lock = -1, ret = -1, e;

	apply(m, c);
	if (!disk)
		goto done;
	memcpy(disk->dir, m->dir, sizeof(disk->dir));
	memcpy(disk->path, m->path, sizeof(disk->path));
	disk->dirfd = m->dirfd;
	disk->owner = m->owner;
	what = "lock";
	suffix = ".lock";
	lock = lock_take(m);
	if (lock < 0)
		goto done;
	what = "read";
	suffix = "";
	if (load(disk, err, sizeof(err)) < 0)
		goto done;
	apply(disk, c);
	what = "write";
	if (save(disk) < 0)
		goto done;
	*m = *disk;
	ret = 0;
done:
	e = errno;
	if (ret < 0)
		log_warn("netmem: cannot %s %s%s: %s; '%s' remembered until exit only", what,
			 m->path, suffix, strerror(e), c->e.key);
	if (lock >= 0)
		close(lock);
	free(disk);
	errno = e;
	return ret;
}

/* ---- public ---------------------------------------------------------------- */

int netmem_open(struct netmem *m, const char *dir, uid_t owner, char *err, size_t errlen)
{
	struct stat st;

	memset(m, 0, sizeof(*m));
	m->dirfd = -1;
	m->owner = owner;
	if (!dir || dir[0] != '/') {
		(void)err_set(err, errlen, "'%s' is not an absolute path", dir ? dir : "");
		errno = EINVAL;
		return -1;
	}
	if ((size_t)snprintf(m->dir, sizeof(m->dir), "%s", dir) >= sizeof(m->dir) ||
	    (size_t)snprintf(m->path, sizeof(m->path), "%s/" FILE_NAME, dir) >= sizeof(m->path)) {
		(void)err_set(err, errlen, "'%.64s...' is too long", dir);
		memset(m, 0, sizeof(*m));
		m->dirfd = -1;
		m->owner = owner;
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		(void)err_set(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	/* Every later access goes through this fd: it works after a drop of privileges. */
	m->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (m->dirfd < 0 || fstat(m->dirfd, &st) < 0 ||
	    !owner_ok(m, st.st_uid) || (st.st_mode & 022)) {
		int e = m->dirfd < 0 ? errno : EPERM;

		(void)err_set(err, errlen, "%s: %s", dir, m->dirfd < 0 ? strerror(e) :
			      "not a directory of ours or root that only its owner may write");
		netmem_close(m);
		errno = e;
		return -1;
	}
	if (load(m, err, errlen) < 0) {
		int e = errno;

		netmem_close(m);
		errno = e;
		return -1;
	}
	return 0;
}

void netmem_close(struct netmem *m)
{
	if (m->dirfd >= 0)
		close(m->dirfd);
	m->dirfd = -1;
}

int netmem_hand_over(const struct netmem *m, uid_t uid, gid_t gid)
{
	static const char *const names[] = { FILE_NAME, LOCK_NAME };

	if (m->dirfd < 0)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (fchownat(m->dirfd, names[i], uid, gid, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno != ENOENT)
			return -1;
	return fchown(m->dirfd, uid, gid);
}

int netmem_put(struct netmem *m, const char *key, enum config_transport t, bool proxy,
	       bool udp_blocked, uint64_t now_s)
{
	struct change c = {
		.e = {
			.transport = t, .proxy = proxy, .udp_blocked = udp_blocked, .seen_s = now_s,
		},
	};

	if (!netmem_key_ok(key)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(c.e.key, key, strlen(key) + 1);
	if (!netmem_entry_ok(&c.e)) {
		errno = EINVAL;
		return -1;
	}
	return commit(m, &c);
}

int netmem_forget(struct netmem *m, const char *key)
{
	struct change c = { .forget = true };

	if (!netmem_key_ok(key)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(c.e.key, key, strlen(key) + 1);
	return commit(m, &c);
}
