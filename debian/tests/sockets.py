#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hold a known set of TCP sockets on loopback (run it in a private network
namespace), write READY_FILE once the set is in place, then wait until
killed.

The set, as the plugin must count it:
  port 443, 127.0.0.1:  LISTEN 1; server side ESTABLISHED 3, CLOSE_WAIT 2
                        (the client shut its side), TIME_WAIT 1 (the server
                        closed first); client side FIN_WAIT2 2
  port 8080, [::1] v6only: LISTEN 1; server side ESTABLISHED 2; client
                        side (remote port 8080) ESTABLISHED 2
  port 7001, [::] dual-stack: LISTEN 1; an IPv4 client, so the server side
                        is IPv4-mapped: ESTABLISHED 1 on each side
In all: ESTABLISHED 12, FIN_WAIT2 2, CLOSE_WAIT 2, TIME_WAIT 1, LISTEN 3.
"""
import signal
import socket
import sys
import time

keep = []


def listen(family, addr, port, v6only=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((addr, port))
    s.listen(16)
    keep.append(s)
    return s


def pair(listener, family, addr, port):
    c = socket.socket(family, socket.SOCK_STREAM)
    c.connect((addr, port))
    s, _ = listener.accept()
    return c, s


def main():
    l443 = listen(socket.AF_INET, "127.0.0.1", 443)
    for _ in range(3):
        keep.extend(pair(l443, socket.AF_INET, "127.0.0.1", 443))
    for _ in range(2):
        c, s = pair(l443, socket.AF_INET, "127.0.0.1", 443)
        c.shutdown(socket.SHUT_WR)  # client FIN_WAIT2, server CLOSE_WAIT
        keep.extend((c, s))
    c, s = pair(l443, socket.AF_INET, "127.0.0.1", 443)
    s.close()  # the server closes first: its side ends in TIME_WAIT
    time.sleep(0.2)
    c.close()

    l8080 = listen(socket.AF_INET6, "::1", 8080, v6only=1)
    for _ in range(2):
        keep.extend(pair(l8080, socket.AF_INET6, "::1", 8080))

    l7001 = listen(socket.AF_INET6, "::", 7001, v6only=0)
    keep.extend(pair(l7001, socket.AF_INET, "127.0.0.1", 7001))

    time.sleep(0.5)  # let every FIN and ACK land
    with open(sys.argv[1], "w") as f:
        f.write("ready\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
