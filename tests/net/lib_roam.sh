# shellcheck shell=bash disable=SC2034,SC2016 # RL_* for the callers; conditions evaluated later
# Roaming (MOBIKE, RFC 4555) in the two-uplink testbed (TB_UPLINKS=2 of
# scripts/testbed.sh): one IKE SA moves between uplink A (10.99.0.2) and B
# (10.98.0.2), and between UDP and RFC 9329 TCP/TLS through ikerelay. bash;
# sourced after lib_agent.sh and lib_transport.sh and la_init (TB_UPLINKS=2
# set before them), never run. The client is strongSwan's own
# (ROAM_CLIENT=ss: a second charon with mobike = yes) or ikeagent (agent).
#
#   rl_up                 testbed, gateway (mobike = yes), $WORK, ikerelay
#   rl_client_start / rl_client_stop    the ROAM_CLIENT, connected on uplink A
#   rl_sa                 "SPIS LOCAL TRANSPORT" as the client sees its IKE SA
#   rl_gw_remote          the client address the gateway's IKE SA has
#   rl_move LABEL CLASS ACTION TO WANT   one measured move (below)
#   rl_return LABEL ACTION              uplink A back: the client may move
#                         back (measured) or stay on B (recorded; then it is
#                         put back on A by a measured move "B gone -> A")
#   rl_udp_moves          the UDP->UDP moves once: address of A gone, A back,
#                         link A down, link A up; a move that does not happen
#                         is recorded, the client put back on A (rl_recover)
#                         and the sequence goes on
#   rl_stream_moves       (ikeagent) network B blocks UDP: A gone -> TCP, A
#                         back -> UDP, A gone again -> TCP at once (the
#                         agent remembers B in its state_dir)
#   rl_table              the rows so far, as a table
#   rl_median CLASS       median gap (ms) of the rows of CLASS
#
# rl_move: a transfer (ROAM_XFER_MIB MiB over HTTP at ROAM_XFER_RATE) and an
# ICMP echo to the inside host every ROAM_PING_INTERVAL s (pinger.py) run
# across the move; after a second of answered pings ACTION runs (e.g.
# tb_uplink_del A); then, within ROAM_MOVE_S: the client's IKE SA has its
# local address on uplink TO (for UDP also the gateway's view of the
# client), and pings are answered again for another second. A row in
# $WORK/roam.rows (one per move, '|'-separated):
#   label|class|client|gap_ms|moved_ms|transport before>after|spis same|xfer|note
# gap_ms: the longest run of unanswered pings x the interval (0: none lost);
# moved_ms: from ACTION until the client reported the new address (polled
# every 0.1 s, swanctl or `ikeagent status`); xfer: ok | bad | off.
# CLASS: udp-udp, return, udp-tcp, tcp-udp, remembered (limits: the test).
#
# Knobs: ROAM_CLIENT [agent] (ss|agent)  ROAM_PING_INTERVAL [0.1]
#   ROAM_MOVE_S [10] (deadline of one move)  ROAM_RETURN_S [10] (how long a
#   return is given before "stayed")  ROAM_XFER [1]  ROAM_XFER_MIB [4]
#   ROAM_XFER_RATE [1M] (curl --limit-rate)  ROAM_DOWN [admin] (tb_uplink_down
#   mode of the link moves: admin | carrier)  ROAM_SS_PREFER_BEST [yes]
#   (TB_PREFER_BEST_PATH, charon.prefer_best_path, of the strongSwan
#   client: yes moves it back to A when A returns; with strongSwan's default
#   no it stays on B, whose packets then leave over A's route and are dropped
#   by ika-rt's BCP 38 filter: the IKE SA dies after its retransmits)

ROAM_CLIENT=${ROAM_CLIENT:-agent}
ROAM_PING_INTERVAL=${ROAM_PING_INTERVAL:-0.1}
ROAM_MOVE_S=${ROAM_MOVE_S:-10}
ROAM_RETURN_S=${ROAM_RETURN_S:-10}
ROAM_XFER=${ROAM_XFER:-1}
ROAM_XFER_MIB=${ROAM_XFER_MIB:-4}
ROAM_XFER_RATE=${ROAM_XFER_RATE:-1M}
ROAM_DOWN=${ROAM_DOWN:-admin}
ROAM_SS_PREFER_BEST=${ROAM_SS_PREFER_BEST:-yes}
RL_N=0
RL_PING_PID=""
RL_XFER_PID=""

