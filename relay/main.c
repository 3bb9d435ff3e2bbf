/*
 * ikerelay: command line and configuration. Errors are one line on stderr
 * and exit status 2 (also a --user that does not exist); a relay that
 * cannot start exits 1; SIGINT/SIGTERM end it with 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "relay/relay.h"
#include "transport/udp.h"
#include "util/log.h"
#include "util/privdrop.h"
#include "util/sdnotify.h"

#define EXIT_RUNTIME	1
#define EXIT_USAGE	2
#define IKE_NATT_PORT	4500

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s --listen ADDR:PORT [--listen-tls ADDR:PORT --cert PEM --key PEM]\n"
		"       --gateway ADDR[:PORT] [--max-clients N] [--max-conns-per-addr N]\n"
		"       [--max-sessions-per-addr N] [--idle SECONDS] [--prefix-timeout SECONDS]\n"
		"       [--max-queue BYTES] [--max-queue-total BYTES] [--sa-init-rate N]\n"
		"       [--sa-init-rate-total N] [--user NAME] [-v]\n\n"
		"Relays RFC 9329 IKE/ESP-over-TCP (and TLS) streams to a gateway's UDP port\n"
		"(default %d), one UDP socket per client, kept across reconnects.\n"
		"  --max-clients N        streams and sessions at once (default %d)\n"
		"  --max-conns-per-addr N streams from one address, IPv6: /64 (default %d)\n"
		"  --max-sessions-per-addr N  sessions of one address (default %d)\n"
		"  --idle SECONDS         close and forget a client after no frames (default %d)\n"
		"  --prefix-timeout SECONDS  time to send \"IKETCP\" and a first frame (default %d)\n"
		"  --max-queue BYTES      queued towards one client, then drop (default %d)\n"
		"  --max-queue-total BYTES  queues towards and partial frames from all clients,\n"
		"                         then drop or close (default %d)\n"
		"  --sa-init-rate N       new IKE SAs per address per minute (default %d)\n"
		"  --sa-init-rate-total N new IKE SAs per minute in all (default %d)\n"
		"  --user NAME            run as NAME once the ports are bound (default %s\n"
		"                         if it exists; root: stay root)\n"
		"  IPv6: [ADDR]:PORT\n",
		RELAY_NAME, IKE_NATT_PORT, RELAY_DEF_MAX_CLIENTS, RELAY_DEF_CONNS_ADDR,
		RELAY_DEF_SESS_ADDR, RELAY_DEF_IDLE_S, RELAY_DEF_PREFIX_S, RELAY_DEF_MAX_QUEUE,
		RELAY_DEF_QUEUE_TOTAL, RELAY_DEF_INIT_RATE, RELAY_DEF_INIT_TOTAL, RELAY_DEF_USER);
}

static int bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "%s: %s: bad value '%s' (%s)\n", RELAY_NAME, opt, val, want);
	return -1;
}

static int parse_port(const char *s, unsigned long *port)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*port = strtoul(s, &end, 10);
	return (errno || *end || *port == 0 || *port > 65535) ? -1 : 0;
}

/* "ADDR:PORT" or "[ADDR6]:PORT"; with defport, ":PORT" may be left out. */
static int parse_addr(const char *opt, const char *val, unsigned defport, struct relay_addr *out)
{
	char host[256];
	const char *colon, *end;
	unsigned long port = defport;
	size_t hl;

	if (val[0] == '[') {
		end = strchr(val, ']');
		if (!end)
			return bad(opt, val, "unclosed '['");
		hl = (size_t)(end - val - 1);
		val++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			return bad(opt, val - 1, "want [ADDR]:PORT");
	} else {
		colon = strrchr(val, ':');
		if (colon && strchr(val, ':') != colon)
			return bad(opt, val, "IPv6 addresses go in brackets: [ADDR]:PORT");
		hl = colon ? (size_t)(colon - val) : strlen(val);
	}
	if (hl == 0 || hl >= sizeof(host))
		return bad(opt, val, "no address");
	memcpy(host, val, hl);
	host[hl] = '\0';
	if (colon && parse_port(colon + 1, &port) < 0)
		return bad(opt, val, "port 1..65535");
	if (!port)
		return bad(opt, val, "want ADDR:PORT");
	if (sockaddr_resolve(host, (uint16_t)port, &out->ss, &out->len) < 0)
		return bad(opt, val, "not an address");
	return 0;
}

