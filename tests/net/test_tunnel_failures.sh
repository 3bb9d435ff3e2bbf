#!/usr/bin/env bash
# shellcheck disable=SC2016 # tb_wait_for conditions are evaluated later
# Failures against the real strongSwan gateway (scripts/testbed.sh), PSK:
#   1. the gateway deletes the IKE SA (swanctl --terminate --ike rw): the
#      agent logs it, reconnects (status reconnects >= 1, new IKE SPI, the
#      same tun device) and the tunnel works again
#   2. the gateway deletes it and then stays silent (nft drop in ika-gw):
#      status `reconnecting` with the error, IKE_SA_INIT retransmitted, the
#      agent alive; once the gateway answers again the tunnel comes back
#   3. a gateway that never answers from the start: status `connecting`,
#      retransmissions in the log, no tun device; `ikeagent down` exits 0
#   4. wrong PSK: N(AUTHENTICATION_FAILED) without the gateway's AUTH is not
#      authenticated: with reconnect = no `ikeagent run` exits 1 within a
#      deadline with a line "ikeagent: ... AUTHENTICATION_FAILED"; with
#      reconnect = yes it keeps trying; nothing changed in ika-cli
#   5. kill -9 of a full-tunnel agent (the fwmark rules stay behind; the
#      tun device and what hangs on it die with the process), then a new `ikeagent run`: it logs the undo of
#      the killed run's changes (journal recovery), comes up, and after its
#      own `ikeagent down` nothing is left
# Exit 0 pass, 77 skip (not root, no netns, no strongSwan, no build), 1 fail.
# Usage: sh tests/net/test_tunnel_failures.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_tunnel_failures
TB_PREFIX=${TB_PREFIX:-ikfail}
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
la_init "${1:-build}"

# gw_block / gw_unblock: the gateway silently drops everything from the client.
gw_block() {
	tb_ns_exec gw nft -f - <<-EOF || la_fail "nft: cannot block the client"
		table inet ikatest {
			chain input {
				type filter hook input priority -10; policy accept;
				ip saddr $TB_CLI_ADDR udp dport { 500, 4500 } drop
			}
		}
	EOF
}
gw_unblock() { tb_ns_exec gw nft delete table inet ikatest 2>/dev/null; }
tun_index() { ip -n "$TB_NS_CLI" -o link show ika0 2>/dev/null | cut -d: -f1; }

la_up psk

# ---- 1. the gateway deletes the IKE SA: reconnect ----------------------------------------

la_conf "$WORK/re.conf" tunnel.reconnect=yes tunnel.reconnect_max_delay=2s
la_start "$WORK/re.conf"
la_wait_up "reconnect"
up_ms=$LA_UP_MS
la_ping_inside || la_fail "reconnect: ping $TB_IN_ADDR"
spi0=$(la_json_str ike_spi)
if0=$(tun_index)
t=$(la_now_ms)
tb_gw_swanctl --terminate --ike rw --timeout 5 >"$WORK/terminate.out" 2>&1 ||
	la_fail "swanctl --terminate failed: $(tail -n 2 "$WORK/terminate.out")"
la_log_wait 'gateway deleted the IKE SA' 5 || la_fail "reconnect: the agent did not log the gateway's DELETE"
tb_wait_for "[ \"\$(la_state)\" = established ] && [ \"\$(la_json_str ike_spi)\" != $spi0 ]" "$(la_dl 10)" ||
	la_fail "reconnect: not established again within $(la_dl 10) s: $(la_status_json)"
re_ms=$(( $(la_now_ms) - t ))
js=$(la_status_json)
[ "$(la_json_num reconnects "$js")" -ge 1 ] || la_fail "reconnect: status reconnects < 1: $js"
[ "$(tun_index)" = "$if0" ] || la_fail "reconnect: the tun device was recreated ($if0 -> $(tun_index))"
la_ping_inside || la_fail "reconnect: ping $TB_IN_ADDR after the reconnect"

# ---- 2. deleted, then a silent gateway: reconnecting, and back -------------------------

gw_block
n_del=$(grep -c 'gateway deleted the IKE SA' "$AGENT_LOG")
# The DELETE still reaches the agent (only what the client sends is dropped);
# swanctl detaches after the timeout while the gateway retransmits it.
tb_gw_swanctl --terminate --ike rw --timeout 1 >/dev/null 2>&1
tb_wait_for "[ \$(grep -c 'gateway deleted the IKE SA' '$AGENT_LOG') -gt $n_del ]" "$(la_dl 5)" ||
	la_fail "silent gateway: the agent did not log the gateway's second DELETE"
la_log_wait 'no answer to IKE_SA_INIT #0, retransmitting \(try 2 of' 10 ||
	la_fail "silent gateway: no IKE_SA_INIT retransmissions in the log"
js=$(la_status_json)
[ "$(la_json_str state "$js")" = reconnecting ] || la_fail "silent gateway: state is not reconnecting: $js"
la_json_str last_error "$js" | grep -q 'deleted' || la_fail "silent gateway: status last_error does not say why: $js"
# The tun, its address and route stay: tunnel traffic is dropped, not leaked.
[ "$(tun_index)" = "$if0" ] || la_fail "silent gateway: the tun device went away while reconnecting"
ip -n "$TB_NS_CLI" route show dev ika0 | grep -q '^10\.99\.1\.0/24' || la_fail "silent gateway: the route went away while reconnecting"
t=$(la_now_ms)
gw_unblock
tb_wait_for '[ "$(la_state)" = established ]' "$(la_dl 20)" ||
	la_fail "silent gateway: not established within $(la_dl 20) s after the gateway answered again: $(la_status_json)"
