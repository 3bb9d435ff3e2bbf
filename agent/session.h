/*
 * One connection to the gateway, as `ikeagent run` keeps it: the event
 * loop, the one IKE SA, the path that carries it (agent/path.h: UDP, or an
 * RFC 9329 stream over TCP or TLS, maybe through a proxy), the Child SAs'
 * ESP state, the tun device with its addresses, routes and DNS (all
 * journaled), the control socket and the counters `status` shows.
 *
 *   session.c   lifecycle: connect, reconnect with back-off, shutdown,
 *               the network setup, signals, control requests
 *   session_path.c  the IKE SA's callbacks and the paths': which path a
 *               message goes over
 *   race.c      which path carries the first IKE_SA_INIT, or the
 *               UPDATE_SA_ADDRESSES of a move (RFC 9329 §7.1 fallback)
 *   roam.c      the network: changes seen by rtnetlink, when to move the
 *               IKE SA (MOBIKE, RFC 4555), the transport that worked on each
 *               network (agent/netmem.h)
 *   datapath.c  tun -> ESP -> path and path -> ESP -> tun, batched; Child
 *               SA install/remove
 *   cfgmap.c    struct config -> struct ike_sa_cfg; traffic selectors
 *               <-> CIDRs
 *   status.c    status as text and as JSON
 *
 * Reconnect policy: after a non-fatal failure (timeout, deleted by the
 * gateway) the IKE SA, the sockets and the ESP SAs go, but the tun device,
 * its address, routes and DNS stay: traffic for the tunnel is dropped (not
 * leaked) until the next Child SA is up. If the gateway then hands out a
 * different address or traffic selectors, the network setup is rebuilt.
 * A broken TCP/TLS connection is not such a failure: the path reconnects
 * under the same IKE SA (agent/path_stream.c), and a move to another
 * network or transport keeps the IKE SA too (roam.c); `path_changes`
 * counts the moves. `reconnects` counts both
 * kinds, `transport_reconnects` only the latter.
 */
#ifndef IKEAGENT_AGENT_SESSION_H
#define IKEAGENT_AGENT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "agent/config.h"
#include "agent/ctl.h"
#include "agent/loop.h"
#include "agent/netmem.h"
#include "agent/netwatch.h"
#include "agent/path.h"
#include "esp/esp.h"
#include "ike/sa.h"
#include "transport/udp.h"
#include "tun/tun.h"
#include "util/buf.h"

/*
 * A Child SA the IKE SA let go of (rekeyed away, deleted) still decrypts
 * for SESSION_LINGER_MS: the gateway may have sealed packets with it before
 * it took our Delete, and they arrive after its answer (strongSwan's own
 * delete_rekeyed_delay is 5 s). It never sends. Up to SESSION_LINGER_MAX
 * of them beside the IKE SA's own (the oldest goes first).
 */
#define SESSION_LINGER_MS	5000
#define SESSION_LINGER_MAX	2
#define SESSION_CHILDREN	(IKE_SA_MAX_CHILDREN + SESSION_LINGER_MAX)
#define SESSION_MAX_ROUTES	128	/* CIDRs routed into the tun: a selector range may need several */
#define SESSION_MAX_DNS		(2 * IKE_SA_MAX_DNS)	/* IPv4 and IPv6 servers */
_Static_assert(SESSION_MAX_DNS <= TUN_DNS_MAX, "SESSION_MAX_DNS");
#define SESSION_MTU_UDP		1400	/* mtu = auto on UDP */
#define SESSION_LISTENER_WAIT_MS 5000	/* --network report: wait this long for `events` */
#define SESSION_CLOSE_WAIT_MS	2000	/* for the answer to our DELETE */
#define SESSION_RETRANSMIT_MS	1000
#define SESSION_RETRANSMIT_TRIES 5
#define SESSION_RETRANSMIT_MIN_MS 100
#define SESSION_BACKOFF_MIN_MS	1000
#define SESSION_UNVERIFIED_REFUSALS 3	/* IKE_AUTH refused before the gateway proved itself */
/* One packet buffer: ESP header + IV, the largest inner packet, trailer + ICV. */
#define DP_MTU_MAX		9000
#define DP_PKT_CAP		9344	/* >= 16 + 9000 + 273, a multiple of 64 */
_Static_assert(DP_PKT_CAP >= ESP_HEADROOM + DP_MTU_MAX + ESP_TAILROOM_MAX, "DP_PKT_CAP");
#define DP_IKE_MAX		PATH_IKE_MAX
#define SESSION_NOTE_MAX	256	/* one STATUS= line for systemd */

