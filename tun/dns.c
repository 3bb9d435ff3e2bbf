/*
 * DNS servers for the tunnel, handed to whatever manages the resolver:
 * resolvconf, else systemd-resolved through resolvectl, else a hook script,
 * else (opt-in) a rewritten resolv.conf with the old one kept aside.
 * Programs run with a fixed environment and a time limit.
 */
#include "tun/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define DNS_TIMEOUT_MS	10000
#define DNS_ARGV_MAX	(TUN_DNS_MAX + 8)
#define DNS_TEXT_MAX	2048		/* resolv.conf lines or env values */
#define RESOLV_MAX	(64 * 1024)	/* a resolv.conf bigger than this is not one */
#define SYS_PATH	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *const sys_dirs[] = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
					"/usr/bin", "/sbin", "/bin" };

void tun_dns_cfg_default(struct tun_dns_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->resolvconf = "resolvconf";
	cfg->resolvectl = "resolvectl";
	cfg->resolved_probe = "/run/systemd/resolve/io.systemd.Resolve";
	cfg->resolv_conf = "/etc/resolv.conf";
	cfg->timeout_ms = DNS_TIMEOUT_MS;
}

const char *tun_dns_method_name(enum tun_dns_method m)
{
	switch (m) {
	case TUN_DNS_NONE: return "none";
	case TUN_DNS_RESOLVCONF: return "resolvconf";
	case TUN_DNS_RESOLVECTL: return "resolvectl";
	case TUN_DNS_HOOK: return "hook";
	case TUN_DNS_FILE: return "file";
	}
	return "?";
}

/* Paths go to argv, a journal line and possibly resolv.conf: no blanks. */
static bool path_ok(const char *p)
{
	size_t len = strlen(p);

	if (len == 0 || len >= TUN_PATH_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] <= ' ' || p[i] == 0x7f)
			return false;
	return true;
}

