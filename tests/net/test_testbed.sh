#!/bin/sh
# Proves the testbed: a strongSwan client (second charon, kernel-libipsec) in
# ika-cli connects to the strongSwan gateway in ika-gw with PSK, and traffic
# to the inside host 10.99.1.2 goes through ESP-in-UDP: ping, an HTTP
# transfer checked by SHA-256, ESP counters on the gateway, and no cleartext
# path once the client is gone. Then the EAP gateways, and the gateway log
# lines test_tunnel_eap.sh relies on, with strongSwan's own client (no
# ikeagent):
#   1. rsa,eap (MSCHAPv2): up, ping; "received EAP identity 'testuser'",
#      "EAP method EAP_MSCHAPV2 succeeded, MSK established"
#   2. wrong password: not up; "EAP-MS-CHAPv2 verification failed, retry (1)"
#   3. untrusted gateway (the client trusts the ECDSA CA): not up; the
#      gateway parsed IKE_AUTH request 1 only (no EAP identity, no password)
#   4. rsa,eaptls with the RSA client certificate, ecdsa,eaptls with the
#      ECDSA one (TLS 1.2), then ecdsa,eaptls with the RSA one over TLS 1.3:
#      up, ping, "EAP method EAP_TLS succeeded", the negotiated version
# Exit 0 pass, 77 skip, 1 fail. Always tears
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
	echo "$NAME: FAIL: ${CASE:+$CASE: }$*"
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

# ---- the EAP gateways --------------------------------------------------------

gw_mark() { GW_MARK=$(wc -l <"$TB_DIR/gw/charon.log"); }
gw_since() { tail -n +"$((GW_MARK + 1))" "$TB_DIR/gw/charon.log"; }
gw_has() { gw_since | grep -q -E "$1"; }

# client [VAR=VALUE...]: a fresh strongSwan client with these knobs; 0 if up.
client() {
	tb_client_ss_stop
	gw_mark
	(
		# shellcheck disable=SC2163 # VAR=VALUE words
		[ $# -gt 0 ] && export "$@"
		tb_client_ss_start
	) >"$TB_DIR/client.out" 2>&1
}

# gw VARIANT [VAR=VALUE...]: restart the gateway.
gw() {
	local v=$1
	shift
	tb_client_ss_stop
	tb_gw_stop
	(
		# shellcheck disable=SC2163 # VAR=VALUE words
		[ $# -gt 0 ] && export "$@"
		tb_gw_start "$v"
	) >"$TB_DIR/gw.out" 2>&1 || fail "gateway $v did not start: $(tail -n 3 "$TB_DIR/gw.out")"
}

CASE=setup
command -v pki >/dev/null 2>&1 || fail "no pki(1) (strongswan-pki)"
gw rsa,eap
for f in client-rsa.pem client-rsa.key client-ecdsa.pem client-ecdsa.key; do
	[ -s "$TB_DIR/pki/$f" ] || fail "no $TB_DIR/pki/$f"
done

CASE="1 mschapv2"
client || fail "client did not connect: $(tail -n 3 "$TB_DIR/client.out")"
tb_wait_for tb_ping_inside 5 || fail "ping through the tunnel"
gw_has "received EAP identity '$TB_EAP_USER'" || fail "no 'received EAP identity'"
gw_has 'EAP method EAP_MSCHAPV2 succeeded, MSK established' || fail "no MSCHAPv2 success"

CASE="2 wrong password"
client TB_EAP_PASS="not-$TB_EAP_PASS" && fail "connected with a wrong password"
gw_has 'EAP-MS-CHAPv2 verification failed, retry \(1\)' || fail "no 'verification failed, retry (1)'"
gw_has 'EAP method EAP_MSCHAPV2 succeeded' && fail "the gateway logged an MSCHAPv2 success"

CASE="3 untrusted gateway"
client TB_CLI_CA=ecdsa && fail "connected to a gateway whose CA it does not trust"
gw_has 'parsed IKE_AUTH request 1 ' || fail "the gateway got no IKE_AUTH"
gw_has 'parsed IKE_AUTH request [2-9]|EAP/RES|received EAP identity' &&
	fail "the client went on after the gateway's certificate failed: $(gw_since | grep -m1 -E 'IKE_AUTH request [2-9]')"

figures=""
for c in rsa:rsa: ecdsa:ecdsa: ecdsa:rsa:1.3; do
	IFS=: read -r g k tls <<-EOF
		$c
	EOF
	CASE="4 $g,eaptls, $k client certificate${tls:+, TLS $tls}"
	if [ -n "$tls" ]; then
		gw "$g,eaptls" TB_TLS_MIN="$tls" TB_TLS_MAX="$tls"
		client TB_CLI_CERT="$k" TB_TLS_MAX="$tls" || fail "client did not connect: $(tail -n 3 "$TB_DIR/client.out")"
	else
		gw "$g,eaptls"
		client TB_CLI_CERT="$k" || fail "client did not connect: $(tail -n 3 "$TB_DIR/client.out")"
	fi
	tb_wait_for tb_ping_inside 5 || fail "ping through the tunnel"
	gw_has 'EAP method EAP_TLS succeeded, MSK established' || fail "no EAP_TLS success"
	ver=$(gw_since | sed -n 's/.*negotiated \(TLS [0-9.]*\) using suite.*/\1/p' | head -n 1)
	[ "$ver" = "TLS ${tls:-1.2}" ] || fail "negotiated '$ver', want TLS ${tls:-1.2}"
	figures="$figures, $g/$k $ver"
done

t1=$(date +%s%N)
echo "$NAME: pass (psk: tunnel up, ping + 1 MiB transfer through ESP-in-UDP; eap: mschapv2 up, wrong password and untrusted gateway refused, eap-tls$figures; $(( (t1 - t0) / 1000000 )) ms)"
exit 0
