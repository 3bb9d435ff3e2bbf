/*
 * tun: the tun device and every change ikeagent makes to the host's network
 * configuration (addresses, routes, policy rules, DNS), each one recorded in
 * a crash-safe undo journal.
 *
 * Three layers:
 *   raw      tun_dev_*, tun_nl_*, tun_dns_*: one change each, nothing
 *            recorded; the tests and the journal use them.
 *   journal  tun_journal_* and tun_j_*: the same changes, written to the
 *            state file before they are made and undone in reverse order
 *            on tun_journal_close() or, after a crash, by the next run's
 *            tun_journal_open().
 *   routing  tun_route_* and tun_routes_*: split routes or the wg-quick
 *            full-tunnel scheme, journaled.
 *
 * Plain values only: this module knows nothing of IKE, ESP or transports.
 * Every int-returning call is 0 on success or -1 with errno set.
 */
#ifndef IKEAGENT_TUN_TUN_H
#define IKEAGENT_TUN_TUN_H

#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

#define TUN_DEFAULT_TXQLEN	1000
#define TUN_DEFAULT_STATE_DIR	"/run/ikeagent"
#define TUN_PATH_MAX		256	/* programs, state and resolv.conf paths */
#define TUN_DNS_MAX		8	/* servers handed to the resolver */
#define TUN_DOMAIN_MAX		254	/* search domain incl. NUL */
#define TUN_CIDR_STRLEN		(46 + 4)	/* INET6_ADDRSTRLEN + "/128" */
#define TUN_TABLE_MAIN		254

/* ---- addresses ------------------------------------------------------- */

struct tun_ip {
	int family;		/* AF_INET, AF_INET6; 0 = none */
	uint8_t addr[16];	/* network order; IPv4 uses the first 4 bytes */
};

struct tun_cidr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t prefix;		/* 0..32 or 0..128 */
};

/* "10.0.0.1", "fd00::1". */
int tun_ip_parse(const char *s, struct tun_ip *out) MUST_CHECK;
/* "10.0.0.0/8", "fd00::/64"; no "/len" means a host prefix. */
int tun_cidr_parse(const char *s, struct tun_cidr *out) MUST_CHECK;
/* EINVAL for a prefix longer than the family allows, EAFNOSUPPORT. */
int tun_cidr_check(const struct tun_cidr *c) MUST_CHECK;
/* Clear the host bits (10.99.1.5/24 -> 10.99.1.0/24). */
void tun_cidr_mask(struct tun_cidr *c);
const char *tun_ip_fmt(const struct tun_ip *ip, char *buf, size_t cap);
const char *tun_cidr_fmt(const struct tun_cidr *c, char *buf, size_t cap);
/* A valid interface name: 1..IFNAMSIZ-1 of [A-Za-z0-9_.-] (ENAMETOOLONG, EINVAL). */
int tun_ifname_check(const char *name) MUST_CHECK;

/* ---- the device (dev.c) ---------------------------------------------- */

struct tun_dev {
	int fd;			/* non-blocking, close-on-exec; -1 when closed */
	int ifindex;
	char name[IFNAMSIZ];
	unsigned mtu;
	bool created;		/* false: attached to an existing persistent tun */
	bool vnet;		/* reads and writes carry a struct virtio_net_hdr */
	unsigned offload;	/* TUN_F_* the kernel granted (vnet only) */
};

/*
 * Create (or attach to) tun device `name` with IFF_TUN|IFF_NO_PI, set its
 * MTU (68..65535; IPv6 needs >= 1280) and txqueuelen (0 = default 1000) and
 * bring it up.
 */
int tun_dev_open(struct tun_dev *t, const char *name, unsigned mtu, unsigned txqlen) MUST_CHECK;
/*
 * The same with IFF_VNET_HDR and offloads: TUNSETOFFLOAD with TUN_F_CSUM,
 * TSO4, TSO6, TSO_ECN, USO4 and USO6, without USO if the kernel refuses it,
 * with none if that fails too (t->offload says which). A kernel that
 * refuses IFF_VNET_HDR itself gets the plain device (t->vnet false).
 */
