"""Filters for the topology: each app of a host resolved from its djangoops_apps entry, the sites a
load balancer serves for a pool of app hosts, the firewall's rules, the host that migrates."""

import copy
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from ansible.errors import AnsibleFilterError
from jinja2 import Undefined

# A djangoops_apps entry's keys and the variables they stand for. A key left out of an entry
# falls back on the host's variable, then on the default: the owning role's argument spec
# (roles/<role>/meta/argument_specs.yml, entry point main), or the playbooks' own below.
APP_KEYS = {
    **{
        key: ("django_app_" + key, "django_app")
        for key in (
            "name",
            "project_module",
            "server_names",
            "source",
            "source_path",
            "git_repo",
            "git_version",
            "git_key",
            "git_host_keys",
            "wheel_path",
            "requirements_file",
            "project_dir",
            "release_files",
            "shared_paths",
            "frontend",
            "health_path",
            "health_check",
            "settings_mode",
            "base_settings",
            "check_ignore",
            "csp",
            "csp_report_only",
            "secret_key",
            "secret_key_fallbacks",
            "environment",
            "database",
            "cache",
            "cached_sessions",
            "email",
            "admins",
            "sentry_dsn",
            "pre_release_commands",
            "post_release_commands",
            "asgi_middleware",
            "superuser",
            "daphne_runserver",
            "extra_packages",
            "metrics_port",
        )
    },
    "server": ("app_server_type", "app_server"),
    "workers": ("app_server_workers", "app_server"),
    "bind": ("app_server_bind", "app_server"),
    "timers": ("app_timers_commands", "app_timers"),
    "clearsessions": ("app_timers_clearsessions", "app_timers"),
    "processes": ("app_processes_list", "app_processes"),
    "websocket_server": ("djangoops_websocket_server", None),
    "websocket_paths": ("djangoops_websocket_paths", None),
    "websocket_bind": ("djangoops_websocket_bind", None),
    "celery": ("djangoops_celery", None),
    "backup": ("djangoops_backup", None),
    "site": ("djangoops_site_options", None),
}
# The playbooks' own per-app variables: split mode off, no Celery, nightly backups, no site options.
PLAYBOOK_DEFAULTS = {
    "djangoops_websocket_server": "",
    "djangoops_websocket_paths": [],
    "djangoops_websocket_bind": "",
    "djangoops_celery": False,
    "djangoops_backup": True,
    "djangoops_site_options": {},
}
# The playbooks' own per-app variables' types, as an argument spec would give them.
PLAYBOOK_OPTIONS = {
    "djangoops_websocket_server": {"type": "str"},
    "djangoops_websocket_paths": {"type": "list", "elements": "str"},
    "djangoops_websocket_bind": {"type": "str"},
    "djangoops_celery": {"type": ("bool", "dict")},
    "djangoops_backup": {"type": ("bool", "dict")},
    "djangoops_site_options": {"type": "dict"},
}
# Defaults that the argument specs give as templates of another per-app setting, or that the
# host's web server decides: Apache (djangoops_web_server) runs its apps with mod_wsgi.
DERIVED_DEFAULTS = {
    "base_settings": lambda settings, _host_vars: f"{settings['django_app_project_module']}.settings",
    "server": lambda settings, host_vars: "mod_wsgi" if host_vars.get("djangoops_web_server") == "apache" else settings["app_server_type"],
}
BOOLEAN_STRINGS = {"yes", "no", "true", "false", "on", "off", "1", "0", "y", "n"}
# Beside this file: plugins/filter/ in the collection, whose roles/ is two folders up.
COLLECTION = Path(__file__).resolve().parents[2]


# libyaml's loader where PyYAML has it: Ansible runs each task in a new worker process, so the
# cache below starts empty in every task that uses these filters, and the pure-Python loader
# took about 0.1 s to read the four argument specs each time.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def role_options(role):
    """The options a role's main entry point declares, from its argument spec."""
    with open(COLLECTION / "roles" / role / "meta" / "argument_specs.yml", encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_LOADER)["argument_specs"]["main"]["options"]  # noqa: S506 - a safe loader


def role_defaults(role):
    """The defaults a role's main entry point declares."""
    return {name: option["default"] for name, option in role_options(role).items() if "default" in option}


