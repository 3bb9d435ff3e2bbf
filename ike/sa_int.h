/* Internals of the IKE SA, shared by ike/sa*.c only. */
#ifndef IKEAGENT_IKE_SA_INT_H
#define IKEAGENT_IKE_SA_INT_H

#include "ike/dh.h"
#include "ike/sa.h"
#include "ike/sa_collide.h"
#include "ike/sk.h"

/*
 * Largest IKE message we build or cache: what every transport carries
 * whole, as we send no RFC 7383 fragments. UDP to port 4500 over IPv4 is
 * the tightest: 65535 (IPv4 total length) - 20 (IPv4 header) - 8 (UDP
 * header) - 4 (non-ESP marker) = 65503; RFC 9329 TCP allows 65535 - 2
 * (Length) - 4 (marker) = 65529. Our IKE_AUTH with the largest credential
 * and CERTREQ fits (checked in sa_auth.c). Buffers of this size live in
 * the heap (sa_auth_send), are static, or are on the stack of the
 * single-threaded event loop: at most two along any call chain. What the
 * SA keeps (struct sa_msg) is sized to the message.
 */
#define SA_MSG_MAX	65503
#define SA_NONCE_LEN	32
#define SA_MAX_CHILDREN	IKE_SA_MAX_CHILDREN
#define SA_PROBE_DELAY_MS	1000	/* after the failure: let the gateway finish its side */
#define SA_PROBE_FIRST_MS	500	/* then 0.5 + 1 + 2 s: gone within 4.5 s */
#define SA_PROBE_TRIES		3
/*
 * The regular check after `dpd` of silence: 0.5 + 1 + 2 + 4 s, gone within
 * 7.5 s (a gateway that restarted is noticed within dpd + 7.5 s, and the
 * tunnel is back ~1 s later; RFC 7296 §2.4 leaves the count and timeouts to
 * the implementation). Five losses in a row at 3 % loss: 2.4e-8.
 */
#define SA_DPD_FIRST_MS		500
#define SA_DPD_TRIES		4
#define SA_CHILD_AGAIN_MS	3000	/* no Child SA left: ask for a new one this much later */
#define SA_COOKIE2_LEN		16	/* RFC 4555 §4.2.5 allows 8..64 */

struct sa_child {
	bool used;
	uint32_t spi_in, spi_out;
};

/*
 * A protected message kept to be sent again (our request, our cached
 * response): ciphertext, so it is not wiped; on the heap, sized to the
 * message (an IKE SA holds three of them: 200 KB if each had room for
 * SA_MSG_MAX). Empty: p NULL, len 0.
 */
struct sa_msg {
	uint8_t *p;
	size_t len, cap;
};

/* Room for len bytes (grows, never shrinks; contents kept); NULL without memory. */
uint8_t *sa_msg_room(struct sa_msg *m, size_t len);
/* Copy len bytes in; -1 (nothing changed) without memory. */
int sa_msg_set(struct sa_msg *m, const uint8_t *msg, size_t len) MUST_CHECK;
void sa_msg_free(struct sa_msg *m);

/* Our one outstanding request (window size 1, RFC 7296 §2.3). */
struct sa_request {
	bool active;
	uint8_t exchange;
	uint32_t msg_id;
	struct sa_msg msg;
	unsigned tries;
	unsigned max_tries;	/* then give up */
	uint32_t first_ms;	/* first retransmission timeout */
	uint64_t next_ms;	/* next retransmission */
	uint32_t timeout_ms;	/* current back-off */
	/* what the request was for, so its response can be matched */
	enum { REQ_NONE, REQ_INIT, REQ_AUTH, REQ_DPD, REQ_DELETE, REQ_DELETE_CHILD,
	       REQ_REKEY_CHILD, REQ_REKEY_IKE, REQ_UPDATE } kind;
};

/*
 * IKE_AUTH, one exchange unit (sa_auth.c; the EAP rounds in sa_eap.c):
 * one round trip with a PSK or a certificate; with EAP (RFC 7296 §2.16)
 *   AUTH_EAP_FIRST  IDi, [CERTREQ,] [IDr,] CP, SA, TSi, TSr   (no AUTH)
 *                   <- IDr, CERT, AUTH, EAP(request)          gateway proven here
 *   AUTH_EAP        EAP(response) <- EAP(request)              as often as the method needs
 *   AUTH_EAP_LAST   AUTH (MSK)    <- AUTH (MSK), CP, SA, TSi, TSr
 * Lives from our first IKE_AUTH request until established or dead; message
 * IDs and retransmission stay with sa.c's one outstanding request.
 */
