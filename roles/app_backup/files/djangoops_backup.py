"""Backups of a djangoops.stack app: its database and its media, into a folder only root reads.

    djangoops-backup backup APP          take a backup now (what the cron job runs), and copy it off-site
    djangoops-backup list APP            the backups, newest first
    djangoops-backup restore APP [ID] [--secret-key]
                                         put a backup back (the newest without ID); stop the app first.
                                         --secret-key: the app's generated SECRET_KEY too (a new host)
    djangoops-backup verify APP [ID]     check a backup's files against its manifest
    djangoops-backup init APP            create the off-site repository unless it exists
    djangoops-backup snapshots APP       the off-site snapshots, oldest first
    djangoops-backup fetch APP [ID]      bring an off-site snapshot (the newest without ID) back as a
                                         local backup, and print its name
    djangoops-backup prune APP           apply the off-site retention (restic forget --prune)
    djangoops-backup check APP           check the off-site repository (restic check)

Each app's settings are in /etc/djangoops/<app>/backup.json (written by the app_backup role).
A backup is a folder <backup_dir>/<UTC time>/ holding database.dump (pg_dump -Fc) and
globals.sql, or database.sqlite3 (SQLite's online backup); media.tar.gz and media.sha256 (a
checksum per file); and MANIFEST.sha256 over all of them, written last: a folder without it is
unfinished and never restored. Every run writes a log line (journal and log file) and the app's
status.json, exits non-zero when it failed, and never runs twice at once (a lock).
"""

import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import syslog
import tarfile
import tempfile
import time
import urllib.parse
from pathlib import Path

CONFIG = "/etc/djangoops/{app}/backup.json"
# The node exporter's textfile collector, where the exporters role runs it: the status as metrics.
TEXTFILE_DIR = Path("/var/lib/prometheus/node-exporter")
STAMP = "%Y%m%dT%H%M%SZ"


class BackupError(Exception):
    pass


def load(app):
    with open(CONFIG.format(app=app), encoding="utf-8") as handle:
        return json.load(handle)


