#!/usr/bin/env python3
"""Test client for ikerelay: RFC 9329 streams over TCP or TLS (stdlib only).

Usage: relay_client.py [--tls] [--timeout S] [--spi HEX --spi-r HEX] HOST PORT COMMAND

--spi/--spi-r: instead of a fresh initiator SPI, retransmit the IKE_SA_INIT
of an earlier run (its SPIs as printed) and insist on the same response:
strongSwan answers a retransmission from its cache, creating no new
half-open IKE SA. (strongSwan 5.9 asks for COOKIEs from the third half-open
SA of one peer IP, and every relay client shares the relay's IP.)

Commands (each prints one line and exits 0 when the relay behaved, else
prints why on stderr and exits 1):
  sa-init [--reconnect]  prefix + a real IKE_SA_INIT request (fixture, fresh
                         random initiator SPI) -> must get strongSwan's
                         IKE_SA_INIT response. --reconnect: close, connect
                         again from a new port (TLS: resuming the session),
                         resend the same request (a retransmission) and get
                         the response again with the same SPIs.
  stall SECS             send "IKE" and nothing more: the relay must close
                         the stream after about SECS (its --prefix-timeout),
                         while meanwhile a second, good client gets its
                         IKE_SA_INIT answered on another connection, and
                         again after the stalled one was closed.
  takeover               a victim's stream gets its IKE_SA_INIT answered; a
                         second stream (the attacker: same address, knows
                         the SPIs) sends the victim's request and an ESP
                         frame with a SPI of it: the attacker gets nothing
                         back, the victim's stream stays open and its next
                         request is answered on it
  cap N --hold FILE      N streams (prefix, an ESP-looking frame) stay open, the N+1th is
                         closed at once (relay run with --max-conns-per-addr
                         N); prints "cap refused ..." then holds the N until
                         FILE exists (another address is tried meanwhile),
                         then checks they are still open
  prefix-only SECS       "IKETCP" and nothing more: closed after about SECS
                         (--prefix-timeout covers the first frame too)
  rate                   one IKE_SA_INIT answered (--spi), then a second
                         stream's fresh one is refused: the relay closes it
                         at once without an answer (--sa-init-rate 1)
  flood --hold FILE      prefix + one ESP-looking frame (a fake gateway
                         answers with a flood), then reads nothing until
                         FILE exists; then drains: prints bytes received
  idle SECS              prefix + one ESP-looking frame (the gateway drops
                         it), then silence: closed after about SECS
  garbage                "GET / HTTP/1.1": closed at once (first byte wrong)
  wrong-prefix           "IKETCX": closed at once (last byte wrong)
  bad-length             prefix + Length 2: closed (protocol error)
  short-body             prefix + a frame with a 2-byte body: closed
  keepalive              prefix + keepalive frame (00 03 ff), then an
                         IKE_SA_INIT: answered, the stream stayed open
  partial N --bytes B --hold FILE
                         N streams, each: prefix, an ESP-looking frame (a
                         session of its own), then Length 65535 and B bytes
                         of the body, never the rest. Prints "partial sent
                         ..." once each stream's bytes are acknowledged (or
                         the relay closed it), holds until FILE exists, then
                         prints how many the relay closed
  limit                  hold one stream open (prefix sent); a second one
                         must be closed at once, the first stays (relay
                         run with --max-clients 1)
"""
import argparse
import fcntl
import os
import socket
import ssl
import struct
import sys
import time

PREFIX = b"IKETCP"
MARKER = b"\0\0\0\0"
IKE_SA_INIT = 34
FLAG_RESPONSE = 0x20
FLAG_INITIATOR = 0x08
AT_ONCE = 1.0  # seconds: "closed at once"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "tests/fixtures/psk_gcm_1_ike_sa_init_req.bin")


class Fail(Exception):
    pass


def frame(body):
    # RFC 9329 §3: the Length includes its own 2 bytes.
    return struct.pack("!H", len(body) + 2) + body


