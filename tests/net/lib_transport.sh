# shellcheck shell=bash disable=SC2034 # the LT_*/TB_* variables are for the tests
# Helpers of the transport tests (RFC 9329 TCP/TLS, HTTP CONNECT proxy):
# the testbed with ikerelay and optionally tinyproxy in the gateway
# namespace, and nftables filters in the client namespace. bash; sourced
# after lib_agent.sh and la_init, never run.
#
#   lt_up               testbed, gateway (cookie/block thresholds raised:
#                       every relayed client has the relay's address),
#                       $WORK, ikerelay on TCP 4500 and TLS 443
#   lt_block WHAT...    ika-cli may not send: udp (500, 4500), tcp4500,
#                       tls443, or all-but-proxy; lt_unblock
#   lt_proxy_start PORTS  tinyproxy on 10.99.0.1:$LT_PROXY_PORT with
#                       BasicAuth, CONNECT allowed to PORTS only; lt_proxy_stop
#   lt_conf FILE [K=V...]  la_conf for the race (order udp tcp tls,
#                       udp_timeout 1s, the relay's certificate as tls_ca)
#   lt_start_timed CONF WHAT SECONDS  la_start CONF, a ping answered
#                       through the tunnel; LT_TTT_MS since la_start
# Every wait has a deadline (la_dl stretches it for sanitizer builds).

LT_PROXY_PORT=8888
LT_PROXY_USER=ikatest
LT_PROXY_PASS="pw-$$-$(date +%s)-secret"
LT_RELAY_PID=""
LT_PROXY_PID=""

lt_skip_missing() {
	local t
	for t in nft ss openssl; do
		command -v "$t" >/dev/null 2>&1 || la_skip "no $t"
	done
	[ -x "$LA_BIN/ikerelay" ] || la_skip "no $LA_BUILD/ikerelay (make $LA_BUILD/ikerelay)"
}

# The gateway's templates with the per-address thresholds raised (testbed.sh).
lt__templates() {
	TB_TEMPLATES=$TB_LIB_DIR/strongswan	# a fresh copy each time: old work dirs are gone
	tb_templates_relayed "$WORK/ss-templates" || la_fail "could not raise block_threshold"
}

lt__relay_start() {
	tb_relay_start "$LA_BIN/ikerelay" "$WORK" || la_fail "ikerelay did not start"
	LT_RELAY_PID=$TB_RELAY_PID
}

lt_relay_stop() {
	tb_stop_pid "$LT_RELAY_PID"
	LT_RELAY_PID=""
}

# lt_up: as la_up, with the raised thresholds and the relay.
lt_up() {
	tb_up || la_fail "testbed did not come up"
	rm -rf /tmp/ikeagent-net-"$LA_NAME".*
	WORK=$(mktemp -d /tmp/ikeagent-net-"$LA_NAME".XXXXXX) || la_fail "mktemp"
	chmod 755 "$WORK"	# tinyproxy runs as nobody and writes its log here
	la_snapshot >"$WORK/net.before"
	lt__templates
	la_gw_restart psk
	lt__relay_start
}

# ---- filters in ika-cli -------------------------------------------------------

# lt_block WHAT...: udp | tcp4500 | tls443 | all-but-proxy
lt_block() {
	local w args=()
	for w in "$@"; do
		case $w in
		all-but-proxy) args+=("only-port=$LT_PROXY_PORT") ;;
		udp | tcp4500 | tls443) args+=("$w") ;;
		*) la_fail "lt_block: unknown '$w'" ;;
		esac
	done
	tb_block lttest "${args[@]}" || la_fail "nft: cannot install the filter ($*)"
}
lt_unblock() { tb_block lttest; return 0; }

# ---- tinyproxy ------------------------------------------------------------------

