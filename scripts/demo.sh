#!/usr/bin/env bash
# ikeagent demo (make demo, as root, after deps and build): brings up the
# testbed (scripts/testbed.sh: namespaces ika-cli / ika-gw / ika-in and a
# strongSwan 5.9 gateway with PSK), connects build/ikeagent from ika-cli,
# shows its status, pings the inside host 10.99.1.2 through the tunnel,
# shows the gateway's SAs, disconnects with `ikeagent down` and checks that
# ika-cli is exactly as before. The testbed is torn down on exit, also on
# failure. Usage: scripts/demo.sh [BUILD_DIR]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
IKA=$ROOT/$BUILD/ikeagent
UP_DEADLINE=15	# seconds for the tunnel to come up

section() { printf '\n===== %s =====\n' "$*"; }
die() {
	echo "demo: FAILED: $*" >&2
	if [ -n "${WORK:-}" ] && [ -s "$WORK/agent.log" ]; then
		echo "---- ikeagent log (last 30 lines)" >&2
		tail -n 30 "$WORK/agent.log" >&2
	fi
	if [ -n "${TB_DIR:-}" ] && [ -s "$TB_DIR/gw/charon.log" ]; then
		echo "---- gateway charon log (last 20 lines)" >&2
		tail -n 20 "$TB_DIR/gw/charon.log" >&2
	fi
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, tun)"
[ -x "$IKA" ] || die "no $IKA: run 'make' first"
# shellcheck source=testbed.sh
. "$ROOT/scripts/testbed.sh"
why=$(tb_check) || die "testbed cannot run here: $why"

WORK=$(mktemp -d /tmp/ikeagent-demo.XXXXXX) || die "mktemp"
SOCK=$WORK/agent.sock
AGENT_PID=""

cleanup() {
	local rc=$?
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -INT "$AGENT_PID" 2>/dev/null
		tb_wait_for "! kill -0 $AGENT_PID 2>/dev/null" 5 || kill -9 "$AGENT_PID" 2>/dev/null
	fi
	section "teardown"
	tb_down
	rm -rf "$WORK"
	echo "testbed removed"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# What ika-cli's network looks like: links, addresses, routes and rules.
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

agent_state() {
	"$IKA" status --json --socket "$SOCK" 2>/dev/null |
		sed -n 's/^{"state":"\([a-z]*\)".*/\1/p'
}

section "1. testbed: namespaces $TB_NS_CLI / $TB_NS_GW / $TB_NS_IN, strongSwan gateway (PSK)"
tb_up || die "testbed namespaces did not come up"
tb_gw_start psk || die "strongSwan gateway did not start"
echo "client $TB_CLI_ADDR -> gateway $TB_GW_ADDR -> inside host $TB_IN_ADDR ($TB_INSIDE_NET)"
net_snapshot >"$WORK/net.before"

section "2. agent.conf"
cat >"$WORK/agent.conf" <<EOF
[gateway]
address = $TB_GW_ADDR
id = $TB_GW_ID

[auth]
id = $TB_CLI_ID
psk = "$TB_PSK"

[tunnel]
remote_ts = $TB_INSIDE_NET
# The gateway's DNS server is not handed to this host's resolver in the demo.
dns = no

[agent]
socket = $SOCK
state_dir = $WORK/state
tun_name = ika0
# Root is given up before the first packet. An installed ikeagent runs as the
# user "ikeagent" that make install creates; the demo borrows "nobody".
user = nobody
socket_group = nogroup
EOF
chmod 600 "$WORK/agent.conf"
sed 's/^psk = .*/psk = "(hidden)"/' "$WORK/agent.conf"
echo
"$IKA" check -c "$WORK/agent.conf" || die "ikeagent check refused the config"

section "3. ikeagent run -c agent.conf (in $TB_NS_CLI)"
t0=$(date +%s%N)
# Started without the testbed lock's fd, so a stray agent cannot block the next run.
ip netns exec "$TB_NS_CLI" "$IKA" run -c "$WORK/agent.conf" >"$WORK/agent.log" 2>&1 </dev/null \
	{TB_LOCK_FD}>&- &
AGENT_PID=$!
tb_wait_for "[ \"\$(agent_state)\" = established ] || ! kill -0 $AGENT_PID 2>/dev/null" \
	"$UP_DEADLINE"
[ "$(agent_state)" = established ] ||
	die "tunnel not established within $UP_DEADLINE s (state: $(agent_state || true))"
t1=$(date +%s%N)
cat "$WORK/agent.log"
echo
echo "tunnel established $(( (t1 - t0) / 1000000 )) ms after start"

section "4. what the agent runs as (/proc/$AGENT_PID/status)"
grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs):' "/proc/$AGENT_PID/status"
[ "$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$AGENT_PID/status")" = 0000000000001000 ] ||
	die "the agent holds more than CAP_NET_ADMIN"
echo "(CapEff 0x1000 is CAP_NET_ADMIN alone)"
helper=$(pgrep -P "$AGENT_PID")
echo "privileged helper (/dev/net/tun, DNS): pid $helper, $(grep '^Uid:' "/proc/$helper/status" | tr '\t' ' ')"

section "5. ikeagent status"
"$IKA" status --socket "$SOCK" || die "ikeagent status failed"

section "6. ping $TB_IN_ADDR through the tunnel"
if command -v ping >/dev/null 2>&1; then
	ip netns exec "$TB_NS_CLI" ping -n -c 3 -W 2 "$TB_IN_ADDR" || die "ping through the tunnel"
else
	echo "(ping(8) not installed: ICMP echo through the testbed's python fallback)"
	for i in 1 2 3; do
		tb_ping cli "$TB_IN_ADDR" 1 || die "ping $i through the tunnel"
		echo "echo reply $i from $TB_IN_ADDR"
	done
fi

section "7. gateway: swanctl --list-sas"
tb_gw_swanctl --list-sas || die "swanctl --list-sas on the gateway"

section "8. ikeagent down"
"$IKA" down --socket "$SOCK" || die "ikeagent down"
wait "$AGENT_PID"
rc=$?
AGENT_PID=""
[ "$rc" = 0 ] || die "ikeagent run exited with $rc"
tail -n 6 "$WORK/agent.log"

section "9. $TB_NS_CLI restored?"
net_snapshot >"$WORK/net.after"
if ! diff -u "$WORK/net.before" "$WORK/net.after"; then
	die "links, addresses, routes or rules in $TB_NS_CLI differ from before"
fi
# Unprivileged at exit, the agent empties its journal where it may not remove it.
[ ! -s "$WORK/state/ika0.state" ] || die "journal $WORK/state/ika0.state still lists changes"
echo "no tun device, address, route or rule left behind in $TB_NS_CLI"
tb_gw_swanctl --list-sas | grep -q ESTABLISHED && die "gateway still has an IKE SA"
echo "gateway has no IKE SA left"

section "demo: OK"
