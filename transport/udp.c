#include "transport/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

int sock_bind_dev(int fd, int ifindex)
{
	if (ifindex <= 0)
		return 0;
	return setsockopt(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &ifindex, sizeof(ifindex));
}

int udp_open(const struct sockaddr *peer, socklen_t peerlen, uint32_t mark, int ifindex)
{
	int fd = socket(peer->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int on = 1;

	if (fd < 0)
		return -1;
	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		goto fail;
	if (sock_bind_dev(fd, ifindex) < 0)
		goto fail;
	/* Let the kernel tell us about unreachable peers on recv(). */
	if (peer->sa_family == AF_INET)
		(void)setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
	if (connect(fd, peer, peerlen) < 0)
		goto fail;
	return fd;
fail:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
}

int udp_send(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

int udp_recv_batch(int fd, uint8_t *const *bufs, size_t cap, size_t *lens, unsigned n)
{
	size_t seg[UDP_BATCH_MAX];

	/* Without UDP_GRO on the socket every message is one datagram. */
	return udp_recv_batch_gro(fd, bufs, cap, lens, seg, n);
}

/* ---- GSO and GRO -------------------------------------------------------- */

void udp_offload_init(int fd, struct udp_offload *o)
{
	int on = 1, v = 0;
	socklen_t vlen = sizeof(v);

	/*
	 * A kernel without UDP_SEGMENT (before 4.18) ignores the cmsg and would
	 * send a whole run as one datagram: ask it first (the option reads back).
	 */
	o->gso = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &vlen) == 0;
	if (!o->gso)
		log_info("udp: GSO off: the kernel has no UDP_SEGMENT (%s)", strerror(errno));
	o->gro = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
}

/*
 * How many datagrams from d[0] (n > 0 of them) one GSO message can carry:
 * d[0]'s size is the segment size; equal ones follow, a shorter one ends the
 * run. 1 when d[0] cannot lead a run (empty, or too large for one message).
 */
static unsigned gso_run(const struct iovec *d, unsigned n)
{
	size_t seg = d[0].iov_len, total = seg;
	unsigned k = 1;

	if (seg == 0 || seg > UDP_GSO_MAX_BYTES)
		return 1;
	while (k < n && k < UDP_GSO_MAX_SEGS) {
		size_t len = d[k].iov_len;

		/* total <= UDP_GSO_MAX_BYTES and len <= seg: no overflow */
		if (len == 0 || len > seg || total + len > UDP_GSO_MAX_BYTES)
			break;
		total += len;
		k++;
		if (len < seg)
			break;
	}
	return k;
}

/* One sendmmsg worth of messages over the datagrams: message i carries cnt[i]. */
struct gso_plan {
	struct mmsghdr msgs[UDP_GSO_MSGS_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl[UDP_GSO_MSGS_MAX];
	unsigned cnt[UDP_GSO_MSGS_MAX];
	unsigned nmsgs;
};

/* Messages for d[0..n), as many as fit; runs of several only with gso. */
static void gso_plan_build(struct gso_plan *p, const struct iovec *d, unsigned n, bool gso)
{
	unsigned used = 0;

	p->nmsgs = 0;
	while (used < n && p->nmsgs < UDP_GSO_MSGS_MAX) {
		unsigned i = p->nmsgs, k = gso ? gso_run(d + used, n - used) : 1;
		struct msghdr *mh = &p->msgs[i].msg_hdr;

		memset(&p->msgs[i], 0, sizeof(p->msgs[i]));
		/* The kernel copies the iovecs; it never writes them. */
		mh->msg_iov = (struct iovec *)&d[used];
		mh->msg_iovlen = k;
		if (k > 1) {
			uint16_t seg = (uint16_t)d[used].iov_len;	/* <= UDP_GSO_MAX_BYTES */
			struct cmsghdr *cm;

			memset(&p->ctl[i], 0, sizeof(p->ctl[i]));
			mh->msg_control = p->ctl[i].buf;
			mh->msg_controllen = sizeof(p->ctl[i].buf);
			cm = CMSG_FIRSTHDR(mh);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
		}
		p->cnt[p->nmsgs++] = k;
		used += k;
	}
}

/* Errors with which the kernel refuses a GSO message that it would take as datagrams. */
static bool gso_refused(int err)
{
	return err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP ||
	       err == EMSGSIZE;
}

static void gso_off(struct udp_offload *o, int err)
{
	o->gso = false;
	if (err == EIO)
		log_info("udp: GSO off: no checksum offload on this path, or not plain UDP (%s)",
			 strerror(err));
	else if (err == EMSGSIZE)
		log_info("udp: GSO off: segments larger than the path MTU (%s)", strerror(err));
	else
		log_info("udp: GSO off: the kernel refused it (%s)", strerror(err));
}

int udp_send_batch_gso(int fd, struct udp_offload *o, const struct iovec *dgrams, unsigned n)
{
	struct gso_plan p;
	unsigned done = 0;

	if (n > INT_MAX)
		n = INT_MAX;
	while (done < n) {
		int r;

		gso_plan_build(&p, dgrams + done, n - done, o->gso);
		do
			r = sendmmsg(fd, p.msgs, p.nmsgs, 0);
		while (r < 0 && errno == EINTR);
		if (r < 0 && p.cnt[0] > 1 && gso_refused(errno)) {
			gso_off(o, errno);
			continue;	/* the same datagrams again, one message each */
		}
		if (r <= 0) {
			if (r == 0)
				errno = EAGAIN;
			break;
		}
		for (int i = 0; i < r; i++)
			done += p.cnt[i];
		/*
		 * Stopped short: a partial sendmmsg keeps the error to itself.
		 * Only a GSO message is worth asking again (it may be refused
		 * and fall back); a plain one would fail the same way.
		 */
		if ((unsigned)r < p.nmsgs && p.cnt[r] == 1)
			break;
	}
	if (done == 0 && n > 0)
		return -1;
	return (int)done;
}

/* Segment size of a received message of len bytes; 0 if it must be dropped. */
static size_t gro_seg(struct msghdr *mh, size_t len)
{
	int gso = 0;

	if (len == 0 || (mh->msg_flags & MSG_TRUNC))
		return 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(gso)))
			memcpy(&gso, CMSG_DATA(cm), sizeof(gso));
	}
	if (gso > 0)
		return (size_t)gso < len ? (size_t)gso : len;
	/* Control data cut short may have held the segment size: not one datagram then. */
	if (mh->msg_flags & MSG_CTRUNC)
		return 0;
	return len;
}

