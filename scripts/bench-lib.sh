# shellcheck shell=bash disable=SC2154,SC2034 # variables of scripts/bench (AGENT_PID: its cleanup)
# BENCH_MODE=transports of scripts/bench: ikeagent over UDP, TCP and TLS
# (RFC 9329, through ikerelay in the gateway namespace), sourced by
# scripts/bench after the testbed library; never run on its own.
#
#   1. iperf3 TCP (upload; -R too with BENCH_REVERSE=1) and ping RTT
#      (BENCH_PINGS at 0.1 s) through the tunnel with order = udp / tcp / tls,
#      at BENCH_LOSS random loss (nftables numgen on the client's veth, both
#      directions, only while measuring: the tunnel is set up without loss);
#      the transports alternate (ABC, CBA, ...) inside every run and loss level
#   2. TCP/UDP and TLS/UDP ratios per loss level against the targets
#      TCP >= BENCH_TCP_T0 x UDP at 0 % and >= BENCH_TCP_T3 x UDP at 3 %
#   3. time to tunnel (ikeagent run -> first ping answered, 50 ms polling),
#      order = udp tcp tls, udp_timeout 1s: UDP open; UDP blocked (-> tcp);
#      only TCP 443 open (-> tls); only an HTTP proxy reachable (tinyproxy,
#      -> tls through it; skipped without tinyproxy); BENCH_TTT_RUNS each
#
# Knobs: BENCH_LOSS ["0 1 3"]  BENCH_PINGS [20]  BENCH_TTT_RUNS [3]
#        BENCH_TCP_T0 [0.9]  BENCH_TCP_T3 [0.5]  BENCH_RELAY [build/ikerelay]
#        BENCH_TTT [1] (0: skip part 3)

