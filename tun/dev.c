/* The tun device: create, configure, read and write packets, close. */
#include "tun/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tun/priv_int.h"
#include "util/log.h"

#define TUN_MTU_MIN	68
#define TUN_MTU_MAX	65535
#define TUN_MTU_IPV6	1280

/* ioctl on the interface through a throw-away socket. */
static int if_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret, err;

	if (s < 0)
		return -1;
	ret = ioctl(s, req, ifr);
	err = errno;
	close(s);
	errno = err;
	return ret < 0 ? -1 : 0;
}

static void ifr_init(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	memcpy(ifr->ifr_name, name, strnlen(name, IFNAMSIZ - 1));
}

int tun_dev_set_up(const struct tun_dev *t, bool up)
{
	struct ifreq ifr;

	ifr_init(&ifr, t->name);
	if (if_ioctl(SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return if_ioctl(SIOCSIFFLAGS, &ifr);
}

int tun_dev_set_mtu(struct tun_dev *t, unsigned mtu)
{
	struct ifreq ifr;

	if (mtu < TUN_MTU_MIN || mtu > TUN_MTU_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (mtu < TUN_MTU_IPV6)
		log_warn("tun: %s mtu %u is below 1280, the kernel disables IPv6 on it", t->name, mtu);
	ifr_init(&ifr, t->name);
	ifr.ifr_mtu = (int)mtu;
	if (if_ioctl(SIOCSIFMTU, &ifr) < 0)
		return -1;
	t->mtu = mtu;
	return 0;
}

static int set_txqlen(const struct tun_dev *t, unsigned txqlen)
{
	struct ifreq ifr;

	ifr_init(&ifr, t->name);
	ifr.ifr_qlen = (int)(txqlen ? txqlen : TUN_DEFAULT_TXQLEN);
	return if_ioctl(SIOCSIFTXQLEN, &ifr);
}

/* TUNSETIFF with IFF_VNET_HDR if asked for; a kernel without it gets a plain tun. */
static int set_iff(struct tun_dev *t, const char *name, bool vnet)
{
	struct ifreq ifr;

	ifr_init(&ifr, name);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
	if (ioctl(t->fd, TUNSETIFF, &ifr) == 0) {
		t->vnet = vnet;
		memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
		t->name[IFNAMSIZ - 1] = '\0';
		return 0;
	}
	if (!vnet || errno != EINVAL)
		return -1;
	log_warn("tun: %s: no IFF_VNET_HDR (%s), no offloads", name, strerror(errno));
	return set_iff(t, name, false);
}

/* The largest set of offloads the kernel takes (none is fine too). */
static void set_offload(struct tun_dev *t)
{
	static const unsigned try[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
	};
	int hdrsz = (int)TUN_VNET_HDR_LEN;

	t->offload = 0;
	/* A persistent tun may keep another program's hdr size. */
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdrsz) < 0) {
		log_warn("tun: %s: TUNSETVNETHDRSZ: %s", t->name, strerror(errno));
		return;
	}
	for (size_t i = 0; i < sizeof(try) / sizeof(try[0]); i++) {
		if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)try[i]) == 0) {
			t->offload = try[i];
			break;
		}
		if (errno != EINVAL)
			break;
	}
	if (!t->offload) {
		log_warn("tun: %s: no offloads: %s", t->name, strerror(errno));
		return;
	}
	/*
	 * A super-segment of a small MSS would need more packets than a batch
	 * holds (64 KB of 536-byte segments: 123): have the kernel cut at
	 * TUN_GSO_MAX_SEGS. Without that limit, no segmentation offload.
	 */
	if (tun_nl_link_set_gso_max_segs(t->ifindex, TUN_GSO_MAX_SEGS) < 0) {
		log_warn("tun: %s: cannot limit segments per read (%s): no segmentation offload",
			 t->name, strerror(errno));
		t->offload = ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM) == 0 ? TUN_F_CSUM : 0;
	}
}

static int attach(struct tun_dev *t, const char *name, bool vnet)
{
	t->created = if_nametoindex(name) == 0;
	/* No longer root: the device node may be root-only (see priv.c). */
	if (tun_priv_active())
		t->fd = tun_priv_open_tun();
	else
		t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		return -1;
	if (set_iff(t, name, vnet) < 0)
		return -1;
	t->ifindex = (int)if_nametoindex(t->name);
	if (!t->ifindex)
		return -1;
	if (t->vnet)
		set_offload(t);
	return 0;
}

