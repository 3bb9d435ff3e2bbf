#!/usr/bin/env bash
# shellcheck disable=SC2016 # tb_wait_for conditions are evaluated later
# ikeagent logs in with EAP ([auth] method = eap) at the real strongSwan
# gateway of scripts/testbed.sh, which authenticates with its RSA/ECDSA
# certificate (variants rsa,eap and rsa|ecdsa,eaptls):
#   a. EAP-MSCHAPv2, password in agent.conf: up, ping, 50 MiB checked by
#      SHA-256, the gateway's EAP success, `ikeagent down`: exit 0, nothing
#      left (status naming MSCHAPv2 is reported when there, not required)
#   b. wrong password (reconnect = yes): `ikeagent run` exits 3 within 10 s
#      with "auth: gateway rejected the password for user 'testuser' (EAP
#      failure)"; the gateway verified one password only, and saw one
#      IKE_SA_INIT (no retry loop)
#   c. password_file (mode 0600): up
#   d. no password configured: on a terminal (script(1)) ikeagent asks with
#      echo off, the password typed comes up and never appears in what the
#      terminal showed; without a terminal (setsid, stdin /dev/null) it
#      exits 2 at once with one line about the terminal/password
#   e. EAP-TLS: RSA client certificate (RSA gateway) and ECDSA client
#      certificate (ECDSA gateway): up, 50 MiB by SHA-256, down
#   f. the gateway's certificate does not chain to [auth] ca (the other
#      testbed CA): exits non-zero with a line about the certificate; the
#      gateway got neither our EAP identity nor an MSCHAPv2 response (the
#      password): it parsed IKE_AUTH request 1 only
#   g. the gateway rekeys the IKE SA every 6 s after an EAP login: at least
#      one IKE rekey, the SPI changes, ping works, and the gateway saw one
#      IKE_AUTH/EAP round only (no re-authentication)
#   h. no password configured, `run --password-from control`: the agent
#      waits (the gateway sees nothing) until `ikeagent password` gives it
#      on the control socket (from stdin), then comes up; a second
#      `ikeagent password` is refused; the password is in no log
# Run in the order a b c d f g h e (the gateway restarts once per variant).
# LA_EAP_TLS13=1 adds case e with TLS 1.3 only (TB_TLS_MIN=TB_TLS_MAX=1.3).
# strongSwan 5.9.8 predates RFC 9190: its TLS 1.3 MSK is the exporter with
# label "client EAP encryption" and no context, and it sends no protected
# success indication (see "EAP-TLS" in scripts/testbed.sh).
#
# Gateway log lines relied on (strongSwan 5.9.8, checked with its own
# client): "received EAP identity 'testuser'", "parsed IKE_AUTH request N
# [ EAP/RES/MSCHAPV2 ]", "EAP method EAP_MSCHAPV2 succeeded, MSK
# established", "EAP-MS-CHAPv2 verification failed, retry (1)" (sent
# after a 2 s delay), "EAP method EAP_TLS succeeded, MSK established",
# "IKE_SA rw[N] rekeyed between ...".
#
# `ikeagent check` refusing `method = eap` is a failure (it once was a
# skip, from before EAP existed). Exit 0 pass, 77 skip (only: not root,
# no netns, no strongSwan, no pki, no script(1), no build), 1 fail naming
# the case. Usage: sh tests/net/test_tunnel_eap.sh [BUILD]
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_tunnel_eap
TB_PREFIX=${TB_PREFIX:-ikeap}
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
la_init "${1:-build}"
command -v pki >/dev/null 2>&1 || la_skip "no pki(1) (strongswan-pki)"
command -v openssl >/dev/null 2>&1 || la_skip "no openssl(1)"
command -v script >/dev/null 2>&1 || la_skip "no script(1) (bsdutils)"
command -v setsid >/dev/null 2>&1 || la_skip "no setsid(1) (util-linux)"
BLOB_MIB=50

