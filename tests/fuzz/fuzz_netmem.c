/*
 * The network memory's parser (agent/netmem_fmt.c) on arbitrary bytes. The
 * file lives in a state directory other ikeagent processes write too, so it
 * is input from outside this process. What parses must format (within
 * NETMEM_FILE_MAX) to as many bytes, the formatted text must parse to the same entries, and
 * format again to the same bytes; every key must be found by netmem_get.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/netmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct netmem a, b;
static uint8_t text[NETMEM_FILE_MAX], again[NETMEM_FILE_MAX];

static bool same(const struct netmem_entry *x, const struct netmem_entry *y)
{
	return strcmp(x->key, y->key) == 0 && x->transport == y->transport &&
	       x->proxy == y->proxy && x->udp_blocked == y->udp_blocked && x->seen_s == y->seen_s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], out[128];
	size_t len, len2;

	if (netmem_parse(&a, data, size, err, sizeof(err)) < 0) {
		/* Every failure names its line, but that of a file too big. */
		if (a.n != 0 || (strncmp(err, "line ", 5) != 0 && size <= NETMEM_FILE_MAX))
			abort();
		return 0;
	}
	/* The text is canonical but for the order of flags: as long as what was read. */
	if (a.n > NETMEM_MAX || netmem_format(&a, text, sizeof(text), &len) < 0 || len != size)
		abort();
	if (netmem_parse(&b, text, len, err, sizeof(err)) < 0 || b.n != a.n)
		abort();
	for (size_t i = 0; i < a.n; i++) {
		if (!same(&a.e[i], &b.e[i]) || netmem_get(&a, a.e[i].key) != &a.e[i])
			abort();
		(void)netmem_describe(&a.e[i], a.e[i].seen_s + 7200, out, sizeof(out));
	}
	if (netmem_format(&b, again, sizeof(again), &len2) < 0 || len2 != len ||
	    memcmp(text, again, len) != 0)
		abort();
	return 0;
}