int udp_recv_batch_gro(int fd, uint8_t *const *bufs, size_t cap, size_t *lens, size_t *seg,
		       unsigned n)
{
	struct mmsghdr msgs[UDP_BATCH_MAX];
	struct iovec iov[UDP_BATCH_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(int)) * 2];
		struct cmsghdr align;
	} ctl[UDP_BATCH_MAX];
	int got;

	if (n > UDP_BATCH_MAX)
		n = UDP_BATCH_MAX;
	memset(msgs, 0, sizeof(msgs[0]) * n);
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = cap;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_control = ctl[i].buf;
		msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
	}
	do
		got = recvmmsg(fd, msgs, n, MSG_DONTWAIT, NULL);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
	for (int i = 0; i < got; i++) {
		seg[i] = gro_seg(&msgs[i].msg_hdr, msgs[i].msg_len);
		lens[i] = seg[i] ? msgs[i].msg_len : 0;
	}
	return got;
}

size_t udp_gro_next(const uint8_t *buf, size_t total, size_t seg, size_t *off,
		    const uint8_t **dgram)
{
	size_t len;

	if (seg == 0 || *off >= total)
		return 0;
	len = total - *off;
	if (len > seg)
		len = seg;
	*dgram = buf + *off;
	*off += len;
	return len;
}

const char *sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
	return buf;
}

int sockaddr_resolve(const char *host, uint16_t port, struct sockaddr_storage *out,
		     socklen_t *outlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
	char portstr[8];

	snprintf(portstr, sizeof(portstr), "%u", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res)
		return -1;
	if (res->ai_addrlen > sizeof(*out)) {
		freeaddrinfo(res);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*outlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

void sockaddr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

uint16_t sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}
