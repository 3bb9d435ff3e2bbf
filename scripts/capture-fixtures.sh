#!/usr/bin/env bash
# Regenerates tests/fixtures/: real IKEv2 messages between a strongSwan client
# and the strongSwan gateway of scripts/testbed.sh, captured with tshark on
# the client's veth, plus the keys charon logs at "ike 4"/"chd 4", so unit
# tests can parse real messages and decrypt their SK payloads and ESP.
# Not part of the test run. Needs root, netns, strongSwan, tshark, python3
# (the cryptography module to verify every extracted key; optional, except
# for the cases with gateway rekeys or an SA listing).
#
#   sh scripts/capture-fixtures.sh [OUTDIR [CASE...]]   (default tests/fixtures,
#                                                        every case)
#
# With CASEs only their files are replaced (and README.md rewritten); the
# other cases' files stay as they are. The cases whose gateway has an RSA
# certificate share rsa_cert_ca.pem / rsa_cert_gw.pem, and every run makes
# a new CA: they can only be captured together.
#
# Every case: fresh gateway + client charon, capture, connect, one ping
# through the tunnel (and, for a rekey case, wait for the gateway's CHILD_SA
# and IKE SA rekeys), then extract and check (scripts/capture-fixtures.py):
#   <case>_<n>_<exchange>_<req|resp>.bin  one IKE message, n = message ID + 1,
#       without the 4-byte non-ESP marker (port 4500); fragments of one
#       message (RFC 7383) get _fragKofN
#   <case>_esp_i2r.bin, <case>_esp_r2i.bin  the ping's ESP packets (UDP payload)
#   <case>_keys.txt   name = hex (SPIs, nonces, g^ir, SKEYSEED, SK_*, ESP keys)
#   <case>_sa_expect.txt  every SA payload's proposals (sa-expect cases)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/tests/fixtures}
[ $# -gt 0 ] && shift
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# case | gateway variant | client IKE proposal | client ESP proposal |
# charon fragment_size (1500: the RSA IKE_AUTH response fits one datagram) |
# options (- for none):
#   gw+default  the gateway's IKE and ESP proposal lists end in strongSwan's
#               `default` (the testbed's lists come first: it selects by its
#               own order, so the usual algorithms are negotiated)
#   gw-rekey    the gateway rekeys the CHILD_SA after 3 s and the IKE SA
#               after 5 s; its CREATE_CHILD_SA (under the first IKE SA) are kept
#   sa-expect   <case>_sa_expect.txt: every SA payload, checked against tshark
# | what
CASES="
psk_gcm|psk|aes256gcm16-prfsha256-x25519|aes256gcm16|1280|-|PSK, AES-256-GCM-16 IKE, PRF HMAC-SHA-256, Curve25519; ESP AES-256-GCM-16
psk_cbc|psk|aes256-sha256-modp2048|aes256-sha256|1280|-|PSK, AES-256-CBC + HMAC-SHA-256-128 IKE, PRF HMAC-SHA-256, MODP-2048; ESP AES-256-CBC + HMAC-SHA-256-128
psk_chacha|psk|chacha20poly1305-prfsha256-ecp256|chacha20poly1305|1280|-|PSK, ChaCha20-Poly1305 IKE, PRF HMAC-SHA-256, ECP-256; ESP ChaCha20-Poly1305
rsa_cert|rsa|aes256gcm16-prfsha256-x25519|aes256gcm16|1500|-|gateway authenticates with an RSA-2048 certificate (client: PSK); AES-256-GCM-16, Curve25519
rsa_cert_frag|rsa|aes256gcm16-prfsha256-x25519|aes256gcm16|1280|-|as rsa_cert, but charon's default fragment_size 1280 splits the IKE_AUTH response into RFC 7383 fragments
eap_mschapv2|rsa,eap|aes256gcm16-prfsha256-x25519|aes256gcm16|1500|-|gateway RSA certificate, client EAP-MSCHAPv2 (several IKE_AUTH rounds); AES-256-GCM-16, Curve25519
default|psk|default|default|1500|gw+default gw-rekey sa-expect|PSK; the client offers strongSwan's \`default\` IKE and ESP proposals, the gateway (its list + \`default\`) selects AES-256-GCM-16, PRF HMAC-SHA-256, Curve25519 and ESP AES-256-GCM-16, then rekeys the CHILD_SA (3 s) and the IKE SA (5 s) offering its whole lists, \`default\` included; fragment_size 1500 keeps the IKE SA rekey request in one datagram
"

ALL=$(awk -F'|' 'NF > 1 { printf "%s ", $1 }' <<<"$CASES")
ALL=${ALL% }
if [ $# -eq 0 ]; then
	# shellcheck disable=SC2086 # one case per word
	set -- $ALL
fi
for c in "$@"; do
	case " $ALL " in
	*" $c "*) ;;
	*)
		echo "capture-fixtures: no case '$c' (cases: $ALL)" >&2
		exit 2
		;;
	esac