/* What a race of paths is for (race.c). */
enum race_goal {
	RACE_INIT,	/* the first IKE_SA_INIT */
	RACE_MOVE,	/* a move's UPDATE_SA_ADDRESSES (RFC 4555) */
};

enum session_state {
	SESS_CONNECTING,	/* first attempt */
	SESS_ESTABLISHED,
	SESS_RECONNECTING,	/* after a failure: waiting or trying again */
	SESS_CLOSING,		/* shutting down */
};

struct session;

struct session_child {
	bool used;
	uint64_t serial;	/* install order: the highest sends; 0: redundant, receive only */
	struct esp_sa in, out;
	struct ike_pl_ts ts_local, ts_remote;	/* inbound packets are checked against them */
	bool rekey_asked;	/* its ESP counters neared their end; the IKE SA was told */
	uint64_t linger_until;	/* let go of: receive only until then (loop ms); 0: live */
};

/* May it send (installed, not lingering)? dp_child_current() picks the newest of these. */
static inline bool session_child_live(const struct session_child *c)
{
	return c->used && !c->linger_until;
}

/* What the tun carries; set up on the first Child SA, kept across reconnects. */
struct session_net {
	bool up;
	bool has_vip;
	struct tun_cidr vip;		/* a /32 */
	bool has_vip6;
	struct tun_cidr vip6;		/* a /128 */
	size_t n_routes;
	struct tun_cidr routes[SESSION_MAX_ROUTES];
	size_t n_dns;
	struct tun_ip dns[SESSION_MAX_DNS];	/* IPv4 first, then IPv6 */
	enum tun_dns_method dns_method;
	bool full;		/* a route is a /0: the fwmark scheme is in place */
};

struct session_stats {
	uint64_t bytes_in, bytes_out, packets_in, packets_out, drops;
	uint64_t late_in;		/* packets taken by a Child SA in its linger time */
	uint64_t unknown_spi;		/* of drops: ESP for no Child SA we have */
	uint64_t supersegs;		/* offload: tun reads split into several packets */
	uint64_t merged;		/* offload: segments merged into one tun write (gro) */
	uint64_t rekeys;
	uint64_t reconnects;		/* IKE SA set up again + transport reconnects */
	uint64_t transport_reconnects;	/* TCP/TLS connection re-made, IKE SA kept */
	uint64_t path_changes;		/* moves of the IKE SA to another path */
};

/* The last move, for status. */
struct session_move {
	bool done;
	char from[96], to[96];		/* path_describe() */
	enum config_transport transport;
	uint64_t ms;			/* from the network change to the answer */
	uint64_t at_ms;
};

/* What roam.c keeps: the network we are on and what it remembers of it. */
struct session_roam {
	struct netwatch *nw;
	bool mem_ok;
	struct netmem mem;
	char network[128];		/* netwatch_network_id() of the route to the gateway; "" */
	char why[160];			/* why the transport in use was chosen */
	int ifindex;			/* of the route to the gateway */
	uint8_t src[16];		/* its source address */
	uint64_t change_ms;		/* the network change a move answers */
	bool recheck;			/* changed again during a move: look once it is over */
	bool hostile;			/* remembered as UDP-hostile: its transport went first */
	struct loop_timer t_udp_probe;	/* back to UDP from a remembered TCP network? */
	uint32_t probe_ms;		/* its interval now: 10 s, doubling up to 10 min */
};

/*
 * Preallocated once: no allocation in the data path. With offloads (the
 * tun's TSO/USO and GRO, the ESP socket's UDP GSO/GRO) one tun read is up
 * to 64 KB of inner TCP, split into as many ESP packets; one datagram read
 * is up to 64 KB of ESP packets of one size.
 */
#define DP_TX_SLOTS		128	/* ESP packets per send: two super-segments */
#define DP_RX_PLAIN		32	/* datagrams per receive without GRO */
#define DP_RX_GRO		16	/* messages per receive with GRO (64 KB each; 1 MB if all full) */
#define DP_TUN_READ_MAX		(16 + 65536)	/* a virtio_net_hdr and a super-segment */
struct datapath {
	uint8_t *mem;
	size_t stride;		/* one ESP packet slot: headroom, the MTU, tailroom */
	uint8_t *tx[DP_TX_SLOTS];
	size_t tx_len[DP_TX_SLOTS];	/* inner length of each slot */
	struct iovec iov[DP_TX_SLOTS];
	uint8_t *rx[DP_RX_PLAIN];
	size_t rx_len[DP_RX_PLAIN];
	size_t rx_seg[DP_RX_PLAIN];	/* with GRO: the size of each datagram in rx[i] */
	unsigned rx_n;
	size_t rx_cap;
	uint8_t *tun_rx;	/* offload: DP_TUN_READ_MAX bytes */
	struct tun_gro gro;	/* offload: inbound TCP coalesced for the tun */
	uint8_t *ike_tx;	/* DP_IKE_MAX bytes */
};

