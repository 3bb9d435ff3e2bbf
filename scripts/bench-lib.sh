# shellcheck shell=bash disable=SC2154,SC2034 # variables of scripts/bench (AGENT_PID: its cleanup)
# BENCH_MODE=transports of scripts/bench: ikeagent over UDP, TCP and TLS
# (RFC 9329, through ikerelay in the gateway namespace), sourced by
# scripts/bench after the testbed library; never run on its own.
#
#   1. a matrix BENCH_RTTS x BENCH_LOSSES x {udp, tcp, tls}: per cell a fresh
#      tunnel (set up with the delay, without loss), then loss on,
#      BENCH_PINGS pings at 0.1 s (idle RTT), iperf3 TCP (upload; -R too with
#      BENCH_REVERSE=1) through the tunnel with a ping every
#      BENCH_PING_LOAD_I s beside it (RTT under load: median and p90), loss
#      off, tunnel down; the transports alternate (ABC, CBA, ...)
#   2. the network: delay = RTT/2 on the INGRESS of each end (client
#      namespace: packets from the gateway; gateway namespace: packets from
#      the client), held by tests/net/nfqdelay (BENCH_NFQDELAY) on an
#      nfnetlink_queue that an iptables-nft raw PREROUTING rule feeds (this
#      kernel has no nft "queue" but xt NFQUEUE); loss = nftables numgen
#      random drop on the same ingress hooks, before the queue. Never on a
#      sender's egress: held there, packets stay charged to the sending
#      socket and TCP Small Queues throttles TCP senders. RTTs are measured
#      with userspace clocks (ping(8) takes the kernel's receive timestamp,
#      before the queue of its own end, and would show half the delay).
#   3. the reference: before the tunnels of every RTT and loss, a plain TCP
#      flow on the raw path (iperf3 from the client namespace to a second
#      iperf3 -s on the gateway's outer address, port 5202, no tunnel) and
#      its idle ping RTT. At RTT 50 ms without loss it must reach hundreds
#      of Mbit/s (below BENCH_RAW_MIN_MBPS it is flagged: the delay tool,
#      not the tunnel, would be measured)
#   4. one table: per RTT, loss (and direction) the raw reference, goodput
#      of UDP/TCP/TLS, TCP/UDP and TLS/UDP, idle ping and ping under load
#      (median, p90) per transport, load/idle; the targets beside it:
#      at RTT BENCH_TARGET_RTT: TCP >= BENCH_TCP_T0 x UDP at 0 % loss and
#      TCP's ping under load <= BENCH_PING_T x idle at 1 % and 3 %; on every
#      RTT at 3 %: TCP and TLS >= BENCH_TCP_T3 x UDP
#   5. time to tunnel (ikeagent run -> first ping answered, 50 ms polling),
#      no delay or loss, order = udp tcp tls, udp_timeout 1s: UDP open; UDP
#      blocked (-> tcp); only TCP 443 open (-> tls); only an HTTP proxy
#      reachable (tinyproxy, -> tls through it; skipped without tinyproxy);
#      BENCH_TTT_RUNS each
#
# Knobs: BENCH_RTTS ["0 25 50 100"]  BENCH_LOSSES ["0 1 3"] (BENCH_LOSS, the
#        old name, is its default)  BENCH_PINGS [20]  BENCH_PING_LOAD_I [0.2]
#        BENCH_TCP_T0 [0.9]  BENCH_TCP_T3 [0.5]  BENCH_PING_T [1.25]
#        BENCH_TARGET_RTT [50]  BENCH_RAW_MIN_MBPS [100]
#        BENCH_NFQDELAY [build/nfqdelay]  BENCH_RELAY [build/ikerelay]
#        BENCH_TTT [1] (0: skip part 5)  BENCH_TTT_RUNS [3]
#        BENCH_INNER_CC [cubic]  the congestion control of the measured flows
#        (iperf3 -C), raw path and inner alike: cubic is what a client's TCP
#        runs by default (Linux, Windows, macOS); with bbr inside, UDP mode
#        shrugs off random loss and TCP mode's head-of-line blocking shows
#
# Duration: per run about 12 cells x (BENCH_SECONDS + 3 s) for the reference
# and 36 x (BENCH_SECONDS + 5 s) for the tunnels: ~12 minutes per run at the
# defaults (BENCH_SECONDS 10), ~36 for BENCH_RUNS=3, plus the time to tunnel.
# The raw path is limited by the namespaces' default TCP buffers (tcp_wmem
# max 4 MB: ~3 MB in flight, ~480 Mbit/s at RTT 50, ~250 at RTT 100), as a
# default client's TCP would be; nfqdelay costs ~6 % of a core per end at
# 500 Mbit/s.

