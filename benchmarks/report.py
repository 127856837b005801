#!/usr/bin/env python3
"""Write docs/benchmarks/README.md (tables, targets) and a chart for each table (PNG files beside it)
from docs/benchmarks/results.json.

python3 benchmarks/report.py     (benchmarks/bench.py runs it at the end)
"""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"
ENDPOINTS = ("plain", "template", "db", "wait", "async_db")


def measured(figures):
    """The endpoints a run measured, in ENDPOINTS' order (an older run has fewer)."""
    return [endpoint for endpoint in ENDPOINTS if endpoint in figures]


# The targets, each with how it is read from the figures.
TARGETS = {
    "proxy_added_ms": {"p50": 1.0, "p99": 5.0},
    "static_over_bare": 0.95,
    "split_over_wsgi": 0.90,
    "no_change_seconds": 30,
    "code_only_seconds": 25,
    "cold_converge_seconds": 120,
    "memory_left_at_idle": 0.25,
    "no_change_per_app_seconds": 8,
    "no_change_per_host_seconds": 3,
    "cold_per_app_seconds": 45,
}
# The runs the growth figures time, in the order of their tables.
GROWTH_RUNS = (("cold_converge", "cold converge"), ("no_change", "run that changes nothing"), ("code_only_deploy", "code-only deploy"))


def verdict(ok):
    return "met" if ok else "**missed**"


def targets(results):
    """(key in TARGETS, what is held, the figure, met or missed) for each target."""
    rows = []
    servers = results["servers"]
    proxy = results.get("proxy_cost")
    if proxy:
        half = [
            (row, app, endpoint)
            for app, figures in proxy["servers"].items()
            for endpoint in measured(figures)
            for row in figures[endpoint]
            if row["share"] == 0.5
        ]
        kept = [found for found in half if off_schedule(found[0]) == 0]
        p50 = max(kept, key=lambda found: found[0]["added_p50_ms"])
        p99 = max(kept, key=lambda found: found[0]["added_p99_ms"])
        unmeasured = [f"{app}, {endpoint}" for row, app, endpoint in half if off_schedule(row)]
        rows.append(
            (
                "proxy_added_ms",
                "through nginx at half the direct maximum: added p50 ≤ 1 ms and added p99 ≤ 5 ms, every server and endpoint",
                f"highest added p50 {p50[0]['added_p50_ms']:.2f} ms ({p50[1]}, {p50[2]}), p99 {p99[0]['added_p99_ms']:.2f} ms ({p99[1]}, {p99[2]})"
                + (f"; not measured: {'; '.join(unmeasured)} (requests sent before their time)" if unmeasured else ""),
                verdict(
                    not unmeasured
                    and p50[0]["added_p50_ms"] <= TARGETS["proxy_added_ms"]["p50"]
                    and p99[0]["added_p99_ms"] <= TARGETS["proxy_added_ms"]["p99"]
                ),
            )
        )
    static = results["static"]["site_over_bare"]
    rows.append(
        (
            "static_over_bare",
            "static file through the site ≥ 95% of bare nginx",
            f"{static:.0%}",
            verdict(static >= TARGETS["static_over_bare"]),
        )
    )
    split = min(servers["split"][e]["nginx"]["rps"] / servers["gunicorn"][e]["nginx"]["rps"] for e in measured(servers["split"]))
    rows.append(
        (
            "split_over_wsgi",
            "split mode within 10% of pure WSGI (gunicorn) on HTTP",
            f"lowest {split:.0%}",
            verdict(split >= TARGETS["split_over_wsgi"]),
        )
    )
    collection = results.get("collection")
    if collection:
        again = collection["no_change"]
        rows.append(
            (
                "no_change_seconds",
                "a no-change run in at most 30 s, zero changed",
                f"{again['seconds']} s, {again['changed']} changed",
                verdict(again["seconds"] <= TARGETS["no_change_seconds"] and again["changed"] == 0),
            )
        )
        deploy = collection["code_only_deploy"]
        load = deploy.get("load")
        failed = load["sent"] - load["ok"] if load else None
        rows.append(
            (
                "code_only_seconds",
                "a code-only deploy of the example with PostgreSQL in at most 25 s, no request failed under load",
                f"{deploy['seconds']} s; " + (f"{failed} of {load['sent']} requests failed" if load else "load not measured in this run"),
                verdict(deploy["seconds"] <= TARGETS["code_only_seconds"] and failed == 0),
            )
        )
        cold = collection["cold_converge"]["seconds"]
        rows.append(
            (
                "cold_converge_seconds",
                "a cold converge of the demo in at most 2 min",
                f"{cold} s",
                verdict(cold <= TARGETS["cold_converge_seconds"]),
            )
        )
    memory = results.get("memory")
    if memory:
        rows.append(
            (
                "memory_left_at_idle",
                "the defaults fit a 1 GB host with PostgreSQL, Redis and Celery, ≥ 25% left at idle",
                f"{memory['idle']['container']['used_mb']:.0f} MiB used, {memory['left_at_idle']:.0%} left",
                verdict(memory["left_at_idle"] >= TARGETS["memory_left_at_idle"]),
            )
        )
    growth = results.get("growth")
    if growth:
        for key, dimension, run, what in (
            ("no_change_per_app_seconds", "apps", "no_change", "a run that changes nothing: at most 8 s more per extra app"),
            ("no_change_per_host_seconds", "hosts", "no_change", "a run that changes nothing: at most 3 s more per extra host"),
            ("cold_per_app_seconds", "apps", "cold_converge", "a cold converge: at most 45 s more per extra app"),
        ):
            cost = marginal(growth[dimension], run)
            unit = "app" if dimension == "apps" else "host"
            rows.append((key, what, f"{cost:.1f} s per {unit}", verdict(cost <= TARGETS[key])))
    return rows


