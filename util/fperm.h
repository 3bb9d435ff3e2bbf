/*
 * Files ikeagent trusts: the config (it names dns_hook, a program run as
 * root), private keys and secret files, certificates, the state journal.
 * Each is checked on the descriptor it was opened as (fstat, not a stat
 * before the open that another process could race): owned by root or by
 * our euid, and writable by nobody else. A secret (FPERM_SECRET) must not
 * be readable by group or others either.
 *
 * Only the file itself is checked, not the directories above it: the
 * owner check on the opened file already refuses a file someone else put
 * in its place, and a walk up the path could itself be raced.
 */
#ifndef IKEAGENT_UTIL_FPERM_H
#define IKEAGENT_UTIL_FPERM_H

#include <stddef.h>
#include <sys/stat.h>

#include "util/buf.h"

#define FPERM_SECRET	1u	/* no reading by group/others either */

/*
 * 0 if st may be trusted; else -1, errno EPERM and why in why, e.g.
 * "is writable by others (mode 0666); chmod go-w it" (to follow the path).
 */
int fperm_check(const struct stat *st, unsigned flags, char *why, size_t cap) MUST_CHECK;

/*
 * Open path read-only (non-blocking, so a FIFO cannot hang us), make sure
 * it is a regular file and fperm_check it; st is filled. The fd, or -1
 * with why ("not a regular file", "cannot read: ...", or fperm_check's
 * reason with errno EPERM).
 */
int fperm_open(const char *path, unsigned flags, struct stat *st, char *why, size_t cap)
	MUST_CHECK;

#endif