back_ms=$(( $(la_now_ms) - t ))
js=$(la_status_json)
[ "$(la_json_num reconnects "$js")" -ge 2 ] || la_fail "silent gateway: status reconnects < 2: $js"
la_ping_inside || la_fail "silent gateway: ping $TB_IN_ADDR after the gateway came back"
la_down "reconnect: down"

# ---- 3. a gateway that never answers -----------------------------------------------

gw_block
la_conf "$WORK/silent.conf" tunnel.reconnect=yes
la_start "$WORK/silent.conf"
la_log_wait 'no answer to IKE_SA_INIT #0, retransmitting \(try 2 of' 10 ||
	la_fail "never answered: no IKE_SA_INIT retransmissions in the log"
js=$(la_status_json)
[ "$(la_json_str state "$js")" = connecting ] || la_fail "never answered: state is not connecting: $js"
la_alive || la_fail "never answered: the agent exited"
! ip -n "$TB_NS_CLI" link show ika0 >/dev/null 2>&1 || la_fail "never answered: a tun device exists without a tunnel"
la_down "never answered: down"
gw_unblock

# ---- 4. wrong PSK --------------------------------------------------------------------
# The gateway's N(AUTHENTICATION_FAILED) comes without its AUTH: not authenticated
# (RFC 7296 §2.21.2), so not final at once. reconnect = no: the agent ends (exit 1,
# not the refused 3) naming it; reconnect = yes: it tries again with new IKE SAs and
# believes the refusal when 3 attempts in a row end with it (exit 3, one line).

la_conf "$WORK/bad.conf" auth.psk="\"not-the-$TB_PSK\"" tunnel.reconnect=no
t=$(la_now_ms)
la_start "$WORK/bad.conf"
la_wait_exit "wrong psk" 10
bad_ms=$(( $(la_now_ms) - t ))
[ "$AGENT_RC" = 1 ] || la_fail "wrong psk: ikeagent run exited $AGENT_RC, not 1"
grep -q '^ikeagent: .*AUTHENTICATION_FAILED' "$AGENT_LOG" ||
	la_fail "wrong psk: no 'ikeagent: ... AUTHENTICATION_FAILED' line"
la_expect_restored "wrong psk"
la_conf "$WORK/bad2.conf" auth.psk="\"not-the-$TB_PSK\"" tunnel.reconnect=yes
t=$(la_now_ms)
la_start "$WORK/bad2.conf"
la_log_wait 'IKE_AUTH answer N\(AUTHENTICATION_FAILED\) not authenticated' 10 ||
	la_fail "wrong psk, reconnect = yes: no 'not authenticated' line"
la_wait_exit "wrong psk, reconnect = yes" 20
bad2_ms=$(( $(la_now_ms) - t ))
[ "$AGENT_RC" = 3 ] || la_fail "wrong psk, reconnect = yes: exited $AGENT_RC, not 3 (refused)"
n_init=$(grep -c 'sending IKE_SA_INIT' "$AGENT_LOG")
[ "$n_init" = 3 ] || la_fail "wrong psk, reconnect = yes: $n_init IKE SAs tried, not 3"
grep -q '^ikeagent: auth: .*AUTHENTICATION_FAILED.*3 times in a row' "$AGENT_LOG" ||
	la_fail "wrong psk, reconnect = yes: no 'ikeagent: auth: ... 3 times in a row' line"
la_expect_restored "wrong psk, reconnect = yes"

# ---- 5. kill -9, then journal recovery ----------------------------------------------

la_gw_restart full
la_conf "$WORK/full.conf" tunnel.remote_ts=0.0.0.0/0
la_start "$WORK/full.conf"
la_wait_up "kill -9"
killed=$AGENT_PID
kill -9 "$killed"
wait "$killed" 2>/dev/null
AGENT_PID=""
la_snapshot >"$WORK/net.killed"
grep -q 'fwmark 0xca6c lookup 51820' "$WORK/net.killed" || la_fail "kill -9: no fwmark rule left behind to recover from"
[ -s "$WORK/state/ika0.state" ] || la_fail "kill -9: no journal $WORK/state/ika0.state"
la_start "$WORK/full.conf"
la_wait_up "after kill -9"
recover_up=$LA_UP_MS
grep -q "left by an earlier run (pid $killed), undoing" "$AGENT_LOG" ||
	la_fail "after kill -9: the new run did not report the killed run's (pid $killed) changes"
n_undo=$(grep -c "undo after earlier run (pid $killed)" "$AGENT_LOG")
[ "$n_undo" -ge 4 ] || la_fail "after kill -9: only $n_undo undo lines for pid $killed (device, address, route, rules)"
! grep -q -E 'cannot undo|could not be undone' "$AGENT_LOG" || la_fail "after kill -9: $(grep -m1 -E 'cannot undo|could not be undone' "$AGENT_LOG")"
la_ping_inside || la_fail "after kill -9: ping $TB_IN_ADDR through the new tunnel"
la_down "after kill -9: down"

la_pass "up in $up_ms ms; reconnect after the gateway's DELETE in $re_ms ms, back $back_ms ms after a silent gateway answered; wrong PSK refused in $bad_ms ms (reconnect = yes: after 3 tries, $bad2_ms ms); kill -9 recovered ($n_undo undos), up again in $recover_up ms, clean down"