def marginal(rows, run, figure="seconds"):
    """What one more app or host adds to a run's figure (seconds by default): the slope from the
    fewest to the most; None where a row lacks the figure."""
    counts = sorted(rows, key=int)
    low, high = counts[0], counts[-1]
    if rows[low][run].get(figure) is None or rows[high][run].get(figure) is None:
        return None
    return (rows[high][run][figure] - rows[low][run][figure]) / (int(high) - int(low))


CPU_PARTS = ("control_node", "hosts", "engine")


def marginal_cpu(rows, run):
    """The CPU seconds one more app or host adds to a run, part by part; None without them."""
    counts = sorted(rows, key=int)
    low, high = (rows[count][run].get("cpu") for count in (counts[0], counts[-1]))
    if not low or not high:
        return None
    return {
        part: None if low[part] is None or high[part] is None else (high[part] - low[part]) / (int(counts[-1]) - int(counts[0]))
        for part in CPU_PARTS
    }


def cpu_cell(cpu, sign=""):
    """control node / containers / Docker, each in seconds; a part this host could not count is "?"."""
    if not cpu:
        return ""
    return " / ".join("?" if cpu[part] is None else f"{sign}{cpu[part]:.1f}" for part in CPU_PARTS)


def growth_lines(growth):
    """The growth section: each run's time by apps on one host and by app hosts, with the marginal cost."""
    if not growth:
        return []
    lines = [
        "",
        "## Growth",
        "",
        f"How the runs grow with the apps on one host and with the app hosts (`bench.py --growth-only`, {growth['date']}): "
        "a cold converge of bare containers, a second run that changes nothing, then `playbooks/deploy.yml` with one "
        "template changed, which deploys every app. *Apps*: one container in every group, like the demo, with 1, 4 or 8 "
        "apps of the example, all under gunicorn, so an extra app costs what the collection does per app and not what "
        "another server's packages cost (the eight different servers of the server figures took "
        "the time quoted at the end of this page). *Hosts*: a container that is the load balancer and the database, and "
        "1, 3 or 5 app hosts on a Docker network, one app each; the deploy rolls one host at a time (the default "
        "`djangoops_batch_size`), so it grows with the hosts by design. The containers are reached over SSH, on a port each "
        "publishes on the loopback, as servers are reached (`docker exec` costs the Docker engine more CPU than the module "
        "it starts, on the same two CPUs). *one app more*, *one host more*: the slope from the fewest to the most.",
    ]
    lines += [
        "",
        "*module calls*: those logged on the hosts (`-vvv`). *CPU*: the CPU time the run took on the "
        "control node (ansible-playbook, its workers and the `ssh` client each call starts; not the SSH connection's "
        "master process, which runs detached), in the containers (sshd, the modules and what they ran: apt, pip, Django) "
        "and in the Docker engine (dockerd, containerd, the shims, and the proxy of the published ports). The two CPUs "
        "have at most twice the run's seconds to give.",
    ]
    for dimension, label, unit in (("apps", "apps on one host", "app"), ("hosts", "app hosts", "host")):
        rows = growth[dimension]
        lines += [
            "",
            f"| {label} | "
            + " | ".join(f"{name} s" for _, name in GROWTH_RUNS)
            + " | module calls (no change) | module calls (cold) | cold converge's CPU s: control node / containers / Docker"
            + " | no-change run's CPU s |",
            "| ---: | " + " | ".join("---:" for _ in GROWTH_RUNS) + " | ---: | ---: | ---: | ---: |",
        ]
        for count in sorted(rows, key=int):
            runs = rows[count]
            lines.append(
                f"| {count} | "
                + " | ".join(f"{runs[run]['seconds']}" for run, _ in GROWTH_RUNS)
                + f" | {runs['no_change'].get('module_calls', '')} | {runs['cold_converge'].get('module_calls', '')}"
                + f" | {cpu_cell(runs['cold_converge'].get('cpu'))} | {cpu_cell(runs['no_change'].get('cpu'))} |"
            )
        calls = marginal(rows, "cold_converge", "module_calls")
        lines.append(
            f"| one {unit} more | "
            + " | ".join(f"+{marginal(rows, run):.1f}" for run, _ in GROWTH_RUNS)
            + f" | | {'' if calls is None else f'+{calls:.0f}'} | {cpu_cell(marginal_cpu(rows, 'cold_converge'), sign='+')}"
            + f" | {cpu_cell(marginal_cpu(rows, 'no_change'), sign='+')} |"
        )
        changed = [count for count in rows if rows[count]["no_change"]["changed"]]
        if changed:
            lines.append(f"\nThe second run changed something with {', '.join(changed)} {unit}(s): not a no-change figure.")
    lines += ["", "![each run's time by apps and by app hosts](growth.png)"]
    return lines


