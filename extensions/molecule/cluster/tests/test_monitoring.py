"""The site's monitoring, seen from the monitoring host (the database host): every exporter
scraped, the probes through the load balancer, an alert that reaches a webhook and resolves, a
failed backup raising its alert, and exporters that read statistics and nothing of the apps."""

import base64
import json
import time
import urllib.parse
from pathlib import Path

import pytest
import testinfra

from site_client import APP, SITE

LB, LB2, APP1, APP2, DB = "cluster-lb", "cluster-lb2", "cluster-app1", "cluster-app2", "cluster-db"
MONITOR = DB
DASHBOARD = Path(__file__).resolve().parents[4] / "roles" / "monitoring" / "files" / "grafana-dashboard.json"
RECEIVED = "/var/tmp/djangoops-alerts.jsonl"  # noqa: S108  on the scenario's container
# A webhook receiver for Alertmanager (monitoring_alert_webhooks in molecule.yml): each POST's
# body, one JSON document per line.
RECEIVER = f"""
import http.server
import json

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open({RECEIVED!r}, "ab") as out:
            out.write(json.dumps(json.loads(body)).encode() + b"\\n")
        self.send_response(200)
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", 9099), Receiver).serve_forever()
"""


def on(name):
    return testinfra.get_host(f"docker://{name}")


# Prometheus and Alertmanager listen on the monitoring host's address, over HTTPS with basic auth
# (monitoring_web_users in molecule.yml).
WEB_USER = "admin:cluster-test-monitoring-password-0123456789"
CURL = f"curl -sf --max-time 10 --cacert /etc/prometheus/djangoops-web.crt -u {WEB_USER}"


def prometheus(path):
    return f"https://{on(MONITOR).check_output('hostname -I').split()[0]}:9090{path}"


def query(expression):
    """An instant query against the scenario's Prometheus: [(labels, value)]."""
    url = prometheus("/api/v1/query?query=" + urllib.parse.quote(expression))
    answer = json.loads(on(MONITOR).check_output(f"{CURL} '{url}'"))
    assert answer["status"] == "success", answer
    return [(item["metric"], float(item["value"][1])) for item in answer["data"]["result"]]


def wait_for(condition, seconds, step=2):
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(step)


def targets():
    answer = json.loads(on(MONITOR).check_output(f"{CURL} {prometheus('/api/v1/targets')}"))
    return answer["data"]["activeTargets"]


def test_every_exporter_of_the_site_is_scraped_and_up():
    expected = {
        ("node", LB),
        ("node", LB2),
        ("node", APP1),
        ("node", APP2),
        ("node", DB),
        ("nginx", LB),
        ("nginx", LB2),
        ("postgresql", DB),
        ("redis", DB),
        ("djangoops_probes", LB),
        ("djangoops_probes", LB2),
        ("prometheus", DB),
        ("django", APP1),
        ("django", APP2),
    }

    def all_up():
        found = {(t["labels"]["job"], t["labels"]["host"]): t["health"] for t in targets()}
        return found if set(found) == expected and set(found.values()) == {"up"} else None

    assert wait_for(all_up, 60), {(t["labels"]["job"], t["labels"]["host"]): t["lastError"] or t["health"] for t in targets()}
    # Each exporter reads its server, not only answers.
    for expression, servers in (("nginx_up", 2), ("pg_up", 1), ("redis_up", 1)):
        assert [value for _labels, value in query(expression)] == [1.0] * servers, expression
    assert query('node_systemd_unit_state{host="cluster-app1", name="example.service", state="active"}')[0][1] == 1.0