#define SA_AUTH_MAX_ROUNDS	64	/* IKE_AUTH requests in one login (EAP-TLS fragments) */
struct sa_auth_x {
	enum sa_auth_step { AUTH_ONE, AUTH_EAP_FIRST, AUTH_EAP, AUTH_EAP_LAST } step;
	uint32_t spi_in;		/* our SPI of the Child SA negotiated in IKE_AUTH */
	unsigned rounds;		/* IKE_AUTH requests sent */
	struct eap_peer *eap;
	struct eap_cfg eap_cfg;		/* cfg.eap with the SA's check of the EAP server */
	uint8_t idr[4 + IKE_ID_MAX];	/* the gateway's RestOfRespIDPayload (§2.15) */
	size_t idr_len;
	uint8_t eap_out[EAP_MSG_MAX];	/* our EAP response of this round */
	size_t eap_out_len;
	bool peer_ok;			/* the gateway's AUTH verified: its error notifies count */
};

struct ike_sa {
	struct ike_sa_cfg cfg;
	struct ike_sa_ops ops;
	void *ctx;
	enum ike_sa_state state;
	enum ike_sa_fail fail;
	char fail_text[160];
	/* the last unauthenticated answer to the outstanding request, for the failure text */
	char unverified[96];

	uint8_t spi_i[8], spi_r[8];
	uint8_t ni[SA_NONCE_LEN];
	uint8_t nr[IKE_NONCE_MAX];
	size_t nr_len;
	struct dh dh;
	uint16_t dh_group;
	unsigned ke_retries;
	uint8_t cookie[IKE_COOKIE_MAX];
	size_t cookie_len;

	/* RealMessage1 and RealMessage2 for AUTH (RFC 7296 §2.15) */
	uint8_t *init_req;
	size_t init_req_len;
	uint8_t *init_resp;
	size_t init_resp_len;

	struct ike_algs algs;
	struct ike_keys keys;
	bool have_keys;
	struct sk_dir sk_out, sk_in;
	bool peer_mobike;
	bool reliable;			/* over TCP/TLS: no retransmission timers */
	uint16_t peer_hashes[8];	/* the gateway's SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4) */
	unsigned n_peer_hashes;
	bool on_nat_port;

	struct sa_auth_x *auth;		/* IKE_AUTH under way; NULL before and after */
	struct sa_child children[SA_MAX_CHILDREN];

	/* message IDs (§2.3): ours, and the gateway's with its cached response */
	uint32_t next_msg_id;
	struct sa_request req;
	uint32_t peer_next_id;
	bool have_resp_cache;
	struct sa_msg resp_cache;

	/* rekeying (§1.3.2, §1.3.3, §2.18) */
	bool orig_initiator;		/* we set the Initiator flag; false after the gateway rekeyed the IKE SA */
	uint64_t ike_rekey_at, child_rekey_at;	/* 0 = not scheduled */
	uint32_t child_spi_in;		/* the newest Child SA, the one to rekey */
	struct ike_pl_ts ts_i, ts_r;	/* its traffic selectors, as TSi/TSr we would send */
	uint32_t delete_child_spi;	/* a replaced Child SA to delete once the window is free */
	struct dh rk_dh;		/* our KE for the rekey in flight */
	uint8_t rk_ni[SA_NONCE_LEN];
	uint8_t rk_spi[8];		/* our new IKE SPI, or our new ESP SPI in the first 4 */
	uint16_t rk_group;		/* INVALID_KE_PAYLOAD asked for it: our next rekey's KE (0: none) */
	struct sa_collide collide;	/* the gateway rekeys the same Child SA (§2.8.1), sa_collide.c */
	struct {			/* the IKE SA the gateway's rekey replaced, until it deletes it */
		bool active;
		bool orig_initiator;
		uint8_t spi_i[8], spi_r[8];
		struct sk_dir sk_in, sk_out;
		uint64_t expire_ms;
		/* its last response (to the gateway's rekey), for a retransmitted request (§2.3) */
		bool have_resp;
		uint32_t resp_id;
		struct sa_msg resp;
	} old;