# ---- does this build know EAP? ------------------------------------------------
# Asked with a throwaway CA before the (slow) testbed PKI is made: a refusal
# fails at once, as a refusal of a case's configuration later does.
probe=$(mktemp -d /tmp/ikeagent-net-probe.XXXXXX) || la_fail "mktemp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=probe \
	-days 1 -keyout "$probe/ca.key" -out "$probe/ca.pem" >/dev/null 2>&1 ||
	la_fail "openssl cannot make a probe CA"
WORK=$probe la_conf "$probe/probe.conf" auth.psk=- auth.method=eap auth.eap=mschapv2 \
	auth.user="$TB_EAP_USER" auth.password="\"$TB_EAP_PASS\"" auth.ca="$probe/ca.pem"
if ! "$IKA" check -c "$probe/probe.conf" >"$probe/check.out" 2>&1; then
	why=$(tr '\n' ' ' <"$probe/check.out")
	rm -rf "$probe"
	la_fail "ikeagent check refuses [auth] method = eap (mschapv2, with ca): $why"
fi
rm -rf "$probe"

# ---- helpers ----------------------------------------------------------------------

# gw_mark: remember where the gateway log ends; gw_since: what came after.
gw_mark() { GW_MARK=$(wc -l <"$TB_DIR/gw/charon.log"); }
gw_since() { tail -n +"$((GW_MARK + 1))" "$TB_DIR/gw/charon.log"; }
# gw_count ERE: lines matching since gw_mark.
gw_count() { gw_since | grep -c -E "$1"; }

# conf_eap FILE KEY=VALUE...: agent.conf for EAP (no PSK) with the CA of the
# gateway variant $GW_CA ([auth] ca) and the given keys.
conf_eap() {
	local f=$1
	shift
	la_conf "$f" auth.psk=- auth.method=eap auth.ca="$TB_DIR/pki/ca-$GW_CA.pem" "$@"
	"$IKA" check -c "$f" >"$f.check" 2>&1 ||
		la_fail "$CASE: ikeagent check refused $f: $(head -n 1 "$f.check")"
}

# conf_mschap FILE [KEY=VALUE...]: EAP-MSCHAPv2 as testuser, more keys given.
conf_mschap() {
	local f=$1
	shift
	conf_eap "$f" auth.eap=mschapv2 auth.user="$TB_EAP_USER" "$@"
}

# up_transfer: ping, the 50 MiB blob by SHA-256; XFER_MS.
up_transfer() {
	local t got
	la_ping_inside || la_fail "$CASE: ping $TB_IN_ADDR through the tunnel"
	t=$(la_now_ms)
	got=$(la_fetch_sha "$LA_BLOB_URL")
	XFER_MS=$(( $(la_now_ms) - t ))
	[ "$got" = "$LA_BLOB_SHA" ] ||
		la_fail "$CASE: $BLOB_MIB MiB through the tunnel: sha256 ${got:-none} != $LA_BLOB_SHA"
}

# gw_eap_ok METHOD: the gateway ran METHOD (EAP_MSCHAPV2 | EAP_TLS) once,
# successfully, since gw_mark.
gw_eap_ok() {
	[ "$(gw_count "EAP method $1 succeeded, MSK established")" = 1 ] ||
		la_fail "$CASE: the gateway did not log one '$1 succeeded': $(gw_since | grep -m2 -E 'EAP|TLS\]' | tr '\n' ' ')"
	gw_since | grep -q "authentication of '$TB_CLI_ID' with EAP successful" ||
		la_fail "$CASE: the gateway did not accept our AUTH after EAP"
}

# no_password_sent: since gw_mark the gateway got no EAP identity and no
# MSCHAPv2 response from us: it parsed IKE_AUTH request 1 only.
no_password_sent() {
	local n
	n=$(gw_count 'parsed IKE_AUTH request 1 ')
	[ "$n" -ge 1 ] || la_fail "$CASE: the gateway never got our IKE_AUTH (nothing was tested): $(gw_since | grep -m3 -E 'ENC\]' | tr '\n' ' ')"
	gw_since | grep -q -E 'EAP/RES/MSCHAPV2' &&
		la_fail "$CASE: an EAP-MSCHAPv2 response (the password) went to a gateway whose certificate did not verify"
	gw_since | grep -q -E "received EAP identity|EAP/RES/ID" &&
		la_fail "$CASE: our EAP identity went to a gateway whose certificate did not verify: $(gw_since | grep -m1 'received EAP identity')"
	gw_since | grep -q -E 'parsed IKE_AUTH request [2-9]' &&
		la_fail "$CASE: IKE_AUTH went on after the gateway's certificate failed: $(gw_since | grep -m1 -E 'parsed IKE_AUTH request [2-9]')"
	return 0
}

