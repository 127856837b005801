"""Monitoring: the exporters and scrape jobs the topology gives each host, the firewall's rules
for them, and the shipped alert rules and configurations checked by Prometheus' own promtool."""

import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, render, role_vars

sys.path.insert(0, str(ROOT / "plugins" / "filter"))

from topology import app_metrics_ports, celery_queues, exporters, firewall_rules, probes, scrape_jobs

PROMTOOL = ROOT / "scripts" / "promtool"


def facts(address, **more):
    return {"ansible_facts": {"default_ipv4": {"address": address}}, **more}


HOSTVARS = {
    "lb": facts("10.0.0.10"),
    "app1": facts("10.0.0.11", django_app_name="shop", app_server_bind="0.0.0.0:8000"),
    "app2": facts(
        "10.0.0.12",
        app_server_bind="0.0.0.0:8000",
        djangoops_apps=[{"name": "shop"}, {"name": "blog", "metrics_port": 9809, "bind": "0.0.0.0:8001"}],
    ),
    "db": facts("10.0.0.13", postgresql_databases=[{"name": "shop"}], redis_users=[{"name": "shop"}]),
    "mon": facts("10.0.0.14"),
}
GROUPS = {
    "loadbalancers": ["lb"],
    "appservers": ["app1", "app2"],
    "databases": ["db"],
    "redis": ["db"],
    "monitoring": ["mon"],
}


def test_each_host_runs_the_exporters_of_what_it_serves():
    assert exporters(HOSTVARS, GROUPS, "lb") == {"node": 9100, "nginx": 9113}
    assert exporters(HOSTVARS, GROUPS, "app1") == {"node": 9100}
    assert exporters(HOSTVARS, GROUPS, "db") == {"node": 9100, "postgresql": 9187, "redis": 9121}
    assert exporters(HOSTVARS, GROUPS, "mon") == {"node": 9100}
    assert app_metrics_ports(HOSTVARS, GROUPS, "app2") == {"shop": 9808, "blog": 9809}
    assert app_metrics_ports(HOSTVARS, GROUPS, "lb") == {}
    # Apache serves no stub_status; without a monitoring group nothing runs.
    apache = {**HOSTVARS, "lb": facts("10.0.0.10", djangoops_web_server="apache")}
    assert exporters(apache, GROUPS, "lb") == {"node": 9100}
    unmonitored = {key: value for key, value in GROUPS.items() if key != "monitoring"}
    assert exporters(HOSTVARS, unmonitored, "db") == {}
    assert app_metrics_ports(HOSTVARS, unmonitored, "app1") == {}


def test_prometheus_scrapes_every_exporter_and_app_at_the_hosts_addresses():
    jobs = {job["name"]: job["targets"] for job in scrape_jobs(HOSTVARS, GROUPS)}
    assert [t["target"] for t in jobs["node"]] == ["10.0.0.10:9100", "10.0.0.11:9100", "10.0.0.12:9100", "10.0.0.13:9100", "10.0.0.14:9100"]
    assert jobs["nginx"] == [{"target": "10.0.0.10:9113", "host": "lb"}]
    assert jobs["django"] == [
        {"target": "10.0.0.11:9808", "host": "app1", "app": "shop"},
        {"target": "10.0.0.12:9808", "host": "app2", "app": "shop"},
        {"target": "10.0.0.12:9809", "host": "app2", "app": "blog"},
    ]


def test_the_exporters_ports_admit_the_monitoring_host_only():
    def rules(host):
        return {rule["port"]: rule["sources"] for rule in firewall_rules(HOSTVARS, GROUPS, host)}

    assert rules("db")[9187] == ["10.0.0.14"]
    assert rules("db")[9121] == ["10.0.0.14"]
    assert rules("lb")[9113] == ["10.0.0.14"]
    assert rules("app2")[9809] == ["10.0.0.14"]
    assert rules("app2")[8000] == ["10.0.0.10"]
    # Prometheus on the host itself scrapes through loopback: nothing more to open.
    single = {"loadbalancers": ["mon"], "appservers": ["mon"], "monitoring": ["mon"]}
    assert list(rules_of(single, "mon")) == [80, 443]


