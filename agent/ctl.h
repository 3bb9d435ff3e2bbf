/*
 * Control socket: a unix stream socket (default /run/ikeagent.sock). A
 * client sends one line ("status", "status json", "down") and reads the
 * reply until the agent closes the connection. Server in ctl.c, client
 * calls in ctl_client.c.
 *
 * Who may use it: root, the agent's own user, and members of the socket's
 * group ([agent] socket_group). The file is mode 0660 root:group (0600
 * without a group), and each peer is checked again with SO_PEERCRED and
 * SO_PEERGROUPS: anyone else gets "permission denied: ..." and code 1.
 */
#ifndef IKEAGENT_AGENT_CTL_H
#define IKEAGENT_AGENT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "agent/loop.h"
#include "util/buf.h"

#define CTL_DEFAULT_PATH "/run/ikeagent.sock"
#define CTL_REPLY_MAX 4096

/*
 * Fill reply (NUL-terminated) for request; the return value is the exit
 * code the CLI uses, or CTL_SUBSCRIBE: the client becomes an event
 * listener (nm/PROTOCOL.md): reply is written without a status byte, the
 * connection stays open and gets every ctl_broadcast() line until the
 * agent stops or the client hangs up.
 */
typedef int (*ctl_handler)(void *ctx, const char *request, char *reply, size_t cap);
#define CTL_SUBSCRIBE	1000
#define CTL_MAX_SUBS	8

/*
 * The server never waits for a client (agent/ctl.c): at most
 * CTL_MAX_CLIENTS requests at a time (more are refused), each with
 * CTL_CLIENT_DEADLINE_MS from accept to send its request and read the
 * reply. An event listener may fall CTL_OUT_MAX bytes behind, then it is
 * dropped.
 */
#define CTL_MAX_CLIENTS		8
#define CTL_CLIENT_DEADLINE_MS	2000
#define CTL_OUT_MAX		16384

/*
 * A request as it arrives, in pure functions (fuzzed by tests/fuzz/fuzz_ctl.c).
 * Bytes gather in a buffer of CTL_REQ_MAX + 1 until ctl_request_whole() (a
 * newline, a full buffer, or the client's EOF); ctl_request_line() makes
 * the first line of the len bytes a string, in place; ctl_request_parse()
 * names it and points *arg at its argument (the password), else NULL.
 */
enum ctl_req {
	CTL_REQ_UNKNOWN,
	CTL_REQ_PING,		/* "ping" */
	CTL_REQ_STATUS,		/* "status" */
	CTL_REQ_STATUS_JSON,	/* "status json" */
	CTL_REQ_EVENTS,		/* "events" */
	CTL_REQ_DOWN,		/* "down" */
	CTL_REQ_PASSWORD,	/* "password " and the password (any bytes but NUL, newline) */
};
bool ctl_request_whole(const char *in, size_t len, bool eof);
const char *ctl_request_line(char *in, size_t len);
enum ctl_req ctl_request_parse(const char *line, const char **arg);

struct ctl_server;

#define CTL_NO_GROUP ((gid_t)-1)

/* group: CTL_NO_GROUP for a root-only socket. NULL with errno on failure. */
struct ctl_server *ctl_server_open(struct loop *l, const char *path, gid_t group, ctl_handler h,
				   void *ctx);
void ctl_server_close(struct ctl_server *s);
/* One line (with its newline) to every event listener; one that cannot take it now is dropped. */
void ctl_broadcast(struct ctl_server *s, const char *line);

/* Client side: a connection to the agent at path, or -1 with errno. */
int ctl_connect(const char *path) MUST_CHECK;

/*
 * Client side: send request, copy the reply into out. Returns the agent's
 * exit code (0..125), or -1 with errno if the agent could not be reached.
 */
int ctl_request(const char *path, const char *request, char *out, size_t cap) MUST_CHECK;

/*
 * Client side of `events`: copy the stream to out until the agent stops
 * (0). -1 with errno if it could not be reached; > 0: it refused (err).
 */
int ctl_follow(const char *path, FILE *out, char *err, size_t cap) MUST_CHECK;

#endif
