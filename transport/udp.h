/*
 * UDP transport: non-blocking connected datagram sockets, batched with
 * sendmmsg/recvmmsg (the data path is limited by syscalls, not crypto).
 * Knows nothing of IKE or ESP: it moves datagrams.
 */
#ifndef IKEAGENT_TRANSPORT_UDP_H
#define IKEAGENT_TRANSPORT_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "util/buf.h"

#define UDP_BATCH_MAX 32

/*
 * Open a socket connected to peer; mark (if non-zero) is set with SO_MARK so
 * a full tunnel's routing rule lets it bypass the tun device; ifindex (if
 * > 0) binds it to that device (sock_bind_dev()).
 */
int udp_open(const struct sockaddr *peer, socklen_t peerlen, uint32_t mark,
	     int ifindex) MUST_CHECK;
/*
 * Bind fd to device ifindex (SO_BINDTOIFINDEX; nothing for ifindex <= 0):
 * its packets leave through that device whatever the default route says
 * later, with the source address it was given there. A path to the gateway
 * stays the path it was while the laptop's routes move to another network.
 */
int sock_bind_dev(int fd, int ifindex) MUST_CHECK;
/* One datagram; 0 sent, -1 error (errno; EAGAIN when the socket is full). */
int udp_send(int fd, const void *buf, size_t len) MUST_CHECK;
/*
 * Receive up to n datagrams into bufs[i] (each cap bytes); lens[i] gets each
 * size. Returns the count (0 if none waiting), or -1 on a socket error.
 */
int udp_recv_batch(int fd, uint8_t *const *bufs, size_t cap, size_t *lens, unsigned n) MUST_CHECK;

/*
 * ---- Segmentation offload (UDP GSO) and receive coalescing (UDP GRO) ----
 *
 * With GSO one sendmmsg message carries a run of equal-sized datagrams and
 * the kernel (or the NIC) cuts it; with GRO the kernel may hand up several
 * datagrams that arrived back to back as one message, each seg bytes but
 * the last, which may be shorter.
 */
#define UDP_GSO_MAX_SEGS 64	/* datagrams per GSO message (older kernels' limit) */
#define UDP_GSO_MAX_BYTES 65507	/* payload of one GSO message: 65535 - 20 - 8 */
#define UDP_GSO_MSGS_MAX 64	/* messages per udp_send_batch_gso() syscall */
#define UDP_GRO_BUF 65535	/* receive buffer for one coalesced message */

/* Per-socket offload state: gso/gro true while the kernel accepts them. */
struct udp_offload {
	bool gso;
	bool gro;
};

/*
 * Try UDP_GRO on fd (setsockopt); sets o->gro. GSO is tried on first send:
 * o->gso starts true when the kernel knows UDP_SEGMENT. Once o->gro, read fd
 * only with udp_recv_batch_gro() into UDP_GRO_BUF buffers: udp_recv_batch()
 * would take a coalesced message for one datagram, a smaller buffer cuts
 * (and so drops) the whole message.
 */
void udp_offload_init(int fd, struct udp_offload *o);
/*
 * Send n datagrams. While o->gso, consecutive datagrams of equal size (the
 * last of a run may be shorter, which ends the run) go as ONE message with a
 * UDP_SEGMENT cmsg and an iovec per datagram (no copying), at most
 * UDP_GSO_MAX_SEGS datagrams and UDP_GSO_MAX_BYTES per message; all messages
 * in one sendmmsg (a second only to learn why a batch stopped short, or for
 * more than UDP_GSO_MSGS_MAX messages). A zero-length datagram or one of
 * more than UDP_GSO_MAX_BYTES goes alone, without the cmsg.
 * If the kernel refuses GSO (EIO: the device cannot checksum, or UDP-Lite;
 * EINVAL, ENOPROTOOPT, EOPNOTSUPP; EMSGSIZE: a segment larger than the path
 * MTU), o->gso is cleared, "udp: GSO off: <reason>" is logged once and those
 * datagrams are sent again without it.
 * Returns how many datagrams were sent, in order (a GSO message counts only
 * whole), or -1 (errno; EAGAIN when the socket is full) if none was.
 */
int udp_send_batch_gso(int fd, struct udp_offload *o, const struct iovec *dgrams,
		       unsigned n) MUST_CHECK;
/*
 * Receive up to n (at most UDP_BATCH_MAX) messages into bufs[i] (each cap
 * bytes). With GRO a message may hold several datagrams of seg[i] bytes each
 * (the last may be shorter): cap must then be UDP_GRO_BUF. lens[i] gets the
 * total, seg[i] the segment size (== lens[i] when it is one datagram). A
 * truncated message (or one whose segment size was lost) gets lens[i] = 0
 * and seg[i] = 0. Returns the count (0 if none waiting), or -1 on a socket
 * error. Walk a message with udp_gro_next().
 */
int udp_recv_batch_gro(int fd, uint8_t *const *bufs, size_t cap, size_t *lens, size_t *seg,
		       unsigned n) MUST_CHECK;
/*
 * The datagrams of one received message in turn: start with *off = 0; each
 * call points *dgram at the next one and returns its length, 0 at the end
 * (at once for total == 0 or seg == 0).
 *	for (size_t off = 0; (len = udp_gro_next(buf, total, seg, &off, &d)) > 0;)
 */
size_t udp_gro_next(const uint8_t *buf, size_t total, size_t seg, size_t *off,
		    const uint8_t **dgram);

/* "1.2.3.4:500" or "[fd00::1]:4500" for logs. */
const char *sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);
/* Resolve host (name or literal) and port; the first address found wins. */
int sockaddr_resolve(const char *host, uint16_t port, struct sockaddr_storage *out,
		     socklen_t *outlen) MUST_CHECK;
void sockaddr_set_port(struct sockaddr_storage *ss, uint16_t port);
uint16_t sockaddr_port(const struct sockaddr_storage *ss);

#endif
