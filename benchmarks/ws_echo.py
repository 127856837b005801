#!/usr/bin/env python3
"""WebSocket echo rate: CONNECTIONS WebSockets to URL, each sending a short text and awaiting its
echo, one after the other, for SECONDS. Prints one line of JSON: messages echoed, per second,
round trip p50 and p99 in milliseconds, connections that failed.

    python3 ws_echo.py wss://uvicorn.bench.test/ws/echo/ 16 10

Runs inside the bench container with Debian's python3-websockets; a wss:// certificate is not
verified (the bench's sites are self-signed). Copied there by benchmarks/bench.py.
"""

import asyncio
import json
import ssl
import sys
import time

import websockets


async def talk(url, until, context, times, failures):
    try:
        async with websockets.connect(url, ssl=context, open_timeout=10, max_size=2**16) as socket:
            message = "x" * 64
            while time.monotonic() < until:
                sent = time.monotonic()
                await socket.send(message)
                if await socket.recv() != message:
                    raise RuntimeError("the echo differs from the message")
                times.append(time.monotonic() - sent)
    except Exception as exc:  # noqa: BLE001  a failed connection is a figure, not a crash
        failures.append(f"{type(exc).__name__}: {exc}")


async def main(url, connections, seconds):
    context = None
    if url.startswith("wss://"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    times, failures = [], []
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(talk(url, until, context, times, failures) for _ in range(connections)))
    elapsed = time.monotonic() - started
    times.sort()

    def ms(share):
        return round(times[min(len(times) - 1, int(share * len(times)))] * 1000, 3) if times else None

    return {
        "messages": len(times),
        "per_second": round(len(times) / elapsed, 1),
        "p50_ms": ms(0.5),
        "p99_ms": ms(0.99),
        "failed_connections": len(failures),
        "first_failure": failures[0] if failures else None,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))))
