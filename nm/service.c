/*
 * nm-ikeagent-service's plugin object: NetworkManager's Connect,
 * ConnectInteractive, NeedSecrets, NewSecrets and Disconnect for VPN type
 * "ikeagent", carried out by one ikeagent child per connection (the
 * contract is nm/PROTOCOL.md).
 *
 * Secrets: ikeagent reads them once, at start, from a pipe. So it is only
 * started once every secret the settings need is there: NeedSecrets names
 * what is missing (NetworkManager asks the user's agent before Connect);
 * with ConnectInteractive a secret still missing is asked for with
 * SecretsRequired and ikeagent starts on NewSecrets.
 *
 * Failures: one Failure signal with a reason NetworkManager can show (login
 * failed / connect failed / bad IP configuration), the cause in one line in
 * the log, then STOPPED. (libnm's nm_vpn_service_plugin_failure() while
 * still starting sends a second, generic Failure that overwrites the
 * first: we emit ours and set STOPPED ourselves.)
 */
#include "nm/service.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nm/child.h"
#include "nm/events.h"
#include "nm/props.h"

#define SOCKET_WAIT_MS 20000 /* for ikeagent's control socket to appear */
#define SOCKET_RETRY_MS 100
#define STOP_WAIT_MS 5000 /* SIGTERM -> SIGKILL */
#define EVENT_LINE_MAX 65536

typedef struct {
	NMVpnServicePlugin parent;

	gboolean debug;
	NmChild *child;
	char *dir; /* private, 0700: agent.conf and the control socket */
	char *conf_path, *sock_path;

	guint sock_timer;
	gint64 sock_deadline;
	int ev_fd;
	guint ev_id;
	GString *ev_buf;

	NMConnection *pending; /* ConnectInteractive waiting for NewSecrets */
	guint secrets_idle;

	char *last_ip; /* the ip event last passed on, to skip repeats */
	char *last_state;
	char *failure_kind;
	gboolean stopping, failed;
} NmIkeagentPlugin;

typedef struct {
	NMVpnServicePluginClass parent;
} NmIkeagentPluginClass;

GType nm_ikeagent_plugin_get_type(void);
G_DEFINE_TYPE(NmIkeagentPlugin, nm_ikeagent_plugin, NM_TYPE_VPN_SERVICE_PLUGIN)

#define SELF(p) G_TYPE_CHECK_INSTANCE_CAST((p), nm_ikeagent_plugin_get_type(), NmIkeagentPlugin)

static void close_events(NmIkeagentPlugin *self);

/* ---- the private directory -------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT)
		g_warning("cannot remove %s: %s", path, g_strerror(errno));
	return 0;
}

static void remove_dir(NmIkeagentPlugin *self)
{
	if (self->dir)
		(void)nftw(self->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	g_clear_pointer(&self->dir, g_free);
	g_clear_pointer(&self->conf_path, g_free);
	g_clear_pointer(&self->sock_path, g_free);
}

/* /run/nm-ikeagent-XXXXXX (mode 0700), or under $TMPDIR where /run is not ours. */
static gboolean make_dir(NmIkeagentPlugin *self, GError **error)
{
	const char *base = access("/run", W_OK) == 0 ? "/run" : g_get_tmp_dir();
	char *dir = g_build_filename(base, "nm-ikeagent-XXXXXX", NULL);
	struct sockaddr_un sun;

	if (!g_mkdtemp_full(dir, 0700)) {
		g_set_error(error, NM_VPN_PLUGIN_ERROR, NM_VPN_PLUGIN_ERROR_LAUNCH_FAILED,
			    "cannot make a private directory under %s: %s", base, g_strerror(errno));
		g_free(dir);
		return FALSE;
	}
	self->dir = dir;
	self->conf_path = g_build_filename(dir, "agent.conf", NULL);
	self->sock_path = g_build_filename(dir, "control.sock", NULL);
	if (strlen(self->sock_path) >= sizeof(sun.sun_path)) {
		g_set_error(error, NM_VPN_PLUGIN_ERROR, NM_VPN_PLUGIN_ERROR_LAUNCH_FAILED,
			    "socket path %s is too long (set TMPDIR shorter)", self->sock_path);
		remove_dir(self);
		return FALSE;
	}
	return TRUE;
}

