"""djangoops.stack.files end to end on the control node itself: templates rendered as
ansible.builtin.template renders them, one module call, the changed files named."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT

PLAYBOOK = """
- name: Write files
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    greeting: hello
  tasks:
    - name: Write them
      djangoops.stack.files:
        template_paths: ["{{ playbook_dir }}/overrides"]
        mode: "0640"
        files:
          - {template: site.conf.j2, dest: "{{ out }}/a.conf", vars: {site: {name: a}}}
          - {template: site.conf.j2, dest: "{{ out }}/b.conf", vars: {site: {name: b}}}
          - {template: other.j2, dest: "{{ out }}/other.conf"}
          - {src: script.sh, dest: "{{ out }}/script.sh", mode: "0755"}
          - {content: "{{ greeting }} as it is\\n", dest: "{{ out }}/plain.txt"}
      register: written

    - name: Show what changed
      ansible.builtin.debug:
        msg: "CHANGED={{ written.changed_files | map('basename') | join(',') }};"
"""


def run_playbook(folder, *extra):
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    bin_dir = Path(sys.executable).parent
    process = subprocess.run(
        [
            str(bin_dir / "ansible-playbook"),
            "-i",
            "localhost,",
            str(folder / "play.yml"),
            "-e",
            f"out={folder / 'out'}",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    return process


def changed_of(process):
    line = next(line for line in process.stdout.splitlines() if "CHANGED=" in line)
    names = line.split("CHANGED=", 1)[1].split(";", 1)[0]
    return names.split(",") if names else []


@pytest.fixture
def project(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "site.conf.j2").write_text(
        textwrap.dedent("""\
            {{ ansible_managed | comment }}
            {% for word in [greeting, site.name] %}
            {{ word }}
            {% endfor %}
            """)
    )
    (tmp_path / "templates" / "other.j2").write_text("from the role\n")
    (tmp_path / "overrides").mkdir()
    (tmp_path / "overrides" / "other.j2").write_text("from the override folder\n")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "script.sh").write_text("#!/bin/sh\necho {{ not templated }}\n")
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "out").mkdir()
    return tmp_path


def test_renders_copies_and_writes_then_changes_nothing(project):
    first = run_playbook(project)
    assert first.returncode == 0, first.stdout + first.stderr
    out = project / "out"
    assert changed_of(first) == ["a.conf", "b.conf", "other.conf", "script.sh", "plain.txt"]
    # trim_blocks as ansible.builtin.template: no blank line per loop tag
    assert (out / "a.conf").read_text() == "#\n# Ansible managed\n#\nhello\na\n"
    assert (out / "b.conf").read_text().endswith("hello\nb\n")
    assert (out / "other.conf").read_text() == "from the override folder\n"
    assert (out / "script.sh").read_text() == "#!/bin/sh\necho {{ not templated }}\n"
    assert (out / "plain.txt").read_text() == "hello as it is\n"
    assert oct((out / "script.sh").stat().st_mode & 0o7777) == "0o755"
    assert oct((out / "plain.txt").stat().st_mode & 0o7777) == "0o640"
    again = run_playbook(project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert changed_of(again) == []
    assert "changed=0" in again.stdout


def test_a_changed_variable_changes_only_its_files(project):
    assert run_playbook(project).returncode == 0
    second = run_playbook(project, "-e", "greeting=bonjour")
    assert changed_of(second) == ["a.conf", "b.conf", "plain.txt"]


def test_an_unquoted_mode_is_refused(project):
    play = project / "play.yml"
    play.write_text(PLAYBOOK.replace('mode: "0640"', "mode: 0640"))
    result = run_playbook(project)
    assert result.returncode != 0
    assert "quote the mode" in result.stdout
    assert os.listdir(project / "out") == []
