"""A bounded HTTPS load on a published loopback port (or, run inside a test container, on an
address of the tests' own Docker network): how many requests a rolling deploy, a reload, a
restart or a failure fails.

    python3 extensions/molecule/shared/loadgen.py --port 32771 --site example.djangoops.test --seconds 300 \
        --stop-file /tmp/stop --json /tmp/load.json

--clients threads each keep one TLS connection to --address:--port (the site's name as SNI and
Host) and send GETs on it, alternating the paths given with --path (default / and /healthz);
a connection the server closes is opened again. With --post-every N, every Nth request of a
connection is instead the example's form posted to / (a new note: a database write, with the
CSRF cookie and token a GET of / gave that connection), which counts as answered when it is
redirected. With --rate, the connections together send
that many requests per second at most, each waiting its turn: requests keep arriving throughout
a deploy without taking every CPU from it. A GET whose kept-alive connection the server
closed before answering (nginx closes its idle ones when it reloads) is sent once more on a new
connection, as browsers, curl and urllib3 do; those are counted apart, and fail only if the
second try fails too. The load ends after --seconds at the latest,
earlier when --stop-file appears or on SIGINT/SIGTERM. It prints one line of figures and, with
--json, writes them: requests sent, answered 2xx, answered otherwise (by status), failed at the
socket (by error), the requests per second, and each release and host /healthz named, with the
second it was first and last seen, so a run shows the switch from one release to the next.
Each request's time counts from when it was due (with --rate), so a stalled server shows in
the figures even while no request is sent: the latency's p50, p99 and maximum, and a timeline
of each second's requests, answered ones and slowest time, keyed by the second since the start
(`started_monotonic` is that start on the machine's monotonic clock, for lining up events).
Nothing but --address (127.0.0.1 unless given) is contacted.
"""

import argparse
import http.client
import json
import re
import signal
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

