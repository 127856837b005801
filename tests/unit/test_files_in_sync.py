"""The compare-first check the roles run before writing their files: Ansible's own template task
writes a file, one find reads it, and file_in_sync says whether the template's lookup, the owner,
the group and the mode still match it, through ansible-playbook on this machine."""

import getpass
import grp
import json
import os
import subprocess

from conftest import ROOT

TEMPLATE = """{{ ansible_managed | comment }}
[Unit]
Description={{ name }}
{% for item in items %}
Wants={{ item }}.service
{% endfor %}
Environment=EMPTY=

"""


def in_sync_after(tmp_path, change):
    """Write the file with the template task, run change (a shell command on it, or ""), then
    return file_in_sync's answer for the template's text, this user and group, mode 0644."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "unit.j2").write_text(TEMPLATE, encoding="utf-8")
    dest = tmp_path / "out" / "app.service"
    dest.parent.mkdir(exist_ok=True)
    user, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        f"""- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    name: "café"
    items: [a, b]
  tasks:
    - ansible.builtin.template:
        src: {tmp_path}/unit.j2
        dest: {dest}
        mode: "0644"
    - ansible.builtin.shell: "{change or "true"}"
      changed_when: false
    - ansible.builtin.find:
        paths: ["{dest.parent}"]
        patterns: ["{dest.name}", "other.conf"]
        get_checksum: true
      register: found
    - ansible.builtin.copy:
        content: "{{{{ found.files | djangoops.stack.file_in_sync('{dest}', lookup('ansible.builtin.template', '{tmp_path}/unit.j2'), '{user}', '{group}', '0644') | to_json }}}}"
        dest: {tmp_path}/answer.json
        mode: "0600"
""",
        encoding="utf-8",
    )
    env = {"PATH": str(ROOT / ".venv/bin") + ":/usr/bin:/bin", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "HOME": str(tmp_path)}
    result = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(playbook)], capture_output=True, text=True, check=False, env=env, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((tmp_path / "answer.json").read_text())


def test_the_lookup_renders_what_the_template_task_wrote(tmp_path):
    assert in_sync_after(tmp_path, "") is True


def test_a_changed_line_a_mode_or_a_missing_file_is_out_of_sync(tmp_path):
    assert in_sync_after(tmp_path / "edited", f"sed -i s/café/cafe/ {tmp_path}/edited/out/app.service") is False
    assert in_sync_after(tmp_path / "mode", f"chmod 0600 {tmp_path}/mode/out/app.service") is False
    assert in_sync_after(tmp_path / "gone", f"rm {tmp_path}/gone/out/app.service") is False
