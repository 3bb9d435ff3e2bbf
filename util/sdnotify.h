/*
 * systemd's service notification protocol (sd_notify(3)), for Type=notify
 * units: READY=1, STATUS=..., WATCHDOG=1, STOPPING=1. Written here rather
 * than linking libsystemd: the protocol is one datagram of KEY=VALUE lines
 * to the unix socket named by $NOTIFY_SOCKET, which systemd documents as a
 * stable interface to implement directly, and ikeagent also runs where
 * there is no systemd (an IoT image, a container, a NetworkManager child),
 * where every call here is a no-op and nothing is linked for nothing.
 *
 * sdnotify_init() runs once at start, before privileges are dropped: it
 * connects a datagram socket to $NOTIFY_SOCKET ("/path", or "@name" in the
 * abstract namespace), reads the watchdog interval ($WATCHDOG_USEC, when
 * $WATCHDOG_PID is unset or ours) and removes the variables, so that no
 * child (a DNS hook) speaks to systemd in our name.
 */
#ifndef IKEAGENT_UTIL_SDNOTIFY_H
#define IKEAGENT_UTIL_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

/* 0: connected, or not started by systemd; -1 with errno: NOTIFY_SOCKET unusable. */
int sdnotify_init(void) MUST_CHECK;
/* Under a Type=notify unit (sdnotify_init found a socket). */
bool sdnotify_enabled(void);
/* The watchdog interval systemd expects pings within; 0: no watchdog. */
uint64_t sdnotify_watchdog_ms(void);
/*
 * Send KEY=VALUE lines as they are ("READY=1", "WATCHDOG=1"). Best effort:
 * a lost datagram is logged at debug level.
 */
void sdnotify_send(const char *lines);
/* STATUS=<text> with control characters turned into blanks (one line). */
void sdnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* READY=1 together with STATUS=<text>. */
void sdnotify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Forget the socket (tests; a process that is done). */
void sdnotify_close(void);

#endif
