/*
 * Journal entries as text: one line per change, readable by a person and
 * parsed strictly ("<kind> <main value> key value key value ...").
 *   dev ikt0
 *   addr 10.0.0.2/32 dev ikt0
 *   route 0.0.0.0/0 dev ikt0 via - table 4500 metric 0
 *   rule inet table 4500 prio 0 fwmark 0x4500 not 1 suppress -1
 *   dns resolvconf dev ikt0 full 1 domain - ns 10.0.0.53
 * A DNS line names no program or file: whoever undoes it takes them from
 * its own configuration (a line written by an unprivileged process must
 * not choose what root runs). Older lines with prog/backup/timeout parse;
 * those keys are ignored.
 */
#include "tun/journal_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define JTOK_MAX	(24 + 2 * TUN_DNS_MAX)

static const char *family_name(int family)
{
	return family == AF_INET6 ? "inet6" : "inet";
}

static int fmt_dns(const struct tun_jent *e, char *buf, size_t cap)
{
	const struct tun_dns_req *r = &e->req;
	size_t off;
	int n;

	n = snprintf(buf, cap, "dns %s dev %s full %d domain %s", tun_dns_method_name(e->dns),
		     r->ifname, r->full_tunnel, r->domain[0] ? r->domain : "-");
	for (size_t i = 0; i < r->n_servers && n >= 0 && (size_t)n < cap; i++) {
		char a[TUN_CIDR_STRLEN];

		off = (size_t)n;
		n = snprintf(buf + off, cap - off, " ns %s", tun_ip_fmt(&r->servers[i], a, sizeof(a)));
		n = n < 0 ? n : n + (int)off;
	}
	return n;
}

