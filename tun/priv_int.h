/* Inside tun/ only: what dev.c asks of the privileged helper (priv.c). */
#ifndef IKEAGENT_TUN_PRIV_INT_H
#define IKEAGENT_TUN_PRIV_INT_H

#include "tun/tun.h"

/*
 * A new /dev/net/tun fd (O_RDWR, non-blocking, close-on-exec) from the
 * helper; only when tun_priv_active(). -1 with errno.
 */
int tun_priv_open_tun(void) MUST_CHECK;

#endif
