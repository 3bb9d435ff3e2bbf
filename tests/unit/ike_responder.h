/*
 * Test-only: a scripted IKEv2 responder ("the gateway") built from the
 * project's own codec and crypto, and a harness that drives one struct
 * ike_sa against it in one process. The SA's ops record what it does
 * (messages sent, Child SAs up and down, state changes); the gateway
 * parses what the SA sent and answers as strongSwan would.
 *
 * Not compiled on its own (the Makefile builds tests/unit/test_*.c only):
 * test files #include "tests/unit/ike_responder.c".
 */
#ifndef IKEAGENT_TESTS_IKE_RESPONDER_H
#define IKEAGENT_TESTS_IKE_RESPONDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/cert.h"
#include "ike/dh.h"
#include "ike/keys.h"
#include "ike/msg.h"
#include "ike/sa.h"
#include "ike/sk.h"

#define GW_MSG_MAX	65536	/* any IKE message */
#define H_QLEN		32
#define GW_PSK		"correct horse battery staple"
#define GW_ID		"gw.example"

/* ---- the agent side ---- */

struct h_msg {
	uint8_t buf[GW_MSG_MAX];
	size_t len;
};

struct h_child {
	struct ike_child_info ci;	/* key pointers redirected to the copies below */
	uint8_t key_in[IKE_ENCR_KEY_MAX], key_out[IKE_ENCR_KEY_MAX];
};

struct harness {
	struct ike_sa *sa;
	struct ike_sa_cfg cfg;
	uint64_t now;
	struct h_msg q[H_QLEN];		/* ring of what ops.send got */
	unsigned nq;
	unsigned n_float, float_at_nq;	/* float_port calls; nq at the first one */
	struct h_child up[8];
	unsigned n_up;
	uint32_t down[8];
	unsigned n_down;
	enum ike_sa_state states[16];	/* what state_changed reported */
	unsigned n_states;
	int moved[8];			/* what ops.moved reported */
	char moved_why[200];
	unsigned n_moved;
};

/* Config (PSK, ids, proposals, want VIP/DNS, 500 ms x 4 tries); the SA is made by h_new(). */
void h_init(struct harness *h, const char *ike, const char *esp);
void h_new(struct harness *h);
void h_free(struct harness *h);
const struct h_msg *h_last(const struct harness *h);
void h_input(struct harness *h, const uint8_t *msg, size_t len);

/* ---- the gateway ---- */

/* One IKE SA as the gateway sees it. */
struct gw_ike {
	uint8_t spi_i[8], spi_r[8];
	struct ike_keys keys;
	struct sk_dir in, out;
	bool initiator;			/* the gateway is this SA's original initiator */
	uint32_t next_req;		/* the gateway's next request ID */
};

struct gw_out {
	uint8_t plain[GW_MSG_MAX];
	struct wr w;
	struct ike_mw b;
};

struct gw {
	/* behaviour */
	const char *psk;		/* verifies the client's AUTH */
	const char *my_psk;		/* computes the gateway's AUTH */
	uint16_t want_group;		/* INVALID_KE_PAYLOAD unless the KE has it; 0: any */
	uint16_t init_error;		/* answer IKE_SA_INIT with this notify */
	uint16_t auth_error;		/* answer IKE_AUTH with IDr, AUTH and this notify */
	bool cookie;			/* demand a COOKIE first */
	/* certificates (owned, freed by gw_free); both NULL: PSK */
	struct ike_trust *trust;	/* verifies the client's CERT and signature AUTH */
	struct ike_cred *cred;		/* the gateway's CERT payloads and signature AUTH */
	const uint8_t *const *more_der;	/* further CERT payloads after cred's (borrowed) */
	const size_t *more_len;
	unsigned n_more;
	char peer_err[256];		/* why the client's certificate or AUTH failed */
	/* EAP: an IKE_AUTH without AUTH goes here (tests/unit/gw_eap.c) */
	void (*eap_first)(struct gw *g, const uint8_t *req, size_t len);
	void *eap;
	/* MOBIKE (RFC 4555) */
	bool mobike;			/* MOBIKE_SUPPORTED in the IKE_AUTH response */
	const struct ike_sa_addr *add_addrs;	/* ADDITIONAL_*_ADDRESS there (borrowed) */
	unsigned n_add_addrs;
	enum { GW_COOKIE2_ECHO, GW_COOKIE2_DROP, GW_COOKIE2_WRONG } cookie2;
	uint16_t update_error;		/* refuse UPDATE_SA_ADDRESSES with this notify */
	bool nat_client;		/* the client's packets seem to come from elsewhere (NAT) */
	/* what the gateway saw in the last UPDATE_SA_ADDRESSES */
	bool natd_src_ok, natd_dst_ok;	/* the NAT detection hashes match the claimed addresses */
	uint8_t cookie2_seen[64];
	size_t cookie2_len;
	/* what the gateway saw and derived */
	struct gw_ike ike, old;
	struct ike_algs algs;
	uint16_t group;
	uint8_t ni[IKE_NONCE_MAX], nr[32];
	size_t ni_len;
	uint8_t msg1[GW_MSG_MAX], msg2[GW_MSG_MAX];
	size_t msg1_len, msg2_len;
	unsigned n_init_req;
	bool peer_auth_ok;
	struct ike_algs esp;
	uint32_t esp_in, esp_out;	/* the gateway's inbound and outbound ESP SPIs */
	struct child_keys ck;
	struct ike_pl_ts ts_client, ts_net;
	/* the last message opened */
	uint8_t raw[GW_MSG_MAX], plain[GW_MSG_MAX];
	struct ike_msg m;
	/* the gateway's last message built */
	uint8_t out[GW_MSG_MAX];
	size_t out_len;
};

