"""The packages the collection adds to a release's virtualenv leave the project's own pins alone;
a host's installed packages come from package_facts or the collection's local fact."""

import json
import shutil
import subprocess
import sys

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from conftest import ROOT

sys.path.insert(0, str(ROOT / "plugins" / "filter"))

from packages import missing_packages, unpinned


def test_a_package_the_project_installed_keeps_the_projects_version():
    added = ["gunicorn==27.0.1", "psycopg[binary]==3.3.9", "redis==8.1.0"]
    installed = ["Django", "gunicorn", "Psycopg", "sqlparse"]
    assert unpinned(added, installed) == ["gunicorn", "psycopg[binary]", "redis==8.1.0"]


def test_names_compare_as_pip_compares_them():
    assert unpinned(["uvicorn-worker==0.4.0", "sentry-sdk==2.75.0"], ["Uvicorn_Worker", "sentry.sdk"]) == ["uvicorn-worker", "sentry-sdk"]


def test_markers_stay():
    assert unpinned(['pyuwsgi==2.0.30; python_version < "3.14"'], ["pyuwsgi"]) == ['pyuwsgi; python_version < "3.14"']


def test_nothing_installed_changes_nothing():
    assert unpinned(["uvicorn[standard]==0.54.0"], []) == ["uvicorn[standard]==0.54.0"]


def test_a_broken_requirement_is_named():
    with pytest.raises(AnsibleFilterError, match="not a pip requirement"):
        unpinned(["gunicorn=="], ["gunicorn"])


def test_a_package_missing_from_the_facts_is_missing():
    facts = {"packages": {"nginx": [{"version": "1.22"}], "ssl-cert": [{"version": "1.1"}]}}
    assert missing_packages(["nginx", "ssl-cert"], facts) == []
    assert missing_packages(["nginx", "certbot", "ssl-cert", "git"], facts) == ["certbot", "git"]


def test_without_a_package_list_every_package_is_missing():
    # No read (a role on its own), or a read that failed on a host without python3-apt.
    assert missing_packages(["nginx", "git"], {"distribution": "Debian"}) == ["nginx", "git"]
    assert missing_packages(["nginx"], {"packages": None}) == ["nginx"]


def test_the_local_fact_lists_the_packages_where_package_facts_did_not_run():
    local = {"djangoops_packages": {"nginx": ["1.22.1-9"], "ssl-cert": ["1.1.2"]}}
    facts = {"ansible_local": local}
    assert missing_packages(["nginx", "certbot", "ssl-cert"], facts) == ["certbot"]
    # package_facts' list, where it ran, is the one read.
    assert missing_packages(["nginx", "certbot"], {"packages": {"certbot": []}, "ansible_local": local}) == ["nginx"]
    # A fact script whose output was no JSON leaves Ansible's message in its place.
    assert missing_packages(["nginx"], {"ansible_local": {"djangoops_packages": "error loading fact"}}) == ["nginx"]
    assert missing_packages(["nginx"], {"ansible_local": "none"}) == ["nginx"]


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a Debian host's dpkg-query")
def test_the_local_fact_script_lists_what_dpkg_has_installed(tmp_path):
    tasks = yaml.safe_load((ROOT / "playbooks" / "tasks" / "packages.yml").read_text())
    block = next(task["block"] for task in tasks if "block" in task)
    script = next(task["ansible.builtin.copy"]["content"] for task in block if "ansible.builtin.copy" in task)
    path = tmp_path / "djangoops_packages.fact"
    path.write_text(script)
    path.chmod(0o755)
    listed = json.loads(subprocess.run([str(path)], capture_output=True, text=True, check=True).stdout)
    status = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${Package} ${db:Status-Status}\n"], capture_output=True, text=True, check=True
    ).stdout
    installed = {line.split()[0] for line in status.splitlines() if line.split()[1] == "installed"}
    assert set(listed) == installed
    assert all(isinstance(versions, list) and versions and versions[0] for versions in listed.values())
