#!/usr/bin/env bash
# ikeagent network testbed: three network namespaces, a strongSwan 5.9 gateway
# with kernel-libipsec (userspace ESP in UDP; this kernel has no xfrm), an
# inside host with ping/iperf3/HTTP targets, and optionally a strongSwan client.
#
#   ika-cli  10.99.0.2/24 [fd99::2/64]  --veth--  10.99.0.1/24 [fd99::1/64]  ika-gw
#   ika-gw   10.99.1.1/24 [fd99:1::1/64] --veth-- 10.99.1.2/24 [fd99:1::2/64] ika-in
#   VPN pool 10.99.100.0/24 (+ fd99:100::/120), DNS attribute 10.99.1.53
#
# TB_UPLINKS=2 (set before sourcing): a roaming laptop with two uplinks and a
# router namespace in front of the gateway, which then has ONE address on a
# third subnet, reachable over either uplink (no NAT unless TB_NAT_B=1):
#
#   ika-cli  A 10.99.0.2/24  --veth--  10.99.0.1/24 A  ika-rt
#   ika-cli  B 10.98.0.2/24  --veth--  10.98.0.1/24 B  ika-rt
#   ika-rt   10.97.0.254/24  --veth--  10.97.0.1/24    ika-gw (TB_GW_ADDR)
#   ika-gw   10.99.1.1/24    --veth--  10.99.1.2/24    ika-in (as above)
#
#   The client has a default route on each uplink, A metric 100 (in use
#   while it is there), B metric 200. IPv4 only. See "two uplinks" below:
#   tb_uplink_del|add|down|up|use|block|current|state.
#
# bash (arrays, local -x). Use as a CLI:
#   scripts/testbed.sh up [VARIANT]     namespaces + inside services + gateway
#   scripts/testbed.sh client [VARIANT] strongSwan client in ika-cli, connect
#   scripts/testbed.sh down | status | exec NS CMD...
#   TB_UPLINKS=2 scripts/testbed.sh uplink add|del|down|up|use|block|state X...
# or source it and call tb_up, tb_gw_start [VARIANT], tb_client_ss_start
# [VARIANT], tb_client_ss_stop, tb_gw_stop, tb_down, tb_status,
# tb_wait_for CMD TIMEOUT, tb_ns_exec NS CMD..., tb_gw_swanctl / tb_cli_swanctl,
# tb_gw_wait_child [TIMEOUT], tb_ping NS ADDR [COUNT], tb_ping_inside.
#
# VARIANT: words joined by ',' or '+':
#   psk (default) | rsa | ecdsa   how the gateway authenticates (rsa/ecdsa: a
#                                 certificate from a CA generated with pki)
#   eap                           client authenticates with EAP-MSCHAPv2
#                                 (default: PSK)
#   eaptls                        client authenticates with EAP-TLS: a client
#                                 certificate from either testbed CA (both
#                                 loaded on the gateway); see "EAP-TLS" below
#   split (default) | full        gateway local_ts 10.99.1.0/24 or 0.0.0.0/0
#   v6                            also IPv6 pool/selectors (needs TB_IPV6=1)
#
# Knobs (environment; defaults in brackets):
#   TB_PREFIX [ika]          name prefix of namespaces and interfaces
#   TB_DIR [/tmp/ikeagent-testbed-$TB_PREFIX]  configs, logs, pki, run dirs
#   TB_IPV6 [0]              add the IPv6 addresses too
#   TB_PSK                   pre-shared key [ikeagent-testbed-psk-0123456789]
#   TB_GW_ID [gw.ikeagent.test]  TB_CLI_ID [client@ikeagent.test]
#   TB_EAP_USER [testuser]   TB_EAP_PASS [testpass-123]
#   TB_CLI_EAP_ID            the strongSwan client's EAP identity [TB_EAP_USER
#                            with eap, TB_CLI_ID with eaptls]
#   TB_CLI_CERT [rsa]        the strongSwan client's certificate (eaptls):
#                            rsa | ecdsa ($TB_DIR/pki/client-TYPE.pem)
#   TB_CLI_CA                the CA the strongSwan client trusts for the
#                            gateway [the gateway variant's: rsa | ecdsa]
#   TB_TLS_MIN [1.2]  TB_TLS_MAX [1.2]   charon.tls.version_min/max (EAP-TLS)
#                            of both charons; 1.3 works between two 5.9.8
#                            charons, see "EAP-TLS" below
#   TB_IKE_PROPOSALS, TB_ESP_PROPOSALS     gateway proposals (see below)
#   TB_CLI_PROPOSALS [aes256gcm16-prfsha256-x25519]
#   TB_CLI_ESP_PROPOSALS [aes256gcm16]
#   TB_CLI_INITIATE [1]      0: tb_client_ss_start only loads; then
#                            tb_client_ss_initiate (e.g. after starting tshark)
#   TB_CLI_GW_ADDR [10.99.0.1]   address the strongSwan client connects to
#   TB_DPD_DELAY [30s]  TB_IKE_REKEY_TIME [4h]  TB_CHILD_REKEY_TIME [1h]
#   TB_RAND_TIME [0]    (rekey jitter; 0 keeps tests deterministic)
#   TB_MOBIKE [yes]     TB_FRAGMENT_SIZE [1280]
#   TB_RETRANSMIT_TIMEOUT [2.0]  TB_RETRANSMIT_TRIES [3]
#   TB_PREFER_BEST_PATH [no]  charon.prefer_best_path: yes makes a MOBIKE
#                       client move its SA to a better route (lower metric)
#                       that appears, not only when the path in use is gone
#   TB_LOG_KEYS [0]     1: log at "ike 4" and "chd 4": SK_* and ESP keys
#   TB_LOG_ENC [1]  TB_LOG_ESP [1]    other charon log levels
#   TB_FWMARK [0x1a1a]  mark on charon's own IKE/ESP packets (see conf)
#   TB_INSIDE_SERVICES [1]  iperf3 -s, HTTP on 10.99.1.2:8080
#   TB_GW_FILTER [1]    nft on the gw: no cleartext forwarding from the
#                       client veth, so a working ping proves the tunnel
#   TB_TIMEOUT [10]     seconds for charon start / connection up
#   TB_KEEP [0]         1: tb_down keeps $TB_DIR (logs)
#   TB_UPLINKS [1]      2: the two-uplink topology above (read when sourced)
#   TB_NAT_B [0]        1 (with TB_UPLINKS=2): ika-rt masquerades uplink B,
#                       so the gateway sees B as 10.97.0.254 behind a NAT
#   TB_RT_RPFILTER [1]  ika-rt's rp_filter: 1 drops what a network gets with
#                       the other network's source address (BCP 38); 0 not
#
# EAP-TLS (variant eaptls, strongSwan 5.9.8's libtls as the server):
# - Client certificates $TB_DIR/pki/client-rsa.pem (RSA 2048, issued by
#   ca-rsa) and client-ecdsa.pem (P-256, by ca-ecdsa), keys client-TYPE.key;
#   subject CN and subjectAltName (rfc822Name) = TB_CLI_ID.
# - The gateway asks for the EAP identity (eap_id = %any) and then wants a
#   trusted client certificate that CONTAINS that identity, as its subject
#   DN or a subjectAltName (without eap_id: the IKE identity IDi). Both
#   "client@ikeagent.test" and the DN "C=CH, O=ikeagent testbed,
#   CN=client@ikeagent.test" work with the certificates above; "testuser"
#   does not (libtls tls_find_public_key(): "no trusted certificate found
#   for 'testuser' to verify TLS peer"; strongSwan's own client already
#   refuses: "no usable TLS client certificate found for 'testuser'").
# - The CertificateRequest's certificate_authorities lists only the RSA CAs
#   (5.9.8 enumerates CA certificates with KEY_RSA), so a client must not
#   pick or drop its ECDSA certificate by that list.
# - TLS 1.3 (TB_TLS_MAX=1.3) works with a 5.9.8 client, but 5.9.8 predates
#   RFC 9190 (strongSwan 5.9.10): its MSK is the TLS 1.3 exporter with label
#   "client EAP encryption", empty context, 128 bytes (first 64 = MSK), not
#   "EXPORTER_EAP_TLS_Key_Material" with context 0x0d, and it sends no
#   protected success indication (0x00 record) before EAP-Success. An RFC
#   9190 peer gets an AUTH mismatch (or waits for the 0x00) against it.

