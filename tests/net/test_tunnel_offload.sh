#!/usr/bin/env bash
# The data path's kernel offloads and its worker thread, against the real
# strongSwan gateway of scripts/testbed.sh (PSK, UDP):
#   1. defaults ([tunnel] offload = yes, threads = yes): status says the tun
#      has csum, TSO and USO, the ESP socket GRO, and the loop thread
#      encrypts while the tunnel is quiet; the upload moves encryption to
#      the worker thread (the log says so, with the rate); the tun's gso_max_segs is 64 (no read outgrows a batch); a 32 MiB TCP upload (a socket sink on the inside host
#      hashes what it got) and a 32 MiB HTTP download, each checked by
#      SHA-256: the upload was read from the tun as super-segments (status
#      counts reads split > 0) and the download written as merged segments
#      (segments merged > 0); nothing dropped on the way
#   2. offload = no, threads = no: the same transfers, checked the same way;
#      status says no offloads, one thread, and counts nothing split or merged
#   3. keys handed to the worker under traffic: child_lifetime 5 s, a 64 MiB
#      upload while the worker encrypts: >= 2 Child SA rekeys of ours during
#      it, the hash right, nothing dropped for want of a Child SA
# Exit 0 pass, 77 skip (not root, no netns, no strongSwan, no build), 1 fail
# with a one-line reason. Waits on conditions with deadlines, never blind
# sleeps (helpers: tests/net/lib_agent.sh).
# Usage: sh tests/net/test_tunnel_offload.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_tunnel_offload
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
la_init "${1:-build}"
BLOB_MIB=32
SINK_PORT=5399

la_up psk
la_blob "$BLOB_MIB"
BLOB=$TB_DIR/in/www/blob-${BLOB_MIB}M.bin

# upload_sha: send the blob from ika-cli to a sink on the inside host over
# one TCP connection; prints the SHA-256 of what the sink received.
upload_sha() {
	local out=$WORK/sink.sha
	rm -f "$out"
	tb_ns_exec in python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60); h = hashlib.sha256()
while True:
    b = c.recv(1 << 20)
    if not b: break
    h.update(b)
open(sys.argv[2], "w").write(h.hexdigest())
' "$SINK_PORT" "$out" &
	local sink=$!
	tb_wait_for "tb_ns_exec in ss -Htln 'sport = :$SINK_PORT' | grep -q LISTEN" "$(la_dl 5)" ||
		la_fail "the TCP sink on the inside host did not listen"
	tb_ns_exec cli python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
with open(sys.argv[3], "rb") as f:
    while True:
        b = f.read(1 << 20)
        if not b: break
        c.sendall(b)
c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
' "$TB_IN_ADDR" "$SINK_PORT" "$BLOB" || la_fail "upload through the tunnel failed"
	wait "$sink"
	cat "$out" 2>/dev/null
}

# transfers LABEL: upload and download, each by SHA-256; sets T_UP, T_DOWN (ms).
transfers() {
	local t0 got
	t0=$(la_now_ms)
	got=$(upload_sha)
	T_UP=$(( $(la_now_ms) - t0 ))
	[ "$got" = "$LA_BLOB_SHA" ] || la_fail "$1: $BLOB_MIB MiB upload: sha256 ${got:-none} != $LA_BLOB_SHA"
	t0=$(la_now_ms)
	got=$(la_fetch_sha "$LA_BLOB_URL")
	T_DOWN=$(( $(la_now_ms) - t0 ))
	[ "$got" = "$LA_BLOB_SHA" ] || la_fail "$1: $BLOB_MIB MiB download: sha256 ${got:-none} != $LA_BLOB_SHA"
}

# ---- 1. offloads and the worker thread (the defaults) -------------------------

