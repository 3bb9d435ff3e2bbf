/*
 * One connection to the gateway, as `ikeagent run` keeps it: the event
 * loop, the UDP sockets (port 500, then the NAT-T port), the IKE SA, the
 * Child SAs' ESP state, the tun device with its addresses, routes and DNS
 * (all journaled), the control socket and the counters `status` shows.
 *
 *   session.c   lifecycle: connect, reconnect with back-off, shutdown,
 *               the IKE SA's callbacks, signals, control requests
 *   link*.c,    the transports (UDP, RFC 9329 TCP/TLS, through a proxy)
 *   race.c      and the fallback race between them: see agent/link.h
 *   datapath.c  the sockets; tun -> ESP -> UDP and UDP -> IKE or ESP -> tun,
 *               batched; Child SA install/remove; NAT-T keepalives
 *   cfgmap.c    struct config -> struct ike_sa_cfg; traffic selectors
 *               <-> CIDRs
 *   status.c    status as text and as JSON
 *
 * Reconnect policy: after a non-fatal failure (timeout, deleted by the
 * gateway) the IKE SA, the sockets and the ESP SAs go, but the tun device,
 * its address, routes and DNS stay: traffic for the tunnel is dropped (not
 * leaked) until the next Child SA is up. If the gateway then hands out a
 * different address or traffic selectors, the network setup is rebuilt.
 * A broken TCP/TLS connection is not such a failure: the link reconnects
 * under the same IKE SA (agent/link_stream.c). `reconnects` counts both
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
#include "agent/link.h"
#include "agent/loop.h"
#include "esp/esp.h"
#include "ike/sa.h"
#include "transport/udp.h"
#include "tun/tun.h"
#include "util/buf.h"

#define SESSION_CHILDREN	2	/* the current Child SA and the one it replaces */
#define SESSION_MAX_ROUTES	128	/* CIDRs routed into the tun: a selector range may need several */
#define SESSION_MAX_DNS		(2 * IKE_SA_MAX_DNS)	/* IPv4 and IPv6 servers */
_Static_assert(SESSION_MAX_DNS <= TUN_DNS_MAX, "SESSION_MAX_DNS");
#define SESSION_MTU_UDP		1400	/* mtu = auto on UDP */
#define SESSION_KEEPALIVE_MS	20000	/* RFC 3948 keepalive when idle */
#define SESSION_CLOSE_WAIT_MS	2000	/* for the answer to our DELETE */
#define SESSION_RETRANSMIT_MS	1000
#define SESSION_RETRANSMIT_TRIES 5
#define SESSION_BACKOFF_MIN_MS	1000
/* One packet buffer: ESP header + IV, the largest inner packet, trailer + ICV. */
#define DP_MTU_MAX		9000
#define DP_PKT_CAP		9344	/* >= 16 + 9000 + 273, a multiple of 64 */
_Static_assert(DP_PKT_CAP >= ESP_HEADROOM + DP_MTU_MAX + ESP_TAILROOM_MAX, "DP_PKT_CAP");
#define DP_IKE_MAX		65536	/* IKE message + non-ESP marker */
#define SESSION_NOTE_MAX	256	/* one STATUS= line for systemd */

enum session_state {
	SESS_CONNECTING,	/* first attempt */
	SESS_ESTABLISHED,
	SESS_RECONNECTING,	/* after a failure: waiting or trying again */
	SESS_CLOSING,		/* shutting down */
};

struct session;

struct session_sock {
	struct session *s;
	int fd;			/* -1: closed */
	bool nat_t;		/* NAT-T port: non-ESP marker, ESP, keepalives */
	struct link *link;	/* the UDP link whose IKE SA gets what arrives */
	struct sockaddr_storage local, peer;
};

struct session_child {
	bool used;
	uint64_t serial;	/* install order: the highest sends */
	struct esp_sa in, out;
	struct ike_pl_ts ts_local, ts_remote;	/* inbound packets are checked against them */
	bool rekey_asked;	/* its ESP counters neared their end; the IKE SA was told */
};

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
	uint64_t rekeys;
	uint64_t reconnects;		/* IKE SA set up again + transport reconnects */
	uint64_t transport_reconnects;	/* TCP/TLS connection re-made, IKE SA kept */
};

/* Preallocated once: no allocation in the data path. */
struct datapath {
	uint8_t *mem;
	uint8_t *tx[UDP_BATCH_MAX];
	uint8_t *rx[UDP_BATCH_MAX];
	size_t rx_len[UDP_BATCH_MAX];
	size_t tx_inner[UDP_BATCH_MAX];
	struct iovec iov[UDP_BATCH_MAX];
	uint8_t *ike_tx;	/* DP_IKE_MAX bytes */
};

struct session {
	const struct config *cfg;
	const char *ctl_path;
	struct loop *loop;
	struct ctl_server *ctl;
	enum session_state state;
	int exit_code;
	char last_error[160];