# The TB_* constants below are for the scripts that source this file.
# shellcheck disable=SC2034
TB_PREFIX=${TB_PREFIX:-ika}
TB_DIR=${TB_DIR:-/tmp/ikeagent-testbed-$TB_PREFIX}
TB_NS_CLI=$TB_PREFIX-cli
TB_NS_GW=$TB_PREFIX-gw
TB_NS_IN=$TB_PREFIX-in
TB_IF_CLI=$TB_PREFIX-cli0   # in ika-cli, peer of TB_IF_GW_OUT
TB_IF_GW_OUT=$TB_PREFIX-gw0 # in ika-gw, towards the client
TB_IF_GW_IN=$TB_PREFIX-gw1  # in ika-gw, towards the inside host
TB_IF_IN=$TB_PREFIX-in0     # in ika-in
TB_CLI_ADDR=10.99.0.2
TB_GW_ADDR=10.99.0.1
TB_GW_IN_ADDR=10.99.1.1
TB_IN_ADDR=10.99.1.2
TB_CLI_ADDR6=fd99::2
TB_GW_ADDR6=fd99::1
TB_IN_ADDR6=fd99:1::2
TB_VPN_POOL=10.99.100.0/24
TB_INSIDE_NET=10.99.1.0/24
TB_HTTP_PORT=8080
# Two uplinks (TB_UPLINKS=2): the router namespace and the gateway moved
# behind it. The names exist in both topologies (cleanup looks for them).
TB_UPLINKS=${TB_UPLINKS:-1}
TB_NS_RT=$TB_PREFIX-rt
TB_IF_CLI_B=$TB_PREFIX-cli1 # in ika-cli: uplink B (TB_IF_CLI is uplink A)
TB_IF_RT_A=$TB_PREFIX-rt0   # in ika-rt, peer of TB_IF_CLI
TB_IF_RT_B=$TB_PREFIX-rt1   # in ika-rt, peer of TB_IF_CLI_B
TB_IF_RT_GW=$TB_PREFIX-rtg  # in ika-rt, peer of TB_IF_GW_OUT
TB_CLI_ADDR_B=10.98.0.2
TB_RT_ADDR_A=10.99.0.1
TB_RT_ADDR_B=10.98.0.1
TB_RT_ADDR_GW=10.97.0.254
TB_UPLINK_METRIC_A=100
TB_UPLINK_METRIC_B=200
if [ "$TB_UPLINKS" = 2 ]; then
	TB_GW_ADDR=10.97.0.1
fi
TB_CHARON=${TB_CHARON:-/usr/lib/ipsec/charon}
TB_SWANCTL=${TB_SWANCTL:-swanctl}
TB_PSK=${TB_PSK:-ikeagent-testbed-psk-0123456789}
TB_GW_ID=${TB_GW_ID:-gw.ikeagent.test}
TB_CLI_ID=${TB_CLI_ID:-client@ikeagent.test}
TB_EAP_USER=${TB_EAP_USER:-testuser}
TB_EAP_PASS=${TB_EAP_PASS:-testpass-123}
TB_IKE_PROPOSALS=${TB_IKE_PROPOSALS:-aes256gcm16-prfsha256-x25519, aes128gcm16-prfsha256-x25519, aes256gcm16-prfsha384-ecp384, chacha20poly1305-prfsha256-x25519, chacha20poly1305-prfsha256-ecp256, aes256gcm16-prfsha256-ecp256, aes256-sha256-modp2048, aes128-sha256-ecp256, aes256-sha256-x25519}
TB_ESP_PROPOSALS=${TB_ESP_PROPOSALS:-aes256gcm16, chacha20poly1305, aes128gcm16, aes256-sha256}
TB_CLI_PROPOSALS=${TB_CLI_PROPOSALS:-aes256gcm16-prfsha256-x25519}
TB_CLI_ESP_PROPOSALS=${TB_CLI_ESP_PROPOSALS:-aes256gcm16}
TB_TIMEOUT=${TB_TIMEOUT:-10}

TB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_TEMPLATES=$TB_LIB_DIR/strongswan

tb_log() { echo "testbed: $*" >&2; }

# tb_wait_for CMD TIMEOUT: evaluate CMD every 0.1 s until it succeeds (0) or
# TIMEOUT seconds (may be fractional) have passed (1). Never a blind sleep.
tb_wait_for() {
	local cmd=$1 timeout=${2:-$TB_TIMEOUT} deadline
	deadline=$(( $(date +%s%N) / 1000000 + $(awk -v t="$timeout" 'BEGIN{printf "%d", t*1000}') ))
	while :; do
		eval "$cmd" && return 0
		[ $(( $(date +%s%N) / 1000000 )) -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# tb_ns NAME: cli|gw|in|rt (or a full namespace name) -> namespace name
tb_ns() {
	case $1 in
	cli | client) echo "$TB_NS_CLI" ;;
	gw | gateway) echo "$TB_NS_GW" ;;
	in | inside) echo "$TB_NS_IN" ;;
	rt | router) echo "$TB_NS_RT" ;;
	*) echo "$1" ;;
	esac
}

# tb_ns_exec NS CMD...: run CMD in namespace NS (cli|gw|in or full name).
tb_ns_exec() {
	local ns
	ns=$(tb_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

# tb_check: 0 if this machine can run the testbed, else prints why (1).
tb_check() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root"
		return 1
	fi
	local t
	for t in ip unshare nft awk "$TB_CHARON" "$TB_SWANCTL"; do
		command -v "$t" >/dev/null 2>&1 || {
			echo "missing $t (strongSwan: strongswan-charon strongswan-swanctl)"
			return 1
		}
	done
	[ -e /dev/net/tun ] || {
		echo "no /dev/net/tun"
		return 1
	}
	case $TB_UPLINKS in
	1) ;;
	2)
		[ "${TB_IPV6:-0}" = 1 ] && {
			echo "TB_UPLINKS=2 is IPv4 only (TB_IPV6=1 given)"
			return 1
		} ;;
	*)
		echo "TB_UPLINKS=$TB_UPLINKS: want 1 or 2"
		return 1 ;;
	esac
	local probe=$TB_PREFIX-probe$$
	if ! ip netns add "$probe" 2>/dev/null; then
		echo "cannot create network namespaces (ip netns add failed)"
		return 1
	fi
	ip netns del "$probe"
	return 0
}

# Serialise testbeds with the same prefix (the names are fixed). The lock is
# held until the sourcing shell exits or tb_down runs.
tb__lock() {
	[ -n "${TB_LOCK_FD:-}" ] && return 0
	exec {TB_LOCK_FD}>"/tmp/ikeagent-testbed-$TB_PREFIX.lock"
	if ! flock -w 120 "$TB_LOCK_FD"; then
		tb_log "another testbed ($TB_PREFIX) is still running after 120 s"
		# Not ours: forget the fd, or a later tb_down would think it holds the lock.
		exec {TB_LOCK_FD}>&-
		unset TB_LOCK_FD
		return 1
	fi
}
tb__unlock() {
	[ -n "${TB_LOCK_FD:-}" ] || return 0
	exec {TB_LOCK_FD}>&-
	unset TB_LOCK_FD
}

# tb__bg LOG CMD...: start CMD in the background, output to LOG, without
# inheriting the testbed lock (a daemon holding it would block the next run).
tb__bg() {
	local log=$1
	shift
	if [ -n "${TB_LOCK_FD:-}" ]; then
		"$@" >"$log" 2>&1 </dev/null {TB_LOCK_FD}>&- &
	else
		"$@" >"$log" 2>&1 </dev/null &
	fi
	TB_BG_PID=$!
}

tb__ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

