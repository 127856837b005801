"""Filters for the multi-host topology: the sites a load balancer serves for a pool of app hosts."""


def pool_sites(sites, hostvars, hosts, static_dir):
    """sites: one app host's djangoops_sites; hostvars and hosts: the app hosts' variables and
    names; static_dir: where the load balancer keeps each app's static files."""
    result = []
    for site in sites:
        name = site["name"]
        pool, websocket_pool = [], []
        for host in hosts:
            members = hostvars[host].get("djangoops_pool_members") or {}
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
    """The TCP ports a host's app servers listen on, from its djangoops_apps or its own variables."""
    apps = variables.get("djangoops_apps") or [{}]
    binds = []
    for app in apps:
        binds.append(app.get("bind", variables.get("app_server_bind", "")))
        if app.get("websocket_server", variables.get("djangoops_websocket_server", "")):
            binds.append(app.get("websocket_bind", variables.get("djangoops_websocket_bind", "")))
    ports = []
    for bind in binds:
        bind = str(bind or "")
        port = bind.rsplit(":", 1)[-1] if ":" in bind else ""
        if port.isdigit() and int(port) not in ports:
            ports.append(int(port))
    return ports


def firewall_rules(hostvars, groups, host):
    """The incoming TCP a host of the topology admits (the firewall role's firewall_rules): HTTP
    and HTTPS on load balancers; the app servers' ports from the load balancers on other hosts;
    PostgreSQL and Redis from the app and worker hosts, where they serve something."""
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
    return rules


LOCAL_DATABASE_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def _database(variables, app, host):
    """Where host's app keeps its data: (engine, server, port, name) of a PostgreSQL database on
    another host, or the host itself for SQLite or a database on the host (a socket, localhost)."""
    entries = variables.get("djangoops_apps") or [{"name": variables.get("django_app_name")}]
    entry = next((item for item in entries if item.get("name") == app), None)
    if entry is None:
        return None  # the host does not run this app
    database = entry.get("database", variables.get("django_app_database")) or {}
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


class FilterModule:
    def filters(self):
        return {
            "pool_sites": pool_sites,
            "host_address": host_address,
            "host_addresses": host_addresses,
            "firewall_rules": firewall_rules,
            "migrating_host": migrating_host,
        }