def test_the_redis_exporter_watches_the_celery_queues_of_the_brokers_on_its_host():
    broker = "redis://shop:secret@{host}:6379/{db}"
    hostvars = {
        **HOSTVARS,
        "app1": {
            **HOSTVARS["app1"],
            "djangoops_celery": True,
            "django_app_environment": {"CELERY_BROKER_URL": broker.format(host="db", db=2)},
        },
        "app2": {
            **HOSTVARS["app2"],
            "djangoops_apps": [
                {"name": "shop", "celery": {"concurrency": 1}, "environment": {"CELERY_BROKER_URL": broker.format(host="10.0.0.13", db=2)}},
                {"name": "blog", "celery": True, "environment": {"CELERY_BROKER_URL": "redis://elsewhere:6379"}},
                {"name": "wiki", "environment": {"CELERY_BROKER_URL": broker.format(host="db", db=5)}},
            ],
        },
    }
    assert celery_queues(hostvars, GROUPS, "db") == ["db2=celery"]
    single = {"appservers": ["db"], "redis": ["db"]}
    local = {
        "db": {**HOSTVARS["db"], "djangoops_celery": True, "django_app_environment": {"CELERY_BROKER_URL": "redis://u:p@127.0.0.1:6379"}}
    }
    assert celery_queues(local, single, "db") == ["db0=celery"]


def rules_of(groups, host):
    return {rule["port"]: rule["sources"] for rule in firewall_rules(HOSTVARS, groups, host)}


def test_each_site_is_probed_at_each_load_balancer_with_its_name():
    sites = [{"name": "shop", "server_names": ["shop.example.com", "www.shop.example.com"]}]
    assert probes(sites, HOSTVARS, ["lb", "app1"]) == [
        {"site": "shop", "host": "lb", "url": "https://10.0.0.10/healthz", "server_name": "shop.example.com"},
        {"site": "shop", "host": "app1", "url": "https://10.0.0.11/healthz", "server_name": "shop.example.com"},
    ]


@pytest.fixture(scope="module")
def promtool():
    if shutil.which("apt-get") is None:
        pytest.skip("promtool comes from Debian's prometheus package")
    subprocess.run([PROMTOOL, "--version"], check=True, capture_output=True)
    return PROMTOOL


