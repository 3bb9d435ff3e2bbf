#!/usr/bin/env bash
# Regenerates tests/fixtures/: real IKEv2 messages between a strongSwan client
# and the strongSwan gateway of scripts/testbed.sh, captured with tshark on
# the client's veth, plus the keys charon logs at "ike 4"/"chd 4", so unit
# tests can parse real messages and decrypt their SK payloads and ESP.
# Not part of the test run. Needs root, netns, strongSwan, tshark, python3
# (the cryptography module to verify every extracted key; optional).
#
#   sh scripts/capture-fixtures.sh [OUTDIR]    (default tests/fixtures)
#
# Every case: fresh gateway + client charon, capture, connect, one ping
# through the tunnel, then extract and check:
#   <case>_<n>_<exchange>_<req|resp>.bin  one IKE message, n = message ID + 1,
#       without the 4-byte non-ESP marker (port 4500); fragments of one
#       message (RFC 7383) get _fragKofN
#   <case>_esp_i2r.bin, <case>_esp_r2i.bin  the ping's ESP packets (UDP payload)
#   <case>_keys.txt   name = hex (SPIs, nonces, g^ir, SKEYSEED, SK_*, ESP keys)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/tests/fixtures}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

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

# case | gateway variant | client IKE proposal | client ESP proposal |
# charon fragment_size (1500: the RSA IKE_AUTH response fits one datagram) | what
CASES="
psk_gcm|psk|aes256gcm16-prfsha256-x25519|aes256gcm16|1280|PSK, AES-256-GCM-16 IKE, PRF HMAC-SHA-256, Curve25519; ESP AES-256-GCM-16
psk_cbc|psk|aes256-sha256-modp2048|aes256-sha256|1280|PSK, AES-256-CBC + HMAC-SHA-256-128 IKE, PRF HMAC-SHA-256, MODP-2048; ESP AES-256-CBC + HMAC-SHA-256-128
psk_chacha|psk|chacha20poly1305-prfsha256-ecp256|chacha20poly1305|1280|PSK, ChaCha20-Poly1305 IKE, PRF HMAC-SHA-256, ECP-256; ESP ChaCha20-Poly1305
rsa_cert|rsa|aes256gcm16-prfsha256-x25519|aes256gcm16|1500|gateway authenticates with an RSA-2048 certificate (client: PSK); AES-256-GCM-16, Curve25519
rsa_cert_frag|rsa|aes256gcm16-prfsha256-x25519|aes256gcm16|1280|as rsa_cert, but charon's default fragment_size 1280 splits the IKE_AUTH response into RFC 7383 fragments
eap_mschapv2|rsa,eap|aes256gcm16-prfsha256-x25519|aes256gcm16|1500|gateway RSA certificate, client EAP-MSCHAPv2 (several IKE_AUTH rounds); AES-256-GCM-16, Curve25519
"