int tun_dev_open_vnet(struct tun_dev *t, const char *name, unsigned mtu, unsigned txqlen) MUST_CHECK;
int tun_dev_set_up(const struct tun_dev *t, bool up) MUST_CHECK;
int tun_dev_set_mtu(struct tun_dev *t, unsigned mtu) MUST_CHECK;
/* Close the fd; a device this process created is gone afterwards. */
void tun_dev_close(struct tun_dev *t);
/*
 * One packet. Loops on EINTR; -1 with EAGAIN when nothing is queued (read)
 * or the queue is full (write). EMSGSIZE: the packet's own length says it
 * did not fit in `cap` (it is dropped); use a buffer of at least the MTU.
 */
ssize_t tun_read(const struct tun_dev *t, void *buf, size_t cap) MUST_CHECK;
ssize_t tun_write(const struct tun_dev *t, const void *pkt, size_t len) MUST_CHECK;
/*
 * On a vnet tun tun_read/tun_write move the virtio_net_hdr and the packet
 * as one byte range (tun_read's EMSGSIZE check looks past the hdr); these
 * two keep them apart. tun_read_vnet returns the packet's length (without
 * the hdr); a read shorter than a hdr is EIO. tun_write_vnet returns the
 * bytes written, hdr included.
 */
ssize_t tun_read_vnet(const struct tun_dev *t, struct virtio_net_hdr *h, void *pkt,
		      size_t cap) MUST_CHECK;
ssize_t tun_write_vnet(const struct tun_dev *t, const struct virtio_net_hdr *h, const void *pkt,
		       size_t len) MUST_CHECK;

/* ---- offloads (vnet.c) --------------------------------------------------- */

/* Newer than some installed headers. */
#ifndef TUN_F_USO4
#define TUN_F_USO4	0x20
#define TUN_F_USO6	0x40
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4	5
#endif

#define TUN_VNET_HDR_LEN	sizeof(struct virtio_net_hdr)	/* 10 */
#define TUN_GSO_MAX		65535	/* largest IP packet either way */
#define TUN_GSO_MAX_SEGS	64	/* segments per read: the device's gso_max_segs */

/*
 * Turn one read from a vnet tun (h + pkt, pkt_len bytes) into wire packets.
 * Segment i is written complete into out[i] (any alignment), at most out_cap
 * bytes, its length into lens[i]: IP header with its total (payload) length,
 * IPv4 ID = first ID + i and header checksum; TCP sequence number = first +
 * i * gso_size, FIN and PSH on the last segment only, CWR on the first only;
 * UDP length; full TCP/UDP checksum (UDP: 0 is sent as 0xffff). Header
 * lengths come from the packet itself, not from h->hdr_len. A packet that
 * is not GSO is copied into out[0] as it is, its checksum completed if
 * NEEDS_CSUM. Returns the number of segments, 1..max_out, or -1 with errno
 * EINVAL (malformed: header lengths, csum_start/csum_offset/gso_size not
 * matching the packet, a GSO type that is not the packet's TCP/UDP over
 * IPv4/IPv6, IPv6 extension headers, IPv4 fragments) or EMSGSIZE (more
 * than max_out segments, or one longer than out_cap).
 */
int tun_vnet_split(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t pkt_len,
		   uint8_t *const *out, size_t out_cap, size_t *lens, unsigned max_out) MUST_CHECK;

/*
 * Coalescing (GRO) of TCP segments bound for a vnet tun. One super-segment
 * is pending at a time; it is written when a packet that does not continue
 * it arrives, or by tun_gro_flush (call it after each batch of packets).
 */
#define TUN_GRO_BUF		TUN_GSO_MAX	/* the pending IP packet; the hdr is written by writev */
#define TUN_GRO_MAX_SEGS	64

