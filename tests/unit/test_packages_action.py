"""djangoops.stack.packages on the control node itself (a Debian host): dpkg's database read once
a run, and no apt call for packages that are installed."""

import shutil

import pytest
from test_files_action import run_playbook

PLAYBOOK = """
- name: Ask for installed packages
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: First ask
      djangoops.stack.packages:
        name: [dpkg, coreutils]
      register: first

    - name: Second ask, in another task
      djangoops.stack.packages:
        name: coreutils
      register: second

    - name: Show what the tasks reported
      ansible.builtin.debug:
        msg: >-
          RESULT={{ first.changed }},{{ first.missing | length }},{{ 'dpkg' in ansible_facts.djangoops_packages.installed }},
          {{ first.ansible_facts is defined }},{{ second.ansible_facts is defined }},{{ second.changed }};
"""

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a Debian control node")


def test_installed_packages_make_no_apt_call_and_dpkg_is_read_once(tmp_path):
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    process = run_playbook(tmp_path)
    assert process.returncode == 0, process.stdout + process.stderr
    line = next(line for line in process.stdout.splitlines() if "RESULT=" in line)
    # not changed, nothing missing, the fact lists dpkg, read by the first task only
    assert line.split("RESULT=", 1)[1].split(";", 1)[0].replace(" ", "") == "False,0,True,True,False,False"
    assert "changed=0" in process.stdout


def test_a_name_that_is_not_a_list_of_names_is_refused(tmp_path):
    (tmp_path / "play.yml").write_text(PLAYBOOK.replace("name: [dpkg, coreutils]", "name: {dpkg: 1}"))
    process = run_playbook(tmp_path)
    assert process.returncode != 0
    assert "name must be a list of package names" in process.stdout
