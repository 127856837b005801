"""Each app is resolved once: djangoops.stack.app_settings turns a djangoops_apps entry, the host's
variables and the defaults into the app's settings, and playbooks/tasks/app.yml hands them on."""

import json
import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, load_yaml

sys.path.insert(0, str(ROOT / "plugins" / "filter"))

from ansible.errors import AnsibleFilterError
from topology import APP_KEYS, PLAYBOOK_DEFAULTS, app_settings, role_defaults

APP_TASKS = ROOT / "playbooks" / "tasks" / "app.yml"
REQUIRED = {"name": "shop", "project_module": "shop", "server_names": ["shop.example.com"]}


def test_app_tasks_hand_on_every_setting_and_resolve_none():
    handed = {}
    for variable, value in load_yaml(APP_TASKS)[0]["vars"].items():
        match = re.fullmatch(r"\{\{ djangoops_app\.(\w+) \}\}", str(value).strip())
        if match:
            handed[match.group(1)] = variable
        assert "default(" not in str(value), f"{variable} falls back on a default of its own"
    assert set(handed) == {variable for variable, _ in APP_KEYS.values()}
    for setting, variable in handed.items():
        assert variable == setting or variable.startswith("__djangoops_"), variable


def test_the_entry_wins_then_the_host_then_the_role_default():
    host = {"django_app_git_version": "v2", "app_server_type": "uvicorn", "djangoops_celery": True}
    settings = app_settings({**REQUIRED, "git_version": "v3"}, host)
    assert settings["django_app_git_version"] == "v3"
    assert settings["app_server_type"] == "uvicorn"
    assert settings["djangoops_celery"] is True
    assert settings["django_app_requirements_file"] == role_defaults("django_app")["django_app_requirements_file"]
    assert settings["app_server_workers"] == role_defaults("app_server")["app_server_workers"]
    assert settings["djangoops_backup"] is True
    assert set(settings) == {variable for variable, _ in APP_KEYS.values()}


def test_apps_on_an_apache_host_run_in_mod_wsgi_unless_told_otherwise():
    apache = {"djangoops_web_server": "apache"}
    assert app_settings(dict(REQUIRED), apache)["app_server_type"] == "mod_wsgi"
    assert app_settings(dict(REQUIRED), {})["app_server_type"] == "gunicorn"
    # A server named by the entry or the host stays, for the preflight to refuse with its reason.
    assert app_settings({**REQUIRED, "server": "uvicorn"}, apache)["app_server_type"] == "uvicorn"
    assert app_settings(dict(REQUIRED), {**apache, "app_server_type": "gunicorn"})["app_server_type"] == "gunicorn"


def test_a_host_without_djangoops_apps_is_its_own_variables():
    host = {f"django_app_{key}": value for key, value in REQUIRED.items()}
    assert app_settings({}, host)["django_app_name"] == "shop"


def test_site_options_merge_over_the_hosts():
    host = {"djangoops_site_options": {"client_max_body_size": "10m", "hsts": True}}
    settings = app_settings({**REQUIRED, "site": {"client_max_body_size": "50m"}}, host)
    assert settings["djangoops_site_options"] == {"client_max_body_size": "50m", "hsts": True}


def test_defaults_are_copied_not_shared():
    first = app_settings(dict(REQUIRED), {})
    first["djangoops_websocket_paths"].append("/ws/")
    assert app_settings(dict(REQUIRED), {})["djangoops_websocket_paths"] == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({**REQUIRED, "workrs": 4}, r"unknown keys \['workrs'\]"),
        ({"name": "shop", "server_names": ["x"]}, r"project_module is not set"),
        ({"server_names": ["x"], "project_module": "shop"}, r"name is not set"),
    ],
)
def test_bad_entries_fail_with_the_key(entry, message):
    with pytest.raises(AnsibleFilterError, match=message):
        app_settings(entry, {})


def test_defaults_come_from_the_roles_specs_and_agree_with_their_defaults_files():
    for variable, role in APP_KEYS.values():
        if role:
            defaults = load_yaml(ROOT / "roles" / role / "defaults" / "main.yml")
            if variable in role_defaults(role):
                assert defaults[variable] == role_defaults(role)[variable], variable
        else:
            assert variable in PLAYBOOK_DEFAULTS


def test_every_per_app_key_is_documented_in_the_guide():
    guide = (ROOT / "docs/several-apps.md").read_text(encoding="utf-8")
    for key in APP_KEYS:
        assert f"`{key}`" in guide, key


def test_ansible_resolves_an_inventory_through_the_filter(tmp_path):
    """Through Ansible's own hostvars: group variables, a vaulted-like template and an entry."""
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "hosts.yml").write_text("appservers:\n  hosts:\n    app1:\n      ansible_connection: local\n")
    (inventory / "group_vars" / "appservers.yml").write_text(
        yaml.safe_dump(
            {
                "shop_key": "s3cret",
                "django_app_source": "git",
                "app_server_workers": 3,
                "djangoops_apps": [
                    {"name": "shop", "project_module": "shop", "server_names": ["shop.example.com"], "secret_key": "{{ shop_key }}"},
                    {"name": "chat", "project_module": "chat", "server_names": ["chat.example.com"], "server": "daphne", "workers": 1},
                ],
            }
        )
    )
    playbook = tmp_path / "show.yml"
    playbook.write_text(
        "- hosts: appservers\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.copy:\n"
        "        content: \"{{ djangoops_apps | map('djangoops.stack.app_settings', hostvars[inventory_hostname]) | list | to_json }}\"\n"
        f"        dest: {tmp_path}/settings.json\n        mode: '0600'\n"
    )
    env = {"PATH": str(ROOT / ".venv/bin") + ":/usr/bin:/bin", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "HOME": str(tmp_path)}
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), str(playbook)], capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    shop, chat = json.loads((tmp_path / "settings.json").read_text())
    assert (shop["django_app_secret_key"], shop["django_app_source"], shop["app_server_workers"]) == ("s3cret", "git", 3)
    assert (chat["app_server_type"], chat["app_server_workers"], chat["django_app_source"]) == ("daphne", 1, "git")


def test_a_value_of_the_wrong_type_is_named_before_a_role_sees_it():
    entry = {**REQUIRED, "server_names": "shop.example.com", "secret_key": ["not", "a", "string"], "workers": "4"}
    with pytest.raises(AnsibleFilterError) as raised:
        app_settings(entry, {"djangoops_celery": {"beat": True}, "djangoops_websocket_paths": "/ws/"})
    lines = str(raised.value).splitlines()
    assert lines[0] == "app 'shop': values missing or of the wrong type:"
    assert "- django_app_server_names must be a list of str; got a str: 'shop.example.com' (the entry's 'server_names')" in lines
    # A secret's value is not shown; a number given as a string is what the role would take.
    assert any(line.startswith("- django_app_secret_key must be a str; got a list: (hidden)") for line in lines)
    assert any(line.startswith("- djangoops_websocket_paths must be a list of str") for line in lines)
    assert not any("app_server_workers" in line or "djangoops_celery" in line for line in lines)
    assert len(lines) == 4
