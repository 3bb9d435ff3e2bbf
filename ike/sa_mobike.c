/*
 * MOBIKE (RFC 4555) as the IKE SA's initiator: moving the SAs to the
 * addresses of a new path (UPDATE_SA_ADDRESSES with NAT detection and a
 * COOKIE2), sending the outstanding request again on another path, and
 * the gateway's additional addresses. The agent picks the path; this file
 * only tells the gateway.
 */
#include "ike/sa_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ike/names.h"
#include "util/log.h"

#define PATH_TEXT_LEN	(2 * INET6_ADDRSTRLEN + 24)

bool ike_sa_mobike(const struct ike_sa *sa)
{
	return sa->cfg.mobike && sa->peer_mobike;
}

uint64_t ike_sa_answers(const struct ike_sa *sa)
{
	return sa->answers;
}

bool ike_sa_nat_detected(const struct ike_sa *sa)
{
	return sa->mob.nat;
}

size_t ike_sa_peer_addrs(const struct ike_sa *sa, struct ike_sa_addr *out, size_t max)
{
	size_t n = sa->mob.n_addrs < max ? sa->mob.n_addrs : max;

	if (n)
		memcpy(out, sa->mob.addrs, n * sizeof(*out));
	return n;
}

/* "192.0.2.1:4500 -> 203.0.113.1:4500" for the current addresses. */
static const char *path_text(const struct ike_sa *sa, char buf[PATH_TEXT_LEN])
{
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
	int af = sa->cfg.family == AF_INET6 ? AF_INET6 : AF_INET;

	if (!inet_ntop(af, sa->cfg.local_ip, l, sizeof(l)))
		snprintf(l, sizeof(l), "?");
	if (!inet_ntop(af, sa->cfg.remote_ip, r, sizeof(r)))
		snprintf(r, sizeof(r), "?");
	snprintf(buf, PATH_TEXT_LEN, af == AF_INET6 ? "[%s]:%u -> [%s]:%u" : "%s:%u -> %s:%u", l,
		 sa->cfg.local_port, r, sa->cfg.remote_port);
	return buf;
}

/* Remembers the current addresses as those of the update; true if they differ from the last. */
static bool path_changed(struct ike_sa *sa)
{
	struct sa_path *p = &sa->mob.path;
	bool changed = p->family != sa->cfg.family || p->local_port != sa->cfg.local_port ||
		       p->remote_port != sa->cfg.remote_port ||
		       memcmp(p->local_ip, sa->cfg.local_ip, sizeof(p->local_ip)) != 0 ||
		       memcmp(p->remote_ip, sa->cfg.remote_ip, sizeof(p->remote_ip)) != 0;

	p->family = sa->cfg.family;
	p->local_port = sa->cfg.local_port;
	p->remote_port = sa->cfg.remote_port;
	memcpy(p->local_ip, sa->cfg.local_ip, sizeof(p->local_ip));
	memcpy(p->remote_ip, sa->cfg.remote_ip, sizeof(p->remote_ip));
	return changed;
}

/*
 * RFC 4555 §3.5: an INFORMATIONAL request with UPDATE_SA_ADDRESSES and
 * NAT_DETECTION_SOURCE_IP/DESTINATION_IP for the new addresses (sa_put_natd
 * keeps cfg.force_encap's faked source hash), and COOKIE2 for the return
 * routability check (§3.7).
 */
static int fill_update(struct ike_sa *sa, struct ike_mw *b)
{
	struct ike_pl_notify u = { .type = N_UPDATE_SA_ADDRESSES };
	struct ike_pl_notify c = { .type = N_COOKIE2, .data = sa->mob.cookie2,
				   .len = SA_COOKIE2_LEN };

	if (ike_put_notify(b, &u) < 0 || sa_put_natd(sa, b) < 0 || ike_put_notify(b, &c) < 0)
		return -1;
	return 0;
}

int sa_mobike_update(struct ike_sa *sa, uint64_t now)
{
	char p[PATH_TEXT_LEN];

	/* RFC 4555 §4.2.5: COOKIE2 data "MUST be between 8 and 64 octets in length
	 * (inclusive), and MUST be chosen by the exchange initiator in a way that is
	 * unpredictable to the exchange responder" */
	if (RAND_bytes(sa->mob.cookie2, sizeof(sa->mob.cookie2)) != 1)
		return -1;
	sa->mob.pending = false;
	sa->mob.multi_path = false;
	(void)path_changed(sa);
	if (sa_request(sa, REQ_UPDATE, INFORMATIONAL, fill_update, now) < 0)
		return -1;
	log_info("ike: asking the gateway to move the SAs to %s (UPDATE_SA_ADDRESSES #%u)",
		 path_text(sa, p), sa->req.msg_id);
	return 0;
}

