/* The NetworkManager VPN plugin object of nm-ikeagent-service (NMVpnServicePlugin). */
#ifndef IKEAGENT_NM_SERVICE_H
#define IKEAGENT_NM_SERVICE_H

#include <NetworkManager.h>

#define NM_IKEAGENT_BUS_NAME "org.freedesktop.NetworkManager.ikeagent"

/* Owns bus_name on the system bus; with watch_peer, stops when NetworkManager goes. */
NMVpnServicePlugin *nm_ikeagent_plugin_new(const char *bus_name, gboolean watch_peer,
					   gboolean debug, GError **error);

/* At exit: ikeagent stopped and waited for (SIGKILL after a deadline), private files removed. */
void nm_ikeagent_plugin_cleanup(NMVpnServicePlugin *plugin);

#endif
