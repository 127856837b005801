"""Bad input is refused by django_app's preflight, before anything changes, with one line per
broken rule naming the variable, the value (never a secret's) and what is accepted. The entry
point only evaluates assertions on the controller, so it runs here against localhost."""

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

STRONG = "k3y-" + "abcdefghij" * 5
VALID = {
    "django_app_name": "shop",
    "django_app_project_module": "example_project",
    "django_app_server_names": ["shop.example.com", "localhost"],
    "django_app_source_path": str(ROOT / "extensions/molecule/shared/django_project"),
    "django_app_secret_key": STRONG,
}
# A repository with a branch main, made by the fixture; the controller has git, so the git cases
# take the git ls-remote path (the scenarios' hosts, without git, take the others).
GIT_REPO = Path(tempfile.mkdtemp(prefix="djangoops-preflight-")) / "shop.git"
GIT = {"django_app_source": "git", "django_app_git_repo": str(GIT_REPO)}
TOKEN = "s3cr3t-t0ken"  # noqa: S105  a stand-in the message must not show
ACME_SITE = {
    "name": "shop",
    "server_names": ["shop.example.com"],
    "upstream": "unix:/run/shop/app.sock",
    "static_root": "/srv/shop/current/static",
    "media_root": "/srv/shop/shared/media",
    "tls_source": "acme",
}
APACHE_SITE = {
    "name": "shop",
    "server_names": ["shop.example.com"],
    "static_root": "/srv/shop/current/static",
    "media_root": "/srv/shop/shared/media",
    "wsgi": dict.fromkeys(
        ("script", "python_home", "home", "user", "group", "processes", "threads", "request_timeout", "graceful_timeout", "max_requests"),
        "x",
    )
    | {"read_write_paths": []},
}
# case: (variables over VALID, what the failure's lines must say, each on a line of its own
# unless given together in a tuple; None for a pass). Cases named app_server_* or nginx_* run
# that role's preflight instead (nginx's with an ACME site, and the controller's facts), as do
# postgresql_*, redis_*, celery_* and app_backup_* cases.
CASES = {
    "valid": ({}, None),
    "server_names_a_string": (
        {"django_app_server_names": "shop.example.com"},
        ['django_app_server_names must be a non-empty list of host names; got "shop.example.com"'],
    ),
    "lone_star": ({"django_app_server_names": ["*"]}, ['no scheme, no port); got ["*"]']),
    "scheme_and_port": (
        {"django_app_server_names": ["https://shop.example.com", "shop.example.com:8443", "ok.example.com"]},
        ['got ["https://shop.example.com", "shop.example.com:8443"]'],
    ),
    "weak_key_repeated": ({"django_app_secret_key": "a" * 60}, [("security.W009", "it has 60 characters, 1 different")]),
    "weak_key_insecure_prefix": ({"django_app_secret_key": "django-insecure-" + "abcdefghij" * 5}, ["security.W009"]),
    "weak_key_short": ({"django_app_secret_key": "abcdefghij"}, [("security.W009", "it has 10 characters")]),
    "strong_fallback": ({"django_app_secret_key_fallbacks": ["releases-test-key-one-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGH"]}, None),
    "fallback_with_a_space": ({"django_app_secret_key_fallbacks": ["with a space " + "abcdefghij" * 5]}, ["security.W025"]),
    "weak_fallback": ({"django_app_secret_key_fallbacks": ["b" * 60]}, ["security.W025"]),
    "git_branch": ({**GIT, "django_app_git_version": "main"}, None),
    "git_commit": ({**GIT, "django_app_git_version": "0123abc"}, None),
    "git_unknown_branch": ({**GIT, "django_app_git_version": "mian"}, ['django_app_git_version "mian" is no branch or tag of']),
    "git_unreachable": (
        {**GIT, "django_app_git_repo": f"https://deploy:{TOKEN}@127.0.0.1:9/shop.git"},
        ["django_app_git_repo https://***@127.0.0.1:9/shop.git did not answer"],
    ),
    "git_no_repository_there": ({**GIT, "django_app_git_repo": str(GIT_REPO.parent / "none.git")}, ["none.git did not answer"]),
    "csp": ({"django_app_csp": {"default-src": ["'self'"], "img-src": ["'self'", "data:"]}}, None),
    "csp_in_environment_mode": (
        {"django_app_csp": {"default-src": ["'self'"]}, "django_app_settings_mode": "environment"},
        ["django_app_csp needs django_app_settings_mode module"],
    ),
    "csp_source_with_a_semicolon": ({"django_app_csp": {"default-src": ["'self'; script-src *"]}}, ["django_app_csp maps directive names"]),
    "check_ignore": ({"django_app_check_ignore": ["security.W019", "staticfiles.W004"]}, None),
    "check_ignore_not_an_id": (
        {"django_app_check_ignore": ["W019", "security.W019"]},
        ['django_app_check_ignore must list system check ids (security.W019, staticfiles.W004); got ["W019"]'],
    ),
    "layout": (
        {
            "django_app_source_path": str(ROOT / "extensions/molecule/shared/shelf_project"),
            "django_app_project_dir": "src",
            "django_app_requirements_file": "uv.lock",
            "django_app_release_files": [{"path": "shelf/configuration.py", "content": "SITE_TITLE = 'x'\n"}],
            "django_app_shared_paths": ["exports"],
            "django_app_frontend": {"dir": "frontend", "command": ["npm", "run", "build"]},
        },
        None,
    ),
    "layout_manage_py_elsewhere": (
        {"django_app_source_path": str(ROOT / "extensions/molecule/shared/shelf_project"), "django_app_project_dir": "src/shelf"},
        [],  # one message of its own, checked below
    ),
    "layout_paths_outside": (
        {
            "django_app_project_dir": "../elsewhere",
            "django_app_shared_paths": ["uploads", "/var/lib/x", "a/../../b"],
            "django_app_release_files": [{"path": "conf.py", "content": "x", "template": "y.j2"}, {"content": "no path"}],
            "django_app_frontend": {"dir": "web", "command": "npm run build", "node": 20},
        },
        [
            'django_app_project_dir must be a folder inside the source (src, backend/app), without .. or a leading /; got "../elsewhere"',
            'django_app_shared_paths must list folders inside the project folder (uploads, media/reports), without .. or a leading /; got ["uploads", "/var/lib/x", "a/../../b"]',
            "django_app_release_files must list {path, content} or {path, template}",
            'A template of django_app_release_files is not a file on the controller: ["y.j2"]',
            "django_app_frontend takes dir",
        ],
    ),
    "layout_template_missing": (
        {"django_app_release_files": [{"path": "conf.py", "template": "/nonexistent/conf.py.j2"}]},
        ['A template of django_app_release_files is not a file on the controller: ["/nonexistent/conf.py.j2"]'],
    ),
    "health_path": (
        {"django_app_health_path": "healthz"},
        ['django_app_health_path must be a URL path (/healthz, /-/health); got "healthz"'],
    ),
    "app_processes_valid": ({"app_processes_list": [{"name": "worker", "command": "rqworker default"}]}, None),
    "app_processes_names_and_signal": (
        {
            "app_processes_list": [
                {"name": "Worker", "command": "rqworker"},
                {"name": "poller", "command": [], "program": "/usr/bin/env", "stop_signal": "TERM", "restart": "always"},
            ]
        },
        [
            'each process needs a name of lower-case letters, digits and - (worker, rq-default); got ["Worker"]',
            'a process takes name, command, program, stop_signal, stop_timeout; got ["restart"]',
            "each process needs a command",
            'program must name a program of the release\'s virtualenv (rq, python), not a path; got ["/usr/bin/env"]',
            'stop_signal must be a signal\'s name (SIGTERM, SIGINT, SIGQUIT); got ["TERM"]',
        ],
    ),
    "app_server_valid": ({}, None),
    "app_server_two_counts": (
        {"app_server_workers": -1, "app_server_timeout": 0},
        [
            "app_server_workers must be a whole number of at least 0 (0: from the CPU count); got -1",
            "app_server_timeout must be a whole number of at least 1",
        ],
    ),
    "app_server_unknown_type_and_port": (
        {"app_server_type": "tornado", "app_server_bind": "127.0.0.1:99999"},
        ["app_server_type must be one of", 'got "127.0.0.1:99999"'],
    ),
    "nginx_acme_valid": ({"nginx_acme_email": "ops@example.com"}, None),
    "nginx_acme_email_not_one": (
        {"nginx_acme_email": "ops at example.com", "nginx_acme_directory_url": "http://ca.example.com/dir"},
        [
            'nginx_acme_email must be an e-mail address, or empty to register without one; got "ops at example.com"',
            "must be an https:// URL",
        ],
    ),
    "nginx_site_provided_without_a_certificate": (
        {"nginx_sites": [{**ACME_SITE, "tls_source": "provided", "upstream": "shop"}]},
        ["tls_source provided needs tls_certificate and tls_certificate_key", 'upstream must be unix:/path or host:port; got "shop"'],
    ),
    "apache_valid": ({"apache_sites": [APACHE_SITE]}, None),
    "apache_profile_and_body_size": (
        {"apache_sites": [APACHE_SITE], "apache_tls_profile": "old", "apache_client_max_body_size": "10 MB"},
        ['apache_tls_profile must be intermediate or modern; got "old"', "apache_client_max_body_size must be a size"],
    ),
    "apache_site_without_its_daemon_behind_a_pool": (
        {"apache_sites": [{**APACHE_SITE, "wsgi": {}, "pool": [{"host": "app1", "address": "10.0.0.2:8000"}]}]},
        ["wsgi must hold script, python_home", "WebSocket paths (split mode) and pools of app hosts need nginx"],
    ),
    "postgresql_valid": ({"postgresql_databases": [{"name": "shop", "password": STRONG}]}, None),
    "postgresql_name_and_password": (
        {"postgresql_databases": [{"name": "Shop", "password": "tiny"}, {"name": "blog", "password": STRONG}]},
        ['postgresql_databases names must be lower-case identifiers; got ["Shop"]', ("at least 16 characters", 'too short for ["Shop"]')],
    ),
    "redis_valid": ({"redis_users": [{"name": "shop", "password": STRONG}]}, None),
    "redis_password_and_policy": (
        {"redis_users": [{"name": "shop", "password": "tiny"}], "redis_maxmemory_policy": "lru"},
        ['too short for ["shop"]', "redis_maxmemory_policy must be one of noeviction"],
    ),
    "celery_valid": ({"celery_app": {"name": "shop"}, "celery_module": "shop"}, None),
    "celery_count_and_level": (
        {"celery_app": {"name": "shop"}, "celery_module": "shop", "celery_concurrency": -1, "celery_loglevel": "LOUD"},
        ["celery_concurrency must be a whole number (0: one per CPU); got -1", "celery_loglevel must be one of DEBUG"],
    ),
    "app_backup_valid": ({"app_backup_app": {"name": "shop"}}, None),
    "app_backup_days_and_remote": (
        {"app_backup_app": {"name": "shop"}, "app_backup_keep_daily": 0, "app_backup_remote": "backups.example.com"},
        [
            "app_backup_keep_daily must be a whole number of at least 1; got 0",
            'app_backup_remote must be empty or user@host:/path; got "backups.example.com"',
        ],
    ),
    "keepalived_valid": (
        {"keepalived_virtual_address": "10.0.0.100/24", "keepalived_password": "s3cret!", "keepalived_peers": ["10.0.0.11"]},
        None,
    ),
    "keepalived_address_password_and_peers": (
        {
            "keepalived_virtual_address": "10.0.0.100",
            "keepalived_password": "longer-than-eight",
            "keepalived_router_id": 256,
            "keepalived_source_address": "10.0.0.10",
            "keepalived_peers": ["10.0.0.10", "lb2.example.com"],
        },
        [
            'keepalived_virtual_address must be an IPv4 address with its prefix length, such as 203.0.113.10/24; got "10.0.0.100"',
            "keepalived_password must have 1 to 8 characters (VRRP carries no more; keep it in vault, the value is not shown); it has 17",
            "keepalived_router_id must be from 1 to 255; got 256",
            'keepalived_peers must be the other load balancers\' IPv4 addresses, not this host\'s own (10.0.0.10); got ["10.0.0.10", "lb2.example.com"]',
        ],
    ),
    "two_rules_two_lines": (
        {"django_app_name": "Shop!", "django_app_keep_releases": 0},
        ["django_app_name must be a short lower-case identifier", "django_app_keep_releases must be a whole number of at least 1; got 0"],
    ),
}


