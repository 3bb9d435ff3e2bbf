/*
 * The fallback race over [transport] order (e.g. udp tcp tls).
 *
 * RFC 9329 §5 ≈: prefer UDP; retransmit the first UDP IKE_SA_INIT at least
 * once before falling back (link.c sets the retransmission timeout to half
 * of udp_timeout). The first transport starts at once; each next one when
 * the newest has had no answer for udp_timeout, or at once when one failed
 * outright (refused, proxy refused, TLS failed), or when the newest is a
 * stream whose connect (TCP, proxy CONNECT, TLS handshake) is not done in
 * RACE_CONNECT_STALL_MS: a SYN that a firewall swallows does not hold back
 * the next transport (as Happy Eyeballs, RFC 8305 §5, waits 250 ms). Earlier attempts stay
 * alive: each is its own IKE SA with its own SPIs on its own link. The
 * first whose IKE_SA_INIT is answered wins; the others are freed without
 * DELETE (an IKE SA whose IKE_SA_INIT the gateway answered but that lost
 * the race stays half-open at the gateway until it expires there).
 *
 * "RFC 9329 §6.4 ≈: an IKE_SA_INIT error notify over TCP is acted on at
 * once": an attempt that the gateway refused (an error notify, bad
 * proposal) ends the race with that failure, whatever else is running.
 *
 * Decisions are taken from the loop (t_check, t_step, a link's t_report),
 * never from inside an IKE SA's callbacks; each is one log line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/session.h"
#include "util/log.h"

#define RACE_CONNECT_STALL_MS	250

struct race {
	struct session *s;
	bool active;
	uint64_t start_ms;
	unsigned next;			/* index in the order of the next transport */
	unsigned n;
	struct link *att[CONFIG_MAX_TRANSPORTS];
	struct loop_timer t_step;	/* udp_timeout: start the next transport */
	struct loop_timer t_tick;	/* the attempts' IKE SA timers */
	struct loop_timer t_check;	/* look for a winner */
};

static const char *kname(const struct link *l)
{
	return link_kind_name(l->kind);
}

/* As session.c: the gateway answered and said no. */
static bool refused(const struct link *l)
{
	enum ike_sa_fail f;

	if (!l->ike || ike_sa_state(l->ike) != IKE_SA_DEAD)
		return false;
	f = ike_sa_failure(l->ike);
	return f == IKE_FAIL_PEER_ERROR || f == IKE_FAIL_AUTH || f == IKE_FAIL_PROTOCOL;
}

static bool live(const struct link *l)
{
	return l->state != LINK_FAILED && !(l->ike && ike_sa_state(l->ike) == IKE_SA_DEAD);
}

static unsigned n_live(const struct race *r)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->n; i++)
		n += live(r->att[i]);
	return n;
}

/* ---- timers ---------------------------------------------------------------- */

static void rearm_tick(struct race *r)
{
	uint64_t dl = 0, now = loop_now_ms();

	for (unsigned i = 0; i < r->n; i++) {
		uint64_t d = r->att[i]->ike ? ike_sa_next_deadline(r->att[i]->ike) : 0;

		if (d && (!dl || d < dl))
			dl = d;
	}
	if (!r->active || !dl)
		loop_timer_disarm(r->s->loop, &r->t_tick);
	else
		loop_timer_arm(r->s->loop, &r->t_tick, dl > now ? dl - now : 0);
}

static void on_tick(void *ctx)
{
	struct race *r = ctx;
	uint64_t now = loop_now_ms();

	for (unsigned i = 0; i < r->n; i++) {
		struct ike_sa *sa = r->att[i]->ike;
		uint64_t d = sa ? ike_sa_next_deadline(sa) : 0;

		if (d && d <= now)
			ike_sa_tick(sa, now);
	}
	race_poke(r->s);
}

/* ---- starting attempts -------------------------------------------------------- */

