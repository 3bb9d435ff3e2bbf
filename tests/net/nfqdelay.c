/*
 * nfqdelay: a constant delay for the bench, without netem. Binds an
 * nfnetlink_queue (in the caller's network namespace), holds every packet
 * the ruleset queues there for D ms and then accepts it:
 *
 *   nfqdelay -q QUEUE -d MS [-n MAXLEN]
 *
 * Only metadata is copied to userspace (NFQNL_COPY_META: a verdict needs the
 * packet id alone) and GSO packets are queued whole (NFQA_CFG_F_GSO). The
 * delay is constant, so packets leave in the order they came: a FIFO of
 * (id, due time), and one NFQNL_MSG_VERDICT_BATCH accepts every packet up to
 * the last one that is due. A receive overrun (ENOBUFS: lost messages) is
 * harmless for the same reason: the next batch verdict accepts the packets
 * whose messages were lost (a little later than due); their number is
 * reported at exit.
 *
 * Not fail-open: a full queue drops, so a delay that cannot keep up shows as
 * loss, not as a silently missing delay. Runs in the foreground until
 * SIGTERM/SIGINT, then accepts what it holds and exits 0. Prints nothing
 * unless something went wrong; errors are one line on stderr, exit 1 (2 for
 * usage).
 *
 * Put the queue on the INGRESS of the receiving end (prerouting/input), not
 * on a sender's egress: packets held there stay charged to the sending
 * socket and TCP Small Queues throttles the sender. This kernel has no
 * nft_queue (CONFIG_NFT_QUEUE), but xt NFQUEUE through iptables-nft:
 *   iptables -t raw -A PREROUTING -s PEER -j NFQUEUE --queue-num QUEUE
 * Queues are per network namespace. ping(8) does not see a delay on its own
 * end's ingress: it takes the kernel's receive timestamp (SO_TIMESTAMP, set
 * before prerouting); measure RTT with userspace clocks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

struct held {
	uint32_t id;
	int64_t due_ns;
};

static volatile sig_atomic_t stop;
static struct held *ring;
static size_t ring_cap, ring_head, ring_len;
static int64_t delay_ns;
static unsigned long overruns;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fail(const char *what)
{
	fprintf(stderr, "nfqdelay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct nlmsghdr *put_hdr(char *buf, int type, uint16_t queue)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(queue);
	return nlh;
}

/* A configuration request, acknowledged: a refused bind (another process
 * holds the queue, no permission) is an error here, not a silent hang. */
static void config(struct mnl_socket *nl, struct nlmsghdr *nlh, const char *what)
{
	char buf[16384];
	unsigned int portid = mnl_socket_get_portid(nl);
	uint32_t seq = (uint32_t)time(NULL) ^ (uint32_t)now_ns();
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		fail(what);
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == ENOBUFS)
				continue;
			fail(what);
		}
		n = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);
		if (n < 0)
			fail(what);
		if (n == MNL_CB_STOP)
			return;
	}
}

static void verdict_upto(struct mnl_socket *nl, uint16_t queue, uint32_t id)
{
	char buf[256];
	struct nlmsghdr *nlh = put_hdr(buf, NFQNL_MSG_VERDICT_BATCH, queue);
	struct nfqnl_msg_verdict_hdr vh = { .verdict = htonl(NF_ACCEPT), .id = htonl(id) };

	mnl_attr_put(nlh, NFQA_VERDICT_HDR, sizeof(vh), &vh);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		fail("sending a verdict");
}

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, NFQA_MAX) > 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int packet_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NFQA_MAX + 1] = { 0 };
	const struct nfqnl_msg_packet_hdr *ph;
	int64_t now = *(int64_t *)data;

	if ((nlh->nlmsg_type & 0xff) != NFQNL_MSG_PACKET)
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0 || !tb[NFQA_PACKET_HDR] ||
	    mnl_attr_get_payload_len(tb[NFQA_PACKET_HDR]) < sizeof(*ph))
		return MNL_CB_OK;
	ph = mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
	if (ring_len == ring_cap) {
		/* More held than the queue can hold: cannot happen with
		 * ring_cap > maxlen; if it does, the oldest leaves early. */
		ring_head = (ring_head + 1) % ring_cap;
		ring_len--;
	}
	ring[(ring_head + ring_len) % ring_cap] = (struct held){ ntohl(ph->packet_id), now + delay_ns };
	ring_len++;
	return MNL_CB_OK;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: nfqdelay -q QUEUE -d MS [-n MAXLEN]\n"
		   "Holds every packet of nfnetlink_queue QUEUE for MS milliseconds (may be\n"
		   "fractional), then accepts it. MAXLEN: the kernel queue's length [16384].\n");
}

