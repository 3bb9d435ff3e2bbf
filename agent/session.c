/*
 * The connection's life: connect, the IKE SA's callbacks, the network setup
 * on the first Child SA, reconnects with back-off, and a clean shutdown
 * (DELETE, then every journaled change undone).
 *
 * The IKE SA calls back into us from inside ike_sa_input()/ike_sa_tick();
 * anything that would free it or stop the loop is deferred to t_event,
 * which runs from the loop once the call has returned.
 */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/cmd.h"
#include "agent/session.h"
#include "util/log.h"
#include "util/sdnotify.h"

/* ---- deferred work and the IKE timer -------------------------------------- */

void session_defer(struct session *s)
{
	loop_timer_arm(s->loop, &s->t_event, 0);
}

/* ---- the session's state: one setter, and what systemd is told ------------ */

void session_note(struct session *s, const char *fmt, ...)
{
	char text[SESSION_NOTE_MAX];
	va_list ap;

	if (!sdnotify_enabled())
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sdnotify_status("%s: %s", session_state_name(s->state), text);
}

/* ---- events for the `events` listeners (nm/PROTOCOL.md) ---------------------- */

static void emit_state(struct session *s, const char *state, const char *why)
{
	char line[512];

	if (status_event_state(state, why, line, sizeof(line)) == 0)
		ctl_broadcast(s->ctl, line);
}

void session_emit_ip(struct session *s)
{
	char line[CTL_REPLY_MAX];

	if (status_event_ip(s, line, sizeof(line)) == 0)
		ctl_broadcast(s->ctl, line);
	else
		log_warn("ctl: the ip event does not fit %d bytes; not sent", CTL_REPLY_MAX);
}

void session_emit_failure(struct session *s, const char *kind, const char *why)
{
	char line[512];

	if (status_event_failure(kind, why, line, sizeof(line)) == 0)
		ctl_broadcast(s->ctl, line);
}

void session_set_state(struct session *s, enum session_state st, const char *why)
{
	/* (The first state needs no line: "agent: connecting to ..." says it.) */
	if (s->state_set && st != s->state)
		log_info("agent: %s -> %s (%s)", session_state_name(s->state),
			 session_state_name(st), why);
	else if (s->state_set)
		log_info("agent: still %s (%s)", session_state_name(st), why);
	s->state = st;
	s->state_set = true;
	snprintf(s->state_why, sizeof(s->state_why), "%s", why);
	if (st == SESS_CLOSING)
		sdnotify_send("STOPPING=1");
	session_note(s, "%s", why);
	emit_state(s, session_state_name(st), why);
}

static void request_down(struct session *s, const char *why, int code)
{
	if (!s->down_pending && s->state != SESS_CLOSING) {
		log_info("agent: %s, disconnecting", why);
		snprintf(s->down_why, sizeof(s->down_why), "%s", why);
	}
	if (code && !s->exit_code)
		s->exit_code = code;
	s->down_pending = true;
	session_defer(s);
}

static void rearm_ike(struct session *s)
{
	uint64_t dl = s->ike ? ike_sa_next_deadline(s->ike) : 0, now = loop_now_ms();

	if (!dl) {
		loop_timer_disarm(s->loop, &s->t_ike);
		return;
	}
	loop_timer_arm(s->loop, &s->t_ike, dl > now ? dl - now : 0);
}

void session_rearm_ike(struct session *s)
{
	rearm_ike(s);
}

/*
 * After a suspend the network, the NAT mapping, the TCP connection or the
 * gateway's SA may be gone: look at the route now (a move if it changed),
 * else check now rather than after `dpd`. Behind a NAT with MOBIKE the
 * check is an UPDATE_SA_ADDRESSES: the NAT may have given us a new port,
 * which the gateway learns only from that (RFC 4555 §3.5). A pending
 * reconnect goes ahead at once rather than after the rest of its back-off.
 */
