#!/bin/sh
# Proves the testbed: a strongSwan client (second charon, kernel-libipsec) in
# ika-cli connects to the strongSwan gateway in ika-gw with PSK, and traffic
# to the inside host 10.99.1.2 goes through ESP-in-UDP: ping, an HTTP
# transfer checked by SHA-256, ESP counters on the gateway, and no cleartext
# path once the client is gone. Exit 0 pass, 77 skip, 1 fail. Always tears
# the testbed down. Usage: sh tests/net/test_testbed.sh [BUILD] (BUILD unused)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NAME=test_testbed

skip() {
	echo "$NAME: skip: needs root/netns/strongSwan ($1)"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "not root"
command -v ip >/dev/null 2>&1 || skip "no ip(8)"
# shellcheck source=../../scripts/testbed.sh
. "$ROOT/scripts/testbed.sh"
why=$(tb_check) || skip "$why"

fail() {
	echo "$NAME: FAIL: $*"
	local f
	for f in "$TB_DIR/gw/charon.log" "$TB_DIR/cli/charon.log"; do
		[ -s "$f" ] || continue
		echo "---- last lines of $f"
		tail -n 25 "$f"
	done
	exit 1
}
trap 'tb_down' EXIT
trap 'exit 130' INT TERM

t0=$(date +%s%N)
tb_up || fail "tb_up (namespaces/veths/inside services)"
tb_gw_start psk || fail "gateway did not start"
tb_client_ss_start psk || fail "strongSwan client could not connect to the gateway"

sas=$(tb_gw_swanctl --list-sas 2>&1)
echo "$sas" | grep -q ESTABLISHED || fail "gateway shows no ESTABLISHED IKE SA: $sas"
echo "$sas" | grep -q 'INSTALLED, TUNNEL-in-UDP' || fail "gateway CHILD_SA not INSTALLED in UDP encapsulation: $sas"
echo "$sas" | grep -q '\[10\.99\.100\.[0-9]*\]' || fail "client got no virtual IP from the pool: $sas"

tb_wait_for "tb_ping_inside" 5 || fail "ping 10.99.1.2 from the client through the tunnel"

if command -v curl >/dev/null 2>&1; then
	got=$(tb_ns_exec cli curl -s -m 10 "http://$TB_IN_ADDR:$TB_HTTP_PORT/blob-1M.bin" | sha256sum | cut -d' ' -f1)
	want=$(cut -d' ' -f1 "$TB_DIR/in/www/blob-1M.bin.sha256")
	[ "$got" = "$want" ] || fail "1 MiB HTTP transfer through the tunnel: sha256 $got != $want"
fi

# The gateway's ESP counters prove the packets went through the SA.
in_bytes=$(tb_gw_swanctl --list-sas 2>/dev/null | awk '$1 == "in" { gsub(",", "", $3); print $3; exit }')
[ "${in_bytes:-0}" -gt 0 ] || fail "gateway CHILD_SA counted no inbound ESP bytes"

# Without the tunnel there is no path: the gateway drops cleartext forwarding.
tb_client_ss_stop
tb_wait_for "! tb_gw_swanctl --list-sas 2>/dev/null | grep -q ESTABLISHED" 5 ||
	fail "gateway kept the IKE SA after the client sent DELETE"
tb_ping_inside && fail "inside host reachable without the tunnel (cleartext path)"

t1=$(date +%s%N)
echo "$NAME: pass (tunnel up, ping + 1 MiB transfer through ESP-in-UDP, $(( (t1 - t0) / 1000000 )) ms)"
exit 0
