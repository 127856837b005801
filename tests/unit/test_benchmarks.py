"""The benchmark's parsing and report (make bench itself is not a test: it prints figures)."""

import sys

from conftest import ROOT, load_yaml

sys.path.insert(0, str(ROOT / "benchmarks"))

import bench
import memory
import report

WRK = """Running 8s test @ https://gunicorn.bench.test:443/bench/plain
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    27.13ms    5.30ms  80.01ms   85.00%
    Req/Sec   295.44     30.12   350.00     70.00%
  Latency Distribution
     50%   26.50ms
     75%   29.00ms
     90%   33.00ms
     99%    1.20s
  4722 requests in 8.01s, 1.20MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:    589.52
Transfer/sec:    153.00KB
"""


def test_wrk_output_is_parsed_with_units():
    figures = bench.parse_wrk(WRK)
    assert figures == {"rps": 589.52, "p50_ms": 26.5, "p99_ms": 1200.0, "non_2xx": 3, "socket_errors": 3, "requests": 4722}


def test_one_app_per_server_and_split_mode_each_on_its_own_port():
    apps = bench.apps()
    assert [a["name"] for a in apps] == [*bench.SERVERS, "split"]
    assert len({a["bind"] for a in apps}) == len(apps)
    assert apps[-1]["websocket_server"] == "uvicorn"