# start_tty CONF: `ikeagent run -c CONF` on a terminal (script(1) in
# ika-cli), what the terminal shows in AGENT_LOG; we type into the fifo fd
# TTY_FD. AGENT_PID is script's (it exits with ikeagent's status).
start_tty() {
	AGENT_N=$((AGENT_N + 1))
	AGENT_LOG=$WORK/tty-$AGENT_N.out
	rm -f "$WORK/tty.in"
	mkfifo "$WORK/tty.in" || la_fail "$CASE: mkfifo"
	# Read-write: opening does not block, and script never sees EOF.
	exec {TTY_FD}<>"$WORK/tty.in"
	LA_START_MS=$(la_now_ms)
	# stdin is no terminal: script's --echo auto leaves ECHO on at first,
	# so ikeagent must switch it off itself.
	ip netns exec "$TB_NS_CLI" script -qfec "$IKA run -c $1" /dev/null \
		<"$WORK/tty.in" >"$AGENT_LOG" 2>&1 {TB_LOCK_FD}>&- &
	AGENT_PID=$!
}

# agent_pts: the terminal ikeagent reads (its stdin) once it runs.
agent_pts() {
	local p
	for p in $(ip netns pids "$TB_NS_CLI" 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = ikeagent ] || continue
		# Opened inside `ip netns exec` (another mount namespace): under a
		# chroot (scripts/fresh-root) the link reads as the host's path of
		# the chroot's /dev/pts/N, so only its end counts.
		readlink "/proc/$p/fd/0" 2>/dev/null | grep -o -E '/dev/pts/[0-9]+$' && return 0
	done
	return 1
}
# pts_noecho PTS: ECHO is off on that terminal (called through tb_wait_for).
# shellcheck disable=SC2317
pts_noecho() { stty -a -F "$1" 2>/dev/null | grep -q -E '(^| )-echo( |$)'; }

la_up rsa,eap
GW_CA=rsa
la_blob "$BLOB_MIB"
for f in ca-rsa.pem ca-ecdsa.pem client-rsa.pem client-rsa.key client-ecdsa.pem client-ecdsa.key; do
	[ -s "$TB_DIR/pki/$f" ] || la_fail "testbed PKI: no $TB_DIR/pki/$f"
done
figures=""

# ---- a. MSCHAPv2, password in agent.conf ----------------------------------------------

CASE="a (mschapv2, password in agent.conf)"
gw_mark
conf_mschap "$WORK/a.conf" auth.password="\"$TB_EAP_PASS\""
la_start "$WORK/a.conf"
la_wait_up "$CASE"
up_a=$LA_UP_MS
gw_since | grep -q "received EAP identity '$TB_EAP_USER'" ||
	la_fail "$CASE: the gateway did not get EAP identity '$TB_EAP_USER': $(gw_since | grep -m1 'EAP identity')"
gw_eap_ok EAP_MSCHAPV2
la_gw_sas | grep -q "EAP: '$TB_EAP_USER'" || la_fail "$CASE: the gateway's SA does not name EAP identity $TB_EAP_USER"
up_transfer
figures="$figures a: up in $up_a ms, $BLOB_MIB MiB at $(la_mbps "$LA_BLOB_BYTES" "$XFER_MS") MB/s"
if la_status_json | grep -q -i 'mschap'; then
	figures="$figures (status names MSCHAPv2)"
fi
la_down "$CASE: down"

# ---- b. wrong password -------------------------------------------------------------------

