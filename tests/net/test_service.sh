#!/usr/bin/env bash
# shellcheck disable=SC2016 # tb_wait_for conditions are evaluated later
# ikeagent as systemd runs it, against the real strongSwan gateway: this
# test plays systemd (these machines have no systemd as PID 1). It runs the
# ExecStart= line of systemd/ikeagent@.service.in (instance "svc", its
# /etc/ikeagent and /run/ikeagent moved into $WORK) with what systemd puts
# in the environment of a Type=notify unit with WatchdogSec= and
# StandardError=journal: NOTIFY_SOCKET (a listener of ours), WATCHDOG_USEC
# (2 s here), WATCHDOG_PID, JOURNAL_STREAM (the log file's device:inode).
# The configuration sets [agent] user = nobody, socket_group = nogroup.
#
#   1. READY=1 only once the tunnel carries traffic: with the gateway's
#      answers dropped the agent retransmits and says "connecting", never
#      READY; once they pass, READY=1 comes and a ping through the tunnel
#      succeeds at the first try. STATUS= names the transport.
#   2. Least privilege, from /proc/PID/status: uid/gid nobody, CapEff and
#      CapPrm = CAP_NET_ADMIN only, no bounding set, NoNewPrivs; one helper
#      child that is root.
#   3. The control socket: mode 0660 group nogroup; a member of nogroup
#      gets the status; another uid is refused by the file mode, and again
#      by the agent when the mode lets it through (status and down).
#   4. Still working unprivileged: the gateway rekeys the Child and the IKE
#      SA (status rekeys, new SPIs, ping), then deletes the IKE SA: the
#      agent reconnects (STATUS= says so), same uid, ping.
#   5. Journal-style logs: every line "<priority>text", no time stamps.
#      WATCHDOG=1 at least every 2 s throughout.
#   6. SIGTERM to the agent and its helper (systemd's stop): STOPPING=1,
#      exit 0, ika-cli restored, the helper gone, the journal emptied.
# Exit 0 pass, 77 skip (not root, no netns, no strongSwan, no build), 1 fail.
# Usage: sh tests/net/test_service.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_service
TB_PREFIX=${TB_PREFIX:-iksvc}
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
la_init "${1:-build}"
PY=$(tb__python)
[ -n "$PY" ] || la_skip "no python3 (the notify listener)"
command -v setpriv >/dev/null 2>&1 || la_skip "no setpriv (util-linux)"
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null 2>&1 || la_skip "no user nobody / group nogroup"
UNIT=$LA_ROOT/systemd/ikeagent@.service.in
NOBODY=$(id -u nobody)
NOGROUP=$(getent group nogroup | cut -d: -f3)
OTHER=54321		# a uid in neither group
WD_USEC=2000000

la_up psk
# la__cleanup exits with $?: keep the test's status past the kill
trap 'rc=$?; kill "$NOTIFY_PID" 2>/dev/null; (exit $rc); la__cleanup' EXIT

