/*
 * Small parsers for config values. Each checks one kind of value strictly
 * (no signs, no embedded spaces, no silent truncation) and on error quotes
 * the value it was given; config.c adds "FILE:LINE: key: " in front.
 */
#include "agent/config.h"
#include "util/err.h"
#include "util/fperm.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define MS_PER_S	1000u
#define MS_PER_M	(60u * MS_PER_S)
#define MS_PER_H	(60u * MS_PER_M)
#define MS_PER_D	(24u * MS_PER_H)


static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Leading decimal digits of s into *v (capped above UINT32_MAX); count. */
static size_t read_decimal(const char *s, uint64_t *v)
{
	size_t n = 0;

	*v = 0;
	while (is_digit(s[n])) {
		if (*v <= UINT32_MAX)
			*v = *v * 10 + (uint64_t)(s[n] - '0');
		n++;
	}
	return n;
}

int cfgv_bool(const char *s, bool *out, char *err, size_t errlen)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	(void)err_set(err, errlen, "'%s' is not yes or no", s);
	return -1;
}

int cfgv_duration(const char *s, uint32_t *ms, char *err, size_t errlen)
{
	static const struct { const char *unit; uint32_t ms; } units[] = {
		{ "", MS_PER_S }, { "ms", 1 }, { "s", MS_PER_S }, { "m", MS_PER_M },
		{ "h", MS_PER_H }, { "d", MS_PER_D },
	};
	uint64_t v;
	size_t n = read_decimal(s, &v);

	if (n == 0)
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s + n, units[i].unit) != 0)
			continue;
		if (v > UINT32_MAX || v * units[i].ms > UINT32_MAX) {
			(void)err_set(err, errlen, "'%s' is too long (max 49d)", s);
			return -1;
		}
		*ms = (uint32_t)(v * units[i].ms);
		return 0;
	}
bad:
	(void)err_set(err, errlen, "'%s' is not a duration (e.g. 30s, 5m)", s);
	return -1;
}

void cfgv_format_duration(uint32_t ms, char *buf, size_t len)
{
	if (ms && ms % MS_PER_D == 0)
		snprintf(buf, len, "%ud", ms / MS_PER_D);
	else if (ms && ms % MS_PER_H == 0)
		snprintf(buf, len, "%uh", ms / MS_PER_H);
	else if (ms && ms % MS_PER_M == 0)
		snprintf(buf, len, "%um", ms / MS_PER_M);
	else if (ms % MS_PER_S == 0)
		snprintf(buf, len, "%us", ms / MS_PER_S);
	else
		snprintf(buf, len, "%ums", ms);
}

/* Decimal or 0x hex, no sign, no spaces; -1 if not a number or > UINT32_MAX. */
static int read_uint(const char *s, uint64_t *v)
{
	char *end;

	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))) {
		if (!isxdigit((unsigned char)s[2]) || strlen(s) > 10)
			return -1;
		*v = strtoull(s + 2, &end, 16);
		return *end ? -1 : 0;
	}
	if (read_decimal(s, v) != strlen(s) || !s[0] || *v > UINT32_MAX)
		return -1;
	return 0;
}

