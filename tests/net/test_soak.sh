#!/usr/bin/env bash
# shellcheck disable=SC2016 # tb_wait_for conditions are evaluated later
# Soak against the real strongSwan gateway (scripts/testbed.sh), PSK: the
# tunnel stays up for SOAK_SECONDS (150) while the gateway rekeys the IKE SA
# every 10 s (over_time 5 s) and the Child SA every 5 s (life_time 10 s),
# and traffic flows all the time:
#   - ICMP echo from ika-cli to the inside host every 0.1 s
#     (tests/net/pinger.py; an answer counts within 2 s)
#   - HTTP transfers of a 24 MiB blob, back to back while another fits in
#     the soak, each rate-limited to last min(85 % of the soak, 120 s), the
#     SHA-256 of each checked
# The gateway's proposals end in strongSwan's `default` (IKE and ESP): in
# its own rekeys it then offers every proposal it has, the IKE `default`
# one with more than 16 transforms. The agent must parse and answer those.
#
# Assertions (S = SOAK_SECONDS; "warm-up": a sample WARMUP = 20 s into the
# soak, "end": one at its end):
#   no reconnect      status reconnects and transport_reconnects 0; no
#                     "agent: connection lost / reconnecting" in the agent
#                     log; the gateway set up one IKE SA from scratch (all
#                     the others were rekeys) and destroyed none ("...,
#                     destroying IKE_SA", e.g. after an INVALID_SYNTAX answer)
#   IKE SA rekeys     >= S / 15    (10 in 150 s; lines "ike: IKE SA rekeyed"
#                                   of the agent log)
#   Child SA rekeys   >= 2 S / 15  (20 in 150 s; status `rekeys`, which
#                                   counts Child SA rekeys only)
#                     (the table shows the gateway's counts beside them)
#   ping loss         < 1 %
#   transfers         at least one, every SHA-256 right
#   agent memory      RssAnon (/proc/PID/status) end - warm-up < 1024 KiB
#                     (not for a sanitizer build: ASan's quarantine grows;
#                     LeakSanitizer checks the agent when it exits)
#   agent fds         entries of /proc/PID/fd: end = warm-up +- 1
#   afterwards        the gateway settles on one IKE SA and one Child SA;
#                     `ikeagent down`: exit 0, ika-cli restored
# The agent runs with reconnect = yes, so that a lost IKE SA shows up as a
# reconnect. The soak stops early when the IKE SA is lost (by either side)
# or the agent exits; the other figures are then not checked. A table of
# the figures ends the output, pass or fail.
#
# Knobs (environment): SOAK_SECONDS [150], SOAK_WARMUP [20],
#   SOAK_PROGRESS [0]  seconds between progress lines (0: none)
#   SOAK_PHASE [0]     1: keep the Child SA rekeys out of step with the IKE
#                      SA rekeys (see "The phase of the rekeys" below)
#   SOAK_IKE_PROPOSALS, SOAK_ESP_PROPOSALS  the gateway's (defaults below;
#                      for by-hand comparisons only: the table names them)
# scripts/soak runs this with a longer SOAK_SECONDS.
# Exit 0 pass, 77 skip (not root, no netns, no strongSwan, no build, no
# python3), 1 fail, 2 bad knobs.
# Usage: sh tests/net/test_soak.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_soak
TB_PREFIX=${TB_PREFIX:-iksoak}
SOAK_SECONDS=${SOAK_SECONDS:-150}
SOAK_WARMUP=${SOAK_WARMUP:-20}
SOAK_PROGRESS=${SOAK_PROGRESS:-0}
SOAK_PHASE=${SOAK_PHASE:-0}
for v in SOAK_SECONDS SOAK_WARMUP SOAK_PROGRESS; do
	case ${!v} in
	'' | *[!0-9]*) echo "$LA_NAME: $v=${!v}: want whole seconds"; exit 2 ;;
	esac