# Kill every process in namespace $1: TERM, wait up to 5 s, then KILL.
tb__ns_kill_all() {
	local ns=$1 pids
	pids=$(ip netns pids "$ns" 2>/dev/null)
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086 # one pid per word
	kill $pids 2>/dev/null
	tb_wait_for "[ -z \"\$(ip netns pids $ns 2>/dev/null)\" ]" 5 && return 0
	pids=$(ip netns pids "$ns" 2>/dev/null)
	# shellcheck disable=SC2086
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	tb_wait_for "[ -z \"\$(ip netns pids $ns 2>/dev/null)\" ]" 2
}

# tb_down: remove everything an earlier (possibly failed) run left behind.
# Only with the lock held: never tear down a testbed another run is using.
tb_down() {
	if [ -z "${TB_LOCK_FD:-}" ] && ! tb__lock; then
		tb_log "not cleaning up: another testbed ($TB_PREFIX) holds the lock"
		return 0
	fi
	tb__cleanup
	tb__unlock
	return 0
}

tb__cleanup() {
	local ns l
	for ns in "$TB_NS_CLI" "$TB_NS_RT" "$TB_NS_GW" "$TB_NS_IN"; do
		tb__ns_exists "$ns" || continue
		tb__ns_kill_all "$ns"
		ip netns del "$ns" 2>/dev/null || tb_log "could not delete namespace $ns"
	done
	# Veths are created inside the namespaces and die with them; this only
	# catches an interface of ours that ended up in the root namespace.
	for l in "$TB_IF_CLI" "$TB_IF_GW_OUT" "$TB_IF_GW_IN" "$TB_IF_IN" "$TB_IF_CLI_B" \
		"$TB_IF_RT_A" "$TB_IF_RT_B" "$TB_IF_RT_GW"; do
		ip link show "$l" >/dev/null 2>&1 && ip link del "$l" 2>/dev/null
	done
	case $TB_DIR in
	/tmp/ikeagent-testbed*)
		if [ "${TB_KEEP:-0}" != 1 ]; then rm -rf "$TB_DIR"; fi ;;
	*) tb_log "not removing $TB_DIR (outside /tmp/ikeagent-testbed*)" ;;
	esac
	return 0
}

# tb_up: namespaces, veths, addresses, forwarding, inside services.
tb_up() {
	local why
	why=$(tb_check) || {
		tb_log "cannot run: $why"
		return 1
	}
	tb__lock || return 1
	TB_KEEP=0 tb__cleanup
	mkdir -p "$TB_DIR"/{gw,cli,in,pki} || return 1
	local ns nss=("$TB_NS_CLI" "$TB_NS_GW" "$TB_NS_IN")
	[ "$TB_UPLINKS" = 2 ] && nss+=("$TB_NS_RT")
	for ns in "${nss[@]}"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		# rp_filter off: decrypted packets arrive on ipsec0.
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	done
	if [ "$TB_UPLINKS" = 2 ]; then
		tb__uplinks_up || return 1
	else
		ip -n "$TB_NS_CLI" link add "$TB_IF_CLI" type veth peer name "$TB_IF_GW_OUT" netns "$TB_NS_GW" || return 1
		ip -n "$TB_NS_CLI" addr add "$TB_CLI_ADDR/24" dev "$TB_IF_CLI"
		ip -n "$TB_NS_GW" addr add "$TB_GW_ADDR/24" dev "$TB_IF_GW_OUT"
	fi
	ip -n "$TB_NS_GW" link add "$TB_IF_GW_IN" type veth peer name "$TB_IF_IN" netns "$TB_NS_IN" || return 1
	ip -n "$TB_NS_GW" addr add "$TB_GW_IN_ADDR/24" dev "$TB_IF_GW_IN"
	ip -n "$TB_NS_IN" addr add "$TB_IN_ADDR/24" dev "$TB_IF_IN"
	if [ "${TB_IPV6:-0}" = 1 ]; then
		ip -n "$TB_NS_CLI" addr add "$TB_CLI_ADDR6/64" dev "$TB_IF_CLI" nodad
		ip -n "$TB_NS_GW" addr add "$TB_GW_ADDR6/64" dev "$TB_IF_GW_OUT" nodad
		ip -n "$TB_NS_GW" addr add fd99:1::1/64 dev "$TB_IF_GW_IN" nodad
		ip -n "$TB_NS_IN" addr add "$TB_IN_ADDR6/64" dev "$TB_IF_IN" nodad
		ip netns exec "$TB_NS_GW" sysctl -qw net.ipv6.conf.all.forwarding=1
	fi
	ip -n "$TB_NS_CLI" link set "$TB_IF_CLI" up
	ip -n "$TB_NS_GW" link set "$TB_IF_GW_OUT" up
	ip -n "$TB_NS_GW" link set "$TB_IF_GW_IN" up
	ip -n "$TB_NS_IN" link set "$TB_IF_IN" up
	ip netns exec "$TB_NS_GW" sysctl -qw net.ipv4.ip_forward=1
	# The client's uplink: a default route to the gateway ("the internet").
	# Two uplinks: one per uplink (tb__uplinks_up); the gateway reaches
	# both client networks via ika-rt, and nothing else (no default route:
	# the inside host's DNS lookups, e.g. http.server's getfqdn, must fail
	# at once, not time out behind the gateway's forward filter).
	if [ "$TB_UPLINKS" = 2 ]; then
		ip -n "$TB_NS_GW" route add 10.99.0.0/24 via "$TB_RT_ADDR_GW"
		ip -n "$TB_NS_GW" route add 10.98.0.0/24 via "$TB_RT_ADDR_GW"
	else
		ip -n "$TB_NS_CLI" route add default via "$TB_GW_ADDR"
	fi
	ip -n "$TB_NS_IN" route add default via "$TB_GW_IN_ADDR"
	if [ "${TB_IPV6:-0}" = 1 ]; then
		ip -n "$TB_NS_CLI" -6 route add default via "$TB_GW_ADDR6"
		ip -n "$TB_NS_IN" -6 route add default via fd99:1::1
	fi
	if [ "${TB_GW_FILTER:-1}" = 1 ]; then
		# Cleartext from the client veth is never forwarded inside; only
		# what leaves the tunnel (ipsec0) is. A ping that works went
		# through ESP.
		ip netns exec "$TB_NS_GW" nft -f - <<-EOF || return 1
			table inet ikatb {
				chain forward {
					type filter hook forward priority 0; policy accept;
					iifname "$TB_IF_GW_OUT" drop
				}
			}
		EOF
	fi
	if [ "${TB_INSIDE_SERVICES:-1}" = 1 ]; then
		tb__inside_start || return 1
	fi
	tb_log "up: $TB_NS_CLI $TB_NS_GW $TB_NS_IN (dir $TB_DIR)"
}

tb__python() { if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi; }

# Inside host: ICMP answers by itself; iperf3 -s on 5201, HTTP on 8080
# serving $TB_DIR/in/www (hello.txt, blob-1M.bin and its .sha256).
tb__inside_start() {
	local www=$TB_DIR/in/www py
	mkdir -p "$www"
	echo "hello from the ikeagent testbed inside host" >"$www/hello.txt"
	head -c 1048576 /dev/urandom >"$www/blob-1M.bin"
	(cd "$www" && sha256sum blob-1M.bin >blob-1M.bin.sha256)
	if command -v iperf3 >/dev/null 2>&1; then
		tb__bg "$TB_DIR/in/iperf3.log" ip netns exec "$TB_NS_IN" iperf3 -s -B "$TB_IN_ADDR"
	fi
	py=$(tb__python)
	if [ -n "$py" ]; then
		tb__bg "$TB_DIR/in/http.log" ip netns exec "$TB_NS_IN" "$py" -m http.server \
			"$TB_HTTP_PORT" --bind "$TB_IN_ADDR" --directory "$www"
	fi
	tb_wait_for "tb__listening $TB_NS_IN $TB_HTTP_PORT" "$TB_TIMEOUT" || {
		tb_log "inside HTTP server did not start (see $TB_DIR/in/http.log)"
		return 1
	}
	if [ "${TB_IPV6:-0}" = 1 ]; then
		tb__bg "$TB_DIR/in/http6.log" ip netns exec "$TB_NS_IN" "$py" -m http.server \
			"$TB_HTTP_PORT" --bind "$TB_IN_ADDR6" --directory "$www"
		tb_wait_for "ip netns exec $TB_NS_IN ss -Hltn6 'sport = :$TB_HTTP_PORT' | grep -q ." "$TB_TIMEOUT" || {
			tb_log "inside HTTP server on $TB_IN_ADDR6 did not start (see $TB_DIR/in/http6.log)"
			return 1
		}
	fi
	if command -v iperf3 >/dev/null 2>&1; then
		tb_wait_for "tb__listening $TB_NS_IN 5201" "$TB_TIMEOUT" || {
			tb_log "iperf3 -s did not start (see $TB_DIR/in/iperf3.log)"
			return 1
		}
	fi
}
tb__listening() { ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q .; }