class Client:
    """One stream to the relay, with a frame reader bounded by deadlines."""

    tls_ctx = None
    tls_session = None

    def __init__(self, args, resume=False):
        self.args = args
        self.buf = b""
        sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
        self.port = sock.getsockname()[1]
        self.resumed = None
        if args.tls:
            if Client.tls_ctx is None:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False  # TLS is only for middleboxes
                ctx.verify_mode = ssl.CERT_NONE
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                Client.tls_ctx = ctx
            session = Client.tls_session if resume else None
            sock = Client.tls_ctx.wrap_socket(sock, session=session)
            self.resumed = sock.session_reused
        self.s = sock

    def send(self, data):
        self.s.sendall(data)

    def close(self):
        if self.args.tls:
            Client.tls_session = self.s.session
        self.s.close()

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.s.settimeout(left)
        return self.s.recv(65536)

    def read_frame(self, deadline):
        while True:
            if len(self.buf) >= 2:
                (length,) = struct.unpack("!H", self.buf[:2])
                if length < 3:
                    raise Fail("relay sent a frame with Length %d" % length)
                if len(self.buf) >= length:
                    body, self.buf = self.buf[2:length], self.buf[length:]
                    if body == b"\xff":
                        raise Fail("relay sent a keepalive over TCP")
                    return body
            try:
                data = self._recv(deadline)
            except (TimeoutError, socket.timeout):
                raise Fail("no frame from the relay within %.1fs" % self.args.timeout)
            if not data:
                raise Fail("relay closed the stream before the frame arrived")
            self.buf += data

    def wait_closed(self, within):
        """Seconds until the relay closed the stream; Fail after within."""
        t0 = time.monotonic()
        deadline = t0 + within
        while True:
            try:
                data = self._recv(deadline)
            except (TimeoutError, socket.timeout):
                raise Fail("stream still open after %.1fs" % within)
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                data = b""
            if not data:
                return time.monotonic() - t0
            raise Fail("relay sent %d unexpected bytes" % len(data))


def sa_init_request(spi_i):
    with open(FIXTURE, "rb") as f:
        msg = bytearray(f.read())
    msg[0:8] = spi_i
    return bytes(msg)


def check_response(body, spi_i):
    """strongSwan's IKE_SA_INIT response: return its responder SPI."""
    if len(body) < 4 + 28:
        raise Fail("frame of %d bytes is no IKE message" % len(body))
    if body[:4] != MARKER:
        raise Fail("no non-ESP marker: %s" % body[:4].hex())
    ike = body[4:]
    if ike[0:8] != spi_i:
        raise Fail("initiator SPI %s, sent %s" % (ike[0:8].hex(), spi_i.hex()))
    spi_r = ike[8:16]
    if spi_r == b"\0" * 8:
        raise Fail("responder SPI is zero (a COOKIE or error response?)")
    if ike[18] != IKE_SA_INIT:
        raise Fail("exchange type %d, not IKE_SA_INIT" % ike[18])
    if not ike[19] & FLAG_RESPONSE or ike[19] & FLAG_INITIATOR:
        raise Fail("flags 0x%02x: not a responder's response" % ike[19])
    (length,) = struct.unpack("!I", ike[24:28])
    if length != len(ike):
        raise Fail("IKE length %d, frame carries %d" % (length, len(ike)))
    return spi_r


def exchange(c, spi_i, timeout):
    c.send(frame(MARKER + sa_init_request(spi_i)))
    return check_response(c.read_frame(time.monotonic() + timeout), spi_i)


def open_with_prefix(args, resume=False):
    c = Client(args, resume)
    c.send(PREFIX)
    return c


def the_sa(args):
    """(spi_i, expected spi_r or None): fresh, or --spi/--spi-r."""
    if not args.spi:
        return os.urandom(8), None
    return bytes.fromhex(args.spi), bytes.fromhex(args.spi_r) if args.spi_r else None


