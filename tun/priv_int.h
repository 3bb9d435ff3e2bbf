/* Inside tun/ only: requests to the privileged helper (priv.c). */
#ifndef IKEAGENT_TUN_PRIV_INT_H
#define IKEAGENT_TUN_PRIV_INT_H

#include "tun/tun.h"

enum tun_priv_op {
	TUN_PRIV_OPEN_TUN = 1,	/* a new fd of /dev/net/tun */
	TUN_PRIV_DNS_CHOOSE,	/* tun_dns_pick() with the helper's configuration */
	TUN_PRIV_DNS_SET,	/* tun_dns_apply(.., up) */
	TUN_PRIV_DNS_UNSET,	/* tun_dns_apply(.., down) */
};

/* A new /dev/net/tun fd (O_RDWR, non-blocking, close-on-exec), or -1 with errno. */
int tun_priv_open_tun(void) MUST_CHECK;
/* One DNS request; *chosen gets the method for TUN_PRIV_DNS_CHOOSE. 0, or -1 with errno. */
int tun_priv_dns(enum tun_priv_op op, enum tun_dns_method m, const struct tun_dns_req *req,
		 enum tun_dns_method *chosen) MUST_CHECK;

#endif
