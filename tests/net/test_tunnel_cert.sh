#!/usr/bin/env bash
# shellcheck disable=SC2016 # tb_wait_for conditions are evaluated later
# The gateway authenticates with a certificate (testbed variants rsa and
# ecdsa: a CA made with pki, the gateway's certificate for gw.ikeagent.test),
# ikeagent with PSK and `[auth] ca` = the testbed's CA:
#   1./2. rsa, ecdsa: the tunnel comes up, the gateway signed its AUTH with
#      its key (its log), ping 10.99.1.2, a 1 MiB transfer checked by
#      SHA-256, `ikeagent down`: exit 0, nothing left
#   3. the other variant's CA (the gateway's certificate does not chain to
#      it): `ikeagent run` exits non-zero within a deadline with a line
#      about the certificate; nothing left
# `ikeagent check` refusing `[auth] ca` with PSK is a failure (it once was
# a skip, from before the feature existed: it hid a regression as a skip).
# Exit 0 pass, 77 skip (only: not root, no netns, no strongSwan, no pki,
# no build), 1 fail. Usage: sh tests/net/test_tunnel_cert.sh [BUILD]
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_tunnel_cert
TB_PREFIX=${TB_PREFIX:-ikcert}
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
la_init "${1:-build}"
command -v pki >/dev/null 2>&1 || la_skip "no pki(1) (strongswan-pki)"

la_up rsa
# tb_gw_start rsa made the testbed PKI: both CAs and gateway certificates.
for v in rsa ecdsa; do
	[ -s "$TB_DIR/pki/ca-$v.pem" ] || la_fail "testbed PKI: no $TB_DIR/pki/ca-$v.pem"
done
la_conf "$WORK/probe.conf" auth.ca="$TB_DIR/pki/ca-rsa.pem"
"$IKA" check -c "$WORK/probe.conf" >"$WORK/check.out" 2>&1 ||
	la_fail "ikeagent check refuses [auth] ca = the testbed's CA with PSK: $(tr '\n' ' ' <"$WORK/check.out")"

figures=""
for v in rsa ecdsa; do
	[ "$v" = rsa ] || la_gw_restart "$v"
	la_conf "$WORK/$v.conf" auth.ca="$TB_DIR/pki/ca-$v.pem"
	la_start "$WORK/$v.conf"
	la_wait_up "$v"
	figures="$figures $v up in $LA_UP_MS ms,"
	case $v in
	rsa) want='RSA|RSASSA-PSS' ;;
	ecdsa) want='ECDSA' ;;
	esac
	grep -q -E "authentication of '$TB_GW_ID' \(myself\) with ($want)" "$TB_DIR/gw/charon.log" ||
		la_fail "$v: the gateway did not sign with its $v key: $(grep -m1 "(myself) with" "$TB_DIR/gw/charon.log")"
	la_ping_inside || la_fail "$v: ping $TB_IN_ADDR through the tunnel"
	got=$(la_fetch_sha "http://$TB_IN_ADDR:$TB_HTTP_PORT/blob-1M.bin")
	[ "$got" = "$(cut -d' ' -f1 "$TB_DIR/in/www/blob-1M.bin.sha256")" ] || la_fail "$v: 1 MiB transfer: bad sha256 ${got:-none}"
	la_down "$v: down"
done

# The ecdsa gateway, the rsa CA: the chain does not verify.
la_conf "$WORK/wrongca.conf" auth.ca="$TB_DIR/pki/ca-rsa.pem" tunnel.reconnect=yes
t=$(la_now_ms)
la_start "$WORK/wrongca.conf"
la_wait_exit "wrong CA" 10
wrong_ms=$(( $(la_now_ms) - t ))
[ "$AGENT_RC" != 0 ] || la_fail "wrong CA: ikeagent run exited 0"
grep -i -q '^ikeagent: .*certificate' "$AGENT_LOG" ||
	la_fail "wrong CA: no 'ikeagent: ...certificate...' line (exit $AGENT_RC)"
la_expect_restored "wrong CA"

la_pass "${figures# } wrong CA refused in $wrong_ms ms (exit $AGENT_RC)"
