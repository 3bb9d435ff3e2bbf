/*
 * ikeagent's `events` stream (nm/PROTOCOL.md): one JSON object per line ->
 * a plain struct, and an `ip` event -> the Config, Ip4Config and Ip6Config
 * dictionaries NetworkManager takes from a VPN plugin.
 */
#ifndef IKEAGENT_NM_EVENTS_H
#define IKEAGENT_NM_EVENTS_H

#include <glib.h>

typedef enum {
	NM_EV_OTHER, /* an event this service does not know: ignored */
	NM_EV_STATE,
	NM_EV_IP,
	NM_EV_FAILURE,
} NmEvType;

typedef struct {
	char *tundev;
	guint mtu;
	char *gateway; /* outer address of the gateway in use */
	char *transport;
	char *address4, *address6; /* "" when none */
	guint prefix4, prefix6;
	char **routes4, **routes6; /* CIDRs */
	char **dns4, **dns6;
	gboolean full4, full6; /* everything goes through the tunnel */
} NmEvIp;

typedef struct {
	NmEvType type;
	char *state; /* state: connecting, established, reconnecting, closing, stopped */
	char *why;   /* state, failure */
	char *kind;  /* failure: auth, peer, connect, internal */
	NmEvIp ip;
} NmEv;

/* Parses one line; FALSE with error when it is not a JSON object with an "event". */
gboolean nm_ev_parse(const char *line, NmEv *ev, GError **error);
void nm_ev_clear(NmEv *ev);

/*
 * The three dictionaries for an ip event (floating GVariants, a{sv}); ip4 or
 * ip6 is NULL when the gateway gave no address of that family. FALSE with
 * error (a sentence naming the bad item) when the event cannot be a valid
 * configuration: NetworkManager's BAD_IP_CONFIG.
 */
gboolean nm_ev_ip_config(const NmEvIp *ip, GVariant **config, GVariant **ip4, GVariant **ip6,
			 GError **error);

#endif
