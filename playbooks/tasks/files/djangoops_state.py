"""djangoops.stack: the state of each app's host configuration, one digest per app, printed as
JSON for Ansible's local facts (ansible_local.djangoops_state).

site.yml keeps the digest each app's configuration was left in by a run that applied or checked
it (djangoops_config.fact), and applies it again only where the digest now differs or what the
configuration is made from changed (playbooks/tasks/app_deploy.yml). So the digest covers
everything of an app that its roles make outside the release:
- its user and group as the user database holds them (uid, gid, home, shell, members);
- its folders (type, owner, group, mode);
- every file and link in its configuration folder, its bin folder, its systemd units and their
  drop-ins, and its cron, logrotate and tmpfiles.d entries, with their change time (ctime), which
  every write, chmod, chown or rename moves and no tool sets back;
- whether its units are enabled, and running (the services that timers start only enabled);
- the installed Debian packages and their versions.
Anything the app writes while it runs (its releases, media, database, logs) is left out.

Each app's entry in djangoops_config.fact names what to read (its "watch": name, user, group,
root, config_dir, shared_dir, backup_dir). Standard library only: the hosts' Python 3.
"""

import grp
import hashlib
import json
import os
import pwd
import re
import stat
import subprocess
import sys

CONFIG = "/etc/ansible/facts.d/djangoops_config.fact"
UNIT_DIR = "/etc/systemd/system"
ENTRY_DIRS = ("/etc/cron.d", "/etc/logrotate.d", "/etc/tmpfiles.d")
# Written by a role once for every app of the host.
SHARED_FILES = ("/usr/local/sbin/djangoops-backup",)
UNIT_SUFFIXES = (".service", ".socket", ".timer")


def describe(path, times=True):
    """A path's type, mode, owner and group; a link's target; for anything but a folder, its
    ctime and size (a folder's move whenever the app writes into it)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return f"{path}|missing"
    line = f"{path}|{stat.S_IFMT(info.st_mode):o}|{stat.S_IMODE(info.st_mode):o}|{info.st_uid}|{info.st_gid}"
    if stat.S_ISLNK(info.st_mode):
        return f"{line}|{os.readlink(path)}"
    if times and not stat.S_ISDIR(info.st_mode):
        return f"{line}|{info.st_ctime_ns}|{info.st_size}"
    return line


def tree(path):
    """A folder and everything under it (links are not followed)."""
    lines = [describe(path)]
    for top, dirs, files in os.walk(path):
        dirs.sort()
        lines.extend(describe(os.path.join(top, name)) for name in sorted(dirs + files))
    return lines


def listing(folder):
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def unit_names(app, names):
    """The app's unit files and drop-in folders: <app>.service, <app>.socket, <app>-*."""
    return [name for name in names if name.startswith((f"{app}.", f"{app}-"))]


def entry_names(app, names):
    """The app's djangoops-* entries in cron.d, logrotate.d and tmpfiles.d; cron's names have
    dashes for underscores."""
    apps = "|".join(re.escape(name) for name in sorted({app, app.replace("_", "-")}))
    pattern = re.compile(rf"^djangoops-(.*-)?({apps})([-.].*)?$")
    return [name for name in names if pattern.match(name)]


def account(app_user, app_group):
    try:
        user = pwd.getpwnam(app_user)
        user_line = f"passwd|{user.pw_name}:{user.pw_uid}:{user.pw_gid}:{user.pw_dir}:{user.pw_shell}"
    except KeyError:
        user_line = f"passwd|{app_user}|missing"
    try:
        group = grp.getgrnam(app_group)
        group_line = f"group|{group.gr_name}:{group.gr_gid}:{','.join(sorted(group.gr_mem))}"
    except KeyError:
        group_line = f"group|{app_group}|missing"
    return [user_line, group_line]