# ---- the unit's command line, moved into $WORK -------------------------------
mkdir -p "$WORK/etc" "$WORK/run"
chmod 755 "$WORK" "$WORK/run"	# RuntimeDirectoryMode=0755: the group reaches the socket
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
[ -n "$exec_start" ] || la_fail "no ExecStart= in $UNIT"
cmd=${exec_start//@SBINDIR@\/ikeagent/$IKA}
cmd=${cmd//%i/svc}
cmd=${cmd//\/etc\/ikeagent\//$WORK/etc/}
cmd=${cmd//\/run\/ikeagent\//$WORK/run/}
SOCK=$WORK/run/svc.sock
case $cmd in
"$IKA run -c $WORK/etc/svc.conf --socket $SOCK") ;;
*) la_fail "unexpected ExecStart in the unit: $exec_start" ;;
esac
la_conf "$WORK/etc/svc.conf" tunnel.reconnect=yes agent.socket=- agent.state_dir="$WORK/run" \
	agent.user=nobody agent.socket_group=nogroup
LA_SOCK=$SOCK

# ---- systemd's side -------------------------------------------------------------
NLOG=$WORK/notify.log
"$PY" "$LA_ROOT/tests/net/notify_listener.py" "$WORK/notify" "$NLOG" &
NOTIFY_PID=$!
tb_wait_for "grep -q LISTENING '$NLOG' 2>/dev/null" 5 || la_fail "notify listener did not start"
notes() { cut -d' ' -f2- "$NLOG"; }
n_notes() { notes | grep -c -- "$1"; }

# The gateway's answers dropped in ika-cli until step 1 lets them through.
block() { ip netns exec "$TB_NS_CLI" nft -f - <<-EOF
	table inet svcblock {
		chain in { type filter hook input priority 0; ip saddr $TB_GW_ADDR drop; }
	}
	EOF
}
block || la_fail "nft: cannot block the gateway"

AGENT_N=1
AGENT_LOG=$WORK/agent.log
: >"$AGENT_LOG"
JS=$(stat -c '%d:%i' "$AGENT_LOG")
LA_START_MS=$(la_now_ms)
# WATCHDOG_PID names the process systemd started: the shell execs into it.
start_unit() {
	# shellcheck disable=SC2086 # the unit's command line, split as systemd does
	exec ip netns exec "$TB_NS_CLI" env NOTIFY_SOCKET="$WORK/notify" WATCHDOG_USEC=$WD_USEC \
		JOURNAL_STREAM="$JS" INVOCATION_ID=0123456789abcdef0123456789abcdef \
		sh -c 'WATCHDOG_PID=$$ exec "$@"' sh $cmd
}
# Not holding the testbed lock: a stray agent must not block the next run.
if [ -n "${TB_LOCK_FD:-}" ]; then
	start_unit >"$WORK/stdout.log" 2>>"$AGENT_LOG" </dev/null {TB_LOCK_FD}>&- &
else
	start_unit >"$WORK/stdout.log" 2>>"$AGENT_LOG" </dev/null &
fi
AGENT_PID=$!

# ---- 1. READY=1 only once traffic flows -----------------------------------------
la_log_wait 'no answer to IKE_SA_INIT #0, retransmitting' 10 ||
	la_fail "ready: the agent did not retransmit while the gateway's answers were dropped"
[ "$(n_notes 'STATUS=connecting: trying udp')" -ge 1 ] ||
	la_fail "ready: no STATUS=connecting: trying udp while connecting: $(notes | tr '\n' ' ')"
[ "$(n_notes 'READY=1')" = 0 ] || la_fail "ready: READY=1 before the gateway ever answered"
ip netns exec "$TB_NS_CLI" nft delete table inet svcblock || la_fail "nft: cannot unblock"
tb_wait_for "[ \$(n_notes READY=1) -ge 1 ] || ! la_alive" "$(la_dl 20)" ||
	la_fail "ready: no READY=1 within $(la_dl 20) s of the gateway answering"
la_alive || la_fail "ready: the agent exited"
tb_ping_inside || la_fail "ready: the first ping after READY=1 did not go through"
READY_MS=$(grep -m1 'READY=1' "$NLOG" | cut -d' ' -f1)
tb_wait_for "[ \$(n_notes 'STATUS=established: up over udp') -ge 1 ]" "$(la_dl 5)" ||
	la_fail "ready: no STATUS= naming the transport: $(notes | tr '\n' ' ')"

# ---- 2. least privilege ---------------------------------------------------------------
status_field() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$2/status" | tr '\t' ' '; }
check_privileges() {
	local uid gid eff prm bnd nnp helper
	uid=$(status_field Uid "$AGENT_PID")
	gid=$(status_field Gid "$AGENT_PID")
	eff=$(status_field CapEff "$AGENT_PID")
	prm=$(status_field CapPrm "$AGENT_PID")
	bnd=$(status_field CapBnd "$AGENT_PID")
	nnp=$(status_field NoNewPrivs "$AGENT_PID")
	[ "$uid" = "$NOBODY $NOBODY $NOBODY $NOBODY" ] || la_fail "$1: Uid: $uid (want nobody everywhere)"
	[ "$gid" = "$NOGROUP $NOGROUP $NOGROUP $NOGROUP" ] || la_fail "$1: Gid: $gid"
	[ "$eff" = 0000000000001000 ] || la_fail "$1: CapEff $eff (want CAP_NET_ADMIN only)"
	[ "$prm" = 0000000000001000 ] || la_fail "$1: CapPrm $prm (want CAP_NET_ADMIN only)"
	[ "$bnd" = 0000000000000000 ] || la_fail "$1: CapBnd $bnd (want empty)"
	[ "$nnp" = 1 ] || la_fail "$1: NoNewPrivs $nnp"
	helper=$(pgrep -P "$AGENT_PID")
	[ "$(echo "$helper" | wc -w)" = 1 ] || la_fail "$1: want one helper process, have: $helper"
	[ "$(status_field Uid "$helper" | cut -d' ' -f2)" = 0 ] || la_fail "$1: the helper is not root"
	HELPER=$helper
}
check_privileges privileges
grep -q "agent: running as nobody (uid $NOBODY) with CAP_NET_ADMIN only" "$AGENT_LOG" ||
	la_fail "privileges: the log does not say what the agent runs as"

# ---- 3. the control socket ---------------------------------------------------------
[ "$(stat -c '%a %g' "$SOCK")" = "660 $NOGROUP" ] ||
	la_fail "control socket: $(stat -c '%a %G' "$SOCK") (want 660 nogroup)"
as_member() { setpriv --reuid="$OTHER" --regid="$NOGROUP" --clear-groups "$@"; }
as_other() { setpriv --reuid="$OTHER" --regid="$OTHER" --clear-groups "$@"; }
out=$(as_member "$IKA" status --socket "$SOCK" 2>&1) || la_fail "control socket: status as a member of nogroup failed: $out"
echo "$out" | grep -q 'established' || la_fail "control socket: status as a member: $out"
out=$(as_other "$IKA" status --socket "$SOCK" 2>&1) && la_fail "control socket: uid $OTHER got the status: $out"
[ "$out" = "ikeagent: permission denied on $SOCK (only root and the agent's socket_group may use it)" ] ||
	la_fail "control socket: uid $OTHER was told: $out"
chmod 666 "$SOCK"	# past the file mode: the agent itself must refuse
out=$(as_other "$IKA" status --socket "$SOCK" 2>&1) && la_fail "control socket: mode 666, uid $OTHER got the status: $out"
[ "$out" = "ikeagent: permission denied: uid $OTHER is not root and not in group $NOGROUP" ] ||
	la_fail "control socket: mode 666, uid $OTHER was told: $out"
out=$(as_other "$IKA" down --socket "$SOCK" 2>&1) && la_fail "control socket: uid $OTHER could take the tunnel down"
la_alive && [ "$(la_state)" = established ] || la_fail "control socket: the agent went down on a refused request"
grep -q "ctl: request from uid $OTHER .* refused" "$AGENT_LOG" || la_fail "control socket: refusal not logged"
chmod 660 "$SOCK"

# ---- 4. rekeys and a reconnect, unprivileged -----------------------------------------
js0=$(la_status_json)
tb_gw_swanctl --rekey --child net >/dev/null 2>&1 || la_fail "swanctl --rekey --child failed"
tb_gw_swanctl --rekey --ike rw >/dev/null 2>&1 || la_fail "swanctl --rekey --ike failed"
tb_wait_for '[ "$(la_json_num rekeys)" -ge $(( $(la_json_num rekeys "$js0") + 1 )) ] && [ "$(la_json_str ike_spi)" != "$(la_json_str ike_spi "$js0")" ]' "$(la_dl 15)" ||
	la_fail "rekey: status did not show the rekeys: $(la_status_json)"
la_ping_inside || la_fail "rekey: no ping after the gateway's rekeys"
tb_gw_swanctl --terminate --ike rw --timeout 5 >/dev/null 2>&1 || la_fail "swanctl --terminate failed"
tb_wait_for '[ "$(la_json_num reconnects)" -ge 1 ] && [ "$(la_state)" = established ]' "$(la_dl 20)" ||
	la_fail "reconnect: not established again: $(la_status_json)"
[ "$(n_notes 'STATUS=reconnecting:')" -ge 1 ] || la_fail "reconnect: no STATUS=reconnecting: $(notes | tr '\n' ' ')"
la_ping_inside || la_fail "reconnect: no ping after reconnecting"
check_privileges reconnect
[ "$(n_notes 'READY=1')" = 1 ] || la_fail "reconnect: READY=1 sent $(n_notes 'READY=1') times"

# ---- 5. journal-style logs, watchdog ---------------------------------------------------
bad=$(grep -v -c -E '^<[0-7]>' "$AGENT_LOG")
[ "$bad" = 0 ] || la_fail "logs: $bad line(s) without a <priority> prefix: $(grep -v -m2 -E '^<[0-7]>' "$AGENT_LOG")"
grep -q -E '^<[0-7]>[0-9]{2}:[0-9]{2}:[0-9]{2}' "$AGENT_LOG" && la_fail "logs: a line with a time stamp of its own"
grep -q '^<6>tunnel up' "$AGENT_LOG" || la_fail "logs: no '<6>tunnel up' line"
n_wd=$(n_notes 'WATCHDOG=1')
[ "$n_wd" -ge 3 ] || la_fail "watchdog: only $n_wd WATCHDOG=1"
gap=$(awk '$2 == "WATCHDOG=1" { if (last) { g = $1 - last; if (g > max) max = g } last = $1 } END { print max + 0 }' "$NLOG")
[ "$gap" -lt $((WD_USEC / 1000)) ] || la_fail "watchdog: a gap of $gap ms (WATCHDOG_USEC is $((WD_USEC / 1000)) ms)"

# ---- 6. systemd's stop: SIGTERM to the whole group ----------------------------------------
kill -TERM "$AGENT_PID" "$HELPER"
la_wait_exit "stop" 15
[ "$AGENT_RC" = 0 ] || la_fail "stop: exit $AGENT_RC after SIGTERM"
[ "$(n_notes 'STOPPING=1')" -ge 1 ] || la_fail "stop: no STOPPING=1"
la_expect_restored "stop"
tb_wait_for "! kill -0 $HELPER 2>/dev/null" 5 || la_fail "stop: the helper $HELPER is still running"
[ ! -s "$WORK/run/ika0.state" ] || la_fail "stop: the journal still lists changes: $(cat "$WORK/run/ika0.state")"

la_pass "READY=1 at $READY_MS ms after the listener, only after the gateway answered; nobody with CAP_NET_ADMIN only; socket refused uid $OTHER twice; rekeys and a reconnect unprivileged; $n_wd watchdog pings, max gap $gap ms"
