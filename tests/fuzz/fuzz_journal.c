/*
 * The undo journal's line parser (tun/journal_fmt.c) on arbitrary text. The
 * journal is written by the agent after it gave up root and read back by
 * the next start as root, so it is input from a less trusted process. A
 * line that parses must format back within JLINE_MAX, and the formatted
 * text must parse to an entry that formats to the same text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tun/journal_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, a[JLINE_MAX], tok[JLINE_MAX], b[JLINE_MAX];
	struct tun_jent e, f;

	if (size > 4 * JLINE_MAX)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&e, 0, sizeof(e));
	if (jent_parse(text, &e) == 0) {
		memset(&f, 0, sizeof(f));
		/* jent_parse tokenises its text in place: parse a copy. */
		if (jent_fmt(&e, a, sizeof(a)) < 0)
			abort();
		memcpy(tok, a, sizeof(tok));
		if (jent_parse(tok, &f) < 0 || jent_fmt(&f, b, sizeof(b)) < 0 || strcmp(a, b) != 0 ||
		    !jent_same(&e, &f))
			abort();
	}
	free(text);
	return 0;
}
