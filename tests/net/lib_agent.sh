# shellcheck shell=bash disable=SC2034,SC2016
# Shared helpers of the network tests that run ikeagent in the testbed
# (scripts/testbed.sh). bash; sourced, never run. A test does:
#
#   LA_NAME=test_tunnel_x; TB_PREFIX=ikx      # before sourcing (TB_PREFIX optional)
#   . "$(dirname "$0")/lib_agent.sh"
#   la_init "${1:-build}"      # skip (77) without root/netns/strongSwan/binary;
#                              # sources testbed.sh; traps; no testbed yet
#   la_up [VARIANT]            # testbed + gateway + $WORK + snapshot of ika-cli
#   la_conf FILE [SECTION.KEY=VALUE ...]   agent.conf (value "-": leave out)
#   la_start FILE; la_wait_up WHAT; ...; la_down_cmd WHAT; la_expect_restored WHAT
#
# Every wait is a condition with a deadline (tb_wait_for); deadlines go
# through la_dl, which stretches them LA_SLOW times for sanitizer builds.
# Failures: la_fail "one line" prints the ikeagent log and the gateway log
# tails and exits 1; the EXIT trap kills a still running agent (SIGKILL)
# and tears the testbed down.

# ---- setup ------------------------------------------------------------------

la_skip() {
	echo "$LA_NAME: skip: $*"
	exit 77
}

