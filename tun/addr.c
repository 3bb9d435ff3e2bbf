/* Address and name values: parsing, checking, formatting. */
#include "tun/tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static unsigned family_bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

int tun_ip_parse(const char *s, struct tun_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->addr) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->addr) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

int tun_cidr_parse(const char *s, struct tun_cidr *out)
{
	char host[TUN_CIDR_STRLEN];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	struct tun_ip ip;
	unsigned long plen;
	char *end;

	memset(out, 0, sizeof(*out));
	if (hlen >= sizeof(host))
		goto bad;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (tun_ip_parse(host, &ip) < 0)
		goto bad;
	plen = family_bits(ip.family);
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			goto bad;
		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (errno || *end || plen > family_bits(ip.family))
			goto bad;
	}
	out->family = ip.family;
	memcpy(out->addr, ip.addr, sizeof(out->addr));
	out->prefix = (uint8_t)plen;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int tun_cidr_check(const struct tun_cidr *c)
{
	unsigned bits = family_bits(c->family);

	if (!bits) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (c->prefix > bits) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

void tun_cidr_mask(struct tun_cidr *c)
{
	unsigned bits = family_bits(c->family);

	for (unsigned i = 0; i < 16; i++) {
		unsigned lo = i * 8;

		if (lo >= bits || lo + 8 <= c->prefix)
			continue;
		if (lo >= c->prefix)
			c->addr[i] = 0;
		else
			c->addr[i] &= (uint8_t)(0xff << (8 - (c->prefix - lo)));
	}
	if (bits == 32)
		memset(c->addr + 4, 0, 12);
}

const char *tun_ip_fmt(const struct tun_ip *ip, char *buf, size_t cap)
{
	if (!ip->family || !inet_ntop(ip->family, ip->addr, buf, (socklen_t)cap))
		snprintf(buf, cap, "-");
	return buf;
}

const char *tun_cidr_fmt(const struct tun_cidr *c, char *buf, size_t cap)
{
	char host[TUN_CIDR_STRLEN];

	if (!inet_ntop(c->family, c->addr, host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	snprintf(buf, cap, "%s/%u", host, c->prefix);
	return buf;
}

/*
 * Names end up in file paths, program arguments and resolvconf record
 * names, so only a conservative set is accepted.
 */
int tun_ifname_check(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len >= IFNAMSIZ) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (len == 0 || name[0] == '.' || name[0] == '-')
		goto bad;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
			goto bad;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