static void on_resume(void *ctx, uint64_t slept_ms)
{
	struct session *s = ctx;
	uint64_t now = loop_now_ms();

	log_info("agent: the system slept for %.1f s; checking the network and the gateway now",
		 slept_ms / 1000.0);
	if (s->state == SESS_RECONNECTING && loop_timer_armed(&s->t_reconnect)) {
		loop_timer_arm(s->loop, &s->t_reconnect, 0);
		return;
	}
	if (s->state != SESS_ESTABLISHED || !s->ike)
		return;
	if (s->cfg->tunnel.roam)
		roam_check(s, "resumed from a suspend");
	if (race_active(s) || s->state != SESS_ESTABLISHED || !s->ike)
		return;	/* a move (or a new IKE SA) is under way: it is the check */
	if (ike_sa_mobike(s->ike) && ike_sa_nat_detected(s->ike) && s->path) {
		session_ike_addrs(s, s->path);
		if (ike_sa_move(s->ike, now) == 0) {
			log_info("agent: behind a NAT: telling the gateway our address again");
			rearm_ike(s);
			return;
		}
	}
	ike_sa_check_liveness(s->ike, now, "resumed from a suspend");
	rearm_ike(s);
}

static void on_ike_timer(void *ctx)
{
	struct session *s = ctx;

	if (s->ike)
		ike_sa_tick(s->ike, loop_now_ms());
	rearm_ike(s);
}

void session_rekey_child(struct session *s)
{
	if (!s->ike)
		return;
	log_info("esp: outbound sequence numbers near their end, rekeying the Child SA");
	ike_sa_rekey_child(s->ike, loop_now_ms());
	rearm_ike(s);
}

/* ---- the IKE SA's callbacks ---------------------------------------------- */

/*
 * The exchanges behind us (IKE_SA_INIT, IKE_AUTH, a CREATE_CHILD_SA) freed
 * their scratch: give glibc's free heap pages back to the kernel now,
 * while the tunnel sits idle until the next rekey (bench: ~60 kB of the
 * idle anonymous memory, measured with cmd_run's fixed mmap threshold).
 */
static void heap_give_back(void)
{
	(void)malloc_trim(0);
}

static void announce(struct session *s)
{
	struct status_info si;
	char routes[512], dns[512];
	uint64_t now = loop_now_ms();

	if (s->announced || !s->ike || ike_sa_state(s->ike) != IKE_SA_ESTABLISHED || !s->net.up ||
	    !dp_child_current(s))
		return;
	s->announced = true;
	s->up_since_ms = now;
	status_collect(s, &si);
	log_info("tunnel up: virtual IP %s%s%s, routes %s, dns %s%s%s (%llu ms)",
		 si.virtual_ip[0] ? si.virtual_ip : "none", si.virtual_ip6[0] ? " and " : "",
		 si.virtual_ip6,
		 status_join(si.routes, si.n_routes, routes, sizeof(routes)),
		 status_join(si.dns, si.n_dns, dns, sizeof(dns)), si.n_dns ? " via " : "",
		 si.n_dns ? tun_dns_method_name(s->net.dns_method) : "",
		 (unsigned long long)(now - s->attempt_ms));
	/* The tunnel carries traffic from here on: what Type=notify waits for. */
	if (!s->ready_sent) {
		s->ready_sent = true;
		sdnotify_send("READY=1");
	}
	session_note(s, "up over %s%s %s, virtual IP %s", si.transport, si.proxy ? " via proxy" : "",
		     si.remote, si.virtual_ip[0] ? si.virtual_ip : "none");
	heap_give_back();
}

void session_child_up(struct session *s, const struct ike_child_info *ci)
{
	if (s->state == SESS_CLOSING)
		return;
	/* ESP is always encapsulated: UDP on the NAT-T port, or the path's stream. */
	if (s->path)
		path_float(s->path);
	if ((!ci->rekey || !s->net.up) && netsetup_ensure(s, ci) < 0) {
		snprintf(s->last_error, sizeof(s->last_error), "network setup failed: %s",
			 strerror(errno));
		request_down(s, "tun setup failed", CMD_EXIT_RUNTIME);
		return;
	}
	if (dp_child_install(s, ci) < 0)
		return;
	if (ci->rekey) {
		s->st.rekeys++;
		heap_give_back();
	}
	announce(s);
}

void session_ike_state(struct session *s, enum ike_sa_state now)
{
	if (now == IKE_SA_ESTABLISHED) {
		if (s->state != SESS_CLOSING)
			session_set_state(s, SESS_ESTABLISHED, "IKE SA established");
		s->ever_up = true;
		s->backoff_ms = 0;
		s->unverified_refusals = 0;
		s->last_error[0] = '\0';
		s->close_ike_port = true;	/* IKE_AUTH answered: port 500 is done */
		session_defer(s);
		announce(s);
	} else if (now == IKE_SA_DEAD) {
		s->dead_pending = true;
		session_defer(s);
	}
}