# ---- PKI (certificate variants) -------------------------------------------

# tb_pki_init: CA + gateway certificate for RSA and ECDSA in $TB_DIR/pki
# (generated once per testbed). SAN = gateway FQDN and addresses. And a
# client certificate of each type (EAP-TLS), issued by the CA of its type:
# client-TYPE.pem/.key, CN and SAN = TB_CLI_ID.
tb_pki_init() {
	local d=$TB_DIR/pki t size
	[ -s "$d/client-ecdsa.pem" ] && return 0
	mkdir -p "$d"
	for t in rsa ecdsa; do
		if [ $t = rsa ]; then size=2048; else size=256; fi
		# stderr to a log: pki loads every plugin and complains about tpm.
		{
			pki --gen --type $t --size $size --outform pem >"$d/ca-$t.key" &&
				pki --self --ca --lifetime 3650 --in "$d/ca-$t.key" --type $t \
					--dn "C=CH, O=ikeagent testbed, CN=ikeagent testbed $t CA" \
					--outform pem >"$d/ca-$t.pem" &&
				pki --gen --type $t --size $size --outform pem >"$d/gw-$t.key" &&
				pki --pub --in "$d/gw-$t.key" --type $t |
				pki --issue --lifetime 825 --cacert "$d/ca-$t.pem" --cakey "$d/ca-$t.key" \
					--dn "C=CH, O=ikeagent testbed, CN=$TB_GW_ID" --san "$TB_GW_ID" \
					--san "$TB_GW_ADDR" --san "$TB_GW_ADDR6" \
					--flag serverAuth --flag ikeIntermediate --outform pem >"$d/gw-$t.pem" &&
				pki --gen --type $t --size $size --outform pem >"$d/client-$t.key" &&
				pki --pub --in "$d/client-$t.key" --type $t |
				pki --issue --lifetime 825 --cacert "$d/ca-$t.pem" --cakey "$d/ca-$t.key" \
					--dn "C=CH, O=ikeagent testbed, CN=$TB_CLI_ID" --san "$TB_CLI_ID" \
					--flag clientAuth --outform pem >"$d/client-$t.pem"
		} 2>>"$d/pki.log" || {
			tb_log "pki failed for $t (see $d/pki.log)"
			return 1
		}
	done
}

# ---- charon instances --------------------------------------------------------

# tb__render TEMPLATE OUT: replace every @NAME@ with $TBV_NAME (exported).
tb__render() {
	awk '{
		line = $0; out = ""
		while (match(line, /@[A-Z0-9_]+@/)) {
			name = "TBV_" substr(line, RSTART + 1, RLENGTH - 2)
			if (name in ENVIRON) v = ENVIRON[name]; else { v = substr(line, RSTART, RLENGTH); bad = 1 }
			out = out substr(line, 1, RSTART - 1) v
			line = substr(line, RSTART + RLENGTH)
		}
		print out line
	} END { exit bad }' "$1" >"$2" || {
		tb_log "unsubstituted placeholder in $2: $(grep -o '@[A-Z0-9_]*@' "$2" | sort -u | tr '\n' ' ')"
		return 1
	}
}

# tb__strongswan_conf ROLE: render $TB_DIR/ROLE/strongswan.conf
tb__strongswan_conf() {
	local role=$1 ike=2 chd=1
	# Level 4 of "ike" prints SKEYSEED and SK_*, of "chd" the ESP keys.
	[ "${TB_LOG_KEYS:-0}" = 1 ] && ike=4 chd=4
	local -x TBV_ROLE=$role TBV_LOGFILE=$TB_DIR/$role/charon.log \
		TBV_VICI=$TB_DIR/$role/charon.vici TBV_LOG_IKE=$ike TBV_LOG_CHD=$chd \
		TBV_LOG_ENC=${TB_LOG_ENC:-1} TBV_LOG_ESP=${TB_LOG_ESP:-1} \
		TBV_FWMARK=${TB_FWMARK:-0x1a1a} TBV_FRAGMENT_SIZE=${TB_FRAGMENT_SIZE:-1280} \
		TBV_RETRANSMIT_TIMEOUT=${TB_RETRANSMIT_TIMEOUT:-2.0} \
		TBV_RETRANSMIT_TRIES=${TB_RETRANSMIT_TRIES:-3} \
		TBV_PREFER_BEST_PATH=${TB_PREFER_BEST_PATH:-no} \
		TBV_TLS_MIN=${TB_TLS_MIN:-1.2} TBV_TLS_MAX=${TB_TLS_MAX:-1.2}
	tb__render "$TB_TEMPLATES/strongswan.conf.in" "$TB_DIR/$role/strongswan.conf"
}

# tb__variant_vars VARIANT: sets the TBV_* shared by gateway and client.
tb__variant_vars() {
	local w
	TBV_VARIANT=${1:-psk}
	TBV_GW_AUTH=psk TBV_CLI_AUTH=psk TBV_GW_CERTS="" TBV_CLI_EAP_ID="" TBV_EAP_SECRET=""
	TBV_CLI_CERTS=""
	TB_V_CERT="" TB_V_FULL=0 TB_V_V6=0
	for w in ${TBV_VARIANT//[,+]/ }; do
		case $w in
		psk) ;;
		rsa | ecdsa)
			TB_V_CERT=$w TBV_GW_AUTH=pubkey
			TBV_GW_CERTS="            certs = gw-$w.pem" ;;
		eap)
			[ "$TBV_CLI_AUTH" = eap-tls ] && { tb_log "variant: eap and eaptls exclude each other"; return 1; }
			TBV_CLI_AUTH=eap-mschapv2
			TBV_EAP_SECRET=$(printf '    eap-testbed {\n        id = %s\n        secret = "%s"\n    }' "$TB_EAP_USER" "$TB_EAP_PASS") ;;
		eaptls)
			[ "$TBV_CLI_AUTH" = eap-mschapv2 ] && { tb_log "variant: eap and eaptls exclude each other"; return 1; }
			TBV_CLI_AUTH=eap-tls ;;
		full) TB_V_FULL=1 ;;
		split) TB_V_FULL=0 ;;
		v6) TB_V_V6=1 ;;
		*)
			tb_log "unknown variant word '$w' (psk rsa ecdsa eap eaptls full split v6)"
			return 1 ;;
		esac
	done
	TBV_PSK=$TB_PSK TBV_GW_ID=$TB_GW_ID TBV_CLI_ID=$TB_CLI_ID
	TBV_MOBIKE=${TB_MOBIKE:-yes} TBV_DPD_DELAY=${TB_DPD_DELAY:-30s}
	TBV_IKE_REKEY_TIME=${TB_IKE_REKEY_TIME:-4h} TBV_CHILD_REKEY_TIME=${TB_CHILD_REKEY_TIME:-1h}
	TBV_RAND_TIME=${TB_RAND_TIME:-0}
}

