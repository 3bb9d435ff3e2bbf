#!/usr/bin/env bash
# shellcheck disable=SC2016 # tb_wait_for conditions are evaluated later
# ikeagent against the real strongSwan gateway (scripts/testbed.sh), PSK:
#   1. split tunnel (remote_ts 10.99.1.0/24) with esp = aes256gcm16: up,
#      the gateway's CHILD_SA is AES_GCM_16-256, ping 10.99.1.2, a 50 MiB
#      HTTP transfer checked by SHA-256 (MB/s measured), the route via ika0
#      and nothing else (the gateway's outside address and the rest of the
#      world stay on the uplink, no rules, no ESP for them); `ikeagent down`:
#      exit 0, ika-cli exactly as before
#   2. esp = chacha20poly1305: the gateway's CHILD_SA is CHACHA20_POLY1305,
#      ping, the 50 MiB transfer; SIGINT: exit 0, nothing left
#   3. full tunnel (remote_ts 0.0.0.0/0, gateway variant full) with the
#      gateway's DPD every 2 s: the fwmark rules and table exist, marked
#      packets (our IKE/ESP) still use the uplink, ping and a 50 MiB
#      transfer through the tunnel, then idle until the gateway sent and got
#      answers to >= 3 DPD requests and >= 10 s passed: still established,
#      same IKE SPI, no reconnect, no DPD timeout, ping again; `ikeagent
#      down`: nothing left
# Exit 0 pass, 77 skip (not root, no netns, no strongSwan, no build), 1 fail.
# Usage: sh tests/net/test_tunnel_matrix.sh [BUILD]   (default: build)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

LA_NAME=test_tunnel_matrix
TB_PREFIX=${TB_PREFIX:-ikmat}
# shellcheck source=tests/net/lib_agent.sh disable=SC2034
. "$(dirname "$0")/lib_agent.sh"
la_init "${1:-build}"

BLOB_MIB=50
DPD_ROUNDS=3

la_up psk
la_blob "$BLOB_MIB"
cli_if=$TB_IF_CLI

# ---- 1. split tunnel, AES-GCM-256, 50 MiB ---------------------------------------

rules0=$(ip -n "$TB_NS_CLI" rule show; ip -n "$TB_NS_CLI" -6 rule show)
la_conf "$WORK/gcm.conf" tunnel.esp=aes256gcm16
"$IKA" check -c "$WORK/gcm.conf" >/dev/null || la_fail "ikeagent check refused the test config"
la_start "$WORK/gcm.conf"
la_wait_up "aes256gcm16"
up_gcm=$LA_UP_MS
sas=$(la_gw_sas)
echo "$sas" | grep -q 'INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-256$' ||
	la_fail "aes256gcm16: gateway CHILD_SA is not ESP:AES_GCM_16-256: $(echo "$sas" | grep INSTALLED)"
js=$(la_status_json)
[ "$(la_json_str virtual_ip "$js")" != "" ] || la_fail "status: no virtual IP: $js"
echo "$js" | grep -q '"routes":\["10\.99\.1\.0/24"\]' || la_fail "status: routes not [10.99.1.0/24]: $js"
la_ping_inside || la_fail "aes256gcm16: ping $TB_IN_ADDR through the tunnel"

# Split: only 10.99.1.0/24 goes to ika0; the gateway's outside address and
# everything else keep using the uplink; no policy rules appear.
ip -n "$TB_NS_CLI" route show dev ika0 | grep -q '^10\.99\.1\.0/24' || la_fail "split: no route 10.99.1.0/24 dev ika0"
ip -n "$TB_NS_CLI" route get "$TB_IN_ADDR" | grep -q 'dev ika0' || la_fail "split: $TB_IN_ADDR not routed via ika0"
for a in "$TB_GW_ADDR" 192.0.2.1 10.99.2.1; do
	r=$(ip -n "$TB_NS_CLI" route get "$a")
	echo "$r" | grep -q "dev $cli_if" || la_fail "split: $a not on the uplink: $r"
