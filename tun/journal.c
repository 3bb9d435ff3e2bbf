/*
 * The undo journal: every change to the system is appended to
 * <dir>/<tun>.state as "+<seq> <what>" and fsync'd BEFORE it is made, and
 * "-<seq>" is appended once it failed or has been undone. A crash therefore
 * never leaves a change unrecorded; at worst the file names a change that
 * never happened, whose undo then finds nothing ("already gone").
 *
 * The file is flock()ed while its process lives. A later run that gets the
 * lock on a non-empty file knows its writer died: it undoes the live
 * entries newest first and starts a fresh file. A clean exit undoes
 * everything and removes the file; what could not be undone stays in it
 * for the next start.
 */
#include "tun/journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fperm.h"
#include "util/log.h"

#define JOURNAL_MAX_ENTS	4096
#define JOURNAL_MAX_FILE	(4 << 20)

/* The undo of something already gone (device deleted with its routes, ...). */
static bool gone_errno(int err)
{
	return err == ENODEV || err == ESRCH || err == ENOENT || err == EADDRNOTAVAIL ||
	       err == ENXIO;
}

/* ---- the file --------------------------------------------------------- */

/* Append one line and make it durable; on error nothing half-written stays. */
static int jwrite(struct tun_journal *j, const char *line)
{
	size_t len = strlen(line), done = 0;
	off_t end = lseek(j->fd, 0, SEEK_END);
	int err;

	if (end < 0)
		return -1;
	while (done < len) {
		ssize_t n = write(j->fd, line + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		done += (size_t)n;
	}
	if (fdatasync(j->fd) == 0)
		return 0;
fail:
	err = errno;
	if (ftruncate(j->fd, end) < 0)
		log_warn("tun: cannot trim %s: %s", j->path, strerror(errno));
	errno = err;
	return -1;
}

static int mkdir_p(const char *dir)
{
	char p[TUN_PATH_MAX];

	snprintf(p, sizeof(p), "%s", dir);
	for (char *s = p + 1; ; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -1;
		*s = c;
		if (!c)
			return 0;
	}
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* The writer's pid from the header line, for messages only. */
static long header_pid(const char *text)
{
	const char *nl = strchr(text, '\n'), *p = strstr(text, " pid ");

	return text[0] == '#' && nl && p && p < nl ? strtol(p + 5, NULL, 10) : 0;
}

static long file_pid(int fd)
{
	char buf[128];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strchr(buf, '\n') ? header_pid(buf) : 0;
}

/*
 * The state directory, opened and checked (util/fperm.h): recovery runs
 * what the journal in it names, so nobody but root or us may write there.
 */
static int open_dir(const struct tun_journal *j)
{
	char why[128];
	struct stat st;
	int fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || fperm_check(&st, 0, why, sizeof(why)) < 0) {
		int err = errno;

		if (err == EPERM)
			log_err("tun: state dir %s %s", j->dir, why);
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * Open and lock the file in dfd. Retried when the path was replaced
 * between open and flock (its holder removed it while we waited).
 */
static int lock_file(struct tun_journal *j, int dfd)
{
	const char *base = strrchr(j->path, '/') + 1;

	for (int tries = 0; tries < 5; tries++) {
		struct stat a, b;
		char why[128];
		int fd = openat(dfd, base, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
				0600);

		if (fd < 0)
			return -1;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int err = errno == EWOULDBLOCK ? EBUSY : errno;

			if (err == EBUSY)
				log_err("tun: %s is held by a running ikeagent (pid %ld)", j->path,
					file_pid(fd));
			close(fd);
			errno = err;
			return -1;
		}
		if (fstat(fd, &a) < 0 || fstatat(dfd, base, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
		    a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
			close(fd);
			continue;
		}
		/* Recovery runs what the file names: only trust a file of root's or ours. */
		if (!S_ISREG(a.st_mode) || fperm_check(&a, 0, why, sizeof(why)) < 0) {
			log_err("tun: journal %s %s", j->path,
				S_ISREG(a.st_mode) ? why : "is not a regular file");
			close(fd);
			errno = EPERM;
			return -1;
		}
		j->fd = fd;
		return 0;
	}
	errno = EAGAIN;
	return -1;
}

/* ---- entries in memory ------------------------------------------------ */

static int j_reserve(struct tun_journal *j)
{
	struct tun_jent *n;
	size_t cap;

	if (j->n < j->cap)
		return 0;
	if (j->cap >= JOURNAL_MAX_ENTS) {
		errno = ENOSPC;
		return -1;
	}
	cap = j->cap ? j->cap * 2 : 16;
	n = realloc(j->ents, cap * sizeof(*n));
	if (!n)
		return -1;
	j->ents = n;
	j->cap = cap;
	return 0;
}

static void j_remove(struct tun_journal *j, size_t i)
{
	memmove(&j->ents[i], &j->ents[i + 1], (j->n - i - 1) * sizeof(j->ents[0]));
	j->n--;
}

static bool j_find(const struct tun_journal *j, const struct tun_jent *e, size_t *at)
{
	for (size_t i = j->n; i-- > 0;) {
		if (jent_same(&j->ents[i], e)) {
			*at = i;
			return true;
		}
	}
	return false;
}

/* Record the intent. Nothing may change on the system if this fails. */
static int j_begin(struct tun_journal *j, struct tun_jent *e)
{
	char body[JLINE_MAX], line[JLINE_MAX + 16];

	if (j->fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (j_reserve(j) < 0 || jent_fmt(e, body, sizeof(body)) < 0)
		return -1;
	e->seq = j->next_seq;
	snprintf(line, sizeof(line), "+%u %s\n", e->seq, body);
	if (jwrite(j, line) < 0) {
		log_err("tun: cannot record \"%s\" in %s: %s", body, j->path, strerror(errno));
		return -1;
	}
	j->next_seq++;
	return 0;
}

/* Mark entry seq finished (failed or undone); keeps errno. */
static void j_end(struct tun_journal *j, unsigned seq)
{
	char line[32];
	int err = errno;

	snprintf(line, sizeof(line), "-%u\n", seq);
	if (jwrite(j, line) < 0)
		log_warn("tun: cannot update %s: %s", j->path, strerror(errno));
	errno = err;
}

/* Finish a change: keep the entry if it was made, else cancel it. */
static int j_commit(struct tun_journal *j, const struct tun_jent *e, int ret)
{
	if (ret < 0) {
		j_end(j, e->seq);
		return -1;
	}
	j->ents[j->n++] = *e;
	return 0;
}

/* ---- undo ------------------------------------------------------------- */

static int undo_one(const struct tun_journal *j, const struct tun_jent *e)
{
	struct tun_route_spec r;
	int idx = 0;

	if (e->kind == J_ADDR || e->kind == J_ROUTE) {
		idx = (int)if_nametoindex(e->ifname);
		if (!idx) {
			errno = ENODEV;	/* the device took them along */
			return -1;
		}
	}
	switch (e->kind) {
	case J_DEV:
		if (e->dev && e->dev->fd >= 0) {
			tun_dev_close(e->dev);
			return 0;
		}
		return tun_nl_link_del_tun(e->ifname);
	case J_ADDR:
		return tun_nl_addr_del(idx, &e->cidr);
	case J_ROUTE:
		r = e->route;
		r.oif = idx;
		return tun_nl_route_del(&r);
	case J_RULE:
		return tun_nl_rule_del(&e->rule);
	case J_DNS:
		return tun_dns_apply(j->dns, e->dns, &e->req, false);
	}
	errno = EINVAL;
	return -1;
}

/*
 * Undo entry e and log it: info for recovery (pid of the dead run given),
 * debug for an ordinary teardown. 0 also when it was already gone.
 */
static int undo_log(const struct tun_journal *j, const struct tun_jent *e, long dead_pid)
{
	char what[JLINE_MAX];
	int ret = undo_one(j, e), err = errno;

	if (jent_fmt(e, what, sizeof(what)) < 0)
		snprintf(what, sizeof(what), "entry %u", e->seq);
	if (ret < 0 && !gone_errno(err)) {
		log_warn("tun: cannot undo %s: %s", what, strerror(err));
		errno = err;
		return -1;
	}
	if (dead_pid >= 0)
		log_info("tun: undo after earlier run (pid %ld): %s%s", dead_pid, what,
			 ret < 0 ? " (already gone)" : "");
	else
		log_debug("tun: undone: %s%s", what, ret < 0 ? " (already gone)" : "");
	return 0;
}

/* Undo live entry i and forget it; it stays if the undo failed. */
static int undo_at(struct tun_journal *j, size_t i)
{
	if (undo_log(j, &j->ents[i], -1) < 0)
		return -1;
	j_end(j, j->ents[i].seq);
	j_remove(j, i);
	return 0;
}

/* ---- recovery --------------------------------------------------------- */

static void load_line(struct tun_journal *j, char *line, unsigned lineno)
{
	struct tun_jent e;
	unsigned long seq;
	char *end;

	if (line[0] == '#' || line[0] == '\0')
		return;
	seq = strtoul(line + 1, &end, 10);
	if (line[0] == '-' && *end == '\0') {
		for (size_t i = 0; i < j->n; i++)
			if (j->ents[i].seq == seq)
				j_remove(j, i--);
		return;
	}
	if (line[0] != '+' || *end != ' ' || jent_parse(end + 1, &e) < 0 || j_reserve(j) < 0) {
		log_warn("tun: %s line %u unreadable, skipped", j->path, lineno);
		return;
	}
	e.seq = (unsigned)seq;
	j->ents[j->n++] = e;
}

/* Read the file left behind into j->ents; a torn last line is dropped. */
static int load(struct tun_journal *j, size_t size, long *pid)
{
	char *buf = malloc(size + 1), *line, *nl;
	unsigned lineno = 0;
	ssize_t n;

	if (!buf)
		return -1;
	n = pread(j->fd, buf, size, 0);
	if (n < 0) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*pid = header_pid(buf);
	for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		load_line(j, line, ++lineno);
	}
	if (*line)
		log_debug("tun: %s ends in a torn line, ignored", j->path);
	free(buf);
	return 0;
}

static void recover(struct tun_journal *j, size_t size)
{
	long pid = 0;
	size_t left = 0;

	if (size > JOURNAL_MAX_FILE) {
		log_err("tun: %s is %zu bytes, too big to be ours: not replayed", j->path, size);
		return;
	}
	if (load(j, size, &pid) < 0) {
		log_err("tun: cannot read %s: %s", j->path, strerror(errno));
		return;
	}
	if (j->n)
		log_info("tun: %s: %zu change(s) left by an earlier run (pid %ld), undoing", j->path,
			 j->n, pid);
	while (j->n) {
		if (undo_log(j, &j->ents[j->n - 1], pid) < 0)
			left++;
		j->n--;
	}
	if (left)
		log_warn("tun: %zu change(s) of pid %ld could not be undone, left in place", left, pid);
}

static int start_fresh(struct tun_journal *j)
{
	char header[96];

	snprintf(header, sizeof(header), "# ikeagent undo journal v1 pid %ld\n", (long)getpid());
	if (ftruncate(j->fd, 0) < 0 || jwrite(j, header) < 0)
		return -1;
	fsync_dir(j->dir);
	return 0;
}

/* ---- public: lifecycle ------------------------------------------------ */

int tun_journal_open(struct tun_journal *j, const char *dir, const char *name,
		     const struct tun_dns_cfg *dns)
{
	struct stat st;
	int err, dfd = -1;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->next_seq = 1;
	j->dns = dns;
	if (tun_ifname_check(name) < 0)
		return -1;
	dir = dir ? dir : TUN_DEFAULT_STATE_DIR;
	if (dir[0] != '/' || (size_t)snprintf(j->dir, sizeof(j->dir), "%s", dir) >= sizeof(j->dir) ||
	    (size_t)snprintf(j->path, sizeof(j->path), "%s/%s.state", dir, name) >= sizeof(j->path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(j->name, sizeof(j->name), "%s", name);
	if (mkdir_p(j->dir) < 0 || (dfd = open_dir(j)) < 0 || lock_file(j, dfd) < 0) {
		err = errno;
		if (err != EPERM)	/* a refusal has said why already */
			log_err("tun: cannot open journal %s: %s", j->path, strerror(err));
		if (dfd >= 0)
			close(dfd);
		errno = err;
		return -1;
	}
	close(dfd);
	if (fstat(j->fd, &st) == 0 && st.st_size > 0)
		recover(j, (size_t)st.st_size);
	if (start_fresh(j) < 0) {
		err = errno;
		log_err("tun: cannot write %s: %s", j->path, strerror(err));
		close(j->fd);
		j->fd = -1;
		errno = err;
		return -1;
	}
	return 0;
}

/* Undo every live entry, newest first; how many could not be undone. */
static size_t undo_all(struct tun_journal *j)
{
	size_t failed = 0;

	for (size_t i = j->n; i-- > 0;)
		if (undo_at(j, i) < 0)
			failed++;
	if (failed)
		log_warn("tun: %zu change(s) could not be undone; %s keeps them for the next start",
			 failed, j->path);
	return failed;
}

int tun_journal_reset(struct tun_journal *j)
{
	if (j->fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (undo_all(j)) {
		errno = EIO;
		return -1;
	}
	j->next_seq = 1;
	return start_fresh(j);
}

int tun_journal_close(struct tun_journal *j)
{
	size_t failed;

	if (j->fd < 0)
		return 0;
	failed = undo_all(j);
	/*
	 * Once no longer root, the state directory is not ours to change: an
	 * empty journal says "nothing to undo" as well as a missing one.
	 */
	if (!failed && unlink(j->path) < 0 &&
	    (!(errno == EACCES || errno == EPERM) || ftruncate(j->fd, 0) < 0))
		log_warn("tun: cannot remove %s: %s", j->path, strerror(errno));
	close(j->fd);
	j->fd = -1;
	free(j->ents);
	j->ents = NULL;
	j->n = j->cap = 0;
	if (failed) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int tun_journal_recover(const char *dir, const char *name, const struct tun_dns_cfg *dns)
{
	struct tun_journal j;

	if (tun_journal_open(&j, dir, name, dns) < 0)
		return -1;
	return tun_journal_close(&j);
}

/* ---- public: journaled changes ------------------------------------------ */

int tun_j_dev_open(struct tun_journal *j, struct tun_dev *dev, unsigned mtu, unsigned txqlen,
		   bool offload)
{
	struct tun_jent e = { .kind = J_DEV };
	/* Only a device we create is ours to remove. */
	bool ours = if_nametoindex(j->name) == 0;

	snprintf(e.ifname, sizeof(e.ifname), "%s", j->name);
	if (ours && j_begin(j, &e) < 0)
		return -1;
	if ((offload ? tun_dev_open_vnet(dev, j->name, mtu, txqlen) :
		       tun_dev_open(dev, j->name, mtu, txqlen)) < 0) {
		if (ours)
			j_end(j, e.seq);
		return -1;
	}
	if (!ours)
		return 0;
	if (!dev->created) {	/* appeared meanwhile: not ours after all */
		j_end(j, e.seq);
		return 0;
	}
	e.dev = dev;
	return j_commit(j, &e, 0);
}

static int addr_ent(const struct tun_dev *dev, const struct tun_cidr *a, struct tun_jent *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = J_ADDR;
	e->cidr = *a;
	snprintf(e->ifname, sizeof(e->ifname), "%s", dev->name);
	return tun_cidr_check(a);
}

int tun_j_addr_add(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *a)
{
	struct tun_jent e;

	if (addr_ent(dev, a, &e) < 0 || j_begin(j, &e) < 0)
		return -1;
	return j_commit(j, &e, tun_nl_addr_add(dev->ifindex, a));
}

/* Undo the newest entry like e; ENOENT if the journal has none. */
static int j_del(struct tun_journal *j, const struct tun_jent *e)
{
	size_t i;

	if (!j_find(j, e, &i)) {
		errno = ENOENT;
		return -1;
	}
	return undo_at(j, i);
}

int tun_j_addr_del(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *a)
{
	struct tun_jent e;

	if (addr_ent(dev, a, &e) < 0)
		return -1;
	return j_del(j, &e);
}

static int route_ent(const struct tun_route_spec *r, struct tun_jent *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = J_ROUTE;
	if (tun_cidr_check(&r->dst) < 0)
		return -1;
	if (r->oif <= 0 || !if_indextoname((unsigned)r->oif, e->ifname)) {
		errno = ENODEV;
		return -1;
	}
	if (r->gw.family && r->gw.family != r->dst.family) {
		errno = EINVAL;
		return -1;
	}
	e->route = *r;
	e->route.oif = 0;
	e->route.table = r->table ? r->table : TUN_TABLE_MAIN;
	tun_cidr_mask(&e->route.dst);
	return 0;
}

int tun_j_route_add(struct tun_journal *j, const struct tun_route_spec *r)
{
	struct tun_jent e;

	if (route_ent(r, &e) < 0 || j_begin(j, &e) < 0)
		return -1;
	return j_commit(j, &e, tun_nl_route_add(r));
}

int tun_j_route_del(struct tun_journal *j, const struct tun_route_spec *r)
{
	struct tun_jent e;

	if (route_ent(r, &e) < 0)
		return -1;
	return j_del(j, &e);
}

static int rule_ent(const struct tun_rule_spec *r, struct tun_jent *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = J_RULE;
	e->rule = *r;
	if ((r->family != AF_INET && r->family != AF_INET6) || !r->table ||
	    r->suppress_prefixlen < -1 || r->suppress_prefixlen > 128) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int tun_j_rule_add(struct tun_journal *j, const struct tun_rule_spec *r)
{
	struct tun_jent e;

	if (rule_ent(r, &e) < 0 || j_begin(j, &e) < 0)
		return -1;
	return j_commit(j, &e, tun_nl_rule_add(r));
}

int tun_j_rule_del(struct tun_journal *j, const struct tun_rule_spec *r)
{
	struct tun_jent e;

	if (rule_ent(r, &e) < 0)
		return -1;
	return j_del(j, &e);
}

int tun_j_dns_down(struct tun_journal *j)
{
	struct tun_jent e = { .kind = J_DNS };
	size_t i;

	if (!j_find(j, &e, &i))
		return 0;
	return undo_at(j, i);
}

int tun_j_dns_up(struct tun_journal *j, const struct tun_dns_req *req, enum tun_dns_method *used)
{
	struct tun_jent e = { .kind = J_DNS, .req = *req };
	int ret;

	if (used)
		*used = TUN_DNS_NONE;
	if (tun_dns_req_check(req) < 0 || tun_j_dns_down(j) < 0)
		return -1;
	e.dns = tun_dns_choose(j->dns);
	if (e.dns == TUN_DNS_NONE) {
		log_warn("dns: no resolvconf, resolvectl (with systemd-resolved) or hook: "
			 "%zu DNS server(s) for %s not configured", req->n_servers, req->ifname);
		return 0;
	}
	if (j_begin(j, &e) < 0)
		return -1;
	ret = tun_dns_apply(j->dns, e.dns, req, true);
	if (ret < 0) {
		int err = errno;

		if (tun_dns_apply(j->dns, e.dns, req, false) < 0)	/* whatever half got done */
			log_debug("dns: undoing the partial setup failed too");
		errno = err;
	} else {
		log_info("dns: %zu server(s) for %s handed to %s", req->n_servers, req->ifname,
			 tun_dns_method_name(e.dns));
		if (used)
			*used = e.dns;
	}
	return j_commit(j, &e, ret);
}
