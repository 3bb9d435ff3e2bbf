#!/usr/bin/env bash
# shellcheck disable=SC2016 # tb_wait_for conditions are evaluated later
# ikeagent against the real strongSwan gateway (scripts/testbed.sh, variant
# v6, TB_IPV6=1), PSK, dual-stack split tunnel:
#   remote_ts = 10.99.1.0/24, fd99:1::/64: the agent asks for both virtual
#   addresses (INTERNAL_IP4_ADDRESS, INTERNAL_IP6_ADDRESS, an IPv6 TSi);
#   status (JSON and text) shows an address from each pool, ika0 carries
#   the IPv6 one as a /128, fd99:1::/64 is routed via ika0 and the gateway's
#   outside address fd99::1 is not; ping 10.99.1.2 and fd99:1::2 through
#   the tunnel (the gateway forwards no cleartext from the client veth);
#   `ikeagent down`: exit 0, ika-cli exactly as before (IPv6 included).
#   Then full tunnel (remote_ts 0.0.0.0/0, ::/0, gateway variant full,v6):
#   the IPv6 fwmark rule and table route exist, ping6 through the tunnel,
#   our own marked packets stay on the uplink; SIGINT: nothing left.
# Exit 0 pass, 77 skip (not root, no netns, no strongSwan, no build), 1 fail.
# Usage: sh tests/net/test_tunnel_ipv6.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_tunnel_ipv6
TB_PREFIX=${TB_PREFIX:-ikv6}
export TB_IPV6=1
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
la_init "${1:-build}"
[ -e /proc/net/if_inet6 ] || la_skip "no IPv6 in this kernel"

IN6_NET=fd99:1::/64
POOL6_RE='^fd99:100::[0-9a-f]{1,2}$'	# vpool6 = fd99:100::/120
POOL4_RE='^10\.99\.100\.[0-9]+$'

la_up psk,v6
cli_if=$TB_IF_CLI
ip -n "$TB_NS_IN" -6 addr show | grep -q "inet6 $TB_IN_ADDR6/" ||
	la_fail "testbed: the inside host has no $TB_IN_ADDR6"

la_conf "$WORK/v6.conf" "tunnel.remote_ts=$TB_INSIDE_NET, $IN6_NET"
"$IKA" check -c "$WORK/v6.conf" >/dev/null || la_fail "ikeagent check refused the test config"
la_start "$WORK/v6.conf"
la_wait_up "dual-stack"
up_ms=$LA_UP_MS

# Both addresses, in status and on the tun.
js=$(la_status_json)
vip4=$(la_json_str virtual_ip "$js")
vip6=$(la_json_str virtual_ip6 "$js")
echo "$vip4" | grep -Eq "$POOL4_RE" || la_fail "status: virtual_ip '$vip4' not from 10.99.100.0/24: $js"
echo "$vip6" | grep -Eq "$POOL6_RE" || la_fail "status: virtual_ip6 '$vip6' not from fd99:100::/120: $js"
echo "$js" | grep -q '"routes":\["10\.99\.1\.0/24","fd99:1::/64"\]' ||
	la_fail "status: routes not [10.99.1.0/24, fd99:1::/64]: $js"
txt=$("$IKA" status --socket "$LA_SOCK")
status_line=$(echo "$txt" | grep -E '^virtual ip6?:' | tr -s ' ' | paste -sd ';' -)
echo "$txt" | grep -q "^virtual ip6: $vip6\$" || la_fail "status text: no 'virtual ip6: $vip6': $txt"
ip -n "$TB_NS_CLI" -6 addr show dev ika0 | grep -q "inet6 $vip6/128 " ||
	la_fail "ika0 has no $vip6/128: $(ip -n "$TB_NS_CLI" -6 -o addr show dev ika0 | tr '\n' ' ')"
ip -n "$TB_NS_CLI" -4 addr show dev ika0 | grep -q "inet $vip4/32 " || la_fail "ika0 has no $vip4/32"
tb_gw_swanctl --list-sas 2>/dev/null | grep -q "$vip6" ||
	la_fail "the gateway does not list $vip6 in its SAs: $(la_gw_sas | tr '\n' ' ')"