static int dev_open(struct tun_dev *t, const char *name, unsigned mtu, unsigned txqlen, bool vnet)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (tun_ifname_check(name) < 0)
		return -1;
	if (mtu < TUN_MTU_MIN || mtu > TUN_MTU_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (attach(t, name, vnet) < 0) {
		err = errno;
		log_err("tun: cannot open %s: %s", name, strerror(err));
		goto fail;
	}
	if (tun_dev_set_mtu(t, mtu) < 0 || set_txqlen(t, txqlen) < 0 || tun_dev_set_up(t, true) < 0) {
		err = errno;
		log_err("tun: cannot configure %s: %s", t->name, strerror(err));
		goto fail;
	}
	log_info("tun: %s %s, mtu %u, up%s", t->name, t->created ? "created" : "attached", mtu,
		 !t->vnet ? "" : t->offload & TUN_F_USO4 ? ", offloads csum tso uso" :
		 t->offload ? ", offloads csum tso" : ", vnet hdr without offloads");
	return 0;
fail:
	tun_dev_close(t);
	errno = err;
	return -1;
}

int tun_dev_open(struct tun_dev *t, const char *name, unsigned mtu, unsigned txqlen)
{
	return dev_open(t, name, mtu, txqlen, false);
}

int tun_dev_open_vnet(struct tun_dev *t, const char *name, unsigned mtu, unsigned txqlen)
{
	return dev_open(t, name, mtu, txqlen, true);
}

void tun_dev_close(struct tun_dev *t)
{
	if (t->fd < 0)
		return;
	close(t->fd);
	t->fd = -1;
	/* Created by us but made persistent meanwhile: remove it anyway. */
	if (t->created && t->ifindex && if_nametoindex(t->name) && tun_nl_link_del_tun(t->name) < 0 &&
	    errno != ENODEV)
		log_warn("tun: cannot delete %s: %s", t->name, strerror(errno));
}

/* The length an IP packet declares for itself; 0 if not known from n bytes. */
static size_t ip_len(const uint8_t *p, size_t n)
{
	if (n >= 4 && p[0] >> 4 == 4)
		return get_be16(p + 2);
	if (n >= 6 && p[0] >> 4 == 6)
		return 40 + (size_t)get_be16(p + 4);
	return 0;
}

/* tun cuts a packet to the buffer silently (or, in old kernels, reports its full length). */
static bool cut(const uint8_t *pkt, size_t n, size_t cap)
{
	return n > cap || (n == cap && ip_len(pkt, cap) > cap);
}

ssize_t tun_read(const struct tun_dev *t, void *buf, size_t cap)
{
	size_t skip = t->vnet ? TUN_VNET_HDR_LEN : 0;
	ssize_t n;

	do
		n = read(t->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n > 0 && (size_t)n >= skip && cap >= skip &&
	    cut((const uint8_t *)buf + skip, (size_t)n - skip, cap - skip)) {
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

ssize_t tun_read_vnet(const struct tun_dev *t, struct virtio_net_hdr *h, void *pkt, size_t cap)
{
	struct iovec iov[2] = { { h, TUN_VNET_HDR_LEN }, { pkt, cap } };
	ssize_t n;

	do
		n = readv(t->fd, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n < TUN_VNET_HDR_LEN) {
		errno = EIO;
		return -1;
	}
	n -= (ssize_t)TUN_VNET_HDR_LEN;
	if (cut(pkt, (size_t)n, cap)) {
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

ssize_t tun_write_vnet(const struct tun_dev *t, const struct virtio_net_hdr *h, const void *pkt,
		       size_t len)
{
	struct iovec iov[2] = { { (void *)h, TUN_VNET_HDR_LEN }, { (void *)pkt, len } };
	ssize_t n;

	do
		n = writev(t->fd, iov, 2);
	while (n < 0 && errno == EINTR);
	return n;
}

ssize_t tun_write(const struct tun_dev *t, const void *pkt, size_t len)
{
	ssize_t n;

	do
		n = write(t->fd, pkt, len);
	while (n < 0 && errno == EINTR);
	return n;
}
