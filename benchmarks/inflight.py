#!/usr/bin/env python3
"""What a reload or a restart of an app's server does to requests: run on the host itself.

    python3 inflight.py --site uvicorn.djangoops.test --unit uvicorn --action reload

For --seconds, --clients threads send requests through nginx (https://127.0.0.1, the site's name
as SNI and Host): every third one to /slow?ms=<slow-ms> (a request still in flight when the
action comes), the others to /healthz. After --at seconds the script runs `systemctl <action>
<unit>.service` once. It prints one line of figures: requests answered 200, answered with an
error status (nginx's 502 when the server refused or dropped the connection), failed at the
client, and how many of the slow requests in flight at the action still finished with 200.
The load stops by itself; nothing but 127.0.0.1 is contacted.
"""

import argparse
import json
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter


def request(site, path, timeout):
    """One GET on a new TLS connection to nginx on loopback; the response's status code."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the figures are about the app server, not the certificate
    with socket.create_connection(("127.0.0.1", 443), timeout=timeout) as raw, context.wrap_socket(raw, server_hostname=site) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {site}\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    status_line = response.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2:
        raise ConnectionError("no status line")
    return int(status_line[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", required=True)
    parser.add_argument("--unit", required=True)
    parser.add_argument("--action", choices=["reload", "restart", "none"], default="reload")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--at", type=float, default=3.0)
    parser.add_argument("--slow-ms", type=int, default=2000)
    args = parser.parse_args()

    counts = Counter()
    lock = threading.Lock()
    start = time.monotonic()
    action_time = start + args.at
    stop_time = start + args.seconds
    slow_across_action = Counter()

    def client(number):
        sent = 0
        while time.monotonic() < stop_time:
            slow = (sent + number) % 3 == 0
            path = f"/slow?ms={args.slow_ms}" if slow else "/healthz"
            began = time.monotonic()
            try:
                status = request(args.site, path, timeout=args.slow_ms / 1000 + 30)
                outcome = "ok" if status == 200 else f"http_{status}"
            except OSError as exc:
                outcome = f"client_{exc.__class__.__name__}"
            ended = time.monotonic()
            with lock:
                counts[outcome] += 1
                if slow and began < action_time < ended:
                    slow_across_action[outcome] += 1
            sent += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    if args.action != "none":
        time.sleep(max(0.0, action_time - time.monotonic()))
        subprocess.run(["systemctl", args.action, f"{args.unit}.service"], check=True)
    for thread in threads:
        thread.join(timeout=args.seconds + args.slow_ms / 1000 + 60)

    errors = {key: value for key, value in counts.items() if key != "ok"}
    result = {
        "site": args.site,
        "action": args.action,
        "ok": counts["ok"],
        "errors": errors,
        "in_flight_at_action": sum(slow_across_action.values()),
        "in_flight_finished_ok": slow_across_action["ok"],
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