def memory_lines(memory):
    """The memory section: each service at idle and under load, the stack's total."""
    idle, loaded = memory["idle"], memory["under_load"]
    sizing = memory["sizing"]
    lines = [
        "",
        "## Memory",
        "",
        f"The single-host stack with the collection's defaults on a container held to {memory['memory_mb']} MiB "
        f"and {memory['cpus']} CPU (`bench.py --memory-only`, {memory.get('date', 'the same run')}): nginx, the "
        "example under gunicorn, PostgreSQL, Redis, Celery's worker and beat. The roles sized it from the host's "
        "facts, read from a 1 GB, one-CPU host's /proc/meminfo and /proc/cpuinfo mounted over the container's: "
        f"{sizing['app_server_workers']} gunicorn workers, {sizing['celery_processes']} Celery worker process(es), "
        f"PostgreSQL `shared_buffers` {sizing['postgresql_shared_buffers']}, Redis `{sizing['redis_maxmemory']}`. "
        "Each service's figure is the PSS of its unit's processes (shared pages counted once); the container's is "
        "its cgroup's usage without inactive file pages, as Docker counts it (every process, systemd and journald "
        "included, the kernel's memory for them and the page cache in active use), and below it without any page "
        f"cache. Under load: wrk -c{loaded['connections']} "
        f"on the database page through nginx over HTTPS for {loaded['seconds']} s, sampled midway "
        f"({loaded['wrk']['rps']:.0f} req/s, p99 {loaded['wrk']['p99_ms']} ms, "
        f"{loaded['wrk']['non_2xx'] + loaded['wrk']['socket_errors']} errors).",
        "",
        "| service | idle MiB | under load MiB |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {value} | {loaded['services'].get(name, '')} |" for name, value in idle["services"].items()]
    lines += [
        f"| **the container** | **{idle['container']['used_mb']}** | **{loaded['container']['used_mb']}** |",
        f"| the container without page cache | {idle['container']['without_page_cache_mb']} | "
        f"{loaded['container']['without_page_cache_mb']} |",
        "",
        f"Left at idle: {memory['left_at_idle']:.0%} of {memory['memory_mb']} MiB "
        f"({'fits' if memory['fits'] else 'does not fit'}: the target is 25%). The converge took "
        f"{memory['converge_seconds']} s on the one CPU. PostgreSQL's `shared_buffers` and Redis's `maxmemory` "
        "(a quarter of the memory each) are ceilings a busy site grows into, not figures an idle one shows: "
        "with both full, the stack would use about half the memory more than these figures.",
        "",
        "![each service's memory at idle and under load](memory.png)",
    ]
    return lines