CASE="b (wrong password)"
gw_mark
conf_mschap "$WORK/b.conf" auth.password="\"not-$TB_EAP_PASS\"" tunnel.reconnect=yes
t=$(la_now_ms)
la_start "$WORK/b.conf"
la_wait_exit "$CASE" 10
ms_b=$(( $(la_now_ms) - t ))
[ "$AGENT_RC" = 3 ] || la_fail "$CASE: ikeagent run exited $AGENT_RC, not 3"
grep -q -F "auth: gateway rejected the password for user '$TB_EAP_USER' (EAP failure)" "$AGENT_LOG" ||
	la_fail "$CASE: no line \"auth: gateway rejected the password for user '$TB_EAP_USER' (EAP failure)\""
[ "$(gw_count 'EAP-MS-CHAPv2 verification failed, retry \(1\)')" = 1 ] ||
	la_fail "$CASE: the gateway did not log one failed MSCHAPv2 verification: $(gw_since | grep -m3 -E 'MS-CHAPv2|EAP' | tr '\n' ' ')"
[ "$(gw_count 'EAP-MS-CHAPv2 verification failed, retry \([2-9]\)|maximum number of retries')" = 0 ] ||
	la_fail "$CASE: ikeagent sent the wrong password again after the gateway's failure"
n=$(gw_count 'parsed IKE_SA_INIT request 0 ')
[ "$n" = 1 ] || la_fail "$CASE: the gateway saw $n IKE_SA_INIT from us, not 1 (retry loop)"
la_expect_restored "$CASE"
figures="$figures; b: exit 3 in $ms_b ms"

# ---- c. password_file ----------------------------------------------------------------------

CASE="c (password_file)"
gw_mark
(umask 077 && printf '%s\n' "$TB_EAP_PASS" >"$WORK/eap.pass") || la_fail "$CASE: cannot write the password file"
conf_mschap "$WORK/c.conf" auth.password_file="$WORK/eap.pass"
la_start "$WORK/c.conf"
la_wait_up "$CASE"
figures="$figures; c: up in $LA_UP_MS ms"
gw_eap_ok EAP_MSCHAPV2
la_ping_inside || la_fail "$CASE: ping $TB_IN_ADDR through the tunnel"
la_down "$CASE: down"

# ---- d. the password typed on a terminal; none without one -------------------------

CASE="d (password on a terminal)"
gw_mark
conf_mschap "$WORK/d.conf"
start_tty "$WORK/d.conf"
tb_wait_for 'grep -q -i password "$AGENT_LOG" || ! la_alive' "$(la_dl 10)"
la_alive || { wait "$AGENT_PID"; la_fail "$CASE: ikeagent exited ($?) instead of asking for the password"; }
grep -q -i password "$AGENT_LOG" || la_fail "$CASE: no password prompt on the terminal within $(la_dl 10) s"
pts=$(agent_pts) || la_fail "$CASE: cannot find the terminal ikeagent reads"
# Typed before ECHO is off, the terminal would show it whatever ikeagent does.
tb_wait_for 'pts_noecho "$pts"' "$(la_dl 5)" ||
	la_fail "$CASE: ikeagent prompts with echo on ($pts: $(stty -a -F "$pts" 2>&1 | grep -o -m1 -E '(^| )-?echo( |$)'))"
printf '%s\n' "$TB_EAP_PASS" >&"$TTY_FD"
la_wait_up "$CASE"
figures="$figures; d: up in $LA_UP_MS ms after a prompt"
grep -q -F "$TB_EAP_PASS" "$AGENT_LOG" && la_fail "$CASE: the password appears on the terminal (echo): $AGENT_LOG"
gw_eap_ok EAP_MSCHAPV2
la_down "$CASE: down"
exec {TTY_FD}>&-
grep -q -F "$TB_EAP_PASS" "$AGENT_LOG" && la_fail "$CASE: the password appears on the terminal (echo): $AGENT_LOG"

