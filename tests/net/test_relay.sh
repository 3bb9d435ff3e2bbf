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
#   - a second stream of a session replaces the first
#   - --max-clients refuses, --idle closes and frees; SIGTERM exits 0
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
PREFIX_TIMEOUT=2
IDLE_B=2

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
PID_A="" PID_B=""

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
	relay_stop "$PID_A"
	relay_stop "$PID_B"
	tb_down
	rm -rf "$WORK"
}

fail() {
	echo "$NAME: FAIL: $*"
	local f
	for f in "$LOG_A" "$LOG_B" "$TB_DIR/gw/charon.log"; do
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

# field NAME LINE: the value of NAME=value in LINE
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

log_has() { grep -q -- "$2" "$1" || fail "relay log lacks: $2"; }

t0=$(date +%s%N)
kill_stale_relays
tb_up || fail "tb_up (namespaces/veths/inside services)"
tb_gw_start psk || fail "gateway did not start"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=ikerelay-test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
	>"$WORK/openssl.log" 2>&1 || fail "openssl could not make a certificate"

relay_start "$LOG_A" --listen "$TB_GW_ADDR:4500" --listen-tls "$TB_GW_ADDR:443" \
	--cert "$WORK/cert.pem" --key "$WORK/key.pem" --gateway "$TB_GW_ADDR:4500" \
	--prefix-timeout "$PREFIX_TIMEOUT"
PID_A=$RELAY_PID
CHARON_LOG=$TB_DIR/gw/charon.log

# 1. TCP: IKE_SA_INIT answered; reconnect, retransmit, same UDP port.
client "$TB_GW_ADDR" 4500 sa-init --reconnect
out=$OUT
SPI=$(field spi_i "$out")
SPI_R=$(field spi_r "$out")
new=$(grep "session #[0-9]* new (.*ike spi $SPI" "$LOG_A") || fail "no new session for ike spi $SPI"
sid=$(echo "$new" | sed 's/.*session \(#[0-9]*\) new.*/\1/')
uport=$(echo "$new" | sed 's/.*(udp [0-9.]*:\([0-9]*\) .*/\1/')
log_has "$LOG_A" "client $TB_CLI_ADDR:$(field reconnect_port "$out") reattached to session $sid (ike spi $SPI)"
n=$(grep -c "received packet: from $TB_GW_ADDR\[$uport\] to $TB_GW_ADDR\[4500\]" "$CHARON_LOG")
[ "$n" -ge 2 ] || fail "charon got $n packets from the session's udp port $uport, want 2 (before and after the reconnect)"
grep -q "received retransmit of request with ID 0, retransmitting response" "$CHARON_LOG" ||
	fail "charon did not see the retransmission as one"

# 2. TLS: the same, resuming the TLS session on the reconnect.
client --tls "$TB_GW_ADDR" 443 sa-init --reconnect
out=$OUT
[ "$(field resumed "$out")" = yes ] || fail "TLS reconnect did not resume the session"
SPI2=$(field spi_i "$out")
log_has "$LOG_A" "reattached to session #[0-9]* (ike spi $SPI2)"
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

# 6. A client has one connection: a second stream of the session wins.
# shellcheck disable=SC2086
client $RETX "$TB_GW_ADDR" 4500 replace
log_has "$LOG_A" "client $TB_CLI_ADDR:$(field old_port "$OUT") closed: replaced by $TB_CLI_ADDR:$(field new_port "$OUT")"

# 7. Limits, on a second relay: one client at a time, 2 s idle.
relay_start "$LOG_B" --listen "$TB_GW_ADDR:4501" --gateway "$TB_GW_ADDR" \
	--max-clients 1 --idle "$IDLE_B"
PID_B=$RELAY_PID
client "$TB_GW_ADDR" 4501 limit
log_has "$LOG_B" "refused on tcp $TB_GW_ADDR:4501: limit (1 clients)"
client "$TB_GW_ADDR" 4501 idle "$IDLE_B"
log_has "$LOG_B" "closed: idle"
log_has "$LOG_B" "session #[0-9]* freed: idle"

# 8. Both relays: no client saw a framing error from them, no sanitizer
# report; SIGTERM ends them with status 0.
for l in "$LOG_A" "$LOG_B"; do
	grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$l" &&
		fail "sanitizer report in $l"
done
relay_stop "$PID_A"
PID_A=""
[ "$RELAY_STATUS" = 0 ] || fail "relay A exited with $RELAY_STATUS on SIGTERM"
relay_stop "$PID_B"
PID_B=""
[ "$RELAY_STATUS" = 0 ] || fail "relay B exited with $RELAY_STATUS on SIGTERM"
log_has "$LOG_A" "shutting down"
for l in "$LOG_A" "$LOG_B"; do
	grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$l" &&
		fail "sanitizer report in $l at exit"
done

echo "$NAME: ---- relay log (A)"
grep -E "new \(|reattached|replaced|prefix timeout|prefix bad|protocol error" "$LOG_A"
t1=$(date +%s%N)
echo "$NAME: pass (tcp + tls through ikerelay to strongSwan, as nobody without capabilities, reattach on reconnect, framing errors, limits; $(( (t1 - t0) / 1000000 )) ms)"
exit 0