def test_prometheus_and_alertmanager_answer_over_https_with_a_password_only():
    lb, monitor = on(LB), on(MONITOR)
    address = monitor.check_output("hostname -I").split()[0]
    certificate = monitor.file("/etc/prometheus/djangoops-web.crt").content_string
    lb.run_expect([0], f"printf '%s' '{certificate}' > /tmp/djangoops-web.crt")
    for port in (9090, 9093):
        base = f"https://{address}:{port}/-/healthy"
        assert lb.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert /tmp/djangoops-web.crt {base}") == "401"
        wrong = f"curl -s -o /dev/null -w '%{{http_code}}' --cacert /tmp/djangoops-web.crt -u admin:wrong {base}"
        assert lb.check_output(wrong) == "401"
        assert lb.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert /tmp/djangoops-web.crt -u {WEB_USER} {base}") == "200"
        # Plain HTTP gets Go's "client sent an HTTP request to an HTTPS server".
        assert lb.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 http://{address}:{port}/-/healthy") == "400"
    # The passwords are bcrypt hashes in the web configuration, never plain.
    web = monitor.check_output("cat /etc/prometheus/djangoops-web.yml")
    assert "$2y$10$" in web
    assert "cluster-test-monitoring-password" not in web
    assert monitor.file("/etc/prometheus/prometheus.yml").mode == 0o640


def test_the_probe_passes_through_the_load_balancer_with_a_valid_certificate():
    # One probe through each load balancer, each verifying the certificate it presents.
    probes = sorted((labels["site"], labels["host"], success) for labels, success in query('probe_success{job="djangoops_probes"}'))
    assert probes == [(APP, LB, 1.0), (APP, LB2, 1.0)]
    days = [value for _labels, value in query('(probe_ssl_earliest_cert_expiry{job="djangoops_probes"} - time()) / 86400')]
    assert len(days) == 2
    assert min(days) > 300  # the self-signed certificate's year, which the CA bundle made verifiable


def test_the_exporters_read_statistics_and_none_of_the_apps_data():
    db = on(DB)
    # PostgreSQL: the exporter's role reaches the postgres database only.
    refused = db.run(f"runuser -u prometheus -- psql -h /run/postgresql -d {APP} -tAc 'select 1'")
    assert refused.rc != 0
    assert "no pg_hba.conf entry" in refused.stderr, refused.stderr
    assert (
        db.check_output("runuser -u prometheus -- psql -h /run/postgresql -d postgres -tAc \"select pg_has_role('pg_monitor', 'member')\"")
        == "t"
    )
    # Redis: statistics and lengths, never a value.
    auth = "REDISCLI_AUTH=$(cat /etc/djangoops/redis-exporter.secret) redis-cli --no-auth-warning --user djangoops-exporter"
    assert db.check_output(f"{auth} ping") == "PONG"
    for command in ("get somekey", "keys '*'", "lrange celery 0 -1", "config set maxmemory 1"):
        assert "NOPERM" in db.run(f"{auth} {command}").stdout, command
    assert db.file("/etc/default/prometheus-redis-exporter").mode == 0o600
    assert "REDIS_PASSWORD" not in db.check_output("ps -eo args")


def test_nginx_logs_each_request_as_json_with_its_timings():
    lb = on(LB)
    lb.run_expect([0], f"curl -sk --resolve {SITE}:443:127.0.0.1 -o /dev/null https://{SITE}/")
    entry = json.loads(lb.check_output("tail -n 1 /var/log/nginx/access.log"))
    assert entry["host"] == SITE
    assert entry["status"] == 200
    assert isinstance(entry["request_time"], float)
    assert entry["upstream_addr"].endswith(":8000")
    assert float(entry["upstream_response_time"].split(",")[0]) >= 0


def test_the_apps_request_metrics_move_with_requests():
    def answered(status):
        return sum(value for _labels, value in query(f'djangoops_http_requests_total{{app="{APP}", status="{status}"}}'))

    ok, missing = answered("2xx"), answered("4xx")
    lb = on(LB)
    for path in ["/"] * 20 + ["/no-such-page/"] * 5:
        lb.run_expect([0], f"curl -sk --resolve {SITE}:443:127.0.0.1 -o /dev/null https://{SITE}{path}")
    # Both app hosts' counters, summed: the load balancer spread the requests over them.
    assert wait_for(lambda: answered("2xx") >= ok + 20 and answered("4xx") >= missing + 5, 30), (answered("2xx"), answered("4xx"))
    hosts = {labels["host"] for labels, _value in query(f'djangoops_http_requests_total{{app="{APP}"}}')}
    assert hosts == {APP1, APP2}
    [(_labels, p95)] = query(
        f'histogram_quantile(0.95, sum by (le) (rate(djangoops_http_request_duration_seconds_bucket{{app="{APP}"}}[1m])))'
    )
    assert 0 < p95 < 5