def exchange_same(c, spi_i, want_r, timeout):
    spi_r = exchange(c, spi_i, timeout)
    if want_r is not None and spi_r != want_r:
        raise Fail("retransmission answered with responder SPI %s, expected %s"
                   % (spi_r.hex(), want_r.hex()))
    return spi_r


def cmd_sa_init(args):
    spi_i, want_r = the_sa(args)
    c = open_with_prefix(args)
    spi_r = exchange_same(c, spi_i, want_r, args.timeout)
    port1, resumed1 = c.port, c.resumed
    c.close()
    line = "sa-init ok: spi_i=%s spi_r=%s port=%d" % (spi_i.hex(), spi_r.hex(), port1)
    if args.reconnect:
        c = open_with_prefix(args, resume=True)
        if c.port == port1:
            raise Fail("reconnected from the same port %d" % port1)
        exchange_same(c, spi_i, spi_r, args.timeout)
        line += " reconnect_port=%d" % c.port
        if args.tls:
            line += " resumed=%s" % ("yes" if c.resumed else "no")
        c.close()
    elif args.tls:
        line += " resumed=%s" % ("yes" if resumed1 else "no")
    print(line)


def cmd_stall(args):
    secs = float(args.arg)
    bad = Client(args)
    t0 = time.monotonic()
    bad.send(b"IKE")
    good = open_with_prefix(args)
    spi_i, want_r = the_sa(args)
    spi_r = exchange_same(good, spi_i, want_r, args.timeout)
    bad.wait_closed(secs + 2.0)
    elapsed = time.monotonic() - t0
    if elapsed < secs - 0.5:
        raise Fail("stalled stream closed after %.2fs, prefix timeout is %gs" % (elapsed, secs))
    # The good stream is still usable after the bad one was closed.
    exchange_same(good, spi_i, spi_r, args.timeout)
    good.close()
    print("stall ok: closed after %.2fs (prefix timeout %gs); good client spi_i=%s answered twice"
          % (elapsed, secs, spi_i.hex()))


def expect_close(args, data, what):
    c = Client(args)
    c.send(data)
    t = c.wait_closed(AT_ONCE)
    print("%s ok: closed after %.3fs" % (what, t))


def cmd_keepalive(args):
    c = open_with_prefix(args)
    c.send(frame(b"\xff"))  # RFC 9329: the receiver MUST drop it silently
    spi_i, want_r = the_sa(args)
    spi_r = exchange_same(c, spi_i, want_r, args.timeout)
    c.close()
    print("keepalive ok: dropped, then spi_i=%s answered (spi_r=%s) port=%d"
          % (spi_i.hex(), spi_r.hex(), c.port))


def no_frame(c, within):
    """Fail if c gets a frame within `within` seconds (the stream may stay
    open or be closed: neither is an answer)."""
    try:
        body = c.read_frame(time.monotonic() + within)
    except Fail:
        return
    raise Fail("the second stream got a frame of %d bytes meant for the first" % len(body))


def esp_frame(spi):
    return frame(spi + b"\0\0\0\1" + os.urandom(24))


def cmd_takeover(args):
    spi_i, want_r = the_sa(args)
    victim = open_with_prefix(args)
    spi_r = exchange_same(victim, spi_i, want_r, args.timeout)
    attacker = open_with_prefix(args)
    attacker.send(frame(MARKER + sa_init_request(spi_i)))
    attacker.send(esp_frame(b"\x0a\x0b\x0c\x0d"))
    no_frame(attacker, AT_ONCE)
    # The victim's stream is still open and still gets the gateway's replies.
    exchange_same(victim, spi_i, spi_r, args.timeout)
    attacker.send(frame(MARKER + sa_init_request(spi_i)))
    exchange_same(victim, spi_i, spi_r, args.timeout)
    no_frame(attacker, AT_ONCE)
    victim.close()
    attacker.close()
    print("takeover ok: victim_port=%d answered 3 times, attacker_port=%d got nothing"
          % (victim.port, attacker.port))


