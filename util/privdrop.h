/*
 * Giving up root once the setup that needs it is done: who to become, and
 * becoming them with only the capabilities still needed (libcap-ng, which
 * does the keep-capabilities dance across setuid correctly so we do not
 * hand-write capset(2) calls). Used by ikeagent ([agent] user) and
 * ikerelay (--user).
 */
#ifndef IKEAGENT_UTIL_PRIVDROP_H
#define IKEAGENT_UTIL_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"

struct privdrop_id {
	uid_t uid;
	gid_t gid;		/* the user's primary group */
	char name[64];
};

/* "root", "0" or no name at all: there is nobody to become. */
bool privdrop_is_root(const char *name);

/*
 * Whom to become for name (see privdrop_is_root). 0 with *drop true and id
 * filled when this process runs as root and name is another existing user;
 * 0 with *drop false when there is nothing to do. A user that does not
 * exist is an error (-1, err) when must_exist (it was asked for by name),
 * else a warning that ends with hint (how to create it or stay root).
 */
int privdrop_target(const char *name, bool must_exist, const char *hint, struct privdrop_id *id,
		    bool *drop, char *err, size_t errlen) MUST_CHECK;

/* A user by name or number; -1 with errno ENOENT when there is none. */
int privdrop_user(const char *name, struct privdrop_id *out) MUST_CHECK;
/* A group by name or number; -1 with errno ENOENT when there is none. */
int privdrop_group(const char *name, gid_t *out) MUST_CHECK;

/*
 * Become id: supplementary groups dropped, real/effective/saved gid and
 * uid set, only caps[] (CAP_* numbers) left in the permitted and effective
 * sets, none inheritable or ambient, the bounding set cleared to caps[]
 * when we may (CAP_SETPCAP), no_new_privs set. The result is then checked
 * (uid 0 cannot be regained, no other capability is left). On -1, err
 * says which step failed and the caller must exit: a half-dropped process
 * does not run on.
 */
int privdrop_become(const struct privdrop_id *id, const int *caps, size_t ncaps, char *err,
		    size_t errlen) MUST_CHECK;

/* "CAP_NET_ADMIN" for a CAP_* number ("CAP_N" if unknown); a static buffer. */
const char *privdrop_cap_name(int cap);

#endif