def _is(value, kind):
    """Whether value is of the argument spec type kind, as given (no conversion a role would not see)."""
    if kind == "list":
        return isinstance(value, (list, tuple))
    if kind == "dict":
        return isinstance(value, dict)
    if kind == "bool":
        return isinstance(value, bool) or (isinstance(value, str) and value.lower() in BOOLEAN_STRINGS)
    if kind == "int":
        return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.lstrip("-").isdigit())
    if kind in ("str", "path", "raw"):
        return kind == "raw" or (isinstance(value, (str, int, float)) and not isinstance(value, bool))
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _kind(value):
    """The YAML type of value, by the name an argument spec gives it."""
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("str", str), ("list", (list, tuple)), ("dict", dict)):
        if isinstance(value, types):
            return kind
    return "null" if value is None else type(value).__name__


def type_problem(variable, value, option):
    """What is wrong with value's type for an option of an argument spec, or None."""
    if isinstance(value, Undefined):
        try:
            str(value)
        except Exception as error:  # noqa: BLE001 - Jinja's reason the value is undefined, whatever its class
            return f"{variable} has no value: {error}"
        return f"{variable} has no value"
    kinds = option.get("type", "raw")
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    shown = "(hidden)" if option.get("no_log") else repr(value)
    accepted = " or ".join(
        f"a {kind}" + (f" of {option['elements']}" if kind == "list" and option.get("elements") else "") for kind in kinds
    )
    if not any(_is(value, kind) for kind in kinds):
        return f"{variable} must be {accepted}; got a {_kind(value)}: {shown}"
    if isinstance(value, (list, tuple)) and option.get("elements"):
        wrong = [item for item in value if not _is(item, option["elements"])]
        if wrong:
            return f"{variable} must be {accepted}; {shown} holds {wrong!r}"
    return None


def _setting(entry, host_vars, key):
    """One per-app key of entry: the entry's, else the host's variable, else the default."""
    variable, role = APP_KEYS[key]
    if key in entry and key != "site":
        return entry[key]
    if variable in host_vars:
        value = host_vars[variable]
    else:
        defaults = role_defaults(role) if role else PLAYBOOK_DEFAULTS
        if variable not in defaults:
            raise AnsibleFilterError(
                f"djangoops_apps entry {entry.get('name', '?')!r}: {key} is not set (the entry's {key!r}, or the host's {variable})"
            )
        value = copy.deepcopy(defaults[variable])
    if key == "site":
        value = {**(value or {}), **(entry.get("site") or {})}
    return value


def _entries(variables):
    """A host's djangoops_apps, or one entry standing for its own variables."""
    entries = variables.get("djangoops_apps") or [{}]
    for entry in entries:
        if not isinstance(entry, dict):
            raise AnsibleFilterError(f"an entry of djangoops_apps must be a mapping, not {entry!r}")
        unknown = sorted(set(entry) - set(APP_KEYS))
        if unknown:
            raise AnsibleFilterError(
                f"djangoops_apps entry {entry.get('name', '?')!r} has unknown keys {unknown}; an entry's keys are {sorted(APP_KEYS)}"
            )
    return entries


def app_settings(entry, host_vars):
    """entry: one item of a host's djangoops_apps (or an empty mapping, for a host described by its
    own variables); host_vars: that host's variables. Every per-app variable's value, keyed by the
    variable's name; the entry's site options are merged over the host's. Each value's type is
    checked against the owning role's argument spec as given, before a role sees it (a string
    where a list belongs would otherwise be taken a character at a time); every problem is named,
    one per line."""
    entry = entry or {}
    _entries({"djangoops_apps": [entry]})
    settings = {APP_KEYS[key][0]: _setting(entry, host_vars, key) for key in APP_KEYS}
    for key, derive in DERIVED_DEFAULTS.items():
        if key not in entry and APP_KEYS[key][0] not in host_vars and isinstance(settings["django_app_project_module"], str):
            settings[APP_KEYS[key][0]] = derive(settings, host_vars)
    problems = []
    for key, (variable, role) in APP_KEYS.items():
        option = role_options(role).get(variable, {}) if role else PLAYBOOK_OPTIONS[variable]
        problem = type_problem(variable, settings[variable], option)
        if problem:
            problems.append(f"- {problem}" + (f" (the entry's {key!r})" if key in entry else ""))
    if problems:
        name = settings["django_app_name"] if isinstance(settings["django_app_name"], str) else "?"
        raise AnsibleFilterError(f"app {name!r}: " + "\n".join(["values missing or of the wrong type:", *problems]))
    return settings


def _members(host_vars):
    """Where load balancers reach a host's apps: this run's, over those its last deploy kept."""
    kept = (host_vars.get("ansible_local") or {}).get("djangoops") or {}
    return {**(kept.get("pool_members") or {}), **(host_vars.get("djangoops_pool_members") or {})}


