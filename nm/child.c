/*
 * Starting, watching and stopping ikeagent for nm-ikeagent-service.
 *
 * The secrets go through a pipe that ikeagent reads once at start
 * (--secrets-fd, nm/PROTOCOL.md): never on its command line (visible in
 * /proc) nor in a file. The child asks the kernel for SIGTERM when we die
 * (PR_SET_PDEATHSIG), so a killed service leaves no tunnel behind.
 */
#include "nm/child.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef IKEAGENT_SBIN
#define IKEAGENT_SBIN "/usr/local/sbin/ikeagent"
#endif

#define SECRETS_FD 3
#define LINE_MAX_LOGGED 2048

struct NmChild {
	GPid pid;
	guint watch_id; /* child watch */
	int err_fd;     /* read end of its stdout+stderr */
	guint err_id;   /* fd source */
	GString *partial;
	char *last;
	guint kill_id;
	gboolean exited;
	NmChildExit on_exit;
	gpointer user_data;
};

static pid_t parent_pid;

const char *nm_child_binary(void)
{
	const char *bin = g_getenv("IKEAGENT_BIN");

	return bin && *bin ? bin : IKEAGENT_SBIN;
}

GPid nm_child_pid(const NmChild *child)
{
	return child->exited ? 0 : child->pid;
}

