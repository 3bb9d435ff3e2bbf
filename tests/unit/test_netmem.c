/*
 * The network memory (agent/netmem.c, netmem_fmt.c): round trip through the
 * file, a missing file, corrupt files of many kinds (ignored whole), eviction
 * of the oldest, an update moving an entry, two processes changing the same
 * file, the file's mode, and symbolic links planted where it writes. Every
 * test has its own mkdtemp directory; no root needed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/netmem.h"
#include "tests/unit/check_main.h"

#define TCP	CONFIG_TRANSPORT_TCP
#define TLS	CONFIG_TRANSPORT_TLS
#define UDP	CONFIG_TRANSPORT_UDP

static struct netmem m, m2;	/* big: not on the stack */
static char dir[64];
static char err[256];

/* ---- helpers ------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ikeagent-netmem-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	(void)nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void in_dir(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *path, const void *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* The whole file into a malloc'd NUL-terminated buffer. */
static char *read_file(const char *path, size_t *len)
{
	char *buf = malloc(2 * NETMEM_FILE_MAX);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, 2 * NETMEM_FILE_MAX - 1);
	ck_assert_int_ge(n, 0);
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

static void networks_is(const char *want)
{
	char path[128], *text;

	in_dir(path, sizeof(path), "networks");
	text = read_file(path, NULL);
	ck_assert_str_eq(text, want);
	free(text);
}

static size_t files_named(const char *part)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, part))
			n++;
	closedir(d);
	return n;
}

static void same_entries(const struct netmem *a, const struct netmem *b)
{
	ck_assert_uint_eq(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		ck_assert_str_eq(a->e[i].key, b->e[i].key);
		ck_assert_int_eq(a->e[i].transport, b->e[i].transport);
		ck_assert_int_eq(a->e[i].proxy, b->e[i].proxy);
		ck_assert_int_eq(a->e[i].udp_blocked, b->e[i].udp_blocked);
		ck_assert_uint_eq(a->e[i].seen_s, b->e[i].seen_s);
	}
}

/* ---- round trip ------------------------------------------------------------ */

START_TEST(round_trip)
{
	const struct netmem_entry *e;

	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_int_eq(netmem_put(&m, "gw 10.1.0.1 aa:bb:cc:dd:ee:ff", TCP, false, true, 1000),
			 0);
	ck_assert_int_eq(netmem_put(&m, "net 10.2.0.0/24 dev eth1", UDP, false, false, 2000), 0);
	ck_assert_int_eq(netmem_put(&m, "hotel  two spaces ", TLS, true, true, 3000), 0);
	ck_assert_int_eq(netmem_put(&m, "cafe", TLS, true, false, 18446744073709551615ull), 0);
	networks_is("ikeagent-networks 1\n"
		    "1000 tcp u gw 10.1.0.1 aa:bb:cc:dd:ee:ff\n"
		    "2000 udp - net 10.2.0.0/24 dev eth1\n"
		    "3000 tls pu hotel  two spaces \n"
		    "18446744073709551615 tls p cafe\n");

	ck_assert_int_eq(netmem_open(&m2, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m2.n, 4);
	same_entries(&m, &m2);
	e = netmem_get(&m2, "hotel  two spaces ");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->transport, TLS);
	ck_assert(e->proxy && e->udp_blocked);
	ck_assert_uint_eq(e->seen_s, 3000);
	e = netmem_get(&m2, "net 10.2.0.0/24 dev eth1");
	ck_assert_ptr_nonnull(e);
	ck_assert(e->transport == UDP && !e->proxy && !e->udp_blocked);
	ck_assert_ptr_null(netmem_get(&m2, "hotel"));
	ck_assert_ptr_null(netmem_get(&m2, "bad\tkey"));
}
END_TEST

START_TEST(forget_removes)
{
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_int_eq(netmem_put(&m, "a", TCP, false, false, 1), 0);
	ck_assert_int_eq(netmem_put(&m, "b", TCP, false, false, 2), 0);
	ck_assert_int_eq(netmem_forget(&m, "a"), 0);
	ck_assert_int_eq(netmem_forget(&m, "not there"), 0);
	ck_assert_uint_eq(m.n, 1);
	ck_assert_ptr_null(netmem_get(&m, "a"));
	networks_is("ikeagent-networks 1\n2 tcp - b\n");
}
END_TEST

