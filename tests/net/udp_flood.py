#!/usr/bin/env python3
"""A fake gateway for ikerelay's queue-budget test (stdlib only).

Usage: udp_flood.py ADDR PORT COUNT SIZE

Waits for one datagram, answers its sender with COUNT ESP-looking
datagrams of SIZE bytes as fast as the socket takes them, prints how many
it sent and exits. Exits 1 if nothing arrives within 30 s.
"""
import os
import socket
import sys


def main():
    addr, port, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.settimeout(30)
    print("listening", flush=True)
    try:
        _, peer = s.recvfrom(65536)
    except socket.timeout:
        print("udp_flood: nothing arrived", file=sys.stderr)
        return 1
    body = b"\x0f\x10\x11\x12" + os.urandom(size - 4)
    sent = 0
    for _ in range(count):
        try:
            s.sendto(body, peer)
            sent += 1
        except OSError:
            pass
    print("sent %d datagrams of %d bytes" % (sent, size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