/* ---- connect, disconnect, reconnect ------------------------------------------ */

/* The race (agent/race.c) makes the IKE SA over the first path up; the winner becomes s->path. */
static int session_connect(struct session *s)
{
	enum config_transport order[CONFIG_MAX_TRANSPORTS];
	unsigned n;
	char err[256];

	s->attempt_ms = loop_now_ms();
	s->announced = false;
	/* The IKE SA's template; session_ike_start() adds the first path's addresses. */
	if (cfgmap_ike(s->cfg, NULL, NULL, &s->ike_cfg, err, sizeof(err)) < 0) {
		log_err("agent: %s", err);
		return -1;
	}
	s->ike_cfg.trust = s->trust;
	s->ike_cfg.cred = s->cfg->auth.method == CONFIG_AUTH_PUBKEY ? s->cred : NULL;
	if (s->cfg->auth.method == CONFIG_AUTH_EAP) {
		s->ike_cfg.eap = &s->login.cfg;
		s->ike_cfg.eap_unverified = s->cfg->auth.insecure;
	}
	n = roam_order(s, order);
	s->roam.probe_ms = 0;
	return race_start(s, RACE_INIT, order, n, NULL, "race");
}

/* IKE SA, ESP SAs and sockets go; the tun and its setup stay. */
static void session_disconnect(struct session *s)
{
	loop_timer_disarm(s->loop, &s->t_ike);
	loop_timer_disarm(s->loop, &s->roam.t_udp_probe);
	race_stop(s);
	path_free(s->path);	/* its sockets or stream */
	s->path = NULL;
	ike_sa_free(s->ike);
	s->ike = NULL;
	dp_children_free(s);
	memset(&s->ike_cfg, 0, sizeof(s->ike_cfg));
	s->announced = false;
	s->up_since_ms = 0;
}

static void schedule_reconnect(struct session *s)
{
	uint32_t max = s->cfg->tunnel.reconnect_max_delay_ms;
	char why[SESSION_NOTE_MAX];

	if (!s->backoff_ms)
		s->backoff_ms = SESSION_BACKOFF_MIN_MS;
	else
		s->backoff_ms = s->backoff_ms > max / 2 ? max : s->backoff_ms * 2;
	snprintf(why, sizeof(why), "%s; next attempt in %.1fs",
		 s->last_error[0] ? s->last_error : "not connected", s->backoff_ms / 1000.0);
	session_set_state(s, SESS_RECONNECTING, why);
	loop_timer_arm(s->loop, &s->t_reconnect, s->backoff_ms);
}

static void on_reconnect(void *ctx)
{
	struct session *s = ctx;

	s->st.reconnects++;
	log_info("agent: reconnecting to %s (attempt after %.1fs back-off)",
		 s->cfg->gateway.address, s->backoff_ms / 1000.0);
	if (session_connect(s) < 0) {
		session_disconnect(s);
		schedule_reconnect(s);
	}
}

void session_restart(struct session *s, const char *why)
{
	log_warn("agent: %s; setting up a new IKE SA now", why);
	session_disconnect(s);
	s->st.reconnects++;
	session_set_state(s, SESS_RECONNECTING, why);
	if (session_connect(s) < 0) {
		session_disconnect(s);
		schedule_reconnect(s);
	}
}

static void finish(struct session *s)
{
	session_disconnect(s);
	netsetup_down(s, false);
	emit_state(s, "stopped", s->down_why[0] ? s->down_why : s->last_error);
	loop_stop(s->loop);
}

/* Not refused: try again later (the race starts over from the first transport). */
static void connection_lost(struct session *s)
{
	log_warn("agent: connection lost: %s", s->last_error);
	session_disconnect(s);
	if (!s->cfg->tunnel.reconnect) {
		fprintf(stderr, "ikeagent: %s (reconnect = no)\n", s->last_error);
		session_emit_failure(s, "connect", s->last_error);
		s->exit_code = CMD_EXIT_RUNTIME;
		finish(s);
		return;
	}
	schedule_reconnect(s);
}