static gboolean write_conf(NmIkeagentPlugin *self, const char *text, GError **error)
{
	size_t len = strlen(text), off = 0;
	int fd = open(self->conf_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	while (fd >= 0 && off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (fd < 0 || off < len || close(fd) < 0) {
		g_set_error(error, NM_VPN_PLUGIN_ERROR, NM_VPN_PLUGIN_ERROR_LAUNCH_FAILED,
			    "cannot write %s: %s", self->conf_path, g_strerror(errno));
		if (fd >= 0 && off < len)
			close(fd);
		return FALSE;
	}
	return TRUE;
}

/* ---- telling NetworkManager ----------------------------------------------------- */

static NMVpnServiceState plugin_state(NmIkeagentPlugin *self)
{
	NMVpnServiceState state = NM_VPN_SERVICE_STATE_UNKNOWN;

	g_object_get(self, NM_VPN_SERVICE_PLUGIN_STATE, &state, NULL);
	return state;
}

static const char *failure_name(NMVpnPluginFailure reason)
{
	switch (reason) {
	case NM_VPN_PLUGIN_FAILURE_LOGIN_FAILED:
		return "login failed";
	case NM_VPN_PLUGIN_FAILURE_BAD_IP_CONFIG:
		return "bad IP configuration";
	default:
		return "connect failed";
	}
}

/*
 * The one way a connection fails: the cause in the log, ikeagent stopped,
 * Failure(reason) and then STOPPED to NetworkManager.
 */
static void fail(NmIkeagentPlugin *self, NMVpnPluginFailure reason, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static void fail(NmIkeagentPlugin *self, NMVpnPluginFailure reason, const char *fmt, ...)
{
	NMVpnServiceState state = plugin_state(self);
	g_autoptr(GDBusConnection) bus = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *msg = NULL;
	va_list ap;

	if (self->failed || self->stopping)
		return;
	self->failed = TRUE;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_warning("VPN connection failed (%s): %s", failure_name(reason), msg);

	close_events(self);
	if (self->child)
		nm_child_stop(self->child, STOP_WAIT_MS);
	if (state != NM_VPN_SERVICE_STATE_STARTING && state != NM_VPN_SERVICE_STATE_STARTED)
		return;
	bus = nm_vpn_service_plugin_get_connection(NM_VPN_SERVICE_PLUGIN(self));
	if (bus && !g_dbus_connection_emit_signal(bus, NULL, NM_VPN_DBUS_PLUGIN_PATH,
						  NM_VPN_DBUS_PLUGIN_INTERFACE, "Failure",
						  g_variant_new("(u)", (guint32)reason), &error))
		g_warning("cannot send Failure to NetworkManager: %s", error->message);
	g_object_set(self, NM_VPN_SERVICE_PLUGIN_STATE, NM_VPN_SERVICE_STATE_STOPPED, NULL);
}

static NMVpnPluginFailure failure_of_kind(const char *kind)
{
	return g_strcmp0(kind, "auth") == 0 ? NM_VPN_PLUGIN_FAILURE_LOGIN_FAILED :
					      NM_VPN_PLUGIN_FAILURE_CONNECT_FAILED;
}

static void pass_on_ip(NmIkeagentPlugin *self, const char *line, const NmEvIp *ip)
{
	NMVpnServicePlugin *plugin = NM_VPN_SERVICE_PLUGIN(self);
	GVariant *config, *ip4, *ip6;
	g_autoptr(GError) error = NULL;

	if (g_strcmp0(self->last_ip, line) == 0)
		return;
	if (!nm_ev_ip_config(ip, &config, &ip4, &ip6, &error)) {
		fail(self, NM_VPN_PLUGIN_FAILURE_BAD_IP_CONFIG, "ikeagent reported an unusable IP "
		     "configuration: %s", error->message);
		return;
	}
	g_autofree char *a4 = *ip->address4 ? g_strdup_printf(" %s/%u", ip->address4, ip->prefix4) :
						g_strdup("");
	g_autofree char *a6 = *ip->address6 ? g_strdup_printf(" %s/%u", ip->address6, ip->prefix6) :
						g_strdup("");
	g_message("%s: tunnel %s over %s via gateway %s:%s%s (%s tunnel), mtu %u", ip->tundev,
		  self->last_ip ? "changed" : "up", ip->transport, ip->gateway, a4, a6,
		  ip->full4 || ip->full6 ? "full" : "split", ip->mtu);
	g_free(self->last_ip);
	self->last_ip = g_strdup(line);
	/* Config first: NetworkManager needs has-ip4/has-ip6 before the rest. */
	nm_vpn_service_plugin_set_config(plugin, config);
	if (ip4)
		nm_vpn_service_plugin_set_ip4_config(plugin, ip4);
	if (ip6)
		nm_vpn_service_plugin_set_ip6_config(plugin, ip6);
}

/* ---- ikeagent's events ------------------------------------------------------------ */

static void handle_event(NmIkeagentPlugin *self, const char *line)
{
	g_autoptr(GError) error = NULL;
	NmEv ev;

	if (!nm_ev_parse(line, &ev, &error)) {
		g_warning("ignoring an event from ikeagent (%s): %.200s", error->message, line);
		return;
	}
	switch (ev.type) {
	case NM_EV_STATE:
		g_message("ikeagent is %s: %s", ev.state, ev.why);
		if (strcmp(ev.state, "reconnecting") == 0 && self->last_ip)
			g_message("the tunnel is interrupted; ikeagent reconnects and the VPN "
				  "connection stays up meanwhile");
		g_free(self->last_state);
		self->last_state = g_strdup_printf("%s: %s", ev.state, ev.why);
		break;
	case NM_EV_FAILURE:
		g_free(self->failure_kind);
		self->failure_kind = g_strdup(ev.kind);
		fail(self, failure_of_kind(ev.kind), "%s (%s)", ev.why, ev.kind);
		break;
	case NM_EV_IP:
		pass_on_ip(self, line, &ev.ip);
		break;
	case NM_EV_OTHER:
		break;
	}
	nm_ev_clear(&ev);
}

static void close_events(NmIkeagentPlugin *self)
{
	if (self->sock_timer) {
		g_source_remove(self->sock_timer);
		self->sock_timer = 0;
	}
	if (self->ev_id) {
		g_source_remove(self->ev_id);
		self->ev_id = 0;
	}
	if (self->ev_fd >= 0) {
		close(self->ev_fd);
		self->ev_fd = -1;
	}
	g_string_truncate(self->ev_buf, 0);
}

static gboolean events_cb(gint fd, GIOCondition cond, gpointer user_data)
{
	NmIkeagentPlugin *self = user_data;
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		g_string_append_len(self->ev_buf, buf, n);
		for (char *nl; (nl = memchr(self->ev_buf->str, '\n', self->ev_buf->len));) {
			*nl = '\0';
			g_autofree char *line = g_strdup(self->ev_buf->str);
			g_string_erase(self->ev_buf, 0, nl + 1 - self->ev_buf->str);
			handle_event(self, line);
			if (self->ev_fd < 0) /* failed and closed while handling it */
				return G_SOURCE_REMOVE;
		}
		if (self->ev_buf->len > EVENT_LINE_MAX) {
			g_warning("ikeagent sent an event line longer than %d bytes: dropped",
				  EVENT_LINE_MAX);
			g_string_truncate(self->ev_buf, 0);
		}
	}
	if (n < 0 && errno == EAGAIN)
		return G_SOURCE_CONTINUE;
	/* ikeagent closes the stream when it exits; its exit status says the rest. */
	self->ev_id = 0;
	close_events(self);
	return G_SOURCE_REMOVE;
}

/* Retried every SOCKET_RETRY_MS until ikeagent's control socket answers. */
static gboolean sock_timer_cb(gpointer user_data)
{
	NmIkeagentPlugin *self = user_data;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	static const char cmd[] = "events\n";
	int fd;

	g_strlcpy(sun.sun_path, self->sock_path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		if (send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) == (ssize_t)strlen(cmd)) {
			self->sock_timer = 0;
			self->ev_fd = fd;
			g_unix_set_fd_nonblocking(fd, TRUE, NULL);
			self->ev_id = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, events_cb,
						    self);
			return G_SOURCE_REMOVE;
		}
	}
	if (fd >= 0)
		close(fd);
	if (g_get_monotonic_time() < self->sock_deadline)
		return G_SOURCE_CONTINUE;
	self->sock_timer = 0;
	fail(self, NM_VPN_PLUGIN_FAILURE_CONNECT_FAILED, "ikeagent did not answer on %s within "
	     "%d s: %s", self->sock_path, SOCKET_WAIT_MS / 1000, g_strerror(errno));
	return G_SOURCE_REMOVE;
}