done
case $SOAK_PHASE in
0 | 1) ;;
*) echo "$LA_NAME: SOAK_PHASE=$SOAK_PHASE: want 0 or 1"; exit 2 ;;
esac
if [ "$SOAK_WARMUP" -lt 1 ] || [ "$SOAK_SECONDS" -lt $((2 * SOAK_WARMUP)) ]; then
	echo "$LA_NAME: SOAK_SECONDS=$SOAK_SECONDS: want at least twice SOAK_WARMUP=$SOAK_WARMUP (>= 1)"
	exit 2
fi
TB_IKE_PROPOSALS=${SOAK_IKE_PROPOSALS:-aes256gcm16-prfsha256-ecp256, aes256-sha256-modp2048, default}
TB_ESP_PROPOSALS=${SOAK_ESP_PROPOSALS:-aes256gcm16, default}
TB_IKE_REKEY_TIME=10s
TB_CHILD_REKEY_TIME=5s
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
la_init "${1:-build}"
PY=$(tb__python)
[ -n "$PY" ] || la_skip "no python3 (the pinger)"

WANT_IKE=$((SOAK_SECONDS / 15))
WANT_CHILD=$((SOAK_SECONDS * 2 / 15))
MAX_ANON_KIB=1024
MAX_FD_DIFF=1
BLOB_MIB=24
PING_INTERVAL=0.1
# One transfer lasts XFER_S at XFER_RATE bytes/s.
XFER_S=$((SOAK_SECONDS * 85 / 100))
[ "$XFER_S" -le 120 ] || XFER_S=120
XFER_RATE=$(( (BLOB_MIB << 20) / XFER_S ))
PING_PID="" XFER_PID=""

soak_stop_helpers() {
	local p
	for p in $PING_PID $XFER_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PING_PID="" XFER_PID=""
}
trap 'rc=$?; soak_stop_helpers; (exit $rc); la__cleanup' EXIT

# ---- the agent's figures ------------------------------------------------------