BENCH_LOSS=${BENCH_LOSS:-"0 1 3"}
BENCH_PINGS=${BENCH_PINGS:-20}
BENCH_TTT_RUNS=${BENCH_TTT_RUNS:-3}
BENCH_TTT=${BENCH_TTT:-1}
BENCH_TCP_T0=${BENCH_TCP_T0:-0.9}
BENCH_TCP_T3=${BENCH_TCP_T3:-0.5}
BENCH_RELAY=${BENCH_RELAY:-build/ikerelay}
case $BENCH_RELAY in /*) RELAY=$BENCH_RELAY ;; *) RELAY=$ROOT/$BENCH_RELAY ;; esac
TR_PROXY_PORT=8888
TR_PROXY_USER=ikbench
TR_PROXY_PASS="pw-$$-$(date +%s)"
RELAY_PID=""
PROXY_PID=""
PINGER_PID=""

tr_check() {
	[ -x "$RELAY" ] || die "no $RELAY: make build/ikerelay, or set BENCH_RELAY"
	command -v nft >/dev/null 2>&1 || die "no nft (loss and blocking)"
	command -v openssl >/dev/null 2>&1 || die "no openssl (the relay's certificate)"
}

# The gateway's templates with the per-address thresholds raised (testbed.sh).
tr_templates() {
	tb_templates_relayed "$WORK/templates" || die "could not raise cookie_threshold_ip"
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
	tb_stop_pid "$PROXY_PID"; PROXY_PID=""
	tb_stop_pid "$RELAY_PID"; RELAY_PID=""
}

# ---- nftables in the client namespace --------------------------------------------

# tr_loss PERCENT: drop PERCENT % of the packets to and from the gateway
# (0: no table).
tr_loss() {
	tb_ns_exec cli nft delete table inet ikbloss 2>/dev/null
	[ "$1" = 0 ] && return 0
	tb_ns_exec cli nft -f - <<-EOF || die "nft: cannot install the loss filter"
		table inet ikbloss {
			chain output {
				type filter hook output priority -10; policy accept;
				ip daddr $TB_GW_ADDR numgen random mod 100 < $1 drop
			}
			chain input {
				type filter hook input priority -10; policy accept;
				ip saddr $TB_GW_ADDR numgen random mod 100 < $1 drop
			}
		}
	EOF
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

# tr_iperf RUN CFG LOSS DIR: one raw line; a failed iperf3 is recorded as 0.
tr_iperf() {
	local run=$1 cfg=$2 loss=$3 dir=$4 rflag="" js=$WORK/iperf.json c0 c1 g0 g1 r0 r1 res gw
	[ "$dir" = rev ] && rflag=-R
	gw=$(gw_pid)
	c0=$(cpu_ticks "$CFG_PID") g0=$(cpu_ticks "$gw") r0=$(cpu_ticks "$RELAY_PID")
	# shellcheck disable=SC2086 # rflag: empty or one word
	timeout $((BENCH_SECONDS + 30)) ip netns exec "$TB_NS_CLI" iperf3 -c "$TB_IN_ADDR" \
		-t "$BENCH_SECONDS" -J $rflag >"$js" 2>"$WORK/iperf.err"
	c1=$(cpu_ticks "$CFG_PID") g1=$(cpu_ticks "$gw") r1=$(cpu_ticks "$RELAY_PID")
	[ -n "$c1" ] || die "$cfg: ikeagent $CFG_PID died during iperf3"
	res=$("$PY" - "$js" <<-'EOF'
		import json, sys
		try:
		    j = json.load(open(sys.argv[1]))
		    r, s = j["end"]["sum_received"], j["end"]["sum_sent"]
		    print(int(r["bytes"]), "%.1f" % (r["bits_per_second"] / 1e6), int(s.get("retransmits", 0)))
		except Exception as e:
		    print("error", str(j.get("error", e)).replace(" ", "_") if "j" in dir() else "no_json")
	EOF
	)
	case $res in
	error*) note "$cfg loss $loss% $dir run $run: iperf3 failed: ${res#error }"
		res="0 0 0 err=${res#error }" ;;
	esac
	# shellcheck disable=SC2086
	set -- $res
	echo "kind=tput run=$run cfg=$cfg transport=$("cfg_${cfg}_transport") loss=$loss dir=$dir" \
		"bytes=$1 mbps=$2 retrans=$3 ${4:-}" \
		"cpu_cli_s=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')" \
		"cpu_gw_s=$(awk -v a="$g0" -v b="$g1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')" \
		"cpu_relay_s=$(awk -v a="${r0:-0}" -v b="${r1:-0}" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')" \
		"load=$(cut -d' ' -f1 /proc/loadavg)" >>"$BENCH_RAW"
	note "run $run $cfg loss $loss% $dir: $2 Mbit/s"
}

# rtt_pings N: N ICMP echos to the inside host at 0.1 s intervals (no ping
# binary needed), waiting 2 s after the last; one RTT in ms per answer.
rtt_pings() {
	ip netns exec "$TB_NS_CLI" "$PY" - "$TB_IN_ADDR" "$1" <<-'EOF'
		import os, select, socket, struct, sys, time
		addr, n = sys.argv[1], int(sys.argv[2])
		s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
		ident, sent, got = os.getpid() & 0xffff, {}, {}
		def csum(b):
		    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
		    t = (t >> 16) + (t & 0xffff); t += t >> 16
		    return ~t & 0xffff
		nxt, seq = time.monotonic(), 0
		end = nxt + 0.1 * n + 2
		while time.monotonic() < end and len(got) < n:
		    now = time.monotonic()
		    if seq < n and now >= nxt:
		        seq += 1
		        body = struct.pack("!HH", ident, seq) + b"ikeagent-bench-rtt" + b"\0" * 38
		        sent[seq] = time.monotonic()
		        try: s.sendto(struct.pack("!BBH", 8, 0, csum(b"\x08\x00\x00\x00" + body)) + body, (addr, 0))
		        except OSError: pass
		        nxt += 0.1
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

# tr_ping RUN CFG LOSS: BENCH_PINGS pings at 0.1 s; median and mean RTT.
tr_ping() {
	echo "kind=ping run=$1 cfg=$2 transport=$("cfg_${2}_transport") loss=$3 $(
		rtt_pings "$BENCH_PINGS" | sort -g | awk -v n="$BENCH_PINGS" '
			{ a[NR] = $1; s += $1 }
			END {
				if (NR == 0) { print "rtt_med=nan rtt_avg=nan ping_lost=" n; exit }
				m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
				printf "rtt_med=%.3f rtt_avg=%.3f ping_lost=%d\n", m, s / NR, n - NR }')" >>"$BENCH_RAW"
}

# As in the report part of scripts/bench (defined there only after the run).
fmt() { awk -v x="$1" -v f="$2" 'BEGIN { if (x == "nan" || x == "") print "–"; else printf f, x }'; }
dirname_of() { if [ "$1" = fwd ]; then echo "upload (cli→in)"; else echo "download (-R)"; fi; }

# tr_cycle RUN CFG LOSS: up (no loss), loss on, iperf3, ping, loss off, down.
tr_cycle() {
	local dir
	"cfg_${2}_up"
	tb_gw_swanctl --list-sas 2>/dev/null | grep -q "AES_GCM_16-256" ||
		note "$2: the gateway's Child SA is not AES_GCM_16-256?"
	[ "$(status_json | sed -n 's/.*"transport":"\([a-z]*\)".*/\1/p')" = "$("cfg_${2}_transport")" ] ||
		note "$2: status does not say transport $("cfg_${2}_transport"): $(status_json)"
	tr_loss "$3"
	for dir in $DIRS; do
		tr_iperf "$1" "$2" "$3" "$dir"
	done
	tr_ping "$1" "$2" "$3"
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

