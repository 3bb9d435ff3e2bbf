/*
 * Helpers for the tun tests. Everything that touches the network runs in a
 * private network namespace entered by the (forked) test itself; without
 * root or unshare() such a test is skipped: check_skip() prints SKIP and
 * records it, `make unit-check` counts it as skipped, not passed, and fails
 * under CI=true.
 */
#ifndef IKEAGENT_TESTS_TEST_TUN_H
#define IKEAGENT_TESTS_TEST_TUN_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/check_main.h"
#include "tun/tun.h"

/* Enter a fresh network namespace; false (and SKIP printed) if impossible. */
static inline bool tt_netns(const char *test)
{
	struct if_nameindex *ni;
	size_t n = 0;

	char why[128];

	if (geteuid() != 0) {
		check_skip(test, "needs root for a private network namespace");
		return false;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(why, sizeof(why), "unshare(CLONE_NEWNET): %s", strerror(errno));
		check_skip(test, why);
		return false;
	}
	/* Only lo in a new namespace: anything else means we are not in one. */
	ni = if_nameindex();
	ck_assert_ptr_nonnull(ni);
	while (ni[n].if_index)
		n++;
	ck_assert_msg(n == 1 && strcmp(ni[0].if_name, "lo") == 0, "not a fresh network namespace");
	if_freenameindex(ni);
	return true;
}

#define NEED_NETNS()				\
	do {					\
		if (!tt_netns(__func__))	\
			return;			\
	} while (0)

static inline struct tun_cidr tt_cidr(const char *s)
{
	struct tun_cidr c;

	ck_assert_msg(tun_cidr_parse(s, &c) == 0, "bad test cidr %s", s);
	return c;
}

static inline struct tun_ip tt_ip(const char *s)
{
	struct tun_ip ip;

	ck_assert_msg(tun_ip_parse(s, &ip) == 0, "bad test address %s", s);
	return ip;
}

/* Route lookup for a literal address. */
static inline int tt_get(const char *dst, uint32_t mark, struct tun_route_info *ri)
{
	struct tun_ip d = tt_ip(dst);

	return tun_nl_route_get(&d, mark, ri);
}

static inline void tt_tmpdir(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/ikeagent-tun-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static inline int tt_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

static inline void tt_rmrf(const char *dir)
{
	ck_assert_int_eq(nftw(dir, tt_rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* Whole file as a string ("" if missing). */
static inline void tt_read(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, cap - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

static inline void tt_write(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static inline bool tt_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/*
 * A fake resolvconf/resolvectl/hook: appends "<name> <args>" to <dir>/log,
 * stdin of "-a" to <dir>/stdin, its IKEAGENT_* environment to <dir>/env;
 * exits 3 if <dir>/fail-<first arg> exists, sleeps if <dir>/sleep does.
 */
static inline void tt_script(const char *dir, const char *name, char *path, size_t cap)
{
	static const char body[] =
		"#!/bin/sh\n"
		"d=$(dirname \"$0\")\n"
		"echo \"$(basename \"$0\") $*\" >> \"$d/log\"\n"
		"if [ \"$1\" = \"-a\" ]; then cat >> \"$d/stdin\"; fi\n"
		"env | grep '^IKEAGENT_' | sort > \"$d/env\"\n"
		"if [ -e \"$d/fail-$1\" ]; then exit 3; fi\n"
		"if [ -e \"$d/sleep\" ]; then sleep 5; fi\n"
		"exit 0\n";

	ck_assert_uint_lt((size_t)snprintf(path, cap, "%s/%s", dir, name), cap);
	tt_write(path, body, 0755);
}

/* <dir>/<file> into buf. */
static inline void tt_read_in(const char *dir, const char *file, char *buf, size_t cap)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	tt_read(path, buf, cap);
}

/* Rules of a family matching table / fwmark / invert / suppress. */
static inline size_t tt_rules(int family, uint32_t table, uint32_t fwmark, bool invert, int suppress)
{
	struct tun_rule_spec r[64];
	size_t n, hits = 0;

	ck_assert_int_eq(tun_nl_rule_list(family, r, 64, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (r[i].table == table && r[i].fwmark == fwmark && r[i].invert == invert &&
		    r[i].suppress_prefixlen == suppress)
			hits++;
	return hits;
}

/* Routes of a table (0 = main) through ifindex. */
static inline size_t tt_routes(int family, uint32_t table, int ifindex)
{
	struct tun_route_spec r[64];
	size_t n, hits = 0;

	ck_assert_int_eq(tun_nl_route_list(family, table, r, 64, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (r[i].oif == ifindex)
			hits++;
	return hits;
}

#endif
