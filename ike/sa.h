/*
 * The IKEv2 initiator (RFC 7296): one IKE SA and its Child SAs, as a state
 * machine driven by the agent. It never touches a socket or a clock: the
 * agent feeds it received IKE messages and the time, and it calls back to
 * send messages and to install or remove Child SAs.
 *
 *   agent                              ike_sa
 *   ike_sa_start(now)          ->      IKE_SA_INIT request   -> ops.send
 *   ike_sa_input(msg, now)     ->      responses, peer requests
 *   ike_sa_tick(now)           ->      retransmits, DPD, rekeys
 *   ike_sa_next_deadline()     <-      when to call ike_sa_tick next
 *
 * Ports: IKE_SA_INIT goes to the gateway's port 500; afterwards ops.float_port
 * asks the agent to move to port 4500 (non-ESP marker in front of IKE).
 * ESP is always UDP-encapsulated: ikeagent does ESP in userspace.
 */
#ifndef IKEAGENT_IKE_SA_H
#define IKEAGENT_IKE_SA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eap/eap.h"
#include "ike/cert.h"
#include "ike/id.h"
#include "ike/keys.h"
#include "ike/msg.h"
#include "ike/proposal.h"
#include "util/buf.h"

#define IKE_SA_MAX_DNS 4	/* per family: glibc reads 3 (MAXNS), resolved more; gateways send 1-2 */
#define IKE_SA_MAX_REMOTE_TS 32	/* selectors we propose in TSr (agent: CONFIG_MAX_TS) */
#define IKE_SA_MAX_PEER_ADDRS 8	/* the gateway's ADDITIONAL_*_ADDRESS kept; more are ignored */
/*
 * Child SAs of one IKE SA at once, at most: the current one, the one it
 * replaces until deleted, a second new one when both ends rekey at once
 * (RFC 7296 §2.8.1), one more. The IKE SA calls ops.child_down for each
 * one it drops, so a data path with this many slots never evicts one.
 */
#define IKE_SA_MAX_CHILDREN 4

/* An address of the gateway (RFC 4555 §3.4); ip holds 4 bytes for AF_INET. */
struct ike_sa_addr {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t ip[16];
};

enum ike_sa_state {
	IKE_SA_IDLE,
	IKE_SA_INIT_SENT,	/* waiting for the IKE_SA_INIT response */
	IKE_SA_AUTH_SENT,	/* waiting for the IKE_AUTH response */
	IKE_SA_ESTABLISHED,
	IKE_SA_DELETING,	/* our DELETE is outstanding */
	IKE_SA_DEAD,		/* failed or deleted; see ike_sa_failure() */
};

/* Why the IKE SA is gone; the agent decides whether to reconnect. */
enum ike_sa_fail {
	IKE_FAIL_NONE,
	IKE_FAIL_TIMEOUT,	/* no answer after all retransmissions */
	IKE_FAIL_PEER_ERROR,	/* the gateway answered with an error notify */
	IKE_FAIL_AUTH,		/* the gateway's AUTH or identity did not verify */
	IKE_FAIL_PROTOCOL,	/* an answer we cannot use (bad proposal choice, ...) */
	IKE_FAIL_DELETED,	/* the gateway deleted the IKE SA */
	IKE_FAIL_LOCAL,		/* out of memory, crypto failure, our own DELETE done */
	/*
	 * Only unauthenticated answers came (an error notify or an unusable
	 * IKE_SA_INIT response in the clear, an error notify in IKE_AUTH
	 * before the gateway's AUTH verified): anyone on the path can send
	 * those, so it is worth another try. The text names the likely cause.
	 */
	IKE_FAIL_UNVERIFIED,
	/*
	 * IKE_AUTH answered with an error notify before the gateway's AUTH
	 * verified: SK-protected, so from whoever answered our IKE_SA_INIT,
	 * which an attacker on the path may have been. AUTHENTICATION_FAILED,
	 * or any other error. The agent tries again, and believes it only
	 * when it comes back every time.
	 */
	IKE_FAIL_AUTH_UNVERIFIED,
	IKE_FAIL_PEER_UNVERIFIED,
};

