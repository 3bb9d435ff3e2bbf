#!/usr/bin/env python3
"""ICMP echo to ADDR every INTERVAL seconds for SECONDS, counting answers.

Usage: pinger.py ADDR SECONDS INTERVAL OUT   (root: a raw socket)

Requests go out on a fixed schedule (start + n * INTERVAL, never drifting
with how long an answer took). A request counts as answered when its reply
(same identifier and sequence number) arrives within WAIT seconds; the
answers still outstanding at the end get WAIT seconds more. On SIGTERM it
stops sending and finishes the same way.

OUT gets "ready" at the start, then "progress SENT RECEIVED" about once a
second, "lost T0 T1 N" for every run of N consecutive unanswered requests
(T0, T1: when the first and the last went out, local time HH:MM:SS.mmm as
in the agent's log), and at the end "done SENT RECEIVED".
"""
import os
import select
import signal
import socket
import struct
import sys
import time

WAIT = 2.0


def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xFFFF)
    t += t >> 16
    return ~t & 0xFFFF


# Local time as the agent logs it: HH:MM:SS.mmm
def clock(t):
    return time.strftime("%H:%M:%S", time.localtime(t)) + ".%03d" % (int(t * 1000) % 1000)


class Pinger:
    def __init__(self, addr, out):
        self.addr = addr
        self.out = out
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.ident = os.getpid() & 0xFFFF
        self.sent = 0
        self.received = 0
        self.outstanding = {}   # seq & 0xffff -> (seq, monotonic send time, wall clock)
        self.run = None         # unanswered in a row: [wall t0, wall t1, count, last seq]

    def say(self, line):
        self.out.write(line + "\n")
        self.out.flush()

    def send(self):
        self.sent += 1
        body = struct.pack("!HH", self.ident, self.sent & 0xFFFF) + b"ikeagent-soak"
        pkt = struct.pack("!BBH", 8, 0, csum(b"\x08\x00\x00\x00" + body)) + body
        # A request that cannot be sent (no route yet, EPERM) is lost too.
        try:
            self.sock.sendto(pkt, (self.addr, 0))
        except OSError:
            pass
        self.outstanding[self.sent & 0xFFFF] = (self.sent, time.monotonic(), time.time())

    def end_run(self):
        if self.run:
            self.say("lost %s %s %d" % (clock(self.run[0]), clock(self.run[1]), self.run[2]))
            self.run = None

    # Requests older than WAIT are lost, in the order they went out; a run
    # is consecutive sequence numbers.
    def expire(self, now):
        late = sorted(v for v in self.outstanding.values() if now - v[1] >= WAIT)
        for n, _, wall in late:
            del self.outstanding[n & 0xFFFF]
            if self.run and self.run[3] == n - 1:
                self.run[1], self.run[2], self.run[3] = wall, self.run[2] + 1, n
            else:
                self.end_run()
                self.run = [wall, wall, 1, n]

    def receive(self, until):
        while (left := until - time.monotonic()) > 0:
            if not select.select([self.sock], [], [], left)[0]:
                break
            pkt, src = self.sock.recvfrom(2048)
            pkt = pkt[(pkt[0] & 15) * 4:]
            if src[0] != self.addr or len(pkt) < 8 or pkt[0] != 0:
                continue
            ident, seq = struct.unpack("!HH", pkt[4:8])
            if ident == self.ident and seq in self.outstanding:
                del self.outstanding[seq]
                self.received += 1


def main():
    addr, seconds, interval, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, "w") as f:
        p = Pinger(addr, f)
        p.say("ready")
        start = time.monotonic()
        n = 0
        last_progress = start
        while not stop and n * interval < seconds:
            p.send()
            n += 1
            p.receive(start + n * interval)
            now = time.monotonic()
            p.expire(now)
            if now - last_progress >= 1:
                p.say("progress %d %d" % (p.sent, p.received))
                last_progress = now
        end = time.monotonic() + WAIT
        while p.outstanding and time.monotonic() < end:
            p.receive(min(end, time.monotonic() + 0.1))
        p.expire(float("inf"))
        p.end_run()
        p.say("done %d %d" % (p.sent, p.received))


if __name__ == "__main__":
    main()
