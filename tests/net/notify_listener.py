#!/usr/bin/env python3
"""Plays systemd's side of the notification protocol (sd_notify(3)) for a
test: binds a datagram socket at PATH and appends every message to OUT as
one line, "<ms since start> <message>", its newlines written as '|'.

Usage: notify_listener.py PATH OUT   (runs until killed)
"""
import os
import socket
import sys
import time


def main():
    path, out = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o666)
    start = time.monotonic()
    with open(out, "a", buffering=1) as log:
        log.write("0 LISTENING\n")
        while True:
            data = sock.recv(4096).decode("utf-8", "replace").replace("\n", "|")
            log.write("%d %s\n" % (int((time.monotonic() - start) * 1000), data))


if __name__ == "__main__":
    main()
