/*
 * Which path a message goes over: the IKE SA's callbacks and the paths'.
 *
 * The session is the IKE SA's callback context. An answer to the gateway,
 * or a request made while handling its message, goes back over the path
 * that message came from; while a race runs, the race says (race.c); else
 * the session's path. What arrives on any path goes to the IKE SA or the
 * ESP SAs; a path that brought an answer to the IKE SA's request while it
 * was being raced wins the race.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "agent/session.h"
#include "util/log.h"

/* ---- the IKE SA's callbacks ------------------------------------------------ */

/*
 * Which path a message goes over: an answer, or a request made while
 * handling input, over the path that input came from; while racing as the
 * race says; else over the session's path.
 */
static int op_send(void *ctx, const uint8_t *msg, size_t len)
{
	struct session *s = ctx;

	if (s->rx_path)
		return path_send_ike(s->rx_path, msg, len);
	if (race_active(s))
		return race_send(s, msg, len);
	if (!s->path) {
		errno = ENOTCONN;
		return -1;
	}
	return path_send_ike(s->path, msg, len);
}

static void op_float(void *ctx)
{
	struct session *s = ctx;
	struct path *p = s->rx_path ? s->rx_path : s->path;

	if (p)
		path_float(p);
}

static void op_child_up(void *ctx, const struct ike_child_info *ci)
{
	session_child_up(ctx, ci);
}

static void op_child_down(void *ctx, uint32_t spi_in)
{
	dp_child_remove(ctx, spi_in);
}

static void op_state(void *ctx, enum ike_sa_state old, enum ike_sa_state now)
{
	(void)old;
	session_ike_state(ctx, now);
}

/* RFC 4555 §3.5: the gateway refused the new addresses; try again from scratch. */
static void op_moved(void *ctx, int result, const char *why)
{
	struct session *s = ctx;

	if (result == 0)
		return;
	snprintf(s->last_error, sizeof(s->last_error), "move refused: %.140s", why);
	s->restart_pending = true;
	session_defer(s);
}

static const struct ike_sa_ops session_ike_ops = {
	.send = op_send,
	.float_port = op_float,
	.child_up = op_child_up,
	.child_down = op_child_down,
	.state_changed = op_state,
	.moved = op_moved,
};

void session_ike_addrs(struct session *s, const struct path *p)
{
	uint8_t lip[16], rip[16];
	uint16_t lport, rport;

	if (!s->ike)
		return;
	cfgmap_addr(&p->local, lip, &lport);
	cfgmap_addr(&p->remote, rip, &rport);
	ike_sa_set_addrs(s->ike, p->remote.ss_family == AF_INET6 ? AF_INET6 : AF_INET, lip, lport,
			 rip, rport);
}

/*
 * RFC 9329 §5 ≈: "it is RECOMMENDED to retransmit the initial UDP message
 * at least once before trying to fall back to TCP": the first
 * retransmission comes at half of udp_timeout when another transport waits.
 */
static uint32_t retransmit_ms(const struct session *s, enum config_transport k)
{
	uint32_t half = s->cfg->transport.udp_timeout_ms / 2;

	if (k != CONFIG_TRANSPORT_UDP || s->cfg->transport.n_order < 2)
		return SESSION_RETRANSMIT_MS;
	if (half < SESSION_RETRANSMIT_MIN_MS)
		half = SESSION_RETRANSMIT_MIN_MS;
	return half < SESSION_RETRANSMIT_MS ? half : SESSION_RETRANSMIT_MS;
}

int session_ike_start(struct session *s, struct path *p)
{
	struct ike_sa_cfg c = s->ike_cfg;

	c.retransmit_ms = retransmit_ms(s, p->kind);
	s->ike = ike_sa_new(&c, &session_ike_ops, s);
	if (!s->ike) {
		snprintf(s->last_error, sizeof(s->last_error), "cannot create the IKE SA");
		log_err("ike: %s", s->last_error);
		errno = ENOMEM;
		return -1;
	}
	session_ike_addrs(s, p);
	/* RFC 9329 §6.2 ≈: initiators SHOULD NOT retransmit requests over TCP. */
	ike_sa_set_reliable(s->ike, p->kind != CONFIG_TRANSPORT_UDP);
	log_info("%s: sending IKE_SA_INIT", path_kind_name(p->kind));
	if (ike_sa_start(s->ike, loop_now_ms()) < 0)
		return -1;	/* the IKE SA is DEAD and said why */
	session_rearm_ike(s);
	return 0;
}