def log(config, message):
    line = f"djangoops-backup {config['app']}: {message}"
    syslog.openlog("djangoops-backup")
    syslog.syslog(syslog.LOG_INFO, line)
    with open(config["log_file"], "a", encoding="utf-8") as handle:
        handle.write(f"{datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')} {line}\n")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(argv, env=None, stdout=None):
    result = subprocess.run(argv, env=env, stdout=stdout, stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        raise BackupError(f"{argv[0]} failed ({result.returncode}): {result.stderr.decode(errors='replace').strip()[-500:]}")
    return result


def pg_env(config):
    db = config["database"]
    env = dict(os.environ, PGDATABASE=db["name"], PGUSER=db["user"], PGCONNECT_TIMEOUT="10")
    env["PGHOST"] = db.get("host") or "localhost"
    if db.get("port"):
        env["PGPORT"] = str(db["port"])
    env["PGPASSWORD"] = read_env_file(config["env_file"]).get("DJANGO_DATABASE_PASSWORD", "")
    return env


def read_env_file(path):
    values = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip().strip("'\"")
    return values


def local_postgres():
    return shutil.which("pg_dumpall") is not None and Path("/var/run/postgresql").is_dir() and os.path.exists("/usr/sbin/runuser")


def backup_database(config, folder):
    db = config["database"]
    if db["engine"] == "postgresql":
        env = pg_env(config)
        run(["pg_dump", "--format=custom", "--no-owner", "--file", str(folder / "database.dump")], env=env)
        with open(folder / "globals.sql", "wb") as handle:
            if db.get("host", "localhost") in ("", "localhost", "127.0.0.1", "::1") and local_postgres():
                run(["runuser", "-u", "postgres", "--", "pg_dumpall", "--globals-only", "--no-role-passwords"], stdout=handle)
            else:
                # The roles and tablespaces as the app's role sees them (pg_roles: no passwords).
                run(["pg_dumpall", "--globals-only", "--no-role-passwords", "--database", db["name"]], env=env, stdout=handle)
    else:
        source = sqlite3.connect(f"file:{db['path']}?mode=ro", uri=True, timeout=30)
        target = sqlite3.connect(folder / "database.sqlite3")
        try:
            with target:
                source.backup(target)  # a consistent copy while the app writes
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy fails PRAGMA integrity_check: {check}")
        finally:
            source.close()
            target.close()


def backup_media(config, folder):
    media = Path(config["media_root"])
    files = sorted(p for p in media.rglob("*") if p.is_file()) if media.is_dir() else []
    with open(folder / "media.sha256", "w", encoding="utf-8") as manifest:
        for path in files:
            manifest.write(f"{sha256(path)}  {path.relative_to(media)}\n")
    with tarfile.open(folder / "media.tar.gz", "w:gz") as archive:
        for path in files:
            archive.add(path, arcname=str(path.relative_to(media)), recursive=False)


def backup_secret_key(config, folder):
    """The app's generated SECRET_KEY, so that a new host keeps sessions and signed URLs valid."""
    source = Path(config.get("secret_key_file") or "/nonexistent")
    if source.is_file():
        target = folder / "secret_key"
        shutil.copyfile(source, target)
        target.chmod(0o600)


def is_backup(path):
    """A backup's folder, by its name: the staging and fetch folders beside them are not."""
    return path.is_dir() and re.fullmatch(r"[0-9]{8}T[0-9]{6}Z", path.name) is not None


def finished(root):
    return sorted((p for p in root.iterdir() if is_backup(p) and (p / "MANIFEST.sha256").exists()), reverse=True)


def keep(backups, daily, weekly):
    """The newest backup of each of the last `daily` days and of each of the last `weekly` ISO
    weeks that have a backup."""
    kept, days, weeks = set(), [], []
    for folder in backups:  # newest first
        when = datetime.datetime.strptime(folder.name, STAMP)
        day, week = when.date(), when.isocalendar()[:2]
        if day not in days and len(days) < daily:
            days.append(day)
            kept.add(folder)
        if week not in weeks and len(weeks) < weekly:
            weeks.append(week)
            kept.add(folder)
    return kept


def prune(config, root):
    backups = finished(root)
    kept = keep(backups, config["keep_daily"], config["keep_weekly"])
    removed = [folder for folder in backups if folder not in kept]
    # Unfinished folders of earlier runs (no manifest) go too; the lock rules out a running one.
    removed += [p for p in root.iterdir() if is_backup(p) and not (p / "MANIFEST.sha256").exists()]
    for folder in removed:
        shutil.rmtree(folder)
    return len(removed)


def copy_off_host(config, folder):
    target = config.get("remote")
    if not target:
        return
    run(
        [
            "rsync",
            "--archive",
            "--partial",
            "--rsh",
            "ssh -o BatchMode=yes",
            f"{folder}/",
            f"{target.rstrip('/')}/{config['app']}/{folder.name}/",
        ]
    )


# What a run keeps of the runs before it: the last successes, and the outcomes of the off-site
# prune and check, which run on their own schedules.
KEPT = ("last_success", "last_offsite_success", "offsite_prune", "offsite_check")


def read_status(config):
    path = Path(config["backup_dir"]) / "status.json"
    return json.loads(path.read_text()) if path.exists() else {}


def write_status(config, status):
    path = Path(config["backup_dir"]) / "status.json"
    previous = read_status(config)
    status = {**{key: previous[key] for key in KEPT if key in previous}, **status}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, indent=1) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    write_metrics(status)


def _timestamp(value):
    return datetime.datetime.fromisoformat(value).timestamp() if value else 0