rl_check() {
	case $ROAM_CLIENT in
	ss | agent) ;;
	*) la_fail "ROAM_CLIENT=$ROAM_CLIENT: want ss or agent" ;;
	esac
	[ "${TB_UPLINKS:-1}" = 2 ] || la_fail "lib_roam: set TB_UPLINKS=2 before sourcing the testbed"
	[ -n "$(tb__python)" ] || la_skip "no python3 (the pinger)"
}

# ---- setup ----------------------------------------------------------------------

rl_up() {
	rl_check
	lt_up
	RL_ROWS=$WORK/roam.rows
	: >"$RL_ROWS"
	[ "$ROAM_XFER" = 1 ] && la_blob "$ROAM_XFER_MIB"
}

rl_client_start() {
	case $ROAM_CLIENT in
	ss)
		TB_PREFER_BEST_PATH=$ROAM_SS_PREFER_BEST tb_client_ss_start psk >"$WORK/ss-start.log" 2>&1 ||
			la_fail "strongSwan client did not connect: $(tail -n 3 "$WORK/ss-start.log")" ;;
	agent)
		# reconnect = yes: an agent that cannot move shows up as new SPIs.
		lt_conf "$WORK/agent.conf" tunnel.mobike=yes tunnel.reconnect=yes
		la_start "$WORK/agent.conf"
		la_wait_up "start" 10 ;;
	esac
	la_ping_inside || la_fail "start: no ping through the tunnel"
	[ "$(rl_local)" = "$TB_CLI_ADDR" ] || la_fail "start: the IKE SA is not on uplink A: $(rl_sa)"
}

rl_client_stop() {
	case $ROAM_CLIENT in
	ss)
		tb_cli_swanctl --terminate --ike gw --timeout 5 >/dev/null 2>&1
		tb_client_ss_stop ;;
	agent)
		# Not la_sigint: the moves reorder ika-cli's routes (link down/up),
		# so its snapshot comparison would fail on the order alone.
		if la_alive; then
			kill -INT "$AGENT_PID"
			la_wait_exit "stop"
			[ "$AGENT_RC" = 0 ] || la_fail "stop: ikeagent run exited $AGENT_RC after SIGINT"
		fi ;;
	esac
	tb_wait_for "! tb_gw_swanctl --list-sas 2>/dev/null | grep -q ESTABLISHED" 5
}

# ---- what the client and the gateway say ---------------------------------------------

# rl_sa: "SPI_I:SPI_R LOCAL TRANSPORT" of the client's established IKE SA
# ("- - -": none).
rl_sa() {
	local out
	case $ROAM_CLIENT in
	ss)
		out=$(tb_cli_swanctl --list-sas --ike gw 2>/dev/null | awk '
			/^[^ ].*: #[0-9]+, ESTABLISHED, IKEv2, / { spi = $5 ":" $6; gsub(/_[ir]\*?/, "", spi); on = 1; next }
			/^[^ ]/ { on = 0 }
			on && $1 == "local" { sub(/.*@ /, ""); sub(/\[.*/, ""); print spi, $0, "udp"; exit }') ;;
	agent)
		local js spi loc tr
		js=$(la_status_json)
		[ "$(la_state)" = established ] || js=""
		spi=$(la_json_str ike_spi "$js")
		loc=$(la_json_str local "$js" | grep -o -E '[0-9]+(\.[0-9]+){3}' | head -n 1)
		tr=$(la_json_str transport "$js")
		[ -n "$spi" ] && out="$spi ${loc:--} ${tr:--}" ;;
	esac
	echo "${out:-- - -}"
}
rl_spis() { rl_sa | cut -d' ' -f1; }
rl_local() { rl_sa | cut -d' ' -f2; }
rl_transport() { rl_sa | cut -d' ' -f3; }

