#!/usr/bin/env python3
"""Extract and check one case of scripts/capture-fixtures.sh.

Reads the case's pcap (tshark) and the client charon's log (hex dumps at
"ike 4"/"chd 4"), writes the case's files into OUTDIR:

  <case>_<n>_<exchange>_<req|resp>[_fragKofN].bin   n = message ID + 1
  <case>_esp_i2r.bin, <case>_esp_r2i.bin             the ping's ESP packets
  <case>_keys.txt                                    name = hex
  <case>_sa_expect.txt                               with --sa-expect

and checks what it writes: the logged keys are recomputed (RFC 7296 2.14,
2.17, 2.18), every SK/SKF payload and both ESP packets are decrypted
(needs the cryptography module; optional unless --rekey or --sa-expect),
and with --sa-expect every SA payload is decoded twice, here and by
tshark's IKEv2 dissector with the keys in its decryption table, and the
two must agree. Old files of the case are replaced only once all passed.
"""
import argparse
import glob
import hashlib
import hmac
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

CLIENT = "10.99.0.2"
EXCH = {34: "ike_sa_init", 35: "ike_auth", 36: "create_child_sa", 37: "informational"}
PL_SA, PL_KE, PL_NONCE, PL_SK, PL_SKF = 33, 34, 40, 46, 53
PROTO = {1: "IKE", 2: "AH", 3: "ESP"}
TTYPE = {1: "ENCR", 2: "PRF", 3: "INTEG", 4: "DH", 5: "ESN"}
FLAG_I, FLAG_R = 0x08, 0x20


def fail(msg):
    sys.exit("capture-fixtures: %s: %s" % (ARGS.case, msg))


def tshark(*args):
    r = subprocess.run(["tshark", *args], capture_output=True, text=True)
    if r.returncode != 0:
        fail("tshark %s: %s" % (" ".join(args[:4]), r.stderr.strip()))
    return r.stdout


# ---- the packets ----------------------------------------------------------------

