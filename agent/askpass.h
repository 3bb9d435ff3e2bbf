/* Reading a secret from the user (agent/askpass.c). */
#ifndef IKEAGENT_AGENT_ASKPASS_H
#define IKEAGENT_AGENT_ASKPASS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * prompt on /dev/tty, then one line with the echo off. buf holds cap - 2
 * bytes of secret at most (a longer line is refused, not cut); not
 * NUL-terminated: *len bytes. -1 with err (errno ENXIO: no terminal).
 * The caller wipes buf.
 */
int askpass_tty(const char *prompt, char *buf, size_t cap, size_t *len, char *err,
		size_t errlen);
/* The same from one line of standard input (no prompt). */
int askpass_stdin(char *buf, size_t cap, size_t *len, char *err, size_t errlen);

#endif