struct ike_sa_cfg {
	struct ike_id local_id;
	struct ike_id remote_id;	/* type 0: not checked, not sent */
	const uint8_t *psk;		/* borrowed; PSK authentication */
	size_t psk_len;
	/* borrowed (ike/cert.h); trust set: the gateway must authenticate with a
	 * certificate from it, else with the PSK; cred set: we sign, else PSK */
	const struct ike_trust *trust;
	const struct ike_cred *cred;
	bool allow_sha1;		/* the gateway may sign with SHA-1 (AUTH method 1, or in 14) */
	/*
	 * EAP (RFC 7296 §2.16) in place of our AUTH: identity, methods,
	 * password, EAP-TLS credential (borrowed; its verify_server is the
	 * SA's own: the gateway's certificate checked against trust). NULL:
	 * PSK or cred. The gateway proves itself first, with a certificate
	 * from trust (else the PSK); eap_unverified allows neither (insecure).
	 */
	const struct eap_cfg *eap;
	bool eap_unverified;
	struct proposal_list ike_props;
	struct proposal_list esp_props;
	unsigned n_remote_ts;
	struct ike_ts_sel remote_ts[IKE_SA_MAX_REMOTE_TS];
	bool want_vip;			/* CP request INTERNAL_IP4_ADDRESS */
	bool want_dns;			/* CP request INTERNAL_IP4_DNS */
	bool want_ip6;			/* also the IPv6 equivalents, and an IPv6 TSi */
	bool mobike;			/* announce MOBIKE_SUPPORTED */
	uint32_t dpd_ms;		/* 0 = no DPD of our own */
	uint32_t ike_rekey_ms;		/* rekey the IKE SA this long after it was set up; 0 = never */
	uint32_t child_rekey_ms;	/* rekey the Child SA likewise; 0 = never */
	uint32_t retransmit_ms;		/* first retransmission timeout */
	unsigned retransmit_tries;	/* then give up */
	/* Addresses as the peer sees them, for NAT_DETECTION (RFC 7296 §2.23). */
	int family;			/* AF_INET or AF_INET6 */
	uint8_t local_ip[16];
	uint16_t local_port;
	uint8_t remote_ip[16];
	uint16_t remote_port;
	bool force_encap;		/* fake our NAT_DETECTION_SOURCE_IP (§2.23) */
};

/* What a new Child SA needs in the data path. Keys are wiped after the call. */
struct ike_child_info {
	uint32_t spi_in;		/* we receive ESP with this SPI */
	uint32_t spi_out;		/* we send ESP with this SPI */
	uint16_t encr;			/* ENCR_AES_GCM_16 or ENCR_CHACHA20_POLY1305 */
	const uint8_t *key_in;		/* key || salt */
	const uint8_t *key_out;
	size_t key_len;
	bool rekey;			/* replaces an existing Child SA */
	/*
	 * Both ends rekeyed the same Child SA and this one lost (RFC 7296
	 * §2.8.1): it is deleted soon. Receive on it ("a node MUST accept
	 * incoming packets through either SA"), keep sending on the other.
	 */
	bool redundant;
	struct ike_pl_ts ts_local;	/* narrowed traffic selectors */
	struct ike_pl_ts ts_remote;
	bool has_vip4;
	uint8_t vip4[4];
	unsigned n_dns4;
	uint8_t dns4[IKE_SA_MAX_DNS][4];
	bool has_vip6;
	uint8_t vip6[16];
	uint8_t vip6_prefix;		/* RFC 7296 §3.15.1: INTERNAL_IP6_ADDRESS carries a prefix length */
	unsigned n_dns6;
	uint8_t dns6[IKE_SA_MAX_DNS][16];
};