/* ---- the child -------------------------------------------------------------------- */

static char *describe_exit(int status)
{
	if (WIFEXITED(status))
		return g_strdup_printf("exit status %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return g_strdup_printf("killed by signal %d (%s)", WTERMSIG(status),
				       strsignal(WTERMSIG(status)));
	return g_strdup_printf("wait status %d", status);
}

static void child_exited(NmChild *child, int status, gpointer user_data)
{
	NmIkeagentPlugin *self = user_data;
	g_autofree char *how = describe_exit(status);
	g_autofree char *last = g_strdup(nm_child_last_line(child));
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	nm_child_free(child);
	self->child = NULL;
	close_events(self);
	remove_dir(self);
	if (self->stopping || self->failed) {
		g_message("ikeagent stopped (%s)", how);
		return;
	}
	/* Exit codes: ikeagent(8) and nm/PROTOCOL.md. */
	switch (code) {
	case 2:
		fail(self, NM_VPN_PLUGIN_FAILURE_CONNECT_FAILED,
		     "ikeagent refused the configuration made from the connection's settings: %s",
		     last);
		break;
	case 3:
		fail(self, failure_of_kind(self->failure_kind),
		     "the gateway refused the connection: %s", last);
		break;
	case 0:
		fail(self, NM_VPN_PLUGIN_FAILURE_CONNECT_FAILED,
		     "ikeagent stopped on its own (was `ikeagent down` run?): %s", last);
		break;
	default:
		fail(self, NM_VPN_PLUGIN_FAILURE_CONNECT_FAILED,
		     "ikeagent ended unexpectedly (%s): %s", how, *last ? last : "(no output)");
		break;
	}
}

