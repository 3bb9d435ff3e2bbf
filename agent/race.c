/*
 * The race: which path carries the IKE SA's request — the first
 * IKE_SA_INIT (RACE_INIT), or the UPDATE_SA_ADDRESSES of a move
 * (RACE_MOVE, RFC 4555).
 *
 * RFC 9329 §5 ≈: prefer UDP; retransmit the first UDP IKE_SA_INIT at least
 * once before falling back (session.c sets the retransmission timeout to
 * half of udp_timeout). RFC 9329 §7.1 ≈ for a move: "the initiator SHOULD
 * first attempt to send the UPDATE_SA_ADDRESSES over UDP; if no response,
 * it then tries TCP", the same request with the same message ID, its NAT
 * detection computed for the transport it goes over (ike_sa_resend()).
 *
 * The paths of the order start one after another: the next when the
 * newest has had no answer for udp_timeout, at once when one failed
 * outright (refused, proxy refused, TLS failed), or when the newest is a
 * stream whose connect (TCP, proxy CONNECT, TLS handshake) is not done in
 * RACE_CONNECT_STALL_MS: a SYN that a firewall swallows does not hold back
 * the next transport (Happy Eyeballs, RFC 8305 §5, waits 250 ms). Earlier
 * paths stay: the first that brings an answer to the IKE SA's request
 * wins and becomes the session's path; the others close.
 *
 * While racing, the IKE SA's retransmissions go over the UDP paths only
 * (RFC 9329 §6.2 ≈: none over TCP); a path that comes up gets the
 * outstanding request once. A move may list the path in use (a stream
 * being checked against UDP in the background): it is not opened again
 * and never freed here.
 *
 * Decisions are taken from the loop (t_step, a path's failure report) or
 * right after a path's input, never from inside the IKE SA; each is one
 * log line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/session.h"
#include "util/log.h"

#define RACE_CONNECT_STALL_MS	250

struct race {
	struct session *s;
	bool active;
	enum race_goal goal;
	uint64_t start_ms;
	enum config_transport order[CONFIG_MAX_TRANSPORTS];
	unsigned n_order;
	unsigned next;			/* index in order of the next path */
	unsigned n;
	struct path *cand[CONFIG_MAX_TRANSPORTS];
	struct path *keep;		/* the session's path, a candidate of this move */
	struct path *only;		/* the one path a send goes to, while set */
	bool sent;			/* the request went out over some path */
	bool udp_tried;			/* a UDP path carried it and lost */
	struct loop_timer t_step;	/* udp_timeout: start the next path */
};

static const char *kname(const struct path *p)
{
	return path_kind_name(p->kind);
}

static const char *goal_msg(const struct race *r)
{
	return r->goal == RACE_INIT ? "IKE_SA_INIT" : "UPDATE_SA_ADDRESSES";
}

static bool live(const struct path *p)
{
	return p->state != PATH_FAILED;
}

static unsigned n_live(const struct race *r)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->n; i++)
		n += live(r->cand[i]);
	return n;
}

/* ---- sending -------------------------------------------------------------- */

int race_send(struct session *s, const uint8_t *msg, size_t len)
{
	struct race *r = s->race;
	int ok = -1;

	if (r->only)
		return path_send_ike(r->only, msg, len);
	for (unsigned i = 0; i < r->n; i++) {
		struct path *p = r->cand[i];

		if (p->kind == CONFIG_TRANSPORT_UDP && p->state == PATH_UP &&
		    path_send_ike(p, msg, len) == 0)
			ok = 0;
	}
	if (ok < 0)
		errno = ENOTCONN;
	return ok;
}

/* The request over p: started there, or sent once more (same message ID). */
static void carry(struct race *r, struct path *p)
{
	struct session *s = r->s;
	uint64_t now = loop_now_ms();
	int rc;

	r->only = p;
	if (r->goal == RACE_INIT && !s->ike) {
		rc = session_ike_start(s, p);
	} else {
		/* RFC 9329 §7.1 ≈: NAT detection for the transport actually used. */
		if (r->goal == RACE_MOVE)
			session_ike_addrs(s, p);
		if (r->goal == RACE_MOVE && !r->sent)
			rc = ike_sa_move(s->ike, now);
		else
			rc = ike_sa_resend(s->ike, now);
	}
	r->only = NULL;
	if (rc == 0)
		r->sent = true;
	else
		log_debug("race: %s not sent over %s: %s", goal_msg(r), kname(p), strerror(errno));
	session_rearm_ike(s);
}