struct ike_sa_ops {
	/* Send one IKE message (no non-ESP marker: the agent adds it on 4500). */
	int (*send)(void *ctx, const uint8_t *msg, size_t len);
	/* Move to the NAT-T port 4500 from now on (RFC 7296 §2.23). */
	void (*float_port)(void *ctx);
	void (*child_up)(void *ctx, const struct ike_child_info *ci);
	void (*child_down)(void *ctx, uint32_t spi_in);
	/* Entered ESTABLISHED or DEAD: see ike_sa_state()/ike_sa_failure(). */
	void (*state_changed)(void *ctx, enum ike_sa_state old, enum ike_sa_state now);
	/*
	 * Optional (NULL: not called). The gateway answered our address update
	 * (ike_sa_move): result 0, the SAs now use the addresses of
	 * ike_sa_set_addrs(); -1, it refused them (UNACCEPTABLE_ADDRESSES,
	 * UNEXPECTED_NAT_DETECTED, or another error notify) and the SAs stay
	 * where they were: try another path or address, or move again later.
	 * why: one line for the log. May call ike_sa_move() again.
	 */
	void (*moved)(void *ctx, int result, const char *why);
};

struct ike_sa;

struct ike_sa *ike_sa_new(const struct ike_sa_cfg *cfg, const struct ike_sa_ops *ops, void *ctx);
/* Wipes every key and frees; no message is sent. */
void ike_sa_free(struct ike_sa *sa);

int ike_sa_start(struct ike_sa *sa, uint64_t now_ms) MUST_CHECK;
/* One received IKE message (after the non-ESP marker). Bad input is dropped and logged. */
void ike_sa_input(struct ike_sa *sa, const uint8_t *msg, size_t len, uint64_t now_ms);
void ike_sa_tick(struct ike_sa *sa, uint64_t now_ms);
/* Absolute time of the next ike_sa_tick() needed; 0 = none. */
uint64_t ike_sa_next_deadline(const struct ike_sa *sa);
/*
 * The transport under the IKE SA. Reliable (TCP or TLS, RFC 9329): no
 * retransmission timers; a request fails after the time UDP would have
 * spent on all its tries.
 */
void ike_sa_set_reliable(struct ike_sa *sa, bool reliable);
/*
 * Addresses and ports of the transport actually used, for NAT_DETECTION
 * (RFC 9329 §6.5 ≈: computed with the TCP addresses and ports over TCP).
 */
void ike_sa_set_addrs(struct ike_sa *sa, int family, const uint8_t *local_ip, uint16_t local_port,
		      const uint8_t *remote_ip, uint16_t remote_port);
/*
 * The TCP connection broke and a new one is up (RFC 9329 §6 ≈): with MOBIKE
 * and ESTABLISHED, as ike_sa_move(); otherwise the outstanding request is
 * sent again, or, ESTABLISHED with nothing outstanding, an empty
 * INFORMATIONAL tells the gateway about the new connection.
 */
void ike_sa_reconnected(struct ike_sa *sa, uint64_t now_ms);
/* True once IKE_SA_INIT has been answered (the fallback race uses it). */
bool ike_sa_init_done(const struct ike_sa *sa);

/*
 * MOBIKE (RFC 4555), driven by the agent on a network change: it picks a
 * new path, calls ike_sa_set_addrs() with that path's addresses, then
 * ike_sa_move(); whatever the SA sends goes out on the path(s) being tried.
 */