	struct ike_sa *ike;
	struct ike_sa_cfg ike_cfg;
	struct ike_trust *trust;	/* [auth] ca: loaded once, kept across reconnects */
	struct ike_cred *cred;		/* [auth] cert + key with method = pubkey */
	struct sockaddr_storage gw;	/* the gateway, resolved once at start */
	socklen_t gw_len;
	struct session_sock sock_ike;	/* to gateway port 500 */
	struct session_sock sock_nat;	/* to the NAT-T port */
	struct link *link;		/* the transport in use (s->ike is its IKE SA) */
	struct race *race;		/* the attempts while no transport has won */
	struct stream_tls_cache *tls_cache;	/* TLS resumption, for the session's life */

	struct session_child child[SESSION_CHILDREN];
	uint64_t child_serial;

	struct tun_journal journal;
	bool journal_open;
	struct tun_dev tun;
	struct session_net net;
	bool tun_in_loop;

	struct tun_dns_cfg dns;		/* how DNS is handed over (and undone) */
	struct session_stats st;
	struct datapath dp;

	struct loop_timer t_ike;	/* ike_sa_next_deadline() */
	struct loop_timer t_keepalive;
	struct loop_timer t_event;	/* deferred work, outside the IKE SA's callbacks */
	struct loop_timer t_reconnect;
	struct loop_timer t_close;	/* deadline for the DELETE answer */
	struct loop_timer t_watchdog;	/* WATCHDOG=1 to systemd, from the loop */

	uint64_t start_ms, attempt_ms, up_since_ms, last_tx_ms;
	uint32_t backoff_ms;
	bool ever_up, announced;
	bool state_set;			/* state has been set once (logs old -> new after) */
	bool ready_sent;		/* READY=1 told to systemd */
	char down_why[64];		/* why we are closing */
	bool dead_pending, down_pending, close_ike_sock, undo_failed;
	bool transport_failed;		/* see session_transport_failed() */
};

/* session.c: run the agent until it is told to stop; returns the exit code. */
int session_run(const struct config *cfg, const char *ctl_path);
/*
 * The one place the session's state changes: logs "agent: old -> new
 * (why)" and tells systemd (STATUS=, STOPPING=1 when closing).
 */
void session_set_state(struct session *s, enum session_state st, const char *why);
/* A change within the state (a transport tried, a connection re-made): STATUS= only. */
void session_note(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A received IKE message (after the non-ESP marker) for the IKE SA. */
void session_ike_input(struct session *s, const uint8_t *msg, size_t len);
/* The current Child SA's ESP counters near their end: rekey it now. */
void session_rekey_child(struct session *s);
/* The tun device failed (deleted under us): stop reading it, disconnect, exit 1. */
void session_tun_failed(struct session *s, int err);
/* The IKE SA's callbacks, for the session's link (link.c forwards them). */
void session_child_up(struct session *s, const struct ike_child_info *ci);
void session_ike_state(struct session *s, enum ike_sa_state old, enum ike_sa_state now);
/* s->ike's deadline changed. */
void session_rearm_ike(struct session *s);
/* No transport reached the gateway, or the link in use stays down: why in
 * one line; the session reconnects from scratch (deferred). */
void session_transport_failed(struct session *s, const char *why);

/* datapath.c */
int dp_init(struct datapath *dp) MUST_CHECK;
/* A socket connected to the gateway's port (SO_MARK = fwmark), watched by the loop. */
int dp_sock_open(struct session *s, struct session_sock *sk, uint16_t port, bool nat_t) MUST_CHECK;
void dp_sock_close(struct session *s, struct session_sock *sk);
void dp_free(struct datapath *dp);
void dp_tun_event(void *ctx, uint32_t events);
void dp_sock_event(void *ctx, uint32_t events);
/* One IKE message on sk, with the non-ESP marker on the NAT-T port. */
int dp_send_ike(struct session *s, struct session_sock *sk, const uint8_t *msg,
		size_t len) MUST_CHECK;
/* One UDP-4500 payload (a NAT-T datagram or an RFC 9329 frame body) from l. */
void dp_natt_input(struct session *s, struct link *l, uint8_t *p, size_t len);
void dp_keepalive(void *ctx);
int dp_child_install(struct session *s, const struct ike_child_info *ci) MUST_CHECK;
void dp_child_remove(struct session *s, uint32_t spi_in);
void dp_children_free(struct session *s);
/* The Child SA that sends (newest), NULL if none. */
struct session_child *dp_child_current(struct session *s);

/* drop.c: giving up root after the setup that needs it ([agent] user, socket_group) */
/* The control socket's group (CTL_NO_GROUP: root only); -1 if a configured one is missing. */
int drop_socket_group(const struct config *cfg, gid_t *out, char *err, size_t errlen) MUST_CHECK;
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
	bool proxy;			/* tcp/tls through an HTTP CONNECT proxy */
	char proxy_addr[300];		/* "host:port", never the credentials */
	char virtual_ip[TUN_CIDR_STRLEN];	/* "" if none */
	char virtual_ip6[TUN_CIDR_STRLEN];	/* "" if none */
	char routes[SESSION_MAX_ROUTES][TUN_CIDR_STRLEN];
	size_t n_routes;
	char dns[SESSION_MAX_DNS][TUN_CIDR_STRLEN];
	size_t n_dns;
	char tun[IFNAMSIZ];		/* "" if none */
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
/* "10.0.0.1, 10.0.0.2" of an array of strings; "none" if n is 0. */
const char *status_join(char (*items)[TUN_CIDR_STRLEN], size_t n, char *out, size_t cap);

#endif