def write_metrics(status, folder=TEXTFILE_DIR):
    """The run's outcome for Prometheus (the BackupFailed and BackupTooOld alerts), replaced
    whole so the collector never reads half a file."""
    if not folder.is_dir():
        return
    app = status["app"]
    lines = [
        "# HELP djangoops_backup_success Whether the last backup run succeeded.",
        "# TYPE djangoops_backup_success gauge",
        f'djangoops_backup_success{{app="{app}"}} {int(status["ok"])}',
        "# HELP djangoops_backup_last_run_timestamp_seconds When the last backup run started.",
        "# TYPE djangoops_backup_last_run_timestamp_seconds gauge",
        f'djangoops_backup_last_run_timestamp_seconds{{app="{app}"}} {_timestamp(status["last_run"])}',
        "# HELP djangoops_backup_last_success_timestamp_seconds When the last good backup started (0: none).",
        "# TYPE djangoops_backup_last_success_timestamp_seconds gauge",
        f'djangoops_backup_last_success_timestamp_seconds{{app="{app}"}} {_timestamp(status.get("last_success"))}',
        "# HELP djangoops_backup_size_bytes The size of the last good backup.",
        "# TYPE djangoops_backup_size_bytes gauge",
        f'djangoops_backup_size_bytes{{app="{app}"}} {status.get("size_bytes", 0)}',
        "# HELP djangoops_backup_duration_seconds How long the last backup run took.",
        "# TYPE djangoops_backup_duration_seconds gauge",
        f'djangoops_backup_duration_seconds{{app="{app}"}} {status.get("duration_seconds", 0)}',
    ]
    if "offsite" in status:
        lines += [
            "# HELP djangoops_backup_offsite_success Whether the last run's off-site copy succeeded.",
            "# TYPE djangoops_backup_offsite_success gauge",
            f'djangoops_backup_offsite_success{{app="{app}"}} {int(status["offsite"].get("ok", False))}',
            "# HELP djangoops_backup_offsite_last_success_timestamp_seconds When the last good off-site copy started (0: none).",
            "# TYPE djangoops_backup_offsite_last_success_timestamp_seconds gauge",
            f'djangoops_backup_offsite_last_success_timestamp_seconds{{app="{app}"}} {_timestamp(status.get("last_offsite_success"))}',
        ]
    if "offsite_check" in status:
        lines += [
            "# HELP djangoops_backup_offsite_check_success Whether the last check of the off-site repository passed.",
            "# TYPE djangoops_backup_offsite_check_success gauge",
            f'djangoops_backup_offsite_check_success{{app="{app}"}} {int(status["offsite_check"].get("ok", False))}',
        ]
    path = folder / f"djangoops_backup_{app}.prom"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.chmod(0o644)
    tmp.replace(path)


def lock(config, wait=False):
    """The app's lock, held until the process exits: backups, prunes and checks never overlap."""
    handle = open(f"/run/lock/djangoops-backup-{config['app']}.lock", "w")  # noqa: SIM115
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return None
    return handle


def backup(config):
    root = Path(config["backup_dir"])
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    held = lock(config)
    if held is None:
        log(config, "FAILED: another backup of this app is running")
        return 75
    started = time.monotonic()
    now = datetime.datetime.now(datetime.UTC)
    folder = root / now.strftime(STAMP)
    status = {"app": config["app"], "last_run": now.isoformat(timespec="seconds"), "ok": False}
    try:
        if folder.exists():
            raise BackupError(f"{folder} exists already")
        folder.mkdir(mode=0o700)
        backup_database(config, folder)
        backup_media(config, folder)
        backup_secret_key(config, folder)
        files = sorted(p.name for p in folder.iterdir())
        manifest = "".join(f"{sha256(folder / name)}  {name}\n" for name in files)
        (folder / "MANIFEST.sha256").write_text(manifest)
        size = sum(p.stat().st_size for p in folder.iterdir())
        copy_off_host(config, folder)
        removed = prune(config, root)
    except (BackupError, OSError, sqlite3.Error) as error:
        status.update(error=str(error), duration_seconds=round(time.monotonic() - started, 2), local={"ok": False, "error": str(error)})
        write_status(config, status)
        log(config, f"FAILED: {error}")
        shutil.rmtree(folder, ignore_errors=True)
        return 1
    status.update(backup=folder.name, size_bytes=size, removed=removed, local={"ok": True, "backup": folder.name})
    message = f"OK {folder.name}: {size} bytes, {removed} old backup(s) removed"
    if offsite(config):
        try:
            snapshot = copy_offsite(config, folder)
            status.update(
                offsite={"ok": True, "snapshot": snapshot, "repository": offsite_name(config)}, last_offsite_success=status["last_run"]
            )
            message += f"; off-site snapshot {snapshot}"
        except (BackupError, OSError) as error:
            status.update(offsite={"ok": False, "error": str(error), "repository": offsite_name(config)}, error=f"off-site copy: {error}")
    duration = round(time.monotonic() - started, 2)
    status.update(duration_seconds=duration, ok="error" not in status)
    if status["ok"]:
        status["last_success"] = status["last_run"]
    write_status(config, status)
    if status["ok"]:
        log(config, f"{message} in {duration} s")
        return 0
    log(config, f"FAILED: {status['error']} (the local backup {folder.name} is complete)")
    return 1


# Off-site copies: restic, one repository per app.


def offsite(config):
    return (config.get("offsite") or {}).get("repository")