la_conf "$WORK/on.conf"
la_start "$WORK/on.conf"
la_wait_up "offload"
la_ping_inside || la_fail "ping $TB_IN_ADDR through the tunnel"
dp=$(la_json_str datapath)
case $dp in
"tun csum tso uso, udp gro on, encrypting on the loop thread (the worker from 16 Mbit/s out)") ;;
*) la_fail "status datapath is '$dp', not the offloads and a quiet worker thread" ;;
esac
ip -n "$TB_NS_CLI" -d link show ika0 | grep -q "gso_max_segs 64 " ||
	la_fail "ika0's gso_max_segs is not 64 (a super-segment could outgrow the batch): $(ip -n "$TB_NS_CLI" -d link show ika0 | grep -o 'gso_max_segs [0-9]*')"
transfers "offload"
split=$(la_json_num tun_reads_split)
merged=$(la_json_num segments_merged)
[ "${split:-0}" -gt 0 ] || la_fail "offload: the upload was never read as a super-segment (tun_reads_split ${split:-?})"
[ "${merged:-0}" -gt 0 ] || la_fail "offload: no segments merged into one tun write on the download (segments_merged ${merged:-?})"
grep -q -E "dp: [0-9]+ Mbit/s out: encryption moves to the worker thread" "$AGENT_LOG" ||
	la_fail "offload: the upload did not move encryption to the worker thread"
"$IKA" status --socket "$LA_SOCK" | grep -q "^data path:   tun csum tso uso, udp gro on, encrypting on the .* thread.*; $split tun reads split, [0-9]* segments merged" ||
	la_fail "status text has no data path line: $("$IKA" status --socket "$LA_SOCK")"
up_on=$T_UP down_on=$T_DOWN
la_down "offload"

# ---- 2. neither --------------------------------------------------------------------

la_conf "$WORK/off.conf" tunnel.offload=no tunnel.threads=no
la_start "$WORK/off.conf"
la_wait_up "no offload"
dp=$(la_json_str datapath)
[ "$dp" = "tun without offloads, udp gro off, one thread" ] ||
	la_fail "status datapath with offload = no, threads = no is '$dp'"
transfers "no offload"
[ "$(la_json_num tun_reads_split)" = 0 ] && [ "$(la_json_num segments_merged)" = 0 ] ||
	la_fail "offload = no: status counts split reads or merged segments"
grep -q "worker thread started" "$AGENT_LOG" && la_fail "threads = no started the worker thread"
la_down "no offload"

# ---- 3. rekeys while the worker encrypts ----------------------------------------------

la_blob 64
BLOB=$TB_DIR/in/www/blob-64M.bin
la_conf "$WORK/rekey.conf" tunnel.child_lifetime=5s tunnel.rekey_jitter=1s
la_start "$WORK/rekey.conf"
la_wait_up "rekeys under the worker"
# Uploads back to back until two rekeys fell inside them: how many a 64 MiB
# upload spans depends on the gateway's speed (at most 4 uploads).
rk=0 ups=0
while [ "${rk:-0}" -lt 2 ] && [ "$ups" -lt 4 ]; do
	got=$(upload_sha)
	ups=$((ups + 1))
	[ "$got" = "$LA_BLOB_SHA" ] ||
		la_fail "rekeys under the worker: 64 MiB upload $ups: sha256 ${got:-none} != $LA_BLOB_SHA"
	rk=$(la_json_num rekeys)
done
grep -q -E "dp: [0-9]+ Mbit/s out: encryption moves to the worker thread" "$AGENT_LOG" ||
	la_fail "rekeys under the worker: the upload did not move encryption to the worker thread"
[ "${rk:-0}" -ge 2 ] || la_fail "rekeys under the worker: ${rk:-0} rekeys during $ups uploads, not >= 2"
drops=$(la_json_num drops)
la_down "rekeys under the worker"

la_pass "rekeys under the worker: $rk during $ups x 64 MiB up ($drops dropped); offload and worker: up $BLOB_MIB MiB in $up_on ms, down in $down_on ms ($split reads split, $merged segments merged); without: up $T_UP ms, down $T_DOWN ms"