int cfgv_uint(const char *s, uint32_t min, uint32_t max, uint32_t *out,
	      char *err, size_t errlen)
{
	uint64_t v;

	if (read_uint(s, &v) < 0) {
		(void)err_set(err, errlen, "'%s' is not a number", s);
		return -1;
	}
	if (v < min || v > max) {
		(void)err_set(err, errlen, "'%s' is out of range (%u..%u)", s, min, max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int cfgv_size(const char *s, uint32_t *out, char *err, size_t errlen)
{
	uint64_t v;
	size_t n = read_decimal(s, &v);

	if (n && !s[n] && v <= UINT32_MAX) {
		*out = (uint32_t)v;
		return 0;
	}
	if (n && (s[n] == 'k' || s[n] == 'K') && !s[n + 1] && v * 1024 <= UINT32_MAX) {
		*out = (uint32_t)(v * 1024);
		return 0;
	}
	(void)err_set(err, errlen, "'%s' is not a size (e.g. 1400, 64k)", s);
	return -1;
}

int cfgv_port(const char *s, uint16_t *out, char *err, size_t errlen)
{
	uint64_t v;

	if (read_decimal(s, &v) != strlen(s) || !s[0] || v < 1 || v > 65535) {
		(void)err_set(err, errlen, "'%s' is not a port (1..65535)", s);
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

void cfgv_format_cidr(const struct cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family == AF_INET6 ? AF_INET6 : AF_INET, c->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, c->prefix);
}

/* Zero the bits below the prefix; true if any was set. */
static bool clear_host_bits(struct cidr *c)
{
	unsigned bytes = c->family == AF_INET6 ? 16 : 4;
	bool had = false;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = c->prefix >= (i + 1) * 8 ? 8 :
				c->prefix > i * 8 ? c->prefix - i * 8 : 0;
		uint8_t mask = (uint8_t)(0xff00u >> keep);

		if (c->addr[i] & ~mask & 0xff)
			had = true;
		c->addr[i] &= mask;
	}
	return had;
}

int cfgv_cidr(const char *s, struct cidr *out, char *err, size_t errlen)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	char addr[INET6_ADDRSTRLEN + 1];
	struct cidr c;
	unsigned max;

	memset(&c, 0, sizeof(c));
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, c.addr) == 1)
		c.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, c.addr) == 1)
		c.family = AF_INET6;
	else
		goto bad;
	max = c.family == AF_INET ? 32 : 128;
	c.prefix = (uint8_t)max;
	if (slash) {
		uint64_t v;

		if (read_decimal(slash + 1, &v) != strlen(slash + 1) || !slash[1] || v > max)
			goto bad;
		c.prefix = (uint8_t)v;
	}
	if (clear_host_bits(&c)) {
		char fixed[64];

		cfgv_format_cidr(&c, fixed, sizeof(fixed));
		(void)err_set(err, errlen, "'%s' has host bits set (did you mean %s?)", s, fixed);
		return -1;
	}
	*out = c;
	return 0;
bad:
	(void)err_set(err, errlen, "'%s' is not an address or CIDR (e.g. 10.0.0.0/8)", s);
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

int cfgv_cidr_list(const char *s, struct cidr_list *out, char *err, size_t errlen)
{
	struct cidr_list l;
	size_t len = strlen(s), pos = 0;

	memset(&l, 0, sizeof(l));
	while (pos <= len) {
		size_t end = pos, a, b;
		char item[80];

		while (end < len && s[end] != ',')
			end++;
		for (a = pos; a < end && is_space(s[a]); a++)
			;
		for (b = end; b > a && is_space(s[b - 1]); b--)
			;
		if (a == b) {
			(void)err_set(err, errlen, "empty entry in list '%s'", s);
			return -1;
		}
		if (l.n >= CONFIG_MAX_TS) {
			(void)err_set(err, errlen, "too many entries (max %d)", CONFIG_MAX_TS);
			return -1;
		}
		if (b - a >= sizeof(item)) {
			(void)err_set(err, errlen, "'%.*s...' is not an address or CIDR", 40, s + a);
			return -1;
		}
		memcpy(item, s + a, b - a);
		item[b - a] = '\0';
		if (cfgv_cidr(item, &l.v[l.n], err, errlen) < 0)
			return -1;
		l.n++;
		pos = end + 1;
	}
	*out = l;
	return 0;
}