# tb__charon_start ROLE NS: start charon in NS with a private /run, its own
# STRONGSWAN_CONF and vici socket; wait until vici answers.
tb__charon_start() {
	local role=$1 ns=$2 d=$TB_DIR/$1
	tb__charon_running "$role" && {
		tb_log "$role charon already running"
		return 1
	}
	rm -rf "$d/run" "$d/charon.vici"
	mkdir -p "$d/run"
	# shellcheck disable=SC2016 # expanded by the inner sh
	tb__bg "$d/charon.out" ip netns exec "$ns" unshare -m --propagation private sh -c \
		'mount --bind "$1" /run && STRONGSWAN_CONF="$2" exec "$3"' tb-charon \
		"$d/run" "$d/strongswan.conf" "$TB_CHARON"
	echo "$TB_BG_PID" >"$d/charon.tbpid"
	if ! tb_wait_for "tb__swanctl $role --stats >/dev/null 2>&1" "$TB_TIMEOUT"; then
		tb_log "$role charon did not come up; $d/charon.out:"
		tail -n 20 "$d/charon.out" >&2
		return 1
	fi
	tb__plugins_check "$role"
}

# The Debian 12 package that ships strongSwan plugin $1 (libstrongswan has the rest).
tb__plugin_package() {
	case $1 in
	gcm | openssl) echo libstrongswan-standard-plugins ;;
	chapoly | curve25519 | cmac) echo libstrongswan-extra-plugins ;;
	eap-identity | eap-tls | kernel-libipsec) echo libcharon-extra-plugins ;;
	eap-mschapv2) echo libcharon-extauth-plugins ;;
	socket-default) echo strongswan-libcharon ;;
	vici) echo strongswan-swanctl ;;
	*) echo libstrongswan ;;
	esac
}

# tb__plugins_check ROLE: every plugin the rendered strongswan.conf loads
# must be loaded (charon skips a missing one with a log line only, and then
# fails much later, e.g. "key derivation failed" without the openssl plugin).
tb__plugins_check() {
	local role=$1 want have p
	want=$(sed -n 's/^[[:space:]]*load[[:space:]]*=[[:space:]]*\([a-z].*\)$/\1/p' \
		"$TB_DIR/$role/strongswan.conf" | head -n 1)
	have=" $(tb__swanctl "$role" --stats 2>/dev/null | sed -n 's/^loaded plugins: //p') "
	for p in $want; do
		case $have in
		*" $p "*) ;;
		*)
			tb_log "strongSwan plugin '$p' did not load: install the Debian package $(tb__plugin_package "$p") (scripts/deps.sh)"
			return 1
			;;
		esac
	done
}

