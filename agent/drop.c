/*
 * Giving up root ([agent] user and socket_group; ikeagent.conf(5)).
 *
 * ikeagent starts as root and does what needs root first: it reads its
 * configuration and keys, binds the control socket (mode 0660, group
 * socket_group), opens the undo journal and undoes what a crashed run
 * left. Then, before its first packet, it becomes the configured user with
 * CAP_NET_ADMIN alone, which covers everything it still does itself:
 * addresses, routes and rules (rtnetlink), SO_MARK on its sockets, the tun
 * device's settings and /proc/sys/net. The two things that capability
 * does not cover, a new /dev/net/tun fd and DNS changes, go through the
 * privileged helper (tun/priv.c) forked just before the drop.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/cmd.h"
#include "agent/session.h"
#include "util/err.h"
#include "util/log.h"
#include "util/privdrop.h"

/* What the agent keeps: see above. */
static const int kept_caps[] = { CAP_NET_ADMIN };

int drop_socket_group(const struct config *cfg, gid_t *out, char *err, size_t errlen)
{
	const char *name = cfg->agent.socket_group;
	gid_t gid;

	*out = CTL_NO_GROUP;
	if (privdrop_is_root(name))
		return 0;
	if (privdrop_group(name, &gid) == 0) {
		*out = gid;
		return 0;
	}
	if (config_is_set(cfg, "agent", "socket_group"))
		return err_set(err, errlen, "[agent] socket_group: no group '%s' on this system",
			       name);
	log_debug("ctl: no group '%s': the control socket is for root only", name);
	return 0;
}

/* The user to become; 0 with *drop false when we stay as we are. */
static int drop_target(const struct config *cfg, struct privdrop_id *id, bool *drop, char *err,
		       size_t errlen)
{
	char why[128];

	if (privdrop_target(cfg->agent.user, config_is_set(cfg, "agent", "user"),
			    "make install creates it; or set [agent] user = root", id, drop, why,
			    sizeof(why)) < 0)
		return err_set(err, errlen, "[agent] user: %s", why);
	return 0;
}

uid_t drop_user_uid(const struct config *cfg)
{
	struct privdrop_id id;

	/* As drop_target() decides, without its warning (drop_privileges() says it). */
	if (geteuid() != 0 || privdrop_is_root(cfg->agent.user) ||
	    privdrop_user(cfg->agent.user, &id) < 0)
		return (uid_t)-1;
	return id.uid;
}

int drop_check(const struct config *cfg, char *err, size_t errlen)
{
	struct privdrop_id id;
	gid_t gid;
	bool drop;

	return drop_target(cfg, &id, &drop, err, errlen) < 0 ||
	       drop_socket_group(cfg, &gid, err, errlen) < 0 ? -1 : 0;
}

int drop_privileges(struct session *s, int *rc, char *err, size_t errlen)
{
	struct privdrop_id id;
	bool drop;

	*rc = CMD_EXIT_USAGE;
	if (drop_target(s->cfg, &id, &drop, err, errlen) < 0)
		return -1;
	if (!drop)
		return 0;
	*rc = CMD_EXIT_RUNTIME;
	if (tun_priv_start(&s->dns) < 0)
		return err_set(err, errlen, "cannot start the privileged helper: %s",
			       strerror(errno));
	/* What the agent still writes after the drop: the network memory (agent/roam.c). */
	if (s->roam.mem_ok && netmem_hand_over(&s->roam.mem, id.uid, id.gid) < 0)
		log_warn("agent: cannot hand %s to %s (%s): the network memory will not be saved",
			 s->roam.mem.dir, id.name, strerror(errno));
	if (privdrop_become(&id, kept_caps, sizeof(kept_caps) / sizeof(kept_caps[0]), err,
			    errlen) < 0)
		return -1;
	log_info("agent: running as %s (uid %u) with %s only; /dev/net/tun and DNS through the "
		 "privileged helper (pid %ld)", id.name, (unsigned)id.uid,
		 privdrop_cap_name(CAP_NET_ADMIN), (long)tun_priv_pid());
	return 0;
}
