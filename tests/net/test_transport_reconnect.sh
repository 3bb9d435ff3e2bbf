#!/usr/bin/env bash
# The IKE SA survives a broken TCP/TLS connection (RFC 9329 §6 ≈), against
# the real strongSwan gateway behind ikerelay in the testbed:
#   1. UDP blocked, tunnel over TCP; a 50 MiB HTTP transfer through it; in
#      the middle the agent's TCP socket is destroyed (ss -K in ika-cli,
#      both ends see a reset). The agent reconnects with back-off, the
#      relay reattaches the session, the transfer completes with the right
#      SHA-256; ike_spi and the Child SA's SPIs in status are unchanged;
#      reconnects and transport_reconnects went up
#   2. the same over TLS (only TCP 443 open), 20 MiB: the reconnect resumes
#      the TLS session; SPIs unchanged
# Prints the transfer times and how long the connection was down.
# Exit 0 pass, 77 skip (not root, no netns/strongSwan/binaries), 1 fail.
# Usage: sh tests/net/test_transport_reconnect.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_transport_reconnect
TB_PREFIX=${TB_PREFIX:-ikr}
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
# shellcheck source=tests/net/lib_transport.sh
. "$(dirname "$0")/lib_transport.sh"
la_init "${1:-build}"
lt_skip_missing

# spis: "IKE child_in child_out" from status.
spis() {
	local js
	js=$(la_status_json)
	echo "$(la_json_str ike_spi "$js") $(la_json_str child_spi_in "$js") $(la_json_str child_spi_out "$js")"
}

# log_ms_between ERE1 ERE2: ms from the last agent log line matching ERE1
# to the last matching ERE2 (lines start HH:MM:SS.mmm).
log_ms_between() {
	awk -v a="$1" -v b="$2" '
		function ms(t,  p) { split(t, p, /[:.]/); return ((p[1] * 60 + p[2]) * 60 + p[3]) * 1000 + p[4] }
		$0 ~ a { ta = ms($1) } $0 ~ b { tb = ms($1) }
		END { print tb - ta }' "$AGENT_LOG"
}

# kill_mid_transfer WHAT PORT MIB: fetch MIB MiB (rate-limited so that it
# lasts a few seconds), destroy the agent's socket to PORT once 1/4 has
# arrived, check the transfer, the SPIs and the counters. Sets XFER_MS, DOWN_MS.
kill_mid_transfer() {
	local what=$1 port=$2 mib=$3 before after rc0 tr0 js t0 killed
	la_blob "$mib"
	before=$(spis)
	js=$(la_status_json)
	rc0=$(la_json_num reconnects "$js")
	tr0=$(la_json_num transport_reconnects "$js")
	local in0 quarter
	in0=$(la_json_num bytes_in "$js")
	quarter=$(( in0 + (LA_BLOB_BYTES / 4) ))
	t0=$(la_now_ms)
	(la_fetch_sha "$LA_BLOB_URL" --limit-rate 12M >"$WORK/fetch-$port.sha") &
	local fetch=$!
	tb_wait_for "[ \"\$(la_json_num bytes_in)\" -ge $quarter ]" "$(la_dl 30)" ||
		la_fail "$what: the transfer did not start (bytes_in $(la_json_num bytes_in))"
	killed=$(tb_ns_exec cli ss -K -t -H state established dst "$TB_GW_ADDR" dport = ":$port" | grep -c .)
	[ "$killed" -ge 1 ] || la_fail "$what: ss -K found no connection to $TB_GW_ADDR:$port"
	la_log_wait "connection to $TB_GW_ADDR:$port lost" 5 || la_fail "$what: the agent did not notice"
	la_log_wait "reconnected to $TB_GW_ADDR:$port" 10 || la_fail "$what: no reconnect"
	DOWN_MS=$(log_ms_between "connection to $TB_GW_ADDR:$port lost" "reconnected to $TB_GW_ADDR:$port")
	wait "$fetch"
	XFER_MS=$(( $(la_now_ms) - t0 ))
	[ "$(cat "$WORK/fetch-$port.sha")" = "$LA_BLOB_SHA" ] ||
		la_fail "$what: $mib MiB across the reconnect: sha256 $(cat "$WORK/fetch-$port.sha") != $LA_BLOB_SHA"
	after=$(spis)
	[ "$before" = "$after" ] || la_fail "$what: SPIs changed: '$before' -> '$after'"
	js=$(la_status_json)
	[ "$(la_json_num reconnects "$js")" -gt "$rc0" ] || la_fail "$what: reconnects did not go up: $js"
	[ "$(la_json_num transport_reconnects "$js")" -gt "$tr0" ] ||
		la_fail "$what: transport_reconnects did not go up: $js"
	[ "$(la_json_str state "$js")" = established ] || la_fail "$what: not established: $js"
	grep -q 'agent: reconnecting' "$AGENT_LOG" && la_fail "$what: the IKE SA was set up again"
	echo "$LA_NAME: $what: $mib MiB in $XFER_MS ms across the kill, connection down $DOWN_MS ms, SPIs $after"
}

lt_up

# ---- 1. TCP --------------------------------------------------------------------------

lt_block udp
lt_conf "$WORK/tcp.conf" tunnel.reconnect=yes
la_start "$WORK/tcp.conf"
la_wait_up "tcp" 10
[ "$(la_json_str transport)" = tcp ] || la_fail "tcp: transport: $(la_status_json)"
kill_mid_transfer "tcp" 4500 50
tcp_xfer=$XFER_MS tcp_down=$DOWN_MS
grep -q 'ike: telling the gateway about the new connection\|ike: resending\|ike: new TCP connection: telling the gateway' "$AGENT_LOG" ||
	la_fail "tcp: the IKE SA did not tell the gateway about the new connection"
la_ping_inside 3 || la_fail "tcp: ping after the reconnect"
la_down "tcp"

# ---- 2. TLS ---------------------------------------------------------------------------

lt_block udp tcp4500
lt_conf "$WORK/tls.conf" tunnel.reconnect=yes
la_start "$WORK/tls.conf"
la_wait_up "tls" 10
[ "$(la_json_str transport)" = tls ] || la_fail "tls: transport: $(la_status_json)"
kill_mid_transfer "tls" 443 20
tls_xfer=$XFER_MS tls_down=$DOWN_MS
la_log_wait "tls: reconnected to $TB_GW_ADDR:443 \\(TLS session resumed\\)" 1 ||
	la_fail "tls: the reconnect did not resume the TLS session"
la_down "tls"
lt_unblock
lt_relay_stop

la_pass "tcp: 50 MiB in $tcp_xfer ms, down $tcp_down ms; tls: 20 MiB in $tls_xfer ms, down $tls_down ms"