# lt_proxy_start PORT...: CONNECT allowed to these ports only.
lt_proxy_start() {
	lt_proxy_stop
	tb_proxy_start "$WORK" "$LT_PROXY_PORT" "$LT_PROXY_USER" "$LT_PROXY_PASS" "$@" ||
		la_fail "tinyproxy did not listen on $TB_GW_ADDR:$LT_PROXY_PORT: $(tail -n 3 "$WORK/tinyproxy.out")"
	LT_PROXY_PID=$TB_PROXY_PID
}

lt_proxy_stop() {
	tb_stop_pid "$LT_PROXY_PID"
	LT_PROXY_PID=""
}

# ---- the agent ----------------------------------------------------------------------

# lt_conf FILE [SECTION.KEY=VALUE...]: the race over udp tcp tls.
lt_conf() {
	local file=$1
	shift
	la_conf "$file" transport.order="udp tcp tls" transport.udp_timeout=1s \
		transport.tls_verify=yes transport.tls_ca="$WORK/relay-cert.pem" "$@"
}

# lt_ping SECONDS: from ika-cli, an ICMP echo to the inside host every 50 ms
# until one is answered (0; prints the wall clock of the answer in ms) or
# the deadline passes (1). tb_ping waits 1 s per request, too coarse to
# measure a time-to-tunnel.
lt_ping() {
	ip netns exec "$TB_NS_CLI" "$(tb__python)" - "$TB_IN_ADDR" "$1" <<-'EOF'
		import os, select, socket, struct, sys, time
		addr, end = sys.argv[1], time.monotonic() + float(sys.argv[2])
		s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
		ident, seq = os.getpid() & 0xffff, 0
		print("ready", flush=True)
		def csum(b):
		    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
		    t = (t >> 16) + (t & 0xffff); t += t >> 16
		    return ~t & 0xffff
		while time.monotonic() < end:
		    seq += 1
		    body = struct.pack("!HH", ident, seq) + b"ikeagent-transport"
		    try:  # before the tunnel: no route, or a filter says EPERM
		        s.sendto(struct.pack("!BBH", 8, 0, csum(b"\x08\x00\x00\x00" + body)) + body, (addr, 0))
		    except OSError:
		        pass
		    step = time.monotonic() + 0.05
		    while (left := min(step, end) - time.monotonic()) > 0:
		        if not select.select([s], [], [], left)[0]: break
		        pkt, src = s.recvfrom(2048)
		        pkt = pkt[(pkt[0] & 15) * 4:]
		        if src[0] == addr and len(pkt) >= 8 and pkt[0] == 0 and struct.unpack("!H", pkt[4:6])[0] == ident:
		            print(int(time.time() * 1000))
		            sys.exit(0)
		sys.exit(1)
	EOF
}

# lt_start_timed CONF WHAT SECONDS: a pinger (lt_ping) runs from before
# la_start CONF (cleartext pings die at the gateway's filter); one ping is
# answered through the tunnel within the deadline, and the agent says
# established. LT_TTT_MS: from la_start to that answer.
lt_start_timed() {
	local out=$WORK/ping.out pid t
	: >"$out"
	lt_ping "$(la_dl "$3")" >"$out" &
	pid=$!
	tb_wait_for "grep -q ready '$out'" 10 || la_fail "$2: the pinger did not start"
	la_start "$1"
	wait "$pid" || la_fail "$2: no ping through the tunnel within $(la_dl "$3") s (state $(la_state))"
	t=$(tail -n 1 "$out")
	LT_TTT_MS=$(( t - LA_START_MS ))
	la_wait_up "$2" 2
}

# lt_no_secret WHAT: the proxy password is in no log of ours.
lt_no_secret() {
	if grep -F -q -- "$LT_PROXY_PASS" "$WORK"/agent-*.log 2>/dev/null; then
		la_fail "$1: the proxy password appeared in the ikeagent log"
	fi
}

# lt_cleanup: for the EXIT trap, before la__cleanup.
lt_cleanup() {
	lt_proxy_stop
	lt_relay_stop
}