done
[ "$(ip -n "$TB_NS_CLI" rule show; ip -n "$TB_NS_CLI" -6 rule show)" = "$rules0" ] ||
	la_fail "split: policy rules changed: $(ip -n "$TB_NS_CLI" rule show | tr '\n' ' ')"
out0=$(la_json_num packets_out)
tb_ping cli "$TB_GW_ADDR" 3 || la_fail "split: the gateway's outside address is not reachable on the uplink"
out1=$(la_json_num packets_out)
[ "$out1" = "$out0" ] || la_fail "split: traffic to $TB_GW_ADDR went into the tunnel (packets_out $out0 -> $out1)"

t=$(la_now_ms)
got=$(la_fetch_sha "$LA_BLOB_URL")
ms_gcm=$(( $(la_now_ms) - t ))
[ "$got" = "$LA_BLOB_SHA" ] || la_fail "aes256gcm16: $BLOB_MIB MiB transfer: sha256 ${got:-none} != $LA_BLOB_SHA"
bin=$(la_json_num bytes_in)
[ "${bin:-0}" -gt "$LA_BLOB_BYTES" ] || la_fail "aes256gcm16: status bytes_in ${bin:-?} < $LA_BLOB_BYTES"
gw_out=$(la_gw_sas | awk '$1 == "out" { gsub(",", "", $3); print $3; exit }')
[ "${gw_out:-0}" -gt "$LA_BLOB_BYTES" ] || la_fail "aes256gcm16: the gateway sent only ${gw_out:-0} ESP bytes"
la_down "aes256gcm16 down"
tb_wait_for '[ "$(la_gw_n_ike)" = 0 ]' "$(la_dl 5)" || la_fail "aes256gcm16: gateway kept the IKE SA after our DELETE"

# ---- 2. ChaCha20-Poly1305, SIGINT -----------------------------------------------

la_conf "$WORK/chacha.conf" tunnel.esp=chacha20poly1305
la_start "$WORK/chacha.conf"
la_wait_up "chacha20poly1305"
up_chacha=$LA_UP_MS
sas=$(la_gw_sas)
echo "$sas" | grep -q 'INSTALLED, TUNNEL-in-UDP, ESP:CHACHA20_POLY1305$' ||
	la_fail "chacha20poly1305: gateway CHILD_SA is not ESP:CHACHA20_POLY1305: $(echo "$sas" | grep INSTALLED)"
la_ping_inside || la_fail "chacha20poly1305: ping $TB_IN_ADDR through the tunnel"
t=$(la_now_ms)
got=$(la_fetch_sha "$LA_BLOB_URL")
ms_chacha=$(( $(la_now_ms) - t ))
[ "$got" = "$LA_BLOB_SHA" ] || la_fail "chacha20poly1305: $BLOB_MIB MiB transfer: sha256 ${got:-none} != $LA_BLOB_SHA"
la_sigint "chacha20poly1305 SIGINT"

# ---- 3. full tunnel, gateway DPD ----------------------------------------------------