BENCH_RTTS=${BENCH_RTTS:-"0 25 50 100"}
BENCH_LOSSES=${BENCH_LOSSES:-${BENCH_LOSS:-"0 1 3"}}
BENCH_PINGS=${BENCH_PINGS:-20}
BENCH_PING_LOAD_I=${BENCH_PING_LOAD_I:-0.2}
BENCH_TTT_RUNS=${BENCH_TTT_RUNS:-3}
BENCH_TTT=${BENCH_TTT:-1}
BENCH_INNER_CC=${BENCH_INNER_CC:-cubic}
BENCH_TCP_T0=${BENCH_TCP_T0:-0.9}
BENCH_TCP_T3=${BENCH_TCP_T3:-0.5}
BENCH_PING_T=${BENCH_PING_T:-1.25}
BENCH_TARGET_RTT=${BENCH_TARGET_RTT:-50}
BENCH_RAW_MIN_MBPS=${BENCH_RAW_MIN_MBPS:-100}
BENCH_RELAY=${BENCH_RELAY:-build/ikerelay}
BENCH_NFQDELAY=${BENCH_NFQDELAY:-build/nfqdelay}
case $BENCH_RELAY in /*) RELAY=$BENCH_RELAY ;; *) RELAY=$ROOT/$BENCH_RELAY ;; esac
case $BENCH_NFQDELAY in /*) NFQDELAY=$BENCH_NFQDELAY ;; *) NFQDELAY=$ROOT/$BENCH_NFQDELAY ;; esac
TR_PROXY_PORT=8888
TR_PROXY_USER=ikbench
TR_PROXY_PASS="pw-$$-$(date +%s)"
TR_QUEUE=7
TR_RAW_PORT=5202
RELAY_PID=""
PROXY_PID=""
PINGER_PID=""
LOADPING_PID=""
RAWIPERF_PID=""
NFQ_CLI_PID=""
NFQ_GW_PID=""

tr_check() {
	[ -x "$RELAY" ] || die "no $RELAY: make build/ikerelay, or set BENCH_RELAY"
	command -v nft >/dev/null 2>&1 || die "no nft (loss and blocking)"
	if [ "$BENCH_MODE" = transports ] && [ -n "$(echo "$BENCH_RTTS" | tr -d ' 0')" ]; then
		[ -x "$NFQDELAY" ] || die "no $NFQDELAY: make build/nfqdelay, or set BENCH_NFQDELAY"
		command -v iptables >/dev/null 2>&1 || die "no iptables (NFQUEUE rules for the delay)"
	fi
	command -v openssl >/dev/null 2>&1 || die "no openssl (the relay's certificate)"
}

# The gateway's templates with the per-address thresholds raised (testbed.sh).
tr_templates() {
	tb_templates_relayed "$WORK/templates" || die "could not raise block_threshold"
}

tr_relay_start() {
	tb_relay_start "$RELAY" "$WORK" || die "ikerelay did not start"
	RELAY_PID=$TB_RELAY_PID
}

tr_proxy_start() {
	tb_proxy_start "$WORK" "$TR_PROXY_PORT" "$TR_PROXY_USER" "$TR_PROXY_PASS" 443 ||
		{ note "tinyproxy did not listen"; return 1; }
	PROXY_PID=$TB_PROXY_PID
}

# For cleanup() of scripts/bench.
tr_cleanup() {
	[ -n "$PINGER_PID" ] && kill "$PINGER_PID" 2>/dev/null
	[ -n "$LOADPING_PID" ] && kill "$LOADPING_PID" 2>/dev/null
	tb_stop_pid "$RAWIPERF_PID"; RAWIPERF_PID=""
	tr_delay 0 2>/dev/null
	tb_stop_pid "$PROXY_PID"; PROXY_PID=""
	tb_stop_pid "$RELAY_PID"; RELAY_PID=""
}

# ---- the network: loss and delay on the ingress of both ends ---------------------

# tr_loss PERCENT: drop PERCENT % of the packets from the gateway arriving in
# the client namespace and of those from the client arriving in the gateway
# namespace (0: no tables). Before the delay's queue (priority -350 < raw).
tr_loss() {
	tb_ns_exec cli nft delete table inet ikbloss 2>/dev/null
	tb_ns_exec gw nft delete table inet ikbloss 2>/dev/null
	[ "$1" = 0 ] && return 0
	if ! { tr__loss_table cli "$TB_GW_ADDR" "$1" && tr__loss_table gw "$TB_CLI_ADDR" "$1"; }; then
		die "nft: cannot install the loss filter"
	fi
}
tr__loss_table() {
	tb_ns_exec "$1" nft -f - <<-EOF
		table inet ikbloss {
			chain prerouting {
				type filter hook prerouting priority -350; policy accept;
				ip saddr $2 numgen random mod 100 < $3 drop
			}
		}
	EOF
}

# tr_delay RTT_MS: RTT/2 on the ingress of each end (0: none): an nfqdelay
# per namespace on queue TR_QUEUE, fed by a raw PREROUTING rule for the
# packets from the other end. Replaces what was there.
tr_delay() {
	local ns
	for ns in cli gw; do
		tb_ns_exec "$ns" iptables -w -t raw -D PREROUTING -s "$(tr__peer "$ns")" \
			-j NFQUEUE --queue-num "$TR_QUEUE" 2>/dev/null
	done
	# Rules first: the tools then accept what they hold as they go.
	tb_stop_pid "$NFQ_CLI_PID"; NFQ_CLI_PID=""
	tb_stop_pid "$NFQ_GW_PID"; NFQ_GW_PID=""
	[ "$1" = 0 ] && return 0
	local half
	half=$(awk -v r="$1" 'BEGIN { printf "%g", r / 2 }')
	for ns in cli gw; do
		ip netns exec "$(tb_ns "$ns")" "$NFQDELAY" -q "$TR_QUEUE" -d "$half" \
			>>"$WORK/nfqdelay-$ns.log" 2>&1 </dev/null {TB_LOCK_FD}>&- &
		if [ "$ns" = cli ]; then NFQ_CLI_PID=$!; else NFQ_GW_PID=$!; fi
		tb_wait_for "tb_ns_exec $ns awk '\$1 == $TR_QUEUE { f = 1 } END { exit !f }' /proc/net/netfilter/nfnetlink_queue" 5 ||
			die "nfqdelay did not bind queue $TR_QUEUE in $ns: $(tail -n 1 "$WORK/nfqdelay-$ns.log")"
		tb_ns_exec "$ns" iptables -w -t raw -A PREROUTING -s "$(tr__peer "$ns")" \
			-j NFQUEUE --queue-num "$TR_QUEUE" || die "iptables: cannot add the NFQUEUE rule in $ns"
	done
}
tr__peer() { if [ "$1" = cli ]; then echo "$TB_GW_ADDR"; else echo "$TB_CLI_ADDR"; fi; }

# tr_delay_alive: both nfqdelays still run (one that died drops every packet).
tr_delay_alive() {
	[ -z "$NFQ_CLI_PID" ] && return 0
	if ! kill -0 "$NFQ_CLI_PID" 2>/dev/null || ! kill -0 "$NFQ_GW_PID" 2>/dev/null; then
		die "nfqdelay died: $(cat "$WORK"/nfqdelay-*.log 2>/dev/null | tail -n 2)"
	fi
}

# tr_block WHAT...: udp | tcp4500 | all-but-proxy; none: no table.
tr_block() {
	local w args=()
	for w in "$@"; do
		case $w in
		none) ;;
		all-but-proxy) args+=("only-port=$TR_PROXY_PORT") ;;
		*) args+=("$w") ;;
		esac
	done
	tb_block ikbblock "${args[@]}" || die "nft: cannot install the filter ($*)"
}

# ---- the configurations ---------------------------------------------------------------

cfg_ika_tcp_label() { echo "ikeagent"; }
cfg_ika_tcp_transport() { echo tcp; }
cfg_ika_tcp_up() { ika_up tcp; }
cfg_ika_tcp_down() { ika_down; }
cfg_ika_tls_label() { echo "ikeagent"; }
cfg_ika_tls_transport() { echo tls; }
cfg_ika_tls_up() { IKA_TRANSPORT_EXTRA="tls_verify = no" ika_up tls; }
cfg_ika_tls_down() { ika_down; }

# ---- measuring -----------------------------------------------------------------------

# tr_iperf_json JSON: "bytes Mbit/s retransmits" or "error WHY" (one word).
tr_iperf_json() {
	"$PY" - "$1" <<-'EOF'
		import json, sys
		try:
		    j = json.load(open(sys.argv[1]))
		    r, s = j["end"]["sum_received"], j["end"]["sum_sent"]
		    print(int(r["bytes"]), "%.1f" % (r["bits_per_second"] / 1e6), int(s.get("retransmits", 0)))
		except Exception as e:
		    print("error", str(j.get("error", e)).replace(" ", "_") if "j" in dir() else "no_json")
	EOF
}

# rtt_stats PREFIX: RTTs (ms, one a line) on stdin -> "PREFIXmed=..
# PREFIXp90=.. n=COUNT" (p90: nearest rank)
rtt_stats() {
	sort -g | awk -v p="$1" '{ a[NR] = $1 } END {
		if (NR == 0) { printf "%smed=nan %sp90=nan n=0\n", p, p; exit }
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		i = int(0.9 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
		printf "%smed=%.3f %sp90=%.3f n=%d\n", p, m, p, a[i], NR }'
}

# tr_iperf RUN CFG RTT LOSS DIR: one raw line, with the RTT of pings every
# BENCH_PING_LOAD_I s during the flow (from 1 s in to 0.5 s before its
# end); a failed iperf3 is recorded as 0.
tr_iperf() {
	local run=$1 cfg=$2 rtt=$3 loss=$4 dir=$5 rflag="" js=$WORK/iperf.json c0 c1 g0 g1 r0 r1 res gw n lp
	local u0 u1 v0 v1
	[ "$dir" = rev ] && rflag=-R
	gw=$(gw_pid)
	n=$(awk -v t="$BENCH_SECONDS" -v i="$BENCH_PING_LOAD_I" 'BEGIN { n = int((t - 1.5) / i); print (n < 1 ? 1 : n) }')
	(sleep 1; rtt_pings "$n" "$BENCH_PING_LOAD_I" "$TB_IN_ADDR" 1) >"$WORK/loadping.out" 2>/dev/null &
	LOADPING_PID=$!
	c0=$(cpu_ticks "$CFG_PID") g0=$(cpu_ticks "$gw") r0=$(cpu_ticks "$RELAY_PID")
	u0=$(udp_rcvbuf_errors "$TB_NS_GW") v0=$(udp_rcvbuf_errors "$TB_NS_CLI")
	# shellcheck disable=SC2086 # rflag: empty or one word
	timeout $((BENCH_SECONDS + 30)) ip netns exec "$TB_NS_CLI" iperf3 -c "$TB_IN_ADDR" \
		-C "$BENCH_INNER_CC" -t "$BENCH_SECONDS" -J $rflag >"$js" 2>"$WORK/iperf.err"
	c1=$(cpu_ticks "$CFG_PID") g1=$(cpu_ticks "$gw") r1=$(cpu_ticks "$RELAY_PID")
	u1=$(udp_rcvbuf_errors "$TB_NS_GW") v1=$(udp_rcvbuf_errors "$TB_NS_CLI")
	wait "$LOADPING_PID" 2>/dev/null
	LOADPING_PID=""
	lp=$(rtt_stats lping_ <"$WORK/loadping.out")
	[ -n "$c1" ] || die "$cfg: ikeagent $CFG_PID died during iperf3"
	tr_delay_alive
	res=$(tr_iperf_json "$js")
	case $res in
	error*) note "$cfg rtt $rtt loss $loss% $dir run $run: iperf3 failed: ${res#error }"
		res="0 0 0 err=${res#error }" ;;
	esac
	# shellcheck disable=SC2086
	set -- $res
	echo "kind=tput run=$run cfg=$cfg transport=$("cfg_${cfg}_transport") rtt=$rtt loss=$loss dir=$dir" \
		"bytes=$1 mbps=$2 retrans=$3 ${4:-}" \
		"${lp% n=*} lping_n=${lp##*n=}/$n" \
		"cpu_cli_s=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')" \
		"cpu_gw_s=$(awk -v a="$g0" -v b="$g1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')" \
		"cpu_relay_s=$(awk -v a="${r0:-0}" -v b="${r1:-0}" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')" \
		"udp_rcvbuf_drops_gw=$((u1 - u0)) udp_rcvbuf_drops_cli=$((v1 - v0))" \
		"load=$(cut -d' ' -f1 /proc/loadavg)" >>"$BENCH_RAW"
	note "run $run $cfg rtt $rtt loss $loss% $dir: $2 Mbit/s, ping under load $lp"
}

# udp_rcvbuf_errors NS: datagrams dropped for a full socket buffer in NS so far
# (a gateway's userspace ESP that falls behind drops here).
udp_rcvbuf_errors() {
	ip netns exec "$1" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 }
		else { print $c["RcvbufErrors"]; exit } }' /proc/self/net/snmp
}

# rtt_pings N [INTERVAL [ADDR [WAIT]]]: N ICMP echos from the client
# namespace to ADDR (the inside host) every INTERVAL s (0.1), waiting WAIT s
# (2) after the last; one RTT in ms per answer, by userspace clocks (no
# ping binary needed; ping(8) would report the kernel's receive timestamp,
# which is taken before the delay of this end).
rtt_pings() {
	ip netns exec "$TB_NS_CLI" "$PY" - "${3:-$TB_IN_ADDR}" "$1" "${2:-0.1}" "${4:-2}" <<-'EOF'
		import os, select, socket, struct, sys, time
		addr, n, iv, tail = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
		s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
		ident, sent, got = (os.getpid() ^ int(time.time() * 1000)) & 0xffff, {}, {}
		def csum(b):
		    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
		    t = (t >> 16) + (t & 0xffff); t += t >> 16
		    return ~t & 0xffff
		nxt, seq = time.monotonic(), 0
		end = nxt + iv * n + tail
		while time.monotonic() < end and len(got) < n:
		    now = time.monotonic()
		    if seq < n and now >= nxt:
		        seq += 1
		        body = struct.pack("!HH", ident, seq) + b"ikeagent-bench-rtt" + b"\0" * 38
		        sent[seq] = time.monotonic()
		        try: s.sendto(struct.pack("!BBH", 8, 0, csum(b"\x08\x00\x00\x00" + body)) + body, (addr, 0))
		        except OSError: pass
		        nxt += iv
		    wait = (nxt if seq < n else end) - time.monotonic()
		    if wait > 0 and select.select([s], [], [], wait)[0]:
		        t = time.monotonic()
		        pkt, src = s.recvfrom(2048)
		        pkt = pkt[(pkt[0] & 15) * 4:]
		        if src[0] == addr and len(pkt) >= 8 and pkt[0] == 0:
		            i, q = struct.unpack("!HH", pkt[4:8])
		            if i == ident and q in sent and q not in got:
		                got[q] = (t - sent[q]) * 1000
		for v in got.values(): print("%.3f" % v)
	EOF
}

# tr_ping RUN CFG RTT LOSS: BENCH_PINGS pings at 0.1 s (idle); median, p90.
tr_ping() {
	local st
	st=$(rtt_pings "$BENCH_PINGS" | rtt_stats rtt_)
	echo "kind=ping run=$1 cfg=$2 transport=$("cfg_${2}_transport") rtt=$3 loss=$4" \
		"${st% n=*} ping_lost=$((BENCH_PINGS - ${st##*n=}))" >>"$BENCH_RAW"
}

# tr_raw RUN RTT LOSS: the reference without a tunnel: idle pings to the
# gateway's outer address, then iperf3 TCP to the gateway namespace.
tr_raw() {
	local run=$1 rtt=$2 loss=$3 js=$WORK/iperf.json st res
	tr_loss "$loss"
	st=$(rtt_pings "$BENCH_PINGS" 0.1 "$TB_GW_ADDR" | rtt_stats rtt_)
	timeout $((BENCH_SECONDS + 30)) ip netns exec "$TB_NS_CLI" iperf3 -c "$TB_GW_ADDR" -p "$TR_RAW_PORT" \
		-C "$BENCH_INNER_CC" -t "$BENCH_SECONDS" -J >"$js" 2>"$WORK/iperf.err"
	tr_loss 0
	tr_delay_alive
	res=$(tr_iperf_json "$js")
	case $res in
	error*) note "raw path rtt $rtt loss $loss% run $run: iperf3 failed: ${res#error }"
		res="0 0 0" ;;
	esac
	# shellcheck disable=SC2086
	set -- $res
	echo "kind=raw run=$run rtt=$rtt loss=$loss dir=fwd bytes=$1 mbps=$2 retrans=$3" \
		"${st% n=*} ping_lost=$((BENCH_PINGS - ${st##*n=})) load=$(cut -d' ' -f1 /proc/loadavg)" >>"$BENCH_RAW"
	note "run $run raw path rtt $rtt loss $loss%: $2 Mbit/s, idle ping $st"
}

# As in the report part of scripts/bench (defined there only after the run).
fmt() { awk -v x="$1" -v f="$2" 'BEGIN { if (x == "nan" || x == "") print "–"; else printf f, x }'; }
dirname_of() { if [ "$1" = fwd ]; then echo "upload (cli→in)"; else echo "download (-R)"; fi; }

# tr_cycle RUN CFG RTT LOSS: up (delay, no loss), loss on, idle pings,
# iperf3 with pings, loss off, down.
tr_cycle() {
	local dir
	"cfg_${2}_up"
	tb_gw_swanctl --list-sas 2>/dev/null | grep -q "AES_GCM_16-256" ||
		note "$2: the gateway's Child SA is not AES_GCM_16-256?"
	[ "$(status_json | sed -n 's/.*"transport":"\([a-z]*\)".*/\1/p')" = "$("cfg_${2}_transport")" ] ||
		note "$2: status does not say transport $("cfg_${2}_transport"): $(status_json)"
	tr_loss "$4"
	tr_ping "$1" "$2" "$3" "$4"
	for dir in $DIRS; do
		tr_iperf "$1" "$2" "$3" "$4" "$dir"
	done
	tr_loss 0
	"cfg_${2}_down"
}