# rl_gw_remote: the client's address in the gateway's established IKE SA.
rl_gw_remote() {
	tb_gw_swanctl --list-sas 2>/dev/null | awk '
		/^[^ ].*: #[0-9]+, ESTABLISHED, IKEv2, / { on = 1; next }
		/^[^ ]/ { on = 0 }
		on && $1 == "remote" { sub(/.*@ /, ""); sub(/\[.*/, ""); print; exit }'
}

# rl_on UPLINK: the client's IKE SA is on UPLINK (for UDP: the gateway
# agrees; through the relay it sees the relay's address).
rl_on() {
	local sa loc tr
	sa=$(rl_sa)
	loc=$(echo "$sa" | cut -d' ' -f2) tr=$(echo "$sa" | cut -d' ' -f3)
	[ "$loc" = "$(tb_uplink_addr "$1")" ] || return 1
	[ "$tr" != udp ] || [ "$(rl_gw_remote)" = "$(tb_uplink_seen "$1")" ]
}

# ---- traffic across a move -------------------------------------------------------------

rl__ping_start() {
	RL_PING_OUT=$WORK/ping-$RL_N.out
	: >"$RL_PING_OUT"
	ip netns exec "$TB_NS_CLI" "$(tb__python)" "$LA_ROOT/tests/net/pinger.py" "$TB_IN_ADDR" 600 \
		"$ROAM_PING_INTERVAL" "$RL_PING_OUT" &
	RL_PING_PID=$!
}
# Answers so far (from the pinger's progress lines, about one a second).
rl__ping_received() { awk '$1 == "progress" { r = $3 } END { print r + 0 }' "$RL_PING_OUT"; }
rl__ping_stop() {
	[ -n "$RL_PING_PID" ] || return 0
	kill -TERM "$RL_PING_PID" 2>/dev/null
	tb_wait_for "grep -q '^done ' '$RL_PING_OUT'" 5
	wait "$RL_PING_PID" 2>/dev/null
	RL_PING_PID=""
}
# Longest run of unanswered pings, in ms.
rl__gap_ms() {
	awk -v i="$ROAM_PING_INTERVAL" '$1 == "lost" && $4 > n { n = $4 } END { printf "%d", n * i * 1000 + 0.5 }' \
		"$RL_PING_OUT"
}

rl__xfer_start() {
	RL_XFER_OUT=$WORK/xfer-$RL_N.out
	: >"$RL_XFER_OUT"
	[ "$ROAM_XFER" = 1 ] || return 0
	la_fetch_sha "$LA_BLOB_URL" --limit-rate "$ROAM_XFER_RATE" -m 60 >"$RL_XFER_OUT" 2>/dev/null &
	RL_XFER_PID=$!
}
# ok | bad | off
rl__xfer_result() {
	[ "$ROAM_XFER" = 1 ] || { echo off; return 0; }
	tb_wait_for "! kill -0 $RL_XFER_PID 2>/dev/null" 65
	wait "$RL_XFER_PID" 2>/dev/null
	RL_XFER_PID=""
	if [ "$(cat "$RL_XFER_OUT")" = "$LA_BLOB_SHA" ]; then echo ok; else echo bad; fi
}

# For the EXIT trap, before la__cleanup.
rl_cleanup() {
	local p
	for p in $RL_PING_PID $RL_XFER_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	RL_PING_PID="" RL_XFER_PID=""
}

# rl__ss_quiet: strongSwan's client sent no IKE packet in the last 2 s
# (its log's [NET] lines; whole seconds).
rl__ss_quiet() {
	local last now
	last=$(grep '\[NET\]' "$TB_DIR/cli/charon.log" | tail -n 1 | cut -c1-8)
	[ -n "$last" ] || return 0
	now=$(date +%T)
	awk -v a="$last" -v b="$now" 'BEGIN { split(a, x, ":"); split(b, y, ":")
		d = (y[1] * 3600 + y[2] * 60 + y[3]) - (x[1] * 3600 + x[2] * 60 + x[3])
		exit !(d >= 2 || d < 0) }'
}