/* ---- connecting ------------------------------------------------------------------- */

/* The setting's data and secrets as key/value arrays (pointers into s_vpn). */
static void gather(NMSettingVpn *s_vpn, GArray *data, GArray *secrets)
{
	g_autofree const char **dkeys = nm_setting_vpn_get_data_keys(s_vpn, NULL);
	g_autofree const char **skeys = nm_setting_vpn_get_secret_keys(s_vpn, NULL);

	for (const char **k = dkeys; k && *k; k++) {
		struct nmprops_kv kv = { *k, nm_setting_vpn_get_data_item(s_vpn, *k) };
		g_array_append_val(data, kv);
	}
	for (const char **k = skeys; k && *k; k++) {
		struct nmprops_kv kv = { *k, nm_setting_vpn_get_secret(s_vpn, *k) };
		g_array_append_val(secrets, kv);
	}
}

typedef struct {
	GArray *data, *secrets;
	char *tun_name;
	struct nmprops_in in;
} Props;

static NMSettingVpn *props_init(Props *p, NMConnection *connection, NmIkeagentPlugin *self,
				GError **error)
{
	NMSettingVpn *s_vpn = nm_connection_get_setting_vpn(connection);

	memset(p, 0, sizeof(*p));
	if (!s_vpn) {
		g_set_error_literal(error, NM_VPN_PLUGIN_ERROR,
				    NM_VPN_PLUGIN_ERROR_INVALID_CONNECTION,
				    "the connection has no vpn setting");
		return NULL;
	}
	p->data = g_array_new(FALSE, FALSE, sizeof(struct nmprops_kv));
	p->secrets = g_array_new(FALSE, FALSE, sizeof(struct nmprops_kv));
	gather(s_vpn, p->data, p->secrets);
	/* Unique per connection: one service process runs one connection. */
	p->tun_name = g_strdup_printf("ikanm%u", (unsigned)getpid());
	p->in = (struct nmprops_in){
		.data = (const struct nmprops_kv *)(void *)p->data->data,
		.ndata = p->data->len,
		.secrets = (const struct nmprops_kv *)(void *)p->secrets->data,
		.nsecrets = p->secrets->len,
		.tun_name = p->tun_name,
		.state_dir = self->dir,
		.debug = self->debug,
	};
	return s_vpn;
}

static void props_clear(Props *p)
{
	if (p->data)
		g_array_free(p->data, TRUE);
	if (p->secrets)
		g_array_free(p->secrets, TRUE);
	g_free(p->tun_name);
	memset(p, 0, sizeof(*p));
}