/*
 * Our outstanding update, rebuilt in place for the current addresses: the
 * same message ID (the window is still ours) and the same COOKIE2, so an
 * answer to any of its versions verifies. -1 (errno EIO) fails the SA.
 */
static int update_rebuild(struct ike_sa *sa)
{
	struct sa_request *r = &sa->req;
	uint8_t out[SA_MSG_MAX];
	size_t len;

	if (path_changed(sa))
		sa->mob.multi_path = true;
	/* sa_seal_request() seals with next_msg_id: the outstanding request's until answered */
	if (r->msg_id != sa->next_msg_id ||
	    sa_seal_request(sa, INFORMATIONAL, fill_update, out, sizeof(out), &len) < 0 ||
	    sa_msg_set(&r->msg, out, len) < 0) {
		sa_fail(sa, IKE_FAIL_LOCAL, "cannot rebuild the address update");
		errno = EIO;
		return -1;
	}
	return 0;
}

static void req_send(struct ike_sa *sa)
{
	if (sa->ops.send(sa->ctx, sa->req.msg.p, sa->req.msg.len) < 0)
		log_debug("ike: send failed; the retransmission will try again");
}

int ike_sa_move(struct ike_sa *sa, uint64_t now_ms)
{
	struct sa_request *r = &sa->req;
	char p[PATH_TEXT_LEN];

	if (sa->state != IKE_SA_ESTABLISHED || !ike_sa_mobike(sa)) {
		log_debug("ike: the IKE SA cannot move: %s",
			  sa->state != IKE_SA_ESTABLISHED ? "not established"
			  : "MOBIKE not negotiated with the gateway");
		errno = ENOTSUP;
		return -1;
	}
	sa->now_ms = now_ms;
	if (!r->active) {
		if (sa_mobike_update(sa, now_ms) < 0) {
			sa_fail(sa, IKE_FAIL_LOCAL, "cannot build the address update");
			errno = EIO;
			return -1;
		}
		return 0;
	}
	if (r->kind == REQ_UPDATE) {
		if (update_rebuild(sa) < 0)
			return -1;
		log_info("ike: moving again, to %s: UPDATE_SA_ADDRESSES #%u rebuilt for it",
			 path_text(sa, p), r->msg_id);
	} else {
		sa->mob.pending = true;
		log_info("ike: moving to %s: %s #%u is outstanding, sent there first; the address "
			 "update follows its answer", path_text(sa, p),
			 ike_exchange_name(r->exchange), r->msg_id);
	}
	/* RFC 4555 §3.5 ≈: the initiator may retransmit a request to and from other
	 * addresses; the new path gets a whole retransmission schedule. */
	r->tries = 1;
	sa_request_schedule(sa, r->first_ms, r->max_tries, now_ms);
	req_send(sa);
	return 0;
}

int ike_sa_resend(struct ike_sa *sa, uint64_t now_ms)
{
	struct sa_request *r = &sa->req;

	if (!r->active || sa->state == IKE_SA_DEAD || sa->state == IKE_SA_IDLE) {
		errno = ENOENT;
		return -1;
	}
	sa->now_ms = now_ms;
	/*
	 * RFC 9329 §7.1 ≈: the request goes to the new transport with its
	 * message ID, its NAT detection for that transport's addresses. Only
	 * our update carries NAT detection we may rebuild: IKE_SA_INIT's bytes
	 * are signed in AUTH (RFC 7296 §2.15) and go out unchanged.
	 */
	if (r->kind == REQ_UPDATE && update_rebuild(sa) < 0)
		return -1;
	log_info("ike: %s #%u sent again now%s", ike_exchange_name(r->exchange), r->msg_id,
		 r->kind == REQ_UPDATE ? ", rebuilt for the current addresses" : "");
	req_send(sa);
	return 0;
}

bool sa_mobike_tick(struct ike_sa *sa, uint64_t now)
{
	if (!sa->mob.pending || sa->req.active || sa->state != IKE_SA_ESTABLISHED)
		return false;
	if (sa_mobike_update(sa, now) < 0) {
		sa_fail(sa, IKE_FAIL_LOCAL, "cannot build the address update");
		return false;
	}
	return true;
}

static void report(struct ike_sa *sa, int result, const char *why)
{
	if (sa->ops.moved)
		sa->ops.moved(sa->ctx, result, why);
}