# tval KIND CFG LOSS DIR KEY: median over the raw lines.
tval() {
	awk -v kind="$1" -v c="$2" -v l="$3" -v d="$4" -v k="$5" '
		$0 !~ /^#/ {
			delete f
			for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			if (f["kind"] == kind && f["cfg"] == c && f["loss"] == l && (d == "" || f["dir"] == d) && (k in f) && f[k] != "nan") print f[k]
		}' "$BENCH_RAW" | median
}
tsum() {
	awk -v kind="$1" -v c="$2" -v l="$3" -v k="$4" '
		$0 !~ /^#/ {
			delete f
			for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			if (f["kind"] == kind && f["cfg"] == c && f["loss"] == l) s += f[k]
		} END { print s + 0 }' "$BENCH_RAW"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "nan") printf "%.2f", a / b; else print "nan" }'; }

tr_main() {
	local run loss cfg cfgs i=0 dir sc
	local TR_CONFIGS="ika_udp ika_tcp ika_tls" TR_REV="ika_tls ika_tcp ika_udp"
	echo "# mode=transports loss=\"$BENCH_LOSS\" pings=$BENCH_PINGS dirs=\"$DIRS\" relay=$RELAY" >>"$BENCH_RAW"
	tr_relay_start
	for run in $(seq 1 "$BENCH_RUNS"); do
		for loss in $BENCH_LOSS; do
			if [ $((i % 2)) = 0 ]; then cfgs=$TR_CONFIGS; else cfgs=$TR_REV; fi
			i=$((i + 1))
			for cfg in $cfgs; do
				tr_cycle "$run" "$cfg" "$loss"
			done
		done
	done
	if [ "$BENCH_TTT" = 1 ]; then
		local have_proxy=0
		if command -v tinyproxy >/dev/null 2>&1 && tr_proxy_start; then have_proxy=1
		else note "no tinyproxy: the proxy scenario is skipped"; fi
		for run in $(seq 1 "$BENCH_TTT_RUNS"); do
			tr_ttt "$run" udp_open udp none
			tr_ttt "$run" udp_blocked tcp udp
			tr_ttt "$run" only_443 tls "udp tcp4500"
			[ "$have_proxy" = 1 ] && tr_ttt "$run" proxy_only tls all-but-proxy \
				"proxy = http://$TR_PROXY_USER:$TR_PROXY_PASS@$TB_GW_ADDR:$TR_PROXY_PORT"
		done
		tb_stop_pid "$PROXY_PID"; PROXY_PID=""
	fi
	tb_stop_pid "$RELAY_PID"; RELAY_PID=""
	tr_report
}

