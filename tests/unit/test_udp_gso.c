/*
 * UDP GSO sends and GRO receives (transport/udp.c) over real sockets: the
 * loopback of the current namespace (no root needed), UDP-Lite and
 * SO_NO_CHECK for the kernel refusing GSO (EIO, EINVAL), and, in a private
 * network namespace (root, or an unprivileged user namespace; else SKIP), a
 * loopback MTU below the segment size (EMSGSIZE) and a tun device that
 * cannot checksum.
 *
 * On loopback the kernel hands a GSO message to a UDP_GRO receiver whole,
 * so runs usually arrive coalesced; the checks hold either way (a message
 * of one datagram has seg == len).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/check_main.h"
#include "transport/udp.h"

#define MAXD 256

/* The datagrams a test sends, carved from one arena (nothing to free). */
static uint8_t arena[1 << 20];
static size_t arena_used;
static struct iovec dg[MAXD];

static uint8_t pat(unsigned i, size_t j)
{
	return (uint8_t)(i * 37u + j * 11u + (j >> 8) + 1u);
}

/* dg[0..n) of the given sizes; datagram i starts with i (distinct contents). */
static void make_dgrams(const size_t *sizes, unsigned n)
{
	arena_used = 0;
	ck_assert_uint_le(n, MAXD);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = arena + arena_used;

		ck_assert_uint_le(sizes[i], sizeof(arena) - arena_used);
		for (size_t j = 0; j < sizes[i]; j++)
			p[j] = pat(i, j);
		if (sizes[i] >= 2) {
			p[0] = (uint8_t)(i >> 8);
			p[1] = (uint8_t)i;
		}
		dg[i].iov_base = p;
		dg[i].iov_len = sizes[i];
		arena_used += sizes[i];
	}
}

static void make_equal(size_t size, unsigned n)
{
	size_t sizes[MAXD];

	ck_assert_uint_le(n, MAXD);
	for (unsigned i = 0; i < n; i++)
		sizes[i] = size;
	make_dgrams(sizes, n);
}

static const char *fam_name(int fam)
{
	return fam == AF_INET ? "IPv4" : "IPv6";
}

