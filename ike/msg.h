/*
 * IKEv2 message codec (RFC 7296 §3): the IKE header, the generic payload
 * chain, and a typed decoder and encoder for every payload a client uses.
 *
 * Decoding is zero-copy: struct ike_msg and the typed structs point into
 * the caller's buffer, which must outlive them. Every decoder validates
 * before it uses and returns 0, or -1 on any malformation. Unless a
 * function says otherwise, a -1 from a decoder means INVALID_SYNTAX
 * (RFC 7296 §2.21.2 / §3.10.1): whether to answer with that notify or
 * to drop the message silently is the state machine's decision.
 *
 * Encoding goes through a message builder (struct ike_mw) over a struct
 * wr: it writes the IKE header, then each payload's generic header,
 * patching the previous payload's Next Payload field, and fills every
 * length after the body (reserve-then-fill). Encoders refuse any value
 * their decoder would refuse, so decode(encode(x)) == x.
 *
 * Conventions: int 0 ok / -1 error (MUST_CHECK); SPIs of the IKE header
 * are uint64_t holding the 8 wire octets read big-endian (so printing with
 * %016llx shows the wire bytes, and 0 is "no SPI yet"); all other numbers
 * are host order.
 */
#ifndef IKEAGENT_IKE_MSG_H
#define IKEAGENT_IKE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/ikev2.h"
#include "util/buf.h"

/* Limits of the fixed-size decoded structures; more is an error, never an overflow. */
#define IKE_MAX_PAYLOADS	256	/* per message, outer + inner, skipped unknown ones included:
					 * strongSwan sends < 20; a chain of 16 intermediates + notifies fits */
/*
 * Wherever a count field bounds it, the wire's limit is ours; else a cap
 * well above what gateways send, and what lies beyond it is validated and
 * counted (n_total), never an error:
 */
#define IKE_MAX_TS		255	/* §3.13: Number of TSs is one octet */
#define IKE_MAX_CP_ATTRS	128	/* kept per CP payload; strongSwan sends VIP + a few DNS */
#define IKE_MAX_DELETE_SPIS	64	/* SPIs we put in one Delete (we run <= 4 Child SAs) */
#define IKE_MAX_SPI		8	/* octets: IKE SPI in proposals and notifies */

/* Constants ikev2.h does not define. */
#define IKE_PL_BODY_MAX		(UINT16_MAX - IKE_GENERIC_HDR_LEN)
#define IKE_HDR_LENGTH_OFF	24	/* offset of the Length field in the IKE header */
#define IKE_HDR_NP_OFF		16	/* offset of the Next Payload field */
#define IKE_SKF_HDR_LEN		8	/* SKF generic header + fragment number + total */
#define IKE_TS_IPV4_LEN		16	/* §3.13.1 selector lengths */
#define IKE_TS_IPV6_LEN		40
#define IKE_TS_PORT_OPAQUE_START 65535	/* §3.13.1: start 65535, end 0 = OPAQUE */
#define IKE_CFG_ATTR_TYPE_MASK	0x7fff	/* §3.15.1: top bit reserved */
#define IKE_CERTREQ_HASH_LEN	20	/* §3.7: SHA-1 hashes of CA public keys */
#define IKE_NAT_DETECTION_LEN	20	/* §2.23: SHA-1 */
#define IKE_COOKIE_MAX		64	/* §2.6: 1..64 octets */

enum ike_eap_code {	/* RFC 3748 §4 */
	IKE_EAP_REQUEST = 1,
	IKE_EAP_RESPONSE = 2,
	IKE_EAP_SUCCESS = 3,
	IKE_EAP_FAILURE = 4,
};

/* ---- IKE header (§3.1) ---- */

struct ike_hdr {
	uint64_t spi_i;		/* wire octets, big-endian (see above) */
	uint64_t spi_r;
	uint8_t next_payload;
	uint8_t version;	/* major << 4 | minor */
	uint8_t exchange;
	uint8_t flags;
	uint32_t msg_id;
	uint32_t length;
};

/*
 * Reads the 28-octet header from r. Strict: the Length field must equal
 * rd_left(r) on entry (the whole datagram, or the whole RFC 9329 frame,
 * without the non-ESP marker) and be at least 28; trailing bytes are an
 * error. The major version must be 2. Every field read is stored in *h
 * even on failure, so a caller can see a major version > 2 and answer
 * INVALID_MAJOR_VERSION. On success r is positioned after the header.
 */