def wait_file(path, within):
    deadline = time.monotonic() + within
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise Fail("%s did not appear within %.0fs" % (path, within))
        time.sleep(0.05)


def still_open(c):
    c.send(frame(b"\xff"))  # a keepalive: dropped by the relay
    c.s.settimeout(0.2)
    try:
        if c.s.recv(1) == b"":
            raise Fail("a held stream was closed")
    except (TimeoutError, socket.timeout):
        pass


def cmd_cap(args):
    n = int(args.arg)
    held = [open_with_prefix(args) for _ in range(n)]
    for c in held:
        # A frame (the gateway drops it): a session, so the first-frame
        # deadline does not close the stream while it is held.
        c.send(esp_frame(os.urandom(4).replace(b"\0", b"\1")))
        still_open(c)
    extra = Client(args)
    t = extra.wait_closed(AT_ONCE)
    print("cap refused: stream %d closed after %.3fs" % (n + 1, t), flush=True)
    wait_file(args.hold, 30)
    for c in held:
        still_open(c)
        c.close()
    print("cap ok: %d streams held, stream %d closed after %.3fs" % (n, n + 1, t))


def cmd_prefix_only(args):
    secs = float(args.arg)
    c = Client(args)
    t0 = time.monotonic()
    c.send(PREFIX)
    c.wait_closed(secs + 3.0)
    elapsed = time.monotonic() - t0
    if elapsed < secs - 0.5:
        raise Fail("closed after %.2fs, prefix timeout is %gs" % (elapsed, secs))
    print("prefix-only ok: closed after %.2fs (prefix timeout %gs)" % (elapsed, secs))


def cmd_rate(args):
    spi_i, want_r = the_sa(args)
    c = open_with_prefix(args)
    exchange_same(c, spi_i, want_r, args.timeout)
    second = open_with_prefix(args)
    second.send(frame(MARKER + sa_init_request(os.urandom(8))))
    t = second.wait_closed(AT_ONCE)
    c.close()
    print("rate ok: first answered, second closed after %.3fs without an answer" % t)


def cmd_flood(args):
    c = open_with_prefix(args)
    c.send(esp_frame(b"\x0f\x10\x11\x12"))
    print("flood asked", flush=True)
    wait_file(args.hold, 30)
    got = 0
    try:
        while True:
            c.read_frame(time.monotonic() + 1.0)
            got += 1
    except Fail:
        pass
    c.close()
    print("flood ok: %d frames received after the hold" % got)


SIOCOUTQ = 0x5411  # TIOCOUTQ: bytes not yet acknowledged by the peer


