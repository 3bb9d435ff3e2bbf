/*
 * The network memory's text: parsing with the bounded reader, formatting with
 * the bounded writer, the status line. No I/O here (see netmem.h).
 */
#include "agent/netmem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

#define HEADER		"ikeagent-networks"
#define VERSION		"1"

static const char *const transport_names[CONFIG_MAX_TRANSPORTS] = { "udp", "tcp", "tls" };

bool netmem_key_ok(const char *key)
{
	size_t len = key ? strnlen(key, NETMEM_KEY_MAX) : 0;

	if (len == 0 || len >= NETMEM_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (key[i] < 0x20 || key[i] > 0x7e)
			return false;
	return true;
}

bool netmem_entry_ok(const struct netmem_entry *e)
{
	if (!netmem_key_ok(e->key) || (unsigned)e->transport >= CONFIG_MAX_TRANSPORTS)
		return false;
	/* A proxy carries only streams; UDP that worked did answer. */
	return e->transport != CONFIG_TRANSPORT_UDP || (!e->proxy && !e->udp_blocked);
}

/* ---- parsing ------------------------------------------------------------- */

/* Bytes for a message: at most 24, anything unprintable shown as '?'. */
static const char *quote(char *out, size_t cap, const uint8_t *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n && i < 24 && k + 1 < cap; i++)
		out[k++] = p[i] >= 0x20 && p[i] <= 0x7e ? (char)p[i] : '?';
	if (i < n && k + 4 < cap) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

/* The bytes up to the next space (or the end) of l, consumed; the space is not. */
static int take_word(struct rd *l, const uint8_t **w, size_t *n)
{
	const uint8_t *sp = memchr(rd_cur(l), ' ', rd_left(l));

	*n = sp ? (size_t)(sp - rd_cur(l)) : rd_left(l);
	return rd_ptr(l, *n, w);
}

static int take_space(struct rd *l)
{
	uint8_t c;

	return rd_u8(l, &c) == 0 && c == ' ' ? 0 : -1;
}

static int parse_seen(struct rd *l, uint64_t *v, char *why, size_t cap)
{
	char q[32];
	const uint8_t *w;
	size_t n;

	*v = 0;
	if (take_word(l, &w, &n) < 0 || n == 0)
		return err_set(why, cap, "no time");
	if (n > 1 && w[0] == '0')
		return err_set(why, cap, "time '%s' has a leading zero", quote(q, sizeof(q), w, n));
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)w[i] - '0';

		if (d > 9)
			return err_set(why, cap, "time '%s' is not a number",
				       quote(q, sizeof(q), w, n));
		if (*v > (UINT64_MAX - d) / 10)
			return err_set(why, cap, "time '%s' is too large",
				       quote(q, sizeof(q), w, n));
		*v = *v * 10 + d;
	}
	return 0;
}

static int parse_transport(struct rd *l, enum config_transport *t, char *why, size_t cap)
{
	char q[32];
	const uint8_t *w;
	size_t n;

	if (take_word(l, &w, &n) < 0)
		return err_set(why, cap, "no transport");
	for (unsigned i = 0; i < CONFIG_MAX_TRANSPORTS; i++) {
		if (n == strlen(transport_names[i]) && memcmp(w, transport_names[i], n) == 0) {
			*t = (enum config_transport)i;
			return 0;
		}
	}
	return err_set(why, cap, "unknown transport '%s'", quote(q, sizeof(q), w, n));
}

static int parse_flags(struct rd *l, struct netmem_entry *e, char *why, size_t cap)
{
	char q[32];
	const uint8_t *w;
	size_t n;

	if (take_word(l, &w, &n) < 0 || n == 0)
		return err_set(why, cap, "no flags");
	if (n == 1 && w[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		bool *f = w[i] == 'p' ? &e->proxy : w[i] == 'u' ? &e->udp_blocked : NULL;

		if (!f || *f)
			return err_set(why, cap, "flags '%s' are not '-' or each of p, u once",
				       quote(q, sizeof(q), w, n));
		*f = true;
	}
	return 0;
}

static int parse_key(struct rd *l, struct netmem_entry *e, char *why, size_t cap)
{
	size_t n = rd_left(l);
	const uint8_t *k;

	if (n == 0)
		return err_set(why, cap, "no key");
	if (n >= NETMEM_KEY_MAX)
		return err_set(why, cap, "key of %zu bytes, more than %d", n, NETMEM_KEY_MAX - 1);
	if (rd_ptr(l, n, &k) < 0)
		return err_set(why, cap, "no key");
	for (size_t i = 0; i < n; i++)
		if (k[i] < 0x20 || k[i] > 0x7e)
			return err_set(why, cap, "key has byte 0x%02x at %zu, not printable ASCII",
				       k[i], i + 1);
	memcpy(e->key, k, n);
	e->key[n] = '\0';
	return 0;
}

/* One entry line (without its newline); why gets the reason it is bad. */
static int parse_entry(struct rd *l, struct netmem_entry *e, char *why, size_t cap)
{
	memset(e, 0, sizeof(*e));
	if (parse_seen(l, &e->seen_s, why, cap) < 0)
		return -1;
	if (take_space(l) < 0)
		return err_set(why, cap, "no transport");
	if (parse_transport(l, &e->transport, why, cap) < 0)
		return -1;
	if (take_space(l) < 0)
		return err_set(why, cap, "no flags");
	if (parse_flags(l, e, why, cap) < 0)
		return -1;
	if (take_space(l) < 0)
		return err_set(why, cap, "no key");
	if (parse_key(l, e, why, cap) < 0)
		return -1;
	if (!netmem_entry_ok(e))
		return err_set(why, cap, "udp with flag p or u");
	return 0;
}

static int parse_header(struct rd *l, char *why, size_t cap)
{
	static const char want[] = HEADER " " VERSION;
	char q[32];
	const uint8_t *w;
	size_t n = rd_left(l);

	if (rd_ptr(l, n, &w) < 0)
		return err_set(why, cap, "no header");
	if (n == sizeof(want) - 1 && memcmp(w, want, n) == 0)
		return 0;
	if (n > sizeof(HEADER) && memcmp(w, HEADER " ", sizeof(HEADER)) == 0)
		return err_set(why, cap, "version '%s' not understood (want " VERSION ")",
			       quote(q, sizeof(q), w + sizeof(HEADER), n - sizeof(HEADER)));
	return err_set(why, cap, "header '%s' is not '%s'", quote(q, sizeof(q), w, n), want);
}

/* The next line of r (without its newline) as l; why says what is wrong. */
static int next_line(struct rd *r, struct rd *l, char *why, size_t cap)
{
	const uint8_t *nl = memchr(rd_cur(r), '\n', rd_left(r));
	size_t n = nl ? (size_t)(nl - rd_cur(r)) : rd_left(r);

	if (n > NETMEM_LINE_MAX)
		return err_set(why, cap, "line longer than %d bytes", NETMEM_LINE_MAX);
	if (!nl)
		return err_set(why, cap, "no newline at the end (truncated)");
	if (rd_sub(r, n, l) < 0 || rd_skip(r, 1) < 0)
		return err_set(why, cap, "unreadable");
	return 0;
}

static bool have_key(const struct netmem *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->e[i].key, key) == 0)
			return true;
	return false;
}