/* How a tun_gro writes: h NULL means a plain (non-vnet) write. 0 or -1 with errno. */
typedef int tun_gro_write_fn(void *arg, const struct tun_dev *t, const struct virtio_net_hdr *h,
			     const uint8_t *pkt, size_t len);

struct tun_gro {
	uint8_t *buf;		/* caller's, cap >= TUN_GRO_BUF */
	size_t cap;
	uint64_t dropped;	/* packets lost in failed writes (each segment counts) */
	uint64_t merged;	/* segments appended to a pending one */
	/* private */
	tun_gro_write_fn *write;
	void *arg;
	size_t len;		/* pending packet length; 0 = none */
	unsigned segs;
	uint16_t gso_size;	/* payload of the first segment */
	uint8_t l3len;		/* 20 or 40 */
	uint8_t hlen;		/* IP + TCP header length */
	uint32_t next_seq;
	uint16_t next_id;	/* IPv4 without DF: the ID the next segment must carry */
	bool last_short;	/* the last segment appended was shorter than gso_size */
};

/* buf/cap too small: every packet is written as it comes. */
void tun_gro_init(struct tun_gro *g, uint8_t *buf, size_t cap);
/* Replace the writes to the tun (tests, benchmarks); NULL restores them. */
void tun_gro_set_writer(struct tun_gro *g, tun_gro_write_fn *fn, void *arg);
/*
 * Offer one inner packet bound for the tun. A TCP segment (IPv4 with a
 * valid header checksum, no options, no fragment; IPv6 without extension
 * headers; ACK set, no SYN/RST/URG/CWR; payload > 0; a valid TCP checksum)
 * that continues the pending one (same addresses, ports, TOS/traffic class
 * and flow label, TTL/hop limit, DF; seq = the next expected; same ack,
 * window, flags and TCP option bytes; no longer than the first segment's
 * payload and the one before it not shorter; the pending one without PSH
 * or FIN; at most 65535 bytes and TUN_GRO_MAX_SEGS segments; IPv4 without
 * DF: the next ID) is appended. Otherwise the pending one is written
 * first, then this packet starts a new pending one if it is such a segment,
 * or is written at once with a zero hdr. On a tun without vnet every packet
 * is written at once. Returns 0, or -1 with the errno of the first failed
 * write: what failed to write (the pending super-segment, all its segments,
 * or this packet) is dropped and counted in g->dropped, everything else
 * handled as usual.
 */
int tun_gro_add(struct tun_gro *g, const struct tun_dev *t, const uint8_t *pkt, size_t len) MUST_CHECK;
/* Write the pending super-segment, if any (one segment: as it came, with a zero hdr). */
int tun_gro_flush(struct tun_gro *g, const struct tun_dev *t) MUST_CHECK;
/* The pending packet as it would be written now (hdr filled in); NULL if none. */
const uint8_t *tun_gro_pending(struct tun_gro *g, struct virtio_net_hdr *h, size_t *len);

/* ---- rtnetlink (nl.c), raw ----------------------------------------------- */

struct tun_link_info {
	int ifindex;
	unsigned flags;		/* IFF_UP, IFF_RUNNING, ... */
	unsigned mtu;
	unsigned txqlen;
	char kind[16];		/* IFLA_INFO_KIND, "tun" for ours; "" if none */
};

struct tun_route_spec {
	struct tun_cidr dst;	/* host bits are cleared before use */
	int oif;		/* required */
	struct tun_ip gw;	/* family 0: a device route */
	uint32_t table;		/* 0 = main */
	uint32_t metric;	/* 0 = kernel default */
};

/* One `ip rule`: FR_ACT_TO_TBL lookups only. */
struct tun_rule_spec {
	int family;
	uint32_t table;
	uint32_t priority;	/* 0 = the kernel picks (as `ip rule add`) */
	uint32_t fwmark;	/* 0 = no fwmark selector */
	bool invert;		/* "not" */
	int suppress_prefixlen;	/* -1 = none */
};