def read_pcap(pcap):
    """IKE messages {name: (frame, bytes)} and the first ESP packet each way."""
    msgs, esp = {}, {}
    out = tshark("-r", pcap, "-T", "fields", "-E", "separator=/t", "-e", "frame.number",
                 "-e", "ip.src", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.payload")
    for line in out.splitlines():
        num, src, sport, dport, payload = (line.split("\t") + [""] * 5)[:5]
        data = bytes.fromhex(payload)
        is4500 = "4500" in (sport, dport)
        if is4500 and len(data) == 1:
            continue                                  # NAT-T keepalive 0xff
        if is4500 and data[:4] != b"\0\0\0\0":        # ESP: SPI is never zero
            esp.setdefault("i2r" if src == CLIENT else "r2i", data)
            continue
        if is4500:
            data = data[4:]                           # strip the non-ESP marker
        np, xt, flags, mid, length = struct.unpack("!16xBxBBII", data[:28])
        if length != len(data):
            fail("frame %s: IKE length field != UDP payload" % num)
        if xt not in (34, 35, 36):
            continue
        name = "%s_%d_%s_%s" % (ARGS.case, mid + 1, EXCH[xt], "resp" if flags & FLAG_R else "req")
        if np == PL_SKF:
            name += "_frag%dof%d" % struct.unpack("!HH", data[32:36])
        msgs.setdefault(name, []).append((int(num), data))
    return msgs, esp


def payloads(msg, np, off):
    """(type, body, offset of the generic header) of a payload chain."""
    while np and off < len(msg):
        nxt, _, plen = struct.unpack("!BBH", msg[off:off + 4])
        if plen < 4 or off + plen > len(msg):
            fail("payload %d at %d: bad length %d" % (np, off, plen))
        yield np, msg[off + 4:off + plen], off
        np, off = nxt, off + plen


def find(msg, np, off, want):
    return next((body for t, body, _ in payloads(msg, np, off) if t == want), None)


# ---- charon's log -------------------------------------------------------------------

def read_log(path):
    """Hex dumps by (IKE SA unique id, name), the first of each; the SPIs of
    the first CHILD_SA; the selected proposals in order."""
    dumps, order, spis, selected = {}, [], {}, []
    cur = pending = None
    for line in open(path):
        m = re.search(r"\] <(?:[^|>]*\|)?(\d+)> (.+?) => (\d+) bytes @ 0x", line)
        if m:
            key = (int(m.group(1)), m.group(2))
            cur = None if key in dumps else key
            if cur:
                dumps[cur] = bytearray()
                left = int(m.group(3))
                if key[1] == "SKEYSEED":
                    order.append(key[0])
            continue
        m = re.search(r"\] <[^>]*> +\d+: ((?:[0-9A-F]{2} ){1,16})", line)
        if cur is not None and m and left > 0:
            b = bytes.fromhex(m.group(1))[:left]
            dumps[cur] += b
            left -= len(b)
            continue
        cur = None
        m = re.search(r"selected proposal: ((?:IKE|ESP):\S+)", line)
        if m:
            selected.append(m.group(1))
        m = re.search(r"adding (in|out)bound ESP SA", line)
        if m and m.group(1) not in spis:
            pending = m.group(1)
        m = re.search(r"SPI 0x([0-9a-f]{8}), src", line)
        if m and pending:
            spis[pending] = m.group(1)
            pending = None
    return dumps, order, spis, selected


def dump(uid, name):
    if (uid, name) not in DUMPS:
        fail("'%s' of IKE SA #%d not in %s (log level ike/chd 4?)" % (name, uid, ARGS.log))
    return bytes(DUMPS[(uid, name)])


# ---- algorithms and keys (RFC 7296 2.13, 2.14, 2.17, 2.18) ----------------------------

class Alg:
    """What a selected proposal ("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/...")
    means for the keys: cipher kind, key lengths (AEAD keys end in the 4-byte salt)."""

    def __init__(self, sel):
        self.sel, self.kind, self.elen, self.ilen = sel, None, 0, 0
        for p in sel.split(":", 1)[1].split("/"):
            m = re.fullmatch(r"AES_(GCM_16|CBC)_(\d+)", p)
            if m:
                self.kind = "gcm" if m.group(1) == "GCM_16" else "cbc"
                self.elen = int(m.group(2)) // 8 + (4 if self.kind == "gcm" else 0)
            elif p == "CHACHA20_POLY1305":
                self.kind, self.elen = "chacha", 36
            elif p == "HMAC_SHA2_256_128":
                self.ilen = 32
            elif p.startswith("PRF_") and p != "PRF_HMAC_SHA2_256":
                fail("%s: only PRF_HMAC_SHA2_256 is checked here" % sel)
            elif not re.fullmatch(r"NO_EXT_SEQ|CURVE_25519|CURVE_448|ECP_\d+(_BP)?|MODP_\d+|PRF_HMAC_SHA2_256", p):
                fail("%s: %s is not checked here" % (sel, p))
        if self.kind is None or (self.kind == "cbc") != bool(self.ilen):
            fail("%s: not one of AES-GCM-16, ChaCha20-Poly1305, AES-CBC + HMAC-SHA-256-128" % sel)

    @property
    def aead(self):
        return self.kind != "cbc"


def prf(k, d):
    return hmac.new(k, d, hashlib.sha256).digest()     # PRF_HMAC_SHA2_256 (Alg checks)


def prf_plus(k, s, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = prf(k, t + s + bytes([i]))
        out += t
        i += 1
    return out[:n]


SK_NAMES = ["sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er", "sk_pi", "sk_pr"]


def ike_keys(uid, alg, skeyseed, seed):
    """SK_* = prf+(SKEYSEED, seed), each compared with charon's dump."""
    lens = [32, alg.ilen, alg.ilen, alg.elen, alg.elen, 32, 32]
    km, keys, off = prf_plus(skeyseed, seed, sum(lens)), {}, 0
    for n, ln in zip(SK_NAMES, lens):
        keys[n] = km[off:off + ln]
        off += ln
        if ln and keys[n] != dump(uid, n.capitalize() + " secret"):
            fail("IKE SA #%d: %s differs from charon's" % (uid, n))
    return keys


# ---- decryption (cryptography module) ----------------------------------------------

def aead_open(key, iv, ct, aad, chacha):
    # RFC 5282 / RFC 7634: key = cipher key | 4-byte salt, nonce = salt | IV
    from cryptography.hazmat.primitives.ciphers import aead as A
    c = A.ChaCha20Poly1305(key[:-4]) if chacha else A.AESGCM(key[:-4])
    return c.decrypt(key[-4:] + iv, ct, aad)


def cbc_open(ekey, akey, ivoff, msg):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    if not hmac.compare_digest(prf(akey, msg[:-16])[:16], msg[-16:]):
        raise ValueError("ICV")
    d = Cipher(algorithms.AES(ekey), modes.CBC(msg[ivoff:ivoff + 16])).decryptor()
    return d.update(msg[ivoff + 16:-16]) + d.finalize()


def sk_open(name, msg, alg, keys):
    """(first inner payload type, inner payloads) of the SK/SKF payload. Keys
    by the Initiator flag: the original initiator's messages use SK_ei/SK_ai,
    whoever sends the request."""
    s = "i" if msg[19] & FLAG_I else "r"
    ek, ak = keys["sk_e" + s], keys["sk_a" + s]
    t, off = next(((t, o) for t, _, o in payloads(msg, msg[16], 28) if t in (PL_SK, PL_SKF)),
                  (None, 0))
    if t is None:
        fail("%s: no SK payload" % name)
    hdr = off + (8 if t == PL_SKF else 4)
    try:
        if alg.aead:
            pt = aead_open(ek, msg[hdr:hdr + 8], msg[hdr + 8:], msg[:hdr], alg.kind == "chacha")
        else:
            pt = cbc_open(ek, ak, hdr, msg)
    except Exception as e:  # InvalidTag, ValueError
        fail("%s does not decrypt with sk_e%s: %r" % (name, s, e))
    if pt[-1] >= len(pt):
        fail("%s: padding" % name)
    return msg[off], pt[:-1 - pt[-1]]


# ---- SA payloads --------------------------------------------------------------------

def sa_decode(body):
    """[(num, proto, spi, n_trans field, [(type, id, key length or None)])]"""
    props, off, last = [], 0, 2
    while last == 2:
        if off + 8 > len(body):
            fail("SA payload: proposal runs past the end")
        last, _, plen, num, proto, spisize, ntrans = struct.unpack("!BBHBBBB", body[off:off + 8])
        spi, t, end, trans = body[off + 8:off + 8 + spisize], off + 8 + spisize, off + plen, []
        while t < end:
            _, _, tlen, ttype, _, tid = struct.unpack("!BBHBBH", body[t:t + 8])
            keylen, a = None, t + 8
            while a < t + tlen:
                atype, aval = struct.unpack("!HH", body[a:a + 4])
                if not atype & 0x8000:
                    fail("SA payload: TLV transform attribute %d" % atype)
                if atype & 0x7fff == 14:
                    keylen = aval
                a += 4
            trans.append((ttype, tid, keylen))
            t += tlen
        props.append((num, proto, spi, ntrans, trans))
        off = end
    if off != len(body):
        fail("SA payload: %d bytes after the last proposal" % (len(body) - off))
    return props


def sa_key(props):
    """What both decoders must agree on (the SPI included)."""
    return [(n, p, s.hex(), nt, tr) for n, p, s, nt, tr in props]


def sa_tshark(pcap, frames, uat):
    """{frame: [(inner?, sa_key)]} from tshark's dissector, decrypting with uat."""
    out = tshark("-r", pcap, "-o", "uat:ikev2_decryption_table:" + uat, "-T", "pdml",
                 "-Y", " || ".join("frame.number == %d" % f for f in frames))
    got = {}

    def fields(el, name):
        return [f for f in el.findall("field") if f.get("name") == name]

    def show(el, name):
        return int(fields(el, name)[0].get("show"))

    def prop(p):
        spi = fields(p, "isakmp.spi")
        trans = []
        for t in fields(p, "isakmp.typepayload"):
            tid = next(f for f in t.findall("field") if f.get("name", "").startswith("isakmp.tf.id"))
            kl = t.findall(".//field[@name='isakmp.ike2.attr.key_length']")
            trans.append((show(t, "isakmp.tf.type"), int(tid.get("show")),
                          int(kl[0].get("show")) if kl else None))
        return (show(p, "isakmp.prop.number"), show(p, "isakmp.prop.protoid"),
                spi[0].get("value") if spi else "", show(p, "isakmp.prop.transforms"), trans)

    def walk(el, inner, acc):
        for f in el.findall("field"):
            if f.get("name") == "isakmp.enc.decrypted":
                walk(f, True, acc)
            elif f.get("name") == "isakmp.typepayload" and f.get("show") == str(PL_SA):
                acc.append((inner, [prop(p) for p in fields(f, "isakmp.typepayload")]))
            else:
                walk(f, inner, acc)

    for pkt in ET.fromstring(out).iter("packet"):
        frame = int(pkt.find("proto[@name='geninfo']/field[@name='num']").get("show"))
        acc = []
        for proto in pkt.findall("proto[@name='isakmp']"):
            walk(proto, False, acc)
        got[frame] = acc
    return got


def uat_line(spi_i, spi_r, alg, keys):
    # Wireshark's IKEv2 decryption table: SPIs, SK_ei, SK_er, cipher, SK_ai, SK_ar, integrity
    if alg.kind == "gcm":
        enc = "AES-GCM-%d with 16 octet ICV [RFC5282]" % ((alg.elen - 4) * 8)
    elif alg.kind == "cbc":
        enc = "AES-CBC-%d [RFC3602]" % (alg.elen * 8)
    else:
        fail("no tshark name for %s" % alg.sel)
    integ = "HMAC_SHA2_256_128 [RFC4868]" if alg.ilen else "NONE [RFC4306]"
    return '%s,%s,%s,%s,"%s",%s,%s,"%s"' % (spi_i.hex(), spi_r.hex(), keys["sk_ei"].hex(),
                                             keys["sk_er"].hex(), enc, keys["sk_ai"].hex(),
                                             keys["sk_ar"].hex(), integ)


def sa_line(fname, where, p):
    num, proto, _, ntrans, trans = p
    ids = ",".join("%d:%d%s" % (t, i, "" if k is None else "/%d" % k) for t, i, k in trans)
    return "%s %s prop=%d proto=%s spi_size=%d transforms=%d ids=%s" % (
        fname, where, num, PROTO.get(proto, str(proto)), len(p[2]), ntrans, ids)


# ---- main ---------------------------------------------------------------------------

def main():
    global ARGS, DUMPS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for a in ("case", "pcap", "log", "out", "psk", "what", "ike", "esp"):
        ap.add_argument(a)
    ap.add_argument("--rekey", action="store_true",
                    help="the gateway rekeyed the CHILD_SA and the IKE SA: keep and check its CREATE_CHILD_SA")
    ap.add_argument("--sa-expect", action="store_true", help="write <case>_sa_expect.txt")
    ARGS = ap.parse_args()
    case = ARGS.case
    try:
        import cryptography  # noqa: F401
        have_crypto = True
    except ImportError:
        have_crypto = False
        if ARGS.rekey or ARGS.sa_expect:
            fail("needs the python3 cryptography module")

    found, esp = read_pcap(ARGS.pcap)
    DUMPS, order, spis, selected = read_log(ARGS.log)
    sel_ike = [s for s in selected if s.startswith("IKE:")]
    sel_esp = [s for s in selected if s.startswith("ESP:")]
    if not order or not sel_ike or not sel_esp or set(spis) != {"in", "out"}:
        fail("%s: no SKEYSEED, selected proposals or ESP SPIs (log levels?)" % ARGS.log)

    # The first IKE SA: every message of IKE_SA_INIT and IKE_AUTH; its
    # CREATE_CHILD_SA only with --rekey (later IKE SAs are left out).
    init_resp = found.get("%s_1_ike_sa_init_resp" % case, [(0, b"")])[0][1]
    spi_i, spi_r = init_resp[:8], init_resp[8:16]
    ike = {}
    for name, seen in found.items():
        if "_create_child_sa_" in name:
            seen = [s for s in seen if s[1][:16] == spi_i + spi_r]
            if not ARGS.rekey or not seen:
                continue
        if len({d for _, d in seen}) > 1:
            fail("two different messages for %s (INVALID_KE retry?)" % name)
        ike[name] = seen[0]
    init_req = ike.get("%s_1_ike_sa_init_req" % case, (0, b""))[1]
    if not init_req or not init_resp:
        fail("no IKE_SA_INIT in %s" % ARGS.pcap)
    ni, nr = find(init_req, init_req[16], 28, PL_NONCE), find(init_resp, init_resp[16], 28, PL_NONCE)

    # ---- keys of the first IKE SA and CHILD_SA ----
    uid = order[0]
    alg = Alg(sel_ike[0])
    g_ir = dump(uid, "shared Diffie Hellman secret")
    skeyseed = prf(ni + nr, g_ir)
    if skeyseed != dump(uid, "SKEYSEED"):
        fail("SKEYSEED mismatch")
    keys = ike_keys(uid, alg, skeyseed, ni + nr + spi_i + spi_r)
    ealg = Alg(sel_esp[0])
    elen, ilen = ealg.elen, ealg.ilen
    ekm = prf_plus(keys["sk_d"], ni + nr, 2 * (elen + ilen))
    e_i, a_i = ekm[:elen], ekm[elen:elen + ilen]
    e_r, a_r = ekm[elen + ilen:2 * elen + ilen], ekm[2 * elen + ilen:]
    if e_i != dump(uid, "encryption initiator key") or e_r != dump(uid, "encryption responder key"):
        fail("ESP encryption keys differ from charon's")
    if ilen and (a_i != dump(uid, "integrity initiator key") or a_r != dump(uid, "integrity responder key")):
        fail("ESP integrity keys differ from charon's")
    want = {"i2r", "r2i"} - set(esp)
    if want:
        fail("no ESP packet %s" % want)

    # ---- decrypt: every SK/SKF payload, both ESP packets ----
    verified = "keys checked against the prf+ derivation"
    inner = {}
    if have_crypto:
        for name, (_, msg) in sorted(ike.items()):
            if msg[18] != 34:
                inner[name] = sk_open(name, msg, alg, keys)
        for d, pkt in esp.items():
            k, a = (e_i, a_i) if d == "i2r" else (e_r, a_r)
            if pkt[:4].hex() != spis["out" if d == "i2r" else "in"]:
                fail("ESP %s: SPI %s is not the first CHILD_SA's" % (d, pkt[:4].hex()))
            try:
                pt = (aead_open(k, pkt[8:16], pkt[16:], pkt[:8], ealg.kind == "chacha") if ealg.aead
                      else cbc_open(k, a, 8, pkt))
            except Exception as e:
                fail("ESP %s does not decrypt: %r" % (d, e))
            if pt[-1] != 4 or pt[:-2 - pt[-2]][9] != 1:
                fail("ESP %s: not an IPv4 ICMP packet inside" % d)
        ccsa = sorted(n for n in ike if "_create_child_sa_" in n)
        verified += "; every %s SK/SKF payload and both ESP packets decrypted" % (
            "IKE_AUTH and CREATE_CHILD_SA" if ccsa else "IKE_AUTH")
    else:
        verified += "; python3 cryptography missing, payloads not decrypted"

    # ---- the gateway's rekeys under this IKE SA ----
    rekey_lines = []
    if ARGS.rekey:
        rekey_lines = check_rekeys(ike, inner, keys, alg, order, sel_ike)

    # ---- SA payloads: ours and tshark's ----
    sa_lines = []
    if ARGS.sa_expect:
        sa_lines = list_sas(ike, inner, spi_i, spi_r, alg, keys)

    # ---- write (the case's old files first out) ----
    out = ARGS.out
    for f in (glob.glob("%s/%s_[0-9]*_*.bin" % (out, case)) + glob.glob("%s/%s_esp_*.bin" % (out, case))
              + glob.glob("%s/%s_keys.txt" % (out, case)) + glob.glob("%s/%s_sa_expect.txt" % (out, case))):
        os.remove(f)
    for name, (_, msg) in ike.items():
        open("%s/%s.bin" % (out, name), "wb").write(msg)
    for d, pkt in esp.items():
        open("%s/%s_esp_%s.bin" % (out, case, d), "wb").write(pkt)
    h = bytes.hex
    lines = [
        "# %s: %s" % (case, ARGS.what),
        "# IKE proposal %s, ESP proposal %s, strongSwan client -> strongSwan gateway" % (ARGS.ike, ARGS.esp),
        "# selected: %s, %s" % (sel_ike[0], sel_esp[0]),
        "# PSK (ASCII): %s" % ARGS.psk,
        "# %s" % verified,
        "psk = " + h(ARGS.psk.encode()),
        "spi_i = " + h(spi_i), "spi_r = " + h(spi_r),
        "ni = " + h(ni), "nr = " + h(nr),
        "g_ir = " + h(g_ir), "skeyseed = " + h(skeyseed),
    ]
    lines += ["%s = %s" % (n, h(keys[n])) for n in SK_NAMES if keys[n]]
    lines += [
        "# ESP (CHILD_SA): i2r = client -> gateway, r2i = gateway -> client; AEAD keys end in the 4-byte salt",
        "esp_spi_i2r = " + spis["out"], "esp_spi_r2i = " + spis["in"],
        "esp_encr_i2r = " + h(e_i), "esp_encr_r2i = " + h(e_r),
    ]
    if ilen:
        lines += ["esp_integ_i2r = " + h(a_i), "esp_integ_r2i = " + h(a_r)]
    open("%s/%s_keys.txt" % (out, case), "w").write("\n".join(lines + rekey_lines) + "\n")
    if sa_lines:
        open("%s/%s_sa_expect.txt" % (out, case), "w").write("\n".join(sa_lines) + "\n")
    print("capture-fixtures: %s: %d IKE messages, ESP both ways%s; %s" % (
        case, len(ike), ", SA payloads agree with tshark" if sa_lines else "", verified))


def check_rekeys(ike, inner, keys, alg, order, sel_ike):
    """The gateway's CREATE_CHILD_SA under the first IKE SA: one rekeying the
    CHILD_SA, one the IKE SA; the new IKE SA's keys recomputed (RFC 7296 2.18)."""
    kinds, ike_rekey = {}, None
    for name in sorted(n for n in ike if "_create_child_sa_req" in n):
        msg = ike[name][1]
        if msg[19] & FLAG_I:
            fail("%s: sent by the client; only the gateway rekeys here" % name)
        first, pl = inner[name]
        sa = find(pl, first, 0, PL_SA)
        if sa is None:
            fail("%s: no SA payload" % name)
        proto = sa_decode(sa)[0][1]
        kinds.setdefault(proto, []).append(name)
        if proto == 1 and ike_rekey is None:
            ike_rekey = name
    if 1 not in kinds or 3 not in kinds:
        fail("want the gateway's CHILD_SA and IKE SA rekey under the first IKE SA, got %s" % kinds)
    resp = ike_rekey.replace("_req", "_resp")
    if resp not in ike or len(order) < 2 or len(sel_ike) < 2:
        fail("the IKE SA rekey %s has no response or no keys in the log" % ike_rekey)
    (f1, req_pl), (f2, resp_pl) = inner[ike_rekey], inner[resp]
    r_ni, r_nr = find(req_pl, f1, 0, PL_NONCE), find(resp_pl, f2, 0, PL_NONCE)
    r_spi_i = sa_decode(find(req_pl, f1, 0, PL_SA))[0][2]
    r_spi_r = sa_decode(find(resp_pl, f2, 0, PL_SA))[0][2]
    uid = order[1]
    r_alg = Alg(sel_ike[1])
    r_g_ir = dump(uid, "shared Diffie Hellman secret")
    # SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr); Ni, SPIi: the rekey's initiator (gateway)
    r_skeyseed = prf(keys["sk_d"], r_g_ir + r_ni + r_nr)
    if r_skeyseed != dump(uid, "SKEYSEED"):
        fail("rekeyed SKEYSEED mismatch")
    r_keys = ike_keys(uid, r_alg, r_skeyseed, r_ni + r_nr + r_spi_i + r_spi_r)
    h = bytes.hex
    lines = [
        "# CREATE_CHILD_SA: the gateway's requests (its own message IDs, Initiator flag clear:",
        "# encrypted with sk_er) and the client's responses (sk_ei), all under the IKE SA above:",
        "#   CHILD_SA rekey (SA protocol ESP): %s" % " ".join(kinds[3]),
        "#   IKE SA rekey (SA protocol IKE, KE): %s" % " ".join(kinds[1]),
        "# The IKE SA made by %s (%s); its initiator is the gateway" % (ike_rekey, sel_ike[1]),
        "rekey_spi_i = " + h(r_spi_i), "rekey_spi_r = " + h(r_spi_r),
        "rekey_ni = " + h(r_ni), "rekey_nr = " + h(r_nr),
        "rekey_g_ir = " + h(r_g_ir), "rekey_skeyseed = " + h(r_skeyseed),
    ]
    lines += ["rekey_%s = %s" % (n, h(r_keys[n])) for n in SK_NAMES if r_keys[n]]
    return lines


def list_sas(ike, inner, spi_i, spi_r, alg, keys):
    """Every SA payload of the kept messages, decoded here and by tshark."""
    ours, frames = {}, {}
    for name, (frame, msg) in sorted(ike.items(), key=lambda kv: kv[1][0]):  # capture order
        acc = [(False, sa_key(sa_decode(b))) for t, b, _ in payloads(msg, msg[16], 28) if t == PL_SA]
        if name in inner:
            if "_frag" in name:
                fail("%s: SA listing of fragmented messages not done (raise fragment_size)" % name)
            first, pl = inner[name]
            acc += [(True, sa_key(sa_decode(b))) for t, b, _ in payloads(pl, first, 0) if t == PL_SA]
        if acc:
            ours[name], frames[name] = acc, frame
    theirs = sa_tshark(ARGS.pcap, sorted(frames.values()), uat_line(spi_i, spi_r, alg, keys))
    lines = [
        "# %s: every SA payload of the %s_*.bin files, one line per proposal:" % (ARGS.case, ARGS.case),
        "# <file> <outer|inner (in SK)> prop=<number> proto=<IKE|ESP> spi_size=<octets>",
        "# (files in the order they were sent)",
        "#   transforms=<the proposal's count field> ids=<type:id[/key length],...> in wire order",
        "# Transform types: 1 ENCR, 2 PRF, 3 INTEG, 4 DH, 5 ESN. Decoded by capture-fixtures.py",
        "# and by tshark's IKEv2 dissector (decryption table with the keys); both agree.",
    ]
    for name, acc in ours.items():
        if theirs.get(frames[name]) != acc:
            fail("%s: tshark decodes the SA payloads differently:\n  ours   %s\n  tshark %s"
                 % (name, acc, theirs.get(frames[name])))
        for where, props in acc:
            for p in props:
                if len(p[4]) != p[3]:
                    fail("%s: proposal %d says %d transforms, has %d" % (name, p[0], p[3], len(p[4])))
                lines.append(sa_line(name + ".bin", "inner" if where else "outer",
                                     (p[0], p[1], bytes.fromhex(p[2]), p[3], p[4])))
    return lines


ARGS = DUMPS = None
if __name__ == "__main__":
    main()