int ike_hdr_decode(struct rd *r, struct ike_hdr *h) MUST_CHECK;
/*
 * Writes the 28 octets of *h exactly as given (next_payload and length
 * included; version IKE_VERSION if h->version is 0), e.g. for the hdr[]
 * argument of sk_encrypt(). Messages are built with struct ike_mw below.
 */
int ike_hdr_encode(struct wr *w, const struct ike_hdr *h) MUST_CHECK;

/* ---- Payload chain ---- */

struct ike_pl {
	uint8_t type;
	bool critical;		/* as received; ignored for known types (§3.2) */
	bool in_sk;		/* arrived inside the SK payload (authenticated) */
	const uint8_t *body;	/* after the 4-octet generic header */
	uint16_t len;		/* body length: the declared Payload Length - 4 */
};

struct ike_msg {
	struct ike_hdr hdr;
	const uint8_t *raw;	/* the whole message (header Length octets) */
	size_t raw_len;
	struct ike_pl pl[IKE_MAX_PAYLOADS];	/* known payloads, in order */
	unsigned n;
	unsigned n_skipped;	/* unknown non-critical payloads skipped */

	/* SK or SKF (RFC 7383) payload ending the outer chain */
	bool has_sk;
	bool inner_done;	/* ike_msg_decode_inner() appended the plaintext */
	uint8_t sk_type;	/* PL_SK or PL_SKF */
	uint8_t sk_inner_first;	/* SK's Next Payload: first inner payload type */
	unsigned sk_idx;	/* index of the SK payload in pl[] */
	size_t sk_off;		/* offset of SK's generic header in raw */
	size_t sk_aad_len;	/* AEAD associated data: raw[0 .. sk_aad_len) */
	const uint8_t *sk_body;	/* IV | ciphertext | ICV */
	size_t sk_body_len;
	uint16_t skf_num;	/* SKF only: Fragment Number, Total Fragments */
	uint16_t skf_total;

	/* why decoding failed: notify type (N_INVALID_SYNTAX,
	 * N_INVALID_MAJOR_VERSION, N_UNSUPPORTED_CRITICAL_PAYLOAD) */
	uint16_t err;
	uint8_t err_pl_type;	/* for N_UNSUPPORTED_CRITICAL_PAYLOAD: the notify data */
	const char *err_limit;	/* a limit of ours was hit (named, for the log); else NULL */
};

/* True for the payload types this codec understands (SA..EAP, SKF). */
bool ike_pl_known(uint8_t type);

/*
 * Decodes the header and walks the outer payload chain of buf[0..len).
 * Each payload: at least 4 octets left, declared length >= 4 and <= what
 * is left; the chain must end exactly at the end of the message; at most
 * IKE_MAX_PAYLOADS payloads. SK/SKF must be the last payload; its body is
 * not decrypted here (see sk_* fields). Unknown payload types are skipped
 * (counted in n_skipped) unless critical: then -1 with err =
 * N_UNSUPPORTED_CRITICAL_PAYLOAD and err_pl_type = the type (§2.5). On
 * -1, m->err says why; the payloads in m->pl are then not to be used.
 */
int ike_msg_decode(struct ike_msg *m, const uint8_t *buf, size_t len) MUST_CHECK;

/*
 * Appends the payloads of a decrypted SK plaintext (first payload type
 * `first`, usually m->sk_inner_first; for reassembled SKF fragments the
 * first fragment's) to m->pl[], flagged in_sk. plain must outlive m.
 * Allowed once, and only after an SK/SKF payload was decoded.
 */
int ike_msg_decode_inner(struct ike_msg *m, uint8_t first, const uint8_t *plain,
			 size_t len) MUST_CHECK;

/*
 * Finds the next payload of `type` at index >= *iter and sets *iter past
 * it; NULL when there is none. Start with *iter = 0.
 */
const struct ike_pl *ike_msg_find(const struct ike_msg *m, uint8_t type, unsigned *iter);

/* ---- Typed payloads (decoded: zero-copy pointers into the message) ---- */

struct ike_transform {
	uint8_t type;		/* TRANS_*; any other value is a type we do not understand */
	uint16_t id;
	uint16_t key_len;	/* Key Length attribute in bits; 0 = absent */
	bool unknown_attr;	/* had an attribute we do not understand, so we
				 * cannot honour it: never choose it. Not encoded. */
};

/*
 * A proposal we build (our offer, or the one we chose from the gateway's):
 * ours come from the configuration, at most PROP_MAX_ALGS (ike/proposal.h)
 * of each of four types plus two ESN = 34 transforms; a chosen one has one
 * per type. Decoded proposals are struct ike_sa_prop below, which has no
 * such limit.
 */
