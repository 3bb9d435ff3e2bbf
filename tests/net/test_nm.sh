#!/usr/bin/env bash
# The ikeagent NetworkManager plugin (build/nm-ikeagent-service, VPN type
# "ikeagent") driven by a real NetworkManager (tests/net/lib_nm.sh) against
# the testbed's strongSwan gateway, with ikerelay in front for TCP:
#   a. psk: `nmcli connection up` succeeds; NM shows the VPN activated;
#      ikeagent runs with --network report; the virtual IP (10.99.100.x) on
#      a tun device, 10.99.1.0/24 routed into it, the gateway's DNS
#      (10.99.1.53) in NM's private resolv.conf; ping 10.99.1.2 and a 1 MiB
#      transfer checked by SHA-256
#   f. the gateway deletes the IKE SA: the same ikeagent reconnects, NM keeps
#      the connection (no VPN state change logged, still activated), ping
#      works again within a deadline
#   e. `nmcli connection down`: ikeagent gone, the gateway's SA deleted, the
#      client namespace exactly as before the VPN (links, addresses, routes,
#      rules), the DNS gone from resolv.conf
#   d. wrong PSK: `up` fails, NM's log names the plugin's failure as
#      login-failed, nothing left behind
#   c. UDP blocked: `up` succeeds over TCP (transport-order "udp tcp",
#      tcp-port 4500 of ikerelay); NM's log (the plugin's lines) says tcp
#   b. certificate gateway (rsa, the testbed CA as ca=) and EAP-MSCHAPv2 with
#      the password from `nmcli ... passwd-file` (password-flags=2)
#   g. NetworkManager SIGKILLed: the plugin and ikeagent exit within a
#      deadline and the tun device is gone
# Every failure names its case. The pass line has the figures; an nmcli
# transcript of one connection (add, up, show, down) is printed before it.
# Exit 0 pass, 77 skip (not root, no netns/strongSwan/NetworkManager, or no
# build/nm-ikeagent-service yet), 1 fail.
# Usage: sh tests/net/test_nm.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_nm
TB_PREFIX=${TB_PREFIX:-iknm}
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
# shellcheck source=tests/net/lib_transport.sh
. "$(dirname "$0")/lib_transport.sh"
# shellcheck source=tests/net/lib_nm.sh
. "$(dirname "$0")/lib_nm.sh"
la_init "${1:-build}"
nm_init
[ -x "$NM_SERVICE" ] || la_skip "no $LA_BUILD/nm-ikeagent-service (the NetworkManager plugin is not built)"
# From here on the plugin exists: whatever is missing is a failure.
for f in nm/nm-ikeagent-service.name.in nm/nm-ikeagent-service.conf; do
	[ -f "$LA_ROOT/$f" ] || la_fail "setup: $f missing (NetworkManager needs it to start the plugin)"
done
lt_skip_missing

IKA_REAL=$(readlink -f "$IKA")
SVC_REAL=$(readlink -f "$NM_SERVICE")
REMOTE_TS=$TB_INSIDE_NET

# ---- helpers ----------------------------------------------------------------------

# pids_of EXE: processes in the client namespace running EXE.
pids_of() {
	local p
	for p in $(ip netns pids "$TB_NS_CLI" 2>/dev/null); do
		# Started in NetworkManager's mount namespace: under a chroot
		# (scripts/fresh-root) the link reads as the host's path, ending in ours.
		case $(readlink "/proc/$p/exe" 2>/dev/null) in *"$1") echo "$p" ;; esac
	done
}
agent_pids() { pids_of "$IKA_REAL"; }
plugin_pids() { pids_of "$SVC_REAL"; }
# agent_arg PID OPTION: the value after OPTION on that process's command line.
agent_arg() { tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | sed -n "/^$2\$/{n;p;q}"; }
# Its socket is under NetworkManager's private /run: asked from the agent's mount namespace
# and root (-r: under a chroot, entering the namespace alone lands at the host's root).
agent_status() {
	nsenter -t "$1" -m -r "$IKA" status --json --socket "$(agent_arg "$1" --socket)" 2>/dev/null
}

