"""make bench's memory figures: the single-host stack (nginx, the example under gunicorn,
PostgreSQL, Redis, Celery's worker and beat) with the collection's defaults, on a container held
to 1 GB of memory and one CPU, as the common small VPS is.

The container's cgroup enforces the 1 GB (no swap) and the CPU (cpuset); the roles size what they
size (workers, PostgreSQL's buffers, Redis's maxmemory) from the host's facts, which a container
reads from the machine's /proc. So /proc/meminfo and /proc/cpuinfo are mounted over with a small
host's, as lxcfs does: every role sizes for 1 GB and one CPU. Idle is 30 s after the converge; under load is
wrk on the database page through nginx over HTTPS, sampled in the middle of the run.

Each service's figure is the proportional set size (PSS) of its unit's processes, so the pages
that gunicorn's workers share with their master count once; the stack's total is what Docker
counts for the container (its cgroup's usage without inactive file pages), which includes the
kernel's memory for it, the page cache in active use and every process (systemd, journald,
cron); without any page cache beside it.
"""

import json
import re
import threading
import time
from pathlib import Path

import bench

CONTAINER = "djangoops-bench-1g"
MEMORY_MB = 1024
# What a 1 GB VPS reports to its own kernel: the firmware and the kernel keep a little.
REPORTED_MB = 976
LEFT_AT_IDLE = 0.25
# Celery's broker and the app's cache through Redis, its database in PostgreSQL.
STACK_VARS = """    postgresql_databases: [{name: example, password: bench-db-password-0123456789}]
    redis_users: [{name: example, password: bench-redis-password-0123456789}]
    django_app_database: {engine: postgresql, name: example, user: example, password: bench-db-password-0123456789, host: localhost}
    django_app_cache: {backend: redis, location: "redis://example:bench-redis-password-0123456789@127.0.0.1:6379/1"}
    django_app_environment:
      CELERY_BROKER_URL: "redis://example:bench-redis-password-0123456789@127.0.0.1:6379/0"
    djangoops_celery: true
"""
# PSS by unit, read inside the container: /proc/<pid>/cgroup names the unit (cgroup v1's
# name=systemd line, or v2's), smaps_rollup its PSS.
PSS_BY_UNIT = r"""
import collections, json, os, re
pss = collections.Counter()
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cgroup = open(f"/proc/{pid}/cgroup").read()
        rollup = open(f"/proc/{pid}/smaps_rollup").read()
    except OSError:
        continue
    found = re.search(r"^\d+:name=systemd:(.*)$", cgroup, re.M) or re.search(r"^0::(.*)$", cgroup, re.M)
    parts = found.group(1).split("/") if found else []
    unit = next((part for part in reversed(parts) if part.endswith((".service", ".scope"))), "other")
    kb = re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
    pss[unit] += int(kb.group(1)) if kb else 0
print(json.dumps(pss))
"""
# The services of the table, by unit name (a pattern); the rest is "everything else".
SERVICES = {
    "nginx": r"nginx\.service",
    "app server (gunicorn)": r"example\.service",
    "PostgreSQL": r"postgresql@.*\.service",
    "Redis": r"redis-server\.service",
    "Celery worker": r"example-celery-worker\.service",
    "Celery beat": r"example-celery-beat\.service",
}