# A looped check fails with "One or more items failed": its failing item's message is the one.
FAILED_MESSAGE = (
    "ansible_failed_result.results | default([]) | selectattr('failed', 'defined') | selectattr('failed')"
    " | map(attribute='msg') | first | default(ansible_failed_result.msg)"
)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preflight")
    work = folder / "work"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run(
        ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "one"],
        check=True,
    )
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(GIT_REPO)], check=True)
    plays = []
    for case, (overrides, _expected) in CASES.items():
        plays.append(
            {
                "name": case,
                "hosts": "localhost",
                "gather_facts": case.startswith(("nginx", "postgresql", "keepalived")),
                "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                "tasks": [
                    {
                        "block": [
                            {
                                "ansible.builtin.include_role": {
                                    "name": "djangoops.stack."
                                    + next(
                                        role
                                        for role in (
                                            "apache",
                                            "app_server",
                                            "app_backup",
                                            "app_processes",
                                            "celery",
                                            "keepalived",
                                            "nginx",
                                            "postgresql",
                                            "redis",
                                            "django_app",
                                        )
                                        if case.startswith(role) or role == "django_app"
                                    ),
                                    "tasks_from": "preflight.yml",
                                },
                                "vars": {
                                    **VALID,
                                    "app_server_app": {"name": "shop"},
                                    "app_processes_app": {"name": "shop"},
                                    "nginx_sites": [ACME_SITE],
                                    **overrides,
                                },
                            },
                            {"ansible.builtin.debug": {"msg": f"CASE {case} passed"}},
                        ],
                        "rescue": [{"ansible.builtin.debug": {"msg": f"CASE {case} {{{{ {FAILED_MESSAGE} | to_json }}}}"}}],
                    }
                ],
            }
        )
    (folder / "play.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    env = {key: value for key, value in os.environ.items() if key not in ("ANSIBLE_FORCE_COLOR", "PY_COLORS")}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    result = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", str(folder / "play.yml")],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found = {}
    for line in result.stdout.splitlines():
        if '"msg": "CASE ' in line:
            text = json.loads("{" + line.strip().rstrip(",") + "}")["msg"]
            _, case, message = text.split(" ", 2)
            found[case] = None if message == "passed" else json.loads(message)
    assert set(found) == set(CASES), result.stdout[-3000:]
    return found


@pytest.mark.parametrize("case", CASES)
def test_each_wrong_value_gets_its_own_message(outcomes, case):
    _overrides, expected = CASES[case]
    message = outcomes[case]
    if expected is None:
        assert message is None
        return
    assert message is not None, f"{case} passed the preflight"
    lines = message.split("\n- ")
    firsts = (
        "App ",
        "ACME ",
        "Apache",
        "nginx site ",
        "PostgreSQL on ",
        "Redis on ",
        "Celery of ",
        "Backups of ",
        "Processes of ",
        "Floating address on ",
        "django_app_source is ",
    )
    assert lines[0].startswith(firsts), message
    assert len(lines) - 1 == len(expected), message
    for texts in expected:
        texts = texts if isinstance(texts, tuple) else (texts,)
        assert sum(all(text in line for text in texts) for line in lines[1:]) == 1, (texts, message)
    if case == "layout_manage_py_elsewhere":
        assert "with src/shelf/manage.py and requirements.txt in it" in lines[0]
    for secret in (STRONG, "a" * 60, "b" * 60, TOKEN, '"tiny"'):
        assert secret not in message
