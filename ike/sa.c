/*
 * IKE SA lifecycle: state changes, message IDs, retransmission, DPD, and
 * the dispatch of received messages to the exchange handlers.
 */
#include "ike/sa_int.h"

#include <stdarg.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ike/names.h"
#include "util/log.h"

static const char *const state_names[] = {
	[IKE_SA_IDLE] = "idle",
	[IKE_SA_INIT_SENT] = "init-sent",
	[IKE_SA_AUTH_SENT] = "auth-sent",
	[IKE_SA_ESTABLISHED] = "established",
	[IKE_SA_DELETING] = "deleting",
	[IKE_SA_DEAD] = "dead",
};

const char *ike_sa_state_name(enum ike_sa_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

uint64_t sa_spi_u64(const uint8_t s[8])
{
	return (uint64_t)get_be32(s) << 32 | get_be32(s + 4);
}

/* Every state change goes through here: it logs old -> new and refuses going back from DEAD. */
void sa_set_state(struct ike_sa *sa, enum ike_sa_state s)
{
	enum ike_sa_state old = sa->state;

	if (old == s || old == IKE_SA_DEAD)
		return;
	sa->state = s;
	log_info("ike: %s -> %s", ike_sa_state_name(old), ike_sa_state_name(s));
	if (sa->ops.state_changed)
		sa->ops.state_changed(sa->ctx, old, s);
}

void sa_fail(struct ike_sa *sa, enum ike_sa_fail why, const char *fmt, ...)
{
	va_list ap;

	if (sa->state == IKE_SA_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(sa->fail_text, sizeof(sa->fail_text), fmt, ap);
	va_end(ap);
	sa->fail = why;
	sa->req.active = false;
	/* Our own DELETE being answered is the normal end, not a warning. */
	if (why == IKE_FAIL_LOCAL && sa->state == IKE_SA_DELETING)
		log_info("ike: %s", sa->fail_text);
	else
		log_warn("ike: %s", sa->fail_text);
	sa_set_state(sa, IKE_SA_DEAD);
}

void sa_unverified(struct ike_sa *sa, const char *fmt, ...)
{
	static struct log_ratelimit rl;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sa->unverified, sizeof(sa->unverified), fmt, ap);
	va_end(ap);
	if (log_ratelimit_ok(&rl, 10))
		log_warn("ike: %s not authenticated; waiting for another until the retransmission "
			 "budget ends", sa->unverified);
}

/*
 * The budget of the outstanding request ended. RFC 7296 §2.4: "an endpoint
 * MUST NOT conclude that the other endpoint has failed based on any routing
 * information (e.g., ICMP messages) or IKE messages that arrive without
 * cryptographic protection (e.g., Notify messages complaining about unknown
 * SPIs)": an unauthenticated answer seen meanwhile is only the likely cause.
 */
static void req_budget_over(struct ike_sa *sa, const char *how)
{
	struct sa_request *r = &sa->req;

	if (r->kind == REQ_DELETE) {
		sa_fail(sa, IKE_FAIL_LOCAL, "IKE SA deleted (gateway did not confirm)");
		return;
	}
	if (sa->unverified[0]) {
		sa_fail(sa, IKE_FAIL_UNVERIFIED, "no authenticated answer to %s %s; likely cause: %s",
			ike_exchange_name(r->exchange), how, sa->unverified);
		return;
	}
	sa_fail(sa, IKE_FAIL_TIMEOUT, "no answer to %s from the gateway %s",
		ike_exchange_name(r->exchange), how);
}

uint32_t sa_random_spi(void)
{
	uint32_t spi = 0;

	/* SPIs 1..255 are reserved by IANA (RFC 4303 §2.1). */
	while (spi < 256)
		if (RAND_bytes((uint8_t *)&spi, sizeof(spi)) != 1)
			spi = 0;
	return spi;
}

struct ike_sa *ike_sa_new(const struct ike_sa_cfg *cfg, const struct ike_sa_ops *ops, void *ctx)
{
	struct ike_sa *sa = calloc(1, sizeof(*sa));

	if (!sa)
		return NULL;
	sa->cfg = *cfg;
	sa->ops = *ops;
	sa->ctx = ctx;
	sa->orig_initiator = true;
	if (sa->cfg.retransmit_ms == 0)
		sa->cfg.retransmit_ms = 1000;
	if (sa->cfg.retransmit_tries == 0)
		sa->cfg.retransmit_tries = 5;
	do {
		if (RAND_bytes(sa->spi_i, sizeof(sa->spi_i)) != 1 ||
		    RAND_bytes(sa->ni, sizeof(sa->ni)) != 1) {
			free(sa);
			return NULL;
		}
	} while (sa_spi_u64(sa->spi_i) == 0);
	return sa;
}

void ike_sa_free(struct ike_sa *sa)
{
	if (!sa)
		return;
	dh_free(&sa->dh);
	dh_free(&sa->rk_dh);
	sa_auth_free(sa);
	sa_old_drop(sa);
	sk_dir_free(&sa->sk_out);
	sk_dir_free(&sa->sk_in);
	ike_keys_clear(&sa->keys);
	free(sa->init_req);
	free(sa->init_resp);
	sa_msg_free(&sa->req.msg);
	sa_msg_free(&sa->resp_cache);
	OPENSSL_cleanse(sa, sizeof(*sa));
	free(sa);
}

void sa_hdr(const struct ike_sa *sa, struct ike_hdr *h, uint8_t exchange, bool response,
	    uint32_t msg_id)
{
	memset(h, 0, sizeof(*h));
	h->spi_i = sa_spi_u64(sa->spi_i);
	h->spi_r = sa_spi_u64(sa->spi_r);
	h->version = IKE_VERSION;
	h->exchange = exchange;
	/* §3.1: the original initiator sets the Initiator flag in all its messages. */
	h->flags = (sa->orig_initiator ? IKE_FLAG_INITIATOR : 0) | (response ? IKE_FLAG_RESPONSE : 0);
	h->msg_id = msg_id;
}

int sa_protect(struct ike_sa *sa, uint8_t exchange, bool response, uint32_t msg_id,
	       uint8_t first, const uint8_t *plain, size_t plen, uint8_t *out, size_t cap,
	       size_t *out_len)
{
	uint8_t hdr[IKE_HDR_LEN];
	struct ike_hdr h;
	struct wr w;

	sa_hdr(sa, &h, exchange, response, msg_id);
	h.next_payload = PL_SK;
	wr_init(&w, hdr, sizeof(hdr));
	if (ike_hdr_encode(&w, &h) < 0)
		return -1;
	return sk_encrypt(&sa->sk_out, hdr, first, plain, plen, out, cap, out_len);
}

uint8_t *sa_msg_room(struct sa_msg *m, size_t len)
{
	if (len > m->cap) {
		uint8_t *p = realloc(m->p, len);

		if (!p)
			return NULL;
		m->p = p;
		m->cap = len;
	}
	return m->p;
}

int sa_msg_set(struct sa_msg *m, const uint8_t *msg, size_t len)
{
	if (len > SA_MSG_MAX || (len && !sa_msg_room(m, len)))
		return -1;
	if (len)
		memcpy(m->p, msg, len);
	m->len = len;
	return 0;
}

void sa_msg_free(struct sa_msg *m)
{
	free(m->p);
	*m = (struct sa_msg){ 0 };
}

int sa_send_request(struct ike_sa *sa, int kind, uint8_t exchange, const uint8_t *msg,
		    size_t len, uint64_t now)
{
	struct sa_request *r = &sa->req;

	if (sa_msg_set(&r->msg, msg, len) < 0)
		return -1;
	r->active = true;
	r->kind = kind;
	r->exchange = exchange;
	r->msg_id = sa->next_msg_id;
	r->tries = 1;
	if (kind != REQ_INIT)
		sa->unverified[0] = '\0';
	sa_request_schedule(sa, sa->cfg.retransmit_ms, sa->cfg.retransmit_tries, now);
	log_debug("ike: %s request #%u sent (%zu bytes)", ike_exchange_name(exchange), r->msg_id, len);
	if (sa->ops.send(sa->ctx, r->msg.p, r->msg.len) < 0)
		log_debug("ike: send failed; the retransmission will try again");
	return 0;
}

struct sa_child *sa_child_by_spi(struct ike_sa *sa, uint32_t spi, bool inbound)
{
	for (unsigned i = 0; i < SA_MAX_CHILDREN; i++) {
		struct sa_child *c = &sa->children[i];

		if (c->used && (inbound ? c->spi_in : c->spi_out) == spi)
			return c;
	}
	return NULL;
}

struct sa_child *sa_child_add(struct ike_sa *sa, uint32_t spi_in, uint32_t spi_out)
{
	for (unsigned i = 0; i < SA_MAX_CHILDREN; i++) {
		struct sa_child *c = &sa->children[i];

		if (!c->used) {
			c->used = true;
			c->spi_in = spi_in;
			c->spi_out = spi_out;
			return c;
		}
	}
	return NULL;
}

int sa_first_error_notify(const struct ike_msg *m, uint16_t *type)
{
	unsigned it = 0;
	const struct ike_pl *p;

	while ((p = ike_msg_find(m, PL_NOTIFY, &it))) {
		struct ike_pl_notify n;

		if (ike_pl_notify_decode(p, &n) == 0 && n.type <= IKE_NOTIFY_ERROR_MAX) {
			*type = n.type;
			return 0;
		}
	}
	return -1;
}

const struct ike_pl_notify *sa_find_notify(const struct ike_msg *m, uint16_t type,
					   struct ike_pl_notify *n)
{
	unsigned it = 0;
	const struct ike_pl *p;

	while ((p = ike_msg_find(m, PL_NOTIFY, &it)))
		if (ike_pl_notify_decode(p, n) == 0 && n->type == type)
			return n;
	return NULL;
}

int sa_decode_first(const struct ike_msg *m, uint8_t type, struct ike_pl_any *out)
{
	unsigned it = 0;
	const struct ike_pl *p = ike_msg_find(m, type, &it);

	return p ? ike_pl_any_decode(p, out) : -1;
}

int sa_seal_request(struct ike_sa *sa, uint8_t exchange, sa_fill_fn fill, uint8_t *out,
		    size_t cap, size_t *len)
{
	uint8_t plain[SA_MSG_MAX];
	struct ike_mw b;
	struct wr w;
	size_t plen;
	int rc = -1;

	wr_init(&w, plain, sizeof(plain));
	if (ike_mw_begin_inner(&b, &w) == 0 && (!fill || fill(sa, &b) == 0) &&
	    ike_mw_finish(&b, &plen) == 0 &&
	    sa_protect(sa, exchange, false, sa->next_msg_id, ike_mw_first(&b), plain, plen, out,
		       cap, len) == 0)
		rc = 0;
	OPENSSL_cleanse(plain, wr_len(&w));	/* the writer never writes past its length */
	return rc;
}

int sa_request(struct ike_sa *sa, int kind, uint8_t exchange, sa_fill_fn fill, uint64_t now)
{
	uint8_t out[SA_MSG_MAX];
	size_t len;

	if (sa_seal_request(sa, exchange, fill, out, sizeof(out), &len) < 0)
		return -1;
	return sa_send_request(sa, kind, exchange, out, len, now);
}

int sa_fill_delete_ike(struct ike_sa *sa, struct ike_mw *b)
{
	struct ike_pl_delete d = { .proto = PROTO_IKE };

	return ike_put_delete(b, &d);
}

int sa_delete_once(struct ike_sa *sa)
{
	uint8_t out[256];
	size_t len;

	if (sa_seal_request(sa, INFORMATIONAL, sa_fill_delete_ike, out, sizeof(out), &len) < 0 ||
	    sa->ops.send(sa->ctx, out, len) < 0)
		return -1;
	return 0;
}

int ike_sa_start(struct ike_sa *sa, uint64_t now_ms)
{
	if (sa->state != IKE_SA_IDLE)
		return -1;
	sa->now_ms = now_ms;
	sa->last_rx_ms = now_ms;
	if (sa_init_send(sa, now_ms) < 0) {
		sa_fail(sa, IKE_FAIL_LOCAL, "cannot build IKE_SA_INIT (check the ike proposals)");
		return -1;
	}
	sa_set_state(sa, IKE_SA_INIT_SENT);
	return 0;
}

/* A response to our outstanding request. */
static void sa_response(struct ike_sa *sa, struct ike_msg *m, uint64_t now)
{
	int kind = sa->req.kind;

	if (!sa->req.active || m->hdr.msg_id != sa->req.msg_id || m->hdr.exchange != sa->req.exchange) {
		log_debug("ike: dropped unexpected response #%u", m->hdr.msg_id);
		return;
	}
	sa->req.active = false;
	sa->next_msg_id++;
	sa->answers++;
	switch (kind) {
	case REQ_AUTH:
		sa_auth_response(sa, m, now);
		break;
	case REQ_REKEY_CHILD:
		sa_rekey_child_response(sa, m, now);
		break;
	case REQ_REKEY_IKE:
		sa_rekey_ike_response(sa, m, now);
		break;
	case REQ_DELETE_CHILD:
		sa_delete_child_response(sa, m, now);
		break;
	case REQ_UPDATE:
		sa_mobike_response(sa, m, now);
		break;
	default:
		sa_info_response(sa, m, now);
	}
	/* The window is free again: an address update waiting for it goes first. */
	(void)sa_mobike_tick(sa, now);
}

/* A request from the gateway: strict message-ID handling (RFC 7296 §2.3). */
static void sa_input_request(struct ike_sa *sa, struct ike_msg *m, uint64_t now)
{
	uint32_t id = m->hdr.msg_id;

	if (id == sa->peer_next_id) {
		sa_peer_request(sa, m, now);
		return;
	}
	/* §2.3: a retransmitted request is answered with the same response, not processed again. */
	if (sa->have_resp_cache && id + 1 == sa->peer_next_id) {
		log_debug("ike: gateway retransmitted request #%u, resending our response", id);
		if (sa->ops.send(sa->ctx, sa->resp_cache.p, sa->resp_cache.len) < 0)
			log_debug("ike: resend failed");
		return;
	}
	log_debug("ike: dropped request #%u (expected #%u)", id, sa->peer_next_id);
}

/*
 * What SK carries decrypted: at most its payload's body, which a 16-bit
 * Payload Length bounds (§3.2), whatever the transport. Static (the event
 * loop is single-threaded, ike_sa_input() does not nest) and all zero
 * between calls: every path out of ike_sa_input() wipes what it decrypted.
 */
static uint8_t sa_plain[IKE_PL_BODY_MAX];

const uint8_t *ike_sa_plain_for_test(size_t *cap)
{
	*cap = sizeof(sa_plain);
	return sa_plain;
}

static int sa_unprotect(struct ike_sa *sa, struct ike_msg *m, const uint8_t *msg, size_t len,
			uint8_t *plain, size_t cap, size_t *plen)
{
	static struct log_ratelimit rl;
	uint8_t first;

	*plen = 0;
	if (!sa->have_keys || !m->has_sk || m->sk_type != PL_SK) {
		log_debug("ike: dropped unprotected %s", ike_exchange_name(m->hdr.exchange));
		return -1;
	}
	/* sk_decrypt() wipes what it wrote when it fails */
	if (sk_decrypt(&sa->sk_in, msg, len, m->sk_off, plain, cap, plen, &first) < 0) {
		*plen = 0;
		if (log_ratelimit_ok(&rl, 10))
			log_warn("ike: dropped %s #%u: integrity check failed",
				 ike_exchange_name(m->hdr.exchange), m->hdr.msg_id);
		return -1;
	}
	if (ike_msg_decode_inner(m, first, plain, *plen) < 0) {
		log_warn("ike: dropped %s #%u: %s (%s)", ike_exchange_name(m->hdr.exchange),
			 m->hdr.msg_id, m->err_limit ? m->err_limit : "malformed payloads",
			 ike_notify_name(m->err));
		return -1;
	}
	return 0;
}

void ike_sa_input(struct ike_sa *sa, const uint8_t *msg, size_t len, uint64_t now_ms)
{
	struct ike_msg m;
	size_t plen;
	bool response;

	if (sa->state == IKE_SA_DEAD || sa->state == IKE_SA_IDLE)
		return;
	sa->now_ms = now_ms;
	if (ike_msg_decode(&m, msg, len) < 0) {
		if (m.err_limit)
			log_warn("ike: dropped a message with %s", m.err_limit);
		else
			log_debug("ike: dropped malformed message (%s)", ike_notify_name(m.err));
		return;
	}
	if (m.hdr.spi_i != sa_spi_u64(sa->spi_i)) {
		if (!sa_old_input(sa, &m, msg, len))
			log_debug("ike: dropped message for another IKE SA");
		return;
	}
	response = m.hdr.flags & IKE_FLAG_RESPONSE;
	if (sa->state == IKE_SA_INIT_SENT) {
		if (response && m.hdr.exchange == IKE_SA_INIT && m.hdr.msg_id == 0 && sa->req.active)
			sa_init_response(sa, &m, now_ms);
		return;
	}
	if (m.hdr.spi_r != sa_spi_u64(sa->spi_r)) {
		if (!sa_old_input(sa, &m, msg, len))
			log_debug("ike: dropped message for another IKE SA");
		return;
	}
	if (sa_unprotect(sa, &m, msg, len, sa_plain, sizeof(sa_plain), &plen) == 0) {
		sa->last_rx_ms = now_ms;
		if (response)
			sa_response(sa, &m, now_ms);
		else
			sa_input_request(sa, &m, now_ms);
	}
	OPENSSL_cleanse(sa_plain, plen);
}

/* Total time the request may wait: over UDP what its tries add up to; over TCP the same, once. */
static uint32_t req_budget_ms(const struct sa_request *r)
{
	uint64_t t = 0, step = r->first_ms;

	for (unsigned i = 0; i < r->max_tries && t < 600000; i++, step *= 2)
		t += step;
	return (uint32_t)(t < 600000 ? t : 600000);
}

/* Arms the retransmission timer of the outstanding request (sent at now). */
static void req_arm(struct ike_sa *sa, uint64_t now)
{
	struct sa_request *r = &sa->req;

	/* RFC 9329 §6.2 ≈: initiators SHOULD NOT retransmit requests over TCP. */
	r->next_ms = now + (sa->reliable ? req_budget_ms(r) : r->timeout_ms);
}

void sa_request_schedule(struct ike_sa *sa, uint32_t first_ms, unsigned max_tries, uint64_t now)
{
	struct sa_request *r = &sa->req;

	r->first_ms = r->timeout_ms = first_ms;
	r->max_tries = max_tries;
	req_arm(sa, now);
}

static void sa_retransmit(struct ike_sa *sa, uint64_t now)
{
	struct sa_request *r = &sa->req;
	char how[48];

	if (sa->reliable) {
		snprintf(how, sizeof(how), "in %.1f s over TCP", req_budget_ms(r) / 1000.0);
		req_budget_over(sa, how);
		return;
	}
	if (r->tries >= r->max_tries) {
		snprintf(how, sizeof(how), "after %u tries", r->tries);
		req_budget_over(sa, how);
		return;
	}
	r->tries++;
	r->timeout_ms *= 2;	/* §2.1: exponential back-off */
	r->next_ms = now + r->timeout_ms;
	log_info("ike: no answer to %s #%u, retransmitting (try %u of %u)", ike_exchange_name(r->exchange),
		 r->msg_id, r->tries, r->max_tries);
	if (sa->ops.send(sa->ctx, r->msg.p, r->msg.len) < 0)
		log_debug("ike: retransmission not sent");
}

/* §3.11 (DPD): an empty INFORMATIONAL request; any valid response proves liveness. */
static int sa_dpd(struct ike_sa *sa, uint64_t now)
{
	if (sa_request(sa, REQ_DPD, INFORMATIONAL, NULL, now) < 0) {
		sa_fail(sa, IKE_FAIL_LOCAL, "cannot build a liveness check");
		return -1;
	}
	return 0;
}

void sa_probe(struct ike_sa *sa, uint64_t now, uint32_t delay_ms, const char *why)
{
	uint64_t at = now + delay_ms;

	if (sa->state != IKE_SA_ESTABLISHED || (sa->probe_at && sa->probe_at <= at))
		return;
	log_info("ike: %s; checking in %.1f s that the gateway still has the IKE SA", why,
		 delay_ms / 1000.0);
	sa->probe_at = at ? at : 1;
}

void ike_sa_check_liveness(struct ike_sa *sa, uint64_t now_ms, const char *why)
{
	sa->now_ms = now_ms;
	sa_probe(sa, now_ms, 0, why);
}

/* The check sa_probe() asked for, on a short schedule: a dropped SA is noticed in seconds. */
static void sa_probe_send(struct ike_sa *sa, uint64_t now)
{
	sa->probe_at = 0;
	if (sa_dpd(sa, now) < 0)
		return;
	sa_request_schedule(sa, SA_PROBE_FIRST_MS, SA_PROBE_TRIES, now);
	log_info("ike: liveness check sent (gives up after %.1f s)", req_budget_ms(&sa->req) / 1000.0);
}

void ike_sa_tick(struct ike_sa *sa, uint64_t now_ms)
{
	if (sa->state == IKE_SA_DEAD || sa->state == IKE_SA_IDLE)
		return;
	sa->now_ms = now_ms;
	if (sa->old.active && now_ms >= sa->old.expire_ms)
		sa_old_drop(sa);
	if (sa->req.active) {
		if (now_ms >= sa->req.next_ms)
			sa_retransmit(sa, now_ms);
		return;
	}
	if (sa->state != IKE_SA_ESTABLISHED)
		return;
	if (sa_mobike_tick(sa, now_ms))
		return;
	if (sa->probe_at && now_ms >= sa->probe_at) {
		sa_probe_send(sa, now_ms);
		return;
	}
	if (sa_rekey_tick(sa, now_ms))
		return;
	if (sa->cfg.dpd_ms && now_ms >= sa->last_rx_ms + sa->cfg.dpd_ms &&
	    sa_dpd(sa, now_ms) == 0) {
		sa_request_schedule(sa, SA_DPD_FIRST_MS, SA_DPD_TRIES, now_ms);
		log_debug("ike: gateway silent for %u ms, sent liveness check (gives up after %.1f s)",
			  sa->cfg.dpd_ms, req_budget_ms(&sa->req) / 1000.0);
	}
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

uint64_t ike_sa_next_deadline(const struct ike_sa *sa)
{
	uint64_t t = sa->old.active ? sa->old.expire_ms : 0;

	if (sa->state == IKE_SA_DEAD || sa->state == IKE_SA_IDLE)
		return 0;
	if (sa->req.active)
		return earliest(t, sa->req.next_ms);
	if (sa->state != IKE_SA_ESTABLISHED)
		return t;
	if (sa->mob.pending)
		t = earliest(t, sa->now_ms ? sa->now_ms : 1);
	t = earliest(t, sa_rekey_deadline(sa));
	t = earliest(t, sa->probe_at);
	if (sa->cfg.dpd_ms)
		t = earliest(t, sa->last_rx_ms + sa->cfg.dpd_ms);
	return t;
}

void ike_sa_rekey_child(struct ike_sa *sa, uint64_t now_ms)
{
	if (sa->state == IKE_SA_ESTABLISHED && (!sa->child_rekey_at || sa->child_rekey_at > now_ms))
		sa->child_rekey_at = now_ms;
}

int ike_sa_delete(struct ike_sa *sa, uint64_t now_ms)
{
	if (sa->state != IKE_SA_ESTABLISHED) {
		sa_fail(sa, IKE_FAIL_LOCAL, "IKE SA closed before it was established");
		return 0;
	}
	sa->mob.pending = false;
	if (sa->req.active) {
		/* Window size 1: the DELETE cannot wait for the outstanding request. */
		sa->req.active = false;
		sa->next_msg_id++;
	}
	if (sa_request(sa, REQ_DELETE, INFORMATIONAL, sa_fill_delete_ike, now_ms) < 0) {
		sa_fail(sa, IKE_FAIL_LOCAL, "cannot build DELETE");
		return -1;
	}
	/* Do not wait long at shutdown: two tries. */
	sa_request_schedule(sa, 500, 2, now_ms);
	log_info("ike: sent DELETE for the IKE SA");
	sa_set_state(sa, IKE_SA_DELETING);
	return 0;
}

void ike_sa_set_reliable(struct ike_sa *sa, bool reliable)
{
	sa->reliable = reliable;
	if (sa->req.active)
		req_arm(sa, sa->now_ms);
}

void ike_sa_set_addrs(struct ike_sa *sa, int family, const uint8_t *local_ip, uint16_t local_port,
		      const uint8_t *remote_ip, uint16_t remote_port)
{
	size_t n = family == AF_INET6 ? 16 : 4;

	sa->cfg.family = family;
	memset(sa->cfg.local_ip, 0, sizeof(sa->cfg.local_ip));
	memset(sa->cfg.remote_ip, 0, sizeof(sa->cfg.remote_ip));
	memcpy(sa->cfg.local_ip, local_ip, n);
	memcpy(sa->cfg.remote_ip, remote_ip, n);
	sa->cfg.local_port = local_port;
	sa->cfg.remote_port = remote_port;
}

bool ike_sa_init_done(const struct ike_sa *sa)
{
	return sa->have_keys;
}

void ike_sa_reconnected(struct ike_sa *sa, uint64_t now_ms)
{
	struct sa_request *r = &sa->req;

	if (sa->state == IKE_SA_DEAD || sa->state == IKE_SA_IDLE)
		return;
	sa->now_ms = now_ms;
	/* RFC 9329 §6 ≈: "an UPDATE_SA_ADDRESSES message if MOBIKE is supported" */
	if (sa->state == IKE_SA_ESTABLISHED && ike_sa_mobike(sa)) {
		log_info("ike: new TCP connection: telling the gateway with MOBIKE");
		if (ike_sa_move(sa, now_ms) < 0)
			log_warn("ike: cannot send the address update");
		return;
	}
	/* RFC 9329 §6.2 ≈: after a reconnect, outstanding requests must be sent again. */
	if (r->active) {
		log_info("ike: resending %s #%u on the new connection", ike_exchange_name(r->exchange),
			 r->msg_id);
		req_arm(sa, now_ms);
		if (sa->ops.send(sa->ctx, r->msg.p, r->msg.len) < 0)
			log_debug("ike: resend failed");
		return;
	}
	/* An empty INFORMATIONAL is enough for the gateway to learn the new connection. */
	if (sa->state == IKE_SA_ESTABLISHED) {
		log_info("ike: new TCP connection: an empty INFORMATIONAL tells the gateway");
		if (sa_request(sa, REQ_DPD, INFORMATIONAL, NULL, now_ms) < 0)
			log_warn("ike: cannot build the INFORMATIONAL");
	}
}

enum ike_sa_state ike_sa_state(const struct ike_sa *sa) { return sa->state; }
enum ike_sa_fail ike_sa_failure(const struct ike_sa *sa) { return sa->fail; }
const char *ike_sa_failure_text(const struct ike_sa *sa) { return sa->fail_text; }
unsigned ike_sa_rekeys(const struct ike_sa *sa) { return sa->rekeys; }

void ike_sa_spis(const struct ike_sa *sa, uint64_t *spi_i, uint64_t *spi_r)
{
	*spi_i = sa_spi_u64(sa->spi_i);
	*spi_r = sa_spi_u64(sa->spi_r);
}