static void via(const struct link *l, char *buf, size_t cap)
{
	const struct config *cfg = l->s->cfg;

	buf[0] = '\0';
	if (l->proxy)
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
		if (live(r->att[i]))
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
						off ? ", " : "", kname(r->att[i]));
	if (names[0])
		log_warn("%s, waiting for %s", why, names);
	else
		log_warn("%s, no transport left to try", why);
}

/*
 * Start the next transports until one is under way; why is the first half
 * of the decision's log line ("udp: no answer in 1.0 s"). False when none
 * is left to start.
 */
static bool start_next(struct race *r, const char *why)
{
	const struct config *cfg = r->s->cfg;
	char line[400], px[320];

	snprintf(line, sizeof(line), "%s", why);
	while (r->next < cfg->transport.n_order) {
		struct link *l = link_new(r->s, cfg->transport.order[r->next++]);

		if (!l) {
			log_err("race: out of memory");
			continue;
		}
		r->att[r->n++] = l;
		via(l, px, sizeof(px));
		log_info("%s, trying %s %s%s", line, kname(l), l->where, px);
		session_note(r->s, "trying %s %s%s (%s)", kname(l), l->where, px, line);
		if (link_open(l) == 0) {
			uint64_t step = cfg->transport.udp_timeout_ms;

			if (l->kind != CONFIG_TRANSPORT_UDP && step > RACE_CONNECT_STALL_MS)
				step = RACE_CONNECT_STALL_MS;	/* on_step looks at the connect */
			if (r->next < cfg->transport.n_order)
				loop_timer_arm(r->s->loop, &r->t_step, step);
			return true;
		}
		l->state = LINK_FAILED;
		snprintf(line, sizeof(line), "%s: %s", kname(l), l->err);
		snprintf(r->s->last_error, sizeof(r->s->last_error), "%.150s", line);
	}
	if (strcmp(line, why))
		log_rest(r, line);
	return false;
}

static void on_step(void *ctx)
{
	struct race *r = ctx;
	const struct link *last;
	uint64_t age, limit = r->s->cfg->transport.udp_timeout_ms;
	char why[128];

	if (!r->active || !r->n)
		return;
	last = r->att[r->n - 1];
	age = loop_now_ms() - last->start_ms;
	if (last->kind != CONFIG_TRANSPORT_UDP && last->state == LINK_CONNECTING && age < limit) {
		snprintf(why, sizeof(why), "%s: not connected in %.2f s", kname(last), age / 1000.0);
	} else if (age < limit) {
		/* connected in time: the IKE_SA_INIT gets the rest of udp_timeout */
		loop_timer_arm(r->s->loop, &r->t_step, limit - age);
		return;
	} else {
		snprintf(why, sizeof(why), "%s: no answer in %.1f s", kname(last), limit / 1000.0);
	}
	(void)start_next(r, why);
}

/* ---- the end of the race ------------------------------------------------------- */

/* l becomes the session's link; every other attempt goes. */
static void promote(struct race *r, struct link *l, char *gone, size_t cap)
{
	struct session *s = r->s;
	size_t off = 0;

	gone[0] = '\0';
	for (unsigned i = 0; i < r->n; i++) {
		struct link *o = r->att[i];

		if (o == l)
			continue;
		if (off < cap)
			off += (size_t)snprintf(gone + off, cap - off, "%s%s", off ? ", " : "", kname(o));
		link_free(o);
	}
	r->n = 0;
	r->active = false;
	loop_timer_disarm(s->loop, &r->t_step);
	loop_timer_disarm(s->loop, &r->t_tick);
	loop_timer_disarm(s->loop, &r->t_check);
	s->link = l;
	s->ike = l->ike;
}

static void win(struct race *r, struct link *l)
{
	struct session *s = r->s;
	char gone[64];
	double secs = (loop_now_ms() - r->start_ms) / 1000.0;

	promote(r, l, gone, sizeof(gone));
	if (gone[0])
		log_info("%s: IKE_SA_INIT answered first (after %.2f s), abandoning %s", kname(l), secs,
			 gone);
	else
		log_info("%s: IKE_SA_INIT answered (after %.2f s)", kname(l), secs);
	if (ike_sa_state(l->ike) == IKE_SA_DEAD)
		session_ike_state(s, IKE_SA_INIT_SENT, IKE_SA_DEAD);
	session_rearm_ike(s);
}