# ---- time to tunnel ---------------------------------------------------------------------

# A pinger in the client namespace: an ICMP echo to the inside host every
# 50 ms until one is answered; prints "ready", then the wall clock (ms) of
# the answer (as lt_ping of tests/net/lib_transport.sh).
tr_pinger() {
	ip netns exec "$TB_NS_CLI" "$PY" - "$TB_IN_ADDR" "$1" <<-'EOF'
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
		    body = struct.pack("!HH", ident, seq) + b"ikeagent-bench"
		    try:
		        s.sendto(struct.pack("!BBH", 8, 0, csum(b"\x08\x00\x00\x00" + body)) + body, (addr, 0))
		    except OSError:
		        pass
		    step = time.monotonic() + 0.05
		    while (left := min(step, end) - time.monotonic()) > 0:
		        if not select.select([s], [], [], left)[0]: break
		        pkt, src = s.recvfrom(2048)
		        pkt = pkt[(pkt[0] & 15) * 4:]
		        if src[0] == addr and len(pkt) >= 8 and pkt[0] == 0 and struct.unpack("!H", pkt[4:6])[0] == ident:
		            print(int(time.time() * 1000), flush=True)
		            sys.exit(0)
		sys.exit(1)
	EOF
}

# tr_ttt RUN SCENARIO EXPECTED BLOCK [EXTRA_TRANSPORT_LINES]
tr_ttt() {
	local run=$1 sc=$2 want=$3 block=$4 conf=$WORK/ttt.conf out=$WORK/pinger.out t0 t1 ms got own
	# shellcheck disable=SC2086 # block: words
	tr_block $block
	{
		printf '[gateway]\naddress = %s\nid = %s\n' "$TB_GW_ADDR" "$TB_GW_ID"
		printf '[auth]\nid = %s\npsk = "%s"\n' "$TB_CLI_ID" "$TB_PSK"
		printf '[tunnel]\nremote_ts = %s\ndns = no\nreconnect = no\n' "$TB_INSIDE_NET"
		printf 'ike = %s\nesp = %s\n' "$BENCH_IKE" "$BENCH_ESP"
		printf '[transport]\norder = udp tcp tls\nudp_timeout = 1s\ntls_verify = no\n'
		[ -n "${5:-}" ] && printf '%s\n' "$5"
		printf '[agent]\nsocket = %s\nstate_dir = %s\ntun_name = ika0\nlog_level = info\n' \
			"$WORK/agent.sock" "$WORK/state"
	} >"$conf"
	chmod 600 "$conf"
	: >"$out"
	tr_pinger 15 >"$out" &
	PINGER_PID=$!
	tb_wait_for "grep -q ready '$out'" 10 || die "$sc: the pinger did not start"
	t0=$(date +%s%3N)
	ip netns exec "$TB_NS_CLI" "$IKA" run -c "$conf" >"$WORK/agent.log" 2>&1 </dev/null \
		{TB_LOCK_FD}>&- &
	AGENT_PID=$!
	if wait "$PINGER_PID"; then
		t1=$(tail -n 1 "$out")
		ms=$((t1 - t0))
	else
		ms=nan
		cp "$WORK/agent.log" "/tmp/ikeagent-bench-ttt-$sc-$run.log"
		note "$sc run $run: no ping through the tunnel within 15 s (log: /tmp/ikeagent-bench-ttt-$sc-$run.log)"
	fi
	PINGER_PID=""
	got=$(status_json | sed -n 's/.*"transport":"\([a-z]*\)".*/\1/p')
	own=$(sed -n 's/.*tunnel up: .*(\([0-9]*\) ms)$/\1/p' "$WORK/agent.log" | tail -n 1)
	echo "kind=ttt run=$run scenario=$sc want=$want got=${got:-none} ms=$ms own_ms=${own:-nan}" >>"$BENCH_RAW"
	note "time to tunnel $sc run $run: $ms ms over ${got:-?} (agent's own ${own:-?} ms)"
	ika_down
	tr_block none
}

