"""Backups of a djangoops.stack app: its database and its media, into a folder only root reads.

    djangoops-backup backup APP          take a backup now (what the cron job runs)
    djangoops-backup list APP            the backups, newest first
    djangoops-backup restore APP [ID]    put a backup back (the newest without ID); stop the app first
    djangoops-backup verify APP [ID]     check a backup's files against its manifest

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
import shutil
import sqlite3
import subprocess
import sys
import syslog
import tarfile
import time
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
        if db.get("host", "localhost") in ("", "localhost", "127.0.0.1", "::1") and local_postgres():
            with open(folder / "globals.sql", "wb") as handle:
                run(["runuser", "-u", "postgres", "--", "pg_dumpall", "--globals-only", "--no-role-passwords"], stdout=handle)
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


def finished(root):
    return sorted((p for p in root.iterdir() if p.is_dir() and (p / "MANIFEST.sha256").exists()), reverse=True)


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
    removed += [p for p in root.iterdir() if p.is_dir() and not (p / "MANIFEST.sha256").exists()]
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


def write_status(config, status):
    path = Path(config["backup_dir"]) / "status.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    if not status["ok"]:
        status["last_success"] = previous.get("last_success")
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
    path = folder / f"djangoops_backup_{app}.prom"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.chmod(0o644)
    tmp.replace(path)


def backup(config):
    root = Path(config["backup_dir"])
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = open(f"/run/lock/djangoops-backup-{config['app']}.lock", "w")  # noqa: SIM115  held until exit
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
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
        files = sorted(p.name for p in folder.iterdir())
        manifest = "".join(f"{sha256(folder / name)}  {name}\n" for name in files)
        (folder / "MANIFEST.sha256").write_text(manifest)
        size = sum(p.stat().st_size for p in folder.iterdir())
        copy_off_host(config, folder)
        removed = prune(config, root)
        duration = round(time.monotonic() - started, 2)
        status.update(
            ok=True, last_success=status["last_run"], backup=folder.name, size_bytes=size, duration_seconds=duration, removed=removed
        )
        write_status(config, status)
        log(config, f"OK {folder.name}: {size} bytes in {duration} s, {removed} old backup(s) removed")
        return 0
    except (BackupError, OSError, sqlite3.Error) as error:
        status.update(error=str(error), duration_seconds=round(time.monotonic() - started, 2))
        write_status(config, status)
        log(config, f"FAILED: {error}")
        shutil.rmtree(folder, ignore_errors=True)
        return 1


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
    for line in (folder / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        if sha256(folder / name) != digest:
            raise BackupError(f"{folder.name}/{name} does not match its checksum")


def restore(config, backup_id):
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
    with tarfile.open(folder / "media.tar.gz") as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(media, filter="data")
        else:  # a Python without PEP 706; the archive is one this script wrote
            archive.extractall(media)  # noqa: S202
    for path in [media, *media.rglob("*")]:
        shutil.chown(path, config["user"], config["media_group"])
        path.chmod(0o2750 if path.is_dir() else 0o640)
    for line in (folder / "media.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        if sha256(media / name) != digest:
            raise BackupError(f"restored media {name} does not match its checksum")
    log(config, f"restored {folder.name}")
    print(folder.name)
    return 0


def main(argv):
    if len(argv) < 3 or argv[1] not in ("backup", "list", "restore", "verify"):
        print(__doc__, file=sys.stderr)
        return 2
    config = load(argv[2])
    try:
        if argv[1] == "backup":
            return backup(config)
        if argv[1] == "list":
            for folder in finished(Path(config["backup_dir"])):
                print(folder.name)
            return 0
        if argv[1] == "verify":
            verify(config, chosen(config, argv[3] if len(argv) > 3 else None))
            return 0
        return restore(config, argv[3] if len(argv) > 3 else None)
    except BackupError as error:
        log(config, f"FAILED: {error}")
        print(f"djangoops-backup: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
