"""A rolling deploy's order does not depend on Python's hash seed: the host that migrates a shared
database is the first app host of the first batch, a host with a database of its own migrates
it itself, and the batch and load balancer lists keep the inventory's order, in every run (a
set, as the intersect filter makes, changes order from run to run)."""

import os
import re
import subprocess

import pytest
import yaml

from conftest import ROOT, load_yaml

ANSI = re.compile(r"\x1b\[[0-9;]*m")

INVENTORY = """\
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    django_app_name: shop
    django_app_database: {engine: postgresql, name: shop, host: 10.0.0.5}
  children:
    loadbalancers:
      hosts: {lb-c: {}, lb-a: {}, lb-b: {}, app-z: {}}
    appservers:
      hosts:
        app-z: {}
        app-m: {}
        app-a: {}
        app-q: {django_app_database: {}}
    workers:
      hosts: {work-b: {}, work-a: {}}
"""


def deploy_play():
    """The rolling play of playbooks/deploy.yml, as the deploy runs it."""
    plays = load_yaml(ROOT / "playbooks/deploy.yml")
    (play,) = [play for play in plays if play.get("serial")]
    return play


def probe(deploy):
    """deploy.yml's hosts, batch list and variables, with one task that prints what a batch reads."""
    return [
        {
            "name": "The variables a rolling deploy reads, batch by batch",
            "hosts": deploy["hosts"],
            "gather_facts": False,
            "serial": 2,
            "vars_files": [str(ROOT / "playbooks" / path) for path in deploy["vars_files"]],
            "tasks": [
                {
                    "name": "Print them",
                    "ansible.builtin.debug": {
                        "msg": "ORDER {{ inventory_hostname }} {{ hostvars | djangoops.stack.migrating_host(__djangoops_deploy_order, 'shop',"
                        " inventory_hostname) }} {{ __djangoops_lbs | join(',') }} {{ __djangoops_batch_web | join(',') }}"
                    },
                }
            ],
        }
    ]


def test_the_probe_reads_the_deploy_play():
    deploy = deploy_play()
    assert deploy["hosts"] == "appservers:workers"
    assert "vars/apps.yml" in deploy["vars_files"]
    assert "ansible_play_batch" in load_yaml(ROOT / "playbooks/vars/apps.yml")["__djangoops_batch_web"]


@pytest.fixture(scope="module")
def play(tmp_path_factory):
    folder = tmp_path_factory.mktemp("order")
    (folder / "hosts.yml").write_text(INVENTORY)
    (folder / "play.yml").write_text(yaml.safe_dump(probe(deploy_play()), sort_keys=False))
    return folder


@pytest.mark.parametrize("seed", ["0", "1", "2", "3"])
def test_the_migrator_and_the_lists_keep_the_inventory_order(play, seed):
    # `make unit` exports ANSIBLE_FORCE_COLOR=1 (for Molecule's logs), which beats ANSIBLE_NOCOLOR.
    env = {key: value for key, value in os.environ.items() if key not in ("ANSIBLE_FORCE_COLOR", "PY_COLORS")}
    env.update(PYTHONHASHSEED=seed, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    result = subprocess.run(
        ["ansible-playbook", "-i", str(play / "hosts.yml"), str(play / "play.yml")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    output = ANSI.sub("", result.stdout)
    printed = [line.split("ORDER ", 1)[1].rstrip("'\"").split(" ") for line in output.splitlines() if "ORDER " in line]
    assert len(printed) == 6, result.stdout[-2000:]  # six hosts, three batches
    # The hosts sharing the PostgreSQL database name the first app host; app-q (SQLite) itself.
    migrators = {host: migrator for host, migrator, _, _ in printed}
    assert migrators == {"app-z": "app-z", "app-m": "app-z", "app-a": "app-z", "app-q": "app-q", "work-b": "app-z", "work-a": "app-z"}
    assert {lbs for _, _, lbs, _ in printed} == {"lb-c,lb-a,lb-b"}
    assert {batch for _, _, _, batch in printed} == {"app-z,app-m", "app-a,app-q", ""}