/* What the outbound direction tells its owner after a run. */
struct dp_tx_out {
	uint64_t drops;
	uint64_t supersegs;	/* tun reads that were super-segments (TSO/USO) */
	int tun_err;		/* the tun failed: errno */
	bool rekey;		/* the Child SA's sequence numbers near their end */
};

/* The outbound direction, run by one thread at a time (datapath.c, dp_worker.c). */
struct dp_tx {
	struct datapath *dp;		/* its tx buffers */
	const struct tun_dev *tun;
	struct session_child *c;	/* NULL: drop (fail closed) */
	/* sends ESP packets; returns how many went, or -1 */
	int (*send)(void *ctx, const struct iovec *pkts, unsigned n);
	void *send_ctx;
	struct dp_tx_out out;
};

/* The user's EAP login (agent/login.c). */
enum login_password_from { LOGIN_FROM_TERMINAL, LOGIN_FROM_CONTROL };
struct session_login {
	struct eap_cfg cfg;		/* what each IKE SA's EAP peer gets (ike_sa_cfg.eap) */
	const char *user;		/* EAP identity, MSCHAPv2 user: [auth] user, else id */
	X509 *cert;			/* EAP-TLS: our certificate and intermediates */
	STACK_OF(X509) *chain;
	uint8_t *password;		/* the one copy, wiped at exit (CONFIG_PASSWORD_MAX + 2 bytes) */
	size_t password_len;
	bool waiting;			/* for `ikeagent password` on the control socket */
};

/* How the network around the tunnel is set up (agent/netsetup.c). */
struct netsetup {
	const char *name;
	int (*configure)(struct session *s);	/* the tun is open and up; -1 with errno */
};
extern const struct netsetup netsetup_journaled, netsetup_report;

/* What `ikeagent run` was asked for besides the configuration. */
struct session_opts {
	const char *ctl_path;
	enum login_password_from pw;
	bool report_network;		/* --network report */
};

struct session {
	const struct config *cfg;
	const struct netsetup *netsetup;
	const char *ctl_path;
	struct loop *loop;
	struct ctl_server *ctl;
	enum session_state state;
	char state_why[160];		/* why it entered that state (for new event listeners) */
	int exit_code;
	char last_error[160];

	struct ike_sa *ike;
	struct ike_sa_cfg ike_cfg;
	struct ike_trust *trust;	/* [auth] ca: loaded once, kept across reconnects */
	struct ike_cred *cred;		/* [auth] cert + key: method = pubkey, or eap with tls */
	struct session_login login;
	struct path_env penv;		/* what every path shares: the gateway, buffers, ... */
	struct path *path;		/* the one that carries the IKE SA and ESP now */
	struct path *rx_path;		/* the path of the message being processed */
	struct race *race;		/* the paths tried for the first IKE_SA_INIT, or a move */
	struct session_roam roam;
	struct session_move last_move;
	struct stream_tls_cache *tls_cache;	/* TLS resumption, for the session's life */

	struct session_child child[SESSION_CHILDREN];
	uint64_t child_serial;

	struct tun_journal journal;
	bool journal_open;
	struct tun_dev tun;
	struct session_net net;
	bool tun_active;		/* the tun is up: its packets go to the gateway */
	bool tun_in_loop;		/* the loop thread reads it (dp_tx_sync) */
	struct dp_worker *worker;	/* the outbound worker thread, once started */
	struct dp_rate {		/* outbound rate: worth the worker? (dp_worker.c) */
		uint64_t t0_ms, bytes0;
		bool heavy;
	} tx_rate;
	int tx_udp_fd;			/* the socket the worker sends on a dup of; -1 */

	struct tun_dns_cfg dns;		/* how DNS is handed over (and undone) */
	struct session_stats st;
	struct datapath dp;