# add NAME VPN_DATA [SECRETS]: an ikeagent VPN connection.
add() {
	local -a sec=()
	[ -n "${3:-}" ] && sec=(vpn.secrets "$3")
	nm_cli connection add type vpn vpn-type ikeagent con-name "$1" autoconnect no \
		vpn.data "$2" "${sec[@]}" >"$WORK/add-$1.out" 2>&1 ||
		nm_fail "$1: nmcli connection add failed: $(tr '\n' ' ' <"$WORK/add-$1.out")"
}

# up WHAT NAME [nmcli args...]: `nmcli --wait 30 connection up NAME ...`
# succeeds and NM shows an activated VPN; UP_MS, TUN, VIP, AGENT.
up() {
	local what=$1 name=$2 t0
	shift 2
	t0=$(la_now_ms)
	nm_cli --wait "$(la_dl 30)" connection up "$name" "$@" >"$WORK/up-$name.out" 2>&1 ||
		nm_fail "$what: nmcli connection up $name failed: $(tr '\n' ' ' <"$WORK/up-$name.out")"
	UP_MS=$(( $(la_now_ms) - t0 ))
	nm_vpn_activated "$name" ||
		nm_fail "$what: NM does not show an activated VPN: $(nm_cli -g GENERAL.VPN,GENERAL.STATE connection show "$name" | tr '\n' ' ')"
	VIP=$(nm_cli -g IP4.ADDRESS connection show "$name" | head -n 1)
	VIP=${VIP%%/*}
	case $VIP in 10.99.100.*) ;; *) nm_fail "$what: IP4.ADDRESS is not from the pool 10.99.100.0/24: '$VIP'" ;; esac
	TUN=$(ip -n "$TB_NS_CLI" -o -4 addr show to "$VIP/32" | awk '{ print $2; exit }')
	[ -n "$TUN" ] || nm_fail "$what: $VIP is on no interface in $TB_NS_CLI"
	ip -n "$TB_NS_CLI" -d link show dev "$TUN" | grep -q -w tun ||
		nm_fail "$what: $VIP is on $TUN, not a tun device"
	ip -n "$TB_NS_CLI" -o route get "$TB_IN_ADDR" | grep -q " dev $TUN " ||
		nm_fail "$what: $TB_IN_ADDR is not routed into $TUN: $(ip -n "$TB_NS_CLI" -o route get "$TB_IN_ADDR")"
	AGENT=$(agent_pids)
	[ "$(echo "$AGENT" | grep -c .)" = 1 ] || nm_fail "$what: want one ikeagent in $TB_NS_CLI, found: '$AGENT'"
}

# restored WHAT: no ikeagent, and the client namespace as before the VPN.
restored() {
	tb_wait_for "[ -z \"\$(agent_pids)\" ]" "$(la_dl 10)" ||
		nm_fail "$1: ikeagent still running ($(agent_pids | tr '\n' ' '))"
	if ! tb_wait_for "la_snapshot | diff -q '$WORK/net.before' - >/dev/null" "$(la_dl 10)"; then
		la_snapshot >"$WORK/net.after"
		diff -u "$WORK/net.before" "$WORK/net.after" >"$WORK/net.diff"
		nm_fail "$1: left behind in $TB_NS_CLI: $(grep '^[-+][^-+]' "$WORK/net.diff" | tr '\n' ' ')"
	fi
}

ping_ok() { tb_wait_for "tb_ping_inside" "$(la_dl "$2")" || nm_fail "$1: no ping to $TB_IN_ADDR through the VPN"; }
log_mark() { wc -l <"$(nm_log)"; }
log_since() { tail -n "+$(( $1 + 1 ))" "$(nm_log)"; }

# ---- setup ----------------------------------------------------------------------------

lt_up
la_blob 1
nm_up
la_snapshot >"$WORK/net.before"
echo "$LA_NAME: NetworkManager up, base connection activated in $NM_UP_MS ms"
BASE="gateway=$TB_GW_ADDR, gateway-id=$TB_GW_ID, remote-ts=$REMOTE_TS"
T=$WORK/transcript

# ---- a. PSK ---------------------------------------------------------------------------

add work "$BASE, method=psk, local-id=$TB_CLI_ID" "psk=$TB_PSK"
up "psk up" work
{
	echo "\$ nmcli connection add type vpn vpn-type ikeagent con-name work vpn.data \"$BASE, method=psk, local-id=$TB_CLI_ID\" vpn.secrets \"psk=...\""
	cat "$WORK/add-work.out"
	echo "\$ nmcli --wait 30 connection up work"
	cat "$WORK/up-work.out"
	echo "\$ nmcli -f GENERAL.STATE,GENERAL.VPN,IP4.ADDRESS,IP4.ROUTE,IP4.DNS connection show work"
	nm_cli -f GENERAL.STATE,GENERAL.VPN,IP4.ADDRESS,IP4.ROUTE,IP4.DNS connection show work 2>&1
	echo "\$ ip -n $TB_NS_CLI -4 addr show dev $TUN; ip -n $TB_NS_CLI route show dev $TUN"
	ip -n "$TB_NS_CLI" -4 addr show dev "$TUN"
	ip -n "$TB_NS_CLI" route show dev "$TUN"
} >"$T"
t_up_psk=$UP_MS
agent_cmd=$(tr '\0' ' ' <"/proc/$AGENT/cmdline")
[ "$(agent_arg "$AGENT" --network)" = report ] || nm_fail "psk up: ikeagent runs without --network report: $agent_cmd"
nm_resolv | grep -q '^nameserver 10\.99\.1\.53$' ||
	nm_fail "psk up: NM's resolv.conf lacks the gateway's DNS 10.99.1.53: $(nm_resolv | tr '\n' ' ')"
ping_ok "psk up" 5
got=$(la_fetch_sha "$LA_BLOB_URL")
[ "$got" = "$LA_BLOB_SHA" ] || nm_fail "psk up: 1 MiB through the VPN: sha256 ${got:-none} != $LA_BLOB_SHA"
la_gw_one_sa 5 || nm_fail "psk up: the gateway does not list one IKE SA with one Child SA"

# ---- f. the gateway deletes the SA: reconnect under NM ---------------------------------

mark=$(log_mark)
t0=$(la_now_ms)
tb_gw_swanctl --terminate --ike rw >"$WORK/terminate.out" 2>&1 ||
	nm_fail "gateway delete: swanctl --terminate failed: $(tail -n 2 "$WORK/terminate.out" | tr '\n' ' ')"
# The SA is gone on the gateway first, then back (a new IKE SA).
tb_wait_for "la_gw_sas | grep -q ESTABLISHED && tb_ping_inside" "$(la_dl 30)" ||
	nm_fail "gateway delete: no new SA and ping within $(la_dl 30) s (agent: $(agent_pids | tr '\n' ' '))"
t_reconnect=$(( $(la_now_ms) - t0 ))
[ "$(agent_pids)" = "$AGENT" ] || nm_fail "gateway delete: ikeagent was replaced ($AGENT -> $(agent_pids | tr '\n' ' ')): not a reconnect"
nm_vpn_activated work || nm_fail "gateway delete: NM no longer shows work activated"
if log_since "$mark" | grep -E '"work".*set state: ' >"$WORK/f-states"; then
	nm_fail "gateway delete: NM changed the VPN's state: $(tr '\n' ' ' <"$WORK/f-states")"
fi
ping_ok "gateway delete" 5

# ---- e. down ----------------------------------------------------------------------------

{
	echo "\$ nmcli connection down work"
	nm_cli connection down work 2>&1 || echo "(exit $?)"
} >>"$T"
grep -q 'successfully deactivated' "$T" || nm_fail "down: nmcli connection down failed: $(tail -n 2 "$T" | tr '\n' ' ')"
t0=$(la_now_ms)
restored "down"
t_down=$(( $(la_now_ms) - t0 ))
tb_wait_for "! la_gw_sas | grep -q ESTABLISHED" "$(la_dl 5)" || nm_fail "down: the gateway kept the IKE SA (no DELETE from ikeagent)"
nm_resolv | grep -q '10\.99\.1\.53' && nm_fail "down: NM's resolv.conf still has 10.99.1.53"
[ -z "$(nm_con_state work)" ] || nm_fail "down: work is still '$(nm_con_state work)'"
grep -q -F -- "$TB_PSK" "$(nm_log)" && nm_fail "down: the PSK is in NM's log (the plugin's or ikeagent's lines)"

# ---- d. wrong PSK ---------------------------------------------------------------------

add bad "$BASE, method=psk, local-id=$TB_CLI_ID" "psk=not-the-$TB_PSK"
mark=$(log_mark)
nm_cli --wait "$(la_dl 30)" connection up bad >"$WORK/up-bad.out" 2>&1 &&
	nm_fail "wrong psk: nmcli connection up succeeded"
bad_msg=$(grep -m1 '^Error' "$WORK/up-bad.out")
# NM 1.42 logs the plugin's Failure signal as "vpn[...]: dbus: failure:
# login-failed (0)" (NM_VPN_PLUGIN_FAILURE_LOGIN_FAILED).
log_since "$mark" | grep -q -E '"bad".*dbus: failure: login-failed' ||
	nm_fail "wrong psk: NM's log names no login-failed (nmcli: $bad_msg; NM: $(log_since "$mark" | grep -E '"bad".*(failure|failed)' | tail -n 3 | tr '\n' ' '))"
bad_line=$(log_since "$mark" | grep -m1 -E '"bad".*dbus: failure: login-failed' | sed 's/^.*\]: //')
restored "wrong psk"

# ---- c. UDP blocked: TCP through ikerelay ------------------------------------------------

lt_block udp
add work-tcp "$BASE, method=psk, local-id=$TB_CLI_ID, transport-order=udp tcp, tcp-port=4500" "psk=$TB_PSK"
mark=$(log_mark)
up "udp blocked" work-tcp
t_up_tcp=$UP_MS
js=$(agent_status "$AGENT")
[ "$(la_json_str transport "$js")" = tcp ] || nm_fail "udp blocked: ikeagent's status says transport '$(la_json_str transport "$js")': $js"
tcp_line=$(log_since "$mark" | grep -i -m1 -E '\btcp\b')
[ -n "$tcp_line" ] || nm_fail "udp blocked: nothing in NM's log (the plugin's lines) says tcp"
ping_ok "udp blocked" 5
nm_cli connection down work-tcp >/dev/null 2>&1 || nm_fail "udp blocked: nmcli connection down failed"
restored "udp blocked"
lt_unblock

# ---- b. certificate gateway, EAP password from passwd-file -------------------------------

la_gw_restart rsa,eap
printf 'vpn.secrets.password:%s\n' "$TB_EAP_PASS" >"$WORK/passwd"
chmod 600 "$WORK/passwd"
add work-eap "$BASE, method=eap, user=$TB_EAP_USER, ca=$TB_DIR/pki/ca-rsa.pem, password-flags=2"
up "eap" work-eap passwd-file "$WORK/passwd"
t_up_eap=$UP_MS
ping_ok "eap" 5
nm_cli connection down work-eap >/dev/null 2>&1 || nm_fail "eap: nmcli connection down failed"
restored "eap"
grep -q -F -- "$TB_EAP_PASS" "$(nm_log)" && nm_fail "eap: the EAP password is in NM's log"

# ---- g. NetworkManager killed -------------------------------------------------------------

la_gw_restart psk
up "nm killed" work
plugin=$(plugin_pids)
[ -n "$plugin" ] || nm_fail "nm killed: no nm-ikeagent-service process in $TB_NS_CLI"
tun_g=$TUN
t0=$(la_now_ms)
nm_kill KILL
tb_wait_for "[ -z \"\$(plugin_pids)\$(agent_pids)\" ]" "$(la_dl 15)" ||
	nm_fail "nm killed: still running after $(la_dl 15) s: plugin '$(plugin_pids | tr '\n' ' ')', ikeagent '$(agent_pids | tr '\n' ' ')'"
t_orphan=$(( $(la_now_ms) - t0 ))
tb_wait_for "! ip -n $TB_NS_CLI link show dev $tun_g >/dev/null 2>&1" "$(la_dl 5)" ||
	nm_fail "nm killed: $tun_g is still there"
wait "$NM_PID" 2>/dev/null
NM_PID=""
nm_down

echo "$LA_NAME: ikeagent run by the plugin as: $agent_cmd"
echo "$LA_NAME: wrong psk: nmcli said: $bad_msg; NM logged: $bad_line"
echo "$LA_NAME: udp blocked: NM's log: ${tcp_line#*\]: }"
echo "$LA_NAME: nmcli transcript:"
sed 's/^/    /' "$T"
la_pass "up: psk $t_up_psk ms, tcp $t_up_tcp ms, eap $t_up_eap ms; reconnect after the gateway's delete $t_reconnect ms; restored after down $t_down ms; plugin and agent gone $t_orphan ms after NM's SIGKILL"
