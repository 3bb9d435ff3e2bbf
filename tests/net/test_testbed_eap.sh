#!/usr/bin/env bash
# shellcheck disable=SC2016 # tb_wait_for conditions are evaluated later
# Proves the testbed's EAP gateways with strongSwan's own client (no
# ikeagent), and the gateway log lines test_tunnel_eap.sh relies on:
#   1. rsa,eap (MSCHAPv2): up, ping; "received EAP identity 'testuser'",
#      "EAP method EAP_MSCHAPV2 succeeded, MSK established"
#   2. wrong password: not up; "EAP-MS-CHAPv2 verification failed, retry (1)"
#   3. untrusted gateway (the client trusts the ECDSA CA): not up; the
#      gateway parsed IKE_AUTH request 1 only (no EAP identity, no password)
#   4. rsa,eaptls with the RSA client certificate, ecdsa,eaptls with the
#      ECDSA one (TLS 1.2), then ecdsa,eaptls with the RSA one over TLS 1.3:
#      up, ping, "EAP method EAP_TLS succeeded", the negotiated version
# Exit 0 pass, 77 skip (not root, no netns, no strongSwan, no pki), 1 fail.
# Usage: sh tests/net/test_testbed_eap.sh [BUILD] (BUILD unused)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NAME=test_testbed_eap
TB_PREFIX=${TB_PREFIX:-ikeat}

skip() {
	echo "$NAME: skip: $1"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "not root"
command -v ip >/dev/null 2>&1 || skip "no ip(8)"
command -v pki >/dev/null 2>&1 || skip "no pki(1) (strongswan-pki)"
# shellcheck source=scripts/testbed.sh
. "$ROOT/scripts/testbed.sh"
why=$(tb_check) || skip "$why"

fail() {
	echo "$NAME: FAIL: $CASE: $*"
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

t0=$(date +%s%N)
CASE=setup
tb_up || fail "tb_up"
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
echo "$NAME: pass (mschapv2 up, wrong password and untrusted gateway refused, eap-tls$figures; $(( (t1 - t0) / 1000000 )) ms)"
exit 0