# ---- run and report ----------------------------------------------------------------------

# tval KIND CFG RTT LOSS DIR KEY: median over the raw lines (CFG or DIR
# empty: any).
tval() {
	awk -v kind="$1" -v c="$2" -v r="$3" -v l="$4" -v d="$5" -v k="$6" '
		$0 !~ /^#/ {
			delete f
			for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			if (f["kind"] == kind && (c == "" || f["cfg"] == c) && f["rtt"] == r && f["loss"] == l &&
			    (d == "" || f["dir"] == d) && (k in f) && f[k] != "nan") print f[k]
		}' "$BENCH_RAW" | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "nan" && a != "") printf "%.2f", a / b; else print "nan" }'; }
# verdict VALUE OP TARGET: "met" or "MISSED" (ge: VALUE >= TARGET; le: <=).
verdict() {
	awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
		if (v == "nan" || v == "") { print "no data"; exit }
		ok = (op == "ge") ? (v >= t) : (v <= t)
		print ok ? "met" : "MISSED" }'
}

tr_main() {
	local run rtt loss cfg cfgs i=0
	local TR_CONFIGS="ika_udp ika_tcp ika_tls" TR_REV="ika_tls ika_tcp ika_udp"
	echo "# mode=transports rtts=\"$BENCH_RTTS\" losses=\"$BENCH_LOSSES\" pings=$BENCH_PINGS ping_load_i=$BENCH_PING_LOAD_I dirs=\"$DIRS\" relay=$RELAY nfqdelay=$NFQDELAY" >>"$BENCH_RAW"
	tr_relay_start
	tb__bg "$WORK/iperf-raw.log" ip netns exec "$TB_NS_GW" iperf3 -s -B "$TB_GW_ADDR" -p "$TR_RAW_PORT"
	RAWIPERF_PID=$TB_BG_PID
	tb_wait_for "tb__listening $TB_NS_GW $TR_RAW_PORT" 5 || die "iperf3 -s in the gateway namespace did not start"
	for run in $(seq 1 "$BENCH_RUNS"); do
		for rtt in $BENCH_RTTS; do
			tr_delay "$rtt"
			for loss in $BENCH_LOSSES; do
				tr_raw "$run" "$rtt" "$loss"
				if [ $((i % 2)) = 0 ]; then cfgs=$TR_CONFIGS; else cfgs=$TR_REV; fi
				i=$((i + 1))
				for cfg in $cfgs; do
					tr_cycle "$run" "$cfg" "$rtt" "$loss"
				done
			done
		done
	done
	tr_delay 0
	tb_stop_pid "$RAWIPERF_PID"; RAWIPERF_PID=""
	if [ "$BENCH_TTT" = 1 ]; then
		local have_proxy=0
		if command -v tinyproxy >/dev/null 2>&1 && tr_proxy_start; then have_proxy=1
		else note "no tinyproxy: the proxy scenario is skipped"; fi
		for run in $(seq 1 "$BENCH_TTT_RUNS"); do
			tr_ttt "$run" udp_open udp none
			tr_ttt "$run" udp_blocked tcp udp
			tr_ttt "$run" only_443 tls "udp tcp4500"
			[ "$have_proxy" = 1 ] && tr_ttt "$run" proxy_only tls all-but-proxy \
				"proxy = http://$TR_PROXY_USER:$TR_PROXY_PASS@$TB_GW_ADDR:$TR_PROXY_PORT
proxy_allow_basic = yes"	# tinyproxy offers only Basic
		done
		tb_stop_pid "$PROXY_PID"; PROXY_PID=""
	fi
	tb_stop_pid "$RELAY_PID"; RELAY_PID=""
	tr_report
}