int jent_fmt(const struct tun_jent *e, char *buf, size_t cap)
{
	char a[TUN_CIDR_STRLEN], b[TUN_CIDR_STRLEN];
	const struct tun_rule_spec *ru = &e->rule;
	int n = -1;

	switch (e->kind) {
	case J_DEV:
		n = snprintf(buf, cap, "dev %s", e->ifname);
		break;
	case J_ADDR:
		n = snprintf(buf, cap, "addr %s dev %s", tun_cidr_fmt(&e->cidr, a, sizeof(a)), e->ifname);
		break;
	case J_ROUTE:
		n = snprintf(buf, cap, "route %s dev %s via %s table %u metric %u",
			     tun_cidr_fmt(&e->route.dst, a, sizeof(a)), e->ifname,
			     tun_ip_fmt(&e->route.gw, b, sizeof(b)), e->route.table, e->route.metric);
		break;
	case J_RULE:
		n = snprintf(buf, cap, "rule %s table %u prio %u fwmark 0x%x not %d suppress %d",
			     family_name(ru->family), ru->table, ru->priority, ru->fwmark, ru->invert,
			     ru->suppress_prefixlen);
		break;
	case J_DNS:
		n = fmt_dns(e, buf, cap);
		break;
	}
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* ---- parsing ---------------------------------------------------------- */

struct toks {
	char *t[JTOK_MAX];
	int n;
};

static int tokenize(char *s, struct toks *tk)
{
	char *save = NULL;

	tk->n = 0;
	for (char *p = strtok_r(s, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		if (tk->n == JTOK_MAX)
			return -1;
		tk->t[tk->n++] = p;
	}
	/* kind, main value, then key/value pairs */
	return tk->n >= 2 && tk->n % 2 == 0 ? 0 : -1;
}

static const char *kv(const struct toks *tk, const char *key)
{
	for (int i = 2; i + 1 < tk->n; i += 2)
		if (strcmp(tk->t[i], key) == 0)
			return tk->t[i + 1];
	return NULL;
}

static int get_u32(const struct toks *tk, const char *key, uint32_t *v)
{
	const char *s = kv(tk, key);
	unsigned long long x;
	char *end;

	if (!s || s[0] == '-')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end || end == s || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

static int get_int(const struct toks *tk, const char *key, int lo, int hi, int *v)
{
	const char *s = kv(tk, key);
	long x;
	char *end;

	if (!s)
		return -1;
	errno = 0;
	x = strtol(s, &end, 10);
	if (errno || *end || end == s || x < lo || x > hi)
		return -1;
	*v = (int)x;
	return 0;
}

static int get_str(const struct toks *tk, const char *key, char *out, size_t cap, bool dash_empty)
{
	const char *s = kv(tk, key);

	if (!s || strlen(s) >= cap)
		return -1;
	snprintf(out, cap, "%s", dash_empty && strcmp(s, "-") == 0 ? "" : s);
	return 0;
}

static int get_ifname(const struct toks *tk, char out[IFNAMSIZ])
{
	if (get_str(tk, "dev", out, IFNAMSIZ, false) < 0)
		return -1;
	return tun_ifname_check(out);
}

static int parse_route(const struct toks *tk, struct tun_jent *e)
{
	const char *via = kv(tk, "via");

	if (tun_cidr_parse(tk->t[1], &e->route.dst) < 0 || get_ifname(tk, e->ifname) < 0 || !via ||
	    get_u32(tk, "table", &e->route.table) < 0 || get_u32(tk, "metric", &e->route.metric) < 0)
		return -1;
	if (strcmp(via, "-") != 0 &&
	    (tun_ip_parse(via, &e->route.gw) < 0 || e->route.gw.family != e->route.dst.family))
		return -1;
	return 0;
}

static int parse_rule(const struct toks *tk, struct tun_jent *e)
{
	struct tun_rule_spec *r = &e->rule;
	int inv;

	if (strcmp(tk->t[1], "inet") == 0)
		r->family = AF_INET;
	else if (strcmp(tk->t[1], "inet6") == 0)
		r->family = AF_INET6;
	else
		return -1;
	if (get_u32(tk, "table", &r->table) < 0 || get_u32(tk, "prio", &r->priority) < 0 ||
	    get_u32(tk, "fwmark", &r->fwmark) < 0 || get_int(tk, "not", 0, 1, &inv) < 0 ||
	    get_int(tk, "suppress", -1, 128, &r->suppress_prefixlen) < 0)
		return -1;
	r->invert = inv;
	return 0;
}

static int parse_method(const char *s, enum tun_dns_method *m)
{
	for (int i = TUN_DNS_RESOLVCONF; i <= TUN_DNS_FILE; i++) {
		if (strcmp(s, tun_dns_method_name((enum tun_dns_method)i)) == 0) {
			*m = (enum tun_dns_method)i;
			return 0;
		}
	}
	return -1;
}

static int parse_dns(const struct toks *tk, struct tun_jent *e)
{
	struct tun_dns_req *r = &e->req;
	int full;

	if (parse_method(tk->t[1], &e->dns) < 0 || get_ifname(tk, r->ifname) < 0 ||
	    get_int(tk, "full", 0, 1, &full) < 0 ||
	    get_str(tk, "domain", r->domain, sizeof(r->domain), true) < 0)
		return -1;
	r->full_tunnel = full;
	for (int i = 2; i + 1 < tk->n; i += 2) {
		if (strcmp(tk->t[i], "ns") != 0)
			continue;
		if (r->n_servers == TUN_DNS_MAX || tun_ip_parse(tk->t[i + 1], &r->servers[r->n_servers]) < 0)
			return -1;
		r->n_servers++;
	}
	return tun_dns_req_check(r);
}

int jent_parse(char *text, struct tun_jent *e)
{
	struct toks tk;
	int ret = -1;

	memset(e, 0, sizeof(*e));
	if (tokenize(text, &tk) < 0)
		goto out;
	if (strcmp(tk.t[0], "dev") == 0 && tk.n == 2) {
		e->kind = J_DEV;
		ret = strlen(tk.t[1]) < IFNAMSIZ ? tun_ifname_check(tk.t[1]) : -1;
		if (ret == 0)
			snprintf(e->ifname, sizeof(e->ifname), "%s", tk.t[1]);
	} else if (strcmp(tk.t[0], "addr") == 0) {
		e->kind = J_ADDR;
		ret = tun_cidr_parse(tk.t[1], &e->cidr) < 0 ? -1 : get_ifname(&tk, e->ifname);
	} else if (strcmp(tk.t[0], "route") == 0) {
		e->kind = J_ROUTE;
		ret = parse_route(&tk, e);
	} else if (strcmp(tk.t[0], "rule") == 0) {
		e->kind = J_RULE;
		ret = parse_rule(&tk, e);
	} else if (strcmp(tk.t[0], "dns") == 0) {
		e->kind = J_DNS;
		ret = parse_dns(&tk, e);
	}
out:
	if (ret < 0)
		errno = EINVAL;
	return ret;
}

static bool ip_same(const struct tun_ip *a, const struct tun_ip *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static bool cidr_same(const struct tun_cidr *a, const struct tun_cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

bool jent_same(const struct tun_jent *a, const struct tun_jent *b)
{
	const struct tun_rule_spec *x = &a->rule, *y = &b->rule;

	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case J_DEV:
		return strcmp(a->ifname, b->ifname) == 0;
	case J_ADDR:
		return strcmp(a->ifname, b->ifname) == 0 && cidr_same(&a->cidr, &b->cidr);
	case J_ROUTE:
		return strcmp(a->ifname, b->ifname) == 0 && cidr_same(&a->route.dst, &b->route.dst) &&
		       ip_same(&a->route.gw, &b->route.gw) && a->route.table == b->route.table &&
		       a->route.metric == b->route.metric;
	case J_RULE:
		return x->family == y->family && x->table == y->table && x->priority == y->priority &&
		       x->fwmark == y->fwmark && x->invert == y->invert &&
		       x->suppress_prefixlen == y->suppress_prefixlen;
	case J_DNS:
		return true;
	}
	return false;
}