#define IKE_PROP_MAX_BUILD	40	/* transforms in a proposal we encode */
struct ike_proposal {
	uint8_t num;
	uint8_t proto;		/* PROTO_IKE, PROTO_AH, PROTO_ESP */
	uint8_t spi_size;	/* IKE: 0 (initial) or 8 (rekey); AH/ESP: 4 */
	uint8_t spi[IKE_MAX_SPI];
	uint8_t n_trans;
	struct ike_transform trans[IKE_PROP_MAX_BUILD];
};

/*
 * A decoded SA payload (§3.3) is a validated view of the message: the
 * proposals are read on demand, so a payload may carry as many proposals
 * and transforms as its length allows (at most 255 of each: Proposal Num
 * and Num Transforms are one octet). ike_pl_sa_decode() checks every
 * length, count, last/more flag and proposal number; the readers below can
 * then not fail before the end:
 *
 *	struct rd props = ike_sa_props(&sa), trs;
 *	struct ike_sa_prop p;
 *	struct ike_transform t;
 *
 *	while (ike_sa_next_prop(&props, &p))
 *		for (trs = p.trans; ike_sa_next_trans(&trs, &t);)
 *			...
 *
 * What is unsupported is not malformed: a proposal for a protocol we do
 * not know, a transform type or ID we do not know, an attribute we do not
 * understand all decode; choosing is the state machine's business (§3.3.6).
 */
struct ike_pl_sa {
	const uint8_t *body;	/* the proposal substructures */
	uint16_t len;
	unsigned n_prop;
	unsigned max_trans;	/* the most transforms in one proposal (for logs) */
};

struct ike_sa_prop {
	uint8_t num;
	uint8_t proto;		/* any value; PROTO_IKE/AH/ESP have their SPI sizes checked */
	uint8_t spi_size;
	uint8_t spi[IKE_MAX_SPI];	/* the first min(spi_size, 8) octets */
	uint8_t n_trans;
	struct rd trans;	/* its n_trans transform substructures, for ike_sa_next_trans() */
};

struct ike_pl_ke {
	uint16_t group;
	const uint8_t *data;
	uint16_t len;
};

struct ike_pl_id {		/* IDi and IDr */
	uint8_t type;		/* ID_*; IPv4 needs 4 octets, IPv6 16 */
	const uint8_t *data;
	uint16_t len;
};

struct ike_pl_cert {	/* CERT and CERTREQ */
	uint8_t encoding;	/* CERT_*; CERTREQ X.509: n * 20-octet hashes */
	const uint8_t *data;
	uint16_t len;
};

struct ike_pl_auth {
	uint8_t method;		/* AUTH_* */
	const uint8_t *data;
	uint16_t len;
	/* AUTH_DIGITAL_SIGNATURE (RFC 7427 §3): data = alg_len(1) | alg | sig;
	 * decode fills these, encode ignores them (data is written whole) */
	const uint8_t *sig_alg;
	uint8_t sig_alg_len;
	const uint8_t *sig;
	uint16_t sig_len;
};

struct ike_pl_nonce {
	const uint8_t *data;	/* 16..256 octets */
	uint16_t len;
};

struct ike_pl_notify {
	uint8_t proto;		/* 0 when there is no SPI (ignored on receipt) */
	uint8_t spi_size;	/* 0, 4 (AH/ESP) or 8 (IKE) */
	uint16_t type;		/* N_* */
	uint8_t spi[IKE_MAX_SPI];
	const uint8_t *data;
	uint16_t len;
};

/*
 * Delete: to encode, n_spi SPIs in spi[] (at most IKE_MAX_DELETE_SPIS).
 * Decoded: n_spi is the payload's count, as many as its length holds; read
 * them with ike_delete_spi(), which also works for ones built by hand.
 */
struct ike_pl_delete {
	uint8_t proto;		/* PROTO_IKE: no SPIs; AH/ESP: 1..n four-octet SPIs */
	uint8_t spi_size;
	uint16_t n_spi;
	uint32_t spi[IKE_MAX_DELETE_SPIS];
	const uint8_t *spis;	/* decoded: the n_spi SPIs in the message; else NULL */
};

uint32_t ike_delete_spi(const struct ike_pl_delete *d, unsigned i);

struct ike_pl_vendor {
	const uint8_t *data;
	uint16_t len;
};

struct ike_ts_sel {
	uint8_t type;		/* TS_IPV4_ADDR_RANGE (first 4 octets used) or TS_IPV6_ADDR_RANGE */
	uint8_t ip_proto;	/* 0 = any */
	uint16_t start_port;
	uint16_t end_port;
	uint8_t start[16];
	uint8_t end[16];
};