# tr_triple KIND RTT LOSS DIR KEY FORMAT: "udp / tcp / tls".
tr_triple() {
	local c out=""
	for c in ika_udp ika_tcp ika_tls; do
		out="$out${out:+ / }$(fmt "$(tval "$1" "$c" "$2" "$3" "$4" "$5")" "$6")"
	done
	echo "$out"
}

tr_report() {
	local rtt loss dir dn u t l ru rt rl rawm rawp tg v c lr="" line="" warn=""
	echo
	echo "### ikeagent transports: iperf3 TCP ${BENCH_SECONDS} s to $TB_IN_ADDR through the tunnel, median of $BENCH_RUNS, inner congestion control $BENCH_INNER_CC, $BENCH_IKE / $BENCH_ESP, strongSwan crypto: $BENCH_SS_CRYPTO"
	echo
	echo "Delay RTT/2 and random loss on the ingress of both ends (nfqdelay, nftables). raw: plain TCP client → gateway, no tunnel. Pings by userspace clocks: idle (${BENCH_PINGS} at 0.1 s) and under load (every ${BENCH_PING_LOAD_I} s during iperf3), ms, UDP / TCP / TLS."
	echo
	echo "| RTT ms | loss | dir | raw Mbit/s | raw ping ms | UDP Mbit/s | TCP Mbit/s | TLS Mbit/s | TCP/UDP | TLS/UDP | ping idle (med) | ping load (med) | ping load (p90) | load/idle | targets |"
	echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|"
	for rtt in $BENCH_RTTS; do
		for loss in $BENCH_LOSSES; do
			rawm=$(tval raw "" "$rtt" "$loss" fwd mbps)
			rawp=$(tval raw "" "$rtt" "$loss" fwd rtt_med)
			if [ "$loss" = 0 ] && [ "$rtt" != 0 ] &&
				awk -v m="$rawm" -v t="$BENCH_RAW_MIN_MBPS" 'BEGIN { exit !(m == "nan" || m < t) }'; then
				warn="$warn${warn:+; }raw path at RTT $rtt: $(fmt "$rawm" %.0f) Mbit/s < $BENCH_RAW_MIN_MBPS (the delay tool is suspect)"
			fi
			if [ "$rtt" != 0 ] && awk -v p="$rawp" -v r="$rtt" 'BEGIN { d = p - r; if (d < 0) d = -d; exit !(p == "nan" || d > 2 + 0.1 * r) }'; then
				warn="$warn${warn:+; }raw idle ping at RTT $rtt loss $loss %: $(fmt "$rawp" %.1f) ms"
			fi
			for dir in $DIRS; do
				u=$(tval tput ika_udp "$rtt" "$loss" "$dir" mbps)
				t=$(tval tput ika_tcp "$rtt" "$loss" "$dir" mbps)
				l=$(tval tput ika_tls "$rtt" "$loss" "$dir" mbps)
				rt=$(ratio "$t" "$u") rl=$(ratio "$l" "$u")
				lr="" dn=up
				[ "$dir" = rev ] && dn=down
				for c in ika_udp ika_tcp ika_tls; do
					v=$(ratio "$(tval tput "$c" "$rtt" "$loss" "$dir" lping_med)" "$(tval ping "$c" "$rtt" "$loss" "" rtt_med)")
					lr="$lr${lr:+ / }$(fmt "$v" %.2f)"
					[ "$c" = ika_tcp ] && ru=$v
				done
				tg=""
				if [ "$rtt" = "$BENCH_TARGET_RTT" ] && [ "$loss" = 0 ]; then
					v=$(verdict "$rt" ge "$BENCH_TCP_T0")
					tg="TCP ≥ ${BENCH_TCP_T0}×UDP: $v"
					line="$line${line:+; }RTT $rtt loss $loss % $dn TCP/UDP $(fmt "$rt" %.2f) ≥ $BENCH_TCP_T0: $v"
				fi
				if [ "$rtt" = "$BENCH_TARGET_RTT" ] && { [ "$loss" = 1 ] || [ "$loss" = 3 ]; }; then
					v=$(verdict "$ru" le "$BENCH_PING_T")
					tg="$tg${tg:+; }TCP ping load ≤ ${BENCH_PING_T}×idle: $v"
					line="$line${line:+; }RTT $rtt loss $loss % $dn TCP ping load/idle $(fmt "$ru" %.2f) ≤ $BENCH_PING_T: $v"
				fi
				if [ "$loss" = 3 ]; then
					v=$(verdict "$(awk -v a="$rt" -v b="$rl" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else print (a < b ? a : b) }')" ge "$BENCH_TCP_T3")
					tg="$tg${tg:+; }TCP, TLS ≥ ${BENCH_TCP_T3}×UDP: $v"
					line="$line${line:+; }RTT $rtt loss $loss % $dn TCP/UDP $(fmt "$rt" %.2f) TLS/UDP $(fmt "$rl" %.2f) ≥ $BENCH_TCP_T3: $v"
				fi
				printf '| %s | %s %% | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
					"$rtt" "$loss" "$dn" \
					"$(fmt "$rawm" %.0f)" "$(fmt "$rawp" %.1f)" \
					"$(fmt "$u" %.0f)" "$(fmt "$t" %.0f)" "$(fmt "$l" %.0f)" \
					"$(fmt "$rt" %.2f)" "$(fmt "$rl" %.2f)" \
					"$(tr_triple ping "$rtt" "$loss" "" rtt_med %.1f)" \
					"$(tr_triple tput "$rtt" "$loss" "$dir" lping_med %.1f)" \
					"$(tr_triple tput "$rtt" "$loss" "$dir" lping_p90 %.1f)" \
					"$lr" "${tg:-–}"
			done
		done
	done

	if grep -q '^kind=ttt' "$BENCH_RAW"; then
		echo
		echo "| scenario (order = udp tcp tls, udp_timeout 1 s, no delay) | expected | got | time to tunnel ms (median) | min | max | agent's own ms (median) | runs |"
		echo "|---|---|---|---:|---:|---:|---:|---:|"
		for sc in udp_open udp_blocked only_443 proxy_only; do
			grep -q "^kind=ttt .*scenario=$sc " "$BENCH_RAW" || continue
			awk -v sc="$sc" '
				/^kind=ttt/ {
					delete f
					for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
					if (f["scenario"] != sc) next
					want = f["want"]; n++; got[f["got"]]++
					if (f["ms"] != "nan") ms[++m] = f["ms"]
					if (f["own_ms"] != "nan") own[++o] = f["own_ms"]
				}
				function med(a, k,   i, j, t) {
					if (k == 0) return "–"
					for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
					return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
				}
				END {
					g = ""; for (k in got) g = g (g ? ", " : "") k (got[k] < n ? " ×" got[k] : "")
					mm = med(ms, m); lo = (m ? ms[1] : "–"); hi = (m ? ms[m] : "–")
					printf "| %s | %s | %s | %s | %s | %s | %s | %d |\n", sc, want, g, mm, lo, hi, med(own, o), n
				}' "$BENCH_RAW"
		done
		line2=$(awk '/^kind=ttt/ { delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			v[f["scenario"]] = v[f["scenario"]] (v[f["scenario"]] ? "/" : "") f["ms"] }
			END { for (s in v) o = o (o ? ", " : "") s " " v[s] " ms"; print o }' "$BENCH_RAW")
	fi
	echo
	echo "targets: ${line:-none in this matrix (BENCH_TARGET_RTT=$BENCH_TARGET_RTT, losses 0/1/3)}"
	[ -n "$warn" ] && echo "WARNING: $warn"
	[ -n "${line2:-}" ] && echo "time to tunnel (per run): $line2"
	echo "raw numbers: $BENCH_RAW"
}

# ---- BENCH_MODE=roam ------------------------------------------------------------------
# The moves of tests/net/test_roam.sh (tests/net/lib_roam.sh, sourced by
# scripts/bench with lib_agent.sh and lib_transport.sh), BENCH_RUNS rounds
# per client: strongSwan's own client the UDP->UDP moves (address of A
# gone, A back, link A down, A up), ikeagent those and, once per round, the
# UDP-blocked network B (-> TCP, back -> UDP, remembered -> TCP). The rows
# of every move go to BENCH_RAW; one table of median gaps side by side.
# A client whose move does not happen is put back on A (rl_recover) and
# goes on; if that fails too its remaining rounds are skipped.

ro_client() {
	local run
	ROAM_CLIENT=$1
	for run in $(seq 1 "$BENCH_RUNS"); do
		# A fresh client every round; ikeagent with an empty network memory,
		# so that its UDP-blocked B is a first visit (udp-tcp) every time and
		# only the second visit of the round counts as remembered.
		[ "$1" = agent ] && rm -rf "$WORK/state/roam"
		rl_client_start
		note "roam: $1 up on A (round $run): $(rl_sa)"
		if ! rl_udp_moves; then
			note "roam: $1: not working again, its other rounds skipped"
			rl_client_stop
			break
		fi
		if [ "$1" = agent ]; then
			rl_stream_moves || { rl_unblock; note "roam: agent: network B without UDP failed"; }
			rl_unblock
		fi
		rl_client_stop
	done
}

# ro_cell CLASS CLIENT: "median (moved/all)" of the gaps, "–" without rows.
ro_cell() {
	local m n all
	all=$(awk -F'|' -v c="$1" -v cl="$2" '$2 == c && $3 == cl' "$RL_ROWS" | wc -l)
	[ "$all" -gt 0 ] || { echo "–"; return 0; }
	n=$(awk -F'|' -v c="$1" -v cl="$2" '$2 == c && $3 == cl && $4 ~ /^[0-9]+$/' "$RL_ROWS" | wc -l)
	m=$(rl_median "$1" "$2")
	echo "$(fmt "$m" %.0f) ($n/$all)"
}

ro_main() {
	local c class ss ika lim
	rl_up
	echo "# mode=roam runs=$BENCH_RUNS ping_interval=$ROAM_PING_INTERVAL ss_prefer_best=$ROAM_SS_PREFER_BEST down=$ROAM_DOWN rpfilter=${TB_RT_RPFILTER:-1}" >>"$BENCH_RAW"
	for c in ${BENCH_ROAM_CLIENTS:-ss agent}; do
		ro_client "$c"
	done
	sed 's/^/row=/' "$RL_ROWS" >>"$BENCH_RAW"
	echo
	echo "### roaming: median ping gap in ms (ping every $ROAM_PING_INTERVAL s through the tunnel; moved/all moves), $BENCH_RUNS rounds; strongSwan client with prefer_best_path = $ROAM_SS_PREFER_BEST; ika-rt rp_filter ${TB_RT_RPFILTER:-1}"
	echo
	echo "| move | strongSwan client | ikeagent | ikeagent / strongSwan | ikeagent target |"
	echo "|---|---:|---:|---:|---|"
	for class in udp-udp return udp-tcp tcp-udp remembered; do
		case $class in
		udp-udp) lim="≤ 300 (A gone / A down -> B)" ;;
		return) lim="≤ 300 (A back: to A)" ;;
		udp-tcp) lim="≤ 1500 (B drops UDP)" ;;
		tcp-udp) lim="≤ 500 (A back: TCP -> UDP)" ;;
		remembered) lim="≤ 500 (B known UDP-hostile)" ;;
		esac
		ss=$(rl_median "$class" ss) ika=$(rl_median "$class" agent)
		printf '| %s | %s | %s | %s | %s |\n' "$class" "$(ro_cell "$class" ss)" "$(ro_cell "$class" agent)" \
			"$(fmt "$(ratio "$ika" "$ss")" %.2f)" "$lim"
	done
	echo
	echo "every move:"
	rl_table
	echo "raw numbers: $BENCH_RAW"
}