/* Loopback address of fam on port 0 (bind) or port. */
static socklen_t lo_addr(int fam, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (fam == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*s4);
	}
	((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
	((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
	return sizeof(struct sockaddr_in6);
}

/*
 * rx bound to fam's loopback with UDP_GRO on, tx a socket of protocol proto
 * connected to it (udp_open() for plain UDP). false (and SKIP) when fam or
 * proto does not work here.
 */
static bool lo_pair(const char *test, int fam, int proto, int *rx, int *tx)
{
	struct sockaddr_storage ss;
	socklen_t len = lo_addr(fam, &ss);
	struct udp_offload orx;
	int big = 4 << 20;
	char why[160];

	*rx = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (*rx < 0 || bind(*rx, (struct sockaddr *)&ss, len) < 0) {
		snprintf(why, sizeof(why), "%s %s loopback socket: %s", fam_name(fam),
			 proto ? "UDP-Lite" : "UDP", strerror(errno));
		check_skip(test, why);
		if (*rx >= 0)
			close(*rx);
		return false;
	}
	ck_assert_int_eq(getsockname(*rx, (struct sockaddr *)&ss, &len), 0);
	/* The longest test queues ~200 KB at once: more than the default buffer. */
	(void)setsockopt(*rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	udp_offload_init(*rx, &orx);
	if (proto == 0) {
		*tx = udp_open((struct sockaddr *)&ss, len, 0, 0);
	} else {
		*tx = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
		if (*tx >= 0 && connect(*tx, (struct sockaddr *)&ss, len) < 0) {
			close(*tx);
			*tx = -1;
		}
	}
	ck_assert_msg(*tx >= 0, "sender socket: %s", strerror(errno));
	return true;
}

struct rx_stats {
	unsigned dgrams, msgs, coalesced, max_segs;
	size_t max_total;
};

/*
 * Receive until want datagrams arrived (2 s without one fails), each equal
 * byte for byte and in order to exp[]; then nothing more may be waiting.
 */
static void recv_expect(int rx, const struct iovec *exp, unsigned want, struct rx_stats *st)
{
	static uint8_t mem[UDP_BATCH_MAX][UDP_GRO_BUF];
	uint8_t *bufs[UDP_BATCH_MAX];
	size_t lens[UDP_BATCH_MAX], seg[UDP_BATCH_MAX];
	int got;

	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < UDP_BATCH_MAX; i++)
		bufs[i] = mem[i];
	while (st->dgrams < want) {
		struct pollfd pfd = { .fd = rx, .events = POLLIN };

		ck_assert_msg(poll(&pfd, 1, 2000) == 1, "only %u of %u datagrams arrived",
			      st->dgrams, want);
		got = udp_recv_batch_gro(rx, bufs, UDP_GRO_BUF, lens, seg, UDP_BATCH_MAX);
		ck_assert_int_ge(got, 0);
		for (int i = 0; i < got; i++) {
			const uint8_t *d = NULL;
			size_t off = 0, len;
			unsigned k = 0;

			st->msgs++;
			ck_assert_msg(st->dgrams < want, "more datagrams than were sent");
			if (lens[i] == 0) {
				/* only an empty datagram may come as an empty message */
				ck_assert_uint_eq(exp[st->dgrams].iov_len, 0);
				ck_assert_uint_eq(seg[i], 0);
				st->dgrams++;
				continue;
			}
			ck_assert_uint_ge(seg[i], 1);
			ck_assert_uint_le(seg[i], lens[i]);
			while ((len = udp_gro_next(bufs[i], lens[i], seg[i], &off, &d)) > 0) {
				const struct iovec *e = &exp[st->dgrams];

				ck_assert_msg(st->dgrams < want, "more datagrams than were sent");
				ck_assert_msg(len == e->iov_len && memcmp(d, e->iov_base, len) == 0,
					      "datagram %u: %zu bytes, %zu expected, or other bytes",
					      st->dgrams, len, e->iov_len);
				st->dgrams++;
				k++;
			}
			ck_assert_uint_eq(off, lens[i]);
			if (k > 1)
				st->coalesced++;
			if (k > st->max_segs)
				st->max_segs = k;
			if (lens[i] > st->max_total)
				st->max_total = lens[i];
		}
	}
	got = udp_recv_batch_gro(rx, bufs, UDP_GRO_BUF, lens, seg, UDP_BATCH_MAX);
	ck_assert_int_eq(got, 0);
}

static void report(const char *test, int fam, const struct rx_stats *st)
{
	fprintf(stderr, "%s %s: %u datagrams in %u messages, %u coalesced, at most %u per message\n",
		test, fam_name(fam), st->dgrams, st->msgs, st->coalesced, st->max_segs);
}

/* Send dg[0..n) whole with o (one call), receive them all. */
static void send_recv(const char *test, int fam, int rx, int tx, struct udp_offload *o, unsigned n,
		      struct rx_stats *st)
{
	int r = udp_send_batch_gso(tx, o, dg, n);

	ck_assert_msg(r == (int)n, "sent %d of %u: %s", r, n, r < 0 ? strerror(errno) : "");
	recv_expect(rx, dg, n, st);
	report(test, fam, st);
}

/* ---- the iterator -------------------------------------------------------- */

START_TEST(test_gro_next)
{
	uint8_t buf[10] = { 0 };
	const uint8_t *d = NULL;
	size_t off = 0;

	/* 10 bytes of 4: 4, 4, 2, end (and end again) */
	ck_assert_uint_eq(udp_gro_next(buf, 10, 4, &off, &d), 4);
	ck_assert_ptr_eq(d, buf);
	ck_assert_uint_eq(udp_gro_next(buf, 10, 4, &off, &d), 4);
	ck_assert_ptr_eq(d, buf + 4);
	ck_assert_uint_eq(udp_gro_next(buf, 10, 4, &off, &d), 2);
	ck_assert_ptr_eq(d, buf + 8);
	ck_assert_uint_eq(udp_gro_next(buf, 10, 4, &off, &d), 0);
	ck_assert_uint_eq(udp_gro_next(buf, 10, 4, &off, &d), 0);
	ck_assert_uint_eq(off, 10);
	/* an exact multiple: no empty datagram at the end */
	off = 0;
	ck_assert_uint_eq(udp_gro_next(buf, 8, 4, &off, &d), 4);
	ck_assert_uint_eq(udp_gro_next(buf, 8, 4, &off, &d), 4);
	ck_assert_uint_eq(udp_gro_next(buf, 8, 4, &off, &d), 0);
	/* one datagram: seg == total */
	off = 0;
	ck_assert_uint_eq(udp_gro_next(buf, 7, 7, &off, &d), 7);
	ck_assert_uint_eq(udp_gro_next(buf, 7, 7, &off, &d), 0);
	/* a truncated message (0, 0) and a bad seg of 0 yield nothing */
	off = 0;
	d = NULL;
	ck_assert_uint_eq(udp_gro_next(buf, 0, 0, &off, &d), 0);
	ck_assert_uint_eq(udp_gro_next(buf, 10, 0, &off, &d), 0);
	ck_assert_ptr_null(d);
	ck_assert_uint_eq(off, 0);
	/* seg larger than total: the one short datagram */
	ck_assert_uint_eq(udp_gro_next(buf, 3, 1400, &off, &d), 3);
	ck_assert_uint_eq(udp_gro_next(buf, 3, 1400, &off, &d), 0);
}
END_TEST

/* ---- sends on loopback --------------------------------------------------- */

START_TEST(test_offload_init)
{
	int fam = _i ? AF_INET6 : AF_INET, rx, tx;
	struct udp_offload o = { false, false };
	int sv[2];

	if (!lo_pair(__func__, fam, 0, &rx, &tx))
		return;
	udp_offload_init(tx, &o);
	ck_assert(o.gso);
	ck_assert(o.gro);
	/* not UDP: neither */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	udp_offload_init(sv[0], &o);
	ck_assert(!o.gso);
	ck_assert(!o.gro);
	close(sv[0]);
	close(sv[1]);
	close(rx);
	close(tx);
}
END_TEST

/* 40 full-size ESP-like datagrams and a short last one: one GSO message. */
START_TEST(test_gso_41)
{
	int fam = _i ? AF_INET6 : AF_INET, rx, tx;
	struct udp_offload o;
	struct rx_stats st;
	size_t sizes[41];

	if (!lo_pair(__func__, fam, 0, &rx, &tx))
		return;
	udp_offload_init(tx, &o);
	for (unsigned i = 0; i < 40; i++)
		sizes[i] = 1400;
	sizes[40] = 600;
	make_dgrams(sizes, 41);
	send_recv(__func__, fam, rx, tx, &o, 41, &st);
	ck_assert(o.gso);
	/* coalesced or not, a message never holds more than one GSO message did */
	ck_assert_uint_le(st.max_segs, 41);
	close(rx);
	close(tx);
}
END_TEST

/* Runs broken by a longer datagram, by a shorter one (which ends its run), by empty ones. */
START_TEST(test_gso_mixed)
{
	static const size_t sizes[] = {
		1400, 1400, 1400, 600,	/* a run ended by a shorter one */
		1400, 1400,		/* a new run of the same size */
		1000, 1000, 1200,	/* a longer one starts a new run */
		1200, 1, 1, 1, 1,	/* a 1-byte one ends it; then a run of 1-byte ones */
		0, 500, 0, 0,		/* empty ones go alone */
		77, 1400, 1400, 1399, 1399, 1400, 9000, 9000, 9000, 64,
	};
	int fam = _i ? AF_INET6 : AF_INET, rx, tx;
	unsigned n = sizeof(sizes) / sizeof(sizes[0]);
	struct udp_offload o;
	struct rx_stats st;

	if (!lo_pair(__func__, fam, 0, &rx, &tx))
		return;
	udp_offload_init(tx, &o);
	make_dgrams(sizes, n);
	send_recv(__func__, fam, rx, tx, &o, n, &st);
	ck_assert(o.gso);
	close(rx);
	close(tx);
}
END_TEST

/* 150 equal datagrams: more than UDP_GSO_MAX_SEGS (and the kernel's 128) in one run. */
START_TEST(test_gso_long_run)
{
	int fam = _i ? AF_INET6 : AF_INET, rx, tx;
	struct udp_offload o;
	struct rx_stats st;

	if (!lo_pair(__func__, fam, 0, &rx, &tx))
		return;
	udp_offload_init(tx, &o);
	make_equal(500, 150);
	send_recv(__func__, fam, rx, tx, &o, 150, &st);
	ck_assert(o.gso);
	ck_assert_uint_le(st.max_segs, UDP_GSO_MAX_SEGS);
	close(rx);
	close(tx);
}
END_TEST

/* 2000-byte datagrams: 32 fill a message (65507 bytes) before 64 would. */
START_TEST(test_gso_byte_limit)
{
	static const size_t big[] = { 1400, 1400, 60000, 60000, 1400, 1400, 65507, 3 };
	int fam = _i ? AF_INET6 : AF_INET, rx, tx;
	struct udp_offload o;
	struct rx_stats st;

	if (!lo_pair(__func__, fam, 0, &rx, &tx))
		return;
	udp_offload_init(tx, &o);
	make_equal(2000, 100);
	send_recv(__func__, fam, rx, tx, &o, 100, &st);
	ck_assert(o.gso);
	ck_assert_uint_le(st.max_segs, UDP_GSO_MAX_BYTES / 2000);
	ck_assert_uint_le(st.max_total, UDP_GSO_MAX_BYTES);
	/* large datagrams cannot share a message; the largest goes alone */
	make_dgrams(big, sizeof(big) / sizeof(big[0]));
	send_recv(__func__, fam, rx, tx, &o, sizeof(big) / sizeof(big[0]), &st);
	ck_assert(o.gso);
	close(rx);
	close(tx);
}
END_TEST

/* A datagram no UDP can carry: those before it go, then EMSGSIZE; GSO stays on. */
START_TEST(test_gso_too_large)
{
	static const size_t sizes[] = { 1400, 1400, 65536, 1400, 1400 };
	int fam = _i ? AF_INET6 : AF_INET, rx, tx;
	struct udp_offload o;
	struct rx_stats st;
	struct iovec exp[4];
	int r;

	if (!lo_pair(__func__, fam, 0, &rx, &tx))
		return;
	udp_offload_init(tx, &o);
	make_dgrams(sizes, 5);
	r = udp_send_batch_gso(tx, &o, dg, 5);
	ck_assert_int_eq(r, 2);
	errno = 0;
	r = udp_send_batch_gso(tx, &o, dg + 2, 3);
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert(o.gso);
	r = udp_send_batch_gso(tx, &o, dg + 3, 2);
	ck_assert_int_eq(r, 2);
	exp[0] = dg[0];
	exp[1] = dg[1];
	exp[2] = dg[3];
	exp[3] = dg[4];
	recv_expect(rx, exp, 4, &st);
	close(rx);
	close(tx);
}
END_TEST

/* ---- the kernel refuses GSO ---------------------------------------------- */

/* UDP-Lite has no GSO: the kernel says EIO, as for a device that cannot checksum. */
START_TEST(test_gso_fallback_udplite)
{
	int fam = _i ? AF_INET6 : AF_INET, rx, tx;
	struct udp_offload o;
	struct rx_stats st;
	size_t sizes[41];

	if (!lo_pair(__func__, fam, IPPROTO_UDPLITE, &rx, &tx))
		return;
	udp_offload_init(tx, &o);
	ck_assert(o.gso);
	for (unsigned i = 0; i < 40; i++)
		sizes[i] = 1400;
	sizes[40] = 600;
	make_dgrams(sizes, 41);
	send_recv(__func__, fam, rx, tx, &o, 41, &st);
	ck_assert(!o.gso);
	ck_assert_uint_eq(st.msgs, 41);
	/* and later sends go plain at once */
	send_recv(__func__, fam, rx, tx, &o, 41, &st);
	close(rx);
	close(tx);
}
END_TEST

/* SO_NO_CHECK (IPv4: UDP without checksums) and GSO do not mix: EINVAL. */
START_TEST(test_gso_fallback_no_check)
{
	struct udp_offload o;
	struct rx_stats st;
	int rx, tx, on = 1;

	if (!lo_pair(__func__, AF_INET, 0, &rx, &tx))
		return;
	udp_offload_init(tx, &o);
	ck_assert_int_eq(setsockopt(tx, SOL_SOCKET, SO_NO_CHECK, &on, sizeof(on)), 0);
	/* the refusal comes in the middle of the batch: a plain one, then a run */
	make_equal(1000, 70);
	dg[0].iov_len = 999;
	send_recv(__func__, AF_INET, rx, tx, &o, 70, &st);
	ck_assert(!o.gso);
	close(rx);
	close(tx);
}
END_TEST

/* ---- in a private network namespace --------------------------------------- */

/*
 * Enter a new network namespace (as root, or as root of a new user
 * namespace) and bring lo up. Relies on each test being forked (CK_FORK).
 */
static bool own_netns(const char *test)
{
	const char *fork_env = getenv("CK_FORK");
	struct ifreq ifr;
	char why[128];
	int s;

	if (fork_env && strcmp(fork_env, "no") == 0) {
		check_skip(test, "needs CK_FORK (it leaves the network namespace)");
		return false;
	}
	if (unshare(geteuid() == 0 ? CLONE_NEWNET : CLONE_NEWUSER | CLONE_NEWNET) < 0) {
		snprintf(why, sizeof(why), "no private network namespace: %s", strerror(errno));
		check_skip(test, why);
		return false;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ck_assert_int_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
	return true;
}

static void set_mtu(const char *dev, int mtu)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(s, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ifr.ifr_mtu = mtu;
	ck_assert_msg(ioctl(s, SIOCSIFMTU, &ifr) == 0, "MTU of %s: %s", dev, strerror(errno));
	close(s);
}

/* Segments larger than the path MTU: EMSGSIZE; plain, the kernel fragments them. */
START_TEST(test_gso_fallback_mtu)
{
	int fam = _i ? AF_INET6 : AF_INET, rx, tx;
	struct udp_offload o;
	struct rx_stats st;

	if (!own_netns(__func__))
		return;
	set_mtu("lo", 1300);
	if (!lo_pair(__func__, fam, 0, &rx, &tx))
		return;
	udp_offload_init(tx, &o);
	make_equal(1400, 41);
	send_recv(__func__, fam, rx, tx, &o, 41, &st);
	ck_assert(!o.gso);
	close(rx);
	close(tx);
}
END_TEST

/*
 * A device that cannot checksum: a tun without offloads (TUNSETOFFLOAD never
 * called). Kernels from 4.18 to 6.10 refuse GSO through it with EIO and we
 * fall back; since 6.11 ("udp: Allow GSO transmit from devices with no
 * checksum offload") the kernel checksums and cuts the segments itself and
 * GSO stays on. Either way every datagram leaves on its own, in order: read
 * back from the tun as IPv4 packets.
 */
START_TEST(test_gso_tun_no_csum)
{
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(4500) };
	struct sockaddr_in *a;
	struct udp_offload o;
	struct ifreq ifr;
	uint8_t pkt[2048];
	unsigned got = 0;
	int t, s, tx, r;

	if (!own_netns(__func__))
		return;
	t = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t < 0) {
		check_skip(__func__, "no /dev/net/tun");
		return;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "gso0");
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	ck_assert_msg(ioctl(t, TUNSETIFF, &ifr) == 0, "TUNSETIFF: %s", strerror(errno));
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	a = (struct sockaddr_in *)&ifr.ifr_addr;
	a->sin_family = AF_INET;
	inet_pton(AF_INET, "10.99.0.1", &a->sin_addr);
	ck_assert_int_eq(ioctl(s, SIOCSIFADDR, &ifr), 0);
	inet_pton(AF_INET, "255.255.255.0", &a->sin_addr);
	ck_assert_int_eq(ioctl(s, SIOCSIFNETMASK, &ifr), 0);
	ck_assert_int_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);

	inet_pton(AF_INET, "10.99.0.2", &peer.sin_addr);
	tx = udp_open((struct sockaddr *)&peer, sizeof(peer), 0, 0);
	ck_assert_int_ge(tx, 0);
	udp_offload_init(tx, &o);
	make_equal(1400, 20);
	dg[19].iov_len = 300;
	r = udp_send_batch_gso(tx, &o, dg, 20);
	ck_assert_msg(r == 20, "sent %d of 20: %s", r, r < 0 ? strerror(errno) : "");
	fprintf(stderr, "%s: GSO %s through a tun without checksum offload\n", __func__,
		o.gso ? "kept (kernel checksums in software)" : "off (EIO)");
	/* IPv4 header (20 bytes, no options here), UDP header, datagram */
	while (got < 20) {
		struct pollfd pfd = { .fd = t, .events = POLLIN };
		ssize_t n;

		ck_assert_msg(poll(&pfd, 1, 2000) == 1, "only %u of 20 on the tun", got);
		n = read(t, pkt, sizeof(pkt));
		ck_assert_int_gt(n, 28);
		if ((pkt[0] >> 4) != 4 || pkt[9] != IPPROTO_UDP)
			continue;	/* not ours (none expected) */
		ck_assert_uint_eq((size_t)n - 28, dg[got].iov_len);
		ck_assert(memcmp(pkt + 28, dg[got].iov_base, dg[got].iov_len) == 0);
		got++;
	}
	close(tx);
	close(t);
}
END_TEST

/* ---- receive edge cases, a full socket -------------------------------------- */

/* A message larger than the buffer comes as lens 0, seg 0; the next one is fine. */
START_TEST(test_gro_truncated)
{
	static uint8_t small[UDP_BATCH_MAX][2000];
	int fam = _i ? AF_INET6 : AF_INET, rx, tx, got;
	uint8_t *bufs[UDP_BATCH_MAX];
	size_t lens[UDP_BATCH_MAX], seg[UDP_BATCH_MAX];
	struct udp_offload o;
	struct pollfd pfd;
	size_t sizes[3] = { 3000, 100, 1500 };

	if (!lo_pair(__func__, fam, 0, &rx, &tx))
		return;
	udp_offload_init(tx, &o);
	for (unsigned i = 0; i < UDP_BATCH_MAX; i++)
		bufs[i] = small[i];
	make_dgrams(sizes, 3);
	/* plain: with GSO 3000 and 100 would go (and arrive) as one run */
	o.gso = false;
	ck_assert_int_eq(udp_send_batch_gso(tx, &o, dg, 3), 3);
	o.gso = true;
	pfd = (struct pollfd){ .fd = rx, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	got = udp_recv_batch_gro(rx, bufs, sizeof(small[0]), lens, seg, UDP_BATCH_MAX);
	ck_assert_int_eq(got, 3);
	ck_assert_uint_eq(lens[0], 0);
	ck_assert_uint_eq(seg[0], 0);
	ck_assert_uint_eq(lens[1], 100);
	ck_assert_uint_eq(seg[1], 100);
	ck_assert(memcmp(bufs[1], dg[1].iov_base, 100) == 0);
	ck_assert_uint_eq(lens[2], 1500);
	ck_assert_uint_eq(seg[2], 1500);

	/* a run that the kernel coalesces does not fit 2000 bytes either */
	make_equal(1400, 10);
	ck_assert_int_eq(udp_send_batch_gso(tx, &o, dg, 10), 10);
	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	got = udp_recv_batch_gro(rx, bufs, sizeof(small[0]), lens, seg, UDP_BATCH_MAX);
	ck_assert_int_ge(got, 1);
	if (got == 1) {
		ck_assert_uint_eq(lens[0], 0);	/* coalesced: truncated whole */
		ck_assert_uint_eq(seg[0], 0);
	} else {
		ck_assert_int_eq(got, 10);	/* not coalesced: each fits */
		for (int i = 0; i < got; i++)
			ck_assert_uint_eq(lens[i], 1400);
	}
	close(rx);
	close(tx);
}
END_TEST

/*
 * A full socket: -1 with EAGAIN, and a count when some went. UDP over
 * loopback never pushes back (the receiver drops instead), so this uses a
 * unix datagram pair, which does: the function only passes the kernel's
 * answer on. GSO stays on: EAGAIN is not a refusal.
 */
START_TEST(test_send_eagain)
{
	struct udp_offload o = { .gso = true, .gro = false };
	uint8_t buf[200] = { 0 };
	int sv[2], r, fill = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
	make_equal(100, 10);
	while (send(sv[0], buf, 100, MSG_DONTWAIT) == 100)
		fill++;
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_gt(fill, 0);
	errno = 0;
	r = udp_send_batch_gso(sv[0], &o, dg, 10);
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert(o.gso);
	/* room for three: three plain sends go, the fourth finds it full */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(recv(sv[1], buf, sizeof(buf), 0), 100);
	o.gso = false;
	r = udp_send_batch_gso(sv[0], &o, dg, 10);
	ck_assert_int_ge(r, 1);
	ck_assert_int_lt(r, 10);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static Suite *udp_gso_suite(void)
{
	Suite *s = suite_create("udp_gso");
	TCase *tc = tcase_create("core");
	TCase *ns = tcase_create("netns");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_gro_next);
	tcase_add_loop_test(tc, test_offload_init, 0, 2);
	tcase_add_loop_test(tc, test_gso_41, 0, 2);
	tcase_add_loop_test(tc, test_gso_mixed, 0, 2);
	tcase_add_loop_test(tc, test_gso_long_run, 0, 2);
	tcase_add_loop_test(tc, test_gso_byte_limit, 0, 2);
	tcase_add_loop_test(tc, test_gso_too_large, 0, 2);
	tcase_add_loop_test(tc, test_gso_fallback_udplite, 0, 2);
	tcase_add_test(tc, test_gso_fallback_no_check);
	tcase_add_loop_test(tc, test_gro_truncated, 0, 2);
	tcase_add_test(tc, test_send_eagain);
	suite_add_tcase(s, tc);
	tcase_set_timeout(ns, 30);
	tcase_add_loop_test(ns, test_gso_fallback_mtu, 0, 2);
	tcase_add_test(ns, test_gso_tun_no_csum);
	suite_add_tcase(s, ns);
	return s;
}

CHECK_MAIN(udp_gso_suite)
