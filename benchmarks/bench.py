#!/usr/bin/env python3
"""make bench: how fast the deployed stacks serve, and how fast the collection converges.

Figures, not tests: every number is printed and written under docs/benchmarks/ (results.json,
README.md with the tables, chart.png), with the machine, the versions and the commands.

1. The collection: a cold converge of the demo's inventory on a bare Debian 12 container, a
   second run (it must change nothing), and a code-only deploy (playbooks/deploy.yml with one
   template changed, while the example's loadgen sends requests through nginx); the second run and a code-only deploy once more under Mitogen's strategy,
   for comparison; then what one task costs (benchmarks/call-cost.yml), which bounds them.
2. The servers: the same container then runs the example project once per application server
   (and split mode), each on its own loopback TCP port behind nginx. wrk, inside the container,
   measures requests per second and p50/p99 latency for a plain response, a template render and
   a database read, directly against the app server and through nginx over HTTPS with
   keep-alive, in the same run, so the proxy's cost is a ratio. The app server measured runs on
   the last CPU, wrk and nginx on the others (taskset), as a load balancer on its own host
   would: the ratio is then what the proxy costs the app, not CPU that nginx's TLS takes from
   it. A short run of each, not counted, warms the workers; each pair of runs is then repeated
   (--repeat), the median run kept and the ratio the median of the pairs' ratios.
   Then the proxy's cost at a fixed rate: each server and endpoint at half of that direct
   maximum and at a quarter of it, directly and through nginx, with wrk sending on a schedule
   (benchmarks/fixed-rate.lua) and each request's latency counted from when it was due: the p50
   and p99 nginx adds, and nginx's CPU time per request; and the WebSocket echo's rate on each
   server that speaks WebSocket (--proxy-only measures these alone).
3. Static files: a 10 KB file through the deployed site against nginx's own limit for the same
   file (a bare server with sendfile, the same TLS settings, in the same container).
4. Apache with mod_wsgi (djangoops_web_server: apache): a second container runs the example
   project under Apache alone, and wrk measures the same endpoints over HTTPS with keep-alive.
   There is no "direct" for it (Apache is the TLS end and the app server at once): its figures
   stand against gunicorn behind nginx from the same run. Its mod_wsgi daemons run on the app
   server's CPU, Apache's own processes and wrk on the others, as nginx and the app server do.

5. Memory: the single-host stack on a container held to 1 GB and one CPU (benchmarks/memory.py).
6. Growth: the cold converge, the run that changes nothing and the code-only deploy again for 1,
   4 and 8 apps on one host, and for 1, 3 and 5 app hosts behind a host that is the load balancer
   and the database, on a Docker network of their own: what one more app or host costs. These
   containers are reached over SSH (a port published on the loopback), as servers are, and each
   run's CPU time is split between the control node, the containers and the Docker engine.

Every load run is bounded (--seconds); all traffic stays inside the containers. The containers
are removed at the end (--keep leaves the first one).
"""

import argparse
import json
import os
import platform
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import memory

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks"
CONTAINER = "djangoops-bench"
APACHE_CONTAINER = "djangoops-bench-apache"
# The container sh() and wrk run in: the first one, then Apache's.
TARGET = {"container": CONTAINER}
IMAGE = "djangoops/debian:12"
EXAMPLE = ROOT / "extensions" / "molecule" / "shared" / "django_project"
SERVERS = ["gunicorn", "gunicorn_uvicorn", "uvicorn", "daphne", "hypercorn", "uwsgi", "granian"]
ENDPOINTS = {
    "plain": "/bench/plain",
    "template": "/bench/template",
    "db": "/bench/db",
    "wait": "/bench/wait",
    "async_db": "/bench/async-db",
}
STATIC_FILE = "notes/sample-10k.txt"
LOADGEN = ROOT / "extensions" / "molecule" / "shared" / "loadgen.py"
# Requests a second through nginx while the code-only deploy runs: a steady trickle that shows a
# dropped request without taking the CPUs from the deploy.
DEPLOY_LOAD_RATE = 10
# The counts of apps on one host and of app hosts that the growth figures compare.
GROWTH = {"apps": (1, 4, 8), "hosts": (1, 3, 5)}
GROWTH_NETWORK = "djangoops-bench-growth"
GROWTH_LB = "djangoops-bench-lb"
GROWTH_APP_HOST = "djangoops-bench-app"
BARE_PORT = 8443


def say(message):
    print(f"[bench] {message}", flush=True)


def run(args, **kwargs):
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs).stdout


def docker(*args, check=True):
    result = subprocess.run(["docker", *args], text=True, capture_output=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}...: {result.stderr.strip()}")
    return result.stdout


def sh(command, check=True):
    return docker("exec", TARGET["container"], "sh", "-c", command, check=check)


def site_of(app):
    return f"{app.replace('_', '-')}.bench.test"


# --apache-only: of the first container's apps, gunicorn alone (Apache's reference).
ONLY = {"apps": None}


def apps():
    """One app per server, each on its own loopback port, and split mode."""
    entries = [
        {
            "name": server,
            "server": server,
            "server_names": [site_of(server)],
            "bind": f"127.0.0.1:{8101 + n}",
            "metrics_port": 9901 + n,
        }
        for n, server in enumerate(SERVERS)
    ]
    entries.append(
        {
            "name": "split",
            "server": "gunicorn",
            "server_names": [site_of("split")],
            "bind": f"127.0.0.1:{8101 + len(SERVERS)}",
            "websocket_server": "uvicorn",
            "websocket_paths": ["/ws/"],
            "websocket_bind": f"127.0.0.1:{8201 + len(SERVERS)}",
            "metrics_port": 9901 + len(SERVERS),
        }
    )
    return [entry for entry in entries if ONLY["apps"] is None or entry["name"] in ONLY["apps"]]


def write_inventory(folder, container=CONTAINER, extra_vars="", extra_groups=()):
    """The demo's inventory, pointed at a bench container."""
    shutil.copytree(ROOT / "inventories" / "demo" / "group_vars", folder / "group_vars")
    app_vars = folder / "group_vars" / "all" / "app.yml"
    text = app_vars.read_text().replace('"{{ inventory_dir }}/../../extensions/molecule/shared/django_project"', f'"{EXAMPLE}"')
    app_vars.write_text(text.replace("demo.djangoops.test", "bench.djangoops.test"))
    groups = "\n".join(
        f"    {group}:\n      hosts:\n        {container}:"
        for group in ("loadbalancers", "appservers", "databases", "redis", "workers", *extra_groups)
    )
    (folder / "hosts.yml").write_text(
        f"---\ndjangoops:\n  children:\n{groups}\n  vars:\n    ansible_connection: community.docker.docker\n"
        f"    ansible_become: false\n{extra_vars}"
    )
    (folder / "apps.json").write_text(json.dumps({"djangoops_apps": apps()}))
    return folder


