"""The state of an app's host configuration (playbooks/tasks/files/djangoops_state.py), read on
real files: what a change by hand moves, what the app's own writes leave alone, and the playbook
expressions that trust it."""

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

from conftest import ROOT, load_yaml, trusted

SCRIPT = ROOT / "playbooks" / "tasks" / "files" / "djangoops_state.py"


@pytest.fixture(name="state")
def fixture_state(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("djangoops_state", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    etc = tmp_path / "etc"
    for folder in ("systemd/system", "cron.d", "logrotate.d", "tmpfiles.d", "djangoops/shop"):
        (etc / folder).mkdir(parents=True)
    monkeypatch.setattr(module, "UNIT_DIR", str(etc / "systemd/system"))
    monkeypatch.setattr(module, "ENTRY_DIRS", tuple(str(etc / name) for name in ("cron.d", "logrotate.d", "tmpfiles.d")))
    monkeypatch.setattr(module, "SHARED_FILES", ())
    # The units' states as systemctl would print them; the test changes them.
    units = {}
    monkeypatch.setattr(module, "unit_states", lambda names: {name: units.get(name, "missing") for name in names})
    module.units = units
    root = tmp_path / "srv" / "shop"
    for folder in ("releases/r1", "venvs", "bin", "shared/media", "shared/log"):
        (root / folder).mkdir(parents=True)
    (root / "bin" / "manage").write_text("#!/bin/sh\n")
    (etc / "djangoops/shop/env").write_text("DEBUG=0\n")
    (etc / "systemd/system/shop.service").write_text("[Service]\n")
    (etc / "systemd/system/shop-timer-clearsessions.timer").write_text("[Timer]\n")
    (etc / "systemd/system/shop-timer-clearsessions.service").write_text("[Service]\n")
    (etc / "systemd/system/shopping.service").write_text("[Service]\n")
    (etc / "cron.d/djangoops-backup-shop").write_text("30 3 * * * root true\n")
    module.paths = {"etc": etc, "root": root}
    module.config = {
        "shop": {
            "inputs": "digest",
            "watch": {
                "name": "shop",
                "user": "nobody",
                "group": "nogroup",
                "root": str(root),
                "config_dir": str(etc / "djangoops/shop"),
                "shared_dir": str(root / "shared"),
                "backup_dir": "",
            },
        },
        "old": {"inputs": "digest"},
    }
    units.update(
        {
            "shop.service": "enabled active",
            "shop-timer-clearsessions.timer": "enabled active",
            "shop-timer-clearsessions.service": "static inactive",
            "cron.service": "enabled active",
        }
    )
    return module


def digest(state):
    apps = state.digests(state.config)
    assert list(apps) == ["shop"]  # an entry without what to read has no digest
    return apps["shop"]


def test_a_change_by_hand_moves_the_digest(state):
    etc, root = state.paths["etc"], state.paths["root"]
    changes = [
        lambda: (etc / "djangoops/shop/env").write_text("DEBUG=0\n"),  # the same bytes, written again
        lambda: os.chmod(etc / "djangoops/shop/env", 0o644),
        lambda: (etc / "djangoops/shop/extra").write_text(""),
        lambda: (etc / "systemd/system/shop.service.d").mkdir(),
        lambda: (etc / "systemd/system/shop.service.d/override.conf").write_text("[Service]\n"),
        lambda: (root / "bin" / "manage").write_text("#!/bin/sh\necho\n"),
        lambda: os.chmod(root / "shared" / "media", 0o700),
        lambda: os.chmod(root / "releases", 0o700),
        lambda: state.units.update({"shop.service": "disabled active"}),
        lambda: state.units.update({"shop-timer-clearsessions.timer": "enabled inactive"}),
        lambda: state.units.update({"cron.service": "enabled inactive"}),
        lambda: (etc / "cron.d/djangoops-backup-shop").unlink(),
    ]
    before = digest(state)
    for change in changes:
        time.sleep(0.02)  # past the filesystem's clock tick: a person's change comes seconds after the run's
        change()
        after = digest(state)
        assert after != before, changes.index(change)
        before = after


def test_what_the_app_and_its_timers_write_leaves_the_digest(state):
    etc, root = state.paths["etc"], state.paths["root"]
    before = digest(state)
    (root / "releases" / "r2").mkdir()
    (root / "current").symlink_to(root / "releases" / "r2")
    (root / "shared" / "media" / "upload.png").write_bytes(b"png")
    (root / "shared" / "log" / "django.log").write_text("line\n")
    state.units["shop-timer-clearsessions.service"] = "static activating"  # running now
    (etc / "systemd/system/shopping.service").write_text("[Service]\nUser=other\n")  # another app's
    assert digest(state) == before


def test_the_names_of_an_app_and_only_its_own(state):
    names = ["shop.service", "shop.socket", "shop-ws.service", "shop.service.d", "shopping.service", "myshop.service"]
    assert state.unit_names("shop", names) == ["shop.service", "shop.socket", "shop-ws.service", "shop.service.d"]
    entries = [
        "djangoops-backup-shop-api",
        "djangoops-shop_api",
        "djangoops-metrics-shop_api.conf",
        "djangoops-backup-shop",
        "djangoops-shop2",
    ]
    assert state.entry_names("shop_api", entries) == ["djangoops-backup-shop-api", "djangoops-shop_api", "djangoops-metrics-shop_api.conf"]


def test_systemctl_shows_blocks_are_read_by_id():
    spec = importlib.util.spec_from_file_location("djangoops_state_show", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = "Id=shop.service\nActiveState=active\nUnitFileState=enabled\n\nUnitFileState=\nActiveState=inactive\nId=gone.service\n"
    assert module.parse_show(output) == {"shop.service": "enabled active", "gone.service": " inactive"}


def installed_text():
    """The script as config_state.yml installs it, its own task's template rendered."""
    init_plugin_loader()
    task = next(task for task in load_yaml(ROOT / "playbooks" / "tasks" / "config_state.yml") if "copy" in str(task))
    variables = {"ansible_search_path": [str(ROOT / "playbooks" / "tasks")]}
    text = Templar(loader=DataLoader(), variables=variables).template(trust_as_template(task["vars"]["__djangoops_state_script"]))
    assert text.startswith("#!/usr/bin/python3\n")
    assert text.endswith(SCRIPT.read_text())
    return text


def run_installed(tmp_path, config):
    installed = tmp_path / "djangoops_state.fact"
    installed.write_text(installed_text())
    installed.chmod(0o755)
    config_path = tmp_path / "djangoops_config.fact"
    if config is not None:
        config_path.write_text(config)
    result = subprocess.run([sys.executable, str(installed), str(config_path)], capture_output=True, text=True, check=True)
    return hashlib.sha256(installed.read_bytes()).hexdigest(), json.loads(result.stdout)


def test_the_fact_names_its_own_script_and_never_fails(tmp_path):
    """The script's digest is what config_state.yml compares to install it again; a host without
    apps has none, and a config it cannot read gives no digest (every app is applied again)."""
    expected, fact = run_installed(tmp_path, None)
    assert fact == {"script": expected, "apps": {}}
    _, fact = run_installed(tmp_path, "{not json")
    assert fact["apps"] == {}
    assert fact["error"]
    _, fact = run_installed(tmp_path, json.dumps({"shop": {"watch": {"name": "shop"}}}))
    assert fact["apps"] == {}
    assert "user" in fact["error"]


@pytest.mark.parametrize(
    ("stored", "fact", "kept"),
    [
        ({"state": "abc"}, {"script": "s", "apps": {"shop": "abc"}}, True),
        ({"state": "abc"}, {"script": "s", "apps": {"shop": "abd"}}, False),
        ({}, {"script": "s", "apps": {"shop": "abc"}}, False),  # applied by deploy.yml since: no state kept
        ({"state": "abc"}, {"script": "s", "apps": {}}, False),
        ({"state": "abc"}, "error loading facts as JSON or ini", False),  # a fact Ansible could not read
        ({"state": ""}, None, False),
    ],
)
def test_site_trusts_the_configuration_only_in_the_state_it_kept(stored, fact, kept):
    variables = trusted(load_yaml(ROOT / "playbooks" / "vars" / "apps.yml"))
    local = {"djangoops_config": {"shop": {"inputs": "digest", **stored}}}
    if fact is not None:
        local["djangoops_state"] = fact
    variables.update(django_app_name="shop", ansible_facts={"ansible_local": local})
    templar = Templar(loader=DataLoader(), variables=variables)
    assert templar.template(trust_as_template("{{ __djangoops_state_kept | bool }}")) is kept
