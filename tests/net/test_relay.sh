#!/bin/sh
# ikerelay against the strongSwan gateway of the testbed. The relay runs in
# ika-gw (TCP 4500 and TLS 443 on 10.99.0.1, forwarding to charon's UDP
# 10.99.0.1:4500); tests/net/relay_client.py runs in ika-cli and sends a
# real IKE_SA_INIT (fixture psk_gcm, fresh initiator SPI) inside RFC 9329
# frames. Proves:
#   - TCP and TLS: strongSwan's IKE_SA_INIT response comes back framed;
#     after a reconnect from a new port (TLS: resumed session) the
#     retransmitted request reaches charon from the SAME UDP port (charon's
#     log) and is answered from its cache; the relay log says reattached
#   - a stalled prefix is closed after --prefix-timeout while another
#     client keeps working; garbage, a wrong prefix, Length 2 and a 2-byte
#     body are closed at once; a keepalive is dropped and the stream stays
#   - a second stream naming a live session's SPIs takes nothing over: its
#     frames are dropped, the victim's stream stays open and keeps getting
#     strongSwan's answers (issue 13)
#   - --max-clients refuses, --idle closes and frees; SIGTERM exits 0;
#     a full relay closes its oldest stream without a frame for a newcomer
#   - relay C: --max-conns-per-addr N refuses the N+1th stream of one
#     address while another address gets in; a stream that sends "IKETCP"
#     and no frame is closed after --prefix-timeout; --sa-init-rate refuses
#     a new IKE SA over the rate
#   - relay D, in front of a fake gateway that floods: queue memory stays
#     within --max-queue-total (the relay's own peak figure), the rest is
#     dropped and counted
#   - relay E: N_E streams each send a first frame, then a Length of 65535
#     and most of the body, never the rest: the partial frames share
#     --max-queue-total with the queues, the streams over it are closed and
#     counted, the relay's anonymous memory (Pss_Anon) stays within its idle
#     figure + the budget + a small overhead per stream, and a real client
#     still gets strongSwan's answer
# strongSwan 5.9 wants COOKIEs from the 3rd half-open IKE SA of one peer IP
# (cookie_threshold_ip) and all relay clients share the relay's IP, so only
# two fresh SAs are made; later steps retransmit the first one's request.
# Exit 0 pass, 77 skip, 1 fail. Usage: sh tests/net/test_relay.sh [BUILD]
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
NAME=test_relay
RELAY=$ROOT/$BUILD/ikerelay
CLIENT=$ROOT/tests/net/relay_client.py
FLOOD=$ROOT/tests/net/udp_flood.py
PREFIX_TIMEOUT=2
IDLE_B=2
PREFIX_C=3
CAP_C=2
BUDGET_D=65536
BUDGET_E=$((4 * 1024 * 1024))
N_E=200
PART_E=60000
OVH_E_KB=4	# per stream: struct conn, its session, socket bookkeeping
# An ASan relay (make SAN=1, as CI runs it) pads every allocation with
# redzones and keeps freed blocks in quarantine: ~6 kB a stream measured.
# Still far below the 64 KB a stream the old per-stream buffer cost.
if grep -q -a -m1 __asan_init "$RELAY" 2>/dev/null; then OVH_E_KB=16; fi