def test_the_report_reads_the_targets_from_the_figures():
    run = {"rps": 100.0, "p50_ms": 1.0, "p99_ms": 2.0, "non_2xx": 0, "socket_errors": 0, "requests": 800}
    slow = {**run, "rps": 80.0}
    servers = {
        app: {
            e: {"direct": run, "nginx": slow if app == "uwsgi" else run, "nginx_over_direct": 0.8 if app == "uwsgi" else 1.0}
            for e in report.ENDPOINTS
        }
        for app in [*bench.SERVERS, "split"]
    }
    fixed = {"answered": 500, "non_2xx": 0, "socket_errors": 0, "p50_ms": 1.0, "p90_ms": 1.5, "p99_ms": 2.0, "p999_ms": 3.0, "max_ms": 4.0}

    def rows_at(app, endpoint):
        slower = {**fixed, "p50_ms": 2.5, "p99_ms": 9.0} if (app, endpoint) == ("daphne", "template") else {**fixed, "p50_ms": 1.4}
        return [
            {"share": share, "rate": 50, "direct_maximum": 100.0, "direct": fixed, "nginx": nginx, "added_p50_ms": nginx["p50_ms"] - 1.0,
             "added_p99_ms": nginx["p99_ms"] - 2.0, "nginx_cpu_us_per_request": 80.0}
            for share, nginx in ((0.5, slower), (0.25, fixed))
        ]  # fmt: skip

    echo = {"messages": 9000, "per_second": 900.0, "p50_ms": 1.2, "p99_ms": 4.0, "failed_connections": 0, "first_failure": None}
    proxy_cost = {app: {e: rows_at(app, e) for e in report.ENDPOINTS} for app in [*bench.SERVERS, "split"]}
    results = {
        "date": "2026-11-22T00:00:00+00:00",
        "machine": {"cpu": "test", "cpus": 2, "memory_gb": 1, "kernel": "6"},
        "settings": {"seconds": 8, "connections": 16, "threads": 2},
        "versions": {"nginx": "1.22.1"},
        "servers": servers,
        "static": {"file": "/static/x", "bytes": 10240, "site": run, "bare_nginx": run, "site_over_bare": 1.0},
        "proxy_cost": {"seconds": 10, "connections": 16, "servers": proxy_cost, "websocket": {"uvicorn": {"direct": echo, "nginx": echo}}},
        "collection": {
            "cold_converge": {"seconds": 120, "changed": 49, "tasks_ok": 150},
            "no_change": {"seconds": 54, "changed": 0, "tasks_ok": 150, "module_calls": 41, "local_module_calls": 0},
            "code_only_deploy": {
                "seconds": 84,
                "changed": 11,
                "tasks_ok": 100,
                "load": {"sent": 900, "ok": 899, "non_2xx": 1, "socket_errors": 0, "retried_on_closed_keepalive": 2},
            },
            "no_change_mitogen": {"seconds": 30, "changed": 0, "tasks_ok": 150},
            "code_only_deploy_mitogen": {"seconds": 40, "changed": 11, "tasks_ok": 100},
            "per_call": {"controller_task": 0.08, "round_trip": 0.07, "module_call": 0.4},
        },
        "memory": {
            "memory_mb": 1024,
            "cpus": 1,
            "converge_seconds": 300,
            "sizing": {
                "app_server_workers": 3,
                "celery_processes": 1,
                "postgresql_shared_buffers": "244MB",
                "redis_maxmemory": "maxmemory 244mb",
            },
            "idle": {"services": {"nginx": 5.0, "PostgreSQL": 30.0}, "container": {"used_mb": 800.0, "without_page_cache_mb": 600.0}},
            "under_load": {
                "services": {"nginx": 7.0, "PostgreSQL": 40.0},
                "container": {"used_mb": 850.0, "without_page_cache_mb": 650.0},
                "wrk": run,
                "connections": 16,
                "seconds": 20,
            },
            "left_at_idle": 0.219,
            "fits": False,
        },
        "growth": {
            "date": "2026-11-22T01:00:00+00:00",
            "apps": {count: growth_runs(cold, again, 30) for count, cold, again in (("1", 100, 30), ("4", 220, 54), ("8", 380, 86))},
            "hosts": {count: growth_runs(cold, again, 40) for count, cold, again in (("1", 110, 35), ("3", 150, 39), ("5", 190, 43))},
        },
    }
    rows = {key: (value, state) for key, _, value, state in report.targets(results)}
    assert rows.keys() == report.TARGETS.keys()
    # The proxy's cost: read at half the direct maximum only, the worst of every server and endpoint.
    assert rows["proxy_added_ms"] == ("highest added p50 1.50 ms (daphne, template), p99 7.00 ms (daphne, template)", "**missed**")
    assert rows["cold_converge_seconds"] == ("120 s", "met")
    assert rows["no_change_seconds"][1] == "**missed**"
    text = report.markdown(results)
    assert "| uwsgi | plain | 100 |" in text
    assert "| daphne | template | 50 | 1.00 | 2.00 | 2.50 | 9.00 | +1.50 | +7.00 | 80.0 |" in text
    assert "| gunicorn | db | 50 | 1.00 | 2.00 | 1.40 | 2.00 | +0.40 | +0.00 | 80.0 |" in text
    assert "At 25% of the direct maximum:" in text
    assert "| uvicorn | 900 | 1.2 | 4.0 | 900 | 1.2 | 4.0 |" in text
    assert "≥ 90% of direct" not in text
    assert "chart.png" in text
    assert "| second run | 54 | 150 | 0 | 41 + 0 |" in text
    assert "| second run, Mitogen strategy | 30 | 150 | 0 | not logged |" in text
    # The targets are read from Ansible's own strategy, not from the faster Mitogen runs, and the
    # deploy's time counts only with no request failed under it.
    assert rows["code_only_seconds"] == ("84 s; 1 of 900 requests failed", "**missed**")
    assert "899 answered 2xx, 1 answered otherwise, 0 failed at the socket" in text
    # Growth: the slope from the fewest apps or hosts to the most.
    assert rows["no_change_per_app_seconds"] == ("8.0 s per app", "met")
    assert rows["cold_per_app_seconds"] == ("40.0 s per app", "met")
    assert rows["no_change_per_host_seconds"] == ("2.0 s per host", "met")
    assert "| 8 | 380 | 86 | 30 | 60 | 190 | 38.0 / 190.0 / 76.0 | 3.8 / 19.0 / 7.6 |" in text
    assert "| one app more | +40.0 | +8.0 | +0.0 | | +20 | +4.0 / +20.0 / +8.0 | +0.4 / +2.0 / +0.8 |" in text
    assert "| one host more | +20.0 | +2.0 | +0.0 | | +10 | +2.0 / +10.0 / +4.0 | +0.2 / +1.0 / +0.4 |" in text
    for chart in ("chart", "proxy-cost", "websocket", "static", "memory", "collection", "growth"):
        assert f"]({chart}.png)" in text, chart
    # The memory target: what is left of the 1 GB at idle.
    assert rows["memory_left_at_idle"] == ("800 MiB used, 22% left", "**missed**")
    assert "| PostgreSQL | 30.0 | 40.0 |" in text
    assert "| **the container** | **800.0** | **850.0** |" in text
    assert "| the container without page cache | 600.0 | 650.0 |" in text