	struct loop_timer t_ike;	/* ike_sa_next_deadline() */
	struct loop_timer t_event;	/* deferred work, outside the IKE SA's callbacks */
	struct loop_timer t_reconnect;
	struct loop_timer t_close;	/* deadline for the DELETE answer */
	struct loop_timer t_watchdog;	/* WATCHDOG=1 to systemd, from the loop */
	struct loop_timer t_listener;	/* --network report: the driver's listener is late */
	struct loop_timer t_linger;	/* the next lingering Child SA to free (datapath.c) */
	bool await_listener;		/* --network report: no contact before its `events` */

	uint64_t start_ms, attempt_ms, up_since_ms;
	uint32_t backoff_ms;
	bool ever_up, announced;
	unsigned unverified_refusals;	/* in a row, see fail_is_fatal() */
	bool state_set;			/* state has been set once (logs old -> new after) */
	bool ready_sent;		/* READY=1 told to systemd */
	char down_why[64];		/* why we are closing */
	bool dead_pending, down_pending, close_ike_port, undo_failed;
	bool restart_pending;		/* a move was refused: new IKE SA (deferred) */
	bool recheck_pending;		/* the network changed during a move: look again */
	bool transport_failed;		/* see session_transport_failed() */
};

/* session.c: run the agent until it is told to stop; returns the exit code. */
int session_run(const struct config *cfg, const struct session_opts *o);
/* An event for the `events` listeners (and the log): the tunnel's IP configuration, a failure. */
void session_emit_ip(struct session *s);
void session_emit_failure(struct session *s, const char *kind, const char *why);
/*
 * The one place the session's state changes: logs "agent: old -> new
 * (why)" and tells systemd (STATUS=, STOPPING=1 when closing).
 */