def test_the_shipped_rules_fire_on_what_they_are_for(tmp_path, promtool):
    rules = render("monitoring", "etc/prometheus/djangoops-rules.yml.j2", role_vars("monitoring"))
    (tmp_path / "rules.yml").write_text(rules)
    shutil.copy(ROOT / "tests" / "unit" / "promtool" / "rules_test.yml", tmp_path)
    check = subprocess.run([promtool, "check", "rules", "rules.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    result = subprocess.run([promtool, "test", "rules", "rules_test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every rule has a test.
    tested = (ROOT / "tests" / "unit" / "promtool" / "rules_test.yml").read_text()
    for group in yaml.safe_load(rules)["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] in tested or rule["alert"] in {"TargetDown"}, rule["alert"]


def test_the_thresholds_are_variables(promtool, tmp_path):
    variables = role_vars("monitoring")
    variables["monitoring_alerts"] = {"probe_for": "10s", "backup_max_age_hours": 2, "error_ratio": 0.5}
    rules = render("monitoring", "etc/prometheus/djangoops-rules.yml.j2", variables)
    by_name = {rule["alert"]: rule for group in yaml.safe_load(rules)["groups"] for rule in group["rules"]}
    assert by_name["SiteDown"]["for"] == "10s"
    assert "> 7200" in by_name["BackupTooOld"]["expr"]
    assert by_name["HighErrorRatio"]["expr"].endswith("> 0.5")


def test_prometheus_configuration_passes_promtool(tmp_path, promtool):
    variables = role_vars("monitoring")
    variables.update(
        inventory_hostname="mon",
        monitoring_scrape_jobs=scrape_jobs(HOSTVARS, GROUPS),
        monitoring_probes=probes([{"name": "shop", "server_names": ["shop.example.com"]}], HOSTVARS, ["lb"]),
    )
    config = render("monitoring", "etc/prometheus/prometheus.yml.j2", variables)
    (tmp_path / "prometheus.yml").write_text(config)
    result = subprocess.run([promtool, "check", "config", "--syntax-only", "prometheus.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    parsed = yaml.safe_load(config)
    probe_job = next(job for job in parsed["scrape_configs"] if job["job_name"] == "djangoops_probes")
    assert probe_job["static_configs"][0]["labels"] == {"site": "shop", "host": "lb", "module": "djangoops_site_1"}
    django = next(job for job in parsed["scrape_configs"] if job["job_name"] == "django")
    assert django["static_configs"][2] == {"targets": ["10.0.0.12:9809"], "labels": {"host": "app2", "app": "blog"}}
    modules = yaml.safe_load(render("monitoring", "etc/prometheus/blackbox.yml.j2", variables))["modules"]
    assert modules["djangoops_site_1"]["http"]["headers"] == {"Host": "shop.example.com"}
    assert modules["djangoops_site_1"]["http"]["tls_config"]["server_name"] == "shop.example.com"


def test_alertmanager_sends_to_the_webhooks_and_mail_with_resolutions():
    variables = role_vars("monitoring")
    variables.update(
        ansible_facts={"fqdn": "mon.example.com"},
        monitoring_alert_webhooks=["https://hooks.example.com/a"],
        monitoring_alert_email={"to": "ops@example.com", "smarthost": "smtp.example.com:587", "username": "u", "password": "p"},
    )
    config = yaml.safe_load(render("monitoring", "etc/prometheus/alertmanager.yml.j2", variables))
    (receiver,) = config["receivers"]
    assert receiver["webhook_configs"] == [{"url": "https://hooks.example.com/a", "send_resolved": True}]
    (mail,) = receiver["email_configs"]
    assert mail["from"] == "alertmanager@mon.example.com"
    assert mail["auth_password"] == "p"  # noqa: S105  the test's own
    assert mail["send_resolved"] is True


def test_the_web_pages_go_beyond_loopback_over_https_with_basic_auth():
    variables = role_vars("monitoring")
    variables.update(
        inventory_hostname="mon",
        monitoring_listen_address="10.0.0.14",
        monitoring_web_users={"admin": "secret", "viewer": "other"},
        # The users' file as htpasswd writes it, with a user no longer listed.
        __monitoring_web_hashes={"content": "YWRtaW46JDJ5JDEwJGFiYwpnb25lOiQyeSQxMCRkZWYK"},
    )
    web = yaml.safe_load(render("monitoring", "etc/prometheus/djangoops-web.yml.j2", variables))
    assert web["basic_auth_users"] == {"admin": "$2y$10$abc"}
    assert web["tls_server_config"]["cert_file"] == "/etc/prometheus/djangoops-web.crt"
    config = yaml.safe_load(render("monitoring", "etc/prometheus/prometheus.yml.j2", variables))
    (alertmanager,) = config["alerting"]["alertmanagers"]
    assert alertmanager["scheme"] == "https"
    assert alertmanager["basic_auth"] == {"username": "admin", "password": "secret"}
    assert config["scrape_configs"][0]["scheme"] == "https"
    args = render("monitoring", "etc/default/prometheus.j2", variables)
    assert "--web.listen-address=10.0.0.14:9090" in args
    assert "--web.config.file=/etc/prometheus/djangoops-web.yml" in args
    # The firewall opens 9090 and 9093 to the given sources only.
    hostvars = {**HOSTVARS, "mon": facts("10.0.0.14", monitoring_listen_address="10.0.0.14", monitoring_web_sources=["lb", "192.0.2.0/24"])}
    rules = {rule["port"]: rule["sources"] for rule in firewall_rules(hostvars, GROUPS, "mon")}
    assert rules[9090] == rules[9093] == ["10.0.0.10", "192.0.2.0/24"]
    assert 9090 not in {rule["port"] for rule in firewall_rules(HOSTVARS, GROUPS, "mon")}


def test_alerts_go_by_mail_through_the_apps_mail_settings_unless_the_inventory_says_otherwise():
    variables = role_vars("monitoring")
    variables.update(
        ansible_facts={"fqdn": "mon.example.com"},
        monitoring_alert_email_defaults={"to": "admin@example.com", "from": "root@shop.example.com", "smarthost": "smtp.example.com:25"},
        monitoring_alert_email={"to": "ops@example.com"},
    )
    (mail,) = yaml.safe_load(render("monitoring", "etc/prometheus/alertmanager.yml.j2", variables))["receivers"][0]["email_configs"]
    assert (mail["to"], mail["from"], mail["smarthost"]) == ("ops@example.com", "root@shop.example.com", "smtp.example.com:25")
