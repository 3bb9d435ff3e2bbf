/*
 * Network memory: per network, which transport last carried the tunnel there
 * (and through a proxy or not), and whether UDP got no answer there, so the
 * next connect on that network can start with what worked.
 *
 * A network is named by a key the caller makes up, e.g.
 *   "gw 10.1.0.1 aa:bb:cc:dd:ee:ff"   or   "net 10.2.0.0/24 dev eth1":
 * 1..127 bytes of printable ASCII (0x20..0x7e; no tab, no newline).
 *
 * The file <dir>/networks (mode 0600), text:
 *   ikeagent-networks 1
 *   <seen_s> <transport> <flags> <key>
 *   ...
 * seen_s is wall-clock seconds in decimal (no sign, no leading zeros);
 * transport is udp, tcp or tls; flags is "-" or a combination of "p" (through
 * a proxy) and "u" (UDP got no answer), each at most once; the key is the rest
 * of the line. Every line ends in "\n". Entries are in the order they were
 * last put, oldest first; a key appears once. At most NETMEM_MAX entries and
 * NETMEM_FILE_MAX bytes. A file that breaks any of this is ignored whole (the
 * memory starts empty, with a warning naming the line and why); so is a file
 * that is a symbolic link, not a regular file, not owned by us or root, or
 * writable by group or others.
 *
 * Saving is atomic: <path>.tmp.<pid> (O_EXCL|O_NOFOLLOW, 0600) is written,
 * fsync'd and renamed over the file, then the directory is fsync'd. Several
 * agents may share the directory: every change takes an flock on
 * <dir>/networks.lock (0600), re-reads the file, applies just this
 * change to what is on disk (so entries of other processes stay), writes it,
 * and unlocks. The lock is held for one read and one write of a small file;
 * flock waits for it without a time limit (a peer stopped while holding it
 * stops our put too).
 *
 * netmem.c: the memory and its file; netmem_fmt.c: the text (no I/O).
 */
#ifndef IKEAGENT_AGENT_NETMEM_H
#define IKEAGENT_AGENT_NETMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/config.h"
#include "util/buf.h"

#define NETMEM_MAX		256		/* entries; the oldest (smallest seen_s) goes */
#define NETMEM_KEY_MAX		128		/* incl. NUL */
#define NETMEM_FILE_MAX		(64 * 1024)	/* bytes */
#define NETMEM_PATH_MAX		256
/* "<seen_s> <transport> <flags> <key>" without the newline, at its longest. */
#define NETMEM_LINE_MAX		(20 + 1 + 3 + 1 + 2 + 1 + NETMEM_KEY_MAX - 1)

struct netmem_entry {
	char key[NETMEM_KEY_MAX];
	enum config_transport transport;	/* what carried the tunnel here last */
	bool proxy;				/* tcp/tls through the HTTP proxy */
	bool udp_blocked;			/* UDP got no answer here that time */
	uint64_t seen_s;			/* wall clock, seconds */
};

/* About 37 KiB: static or on the heap, not on a small stack. */
struct netmem {
	char dir[NETMEM_PATH_MAX];		/* the directory: for logs */
	char path[NETMEM_PATH_MAX];		/* <dir>/networks: for logs */
	int dirfd;				/* every access goes through it; -1: closed */
	uid_t owner;				/* may own dir and file too; (uid_t)-1: none */
	size_t n;
	struct netmem_entry e[NETMEM_MAX];	/* oldest put first */
};

/*
 * Open dir (absolute; created 0700, one level, if missing; ours, root's or
 * owner's (the user it was handed to; (uid_t)-1: none), writable by its
 * owner only) and read <dir>/networks. A missing file, and
 * one that is ignored (see above), give an empty memory and 0. -1 with errno
 * and err for a bad dir or an I/O error other than ENOENT. Every later
 * access goes through the directory's fd, so it keeps working after the
 * process gave up root (see netmem_hand_over()).
 */
int netmem_open(struct netmem *m, const char *dir, uid_t owner, char *err,
		size_t errlen) MUST_CHECK;
void netmem_close(struct netmem *m);
/* The directory, the file and the lock become uid's, before the process becomes uid. */
int netmem_hand_over(const struct netmem *m, uid_t uid, gid_t gid) MUST_CHECK;

/* The entry of key, or NULL (also for a key that is not valid). */
const struct netmem_entry *netmem_get(const struct netmem *m, const char *key);

/*
 * Record that transport t (through a proxy or not) carried the tunnel on key
 * at now_s; udp_blocked: UDP got no answer there this time. The entry becomes
 * the most recent; when the memory is full, of the others the one with the
 * smallest seen_s goes (of equals, the one put first). Then saved (read-merge-write under the lock), and *m becomes what was
 * saved, with other processes' entries. EINVAL for a bad key, proxy with udp,
 * or udp_blocked with udp. On an I/O error -1 with errno, logged here (which
 * step, which file), and the change is kept in m only.
 */
int netmem_put(struct netmem *m, const char *key, enum config_transport t, bool proxy,
	       bool udp_blocked, uint64_t now_s) MUST_CHECK;

/* Drop key from memory and file (0 also when it was not there); as netmem_put. */
int netmem_forget(struct netmem *m, const char *key) MUST_CHECK;

/*
 * Parse the file's text into m->e and m->n (m->dir and m->path are left
 * alone). -1 with errno EINVAL and err "line 7: unknown transport 'x'" on the
 * first thing wrong; m->n is then 0. No I/O, no logs.
 */
int netmem_parse(struct netmem *m, const uint8_t *buf, size_t len, char *err,
		 size_t errlen) MUST_CHECK;

/*
 * The file's text for m into buf, its length in *len. -1 with errno EFBIG if
 * cap is too small (NETMEM_FILE_MAX always suffices), EINVAL if an entry is
 * not one netmem_parse would accept.
 */
int netmem_format(const struct netmem *m, uint8_t *buf, size_t cap, size_t *len) MUST_CHECK;

/* For status: "tcp through a proxy last worked here 3 h ago, UDP got no answer". */
const char *netmem_describe(const struct netmem_entry *e, uint64_t now_s, char *out, size_t cap);

/* True if key is 1..NETMEM_KEY_MAX-1 bytes of printable ASCII. */
bool netmem_key_ok(const char *key);
/* True if e could be saved: a good key and transport, no proxy or udp_blocked with udp. */
bool netmem_entry_ok(const struct netmem_entry *e);

#endif
