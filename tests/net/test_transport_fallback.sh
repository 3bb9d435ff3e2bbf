#!/usr/bin/env bash
# The transport race (order udp tcp tls, udp_timeout 1 s) against the real
# strongSwan gateway behind ikerelay (TCP 4500, TLS 443) in the testbed:
#   1. nothing blocked: UDP answers first, no other transport is tried
#   2. UDP blocked (nft in ika-cli): tunnel over TCP, ping and a 1 MiB
#      transfer through it, time-to-tunnel <= 2 s
#   3. only TCP 443 open: tunnel over TLS (relay certificate checked with
#      tls_ca), time-to-tunnel <= 3 s
#   4. only the proxy reachable (tinyproxy with BasicAuth in ika-gw, CONNECT
#      to 443 only; proxy_allow_basic = yes): the proxy refuses tcp (4500),
#      the race moves on to TLS through it at once; up <= 3 s; status shows
#      the proxy; the proxy password is in no log
#   5. a proxy that refuses every CONNECT: one clear line in the log and in
#      status last_error, the agent keeps running
#   6. the same Basic-only proxy without proxy_allow_basic: the password is
#      never sent (tinyproxy establishes no CONNECT), one line in the log
#      names proxy_allow_basic, the agent keeps running
# Each time is printed. Deadlines are stretched (LA_SLOW) for sanitizer
# builds; the time bounds too, as they measure the agent, not the network.
# Exit 0 pass, 77 skip (not root, no netns/strongSwan/binaries), 1 fail.
# Usage: sh tests/net/test_transport_fallback.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_transport_fallback
TB_PREFIX=${TB_PREFIX:-ikt}
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
# shellcheck source=tests/net/lib_transport.sh
. "$(dirname "$0")/lib_transport.sh"
la_init "${1:-build}"
lt_skip_missing
command -v tinyproxy >/dev/null 2>&1 || la_skip "no tinyproxy"

# bound WHAT MS LIMIT_S: the measured time within LIMIT_S (stretched).
bound() {
	local lim own
	# The timers (udp_timeout) dominate, not the agent's speed: a sanitizer
	# build gets only half as much again.
	lim=$(awk -v t="$3" -v f="$LA_SLOW" 'BEGIN { printf "%d", t * (f > 1 ? 1.5 : 1) * 1000 }')
	# The agent's own figure: from its "connecting" to "tunnel up"; the
	# rest is process start-up and the ping.
	own=$(sed -n 's/.*tunnel up: .*(\([0-9]*\) ms)$/\1/p' "$AGENT_LOG" | tail -n 1)
	echo "$LA_NAME: $1: time-to-tunnel $2 ms (limit $lim ms; agent's own figure ${own:-?} ms)"
	[ "$2" -le "$lim" ] || la_fail "$1: tunnel took $2 ms, more than $lim ms"
}

expect_transport() {
	local js
	js=$(la_status_json)
	[ "$(la_json_str transport "$js")" = "$2" ] || la_fail "$1: transport is not $2: $js"
}

lt_up
la_blob 1
# Every case is a first visit of this network: the memory of the case before
# (e.g. UDP got no answer here) would put its transport first.

# ---- 1. nothing blocked: UDP ----------------------------------------------------------

lt_conf "$WORK/a.conf" tunnel.network_memory=no
lt_start_timed "$WORK/a.conf" "udp open" 10
t_udp=$LT_TTT_MS
expect_transport "udp open" udp
la_log_wait 'udp: IKE_SA_INIT answered \(after' 1 || la_fail "udp open: no winner line"
grep -q -E 'trying (tcp|tls)' "$AGENT_LOG" && la_fail "udp open: another transport was tried"
la_down "udp open"

# ---- 2. UDP blocked: TCP --------------------------------------------------------------

lt_block udp
lt_conf "$WORK/b.conf" tunnel.network_memory=no
lt_start_timed "$WORK/b.conf" "udp blocked" 10
t_tcp=$LT_TTT_MS
expect_transport "udp blocked" tcp
la_log_wait "udp: no answer in 1\.0 s, trying tcp $TB_GW_ADDR:4500" 1 ||
	la_fail "udp blocked: no fallback line"
la_log_wait 'tcp: IKE_SA_INIT answered first \(after [0-9.]+ s\), abandoning udp' 1 ||
	la_fail "udp blocked: no winner line"
grep -q 'ike: no answer to IKE_SA_INIT #0, retransmitting' "$AGENT_LOG" ||
	la_fail "udp blocked: the UDP IKE_SA_INIT was not retransmitted before the fallback"
js=$(la_status_json)
[ "$(printf '%s' "$js" | sed -n 's/.*"proxy":\([a-z]*\).*/\1/p')" = false ] ||
	la_fail "udp blocked: status says proxy: $js"
got=$(la_fetch_sha "$LA_BLOB_URL")
[ "$got" = "$LA_BLOB_SHA" ] || la_fail "udp blocked: 1 MiB over tcp: sha256 ${got:-none}"
bound "udp blocked -> tcp" "$t_tcp" 2
la_down "udp blocked"

# ---- 3. only TCP 443: TLS -------------------------------------------------------------