def offsite_name(config):
    """The repository as the status and the log show it: an S3 or REST URL without credentials."""
    parts = urllib.parse.urlsplit(offsite(config).split(":", 1)[1]) if "://" in offsite(config) else None
    if parts and parts.password:
        return offsite(config).replace(f":{parts.password}@", ":***@")
    return offsite(config)


def sftp_command(config):
    """ssh as restic's SFTP backend runs it, with the app's key and known hosts, when one is set."""
    settings = config["offsite"]
    repository = settings["repository"]
    if not repository.startswith("sftp:") or not settings.get("ssh_key_file"):
        return None
    port = None
    if repository.startswith("sftp://"):
        parts = urllib.parse.urlsplit(repository)
        target = f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname
        port = parts.port
    else:
        target = repository[len("sftp:") :].split(":", 1)[0]
    argv = ["ssh", "-i", settings["ssh_key_file"], "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
    argv += ["-o", "ServerAliveInterval=60", "-o", f"UserKnownHostsFile={settings['known_hosts_file']}"]
    argv += ["-o", f"StrictHostKeyChecking={settings.get('strict_host_key_checking', 'yes')}"]
    if port:
        argv += ["-p", str(port)]
    return " ".join([*argv, target, "-s", "sftp"])


def restic(config, *args, check=True):
    settings = config["offsite"]
    env = dict(os.environ, RESTIC_REPOSITORY=settings["repository"], RESTIC_PASSWORD_FILE=settings["password_file"])
    env["RESTIC_CACHE_DIR"] = settings["cache_dir"]
    if settings.get("env_file") and Path(settings["env_file"]).is_file():
        env.update(read_env_file(settings["env_file"]))
    argv = ["restic", "--no-lock"] if args[0] in ("snapshots",) else ["restic"]
    command = sftp_command(config)
    if command:
        argv += ["--option", f"sftp.command={command}"]
    result = subprocess.run([*argv, *args], env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise BackupError(f"restic {args[0]} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return result


def init(config):
    """Create the app's repository unless it exists: prints created or exists."""
    found = restic(config, "cat", "config", check=False)
    if found.returncode == 0:
        print("exists")
        return 0
    if "Is there a repository at the following location?" not in found.stderr:
        raise BackupError(f"restic cannot open the repository {offsite_name(config)}: {found.stderr.strip()[-500:]}")
    restic(config, "init")
    log(config, f"created the off-site repository {offsite_name(config)}")
    print("created")
    return 0


def copy_offsite(config, folder):
    """The backup's files but the media archive, and the media folder as files: restic keeps one
    copy of a file that did not change. The staging folder has the same path every run, so that
    restic finds its parent snapshot and reads only what changed."""
    stage = Path(config["backup_dir"]) / "offsite"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(mode=0o700)
    try:
        for path in folder.iterdir():
            if path.name != "media.tar.gz":
                os.link(path, stage / path.name)
        (stage / "backup.json").write_text(
            json.dumps({"app": config["app"], "backup": folder.name, "media_root": config["media_root"]}) + "\n"
        )
        paths = [str(stage)] + ([config["media_root"]] if Path(config["media_root"]).is_dir() else [])
        when = datetime.datetime.strptime(folder.name, STAMP).strftime("%Y-%m-%d %H:%M:%S")
        result = restic(
            config,
            "backup",
            "--json",
            "--host",
            config["app"],
            "--time",
            when,
            "--tag",
            "djangoops",
            "--tag",
            f"backup={folder.name}",
            *paths,
        )
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    summary = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{") and '"summary"' in line]
    if not summary or not summary[-1].get("snapshot_id"):
        raise BackupError("restic backup printed no snapshot id")
    return summary[-1]["snapshot_id"][:8]


def snapshots(config):
    """The app's off-site snapshots, oldest first: (short id, time, backup folder name)."""
    listed = json.loads(restic(config, "snapshots", "--json", "--host", config["app"]).stdout or "[]")
    rows = []
    for item in sorted(listed, key=lambda snapshot: snapshot["time"]):  # one time zone: the host's
        name = next((tag.split("=", 1)[1] for tag in item.get("tags") or [] if tag.startswith("backup=")), "")
        rows.append((item["short_id"], item["time"], name, item["id"]))
    return rows


def fetch(config, wanted):
    """An off-site snapshot made into a finished local backup (media as files in media/), checked
    against its manifest before it takes its folder's name: a failed fetch leaves nothing."""
    rows = snapshots(config)
    if not rows:
        raise BackupError(f"no off-site snapshot of {config['app']} in {offsite_name(config)}")
    if wanted in (None, "", "latest"):
        row = rows[-1]
    else:
        row = next((r for r in reversed(rows) if wanted in (r[0], r[2]) or r[3].startswith(wanted)), None)
        if row is None:
            raise BackupError(f"no off-site snapshot {wanted}; there are: {', '.join(f'{r[0]} ({r[2]})' for r in rows)}")
    root = Path(config["backup_dir"])
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if row[2] and (root / row[2] / "MANIFEST.sha256").exists():
        print(row[2])
        return 0
    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root))
    try:
        restic(config, "restore", row[3], "--target", str(tmp))
        stage = next((p.parent for p in tmp.rglob("backup.json") if (p.parent / "MANIFEST.sha256").exists()), None)
        if stage is None:
            raise BackupError(f"snapshot {row[0]} holds no backup")
        info = json.loads((stage / "backup.json").read_text())
        build = tmp / info["backup"]
        build.mkdir(mode=0o700)
        for path in stage.iterdir():
            if path.name != "backup.json":
                path.rename(build / path.name)
        media = tmp / info["media_root"].lstrip("/")
        if media.is_dir():
            media.rename(build / "media")
        else:
            (build / "media").mkdir()
        verify(config, build)
        target = root / info["backup"]
        shutil.rmtree(target, ignore_errors=True)  # an unfinished folder of the same name
        build.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(config, f"fetched off-site snapshot {row[0]} as {info['backup']}")
    print(info["backup"])
    return 0


def offsite_task(config, name, argv_builder):
    """prune or check, under the app's lock, its outcome in status.json and the metrics."""
    Path(config["backup_dir"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    held = lock(config, wait=True)  # noqa: F841  held until exit
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    outcome = {"at": started, "ok": False}
    try:
        result = restic(config, *argv_builder())
        outcome["ok"] = True
        return_code = 0
        tail = [line for line in result.stdout.splitlines() if line.strip()][-1:] or [""]
        log(config, f"off-site {name} OK: {tail[0].strip()}")
    except BackupError as error:
        outcome["error"] = str(error)
        return_code = 1
        log(config, f"FAILED: off-site {name}: {error}")
    status = read_status(config)
    status.setdefault("app", config["app"])
    status.setdefault("last_run", None)
    status.setdefault("ok", False)
    status[f"offsite_{name}"] = outcome
    write_status(config, status)
    return return_code


def forget_args(config):
    keep = config["offsite"]["keep"]
    argv = ["forget", "--prune", "--host", config["app"], "--group-by", "host"]
    for unit in ("daily", "weekly", "monthly"):
        if int(keep.get(unit, 0)) > 0:
            argv += [f"--keep-{unit}", str(int(keep[unit]))]
    return argv


def chosen(config, backup_id):
    backups = finished(Path(config["backup_dir"]))
    if not backups:
        raise BackupError("no finished backup")
    if backup_id in (None, "", "latest"):
        return backups[0]
    for folder in backups:
        if folder.name == backup_id:
            return folder
    raise BackupError(f"no finished backup {backup_id}; there are: {', '.join(b.name for b in backups)}")


def verify(config, folder):
    """The manifest's checksums; a backup fetched from off-site has its media as files (media/),
    checked against media.sha256 instead of the archive the manifest names."""
    for line in (folder / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        if name == "media.tar.gz" and not (folder / name).exists() and (folder / "media").is_dir():
            check_media(folder / "media", folder / "media.sha256", f"{folder.name}/media")
        elif not (folder / name).is_file() or sha256(folder / name) != digest:
            raise BackupError(f"{folder.name}/{name} does not match its checksum")


def check_media(media, listing, label):
    for line in listing.read_text().splitlines():
        digest, name = line.split("  ", 1)
        if not (media / name).is_file() or sha256(media / name) != digest:
            raise BackupError(f"{label}/{name} does not match its checksum")


def restore_secret_key(config, folder):
    """The backup's generated SECRET_KEY back in its file and in the env file the services read,
    where the app runs on its generated key (an inventory's key is the inventory's)."""
    saved = folder / "secret_key"
    target = Path(config.get("secret_key_file") or "")
    if not saved.is_file() or not config.get("secret_key_file"):
        log(config, f"{folder.name} holds no generated SECRET_KEY; the app keeps its own")
        return
    key = saved.read_text().strip()
    current = target.read_text().strip() if target.is_file() else ""
    if key == current:
        return
    env_file = Path(config["env_file"])
    text = env_file.read_text(encoding="utf-8")
    if not current or f"'{current}'" not in text:
        log(config, "the app's SECRET_KEY comes from the inventory: the backup's generated one is not restored")
        return
    tmp = env_file.with_suffix(".restoring")
    tmp.write_text(text.replace(f"'{current}'", f"'{key}'"), encoding="utf-8")
    stat = env_file.stat()
    os.chown(tmp, stat.st_uid, stat.st_gid)
    tmp.chmod(stat.st_mode & 0o7777)
    key_tmp = target.with_suffix(".restoring")
    key_tmp.write_text(key + "\n")
    key_tmp.chmod(0o600)
    key_tmp.replace(target)
    tmp.replace(env_file)
    log(config, f"restored the SECRET_KEY of {folder.name}")


def restore(config, backup_id, secret_key=False):
    folder = chosen(config, backup_id)
    verify(config, folder)
    db = config["database"]
    if db["engine"] == "postgresql":
        env = pg_env(config)
        owner = db["user"]
        if local_postgres():
            exists = subprocess.run(
                ["runuser", "-u", "postgres", "--", "psql", "-XtA", "--set", f"db={db['name']}"],
                input="SELECT 1 FROM pg_database WHERE datname = :'db';\n",
                capture_output=True,
                text=True,
                check=False,
            )
            if exists.stdout.strip() != "1":
                run(
                    [
                        "runuser",
                        "-u",
                        "postgres",
                        "--",
                        "createdb",
                        "--owner",
                        owner,
                        "--encoding",
                        "UTF8",
                        "--template",
                        "template0",
                        db["name"],
                    ]
                )
        run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--exit-on-error",
                "--dbname",
                db["name"],
                str(folder / "database.dump"),
            ],
            env=env,
        )
    else:
        target = Path(db["path"])
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        tmp = target.with_suffix(".restoring")
        shutil.copyfile(folder / "database.sqlite3", tmp)
        shutil.chown(tmp, config["user"], config["group"])
        tmp.chmod(0o640)
        tmp.replace(target)
    media = Path(config["media_root"])
    if media.is_dir():
        for child in media.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    media.mkdir(parents=True, exist_ok=True)
    if (folder / "media.tar.gz").exists():
        with tarfile.open(folder / "media.tar.gz") as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(media, filter="data")
            else:  # a Python without PEP 706; the archive is one this script wrote
                archive.extractall(media)  # noqa: S202
    else:
        shutil.copytree(folder / "media", media, dirs_exist_ok=True)
    for path in [media, *media.rglob("*")]:
        shutil.chown(path, config["user"], config["media_group"])
        path.chmod(0o2750 if path.is_dir() else 0o640)
    check_media(media, folder / "media.sha256", "restored media")
    if secret_key:
        restore_secret_key(config, folder)
    log(config, f"restored {folder.name}")
    print(folder.name)
    return 0


COMMANDS = ("backup", "list", "restore", "verify", "init", "snapshots", "fetch", "prune", "check")


def main(argv):
    flags = [arg for arg in argv[1:] if arg.startswith("--")]
    args = [arg for arg in argv[1:] if not arg.startswith("--")]
    if len(args) < 2 or args[0] not in COMMANDS or set(flags) - {"--secret-key"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, config = args[0], load(args[1])
    wanted = args[2] if len(args) > 2 else None
    try:
        if command == "backup":
            return backup(config)
        if command == "list":
            for folder in finished(Path(config["backup_dir"])):
                print(folder.name)
            return 0
        if command == "verify":
            verify(config, chosen(config, wanted))
            return 0
        if command == "restore":
            return restore(config, wanted, secret_key="--secret-key" in flags)
        if not offsite(config):
            raise BackupError("no off-site repository is set for this app (app_backup_offsite)")
        if command == "init":
            return init(config)
        if command == "snapshots":
            for short_id, when, name, _full in snapshots(config):
                print(f"{short_id}  {when}  {name}")
            return 0
        if command == "fetch":
            return fetch(config, wanted)
        if command == "prune":
            return offsite_task(config, "prune", lambda: forget_args(config))
        return offsite_task(config, "check", lambda: ["check"])
    except BackupError as error:
        log(config, f"FAILED: {error}")
        print(f"djangoops-backup: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
