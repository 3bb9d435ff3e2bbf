/*
 * The control socket's request handling (agent/ctl.c) on arbitrary bytes
 * from a client: input is chunk:1 flags:1 then what the client writes.
 * The bytes arrive in reads of at most chunk bytes (0: as many as fit), as
 * client_read() takes them into its CTL_REQ_MAX + 1 buffer; flags bit 0:
 * the client then shuts down its side (EOF). Once ctl_request_whole() says
 * so, the line is cut with ctl_request_line() and named with
 * ctl_request_parse(), as client_serve() and the session's handler do.
 *
 * Checked: the line never holds a newline nor runs past the bytes read;
 * the request named is exactly the word the line holds; the password
 * argument is the rest of the line after "password ".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl.h"
#include "agent/ctl_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *line, size_t in_len)
{
	static const char *const words[] = {
		[CTL_REQ_PING] = "ping", [CTL_REQ_STATUS] = "status",
		[CTL_REQ_STATUS_JSON] = "status json", [CTL_REQ_EVENTS] = "events",
		[CTL_REQ_DOWN] = "down",
	};
	size_t len = strlen(line);
	const char *arg = (const char *)1;
	enum ctl_req r;

	if (len > in_len || len > CTL_REQ_MAX || memchr(line, '\n', len))
		abort();
	r = ctl_request_parse(line, &arg);
	switch (r) {
	case CTL_REQ_PASSWORD:
		if (len < 9 || memcmp(line, "password ", 9) || arg != line + 9)
			abort();
		return;
	case CTL_REQ_PING:
	case CTL_REQ_STATUS:
	case CTL_REQ_STATUS_JSON:
	case CTL_REQ_EVENTS:
	case CTL_REQ_DOWN:
		if (arg || strcmp(line, words[r]))
			abort();
		return;
	case CTL_REQ_UNKNOWN:
		if (arg || !strncmp(line, "password ", 9))
			abort();
		for (size_t i = CTL_REQ_PING; i <= CTL_REQ_DOWN; i++)
			if (!strcmp(line, words[i]))
				abort();
		return;
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in;
	size_t chunk, in_len = 0, off = 2;
	bool eof;

	if (size < 2 || size > 4096)
		return 0;
	chunk = data[0] ? data[0] : CTL_REQ_MAX;
	eof = data[1] & 1;
	/* exactly the server's buffer, on the heap: ASan sees any overrun */
	in = malloc(CTL_REQ_MAX + 1);
	if (!in)
		return 0;
	memset(in, 'x', CTL_REQ_MAX + 1);
	for (;;) {
		size_t n = CTL_REQ_MAX - in_len, left = size - off;

		if (n > chunk)
			n = chunk;
		if (n > left)
			n = left;
		if (n == 0 && left && in_len < CTL_REQ_MAX)
			abort();	/* a read of 0 only at the end */
		if (n == 0 && !eof && left == 0)
			break;		/* the client waits: the deadline closes it */
		if (n == 0 && in_len == 0)
			break;		/* hung up before a request */
		memcpy(in + in_len, data + off, n);
		in_len += n;
		off += n;
		if (in_len > CTL_REQ_MAX)
			abort();
		if (ctl_request_whole(in, in_len, n == 0)) {
			const char *line = ctl_request_line(in, in_len);

			if (line != in)
				abort();
			check(line, in_len);
			break;
		}
	}
	free(in);
	return 0;
}