/* Answer of an RTM_GETROUTE: where a packet to a destination would go. */
struct tun_route_info {
	int oif;
	struct tun_ip gw;	/* family 0: on-link */
	struct tun_ip src;	/* preferred source; family 0 if none */
	uint32_t table;
	uint8_t type;		/* RTN_UNICAST, RTN_LOCAL, ... */
};

int tun_nl_link_get(const char *name, struct tun_link_info *out) MUST_CHECK;
/* Delete `name` only if it is a tun device (EPERM otherwise). */
int tun_nl_link_del_tun(const char *name) MUST_CHECK;
/* IFLA_GSO_MAX_SEGS: the kernel hands the device no super-segment of more. */
int tun_nl_link_set_gso_max_segs(int ifindex, uint32_t segs) MUST_CHECK;

/* EEXIST on add of a present address, EADDRNOTAVAIL on del of an absent one. */
int tun_nl_addr_add(int ifindex, const struct tun_cidr *a) MUST_CHECK;
int tun_nl_addr_del(int ifindex, const struct tun_cidr *a) MUST_CHECK;
/* ESRCH on del of an absent route. */
int tun_nl_route_add(const struct tun_route_spec *r) MUST_CHECK;
int tun_nl_route_del(const struct tun_route_spec *r) MUST_CHECK;
/* ENOENT on del of an absent rule. */
int tun_nl_rule_add(const struct tun_rule_spec *r) MUST_CHECK;
int tun_nl_rule_del(const struct tun_rule_spec *r) MUST_CHECK;
/* Route lookup for dst as if sent with fwmark `mark` (0 = unmarked). */
int tun_nl_route_get(const struct tun_ip *dst, uint32_t mark, struct tun_route_info *out) MUST_CHECK;

/* Dumps (verification, picking a free table); ENOBUFS if more than max. */
int tun_nl_addr_list(int family, int ifindex, struct tun_cidr *out, size_t max, size_t *n) MUST_CHECK;
int tun_nl_rule_list(int family, struct tun_rule_spec *out, size_t max, size_t *n) MUST_CHECK;
int tun_nl_route_list(int family, uint32_t table, struct tun_route_spec *out, size_t max,
		      size_t *n) MUST_CHECK;

/* ---- DNS (dns.c), raw ------------------------------------------------- */

enum tun_dns_method {
	TUN_DNS_NONE,		/* nothing found: logged, not configured */
	TUN_DNS_RESOLVCONF,	/* resolvconf -a <tun>.ikeagent < resolv.conf lines */
	TUN_DNS_RESOLVECTL,	/* systemd-resolved per-link DNS */
	TUN_DNS_HOOK,		/* HOOK up|down <tun> <dns...> */
	TUN_DNS_FILE,		/* rewrite resolv.conf, keep a backup (opt-in) */
};

/*
 * Where to look. tun_dns_cfg_default() fills the system paths; a zeroed or
 * NULL/"" field disables that method, so tests name every path they use.
 * Every program and file a DNS change touches comes from here, never from
 * a journal file or a request (see tun_dns_apply).
 */
struct tun_dns_cfg {
	const char *resolvconf;		/* program */
	const char *resolvectl;		/* program */
	const char *resolved_probe;	/* exists while systemd-resolved runs */
	const char *hook;		/* script, tried after the two above */
	const char *resolv_conf;	/* file rewritten by TUN_DNS_FILE */
	bool rewrite_resolv_conf;	/* last resort: TUN_DNS_FILE */
	const char *backup_dir;		/* TUN_DNS_FILE keeps <dir>/<ifname>.resolv.conf */
	unsigned timeout_ms;		/* per program run; 0 = 10 s */
};

struct tun_dns_req {
	char ifname[IFNAMSIZ];
	struct tun_ip servers[TUN_DNS_MAX];
	size_t n_servers;
	char domain[TUN_DOMAIN_MAX];	/* search domain, "" = none */
	bool full_tunnel;		/* resolvectl: route every name here (~.) */
};

