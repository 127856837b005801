"""shared/shelf_project on this scenario's hosts: module mode on PostgreSQL and poetry.lock on
Debian 12, environment mode on SQLite and uv.lock on Debian 13."""

import json
import os

import pytest

from shelf_checks import *  # noqa: F403  # pylint: disable=wildcard-import,unused-wildcard-import
from shelf_checks import APP
from site_client import run_playbook

# The site's hosts, not the SFTP host beside them.
testinfra_hosts = [f"ansible://djangoops?ansible_inventory={os.environ.get('MOLECULE_INVENTORY_FILE', '')}"]


def test_a_process_no_longer_declared_stops_gracefully_and_goes(host):
    """Without its worker in the inventory, a deploy stops it with SIGTERM (the worker says it
    stopped) and removes its unit; declared again, it runs again."""
    if host.backend.host != "backup-debian12":
        pytest.skip("checked on backup-debian12")
    unit = f"{APP}-process-exports"
    apps = host.ansible.get_variables()["djangoops_apps"]
    without = [{key: value for key, value in app.items() if key != "processes"} for app in apps]
    # Only shelf's deploy runs: the example app's has nothing to do with its processes.
    output, rc = run_playbook("deploy", json.dumps({"djangoops_apps": without}), f"djangoops_only_apps={APP}", limit=host.backend.host)
    assert rc == 0, output[-3000:]
    assert not host.file(f"/etc/systemd/system/{unit}.service").exists
    assert host.run(f"pgrep -u {APP} -f books_worker").rc == 1
    assert "books_worker: stopped" in host.check_output(f"journalctl -u {unit} --no-pager -o cat -n 5")
    output, rc = run_playbook("deploy", f"djangoops_only_apps={APP}", limit=host.backend.host)
    assert rc == 0, output[-3000:]
    assert host.service(unit).is_running