/*
 * IKE_FAIL_UNVERIFIED (an error anyone on the path could have sent) and
 * timeouts are retried. An error in IKE_AUTH before the gateway proved
 * itself (*_UNVERIFIED: from whoever answered our IKE_SA_INIT) is retried
 * with a new IKE SA, and believed once SESSION_UNVERIFIED_REFUSALS
 * attempts in a row ended with it: a wrong PSK must still end in a clear
 * "refused", and an attacker who can answer every IKE_SA_INIT could as
 * well drop every packet.
 */
static bool fail_is_fatal(struct session *s, enum ike_sa_fail f)
{
	if (f == IKE_FAIL_AUTH_UNVERIFIED || f == IKE_FAIL_PEER_UNVERIFIED) {
		if (++s->unverified_refusals < SESSION_UNVERIFIED_REFUSALS) {
			log_warn("ike: refused before the gateway authenticated (%u of %u in a row "
				 "before believing it): trying again", s->unverified_refusals,
				 SESSION_UNVERIFIED_REFUSALS);
			return false;
		}
		return true;
	}
	s->unverified_refusals = 0;
	return f == IKE_FAIL_AUTH || f == IKE_FAIL_PEER_ERROR || f == IKE_FAIL_PROTOCOL;
}

static void handle_dead(struct session *s)
{
	enum ike_sa_fail why = ike_sa_failure(s->ike);

	snprintf(s->last_error, sizeof(s->last_error), "%s", ike_sa_failure_text(s->ike));
	if (s->state == SESS_CLOSING) {
		finish(s);
		return;
	}
	if (!s->ever_up && fail_is_fatal(s, why)) {
		bool auth = why == IKE_FAIL_AUTH || why == IKE_FAIL_AUTH_UNVERIFIED;
		const char *pfx = auth ? "auth: " : "";

		if (why == IKE_FAIL_AUTH_UNVERIFIED || why == IKE_FAIL_PEER_UNVERIFIED)
			snprintf(s->last_error + strlen(s->last_error),
				 sizeof(s->last_error) - strlen(s->last_error), ", %u times in a row",
				 s->unverified_refusals);
		log_err("ike: connection refused: %s%s", pfx, s->last_error);
		fprintf(stderr, "ikeagent: %s%s\n", pfx, s->last_error);
		session_emit_failure(s, auth ? "auth" : "peer", s->last_error);
		s->exit_code = CMD_EXIT_REFUSED;
		finish(s);
		return;
	}
	connection_lost(s);
}

static void shutdown_start(struct session *s)
{
	loop_timer_disarm(s->loop, &s->t_reconnect);
	if (s->state == SESS_CLOSING) {
		finish(s);	/* asked twice: do not wait for the gateway */
		return;
	}
	session_set_state(s, SESS_CLOSING, s->down_why);
	if (s->ike && ike_sa_state(s->ike) == IKE_SA_ESTABLISHED &&
	    ike_sa_delete(s->ike, loop_now_ms()) == 0) {
		rearm_ike(s);
		loop_timer_arm(s->loop, &s->t_close, SESSION_CLOSE_WAIT_MS);
		return;
	}
	finish(s);
}

static void on_close_timeout(void *ctx)
{
	struct session *s = ctx;

	log_warn("ike: no answer to DELETE in %u ms, closing anyway", SESSION_CLOSE_WAIT_MS);
	finish(s);
}

static void start_first(struct session *s);

static void on_event(void *ctx)
{
	struct session *s = ctx;

	start_first(s);	/* nothing if it is not awaited */
	if (s->close_ike_port) {
		s->close_ike_port = false;
		if (s->path)
			path_close_ike_port(s->path);
	}
	if (s->restart_pending) {
		s->restart_pending = false;
		if (s->state != SESS_CLOSING)
			session_restart(s, s->last_error);
	}
	if (s->recheck_pending) {
		s->recheck_pending = false;
		roam_check(s, "the network changed during the move");
	}
	if (s->dead_pending) {
		s->dead_pending = false;
		if (s->ike)
			handle_dead(s);
	}
	if (s->transport_failed) {
		s->transport_failed = false;
		if (s->state == SESS_CLOSING)
			finish(s);
		else
			connection_lost(s);
	}
	if (s->down_pending) {
		s->down_pending = false;
		shutdown_start(s);
	}
}

void session_transport_failed(struct session *s, const char *why)
{
	snprintf(s->last_error, sizeof(s->last_error), "%.150s", why);
	s->transport_failed = true;
	session_defer(s);
}