def exports(host_vars, stored=False):
    """What an app host exports for the load balancers: its sites (djangoops_sites, one per app) and
    where they reach each app (djangoops_pool_members). This run's values go over those its last
    deploy kept in its local facts (/etc/ansible/facts.d/djangoops.fact), so that a run limited to
    some apps, or to the load balancers, still sees every app; an app taken out of the host's
    djangoops_apps drops out. Sites come in the order of the host's apps.

    The site options (djangoops_site_options and an entry's site, which may hold a provided TLS
    key) always come from the inventory: stored=True leaves them out of what the host keeps, and
    a kept site gets the inventory's current ones."""
    entries = _entries(host_vars)
    names = [entry.get("name", host_vars.get("django_app_name")) for entry in entries]
    options = {name: _setting(entry, host_vars, "site") for name, entry in zip(names, entries, strict=True)}
    kept = (host_vars.get("ansible_local") or {}).get("djangoops") or {}
    sites = {site["name"]: {**site, **options.get(site["name"], {})} for site in kept.get("sites") or []}
    sites.update({site["name"]: site for site in host_vars.get("djangoops_sites") or []})
    members = _members(host_vars)
    result = {
        "sites": [sites[name] for name in names if name in sites],
        "pool_members": {name: members[name] for name in names if name in members},
    }
    if stored:
        result["sites"] = [{key: value for key, value in site.items() if key not in options[site["name"]]} for site in result["sites"]]
    return result


def pool_sites(sites, hostvars, hosts, static_dir):
    """sites: one app host's djangoops_sites; hostvars and hosts: the app hosts' variables and
    names; static_dir: where the load balancer keeps each app's static files."""
    result = []
    for site in sites:
        name = site["name"]
        pool, websocket_pool = [], []
        for host in hosts:
            members = _members(hostvars[host])
            member = members.get(name)
            if not member:
                continue
            pool.append({"host": host, "address": member["app"]})
            if member.get("ws"):
                websocket_pool.append({"host": host, "address": member["ws"]})
        if not pool:
            raise ValueError(f"no app host exported a pool member for site {name!r}")
        result.append(
            {
                **site,
                "pool": pool,
                "websocket_pool": websocket_pool,
                "static_root": f"{static_dir.rstrip('/')}/{name}/static",
            }
        )
    return result


def host_address(hostvars, host):
    """The address other hosts reach host at: djangoops_private_address, else its default IPv4."""
    variables = hostvars[host]
    address = variables.get("djangoops_private_address")
    if not address:
        facts = variables.get("ansible_facts") or {}
        address = (facts.get("default_ipv4") or {}).get("address")
    if not address:
        raise ValueError(f"no address for {host}: gather its facts, or set djangoops_private_address")
    return address


def host_addresses(hostvars, hosts):
    """host_address of each of hosts, in order (pg_hba clients, Redis binds, firewall sources)."""
    return [host_address(hostvars, host) for host in hosts]


def _app_ports(variables):
    """The TCP ports a host's app servers listen on."""
    binds = []
    for entry in _entries(variables):
        binds.append(_setting(entry, variables, "bind"))
        if _setting(entry, variables, "websocket_server"):
            binds.append(_setting(entry, variables, "websocket_bind"))
    ports = []
    for bind in binds:
        bind = str(bind or "")
        port = bind.rsplit(":", 1)[-1] if ":" in bind else ""
        if port.isdigit() and int(port) not in ports:
            ports.append(int(port))
    return ports


def firewall_rules(hostvars, groups, host):
    """The incoming traffic a host of the topology admits (the firewall role's firewall_rules): HTTP
    and HTTPS on load balancers, and VRRP between them where an address floats over them
    (keepalived_virtual_address); the app servers' ports from the load balancers on other hosts;
    PostgreSQL, Redis and RabbitMQ from the app and worker hosts, where they serve something."""
    variables = hostvars[host]
    balancers = [h for h in groups.get("loadbalancers", []) if h != host]
    clients = []
    for other in groups.get("appservers", []) + groups.get("workers", []):
        if other != host and other not in clients:
            clients.append(other)
    rules = []
    if host in groups.get("loadbalancers", []):
        rules.append({"port": 80, "sources": [], "comment": "HTTP (redirects, ACME challenges)"})
        rules.append({"port": 443, "sources": [], "comment": "HTTPS"})
        if variables.get("keepalived_virtual_address") and balancers:
            rules.append(
                {
                    "protocol": "vrrp",
                    "sources": [host_address(hostvars, h) for h in balancers],
                    "comment": "VRRP (the floating address), from the other load balancers",
                }
            )
    if host in groups.get("appservers", []) and balancers:
        sources = [host_address(hostvars, h) for h in balancers]
        for port in _app_ports(variables):
            rules.append({"port": port, "sources": sources, "comment": "app server, from the load balancers"})
    client_sources = sorted({host_address(hostvars, h) for h in clients})
    if host in groups.get("databases", []) and variables.get("postgresql_databases") and client_sources:
        rules.append(
            {
                "port": int(variables.get("postgresql_port", 5432)),
                "sources": client_sources,
                "comment": "PostgreSQL, from the app and worker hosts",
            }
        )
    if host in groups.get("redis", []) and variables.get("redis_users") and client_sources:
        rules.append(
            {
                "port": int(variables.get("redis_port", 6379)),
                "sources": client_sources,
                "comment": "Redis, from the app and worker hosts",
            }
        )
    if host in groups.get("rabbitmq", []) and variables.get("rabbitmq_apps") and client_sources:
        rules.append(
            {
                "port": int(variables.get("rabbitmq_port", 5672)),
                "sources": client_sources,
                "comment": "RabbitMQ (AMQP), from the app and worker hosts",
            }
        )
    return rules + _exporter_rules(hostvars, groups, host)