void gw_init(struct gw *g);
void gw_free(struct gw *g);
/* Decode msg (decrypting it with k if it has an SK payload) into g->m; asserts it is valid. */
void gw_open(struct gw *g, struct gw_ike *k, const uint8_t *msg, size_t len);
/* The first payload of type in g->m, decoded; asserts it is there. */
void gw_get(struct gw *g, uint8_t type, struct ike_pl_any *a);
bool gw_has(struct gw *g, uint8_t type);
bool gw_has_notify(struct gw *g, uint16_t type, struct ike_pl_notify *n);
void gw_begin(struct gw_out *o);
void gw_notify(struct ike_mw *b, uint16_t type, uint8_t proto, uint32_t spi);
/* A Delete payload: PROTO_IKE, or PROTO_ESP with one SPI. */
void gw_delete(struct ike_mw *b, uint8_t proto, uint32_t spi);
/* Protect o's payloads on k into g->out. */
void gw_seal(struct gw *g, struct gw_ike *k, struct gw_out *o, uint8_t exch, bool response,
	     uint32_t msg_id);
/* As the gateway's next request on k. */
void gw_request(struct gw *g, struct gw_ike *k, struct gw_out *o, uint8_t exch);
/* As the answer to the request last opened. */
void gw_answer(struct gw *g, struct gw_ike *k, struct gw_out *o);
/* Open the SA's last message as a response on k to (exch, id). */
void gw_expect_response(struct gw *g, struct gw_ike *k, const struct harness *h, uint8_t exch,
			uint32_t id);
/* Open the SA's last message as its request on k; returns its message ID. */
uint32_t gw_expect_request(struct gw *g, struct gw_ike *k, const struct harness *h, uint8_t exch);
/* Responder choice: first transform of each type; DH want_dh (0: the first) or none. */
/* One transform of each type from the first proposal of sa, its number and SPI. */
void gw_pick(const struct ike_pl_sa *sa, bool with_dh, uint16_t want_dh,
	     struct ike_proposal *out, struct ike_algs *a, uint16_t *dh);
/* The gateway's answers to the SA's IKE_SA_INIT and IKE_AUTH requests, into g->out. */
void gw_sa_init(struct gw *g, const uint8_t *req, size_t len);
void gw_auth(struct gw *g, const uint8_t *req, size_t len);
/* The CP, SA, TSi and TSr of an IKE_AUTH response to the request in g->m, into o. */
void gw_auth_child(struct gw *g, struct gw_out *o);
/* Addresses of a path as the client claims them (ike_sa_set_addrs). */
struct gw_path {
	int family;
	uint8_t local[16], remote[16];	/* the client's, the gateway's */
	uint16_t local_port, remote_port;
};
/* NAT_DETECTION hash (§2.23) over k's SPIs. */
void gw_natd(const struct gw_ike *k, int family, const uint8_t *ip, uint16_t port,
	     uint8_t out[IKE_NAT_DETECTION_LEN]);
/*
 * Open the SA's last message as its UPDATE_SA_ADDRESSES request on g->ike,
 * check its NAT detection against claimed (natd_src_ok, natd_dst_ok) and
 * answer into g->out (COOKIE2 as g->cookie2 says, update_error, NAT
 * detection: nat_client). Returns its message ID.
 */
uint32_t gw_update(struct gw *g, const struct harness *h, const struct gw_path *claimed);
/* Feed g->out to the SA. */
void gw_deliver(struct gw *g, struct harness *h);
/* ike_sa_start, IKE_SA_INIT, IKE_AUTH: ESTABLISHED. */
void h_establish(struct harness *h, struct gw *g);
/* Assert that child_up's keys equal ck's, seen from the side that initiated the exchange. */
void h_check_keys(const struct h_child *c, const struct child_keys *ck, bool we_initiated);
uint64_t be64(const uint8_t *p);
/* Variant i of msg into out: i < len flips bit i % 8 of byte i; else truncates to i - len bytes
 * (for odd lengths >= 28 with the header Length made to agree). Returns its length. */
size_t h_mangle(const uint8_t *msg, size_t len, size_t i, uint8_t *out);
/* Feed all 2 * len variants of msg: none may change the state, send, or touch a Child SA. */
void h_all_dropped(struct harness *h, const uint8_t *msg, size_t len);

#endif