/* After each round of the loop: the path may have changed (a race won, a move). */
static void on_round(void *ctx)
{
	struct session *s = ctx;

	if (dp_tx_sync(s) < 0)
		session_tun_failed(s, errno);
}

void session_tun_failed(struct session *s, int err)
{
	s->tun_active = false;
	(void)dp_tx_sync(s);	/* an error would wake us forever */
	snprintf(s->last_error, sizeof(s->last_error), "tun %s failed: %s", s->tun.name,
		 strerror(err));
	log_err("tun: %s failed: %s", s->tun.name, strerror(err));
	request_down(s, "tun device lost", CMD_EXIT_RUNTIME);
}

/* ---- signals and control requests ------------------------------------------- */

static void on_signal(void *ctx, int signo)
{
	struct session *s = ctx;

	if (signo == SIGHUP) {
		log_info("agent: SIGHUP ignored");
		return;
	}
	request_down(s, signo == SIGINT ? "SIGINT" : "SIGTERM", 0);
}

/*
 * The first attempt, once nothing is awaited any more: the password (from
 * the control socket), a driver's events listener (--network report).
 */
static void start_first(struct session *s)
{
	if (login_waiting(s) || s->await_listener || s->state != SESS_CONNECTING || s->ike ||
	    race_active(s) || loop_timer_armed(&s->t_reconnect))
		return;
	if (session_connect(s) == 0)
		return;
	session_disconnect(s);
	if (!s->cfg->tunnel.reconnect) {
		snprintf(s->last_error, sizeof(s->last_error), "cannot connect to %s",
			 s->cfg->gateway.address);
		fprintf(stderr, "ikeagent: %s\n", s->last_error);
		session_emit_failure(s, "connect", s->last_error);
		s->exit_code = CMD_EXIT_RUNTIME;
		finish(s);
		return;
	}
	schedule_reconnect(s);
}

static void on_listener_late(void *ctx)
{
	struct session *s = ctx;

	log_warn("agent: no events listener after %d ms (--network report); connecting anyway",
		 SESSION_LISTENER_WAIT_MS);
	s->await_listener = false;
	start_first(s);
}

static int on_ctl(void *ctx, const char *req, char *reply, size_t cap)
{
	struct session *s = ctx;
	struct status_info si;
	const char *arg;
	int code;
	size_t n;

	switch (ctl_request_parse(req, &arg)) {
	case CTL_REQ_PING:
		snprintf(reply, cap, "pong\n");
		return 0;
	case CTL_REQ_STATUS:
	case CTL_REQ_STATUS_JSON:
		status_collect(s, &si);
		if ((req[6] ? status_json(&si, reply, cap) : status_text(&si, reply, cap)) < 0)
			log_warn("ctl: status reply truncated");
		return 0;
	case CTL_REQ_PASSWORD:
		code = login_ctl_password(s, arg, reply, cap);
		start_first(s);
		return code;
	case CTL_REQ_EVENTS:
		/* the state now, and the IP configuration if the tunnel is up */
		if (status_event_state(session_state_name(s->state), s->state_why, reply, cap) < 0)
			return 1;
		n = strlen(reply);
		if (s->net.up && status_event_ip(s, reply + n, cap - n) < 0)
			reply[n] = '\0';
		if (s->await_listener) {
			s->await_listener = false;
			loop_timer_disarm(s->loop, &s->t_listener);
			session_defer(s);	/* after this reply: the listener sees every event */
		}
		return CTL_SUBSCRIBE;
	case CTL_REQ_DOWN:
		snprintf(reply, cap, "disconnecting\n");
		request_down(s, "down requested", 0);
		return 0;
	case CTL_REQ_UNKNOWN:
		break;
	}
	snprintf(reply, cap, "unknown request '%.32s' (ping, status, status json, events, down, password)\n",
		 req);
	return 2;
}

/* ---- run ------------------------------------------------------------------- */

static void on_watchdog(void *ctx)
{
	struct session *s = ctx;

	sdnotify_send("WATCHDOG=1");
	loop_timer_arm(s->loop, &s->t_watchdog, sdnotify_watchdog_ms() / 2);
}