static int parse_num(const char *opt, const char *val, unsigned long lo, unsigned long hi,
		     unsigned long *out)
{
	char want[64], *end;

	snprintf(want, sizeof(want), "a number %lu..%lu", lo, hi);
	if (*val < '0' || *val > '9')
		return bad(opt, val, want);
	errno = 0;
	*out = strtoul(val, &end, 10);
	if (errno || *end || *out < lo || *out > hi)
		return bad(opt, val, want);
	return 0;
}

enum { OPT_LISTEN = 256, OPT_LISTEN_TLS, OPT_CERT, OPT_KEY, OPT_GATEWAY, OPT_MAX_CLIENTS,
       OPT_IDLE, OPT_PREFIX, OPT_MAX_QUEUE, OPT_USER, OPT_CONNS_ADDR, OPT_SESS_ADDR,
       OPT_QUEUE_TOTAL, OPT_INIT_RATE, OPT_INIT_TOTAL };

static const struct option options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "listen-tls", required_argument, NULL, OPT_LISTEN_TLS },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "gateway", required_argument, NULL, OPT_GATEWAY },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "idle", required_argument, NULL, OPT_IDLE },
	{ "prefix-timeout", required_argument, NULL, OPT_PREFIX },
	{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
	{ "max-conns-per-addr", required_argument, NULL, OPT_CONNS_ADDR },
	{ "max-sessions-per-addr", required_argument, NULL, OPT_SESS_ADDR },
	{ "max-queue-total", required_argument, NULL, OPT_QUEUE_TOTAL },
	{ "sa-init-rate", required_argument, NULL, OPT_INIT_RATE },
	{ "sa-init-rate-total", required_argument, NULL, OPT_INIT_TOTAL },
	{ "user", required_argument, NULL, OPT_USER },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* One option into cfg (--user into *user): 0, -1 after printing why, 1 for --help. */
static int parse_opt(int o, const char *val, struct relay_cfg *cfg, const char **user)
{
	unsigned long n;

	switch (o) {
	case OPT_LISTEN:
		return parse_addr("--listen", val, 0, &cfg->listen);
	case OPT_LISTEN_TLS:
		return parse_addr("--listen-tls", val, 0, &cfg->listen_tls);
	case OPT_CERT:
		cfg->cert = val;
		return 0;
	case OPT_KEY:
		cfg->key = val;
		return 0;
	case OPT_GATEWAY:
		return parse_addr("--gateway", val, IKE_NATT_PORT, &cfg->gateway);
	case OPT_MAX_CLIENTS:
		if (parse_num("--max-clients", val, 1, 65536, &n) < 0)
			return -1;
		cfg->max_clients = (unsigned)n;
		return 0;
	case OPT_IDLE:
		if (parse_num("--idle", val, 1, 7 * 86400, &n) < 0)
			return -1;
		cfg->idle_s = (unsigned)n;
		return 0;
	case OPT_PREFIX:
		if (parse_num("--prefix-timeout", val, 1, 3600, &n) < 0)
			return -1;
		cfg->prefix_timeout_s = (unsigned)n;
		return 0;
	case OPT_MAX_QUEUE:
		if (parse_num("--max-queue", val, RELAY_MIN_MAX_QUEUE, 1ul << 30, &n) < 0)
			return -1;
		cfg->max_queue = n;
		return 0;
	case OPT_CONNS_ADDR:
		if (parse_num("--max-conns-per-addr", val, 1, 65536, &n) < 0)
			return -1;
		cfg->conns_per_addr = (unsigned)n;
		return 0;
	case OPT_SESS_ADDR:
		if (parse_num("--max-sessions-per-addr", val, 1, 65536, &n) < 0)
			return -1;
		cfg->sess_per_addr = (unsigned)n;
		return 0;
	case OPT_QUEUE_TOTAL:
		if (parse_num("--max-queue-total", val, RELAY_MIN_MAX_QUEUE, 1ul << 34, &n) < 0)
			return -1;
		cfg->queue_total = n;
		return 0;
	case OPT_INIT_RATE:
		if (parse_num("--sa-init-rate", val, 1, 1000000, &n) < 0)
			return -1;
		cfg->init_rate = (unsigned)n;
		return 0;
	case OPT_INIT_TOTAL:
		if (parse_num("--sa-init-rate-total", val, 1, 10000000, &n) < 0)
			return -1;
		cfg->init_total = (unsigned)n;
		return 0;
	case OPT_USER:
		if (!*val || strlen(val) > 32 || val[0] == '-')
			return bad("--user", val, "a user name");
		*user = val;
		return 0;
	case 'v':
		log_set_level(LOG_LVL_DEBUG);
		return 0;
	case 'h':
		usage(stdout);
		return 1;
	default:
		fprintf(stderr, "%s: unknown option (see '%s --help')\n", RELAY_NAME, RELAY_NAME);
		return -1;
	}
}

static int check_cfg(const struct relay_cfg *cfg)
{
	const char *why = NULL;

	if (!cfg->listen.len)
		why = "--listen ADDR:PORT is required";
	else if (!cfg->gateway.len)
		why = "--gateway ADDR[:PORT] is required";
	else if (cfg->listen_tls.len && (!cfg->cert || !cfg->key))
		why = "--listen-tls needs --cert and --key";
	else if (!cfg->listen_tls.len && (cfg->cert || cfg->key))
		why = "--cert and --key are for --listen-tls";

	if (!why)
		return 0;
	fprintf(stderr, "%s: %s (see '%s --help')\n", RELAY_NAME, why, RELAY_NAME);
	return -1;
}

/* Every client needs a stream and a UDP socket: raise the soft fd limit. */
static void raise_nofile(unsigned max_clients)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_clients * 2 + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		log_warn("relay: only %lu descriptors for %u clients; raise the limit",
			 (unsigned long)rl.rlim_cur, max_clients);
}