done
SELECTED=" $* "
FULL=0
[ "$*" = "$ALL" ] && FULL=1
# The certificate cases share the PEM files of one CA: all or none.
CERT_CASES=$(awk -F'|' 'NF > 1 && $2 ~ /rsa/ { printf "%s ", $1 }' <<<"$CASES")
CERT_CASES=${CERT_CASES% }
cert_sel=0
for c in $CERT_CASES; do
	case $SELECTED in *" $c "*) cert_sel=$((cert_sel + 1)) ;; esac
done
if [ "$cert_sel" -gt 0 ] && [ "$cert_sel" -ne "$(wc -w <<<"$CERT_CASES")" ]; then
	echo "capture-fixtures: the certificate cases share one CA, capture them together: $CERT_CASES" >&2
	exit 2
fi

# shellcheck source=testbed.sh
. "$ROOT/scripts/testbed.sh"
why=$(tb_check) || {
	echo "capture-fixtures: cannot run: $why" >&2
	exit 1
}
for t in tshark "$PY"; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "capture-fixtures: missing $t" >&2
		exit 1
	}
done

export TB_LOG_KEYS=1
# The client's "secret" for EAP and the PSK are fixed test values (README).
export TB_PSK TB_EAP_USER TB_EAP_PASS
trap 'tb_down' EXIT
trap 'exit 130' INT TERM
tb_up || exit 1
CAP=$TB_DIR/capture
mkdir -p "$CAP" "$OUT"
# A full run starts from nothing (a case taken out of CASES leaves no files);
# otherwise capture-fixtures.py replaces the files of its case only.
if [ "$FULL" = 1 ]; then
	rm -f "$OUT"/*.bin "$OUT"/*_keys.txt "$OUT"/*_sa_expect.txt "$OUT"/*.pem
fi

# gw_rekey_lifetimes CHILD_LIFE IKE_OVER: strongSwan derives life_time = 110 %
# and over_time = 10 % of the rekey times in whole seconds, so a 3 s
# rekey_time gets life_time = 3 s and the SA would expire instead of being
# rekeyed. Give the gateway's loaded connection explicit ones (as
# tests/net/test_tunnel_rekey.sh does).
gw_rekey_lifetimes() {
	local f=$TB_DIR/gw/swanctl.conf
	sed -i -e "s/^\(        rekey_time = .*\)\$/\1\n        over_time = $2/" \
		-e "s/^\(                rekey_time = .*\)\$/\1\n                life_time = $1/" "$f"
	if ! grep -q "over_time = $2" "$f" || ! grep -q "life_time = $1" "$f"; then
		echo "capture-fixtures: cannot edit $f" >&2
		return 1
	fi
	tb_gw_swanctl --load-conns --file "$f" >"$TB_DIR/gw/reload.out" 2>&1 || {
		echo "capture-fixtures: gateway: reloading the connection failed:" >&2
		tail -n 3 "$TB_DIR/gw/reload.out" >&2
		return 1
	}
}

# capture CASE VARIANT IKE ESP FRAGSIZE OPTIONS: one connection, pcap in
# $CAP/CASE.pcap, the client's log in $CAP/CASE.cli.log
capture() {
	local case=$1 variant=$2 opts=" $6 " pcap=$CAP/$1.pcap tpid
	# shellcheck disable=SC2034 # read by tb__strongswan_conf and tb_gw_start
	local TB_FRAGMENT_SIZE=$5 TB_IKE_PROPOSALS=$TB_IKE_PROPOSALS TB_ESP_PROPOSALS=$TB_ESP_PROPOSALS
	# The client keeps the testbed's rekey times (it must not rekey itself).
	local cli_child=${TB_CHILD_REKEY_TIME:-1h} cli_ike=${TB_IKE_REKEY_TIME:-4h}
	local gw_child=$cli_child gw_ike=$cli_ike
	case $opts in *" gw+default "*)
		TB_IKE_PROPOSALS="$TB_IKE_PROPOSALS, default" TB_ESP_PROPOSALS="$TB_ESP_PROPOSALS, default" ;;
	esac
	case $opts in *" gw-rekey "*) gw_child=3s gw_ike=5s ;; esac
	tb_client_ss_stop
	tb_gw_stop
	TB_CHILD_REKEY_TIME=$gw_child TB_IKE_REKEY_TIME=$gw_ike tb_gw_start "$variant" || return 1
	case $opts in *" gw-rekey "*) gw_rekey_lifetimes 10s 5s || return 1 ;; esac
	TB_CLI_PROPOSALS=$3 TB_CLI_ESP_PROPOSALS=$4 TB_CLI_INITIATE=0 \
		TB_CHILD_REKEY_TIME=$cli_child TB_IKE_REKEY_TIME=$cli_ike tb_client_ss_start "$variant" || return 1
	tb__bg "$CAP/$case.tshark.log" ip netns exec "$TB_NS_CLI" tshark -i "$TB_IF_CLI" \
		-f 'udp port 500 or udp port 4500' -F pcap -w "$pcap"
	tpid=$TB_BG_PID
	tb_wait_for "grep -q 'Capturing on' '$CAP/$case.tshark.log'" 10 || {
		echo "capture-fixtures: tshark did not start:" >&2
		cat "$CAP/$case.tshark.log" >&2
		return 1
	}
	tb_client_ss_initiate || return 1
	tb_wait_for tb_ping_inside 5 || {
		echo "capture-fixtures: $case: no ping through the tunnel" >&2
		return 1
	}
	# ESP seen in both directions = everything before it is in the file too.
	tb_wait_for "[ \"\$(tshark -r '$pcap' -Y esp -T fields -e ip.src 2>/dev/null | sort -u | wc -l)\" -ge 2 ]" 10 || {
		echo "capture-fixtures: $case: ESP not captured" >&2
		return 1
	}
	# The gateway's CHILD_SA rekey (3 s) and IKE SA rekey (5 s) answered.
	case $opts in *" gw-rekey "*)
		tb_wait_for "[ \"\$(tshark -r '$pcap' -Y 'isakmp.exchangetype == 36 && isakmp.flag_r == 1 && ip.src == $TB_CLI_ADDR' -T fields -e frame.number 2>/dev/null | wc -l)\" -ge 2 ]" 15 || {
			echo "capture-fixtures: $case: the gateway's two rekeys were not captured" >&2
			return 1
		}
		;;
	esac
	kill -INT "$tpid"
	tb_wait_for "! kill -0 $tpid 2>/dev/null" 10 || kill -9 "$tpid"
	cp "$TB_DIR/cli/charon.log" "$CAP/$case.cli.log"
}

# extract CASE IKE ESP OPTIONS DESCRIPTION: the case's files into $OUT, checked
extract() {
	local flags=()
	case " $4 " in *" gw-rekey "*) flags+=(--rekey) ;; esac
	case " $4 " in *" sa-expect "*) flags+=(--sa-expect) ;; esac
	"$PY" "$ROOT/scripts/capture-fixtures.py" "${flags[@]}" "$1" "$CAP/$1.pcap" \
		"$CAP/$1.cli.log" "$OUT" "$TB_PSK" "$5" "$2" "$3"
}

# sa_tables EXPECT_FILE...: per SA payload, a table of its proposals with the
# transform counts (total and per type), then the largest count.
sa_tables() {
	awk '
	/^#/ || NF < 7 { next }
	{
		key = $1 " " $2
		if (key != last) {
			printf "%s`%s`, SA payload %s:\n\n", last == "" ? "" : "\n", $1, \
				$2 == "outer" ? "in the clear" : "inside the SK payload"
			print "| proposal | protocol | SPI size | transforms | ENCR | PRF | INTEG | DH | ESN |"
			print "|---|---|---|---|---|---|---|---|---|"
			last = key
		}
		for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		delete n
		nt = split(f["ids"], ids, ",")
		for (i = 1; i <= nt; i++) { split(ids[i], t, ":"); n[t[1]]++ }
		printf "| %s | %s | %s | %s | %d | %d | %d | %d | %d |\n", f["prop"], f["proto"], \
			f["spi_size"], f["transforms"], n[1], n[2], n[3], n[4], n[5]
		if (f["transforms"] + 0 > max) { max = f["transforms"] + 0; where = "`" $1 "` proposal " f["prop"] }
	}
	END { if (max) printf "\nLargest transform count in one proposal: %d (%s).\n", max, where }
	' "$@"
}

# write_readme STRONGSWAN TSHARK: tests/fixtures/README.md, with the file list
write_readme() {
	cat <<-EOF
	# IKEv2 fixtures: real strongSwan messages with their keys

	Generated by \`sh scripts/capture-fixtures.sh\` (root, netns, strongSwan,
	tshark, python3); regenerate with the same command. Not part of the test
	run. **Every regeneration changes every file** (fresh SPIs, nonces, DH
	keys, certificates): tests must read values from \`<case>_keys.txt\`, never
	hard-code them. \`sh scripts/capture-fixtures.sh tests/fixtures CASE...\`
	regenerates only those cases' files (and this README); the certificate
	cases (\`rsa_cert\`, \`rsa_cert_frag\`, \`eap_mschapv2\`) only together.

	- Peers: strongSwan client (initiator, ID \`$TB_CLI_ID\`, 10.99.0.2) ->
	  strongSwan gateway (responder, ID \`$TB_GW_ID\`, 10.99.0.1), both
	  $1 with kernel-libipsec, in the namespaces of
	  \`scripts/testbed.sh\`. Client asks for a virtual IP (CP CFG_REQUEST),
	  gets 10.99.100.1 + DNS 10.99.1.53; TSi 10.99.100.1/32 (after
	  narrowing), TSr 10.99.1.0/24.
	- PSK (ASCII): \`$TB_PSK\`. EAP-MSCHAPv2 user \`$TB_EAP_USER\`, password
	  \`$TB_EAP_PASS\`.
	- Both sides set \`encap = yes\`: strongSwan sends a fake NATD_S_IP hash,
	  so both float to UDP 4500 after IKE_SA_INIT (IKE_AUTH and ESP carry
	  the UDP encapsulation of RFC 3948). The IKE_SA_INIT request therefore
	  has N(NATD_S_IP) not matching the real address.
	- Captured with $2 on the client's veth, capture filter
	  \`udp port 500 or udp port 4500\`; fields exported with
	  \`tshark -T fields -e udp.payload\`.
	- The gateway's proposals (it selects by its own order): IKE
	  \`$TB_IKE_PROPOSALS\`; ESP \`$TB_ESP_PROPOSALS\`; in the cases
	  marked below both lists end in \`default\` too.

	## Cases

	| case | IKE proposal (client offers only this) | ESP | notes |
	|---|---|---|---|
	EOF
	local case variant ike esp frag opts what
	while IFS='|' read -r case variant ike esp frag opts what; do
		[ -n "$case" ] || continue
		echo "| \`$case\` | \`$ike\` | \`$esp\` | $what |"
	done <<<"$CASES"
	cat <<-'EOF'

	## Files

	- `<case>_<n>_<exchange>_<req|resp>.bin`: one IKE message exactly as in
	  the UDP payload, starting at the IKE header; on port 4500 the 4-byte
	  non-ESP marker is removed. `n` = message ID + 1, so `1_ike_sa_init`,
	  `2_ike_auth`, and with EAP `3_ike_auth` ... `6_ike_auth`. `req` is sent
	  by the client (initiator), `resp` by the gateway.
	- `<case>_<n>_create_child_sa_<req|resp>.bin` (`default`): the other way
	  round. The gateway rekeys: `req` is its request, `n` = ITS message ID
	  + 1 (its own counter from 0; strongSwan sometimes first sends an
	  INFORMATIONAL with MOBIKE addresses, so `n` differs between
	  captures), `resp` the client's answer. Only those of the first IKE
	  SA (the SPIs of `<case>_keys.txt`), encrypted with its keys: the
	  gateway is the original responder, so its requests use SK_er. One
	  rekeys the CHILD_SA (N(REKEY_SA), SA with protocol ESP, SPI size 4),
	  one the IKE SA (SA with protocol IKE, SPI size 8, KE); see the keys
	  file's comments for which is which.
	- `..._fragKofN.bin`: fragment K of N of one message (RFC 7383 SKF
	  payload, each fragment encrypted on its own with the same keys).
	- `<case>_esp_i2r.bin` / `<case>_esp_r2i.bin`: the ESP packet (UDP
	  payload on port 4500: SPI, sequence number, IV, ciphertext, ICV) of an
	  ICMP echo request 10.99.100.1 -> 10.99.1.2 and of its reply.
	- `<case>_keys.txt`: lines `name = hex`, `#` starts a comment:
	  `psk`, `spi_i`, `spi_r` (IKE SPIs), `ni`, `nr` (nonce data), `g_ir` (DH
	  shared secret), `skeyseed`, `sk_d`, `sk_ai`, `sk_ar` (absent for AEAD),
	  `sk_ei`, `sk_er`, `sk_pi`, `sk_pr`, then the CHILD_SA: `esp_spi_i2r`
	  (SPI of client -> gateway packets), `esp_spi_r2i`, `esp_encr_i2r`,
	  `esp_encr_r2i`, `esp_integ_*` (absent for AEAD). AEAD keys (AES-GCM,
	  ChaCha20-Poly1305) end in their 4-byte salt (RFC 5282, RFC 7634):
	  nonce = salt | 8-byte IV, AAD = IKE header .. end of the SK payload
	  header (ESP: SPI | sequence number). Taken from the client charon's
	  log at `ike 4` / `chd 4` ("shared Diffie Hellman secret", "SKEYSEED",
	  "Sk_ei secret", ..., "encryption initiator key", ...), then checked:
	  recomputed from `ni`, `nr`, `g_ir`, the SPIs with prf+ (HMAC-SHA-256),
	  and every IKE_AUTH (and CREATE_CHILD_SA) SK/SKF payload and both ESP
	  packets decrypted with them (the first comments of each file say so,
	  and which proposals were selected). With gateway rekeys (`default`)
	  also the IKE SA the rekey made: `rekey_spi_i` (the gateway's: it
	  initiated the rekey), `rekey_spi_r`, `rekey_ni`, `rekey_nr` (from the
	  CREATE_CHILD_SA), `rekey_g_ir`, `rekey_skeyseed` = prf(SK_d (old),
	  g^ir (new) | Ni | Nr), `rekey_sk_*` (RFC 7296 2.18), checked the same way.
	- `<case>_sa_expect.txt` (`default`): every SA payload of the case's
	  messages, one line per proposal, `<file> <outer|inner>
	  prop=<number> proto=<IKE|ESP> spi_size=<octets> transforms=<count>
	  ids=<type:id[/key length],...>` (transforms in wire order; types 1
	  ENCR, 2 PRF, 3 INTEG, 4 DH, 5 ESN), decoded by
	  `scripts/capture-fixtures.py` and by tshark's IKEv2 dissector (SK
	  payloads decrypted through its `ikev2_decryption_table`), which agree.
	- `rsa_cert_ca.pem`, `rsa_cert_gw.pem`: the test CA and the gateway
	  certificate (RSA-2048, SAN DNS gw.ikeagent.test, IP 10.99.0.1 and
	  fd99::1) of this capture, used by `rsa_cert*` and `eap_mschapv2`. No
	  private key is kept.
	EOF
	local f expect
	expect=$(ls "$OUT"/*_sa_expect.txt 2>/dev/null)
	if [ -n "$expect" ]; then
		cat <<-'EOF'

		## SA payloads

		From the `*_sa_expect.txt` files: per SA payload its proposals, the
		transform count of each (the Proposal's count field, equal to the
		transforms present) and how many of each type. strongSwan's `default`
		IKE proposal lists every algorithm its loaded plugins have (the
		testbed's `load =` in scripts/strongswan/strongswan.conf.in), as two
		proposals: without and with AEAD ciphers. In the IKE SA rekey request
		the gateway lists first the proposals that contain the DH group of
		its KE payload (the current IKE SA's), so its proposal order there
		is not its configured one. In the order the messages were sent:

		EOF
		# shellcheck disable=SC2086 # one file per word
		sa_tables $expect
	fi
	cat <<-'EOF'

	| file | bytes |
	|---|---|
	EOF
	for f in "$OUT"/*; do
		case $f in */README.md) continue ;; esac
		echo "| \`$(basename "$f")\` | $(wc -c <"$f") |"
	done
}

