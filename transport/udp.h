/*
 * UDP transport: non-blocking connected datagram sockets, batched with
 * sendmmsg/recvmmsg (the data path is limited by syscalls, not crypto).
 * Knows nothing of IKE or ESP: it moves datagrams.
 */
#ifndef IKEAGENT_TRANSPORT_UDP_H
#define IKEAGENT_TRANSPORT_UDP_H

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
/* Up to n datagrams in one syscall; returns how many were sent, or -1. */
int udp_send_batch(int fd, const struct iovec *dgrams, unsigned n) MUST_CHECK;
/*
 * Receive up to n datagrams into bufs[i] (each cap bytes); lens[i] gets each
 * size. Returns the count (0 if none waiting), or -1 on a socket error.
 */
int udp_recv_batch(int fd, uint8_t *const *bufs, size_t cap, size_t *lens, unsigned n) MUST_CHECK;

/* "1.2.3.4:500" or "[fd00::1]:4500" for logs. */
const char *sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);
/* Resolve host (name or literal) and port; the first address found wins. */
int sockaddr_resolve(const char *host, uint16_t port, struct sockaddr_storage *out,
		     socklen_t *outlen) MUST_CHECK;
void sockaddr_set_port(struct sockaddr_storage *ss, uint16_t port);
uint16_t sockaddr_port(const struct sockaddr_storage *ss);

#endif