/* ---- starting paths -------------------------------------------------------- */

static void via(const struct race *r, const struct path *p, char *buf, size_t cap)
{
	const struct config *cfg = r->s->cfg;

	buf[0] = '\0';
	if (p->proxy)
		snprintf(buf, cap, " through proxy %s:%u", cfg->transport.proxy_host,
			 cfg->transport.proxy_port);
}

/* The end of a decision line when nothing more can be started. */
static void log_rest(const struct race *r, const char *why)
{
	char names[64];
	size_t off = 0;

	names[0] = '\0';
	for (unsigned i = 0; i < r->n && off < sizeof(names); i++)
		if (live(r->cand[i]))
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
						off ? ", " : "", kname(r->cand[i]));
	if (names[0])
		log_warn("%s, waiting for %s", why, names);
	else
		log_warn("%s, no transport left to try", why);
}

static void arm_step(struct race *r, const struct path *p)
{
	uint64_t step = r->s->cfg->transport.udp_timeout_ms;

	if (r->next >= r->n_order)
		return;
	if (p->kind != CONFIG_TRANSPORT_UDP && p->state == PATH_CONNECTING &&
	    step > RACE_CONNECT_STALL_MS)
		step = RACE_CONNECT_STALL_MS;	/* on_step looks at the connect */
	loop_timer_arm(r->s->loop, &r->t_step, step);
}

/*
 * Start the next paths until one is under way; why is the first half of
 * the decision's log line ("udp: no answer in 1.0 s"). False when none is
 * left to start.
 */
static bool start_next(struct race *r, const char *why)
{
	struct session *s = r->s;
	char line[400], px[320];

	snprintf(line, sizeof(line), "%s", why);
	while (r->next < r->n_order) {
		enum config_transport k = r->order[r->next++];
		struct path *p;

		if (r->keep && r->keep->kind == k && live(r->keep)) {
			/* the path in use: the request goes over it once more */
			r->cand[r->n++] = r->keep;
			log_info("%s, trying %s %s (the path in use)", line, kname(r->keep),
				 r->keep->where);
			r->keep->start_ms = loop_now_ms();
			if (r->keep->state == PATH_UP)
				carry(r, r->keep);
			arm_step(r, r->keep);
			return true;
		}
		p = path_new(&s->penv, k, r->goal == RACE_MOVE);
		if (!p) {
			log_err("race: out of memory");
			continue;
		}
		r->cand[r->n++] = p;
		/* Bound to the device of the route to the gateway: it stays this path. */
		p->ifindex = s->roam.ifindex;
		via(r, p, px, sizeof(px));
		log_info("%s, trying %s %s%s", line, kname(p), p->where, px);
		session_note(s, "trying %s %s%s (%s)", kname(p), p->where, px, line);
		if (path_open(p) == 0) {
			if (p->state == PATH_UP)
				carry(r, p);	/* UDP is up at once; a stream when connected */
			arm_step(r, p);
			return true;
		}
		p->state = PATH_FAILED;
		snprintf(line, sizeof(line), "%s: %s", kname(p), p->err);
		snprintf(s->last_error, sizeof(s->last_error), "%.150s", line);
	}
	if (strcmp(line, why))
		log_rest(r, line);
	return false;
}

static void on_step(void *ctx)
{
	struct race *r = ctx;
	const struct path *last;
	uint64_t age, limit = r->s->cfg->transport.udp_timeout_ms;
	char why[128];

	if (!r->active || !r->n)
		return;
	last = r->cand[r->n - 1];
	age = loop_now_ms() - last->start_ms;
	if (last->kind != CONFIG_TRANSPORT_UDP && last->state == PATH_CONNECTING && age < limit) {
		snprintf(why, sizeof(why), "%s: not connected in %.2f s", kname(last), age / 1000.0);
	} else if (age < limit) {
		/* connected in time: the request gets the rest of udp_timeout */
		loop_timer_arm(r->s->loop, &r->t_step, limit - age);
		return;
	} else {
		snprintf(why, sizeof(why), "%s: no answer in %.1f s", kname(last), limit / 1000.0);
		if (last->kind == CONFIG_TRANSPORT_UDP)
			r->udp_tried = true;
	}
	(void)start_next(r, why);
}

/* ---- the end of the race ------------------------------------------------------- */