/* A domain from the gateway ends up in resolv.conf and argv: be strict. */
static bool domain_ok(const char *d)
{
	size_t len = strlen(d);

	if (len >= TUN_DOMAIN_MAX - 1 || d[0] == '-' || d[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = d[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'))
			return false;
	}
	return true;
}

int tun_dns_req_check(const struct tun_dns_req *req)
{
	if (tun_ifname_check(req->ifname) < 0)
		return -1;
	if (req->n_servers == 0 || req->n_servers > TUN_DNS_MAX ||
	    strnlen(req->domain, TUN_DOMAIN_MAX) == TUN_DOMAIN_MAX || !domain_ok(req->domain))
		goto bad;
	for (size_t i = 0; i < req->n_servers; i++)
		if (req->servers[i].family != AF_INET && req->servers[i].family != AF_INET6)
			goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* A bare name is looked up in the system directories. */
static bool find_prog(const char *name, char *out, size_t cap)
{
	if (!name || !*name)
		return false;
	if (strchr(name, '/')) {
		if (access(name, X_OK) < 0 || !path_ok(name))
			return false;
		snprintf(out, cap, "%s", name);
		return true;
	}
	for (size_t i = 0; i < sizeof(sys_dirs) / sizeof(sys_dirs[0]); i++) {
		if ((size_t)snprintf(out, cap, "%s/%s", sys_dirs[i], name) < cap &&
		    access(out, X_OK) == 0)
			return path_ok(out);
	}
	return false;
}

/* Method m as cfg provides it: its program (resolv.conf for FILE) into prog; false if none. */
static bool method_prog(const struct tun_dns_cfg *cfg, enum tun_dns_method m, char *prog,
			size_t cap)
{
	switch (m) {
	case TUN_DNS_RESOLVCONF:
		return find_prog(cfg->resolvconf, prog, cap);
	case TUN_DNS_RESOLVECTL:
		return find_prog(cfg->resolvectl, prog, cap);
	case TUN_DNS_HOOK:
		return find_prog(cfg->hook, prog, cap);
	case TUN_DNS_FILE:
		if (!cfg->rewrite_resolv_conf || !cfg->resolv_conf || !path_ok(cfg->resolv_conf) ||
		    !cfg->backup_dir || !path_ok(cfg->backup_dir))
			return false;
		snprintf(prog, cap, "%s", cfg->resolv_conf);
		return true;
	case TUN_DNS_NONE:
		break;
	}
	return false;
}

enum tun_dns_method tun_dns_pick(const struct tun_dns_cfg *cfg)
{
	static const enum tun_dns_method order[] = { TUN_DNS_RESOLVCONF, TUN_DNS_RESOLVECTL,
						     TUN_DNS_HOOK, TUN_DNS_FILE };
	bool resolved = cfg->resolved_probe && *cfg->resolved_probe &&
			access(cfg->resolved_probe, F_OK) == 0;
	char prog[TUN_PATH_MAX];

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if ((order[i] != TUN_DNS_RESOLVECTL || resolved) &&
		    method_prog(cfg, order[i], prog, sizeof(prog)))
			return order[i];
	return TUN_DNS_NONE;
}

int tun_dns_act_for(const struct tun_dns_cfg *cfg, enum tun_dns_method m, const char *ifname,
		    struct tun_dns_act *act)
{
	memset(act, 0, sizeof(*act));
	act->method = m;
	act->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DNS_TIMEOUT_MS;
	if (m == TUN_DNS_NONE)
		return 0;
	if (!method_prog(cfg, m, act->prog, sizeof(act->prog)) ||
	    (m == TUN_DNS_FILE &&
	     (tun_ifname_check(ifname) < 0 ||
	      (size_t)snprintf(act->backup, sizeof(act->backup), "%s/%s.resolv.conf",
			       cfg->backup_dir, ifname) >= sizeof(act->backup)))) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return 0;
}

/* ---- running a program ------------------------------------------------ */

static int wait_child(pid_t pid, unsigned timeout_ms, const char *prog)
{
	const struct timespec tick = { .tv_nsec = 5 * 1000 * 1000 };
	unsigned waited = 0;
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && waited < timeout_ms) {
		nanosleep(&tick, NULL);
		waited += 5;
	}
	if (r == 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		log_warn("dns: %s did not finish in %u ms, killed", prog, timeout_ms);
		errno = ETIMEDOUT;
		return -1;
	}
	if (r < 0)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		log_warn("dns: %s exited with status %d", prog, WEXITSTATUS(status));
	else
		log_warn("dns: %s killed by signal %d", prog, WTERMSIG(status));
	errno = EIO;
	return -1;
}

/* Feed `input` on stdin (through a socket: no SIGPIPE if it is not read). */
static void feed(int fd, const char *input)
{
	size_t left = input ? strlen(input) : 0;

	while (left) {
		ssize_t n = send(fd, input, left, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		input += n;
		left -= (size_t)n;
	}
	close(fd);
}

/*
 * The program starts with every signal unblocked and at its default
 * disposition, whatever ours are (blocked for signalfd, ignored in the
 * privileged helper).
 */
static int spawn_attr(posix_spawnattr_t *sa)
{
	sigset_t none, all;
	int err = posix_spawnattr_init(sa);

	if (err)
		return err;
	sigemptyset(&none);
	sigfillset(&all);
	err = posix_spawnattr_setsigmask(sa, &none);
	if (!err)
		err = posix_spawnattr_setsigdefault(sa, &all);
	if (!err)
		err = posix_spawnattr_setflags(sa, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (err)
		posix_spawnattr_destroy(sa);
	return err;
}

static int run(const struct tun_dns_act *act, char *const argv[], char *const envp[],
	       const char *input)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	int sv[2], err;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	err = posix_spawn_file_actions_init(&fa);
	if (!err) {
		err = spawn_attr(&sa);
		if (err)
			posix_spawn_file_actions_destroy(&fa);
	}
	if (err) {
		close(sv[0]);
		close(sv[1]);
		errno = err;
		return -1;
	}
	err = posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
	if (!err)	/* nothing may reach our stdout */
		err = posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	if (!err)
		err = posix_spawn(&pid, act->prog, &fa, &sa, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	close(sv[1]);
	if (err) {
		close(sv[0]);
		log_warn("dns: cannot run %s: %s", act->prog, strerror(err));
		errno = err;
		return -1;
	}
	feed(sv[0], input);
	return wait_child(pid, act->timeout_ms, act->prog);
}

/* Argument vectors and environment, built in caller-owned storage. */
struct cmd {
	char *argv[DNS_ARGV_MAX];
	size_t argc;
	char addrs[TUN_DNS_MAX][TUN_CIDR_STRLEN];
	char env[5][DNS_TEXT_MAX];
	char *envp[6];
};

static void cmd_arg(struct cmd *c, const char *s)
{
	if (c->argc < DNS_ARGV_MAX - 1)
		c->argv[c->argc++] = (char *)s;
	c->argv[c->argc] = NULL;
}

static void cmd_servers(struct cmd *c, const struct tun_dns_req *req)
{
	for (size_t i = 0; i < req->n_servers; i++)
		cmd_arg(c, tun_ip_fmt(&req->servers[i], c->addrs[i], sizeof(c->addrs[i])));
}

static void cmd_init(struct cmd *c, const struct tun_dns_act *act, const struct tun_dns_req *req)
{
	size_t off;

	memset(c, 0, sizeof(*c));
	cmd_arg(c, act->prog);
	snprintf(c->env[0], DNS_TEXT_MAX, "%s", SYS_PATH);
	snprintf(c->env[1], DNS_TEXT_MAX, "IKEAGENT_TUN=%s", req->ifname);
	snprintf(c->env[2], DNS_TEXT_MAX, "IKEAGENT_DOMAIN=%s", req->domain);
	snprintf(c->env[3], DNS_TEXT_MAX, "IKEAGENT_FULL_TUNNEL=%d", req->full_tunnel);
	off = (size_t)snprintf(c->env[4], DNS_TEXT_MAX, "IKEAGENT_DNS=");
	for (size_t i = 0; i < req->n_servers && off < DNS_TEXT_MAX; i++) {
		char a[TUN_CIDR_STRLEN];

		off += (size_t)snprintf(c->env[4] + off, DNS_TEXT_MAX - off, "%s%s", i ? " " : "",
					tun_ip_fmt(&req->servers[i], a, sizeof(a)));
	}
	for (size_t i = 0; i < 5; i++)
		c->envp[i] = c->env[i];
}

/* resolv.conf lines for these servers. */
static void resolv_text(const struct tun_dns_req *req, char *out, size_t cap)
{
	size_t off = 0;

	for (size_t i = 0; i < req->n_servers && off < cap; i++) {
		char a[TUN_CIDR_STRLEN];

		off += (size_t)snprintf(out + off, cap - off, "nameserver %s\n",
					tun_ip_fmt(&req->servers[i], a, sizeof(a)));
	}
	if (req->domain[0] && off < cap)
		snprintf(out + off, cap - off, "search %s\n", req->domain);
}

/* ---- methods ---------------------------------------------------------- */

static int resolvconf_run(const struct tun_dns_act *act, const struct tun_dns_req *req, bool up)
{
	char record[IFNAMSIZ + 16], text[DNS_TEXT_MAX];
	struct cmd c;

	cmd_init(&c, act, req);
	snprintf(record, sizeof(record), "%s.ikeagent", req->ifname);
	cmd_arg(&c, up ? "-a" : "-d");
	cmd_arg(&c, record);
	if (up)
		resolv_text(req, text, sizeof(text));
	return run(act, c.argv, c.envp, up ? text : NULL);
}

static int resolvectl_set(const struct tun_dns_act *act, const struct tun_dns_req *req)
{
	struct cmd c;

	cmd_init(&c, act, req);
	cmd_arg(&c, "dns");
	cmd_arg(&c, req->ifname);
	cmd_servers(&c, req);
	if (run(act, c.argv, c.envp, NULL) < 0)
		return -1;
	if (!req->full_tunnel && !req->domain[0])
		return 0;
	cmd_init(&c, act, req);
	cmd_arg(&c, "domain");
	cmd_arg(&c, req->ifname);
	if (req->full_tunnel)
		cmd_arg(&c, "~.");	/* every name resolves through the tunnel */
	if (req->domain[0])
		cmd_arg(&c, req->domain);
	if (run(act, c.argv, c.envp, NULL) < 0)
		return -1;
	if (req->full_tunnel)
		return 0;
	/* Split tunnel: only the tunnel's domain goes to its servers. */
	cmd_init(&c, act, req);
	cmd_arg(&c, "default-route");
	cmd_arg(&c, req->ifname);
	cmd_arg(&c, "no");
	return run(act, c.argv, c.envp, NULL);
}

static int resolvectl_revert(const struct tun_dns_act *act, const struct tun_dns_req *req)
{
	struct cmd c;

	cmd_init(&c, act, req);
	cmd_arg(&c, "revert");
	cmd_arg(&c, req->ifname);
	return run(act, c.argv, c.envp, NULL);
}

static int hook_run(const struct tun_dns_act *act, const struct tun_dns_req *req, bool up)
{
	struct cmd c;

	cmd_init(&c, act, req);
	cmd_arg(&c, up ? "up" : "down");
	cmd_arg(&c, req->ifname);
	cmd_servers(&c, req);
	return run(act, c.argv, c.envp, NULL);
}

/* ---- rewriting resolv.conf ---------------------------------------------- */

static int read_small(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	*len = 0;
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + *len, cap - *len)) > 0 && *len + (size_t)n < cap)
		*len += (size_t)n;
	close(fd);
	if (n > 0) {
		errno = EFBIG;
		return -1;
	}
	return n < 0 ? -1 : 0;
}

/* Write a file whole: to <path>.ikeagent-tmp, fsync, rename over path. */
static int write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[TUN_PATH_MAX + 16];
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.ikeagent-tmp", path);
	/* A fresh file, never one (or a link) someone left under that name. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		data += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	close(fd);
	if (rename(tmp, path) == 0)
		return 0;
	fd = -1;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = err;
	return -1;
}

static int file_set(const struct tun_dns_act *act, const struct tun_dns_req *req)
{
	char *old = malloc(RESOLV_MAX);
	char text[DNS_TEXT_MAX + 128];
	struct stat st;
	size_t len = 0, off;
	int ret = -1;

	if (!old)
		return -1;
	if (lstat(act->prog, &st) == 0 && S_ISLNK(st.st_mode)) {
		log_warn("dns: %s is a symlink (managed by another tool), not rewritten", act->prog);
		errno = EPERM;
		goto out;
	}
	/* Keep the old file first: the journal restores it from there. */
	if (read_small(act->prog, old, RESOLV_MAX, &len) < 0 && errno != ENOENT)
		goto out;
	if (write_atomic(act->backup, old, len) < 0)
		goto out;
	off = (size_t)snprintf(text, sizeof(text),
			       "# written by ikeagent for %s; the previous file comes back on exit\n",
			       req->ifname);
	resolv_text(req, text + off, sizeof(text) - off);
	ret = write_atomic(act->prog, text, strlen(text));
out:
	free(old);
	return ret;
}