int main(int argc, char **argv)
{
	long queue = -1, maxlen = 16384;
	double ms = -1;
	char *end;
	int c, fd, rcvbuf = 64 << 20;
	struct mnl_socket *nl;
	char buf[16384];
	struct nlmsghdr *nlh;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, waitmask;
	static char rbuf[1 << 20];

	while ((c = getopt(argc, argv, "q:d:n:h")) != -1) {
		switch (c) {
		case 'q':
			queue = strtol(optarg, &end, 10);
			if (*end || queue < 0 || queue > 65535)
				queue = -2;
			break;
		case 'd':
			ms = strtod(optarg, &end);
			if (*end || !(ms >= 0 && ms <= 60000))
				ms = -2;
			break;
		case 'n':
			maxlen = strtol(optarg, &end, 10);
			if (*end || maxlen < 1 || maxlen > (1 << 22))
				maxlen = -1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || queue < 0 || ms < 0 || maxlen < 1) {
		fprintf(stderr, "nfqdelay: need -q QUEUE (0-65535) and -d MS (0-60000)%s\n",
			maxlen < 1 ? ", -n MAXLEN 1-4194304" : "");
		return 2;
	}
	delay_ns = (int64_t)(ms * 1e6);
	ring_cap = (size_t)maxlen * 2 + 1024;
	ring = calloc(ring_cap, sizeof(*ring));
	if (!ring)
		fail("allocating the FIFO");

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl)
		fail("opening a netfilter netlink socket");
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		fail("binding the netlink socket");
	fd = mnl_socket_get_fd(nl);
	/* Room for bursts: as root beyond rmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		fail("enlarging the receive buffer");

	{
		struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_BIND, .pf = htons(AF_INET) };

		nlh = put_hdr(buf, NFQNL_MSG_CONFIG, (uint16_t)queue);
		mnl_attr_put(nlh, NFQA_CFG_CMD, sizeof(cmd), &cmd);
		config(nl, nlh, "binding the queue (another nfqdelay on it?)");
	}
	{
		struct nfqnl_msg_config_params params = { .copy_range = htonl(0),
							  .copy_mode = NFQNL_COPY_META };

		nlh = put_hdr(buf, NFQNL_MSG_CONFIG, (uint16_t)queue);
		mnl_attr_put(nlh, NFQA_CFG_PARAMS, sizeof(params), &params);
		mnl_attr_put_u32(nlh, NFQA_CFG_QUEUE_MAXLEN, htonl((uint32_t)maxlen));
		mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
		mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
		config(nl, nlh, "configuring the queue");
	}

	while (!stop) {
		struct timespec ts, *tsp = NULL;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t now = now_ns();
		size_t due = 0;
		int r;

		/* Accept everything that is due, in one batch. */
		while (due < ring_len && ring[(ring_head + due) % ring_cap].due_ns <= now)
			due++;
		if (due) {
			verdict_upto(nl, (uint16_t)queue, ring[(ring_head + due - 1) % ring_cap].id);
			ring_head = (ring_head + due) % ring_cap;
			ring_len -= due;
		}
		if (ring_len) {
			int64_t left = ring[ring_head].due_ns - now;

			if (left < 0)
				left = 0;
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tsp = &ts;
		}
		r = ppoll(&pfd, 1, tsp, &waitmask);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fail("waiting for packets");
		}
		if (r == 0)
			continue;
		/* Drain the socket: every message gets the time of this wake-up. */
		now = now_ns();
		for (;;) {
			ssize_t n = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);

			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
					break;
				if (errno == ENOBUFS) {
					overruns++;
					continue;
				}
				fail("receiving packets");
			}
			if (mnl_cb_run(rbuf, (size_t)n, 0, 0, packet_cb, &now) < 0 && errno != ENOENT)
				fail("parsing a queue message");
		}
	}
	/* Let go of what is held (closing the socket would drop it). */
	if (ring_len)
		verdict_upto(nl, (uint16_t)queue, ring[(ring_head + ring_len - 1) % ring_cap].id);
	mnl_socket_close(nl);
	if (overruns) {
		fprintf(stderr, "nfqdelay: %lu receive overruns (those packets left with a later batch)\n",
			overruns);
	}
	return 0;
}