def unit_states(units):
    """{unit: 'UnitFileState ActiveState'} from one systemctl call for all the units."""
    if not units:
        return {}
    try:
        result = subprocess.run(
            ["systemctl", "show", "--property=Id,UnitFileState,ActiveState", "--", *units],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return {unit: "unknown" for unit in units}
    return parse_show(result.stdout)


def parse_show(output):
    """systemctl show's blocks (one per unit, a blank line between) as {Id: 'UnitFileState ActiveState'}."""
    states = {}
    for block in output.strip().split("\n\n"):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in fields:
            states[fields["Id"]] = f"{fields.get('UnitFileState', '')} {fields.get('ActiveState', '')}"
    return states


def packages():
    try:
        result = subprocess.run(
            ["dpkg-query", "--show", "--showformat=${db:Status-Abbrev} ${Package} ${Version}\\n"],
            capture_output=True,
            check=False,
        )
    except OSError:
        return "dpkg|unknown"
    return "dpkg|" + hashlib.sha256(result.stdout).hexdigest()


def app_lines(watch, unit_files, entries):
    """What the digest of one app is made of, but its units' states."""
    name = watch["name"]
    lines = account(watch["user"], watch["group"])
    folders = [watch["root"], f"{watch['root']}/releases", f"{watch['root']}/venvs",
               os.path.dirname(watch["config_dir"]), watch["shared_dir"], watch["backup_dir"]]  # fmt: skip
    folders += [os.path.join(watch["shared_dir"], child) for child in listing(watch["shared_dir"])]
    lines += [describe(folder, times=False) for folder in folders if folder]
    for folder in (watch["config_dir"], f"{watch['root']}/bin"):
        lines += tree(folder)
    for unit in unit_names(name, unit_files):
        lines += tree(os.path.join(UNIT_DIR, unit))
    for folder, names in entries.items():
        lines += [describe(os.path.join(folder, entry)) for entry in entry_names(name, names)]
    return lines


def app_units(name, unit_files, entries):
    """The app's units whose state counts: each unit file's, and cron's where the app has a cron entry."""
    units = [unit for unit in unit_names(name, unit_files) if unit.endswith(UNIT_SUFFIXES)]
    cron = [entry for folder, names in entries.items() if folder.endswith("/cron.d") for entry in names]
    if entry_names(name, cron):
        units.append("cron.service")
    return units


def unit_line(unit, states, units):
    """A service that a timer of the app starts is running only while it runs: its state is whether it is enabled."""
    state = states.get(unit, "missing")
    if unit.endswith(".service") and unit[: -len(".service")] + ".timer" in units:
        state = state.split(" ")[0]
    return f"unit|{unit}|{state}"


def digests(config):
    watched = {name: entry["watch"] for name, entry in config.items() if isinstance(entry, dict) and isinstance(entry.get("watch"), dict)}
    unit_files = listing(UNIT_DIR)
    entries = {folder: listing(folder) for folder in ENTRY_DIRS}
    units = {name: app_units(name, unit_files, entries) for name in watched}
    states = unit_states(sorted({unit for names in units.values() for unit in names}))
    shared = [packages()] + [describe(path) for path in SHARED_FILES]
    result = {}
    for name, watch in watched.items():
        lines = shared + app_lines(watch, unit_files, entries) + [unit_line(unit, states, units[name]) for unit in units[name]]
        result[name] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return result


def main(config_path=CONFIG):
    with open(__file__, "rb") as source:
        script = hashlib.sha256(source.read()).hexdigest()
    try:
        with open(config_path, encoding="utf-8") as stored:
            config = json.load(stored)
        apps = digests(config if isinstance(config, dict) else {})
    except FileNotFoundError:
        apps = {}
    except (OSError, ValueError, KeyError, TypeError) as error:
        # No digest is a digest that matches nothing: site.yml applies every app's configuration.
        print(json.dumps({"script": script, "apps": {}, "error": str(error)}))
        return
    print(json.dumps({"script": script, "apps": apps}, sort_keys=True))


if __name__ == "__main__":
    main(*sys.argv[1:2])