# ---- a move --------------------------------------------------------------------------------

# rl_move LABEL CLASS ACTION TO WANT: see the top. 0 if the client moved to
# TO (whatever the transport and SPIs: the row says), 1 if not.
rl_move() {
	local label=$1 class=$2 action=$3 to=$4 want=$5 sa0 sa1 t0 moved_ms=- r0 gap xfer note="" rc=0
	RL_N=$((RL_N + 1))
	# strongSwan's client does one exchange at a time: a move while an
	# earlier MOBIKE exchange still retransmits waits behind it.
	[ "$ROAM_CLIENT" = ss ] && tb_wait_for rl__ss_quiet 15
	sa0=$(rl_sa)
	rl__xfer_start
	rl__ping_start
	tb_wait_for "[ \$(rl__ping_received) -ge 10 ]" "$(la_dl 5)" ||
		la_fail "$label: no pings answered before the move ($(rl_sa); $(tb_uplink_current))"
	t0=$(la_now_ms)
	eval "$action" || la_fail "$label: '$action' failed"
	if tb_wait_for "rl_on $to" "$(la_dl "$ROAM_MOVE_S")"; then
		moved_ms=$(( $(la_now_ms) - t0 ))
		r0=$(rl__ping_received)
		tb_wait_for "[ \$(rl__ping_received) -ge $((r0 + 10)) ]" "$(la_dl 5)" ||
			note="no pings answered after the move"
	else
		note="not on $to after $(la_dl "$ROAM_MOVE_S") s (SA: $(rl_sa); gateway sees $(rl_gw_remote))"
		rc=1
	fi
	rl__ping_stop
	gap=$(rl__gap_ms)
	[ "$rc" = 0 ] || gap=">$(( $(la_now_ms) - t0 ))"
	sa1=$(rl_sa)
	xfer=$(rl__xfer_result)
	local same=no
	[ "${sa0%% *}" = "${sa1%% *}" ] && [ "${sa0%% *}" != - ] && same=yes
	local tr="${sa0##* }>${sa1##* }"
	[ "${sa1##* }" = "$want" ] || note="${note:+$note; }want $want"
	printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$label" "$class" "$ROAM_CLIENT" "$gap" "$moved_ms" \
		"$tr" "$same" "$xfer" "$note" >>"$RL_ROWS"
	echo "$LA_NAME: $ROAM_CLIENT: $label: gap $gap ms, moved in $moved_ms ms, $tr, SPIs same: $same, transfer: $xfer${note:+ ($note)}"
	return "$rc"
}

# rl_return LABEL ACTION: uplink A comes back while the client is on B.
# ikeagent must move back (a measured move, class return). strongSwan's
# client may: if it moves within ROAM_RETURN_S, a measured row; if it stays
# on B, the row says so and whether its tunnel still works there (with
# ika-rt's BCP 38 filter, TB_RT_RPFILTER=1, B's address sent out over A's
# route is dropped), and it is put back on A by taking B's address away
# (not measured), B coming back at once. 1 if it is not working on A then.
rl_return() {
	local label=$1 action=$2 on how
	if [ "$ROAM_CLIENT" = agent ]; then
		rl_move "$label" return "$action" A "$(rl_transport)"
		return
	fi
	ROAM_MOVE_S=$ROAM_RETURN_S rl_move "$label" return "$action" A udp && return 0
	on=$(rl_local)
	if tb_wait_for tb_ping_inside 3; then how="its tunnel works"; else how="its tunnel is broken"; fi
	if [ "$on" = "$TB_CLI_ADDR" ]; then
		how="moved back only after more than $ROAM_RETURN_S s; $how"
	else
		how="stayed on ${on:-no IKE SA}; $how"
	fi
	awk -F'|' -v OFS='|' -v n="$(wc -l <"$RL_ROWS")" -v note="$how" \
		'NR == n { $4 = "-"; $5 = "-"; $8 = "-"; $9 = note } { print }' \
		"$RL_ROWS" >"$RL_ROWS.new" && mv "$RL_ROWS.new" "$RL_ROWS"
	echo "$LA_NAME: $ROAM_CLIENT: $label: $how; B's address taken away to put it on A"
	tb_uplink_del B
	if ! tb_wait_for "rl_on A && tb_ping_inside" "$(la_dl 10)"; then
		tb_uplink_add B
		return 1
	fi
	tb_uplink_add B
}