/* -1 with rc set: a configuration error (2) or a failure to start (1). */
static int session_open(struct session *s, const struct config *cfg, const char *ctl_path,
			int *rc)
{
	char err[256];
	gid_t group;

	*rc = CMD_EXIT_RUNTIME;
	s->cfg = cfg;
	s->ctl_path = ctl_path;
	s->tun.fd = -1;
	s->tx_udp_fd = -1;
	s->start_ms = loop_now_ms();
	s->loop = loop_new();
	s->race = race_new(s);
	s->tls_cache = stream_tls_cache_new();
	if (!s->loop || !s->race || !s->tls_cache ||
	    dp_init(&s->dp, cfg->tunnel.mtu ? cfg->tunnel.mtu : SESSION_MTU_UDP, cfg->tunnel.offload) < 0) {
		fprintf(stderr, "ikeagent: out of memory\n");
		return -1;
	}
	s->penv = (struct path_env){
		.loop = s->loop, .cfg = cfg, .tls_cache = s->tls_cache,
		.own = &session_path_owner, .ctx = s,
		.rx = s->dp.rx, .rx_len = s->dp.rx_len, .rx_seg = s->dp.rx_seg, .rx_n = s->dp.rx_n,
		.rx_cap = s->dp.rx_cap,
		.tx = s->dp.ike_tx,
	};
	loop_timer_init(&s->t_ike, "ike", on_ike_timer, s);
	loop_timer_init(&s->t_event, "event", on_event, s);
	loop_timer_init(&s->t_reconnect, "reconnect", on_reconnect, s);
	loop_timer_init(&s->t_close, "close", on_close_timeout, s);
	loop_timer_init(&s->t_watchdog, "watchdog", on_watchdog, s);
	loop_timer_init(&s->t_listener, "listener", on_listener_late, s);
	loop_timer_init(&s->t_linger, "linger", dp_linger_timer, s);
	tun_dns_cfg_default(&s->dns);
	s->dns.hook = cfg->agent.dns_hook;
	s->dns.backup_dir = cfg->agent.state_dir;
	/* Connected now, while the socket is surely within reach. */
	if (sdnotify_init() < 0)
		log_warn("agent: NOTIFY_SOCKET is set but unusable (%s): systemd will not hear "
			 "from us", strerror(errno));
	if (sdnotify_watchdog_ms())
		loop_timer_arm(s->loop, &s->t_watchdog, sdnotify_watchdog_ms() / 2);
	if (loop_watch_signals(s->loop, on_signal, s) < 0) {
		fprintf(stderr, "ikeagent: cannot watch signals: %s\n", strerror(errno));
		return -1;
	}
	loop_on_round(s->loop, on_round, s);
	if (loop_watch_resume(s->loop, on_resume, s) < 0)
		log_warn("agent: cannot watch for resumes from suspend (%s): after one, the gateway "
			 "is checked after `dpd`", strerror(errno));
	if (drop_socket_group(cfg, &group, err, sizeof(err)) < 0) {
		fprintf(stderr, "ikeagent: %s\n", err);
		*rc = CMD_EXIT_USAGE;
		return -1;
	}
	s->ctl = ctl_server_open(s->loop, ctl_path, group, on_ctl, s);
	if (!s->ctl) {
		if (errno == EADDRINUSE)
			fprintf(stderr, "ikeagent: another ikeagent is running (it answers on %s)\n",
				ctl_path);
		else
			fprintf(stderr, "ikeagent: cannot open control socket %s: %s\n", ctl_path,
				strerror(errno));
		return -1;
	}
	return 0;
}

/* Undo what a crashed run left behind, and hold the journal for this one. */
static int session_journal(struct session *s)
{
	const struct config *cfg = s->cfg;

	if (tun_journal_open(&s->journal, cfg->agent.state_dir, cfg->agent.tun_name, &s->dns) < 0) {
		if (errno == EBUSY)
			fprintf(stderr, "ikeagent: tun %s is in use by another ikeagent\n",
				cfg->agent.tun_name);
		else
			fprintf(stderr, "ikeagent: cannot open the journal in %s: %s\n",
				cfg->agent.state_dir, strerror(errno));
		return -1;
	}
	s->journal_open = true;
	return 0;
}

static int session_resolve(struct session *s)
{
	char a[64];

	/* Resolved once: a reconnect must not depend on DNS that may be in the tunnel. */
	if (sockaddr_resolve(s->cfg->gateway.address, s->cfg->gateway.port, &s->penv.gw,
			     &s->penv.gw_len) < 0) {
		fprintf(stderr, "ikeagent: cannot resolve gateway '%s'\n", s->cfg->gateway.address);
		return -1;
	}
	log_info("agent: connecting to %s (%s)", s->cfg->gateway.address,
		 sockaddr_str((struct sockaddr *)&s->penv.gw, a, sizeof(a)));
	return 0;
}

