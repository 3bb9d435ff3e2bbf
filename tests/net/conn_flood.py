#!/usr/bin/env python3
"""Idle and slow-loris TCP connections against ikerelay (stdlib only).

Usage: conn_flood.py HOST PORT MODE CONNS SECONDS OUT [SRC,SRC,...]
  MODE     idle   connect and send nothing
           loris  send "IKETCP" one byte at a time, one byte every LORIS_GAP
                  (env, default 1.0) seconds per connection, then nothing
  CONNS    connections to open in all (opened at up to RATE a second, env
           FLOOD_RATE, default 500); one the relay closes is opened again
           (after 1 s), so the pressure stays until SECONDS have passed
  SRC      source addresses, round-robin (default: the kernel's choice)

OUT gets "ready", then "progress OPEN OPENED CLOSED FAILED" about once a
second and "done OPEN OPENED CLOSED FAILED" at the end (OPENED: connects
that completed; CLOSED: closed by the relay, by FIN or RST, the refused
ones among them; FAILED: connects that did not complete). The file
descriptor limit is raised to the hard limit; raise that (ulimit -Hn)
before a large CONNS.
"""
import errno
import os
import resource
import selectors
import socket
import sys
import time

PREFIX = b"IKETCP"


def main():
    host, port, mode, conns, secs, out = sys.argv[1:7]
    port, conns, secs = int(port), int(conns), float(secs)
    srcs = sys.argv[7].split(",") if len(sys.argv) > 7 and sys.argv[7] else [None]
    gap = float(os.environ.get("LORIS_GAP", "1.0"))
    rate = float(os.environ.get("FLOOD_RATE", "500"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    f = open(out, "w", buffering=1)
    f.write("ready\n")
    sel = selectors.DefaultSelector()
    # state per socket: [connected, bytes of the prefix sent, next send time]
    st = {}
    opened = closed = failed = 0
    started = 0          # sockets created (up to CONNS, then only replacements)
    reopen = []          # times at which to open a replacement
    t0 = time.monotonic()
    end = t0 + secs
    next_prog = t0 + 1
    src_i = 0

    def open_one():
        nonlocal src_i, failed
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        src = srcs[src_i % len(srcs)]
        src_i += 1
        try:
            if src:
                s.bind((src, 0))
            s.connect_ex((host, port))
        except OSError:
            failed += 1
            s.close()
            return False
        st[s] = [False, 0, 0.0]
        sel.register(s, selectors.EVENT_WRITE)
        return True

    def drop(s, was_open):
        nonlocal closed, failed
        sel.unregister(s)
        del st[s]
        s.close()
        if was_open:
            closed += 1
        else:
            failed += 1
        reopen.append(time.monotonic() + 1.0)

    while True:
        now = time.monotonic()
        if now >= end:
            break
        # open new ones at RATE a second
        budget = int(rate * 0.05) or 1
        while budget and started < conns and (started < rate * (now - t0) + 1):
            if open_one():
                started += 1
            else:
                started += 1
                reopen.append(now + 1.0)
            budget -= 1
        while budget and reopen and reopen[0] <= now:
            reopen.pop(0)
            open_one()
            budget -= 1
        for key, ev in sel.select(0.05):
            s = key.fileobj
            c = st.get(s)
            if c is None:
                continue
            if not c[0]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    drop(s, False)
                    continue
                c[0] = True
                opened += 1
                c[2] = now + gap
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                drop(s, True)
        if mode == "loris":
            for s, c in list(st.items()):
                if c[0] and c[1] < len(PREFIX) and c[2] <= now:
                    try:
                        s.send(PREFIX[c[1]:c[1] + 1])
                        c[1] += 1
                        c[2] = now + gap
                    except OSError as e:
                        if e.errno not in (errno.EAGAIN,):
                            drop(s, True)
        if now >= next_prog:
            n_open = sum(1 for c in st.values() if c[0])
            f.write("progress %d %d %d %d\n" % (n_open, opened, closed, failed))
            next_prog = now + 1
    n_open = sum(1 for c in st.values() if c[0])
    f.write("done %d %d %d %d\n" % (n_open, opened, closed, failed))
    for s in list(st):
        s.close()


if __name__ == "__main__":
    main()