# A kept-alive connection that the server closed before this request's answer began.
STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class SiteHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to address:port, with the site's name in SNI and in the Host header."""

    def __init__(self, site, address, port, context, timeout):
        super().__init__(site, port, context=context, timeout=timeout)
        self.address = address

    def connect(self):
        raw = socket.create_connection((self.address, self.port), self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


class SiteHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP to address:port (an app server's own port), the site's name in the Host header."""

    def __init__(self, site, address, port, context, timeout):
        super().__init__(site, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def page_csrf(response, body):
    """The CSRF cookie and the form's token of the example's page, or None."""
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    return (cookie.group(1), token.group(1).decode()) if cookie and token else None


class Load:
    def __init__(self, args):
        self.args = args
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent = 0
        self.ok = 0
        self.statuses = Counter()
        self.errors = Counter()
        self.releases = {}
        self.hosts = {}
        self.latencies = []
        self.timeline = {}
        self.failures = []
        self.retried = 0
        self.context = ssl.create_default_context(cafile=args.cacert) if args.cacert else ssl._create_unverified_context()  # noqa: S323  a load tool; --cacert verifies
        self.connection_class = SiteHTTPConnection if args.scheme == "http" else SiteHTTPSConnection
        # To an app server's own port, the Host nginx would send: the site's name without a port.
        self.headers = ({"Host": args.site} if args.scheme == "http" else {}) | dict(header.split(": ", 1) for header in args.header or ())
        self.started = time.monotonic()

    def record(self, path, due, status=None, body=b"", error=None, method="GET"):
        now = time.monotonic()
        elapsed = round(now - self.started, 1)
        answered = status is not None and (200 <= status < 300 or (method == "POST" and 300 <= status < 400))
        with self.lock:
            self.sent += 1
            self.latencies.append(now - due)
            second = self.timeline.setdefault(int(due - self.started), [0, 0, 0])
            second[0] += 1
            second[1] += answered
            second[2] = max(second[2], round((now - due) * 1000))
            if error is not None:
                self.errors[error] += 1
                if len(self.failures) < 20:
                    self.failures.append({"second": elapsed, "path": path, "error": error})
                return
            if answered:
                self.ok += 1
            else:
                self.statuses[str(status)] += 1
                if len(self.failures) < 20:
                    self.failures.append({"second": elapsed, "path": path, "status": status})
            if path.startswith("/healthz") and status == 200:
                try:
                    release = json.loads(body).get("release", "?")
                    host = json.loads(body).get("host", "?")
                except ValueError:
                    release = host = "?"
                for table, name in ((self.releases, release), (self.hosts, host)):
                    seen = table.setdefault(name, {"first": elapsed, "last": elapsed, "answers": 0})
                    seen["last"] = elapsed
                    seen["answers"] += 1

    def client(self, offset):
        paths = self.args.path
        index = offset
        connection, used = None, 0
        # The CSRF cookie and token a GET of / gave this connection, for its form posts.
        csrf = None
        # With --rate, each connection sends one request every `interval` seconds, the connections
        # staggered across that interval.
        interval = self.args.clients / self.args.rate if self.args.rate else 0
        due = time.monotonic() + interval * offset / self.args.clients
        while not self.stop.is_set():
            if interval:
                pause = due - time.monotonic()
                if pause > 0 and self.stop.wait(pause):
                    break
                sent_due, due = due, max(due + interval, time.monotonic())
            else:
                sent_due = time.monotonic()
            index += 1
            post = bool(self.args.post_every) and index % self.args.post_every == 0 and csrf is not None
            path = "/" if post else paths[index % len(paths)]
            method, headers, payload = "GET", {"User-Agent": "djangoops-loadgen", **self.headers}, None
            if post:
                method = "POST"
                payload = urlencode({"csrfmiddlewaretoken": csrf[1], "text": f"loadgen {offset}-{index}"})
                headers.update({
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Cookie": f"csrftoken={csrf[0]}",
                    "Origin": f"https://{self.args.site}",
                    "Referer": f"https://{self.args.site}/",
                })  # fmt: skip
            for attempt in (1, 2):
                if connection is None:
                    connection, used = (
                        self.connection_class(self.args.site, self.args.address, self.args.port, self.context, self.args.timeout),
                        0,
                    )
                try:
                    connection.request(method, path, body=payload, headers=headers)
                    response = connection.getresponse()
                    body = response.read()
                except STALE_CONNECTION as exc:
                    connection.close()
                    connection = None
                    # The server closed a kept-alive connection as this request went out (nginx
                    # does with its idle ones when it reloads): like browsers, curl and urllib3,
                    # send an idempotent request once more on a new connection; count it.
                    if attempt == 1 and used > 0 and method == "GET":
                        with self.lock:
                            self.retried += 1
                        continue
                    self.record(path, sent_due, error=exc.__class__.__name__, method=method)
                    break
                except (OSError, http.client.HTTPException) as exc:
                    connection.close()
                    connection = None
                    self.record(path, sent_due, error=exc.__class__.__name__, method=method)
                    break
                used += 1
                self.record(path, sent_due, status=response.status, body=body, method=method)
                if method == "GET" and path == "/" and response.status == 200:
                    csrf = page_csrf(response, body) or csrf
                if response.will_close:
                    connection.close()
                    connection = None
                break
        if connection is not None:
            connection.close()

    def run(self):
        threads = [threading.Thread(target=self.client, args=(n,), daemon=True) for n in range(self.args.clients)]
        for thread in threads:
            thread.start()
        stop_file = Path(self.args.stop_file) if self.args.stop_file else None
        deadline = self.started + self.args.seconds
        while not self.stop.is_set() and time.monotonic() < deadline:
            if stop_file is not None and stop_file.exists():
                break
            time.sleep(0.2)
        self.stop.set()
        for thread in threads:
            thread.join(self.args.timeout + 5)
        return self.summary()

    def summary(self):
        seconds = time.monotonic() - self.started
        return {
            "site": self.args.site,
            "port": self.args.port,
            "clients": self.args.clients,
            "rate_limit": self.args.rate or None,
            "paths": self.args.path,
            "seconds": round(seconds, 1),
            "sent": self.sent,
            "ok": self.ok,
            "non_2xx": sum(self.statuses.values()),
            "statuses": dict(self.statuses),
            "socket_errors": sum(self.errors.values()),
            "retried_on_closed_keepalive": self.retried,
            "errors": dict(self.errors),
            "requests_per_second": round(self.sent / seconds, 1) if seconds else 0,
            "releases": self.releases,
            "hosts": self.hosts,
            "started_monotonic": self.started,
            "latency_ms": latency_ms(self.latencies),
            "timeline": {second: self.timeline[second] for second in sorted(self.timeline)},
            "first_failures": self.failures,
        }


def latency_ms(latencies):
    """p50, p99 and the maximum of the requests' times, in milliseconds."""
    if not latencies:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(latencies)

    def pick(share):
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 1)

    return {"p50": pick(0.5), "p99": pick(0.99), "max": round(ordered[-1] * 1000, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--port", type=int, required=True, help="the load balancer's HTTPS port (published on 127.0.0.1)")
    parser.add_argument("--address", default="127.0.0.1", help="the address to connect to (default 127.0.0.1)")
    parser.add_argument("--site", required=True, help="the site's name (SNI and Host)")
    parser.add_argument("--path", action="append", help="a path to request (repeat; default / and /healthz)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections (default 8)")
    parser.add_argument("--rate", type=float, default=0, help="requests per second, all connections together (default: no limit)")
    parser.add_argument("--post-every", type=int, default=0, help="every Nth request of a connection posts the form of / (default: none)")
    parser.add_argument("--seconds", type=float, default=60, help="the longest the load runs (default 60)")
    parser.add_argument("--stop-file", help="end the load as soon as this file exists")
    parser.add_argument("--timeout", type=float, default=15, help="seconds a request may take (default 15)")
    parser.add_argument("--cacert", help="verify the certificate against this CA file")
    parser.add_argument(
        "--scheme", choices=["https", "http"], default="https", help="plain http for an app server's own port (default https)"
    )
    parser.add_argument("--header", action="append", help='a header to send with every request, "Name: value" (repeat)')
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    args.path = args.path or ["/", "/healthz"]

    load = Load(args)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: load.stop.set())
    figures = load.run()
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    releases = ", ".join(f"{name} ({seen['first']}-{seen['last']} s)" for name, seen in figures["releases"].items())
    print(
        f"{figures['sent']} requests in {figures['seconds']} s ({figures['requests_per_second']}/s) over"
        f" {figures['clients']} connections: {figures['ok']} 2xx, {figures['non_2xx']} non-2xx {figures['statuses']},"
        f" {figures['socket_errors']} socket errors {figures['errors']}"
        f" ({figures['retried_on_closed_keepalive']} sent again after the server closed an idle kept-alive connection);"
        " releases seen:"
        f" {releases or 'none'}"
    )
    return 0 if figures["non_2xx"] == 0 and figures["socket_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