void session_set_state(struct session *s, enum session_state st, const char *why);
/* A change within the state (a transport tried, a connection re-made): STATUS= only. */
void session_note(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Run on_event's deferred work from the loop, outside any callback. */
void session_defer(struct session *s);
/* The IKE SA's news (session_path.c passes them on). */
void session_child_up(struct session *s, const struct ike_child_info *ci);
void session_ike_state(struct session *s, enum ike_sa_state now);
/* The current Child SA's ESP counters near their end: rekey it now. */
void session_rekey_child(struct session *s);
/* The tun device failed (deleted under us): stop reading it, disconnect, exit 1. */
void session_tun_failed(struct session *s, int err);
/* s->ike's deadline changed. */
void session_rearm_ike(struct session *s);
/* No transport reached the gateway, or the path in use stays down: why in
 * one line; the session reconnects from scratch (deferred). */
void session_transport_failed(struct session *s, const char *why);
/* session_path.c: what the paths tell the session. */
extern const struct path_owner session_path_owner;
/* The IKE SA, created and started over p (its addresses for NAT detection). */
int session_ike_start(struct session *s, struct path *p) MUST_CHECK;
/* NAT detection from now on with p's addresses (RFC 9329 §6.5 ≈). */
void session_ike_addrs(struct session *s, const struct path *p);
/* The race is over: p carries the IKE SA (and ESP) from now on. */
void session_path_won(struct session *s, struct path *p, enum race_goal g, uint64_t ms,
		      bool udp_tried);
/* Start over with a new IKE SA now (no MOBIKE, or a move that cannot work). */
void session_restart(struct session *s, const char *why);

/*
 * netsetup.c: the tun and the network on it, per s->netsetup. ensure: set
 * up for this Child SA's assignment (nothing if unchanged, rebuilt if it
 * changed); down: undo all (keep_journal: the file stays open for the next
 * setup).
 */
int netsetup_ensure(struct session *s, const struct ike_child_info *ci) MUST_CHECK;
void netsetup_down(struct session *s, bool keep_journal);

/*
 * login.c: the EAP login. Prepare before privileges go: the identity, the
 * EAP-TLS certificate, the password from the configuration or the
 * terminal (asked now), or, from control, awaited (login_waiting()) until
 * `ikeagent password` gives it (login_ctl_password()). -1 with err.
 */
int login_prepare(struct session *s, enum login_password_from from, char *err,
		  size_t errlen) MUST_CHECK;
bool login_waiting(const struct session *s);
int login_ctl_password(struct session *s, const char *arg, char *reply, size_t cap);
void login_free(struct session *s);

/* race.c */
struct race *race_new(struct session *s);
void race_free(struct race *r);
/*
 * Race the transports of order (why: the first half of the first log
 * line) for the first IKE_SA_INIT (the IKE SA is made over the first path
 * up) or a move's UPDATE_SA_ADDRESSES (keep: the path in use, raced too if
 * its kind is in order). -1: nothing could be started.
 */
int race_start(struct session *s, enum race_goal g, const enum config_transport *order,
	       unsigned n, struct path *keep, const char *why) MUST_CHECK;
/* Close every path tried but the session's. */
void race_stop(struct session *s);
bool race_active(const struct session *s);
bool race_has(const struct session *s, const struct path *p);
enum race_goal race_goal(const struct session *s);
/* The newest path tried (status while racing), NULL if none. */
const struct path *race_latest(const struct session *s);
/* The IKE SA's requests while racing: over the UDP paths (or the one being started). */
int race_send(struct session *s, const uint8_t *msg, size_t len) MUST_CHECK;
/* p brought an answer to the IKE SA's request: it wins. */
void race_answered(struct session *s, struct path *p);
/* A stream path tried came up: the request goes over it. */
void race_path_up(struct session *s, struct path *p);
void race_path_failed(struct session *s, struct path *p);

/* roam.c */
/* Watch the network ([tunnel] roam) and open the memory ([tunnel] network_memory). */
void roam_init(struct session *s);
void roam_free(struct session *s);
/* The transports to try on the network we are on now: [transport] order,
 * what worked here last first. Also sets s->roam.network and why. */
unsigned roam_order(struct session *s, enum config_transport *order);
/* The network changed (why: what rtnetlink saw): move the IKE SA if the path in use is gone
 * or another source/device is now the route to the gateway. */
void roam_check(struct session *s, const char *why);
/*
 * The order for a network: [transport] order, with e's transport first
 * when UDP got no answer there (*hostile). e may be NULL (not known).
 */
unsigned roam_pick_order(const struct config *cfg, const struct netmem_entry *e,
			 enum config_transport *order, bool *hostile);
/*
 * What m says of network id. Its router's MAC may not be in the neighbour
 * table yet (nothing was sent there since the link came up): the id is
 * then "gw IP dev IF", and the one entry for a router of that address with
 * a known MAC is taken for it; with two such entries (two networks behind
 * 192.168.1.1, say) nothing is known (NULL).
 */
const struct netmem_entry *roam_lookup(const struct netmem *m, const char *id);
/* A race was won over p: remember it for this network; on a remembered
 * UDP-hostile one, check UDP again in ROAM_UDP_PROBE_MS (a move raced
 * against the path in use). */
void roam_won(struct session *s, const struct path *p, bool udp_tried);

/* datapath.c */
/* mtu_max: the largest tun MTU the session may set; offload: use the offloads. */
int dp_init(struct datapath *dp, unsigned mtu_max, bool offload) MUST_CHECK;
void dp_free(struct datapath *dp);
void dp_tun_event(void *ctx, uint32_t events);
/*
 * dp_worker.c: hand the outbound direction to its owner now: the worker
 * thread (UDP path, a Child SA, [tunnel] threads) or the loop thread.
 * Called when a Child SA comes or goes, the tun comes or goes, and after
 * every round of the loop. -1: nobody reads the tun although it is up.
 */
int dp_tx_sync(struct session *s);
/* Does the worker thread own the outbound direction now? */
bool dp_worker_active(const struct session *s);
/* Add what the worker counted since the last handover to st. */
void dp_worker_peek(const struct session *s, struct session_stats *st);
void dp_worker_stop(struct session *s);
/* Read the tun and send what it held, for whichever thread owns the outbound direction. */
void dp_tx_run(struct dp_tx *tx);
/* On the loop thread: take what a run reported into the session (and clear it). */
void dp_tx_account(struct session *s, struct dp_tx_out *o);
/* One ESP packet from the gateway (any path: ESP is authenticated by its SA). */
void dp_esp_input(struct session *s, uint8_t *p, size_t len);
/* The end of a receive batch: inner packets held for coalescing go to the tun. */
void dp_esp_flush(struct session *s);
int dp_child_install(struct session *s, const struct ike_child_info *ci) MUST_CHECK;
/* The IKE SA let go of it: it lingers (receive only), then is freed (t_linger). */
void dp_child_remove(struct session *s, uint32_t spi_in);
/* All of them at once, lingering or not (the IKE SA is gone). */
void dp_children_free(struct session *s);
/* t_linger's callback (ctx: the session). */
void dp_linger_timer(void *ctx);
/* The Child SA that sends (newest), NULL if none. */
struct session_child *dp_child_current(struct session *s);

/* drop.c: giving up root after the setup that needs it ([agent] user, socket_group) */
/* The control socket's group (CTL_NO_GROUP: root only); -1 if a configured one is missing. */
int drop_socket_group(const struct config *cfg, gid_t *out, char *err, size_t errlen) MUST_CHECK;
/* The uid [agent] user will run as; (uid_t)-1 when the agent stays as it is. */
uid_t drop_user_uid(const struct config *cfg);
/* Would [agent] user and socket_group work here (`ikeagent check`)? */
int drop_check(const struct config *cfg, char *err, size_t errlen) MUST_CHECK;
/*
 * Start the privileged helper and become [agent] user with CAP_NET_ADMIN
 * only; nothing to do for root or a default user that does not exist
 * (warned). -1 with err and *rc: a configured user is missing (2), or the
 * helper or the drop failed (1).
 */
int drop_privileges(struct session *s, int *rc, char *err, size_t errlen) MUST_CHECK;

/* cfgmap.c */
/*
 * Fill out from cfg. local and remote are the connected socket's addresses
 * (NAT detection); NULL for both gives zero addresses (`ikeagent check`).
 * On error err holds one line.
 */
int cfgmap_ike(const struct config *cfg, const struct sockaddr_storage *local,
	       const struct sockaddr_storage *remote, struct ike_sa_cfg *out, char *err,
	       size_t errlen) MUST_CHECK;
/* An address as IKE carries it: the IP zero-padded to 16 bytes, the port (NULL: zeros). */
void cfgmap_addr(const struct sockaddr_storage *ss, uint8_t ip[16], uint16_t *port);
void cfgmap_cidr_to_ts(const struct cidr *c, struct ike_ts_sel *ts);
/* A selector's address range as the fewest CIDRs; ENOBUFS beyond max. */
int cfgmap_ts_to_cidrs(const struct ike_ts_sel *ts, struct tun_cidr *out, size_t max,
		       size_t *n) MUST_CHECK;
/* What the tun should carry for a new Child SA (routes, virtual IP, DNS). */
void cfgmap_net(const struct config *cfg, const struct ike_child_info *ci, struct session_net *n);
bool cfgmap_net_same(const struct session_net *a, const struct session_net *b);
/* ENCR_AES_GCM_16 / ENCR_CHACHA20_POLY1305 -> aead alg; -1 otherwise. */
int cfgmap_aead(uint16_t encr, enum aead_alg *alg) MUST_CHECK;

/* status.c: a snapshot, formatted for humans or as one JSON object. */
struct status_info {
	const char *state;	/* connecting, established, reconnecting, closing */
	const char *ike_state;
	const char *transport;
	char local[64], remote[64];
	char network[128];		/* what identifies the network we are on; "" */
	char why[160];			/* why this transport */
	struct session_move last_move;
	uint64_t move_ago_s;
	bool proxy;			/* tcp/tls through an HTTP CONNECT proxy */
	char proxy_addr[300];		/* "host:port", never the credentials */
	char virtual_ip[TUN_CIDR_STRLEN];	/* "" if none */
	char virtual_ip6[TUN_CIDR_STRLEN];	/* "" if none */
	char routes[SESSION_MAX_ROUTES][TUN_CIDR_STRLEN];
	size_t n_routes;
	char dns[SESSION_MAX_DNS][TUN_CIDR_STRLEN];
	size_t n_dns;
	char tun[IFNAMSIZ];		/* "" if none */
	char datapath[128];		/* "tun tso uso, udp gro, worker thread"; "" if no tun */
	uint64_t spi_i, spi_r;
	uint32_t child_spi_in, child_spi_out;	/* 0 if none */
	struct session_stats st;
	uint64_t uptime_s;		/* of the current tunnel, 0 if down */
	const char *last_error;		/* "" if none */
};

const char *session_state_name(enum session_state st);
void status_collect(const struct session *s, struct status_info *si);
int status_text(const struct status_info *si, char *out, size_t cap);
int status_json(const struct status_info *si, char *out, size_t cap);
/* Event lines of the `events` stream (nm/PROTOCOL.md), newline included. -1: cut. */
int status_event_state(const char *state, const char *why, char *out, size_t cap);
int status_event_failure(const char *kind, const char *why, char *out, size_t cap);
int status_event_ip(const struct session *s, char *out, size_t cap);
/* "10.0.0.1, 10.0.0.2" of an array of strings; "none" if n is 0. */
const char *status_join(char (*items)[TUN_CIDR_STRLEN], size_t n, char *out, size_t cap);

#endif