	/* MOBIKE (RFC 4555), sa_mobike.c */
	struct {
		bool pending;		/* an update waits for the window (ike_sa_move) */
		uint8_t cookie2[SA_COOKIE2_LEN];	/* of the update outstanding */
		bool multi_path;	/* rebuilt for other addresses: send another (§3.6) */
		struct sa_path {	/* the addresses it was first built for */
			int family;
			uint8_t local_ip[16], remote_ip[16];
			uint16_t local_port, remote_port;
		} path;
		bool nat;		/* ike_sa_nat_detected() */
		size_t n_addrs;
		struct ike_sa_addr addrs[IKE_SA_MAX_PEER_ADDRS];
	} mob;
	uint64_t answers;		/* ike_sa_answers() */

	uint64_t now_ms;
	uint64_t last_rx_ms;
	uint64_t dpd_due_ms;
	uint64_t probe_at;		/* see sa_probe(); 0 = none due */
	unsigned rekeys;
};

/* sa.c */
uint64_t sa_spi_u64(const uint8_t s[8]);
void sa_set_state(struct ike_sa *sa, enum ike_sa_state s);
void sa_fail(struct ike_sa *sa, enum ike_sa_fail why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * An unauthenticated answer to the outstanding request (what, e.g.
 * "IKE_SA_INIT answer N(NO_PROPOSAL_CHOSEN)"): logged and remembered, the
 * request stays outstanding. If the retransmission budget ends without a
 * valid answer, the SA fails with IKE_FAIL_UNVERIFIED naming it.
 */
void sa_unverified(struct ike_sa *sa, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sa_send_request(struct ike_sa *sa, int kind, uint8_t exchange, const uint8_t *msg,
		    size_t len, uint64_t now) MUST_CHECK;
/* Encrypt the inner payload chain plain (first payload type first) into a message. */
int sa_protect(struct ike_sa *sa, uint8_t exchange, bool response, uint32_t msg_id,
	       uint8_t first, const uint8_t *plain, size_t plen, uint8_t *out, size_t cap,
	       size_t *out_len) MUST_CHECK;
void sa_hdr(const struct ike_sa *sa, struct ike_hdr *h, uint8_t exchange, bool response,
	    uint32_t msg_id);
struct sa_child *sa_child_by_spi(struct ike_sa *sa, uint32_t spi, bool inbound);
struct sa_child *sa_child_add(struct ike_sa *sa, uint32_t spi_in, uint32_t spi_out);
uint32_t sa_random_spi(void);
int sa_first_error_notify(const struct ike_msg *m, uint16_t *type) MUST_CHECK;
/* The first notify of type in m (decoded into *n), or NULL. */
const struct ike_pl_notify *sa_find_notify(const struct ike_msg *m, uint16_t type,
					   struct ike_pl_notify *n);
/* The first payload of type in m, decoded. */
int sa_decode_first(const struct ike_msg *m, uint8_t type, struct ike_pl_any *out) MUST_CHECK;
/* Fills the inner payload chain of a request we build. */
typedef int (*sa_fill_fn)(struct ike_sa *sa, struct ike_mw *b);
/* Our next request: inner chain from fill (NULL: empty), protected with the next message ID. */
int sa_seal_request(struct ike_sa *sa, uint8_t exchange, sa_fill_fn fill, uint8_t *out,
		    size_t cap, size_t *len) MUST_CHECK;
/* ... and sent as our one outstanding request. */
int sa_request(struct ike_sa *sa, int kind, uint8_t exchange, sa_fill_fn fill,
	       uint64_t now) MUST_CHECK;
/* Fill: a Delete payload for the IKE SA. */
int sa_fill_delete_ike(struct ike_sa *sa, struct ike_mw *b) MUST_CHECK;
/* A Delete of this IKE SA with its current keys, sent once; no answer is awaited. */
int sa_delete_once(struct ike_sa *sa) MUST_CHECK;

/*
 * The retransmission schedule of the outstanding request, sent at now:
 * first_ms, doubling, max_tries sends in all; over TCP one timer of what
 * those add up to. sa_send_request() sets the configured one.
 */
void sa_request_schedule(struct ike_sa *sa, uint32_t first_ms, unsigned max_tries, uint64_t now);
/*
 * Something happened that may mean the gateway dropped the IKE SA without
 * telling us (it refused our rekey, we refused its request, the system
 * slept): check liveness delay_ms from now (usually SA_PROBE_DELAY_MS),
 * with SA_PROBE_TRIES sends from SA_PROBE_FIRST_MS, rather than after the
 * DPD interval. No answer fails the SA (IKE_FAIL_TIMEOUT) and the session
 * reconnects. An earlier check already due stays.
 */
void sa_probe(struct ike_sa *sa, uint64_t now, uint32_t delay_ms, const char *why);

/* sa_init.c: IKE_SA_INIT */
int sa_natd_hash(const struct ike_sa *sa, const uint8_t *ip, uint16_t port,
		 uint8_t out[IKE_NAT_DETECTION_LEN]) MUST_CHECK;
int sa_init_send(struct ike_sa *sa, uint64_t now) MUST_CHECK;
int sa_put_proposals(struct ike_mw *b, const struct proposal_list *l, uint8_t proto,
		     const uint8_t *spi, uint8_t spi_size) MUST_CHECK;
bool sa_offered(const struct proposal *pp, const struct ike_transform *t);
bool sa_group_offered(const struct proposal_list *l, uint16_t group);
/* One chosen transform into *algs (ENCR, PRF, INTEG) or *dh (DH); ESN and others: nothing. */
void sa_take_alg(const struct ike_transform *t, struct ike_algs *algs, uint16_t *dh);
/*
 * The gateway's answer to our SA payload (§2.7): exactly one proposal of
 * proto with spi_size, one of ours, one transform of each type we offered.
 * Its algorithms into *algs and *dh (0: none), its SPI into spi (may be NULL).
 */
int sa_accepted(const struct ike_msg *m, const struct proposal_list *l, uint8_t proto,
		uint8_t spi_size, struct ike_algs *algs, uint16_t *dh,
		uint8_t spi[IKE_MAX_SPI]) MUST_CHECK;
void sa_init_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now);

/* sa_auth.c: IKE_AUTH */
/* RestOfInitIDPayload (§2.15) of id into out; 0 if it does not fit. */
size_t sa_id_body(const struct ike_id *id, uint8_t *out, size_t cap);
int sa_auth_send(struct ike_sa *sa, uint64_t now) MUST_CHECK;
void sa_auth_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now);
void sa_auth_free(struct ike_sa *sa);
/* Seal and send one IKE_AUTH request of the exchange (fill builds the inner payloads). */
int sa_auth_request(struct ike_sa *sa, sa_fill_fn fill, uint64_t now) MUST_CHECK;
/* The gateway's IDr and AUTH (§2.15): certificate, PSK, or the key an EAP method gave (§2.16). */
int sa_auth_verify_peer(struct ike_sa *sa, const struct ike_msg *m, const uint8_t *msk,
			size_t msk_len) MUST_CHECK;