# The exporters a monitored host runs, by what it serves, and their ports (exporters_ports).
EXPORTER_PORTS = {"node": 9100, "nginx": 9113, "postgresql": 9187, "redis": 9121}
SITE_GROUPS = ("loadbalancers", "appservers", "databases", "redis", "rabbitmq", "workers", "monitoring")


def _site_hosts(groups):
    hosts = []
    for group in SITE_GROUPS:
        hosts.extend(h for h in groups.get(group, []) if h not in hosts)
    return hosts


def exporters(hostvars, groups, host):
    """The exporters host runs when the site has a monitoring group: {name: port}. Every host runs
    the node exporter; nginx's, PostgreSQL's and Redis's run where that server serves the site."""
    if not groups.get("monitoring"):
        return {}
    variables = hostvars[host]
    ports = {**EXPORTER_PORTS, **(variables.get("exporters_ports") or {})}
    names = ["node"]
    if host in groups.get("loadbalancers", []) and variables.get("djangoops_web_server", "nginx") == "nginx":
        names.append("nginx")
    if host in groups.get("databases", []) and variables.get("postgresql_databases"):
        names.append("postgresql")
    if host in groups.get("redis", []) and variables.get("redis_users"):
        names.append("redis")
    return {name: int(ports[name]) for name in names}


def celery_queues(hostvars, groups, host):
    """The Celery queues in host's Redis, as the Redis exporter's --check-single-keys takes them
    (db<N>=celery): Celery's default queue in the database of each broker URL
    (CELERY_BROKER_URL in an app's environment) that names host, its address, or loopback on
    host itself."""
    names = {host, str(hostvars[host].get("djangoops_private_address") or ""), _default_address(hostvars[host])}
    keys = []
    for other in dict.fromkeys(groups.get("appservers", []) + groups.get("workers", [])):
        variables = hostvars.get(other) or {}
        for entry in _entries(variables):
            if not _setting(entry, variables, "celery"):
                continue
            url = urlsplit(str((_setting(entry, variables, "environment") or {}).get("CELERY_BROKER_URL") or ""))
            if url.scheme not in ("redis", "rediss"):
                continue
            here = url.hostname in names or (other == host and url.hostname in LOCAL_DATABASE_HOSTS)
            key = f"db{(url.path or '/0').strip('/') or '0'}=celery"
            if here and key not in keys:
                keys.append(key)
    return keys


def _default_address(variables):
    return str(((variables.get("ansible_facts") or {}).get("default_ipv4") or {}).get("address") or "")


DEFAULT_METRICS_PORT = 9808


def app_metrics_ports(hostvars, groups, host):
    """The ports an app host serves its apps' request metrics on, when the site is monitored:
    {app: port}, each app's metrics_port (9808 where none is set)."""
    if not groups.get("monitoring") or host not in groups.get("appservers", []):
        return {}
    variables = hostvars[host]
    ports = {}
    for entry in _entries(variables):
        name = _setting(entry, variables, "name")
        ports[name] = int(_setting(entry, variables, "metrics_port") or DEFAULT_METRICS_PORT)
    return ports


def scrape_jobs(hostvars, groups):
    """Prometheus' scrape jobs for the site: one per exporter, each listing the hosts that run it
    as {address: port, host: inventory name}."""
    jobs = {}
    for host in _site_hosts(groups):
        for name, port in exporters(hostvars, groups, host).items():
            target = f"{host_address(hostvars, host)}:{port}"
            jobs.setdefault(name, []).append({"target": target, "host": host})
        for app, port in app_metrics_ports(hostvars, groups, host).items():
            jobs.setdefault("django", []).append({"target": f"{host_address(hostvars, host)}:{port}", "host": host, "app": app})
    return [{"name": name, "targets": targets} for name, targets in jobs.items()]