def growth_runs(cold, again, deploy):
    run = {"changed": 0, "tasks_ok": 100, "module_calls": 60}
    cpu = {"control_node": cold / 10, "hosts": cold / 2, "engine": cold / 5}
    return {
        "cold_converge": {**run, "seconds": cold, "changed": 50, "module_calls": cold // 2, "cpu": cpu},
        "no_change": {**run, "seconds": again, "cpu": {part: value / 10 for part, value in cpu.items()}},
        "code_only_deploy": {**run, "seconds": deploy, "changed": 10},
    }


def test_memory_is_read_by_service_with_the_rest_apart():
    pss = {"nginx.service": 2048, "postgresql@15-main.service": 10240, "example.service": 4096, "cron.service": 512, "other": 512}
    figures = memory.by_service(pss)
    assert figures["nginx"] == 2.0
    assert figures["PostgreSQL"] == 10.0
    assert figures["app server (gunicorn)"] == 4.0
    assert figures["Redis"] == 0.0
    assert figures["everything else"] == 1.0


def test_the_call_cost_playbook_has_the_three_tasks_the_bench_times():
    play = load_yaml(ROOT / "benchmarks" / "call-cost.yml")[0]
    names = [task["name"] for task in play["tasks"]]
    assert [name.split(" x")[0] for name in names] == ["Controller only", "Round trip", "Module call"]
    assert all(task["loop"] == "{{ range(20) | list }}" for task in play["tasks"])


def test_the_mitogen_runs_use_a_copy_of_the_inventory_with_the_docker_connection(tmp_path):
    inventory = bench.write_inventory(tmp_path / "inventory")
    copy = bench.mitogen_inventory(inventory)
    assert "ansible_connection: docker\n" in (copy / "hosts.yml").read_text()
    assert "community.docker.docker" in (inventory / "hosts.yml").read_text()
    assert (copy / "group_vars" / "all" / "app.yml").read_text() == (inventory / "group_vars" / "all" / "app.yml").read_text()


def test_module_calls_are_counted_from_the_executions_a_verbose_run_logs():
    output = "\n".join(
        [
            "<web1> EXEC ['/usr/bin/docker', b'exec', b'-i', 'web1', '/bin/sh', '-c', \"/bin/sh -c '/usr/bin/python3.11 && sleep 0'\"]",
            "<web1> EXEC ['/usr/bin/docker', b'exec', b'-i', 'web1', '/bin/sh', '-c', \"/bin/sh -c 'echo FOUND; command -v python3'\"]",
            "<localhost> EXEC /bin/sh -c '/srv/venv/bin/python3.11 && sleep 0'",
            "<web2> EXEC /bin/sh -c '/usr/bin/python3 && sleep 0'",
            # A host reached over SSH at a port published on the loopback is still a host.
            "<127.0.0.1> SSH: EXEC ssh -C -o ControlMaster=auto -o Port=32770 127.0.0.1 '/bin/sh -c '\"'\"'/usr/bin/python3 && sleep 0'\"'\"''",
            "<127.0.0.1> SSH: EXEC sftp -b - -C -o Port=32770 '[127.0.0.1]'",
        ]
    )
    assert bench.module_calls(output) == {"module_calls": 3, "local_module_calls": 1}


def test_a_fixed_rate_row_wrk_sent_early_is_no_figure():
    run = {"answered": 100, "non_2xx": 0, "socket_errors": 0, "p50_ms": 1.0, "p99_ms": 2.0}
    row = {"share": 0.5, "rate": 10, "direct": run, "nginx": run, "added_p50_ms": 0.0, "added_p99_ms": 0.0, "nginx_cpu_us_per_request": 1.0}
    assert report.off_schedule(row) == 0
    assert report.off_schedule({**row, "direct": {**run, "early": 3}}) == 3
    # Counted by the script, or seen in a run from before it counted them: a negative median.
    assert report.off_schedule({**row, "direct": {**run, "p50_ms": -9.6}}) == 1
    lines = report.proxy_cost_lines(
        {"connections": 16, "seconds": 8, "servers": {"uwsgi": {"plain": [{**row, "direct": {**run, "early": 3}}]}}}
    )
    assert any(line.startswith("| uwsgi | plain |") and "off schedule: not a figure" in line for line in lines), lines


def test_cpu_time_is_read_from_either_cgroup_layout(tmp_path):
    unified = tmp_path / "cpu.stat"
    unified.write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    legacy = tmp_path / "cpuacct.usage"
    legacy.write_text("1500000000\n")
    assert bench.cgroup_seconds(unified) == 2.5
    assert bench.cgroup_seconds(legacy) == 1.5


def test_the_engine_counts_its_daemons_and_shims_with_what_they_waited_for(tmp_path):
    ticks = bench.os.sysconf("SC_CLK_TCK")

    def process(pid, name, utime, stime, cutime, cstime):
        folder = tmp_path / str(pid)
        folder.mkdir()
        # proc(5): pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
        folder.joinpath("stat").write_text(f"{pid} ({name}) S 1 1 1 0 -1 0 0 0 0 0 {utime} {stime} {cutime} {cstime} 20 0 1 0\n")

    process(10, "dockerd", ticks, ticks, 0, 0)
    process(11, "containerd-shim", 0, 0, 2 * ticks, ticks)  # containerd-shim-runc-v2, as the kernel cuts it
    process(12, "python3", 50 * ticks, 0, 0, 0)  # the modules' own: counted in the container's cgroup
    process(13, "my (odd) name", 50 * ticks, 0, 0, 0)
    (tmp_path / "self").mkdir()
    assert bench.engine_seconds(tmp_path) == 5.0


def test_a_cpu_part_this_host_cannot_count_is_shown_as_unknown():
    before = {"control_node": 1.0, "hosts": None, "engine": 10.0}
    after = {"control_node": 4.25, "hosts": None, "engine": 12.0}
    split = bench.cpu_split(before, after)
    assert split == {"control_node": 3.2, "hosts": None, "engine": 2.0}
    assert report.cpu_cell(split) == "3.2 / ? / 2.0"
    assert report.cpu_cell(None) == ""
    # A table from before the CPU was counted still renders, without those cells.
    rows = {count: {run: {"seconds": seconds, "changed": 0} for run, _ in report.GROWTH_RUNS} for count, seconds in (("1", 10), ("3", 30))}
    assert report.marginal_cpu(rows, "cold_converge") is None
    assert report.marginal(rows, "cold_converge", "module_calls") is None
    assert "| one host more | +10.0 | +10.0 | +10.0 | |  |  |  |" in "\n".join(
        report.growth_lines({"date": "now", "apps": rows, "hosts": rows})
    )


def test_a_growth_host_is_reached_over_ssh_at_its_loopback_port(tmp_path):
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    bench.ssh_host_vars(inventory, "djangoops-bench-app1", 32770, tmp_path / "id_ed25519")
    settings = load_yaml(inventory / "host_vars" / "djangoops-bench-app1.yml")
    assert settings["ansible_connection"] == "ssh"
    assert (settings["ansible_host"], settings["ansible_port"], settings["ansible_user"]) == ("127.0.0.1", 32770, "root")
    assert settings["ansible_ssh_private_key_file"] == str(tmp_path / "id_ed25519")
    # Control sockets of this inventory's own: a port a removed container had is published again.
    assert settings["ansible_control_path_dir"] == str(inventory / "cp")
    assert bench.SSH_PUBLISH == ("--publish", "127.0.0.1::22")