/*
 * TSi and TSr. Besides the lengths, decode and encode check the ranges:
 * start address <= end address, start port <= end port except OPAQUE
 * (65535, 0). An empty payload (no selector) is an error.
 */
struct ike_pl_ts {
	unsigned n;
	struct ike_ts_sel ts[IKE_MAX_TS];
};

struct ike_cp_attr {
	uint16_t type;		/* 15 bits, the reserved bit masked off */
	const uint8_t *val;
	uint16_t len;		/* known types have fixed lengths, e.g. IPv4 0 or 4 */
};

struct ike_pl_cp {
	uint8_t cfg_type;	/* CFG_REQUEST .. CFG_ACK */
	unsigned n;		/* kept in attr[] */
	unsigned n_total;	/* decoded: all the payload carries (each checked); > n: cut */
	struct ike_cp_attr attr[IKE_MAX_CP_ATTRS];
};

struct ike_pl_eap {
	uint8_t code;		/* IKE_EAP_*; the EAP Length must equal the body */
	uint8_t id;
	uint8_t type;		/* request/response only; 0 for success/failure */
	const uint8_t *data;	/* after the type octet */
	uint16_t len;
};

/* Each checks p->type (IDi/IDr, TSi/TSr: either) and the body strictly. */
int ike_pl_sa_decode(const struct ike_pl *p, struct ike_pl_sa *sa) MUST_CHECK;
/* Readers of a decoded SA payload (see struct ike_pl_sa): false at the end. */
struct rd ike_sa_props(const struct ike_pl_sa *sa);
bool ike_sa_next_prop(struct rd *it, struct ike_sa_prop *p);
bool ike_sa_next_trans(struct rd *it, struct ike_transform *t);
int ike_pl_ke_decode(const struct ike_pl *p, struct ike_pl_ke *ke) MUST_CHECK;
int ike_pl_id_decode(const struct ike_pl *p, struct ike_pl_id *id) MUST_CHECK;
int ike_pl_cert_decode(const struct ike_pl *p, struct ike_pl_cert *c) MUST_CHECK;
int ike_pl_certreq_decode(const struct ike_pl *p, struct ike_pl_cert *c) MUST_CHECK;
int ike_pl_auth_decode(const struct ike_pl *p, struct ike_pl_auth *a) MUST_CHECK;
int ike_pl_nonce_decode(const struct ike_pl *p, struct ike_pl_nonce *n) MUST_CHECK;
int ike_pl_notify_decode(const struct ike_pl *p, struct ike_pl_notify *n) MUST_CHECK;
int ike_pl_delete_decode(const struct ike_pl *p, struct ike_pl_delete *d) MUST_CHECK;
int ike_pl_vendor_decode(const struct ike_pl *p, struct ike_pl_vendor *v) MUST_CHECK;
int ike_pl_ts_decode(const struct ike_pl *p, struct ike_pl_ts *ts) MUST_CHECK;
int ike_pl_cp_decode(const struct ike_pl *p, struct ike_pl_cp *cp) MUST_CHECK;
int ike_pl_eap_decode(const struct ike_pl *p, struct ike_pl_eap *e) MUST_CHECK;

/* Any typed payload by its type (SK/SKF and unknown types: -1). */
struct ike_pl_any {
	uint8_t type;
	union {
		struct ike_pl_sa sa;
		struct ike_pl_ke ke;
		struct ike_pl_id id;
		struct ike_pl_cert cert;	/* CERT and CERTREQ */
		struct ike_pl_auth auth;
		struct ike_pl_nonce nonce;
		struct ike_pl_notify notify;
		struct ike_pl_delete del;
		struct ike_pl_vendor vendor;
		struct ike_pl_ts ts;
		struct ike_pl_cp cp;
		struct ike_pl_eap eap;
	} u;
};

int ike_pl_any_decode(const struct ike_pl *p, struct ike_pl_any *a) MUST_CHECK;

/* ---- Encoding ---- */

struct ike_mw {
	struct wr *w;
	size_t start;		/* offset of the IKE header (or of the inner chain) */
	size_t np_at;		/* Next Payload field to patch next; SIZE_MAX: none yet */
	size_t open_at;		/* generic header of the open payload; SIZE_MAX: none */
	uint8_t first;		/* type of the first payload written (0: none) */
	bool inner;		/* an SK plaintext chain, no IKE header */
	bool closed;		/* finished, or SK written: nothing more may follow */
	bool failed;		/* sticky */
	unsigned n;
};