const char *nm_child_last_line(const NmChild *child)
{
	return child->last ? child->last : "";
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static void child_setup(gpointer unused)
{
	/* The kernel sends SIGTERM when the thread that forked us ends... */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		_exit(127);
	/* ...unless it already has: then we were reparented before the prctl. */
	if (getppid() != parent_pid)
		_exit(127);
}

static void log_line(NmChild *child, const char *line)
{
	if (!*line)
		return;
	g_message("ikeagent: %s", line);
	g_free(child->last);
	child->last = g_strdup(line);
}

/* Logs every complete line of what was read; keeps a partial one for later. */
static void take_output(NmChild *child, const char *buf, gssize n)
{
	for (gssize i = 0; i < n; i++) {
		if (buf[i] == '\n' || child->partial->len >= LINE_MAX_LOGGED) {
			log_line(child, child->partial->str);
			g_string_truncate(child->partial, 0);
			if (buf[i] == '\n')
				continue;
		}
		g_string_append_c(child->partial, buf[i]);
	}
}

static void close_output(NmChild *child)
{
	if (child->err_id) {
		g_source_remove(child->err_id);
		child->err_id = 0;
	}
	if (child->err_fd >= 0) {
		close(child->err_fd);
		child->err_fd = -1;
	}
	log_line(child, child->partial->str);
	g_string_truncate(child->partial, 0);
}

/* Reads what is there now (non-blocking); FALSE at end of file or error. */
static gboolean read_output(NmChild *child)
{
	char buf[4096];
	gssize n;

	for (;;) {
		n = read(child->err_fd, buf, sizeof(buf));
		if (n > 0) {
			take_output(child, buf, n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static gboolean output_cb(gint fd, GIOCondition cond, gpointer user_data)
{
	NmChild *child = user_data;

	if (read_output(child))
		return G_SOURCE_CONTINUE;
	child->err_id = 0;
	close_output(child);
	return G_SOURCE_REMOVE;
}

static void exited_cb(GPid pid, gint status, gpointer user_data)
{
	NmChild *child = user_data;

	child->watch_id = 0;
	child->exited = TRUE;
	g_spawn_close_pid(pid);
	if (child->kill_id) {
		g_source_remove(child->kill_id);
		child->kill_id = 0;
	}
	/* Its last words may still be in the pipe (a helper of its own may hold
	 * the pipe open longer: read what is there, do not wait). */
	if (child->err_fd >= 0)
		(void)read_output(child);
	close_output(child);
	child->on_exit(child, status, child->user_data);
}

static char **child_env(void)
{
	char **env = g_get_environ();

	/* Its stderr is our pipe, not the journal's stream; and it is not a
	 * systemd service of its own. */
	env = g_environ_unsetenv(env, "JOURNAL_STREAM");
	env = g_environ_unsetenv(env, "NOTIFY_SOCKET");
	return env;
}

/* A pipe with the secrets in it, its write end closed: ikeagent reads to EOF. */
static int secrets_pipe(const char *secrets, gsize len, GError **error)
{
	int p[2];
	gsize off = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		goto fail;
	/* At most 4 KiB: fits in the pipe's buffer, so this never blocks. */
	while (off < len) {
		gssize n = write(p[1], secrets + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(p[0]);
			close(p[1]);
			goto fail;
		}
		off += (gsize)n;
	}
	close(p[1]);
	return p[0];
fail:
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		    "cannot pass the secrets to ikeagent: %s", g_strerror(errno));
	return -1;
}

NmChild *nm_child_start(const char *conf, const char *sock, const char *secrets, gsize len,
			NmChildExit on_exit, gpointer user_data, GError **error)
{
	const char *argv[] = { nm_child_binary(), "run", "-c", conf, "--socket", sock,
			       "--network", "report", "--secrets-fd", G_STRINGIFY(SECRETS_FD),
			       NULL };
	int source_fds[1], target_fds[1] = { SECRETS_FD };
	int errp[2] = { -1, -1 };
	char **env = NULL;
	NmChild *child;
	GPid pid;

	source_fds[0] = secrets_pipe(secrets, len, error);
	if (source_fds[0] < 0)
		return NULL;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot make a pipe for ikeagent's output: %s", g_strerror(errno));
		close(source_fds[0]);
		return NULL;
	}
	parent_pid = getpid();
	env = child_env();
	if (!g_spawn_async_with_pipes_and_fds(NULL, argv, (const char *const *)env,
					      G_SPAWN_DO_NOT_REAP_CHILD, child_setup, NULL, -1,
					      errp[1], errp[1], source_fds, target_fds, 1, &pid,
					      NULL, NULL, NULL, error)) {
		g_strfreev(env);
		close(source_fds[0]);
		close(errp[0]);
		close(errp[1]);
		return NULL;
	}
	g_strfreev(env);
	close(source_fds[0]);
	close(errp[1]);

	child = g_new0(NmChild, 1);
	child->pid = pid;
	child->err_fd = errp[0];
	child->partial = g_string_new(NULL);
	child->on_exit = on_exit;
	child->user_data = user_data;
	g_unix_set_fd_nonblocking(child->err_fd, TRUE, NULL);
	child->err_id = g_unix_fd_add(child->err_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, output_cb,
				      child);
	child->watch_id = g_child_watch_add(pid, exited_cb, child);
	g_message("started %s (pid %d) for %s", argv[0], (int)pid, conf);
	return child;
}

static gboolean kill_cb(gpointer user_data)
{
	NmChild *child = user_data;

	child->kill_id = 0;
	if (!child->exited) {
		g_warning("ikeagent (pid %d) did not stop after SIGTERM: SIGKILL", (int)child->pid);
		kill(child->pid, SIGKILL);
	}
	return G_SOURCE_REMOVE;
}

void nm_child_stop(NmChild *child, guint timeout_ms)
{
	if (child->exited || child->kill_id)
		return;
	kill(child->pid, SIGTERM);
	child->kill_id = g_timeout_add(timeout_ms, kill_cb, child);
}

void nm_child_reap_sync(NmChild *child, guint timeout_ms)
{
	if (!child->exited) {
		gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
		int status;
		pid_t r;

		if (child->watch_id)
			g_source_remove(child->watch_id);
		child->watch_id = 0;
		kill(child->pid, SIGTERM);
		while ((r = waitpid(child->pid, &status, WNOHANG)) == 0 &&
		       g_get_monotonic_time() < deadline)
			g_usleep(20 * 1000);
		if (r == 0) {
			g_warning("ikeagent (pid %d) did not stop after SIGTERM: SIGKILL",
				  (int)child->pid);
			kill(child->pid, SIGKILL);
			while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR)
				;
		}
		child->exited = TRUE;
		if (child->err_fd >= 0)
			(void)read_output(child);
	}
	nm_child_free(child);
}

void nm_child_free(NmChild *child)
{
	if (!child)
		return;
	if (child->watch_id)
		g_source_remove(child->watch_id);
	if (child->kill_id)
		g_source_remove(child->kill_id);
	close_output(child);
	g_string_free(child->partial, TRUE);
	g_free(child->last);
	g_free(child);
}