# Why the app servers' defaults are what they are: measured by hand on the bench container
# (benchmarks/bench.py --keep, then one server's files changed and wrk run again), 2026-11-23.
DEFAULTS = [
    "## Defaults these figures chose",
    "",
    "- Workers are not replaced after a number of requests (`app_server_max_requests: 0`; it was "
    "1000). A replaced worker imports the app again, so at these rates every worker was being "
    "replaced every few seconds: gunicorn plain went from 1,190-1,610 to 2,090-2,640 req/s direct and "
    "from 1,270-1,400 to 1,760-1,990 through nginx, uWSGI plain through nginx from 1,540-1,760 to "
    "3,090-3,290. uvicorn's own supervisor notices a worker that left only after about 5 s, and both "
    "workers reached their limit within a second of each other: whole runs at 0 req/s. uvicorn plain, "
    "direct: 95-198 req/s with 25 socket errors; without its access log 123-255 and still stalls (a "
    "run at 18 req/s through nginx); without the limit as well 255-258 and no errors (235-257 through "
    "nginx). gunicorn with uvicorn workers went from 230-430 to 490-510 req/s plain. An app that leaks "
    "memory sets a limit; uvicorn and hypercorn read a 0 as a limit (0 plus up to the jitter), so 0 passes nothing to them.",
    "- The app servers do not log each request (`app_server_access_log: false`): nginx's access log "
    "has every request already, with the client's address; uvicorn, daphne and hypercorn wrote a "
    "journal line per request, CPU taken from the app.",
    "- gunicorn keeps its sync workers (`app_server_worker_class: sync`). Like uWSGI over HTTP they "
    "close the connection after each response, so nginx opens a connection upstream for each "
    "request: the likeliest cost on the plain row (not isolated). The gthread worker keeps "
    "connections, and raised direct and proxied figures alike "
    "(ratio 0.75), and alternating the two through nginx gave sync 1,657-2,350 req/s plain and "
    "gthread 1,695-2,083: no gain to make it the default.",
    "- uWSGI answers nginx over HTTP with one connection per request (`protocol = http`), so nginx "
    "cannot keep its connections to uWSGI alive; `uwsgi_pass` with uWSGI's own protocol measured "
    "3,180-3,580 req/s plain through nginx against 3,090-3,290 over HTTP, and the template and "
    "database reads at 98-104% of direct. Not the default yet: the deploy's health check asks the app "
    "servers over HTTP.",
]


def off_schedule(row):
    """Requests of a fixed-rate row that wrk sent before their time (fixed-rate.lua counts them;
    a run from before it counted shows them as a negative median)."""
    runs = (row["direct"], row["nginx"])
    return sum(run.get("early", 0) for run in runs) or sum(1 for run in runs if run["p50_ms"] < 0)