/* Close every candidate but the winner and the session's path. */
static void drop_others(struct race *r, const struct path *w, char *gone, size_t cap)
{
	struct session *s = r->s;
	size_t off = 0;

	gone[0] = '\0';
	for (unsigned i = 0; i < r->n; i++) {
		struct path *o = r->cand[i];

		if (o == w)
			continue;
		if (o->kind == CONFIG_TRANSPORT_UDP)
			r->udp_tried = true;
		if (off < cap)
			off += (size_t)snprintf(gone + off, cap - off, "%s%s", off ? ", " : "", kname(o));
		if (o != s->path)
			path_free(o);
	}
	r->n = 0;
	r->active = false;
	r->keep = NULL;
	loop_timer_disarm(s->loop, &r->t_step);
}

void race_answered(struct session *s, struct path *p)
{
	struct race *r = s->race;
	char gone[64];
	uint64_t ms = loop_now_ms() - r->start_ms;
	enum race_goal g = r->goal;
	bool udp_tried;

	if (!r->active)
		return;
	drop_others(r, p, gone, sizeof(gone));
	udp_tried = r->udp_tried && p->kind != CONFIG_TRANSPORT_UDP;
	if (gone[0])
		log_info("%s: %s answered first (after %.2f s), abandoning %s", kname(p),
			 goal_msg(r), ms / 1000.0, gone);
	else
		log_info("%s: %s answered (after %.2f s)", kname(p), goal_msg(r), ms / 1000.0);
	session_path_won(s, p, g, ms, udp_tried);
}

void race_path_up(struct session *s, struct path *p)
{
	struct race *r = s->race;

	if (r->active)
		carry(r, p);
}

void race_path_failed(struct session *s, struct path *p)
{
	struct race *r = s->race;
	char why[400];

	if (!race_has(s, p))
		return;
	p->state = PATH_FAILED;
	snprintf(why, sizeof(why), "%s: %s", kname(p), p->err);
	snprintf(s->last_error, sizeof(s->last_error), "%.150s", why);
	if (r->next < r->n_order) {
		loop_timer_disarm(s->loop, &r->t_step);
		if (start_next(r, why))
			return;
	} else {
		log_rest(r, why);
	}
	if (n_live(r))
		return;
	/* Nothing left: the newest path's failure. */
	p = r->cand[r->n - 1];
	snprintf(why, sizeof(why), "%s: %s", kname(p), p->err);
	race_stop(s);
	session_transport_failed(s, why);
}

/* ---- interface ------------------------------------------------------------------ */

struct race *race_new(struct session *s)
{
	struct race *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->s = s;
	loop_timer_init(&r->t_step, "race step", on_step, r);
	return r;
}

void race_free(struct race *r)
{
	free(r);
}

int race_start(struct session *s, enum race_goal g, const enum config_transport *order,
	       unsigned n, struct path *keep, const char *why)
{
	struct race *r = s->race;

	race_stop(s);
	if (n > CONFIG_MAX_TRANSPORTS)
		n = CONFIG_MAX_TRANSPORTS;
	r->active = true;
	r->goal = g;
	r->start_ms = loop_now_ms();
	memcpy(r->order, order, n * sizeof(order[0]));
	r->n_order = n;
	r->next = 0;
	r->keep = keep;
	r->sent = r->udp_tried = false;
	/* Retransmissions while UDP goes first (RFC 9329 §6.2 ≈: none over TCP). */
	if (g == RACE_MOVE && s->ike)
		ike_sa_set_reliable(s->ike, order[0] != CONFIG_TRANSPORT_UDP);
	if (start_next(r, why))
		return 0;
	race_stop(s);
	return -1;
}

void race_stop(struct session *s)
{
	struct race *r = s->race;
	char gone[64];

	if (!r)
		return;
	drop_others(r, NULL, gone, sizeof(gone));
	r->udp_tried = false;
}

bool race_active(const struct session *s)
{
	return s->race && s->race->active;
}

bool race_has(const struct session *s, const struct path *p)
{
	const struct race *r = s->race;

	for (unsigned i = 0; r && r->active && i < r->n; i++)
		if (r->cand[i] == p)
			return true;
	return false;
}

enum race_goal race_goal(const struct session *s)
{
	return s->race->goal;
}

const struct path *race_latest(const struct session *s)
{
	return race_active(s) && s->race->n ? s->race->cand[s->race->n - 1] : NULL;
}