/* All secrets are there: write agent.conf, start ikeagent, wait for its socket. */
static gboolean start(NmIkeagentPlugin *self, NMConnection *connection, GError **error)
{
	struct nmprops_out out = { 0 };
	char err[512];
	Props p;
	gboolean ok = FALSE;

	if (!make_dir(self, error))
		return FALSE;
	if (!props_init(&p, connection, self, error))
		goto done;
	if (nmprops_build(&p.in, &out, err, sizeof(err)) < 0) {
		g_warning("cannot connect '%s': %s", nm_connection_get_id(connection), err);
		g_set_error(error, NM_VPN_PLUGIN_ERROR, NM_VPN_PLUGIN_ERROR_BAD_ARGUMENTS, "%s", err);
		goto done;
	}
	if (!write_conf(self, out.conf, error))
		goto done;
	self->child = nm_child_start(self->conf_path, self->sock_path, out.secrets,
				     out.secrets_len, child_exited, self, error);
	if (!self->child)
		goto done;
	g_message("connecting '%s' to %s", nm_connection_get_id(connection),
		  nm_setting_vpn_get_data_item(nm_connection_get_setting_vpn(connection),
					       "gateway"));
	self->sock_deadline = g_get_monotonic_time() + SOCKET_WAIT_MS * 1000;
	self->sock_timer = g_timeout_add(SOCKET_RETRY_MS, sock_timer_cb, self);
	ok = TRUE;
done:
	nmprops_out_free(&out);
	props_clear(&p);
	if (!ok)
		remove_dir(self);
	return ok;
}

static void reset(NmIkeagentPlugin *self)
{
	close_events(self);
	if (self->child) /* a previous run still going (--persist): gone now */
		nm_child_reap_sync(self->child, STOP_WAIT_MS);
	self->child = NULL;
	remove_dir(self);
	g_clear_object(&self->pending);
	if (self->secrets_idle)
		g_source_remove(self->secrets_idle);
	self->secrets_idle = 0;
	g_clear_pointer(&self->last_ip, g_free);
	g_clear_pointer(&self->last_state, g_free);
	g_clear_pointer(&self->failure_kind, g_free);
	self->stopping = self->failed = FALSE;
}

static unsigned missing_secrets(NmIkeagentPlugin *self, NMConnection *connection)
{
	unsigned missing = 0;
	Props p;

	if (props_init(&p, connection, self, NULL))
		missing = nmprops_missing_secrets(&p.in);
	props_clear(&p);
	return missing;
}

/* Asks NetworkManager (and so the user's agent) for what is missing. */
static gboolean ask_secrets_cb(gpointer user_data)
{
	NmIkeagentPlugin *self = user_data;
	unsigned missing = missing_secrets(self, self->pending);
	const char *hints[4] = { NULL };
	size_t n = 0;

	self->secrets_idle = 0;
	for (unsigned bit = 1; bit <= NMPROPS_PROXY_PASSWORD; bit <<= 1)
		if (missing & bit)
			hints[n++] = nmprops_secret_name(bit);
	g_autofree char *names = g_strjoinv(", ", (char **)hints);
	g_autofree char *msg = g_strdup_printf("The VPN connection needs: %s.", names);

	g_message("asking NetworkManager for %s", names);
	nm_vpn_service_plugin_secrets_required(NM_VPN_SERVICE_PLUGIN(self), msg, hints);
	return G_SOURCE_REMOVE;
}

static gboolean connect_common(NMVpnServicePlugin *plugin, NMConnection *connection,
			       gboolean interactive, GError **error)
{
	NmIkeagentPlugin *self = SELF(plugin);

	reset(self);
	if (interactive && missing_secrets(self, connection)) {
		self->pending = g_object_ref(connection);
		self->secrets_idle = g_idle_add(ask_secrets_cb, self);
		return TRUE;
	}
	return start(self, connection, error);
}

static gboolean real_connect(NMVpnServicePlugin *plugin, NMConnection *connection,
			     GError **error)
{
	return connect_common(plugin, connection, FALSE, error);
}

static gboolean real_connect_interactive(NMVpnServicePlugin *plugin, NMConnection *connection,
					 GVariant *details, GError **error)
{
	return connect_common(plugin, connection, TRUE, error);
}