void session_path_won(struct session *s, struct path *p, enum race_goal g, uint64_t ms,
		      bool udp_tried)
{
	struct path *old = s->path;
	char a[96], b[96];

	s->path = p;
	session_ike_addrs(s, p);
	ike_sa_set_reliable(s->ike, p->kind != CONFIG_TRANSPORT_UDP);
	roam_won(s, p, udp_tried);
	if (g == RACE_MOVE && old != p) {
		uint64_t since = s->roam.change_ms ? loop_now_ms() - s->roam.change_ms : ms;

		s->st.path_changes++;
		s->last_move.done = true;
		path_describe(old, s->last_move.from, sizeof(s->last_move.from));
		path_describe(p, s->last_move.to, sizeof(s->last_move.to));
		s->last_move.transport = p->kind;
		s->last_move.ms = since;
		s->last_move.at_ms = loop_now_ms();
		log_info("agent: moved from %s to %s in %.2f s, IKE SA kept (%s)",
			 path_describe(old, a, sizeof(a)), path_describe(p, b, sizeof(b)),
			 since / 1000.0, s->roam.why);
		session_note(s, "moved to %s %s", path_kind_name(p->kind), p->where);
		/* After the answer nothing more comes over the old path: close it. */
		path_free(old);
	} else if (g == RACE_MOVE) {
		log_info("agent: staying on %s (%s)", path_describe(p, a, sizeof(a)), s->roam.why);
	}
	if (p->kind == CONFIG_TRANSPORT_UDP && g == RACE_MOVE)
		path_float(p);
	session_rearm_ike(s);
	if (s->roam.recheck) {
		s->roam.recheck = false;
		s->recheck_pending = true;
		session_defer(s);
	}
}

/* ---- the paths' callbacks ---------------------------------------------------- */

static void own_ike_input(void *ctx, struct path *p, const uint8_t *msg, size_t len)
{
	struct session *s = ctx;
	uint64_t before;

	if (!s->ike)
		return;
	before = ike_sa_answers(s->ike);
	s->rx_path = p;
	ike_sa_input(s->ike, msg, len, loop_now_ms());
	s->rx_path = NULL;
	if (race_has(s, p) && ike_sa_answers(s->ike) != before)
		race_answered(s, p);
	session_rearm_ike(s);
}

static void own_esp_input(void *ctx, struct path *p, uint8_t *pkt, size_t len)
{
	(void)p;
	dp_esp_input(ctx, pkt, len);
}

static void own_esp_flush(void *ctx, struct path *p)
{
	(void)p;
	dp_esp_flush(ctx);
}

static void own_dropped(void *ctx, struct path *p)
{
	struct session *s = ctx;

	(void)p;
	s->st.drops++;
}

static void own_up(void *ctx, struct path *p, bool again)
{
	struct session *s = ctx;

	if (race_has(s, p)) {
		race_path_up(s, p);
		return;
	}
	/* During a move the race decides where the IKE SA goes. */
	if (p != s->path || !again || !s->ike || race_active(s))
		return;
	s->st.transport_reconnects++;
	s->st.reconnects++;
	session_note(s, "up over %s %s%s again, IKE SA kept (reconnect %llu)",
		     path_kind_name(p->kind), p->where, p->proxy ? " via proxy" : "",
		     (unsigned long long)s->st.transport_reconnects);
	log_info("%s: IKE SA kept, resending what is outstanding", path_kind_name(p->kind));
	session_ike_addrs(s, p);
	/* Outstanding requests again, else UPDATE_SA_ADDRESSES or an empty INFORMATIONAL. */
	ike_sa_reconnected(s->ike, loop_now_ms());
	session_rearm_ike(s);
}

static void own_failed(void *ctx, struct path *p)
{
	struct session *s = ctx;
	char why[300];

	if (race_has(s, p)) {
		race_path_failed(s, p);
		return;
	}
	/* The path a move leaves: the race decides (its failure ends the IKE SA). */
	if (p != s->path || race_active(s))
		return;
	snprintf(why, sizeof(why), "%s: %.250s", path_kind_name(p->kind), p->err);
	session_transport_failed(s, why);
}

const struct path_owner session_path_owner = {
	.ike_input = own_ike_input,
	.esp_input = own_esp_input,
	.esp_flush = own_esp_flush,
	.up = own_up,
	.failed = own_failed,
	.dropped = own_dropped,
};