def mitogen_env():
    """Settings that run a playbook under Mitogen's strategy (benchmarks/requirements.txt)."""
    import ansible_mitogen  # only these runs need it (benchmarks/requirements.txt)

    return {
        "ANSIBLE_STRATEGY_PLUGINS": str(Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"),
        "ANSIBLE_STRATEGY": "mitogen_linear",
    }


def mitogen_inventory(inventory):
    """A copy of the bench inventory that reaches the container with the `docker` connection."""
    copy = inventory.parent / "inventory-mitogen"
    if not copy.exists():
        shutil.copytree(inventory, copy)
        hosts = copy / "hosts.yml"
        hosts.write_text(hosts.read_text().replace("ansible_connection: community.docker.docker", "ansible_connection: docker"))
    return copy


def playbook(inventory, name, *extra, mitogen=False, env=None, containers=()):
    """Run a playbook as a user would; seconds taken, tasks changed, output. env: the
    environment to run it in (default this one's). containers: the hosts' containers, whose CPU
    time the run's figures then split (cpu_split)."""
    # ansible.posix.profile_tasks adds each task's time; its summary names the slowest.
    env = {
        **(env or os.environ),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "12",
    }
    if mitogen:
        # Mitogen speeds up the connections it knows by their short names: "docker" here, set in
        # the inventory (an extra var would also take over the tasks delegated to localhost).
        env.update(mitogen_env())
        inventory = mitogen_inventory(inventory)
    # -vvv logs each execution on a host, one line a module call (with pipelining); Mitogen runs
    # its own way and logs none, so its runs report no count.
    args = ["ansible-playbook", "-vvv", "-i", str(inventory), str(ROOT / name)]
    for value in extra:
        args += ["-e", value]
    cgroups = [container_cgroup(name) for name in containers]
    before = cpu_now(cgroups)
    started = time.monotonic()
    result = subprocess.run(args, text=True, capture_output=True, check=False, cwd=ROOT, env=env, timeout=3600)
    seconds = round(time.monotonic() - started, 1)
    cpu = cpu_split(before, cpu_now(cgroups)) if containers else None
    if result.returncode != 0:
        print(result.stdout[-4000:], result.stderr[-2000:], file=sys.stderr)
        raise RuntimeError(f"{name} failed")
    changed = sum(int(n) for n in re.findall(r"\bchanged=(\d+)", result.stdout.split("PLAY RECAP")[-1]))
    tasks = sum(int(n) for n in re.findall(r"\bok=(\d+)", result.stdout.split("PLAY RECAP")[-1]))
    summary = result.stdout.split("PLAY RECAP")[-1]
    slowest = [
        {"task": name.strip(), "seconds": float(taken)} for name, taken in re.findall(r"^(\S.*?) -+ (\d+\.\d+)s$", summary, re.MULTILINE)
    ]
    calls = module_calls(result.stdout)
    figures = {"seconds": seconds, "changed": changed, "tasks_ok": tasks, "slowest_tasks": slowest, **({} if mitogen else calls)}
    return {**figures, "cpu": cpu} if cpu else figures


# Where a container's cgroup is, by cgroup layout: the unified hierarchy under systemd's or
# cgroupfs's driver, then a hybrid host's unified mount, then cgroup v1's CPU accounting.
CGROUP_PATHS = (
    "/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat",
    "/sys/fs/cgroup/docker/{id}/cpu.stat",
    "/sys/fs/cgroup/unified/system.slice/docker-{id}.scope/cpu.stat",
    "/sys/fs/cgroup/unified/docker/{id}/cpu.stat",
    "/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage",
    "/sys/fs/cgroup/cpu,cpuacct/docker/{id}/cpuacct.usage",
)
# The Docker engine's processes: the daemons, each container's shim, which waits for the runc
# that every `docker exec` starts, and the proxy of a port published on the loopback. By their
# names in /proc/<pid>/stat, which the kernel cuts to 15 characters (containerd-shim-runc-v2 reads
# containerd-shim).
ENGINE_PROCESSES = ("dockerd", "containerd", "containerd-shim", "docker-proxy")


def container_cgroup(name):
    """The file that counts a container's CPU time, or None where this host's layout is not known."""
    container_id = docker("inspect", "--format", "{{.Id}}", name).strip()
    return next((path for path in (Path(p.format(id=container_id)) for p in CGROUP_PATHS) if path.exists()), None)


def cgroup_seconds(path):
    """CPU seconds a cgroup has used: cpu.stat's usage_usec, or cgroup v1's cpuacct.usage (ns)."""
    text = path.read_text()
    if path.name == "cpuacct.usage":
        return int(text) / 1e9
    return int(re.search(r"^usage_usec (\d+)$", text, re.MULTILINE).group(1)) / 1e6


def engine_seconds(proc=Path("/proc")):
    """CPU seconds the Docker engine's processes have used, with the children they waited for."""
    total = 0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # a process that ended meanwhile
            continue
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if name in ENGINE_PROCESSES:
            # utime, stime, cutime, cstime: fields 14 to 17 of proc(5), 12 to 15 after the name.
            total += sum(int(value) for value in rest[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def cpu_now(cgroups):
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "control_node": children.ru_utime + children.ru_stime,
        "hosts": sum(cgroup_seconds(path) for path in cgroups) if all(cgroups) else None,
        "engine": engine_seconds(),
    }


def cpu_split(before, after):
    """CPU seconds a run took where it ran: on the control node (ansible-playbook, its workers and
    the ssh or docker client each call starts), in the hosts' containers (the modules, and what
    they ran), and in the Docker engine (each `docker exec`, and the published ports' proxy); None
    for a part this host cannot count."""
    return {
        part: None if before[part] is None or after[part] is None else round(after[part] - before[part], 1)
        for part in ("control_node", "hosts", "engine")
    }


def module_calls(output):
    """Module calls in a -vvv run's output: on the managed hosts, and on the control node (tasks
    delegated to localhost). A call over SSH is a host's even where the host is reached at
    127.0.0.1 (a published port)."""
    runs = re.findall(r"^<([^>]+)> (SSH: )?EXEC .*python[0-9.]*'? && sleep 0", output, re.MULTILINE)
    local = sum(1 for host, ssh in runs if not ssh and host in ("localhost", "127.0.0.1"))
    return {"module_calls": len(runs) - local, "local_module_calls": local}


def start_container(name=CONTAINER, limits=()):
    """A bare Debian container booting systemd; limits: more `docker run` flags (memory, CPUs)."""
    docker("rm", "-f", name, check=False)
    flags = run([str(ROOT / "scripts" / "testbed"), "run-flags"]).split()
    docker("run", "-d", "--name", name, "--hostname", "bench", *flags, *limits, IMAGE, "/lib/systemd/systemd")
    for _ in range(60):
        state = docker("exec", name, "systemctl", "is-system-running", check=False).strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    raise RuntimeError(f"systemd did not boot in {name}")


def collection_timings(inventory, workdir):
    say("cold converge of the demo's inventory on a bare Debian 12 container")
    cold = playbook(inventory, "site.yml")
    say(f"  {cold['seconds']} s, {cold['changed']} changed")
    say("second run, which must change nothing")
    again = playbook(inventory, "site.yml")
    say(f"  {again['seconds']} s, {again['changed']} changed")
    # The same under Mitogen's strategy (one Python per host kept running, modules imported
    # once), for comparison; the targets are read from the runs with Ansible's own strategy.
    say("second run under Mitogen's strategy")
    again_mitogen = playbook(inventory, "site.yml", mitogen=True)
    say(f"  {again_mitogen['seconds']} s, {again_mitogen['changed']} changed")
    code = copy_example(workdir / "code-only", "code-only")
    say(f"code-only deploy (one template changed): playbooks/deploy.yml, under {DEPLOY_LOAD_RATE} requests/s through nginx")
    deploy = deploy_under_load(inventory, code)
    say(f"  {deploy['seconds']} s, {deploy['changed']} changed, load: {deploy['load']}")
    bump(code, "code-only, again")
    say("code-only deploy under Mitogen's strategy")
    deploy_mitogen = playbook(inventory, "playbooks/deploy.yml", f"django_app_source_path={code}", mitogen=True)
    say(f"  {deploy_mitogen['seconds']} s, {deploy_mitogen['changed']} changed")
    say("what one task costs: benchmarks/call-cost.yml")
    costs = call_costs(inventory)
    say(f"  {costs}")
    return {
        "cold_converge": cold,
        "no_change": again,
        "code_only_deploy": deploy,
        "no_change_mitogen": again_mitogen,
        "code_only_deploy_mitogen": deploy_mitogen,
        "per_call": costs,
    }


def bump(code, label):
    """Change one template of the example copy at code (a code-only change)."""
    index = code / "notes" / "templates" / "notes" / "index.html"
    text = re.sub(r"<h1>djangoops example[^<]*</h1>", f"<h1>djangoops example, {label}</h1>", index.read_text())
    index.write_text(text)


def copy_example(code, label):
    shutil.copytree(EXAMPLE, code, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3"))
    bump(code, label)
    return code


def deploy_under_load(inventory, code, container=CONTAINER, site="bench.djangoops.test"):
    """playbooks/deploy.yml while the example's loadgen sends DEPLOY_LOAD_RATE requests a second
    through nginx on the host (/ and /healthz, from inside the container: loopback only); the
    run's figures with the load's: requests sent, answered 2xx, answered otherwise, failed."""
    docker("cp", str(LOADGEN), f"{container}:/root/loadgen.py")
    docker("exec", container, "rm", "-f", "/root/load-stop", "/root/load.json")
    docker(
        "exec", "-d", container, "python3", "/root/loadgen.py", "--port", "443", "--site", site,
        "--rate", str(DEPLOY_LOAD_RATE), "--clients", "4", "--seconds", "900",
        "--stop-file", "/root/load-stop", "--json", "/root/load.json",
    )  # fmt: skip
    time.sleep(2)
    try:
        deploy = playbook(inventory, "playbooks/deploy.yml", f"django_app_source_path={code}")
    finally:
        # A few seconds more of load after the run: the new release serving.
        time.sleep(3)
        docker("exec", container, "touch", "/root/load-stop")
    for _ in range(60):
        text = docker("exec", container, "cat", "/root/load.json", check=False)
        if text.strip().startswith("{"):
            break
        time.sleep(1)
    else:
        raise RuntimeError("the load generator wrote no figures")
    load = json.loads(text)
    deploy["load"] = {key: load[key] for key in ("sent", "ok", "non_2xx", "socket_errors", "retried_on_closed_keepalive")}
    return deploy


def growth_app_entries(count):
    """count apps of the example, all under gunicorn, each with its own name and site: what one
    more app costs the collection, not what one server's packages cost."""
    return [{"name": f"app{n}", "server": "gunicorn", "server_names": [f"app{n}.bench.test"]} for n in range(1, count + 1)]


def growth_runs(inventory, code, containers, extra=()):
    """A cold converge, a run that changes nothing, and a code-only deploy of every app, each
    with the CPU time it took on the control node, in the containers and in the Docker engine."""
    figures = {}
    for name, book, more in (
        ("cold_converge", "site.yml", ()),
        ("no_change", "site.yml", ()),
        ("code_only_deploy", "playbooks/deploy.yml", (f"django_app_source_path={code}",)),
    ):
        run = playbook(inventory, book, *extra, *more, containers=containers)
        figures[name] = {key: run[key] for key in ("seconds", "changed", "tasks_ok", "module_calls", "cpu")}
        say(f"    {name}: {run['seconds']} s, {run['changed']} changed, {run['module_calls']} module calls, CPU s {run['cpu']}")
    return figures


# The growth runs reach their containers over SSH, as a user reaches servers: `docker exec`
# costs the Docker engine more CPU than the module it starts (the cold converge's CPU split),
# on the same two CPUs the runs are timed on.
SSH_PUBLISH = ("--publish", "127.0.0.1::22")
SSH_OPTIONS = ("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR")


def ssh_key(workdir):
    """A key pair for this bench's containers only (they live for one run)."""
    key = workdir / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "djangoops-bench", "-f", str(key)], check=True)
    return key


def ssh_access(name, key):
    """Debian's OpenSSH server in a started container, root's login by the key only (Debian's
    default), on the port Docker published on the loopback: that port."""
    docker(
        "exec", name, "sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null"
    )
    docker("exec", name, "install", "-d", "-m", "0700", "/root/.ssh")
    docker("cp", f"{key}.pub", f"{name}:/root/.ssh/authorized_keys")
    docker("exec", name, "sh", "-c", "chown root:root /root/.ssh/authorized_keys && chmod 0600 /root/.ssh/authorized_keys")
    docker("exec", name, "systemctl", "enable", "--now", "ssh")
    port = int(docker("port", name, "22/tcp").split()[0].rsplit(":", 1)[1])
    for _ in range(30):
        probe = ["ssh", *SSH_OPTIONS, "-o", "BatchMode=yes", "-i", str(key), "-p", str(port), "root@127.0.0.1", "true"]
        if subprocess.run(probe, capture_output=True, check=False, timeout=30).returncode == 0:
            return port
        time.sleep(1)
    raise RuntimeError(f"no SSH login to {name} on 127.0.0.1:{port}")


def ssh_host_vars(inventory, name, port, key):
    """The host's connection: SSH to its published port, with a control socket folder of the
    inventory's own (a port a removed container had may be published again for the next one)."""
    folder = inventory / "host_vars"
    folder.mkdir(exist_ok=True)
    settings = {
        "ansible_connection": "ssh",
        "ansible_host": "127.0.0.1",
        "ansible_port": port,
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": " ".join(SSH_OPTIONS),
        "ansible_host_key_checking": False,
        "ansible_control_path_dir": str(inventory / "cp"),
    }
    # JSON is YAML: the inventory reads the file as host variables.
    (folder / f"{name}.yml").write_text(json.dumps(settings, indent=2) + "\n")


def growth_containers_up(inventory, names, key, network=None):
    """Start the named containers, each reached over SSH from the inventory."""
    for name in names:
        start_container(name, (*(("--network", network) if network else ()), *SSH_PUBLISH))
        ssh_host_vars(inventory, name, ssh_access(name, key), key)


def growth_by_apps(workdir):
    """The three runs for each count of apps on one host (GROWTH['apps'])."""
    rows = {}
    key = ssh_key(workdir)
    for count in GROWTH["apps"]:
        say(f"  {count} app(s) on one host")
        folder = workdir / f"growth-apps-{count}"
        folder.mkdir()
        inventory = write_inventory(folder / "inventory")
        (inventory / "apps.json").write_text(json.dumps({"djangoops_apps": growth_app_entries(count)}))
        code = copy_example(folder / "code", f"growth {count}")
        try:
            growth_containers_up(inventory, [CONTAINER], key)
            rows[str(count)] = growth_runs(inventory, code, [CONTAINER], (f"@{inventory / 'apps.json'}",))
        finally:
            docker("rm", "-f", CONTAINER, check=False)
    return rows


def growth_inventory(folder, count):
    """One host that is the load balancer and the database, and count app hosts, on a Docker
    network of their own: the demo's app, its settings for a database on another host (a password
    of this run's own: the containers live for one run)."""
    password = secrets.token_hex(16)
    write_inventory(folder)
    hosts = "\n".join(f"        {GROWTH_APP_HOST}{n}:" for n in range(1, count + 1))
    (folder / "hosts.yml").write_text(
        "---\ndjangoops:\n  children:\n"
        f"    loadbalancers:\n      hosts:\n        {GROWTH_LB}:\n"
        f"    databases:\n      hosts:\n        {GROWTH_LB}:\n"
        f"    appservers:\n      hosts:\n{hosts}\n"
        "  vars:\n    ansible_connection: community.docker.docker\n    ansible_become: false\n"
    )
    (folder / "group_vars" / "appservers.yml").write_text(
        "---\n"
        'app_server_bind: "0.0.0.0:8000"\n'
        "django_app_database:\n  engine: postgresql\n  name: example\n  user: example\n"
        f"  password: {password}\n  host: {GROWTH_LB}\n"
    )
    (folder / "group_vars" / "databases.yml").write_text(
        "---\n"
        "postgresql_listen_addresses: [localhost, \"{{ ansible_facts['default_ipv4']['address'] }}\"]\n"
        "postgresql_databases:\n  - name: example\n"
        f"    password: {password}\n"
        "    clients: \"{{ hostvars | djangoops.stack.host_addresses(groups['appservers']) }}\"\n"
    )
    (folder / "apps.json").unlink()
    return folder


def growth_containers(count):
    return [GROWTH_LB] + [f"{GROWTH_APP_HOST}{n}" for n in range(1, count + 1)]


def growth_by_hosts(workdir):
    """The three runs for each count of app hosts behind one load balancer (GROWTH['hosts'])."""
    rows = {}
    key = ssh_key(workdir)
    docker("network", "rm", GROWTH_NETWORK, check=False)
    docker("network", "create", GROWTH_NETWORK)
    try:
        for count in GROWTH["hosts"]:
            say(f"  {count} app host(s), a load balancer and database host in front")
            folder = workdir / f"growth-hosts-{count}"
            folder.mkdir()
            inventory = growth_inventory(folder / "inventory", count)
            code = copy_example(folder / "code", f"growth {count} hosts")
            try:
                growth_containers_up(inventory, growth_containers(count), key, GROWTH_NETWORK)
                rows[str(count)] = growth_runs(inventory, code, growth_containers(count))
            finally:
                for name in growth_containers(count):
                    docker("rm", "-f", name, check=False)
    finally:
        docker("network", "rm", GROWTH_NETWORK, check=False)
    return rows


def growth_figures(workdir):
    say(f"growth: {', '.join(map(str, GROWTH['apps']))} apps on one host")
    apps_rows = growth_by_apps(workdir)
    say(f"growth: {', '.join(map(str, GROWTH['hosts']))} app hosts")
    hosts_rows = growth_by_hosts(workdir)
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "apps": apps_rows, "hosts": hosts_rows}


