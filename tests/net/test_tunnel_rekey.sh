#!/usr/bin/env bash
# shellcheck disable=SC2016 # tb_wait_for conditions are evaluated later
# Rekeys against the real strongSwan gateway (scripts/testbed.sh), PSK,
# each during a 50 MiB HTTP transfer that spans them (rate-limited):
#   1. the gateway rekeys: Child SA every 5 s, IKE SA every 7 s. The
#      transfer's SHA-256 is right, status `rekeys` went up by >= 2, the
#      IKE SPI changed, the tunnel is up and pings afterwards, the gateway
#      settles on one IKE SA with one Child SA (the replaced ones deleted)
#   2. ikeagent rekeys: agent.conf child_lifetime / ike_lifetime as short
#      as `ikeagent check` accepts (5 s / 8 s; 1 min each while the
#      configured minimum is 1 min), the gateway never rekeys by itself.
#      Same assertions (rekeys >= 2, or >= 1 with 1-minute lifetimes, which
#      would otherwise need two minutes); the agent log names both rekeys.
# Both: no ESP packet dropped for an unknown SPI (status unknown_spi): the
# gateway's packets sealed with a replaced Child SA that arrive after its
# Delete are still taken for SESSION_LINGER_MS (status late_in).
# Exit 0 pass, 77 skip (not root, no netns, no strongSwan, no build), 1 fail.
# Usage: sh tests/net/test_tunnel_rekey.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_tunnel_rekey
TB_PREFIX=${TB_PREFIX:-ikrek}
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
la_init "${1:-build}"

BLOB_MIB=50

# transfer_during NAME RATE: the 50 MiB blob at RATE (curl --limit-rate),
# hash checked; XFER_MS.
transfer_during() {
	local t got
	t=$(la_now_ms)
	got=$(la_fetch_sha "$LA_BLOB_URL" --limit-rate "$2")
	XFER_MS=$(( $(la_now_ms) - t ))
	[ "$got" = "$LA_BLOB_SHA" ] ||
		la_fail "$1: $BLOB_MIB MiB transfer across the rekeys: sha256 ${got:-none} != $LA_BLOB_SHA"
}

# after_rekeys NAME JSON_BEFORE MIN_REKEYS: the assertions both cases share.
after_rekeys() {
	local js0=$2 js rk0 rk
	js=$(la_status_json)
	[ "$(la_json_str state "$js")" = established ] || la_fail "$1: not established after the transfer: $js"
	rk0=$(la_json_num rekeys "$js0")
	rk=$(la_json_num rekeys "$js")
	REKEYS=$((rk - rk0))
	[ "$REKEYS" -ge "$3" ] || la_fail "$1: status rekeys went from $rk0 to $rk (want +$3)"
	[ "$(la_json_str ike_spi "$js")" != "$(la_json_str ike_spi "$js0")" ] ||
		la_fail "$1: the IKE SPI did not change (no IKE rekey): $js"
	[ "$(la_json_str child_spi_in "$js")" != "$(la_json_str child_spi_in "$js0")" ] ||
		la_fail "$1: the Child SA SPI did not change: $js"
	[ "$(la_json_num reconnects "$js")" = 0 ] || la_fail "$1: the agent reconnected instead of rekeying: $js"
	# ESP the gateway sealed with a Child SA before it took the Delete comes
	# in after the answer: the replaced SA still takes it (SESSION_LINGER_MS)
	[ "$(( $(la_json_num unknown_spi "$js") - $(la_json_num unknown_spi "$js0") ))" = 0 ] ||
		la_fail "$1: ESP for a Child SA we no longer had was dropped ($(la_json_num late_in "$js") taken late): $js"
	la_ping_inside || la_fail "$1: ping $TB_IN_ADDR after the rekeys"
	la_gw_one_sa 15 || la_fail "$1: the gateway did not settle on one IKE SA and one Child SA: $(la_gw_sas | grep -E 'ESTABLISHED|INSTALLED|REKEY|DELET' | tr '\n' ' ')"
}