/* An error notify in the gateway's IKE_AUTH response fails the SA ("gateway answered WHAT with ..."). */
bool sa_auth_refused(struct ike_sa *sa, const struct ike_msg *m, const char *what);
/* The Child SA, CP and traffic selectors of the last IKE_AUTH response: established. */
void sa_auth_finish(struct ike_sa *sa, const struct ike_msg *m, uint64_t now);

/* sa_ts.c: traffic selectors (§2.9) */
/*
 * Each selector of got (the gateway's TSi or TSr, side names it) inside the
 * union of sent (ours for that side): protocol, port range and addresses.
 * -1 with why ("TSr 0.0.0.0-255.255.255.255 proto 0 ports 0-65535 is not
 * within what we proposed (10.0.0.0-10.255.255.255 ...)") otherwise.
 */
int sa_ts_check(const struct ike_pl_ts *got, const struct ike_pl_ts *sent, const char *side,
		char *why, size_t cap) MUST_CHECK;

/* sa_eap.c: the EAP rounds of IKE_AUTH (§2.16) */
int sa_eap_begin(struct ike_sa *sa) MUST_CHECK;
void sa_eap_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now);

/* How a Child SA is installed: IKE_AUTH's, a rekey's, or a collision's redundant one (§2.8.1). */
enum sa_install { SA_INSTALL_FIRST, SA_INSTALL_REKEY, SA_INSTALL_REDUNDANT };
void sa_child_install(struct ike_sa *sa, const struct ike_algs *algs, uint32_t spi_in,
		      uint32_t spi_out, const uint8_t *gir, size_t gir_len, const uint8_t *ni,
		      size_t ni_len, const uint8_t *nr, size_t nr_len, bool we_initiated, const struct ike_pl_ts *tsi,
		      const struct ike_pl_ts *tsr, const struct ike_pl_cp *cp, enum sa_install how);