def call_costs(inventory):
    """Seconds per call of a control-node task, a bare command and a module (20 calls each)."""
    run = playbook(inventory, "benchmarks/call-cost.yml")
    labels = {"Controller only": "controller_task", "Round trip": "round_trip", "Module call": "module_call"}
    costs = {}
    for task in run["slowest_tasks"]:
        for label, key in labels.items():
            if task["task"].startswith(label):
                costs[key] = round(task["seconds"] / 20, 3)
    if len(costs) != len(labels):
        raise RuntimeError(f"call-cost.yml: expected three timed tasks, got {run['slowest_tasks']}")
    return costs


def parse_wrk(output):
    def duration(text):
        value, unit = re.match(r"([0-9.]+)(us|ms|s)", text).groups()
        return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit], 3)

    figures = {"rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))}
    for percent in ("50", "99"):
        match = re.search(rf"^\s+{percent}%\s+(\S+)", output, re.MULTILINE)
        figures[f"p{percent}_ms"] = duration(match.group(1)) if match else None
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    figures["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    figures["socket_errors"] = sum(int(n) for n in errors.groups()) if errors else 0
    figures["requests"] = int(re.search(r"(\d+) requests in", output).group(1))
    return figures


def cpus():
    """(the app's CPU, the CPUs for wrk and nginx): the last one for the app, the rest for load."""
    count = int(sh("nproc").strip())
    if count < 2:
        return None, None
    return str(count - 1), f"0-{count - 2}" if count > 2 else "0"


def wrk(url, seconds, connections, headers=()):
    _, load_cpus = cpus()
    args = (["taskset", "-c", load_cpus] if load_cpus else []) + ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        args += ["-H", header]
    return parse_wrk(docker("exec", TARGET["container"], *args, url))


# Every process of a unit, and the processes they started (the workers), to the given CPUs.
PIN_TREE = (
    'pin() { taskset -apc "$2" "$1" >/dev/null; for child in $(ps -o pid= --ppid "$1"); do pin "$child" "$2"; done; }; '
    'for unit in $UNITS; do systemctl start "$unit"; main=$(systemctl show -p MainPID --value "$unit"); '
    '[ "$main" -gt 0 ] && pin "$main" "$CPUS"; done'
)


def pin(units, cpus_list):
    """Pin the units' processes; new workers inherit it from their master."""
    if cpus_list:
        sh(f"UNITS='{' '.join(units)}' CPUS={cpus_list}; {PIN_TREE}")


def app_units(app):
    return [f"{app}.service"] + ([f"{app}-ws.service"] if app == "split" else [])


WARM_UP_SECONDS = 2


def paired_runs(reference, measured, seconds, connections, repeat):
    """wrk runs of reference and measured ((url, headers) each), alternating, after a short run of each that is not counted
    (the workers' first requests: imports, template compiles, database connections, and nginx's
    first connections upstream). The ratio is the median of measured/reference over the pairs of
    runs made back to back: a slow spell of the machine lowers both runs of a pair, not one side."""
    wrk(reference[0], WARM_UP_SECONDS, connections, reference[1])
    wrk(measured[0], WARM_UP_SECONDS, connections, measured[1])
    references, measureds = [], []
    for _ in range(repeat):
        references.append(wrk(reference[0], seconds, connections, reference[1]))
        measureds.append(wrk(measured[0], seconds, connections, measured[1]))
    ratios = sorted(m["rps"] / r["rps"] for r, m in zip(references, measureds, strict=True) if r["rps"])
    return references, measureds, round(ratios[len(ratios) // 2], 3) if ratios else None


def median_run(runs):
    """The run with the median requests per second (the figures of one real run)."""
    return sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]


def prepare_load_tools():
    sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk python3-websockets >/dev/null")
    # Rows for the database read: 50 notes in each app's database.
    seed = "from notes.models import Note; n = Note.objects.count(); Note.objects.bulk_create([Note(text=f'bench note {i}') for i in range(n, 50)])"
    for entry in apps():
        sh(f'/srv/{entry["name"]}/bin/manage shell --no-imports -c "{seed}"')
    names = " ".join(site_of(entry["name"]) for entry in apps())
    sh(f"grep -q 'bench.test' /etc/hosts || echo '127.0.0.1 {names} bare.bench.test' >> /etc/hosts")


def each_app_alone():
    """Each app in turn, its units alone on the app server's CPU, the other apps (idle) and nginx
    on the load CPUs: yields the app's entry, its site and its HTTP port."""
    app_cpu, load_cpus = cpus()
    pin(["nginx.service"], load_cpus)
    every_app = [unit for entry in apps() for unit in app_units(entry["name"])]
    for entry in apps():
        pin(every_app, load_cpus)
        pin(app_units(entry["name"]), app_cpu)
        yield entry, site_of(entry["name"]), entry["bind"].rsplit(":", 1)[1]


def server_figures(seconds, connections, repeat):
    results = {}
    for entry, site, port in each_app_alone():
        app = entry["name"]
        results[app] = {}
        for endpoint, path in ENDPOINTS.items():
            direct_url, proxied_url = f"http://127.0.0.1:{port}{path}", f"https://{site}:443{path}"  # a port: no /etc/services
            direct_headers = [f"Host: {site}", "X-Forwarded-Proto: https"]
            directs, proxieds, ratio = paired_runs((direct_url, direct_headers), (proxied_url, ()), seconds, connections, repeat)
            direct, proxied = median_run(directs), median_run(proxieds)
            direct["runs_rps"] = [run["rps"] for run in directs]
            proxied["runs_rps"] = [run["rps"] for run in proxieds]
            results[app][endpoint] = {"direct": direct, "nginx": proxied, "nginx_over_direct": ratio}
            say(
                f"  {app:17} {endpoint:9} direct {direct['rps']:8.0f}/s p50 {direct['p50_ms']} ms p99 {direct['p99_ms']} ms"
                f" | nginx {proxied['rps']:8.0f}/s p50 {proxied['p50_ms']} ms p99 {proxied['p99_ms']} ms | {ratio}"
            )
    return results


FIXED_RATE_SCRIPT = Path(__file__).with_name("fixed-rate.lua")
# The fixed rates, as shares of each server's direct maximum: half (the target's) and a lower one.
RATE_SHARES = (0.5, 0.25)


def fixed_rate(url, rate, seconds, connections, headers=()):
    """wrk sending `rate` requests per second in all (benchmarks/fixed-rate.lua), on the load CPUs:
    answered, non-2xx, socket errors, and the latency's percentiles from each request's due time."""
    _, load_cpus = cpus()
    args = (["taskset", "-c", load_cpus] if load_cpus else []) + ["wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds}s"]
    for header in headers:
        args += ["-H", header]
    output = docker("exec", TARGET["container"], *args, "-s", "/root/djangoops-fixed-rate.lua", url, "--", str(rate), str(connections))
    figures = json.loads(output.strip().splitlines()[-1])
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    figures["socket_errors"] = sum(int(n) for n in errors.groups()) if errors else 0
    figures["per_second"] = round(figures["answered"] / seconds, 1)
    return figures


def nginx_cpu_seconds():
    """The CPU time nginx's processes (master and workers) have used, from /proc/<pid>/stat: this
    host's cgroup v1 gives the container's units no CPU accounting of their own."""
    lines = sh("getconf CLK_TCK; for pid in $(pgrep -x nginx); do cut -d' ' -f14,15 /proc/$pid/stat; done").split("\n")
    ticks = sum(int(value) for line in lines[1:] for value in line.split())
    return ticks / int(lines[0])


def direct_maximum(app, endpoint):
    """A closed-loop run's requests per second, directly against the app server, after a short
    run that is not counted: for the fixed rates when the servers' figures were not measured."""
    entry = next(entry for entry in apps() if entry["name"] == app)
    url = f"http://127.0.0.1:{entry['bind'].rsplit(':', 1)[1]}{ENDPOINTS[endpoint]}"
    headers = [f"Host: {site_of(app)}", "X-Forwarded-Proto: https"]
    wrk(url, WARM_UP_SECONDS, 16, headers)
    return wrk(url, 5, 16, headers)["rps"]


def proxy_cost_figures(seconds, connections, servers=None):
    """Each server and endpoint at fixed rates, directly and through nginx over HTTPS: the latency
    nginx adds, and nginx's CPU time per request. The rates are shares of the direct maximum of
    the same run (the servers' closed-loop figures, or a run of its own when servers is None)."""
    docker_write("/root/djangoops-fixed-rate.lua", FIXED_RATE_SCRIPT.read_text())
    results = {}
    for entry, site, port in each_app_alone():
        app = entry["name"]
        results[app] = {}
        for endpoint, path in ENDPOINTS.items():
            maximum = servers[app][endpoint]["direct"]["rps"] if servers else direct_maximum(app, endpoint)
            rows = []
            for share in RATE_SHARES:
                rate = max(1, round(maximum * share))
                direct = fixed_rate(
                    f"http://127.0.0.1:{port}{path}", rate, seconds, connections, [f"Host: {site}", "X-Forwarded-Proto: https"]
                )
                used = nginx_cpu_seconds()
                proxied = fixed_rate(f"https://{site}:443{path}", rate, seconds, connections)
                used = nginx_cpu_seconds() - used
                row = {
                    "share": share,
                    "rate": rate,
                    "direct_maximum": maximum,
                    "direct": direct,
                    "nginx": proxied,
                    "added_p50_ms": round(proxied["p50_ms"] - direct["p50_ms"], 3),
                    "added_p99_ms": round(proxied["p99_ms"] - direct["p99_ms"], 3),
                    "nginx_cpu_us_per_request": round(used * 1e6 / proxied["answered"], 1) if proxied["answered"] else None,
                }
                rows.append(row)
                say(
                    f"  {app:17} {endpoint:9} {rate:6}/s direct p50 {direct['p50_ms']} p99 {direct['p99_ms']} ms"
                    f" | nginx p50 {proxied['p50_ms']} p99 {proxied['p99_ms']} ms | added {row['added_p50_ms']} / {row['added_p99_ms']} ms,"
                    f" nginx {row['nginx_cpu_us_per_request']} µs CPU a request"
                )
            results[app][endpoint] = rows
    return results


WSGI_SERVERS = ("gunicorn", "uwsgi")  # no WebSocket: the rest (and split mode's second server) echo


def websocket_figures(seconds, connections):
    """The example's WebSocket echo (/ws/echo/) on every server that speaks WebSocket: messages a
    second over `connections` sockets, each awaiting its echo before the next, directly and
    through nginx over TLS (benchmarks/ws_echo.py, Debian's python3-websockets, on the load CPUs)."""
    _, load_cpus = cpus()
    docker_write("/root/djangoops-ws-echo.py", Path(__file__).with_name("ws_echo.py").read_text())
    prefix = ["taskset", "-c", load_cpus] if load_cpus else []
    results = {}
    for entry, site, http_port in each_app_alone():
        if entry["server"] in WSGI_SERVERS and not entry.get("websocket_server"):
            continue
        app = entry["name"]
        port = entry["websocket_bind"].rsplit(":", 1)[1] if entry.get("websocket_bind") else http_port
        runs = {}
        for side, url in (("direct", f"ws://127.0.0.1:{port}/ws/echo/"), ("nginx", f"wss://{site}:443/ws/echo/")):
            docker("exec", TARGET["container"], *prefix, "python3", "/root/djangoops-ws-echo.py", url, str(connections), "1")
            output = docker(
                "exec", TARGET["container"], *prefix, "python3", "/root/djangoops-ws-echo.py", url, str(connections), str(seconds)
            )
            runs[side] = json.loads(output.strip().splitlines()[-1])
        results[app] = runs
        say(
            f"  {app:17} WebSocket echo: direct {runs['direct']['per_second']:.0f}/s p50 {runs['direct']['p50_ms']} ms"
            f" | nginx {runs['nginx']['per_second']:.0f}/s p50 {runs['nginx']['p50_ms']} ms"
        )
    return results


def static_figures(seconds, connections, repeat):
    """The deployed site's static file against a bare nginx server with the same file."""
    manifest = json.loads(sh("cat /srv/gunicorn/current/static/staticfiles.json"))
    hashed = manifest["paths"][STATIC_FILE]
    sh("mkdir -p /srv/bench-bare && cp /srv/gunicorn/current/static/" + STATIC_FILE + " /srv/bench-bare/sample-10k.txt")
    bare = f"""server {{
    listen 127.0.0.1:{BARE_PORT} ssl;
    server_name bare.bench.test;
    ssl_certificate /etc/ssl/djangoops/gunicorn.crt;
    ssl_certificate_key /etc/ssl/private/djangoops-gunicorn.key;
    location / {{
        root /srv/bench-bare;
        sendfile on;
    }}
}}
"""
    docker_write("/etc/nginx/sites-enabled/zz-bench-bare.conf", bare)
    sh("nginx -t -q && systemctl reload nginx && sleep 1")
    limits, sites, ratio = paired_runs(
        (f"https://bare.bench.test:{BARE_PORT}/sample-10k.txt", ()),
        (f"https://{site_of('gunicorn')}:443/static/{hashed}", ()),
        seconds,
        connections,
        repeat,
    )
    site, limit = median_run(sites), median_run(limits)
    site["runs_rps"] = [run["rps"] for run in sites]
    limit["runs_rps"] = [run["rps"] for run in limits]
    size = int(sh("stat -c %s /srv/bench-bare/sample-10k.txt"))
    say(f"  static {size} B: site {site['rps']:.0f}/s, bare nginx {limit['rps']:.0f}/s, {ratio}")
    return {"file": f"/static/{hashed}", "bytes": size, "site": site, "bare_nginx": limit, "site_over_bare": ratio}


def docker_write(path, content):
    subprocess.run(["docker", "exec", "-i", TARGET["container"], "sh", "-c", f"cat > {path}"], input=content, text=True, check=True)


APACHE_SITE = "apache.bench.test"
APACHE_VARS = f"""    djangoops_web_server: apache
    djangoops_apps:
      - name: apache
        server_names: [{APACHE_SITE}]
"""


def apache_figures(workdir, seconds, connections, repeat, reference):
    """The example project under Apache with mod_wsgi in a container of its own, on the same
    endpoints; reference: gunicorn's figures through nginx from the same run."""
    inventory = write_inventory(workdir / "inventory-apache", APACHE_CONTAINER, APACHE_VARS)
    start_container(APACHE_CONTAINER)
    TARGET["container"] = APACHE_CONTAINER
    try:
        converge = playbook(inventory, "site.yml")
        say(f"  converged in {converge['seconds']} s")
        sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null")
        seed = "from notes.models import Note; n = Note.objects.count(); Note.objects.bulk_create([Note(text=f'bench note {i}') for i in range(n, 50)])"
        sh(f'/srv/apache/bin/manage shell --no-imports -c "{seed}"')
        sh(f"grep -q '{APACHE_SITE}' /etc/hosts || echo '127.0.0.1 {APACHE_SITE}' >> /etc/hosts")
        app_cpu, load_cpus = cpus()
        # Apache's processes where nginx ran, then its mod_wsgi daemons (the app) alone on the app's CPU.
        pin(["apache2.service"], load_cpus)
        # As pin() does for the app servers, the same way: root in the container lacks CAP_SYS_NICE,
        # so another user's processes keep their CPUs; results say whether the daemons moved.
        if app_cpu:
            sh(f"for pid in $(pgrep -f '[(]wsgi:apache[)]'); do taskset -pc {app_cpu} $pid >/dev/null 2>&1 || true; done")
        daemon = sh("pgrep -f '[(]wsgi:apache[)]' | head -n 1").strip()
        results = {
            "converge_seconds": converge["seconds"],
            "processes": int(sh("pgrep -fc '[(]wsgi:apache[)]'").strip()),
            "daemon_cpus": sh(f"taskset -pc {daemon}").rsplit(":", 1)[-1].strip(),
        }
        for endpoint, path in ENDPOINTS.items():
            url = f"https://{APACHE_SITE}:443{path}"
            wrk(url, WARM_UP_SECONDS, connections)
            runs = [wrk(url, seconds, connections) for _ in range(repeat)]
            figures = median_run(runs)
            figures["runs_rps"] = [run["rps"] for run in runs]
            gunicorn = reference[endpoint]["nginx"]
            ratio = round(figures["rps"] / gunicorn["rps"], 3) if gunicorn["rps"] else None
            results[endpoint] = {"apache": figures, "gunicorn_nginx": gunicorn, "apache_over_gunicorn_nginx": ratio}
            say(
                f"  apache            {endpoint:9} {figures['rps']:8.0f}/s p50 {figures['p50_ms']} ms p99 {figures['p99_ms']} ms"
                f" | gunicorn behind nginx {gunicorn['rps']:8.0f}/s | {ratio}"
            )
        results["versions"] = {
            "apache": sh("apache2 -v | head -n 1").split("/")[1].split()[0],
            "mod_wsgi": sh("dpkg-query -W -f '${Version}' libapache2-mod-wsgi-py3").strip(),
        }
        return results
    finally:
        TARGET["container"] = CONTAINER
        docker("rm", "-f", APACHE_CONTAINER, check=False)


METRICS_APPS = ["gunicorn", "uvicorn"]


# The line of the rendered wsgi.py/asgi.py that wraps the app in the request metrics.
METRICS_WRAP = r"^application = _metrics_module()\.wrap_[aw]sgi(application)$"


def entry_file(app):
    return f"/srv/{app}/current/exampleproject/{'asgi' if app == 'uvicorn' else 'wsgi'}.py"


def serve_variant(app, label):
    """The app's live entry file as rendered ("with") or without the wrapping line ("without"),
    then the server restarted on it (its socket unit holds the connections meanwhile)."""
    live = entry_file(app)
    sh(f"[ -e {live}.rendered ] || cp -p {live} {live}.rendered")
    if label == "with":
        sh(f"cp -p {live}.rendered {live}")
    else:
        sh(f"sed 's/{METRICS_WRAP}/pass  # bench: without the request metrics/' {live}.rendered > {live}")
        assert sh(f"grep -c '_metrics_module()[.]wrap_' {live} || true").strip() == "0", f"{live} still wraps the app"
    sh(f"systemctl restart {app}.service")
    sh(
        f"for i in $(seq 50); do curl -sk -o /dev/null -w '%{{http_code}}' https://{site_of(app)}/healthz | grep -q 200 && break; sleep 0.2; done"
    )


def metrics_figures(workdir, seconds, connections, repeat):
    """What the request metrics cost (django_app_metrics_port: the wrapper in wsgi.py/asgi.py and
    prometheus_client's multiprocess files): gunicorn (WSGI) and uvicorn (ASGI) through nginx, on
    a site converged with the container in a monitoring group (Prometheus scrapes it every 15 s,
    as in use). Each pair of runs serves the rendered file without its wrapping line, then as
    rendered, each after a restart and a warm-up, so both sides of a pair meet the same machine;
    the ratio is the median of the pairs'."""
    app_cpu, load_cpus = cpus()
    inventory = write_inventory(workdir / "inventory-metrics", extra_groups=("monitoring",))
    converge = playbook(inventory, "site.yml", f"@{inventory / 'apps.json'}")
    say(f"  converged with a monitoring group in {converge['seconds']} s")
    prepare_load_tools()
    pin(["nginx.service"], load_cpus)
    every_app = [unit for app in METRICS_APPS for unit in app_units(app)]
    results = {"converge_seconds": converge["seconds"]}
    for app in METRICS_APPS:
        results[app] = {}
        for endpoint in ("plain", "db"):
            url = f"https://{site_of(app)}:443{ENDPOINTS[endpoint]}"
            runs = {"without": [], "with": []}
            for _ in range(repeat):
                for label in ("without", "with"):
                    serve_variant(app, label)
                    pin(every_app, load_cpus)
                    pin(app_units(app), app_cpu)
                    wrk(url, WARM_UP_SECONDS, connections)
                    runs[label].append(wrk(url, seconds, connections))
            ratios = sorted(m["rps"] / r["rps"] for r, m in zip(runs["without"], runs["with"], strict=True) if r["rps"])
            pair = {}
            for label in ("without", "with"):
                pair[label] = median_run(runs[label])
                pair[label]["runs_rps"] = [run["rps"] for run in runs[label]]
            without, with_ = pair["without"]["rps"], pair["with"]["rps"]
            pair["with_over_without"] = round(ratios[len(ratios) // 2], 3) if ratios else None
            # At saturation on the app's one CPU: the extra CPU time each request takes.
            pair["cost_us_per_request"] = round((1 / with_ - 1 / without) * 1e6, 1) if with_ and without else None
            results[app][endpoint] = pair
            say(
                f"  {app:9} {endpoint:6} without {without:8.0f}/s p50 {pair['without']['p50_ms']} ms"
                f" | with {with_:8.0f}/s p50 {pair['with']['p50_ms']} ms | {pair['with_over_without']}"
                f" | {pair['cost_us_per_request']} us a request"
            )
        serve_variant(app, "with")
        # The runs with the wrapper were counted: the app's total, as Prometheus reads it.
        entry = next(entry for entry in apps() if entry["name"] == app)
        exposition = sh(f"curl -s --max-time 10 http://{sh('hostname -I').split()[0]}:{entry['metrics_port']}/metrics", check=False)
        totals = re.findall(r"^djangoops_http_requests_total\{[^}]*\} ([0-9.e+]+)$", exposition, re.MULTILINE)
        results[app]["requests_counted"] = int(sum(float(total) for total in totals))
        say(f"  {app}: {results[app]['requests_counted']} requests counted by its metrics")
    return results


def versions():
    found = {
        "debian": sh("cat /etc/debian_version").strip(),
        "nginx": sh("nginx -v 2>&1").strip().split("/")[-1],
        "python": sh("python3 --version").split()[-1],
    }
    freeze = sh(
        "/srv/split/current/venv/bin/pip freeze 2>/dev/null; for a in "
        + " ".join(SERVERS)
        + "; do /srv/$a/current/venv/bin/pip freeze 2>/dev/null; done"
    )
    for line in sorted(set(freeze.split())):
        name, _, version = line.partition("==")
        if name.lower() in {"django", "gunicorn", "uvicorn", "daphne", "hypercorn", "uwsgi", "granian", "uvicorn-worker"}:
            found[name.lower()] = version
    return found


def machine():
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?"
    )
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0")
    return {"cpu": model, "cpus": os.cpu_count(), "memory_gb": round(int(memory) / 1024 / 1024, 1), "kernel": platform.release()}


def write_part(**parts):
    """Put one part of the figures over the last full run's (docs/benchmarks/results.json), then
    write the report again."""
    written = json.loads((OUT / "results.json").read_text())
    written.update(parts)
    (OUT / "results.json").write_text(json.dumps(written, indent=2) + "\n")
    subprocess.run([sys.executable, str(Path(__file__).with_name("report.py"))], check=True)


def proxy_run(args, servers=None):
    """The proxy's cost at fixed rates and the WebSocket echo (servers: the closed-loop figures of
    the same run, whose direct maximum sets the rates; None measures it again)."""
    say(f"the proxy's cost: each server at fixed rates, {args.rate_seconds} s each, direct and through nginx")
    proxy = {"seconds": args.rate_seconds, "connections": args.connections}
    proxy["servers"] = proxy_cost_figures(args.rate_seconds, args.connections, servers)
    say(f"WebSocket echo: {args.connections} sockets, {args.rate_seconds} s, direct and through nginx")
    proxy["websocket"] = websocket_figures(args.rate_seconds, args.connections)
    return proxy


def memory_run(workdir, args):
    figures = memory.memory_figures(workdir, max(args.seconds, 10) * 2, args.connections)
    figures["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", "5")), help="each wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement, the median kept (default 3)")
    parser.add_argument("--keep", action="store_true", help="leave the container running")
    parser.add_argument("--skip-timings", action="store_true", help="servers and static only (no cold converge)")
    parser.add_argument("--timings-only", action="store_true", help="the collection's runs only; printed, nothing written")
    parser.add_argument("--apache-only", action="store_true", help="Apache's figures and gunicorn's behind nginx only; printed")
    parser.add_argument("--metrics-only", action="store_true", help="the request metrics' cost through nginx only; printed")
    parser.add_argument("--memory-only", action="store_true", help="the stack's memory on a 1 GB, one-CPU container only; printed")
    parser.add_argument(
        "--proxy-only", action="store_true", help="the proxy's cost at fixed rates only (each server's maximum measured again); printed"
    )
    parser.add_argument("--growth-only", action="store_true", help="the runs' times for 1, 4, 8 apps and 1, 3, 5 app hosts only; printed")
    parser.add_argument("--rate-seconds", type=int, default=10, help="each fixed-rate run (default 10)")
    parser.add_argument(
        "--write",
        action="store_true",
        help="with --timings-only, --apache-only, --metrics-only, --memory-only, --proxy-only or --growth-only: put them into docs/benchmarks over the last ones",
    )
    args = parser.parse_args()
    if args.growth_only:
        with tempfile.TemporaryDirectory() as tmp:
            figures = growth_figures(Path(tmp))
        print(json.dumps(figures, indent=2))
        if args.write:
            write_part(growth=figures)
        return
    if args.memory_only:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                figures = memory_run(tmp, args)
            finally:
                if not args.keep:
                    docker("rm", "-f", memory.CONTAINER, check=False)
        print(json.dumps(figures, indent=2))
        if args.write:
            write_part(memory=figures)
        return
    if args.metrics_only:
        ONLY["apps"] = METRICS_APPS
        args.skip_timings = True
    if args.apache_only:
        ONLY["apps"] = ["gunicorn"]
        args.skip_timings = True
    if args.proxy_only:
        args.skip_timings = True

    started = datetime.now(UTC)
    results = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {"seconds": args.seconds, "connections": args.connections, "threads": 2, "repeat": args.repeat},
    }
    try:
        with tempfile.TemporaryDirectory() as tmp:
            inventory = write_inventory(Path(tmp) / "inventory")
            start_container()
            if not args.skip_timings:
                results["collection"] = collection_timings(inventory, Path(tmp))
            if args.timings_only:
                print(json.dumps(results["collection"], indent=2))
                if args.write:
                    # The collection's runs take minutes, the servers' figures much longer: these
                    # replace their part of the last full run's results, with a date of their own.
                    write_part(collection=results["collection"], collection_date=results["date"])
                return
            if args.metrics_only:
                say("request metrics: gunicorn and uvicorn through nginx, the rendered file without and with its wrapping line")
                results["metrics"] = metrics_figures(Path(tmp), args.seconds, args.connections, args.repeat)
                results["metrics"]["date"] = results["date"]
                print(json.dumps(results["metrics"], indent=2))
                if args.write:
                    write_part(metrics=results["metrics"])
                return
            say("one app per server (and split mode), each on a loopback port behind nginx")
            results["collection_servers_converge"] = playbook(inventory, "site.yml", f"@{inventory / 'apps.json'}")
            prepare_load_tools()
            app_cpu, load_cpus = cpus()
            results["settings"]["cpus"] = {"app_server": app_cpu, "wrk_and_nginx": load_cpus}
            if args.proxy_only:
                proxy = {"date": results["date"], **proxy_run(args)}
                print(json.dumps(proxy, indent=2))
                if args.write:
                    write_part(proxy_cost=proxy)
                return
            say(f"servers: wrk -t2 -c{args.connections} -d{args.seconds}s, direct and through nginx")
            results["servers"] = server_figures(args.seconds, args.connections, args.repeat)
            results["proxy_cost"] = proxy_run(args, results["servers"])
            if not args.apache_only:
                say("static files")
                results["static"] = static_figures(args.seconds, args.connections, args.repeat)
                results["versions"] = versions()
            say("Apache with mod_wsgi, against gunicorn behind nginx")
            results["apache"] = apache_figures(Path(tmp), args.seconds, args.connections, args.repeat, results["servers"]["gunicorn"])
            if args.apache_only:
                results["apache"]["date"] = results["date"]
                print(json.dumps(results["apache"], indent=2))
                if args.write:
                    # Apache's part of the last full run, measured again with its own reference.
                    write_part(apache=results["apache"])
                return
            say("memory: the single-host stack on a 1 GB, one-CPU container")
            results["memory"] = memory_run(tmp, args)
            results["growth"] = growth_figures(Path(tmp))
    finally:
        if not args.keep:
            docker("rm", "-f", CONTAINER, check=False)
            docker("rm", "-f", memory.CONTAINER, check=False)
    results["seconds"] = round((datetime.now(UTC) - started).total_seconds())
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    subprocess.run([sys.executable, str(Path(__file__).with_name("report.py"))], check=True)
    say(f"written: {OUT / 'results.json'}, {OUT / 'README.md'}, {OUT / 'chart.png'}")


if __name__ == "__main__":
    main()