tr_report() {
	local loss cfg dir u t r s0="" line=""
	echo
	echo "### ikeagent transports: iperf3 TCP ${BENCH_SECONDS} s to $TB_IN_ADDR, median of $BENCH_RUNS, $BENCH_IKE / $BENCH_ESP, strongSwan crypto: $BENCH_SS_CRYPTO; random loss both ways on the client's veth"
	echo
	echo "| loss | transport | direction | Mbit/s | ratio vs UDP | retransmits | ping RTT median ms | RTT avg ms | pings lost | ikeagent CPU s | relay CPU s | gateway charon CPU s |"
	echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for loss in $BENCH_LOSS; do
		for dir in $DIRS; do
			u=$(tval tput ika_udp "$loss" "$dir" mbps)
			for cfg in ika_udp ika_tcp ika_tls; do
				t=$(tval tput "$cfg" "$loss" "$dir" mbps)
				printf '| %s %% | %s | %s | %s | %s | %s | %s | %s | %s/%s | %s | %s | %s |\n' "$loss" \
					"$("cfg_${cfg}_transport")" "$(dirname_of "$dir")" "$(fmt "$t" %.0f)" \
					"$(fmt "$(ratio "$t" "$u")" %.2f)" "$(fmt "$(tval tput "$cfg" "$loss" "$dir" retrans)" %.0f)" \
					"$(fmt "$(tval ping "$cfg" "$loss" "" rtt_med)" %.2f)" \
					"$(fmt "$(tval ping "$cfg" "$loss" "" rtt_avg)" %.2f)" \
					"$(tsum ping "$cfg" "$loss" ping_lost)" "$((BENCH_PINGS * BENCH_RUNS))" \
					"$(fmt "$(tval tput "$cfg" "$loss" "$dir" cpu_cli_s)" %.2f)" \
					"$(fmt "$(tval tput "$cfg" "$loss" "$dir" cpu_relay_s)" %.2f)" \
					"$(fmt "$(tval tput "$cfg" "$loss" "$dir" cpu_gw_s)" %.2f)"
			done
		done
	done

	echo
	echo "| loss | direction | UDP Mbit/s | TCP Mbit/s | TCP/UDP | TLS Mbit/s | TLS/UDP | target | verdict |"
	echo "|---:|---|---:|---:|---:|---:|---:|---|---|"
	for loss in $BENCH_LOSS; do
		for dir in $DIRS; do
			u=$(tval tput ika_udp "$loss" "$dir" mbps)
			t=$(tval tput ika_tcp "$loss" "$dir" mbps)
			r=$(tval tput ika_tls "$loss" "$dir" mbps)
			local tgt="" verdict="–" rt
			rt=$(ratio "$t" "$u")
			case $loss in 0) tgt=$BENCH_TCP_T0 ;; 3) tgt=$BENCH_TCP_T3 ;; esac
			if [ -n "$tgt" ]; then
				verdict=$(awk -v r="$rt" -v g="$tgt" -v u="$u" 'BEGIN {
					if (r == "nan") print "no data"
					else if (r >= g) printf "met (+%.2f)", r - g
					else printf "MISSED by %.2f (%.0f Mbit/s short)", g - r, (g - r) * u }')
				line="$line${line:+; }TCP/UDP at $loss % $dir: $rt (target ≥ $tgt: $verdict)"
			fi
			printf '| %s %% | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$loss" "$(dirname_of "$dir")" \
				"$(fmt "$u" %.0f)" "$(fmt "$t" %.0f)" "$(fmt "$rt" %.2f)" "$(fmt "$r" %.0f)" \
				"$(fmt "$(ratio "$r" "$u")" %.2f)" "${tgt:+TCP ≥ $tgt× UDP}" "$verdict"
			s0="$s0${s0:+, }$loss %: TCP $(fmt "$rt" %.2f) TLS $(fmt "$(ratio "$r" "$u")" %.2f)"
		done
	done

	if grep -q '^kind=ttt' "$BENCH_RAW"; then
		echo
		echo "| scenario (order = udp tcp tls, udp_timeout 1 s) | expected | got | time to tunnel ms (median) | min | max | agent's own ms (median) | runs |"
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
	echo "throughput vs UDP: $s0"
	echo "targets: $line"
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