bool cfgv_is_ip_literal(const char *s)
{
	uint8_t a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* RFC 1123 host name: labels of letters, digits, '-' (and '_'), not all-numeric. */
static bool is_dns_name(const char *s)
{
	size_t len = strlen(s), label = 0;
	bool numeric = true;

	if (len && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			numeric = true;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			return false;
		if ((c == '-' && label == 0) || ++label > 63)
			return false;
		if (!is_digit(c))
			numeric = false;
	}
	return label > 0 && s[len - 1] != '-' && !numeric;
}

int cfgv_host(const char *s, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t len = strlen(s);

	if (s[0] == '[' && len > 2 && s[len - 1] == ']' && len - 2 < outlen) {
		uint8_t a[16];

		memcpy(out, s + 1, len - 2);
		out[len - 2] = '\0';
		if (inet_pton(AF_INET6, out, a) == 1)
			return 0;
	} else if (len < outlen && (cfgv_is_ip_literal(s) || is_dns_name(s))) {
		memcpy(out, s, len + 1);
		return 0;
	}
	(void)err_set(err, errlen, "'%s' is not a host name or IP address", s);
	return -1;
}

int cfgv_host_port(const char *s, char *host, size_t hostlen, uint16_t *port,
		   char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	char h[260];
	size_t hl;

	if (!colon || colon == s)
		goto bad;
	hl = (size_t)(colon - s);
	if (hl >= sizeof(h))
		goto bad;
	if (s[0] != '[' && memchr(s, ':', hl)) {
		(void)err_set(err, errlen, "'%s': write an IPv6 address as [ADDR]:PORT", s);
		return -1;
	}
	memcpy(h, s, hl);
	h[hl] = '\0';
	if (cfgv_host(h, host, hostlen, err, errlen) < 0)
		return -1;
	return cfgv_port(colon + 1, port, err, errlen);
bad:
	(void)err_set(err, errlen, "'%s' is not HOST:PORT", s);
	return -1;
}

void cfgv_proxy_clear(struct cfgv_proxy *p)
{
	free(p->host);
	if (p->user)
		config_wipe_free(p->user, strlen(p->user));
	if (p->pass)
		config_wipe_free(p->pass, strlen(p->pass));
	memset(p, 0, sizeof(*p));
}

static int hexval(char c)
{
	if (is_digit(c))
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode n bytes of s into a new string; NULL on a bad escape or control byte. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				goto bad;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			goto bad;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
bad:
	config_wipe_free(out, n + 1);
	return NULL;
}

static int proxy_userinfo(const char *s, size_t n, struct cfgv_proxy *p, char *err, size_t errlen)
{
	const char *colon = memchr(s, ':', n);
	size_t ul = colon ? (size_t)(colon - s) : n;

	if (ul == 0) {
		(void)err_set(err, errlen, "proxy URL has an empty user name");
		return -1;
	}
	p->user = pct_decode(s, ul);
	if (colon)
		p->pass = pct_decode(colon + 1, n - ul - 1);
	if (!p->user || (colon && !p->pass)) {
		(void)err_set(err, errlen, "proxy URL: bad %%-escape or control character in user or password");
		return -1;
	}
	return 0;
}

int cfgv_proxy_url(const char *s, struct cfgv_proxy *out, char *err, size_t errlen)
{
	struct cfgv_proxy p;
	const char *auth = s, *at, *slash;
	char hostport[300], host[256];
	size_t hl;

	memset(&p, 0, sizeof(p));
	if (strncasecmp(s, "http://", 7) == 0) {
		auth = s + 7;
	} else if (strstr(s, "://")) {
		(void)err_set(err, errlen, "only http:// proxy URLs are supported");
		return -1;
	}
	slash = strchr(auth, '/');
	if (slash && slash[1]) {
		(void)err_set(err, errlen, "proxy URL must not have a path (http://[user:pass@]host:port)");
		return -1;
	}
	hl = slash ? (size_t)(slash - auth) : strlen(auth);
	at = memrchr(auth, '@', hl);
	if (at) {
		if (proxy_userinfo(auth, (size_t)(at - auth), &p, err, errlen) < 0)
			goto fail;
		hl -= (size_t)(at + 1 - auth);
		auth = at + 1;
	}
	if (hl == 0 || hl >= sizeof(hostport)) {
		(void)err_set(err, errlen, "proxy URL has no usable host (http://[user:pass@]host:port)");
		goto fail;
	}
	memcpy(hostport, auth, hl);
	hostport[hl] = '\0';
	if (!strchr(hostport, ':') || hostport[hl - 1] == ']') {
		(void)err_set(err, errlen, "proxy '%s' has no port (e.g. http://proxy:3128)", hostport);
		goto fail;
	}
	if (cfgv_host_port(hostport, host, sizeof(host), &p.port, err, errlen) < 0)
		goto fail;
	p.host = strdup(host);
	if (!p.host) {
		(void)err_set(err, errlen, "out of memory");
		goto fail;
	}
	*out = p;
	return 0;
fail:
	cfgv_proxy_clear(&p);
	return -1;
}

int cfgv_path(const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s);

	if (s[0] != '/' || len >= 4096)
		goto bad;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			goto bad;
	return 0;
bad:
	(void)err_set(err, errlen, "'%s' is not an absolute path", s);
	return -1;
}

int cfgv_ifname(const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s);

	if (len == 0 || len > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		goto bad;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || strchr("/:%", s[i]))
			goto bad;
	return 0;