/* A method made concrete from a tun_dns_cfg: the program or file to use. */
struct tun_dns_act {
	enum tun_dns_method method;
	char prog[TUN_PATH_MAX];	/* program/hook; resolv.conf for FILE */
	char backup[TUN_PATH_MAX];	/* FILE: copy of the previous resolv.conf */
	unsigned timeout_ms;
};

void tun_dns_cfg_default(struct tun_dns_cfg *cfg);
/* EINVAL: bad interface name, no/too many servers, a domain with odd bytes. */
int tun_dns_req_check(const struct tun_dns_req *req) MUST_CHECK;
/* resolvconf, else resolvectl (if resolved runs), else hook, else file/none. */
enum tun_dns_method tun_dns_pick(const struct tun_dns_cfg *cfg);
/* Method m as cfg provides it for interface ifname; EOPNOTSUPP if it does not. */
int tun_dns_act_for(const struct tun_dns_cfg *cfg, enum tun_dns_method m, const char *ifname,
		    struct tun_dns_act *act) MUST_CHECK;
/* EIO: the program failed; ETIMEDOUT: it was killed after timeout_ms. */
int tun_dns_set(const struct tun_dns_act *act, const struct tun_dns_req *req) MUST_CHECK;
int tun_dns_unset(const struct tun_dns_act *act, const struct tun_dns_req *req) MUST_CHECK;
const char *tun_dns_method_name(enum tun_dns_method m);

/* ---- the privileged helper (priv.c) ------------------------------------ */

/*
 * For a process that gives up root but keeps CAP_NET_ADMIN: fork a helper
 * that stays root for the two things such a process still cannot do, open
 * /dev/net/tun (often mode 0600) and run the DNS programs (they write
 * root-owned files). From then on tun_dev_open(), tun_dns_choose() and
 * tun_dns_apply() here go through it. dns is used by the helper for every
 * DNS change (the fork keeps its copy; NULL: no DNS). Call once, before
 * dropping privileges. The helper ignores SIGINT/SIGTERM (DNS is undone
 * through it while shutting down) and exits when this process closes its
 * end or dies.
 */
int tun_priv_start(const struct tun_dns_cfg *dns) MUST_CHECK;
/* Close the channel and wait for the helper to exit. */
void tun_priv_stop(void);
bool tun_priv_active(void);
/* The helper's pid, 0 if none. */
pid_t tun_priv_pid(void);
/*
 * DNS changes as the journal makes them, here or (once tun_priv_start ran)
 * in the helper: pick a method, then set (up) or undo method m for req,
 * everything else taken from cfg. Through the helper only m and req
 * cross; it uses its own copy of the configuration (cfg is then unused).
 */
enum tun_dns_method tun_dns_choose(const struct tun_dns_cfg *cfg);
int tun_dns_apply(const struct tun_dns_cfg *cfg, enum tun_dns_method m,
		  const struct tun_dns_req *req, bool up) MUST_CHECK;

/* ---- undo journal (journal.c) ------------------------------------------ */

struct tun_jent;

struct tun_journal {
	int fd;				/* state file, flock()ed while we live */
	char dir[TUN_PATH_MAX];
	char path[TUN_PATH_MAX];	/* <dir>/<name>.state */
	char name[IFNAMSIZ];
	unsigned next_seq;
	const struct tun_dns_cfg *dns;	/* how DNS entries are undone; NULL: none */
	struct tun_jent *ents;		/* live entries, oldest first */
	size_t n, cap;
};

/*
 * Open <dir>/<name>.state (dir NULL = /run/ikeagent, created 0700). If an
 * earlier run left one behind, undo what it lists first, one log line per
 * item. DNS entries are undone with dns (kept, may be NULL: then they
 * cannot be). EBUSY: another live process holds it.
 */