def probes(sites, hostvars, balancers, path="/healthz"):
    """The HTTPS probes of sites (as the app hosts exported them) from the monitoring hosts: one
    per site and load balancer, at the balancer's address, with the site's first name for SNI
    and Host."""
    return [
        {
            "site": site["name"],
            "host": host,
            "url": f"https://{host_address(hostvars, host)}{path}",
            "server_name": site["server_names"][0],
        }
        for host in balancers
        for site in sites
    ]


LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _exporter_rules(hostvars, groups, host):
    rules = []
    variables = hostvars[host]
    if host in groups.get("monitoring", []) and str(variables.get("monitoring_listen_address", "127.0.0.1")) not in LOOPBACK:
        # Inventory names stand for their hosts' addresses.
        web_sources = [host_address(hostvars, s) if s in hostvars else s for s in variables.get("monitoring_web_sources") or []]
        rules += [
            {"port": 9090, "sources": web_sources, "comment": "Prometheus's web pages (HTTPS, basic auth)"},
            {"port": 9093, "sources": web_sources, "comment": "Alertmanager's web pages (HTTPS, basic auth)"},
        ]
    sources = sorted({host_address(hostvars, h) for h in groups.get("monitoring", []) if h != host})
    if not sources:
        return rules  # Prometheus on the host itself scrapes through loopback
    return (
        rules
        + [
            {"port": port, "sources": sources, "comment": f"{name} exporter, from the monitoring hosts"}
            for name, port in exporters(hostvars, groups, host).items()
        ]
        + [
            {"port": port, "sources": sources, "comment": f"{app}'s request metrics, from the monitoring hosts"}
            for app, port in app_metrics_ports(hostvars, groups, host).items()
        ]
    )


LOCAL_DATABASE_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def _database(variables, app, host):
    """Where host's app keeps its data: (engine, server, port, name) of a PostgreSQL database on
    another host, or the host itself for SQLite or a database on the host (a socket, localhost)."""
    entries = variables.get("djangoops_apps") or [{}]
    entry = next((item for item in entries if item.get("name", variables.get("django_app_name")) == app), None)
    if entry is None:
        return None  # the host does not run this app
    database = _setting(entry, variables, "database") or {}
    server = str(database.get("host") or "")
    if database.get("engine", "sqlite") != "postgresql" or server in LOCAL_DATABASE_HOSTS or server.startswith("/"):
        return ("local", host)
    return ("postgresql", server, str(database.get("port") or 5432), database.get("name") or app)


def migrating_host(hostvars, hosts, app, host):
    """The host that runs app's migrations in this run, for host: the first of hosts (the run's
    hosts, in the order they deploy) whose app uses the same database. App hosts that share a
    PostgreSQL database migrate it once, on the first of them, before any of them switches; a
    host with its own database (SQLite, or PostgreSQL on the host) migrates it itself."""
    mine = _database(hostvars[host], app, host)
    for candidate in hosts:
        if _database(hostvars[candidate], app, candidate) == mine:
            return candidate
    return host


def backup_host(hostvars, groups, app, host):
    """The host that backs app up for host's data: a host with data of its own (SQLite, or
    PostgreSQL on the host) backs it up itself; app hosts that share a PostgreSQL database (and
    the media beside it) leave it to one of them, djangoops_backup_host where the inventory names
    one, else the first app host of the inventory that uses the same database."""
    mine = _database(hostvars[host], app, host)
    if mine is None or mine[0] == "local":
        return host
    sharing = [name for name in groups.get("appservers", []) if _database(hostvars[name], app, name) == mine]
    chosen = hostvars[host].get("djangoops_backup_host")
    if chosen:
        if chosen not in sharing:
            raise ValueError(
                f"djangoops_backup_host is {chosen}, which does not run {app} on the same database: choose one of {', '.join(sharing)}"
            )
        return chosen
    return sharing[0] if sharing else host


class FilterModule:
    def filters(self):
        return {
            "app_settings": app_settings,
            "exports": exports,
            "pool_sites": pool_sites,
            "host_address": host_address,
            "host_addresses": host_addresses,
            "firewall_rules": firewall_rules,
            "migrating_host": migrating_host,
            "backup_host": backup_host,
            "exporters": exporters,
            "app_metrics_ports": app_metrics_ports,
            "celery_queues": celery_queues,
            "scrape_jobs": scrape_jobs,
            "probes": probes,
        }