# Routes: the inside IPv6 net via ika0 (from our /128), the outside stays on the uplink.
ip -n "$TB_NS_CLI" -6 route show dev ika0 | grep -q '^fd99:1::/64' || la_fail "no route $IN6_NET dev ika0"
r=$(ip -n "$TB_NS_CLI" -6 route get "$TB_IN_ADDR6")
echo "$r" | grep -q 'dev ika0' || la_fail "$TB_IN_ADDR6 not routed via ika0: $r"
echo "$r" | grep -q "src $vip6" || la_fail "$TB_IN_ADDR6 not sent from $vip6: $r"
r=$(ip -n "$TB_NS_CLI" -6 route get "$TB_GW_ADDR6")
echo "$r" | grep -q "dev $cli_if" || la_fail "$TB_GW_ADDR6 not on the uplink: $r"

# Traffic, both families; the ESP counters move for IPv6.
la_ping_inside || la_fail "ping $TB_IN_ADDR through the tunnel"
out0=$(la_json_num packets_out)
tb_wait_for 'tb_ping cli "$TB_IN_ADDR6"' "$(la_dl 5)" || la_fail "ping6 $TB_IN_ADDR6 through the tunnel"
tb_ping cli "$TB_IN_ADDR6" 3 || la_fail "ping6 $TB_IN_ADDR6: 3 more echoes"
out1=$(la_json_num packets_out)
[ "$out1" -gt "$out0" ] || la_fail "ping6 did not go through ESP (packets_out $out0 -> $out1)"
# An HTTP GET over IPv6 too (the testbed serves it on both addresses).
tb_ns_exec cli curl -sf -m "$(la_dl 10)" "http://[$TB_IN_ADDR6]:$TB_HTTP_PORT/hello.txt" |
	grep -q 'hello from the ikeagent testbed' || la_fail "HTTP GET over IPv6 through the tunnel"
js=$(la_status_json)
[ "$(la_json_str state "$js")" = established ] || la_fail "not established after the pings: $js"

la_down "dual-stack down"
tb_wait_for '[ "$(la_gw_n_ike)" = 0 ]' "$(la_dl 5)" || la_fail "gateway kept the IKE SA after our DELETE"

# ---- full tunnel, both families ---------------------------------------------------

la_gw_restart full,v6
la_conf "$WORK/full6.conf" "tunnel.remote_ts=0.0.0.0/0, ::/0" agent.fwmark=0xca6c agent.table=51820
la_start "$WORK/full6.conf"
la_wait_up "full dual-stack"
js=$(la_status_json)
la_json_str virtual_ip6 "$js" | grep -Eq "$POOL6_RE" || la_fail "full: no virtual_ip6 from the pool: $js"
echo "$js" | grep -q '"routes":\["0\.0\.0\.0/0","::/0"\]' || la_fail "full: status routes not [0.0.0.0/0, ::/0]: $js"
rules=$(ip -n "$TB_NS_CLI" -6 rule show)
echo "$rules" | grep -q 'not from all fwmark 0xca6c lookup 51820' || la_fail "full: no IPv6 fwmark rule: $rules"
ip -n "$TB_NS_CLI" -6 route show table 51820 | grep -q '^default dev ika0' || la_fail "full: no IPv6 default route via ika0 in table 51820"
r=$(ip -n "$TB_NS_CLI" -6 route get 2001:db8::1)
echo "$r" | grep -q 'dev ika0' || la_fail "full: unmarked IPv6 not into the tunnel: $r"
r=$(ip -n "$TB_NS_CLI" -6 route get "$TB_GW_ADDR6" mark 0xca6c)
echo "$r" | grep -q "dev $cli_if" || la_fail "full: marked IPv6 not on the uplink: $r"
la_ping_inside || la_fail "full: ping $TB_IN_ADDR through the tunnel"
tb_wait_for 'tb_ping cli "$TB_IN_ADDR6"' "$(la_dl 5)" || la_fail "full: ping6 $TB_IN_ADDR6 through the tunnel"
la_sigint "full dual-stack SIGINT"

la_pass "up in $up_ms ms; $status_line; ping + ping6 through the tunnel, HTTP over IPv6; down clean; full tunnel ::/0 ping6, SIGINT clean"
