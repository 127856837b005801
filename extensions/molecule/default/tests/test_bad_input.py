"""A wrong value given to a converge of the running site is refused before anything changes on
any host: each with its own message, the hosts' configuration, units, env files, certificates
and live release as they were, and the site answering throughout."""

import functools
import json
import os
import tempfile
from pathlib import Path

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

from site_client import APP, Client, recap, run_playbook

# Everything a converge writes that the site runs on.
SNAPSHOT = (
    "find /etc/nginx /etc/djangoops /etc/systemd/system /etc/ssl -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum;"
    f" readlink /srv/{APP}/current"
)
WEAK_KEY = "a" * 60
UNIT = "etc/systemd/system/app.service.j2"
ROLE_UNIT = (Path(__file__).resolve().parents[4] / "roles/app_server/templates" / UNIT).read_text()


def override(text):
    """A templates folder on the controller whose service unit template is the role's, changed."""
    folder = Path(tempfile.mkdtemp(prefix="djangoops-bad-input-"))
    (folder / UNIT).parent.mkdir(parents=True)
    (folder / UNIT).write_text(text)
    return json.dumps({"app_server_templates_dir": str(folder)})


# id: (extra variables, what the refusal says)
WRONG = {
    "server_names_a_string": ('{"django_app_server_names": "example.djangoops.test"}', "django_app_server_names must be a list of str"),
    "server_name_a_lone_star": ('{"django_app_server_names": ["*"]}', "django_app_server_names must be host names"),
    "server_name_with_a_port": ('{"django_app_server_names": ["example.djangoops.test:8443"]}', '["example.djangoops.test:8443"]'),
    "weak_secret_key": (f"django_app_secret_key={WEAK_KEY}", "security.W009"),
    "unknown_key_in_djangoops_apps": ('{"djangoops_apps": [{"name": "example", "workrs": 2}]}', "unknown keys ['workrs']"),
    "negative_worker_count": ("app_server_workers=-1", "app_server_workers must be a whole number of at least 0"),
    "bind_on_a_port_nginx_holds": ("app_server_bind=127.0.0.1:443", "127.0.0.1:443 is held by another program"),
    "site_option_nginx_refuses": ('{"djangoops_site_options": {"client_max_body_size": "10q"}}', "client_max_body_size must be a size"),
    "unknown_site_option": ('{"djangoops_site_options": {"client_max_body_sise": "10m"}}', '["client_max_body_sise"]'),
    "unreachable_git_source": (
        '{"django_app_source": "git", "django_app_git_repo": "https://127.0.0.1:9/shop.git"}',
        "django_app_git_repo https://127.0.0.1:9/shop.git did not answer",
    ),
    "acme_email_not_one": ("nginx_acme_email=ops-at-example.djangoops.test", "nginx_acme_email must be an e-mail address"),
    "unit_override_systemd_refuses": (
        override(ROLE_UNIT.replace("[Service]\n", "[Service]\nRestart=sometimes\n", 1)),
        "Failed to parse service restart specifier",
    ),
    "template_override_with_a_syntax_error": (override(ROLE_UNIT.replace("{% endif %}", "{% endfi %}", 1)), "endfi"),
    "timer_calendar_systemd_refuses": (
        '{"app_timers_commands": [{"name": "digest", "command": "send_digest", "on_calendar": "someday"}]}',
        'on_calendar must be a calendar systemd reads (daily, Mon *-*-* 04:00:00, *:0/15); got ["someday"]',
    ),
    "unknown_backup_option": ('{"djangoops_backup": {"keep_daly": 3}}', "backup (or djangoops_backup) takes dir, schedule"),
    "missing_vault_variable": ('{"django_app_secret_key": "{{ vault_example_secret_key }}"}', "vault_example_secret_key"),
}


def hosts():
    names = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")
    return {name: testinfra.get_host(f"docker://{name}") for name in names}


def snapshot():
    taken = {name: host.check_output(SNAPSHOT) for name, host in hosts().items()}
    # A digest of the files and the live release on each host: never an empty comparison.
    for name, text in taken.items():
        digest, release = text.split()[0], text.split()[-1]
        assert len(digest) == 64, (name, text)
        assert release.startswith(f"/srv/{APP}/releases/"), (name, text)
    return taken


@functools.cache
def before():
    return snapshot()


@pytest.mark.parametrize("case", WRONG)
def test_a_wrong_value_is_refused_before_any_change(case):
    extra, message = WRONG[case]
    first = before()
    output, rc = run_playbook("site", extra)
    assert rc != 0, output[-2000:]
    assert message in output, output[-3000:]
    assert all(counts["changed"] == 0 for counts in recap(output).values()), recap(output)
    assert snapshot() == first
    for host in hosts().values():
        status, _headers, _body = Client(host).get("/")
        assert status == 200
    assert WEAK_KEY not in output  # a secret is never echoed, not even a weak one