CASE="d (no password, no terminal)"
gw_mark
t=$(la_now_ms)
timeout -s KILL "$(la_dl 10)" ip netns exec "$TB_NS_CLI" setsid -w "$IKA" run -c "$WORK/d.conf" \
	</dev/null >"$WORK/notty.out" 2>&1 {TB_LOCK_FD}>&-
rc=$?
ms_d=$(( $(la_now_ms) - t ))
AGENT_LOG=$WORK/notty.out
[ "$rc" != 137 ] || la_fail "$CASE: ikeagent still waiting after $(la_dl 10) s"
[ "$rc" = 2 ] || la_fail "$CASE: ikeagent run exited $rc, not 2"
la_check_sanitizer "$CASE"
n=$(grep -c . "$WORK/notty.out")
[ "$n" = 1 ] || la_fail "$CASE: $n lines of output, want one: $(tr '\n' '|' <"$WORK/notty.out")"
grep -i 'password' "$WORK/notty.out" | grep -q -i -E 'terminal|tty' ||
	la_fail "$CASE: the line names neither the password nor the terminal: $(cat "$WORK/notty.out")"
la_expect_restored "$CASE"
figures="$figures, exit 2 in $ms_d ms without one"

# ---- f. untrusted gateway certificate ----------------------------------------------------

CASE="f (untrusted gateway)"
gw_mark
GW_CA=ecdsa conf_mschap "$WORK/f.conf" auth.password="\"$TB_EAP_PASS\"" tunnel.reconnect=yes
t=$(la_now_ms)
la_start "$WORK/f.conf"
la_wait_exit "$CASE" 10
ms_f=$(( $(la_now_ms) - t ))
[ "$AGENT_RC" != 0 ] || la_fail "$CASE: ikeagent run exited 0"
grep -i -q '^ikeagent: .*certificate' "$AGENT_LOG" ||
	la_fail "$CASE: no 'ikeagent: ...certificate...' line (exit $AGENT_RC)"
no_password_sent
la_expect_restored "$CASE"
figures="$figures; f: exit $AGENT_RC in $ms_f ms, no password sent"

# ---- g. IKE rekeys after an EAP login ------------------------------------------------------

CASE="g (IKE rekey after EAP)"
TB_IKE_REKEY_TIME=6s la_gw_restart rsa,eap
# over_time: without it a 6 s rekey_time expires the SA instead.
la_gw_lifetimes 2h 10s
gw_mark
conf_mschap "$WORK/g.conf" auth.password="\"$TB_EAP_PASS\""
la_start "$WORK/g.conf"
la_wait_up "$CASE"
js0=$(la_status_json)
tb_wait_for '[ "$(gw_count "IKE_SA rw\[[0-9]+\] rekeyed between")" -ge 1 ]' "$(la_dl 20)" ||
	la_fail "$CASE: no IKE SA rekey within $(la_dl 20) s: $(gw_since | grep -E 'CREATE_CHILD_SA|REKEY|rekey' | tail -n 3 | tr '\n' ' ')"
la_gw_one_sa 10 || la_fail "$CASE: the gateway did not settle on one IKE SA and one Child SA after the rekey: $(la_gw_sas | grep -E 'ESTABLISHED|INSTALLED|REKEY|DELET' | tr '\n' ' ')"
la_ping_inside || la_fail "$CASE: ping $TB_IN_ADDR after the IKE rekey"
js=$(la_status_json)
[ "$(la_json_str state "$js")" = established ] || la_fail "$CASE: not established after the rekey: $js"
[ "$(la_json_str ike_spi "$js")" != "$(la_json_str ike_spi "$js0")" ] ||
	la_fail "$CASE: the IKE SPI did not change: $js"
[ "$(la_json_num reconnects "$js")" = 0 ] || la_fail "$CASE: the agent reconnected instead of rekeying: $js"
for what in 'parsed IKE_AUTH request 1 ' 'initiating EAP_IDENTITY' 'EAP method EAP_MSCHAPV2 succeeded'; do
	n=$(gw_count "$what")
	[ "$n" = 1 ] || la_fail "$CASE: the gateway logged '$what' $n times, not once (a second login?)"
