/*
 * Helpers shared by the Check programs: hex vectors and the strongSwan
 * fixtures under tests/fixtures/ (<case>_keys.txt holds "name = hex" lines).
 * Each test program includes this once; unused helpers cost nothing.
 */
#ifndef IKEAGENT_TESTS_TESTUTIL_H
#define IKEAGENT_TESTS_TESTUTIL_H

#include <check.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define FIX "tests/fixtures/"

/* Hex digits to bytes; spaces are skipped; a bad digit fails the test. */
static inline size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s == ' ')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			ck_abort_msg("bad hex digit");
		if (hi < 0) {
			hi = v;
			continue;
		}
		ck_assert_uint_lt(n, cap);
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return n;
}

struct kv {
	char name[32];
	uint8_t val[600];
	size_t len;
};

static struct kv fixture_keys[64];
static unsigned n_fixture_keys;

/* Load tests/fixtures/<c>_keys.txt. */
static inline void load_keys(const char *c)
{
	char path[256], line[2048];
	FILE *f;

	snprintf(path, sizeof(path), FIX "%s_keys.txt", c);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "missing %s", path);
	n_fixture_keys = 0;
	while (fgets(line, sizeof(line), f) && n_fixture_keys < 64) {
		char *eq = strstr(line, " = ");
		struct kv *k = &fixture_keys[n_fixture_keys];

		if (line[0] == '#' || !eq)
			continue;
		*eq = '\0';
		snprintf(k->name, sizeof(k->name), "%.31s", line);
		k->len = 0;
		for (char *p = eq + 3; isxdigit((unsigned char)p[0]) && isxdigit((unsigned char)p[1]) &&
		     k->len < sizeof(k->val); p += 2) {
			unsigned v;

			ck_assert(sscanf(p, "%2x", &v) == 1);
			k->val[k->len++] = (uint8_t)v;
		}
		n_fixture_keys++;
	}
	fclose(f);
}

/* A value of the loaded keys file; a missing name fails the test. */
static inline const struct kv *key(const char *name)
{
	for (unsigned i = 0; i < n_fixture_keys; i++)
		if (strcmp(fixture_keys[i].name, name) == 0)
			return &fixture_keys[i];
	ck_abort_msg("key %s not in fixture", name);
	return NULL;
}

/* Read tests/fixtures/<c>_<what>.bin into buf; returns its length. */
static inline size_t load_fixture(const char *c, const char *what, uint8_t *buf, size_t cap)
{
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), FIX "%s_%s.bin", c, what);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "missing %s", path);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

#endif