void sa_mobike_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now)
{
	struct ike_pl_notify c;
	char why[200], p[PATH_TEXT_LEN];
	uint16_t err;
	bool have, nat, found = sa_find_notify(m, N_COOKIE2, &c) != NULL;

	/* RFC 4555 §3.7: "When processing the response, the original sender MUST
	 * verify that the value is the same one as sent. If the values do not
	 * match, the IKE_SA MUST be closed." */
	if (!found || c.len != SA_COOKIE2_LEN ||
	    CRYPTO_memcmp(c.data, sa->mob.cookie2, SA_COOKIE2_LEN) != 0) {
		sa->mob.pending = false;
		sa_fail(sa, IKE_FAIL_PROTOCOL,
			"gateway answered our address update #%u %s; closing the IKE SA (RFC 4555 §3.7)",
			m->hdr.msg_id,
			found ? "with a COOKIE2 that is not ours" : "without our COOKIE2");
		return;
	}
	if (sa_first_error_notify(m, &err) == 0) {
		/* RFC 4555 §3.9: on UNEXPECTED_NAT_DETECTED the initiator "SHOULD retry
		 * the operation several times using new INFORMATIONAL requests"; on
		 * UNACCEPTABLE_ADDRESSES (§4.2.7 ≈: the change was not carried out) it
		 * tries other addresses. The agent decides: it moves again. */
		snprintf(why, sizeof(why), "gateway refused %s with %s: %s", path_text(sa, p),
			 ike_notify_name(err),
			 err == N_UNEXPECTED_NAT_DETECTED ? "retry the update (RFC 4555 §3.9)" :
			 err == N_UNACCEPTABLE_ADDRESSES ? "try another address pair (RFC 4555 §4.2.7)" :
			 "try another path");
		sa->mob.multi_path = false;
		log_warn("ike: %s; the SAs stay where they were", why);
		report(sa, -1, why);
		return;
	}
	nat = sa_natd_ours(sa, m, &have);
	if (have)
		sa->mob.nat = nat;
	else
		log_info("ike: the gateway's answer to our address update has no NAT detection "
			 "(RFC 4555 §3.8 wants it); keeping what we knew");
	if (sa->mob.multi_path) {
		/*
		 * RFC 4555 §3.6: "If the request to update the addresses is
		 * retransmitted using several different source addresses, a new
		 * INFORMATIONAL request MUST be sent." The gateway may have taken
		 * a version for an earlier path (a retransmission is answered from
		 * its cache): one more update, for the current addresses.
		 */
		log_info("ike: address update #%u answered, but it went out for several paths; "
			 "sending a new one for %s", m->hdr.msg_id, path_text(sa, p));
		sa->mob.pending = true;
		return;
	}
	snprintf(why, sizeof(why), "gateway moved the SAs to %s (%s)", path_text(sa, p),
		 !have ? "NAT unknown" : nat ? "NAT on our side" : "no NAT");
	log_info("ike: %s", why);
	report(sa, 0, why);
}

/*
 * RFC 4555 §3.4/§3.6 ≈: the gateway's list of additional addresses, in
 * IKE_AUTH or an INFORMATIONAL request, replaces the previous one whole;
 * NO_ADDITIONAL_ADDRESSES empties it. We keep IKE_SA_MAX_PEER_ADDRS.
 */
void sa_mobike_peer_addrs(struct ike_sa *sa, const struct ike_msg *m)
{
	struct ike_sa_addr a[IKE_SA_MAX_PEER_ADDRS];
	unsigned it = 0, ignored = 0;
	const struct ike_pl *pl;
	bool any = false, none = false;
	size_t n = 0;

	while ((pl = ike_msg_find(m, PL_NOTIFY, &it))) {
		struct ike_pl_notify nt;
		size_t len;

		if (ike_pl_notify_decode(pl, &nt) < 0)
			continue;
		if (nt.type == N_NO_ADDITIONAL_ADDRESSES) {
			any = none = true;
			continue;
		}
		if (nt.type != N_ADDITIONAL_IP4_ADDRESS && nt.type != N_ADDITIONAL_IP6_ADDRESS)
			continue;
		any = true;
		len = nt.type == N_ADDITIONAL_IP4_ADDRESS ? 4 : 16;
		/* §4.2.2: the data is the address, 4 or 16 octets */
		if (nt.len != len) {
			log_debug("ike: ignored %s of %u bytes", ike_notify_name(nt.type), nt.len);
			continue;
		}
		if (n == IKE_SA_MAX_PEER_ADDRS) {
			ignored++;
			continue;
		}
		memset(&a[n], 0, sizeof(a[n]));
		a[n].family = len == 4 ? AF_INET : AF_INET6;
		memcpy(a[n].ip, nt.data, len);
		n++;
	}
	if (!any)
		return;
	if (none)
		n = 0;
	if (ignored)
		log_debug("ike: kept %zu of the gateway's additional addresses, ignored %u more", n,
			  ignored);
	if (n)
		memcpy(sa->mob.addrs, a, n * sizeof(a[0]));
	sa->mob.n_addrs = n;
	for (size_t i = 0; i < n; i++) {
		char t[INET6_ADDRSTRLEN];

		if (inet_ntop(a[i].family, a[i].ip, t, sizeof(t)))
			log_info("ike: gateway's additional address %zu of %zu: %s", i + 1, n, t);
	}
	if (!n)
		log_info("ike: gateway has no additional addresses");
}