START_TEST(bad_arguments)
{
	char longkey[NETMEM_KEY_MAX + 1];

	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[NETMEM_KEY_MAX] = '\0';
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	errno = 0;
	ck_assert_int_eq(netmem_put(&m, "", TCP, false, false, 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(netmem_put(&m, "tab\there", TCP, false, false, 1), -1);
	ck_assert_int_eq(netmem_put(&m, "nl\n", TCP, false, false, 1), -1);
	ck_assert_int_eq(netmem_put(&m, "\x7f", TCP, false, false, 1), -1);
	ck_assert_int_eq(netmem_put(&m, "caf\xc3\xa9", TCP, false, false, 1), -1);
	ck_assert_int_eq(netmem_put(&m, longkey, TCP, false, false, 1), -1);
	longkey[NETMEM_KEY_MAX - 1] = '\0';	/* 127 bytes: fine */
	ck_assert_int_eq(netmem_put(&m, longkey, TCP, false, false, 1), 0);
	ck_assert_int_eq(netmem_put(&m, "k", UDP, true, false, 1), -1);
	ck_assert_int_eq(netmem_put(&m, "k", UDP, false, true, 1), -1);
	ck_assert_int_eq(netmem_put(&m, "k", (enum config_transport)7, false, false, 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(m.n, 1);

	ck_assert_int_eq(netmem_open(&m, "relative/dir", (uid_t)-1, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not an absolute path"));
}
END_TEST

START_TEST(describe)
{
	struct netmem_entry e = {
		.key = "k", .transport = TCP, .udp_blocked = true, .seen_s = 1000,
	};
	char out[128];

	ck_assert_str_eq(netmem_describe(&e, 1000 + 3 * 3600 + 5, out, sizeof(out)),
			 "tcp last worked here 3 h ago, UDP got no answer");
	e.transport = TLS;
	e.proxy = true;
	e.udp_blocked = false;
	ck_assert_str_eq(netmem_describe(&e, 1042, out, sizeof(out)),
			 "tls through a proxy last worked here 42 s ago");
	e.transport = UDP;
	e.proxy = false;
	ck_assert_str_eq(netmem_describe(&e, 1000 + 600, out, sizeof(out)),
			 "udp last worked here 10 min ago");
	ck_assert_str_eq(netmem_describe(&e, 1000 + 3 * 86400, out, sizeof(out)),
			 "udp last worked here 3 d ago");
	ck_assert_str_eq(netmem_describe(&e, 10, out, sizeof(out)),
			 "udp last worked here just now");
	ck_assert_str_eq(netmem_describe(&e, 10, out, 4), "udp");
}
END_TEST

/* ---- missing and corrupt files --------------------------------------------- */

/* Handed to [agent] user before the drop: root reads it back next time when told whom to. */
START_TEST(handed_over_to_the_agent_user)
{
	char sub[128];

	in_dir(sub, sizeof(sub), "handed");
	ck_assert_int_eq(netmem_open(&m, sub, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_int_eq(netmem_put(&m, "a", TCP, false, true, 1), 0);
	if (geteuid() != 0) {
		netmem_close(&m);
		check_skip("handed_over_to_the_agent_user", "chown needs root");
		return;
	}
	ck_assert_int_eq(netmem_hand_over(&m, 65534, 65534), 0);
	netmem_close(&m);
	ck_assert_int_eq(netmem_open(&m, sub, 65534, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(netmem_get(&m, "a"));
	ck_assert(netmem_get(&m, "a")->udp_blocked);
	netmem_close(&m);
	/* not told: someone else's directory */
	ck_assert_int_eq(netmem_open(&m, sub, (uid_t)-1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a directory of ours or root"));
}
END_TEST

START_TEST(missing_file)
{
	char sub[128];

	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_uint_eq(files_named("networks"), 0);	/* open creates nothing */
	/* A directory that does not exist yet: made (0700), empty, the first put saves. */
	in_dir(sub, sizeof(sub), "state");
	ck_assert_int_eq(netmem_open(&m, sub, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_int_eq(netmem_put(&m, "a", TCP, false, false, 1), 0);
	ck_assert_int_eq(netmem_open(&m2, sub, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m2.n, 1);
}
END_TEST

START_TEST(io_error_is_an_error)
{
	char file[128], sub[160];

	/* state_dir is a file: ENOTDIR, not "missing". */
	in_dir(file, sizeof(file), "plain");
	write_file(file, "x", 1);
	snprintf(sub, sizeof(sub), "%s/state", file);
	ck_assert_int_eq(netmem_open(&m, file, (uid_t)-1, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_ptr_nonnull(strstr(err, "plain"));
	ck_assert_int_eq(netmem_open(&m, sub, (uid_t)-1, err, sizeof(err)), -1);
	/* A put that cannot save keeps the change in memory. */
	strcpy(m.dir, file);
	snprintf(m.path, sizeof(m.path), "%s/networks", file);
	m.n = 0;
	m.dirfd = -1;
	ck_assert_int_eq(netmem_put(&m, "a", TCP, false, false, 1), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_ptr_nonnull(netmem_get(&m, "a"));
}
END_TEST

struct bad {
	const char *name;
	const char *text;
	const char *why;	/* what netmem_parse says */
};

static const struct bad bad_files[] = {
	{ "empty", "", "line 1: no newline at the end" },
	{ "bad header", "ikeagent-network 1\n", "line 1: header 'ikeagent-network 1' is not" },
	{ "new version", "ikeagent-networks 2\n1 tcp - a\n", "line 1: version '2' not understood" },
	{ "header only partly", "ikeagent-networks 1", "line 1: no newline" },
	{ "bad number", "ikeagent-networks 1\n1 tcp - a\n12x tcp - b\n",
	  "line 3: time '12x' is not a number" },
	{ "negative", "ikeagent-networks 1\n-1 tcp - b\n", "line 2: time '-1' is not a number" },
	{ "leading zero", "ikeagent-networks 1\n01 tcp - b\n", "line 2: time '01' has a leading" },
	{ "overflow", "ikeagent-networks 1\n18446744073709551616 tcp - b\n",
	  "line 2: time '18446744073709551616' is too large" },
	{ "unknown transport", "ikeagent-networks 1\n1 tcp - a\n2 x - b\n",
	  "line 3: unknown transport 'x'" },
	{ "transport case", "ikeagent-networks 1\n2 TCP - b\n", "line 2: unknown transport 'TCP'" },
	{ "key with tab", "ikeagent-networks 1\n2 tcp - a\tb\n",
	  "line 2: key has byte 0x09 at 2" },
	{ "key with CR", "ikeagent-networks 1\n2 tcp - ab\r\n", "line 2: key has byte 0x0d at 3" },
	{ "key with NUL", "ikeagent-networks 1\n2 tcp - a\0b\n", "line 2: key has byte 0x00" },
	{ "no key", "ikeagent-networks 1\n2 tcp -\n", "line 2: no key" },
	{ "empty key", "ikeagent-networks 1\n2 tcp - \n", "line 2: no key" },
	{ "empty line", "ikeagent-networks 1\n\n", "line 2: no time" },
	{ "two spaces", "ikeagent-networks 1\n2  tcp - a\n", "line 2: unknown transport ''" },
	{ "no flags", "ikeagent-networks 1\n2 tcp\n", "line 2: no flags" },
	{ "bad flag", "ikeagent-networks 1\n2 tcp px a\n", "line 2: flags 'px'" },
	{ "flag twice", "ikeagent-networks 1\n2 tcp pp a\n", "line 2: flags 'pp'" },
	{ "dash and flag", "ikeagent-networks 1\n2 tcp -p a\n", "line 2: flags '-p'" },
	{ "udp proxy", "ikeagent-networks 1\n2 udp p a\n", "line 2: udp with flag p or u" },
	{ "udp blocked", "ikeagent-networks 1\n2 udp u a\n", "line 2: udp with flag p or u" },
	{ "duplicate", "ikeagent-networks 1\n1 tcp - a\n2 tls - a\n",
	  "line 3: key 'a' listed twice" },
	{ "truncated", "ikeagent-networks 1\n1 tcp - a\n2 tls - b",
	  "line 3: no newline at the end" },
};

static void check_ignored(const void *text, size_t len, const char *why)
{
	char path[128];

	/* The parser names the line and the reason ... */
	m2.n = 99;
	ck_assert_int_eq(netmem_parse(&m2, text, len, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(m2.n, 0);
	ck_assert_msg(strncmp(err, why, strlen(why)) == 0, "got \"%s\", want \"%s...\"", err, why);
	/* ... and open goes on with an empty memory. */
	in_dir(path, sizeof(path), "networks");
	write_file(path, text, len);
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, 0);
}

START_TEST(corrupt_files_ignored)
{
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		const struct bad *b = &bad_files[i];
		size_t len = strlen(b->text);

		if (strcmp(b->name, "key with NUL") == 0)
			len = strlen(b->text) + 1 + strlen(b->text + strlen(b->text) + 1);
		check_ignored(b->text, len, b->why);
	}
	/* After a corrupt file, a put writes a good one from scratch. */
	ck_assert_int_eq(netmem_put(&m, "fresh", TCP, false, false, 5), 0);
	networks_is("ikeagent-networks 1\n5 tcp - fresh\n");
}
END_TEST

/* n entries "1000+i tcp - key <i>" (entry `oldest`: seen at 5), as the file's text. */
static char *many(size_t n, size_t oldest, size_t *len)
{
	char *text = malloc(2 * NETMEM_FILE_MAX);
	size_t k = (size_t)snprintf(text, 64, "ikeagent-networks 1\n");

	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < n; i++)
		k += (size_t)snprintf(text + k, 2 * NETMEM_FILE_MAX - k, "%zu tcp - key %zu\n",
				      i == oldest ? 5 : 1000 + i, i);
	*len = k;
	return text;
}

START_TEST(too_many_entries_ignored)
{
	size_t len;
	char *text = many(NETMEM_MAX, SIZE_MAX, &len);

	ck_assert_int_eq(netmem_parse(&m, (uint8_t *)text, len, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, NETMEM_MAX);
	free(text);
	text = many(NETMEM_MAX + 1, SIZE_MAX, &len);
	check_ignored(text, len, "line 258: more than 256 entries");
	free(text);
}
END_TEST

START_TEST(long_line_ignored)
{
	char text[1024];
	int k = snprintf(text, sizeof(text), "ikeagent-networks 1\n1 tcp - ");

	/* A key of 128 bytes still fits the longest line (a short time) ... */
	memset(text + k, 'k', NETMEM_KEY_MAX);
	text[k + NETMEM_KEY_MAX] = '\n';
	check_ignored(text, (size_t)k + NETMEM_KEY_MAX + 1,
		      "line 2: key of 128 bytes, more than 127");
	/* ... a line past the longest any entry can be is refused as such. */
	memset(text + k, 'k', 600);
	text[k + 600] = '\n';
	check_ignored(text, (size_t)k + 601, "line 2: line longer than 155 bytes");
	/* So is a header line of garbage with no newline. */
	memset(text, 'x', 600);
	check_ignored(text, 600, "line 1: line longer than");
}
END_TEST

START_TEST(oversize_file_ignored)
{
	char *text = malloc(NETMEM_FILE_MAX + 2);
	size_t k;

	ck_assert_ptr_nonnull(text);
	k = (size_t)snprintf(text, 64, "ikeagent-networks 1\n1 tcp - a\n");
	memset(text + k, '\n', NETMEM_FILE_MAX + 1 - k);
	check_ignored(text, NETMEM_FILE_MAX + 1, "65537 bytes, more than 65536");
	free(text);
}
END_TEST

START_TEST(untrusted_file_ignored)
{
	char path[128];

	in_dir(path, sizeof(path), "networks");
	write_file(path, "ikeagent-networks 1\n1 tcp - a\n", 30);
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, 1);
	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, 0);
	/* A directory (or fifo) at the path is not read either. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, 0);
}
END_TEST

/* ---- eviction and order ---------------------------------------------------- */

START_TEST(full_memory_evicts_oldest)
{
	char path[128];
	size_t len;
	/* Entry "key 100" is the oldest although it is not first in the file. */
	char *text = many(NETMEM_MAX, 100, &len);

	in_dir(path, sizeof(path), "networks");
	write_file(path, text, len);
	free(text);
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, NETMEM_MAX);
	ck_assert_uint_eq(netmem_get(&m, "key 100")->seen_s, 5);

	ck_assert_int_eq(netmem_put(&m, "new", TLS, false, true, 5000), 0);
	ck_assert_uint_eq(m.n, NETMEM_MAX);
	ck_assert_ptr_null(netmem_get(&m, "key 100"));
	ck_assert_ptr_nonnull(netmem_get(&m, "key 0"));
	ck_assert_str_eq(m.e[NETMEM_MAX - 1].key, "new");
	/* Next goes the smallest seen_s left: key 0 (1000). */
	ck_assert_int_eq(netmem_put(&m, "newer", TLS, false, true, 5001), 0);
	ck_assert_ptr_null(netmem_get(&m, "key 0"));
	ck_assert_ptr_nonnull(netmem_get(&m, "key 1"));
	/* Updating a remembered key evicts nothing. */
	ck_assert_int_eq(netmem_put(&m, "key 1", UDP, false, false, 5002), 0);
	ck_assert_ptr_nonnull(netmem_get(&m, "key 2"));
	ck_assert_uint_eq(m.n, NETMEM_MAX);
	ck_assert_int_eq(netmem_open(&m2, dir, (uid_t)-1, err, sizeof(err)), 0);
	same_entries(&m, &m2);
}
END_TEST

START_TEST(update_moves_entry)
{
	const struct netmem_entry *e;

	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_int_eq(netmem_put(&m, "a", UDP, false, false, 10), 0);
	ck_assert_int_eq(netmem_put(&m, "b", TCP, false, true, 20), 0);
	ck_assert_int_eq(netmem_put(&m, "c", TLS, true, true, 30), 0);
	ck_assert_int_eq(netmem_put(&m, "a", TLS, true, true, 40), 0);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_str_eq(m.e[0].key, "b");
	ck_assert_str_eq(m.e[2].key, "a");
	e = netmem_get(&m, "a");
	ck_assert(e->transport == TLS && e->proxy && e->udp_blocked && e->seen_s == 40);
	networks_is("ikeagent-networks 1\n20 tcp u b\n30 tls pu c\n40 tls pu a\n");
}
END_TEST

/* ---- several processes ----------------------------------------------------- */

/* Child c puts n keys "child <c> key <i>", each with its own netmem. */
static void child_puts(int c, int n)
{
	static struct netmem own;
	char key[64];

	if (netmem_open(&own, dir, (uid_t)-1, NULL, 0) < 0)
		_exit(10);
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "child %d key %d", c, i);
		if (netmem_put(&own, key, c ? TLS : TCP, c, !c, 1000 + (uint64_t)i) < 0)
			_exit(11);
	}
	_exit(0);
}

static void two_writers(int n)
{
	pid_t pid[2];
	int st;

	for (int c = 0; c < 2; c++) {
		pid[c] = fork();
		ck_assert_int_ge(pid[c], 0);
		if (pid[c] == 0)
			child_puts(c, n);
	}
	for (int c = 0; c < 2; c++) {
		ck_assert_int_eq(waitpid(pid[c], &st, 0), pid[c]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status %d", c, st);
	}
}

START_TEST(concurrent_writers_keep_each_other)
{
	char key[64];

	two_writers(100);
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, 200);
	for (int c = 0; c < 2; c++) {
		for (int i = 0; i < 100; i++) {
			snprintf(key, sizeof(key), "child %d key %d", c, i);
			ck_assert_msg(netmem_get(&m, key) != NULL, "%s lost", key);
		}
	}
	ck_assert_uint_eq(files_named(".tmp."), 0);
}
END_TEST

START_TEST(concurrent_writers_past_the_cap)
{
	char key[64];

	two_writers(150);
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, NETMEM_MAX);
	/*
	 * An entry goes only as the smallest seen_s of 256 on disk. Of the keys
	 * 23..149 of both children there are 2 * 127 = 254 with seen_s >= 1023:
	 * none of them can ever be the smallest of 256, so all must be there.
	 */
	for (int c = 0; c < 2; c++) {
		for (int i = 23; i < 150; i++) {
			snprintf(key, sizeof(key), "child %d key %d", c, i);
			ck_assert_msg(netmem_get(&m, key) != NULL, "%s lost", key);
		}
	}
	ck_assert_uint_eq(files_named(".tmp."), 0);
}
END_TEST

/* ---- the file on disk ------------------------------------------------------ */

START_TEST(file_mode_and_no_tmp)
{
	char path[128];
	struct stat st;

	umask(0);
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_int_eq(netmem_put(&m, "a", TCP, false, false, 1), 0);
	in_dir(path, sizeof(path), "networks");
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, geteuid());
	in_dir(path, sizeof(path), "networks.lock");
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(files_named(".tmp."), 0);
	ck_assert_uint_eq(files_named("networks"), 2);
}
END_TEST

/* A file outside the state directory, a symlink in it to be planted. */
static void victim(char *out, size_t cap)
{
	snprintf(out, cap, "%s.victim", dir);
	write_file(out, "ikeagent-networks 1\n1 tcp - evil\n", 33);
}

static void victim_untouched(const char *path)
{
	char *text = read_file(path, NULL);

	ck_assert_str_eq(text, "ikeagent-networks 1\n1 tcp - evil\n");
	free(text);
	unlink(path);
}

START_TEST(symlink_at_file_not_followed)
{
	char target[128], path[128];
	struct stat st;

	victim(target, sizeof(target));
	in_dir(path, sizeof(path), "networks");
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, 0);	/* not read through the link */
	ck_assert_int_eq(netmem_put(&m, "a", TCP, false, false, 1), 0);
	victim_untouched(target);	/* not written through it */
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));	/* the link itself was replaced */
	networks_is("ikeagent-networks 1\n1 tcp - a\n");
}
END_TEST

START_TEST(symlink_at_tmp_not_followed)
{
	char target[128], path[128], name[64];
	struct stat st;

	victim(target, sizeof(target));
	snprintf(name, sizeof(name), "networks.tmp.%ld", (long)getpid());
	in_dir(path, sizeof(path), name);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_int_eq(netmem_put(&m, "a", TCP, false, false, 1), 0);
	victim_untouched(target);
	ck_assert_int_eq(lstat(path, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	networks_is("ikeagent-networks 1\n1 tcp - a\n");
}
END_TEST

START_TEST(symlink_at_lock_refused)
{
	char target[128], path[128];

	victim(target, sizeof(target));
	in_dir(path, sizeof(path), "networks.lock");
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(netmem_open(&m, dir, (uid_t)-1, err, sizeof(err)), 0);
	ck_assert_int_eq(netmem_put(&m, "a", TCP, false, false, 1), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_ptr_nonnull(netmem_get(&m, "a"));	/* in memory still */
	victim_untouched(target);
	ck_assert_uint_eq(files_named("networks"), 1);	/* just the link */
}
END_TEST

static Suite *netmem_suite(void)
{
	Suite *s = suite_create("netmem");
	TCase *tm = tcase_create("memory"), *tf = tcase_create("files"),
	      *tp = tcase_create("processes");

	tcase_add_checked_fixture(tm, setup, teardown);
	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_add_test(tm, round_trip);
	tcase_add_test(tm, forget_removes);
	tcase_add_test(tm, bad_arguments);
	tcase_add_test(tm, describe);
	tcase_add_test(tm, full_memory_evicts_oldest);
	tcase_add_test(tm, update_moves_entry);
	tcase_add_test(tf, missing_file);
	tcase_add_test(tf, handed_over_to_the_agent_user);
	tcase_add_test(tf, io_error_is_an_error);
	tcase_add_test(tf, corrupt_files_ignored);
	tcase_add_test(tf, too_many_entries_ignored);
	tcase_add_test(tf, long_line_ignored);
	tcase_add_test(tf, oversize_file_ignored);
	tcase_add_test(tf, untrusted_file_ignored);
	tcase_add_test(tf, file_mode_and_no_tmp);
	tcase_add_test(tf, symlink_at_file_not_followed);
	tcase_add_test(tf, symlink_at_tmp_not_followed);
	tcase_add_test(tf, symlink_at_lock_refused);
	tcase_add_test(tp, concurrent_writers_keep_each_other);
	tcase_add_test(tp, concurrent_writers_past_the_cap);
	tcase_set_timeout(tp, 60);
	suite_add_tcase(s, tm);
	suite_add_tcase(s, tf);
	suite_add_tcase(s, tp);
	return s;
}

CHECK_MAIN(netmem_suite)