/* Writes h (its next_payload and length are ignored and filled later). */
int ike_mw_begin(struct ike_mw *b, struct wr *w, const struct ike_hdr *h) MUST_CHECK;
/*
 * Starts an SK plaintext: an inner payload chain without IKE header. After
 * ike_mw_finish(), ike_mw_first() is the SK payload's Next Payload and the
 * plaintext is the writer's bytes from b->start to wr_len(w).
 */
int ike_mw_begin_inner(struct ike_mw *b, struct wr *w) MUST_CHECK;
static inline uint8_t ike_mw_first(const struct ike_mw *b) { return b->first; }

/* A payload by hand: open (writes the generic header), body, close (fills its length). */
int ike_mw_open(struct ike_mw *b, uint8_t type, bool critical) MUST_CHECK;
int ike_mw_close(struct ike_mw *b) MUST_CHECK;
int ike_mw_raw(struct ike_mw *b, uint8_t type, bool critical, const void *body,
	       size_t len) MUST_CHECK;
/* Fills the header Length (outer) and closes the builder; *len: bytes written since begin. */
int ike_mw_finish(struct ike_mw *b, size_t *len) MUST_CHECK;

/*
 * Encrypted payload layout for the crypto side (ike/sk.c). ike_mw_sk()
 * appends the SK generic header
 *     Next Payload = inner_first | flags 0 | Length = 4 + body_len
 * fills the IKE header Length (offset 24, = total message length), then
 * claims body_len bytes for IV | ciphertext | ICV and closes the builder.
 * All length fields are final before it returns, so out->msg[0..aad_len)
 * is the AEAD associated data (RFC 7296 §5.1 / RFC 5282: IKE header up to
 * the end of the SK generic header; for SKF also Fragment Number and
 * Total Fragments, RFC 7383 §2.5). The caller writes into out->body.
 */
struct ike_sk_out {
	uint8_t *msg;		/* IKE header in the writer's buffer */
	size_t msg_len;		/* total message length, as in the header */
	size_t aad_len;
	uint8_t *body;		/* body_len bytes to fill with IV | ciphertext | ICV */
	size_t body_len;
};

int ike_mw_sk(struct ike_mw *b, uint8_t inner_first, size_t body_len,
	      struct ike_sk_out *out) MUST_CHECK;
int ike_mw_skf(struct ike_mw *b, uint8_t inner_first, uint16_t frag_num, uint16_t total,
	       size_t body_len, struct ike_sk_out *out) MUST_CHECK;

/* Typed encoders: one whole payload each. */
/* n proposals numbered 1..n, or one chosen proposal (any number but 0). */
int ike_put_sa(struct ike_mw *b, const struct ike_proposal *props, unsigned n) MUST_CHECK;
/* A decoded SA payload again, byte for byte (checked again as the decoder does). */
int ike_put_sa_decoded(struct ike_mw *b, const struct ike_pl_sa *sa) MUST_CHECK;
int ike_put_ke(struct ike_mw *b, const struct ike_pl_ke *ke) MUST_CHECK;
int ike_put_id(struct ike_mw *b, uint8_t pl_type, const struct ike_pl_id *id) MUST_CHECK;
int ike_put_cert(struct ike_mw *b, const struct ike_pl_cert *c) MUST_CHECK;
int ike_put_certreq(struct ike_mw *b, const struct ike_pl_cert *c) MUST_CHECK;
int ike_put_auth(struct ike_mw *b, const struct ike_pl_auth *a) MUST_CHECK;
int ike_put_nonce(struct ike_mw *b, const struct ike_pl_nonce *n) MUST_CHECK;
int ike_put_notify(struct ike_mw *b, const struct ike_pl_notify *n) MUST_CHECK;
int ike_put_delete(struct ike_mw *b, const struct ike_pl_delete *d) MUST_CHECK;
int ike_put_vendor(struct ike_mw *b, const struct ike_pl_vendor *v) MUST_CHECK;
int ike_put_ts(struct ike_mw *b, uint8_t pl_type, const struct ike_pl_ts *ts) MUST_CHECK;
int ike_put_cp(struct ike_mw *b, const struct ike_pl_cp *cp) MUST_CHECK;
int ike_put_eap(struct ike_mw *b, const struct ike_pl_eap *e) MUST_CHECK;
int ike_put_any(struct ike_mw *b, const struct ike_pl_any *a) MUST_CHECK;

/* Shared by the pl_*.c files: logs why at debug level, returns -1. */
int ike_codec_bad(const char *what);

#endif