def is_closed(sock):
    """True if the relay closed sock (FIN or RST); it never sends these
    streams anything else."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def cmd_partial(args):
    """Frames that span reads and never end: the relay may hold each within
    its budget (--max-queue-total) or close the stream, nothing more."""
    n = int(args.arg)
    streams, closed = [], 0
    for _ in range(n):
        c = open_with_prefix(args)
        try:
            c.send(esp_frame(os.urandom(4).replace(b"\0", b"\1")))
            c.send(b"\xff\xff" + os.urandom(args.bytes))
            streams.append(c)
        except OSError:  # closed while we sent: over the budget
            closed += 1
            c.close()
    deadline = time.monotonic() + args.timeout
    pending = list(streams)
    while pending:
        pending = [c for c in pending if not is_closed(c.s) and
                   struct.unpack("i", fcntl.ioctl(c.s, SIOCOUTQ, b"\0" * 4))[0] > 0]
        if pending and time.monotonic() > deadline:
            raise Fail("%d streams still have unacknowledged bytes" % len(pending))
        if pending:
            time.sleep(0.05)
    print("partial sent: %d streams, %d bytes of a 65535-byte frame each" % (n, args.bytes),
          flush=True)
    wait_file(args.hold, 120)
    closed += sum(1 for c in streams if is_closed(c.s))
    for c in streams:
        c.close()
    print("partial ok: %d streams, %d closed by the relay, %d held" % (n, closed, n - closed))


def cmd_idle(args):
    secs = float(args.arg)
    c = open_with_prefix(args)
    t0 = time.monotonic()
    # ESP-looking: SPI, sequence number, some bytes. The gateway drops it.
    c.send(frame(os.urandom(4).replace(b"\0", b"\1") + b"\0\0\0\1" + os.urandom(24)))
    c.wait_closed(secs + 2.0)
    elapsed = time.monotonic() - t0
    if elapsed < secs - 0.5:
        raise Fail("closed after %.2fs, idle timeout is %gs" % (elapsed, secs))
    print("idle ok: closed after %.2fs (idle %gs) port=%d" % (elapsed, secs, c.port))


def cmd_limit(args):
    hold = open_with_prefix(args)
    # A frame (the gateway drops it): a stream that sent one keeps its slot.
    hold.send(esp_frame(os.urandom(4).replace(b"\0", b"\1")))
    still_open(hold)
    c = Client(args)
    t = c.wait_closed(AT_ONCE)
    # The held stream is untouched: a keepalive, then it is still open.
    hold.send(frame(b"\xff"))
    hold.s.settimeout(0.2)
    try:
        if hold.s.recv(1) == b"":
            raise Fail("the held stream was closed too")
    except (TimeoutError, socket.timeout):
        pass
    hold.close()
    print("limit ok: second stream closed after %.3fs, first still open" % t)


def cmd_evict(args):
    """The relay is full of a stream with no frame: a newcomer takes its slot."""
    hold = open_with_prefix(args)
    time.sleep(0.2)  # accepted before the newcomer (the relay keeps the oldest first)
    spi_i, want_r = the_sa(args)
    c = open_with_prefix(args)
    t0 = time.monotonic()
    exchange_same(c, spi_i, want_r, args.timeout)
    t = time.monotonic() - t0
    c.close()
    hold.s.settimeout(args.timeout)
    try:
        if hold.s.recv(1) != b"":
            raise Fail("the frameless stream got data instead of being closed")
    except (TimeoutError, socket.timeout):
        raise Fail("the frameless stream was not closed to make room")
    except ConnectionResetError:
        pass
    print("evict ok: newcomer answered in %.3fs, the frameless stream closed" % t)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tls", action="store_true")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--reconnect", action="store_true")
    p.add_argument("--spi", help="initiator SPI (hex) of an earlier sa-init")
    p.add_argument("--spi-r", help="its responder SPI (hex)")
    p.add_argument("--hold", help="cap, flood, partial: hold until this file exists")
    p.add_argument("--bytes", type=int, default=60000, help="partial: body bytes sent")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("command")
    p.add_argument("arg", nargs="?")
    args = p.parse_args()
    cmds = {
        "sa-init": cmd_sa_init,
        "stall": cmd_stall,
        "garbage": lambda a: expect_close(a, b"GET / HTTP/1.1\r\n\r\n", "garbage"),
        "wrong-prefix": lambda a: expect_close(a, b"IKETCX", "wrong-prefix"),
        "bad-length": lambda a: expect_close(a, PREFIX + b"\x00\x02", "bad-length"),
        "short-body": lambda a: expect_close(a, PREFIX + frame(b"\0\0"), "short-body"),
        "keepalive": cmd_keepalive,
        "limit": cmd_limit,
        "evict": cmd_evict,
        "takeover": cmd_takeover,
        "cap": cmd_cap,
        "prefix-only": cmd_prefix_only,
        "rate": cmd_rate,
        "flood": cmd_flood,
        "partial": cmd_partial,
        "idle": cmd_idle,
    }
    if args.command not in cmds:
        p.error("unknown command %s" % args.command)
    try:
        cmds[args.command](args)
    except Fail as e:
        print("relay_client: %s%s: FAIL: %s" % (args.command, " (tls)" if args.tls else "", e),
              file=sys.stderr)
        return 1
    except OSError as e:
        print("relay_client: %s: FAIL: %s" % (args.command, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