int main(int argc, char **argv);

int main(int argc, char **argv)
{
	struct relay_cfg cfg = {
		.max_clients = RELAY_DEF_MAX_CLIENTS,
		.idle_s = RELAY_DEF_IDLE_S,
		.prefix_timeout_s = RELAY_DEF_PREFIX_S,
		.max_queue = RELAY_DEF_MAX_QUEUE,
		.conns_per_addr = RELAY_DEF_CONNS_ADDR,
		.sess_per_addr = RELAY_DEF_SESS_ADDR,
		.queue_total = RELAY_DEF_QUEUE_TOTAL,
		.init_rate = RELAY_DEF_INIT_RATE,
		.init_total = RELAY_DEF_INIT_TOTAL,
	};
	const char *user = NULL;
	char err[128];
	int o, r;

	opterr = 0;
	while ((o = getopt_long(argc, argv, "vh", options, NULL)) != -1) {
		if (o == '?') {
			fprintf(stderr, "%s: unknown option or missing value '%s' (see '%s --help')\n",
				RELAY_NAME, argv[optind - 1], RELAY_NAME);
			return EXIT_USAGE;
		}
		r = parse_opt(o, optarg, &cfg, &user);
		if (r)
			return r > 0 ? 0 : EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", RELAY_NAME, argv[optind]);
		return EXIT_USAGE;
	}
	if (check_cfg(&cfg) < 0)
		return EXIT_USAGE;
	/* Who to become once bound: a --user must exist, the default need not. */
	if (privdrop_target(user ? user : RELAY_DEF_USER, user != NULL, "make install creates it; or --user root",
			    &cfg.run_as, &cfg.drop, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: --user: %s\n", RELAY_NAME, err);
		return EXIT_USAGE;
	}
	/* A client gone mid-write must not kill the relay (TLS writes use
	 * write(2), which has no MSG_NOSIGNAL). */
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(cfg.max_clients);
	/* Before the drop: the socket's path may be out of reach afterwards. */
	if (sdnotify_init() < 0)
		log_warn("relay: NOTIFY_SOCKET is set but unusable: %s", strerror(errno));
	return relay_run(&cfg) < 0 ? EXIT_RUNTIME : 0;
}
