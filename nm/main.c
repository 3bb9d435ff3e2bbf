/*
 * nm-ikeagent-service: NetworkManager's VPN plugin service for ikeagent.
 * NetworkManager starts it (program= in nm-ikeagent-service.name), one
 * process per connection (--bus-name); it runs until the connection stops
 * or NetworkManager goes away, and takes its ikeagent with it.
 */
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "nm/child.h"
#include "nm/service.h"

static gboolean quit_cb(gpointer loop)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static void plugin_quit(NMVpnServicePlugin *plugin, gpointer loop)
{
	g_main_loop_quit(loop);
}

/* NetworkManager's bus is gone: nobody is left to report to. */
static void bus_closed(GDBusConnection *bus, gboolean remote_peer_vanished, GError *error,
		       gpointer loop)
{
	g_warning("lost the D-Bus connection%s%s: stopping", error ? ": " : "",
		  error ? error->message : "");
	g_main_loop_quit(loop);
}

int main(int argc, char *argv[])
{
	g_autofree char *bus_name = NULL;
	gboolean debug = FALSE, persist = FALSE;
	GOptionEntry options[] = {
		{ "bus-name", 0, 0, G_OPTION_ARG_STRING, &bus_name,
		  "D-Bus name to own (NetworkManager passes one per connection; default "
		  NM_IKEAGENT_BUS_NAME ")", "NAME" },
		{ "debug", 0, 0, G_OPTION_ARG_NONE, &debug,
		  "ikeagent logs at debug level; do not stop when the caller leaves the bus", NULL },
		{ "persist", 0, 0, G_OPTION_ARG_NONE, &persist,
		  "keep running after the VPN connection stops", NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) bus = NULL;
	NMVpnServicePlugin *plugin;
	GMainLoop *loop;

	setlocale(LC_ALL, "");
	g_option_context_set_summary(ctx, "NetworkManager VPN plugin service for ikeagent (VPN "
				     "type \"ikeagent\").\nRuns the ikeagent named by $IKEAGENT_BIN, "
				     "else the installed one.\nStarted by NetworkManager; see "
				     "nm-ikeagent(5).");
	g_option_context_add_main_entries(ctx, options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "nm-ikeagent-service: %s\n", error->message);
		return 2;
	}
	if (getenv("IKEAGENT_NM_DEBUG"))
		debug = TRUE;

	plugin = nm_ikeagent_plugin_new(bus_name ? bus_name : NM_IKEAGENT_BUS_NAME, !debug, debug,
					&error);
	if (!plugin) {
		g_warning("cannot start: %s", error->message);
		return 1;
	}
	g_message("ready as %s (ikeagent: %s)", bus_name ? bus_name : NM_IKEAGENT_BUS_NAME,
		  nm_child_binary());

	loop = g_main_loop_new(NULL, FALSE);
	bus = nm_vpn_service_plugin_get_connection(plugin);
	if (bus) {
		g_dbus_connection_set_exit_on_close(bus, FALSE);
		g_signal_connect(bus, "closed", G_CALLBACK(bus_closed), loop);
	}
	if (!persist)
		g_signal_connect(plugin, "quit", G_CALLBACK(plugin_quit), loop);
	signal(SIGPIPE, SIG_IGN);
	g_unix_signal_add(SIGTERM, quit_cb, loop);
	g_unix_signal_add(SIGINT, quit_cb, loop);

	g_main_loop_run(loop);

	/* Stop the connection (StateChanged to NetworkManager), then ikeagent,
	 * then make sure the last signals (a Failure) have left: without the
	 * flush NetworkManager may never see them and shows "unknown reason". */
	nm_vpn_service_plugin_shutdown(plugin);
	nm_ikeagent_plugin_cleanup(plugin);
	if (bus && !g_dbus_connection_is_closed(bus))
		(void)g_dbus_connection_flush_sync(bus, NULL, NULL);
	g_object_unref(plugin);
	g_main_loop_unref(loop);
	return 0;
}