static void session_close(struct session *s)
{
	session_disconnect(s);
	roam_free(s);
	netsetup_down(s, false);	/* DNS through the helper: it goes last */
	dp_worker_stop(s);
	tun_priv_stop();
	ctl_server_close(s->ctl);
	loop_free(s->loop);
	dp_free(&s->dp);
	race_free(s->race);
	stream_tls_cache_free(s->tls_cache);
	sdnotify_close();
}

/*
 * Certificates and keys are read once at start, as root: a reconnect must
 * not depend on files changing, nor on files the unprivileged agent
 * cannot read.
 */
static int session_credentials(struct session *s)
{
	char err[256];

	if (s->cfg->auth.ca && !(s->trust = ike_trust_load(s->cfg->auth.ca, err, sizeof(err)))) {
		fprintf(stderr, "ikeagent: [auth] ca: %s\n", err);
		return -1;
	}
	if (s->cfg->auth.cert &&
	    !(s->cred = ike_cred_load(s->cfg->auth.cert, s->cfg->auth.key, err, sizeof(err)))) {
		fprintf(stderr, "ikeagent: [auth] cert/key: %s\n", err);
		return -1;
	}
	/* TLS's CA certificates too: tls_ca may be readable by root only. */
	if (config_uses_transport(s->cfg, CONFIG_TRANSPORT_TLS) &&
	    stream_tls_cache_prepare(s->tls_cache, s->cfg->transport.tls_verify,
				     s->cfg->transport.tls_ca, err, sizeof(err)) < 0) {
		fprintf(stderr, "ikeagent: [transport] %s\n", err);
		return -1;
	}
	return 0;
}

int session_run(const struct config *cfg, const struct session_opts *o)
{
	struct session *s = calloc(1, sizeof(*s));
	int rc = CMD_EXIT_RUNTIME;
	char err[256];

	if (!s) {
		fprintf(stderr, "ikeagent: out of memory\n");
		return rc;
	}
	s->netsetup = o->report_network ? &netsetup_report : &netsetup_journaled;
	if (session_open(s, cfg, o->ctl_path, &rc) < 0)
		goto done;
	if (session_credentials(s) < 0) {
		rc = CMD_EXIT_USAGE;
		goto done;
	}
	if (login_prepare(s, o->pw, err, sizeof(err)) < 0) {
		fprintf(stderr, "ikeagent: auth: %s\n", err);
		rc = CMD_EXIT_USAGE;
		goto done;
	}
	if (session_journal(s) < 0)
		goto done;
	if (session_resolve(s) < 0)
		goto done;
	roam_init(s);	/* its memory's directory is handed to [agent] user */
	/* Root is needed no longer: before the first packet, become [agent] user. */
	if (drop_privileges(s, &rc, err, sizeof(err)) < 0) {
		fprintf(stderr, "ikeagent: %s\n", err);
		goto done;
	}
	/* A driver's listener must see every event, the first failure above all. */
	s->await_listener = o->report_network;
	if (s->await_listener)
		loop_timer_arm(s->loop, &s->t_listener, SESSION_LISTENER_WAIT_MS);
	session_set_state(s, SESS_CONNECTING, login_waiting(s) ? "waiting for the password" :
			  s->await_listener ? "waiting for the events listener" : "starting");
	if (!login_waiting(s) && !s->await_listener && session_connect(s) < 0) {
		session_disconnect(s);
		if (!cfg->tunnel.reconnect) {
			fprintf(stderr, "ikeagent: cannot connect to %s\n", cfg->gateway.address);
			goto done;
		}
		schedule_reconnect(s);
	}
	if (loop_run(s->loop) < 0) {
		fprintf(stderr, "ikeagent: event loop failed: %s\n", strerror(errno));
		goto done;
	}
	rc = s->exit_code;
	netsetup_down(s, false);
	log_info("agent: stopped, %s", s->undo_failed ? "some changes could not be undone" :
		 "network configuration restored");
done:
	session_close(s);
	login_free(s);
	ike_trust_free(s->trust);
	ike_cred_free(s->cred);
	free(s);
	return rc;
}