bad:
	(void)err_set(err, errlen, "'%s' is not an interface name (1..15 bytes, no '/', ':', '%%' or spaces)",
	       s);
	return -1;
}

int cfgv_tcp_congestion(const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s);

	if (len == 0 || len > 15)
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			goto bad;
	return 0;
bad:
	(void)err_set(err, errlen, "'%.32s' is not a congestion control name (1..15 of a-z, 0-9, _; "
		      "or default)", s);
	return -1;
}

int cfgv_account(const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s);

	if (len == 0 || len > 32 || s[0] == '-')
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("_.-", s[i])))
			goto bad;
	return 0;
bad:
	(void)err_set(err, errlen, "'%.40s' is not a user or group name (1..32 of a-z A-Z 0-9 _ . -)",
		      s);
	return -1;
}

int cfgv_transport_order(const char *s, enum config_transport *order, unsigned *n,
			 char *err, size_t errlen)
{
	static const char *const names[] = { "udp", "tcp", "tls" };
	enum config_transport tmp[CONFIG_MAX_TRANSPORTS];
	unsigned count = 0, seen = 0;

	s += strspn(s, " \t");
	while (*s) {
		size_t len = strcspn(s, " \t");
		unsigned t;

		for (t = 0; t < CONFIG_MAX_TRANSPORTS; t++)
			if (len == strlen(names[t]) && strncmp(s, names[t], len) == 0)
				break;
		if (t == CONFIG_MAX_TRANSPORTS) {
			(void)err_set(err, errlen, "'%.*s' is not udp, tcp or tls", (int)len, s);
			return -1;
		}
		if (seen & (1u << t)) {
			(void)err_set(err, errlen, "'%s' is listed twice", names[t]);
			return -1;
		}
		seen |= 1u << t;
		tmp[count++] = (enum config_transport)t;
		s += len;
		s += strspn(s, " \t");
	}
	if (!count) {
		(void)err_set(err, errlen, "no transport given (udp, tcp, tls)");
		return -1;
	}
	memcpy(order, tmp, count * sizeof(tmp[0]));
	*n = count;
	return 0;
}

void (*config_wipe_hook)(const void *p, size_t len);

void config_wipe_free(void *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, len);
	if (config_wipe_hook)
		config_wipe_hook(p, len);
	free(p);
}

int cfgv_read_file(const char *path, size_t max, unsigned flags, char **out, size_t *outlen,
		   mode_t *mode, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int e, fd = fperm_open(path, flags, &st, err, errlen);

	if (fd < 0)
		return -1;
	if ((uint64_t)st.st_size > max) {
		(void)err_set(err, errlen, "too large (max %zu bytes)", max);
		errno = EFBIG;
		goto fail;
	}
	buf = malloc(max + 1);
	if (!buf) {
		(void)err_set(err, errlen, "out of memory");
		errno = ENOMEM;
		goto fail;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			(void)err_set(err, errlen, "cannot read: %s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			(void)err_set(err, errlen, "too large (max %zu bytes)", max);
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	*mode = st.st_mode;
	return 0;
fail:
	e = errno;
	close(fd);
	config_wipe_free(buf, buf ? max + 1 : 0);
	errno = e;
	return -1;
}

static bool is_comment(char c)
{
	return c == '#' || c == ';';
}

int cfgv_raw_value(char *v, char **out, char *err, size_t errlen)
{
	char *r, *w;

	while (is_space(*v))
		v++;
	if (*v != '"') {
		for (r = v; *r; r++) {
			if (is_comment(*r) && (r == v || is_space(r[-1]))) {
				*r = '\0';
				break;
			}
		}
		while (r > v && is_space(r[-1]))
			*--r = '\0';
		*out = v;
		return 0;
	}
	for (r = v + 1, w = v; *r != '"'; *w++ = *r++) {
		if (!*r) {
			(void)err_set(err, errlen, "unterminated quoted value");
			return -1;
		}
		if (*r == '\\' && r[1] != '"' && r[1] != '\\') {
			(void)err_set(err, errlen, "bad escape in quoted value (only \\\" and \\\\)");
			return -1;
		}
		if (*r == '\\')
			r++;
	}
	*w = '\0';
	for (r++; is_space(*r); r++)
		;
	if (*r && !is_comment(*r)) {
		(void)err_set(err, errlen, "unexpected text after the closing quote");
		return -1;
	}
	*out = v;
	return 0;
}