TB_DPD_DELAY=2s la_gw_restart full
la_conf "$WORK/full.conf" tunnel.remote_ts=0.0.0.0/0 agent.fwmark=0xca6c agent.table=51820
la_start "$WORK/full.conf"
la_wait_up "full"
up_full=$LA_UP_MS
js=$(la_status_json)
spi_full=$(la_json_str ike_spi "$js")
echo "$js" | grep -q '"routes":\["0\.0\.0\.0/0"\]' || la_fail "full: status routes not [0.0.0.0/0]: $js"
rules=$(ip -n "$TB_NS_CLI" rule show)
echo "$rules" | grep -q 'not from all fwmark 0xca6c lookup 51820' || la_fail "full: no fwmark rule: $rules"
echo "$rules" | grep -q 'from all lookup main suppress_prefixlength 0' || la_fail "full: no suppress_prefixlength rule: $rules"
ip -n "$TB_NS_CLI" route show table 51820 | grep -q '^default dev ika0' || la_fail "full: no default route via ika0 in table 51820"
r=$(ip -n "$TB_NS_CLI" route get 192.0.2.1)
echo "$r" | grep -q 'dev ika0' || la_fail "full: unmarked traffic not into the tunnel: $r"
r=$(ip -n "$TB_NS_CLI" route get "$TB_GW_ADDR" mark 0xca6c)
echo "$r" | grep -q "dev $cli_if" || la_fail "full: our own (marked) packets not on the uplink: $r"
la_ping_inside || la_fail "full: ping $TB_IN_ADDR through the full tunnel"
t=$(la_now_ms)
got=$(la_fetch_sha "$LA_BLOB_URL")
ms_full=$(( $(la_now_ms) - t ))
[ "$got" = "$LA_BLOB_SHA" ] || la_fail "full: $BLOB_MIB MiB transfer: sha256 ${got:-none} != $LA_BLOB_SHA"

# Idle: the gateway probes every 2 s; each probe must be answered (through
# the marked socket, around the tunnel).
gwlog=$TB_DIR/gw/charon.log
dpd0=$(grep -c 'sending DPD request' "$gwlog")
tb_wait_for "[ \$(grep -c 'sending DPD request' '$gwlog') -ge $((dpd0 + DPD_ROUNDS + 1)) ]" "$(la_dl 15)" ||
	la_fail "full: the gateway sent only $(( $(grep -c 'sending DPD request' "$gwlog") - dpd0 )) DPD requests in $(la_dl 15) s"
dpd_sent=$(( $(grep -c 'sending DPD request' "$gwlog") - dpd0 ))
# Answered: an INFORMATIONAL response parsed after each request; no retransmits, no DPD timeout.
awk -v skip="$dpd0" '
	/sending DPD request/ { n++; if (n > skip) { open = 1; asked++ } }
	open && /parsed INFORMATIONAL response/ { open = 0; answered++ }
	END { exit !(asked >= 2 && answered >= asked - 1) }' "$gwlog" ||
	la_fail "full: the gateway's DPD requests were not answered"
! grep -q -E 'retransmit [0-9]+ of request|giving up after [0-9]+ retransmits|DPD.*timeout' "$gwlog" ||
	la_fail "full: the gateway retransmitted or gave up: $(grep -m1 -E 'retransmit|giving up' "$gwlog")"
# Up for 10+ s in all, then ESP once more.
tb_wait_for '[ "$(la_json_num uptime)" -ge 10 ] || [ "$(la_state)" != established ]' "$(la_dl 12)"
js=$(la_status_json)
[ "$(la_json_str state "$js")" = established ] || la_fail "full: not established after the DPD rounds: $js"
[ "$(la_json_str ike_spi "$js")" = "$spi_full" ] || la_fail "full: the IKE SA changed during the DPD rounds: $js"
[ "$(la_json_num reconnects "$js")" = 0 ] || la_fail "full: reconnected during the DPD rounds: $js"
[ "$(la_json_num uptime "$js")" -ge 10 ] || la_fail "full: uptime $(la_json_num uptime "$js") s < 10 s: $js"
la_ping_inside || la_fail "full: ping $TB_IN_ADDR after the DPD rounds"
la_down "full down"

la_pass "up in $up_gcm/$up_chacha/$up_full ms (gcm/chacha/full); $BLOB_MIB MiB each: gcm split $(la_mbps "$LA_BLOB_BYTES" "$ms_gcm") MB/s, chacha split $(la_mbps "$LA_BLOB_BYTES" "$ms_chacha") MB/s, gcm full $(la_mbps "$LA_BLOB_BYTES" "$ms_full") MB/s; $dpd_sent gateway DPD requests answered; down/SIGINT/down clean"