def cgroup_memory(container_id):
    """The container's memory cgroup on the machine: (usage in bytes, its memory.stat)."""
    for folder, usage, prefix in (
        (f"/sys/fs/cgroup/memory/docker/{container_id}", "memory.usage_in_bytes", "total_"),
        (f"/sys/fs/cgroup/memory/system.slice/docker-{container_id}.scope", "memory.usage_in_bytes", "total_"),
        (f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope", "memory.current", ""),
    ):
        if Path(folder, usage).exists():
            stat = dict(line.split() for line in Path(folder, "memory.stat").read_text().splitlines())
            return int(Path(folder, usage).read_text()), {
                key.removeprefix(prefix): int(value) for key, value in stat.items() if key.startswith(prefix)
            }
    raise RuntimeError(f"no memory cgroup found for container {container_id}")


def container_memory():
    """The container's memory in MiB: "used" as Docker counts it (the cgroup's usage without its
    inactive file pages), and "without page cache" (without any file page: processes, shared
    memory and the kernel's memory for them)."""
    usage, stat = cgroup_memory(bench.docker("inspect", "-f", "{{.Id}}", CONTAINER).strip())
    used = usage - stat["inactive_file"]
    return {"used_mb": round(used / 2**20, 1), "without_page_cache_mb": round((used - stat["active_file"]) / 2**20, 1)}


def by_service(pss_kb):
    """PSS in MiB for each service of SERVICES, and the rest."""
    figures, rest = {}, dict(pss_kb)
    for name, pattern in SERVICES.items():
        units = [unit for unit in pss_kb if re.fullmatch(pattern, unit)]
        figures[name] = round(sum(rest.pop(unit) for unit in units) / 1024, 1)
    figures["everything else"] = round(sum(rest.values()) / 1024, 1)
    return figures


def sample():
    return {"services": by_service(json.loads(bench.sh(f"python3 -c '{PSS_BY_UNIT}'"))), "container": container_memory()}


def small_host_proc(folder):
    """/proc/meminfo and /proc/cpuinfo as a 1 GB, one-CPU host shows them, to mount over the
    container's (as lxcfs does; runc admits these two mounts): the facts, and so the roles'
    sizing, are the small host's."""
    meminfo = []
    for line in Path("/proc/meminfo").read_text().splitlines():
        name = line.split(":", 1)[0]
        if name in ("MemTotal", "MemFree", "MemAvailable"):
            line = f"{name}:{REPORTED_MB * 1024 if name == 'MemTotal' else REPORTED_MB * 1024 * 9 // 10:>15} kB"
        elif name in ("SwapTotal", "SwapFree"):
            line = f"{name}:{0:>15} kB"
        meminfo.append(line)
    # Ansible counts CPUs from the blocks, and each block's siblings and cores.
    first_cpu = re.sub(r"^(siblings|cpu cores)(\s*): \d+$", r"\1\2: 1", Path("/proc/cpuinfo").read_text().split("\n\n", 1)[0], flags=re.M)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meminfo").write_text("\n".join(meminfo) + "\n")
    (folder / "cpuinfo").write_text(first_cpu + "\n\n")
    return ["-v", f"{folder / 'meminfo'}:/proc/meminfo:ro", "-v", f"{folder / 'cpuinfo'}:/proc/cpuinfo:ro"]


def memory_figures(workdir, seconds, connections):
    """Converge the stack on a 1 GB, one-CPU container; its memory at idle and under load."""
    bench.TARGET["container"] = CONTAINER
    inventory = bench.write_inventory(Path(workdir) / "inventory-memory", CONTAINER, STACK_VARS)
    limits = ["--memory", f"{MEMORY_MB}m", "--memory-swap", f"{MEMORY_MB}m", "--cpuset-cpus", "0"]
    bench.start_container(CONTAINER, limits + small_host_proc(Path(workdir) / "proc"))
    facts = bench.sh(
        "python3 -c 'import os; print(os.sysconf(\"SC_NPROCESSORS_ONLN\"))'; grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo"
    )
    bench.say(f"the container as the roles see it: {' '.join(facts.split())}")
    converge = bench.playbook(inventory, "site.yml")
    sizing = {
        "app_server_workers": int(bench.sh("ps --no-headers --ppid $(systemctl show -p MainPID --value example.service) | wc -l").strip()),
        "celery_processes": int(
            bench.sh("ps --no-headers --ppid $(systemctl show -p MainPID --value example-celery-worker.service) | wc -l").strip()
        ),
        "postgresql_shared_buffers": bench.sh("su postgres -c \"psql -Atc 'show shared_buffers'\"").strip(),
        "redis_maxmemory": bench.sh("grep -rhE '^maxmemory ' /etc/redis/ | head -n 1").strip(),
    }
    time.sleep(30)
    idle = sample()
    bench.sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null")
    bench.sh("grep -q 'bench.djangoops.test' /etc/hosts || echo '127.0.0.1 bench.djangoops.test' >> /etc/hosts")
    seed = "from notes.models import Note; n = Note.objects.count(); Note.objects.bulk_create([Note(text=f'bench note {i}') for i in range(n, 50)])"
    bench.sh(f'/srv/example/bin/manage shell --no-imports -c "{seed}"')
    loaded = {}

    def sample_midway():
        time.sleep(seconds / 2)
        loaded.update(sample())

    sampler = threading.Thread(target=sample_midway)
    sampler.start()
    load = bench.parse_wrk(
        bench.docker(
            "exec", CONTAINER, "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "https://bench.djangoops.test/bench/db"
        )
    )
    sampler.join()
    left = round(1 - idle["container"]["used_mb"] / MEMORY_MB, 3)
    return {
        "memory_mb": MEMORY_MB,
        "cpus": 1,
        "converge_seconds": converge["seconds"],
        "sizing": sizing,
        "idle": idle,
        "under_load": {**loaded, "wrk": load, "connections": connections, "seconds": seconds},
        "left_at_idle": left,
        "fits": left >= LEFT_AT_IDLE,
    }