int tun_journal_open(struct tun_journal *j, const char *dir, const char *name,
		     const struct tun_dns_cfg *dns) MUST_CHECK;
/*
 * Undo everything in reverse order and start the file afresh, keeping it
 * open and locked (a process without the right to create it again can go
 * on). -1 if an undo failed (the change stays listed).
 */
int tun_journal_reset(struct tun_journal *j) MUST_CHECK;
/*
 * Undo everything in reverse order, remove the file (or, where we may no
 * longer remove it, leave it empty). -1 if an undo failed.
 */
int tun_journal_close(struct tun_journal *j);
/* Recovery alone (e.g. `ikeagent --cleanup`): same as open + close. */
int tun_journal_recover(const char *dir, const char *name,
			const struct tun_dns_cfg *dns) MUST_CHECK;

/*
 * Journaled changes: the record is fsync'd before the change is made and
 * cancelled if the change fails. `dev` must stay valid while journaled.
 */
/* offload: tun_dev_open_vnet() (the kernel may refuse: dev->vnet says what it got). */
int tun_j_dev_open(struct tun_journal *j, struct tun_dev *dev, unsigned mtu, unsigned txqlen,
		   bool offload) MUST_CHECK;
int tun_j_addr_add(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *a) MUST_CHECK;
int tun_j_addr_del(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *a) MUST_CHECK;
int tun_j_route_add(struct tun_journal *j, const struct tun_route_spec *r) MUST_CHECK;
int tun_j_route_del(struct tun_journal *j, const struct tun_route_spec *r) MUST_CHECK;
int tun_j_rule_add(struct tun_journal *j, const struct tun_rule_spec *r) MUST_CHECK;
int tun_j_rule_del(struct tun_journal *j, const struct tun_rule_spec *r) MUST_CHECK;
/* Picks a method (with the journal's dns); TUN_DNS_NONE is logged and returns 0. *used may be NULL. */
int tun_j_dns_up(struct tun_journal *j, const struct tun_dns_req *req,
		 enum tun_dns_method *used) MUST_CHECK;
int tun_j_dns_down(struct tun_journal *j) MUST_CHECK;

/* ---- routing (route.c), journaled --------------------------------------- */

/* Each CIDR via the tun in `table` (0 = main). A route already there is skipped. */
int tun_route_split(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *c,
		    size_t n, uint32_t table) MUST_CHECK;
int tun_route_split_del(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *c,
			size_t n, uint32_t table) MUST_CHECK;
/*
 * wg-quick's full tunnel for one family:
 *   ip route add default dev TUN table TABLE
 *   ip rule add not fwmark MARK table TABLE
 *   ip rule add table main suppress_prefixlength 0
 * The agent's own sockets must carry SO_MARK = fwmark.
 */
int tun_route_full(struct tun_journal *j, const struct tun_dev *dev, int family, uint32_t fwmark,
		   uint32_t table) MUST_CHECK;
int tun_route_full_del(struct tun_journal *j, const struct tun_dev *dev, int family, uint32_t fwmark,
		       uint32_t table) MUST_CHECK;
/* Dispatch: a /0 gets the full scheme for its family, the rest split routes in main. */
int tun_routes_install(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *c,
		       size_t n, uint32_t fwmark, uint32_t table) MUST_CHECK;
int tun_routes_remove(struct tun_journal *j, const struct tun_dev *dev, const struct tun_cidr *c,
		      size_t n, uint32_t fwmark, uint32_t table) MUST_CHECK;
/*
 * Without fwmark: pin a host route to `peer` (in main) on its current path,
 * before a full tunnel. *pinned receives the route for tun_j_route_del();
 * pinned->oif is 0 when nothing was added (peer is local, or such a host
 * route already exists). ELOOP if the path already leads into `dev`.
 */
int tun_route_pin_host(struct tun_journal *j, const struct tun_dev *dev, const struct tun_ip *peer,
		       struct tun_route_spec *pinned) MUST_CHECK;

#endif