la_up psk
la_blob "$BLOB_MIB"

# ---- 1. the gateway rekeys ----------------------------------------------------------

TB_CHILD_REKEY_TIME=5s TB_IKE_REKEY_TIME=7s la_gw_restart psk
la_gw_lifetimes 10s 5s
la_conf "$WORK/gw.conf"
la_start "$WORK/gw.conf"
la_wait_up "gateway rekeys"
up_gw=$LA_UP_MS
js0=$(la_status_json)
# 50 MiB at 3 MiB/s: ~17 s, three Child SA and two IKE SA rekeys.
transfer_during "gateway rekeys" 3M
ms_gw=$XFER_MS
after_rekeys "gateway rekeys" "$js0" 2
rk_gw=$REKEYS
n_ike_gw=$(grep -c 'IKE SA rekeyed' "$AGENT_LOG")
[ "$n_ike_gw" -ge 1 ] || la_fail "gateway rekeys: the agent log shows no IKE SA rekey"
la_down "gateway rekeys: down"

# ---- 2. ikeagent rekeys -----------------------------------------------------------

la_gw_restart psk
child_life=5s ike_life=8s jitter=1s want=2
la_conf "$WORK/own.conf" tunnel.child_lifetime=$child_life tunnel.ike_lifetime=$ike_life \
	tunnel.rekey_jitter=$jitter
if ! "$IKA" check -c "$WORK/own.conf" >"$WORK/check.out" 2>&1; then
	# The configured minimum is 1 minute: both rekeys at the same moment
	# (no jitter), once within the test's time.
	grep -q 'lifetime' "$WORK/check.out" || la_fail "ikeagent check: $(cat "$WORK/check.out")"
	child_life=1m ike_life=1m jitter=0s want=1
	la_conf "$WORK/own.conf" tunnel.child_lifetime=$child_life tunnel.ike_lifetime=$ike_life \
		tunnel.rekey_jitter=$jitter
	"$IKA" check -c "$WORK/own.conf" >"$WORK/check.out" 2>&1 || la_fail "ikeagent check: $(cat "$WORK/check.out")"
fi
la_start "$WORK/own.conf"
la_wait_up "own rekeys"
up_own=$LA_UP_MS
js0=$(la_status_json)
if [ "$want" = 2 ]; then
	rate=3M		# ~17 s: three Child SA and two IKE SA rekeys
else
	rate=750K	# ~68 s: spans the rekeys at 60 s
fi
transfer_during "own rekeys" "$rate"
ms_own=$XFER_MS
after_rekeys "own rekeys" "$js0" "$want"
rk_own=$REKEYS
grep -q 'ike: rekeying the IKE SA' "$AGENT_LOG" || la_fail "own rekeys: the agent did not start an IKE SA rekey"
grep -q 'ike: rekeying Child SA' "$AGENT_LOG" || la_fail "own rekeys: the agent did not start a Child SA rekey"
grep -q 'ike: Child SA in [0-9a-f]* out [0-9a-f]* deleted' "$AGENT_LOG" || la_fail "own rekeys: the agent did not delete the replaced Child SA"
! grep -q -E 'refused our|unusable answer' "$AGENT_LOG" ||
	la_fail "own rekeys: $(grep -m1 -E 'refused our|unusable answer' "$AGENT_LOG")"
la_down "own rekeys: down"

la_pass "gateway rekeys (child 5s, IKE 7s): up in $up_gw ms, $rk_gw Child SA rekeys + $n_ike_gw IKE SA rekeys during $BLOB_MIB MiB at $(la_mbps "$LA_BLOB_BYTES" "$ms_gw") MB/s; own rekeys (child $child_life, IKE $ike_life): up in $up_own ms, $rk_own Child SA rekeys during $BLOB_MIB MiB at $(la_mbps "$LA_BLOB_BYTES" "$ms_own") MB/s"