first=""
while IFS='|' read -r case variant ike esp frag opts what; do
	[ -n "$case" ] || continue
	case $SELECTED in *" $case "*) ;; *) continue ;; esac
	[ "$opts" = - ] && opts=""
	capture "$case" "$variant" "$ike" "$esp" "$frag" "$opts" || exit 1
	extract "$case" "$ike" "$esp" "$opts" "$what" || exit 1
	[ -n "$first" ] || first=$case
done <<<"$CASES"
if [ "$cert_sel" -gt 0 ]; then
	cp "$TB_DIR/pki/ca-rsa.pem" "$OUT/rsa_cert_ca.pem"
	cp "$TB_DIR/pki/gw-rsa.pem" "$OUT/rsa_cert_gw.pem"
fi
version=$(sed -n 's/.*Starting IKE charon daemon (\(strongSwan [^,]*\),.*/\1/p' "$CAP/$first.cli.log" | head -n 1)
version="$version (Debian package strongswan-charon $(dpkg-query -W -f '${Version}' strongswan-charon 2>/dev/null))"
tshark_version=$(tshark --version 2>/dev/null | head -n 1 | sed 's/\.$//')
if [ "$FULL" = 0 ] && [ -f "$OUT/README.md" ] &&
	! { grep -qF "$version" "$OUT/README.md" && grep -qF "$tshark_version" "$OUT/README.md"; }; then
	echo "capture-fixtures: warning: the other cases were captured with other versions than $version, $tshark_version (see the old README.md)" >&2
fi
write_readme "$version" "$tshark_version" >"$OUT/README.md"
echo "capture-fixtures: $* -> $OUT ($(find "$OUT" -maxdepth 1 -type f | wc -l) files there)"