@pytest.fixture
def receiver():
    db = on(DB)
    db.run(f"rm -f {RECEIVED}")
    script = base64.b64encode(RECEIVER.encode()).decode()
    db.run_expect([0], f"echo {script} | base64 -d > /var/tmp/djangoops-receiver.py")
    db.run_expect([0], "systemd-run --unit djangoops-test-webhook --collect python3 /var/tmp/djangoops-receiver.py")
    time.sleep(1)
    yield
    db.run("systemctl stop djangoops-test-webhook")


def notifications(alertname):
    content = on(DB).run(f"cat {RECEIVED}").stdout
    return [
        (message["status"], alert)
        for message in map(json.loads, content.splitlines())
        for alert in message["alerts"]
        if alert["labels"]["alertname"] == alertname
    ]


def test_a_site_down_reaches_the_webhook_and_resolves_when_it_is_back(receiver):
    hosts = [on(APP1), on(APP2)]
    started = time.monotonic()
    for app_host in hosts:
        app_host.run_expect([0], f"systemctl stop {APP}.socket {APP}.service")
    try:
        # probe_for 10s, a 5 s scrape and evaluation, group_wait 5s: well within two minutes.
        firing = wait_for(lambda: [a for status, a in notifications("SiteDown") if status == "firing"], 120)
        assert firing, notifications("SiteDown")
        assert firing[0]["labels"]["site"] == APP
        assert firing[0]["labels"]["severity"] == "critical"
        print(f"SiteDown reached the webhook {time.monotonic() - started:.0f} s after the app stopped")
    finally:
        for app_host in hosts:
            app_host.run_expect([0], f"systemctl start {APP}.socket {APP}.service")
    resolved = wait_for(lambda: [a for status, a in notifications("SiteDown") if status == "resolved"], 120)
    assert resolved, notifications("SiteDown")


def test_a_failed_backup_raises_its_alert():
    db, app1 = on(DB), on(APP1)
    db.run_expect([0], "systemctl stop postgresql")
    try:
        assert app1.run(f"djangoops-backup backup {APP}").rc != 0
    finally:
        db.run_expect([0], "systemctl start postgresql")
        assert wait_for(lambda: db.run("pg_isready -q").rc == 0, 30)
    firing = wait_for(lambda: query(f'ALERTS{{alertname="BackupFailed", alertstate="firing", app="{APP}"}}'), 60)
    assert firing, query("djangoops_backup_success")
    assert firing[0][0]["host"] == APP1
    assert query(f'djangoops_backup_success{{app="{APP}"}}')[0][1] == 0.0


def test_a_celery_queue_s_length_shows_while_its_workers_are_stopped():
    app_hosts = [on(APP1), on(APP2)]
    text = f"queued-{int(time.time())}"
    for app_host in app_hosts:
        app_host.run_expect([0], f"systemctl stop {APP}-celery-worker.service")
    try:
        on(APP1).run_expect([0], f"/srv/{APP}/bin/manage shell -c \"from notes.tasks import add_note; add_note.delay('{text}')\"")
        waiting = wait_for(lambda: [value for _labels, value in query('redis_key_size{key="celery"}') if value >= 1], 60)
        assert waiting, query("redis_key_size")
        stopped = query(f'node_systemd_unit_state{{name="{APP}-celery-worker.service", state="active"}}')
        assert sorted((labels["host"], value) for labels, value in stopped) == [(APP1, 0.0), (APP2, 0.0)]
    finally:
        for app_host in app_hosts:
            app_host.run_expect([0], f"systemctl start {APP}-celery-worker.service")
    # The workers take the task: the queue empties (Redis drops an empty list's key).
    assert wait_for(lambda: not [value for _labels, value in query('redis_key_size{key="celery"}') if value > 0], 60)


def test_every_dashboard_panel_s_query_returns_data():
    """The Grafana dashboard the collection ships, each query against this Prometheus."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    queries = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    assert len(queries) > 15
    empty = [expr for expr in queries if not query(expr.replace("$__rate_interval", "1m"))]
    assert not empty, empty