done
la_gw_sas | grep -q "EAP: '$TB_EAP_USER'" || la_fail "$CASE: the rekeyed SA lost EAP identity $TB_EAP_USER"
n_rk=$(gw_count 'IKE_SA rw\[[0-9]+\] rekeyed between')
la_down "$CASE: down"
figures="$figures; g: $n_rk IKE rekey(s), one login"

# ---- h. the password through the control socket ---------------------------------------------

CASE="h (password on the control socket)"
la_gw_restart rsa,eap
gw_mark
conf_mschap "$WORK/h.conf"
LA_RUN_ARGS="--password-from control" la_start "$WORK/h.conf"
tb_wait_for '[ "$(la_state)" = connecting ] || ! la_alive' "$(la_dl 10)"
[ "$(la_state)" = connecting ] || la_fail "$CASE: not waiting for the password (state '$(la_state)', agent $(la_alive && echo running || echo gone))"
grep -q 'waiting for the password' "$AGENT_LOG" || la_fail "$CASE: no log line saying it waits for the password"
[ "$(gw_count 'parsed IKE_SA_INIT request')" = 0 ] || la_fail "$CASE: the agent contacted the gateway before it had the password"
t=$(la_now_ms)
out=$(printf '%s\n' "$TB_EAP_PASS" | "$IKA" password --socket "$LA_SOCK" 2>&1) ||
	la_fail "$CASE: ikeagent password failed: $out"
la_wait_up "$CASE"
ms_h=$(( $(la_now_ms) - t ))
gw_eap_ok EAP_MSCHAPV2
out=$(printf 'again\n' | "$IKA" password --socket "$LA_SOCK" 2>&1) && la_fail "$CASE: a second password was taken: $out"
grep -q -F "$TB_EAP_PASS" "$AGENT_LOG" && la_fail "$CASE: the password is in the agent's log"
la_down "$CASE: down"
figures="$figures; h: up in $ms_h ms after \`ikeagent password\`"

# ---- e. EAP-TLS, RSA and ECDSA client certificates ---------------------------------------

# eap_tls TYPE [TLS]: gateway TYPE,eaptls (TLS: min = max version), client
# certificate of TYPE.
eap_tls() {
	local type=$1 tls=${2:-}
	CASE="e (eap-tls, $type client certificate${tls:+, TLS $tls})"
	if [ -n "$tls" ]; then
		TB_TLS_MIN=$tls TB_TLS_MAX=$tls la_gw_restart "$type,eaptls"
	else
		la_gw_restart "$type,eaptls"
	fi
	GW_CA=$type
	gw_mark
	# A private key only we can read.
	(umask 077 && cp "$TB_DIR/pki/client-$type.key" "$WORK/client-$type.key") ||
		la_fail "$CASE: cannot copy the client key"
	conf_eap "$WORK/e-$type.conf" auth.eap=tls auth.cert="$TB_DIR/pki/client-$type.pem" \
		auth.key="$WORK/client-$type.key"
	la_start "$WORK/e-$type.conf"
	la_wait_up "$CASE"
	local up=$LA_UP_MS
	gw_eap_ok EAP_TLS
	gw_since | grep -q "received TLS peer certificate '.*CN=$TB_CLI_ID'" ||
		la_fail "$CASE: the gateway got no client certificate: $(gw_since | grep -E 'TLS\]' | tr '\n' ' ')"
	local ver
	ver=$(gw_since | sed -n 's/.*negotiated \(TLS [0-9.]*\) using suite \([A-Z0-9_]*\).*/\1 \2/p' | head -n 1)
	up_transfer
	figures="$figures; e $type${tls:+ TLS $tls}: up in $up ms ($ver), $BLOB_MIB MiB at $(la_mbps "$LA_BLOB_BYTES" "$XFER_MS") MB/s"
	la_down "$CASE: down"
}
eap_tls rsa
eap_tls ecdsa
if [ "${LA_EAP_TLS13:-0}" = 1 ]; then
	eap_tls rsa 1.3
	eap_tls ecdsa 1.3
fi

la_pass "${figures# }"