static gboolean real_need_secrets(NMVpnServicePlugin *plugin, NMConnection *connection,
				  const char **setting_name, GError **error)
{
	if (!nm_connection_get_setting_vpn(connection)) {
		g_set_error_literal(error, NM_VPN_PLUGIN_ERROR,
				    NM_VPN_PLUGIN_ERROR_INVALID_CONNECTION,
				    "the connection has no vpn setting");
		return FALSE;
	}
	if (!missing_secrets(SELF(plugin), connection))
		return FALSE;
	*setting_name = NM_SETTING_VPN_SETTING_NAME;
	return TRUE;
}

static gboolean real_new_secrets(NMVpnServicePlugin *plugin, NMConnection *connection,
				 GError **error)
{
	NmIkeagentPlugin *self = SELF(plugin);

	if (!self->pending || self->child) {
		g_set_error_literal(error, NM_VPN_PLUGIN_ERROR, NM_VPN_PLUGIN_ERROR_WRONG_STATE,
				    "no secrets were asked for");
		return FALSE;
	}
	g_clear_object(&self->pending);
	/* Still missing one: start() names it (BAD_ARGUMENTS) rather than ask forever. */
	return start(self, connection, error);
}

static gboolean real_disconnect(NMVpnServicePlugin *plugin, GError **error)
{
	NmIkeagentPlugin *self = SELF(plugin);

	g_message("disconnecting%s%s%s", self->last_state ? " (ikeagent was " : "",
		  self->last_state ? self->last_state : "", self->last_state ? ")" : "");
	self->stopping = TRUE;
	g_clear_object(&self->pending);
	close_events(self);
	if (self->child)
		nm_child_stop(self->child, STOP_WAIT_MS);
	else
		remove_dir(self);
	return TRUE;
}

void nm_ikeagent_plugin_cleanup(NMVpnServicePlugin *plugin)
{
	NmIkeagentPlugin *self = SELF(plugin);

	self->stopping = TRUE;
	close_events(self);
	if (self->child)
		nm_child_reap_sync(self->child, STOP_WAIT_MS);
	self->child = NULL;
	remove_dir(self);
}

static void nm_ikeagent_plugin_init(NmIkeagentPlugin *self)
{
	self->ev_fd = -1;
	self->ev_buf = g_string_new(NULL);
}

static void dispose(GObject *object)
{
	NmIkeagentPlugin *self = SELF(object);

	G_OBJECT_CLASS(nm_ikeagent_plugin_parent_class)->dispose(object);
	nm_ikeagent_plugin_cleanup(NM_VPN_SERVICE_PLUGIN(self));
	g_clear_object(&self->pending);
	if (self->secrets_idle)
		g_source_remove(self->secrets_idle);
	self->secrets_idle = 0;
}

static void finalize(GObject *object)
{
	NmIkeagentPlugin *self = SELF(object);

	g_string_free(self->ev_buf, TRUE);
	g_free(self->last_ip);
	g_free(self->last_state);
	g_free(self->failure_kind);
	G_OBJECT_CLASS(nm_ikeagent_plugin_parent_class)->finalize(object);
}

static void nm_ikeagent_plugin_class_init(NmIkeagentPluginClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	NMVpnServicePluginClass *plugin_class = NM_VPN_SERVICE_PLUGIN_CLASS(klass);

	object_class->dispose = dispose;
	object_class->finalize = finalize;
	plugin_class->connect = real_connect;
	plugin_class->connect_interactive = real_connect_interactive;
	plugin_class->need_secrets = real_need_secrets;
	plugin_class->new_secrets = real_new_secrets;
	plugin_class->disconnect = real_disconnect;
}

NMVpnServicePlugin *nm_ikeagent_plugin_new(const char *bus_name, gboolean watch_peer,
					   gboolean debug, GError **error)
{
	NmIkeagentPlugin *self;

	self = g_initable_new(nm_ikeagent_plugin_get_type(), NULL, error,
			      NM_VPN_SERVICE_PLUGIN_DBUS_SERVICE_NAME, bus_name,
			      NM_VPN_SERVICE_PLUGIN_DBUS_WATCH_PEER, watch_peer, NULL);
	if (self)
		self->debug = debug;
	return self ? NM_VPN_SERVICE_PLUGIN(self) : NULL;
}
