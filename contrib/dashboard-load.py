#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""dashboard-load.py: a few minutes of web-like TCP load on ports 80 and 443
of 127.0.0.1, for contrib/dashboard-demo.sh (which runs it in a private
network namespace). Plain TCP, no TLS; all traffic on loopback.

  dashboard-load.py SECONDS

Port 80, HTTP/1.0 style: each connection sends one request, the server
answers (half the pages take 0.5-6 s) and closes first, so the server's side
waits in TIME_WAIT (60 s); some clients are slow to close their side (the
server's socket waits in FIN_WAIT2 meanwhile). The rate rises and falls over
the run.

Port 443, keep-alive style: clients hold connections for 5-40 s with a
request every second; the number of clients rises, peaks and falls. The
server is slow to close after the client's FIN (CLOSE_WAIT for up to 2 s).
Lost SYN-ACKs (an nftables rule of dashboard-demo.sh) show as SYN_RECV.

Stops by itself after SECONDS, and on SIGTERM or SIGINT."""
import asyncio
import math
import random
import signal
import socket
import sys

HOST = "127.0.0.1"


# The handlers end quietly when the run ends (asyncio.run cancels them).
async def serve_80(reader, writer):
    try:
        await reader.readline()
        if random.random() < 0.5:  # a slow page: ESTABLISHED meanwhile
            await asyncio.sleep(random.uniform(0.5, 6))
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    writer.close()  # the server closes first: TIME_WAIT on port 80


async def serve_443(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(b"ok\n")
            await writer.drain()
        await asyncio.sleep(random.uniform(0.1, 2.0))  # CLOSE_WAIT meanwhile
    except (ConnectionError, asyncio.CancelledError):
        pass
    writer.close()


async def client_80():
    try:
        reader, writer = await asyncio.open_connection(HOST, 80)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        await writer.drain()
        await reader.read()  # until the server's FIN
        if random.random() < 0.15:
            await asyncio.sleep(random.uniform(1, 8))  # slow to close
        writer.close()
    except (ConnectionError, OSError):
        pass


async def client_443(lifetime):
    try:
        reader, writer = await asyncio.open_connection(HOST, 443)
        loop = asyncio.get_running_loop()
        end = loop.time() + lifetime
        while loop.time() < end:
            writer.write(b"GET /\n")
            await writer.drain()
            await reader.readline()
            await asyncio.sleep(1)
        writer.close()
    except (ConnectionError, OSError):
        pass


def shape(t, seconds):
    """A load curve between 0 and 1: a rise, a peak, a dip, a second rise."""
    x = t / seconds
    return max(0.05, 0.5 - 0.45 * math.cos(2 * math.pi * 1.5 * x) * (1 - 0.3 * x))


async def main(seconds):
    servers = [
        await asyncio.start_server(serve_80, HOST, 80, backlog=1024),
        await asyncio.start_server(serve_443, HOST, 443, backlog=1024),
    ]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    start = loop.time()
    tasks = set()
    clients_443 = 0

    def done_443(_):
        nonlocal clients_443
        clients_443 -= 1

    print("ready", flush=True)
    while not stop.is_set():
        t = loop.time() - start
        if t >= seconds:
            break
        s = shape(t, seconds)
        # Port 80: 2 to 20 new connections a second (this tick's share,
        # rounded at random so that the mean is right).
        share = max(0.0, random.gauss(2 + 18 * s, 1)) / 10
        for _ in range(int(share) + (random.random() < share % 1)):
            task = asyncio.ensure_future(client_80())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        # Port 443: 20 to 150 clients.
        target = int(20 + 130 * s)
        for _ in range(min(5, max(0, target - clients_443))):
            clients_443 += 1
            task = asyncio.ensure_future(client_443(random.uniform(5, 40)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            task.add_done_callback(done_443)
        try:
            await asyncio.wait_for(stop.wait(), 0.1)
        except asyncio.TimeoutError:
            pass
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for server in servers:
        server.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    socket.setdefaulttimeout(10)
    asyncio.run(main(float(sys.argv[1])))