static int file_restore(const struct tun_dns_act *act)
{
	char *old = malloc(RESOLV_MAX);
	size_t len;
	int ret = -1;

	if (!old)
		return -1;
	if (read_small(act->backup, old, RESOLV_MAX, &len) < 0) {
		/* No backup: the file was never rewritten. */
		ret = errno == ENOENT ? 0 : -1;
		goto out;
	}
	if (write_atomic(act->prog, old, len) == 0 && unlink(act->backup) == 0)
		ret = 0;
out:
	free(old);
	return ret;
}

/* ---- entry points ----------------------------------------------------- */

int tun_dns_set(const struct tun_dns_act *act, const struct tun_dns_req *req)
{
	if (tun_dns_req_check(req) < 0)
		return -1;
	switch (act->method) {
	case TUN_DNS_RESOLVCONF: return resolvconf_run(act, req, true);
	case TUN_DNS_RESOLVECTL: return resolvectl_set(act, req);
	case TUN_DNS_HOOK: return hook_run(act, req, true);
	case TUN_DNS_FILE: return file_set(act, req);
	case TUN_DNS_NONE: return 0;
	}
	errno = EINVAL;
	return -1;
}

int tun_dns_unset(const struct tun_dns_act *act, const struct tun_dns_req *req)
{
	if (tun_dns_req_check(req) < 0)
		return -1;
	switch (act->method) {
	case TUN_DNS_RESOLVCONF: return resolvconf_run(act, req, false);
	case TUN_DNS_RESOLVECTL: return resolvectl_revert(act, req);
	case TUN_DNS_HOOK: return hook_run(act, req, false);
	case TUN_DNS_FILE: return file_restore(act);
	case TUN_DNS_NONE: return 0;
	}
	errno = EINVAL;
	return -1;
}