/* l's IKE SA failed for good: the session's failure handling takes over. */
static void lose(struct race *r, struct link *l)
{
	char gone[64];

	promote(r, l, gone, sizeof(gone));
	if (gone[0])
		log_info("%s: %s; abandoning %s", kname(l), l->err, gone);
	session_ike_state(r->s, IKE_SA_INIT_SENT, IKE_SA_DEAD);
}

static void on_check(void *ctx)
{
	struct race *r = ctx;

	if (!r->active)
		return;
	for (unsigned i = 0; i < r->n; i++) {
		if (r->att[i]->ike && ike_sa_init_done(r->att[i]->ike)) {
			win(r, r->att[i]);
			return;
		}
	}
	rearm_tick(r);
}

void race_link_failed(struct session *s, struct link *l)
{
	struct race *r = s->race;
	bool mine = false;
	char why[400];

	for (unsigned i = 0; i < r->n; i++)
		mine |= r->att[i] == l;
	if (!r->active || !mine)
		return;
	if (refused(l)) {
		lose(r, l);
		return;
	}
	l->state = LINK_FAILED;
	snprintf(why, sizeof(why), "%s: %s", kname(l), l->err);
	snprintf(s->last_error, sizeof(s->last_error), "%.150s", why);
	if (r->next < s->cfg->transport.n_order) {
		loop_timer_disarm(s->loop, &r->t_step);
		if (start_next(r, why))
			return;
	} else {
		log_rest(r, why);
	}
	if (n_live(r))
		return;
	/* Nothing left: this IKE SA's failure, or the newest transport's. */
	if (l->ike) {
		lose(r, l);
		return;
	}
	l = r->att[r->n - 1];
	snprintf(why, sizeof(why), "%s: %s", kname(l), l->err);
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
	loop_timer_init(&r->t_tick, "race ike", on_tick, r);
	loop_timer_init(&r->t_check, "race check", on_check, r);
	return r;
}

void race_free(struct race *r)
{
	free(r);
}

int race_start(struct session *s)
{
	struct race *r = s->race;

	race_stop(s);
	r->active = true;
	r->start_ms = loop_now_ms();
	r->next = 0;
	if (start_next(r, "race"))
		return 0;
	race_stop(s);
	return -1;
}

void race_stop(struct session *s)
{
	struct race *r = s->race;

	if (!r)
		return;
	for (unsigned i = 0; i < r->n; i++)
		link_free(r->att[i]);
	r->n = 0;
	r->active = false;
	loop_timer_disarm(s->loop, &r->t_step);
	loop_timer_disarm(s->loop, &r->t_tick);
	loop_timer_disarm(s->loop, &r->t_check);
}

bool race_active(const struct session *s)
{
	return s->race && s->race->active;
}

const struct link *race_latest(const struct session *s)
{
	return race_active(s) && s->race->n ? s->race->att[s->race->n - 1] : NULL;
}

/*
 * Right after an attempt's input: the winner is taken at once, before the
 * IKE_AUTH answer (which may be in the same read) brings up a Child SA.
 * l's caller goes on using l; only the other attempts are freed.
 */
void race_input_done(struct session *s, struct link *l)
{
	struct race *r = s->race;

	for (unsigned i = 0; r->active && i < r->n; i++) {
		if (r->att[i] == l && l->ike && ike_sa_init_done(l->ike)) {
			win(r, l);
			return;
		}
	}
	race_poke(s);
}

void race_poke(struct session *s)
{
	struct race *r = s->race;

	if (!r->active)
		return;
	loop_timer_arm(s->loop, &r->t_check, 0);
	rearm_tick(r);
}