lt_block udp tcp4500
lt_conf "$WORK/c.conf" tunnel.network_memory=no
lt_start_timed "$WORK/c.conf" "only tls" 10
t_tls=$LT_TTT_MS
expect_transport "only tls" tls
# the SYN to 4500 is dropped: TLS starts when TCP has not connected in
# 0.25 s (Happy Eyeballs), not after another udp_timeout
la_log_wait "tcp: not connected in 0\.2[5-9] s, trying tls $TB_GW_ADDR:443" 1 ||
	la_fail "only tls: no fallback line from a stalled tcp connect to tls"
grep -q 'tcp: no answer in' "$AGENT_LOG" && la_fail "only tls: tcp was waited for udp_timeout"
la_log_wait 'tls: IKE_SA_INIT answered first .*abandoning udp, tcp' 1 ||
	la_fail "only tls: no winner line"
bound "only tcp 443 -> tls" "$t_tls" 2
la_down "only tls"

# ---- 4. only the proxy: TLS through it --------------------------------------------------

lt_proxy_start 443
lt_block all-but-proxy
lt_conf "$WORK/d.conf" tunnel.network_memory=no transport.proxy_allow_basic=yes \
	transport.proxy="http://$LT_PROXY_USER:$LT_PROXY_PASS@$TB_GW_ADDR:$LT_PROXY_PORT"
lt_start_timed "$WORK/d.conf" "proxy" 10
t_proxy=$LT_TTT_MS
expect_transport "proxy" tls
js=$(la_status_json)
printf '%s' "$js" | grep -q "\"proxy\":true,\"proxy_address\":\"$TB_GW_ADDR:$LT_PROXY_PORT\"" ||
	la_fail "proxy: status does not show the proxy: $js"
la_log_wait 'proxy refused CONNECT to .*:4500: HTTP 403' 1 ||
	la_fail "proxy: tcp through the proxy was not refused as expected"
la_log_wait 'tls: IKE_SA_INIT answered first' 1 || la_fail "proxy: no winner line"
got=$(la_fetch_sha "$LA_BLOB_URL")
[ "$got" = "$LA_BLOB_SHA" ] || la_fail "proxy: 1 MiB through the proxy: sha256 ${got:-none}"
bound "only the proxy -> tls via proxy" "$t_proxy" 3
la_down "proxy"
lt_no_secret "proxy"

# ---- 5. the proxy refuses every CONNECT -----------------------------------------------

lt_proxy_start 8443
lt_conf "$WORK/e.conf" tunnel.network_memory=no tunnel.reconnect=yes \
	transport.proxy_allow_basic=yes \
	transport.proxy="http://$LT_PROXY_USER:$LT_PROXY_PASS@$TB_GW_ADDR:$LT_PROXY_PORT"
la_start "$WORK/e.conf"
la_log_wait "tls: proxy refused CONNECT to $TB_GW_ADDR:443: HTTP 403, (no transport left to try|waiting for udp)" 5 ||
	la_fail "proxy refusing: no clear error line"
tb_wait_for "la_json_str last_error | grep -q 'proxy refused CONNECT to $TB_GW_ADDR:443: HTTP 403'" \
	"$(la_dl 2)" || la_fail "proxy refusing: status last_error: $(la_status_json)"
la_alive || la_fail "proxy refusing: the agent exited"
refused_line=$(grep -m1 -E 'tls: proxy refused CONNECT' "$AGENT_LOG")
la_sigint "proxy refusing"
lt_no_secret "proxy refusing"

# ---- 6. a Basic-only proxy, Basic not allowed ------------------------------------------

lt_proxy_start 443	# an empty log: only this case's requests in it
lt_conf "$WORK/f.conf" tunnel.network_memory=no tunnel.reconnect=yes \
	transport.proxy="http://$LT_PROXY_USER:$LT_PROXY_PASS@$TB_GW_ADDR:$LT_PROXY_PORT"
grep -q proxy_allow_basic "$WORK/f.conf" && la_fail "basic refused: f.conf allows Basic"
la_start "$WORK/f.conf"
basic_re="tls: proxy: $TB_GW_ADDR:$LT_PROXY_PORT offers only Basic authentication, which sends"
basic_re="$basic_re the password in the clear; set \[transport\] proxy_allow_basic = yes to allow it"
la_log_wait "$basic_re" 5 || la_fail "basic refused: no clear error line"
# curl asked without credentials, got the 407 and stopped there
tb_wait_for "grep -q 'Request (file descriptor [0-9]*): CONNECT $TB_GW_ADDR:443 ' '$WORK/tinyproxy.log'" \
	"$(la_dl 2)" || la_fail "basic refused: the CONNECT never reached tinyproxy"
grep -q 'Established connection' "$WORK/tinyproxy.log" &&
	la_fail "basic refused: tinyproxy established a CONNECT (the password was sent)"
la_alive || la_fail "basic refused: the agent exited"
[ "$(la_state)" = up ] && la_fail "basic refused: the tunnel came up"
basic_line=$(grep -m1 -E 'tls: proxy: .* offers only Basic' "$AGENT_LOG")
la_sigint "basic refused"
grep -q 'Established connection' "$WORK/tinyproxy.log" &&
	la_fail "basic refused: tinyproxy established a CONNECT (the password was sent)"
lt_no_secret "basic refused"
lt_unblock
lt_proxy_stop
lt_relay_stop

echo "$LA_NAME: refused: ${refused_line#* }"
echo "$LA_NAME: basic refused: ${basic_line#* }"
la_pass "udp $t_udp ms, udp blocked -> tcp $t_tcp ms, only 443 -> tls $t_tls ms, proxy -> tls $t_proxy ms"
