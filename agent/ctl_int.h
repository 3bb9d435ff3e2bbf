/* What the control socket's server (ctl.c) and client (ctl_client.c) share. */
#ifndef IKEAGENT_AGENT_CTL_INT_H
#define IKEAGENT_AGENT_CTL_INT_H

#include <sys/un.h>

/*
 * Wire format of a reply: one byte exit code, then text. Requests are at
 * most CTL_REQ_MAX bytes and end with '\n'.
 */
#define CTL_REQ_MAX 320	/* "password " and CONFIG_PASSWORD_MAX bytes */

/* path as an address; -1 with errno ENAMETOOLONG. */
int ctl_addr(const char *path, struct sockaddr_un *sun);

#endif
