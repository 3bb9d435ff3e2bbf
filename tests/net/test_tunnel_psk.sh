#!/usr/bin/env bash
# ikeagent against the real strongSwan gateway of scripts/testbed.sh (PSK):
#   1. split tunnel: up within a deadline, status --json, ping 10.99.1.2,
#      a 32 MiB HTTP transfer checked by SHA-256 on both ends, the gateway's
#      ESP counters, `ikeagent down`, ika-cli exactly as before
#   2. wrong PSK: `ikeagent run` exits 3 within a deadline, naming
#      AUTHENTICATION_FAILED, and changes nothing
#   3. full tunnel (0.0.0.0/0: fwmark rules), then SIGINT: no device,
#      address, route or rule left behind
# Exit 0 pass, 77 skip (not root, no netns, no strongSwan, no build), 1 fail
# with a one-line reason. Waits on conditions with deadlines, never blind
# sleeps. Usage: sh tests/net/test_tunnel_psk.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NAME=test_tunnel_psk
BUILD=${1:-build}
IKA=$ROOT/$BUILD/ikeagent
UP_DEADLINE=10		# s: tunnel established
EXIT_DEADLINE=10	# s: agent gone after down / SIGINT / auth failure
BLOB_MIB=32

skip() {
	echo "$NAME: skip: $*"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "not root"
command -v ip >/dev/null 2>&1 || skip "no ip(8)"
[ -x "$IKA" ] || skip "no $BUILD/ikeagent (make first)"
# shellcheck source=../../scripts/testbed.sh
. "$ROOT/scripts/testbed.sh"
why=$(tb_check) || skip "$why"

WORK=""
AGENT_PID=""
fail() {
	echo "$NAME: FAIL: $*"
	if [ -n "$WORK" ] && [ -s "$WORK/agent.log" ]; then
		echo "---- last lines of the ikeagent log"
		tail -n 25 "$WORK/agent.log"
	fi
	if [ -s "$TB_DIR/gw/charon.log" ]; then
		echo "---- last lines of $TB_DIR/gw/charon.log"
		tail -n 20 "$TB_DIR/gw/charon.log"
	fi
	exit 1
}
cleanup() {
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -9 "$AGENT_PID" 2>/dev/null
	fi
	tb_down
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers ----------------------------------------------------------------

# IPv6 link-local entries come and go with the kernel's autoconfiguration
# (a leftover tun still shows in the link list).
net_snapshot() {
	local ns=$TB_NS_CLI
	{
		ip -n "$ns" -o link show | awk '{ print "link", $2 }'
		ip -n "$ns" -o addr show | awk '{ print "addr", $2, $3, $4 }'
		ip -n "$ns" route show table all
		ip -n "$ns" -6 route show table all
		ip -n "$ns" rule show
		ip -n "$ns" -6 rule show
	} | grep -v 'fe80:'
}

# write_conf FILE PSK REMOTE_TS
write_conf() {
	{
		printf '[gateway]\naddress = %s\nid = %s\n' "$TB_GW_ADDR" "$TB_GW_ID"
		printf '[auth]\nid = %s\npsk = "%s"\n' "$TB_CLI_ID" "$2"
		printf '[tunnel]\nremote_ts = %s\ndns = no\nreconnect = no\n' "$3"
		printf '[agent]\nsocket = %s\nstate_dir = %s\ntun_name = ika0\n' \
			"$WORK/agent.sock" "$WORK/state"
	} >"$1"
	chmod 600 "$1"
}

agent_start() {
	: >"$WORK/agent.log"
	# Not holding the testbed lock: a stray agent must not block the next run.
	if [ -n "${TB_LOCK_FD:-}" ]; then
		ip netns exec "$TB_NS_CLI" "$IKA" run -c "$1" >"$WORK/agent.log" 2>&1 </dev/null \
			{TB_LOCK_FD}>&- &
	else
		ip netns exec "$TB_NS_CLI" "$IKA" run -c "$1" >"$WORK/agent.log" 2>&1 </dev/null &
	fi
	AGENT_PID=$!
}

status_json() { "$IKA" status --json --socket "$WORK/agent.sock" 2>/dev/null; }
agent_state() { status_json | sed -n 's/^{"state":"\([a-z]*\)".*/\1/p'; }
json_num() { status_json | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

agent_wait_up() {
	tb_wait_for "[ \"\$(agent_state)\" = established ] || ! kill -0 $AGENT_PID 2>/dev/null" \
		"$UP_DEADLINE"
	[ "$(agent_state)" = established ] ||
		fail "$1: tunnel not established within $UP_DEADLINE s"
}

# agent_wait_exit WHAT: wait for the agent to exit; its status in AGENT_RC.
agent_wait_exit() {
	tb_wait_for "! kill -0 $AGENT_PID 2>/dev/null" "$EXIT_DEADLINE" ||
		fail "$1: ikeagent still running after $EXIT_DEADLINE s"
	wait "$AGENT_PID"
	AGENT_RC=$?
	AGENT_PID=""
}

expect_restored() {
	net_snapshot >"$WORK/net.after"
	diff -u "$WORK/net.before" "$WORK/net.after" >"$WORK/net.diff" ||
		fail "$1: left behind in $TB_NS_CLI: $(grep '^[-+][^-+]' "$WORK/net.diff" | tr '\n' ' ')"
	[ ! -e "$WORK/state/ika0.state" ] || fail "$1: journal $WORK/state/ika0.state left behind"
}

# fetch_sha URL: SHA-256 of what a GET from ika-cli returns.
fetch_sha() {
	if command -v curl >/dev/null 2>&1; then
		tb_ns_exec cli curl -sf -m 60 "$1" | sha256sum | cut -d' ' -f1
	else
		tb_ns_exec cli "$(tb__python)" -c 'import hashlib, sys, urllib.request
h = hashlib.sha256()
with urllib.request.urlopen(sys.argv[1], timeout=60) as r:
    for b in iter(lambda: r.read(1 << 16), b""): h.update(b)
print(h.hexdigest())' "$1"
	fi
}

# ---- setup ------------------------------------------------------------------

t_start=$(date +%s%N)
tb_up || fail "testbed did not come up"
tb_gw_start psk || fail "gateway did not start"
WORK=$(mktemp -d /tmp/ikeagent-net.XXXXXX) || fail "mktemp"
net_snapshot >"$WORK/net.before"
blob=$TB_DIR/in/www/blob-${BLOB_MIB}M.bin
head -c $((BLOB_MIB << 20)) /dev/urandom >"$blob" || fail "cannot write $blob"
want_sha=$(sha256sum "$blob" | cut -d' ' -f1)

# ---- 1. split tunnel ------------------------------------------------------------

write_conf "$WORK/split.conf" "$TB_PSK" "$TB_INSIDE_NET"
"$IKA" check -c "$WORK/split.conf" >/dev/null || fail "ikeagent check refused the test config"
t0=$(date +%s%N)
agent_start "$WORK/split.conf"
agent_wait_up "split"
t_up=$(( ($(date +%s%N) - t0) / 1000000 ))
js=$(status_json)
echo "$js" | grep -q '"transport":"udp"' || fail "status --json: no transport udp: $js"
echo "$js" | grep -q '"virtual_ip":"10\.99\.100\.[0-9]*"' || fail "status --json: no virtual IP from the pool: $js"
echo "$js" | grep -q '"routes":\["10\.99\.1\.0/24"\]' || fail "status --json: routes not 10.99.1.0/24: $js"
echo "$js" | grep -q '"ike_spi":"[0-9a-f]\{16\}:[0-9a-f]\{16\}"' || fail "status --json: bad ike_spi: $js"
ip -n "$TB_NS_CLI" route show dev ika0 | grep -q "^10\.99\.1\.0/24" || fail "no route 10.99.1.0/24 via ika0"
tb_wait_for "tb_ping_inside" 5 || fail "ping $TB_IN_ADDR through the tunnel"

got_sha=$(fetch_sha "http://$TB_IN_ADDR:$TB_HTTP_PORT/$(basename "$blob")")
[ "$got_sha" = "$want_sha" ] || fail "$BLOB_MIB MiB transfer through the tunnel: sha256 ${got_sha:-none} != $want_sha"
t_xfer=$(( ($(date +%s%N) - t0) / 1000000 - t_up ))
bytes_in=$(json_num bytes_in)
[ "${bytes_in:-0}" -gt $((BLOB_MIB << 20)) ] || fail "status bytes_in ${bytes_in:-?} < $BLOB_MIB MiB"
sas=$(tb_gw_swanctl --list-sas 2>&1)
echo "$sas" | grep -q 'INSTALLED, TUNNEL-in-UDP' || fail "gateway CHILD_SA not INSTALLED in UDP: $sas"
gw_out=$(echo "$sas" | awk '$1 == "out" { gsub(",", "", $3); print $3; exit }')
[ "${gw_out:-0}" -gt $((BLOB_MIB << 20)) ] || fail "gateway sent only ${gw_out:-0} ESP bytes"

"$IKA" down --socket "$WORK/agent.sock" >/dev/null || fail "ikeagent down failed"
agent_wait_exit "down"
[ "$AGENT_RC" = 0 ] || fail "ikeagent run exited $AGENT_RC after down"
expect_restored "down"
tb_wait_for "! tb_gw_swanctl --list-sas 2>/dev/null | grep -q ESTABLISHED" 5 ||
	fail "gateway kept the IKE SA after our DELETE"
tb_ping_inside && fail "inside host reachable after down (cleartext path)"

# ---- 2. wrong PSK -----------------------------------------------------------

write_conf "$WORK/bad.conf" "not-the-$TB_PSK" "$TB_INSIDE_NET"
agent_start "$WORK/bad.conf"
agent_wait_exit "wrong psk"
[ "$AGENT_RC" != 0 ] || fail "ikeagent run with a wrong PSK exited 0"
[ "$AGENT_RC" = 3 ] || fail "ikeagent run with a wrong PSK exited $AGENT_RC, not 3"
grep -q '^ikeagent: .*AUTHENTICATION_FAILED' "$WORK/agent.log" ||
	fail "wrong PSK: no 'ikeagent: ... AUTHENTICATION_FAILED' line"
expect_restored "wrong psk"

# ---- 3. full tunnel, SIGINT ---------------------------------------------------

tb_gw_stop
tb_gw_start full || fail "gateway (full tunnel) did not start"
write_conf "$WORK/full.conf" "$TB_PSK" "0.0.0.0/0"
agent_start "$WORK/full.conf"
agent_wait_up "full"
ip -n "$TB_NS_CLI" rule show | grep -q "not from all fwmark 0xca6c lookup 51820" ||
	fail "full tunnel: no fwmark rule"
tb_wait_for "tb_ping_inside" 5 || fail "ping $TB_IN_ADDR through the full tunnel"
kill -INT "$AGENT_PID"
agent_wait_exit "SIGINT"
[ "$AGENT_RC" = 0 ] || fail "ikeagent run exited $AGENT_RC after SIGINT"
expect_restored "SIGINT"

t_end=$(date +%s%N)
echo "$NAME: pass (up in $t_up ms, $BLOB_MIB MiB in $t_xfer ms, wrong PSK refused, SIGINT clean; $(( (t_end - t_start) / 1000000 )) ms)"
exit 0