int netmem_parse(struct netmem *m, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	char why[128];
	unsigned lineno = 1;
	struct rd r, l;

	m->n = 0;
	if (len > NETMEM_FILE_MAX) {
		(void)err_set(why, sizeof(why), "%zu bytes, more than %d", len, NETMEM_FILE_MAX);
		goto bad_file;
	}
	rd_init(&r, buf, len);
	if (next_line(&r, &l, why, sizeof(why)) < 0 || parse_header(&l, why, sizeof(why)) < 0)
		goto bad_line;
	while (rd_left(&r) > 0) {
		lineno++;
		if (m->n == NETMEM_MAX) {
			(void)err_set(why, sizeof(why), "more than %d entries", NETMEM_MAX);
			goto bad_line;
		}
		if (next_line(&r, &l, why, sizeof(why)) < 0 ||
		    parse_entry(&l, &m->e[m->n], why, sizeof(why)) < 0)
			goto bad_line;
		if (have_key(m, m->e[m->n].key)) {
			(void)err_set(why, sizeof(why), "key '%s' listed twice", m->e[m->n].key);
			goto bad_line;
		}
		m->n++;
	}
	return 0;
bad_line:
	(void)err_set(err, errlen, "line %u: %s", lineno, why);
	goto fail;
bad_file:
	(void)err_set(err, errlen, "%s", why);
fail:
	m->n = 0;
	errno = EINVAL;
	return -1;
}

/* ---- formatting ---------------------------------------------------------- */

static int put_str(struct wr *w, const char *s)
{
	return wr_bytes(w, s, strlen(s));
}

static const char *flags_str(const struct netmem_entry *e)
{
	static const char *const f[4] = { "-", "p", "u", "pu" };

	return f[e->proxy | e->udp_blocked << 1];
}

int netmem_format(const struct netmem *m, uint8_t *buf, size_t cap, size_t *len)
{
	struct wr w;

	*len = 0;
	if (m->n > NETMEM_MAX) {
		errno = EINVAL;
		return -1;
	}
	wr_init(&w, buf, cap);
	if (put_str(&w, HEADER " " VERSION "\n") < 0)
		goto full;
	for (size_t i = 0; i < m->n; i++) {
		const struct netmem_entry *e = &m->e[i];
		char line[NETMEM_LINE_MAX + 2];

		if (!netmem_entry_ok(e)) {
			errno = EINVAL;
			return -1;
		}
		/* A valid entry always fits its line. */
		snprintf(line, sizeof(line), "%" PRIu64 " %s %s %s\n", e->seen_s,
			 transport_names[e->transport], flags_str(e), e->key);
		if (put_str(&w, line) < 0)
			goto full;
	}
	*len = wr_len(&w);
	return 0;
full:
	errno = EFBIG;
	return -1;
}

/* ---- status --------------------------------------------------------------- */

const char *netmem_describe(const struct netmem_entry *e, uint64_t now_s, char *out, size_t cap)
{
	const char *name = (unsigned)e->transport < CONFIG_MAX_TRANSPORTS ?
			   transport_names[e->transport] : "?";
	uint64_t age = now_s > e->seen_s ? now_s - e->seen_s : 0;
	char ago[48];

	if (now_s < e->seen_s)
		snprintf(ago, sizeof(ago), "just now");	/* the clock went back */
	else if (age < 120)
		snprintf(ago, sizeof(ago), "%" PRIu64 " s ago", age);
	else if (age < 2 * 3600)
		snprintf(ago, sizeof(ago), "%" PRIu64 " min ago", age / 60);
	else if (age < 2 * 86400)
		snprintf(ago, sizeof(ago), "%" PRIu64 " h ago", age / 3600);
	else
		snprintf(ago, sizeof(ago), "%" PRIu64 " d ago", age / 86400);
	if (cap)
		snprintf(out, cap, "%s%s last worked here %s%s", name,
			 e->proxy ? " through a proxy" : "", ago,
			 e->udp_blocked ? ", UDP got no answer" : "");
	return out;
}