# la_init BUILD: checks, sources the testbed, sets IKA, LA_BIN (the
# build's directory: ikerelay, the NM service), LA_SLOW, traps.
la_init() {
	LA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	LA_BUILD=${1:-build}
	# BUILD: relative to the tree, or absolute (make BUILD=/tmp/x).
	case $LA_BUILD in
	/*) LA_BIN=$LA_BUILD ;;
	*) LA_BIN=$LA_ROOT/$LA_BUILD ;;
	esac
	IKA=$LA_BIN/ikeagent
	[ "$(id -u)" = 0 ] || la_skip "not root"
	command -v ip >/dev/null 2>&1 || la_skip "no ip(8)"
	command -v curl >/dev/null 2>&1 || la_skip "no curl(1)"
	[ -x "$IKA" ] || la_skip "no $LA_BUILD/ikeagent (make first)"
	# shellcheck source=scripts/testbed.sh
	. "$LA_ROOT/scripts/testbed.sh"
	local why
	why=$(tb_check) || la_skip "$why"
	# An ASan/UBSan ikeagent is 3-5x slower: stretch every deadline.
	LA_SLOW=1
	if grep -q -a -m1 __asan_init "$IKA" 2>/dev/null; then LA_SLOW=4; fi
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}
	WORK=""
	AGENT_PID=""
	AGENT_LOG=""
	AGENT_N=0
	LA_T0=$(la_now_ms)
	trap la__cleanup EXIT
	trap 'exit 130' INT TERM
}

la_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# la_dl SECONDS: a deadline stretched for slow (sanitizer) builds.
la_dl() { awk -v t="$1" -v f="$LA_SLOW" 'BEGIN { printf "%g", t * f }'; }

la__cleanup() {
	local rc=$?
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -9 "$AGENT_PID" 2>/dev/null
		wait "$AGENT_PID" 2>/dev/null
	fi
	# Stray processes in ika-cli (curl, an agent of ours) die with the namespace.
	tb_down
	[ -n "$WORK" ] && [ "${LA_KEEP:-0}" != 1 ] && rm -rf "$WORK"
	exit "$rc"
}

la_fail() {
	echo "$LA_NAME: FAIL: $*"
	if [ -n "$AGENT_LOG" ] && [ -s "$AGENT_LOG" ]; then
		echo "---- last lines of the ikeagent log ($AGENT_LOG)"
		tail -n 30 "$AGENT_LOG"
	fi
	if [ -s "$TB_DIR/gw/charon.log" ]; then
		echo "---- last lines of $TB_DIR/gw/charon.log"
		tail -n 25 "$TB_DIR/gw/charon.log"
	fi
	exit 1
}

# la_up [VARIANT]: testbed, gateway, a fresh $WORK, the snapshot of ika-cli.
# Leftovers of an earlier failed run (namespaces, processes in them, work
# directories of this test) are removed first.
la_up() {
	tb_up || la_fail "testbed did not come up"
	rm -rf /tmp/ikeagent-net-"$LA_NAME".*
	WORK=$(mktemp -d /tmp/ikeagent-net-"$LA_NAME".XXXXXX) || la_fail "mktemp"
	la_snapshot >"$WORK/net.before"
	la_gw_restart "${1:-psk}"
}

# la_gw_restart [VARIANT]: (re)start the gateway with the current TB_* knobs.
la_gw_restart() {
	tb_gw_stop
	tb_gw_start "${1:-psk}" || la_fail "gateway ($1) did not start"
}

# ---- ika-cli before and after ---------------------------------------------

# Links, addresses, routes (all tables) and rules of ika-cli. IPv6
# link-local entries come and go with the kernel's autoconfiguration (a
# leftover tun still shows in the link list).
la_snapshot() {
	local ns=$TB_NS_CLI
	{
		ip -n "$ns" -o link show | awk '{ print "link", $2 }'
		ip -n "$ns" -o addr show | awk '{ print "addr", $2, $3, $4 }'
		ip -n "$ns" route show table all
		ip -n "$ns" -6 route show table all
		ip -n "$ns" rule show
		ip -n "$ns" -6 rule show
	} | grep -v 'fe80:'
}

# la_expect_restored WHAT [TUN]: ika-cli equals the snapshot of la_up, and
# the journal in the state directory lists nothing (an agent that gave up
# root empties it: the directory is root's).
la_expect_restored() {
	local tun=${2:-ika0}
	la_snapshot >"$WORK/net.after"
	diff -u "$WORK/net.before" "$WORK/net.after" >"$WORK/net.diff" ||
		la_fail "$1: left behind in $TB_NS_CLI: $(grep '^[-+][^-+]' "$WORK/net.diff" | tr '\n' ' ')"
	[ ! -s "$WORK/state/$tun.state" ] ||
		la_fail "$1: journal $WORK/state/$tun.state still lists: $(tr '\n' ' ' <"$WORK/state/$tun.state")"
}

# ---- agent.conf ---------------------------------------------------------------

# la_conf FILE [SECTION.KEY=VALUE ...]: an agent.conf for the testbed
# (PSK, split tunnel, UDP only, no DNS hand-off, no reconnect, socket and
# state in $WORK, and as an installed agent runs: root given up for user
# nobody, the control socket's group nogroup). Arguments override or add
# keys; the value "-" drops one.
la_conf() {
	local file=$1 kv
	shift
	# The PSK is quoted (it is a test value without '"').
	local -a keys=(gateway.address gateway.id auth.id auth.psk tunnel.remote_ts
		tunnel.dns tunnel.reconnect transport.order agent.socket agent.state_dir
		agent.tun_name agent.user agent.socket_group)
	local -A val=(
		[gateway.address]=$TB_GW_ADDR [gateway.id]=$TB_GW_ID
		[auth.id]=$TB_CLI_ID [auth.psk]="\"$TB_PSK\""
		[tunnel.remote_ts]=$TB_INSIDE_NET [tunnel.dns]=no [tunnel.reconnect]=no
		[transport.order]=udp
		[agent.socket]=$WORK/agent.sock [agent.state_dir]=$WORK/state [agent.tun_name]=ika0
		[agent.user]=nobody [agent.socket_group]=nogroup
	)
	for kv in "$@"; do
		case $kv in
		*.*=*) ;;
		*) la_fail "la_conf: bad argument '$kv' (SECTION.KEY=VALUE)" ;;
		esac
		[ -n "${val[${kv%%=*}]+x}" ] || keys+=("${kv%%=*}")
		val[${kv%%=*}]=${kv#*=}
	done
	local sec k
	: >"$file"
	chmod 600 "$file"
	for sec in gateway auth tunnel transport agent; do
		printf '[%s]\n' "$sec" >>"$file"
		for k in "${keys[@]}"; do
			[ "${k%%.*}" = "$sec" ] || continue
			[ "${val[$k]}" = - ] && continue
			printf '%s = %s\n' "${k#*.}" "${val[$k]}" >>"$file"
		done
	done
	LA_SOCK=${val[agent.socket]}
	[ "$LA_SOCK" = - ] && LA_SOCK=/run/ikeagent.sock
	return 0
}

# ---- the agent --------------------------------------------------------------

# la_start CONF: `ikeagent run -c CONF` in ika-cli, in the background;
# AGENT_PID, AGENT_LOG ($WORK/agent-N.log, stdout and stderr).
la_start() {
	AGENT_N=$((AGENT_N + 1))
	AGENT_LOG=$WORK/agent-$AGENT_N.log
	LA_START_MS=$(la_now_ms)
	# Not holding the testbed lock: a stray agent must not block the next run.
	# LA_RUN_ARGS: more arguments for `ikeagent run` (split on spaces).
	# shellcheck disable=SC2086
	if [ -n "${TB_LOCK_FD:-}" ]; then
		ip netns exec "$TB_NS_CLI" "$IKA" run -c "$1" ${LA_RUN_ARGS:-} >"$AGENT_LOG" 2>&1 \
			</dev/null {TB_LOCK_FD}>&- &
	else
		ip netns exec "$TB_NS_CLI" "$IKA" run -c "$1" ${LA_RUN_ARGS:-} >"$AGENT_LOG" 2>&1 \
			</dev/null &
	fi
	AGENT_PID=$!
}

la_alive() { [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; }

# la_status_json: one JSON object (empty when the agent does not answer).
la_status_json() { "$IKA" status --json --socket "$LA_SOCK" 2>/dev/null; }
la_state() { la_status_json | sed -n 's/^{"state":"\([a-z]*\)".*/\1/p'; }
# la_json_num KEY [JSON]: a number field; la_json_str KEY [JSON]: a string field.
la_json_num() {
	local js=${2-$(la_status_json)}
	printf '%s' "$js" | sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p"
}
la_json_str() {
	local js=${2-$(la_status_json)}
	printf '%s' "$js" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"
}

# la_wait_state STATE SECONDS: until status says STATE (or the agent died).
la_wait_state() {
	tb_wait_for "[ \"\$(la_state)\" = $1 ] || ! la_alive" "$(la_dl "$2")"
	[ "$(la_state)" = "$1" ]
}

# la_wait_up WHAT [SECONDS]: established within the deadline (default 10 s),
# else fail. LA_UP_MS: milliseconds since la_start.
la_wait_up() {
	la_wait_state established "${2:-10}" ||
		la_fail "$1: tunnel not established within $(la_dl "${2:-10}") s (state: $(la_state), agent $(la_alive && echo running || echo gone))"
	LA_UP_MS=$(( $(la_now_ms) - LA_START_MS ))
}

# la_wait_exit WHAT [SECONDS]: the agent exits; its status in AGENT_RC.
# A sanitizer report in its log fails the test.
la_wait_exit() {
	tb_wait_for "! la_alive" "$(la_dl "${2:-10}")" ||
		la_fail "$1: ikeagent still running after $(la_dl "${2:-10}") s"
	wait "$AGENT_PID"
	AGENT_RC=$?
	AGENT_PID=""
	la_check_sanitizer "$1"
}

la_check_sanitizer() {
	if grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$AGENT_LOG" 2>/dev/null; then
		la_fail "$1: sanitizer report in $AGENT_LOG: $(grep -m1 -E 'Sanitizer|runtime error' "$AGENT_LOG")"
	fi
}

# la_down WHAT: `ikeagent down`, the agent exits 0, ika-cli is restored.
la_down() {
	"$IKA" down --socket "$LA_SOCK" >/dev/null || la_fail "$1: ikeagent down failed"
	la_wait_exit "$1"
	[ "$AGENT_RC" = 0 ] || la_fail "$1: ikeagent run exited $AGENT_RC after down"
	la_expect_restored "$1"
}

# la_sigint WHAT: SIGINT, the agent exits 0, ika-cli is restored.
la_sigint() {
	kill -INT "$AGENT_PID"
	la_wait_exit "$1"
	[ "$AGENT_RC" = 0 ] || la_fail "$1: ikeagent run exited $AGENT_RC after SIGINT"
	la_expect_restored "$1"
}

# la_log_wait PATTERN SECONDS: an ERE matches a line of the agent log.
la_log_wait() { tb_wait_for "grep -q -E '$1' '$AGENT_LOG'" "$(la_dl "$2")"; }

# ---- traffic ------------------------------------------------------------------

# la_blob MIB: a random file of MIB MiB in the inside host's web root;
# LA_BLOB_URL, LA_BLOB_SHA, LA_BLOB_BYTES.
la_blob() {
	local f=$TB_DIR/in/www/blob-$1M.bin
	[ -s "$f" ] || head -c $(($1 << 20)) /dev/urandom >"$f" || la_fail "cannot write $f"
	LA_BLOB_URL=http://$TB_IN_ADDR:$TB_HTTP_PORT/blob-$1M.bin
	LA_BLOB_SHA=$(sha256sum "$f" | cut -d' ' -f1)
	LA_BLOB_BYTES=$(($1 << 20))
}

# la_fetch_sha URL [CURL_ARGS...]: SHA-256 of a GET from ika-cli (empty on
# a failed transfer).
la_fetch_sha() {
	local url=$1 out
	shift
	out=$(tb_ns_exec cli curl -sf -m "$(la_dl 120)" "$@" "$url" | sha256sum | cut -d' ' -f1)
	# sha256 of nothing: the transfer failed.
	[ "$out" = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ] && out=""
	echo "$out"
}

# la_mbps BYTES MS: megabytes (10^6) per second, one decimal.
la_mbps() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.1f", (ms > 0) ? b / 1000 / ms : 0 }'; }

la_ping_inside() { tb_wait_for "tb_ping_inside" "$(la_dl 5)"; }

# ---- the gateway's view --------------------------------------------------------

la_gw_sas() { tb_gw_swanctl --list-sas 2>/dev/null; }
# Number of IKE SAs / installed Child SAs the gateway lists.
la_gw_n_ike() { la_gw_sas | grep -c -E '^[^ ].*: #[0-9]+, [A-Z_]+, IKEv2'; }
la_gw_n_child() { la_gw_sas | grep -c -E '^  [^ ].*: #[0-9]+, reqid [0-9]+, INSTALLED'; }
# la_gw_one_sa SECONDS: the gateway settles on one IKE SA with one Child SA.
la_gw_one_sa() {
	tb_wait_for '[ "$(la_gw_n_ike)" = 1 ] && [ "$(la_gw_n_child)" = 1 ] && la_gw_sas | grep -q ESTABLISHED' \
		"$(la_dl "$1")"
}

# la_gw_lifetimes CHILD_LIFE IKE_OVER: strongSwan derives life_time = 110 % and
# over_time = 10 % of the rekey times in whole seconds, so a 5 s rekey_time
# gets life_time = 5 s and the SA expires instead of being rekeyed. Give the
# loaded connection explicit ones (the rendered swanctl.conf, reloaded).
la_gw_lifetimes() {
	local f=$TB_DIR/gw/swanctl.conf
	sed -i -e "s/^\(        rekey_time = .*\)\$/\1\n        over_time = $2/" \
		-e "s/^\(                rekey_time = .*\)\$/\1\n                life_time = $1/" "$f"
	if ! grep -q "over_time = $2" "$f" || ! grep -q "life_time = $1" "$f"; then
		la_fail "cannot edit $f"
	fi
	tb_gw_swanctl --load-conns --file "$f" >"$TB_DIR/gw/reload.out" 2>&1 ||
		la_fail "gateway: reloading the connection failed: $(tail -n 3 "$TB_DIR/gw/reload.out")"
}

# la_pass FIGURES: the one summary line.
la_pass() {
	echo "$LA_NAME: pass ($*; $(( ($(la_now_ms) - LA_T0) / 1000 )) s)"
	exit 0
}