/* MOBIKE_SUPPORTED was sent by us (cfg.mobike) and by the gateway in IKE_AUTH. */
bool ike_sa_mobike(const struct ike_sa *sa);
/*
 * Move the SAs to the addresses of ike_sa_set_addrs(). -1 with errno
 * ENOTSUP unless ESTABLISHED with MOBIKE negotiated both ways (the agent
 * then sets up a new IKE SA); nothing is sent then. Otherwise:
 *   - window free: an INFORMATIONAL with UPDATE_SA_ADDRESSES, NAT detection
 *     for the current addresses (cfg.force_encap still fakes the source
 *     hash) and a fresh COOKIE2; ops.moved reports the answer;
 *   - our update outstanding: rebuilt in place for the current addresses
 *     (same message ID and COOKIE2), sent now, retransmissions start over;
 *     once answered, a new update follows (RFC 4555 §3.6 ≈: it went out
 *     on several paths), and ops.moved reports that one;
 *   - another request outstanding (rekey, DPD): sent again now, same bytes,
 *     retransmissions start over; the update goes out as soon as it is
 *     answered (ahead of rekeys and DPD).
 * 0 otherwise; -1 (errno EIO, the SA failed) if the update cannot be built.
 */
int ike_sa_move(struct ike_sa *sa, uint64_t now_ms) MUST_CHECK;
/*
 * Send the outstanding request once more, now, with its message ID (the
 * agent opened another path, e.g. TCP after UDP went unanswered). Our
 * address update is first rebuilt for the current addresses (RFC 9329
 * §7.1: NAT detection for the TCP addresses); anything else, IKE_SA_INIT
 * above all (its bytes are signed in AUTH), goes out byte for byte. Not a
 * retransmission try: the schedule is left as it is. -1 with errno ENOENT
 * if nothing is outstanding, EIO if the rebuild failed (the SA failed).
 */
int ike_sa_resend(struct ike_sa *sa, uint64_t now_ms) MUST_CHECK;
/*
 * Valid responses to our requests taken so far: protected ones that
 * decrypted and matched the outstanding message ID, and IKE_SA_INIT
 * responses processed. Compare before and after ike_sa_input() to learn
 * that a path answered.
 */
uint64_t ike_sa_answers(const struct ike_sa *sa);
/*
 * A NAT on our side of the path: the gateway's NAT_DETECTION_DESTINATION_IP
 * did not match our address and port, in the IKE_SA_INIT response or in the
 * answer to our last address update.
 */
bool ike_sa_nat_detected(const struct ike_sa *sa);
/*
 * The gateway's additional addresses (RFC 4555 §3.4), as last announced in
 * IKE_AUTH or an INFORMATIONAL request (NO_ADDITIONAL_ADDRESSES: none), at
 * most IKE_SA_MAX_PEER_ADDRS. Copies up to max into out; returns how many.
 */
size_t ike_sa_peer_addrs(const struct ike_sa *sa, struct ike_sa_addr *out, size_t max);

/* Test only: the buffer ike_sa_input() decrypts SK into; all zero between calls. */
const uint8_t *ike_sa_plain_for_test(size_t *cap);

/* Rekey the Child SA as soon as possible (e.g. its ESP counters near their end). */
void ike_sa_rekey_child(struct ike_sa *sa, uint64_t now_ms);
/*
 * Check at once, on a short schedule, that the gateway still has the IKE
 * SA (after a suspend, say): no answer within a few seconds fails it with
 * IKE_FAIL_TIMEOUT. Nothing if the SA is not established.
 */
void ike_sa_check_liveness(struct ike_sa *sa, uint64_t now_ms, const char *why);
/* Send DELETE for the IKE SA (graceful shutdown); DEAD once answered or timed out. */
int ike_sa_delete(struct ike_sa *sa, uint64_t now_ms) MUST_CHECK;

enum ike_sa_state ike_sa_state(const struct ike_sa *sa);
enum ike_sa_fail ike_sa_failure(const struct ike_sa *sa);
/* One line for the user: "gateway said AUTHENTICATION_FAILED", "no answer from 10.0.0.1 after 5 tries". */
const char *ike_sa_failure_text(const struct ike_sa *sa);
const char *ike_sa_state_name(enum ike_sa_state s);
void ike_sa_spis(const struct ike_sa *sa, uint64_t *spi_i, uint64_t *spi_r);
unsigned ike_sa_rekeys(const struct ike_sa *sa);

#endif
