"""The multi-host topology: pools of app hosts, the firewall's rules, the worked inventories."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, render, role_vars

sys.path.insert(0, str(ROOT / "plugins" / "filter"))

from topology import backup_host, firewall_rules, host_address, host_addresses, pool_sites

VAULT_PASSWORD = ROOT / "inventories" / "vault-password.example"


def facts(address):
    return {"ansible_facts": {"default_ipv4": {"address": address}}}


HOSTVARS = {
    "lb1": facts("10.0.0.10"),
    "app1": {**facts("10.0.0.11"), "djangoops_pool_members": {"shop": {"app": "10.0.0.11:8000", "ws": ""}}},
    "app2": {
        **facts("10.0.0.12"),
        "djangoops_private_address": "10.1.0.12",
        "djangoops_pool_members": {"shop": {"app": "10.1.0.12:8000", "ws": ""}},
        "app_server_bind": "10.1.0.12:8000",
    },
    "db1": {**facts("10.0.0.13"), "postgresql_databases": [{"name": "shop"}], "redis_users": [{"name": "shop"}]},
    "worker1": facts("10.0.0.14"),
}
GROUPS = {
    "loadbalancers": ["lb1"],
    "appservers": ["app1", "app2"],
    "databases": ["db1"],
    "redis": ["db1"],
    "workers": ["worker1"],
}
SITE = {"name": "shop", "server_names": ["shop.test"], "upstream": "10.0.0.11:8000", "static_root": "/srv/shop/current/static"}


def test_addresses_prefer_the_private_address_over_the_facts():
    assert host_address(HOSTVARS, "app1") == "10.0.0.11"
    assert host_addresses(HOSTVARS, ["app2", "db1"]) == ["10.1.0.12", "10.0.0.13"]
    with pytest.raises(ValueError, match="djangoops_private_address"):
        host_address({"x": {}}, "x")


def test_a_pool_site_lists_every_app_host_and_serves_the_static_copy():
    (site,) = pool_sites([SITE], HOSTVARS, ["app1", "app2"], "/var/www/djangoops/")
    assert site["pool"] == [{"host": "app1", "address": "10.0.0.11:8000"}, {"host": "app2", "address": "10.1.0.12:8000"}]
    assert site["websocket_pool"] == []
    assert site["static_root"] == "/var/www/djangoops/shop/static"
    with pytest.raises(ValueError, match="shop"):
        pool_sites([SITE], {"app1": {}}, ["app1"], "/var/www/djangoops")


def test_the_firewall_opens_each_port_to_the_hosts_that_need_it_only():
    def rules(host):
        return {rule["port"]: rule["sources"] for rule in firewall_rules(HOSTVARS, GROUPS, host)}

    assert rules("lb1") == {80: [], 443: []}
    assert rules("app1") == {}  # no bind of its own: nothing to open (app_server_bind unset)
    assert rules("app2") == {8000: ["10.0.0.10"]}
    assert rules("db1") == {5432: ["10.0.0.11", "10.0.0.14", "10.1.0.12"], 6379: ["10.0.0.11", "10.0.0.14", "10.1.0.12"]}
    assert rules("worker1") == {}
    # A RabbitMQ broker admits AMQP from the app and worker hosts alone.
    broker = {**HOSTVARS, "mq1": {**facts("10.0.0.15"), "rabbitmq_apps": [{"name": "shop"}]}}
    amqp = {rule["port"]: rule["sources"] for rule in firewall_rules(broker, {**GROUPS, "rabbitmq": ["mq1"]}, "mq1")}
    assert amqp == {5672: ["10.0.0.11", "10.0.0.14", "10.1.0.12"]}


def test_the_firewall_opens_split_mode_ports_and_none_on_a_single_host():
    hostvars = {
        "one": {
            **facts("10.0.0.5"),
            "djangoops_apps": [
                {"name": "a", "bind": "0.0.0.0:8000", "websocket_server": "uvicorn", "websocket_bind": "0.0.0.0:8001"},
                {"name": "b"},
            ],
        },
        "lb": facts("10.0.0.4"),
    }
    groups = {"loadbalancers": ["lb"], "appservers": ["one"]}
    assert [rule["port"] for rule in firewall_rules(hostvars, groups, "one")] == [8000, 8001]
    single = {"loadbalancers": ["one"], "appservers": ["one"], "databases": ["one"]}
    assert [rule["port"] for rule in firewall_rules(hostvars, single, "one")] == [80, 443]


def test_load_balancers_with_a_floating_address_admit_vrrp_from_each_other_only():
    hostvars = {**HOSTVARS, "lb2": facts("10.0.0.20")}
    groups = {**GROUPS, "loadbalancers": ["lb1", "lb2"]}
    for host in ("lb1", "lb2"):
        hostvars[host] = {**hostvars[host], "keepalived_virtual_address": "10.0.0.100/24"}
    vrrp = [rule for rule in firewall_rules(hostvars, groups, "lb1") if rule.get("protocol") == "vrrp"]
    assert [rule["sources"] for rule in vrrp] == [["10.0.0.20"]]
    # Without a floating address, or with one load balancer, there is no VRRP to admit.
    assert all("protocol" not in rule for rule in firewall_rules(HOSTVARS, GROUPS, "lb1"))
    alone = {**HOSTVARS, "lb1": {**HOSTVARS["lb1"], "keepalived_virtual_address": "10.0.0.100/24"}}
    assert all("protocol" not in rule for rule in firewall_rules(alone, GROUPS, "lb1"))


def test_the_keepalived_configuration_floats_the_address_on_a_healthy_web_server():
    variables = role_vars("keepalived")
    variables.update(
        keepalived_virtual_address="10.0.0.100/24",
        keepalived_password="s3cret!",  # noqa: S106  a test value
        keepalived_interface="eth0",
        keepalived_source_address="10.0.0.10",
        keepalived_peers=["10.0.0.20"],
        keepalived_priority=150,
    )
    config = render("keepalived", "etc/keepalived/keepalived.conf.j2", variables)
    expected = (
        "state BACKUP",
        "nopreempt",
        "unicast_src_ip 10.0.0.10",
        "        10.0.0.20\n",
        "auth_pass s3cret!",
        "10.0.0.100/24 dev eth0",
        'script "/usr/local/sbin/djangoops-vrrp-check nginx.service 443"',
    )
    assert [line for line in expected if line not in config] == [], config
    variables.update(keepalived_preempt=True, keepalived_peers=[], keepalived_address_interface="eth0")
    config = render("keepalived", "etc/keepalived/keepalived.conf.j2", variables)
    assert "nopreempt" not in config
    assert "unicast" not in config


def test_the_pool_file_marks_only_the_named_hosts_down():
    variables = role_vars("nginx")
    members = [{"host": "app1", "address": "10.0.0.11:8000"}, {"host": "app2", "address": "10.0.0.12:8000"}]
    variables.update(pool_name="shop_app", pool_members=members, nginx_pool_down=["app2"])
    config = render("nginx", "etc/nginx/djangoops-pools/pool.conf.j2", variables)
    assert "    server 10.0.0.11:8000 max_fails=1 fail_timeout=10s; # app1" in config
    assert "    server 10.0.0.12:8000 max_fails=1 fail_timeout=10s down; # app2" in config
    # The pool entry point's own pattern (roles/nginx/tasks/pool.yml), for app2, finds its line.
    task = next(task for task in yaml.safe_load((ROOT / "roles/nginx/tasks/pool.yml").read_text()) if "ansible.builtin.replace" in task)
    regexp = task["ansible.builtin.replace"]["regexp"].replace("{{ item.1 | regex_escape }}", "app2")
    pattern = re.compile(regexp, re.MULTILINE)
    assert len(pattern.findall(config)) == 1
    assert pattern.sub(r"\1;\2", config).count(" down") == 0


def test_the_firewall_ruleset_is_one_table_and_checks_with_nft(tmp_path):
    variables = role_vars("firewall")
    variables.update(
        firewall_rules=[
            {"port": 8000, "sources": ["10.0.0.10", "fd00::10"], "comment": "app"},
            {"port": 443, "sources": []},
            {"protocol": "vrrp", "sources": ["10.0.0.20"]},
        ],
        firewall_ssh_sources=["10.0.0.0/24"],
    )
    ruleset = render("firewall", "etc/djangoops/firewall.nft.j2", variables)
    assert "flush ruleset" not in ruleset
    assert "policy drop;" in ruleset
    assert "ip saddr { 10.0.0.10 } tcp dport 8000 accept" in ruleset
    assert "ip6 saddr { fd00::10 } tcp dport 8000 accept" in ruleset
    assert "        tcp dport 443 accept" in ruleset
    assert "ip saddr { 10.0.0.0/24 } tcp dport 22 accept" in ruleset
    assert "ip saddr { 10.0.0.20 } meta l4proto 112 accept" in ruleset
    nft = shutil.which("nft") or "/usr/sbin/nft"
    if not Path(nft).exists():
        pytest.skip("nft is not installed on this machine")
    path = tmp_path / "firewall.nft"
    path.write_text(ruleset)
    result = subprocess.run([nft, "-c", "-f", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("environment", ["development", "staging", "production"])
def test_each_inventory_parses_and_decrypts_its_vault(environment):
    inventory = ROOT / "inventories" / environment
    result = subprocess.run(
        [shutil.which("ansible-inventory") or "ansible-inventory", "-i", str(inventory),
         "--vault-password-file", str(VAULT_PASSWORD), "--list", "--export"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "$ANSIBLE_VAULT" not in result.stdout
    for group in ("loadbalancers", "appservers", "databases", "redis", "workers"):
        assert f'"{group}"' in result.stdout
    vault = subprocess.run(
        [shutil.which("ansible-vault") or "ansible-vault", "view", "--vault-password-file", str(VAULT_PASSWORD),
         str(inventory / "group_vars" / "all" / "vault.yml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert vault.returncode == 0, vault.stderr
    assert re.search(r"^vault_shop_secret_key: \S{50,}$", vault.stdout, re.MULTILINE)


@pytest.mark.parametrize("environment", ["development", "staging", "production"])
def test_each_inventory_passes_the_playbooks_syntax_check(environment):
    result = subprocess.run(
        [shutil.which("ansible-playbook") or "ansible-playbook", "-i", str(ROOT / "inventories" / environment),
         "--vault-password-file", str(VAULT_PASSWORD), "--syntax-check", str(ROOT / "site.yml")],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_exports_keep_every_app_of_the_host_across_limited_runs():
    from topology import exports

    apps = [{"name": name, "project_module": name, "server_names": [f"{name}.test"]} for name in ("shop", "chat", "blog")]
    kept = {
        "sites": [{"name": "chat", "upstream": "old"}, {"name": "gone", "upstream": "x"}, {"name": "shop", "upstream": "old"}],
        "pool_members": {"chat": {"app": "10.0.0.1:8001", "ws": ""}, "gone": {"app": "10.0.0.1:8009", "ws": ""}},
    }
    host = {
        "djangoops_apps": [{**apps[0], "site": {"tls_certificate_key": "KEY"}}, apps[1], apps[2]],
        "djangoops_site_options": {"client_max_body_size": "20m"},
        "ansible_local": {"djangoops": kept},
        # This run deployed shop only (djangoops_only_apps=shop).
        "djangoops_sites": [{"name": "shop", "upstream": "new", "client_max_body_size": "20m", "tls_certificate_key": "KEY"}],
        "djangoops_pool_members": {"shop": {"app": "10.0.0.1:8000", "ws": ""}},
    }
    result = exports(host)
    # In the order of the host's apps; the app taken out of djangoops_apps is gone; blog never deployed.
    assert [site["name"] for site in result["sites"]] == ["shop", "chat"]
    assert result["sites"][0]["upstream"] == "new"
    # A kept site gets the inventory's site options of now.
    assert result["sites"][1] == {"name": "chat", "upstream": "old", "client_max_body_size": "20m"}
    assert set(result["pool_members"]) == {"shop", "chat"}
    # What the host keeps has no site options: the TLS key stays in the inventory.
    stored = exports(host, stored=True)
    assert all("tls_certificate_key" not in site and "client_max_body_size" not in site for site in stored["sites"])
    # A run that deploys nothing here (site.yml --limit loadbalancers) sees what the host kept.
    alone = exports(
        {key: value for key, value in host.items() if not key.startswith("djangoops_sites") and key != "djangoops_pool_members"}
    )
    assert [site["upstream"] for site in alone["sites"]] == ["old", "old"]
    assert alone["sites"][0]["tls_certificate_key"] == "KEY"


def test_one_host_backs_up_a_shared_database_and_each_host_its_own():
    shared = {"engine": "postgresql", "name": "shop", "host": "db1"}
    hostvars = {
        "app1": {"django_app_name": "shop", "django_app_database": shared},
        "app2": {"django_app_name": "shop", "django_app_database": shared},
        "worker1": {"django_app_name": "shop", "django_app_database": shared},
        "solo": {"django_app_name": "shop"},  # SQLite: its own data
    }
    groups = {"appservers": ["app1", "app2", "solo"], "workers": ["worker1"]}
    assert [backup_host(hostvars, groups, "shop", host) for host in ("app1", "app2", "worker1", "solo")] == ["app1", "app1", "app1", "solo"]
    for host in ("app1", "app2", "worker1"):
        hostvars[host]["djangoops_backup_host"] = "app2"
    assert [backup_host(hostvars, groups, "shop", host) for host in ("app1", "app2", "worker1")] == ["app2"] * 3
    hostvars["app1"]["djangoops_backup_host"] = "solo"
    with pytest.raises(
        ValueError, match="djangoops_backup_host is solo, which does not run shop on the same database: choose one of app1, app2"
    ):
        backup_host(hostvars, groups, "shop", "app1")