skip() {
	echo "$NAME: skip: needs root/netns/strongSwan/openssl ($1)"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "not root"
command -v ip >/dev/null 2>&1 || skip "no ip(8)"
command -v openssl >/dev/null 2>&1 || skip "no openssl(1)"
# shellcheck source=../../scripts/testbed.sh
. "$ROOT/scripts/testbed.sh"
why=$(tb_check) || skip "$why"
PY=$(tb__python)
[ -n "$PY" ] || skip "no python3"
if [ ! -x "$RELAY" ]; then
	echo "$NAME: FAIL: no $RELAY (make BUILD=$BUILD $BUILD/ikerelay)"
	exit 1
fi

WORK=$(mktemp -d /tmp/ikerelay-test.XXXXXX)
LOG_A=$WORK/relay-a.log
LOG_B=$WORK/relay-b.log
LOG_C=$WORK/relay-c.log
LOG_D=$WORK/relay-d.log
LOG_E=$WORK/relay-e.log
PID_A="" PID_B="" PID_C="" PID_D="" PID_E="" BG=""

# relay_stop PID: SIGTERM, wait (deadline 5 s), then SIGKILL. Sets
# RELAY_STATUS to its exit status.
relay_stop() {
	local pid=$1
	RELAY_STATUS=gone
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid"
	tb_wait_for "! kill -0 $pid 2>/dev/null" 5 || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	RELAY_STATUS=$?
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local p
	for p in $BG; do kill "$p" 2>/dev/null; done
	relay_stop "$PID_A"
	relay_stop "$PID_B"
	relay_stop "$PID_C"
	relay_stop "$PID_D"
	relay_stop "$PID_E"
	tb_down
	rm -rf "$WORK"
}

fail() {
	echo "$NAME: FAIL: $*"
	local f
	for f in "$LOG_A" "$LOG_B" "$LOG_C" "$LOG_D" "$LOG_E" "$WORK"/*.out "$TB_DIR/gw/charon.log"; do
		[ -s "$f" ] || continue
		echo "---- last lines of $f"
		tail -n 25 "$f"
	done
	exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Relays an earlier failed run left in the gateway namespace (tb_up removes
# the namespace too; this names what it finds).
kill_stale_relays() {
	local pid
	for pid in $(ip netns pids "$TB_NS_GW" 2>/dev/null); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = ikerelay ] || continue
		echo "$NAME: killing a relay left from an earlier run (pid $pid)"
		kill -KILL "$pid" 2>/dev/null
	done
}

# relay_start LOG ARGS...: ikerelay in ika-gw, as nobody once bound (as its
# unit runs it); sets RELAY_PID once it listens with no privilege left.
relay_start() {
	local log=$1
	shift
	# Not inheriting the testbed lock (see tb__bg).
	ip netns exec "$TB_NS_GW" "$RELAY" --user nobody "$@" >"$log" 2>&1 </dev/null {TB_LOCK_FD}>&- &
	RELAY_PID=$!
	tb_wait_for "grep -q 'relay: running as nobody' '$log'" 5 ||
		fail "relay did not start: $*"
	[ "$(sed -n 's/^Uid:[[:space:]]*//p' "/proc/$RELAY_PID/status" | tr '\t' ' ')" = \
		"$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)" ] ||
		fail "relay: not running as nobody"
	[ "$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$RELAY_PID/status")" = 0000000000000000 ] ||
		fail "relay: capabilities left after binding"
}

# client [CLIENT-ARGS...]: relay_client.py in ika-cli; its line in OUT,
# printed; fails the test if the client says the relay misbehaved.
client() {
	OUT=$(ip netns exec "$TB_NS_CLI" "$PY" "$CLIENT" "$@") || fail "relay_client.py $*"
	echo "$NAME: $OUT"
}

# client_gw [CLIENT-ARGS...]: the same from ika-gw, i.e. from another
# address ($TB_GW_ADDR) than the clients in ika-cli
client_gw() {
	OUT=$(ip netns exec "$TB_NS_GW" "$PY" "$CLIENT" "$@") || fail "relay_client.py (from $TB_GW_ADDR) $*"
	echo "$NAME: $OUT"
}

# bg_client OUTFILE [CLIENT-ARGS...]: relay_client.py in ika-cli, in the
# background; its pid in BG_PID (and BG, for cleanup)
bg_client() {
	local out=$1
	shift
	ip netns exec "$TB_NS_CLI" "$PY" "$CLIENT" "$@" >"$out" 2>&1 {TB_LOCK_FD}>&- &
	BG_PID=$!
	BG="$BG $BG_PID"
}

# bg_wait PID WHAT: its exit status must be 0
bg_wait() {
	wait "$1" || fail "$2 (exit status $?)"
}

# field NAME LINE: the value of NAME=value in LINE
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

log_has() { grep -q -- "$2" "$1" || fail "relay log lacks: $2"; }

# relay_summary PID LOG NAME: SIGTERM, which must end it with status 0;
# its closing summary line in STOP, the budget peak it names in PEAK
relay_summary() {
	relay_stop "$1"
	[ "$RELAY_STATUS" = 0 ] || fail "relay $3 exited with $RELAY_STATUS on SIGTERM"
	STOP=$(grep "relay: stopping" "$2") || fail "relay $3: no stopping line"
	PEAK=$(echo "$STOP" | sed -n 's/.*budget peak \([0-9]*\) of.*/\1/p')
}

# summary_count WHAT: the count before WHAT in STOP
summary_count() { echo "$STOP" | sed -n "s/.* \([0-9]*\) $1.*/\1/p"; }

# pss_anon PID: the process's anonymous memory, proportional share, in kB
pss_anon() { sed -n 's/^Pss_Anon:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/smaps_rollup"; }

# gw_streams PORT: "COUNT QUEUED", the relay's established streams on PORT
# and the bytes waiting unread in their receive queues
gw_streams() {
	ip netns exec "$TB_NS_GW" ss -Htn state established "( sport = :$1 )" |
		awk '{ n++; q += $1 } END { print n + 0, q + 0 }'
}

t0=$(date +%s%N)
kill_stale_relays
tb_up || fail "tb_up (namespaces/veths/inside services)"
tb_gw_start psk || fail "gateway did not start"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=ikerelay-test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
	>"$WORK/openssl.log" 2>&1 || fail "openssl could not make a certificate"

# -v: SPIs are logged at debug only, and the steps below check them.
relay_start "$LOG_A" --listen "$TB_GW_ADDR:4500" --listen-tls "$TB_GW_ADDR:443" \
	--cert "$WORK/cert.pem" --key "$WORK/key.pem" --gateway "$TB_GW_ADDR:4500" \
	--prefix-timeout "$PREFIX_TIMEOUT" -v
PID_A=$RELAY_PID
CHARON_LOG=$TB_DIR/gw/charon.log

# 1. TCP: IKE_SA_INIT answered; reconnect, retransmit, same UDP port.
client "$TB_GW_ADDR" 4500 sa-init --reconnect
out=$OUT
SPI=$(field spi_i "$out")
SPI_R=$(field spi_r "$out")
first=$(grep "session #[0-9]* first frame: ike spi $SPI" "$LOG_A") || fail "no new session for ike spi $SPI"
sid=$(echo "$first" | sed 's/.*session \(#[0-9]*\) first frame.*/\1/')
new=$(grep "session $sid new (" "$LOG_A") || fail "no new line for session $sid"
uport=$(echo "$new" | sed 's/.*(udp [0-9.]*:\([0-9]*\) .*/\1/')
# The reconnect was on probation until strongSwan answered it.
log_has "$LOG_A" "client $TB_CLI_ADDR:$(field reconnect_port "$out") on probation for session $sid"
log_has "$LOG_A" "client $TB_CLI_ADDR:$(field reconnect_port "$out") reattached to session $sid: the gateway answered its request"
log_has "$LOG_A" "client $TB_CLI_ADDR:$(field reconnect_port "$out") reattached to session $sid (ike spi $SPI, message id 0)"
grep -q "relay: client .*new (.*spi\|relay: client .*reattached.*: .*spi" "$LOG_A" &&
	fail "an info line names a SPI"
n=$(grep -c "received packet: from $TB_GW_ADDR\[$uport\] to $TB_GW_ADDR\[4500\]" "$CHARON_LOG")
[ "$n" -ge 2 ] || fail "charon got $n packets from the session's udp port $uport, want 2 (before and after the reconnect)"
grep -q "received retransmit of request with ID 0, retransmitting response" "$CHARON_LOG" ||
	fail "charon did not see the retransmission as one"

# 2. TLS: the same, resuming the TLS session on the reconnect.
client --tls "$TB_GW_ADDR" 443 sa-init --reconnect
out=$OUT
[ "$(field resumed "$out")" = yes ] || fail "TLS reconnect did not resume the session"
SPI2=$(field spi_i "$out")
log_has "$LOG_A" "reattached to session #[0-9]* (ike spi $SPI2, message id 0)"
log_has "$LOG_A" "client $TB_CLI_ADDR:$(field reconnect_port "$out") prefix ok (TLSv1.[23] .*, resumed)"

# 3. A stalled prefix is closed after the timeout; others keep working.
RETX="--spi $SPI --spi-r $SPI_R"
# shellcheck disable=SC2086 # RETX: two options
client $RETX "$TB_GW_ADDR" 4500 stall "$PREFIX_TIMEOUT"
log_has "$LOG_A" "closed: prefix timeout"

# 4. Streams that cannot be parsed: closed at once, one line each.
for c in garbage wrong-prefix bad-length short-body; do
	client "$TB_GW_ADDR" 4500 $c
done
client --tls "$TB_GW_ADDR" 443 wrong-prefix
log_has "$LOG_A" "closed: prefix bad (stream does not start with IKETCP)"
log_has "$LOG_A" "closed: protocol error: frame length below 3"
log_has "$LOG_A" "closed: protocol error: 2- or 3-byte frame body"

# 5. A keepalive is dropped silently; the stream stays and works.
# shellcheck disable=SC2086
client $RETX "$TB_GW_ADDR" 4500 keepalive
log_has "$LOG_A" "client $TB_CLI_ADDR:$(field port "$OUT") closed: eof"

# 6. Issue 13: a second stream that knows a live session's SPIs takes
# nothing over. Its frames are dropped, the victim's stream stays open and
# keeps getting strongSwan's answers, the attacker gets none of them.
# shellcheck disable=SC2086
client $RETX "$TB_GW_ADDR" 4500 takeover
log_has "$LOG_A" "client $TB_CLI_ADDR:$(field attacker_port "$OUT"): frame dropped: ike spi $SPI belongs to session #[0-9]*, which has a live stream"
grep -q "replaced by" "$LOG_A" && fail "a stream was replaced"

# 7. Limits, on a second relay: one client at a time, 2 s idle.
relay_start "$LOG_B" --listen "$TB_GW_ADDR:4501" --gateway "$TB_GW_ADDR" \
	--max-clients 1 --idle "$IDLE_B"
PID_B=$RELAY_PID
client "$TB_GW_ADDR" 4501 limit
log_has "$LOG_B" "refused on tcp $TB_GW_ADDR:4501: limit (1 clients)"
# 7b. Full of a stream that sent no frame (idle, slow-loris): a newcomer
# takes its slot and gets strongSwan's answer (fault campaign: 32 addresses
# of such streams locked real clients out).
# shellcheck disable=SC2086 # RETX: the first SA again (no new half-open SA at strongSwan)
client $RETX "$TB_GW_ADDR" 4501 evict
echo "$NAME: $OUT"
log_has "$LOG_B" "closed: the relay is full and it had sent no frame yet"
client "$TB_GW_ADDR" 4501 idle "$IDLE_B"
log_has "$LOG_B" "closed: idle"
log_has "$LOG_B" "session #[0-9]* freed: idle"

# 8. Relay C: per-address stream cap, prefix + first-frame deadline, rate
# of new IKE SAs.
relay_start "$LOG_C" --listen "$TB_GW_ADDR:4502" --gateway "$TB_GW_ADDR" \
	--max-conns-per-addr "$CAP_C" --prefix-timeout "$PREFIX_C" --sa-init-rate 1
PID_C=$RELAY_PID
# 8a. The address's one new IKE SA this minute goes to the first stream
# (the retransmission is new to this relay); a fresh one is refused.
# shellcheck disable=SC2086
client $RETX "$TB_GW_ADDR" 4502 rate
log_has "$LOG_C" "new IKE SA refused: over the rate (1 a minute from $TB_CLI_ADDR"
log_has "$LOG_C" "closed: limit (new IKE SAs from $TB_CLI_ADDR)"

# 8b. CAP_C streams from the client's address are held, the next one is
# refused; meanwhile another address (the gateway's own) still gets in and
# gets strongSwan's answer (on probation for 8a's detached session, whose
# SA got no further than IKE_SA_INIT: the answer takes it over).
bg_client "$WORK/cap.out" --hold "$WORK/cap.release" "$TB_GW_ADDR" 4502 cap "$CAP_C"
cap_pid=$BG_PID
tb_wait_for "grep -q '^cap refused' '$WORK/cap.out'" 10 || fail "cap: no refusal ($(cat "$WORK/cap.out"))"
log_has "$LOG_C" "client $TB_CLI_ADDR:[0-9]* refused on tcp $TB_GW_ADDR:4502: limit ($CAP_C streams from $TB_CLI_ADDR)"
# shellcheck disable=SC2086
client_gw $RETX "$TB_GW_ADDR" 4502 sa-init
log_has "$LOG_C" "client $TB_GW_ADDR:[0-9]* accepted on tcp $TB_GW_ADDR:4502"
log_has "$LOG_C" "client $TB_GW_ADDR:[0-9]* reattached to session #[0-9]*: the gateway answered"
: >"$WORK/cap.release"
bg_wait "$cap_pid" "cap: $(cat "$WORK/cap.out")"
echo "$NAME: $(tail -n 1 "$WORK/cap.out")"
# 8c. "IKETCP" and no frame: closed after the prefix timeout, not after the
# idle time (300 s).
client "$TB_GW_ADDR" 4502 prefix-only "$PREFIX_C"
log_has "$LOG_C" "closed: first frame timeout"
# 9. Relay D in front of a fake gateway (UDP 4600) that answers one frame
# with 3000 datagrams of 1400 bytes: the client reads nothing until the
# relay says its queue budget is reached; memory stays within the budget.
relay_start "$LOG_D" --listen "$TB_GW_ADDR:4503" --gateway "$TB_GW_ADDR:4600" \
	--max-queue 1048576 --max-queue-total "$BUDGET_D"
PID_D=$RELAY_PID
ip netns exec "$TB_NS_GW" "$PY" "$FLOOD" "$TB_GW_ADDR" 4600 3000 1400 >"$WORK/flood.out" 2>&1 {TB_LOCK_FD}>&- &
flood_pid=$!
BG="$BG $flood_pid"
tb_wait_for "grep -q listening '$WORK/flood.out'" 5 || fail "fake gateway did not start"
bg_client "$WORK/flood-cli.out" --hold "$WORK/flood.release" "$TB_GW_ADDR" 4503 flood
fcli_pid=$BG_PID
tb_wait_for "grep -q 'queue budget reached' '$LOG_D'" 10 || fail "relay D never reached its queue budget"
bg_wait "$flood_pid" "fake gateway: $(cat "$WORK/flood.out")"
: >"$WORK/flood.release"
bg_wait "$fcli_pid" "flood client: $(cat "$WORK/flood-cli.out")"
echo "$NAME: $(tail -n 1 "$WORK/flood.out"); $(tail -n 1 "$WORK/flood-cli.out")"
relay_summary "$PID_D" "$LOG_D" D
PID_D=""
peak=$PEAK
over=$(summary_count "over the queue budget")
echo "$NAME: relay D: queue peak $peak bytes (budget $BUDGET_D, IKE reserve an eighth more), $over frames dropped over it"
[ -n "$peak" ] && [ "$peak" -le $((BUDGET_D + BUDGET_D / 8)) ] || fail "relay D: queue peak '$peak' over the budget $BUDGET_D"
[ -n "$over" ] && [ "$over" -gt 0 ] || fail "relay D: nothing dropped over the budget"

# 10. Relay E: N_E streams whose last frame never ends (Length 65535, PART_E
# bytes of it): partial frames share --max-queue-total with the queues.
# Before, each stream kept its own 64 KB buffer outside any budget.
relay_start "$LOG_E" --listen "$TB_GW_ADDR:4504" --gateway "$TB_GW_ADDR" \
	--max-clients $((N_E + 16)) --max-conns-per-addr $((N_E + 16)) \
	--max-sessions-per-addr $((N_E + 16)) --max-queue-total "$BUDGET_E"
PID_E=$RELAY_PID
idle_kb=$(pss_anon "$PID_E")
[ -n "$idle_kb" ] || fail "relay E: no Pss_Anon in /proc/$PID_E/smaps_rollup"
bg_client "$WORK/partial.out" --timeout 20 --hold "$WORK/partial.release" --bytes "$PART_E" \
	"$TB_GW_ADDR" 4504 partial "$N_E"
part_pid=$BG_PID
tb_wait_for "grep -q '^partial sent' '$WORK/partial.out'" 60 ||
	fail "partial: the streams' bytes were not all taken ($(cat "$WORK/partial.out"))"
# Every byte the relay acknowledged has been read: its state is final.
# shellcheck disable=SC2016 # evaluated by tb_wait_for
tb_wait_for '[ "$(gw_streams 4504 | cut -d" " -f2)" = 0 ]' 10 ||
	fail "relay E left bytes unread: $(gw_streams 4504)"
held_kb=$(pss_anon "$PID_E")
open_e=$(gw_streams 4504 | cut -d" " -f1)
limit_kb=$((idle_kb + BUDGET_E / 1024 + N_E * OVH_E_KB))
echo "$NAME: relay E: Pss_Anon ${idle_kb} kB idle, ${held_kb} kB with $N_E streams each holding" \
	"$PART_E bytes of a 65535-byte frame ($open_e left open; limit ${limit_kb} kB =" \
	"idle + budget $((BUDGET_E / 1024)) kB + $N_E x $OVH_E_KB kB)"
[ "$held_kb" -le "$limit_kb" ] || fail "relay E: Pss_Anon ${held_kb} kB over ${limit_kb} kB"
[ "$open_e" -lt "$N_E" ] || fail "relay E: all $N_E partial frames held, none over the budget"
[ "$open_e" -gt 0 ] || fail "relay E: no partial frame held at all"
# A real client still gets through (its frames arrive whole; the answer
# has the IKE reserve): step 1's request again, answered from strongSwan's
# cache or, once that half-open SA timed out (30 s), as a new one.
client --spi "$SPI" "$TB_GW_ADDR" 4504 sa-init
: >"$WORK/partial.release"
bg_wait "$part_pid" "partial: $(cat "$WORK/partial.out")"
echo "$NAME: $(tail -n 1 "$WORK/partial.out")"
log_has "$LOG_E" "memory budget reached (.* in partial frames from clients, of $BUDGET_E): closing"
relay_summary "$PID_E" "$LOG_E" E
PID_E=""
peak_e=$PEAK
closed_e=$(summary_count "closed with a partial frame over the budget")
echo "$NAME: relay E: $closed_e streams closed over the budget, budget peak $peak_e of $BUDGET_E"
[ "$closed_e" = $((N_E - open_e)) ] ||
	fail "relay E: counted '$closed_e' closed over the budget, $((N_E - open_e)) were"
[ -n "$peak_e" ] && [ "$peak_e" -le $((BUDGET_E + BUDGET_E / 8)) ] ||
	fail "relay E: budget peak '$peak_e' over $BUDGET_E and its IKE reserve"

# 11. All relays: no client saw a framing error from them, no sanitizer
# report; SIGTERM ends them with status 0.
for l in "$LOG_A" "$LOG_B" "$LOG_C" "$LOG_D" "$LOG_E"; do
	grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$l" &&
		fail "sanitizer report in $l"
done
relay_stop "$PID_A"
PID_A=""
[ "$RELAY_STATUS" = 0 ] || fail "relay A exited with $RELAY_STATUS on SIGTERM"
relay_stop "$PID_B"
PID_B=""
[ "$RELAY_STATUS" = 0 ] || fail "relay B exited with $RELAY_STATUS on SIGTERM"
relay_stop "$PID_C"
PID_C=""
[ "$RELAY_STATUS" = 0 ] || fail "relay C exited with $RELAY_STATUS on SIGTERM"
log_has "$LOG_A" "shutting down"
for l in "$LOG_A" "$LOG_B" "$LOG_C" "$LOG_D" "$LOG_E"; do
	grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$l" &&
		fail "sanitizer report in $l at exit"
done

echo "$NAME: ---- relay log (A)"
grep -E "new \(|probation|reattached|dropped|prefix timeout|prefix bad|protocol error" "$LOG_A"
echo "$NAME: ---- relay log (C)"
grep -E "refused|timeout|over the rate" "$LOG_C"
t1=$(date +%s%N)
echo "$NAME: pass (tcp + tls through ikerelay to strongSwan, as nobody without capabilities, reattach on reconnect only on proof, no takeover of a live session, framing errors, limits per address, first-frame deadline, new-SA rate, queue budget, partial frames within it; $(( (t1 - t0) / 1000000 )) ms)"
exit 0