tb__charon_running() {
	local f=$TB_DIR/$1/charon.tbpid
	[ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

tb__charon_stop() {
	local role=$1 f=$TB_DIR/$1/charon.tbpid pid
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		tb_wait_for "! kill -0 $pid 2>/dev/null" 5 || kill -9 "$pid" 2>/dev/null
		tb_wait_for "! kill -0 $pid 2>/dev/null" 2
	fi
	rm -f "$f"
}

# tb__swanctl ROLE ARGS...: swanctl against that charon's vici socket, with
# the credential directories (x509, x509ca, private) of $TB_DIR/ROLE.
tb__swanctl() {
	local role=$1
	shift
	SWANCTL_DIR=$TB_DIR/$role "$TB_SWANCTL" "$@" --uri "unix://$TB_DIR/$role/charon.vici"
}
tb_gw_swanctl() { tb__swanctl gw "$@"; }
tb_cli_swanctl() { tb__swanctl cli "$@"; }

# tb_gw_start [VARIANT]: render the gateway configs, start charon in ika-gw,
# load connection, secrets and pool.
tb_gw_start() {
	local d=$TB_DIR/gw
	local -x TBV_VARIANT TBV_GW_AUTH TBV_CLI_AUTH TBV_GW_CERTS TBV_CLI_EAP_ID \
		TBV_CLI_CERTS TBV_EAP_SECRET TBV_PSK TBV_GW_ID TBV_CLI_ID TBV_MOBIKE TBV_DPD_DELAY \
		TBV_IKE_REKEY_TIME TBV_CHILD_REKEY_TIME TBV_RAND_TIME \
		TBV_GW_ADDRS TBV_POOLS TBV_LOCAL_TS TBV_IKE_PROPOSALS TBV_ESP_PROPOSALS
	local TB_V_CERT TB_V_FULL TB_V_V6
	tb__variant_vars "${1:-psk}" || return 1
	# EAP: ask the client for its EAP identity (EAP-Identity) first.
	case $TBV_CLI_AUTH in eap-*) TBV_CLI_EAP_ID="            eap_id = %any" ;; esac
	TBV_GW_ADDRS=$TB_GW_ADDR TBV_POOLS=vpool
	TBV_IKE_PROPOSALS=$TB_IKE_PROPOSALS TBV_ESP_PROPOSALS=$TB_ESP_PROPOSALS
	if [ "$TB_V_FULL" = 1 ]; then TBV_LOCAL_TS=0.0.0.0/0; else TBV_LOCAL_TS=$TB_INSIDE_NET; fi
	if [ "$TB_V_V6" = 1 ]; then
		TBV_GW_ADDRS="$TB_GW_ADDR, $TB_GW_ADDR6" TBV_POOLS="vpool, vpool6"
		if [ "$TB_V_FULL" = 1 ]; then TBV_LOCAL_TS="$TBV_LOCAL_TS, ::/0"; else TBV_LOCAL_TS="$TBV_LOCAL_TS, fd99:1::/64"; fi
	fi
	mkdir -p "$d"/{x509,x509ca,private}
	rm -f "$d"/x509/* "$d"/x509ca/* "$d"/private/*
	if [ -n "$TB_V_CERT" ]; then
		tb_pki_init || return 1
		cp "$TB_DIR/pki/gw-$TB_V_CERT.pem" "$d/x509/"
		cp "$TB_DIR/pki/ca-$TB_V_CERT.pem" "$d/x509ca/"
		cp "$TB_DIR/pki/gw-$TB_V_CERT.key" "$d/private/"
	fi
	if [ "$TBV_CLI_AUTH" = eap-tls ]; then
		# Client certificates of either type: both CAs are trusted.
		tb_pki_init || return 1
		cp "$TB_DIR/pki/ca-rsa.pem" "$TB_DIR/pki/ca-ecdsa.pem" "$d/x509ca/"
	fi
	tb__strongswan_conf gw || return 1
	tb__render "$TB_TEMPLATES/gw-swanctl.conf.in" "$d/swanctl.conf" || return 1
	echo "$TBV_VARIANT" >"$d/variant"
	tb__charon_start gw "$TB_NS_GW" || return 1
	if ! tb_gw_swanctl --load-all --noprompt --file "$d/swanctl.conf" >"$d/load.out" 2>&1; then
		tb_log "gateway swanctl --load-all failed:"
		cat "$d/load.out" >&2
		return 1
	fi
	tb_log "gateway up (variant $TBV_VARIANT, log $d/charon.log)"
}

tb_gw_stop() { tb__charon_stop gw; }

# tb_gw_wait_child [TIMEOUT]: wait until the gateway has an ESTABLISHED IKE
# SA with an INSTALLED CHILD_SA (e.g. after ikeagent connected).
tb_gw_wait_child() {
	tb_wait_for "tb_gw_swanctl --list-sas 2>/dev/null | grep -q 'INSTALLED'" "${1:-$TB_TIMEOUT}"
}

# tb_client_ss_start [VARIANT]: strongSwan client (initiator) in ika-cli.
# VARIANT defaults to the gateway's. Connects (tb_client_ss_initiate) unless
# TB_CLI_INITIATE=0.
tb_client_ss_start() {
	local d=$TB_DIR/cli variant=${1:-}
	[ -n "$variant" ] || variant=$(cat "$TB_DIR/gw/variant" 2>/dev/null || echo psk)
	local -x TBV_VARIANT TBV_GW_AUTH TBV_CLI_AUTH TBV_GW_CERTS TBV_CLI_EAP_ID \
		TBV_CLI_CERTS TBV_EAP_SECRET TBV_PSK TBV_GW_ID TBV_CLI_ID TBV_MOBIKE TBV_DPD_DELAY \
		TBV_IKE_REKEY_TIME TBV_CHILD_REKEY_TIME TBV_RAND_TIME \
		TBV_GW_ADDR TBV_VIPS TBV_REMOTE_TS TBV_IKE_PROPOSALS TBV_ESP_PROPOSALS
	local TB_V_CERT TB_V_FULL TB_V_V6
	tb__variant_vars "$variant" || return 1
	case $TBV_CLI_AUTH in
	eap-mschapv2) TBV_CLI_EAP_ID="            eap_id = ${TB_CLI_EAP_ID:-$TB_EAP_USER}" ;;
	eap-tls)
		TBV_CLI_EAP_ID="            eap_id = ${TB_CLI_EAP_ID:-$TB_CLI_ID}"
		TBV_CLI_CERTS="            certs = client-${TB_CLI_CERT:-rsa}.pem" ;;
	esac
	TBV_GW_ADDR=${TB_CLI_GW_ADDR:-$TB_GW_ADDR} TBV_VIPS=0.0.0.0
	TBV_IKE_PROPOSALS=$TB_CLI_PROPOSALS TBV_ESP_PROPOSALS=$TB_CLI_ESP_PROPOSALS
	if [ "$TB_V_FULL" = 1 ]; then TBV_REMOTE_TS=0.0.0.0/0; else TBV_REMOTE_TS=$TB_INSIDE_NET; fi
	if [ "$TB_V_V6" = 1 ]; then
		TBV_VIPS="0.0.0.0, ::"
		if [ "$TB_V_FULL" = 1 ]; then TBV_REMOTE_TS="$TBV_REMOTE_TS, ::/0"; else TBV_REMOTE_TS="$TBV_REMOTE_TS, fd99:1::/64"; fi
	fi
	mkdir -p "$d"/{x509,x509ca,private}
	rm -f "$d"/x509/* "$d"/x509ca/* "$d"/private/*
	if [ -n "$TB_V_CERT" ]; then
		tb_pki_init || return 1
		cp "$TB_DIR/pki/ca-${TB_CLI_CA:-$TB_V_CERT}.pem" "$d/x509ca/" || return 1
	fi
	if [ "$TBV_CLI_AUTH" = eap-tls ]; then
		tb_pki_init || return 1
		cp "$TB_DIR/pki/client-${TB_CLI_CERT:-rsa}.pem" "$d/x509/" &&
			cp "$TB_DIR/pki/client-${TB_CLI_CERT:-rsa}.key" "$d/private/" || return 1
	fi
	tb__strongswan_conf cli || return 1
	tb__render "$TB_TEMPLATES/cli-swanctl.conf.in" "$d/swanctl.conf" || return 1
	tb__charon_start cli "$TB_NS_CLI" || return 1
	if ! tb_cli_swanctl --load-all --noprompt --file "$d/swanctl.conf" >"$d/load.out" 2>&1; then
		tb_log "client swanctl --load-all failed:"
		cat "$d/load.out" >&2
		return 1
	fi
	[ "${TB_CLI_INITIATE:-1}" = 0 ] && return 0
	tb_client_ss_initiate
}

# tb_client_ss_initiate: bring up IKE SA + CHILD_SA "net"; wait for INSTALLED.
tb_client_ss_initiate() {
	local d=$TB_DIR/cli
	if ! tb_cli_swanctl --initiate --child net --timeout "$TB_TIMEOUT" >"$d/initiate.out" 2>&1; then
		tb_log "client initiate failed:"
		tail -n 15 "$d/initiate.out" >&2
		return 1
	fi
	if ! tb_wait_for "tb_cli_swanctl --list-sas 2>/dev/null | grep -q INSTALLED" "$TB_TIMEOUT"; then
		tb_log "client CHILD_SA not INSTALLED within $TB_TIMEOUT s"
		return 1
	fi
	tb_log "strongSwan client connected (log $d/charon.log)"
}

tb_client_ss_stop() { tb__charon_stop cli; }

# tb_ping NS ADDR [COUNT]: ICMP echo from namespace NS; 0 if any of COUNT
# (default 1) requests is answered within 1 s each. Uses ping(8) when
# installed (iputils-ping), else a raw-socket echo in python3.
tb_ping() {
	local ns count=${3:-1}
	ns=$(tb_ns "$1")
	if command -v ping >/dev/null 2>&1; then
		ip netns exec "$ns" ping -n -q -c "$count" -W 1 "$2" >/dev/null 2>&1
		return
	fi
	ip netns exec "$ns" "$(tb__python)" - "$2" "$count" <<-'EOF'
		import os, select, socket, struct, sys, time
		addr, count = sys.argv[1], int(sys.argv[2])
		v6 = ":" in addr
		fam, proto, req, rep = ((socket.AF_INET6, socket.IPPROTO_ICMPV6, 128, 129) if v6
		                        else (socket.AF_INET, socket.IPPROTO_ICMP, 8, 0))
		s = socket.socket(fam, socket.SOCK_RAW, proto)
		ident = os.getpid() & 0xffff
		def csum(b):
		    if len(b) % 2: b += b"\0"
		    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
		    t = (t >> 16) + (t & 0xffff); t += t >> 16
		    return ~t & 0xffff
		for seq in range(1, count + 1):
		    body = struct.pack("!HH", ident, seq) + b"ikeagent-testbed"
		    hdr = struct.pack("!BBH", req, 0, 0)
		    c = 0 if v6 else csum(hdr + body)  # the kernel fills in ICMPv6's
		    s.sendto(struct.pack("!BBH", req, 0, c) + body, (addr, 0))
		    end = time.monotonic() + 1.0
		    while (left := end - time.monotonic()) > 0:
		        if not select.select([s], [], [], left)[0]: break
		        pkt, src = s.recvfrom(2048)
		        if not v6: pkt = pkt[(pkt[0] & 15) * 4:]
		        if (src[0] == addr and len(pkt) >= 8 and pkt[0] == rep
		                and struct.unpack("!HH", pkt[4:8]) == (ident, seq)):
		            sys.exit(0)
		sys.exit(1)
	EOF
}

# tb_ping_inside [COUNT]: ping the inside host 10.99.1.2 from the client.
tb_ping_inside() { tb_ping cli "$TB_IN_ADDR" "${1:-1}"; }

# ---- in front of the gateway: ikerelay, tinyproxy, filters in the client -----

# tb_templates_relayed DIR: use a copy of the templates in DIR whose gateway
# is set up as ikerelay(8) tells operators: every client behind the relay
# comes from the relay's address, so strongSwan's per-address block (5
# half-open IKE SAs in 5.9) is raised to what the relay lets through
# (block_threshold = 400); its COOKIE thresholds stay as they are, and
# clients behind the relay answer COOKIEs. Idempotent.
tb_templates_relayed() {
	local d=$1 conf=$1/strongswan.conf.in
	if [ "$TB_TEMPLATES" != "$d" ]; then
		mkdir -p "$d" && cp "$TB_TEMPLATES"/*.in "$d/" || return 1
		TB_TEMPLATES=$d
	fi
	grep -q block_threshold "$conf" && return 0
	sed -i 's/^\(    port_nat_t = 4500\)$/\1\n    block_threshold = 400/' "$conf"
	grep -q block_threshold "$conf"
}

# tb_relay_start RELAY DIR: ikerelay in the gateway namespace on TCP 4500 and
# TLS 443 (a fresh self-signed certificate in DIR), forwarding to the
# gateway's UDP 4500, running as nobody once bound; log DIR/relay.log, pid
# TB_RELAY_PID. 1 if not started.
tb_relay_start() {
	local relay=$1 dir=$2
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=ikerelay-testbed -addext "subjectAltName=IP:$TB_GW_ADDR" \
		-keyout "$dir/relay-key.pem" -out "$dir/relay-cert.pem" >"$dir/openssl.log" 2>&1 || {
		tb_log "openssl could not make the relay's certificate"
		return 1
	}
	tb__bg "$dir/relay.log" ip netns exec "$TB_NS_GW" "$relay" --listen "$TB_GW_ADDR:4500" \
		--listen-tls "$TB_GW_ADDR:443" --cert "$dir/relay-cert.pem" \
		--key "$dir/relay-key.pem" --gateway "$TB_GW_ADDR:4500" --user nobody
	TB_RELAY_PID=$TB_BG_PID
	tb_wait_for "grep -q 'relay: running as nobody' '$dir/relay.log'" 5
}

# tb_proxy_start DIR PORT USER PASS CONNECTPORT...: tinyproxy in the gateway
# namespace on TB_GW_ADDR:PORT for the client only, Basic auth, CONNECT to
# the given ports; log DIR/tinyproxy.log, pid TB_PROXY_PID. 1 if not listening.
tb_proxy_start() {
	local dir=$1 port=$2 user=$3 pass=$4 p
	shift 4
	chmod 755 "$dir"	# tinyproxy runs as nobody and writes its log here
	{
		echo "User nobody"
		echo "Group nogroup"
		echo "Port $port"
		echo "Listen $TB_GW_ADDR"
		echo "Timeout 60"
		echo "LogFile \"$dir/tinyproxy.log\""
		echo "LogLevel Info"
		echo "MaxClients 20"
		echo "Allow $TB_CLI_ADDR"
		[ "$TB_UPLINKS" = 2 ] && printf 'Allow %s\nAllow %s\n' "$TB_CLI_ADDR_B" "$TB_RT_ADDR_GW"
		echo "DisableViaHeader Yes"
		echo "BasicAuth $user $pass"
		for p in "$@"; do echo "ConnectPort $p"; done
	} >"$dir/tinyproxy.conf"
	: >"$dir/tinyproxy.log"
	chmod 666 "$dir/tinyproxy.log"
	tb__bg "$dir/tinyproxy.out" ip netns exec "$TB_NS_GW" tinyproxy -d -c "$dir/tinyproxy.conf"
	TB_PROXY_PID=$TB_BG_PID
	tb_wait_for "tb__listening $TB_NS_GW $port" 5
}

# tb_stop_pid PID [SECONDS]: TERM, up to SECONDS (5), then KILL; reaps it.
tb_stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	tb_wait_for "! kill -0 $1 2>/dev/null" "${2:-5}" || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# tb_block TABLE WHAT...: drop the client's traffic to the gateway in an
# nftables TABLE of the client namespace (replacing it). WHAT: udp (500 and
# 4500) | tcp4500 | tls443 | only-port=N (everything but TCP to port N).
# No WHAT: remove the table. 2 for an unknown WHAT.
tb_block() {
	local table=$1 rules="" w
	shift
	tb_ns_exec cli nft delete table inet "$table" 2>/dev/null
	[ $# -gt 0 ] || return 0
	for w in "$@"; do
		case $w in
		udp) rules="$rules ip daddr $TB_GW_ADDR udp dport { 500, 4500 } drop;" ;;
		tcp4500) rules="$rules ip daddr $TB_GW_ADDR tcp dport 4500 drop;" ;;
		tls443) rules="$rules ip daddr $TB_GW_ADDR tcp dport 443 drop;" ;;
		only-port=*)
			rules="$rules ip daddr $TB_GW_ADDR tcp dport ${w#only-port=} accept;"
			rules="$rules oifname \"$TB_IF_CLI\" drop;" ;;
		*) tb_log "tb_block: unknown '$w'"; return 2 ;;
		esac
	done
	tb_ns_exec cli nft -f - <<-EOF
		table inet $table {
			chain output {
				type filter hook output priority 0; policy accept;
				$rules
			}
		}
	EOF
}

# ---- two uplinks (TB_UPLINKS=2) -------------------------------------------------
# A laptop with two networks, A (10.99.0.0/24) and B (10.98.0.0/24), each
# with its own router address on ika-rt, which routes both to the gateway's
# one address (TB_GW_ADDR=10.97.0.1). Changes are made the way a laptop
# sees them: an address goes (DHCP lease gone) or the link goes down, and
# comes back with its default route (A metric 100, B metric 200: the one
# with the lowest metric that is there is in use). Filters that make one
# network hostile sit in ika-rt (forwarding), so the client sees a silent
# network, not EPERM, and the other uplink is untouched.
#
#   tb_uplink_add X        address + default route on X (idempotent; link up)
#   tb_uplink_del X        the address of X goes (the kernel drops its routes)
#   tb_uplink_down X [admin|carrier]  admin (default): the client sets X down
#                          (routes flushed, address kept); carrier: the far
#                          end goes down (NO-CARRIER; routes ignored as
#                          linkdown, net.ipv4.conf.all.ignore_routes_with_linkdown=1)
#   tb_uplink_up X         both ends up again, address and route back
#   tb_uplink_use X [addr|link]  X up; the other one gone (by address/link)
#   tb_uplink_block X [WHAT...]  in ika-rt, network X drops WHAT: udp (all
#                          UDP), ike (UDP 500/4500), tcp4500, tls443, all;
#                          no WHAT: X passes everything again
#   tb_uplink_current      A, B or none: the uplink the client's route to
#                          the gateway takes now
#   tb_uplink_state        one line per uplink and the one in use (print)
#   tb_uplink_addr X       the client's address on X; tb_uplink_seen X: the
#                          address the gateway sees (B behind NAT: 10.97.0.254)
# X: A or B (a or b).

# tb__uplink X: sets UL_IF UL_RTIF UL_ADDR UL_RT UL_METRIC (2 for a bad X).
tb__uplink() {
	case $1 in
	A | a) UL_IF=$TB_IF_CLI UL_RTIF=$TB_IF_RT_A UL_ADDR=$TB_CLI_ADDR UL_RT=$TB_RT_ADDR_A UL_METRIC=$TB_UPLINK_METRIC_A ;;
	B | b) UL_IF=$TB_IF_CLI_B UL_RTIF=$TB_IF_RT_B UL_ADDR=$TB_CLI_ADDR_B UL_RT=$TB_RT_ADDR_B UL_METRIC=$TB_UPLINK_METRIC_B ;;
	*) tb_log "uplink '$1': want A or B"; return 2 ;;
	esac
	[ "$TB_UPLINKS" = 2 ] || { tb_log "uplink $1: not a two-uplink testbed (TB_UPLINKS=2)"; return 2; }
}

# tb__uplinks_up: ika-rt, the veths of both uplinks and of the gateway.
tb__uplinks_up() {
	local l
	ip -n "$TB_NS_CLI" link add "$TB_IF_CLI" type veth peer name "$TB_IF_RT_A" netns "$TB_NS_RT" || return 1
	ip -n "$TB_NS_CLI" link add "$TB_IF_CLI_B" type veth peer name "$TB_IF_RT_B" netns "$TB_NS_RT" || return 1
	ip -n "$TB_NS_RT" link add "$TB_IF_RT_GW" type veth peer name "$TB_IF_GW_OUT" netns "$TB_NS_GW" || return 1
	ip -n "$TB_NS_RT" addr add "$TB_RT_ADDR_A/24" dev "$TB_IF_RT_A"
	ip -n "$TB_NS_RT" addr add "$TB_RT_ADDR_B/24" dev "$TB_IF_RT_B"
	ip -n "$TB_NS_RT" addr add "$TB_RT_ADDR_GW/24" dev "$TB_IF_RT_GW"
	ip -n "$TB_NS_GW" addr add "$TB_GW_ADDR/24" dev "$TB_IF_GW_OUT"
	for l in "$TB_IF_RT_A" "$TB_IF_RT_B" "$TB_IF_RT_GW"; do
		ip -n "$TB_NS_RT" link set "$l" up || return 1
	done
	# Each network carries only its own addresses (BCP 38): a packet with
	# A's source address sent out over B is dropped, as a real provider
	# would (TB_RT_RPFILTER=0: ika-rt forwards it).
	ip netns exec "$TB_NS_RT" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.rp_filter="${TB_RT_RPFILTER:-1}"
	# A route over a link without carrier is not used (as a laptop's
	# network manager would remove it).
	ip netns exec "$TB_NS_CLI" sysctl -qw net.ipv4.conf.all.ignore_routes_with_linkdown=1 \
		net.ipv4.conf.default.ignore_routes_with_linkdown=1
	if [ "${TB_NAT_B:-0}" = 1 ]; then
		ip netns exec "$TB_NS_RT" nft -f - <<-EOF || return 1
			table ip tbnat {
				chain postrouting {
					type nat hook postrouting priority srcnat; policy accept;
					iifname "$TB_IF_RT_B" oifname "$TB_IF_RT_GW" masquerade
				}
			}
		EOF
	fi
	tb_uplink_add A && tb_uplink_add B
}

tb_uplink_addr() { local UL_IF UL_RTIF UL_ADDR UL_RT UL_METRIC; tb__uplink "$1" && echo "$UL_ADDR"; }
tb_uplink_seen() {
	case $1 in
	B | b) if [ "${TB_NAT_B:-0}" = 1 ]; then echo "$TB_RT_ADDR_GW"; return 0; fi ;;
	esac
	tb_uplink_addr "$1"
}

tb_uplink_add() {
	local UL_IF UL_RTIF UL_ADDR UL_RT UL_METRIC
	tb__uplink "$1" || return
	ip -n "$TB_NS_CLI" link set "$UL_IF" up || return 1
	if ! ip -n "$TB_NS_CLI" -4 -o addr show dev "$UL_IF" | grep -q " $UL_ADDR/"; then
		ip -n "$TB_NS_CLI" addr add "$UL_ADDR/24" dev "$UL_IF" || return 1
	fi
	ip -n "$TB_NS_CLI" route replace default via "$UL_RT" dev "$UL_IF" metric "$UL_METRIC"
}

tb_uplink_del() {
	local UL_IF UL_RTIF UL_ADDR UL_RT UL_METRIC
	tb__uplink "$1" || return
	ip -n "$TB_NS_CLI" -4 -o addr show dev "$UL_IF" | grep -q " $UL_ADDR/" || return 0
	ip -n "$TB_NS_CLI" addr del "$UL_ADDR/24" dev "$UL_IF"
}

tb_uplink_down() {
	local UL_IF UL_RTIF UL_ADDR UL_RT UL_METRIC
	tb__uplink "$1" || return
	case ${2:-admin} in
	admin) ip -n "$TB_NS_CLI" link set "$UL_IF" down ;;
	carrier) ip -n "$TB_NS_RT" link set "$UL_RTIF" down ;;
	*) tb_log "tb_uplink_down: '$2': want admin or carrier"; return 2 ;;
	esac
}

tb_uplink_up() {
	local UL_IF UL_RTIF UL_ADDR UL_RT UL_METRIC
	tb__uplink "$1" || return
	ip -n "$TB_NS_RT" link set "$UL_RTIF" up || return 1
	tb_uplink_add "$1"
}

tb_uplink_use() {
	local other=B
	case $1 in B | b) other=A ;; esac
	tb_uplink_up "$1" || return
	case ${2:-addr} in
	addr) tb_uplink_del "$other" ;;
	link) tb_uplink_down "$other" ;;
	*) tb_log "tb_uplink_use: '$2': want addr or link"; return 2 ;;
	esac
}

tb_uplink_block() {
	local UL_IF UL_RTIF UL_ADDR UL_RT UL_METRIC x rules="" w
	tb__uplink "$1" || return
	x=$(echo "$1" | tr ab AB)
	shift
	ip netns exec "$TB_NS_RT" nft delete table inet "tbul$x" 2>/dev/null
	[ $# -gt 0 ] || return 0
	for w in "$@"; do
		case $w in
		udp) rules="$rules iifname \"$UL_RTIF\" meta l4proto udp drop; oifname \"$UL_RTIF\" meta l4proto udp drop;" ;;
		ike)
			rules="$rules iifname \"$UL_RTIF\" udp dport { 500, 4500 } drop;"
			rules="$rules oifname \"$UL_RTIF\" udp sport { 500, 4500 } drop;" ;;
		tcp4500) rules="$rules iifname \"$UL_RTIF\" tcp dport 4500 drop;" ;;
		tls443) rules="$rules iifname \"$UL_RTIF\" tcp dport 443 drop;" ;;
		all) rules="$rules iifname \"$UL_RTIF\" drop; oifname \"$UL_RTIF\" drop;" ;;
		*) tb_log "tb_uplink_block: unknown '$w' (udp ike tcp4500 tls443 all)"; return 2 ;;
		esac
	done
	ip netns exec "$TB_NS_RT" nft -f - <<-EOF
		table inet tbul$x {
			chain forward {
				type filter hook forward priority 0; policy accept;
				$rules
			}
		}
	EOF
}

tb_uplink_current() {
	local r
	r=$(ip -n "$TB_NS_CLI" -o route get "$TB_GW_ADDR" 2>/dev/null)
	case $r in
	*" dev $TB_IF_CLI "*) echo A ;;
	*" dev $TB_IF_CLI_B "*) echo B ;;
	*) echo none ;;
	esac
}

tb_uplink_state() {
	local x UL_IF UL_RTIF UL_ADDR UL_RT UL_METRIC link addr route blk
	for x in A B; do
		tb__uplink $x || return
		link=$(ip -n "$TB_NS_CLI" -o link show dev "$UL_IF" 2>/dev/null |
			sed -n 's/.*state \([A-Z]*\).*/\1/p')
		ip -n "$TB_NS_CLI" -o link show dev "$UL_IF" 2>/dev/null | grep -q NO-CARRIER && link="$link no-carrier"
		addr=$(ip -n "$TB_NS_CLI" -4 -o addr show dev "$UL_IF" 2>/dev/null | awk '{ print $4 }' | tr '\n' ' ')
		route=$(ip -n "$TB_NS_CLI" route show default dev "$UL_IF" 2>/dev/null | tr '\n' ' ')
		blk=$(ip netns exec "$TB_NS_RT" nft list table inet "tbul$x" 2>/dev/null |
			grep -c drop)
		echo "uplink $x ($UL_IF): link ${link:-absent}, address ${addr:-none}, default route ${route:-none}, $blk drop rule(s) in $TB_NS_RT"
	done
	echo "in use: $(tb_uplink_current) ($(ip -n "$TB_NS_CLI" -o route get "$TB_GW_ADDR" 2>&1 | head -n 1))"
}

tb_status() {
	local ns role
	for ns in "$TB_NS_CLI" "$TB_NS_RT" "$TB_NS_GW" "$TB_NS_IN"; do
		[ "$ns" = "$TB_NS_RT" ] && [ "$TB_UPLINKS" != 2 ] && continue
		if tb__ns_exists "$ns"; then
			echo "namespace $ns: up ($(ip netns pids "$ns" | wc -l) processes)"
		else
			echo "namespace $ns: absent"
		fi
	done
	for role in gw cli; do
		if tb__charon_running $role; then
			echo "charon $role: running (pid $(cat "$TB_DIR/$role/charon.tbpid"), log $TB_DIR/$role/charon.log)"
			tb__swanctl $role --list-sas 2>&1 | sed 's/^/  /'
		else
			echo "charon $role: not running"
		fi
	done
}

tb__usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

tb_main() {
	local cmd=${1:-}
	shift
	case $cmd in
	up) tb_up && tb_gw_start "${1:-psk}" ;;
	down) tb_down ;;
	status) tb_status ;;
	client) tb_client_ss_start "$@" ;;
	client-stop) tb_client_ss_stop ;;
	gw-start) tb_gw_start "$@" ;;
	gw-stop) tb_gw_stop ;;
	exec) tb_ns_exec "$@" ;;
	uplink)
		# uplink add|del|down|up|use|block|current|state [X ...] (TB_UPLINKS=2)
		case ${1:-} in
		add | del | down | up | use | block | current | state | addr | seen)
			local f=tb_uplink_$1
			shift
			"$f" "$@" ;;
		*) tb__usage; return 2 ;;
		esac ;;
	*) tb__usage; return 2 ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	tb_main "$@"
	exit $?
fi