anon_kib() { sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$AGENT_PID/status" 2>/dev/null; }
n_fds() { find "/proc/$AGENT_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
n_ike_rekeys() { grep -c 'ike: IKE SA rekeyed' "$AGENT_LOG"; }
# The agent lost its IKE SA (or its transport) and sets it up again.
lost_re='agent: (connection lost|reconnecting)'
# The gateway destroyed the IKE SA (an error, not a rekey; it sends no
# DELETE then, and the agent notices only through DPD a minute later).
gw_lost_re='destroying IKE_SA|giving up after [0-9]+ retransmits'
soak_broken() {
	! la_alive || grep -q -E "$lost_re" "$AGENT_LOG" || grep -q -E "$gw_lost_re" "$TB_DIR/gw/charon.log"
}
now_s() { echo $(( ($(la_now_ms) - SOAK_T0) / 1000 )); }

# ---- the gateway's figures (charon.log) ---------------------------------------

gw_n() { grep -c -E "$1" "$TB_DIR/gw/charon.log"; }
# IKE SAs set up from scratch (a rekeyed one is "rekeyed between").
gw_n_init() { gw_n 'IKE_SA [a-z]+\[[0-9]+\] established between'; }
gw_n_ike_rekeys() { gw_n 'IKE_SA [a-z]+\[[0-9]+\] rekeyed between'; }
# A rekeyed Child SA is installed in two steps (a first one in one).
gw_n_child_rekeys() { gw_n '> outbound CHILD_SA [a-z]+\{[0-9]+\} established'; }

# ---- traffic -------------------------------------------------------------------

# xfer_loop END_MS: the blob again and again while one more fits before
# END_MS; a line per transfer in $WORK/xfer.out: "ok|bad SHA256 MS".
xfer_loop() {
	local end=$1 t got ms
	while [ $(( end - $(la_now_ms) )) -ge $((XFER_S * 1050)) ]; do
		t=$(la_now_ms)
		got=$(la_fetch_sha "$LA_BLOB_URL" --limit-rate "$XFER_RATE" -m $((XFER_S * 3 + 30)))
		ms=$(( $(la_now_ms) - t ))
		if [ "$got" = "$LA_BLOB_SHA" ]; then
			echo "ok $got $ms"
		else
			echo "bad ${got:-none} $ms"
		fi >>"$WORK/xfer.out"
	done
}

# gw_rekey_child WHAT: the gateway rekeys the Child SA now; the agent's
# status `rekeys` goes up.
gw_rekey_child() {
	local rk
	rk=$(la_json_num rekeys)
	tb_gw_swanctl --rekey --child net >"$WORK/rekey.out" 2>&1 ||
		la_fail "$1: swanctl --rekey --child net: $(tail -n 2 "$WORK/rekey.out")"
	tb_wait_for "[ \"\$(la_json_num rekeys)\" -gt $rk ] 2>/dev/null" "$(la_dl 5)" ||
		la_fail "$1: the gateway's Child SA rekey did not reach the agent"
}

# log_ms PATTERN: the agent log's time of the last line matching PATTERN,
# milliseconds of the day (empty: none); clock_ms: now on that clock.
log_ms() {
	grep -E "$1" "$AGENT_LOG" | tail -n 1 |
		awk '{ split($1, t, /[:.]/); print ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4] }'
}
clock_ms() { date +%T.%3N | awk -F'[:.]' '{ print (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }'; }
DAY_MS=86400000

# phase_rekey WHAT: the gateway rekeys the Child SA 2.5 s after the last
# IKE SA rekey (or set-up), half-way between two of them. PHASE_LAT_MS:
# from calling swanctl to the agent's log line of the rekey, measured.
PHASE_LAT_MS=500
phase_rekey() {
	local ti wait_ms t t0 tc
	ti=$(log_ms 'ike: (auth-sent -> established|IKE SA rekeyed)')
	wait_ms=$(( (ti + 2500 - PHASE_LAT_MS - $(clock_ms) + DAY_MS) % DAY_MS ))
	[ "$wait_ms" -lt 5000 ] || wait_ms=0	# already past
	t=$(( $(la_now_ms) + wait_ms ))
	tb_wait_for "soak_broken || [ \$(la_now_ms) -ge $t ]" 6
	soak_broken && return 0
	t0=$(clock_ms)
	gw_rekey_child "$1"
	tc=$(log_ms 'ike: Child SA rekeyed')
	PHASE_LAT_MS=$(( (tc - t0 + DAY_MS) % DAY_MS ))
	[ "$PHASE_LAT_MS" -le 2000 ] || PHASE_LAT_MS=2000
	PHASE_REKEYS=$((PHASE_REKEYS + 1))
}

# soak_phase: if the last Child SA rekey came within PHASE_MIN_MS of an IKE
# SA rekey (ahead or behind: they are 5 s and 10 s apart), phase_rekey
# after the next IKE SA rekey (>= 1.5 s from both kinds of rekeys).
PHASE_MIN_MS=1000
PHASE_REKEYS=0
soak_phase() {
	local ti tc d n
	ti=$(log_ms 'ike: IKE SA rekeyed')
	tc=$(log_ms 'ike: Child SA rekeyed')
	[ -n "$ti" ] && [ -n "$tc" ] || return 0
	d=$(( ((tc - ti) % 5000 + 5000) % 5000 ))
	[ "$d" -gt $((5000 - d)) ] && d=$((5000 - d))
	[ "$d" -lt "$PHASE_MIN_MS" ] || return 0
	echo "$LA_NAME: $(now_s) s: Child SA rekeys $d ms from the IKE SA rekeys: one more Child SA rekey, half-way between"
	n=$(n_ike_rekeys)
	tb_wait_for "soak_broken || [ \$(n_ike_rekeys) -gt $n ]" "$(la_dl 15)" || return 0
	soak_broken || phase_rekey "phase"
}

ping_figure() { awk -v k="$1" -v f="$2" '$1 == k { v = $f } END { print v + 0 }' "$WORK/ping.out"; }

# ---- the table -----------------------------------------------------------------

row() { printf '  %-26s %s\n' "$1" "$2"; }
soak_table() {
	local xfer_n xfer_ok
	xfer_n=$(wc -l <"$WORK/xfer.out")
	xfer_ok=$(grep -c '^ok ' "$WORK/xfer.out")
	echo "$LA_NAME: soak figures"
	row "gateway proposals" "IKE: $TB_IKE_PROPOSALS; ESP: $TB_ESP_PROPOSALS"
	row "duration" "$DUR_S s of $SOAK_SECONDS s${EARLY:+ (stopped early: $EARLY)}"
	row "IKE SA rekeys" "$IKE_RK agent, $GW_IKE_RK gateway (want >= $WANT_IKE)"
	row "Child SA rekeys" "$CHILD_RK agent, $GW_CHILD_RK gateway (want >= $WANT_CHILD; $PHASE_REKEYS for the phase)"
	row "Child SAs replaced" "$(grep -c 'in place of the one that is gone' "$AGENT_LOG") (expired at the gateway, its new one taken)"
	row "pings sent/lost/loss" "$PING_SENT / $PING_LOST / $LOSS_PCT % (want < 1 %)"
	row "transfers sha ok" "$xfer_ok of $xfer_n ($BLOB_MIB MiB at $((XFER_RATE >> 10)) KiB/s each)"
	if [ "$LA_SLOW" = 1 ]; then
		row "anon KiB warm-up/end" "$ANON0 / $ANON1 (want growth < $MAX_ANON_KIB)"
	else
		row "anon KiB warm-up/end" "$ANON0 / $ANON1 (sanitizer build: not checked)"
	fi
	row "fds warm-up/end" "$FD0 / $FD1 (want +-$MAX_FD_DIFF)"
	row "reconnects" "$RECONNECTS status, $TRECONNECTS transport, $GW_INITS IKE SA set up at the gateway (want 0, 0, 1)"
}

# ---- setup ----------------------------------------------------------------------

la_up psk
la_gw_lifetimes 10s 5s
la_blob "$BLOB_MIB"
la_conf "$WORK/agent.conf" tunnel.reconnect=yes
la_start "$WORK/agent.conf"
la_wait_up "up"
# `ip netns exec` has become ikeagent by now (it answered the status).
[ "$(cat "/proc/$AGENT_PID/comm" 2>/dev/null)" = ikeagent ] ||
	la_fail "pid $AGENT_PID is not ikeagent (its memory and fds are measured)"
la_ping_inside || la_fail "up: no ping through the tunnel"
: >"$WORK/xfer.out"

# The phase of the rekeys. The first Child SA and the IKE SA start
# together, so with 5 s and 10 s every other Child SA rekey of the gateway
# would fall on an IKE SA rekey. strongSwan 5.9 then sometimes loses the
# Child SA's rekey job (when it fires while the IKE SA is being rekeyed:
# "CHILD_SA ... not found for rekey"), the Child SA expires, and the
# gateway sets up a new one with a plain CREATE_CHILD_SA. ikeagent takes
# it in place of the expired one (once it refused it, NO_ADDITIONAL_SAS,
# and the tunnel was left without a Child SA); the table counts these.
# That is the default: a real gateway does it. SOAK_PHASE=1 keeps the race
# away, for comparisons: one Child SA rekey 2.5 s after the IKE SA's
# set-up puts the Child SA rekeys half-way between the IKE SA rekeys; the
# two drift by some 30 ms per IKE SA rekey (the IKE SA's exchange takes
# longer), and soak_phase moves them apart again when they come within a
# second (after some 8 minutes).
[ "$SOAK_PHASE" = 1 ] && phase_rekey "phase"

# ---- the soak -------------------------------------------------------------------

PHASE_REKEYS=0
IKE_RK0=$(n_ike_rekeys)
CHILD_RK0=$(la_json_num rekeys)
GW_IKE_RK0=$(gw_n_ike_rekeys)
GW_CHILD_RK0=$(gw_n_child_rekeys)
SOAK_T0=$(la_now_ms)
SOAK_END=$((SOAK_T0 + SOAK_SECONDS * 1000))
ip netns exec "$TB_NS_CLI" "$PY" "$LA_ROOT/tests/net/pinger.py" "$TB_IN_ADDR" "$SOAK_SECONDS" \
	"$PING_INTERVAL" "$WORK/ping.out" &
PING_PID=$!
xfer_loop "$SOAK_END" 2>"$WORK/xfer.err" &
XFER_PID=$!

# soak_until MS: until the wall clock passes MS or the tunnel breaks (1).
soak_until() {
	tb_wait_for "soak_broken || [ \$(la_now_ms) -ge $1 ]" $(( ($1 - $(la_now_ms)) / 1000 + 5 ))
	! soak_broken
}

EARLY=""
ANON0=- FD0=- ANON1=- FD1=-
if soak_until $((SOAK_T0 + SOAK_WARMUP * 1000)); then
	ANON0=$(anon_kib) FD0=$(n_fds)
	# Wake every SOAK_PROGRESS (or 30) s: a progress line, the phase.
	slice=$SOAK_PROGRESS
	[ "$slice" -gt 0 ] || slice=30
	while :; do
		next=$(( $(la_now_ms) + slice * 1000 ))
		[ "$next" -le "$SOAK_END" ] || next=$SOAK_END
		soak_until "$next" || break
		[ "$next" -lt "$SOAK_END" ] || break
		[ "$SOAK_PROGRESS" -gt 0 ] &&
			echo "$LA_NAME: $(now_s) s: IKE SA rekeys $(( $(n_ike_rekeys) - IKE_RK0 ))," \
				"Child SA rekeys $(( $(la_json_num rekeys) - CHILD_RK0 ))," \
				"pings $(ping_figure progress 3)/$(ping_figure progress 2) answered," \
				"transfers $(grep -c '^ok ' "$WORK/xfer.out") ok, anon $(anon_kib) KiB, fds $(n_fds)"
		# Not within the last 15 s: the re-phasing waits up to an IKE SA rekey.
		[ "$SOAK_PHASE" = 1 ] && [ $(( SOAK_END - $(la_now_ms) )) -gt 15000 ] && soak_phase
	done
fi
if soak_broken; then
	if ! la_alive; then
		EARLY="the agent exited after $(now_s) s"
	elif grep -q -E "$lost_re" "$AGENT_LOG"; then
		EARLY="the agent reconnected after $(now_s) s"
	else
		EARLY="the gateway destroyed the IKE SA after $(now_s) s"
	fi
fi
DUR_S=$(now_s)
if la_alive; then
	ANON1=$(anon_kib) FD1=$(n_fds)
fi
# The status counts a reconnect once the back-off (1 s) has passed.
case $EARLY in
*reconnected*) tb_wait_for '[ "$(la_json_num reconnects)" -ge 1 ] 2>/dev/null || ! la_alive' "$(la_dl 10)" ;;
esac
JS=$(la_status_json)

# The pinger stops by itself at SOAK_SECONDS, or now; a transfer under way
# finishes (it started only if it fits before SOAK_END).
[ -n "$EARLY" ] && soak_stop_helpers
tb_wait_for "grep -q '^done ' '$WORK/ping.out'" 10 || la_fail "the pinger did not finish"
PING_PID=""
if [ -n "$XFER_PID" ]; then
	tb_wait_for "! kill -0 $XFER_PID 2>/dev/null" $((XFER_S * 3 + 40)) || la_fail "the transfer did not finish"
	XFER_PID=""
fi

# ---- the figures ----------------------------------------------------------------

IKE_RK=$(( $(n_ike_rekeys) - IKE_RK0 ))
RK=$(la_json_num rekeys "$JS")
CHILD_RK=-
[ -n "$RK" ] && CHILD_RK=$((RK - CHILD_RK0))
RECONNECTS=$(la_json_num reconnects "$JS")
RECONNECTS=${RECONNECTS:--}
TRECONNECTS=$(la_json_num transport_reconnects "$JS")
TRECONNECTS=${TRECONNECTS:--}
GW_INITS=$(gw_n_init)
GW_IKE_RK=$(( $(gw_n_ike_rekeys) - GW_IKE_RK0 ))
GW_CHILD_RK=$(( $(gw_n_child_rekeys) - GW_CHILD_RK0 ))
PING_SENT=$(ping_figure "done" 2)
PING_LOST=$((PING_SENT - $(ping_figure "done" 3)))
LOSS_PCT=$(awk -v l="$PING_LOST" -v s="$PING_SENT" 'BEGIN { printf "%.2f", s ? 100 * l / s : 100 }')
soak_table
if grep -q '^lost ' "$WORK/ping.out"; then
	echo "$LA_NAME: unanswered pings in a row (sent first .. last, the agent log's clock; at most 10):"
	awk '$1 == "lost" { printf "  %s .. %s: %d\n", $2, $3, $4 }' "$WORK/ping.out" | head -n 10
fi

# ---- the assertions: every failed one is named --------------------------------

FAILS=0
bad() {
	echo "$LA_NAME: FAIL: $*"
	FAILS=$((FAILS + 1))
}
# Why the IKE SA was lost: the first line about it in either log.
why_lost() {
	local a g
	a=$(grep -m1 -E "INVALID_SYNTAX|malformed|refused|unusable|gateway deleted the IKE SA|$lost_re" "$AGENT_LOG")
	g=$(grep -m1 -E "$gw_lost_re" "$TB_DIR/gw/charon.log")
	echo "agent log: ${a:-nothing about it}; gateway log: ${g:-nothing about it}"
}
if [ "$RECONNECTS" != 0 ] || [ "$TRECONNECTS" != 0 ] || [ "$GW_INITS" != 1 ] ||
	grep -q -E "$lost_re" "$AGENT_LOG" || grep -q -E "$gw_lost_re" "$TB_DIR/gw/charon.log"; then
	bad "the IKE SA was lost, not rekeyed: status reconnects $RECONNECTS (transport $TRECONNECTS), the gateway set up $GW_INITS IKE SA(s) from scratch (want 0, 0, 1); $(why_lost)"
fi
la_alive || bad "the agent exited during the soak: $(tail -n 1 "$AGENT_LOG")"
if [ -n "$EARLY" ]; then
	echo "$LA_NAME: the soak stopped early ($EARLY): the other figures are partial, not checked"
else
	[ "$IKE_RK" -ge "$WANT_IKE" ] || bad "IKE SA rekeys: $IKE_RK in $DUR_S s (want >= $WANT_IKE)"
	[ "$CHILD_RK" -ge "$WANT_CHILD" ] 2>/dev/null ||
		bad "Child SA rekeys: $CHILD_RK in $DUR_S s (want >= $WANT_CHILD)"
	[ $((PING_LOST * 100)) -lt "$PING_SENT" ] ||
		bad "ping loss: $PING_LOST of $PING_SENT ($LOSS_PCT %, want < 1 %)"
	[ -s "$WORK/xfer.out" ] || bad "no transfer ran"
	! grep -q '^bad ' "$WORK/xfer.out" ||
		bad "transfer: $(grep -c '^bad ' "$WORK/xfer.out") with a wrong sha256 (first: $(grep -m1 '^bad ' "$WORK/xfer.out" | cut -d' ' -f2), want $LA_BLOB_SHA)"
	# ASan's quarantine keeps freed memory: a sanitizer build grows by
	# design; LeakSanitizer checks the agent at its exit instead (la_down).
	[ "$LA_SLOW" != 1 ] || [ $((ANON1 - ANON0)) -lt "$MAX_ANON_KIB" ] ||
		bad "agent memory: RssAnon $ANON0 KiB at warm-up, $ANON1 KiB at the end (want growth < $MAX_ANON_KIB KiB)"
	fd_diff=$((FD1 - FD0))
	[ "${fd_diff#-}" -le "$MAX_FD_DIFF" ] ||
		bad "agent fds: $FD0 at warm-up, $FD1 at the end (want +-$MAX_FD_DIFF)"
fi
[ "$FAILS" = 0 ] || la_fail "$FAILS soak assertion(s) failed (above)"

la_gw_one_sa 15 || la_fail "the gateway did not settle on one IKE SA and one Child SA: $(la_gw_sas | grep -E 'ESTABLISHED|INSTALLED|REKEY|DELET' | tr '\n' ' ')"
la_down "down"
la_pass "$DUR_S s soak: $IKE_RK IKE SA + $CHILD_RK Child SA rekeys, $PING_LOST of $PING_SENT pings lost, transfers: $(wc -l <"$WORK/xfer.out") ok, anon $ANON0 -> $ANON1 KiB, fds $FD0 -> $FD1"