/* sa_rekey.c: rekeying */
void sa_rekey_schedule(struct ike_sa *sa, bool ike, bool child);
/* Start whatever queued work is due (a Child SA delete, a rekey); true if a request went out. */
bool sa_rekey_tick(struct ike_sa *sa, uint64_t now);
uint64_t sa_rekey_deadline(const struct ike_sa *sa);
void sa_rekey_child_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now);
void sa_rekey_ike_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now);
void sa_delete_child_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now);
/*
 * Why we refuse a request of the gateway: the error notify we answer with
 * (§2.21.2, §3.10.1) and, for INVALID_KE_PAYLOAD, the group we want.
 */
struct sa_refusal {
	uint16_t notify;
	uint16_t group;
	const char *why;	/* for the log */
};
/* The gateway rekeys the IKE SA: build our answer, then (after it was sent) switch. */
int sa_rekey_ike_answer(struct ike_sa *sa, const struct ike_msg *m, struct ike_mw *b,
			struct ike_keys *nk, uint8_t spi_i[8], struct sa_refusal *no) MUST_CHECK;
void sa_rekey_ike_commit(struct ike_sa *sa, struct ike_keys *nk, const uint8_t spi_i[8]);
/* A message for the replaced IKE SA (its DELETE); true if it was one. */
bool sa_old_input(struct ike_sa *sa, const struct ike_msg *m, const uint8_t *msg, size_t len);
void sa_old_drop(struct ike_sa *sa);
/*
 * We answer the gateway's SA payload (§2.7, §3.3.6): the first of its
 * proposals for proto we can match, one transform of each type; a proposal
 * with the group of its KE payload (ke_group; 0: none) first. *out gets
 * that proposal's number, and its SPI (the gateway's; ours goes in before
 * sending), with the transforms chosen. -1: none fits (NO_PROPOSAL_CHOSEN).
 */
int sa_choose(const struct proposal_list *ours, const struct ike_pl_sa *offer, uint8_t proto,
	      uint16_t ke_group, struct ike_proposal *out, struct ike_algs *algs,
	      uint16_t *dh) MUST_CHECK;

/* sa_mobike.c: MOBIKE (RFC 4555) */
/* Tell the gateway about new addresses: a new UPDATE_SA_ADDRESSES request. */
int sa_mobike_update(struct ike_sa *sa, uint64_t now) MUST_CHECK;
void sa_mobike_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now);
/* After any response: a pending update goes out now; true if a request went out. */
bool sa_mobike_tick(struct ike_sa *sa, uint64_t now);
/* ADDITIONAL_IP4/IP6_ADDRESS, NO_ADDITIONAL_ADDRESSES in a message of the gateway (§3.4, §3.6). */
void sa_mobike_peer_addrs(struct ike_sa *sa, const struct ike_msg *m);
/* NAT detection in the gateway's message: true if NAT_DETECTION_DESTINATION_IP shows a NAT on
 * our side; *have: it sent one. */
bool sa_natd_ours(const struct ike_sa *sa, const struct ike_msg *m, bool *have);
/* NAT_DETECTION_SOURCE_IP / _DESTINATION_IP for the current addresses into b (§2.23). */
int sa_put_natd(struct ike_sa *sa, struct ike_mw *b) MUST_CHECK;

/* sa_info.c: requests from the gateway */
void sa_peer_request(struct ike_sa *sa, const struct ike_msg *m, uint64_t now);
void sa_info_response(struct ike_sa *sa, const struct ike_msg *m, uint64_t now);

#endif
