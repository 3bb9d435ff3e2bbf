#include "util/privdrop.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

#define PW_BUF 4096

/* A decimal id with nothing else; false otherwise. */
static bool parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out < UINT_MAX;
}

int privdrop_user(const char *name, struct privdrop_id *out)
{
	struct passwd pw, *res = NULL;
	char buf[PW_BUF];
	unsigned long id;
	int rc;

	if (parse_id(name, &id))
		rc = getpwuid_r((uid_t)id, &pw, buf, sizeof(buf), &res);
	else
		rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (rc || !res) {
		errno = rc ? rc : ENOENT;
		return -1;
	}
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	snprintf(out->name, sizeof(out->name), "%s", pw.pw_name);
	return 0;
}

int privdrop_group(const char *name, gid_t *out)
{
	struct group gr, *res = NULL;
	char buf[PW_BUF];
	unsigned long id;
	int rc;

	if (parse_id(name, &id))
		rc = getgrgid_r((gid_t)id, &gr, buf, sizeof(buf), &res);
	else
		rc = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
	if (rc || !res) {
		errno = rc ? rc : ENOENT;
		return -1;
	}
	*out = gr.gr_gid;
	return 0;
}

bool privdrop_is_root(const char *name)
{
	return !name || !strcmp(name, "root") || !strcmp(name, "0");
}

int privdrop_target(const char *name, bool must_exist, const char *hint, struct privdrop_id *id,
		    bool *drop, char *err, size_t errlen)
{
	*drop = false;
	if (privdrop_is_root(name))
		return 0;
	if (geteuid() != 0) {
		log_debug("privdrop: not started as root, user %s not applied", name);
		return 0;
	}
	if (privdrop_user(name, id) < 0) {
		if (must_exist)
			return err_set(err, errlen, "no user '%s' on this system", name);
		log_warn("privdrop: no user '%s' on this system, staying root (%s)", name, hint);
		return 0;
	}
	*drop = id->uid != 0;
	return 0;
}

const char *privdrop_cap_name(int cap)
{
	static char buf[40];
	const char *n = capng_capability_to_name((unsigned)cap);
	size_t i;

	if (!n) {
		snprintf(buf, sizeof(buf), "CAP_%d", cap);
		return buf;
	}
	snprintf(buf, sizeof(buf), "CAP_%s", n);
	for (i = 4; buf[i]; i++)
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] = (char)(buf[i] - 'a' + 'A');
	return buf;
}

static bool wanted(int cap, const int *caps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (caps[i] == cap)
			return true;
	return false;
}

/* After the switch: nothing of root may be left but caps[]. */
static int verify(const struct privdrop_id *id, const int *caps, size_t n, char *err,
		  size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != id->uid ||
	    eu != id->uid || su != id->uid || rg != id->gid || eg != id->gid || sg != id->gid)
		return err_set(err, errlen, "uid/gid did not change to %u/%u", (unsigned)id->uid,
			       (unsigned)id->gid);
	if (getgroups(0, NULL) > 1)
		return err_set(err, errlen, "supplementary groups are still set");
	if (id->uid != 0 && setuid(0) == 0)
		return err_set(err, errlen, "uid 0 could be regained");
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_get_caps_process() < 0)
		return err_set(err, errlen, "cannot read back the capabilities");
	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		bool eff = capng_have_capability(CAPNG_EFFECTIVE, (unsigned)c);
		bool perm = capng_have_capability(CAPNG_PERMITTED, (unsigned)c);

		if ((eff || perm) && !wanted(c, caps, n))
			return err_set(err, errlen, "%s is still held", privdrop_cap_name(c));
		if (wanted(c, caps, n) && !eff)
			return err_set(err, errlen, "%s was lost", privdrop_cap_name(c));
	}
	return 0;
}

int privdrop_become(const struct privdrop_id *id, const int *caps, size_t ncaps, char *err,
		    size_t errlen)
{
	capng_flags_t flags = CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_AMBIENT;
	int rc;

	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_get_caps_process() < 0)
		return err_set(err, errlen, "cannot read the capabilities");
	/* Clearing the bounding set needs CAP_SETPCAP (a unit may not grant it). */
	if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP))
		flags |= CAPNG_CLEAR_BOUNDING;
	capng_clear(CAPNG_SELECT_BOTH);
	for (size_t i = 0; i < ncaps; i++)
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
				 (unsigned)caps[i]) < 0)
			return err_set(err, errlen, "unknown capability %d", caps[i]);
	rc = capng_change_id((int)id->uid, (int)id->gid, flags);
	if (rc < 0)
		return err_set(err, errlen, "cannot become %s (uid %u, gid %u): libcap-ng step %d: %s",
			       id->name, (unsigned)id->uid, (unsigned)id->gid, rc, strerror(errno));
	/* Nothing we exec may gain privileges (setuid binaries, file capabilities). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(err, errlen, "no_new_privs: %s", strerror(errno));
	return verify(id, caps, ncaps, err, errlen);
}