# ---- the sequences -----------------------------------------------------------------------

# rl_recover: after a move that did not happen, both uplinks back (and
# open), and the client's IKE SA working on A again within 40 s (1 if not).
# RL_MISSED counts the moves that did not happen.
RL_MISSED=0
rl_recover() {
	RL_MISSED=$((RL_MISSED + 1))
	rl_unblock
	tb_uplink_up A && tb_uplink_up B || return 1
	# strongSwan's client gives an IKE SA up after its retransmits (some
	# 24 s): a new one (the next rows compare SPIs move by move).
	if [ "$ROAM_CLIENT" = ss ] && [ "$(rl_spis)" = - ]; then
		echo "$LA_NAME: ss: no IKE SA left, initiating a new one"
		tb_client_ss_initiate >>"$WORK/ss-start.log" 2>&1
	fi
	if tb_wait_for "rl_on A && tb_ping_inside" "$(la_dl 40)"; then
		echo "$LA_NAME: $ROAM_CLIENT: recovered on A ($(rl_sa))"
		return 0
	fi
	echo "$LA_NAME: $ROAM_CLIENT: not working on A again within 40 s ($(rl_sa)); stopping"
	return 1
}

# rl_udp_moves: A gone, A back, A down, A up. A move that does not happen
# is recorded and the client put back on A (rl_recover); 1 if that fails.
rl_udp_moves() {
	if rl_move "address of A gone -> B" udp-udp "tb_uplink_del A" B udp; then
		rl_return "address of A back" "tb_uplink_add A" || rl_recover || return 1
	else
		rl_recover || return 1
	fi
	if rl_move "link A down ($ROAM_DOWN) -> B" udp-udp "tb_uplink_down A $ROAM_DOWN" B udp; then
		rl_return "link A up" "tb_uplink_up A" || rl_recover || return 1
	else
		rl_recover || return 1
	fi
}

# rl_stream_moves: network B blocks UDP (in ika-rt). 1 when a move did not
# happen. Leaves B blocked (rl_unblock).
rl_stream_moves() {
	tb_uplink_block B udp || la_fail "cannot block UDP on uplink B"
	rl_move "A gone -> B (UDP blocked)" udp-tcp "tb_uplink_del A" B tcp || { rl_recover; return 1; }
	rl_move "A back (UDP)" tcp-udp "tb_uplink_add A" A udp || { rl_recover; return 1; }
	rl_move "A gone -> B again (remembered)" remembered "tb_uplink_del A" B tcp ||
		{ rl_recover; return 1; }
	rl_move "A back again (UDP)" tcp-udp "tb_uplink_add A" A udp || { rl_recover; return 1; }
}
rl_unblock() { tb_uplink_block B; }

# ---- figures --------------------------------------------------------------------------------

# rl_median CLASS [CLIENT]: median gap in ms of the moved rows of CLASS ("nan": none).
rl_median() {
	awk -F'|' -v c="$1" -v cl="${2:-}" '$2 == c && (cl == "" || $3 == cl) && $4 ~ /^[0-9]+$/ { print $4 }' \
		"$RL_ROWS" | sort -n | awk '{ a[NR] = $1 } END {
			if (NR == 0) { print "nan"; exit }
			if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

rl_table() {
	echo "$LA_NAME: moves (ping every $ROAM_PING_INTERVAL s to $TB_IN_ADDR; gap = longest run of lost pings)"
	printf '  %-36s %-10s %-6s %8s %9s %-10s %-5s %-5s %s\n' move class client "gap ms" "moved ms" \
		transport SPIs xfer note
	awk -F'|' '{ printf "  %-36s %-10s %-6s %8s %9s %-10s %-5s %-5s %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' \
		"$RL_ROWS"
}