export TB_LOG_KEYS=1
# The client's "secret" for EAP and the PSK are fixed test values (README).
export TB_PSK TB_EAP_USER TB_EAP_PASS
trap 'tb_down' EXIT
trap 'exit 130' INT TERM
tb_up || exit 1
CAP=$TB_DIR/capture
mkdir -p "$CAP" "$OUT"
rm -f "$OUT"/*.bin "$OUT"/*_keys.txt "$OUT"/*.pem

# capture CASE VARIANT IKE ESP FRAGSIZE: one connection, pcap in $CAP/CASE.pcap
capture() {
	local case=$1 variant=$2 pcap=$CAP/$1.pcap tpid
	# shellcheck disable=SC2034 # read by tb__strongswan_conf
	local TB_FRAGMENT_SIZE=$5
	tb_client_ss_stop
	tb_gw_stop
	tb_gw_start "$variant" || return 1
	TB_CLI_PROPOSALS=$3 TB_CLI_ESP_PROPOSALS=$4 TB_CLI_INITIATE=0 \
		tb_client_ss_start "$variant" || return 1
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
	kill -INT "$tpid"
	tb_wait_for "! kill -0 $tpid 2>/dev/null" 10 || kill -9 "$tpid"
	cp "$TB_DIR/cli/charon.log" "$CAP/$case.cli.log"
}

extract() { # CASE IKE ESP DESCRIPTION
	tshark -r "$CAP/$1.pcap" -T fields -E separator=/t -e frame.number -e ip.src \
		-e udp.srcport -e udp.dstport -e udp.payload >"$CAP/$1.fields" 2>"$CAP/$1.fields.err" || {
		cat "$CAP/$1.fields.err" >&2
		return 1
	}
	"$PY" - "$1" "$2" "$3" "$4" "$CAP/$1.fields" "$CAP/$1.cli.log" "$OUT" "$TB_PSK" <<'EOF'
import hashlib, hmac, re, struct, sys
case, ike_prop, esp_prop, what, fields, log, out, psk = sys.argv[1:9]
CLIENT = "10.99.0.2"

# ---- the packets ------------------------------------------------------------
EXCH = {34: "ike_sa_init", 35: "ike_auth", 36: "create_child_sa", 37: "informational"}
ike, esp = {}, {}
for line in open(fields):
    num, src, sport, dport, payload = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
    data = bytes.fromhex(payload)
    is4500 = "4500" in (sport, dport)
    if is4500 and len(data) == 1:
        continue                                  # NAT-T keepalive 0xff
    if is4500 and data[:4] != b"\0\0\0\0":        # ESP: SPI is never zero
        esp.setdefault("i2r" if src == CLIENT else "r2i", data)
        continue
    if is4500:
        data = data[4:]                           # strip the non-ESP marker
    ispi, rspi, np, ver, xt, flags, mid, length = struct.unpack("!8s8sBBBBII", data[:28])
    assert length == len(data), "IKE length field != UDP payload"
    if xt not in (34, 35):
        continue
    d = "resp" if flags & 0x20 else "req"
    name = "%s_%d_%s_%s" % (case, mid + 1, EXCH[xt], d)
    if np == 53:                                  # SKF: fragment number/total
        fno, ftot = struct.unpack("!HH", data[32:36])
        name += "_frag%dof%d" % (fno, ftot)
    if name in ike and ike[name] != data:
        sys.exit("%s: two different messages for %s (INVALID_KE retry?)" % (case, name))
    ike[name] = data

# ---- the keys in charon's log (hex dumps at level 4) ----------------------------
dumps, spis = {}, {}
cur = pending = None
for line in open(log):
    m = re.search(r"\] <[^>]*> (.+?) => (\d+) bytes @ 0x", line)
    if m:
        cur = m.group(1)
        dumps[cur] = bytearray()
        left = int(m.group(2))
        continue
    m = re.search(r"\] <[^>]*> +\d+: ((?:[0-9A-F]{2} ){1,16})", line)
    if cur is not None and m and left > 0:
        b = bytes.fromhex(m.group(1))[:left]
        dumps[cur] += b
        left -= len(b)
        continue
    cur = None
    m = re.search(r"adding (in|out)bound ESP SA", line)
    if m:
        pending = m.group(1)
    m = re.search(r"SPI 0x([0-9a-f]{8}), src", line)
    if m and pending:
        spis[pending] = m.group(1)
        pending = None

def dump(name):
    if name not in dumps:
        sys.exit("%s: '%s' not in %s (log level ike/chd 4?)" % (case, name, log))
    return bytes(dumps[name])

# ---- parse IKE_SA_INIT for nonces -----------------------------------------------
def payloads(msg, np, off):
    while np and off < len(msg):
        nxt, crit, plen = struct.unpack("!BBH", msg[off:off + 4])
        yield np, msg[off + 4:off + plen], off
        np, off = nxt, off + plen

def nonce(msg):
    return next(body for t, body, _ in payloads(msg, msg[16], 28) if t == 40)

init_req = ike["%s_1_ike_sa_init_req" % case]
init_resp = ike["%s_1_ike_sa_init_resp" % case]
ni, nr = nonce(init_req), nonce(init_resp)
spi_i, spi_r = init_resp[:8], init_resp[8:16]

# ---- derive and compare (RFC 7296 2.14, 2.17) -----------------------------------
aead = "gcm" in ike_prop or "chacha" in ike_prop
esp_aead = "gcm" in esp_prop or "chacha" in esp_prop
prf = lambda k, d: hmac.new(k, d, hashlib.sha256).digest()   # every case: PRF_HMAC_SHA2_256
def prf_plus(k, s, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = prf(k, t + s + bytes([i])); out += t; i += 1
    return out[:n]
g_ir = dump("shared Diffie Hellman secret")
skeyseed = prf(ni + nr, g_ir)
assert skeyseed == dump("SKEYSEED"), "SKEYSEED mismatch"
names = ["Sk_d", "Sk_ai", "Sk_ar", "Sk_ei", "Sk_er", "Sk_pi", "Sk_pr"]
lens = [32, 0 if aead else 32, 0 if aead else 32, 36 if aead else 32, 36 if aead else 32, 32, 32]
km = prf_plus(skeyseed, ni + nr + spi_i + spi_r, sum(lens))
keys, off = {}, 0
for n, l in zip(names, lens):
    keys[n.lower()] = km[off:off + l]
    off += l
    if l:
        assert keys[n.lower()] == dump(n + " secret"), n + " mismatch"
elen, ilen = (36, 0) if esp_aead else (32, 32)
ekm = prf_plus(keys["sk_d"], ni + nr, 2 * (elen + ilen))
e_i, a_i = ekm[:elen], ekm[elen:elen + ilen]
e_r, a_r = ekm[elen + ilen:2 * elen + ilen], ekm[2 * elen + ilen:]
assert e_i == dump("encryption initiator key") and e_r == dump("encryption responder key"), "ESP keys"
if ilen:
    assert a_i == dump("integrity initiator key") and a_r == dump("integrity responder key")

# ---- decrypt every SK/SKF payload and both ESP packets (needs cryptography) ------
def aead_open(key, iv, ct, aad, chacha):
    # RFC 5282 / RFC 7634: key = cipher key | 4-byte salt, nonce = salt | IV
    from cryptography.hazmat.primitives.ciphers import aead as A
    c = A.ChaCha20Poly1305(key[:-4]) if chacha else A.AESGCM(key[:-4])
    return c.decrypt(key[-4:] + iv, ct, aad)

def cbc_open(ekey, akey, ivoff, msg):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    assert hmac.compare_digest(prf(akey, msg[:-16])[:16], msg[-16:]), "ICV"
    d = Cipher(algorithms.AES(ekey), modes.CBC(msg[ivoff:ivoff + 16])).decryptor()
    return d.update(msg[ivoff + 16:-16]) + d.finalize()

verified = "keys checked against the prf+ derivation"
try:
    import cryptography  # noqa: F401
    for name, msg in sorted(ike.items()):
        if msg[18] != 35:
            continue
        resp = msg[19] & 0x20
        ek = keys["sk_er"] if resp else keys["sk_ei"]
        ak = keys["sk_ar"] if resp else keys["sk_ai"]
        sk = next((o, t) for t, _, o in payloads(msg, msg[16], 28) if t in (46, 53))
        hdr = sk[0] + (8 if sk[1] == 53 else 4)
        if aead:
            pt = aead_open(ek, msg[hdr:hdr + 8], msg[hdr + 8:], msg[:hdr], "chacha" in ike_prop)
        else:
            pt = cbc_open(ek, ak, hdr, msg)
        assert pt[-1] < len(pt), name + ": padding"
    for d, pkt in esp.items():
        k, a = (e_i, a_i) if d == "i2r" else (e_r, a_r)
        assert pkt[:4].hex() == spis["out" if d == "i2r" else "in"], "ESP SPI"
        pt = (aead_open(k, pkt[8:16], pkt[16:], pkt[:8], "chacha" in esp_prop) if esp_aead
              else cbc_open(k, a, 8, pkt))
        assert pt[-1] == 4, "ESP next header is not IPv4"
        inner = pt[:-2 - pt[-2]]
        assert inner[9] == 1, "ESP inner packet is not ICMP"
    verified += "; every IKE_AUTH SK/SKF payload and both ESP packets decrypted"
except ImportError:
    verified += "; python3 cryptography missing, payloads not decrypted"

# ---- write ----------------------------------------------------------------------
for name, msg in ike.items():
    open("%s/%s.bin" % (out, name), "wb").write(msg)
want = {"i2r", "r2i"} - set(esp)
if want:
    sys.exit("%s: no ESP packet %s" % (case, want))
for d, pkt in esp.items():
    open("%s/%s_esp_%s.bin" % (out, case, d), "wb").write(pkt)
h = lambda b: b.hex()
lines = [
    "# %s: %s" % (case, what),
    "# IKE proposal %s, ESP proposal %s, strongSwan client -> strongSwan gateway" % (ike_prop, esp_prop),
    "# PSK (ASCII): %s" % psk,
    "# %s" % verified,
    "psk = " + h(psk.encode()),
    "spi_i = " + h(spi_i), "spi_r = " + h(spi_r),
    "ni = " + h(ni), "nr = " + h(nr),
    "g_ir = " + h(g_ir), "skeyseed = " + h(skeyseed),
]
lines += ["%s = %s" % (n.lower(), h(keys[n.lower()])) for n, l in zip(names, lens) if l]
lines += [
    "# ESP (CHILD_SA): i2r = client -> gateway, r2i = gateway -> client; AEAD keys end in the 4-byte salt",
    "esp_spi_i2r = " + spis["out"], "esp_spi_r2i = " + spis["in"],
    "esp_encr_i2r = " + h(e_i), "esp_encr_r2i = " + h(e_r),
]
if ilen:
    lines += ["esp_integ_i2r = " + h(a_i), "esp_integ_r2i = " + h(a_r)]
open("%s/%s_keys.txt" % (out, case), "w").write("\n".join(lines) + "\n")
print("capture-fixtures: %s: %d IKE messages, ESP both ways; %s" % (case, len(ike), verified))
EOF
}

# write_readme STRONGSWAN TSHARK: tests/fixtures/README.md, with the file list
write_readme() {
	cat <<-EOF
	# IKEv2 fixtures: real strongSwan messages with their keys

	Generated by \`sh scripts/capture-fixtures.sh\` (root, netns, strongSwan,
	tshark, python3); regenerate with the same command. Not part of the test
	run. **Every regeneration changes every file** (fresh SPIs, nonces, DH
	keys, certificates): tests must read values from \`<case>_keys.txt\`, never
	hard-code them.

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

	## Cases

	| case | IKE proposal (client offers only this) | ESP | notes |
	|---|---|---|---|
	EOF
	while IFS='|' read -r case variant ike esp frag what; do
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
	  and every IKE_AUTH SK/SKF payload and both ESP packets decrypted with
	  them (the first comment of each file says so).
	- `rsa_cert_ca.pem`, `rsa_cert_gw.pem`: the test CA and the gateway
	  certificate (RSA-2048, SAN DNS gw.ikeagent.test, IP 10.99.0.1 and
	  fd99::1) of this capture, used by `rsa_cert*` and `eap_mschapv2`. No
	  private key is kept.

	| file | bytes |
	|---|---|
	EOF
	local f
	for f in "$OUT"/*; do
		case $f in */README.md) continue ;; esac
		echo "| \`$(basename "$f")\` | $(wc -c <"$f") |"
	done
}

while IFS='|' read -r case variant ike esp frag what; do
	[ -n "$case" ] || continue
	capture "$case" "$variant" "$ike" "$esp" "$frag" || exit 1
	extract "$case" "$ike" "$esp" "$what" || exit 1
done <<<"$CASES"
cp "$TB_DIR/pki/ca-rsa.pem" "$OUT/rsa_cert_ca.pem"
cp "$TB_DIR/pki/gw-rsa.pem" "$OUT/rsa_cert_gw.pem"
version=$(sed -n 's/.*Starting IKE charon daemon (\(strongSwan [^,]*\),.*/\1/p' "$CAP/psk_gcm.cli.log" | head -n 1)
write_readme "$version (Debian package strongswan-charon $(dpkg-query -W -f '${Version}' strongswan-charon 2>/dev/null))" \
	"$(tshark --version 2>/dev/null | head -n 1 | sed 's/\.$//')" >"$OUT/README.md"
echo "capture-fixtures: wrote $(ls "$OUT" | wc -l) files to $OUT"