def proxy_cost_lines(proxy):
    """The fixed-rate section: what nginx adds to each server's latency, and its CPU a request."""
    if not proxy:
        return []
    lines = [
        "",
        "## The proxy's cost at a fixed rate",
        "",
        f"wrk at a fixed rate (`benchmarks/fixed-rate.lua`: {proxy['connections']} connections, {proxy['seconds']} s a run, "
        "each request's latency counted from when it was due, so a stall shows), directly against the app server and "
        "through nginx over HTTPS with keep-alive, back to back, at half of the server's direct maximum (the closed-loop "
        + ("figure above)" if "date" not in proxy else f"figure of a run of its own on {proxy['date']}, `bench.py --proxy-only --write`)")
        + " and at a quarter of it. *added*: nginx's p50 and p99 less the direct ones. *nginx CPU*: the CPU time of "
        "nginx's master and workers during the run through nginx (`/proc/<pid>/stat`), divided by its requests: TLS, "
        "HTTP parsing and the upstream's keep-alive connection. Debian's wrk is closed-loop and wrk2 is not packaged: "
        "the script uses wrk's `delay()` hook and LuaJIT's clock to send on a schedule.",
        "",
        "The target this replaces, throughput through nginx at least 90% of direct, is gone: on a 2-CPU host the load "
        "generator and nginx's TLS share the one CPU that the direct run already saturates, so it measured the machine "
        "rather than the proxy. A fixed rate below the maximum leaves the CPUs room, and the latency nginx adds means "
        "the same here as on a load balancer of its own.",
    ]
    for share in sorted({row["share"] for figures in proxy["servers"].values() for rows in figures.values() for row in rows}, reverse=True):
        lines += [
            "",
            f"At {share:.0%} of the direct maximum:",
            "",
            "| server | endpoint | req/s | direct p50 ms | p99 ms | nginx p50 ms | p99 ms | added p50 ms | added p99 ms | nginx CPU µs a request |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for app, figures in proxy["servers"].items():
            for endpoint in measured(figures):
                for row in (row for row in figures[endpoint] if row["share"] == share):
                    direct, proxied = row["direct"], row["nginx"]
                    failed = sum(run["non_2xx"] + run["socket_errors"] for run in (direct, proxied))
                    flag = (f" ({failed} failed)" if failed else "") + (" (off schedule: not a figure)" if off_schedule(row) else "")
                    lines.append(
                        f"| {app} | {endpoint} | {row['rate']} | {direct['p50_ms']:.2f} | {direct['p99_ms']:.2f} | "
                        f"{proxied['p50_ms']:.2f} | {proxied['p99_ms']:.2f} | {row['added_p50_ms']:+.2f} | {row['added_p99_ms']:+.2f} | "
                        f"{row['nginx_cpu_us_per_request']}{flag} |"
                    )
    lines += ["", "![the latency nginx adds at each fixed rate, per server and endpoint](proxy-cost.png)"]
    websocket = proxy.get("websocket")
    if websocket:
        lines += [
            "",
            "### WebSocket echo",
            "",
            f"The example's echo at `/ws/echo/` on each server that speaks WebSocket (gunicorn's sync workers and uWSGI "
            f"do not; split mode's is its uvicorn): {proxy['connections']} sockets for {proxy['seconds']} s, each sending "
            "64 characters and awaiting the echo before the next (`benchmarks/ws_echo.py`, Python's `websockets`, on the "
            "load CPU: the client's own cost is in these figures).",
            "",
            "| server | direct messages/s | p50 ms | p99 ms | nginx messages/s | p50 ms | p99 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for app, runs in websocket.items():
            direct, proxied = runs["direct"], runs["nginx"]
            failed = direct["failed_connections"] + proxied["failed_connections"]
            flag = f" ({failed} sockets failed: {direct['first_failure'] or proxied['first_failure']})" if failed else ""
            lines.append(
                f"| {app} | {direct['per_second']:.0f} | {direct['p50_ms']} | {direct['p99_ms']} | "
                f"{proxied['per_second']:.0f} | {proxied['p50_ms']} | {proxied['p99_ms']}{flag} |"
            )
        lines += ["", "![WebSocket echo messages per second, direct and through nginx](websocket.png)"]
    return lines


def markdown(results):
    settings = results["settings"]
    machine = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (benchmarks/bench.py, then benchmarks/report.py) on "
        f"{results['date']}; figures, not tests. Raw figures: [results.json](results.json).",
        "",
        f"Machine: {machine['cpu']}, {machine['cpus']} CPUs, {machine['memory_gb']} GB, kernel {machine['kernel']}. "
        "Everything runs in one Debian container on it, so these are figures for comparing the servers "
        "and the proxy's cost, not a capacity plan. "
        + (
            f"The app server measured runs alone on CPU {settings['cpus']['app_server']}; wrk and nginx run on "
            f"CPU {settings['cpus']['wrk_and_nginx']} (taskset), as a load balancer on its own host would, so "
            "that nginx's TLS work does not take CPU from the app server it is measured against. "
            if settings.get("cpus", {}).get("app_server")
            else "wrk, nginx and the app server share the CPUs. "
        )
        + f"Each figure is the median of {settings.get('repeat', 1)} runs, direct and through nginx alternating "
        "after a short run of each that is not counted (the workers' first requests); the ratio is the median of "
        "the ratios of the runs made back to back (every run's figure is in results.json). The gunicorn and split "
        "rows serve the same gunicorn app, which shows what is left of the noise.",
        "",
        "Versions: " + ", ".join(f"{name} {version}" for name, version in sorted(results["versions"].items())) + ".",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {value} | {state} |" for _, name, value, state in targets(results)]
    lines += [
        "",
        "## Application servers",
        "",
        f"`wrk -t{settings['threads']} -c{settings['connections']} -d{settings['seconds']}s --latency`, inside the container. "
        "*direct*: plain HTTP to the app server's loopback port (Host and X-Forwarded-Proto set as nginx sets them); "
        "*nginx*: HTTPS with keep-alive through the deployed site, nginx keeping connections to the app server alive. "
        "Each app has the role's default worker count, from the container's CPUs (all of the machine's, though the "
        "server runs on one): two per CPU and one more for the WSGI servers, one per CPU for the ASGI servers, one "
        "process for daphne. "
        "Endpoints of the example project: *plain* returns a short text; *template* renders a template "
        "with a loop of 100 items; *db* reads 50 rows from SQLite and returns them as JSON; *wait* is an async view "
        "that awaits 50 ms of non-blocking sleep (an outside API's answer) and returns a short text; *async_db* reads "
        "the same 50 rows through Django's async ORM. A WSGI server runs an async view in an event loop of its own per "
        "request, holding its worker through the wait; an ASGI server awaits it alongside other requests.",
        "",
        "| server | endpoint | direct req/s | p50 ms | p99 ms | nginx req/s | p50 ms | p99 ms | nginx / direct |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for app, figures in results["servers"].items():
        for endpoint in measured(figures):
            direct, proxied = figures[endpoint]["direct"], figures[endpoint]["nginx"]
            sides = [(side, run["non_2xx"] + run["socket_errors"]) for side, run in (("direct", direct), ("nginx", proxied))]
            flag = "".join(f" ({errors} errors {side})" for side, errors in sides if errors)
            lines.append(
                f"| {app} | {endpoint} | {direct['rps']:.0f} | {direct['p50_ms']} | {direct['p99_ms']} | "
                f"{proxied['rps']:.0f} | {proxied['p50_ms']} | {proxied['p99_ms']} | {figures[endpoint]['nginx_over_direct']:.0%}{flag} |"
            )
    lines += ["", "![requests per second per server, direct and through nginx](chart.png)"]
    lines += proxy_cost_lines(results.get("proxy_cost"))
    static = results["static"]
    lines += [
        "",
        "## Static files",
        "",
        f"`{static['file']}` ({static['bytes']} bytes) through the deployed site (the app's hashed file, "
        "its cache and security headers, open_file_cache) against a bare nginx server in the same "
        "container with the same TLS settings, `root` and `sendfile on` and nothing else.",
        "",
        "| | req/s | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: |",
        f"| deployed site | {static['site']['rps']:.0f} | {static['site']['p50_ms']} | {static['site']['p99_ms']} |",
        f"| bare nginx | {static['bare_nginx']['rps']:.0f} | {static['bare_nginx']['p50_ms']} | {static['bare_nginx']['p99_ms']} |",
        "",
        "![a static file's requests per second, the site against bare nginx](static.png)",
    ]
    apache = results.get("apache")
    if apache:
        versions = apache.get("versions", {})
        lines += [
            "",
            "## Apache with mod_wsgi",
            "",
            f"The example project under Apache {versions.get('apache', '?')} with mod_wsgi {versions.get('mod_wsgi', '?')} "
            "(`djangoops_web_server: apache`) in a container of its own: the same endpoints, the same wrk over HTTPS with "
            f"keep-alive, {apache['processes']} daemon processes of one thread (the WSGI servers' default count) on the app "
            "server's CPU, Apache's own processes and wrk on the other. Apache is the TLS end and the app server at once, so "
            "there is no direct figure: it stands against gunicorn (sync workers) behind nginx from "
            + ("the same run." if "date" not in apache else f"a run of its own on {apache['date']} (`bench.py --apache-only --write`).")
            + f" Its converge took {apache['converge_seconds']} s.",
            "",
            "| endpoint | Apache req/s | p50 ms | p99 ms | gunicorn behind nginx req/s | p50 ms | p99 ms | Apache / gunicorn |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for endpoint in measured(apache):
            ours, theirs = apache[endpoint]["apache"], apache[endpoint]["gunicorn_nginx"]
            errors = ours["non_2xx"] + ours["socket_errors"]
            lines.append(
                f"| {endpoint} | {ours['rps']:.0f} | {ours['p50_ms']} | {ours['p99_ms']} | {theirs['rps']:.0f} | "
                f"{theirs['p50_ms']} | {theirs['p99_ms']} | {apache[endpoint]['apache_over_gunicorn_nginx']:.0%}"
                + (f" ({errors} errors)" if errors else "")
                + " |"
            )
        lines += ["", "![Apache with mod_wsgi against gunicorn behind nginx](apache.png)"]
    metrics = results.get("metrics")
    if metrics:
        lines += [
            "",
            "## Request metrics",
            "",
            "What the request metrics of a monitored site cost (the rendered `wsgi.py`/`asgi.py` count each request "
            "in prometheus_client's multiprocess files; `bench.py --metrics-only --write`, "
            f"{metrics.get('date', 'the same run')}), through nginx, on the site converged with the container in a "
            "`monitoring` group. Each pair of runs serves the rendered file without its wrapping line, then as "
            "rendered, each after a restart and a warm-up; the ratio is the median of the pairs'. The cost is the "
            "extra time each request takes on the app server's one CPU at saturation, "
            "1/(req/s with) - 1/(req/s without), from the median runs.",
            "",
            "| server | endpoint | without req/s | p50 ms | with req/s | p50 ms | with / without | cost per request (µs) |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for app in ("gunicorn", "uvicorn"):
            for endpoint in ("plain", "db"):
                pair = metrics[app][endpoint]
                without, with_ = pair["without"], pair["with"]
                lines.append(
                    f"| {app} | {endpoint} | {without['rps']:.0f} | {without['p50_ms']} | {with_['rps']:.0f} | {with_['p50_ms']} | "
                    f"{pair['with_over_without']:.0%} | {pair['cost_us_per_request']} |"
                )
        lines += [
            "",
            "Requests the metrics counted during the runs: "
            + ", ".join(f"{app} {metrics[app]['requests_counted']}" for app in ("gunicorn", "uvicorn"))
            + ".",
            "",
            "![requests per second without and with the request metrics](metrics.png)",
        ]
    if results.get("memory"):
        lines += memory_lines(results["memory"])
    lines += ["", *DEFAULTS]
    collection = results.get("collection")
    if collection:
        lines += [
            "",
            "## The collection",
            "",
            "`ansible-playbook -i <the demo's inventory, pointed at the bench container> site.yml` on a bare "
            "Debian 12 container (the control node reaches it with `docker exec`), then once more, then "
            "`playbooks/deploy.yml -e django_app_source_path=<the example with one template changed>`."
            + (f" Measured on {results['collection_date']} (`bench.py --timings-only --write`)." if "collection_date" in results else ""),
            "",
            "| run | seconds | tasks ok | changed | module calls (host + control node) |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        runs = (
            ("cold_converge", "cold converge"),
            ("no_change", "second run"),
            ("code_only_deploy", "code-only deploy"),
            ("no_change_mitogen", "second run, Mitogen strategy"),
            ("code_only_deploy_mitogen", "code-only deploy, Mitogen strategy"),
        )
        for name, label in runs:
            run = collection.get(name)
            if run:
                calls = f"{run['module_calls']} + {run['local_module_calls']}" if "module_calls" in run else "not logged"
                lines.append(f"| {label} | {run['seconds']} | {run['tasks_ok']} | {run['changed']} | {calls} |")
        load = collection["code_only_deploy"].get("load")
        if load:
            lines += [
                "",
                f"During the code-only deploy, the example's loadgen sent {load['sent']} requests through nginx "
                f"(`/` and `/healthz`, 10 a second, 4 connections, from the deploy's start to 3 s after its end): "
                f"{load['ok']} answered 2xx, {load['non_2xx']} answered otherwise, {load['socket_errors']} failed at "
                f"the socket ({load['retried_on_closed_keepalive']} sent again on a new connection after nginx closed "
                "an idle kept-alive one as it reloaded, as browsers do).",
            ]
        lines += ["", "![the collection's runs](collection.png)"]
        if "no_change_mitogen" in collection:
            lines += [
                "",
                "The Mitogen rows run the same playbooks with `ANSIBLE_STRATEGY=mitogen_linear` (the `mitogen` "
                "package of benchmarks/requirements.txt) and the `docker` connection, which Mitogen replaces "
                "with its own: one Python per host stays up and imports each module once. They are for "
                "comparison; the targets are read from Ansible's own strategy, the collection's default.",
            ]
        costs = collection.get("per_call")
        if costs:
            module = costs["module_call"]
            lines += [
                "",
                f"What a call costs here (`benchmarks/call-cost.yml`, loops of 20): {costs['controller_task']} s "
                f"for an item that runs on the control node alone, {costs['round_trip']} s for a bare command "
                "through `docker exec`, "
                f"{module} s for a module call (Python started on the host, ansible's module_utils imported, "
                "one answer). Pipelining is on, so each call is one round trip. The roles do their work with "
                "Ansible's own modules: a template or copy that changes nothing makes two calls (a checksum, then "
                "owner and mode), each item of a loop is a call of its own, and a skipped task none (it costs "
                f"the control node a few hundredths of a second). At {module} s a call, the second run's "
                f"{collection['no_change'].get('module_calls', '?')} calls logged on the host account for at least "
                f"{module * collection['no_change'].get('module_calls', 0):.0f} s of its "
                f"{collection['no_change']['seconds']} s: the count is of the `EXEC` lines of `-vvv`'s output, which "
                "come out fewer than the tasks that reached the host in a profile of the same runs, a lower "
                "bound until that is explained. A run reads a step's "
                "tasks and a role's optional parts (ACME, making certificates, removing a server) only when "
                "it has work for them.",
            ]
        for name, label in (("no_change", "the second run"), ("code_only_deploy", "the code-only deploy")):
            slowest = collection[name].get("slowest_tasks")
            if slowest:
                lines += ["", f"The slowest tasks of {label} (ansible.posix.profile_tasks):", ""]
                lines += [f"- {task['seconds']:.2f} s: {task['task']}" for task in slowest]
    converge = results.get("collection_servers_converge")
    if converge:
        lines += ["", f"Converging the eight apps of the server figures took {converge['seconds']} s."]
    lines += growth_lines(results.get("growth"))
    lines.append("")
    return "\n".join(lines)


def bars(axis, categories, series, ylabel, title=None):
    """Grouped bars on axis: one group per category, one bar per series (label: values)."""
    width = 0.8 / len(series)
    positions = range(len(categories))
    for n, (label, values) in enumerate(series.items()):
        axis.bar([p - 0.4 + width * (n + 0.5) for p in positions], values, width, label=label)
    axis.set_xticks(list(positions), categories, rotation=45 if len(categories) > 3 else 0, ha="right" if len(categories) > 3 else "center")
    axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title)
    if len(series) > 1:
        axis.legend(fontsize="small")


def save(figure, name, title):
    import matplotlib.pyplot as plt

    figure.suptitle(f"djangoops.stack: {title}")
    figure.tight_layout()
    figure.savefig(OUT / name, dpi=100)
    plt.close(figure)


def charts(results):
    """A chart for each table of the report, each in a file of its own beside README.md."""
    import matplotlib  # only the report needs it (benchmarks/requirements.txt)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def one(size=(8, 5), columns=1):
        figure, axes = plt.subplots(1, columns, figsize=size, squeeze=False)
        return figure, list(axes[0])

    def single(name, title, categories, series, ylabel, size=(8, 5)):
        figure, axes = one(size)
        bars(axes[0], categories, series, ylabel)
        save(figure, name, title)

    servers = results["servers"]
    apps = list(servers)
    endpoints = measured(servers[apps[0]])
    figure, axes = one((5 * len(endpoints), 5), len(endpoints))
    for axis, endpoint in zip(axes, endpoints, strict=True):
        series = {
            side: [servers[app][endpoint][key]["rps"] for app in apps]
            for side, key in (("direct", "direct"), ("through nginx (HTTPS)", "nginx"))
        }
        bars(axis, apps, series, "requests/s", endpoint)
    save(figure, "chart.png", "requests per second per application server")

    proxy = results.get("proxy_cost")
    if proxy:
        shares = sorted({row["share"] for figures in proxy["servers"].values() for rows in figures.values() for row in rows}, reverse=True)
        figure, grid = plt.subplots(len(shares), 2, figsize=(16, 5 * len(shares)), squeeze=False)
        proxied = list(proxy["servers"])
        for line, share in zip(grid, shares, strict=True):
            for axis, key in zip(line, ("added_p50_ms", "added_p99_ms"), strict=True):
                series = {
                    endpoint: [
                        next(
                            (
                                row[key]
                                for row in proxy["servers"][app].get(endpoint, [])
                                if row["share"] == share and not off_schedule(row)
                            ),
                            0,
                        )
                        for app in proxied
                    ]
                    for endpoint in ENDPOINTS
                }
                bars(axis, proxied, series, "ms added by nginx", f"{key.split('_')[1]} added at {share:.0%} of the direct maximum")
                axis.axhline(TARGETS["proxy_added_ms"][key.split("_")[1]] if share == 0.5 else 0, color="grey", linewidth=0.8)
        save(figure, "proxy-cost.png", "the latency nginx adds at a fixed rate (off-schedule runs left out)")
        websocket = proxy.get("websocket")
        if websocket:
            names = list(websocket)
            series = {side: [websocket[app][side]["per_second"] for app in names] for side in ("direct", "nginx")}
            single("websocket.png", "WebSocket echo messages per second", names, series, "messages/s")

    static = results["static"]
    series = {"req/s": [static["site"]["rps"], static["bare_nginx"]["rps"]]}
    single("static.png", "a 10 KB static file", ["deployed site", "bare nginx"], series, "requests/s", (6, 4))

    apache = results.get("apache")
    if apache:
        names = measured(apache)
        series = {
            label: [apache[e][key]["rps"] for e in names]
            for label, key in (("Apache", "apache"), ("gunicorn behind nginx", "gunicorn_nginx"))
        }
        single("apache.png", "Apache with mod_wsgi against gunicorn behind nginx", names, series, "requests/s")

    metrics = results.get("metrics")
    if metrics:
        pairs = [(app, endpoint) for app in ("gunicorn", "uvicorn") for endpoint in ("plain", "db")]
        series = {side: [metrics[app][endpoint][side]["rps"] for app, endpoint in pairs] for side in ("without", "with")}
        labels = [f"{app} {endpoint}" for app, endpoint in pairs]
        single("metrics.png", "requests per second without and with the request metrics", labels, series, "requests/s")

    memory = results.get("memory")
    if memory:
        names = list(memory["idle"]["services"])
        series = {
            side: [memory[key]["services"].get(name, 0) for name in names] for side, key in (("idle", "idle"), ("under load", "under_load"))
        }
        single("memory.png", f"memory on a {memory['memory_mb']} MiB host", names, series, "MiB (PSS)", (9, 5))

    collection = results.get("collection")
    if collection:
        runs = [
            name
            for name in ("cold_converge", "no_change", "code_only_deploy", "no_change_mitogen", "code_only_deploy_mitogen")
            if name in collection
        ]
        series = {"seconds": [collection[name]["seconds"] for name in runs]}
        single("collection.png", "the collection's runs on one host", [name.replace("_", " ") for name in runs], series, "seconds", (9, 5))

    growth = results.get("growth")
    if growth:
        figure, axes = one((12, 5), 2)
        for axis, dimension, label in zip(axes, ("apps", "hosts"), ("apps on one host", "app hosts"), strict=True):
            counts = sorted(growth[dimension], key=int)
            for run, name in GROWTH_RUNS:
                axis.plot([int(c) for c in counts], [growth[dimension][c][run]["seconds"] for c in counts], marker="o", label=name)
            axis.set_xlabel(label)
            axis.set_ylabel("seconds")
            axis.set_xticks([int(c) for c in counts])
            axis.legend(fontsize="small")
        save(figure, "growth.png", "each run's time by apps and by app hosts")


def main():
    results = json.loads((OUT / "results.json").read_text())
    (OUT / "README.md").write_text(markdown(results))
    charts(results)


if __name__ == "__main__":
    main()
