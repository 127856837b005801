"""The backup command's own logic, run here against real SQLite files: retention, the online
backup of a database that is being written, and a restore that brings rows and media back."""

import datetime
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from conftest import ROOT

SCRIPT = ROOT / "roles/app_backup/files/djangoops_backup.py"


@pytest.fixture(scope="module")
def tool():
    loader = importlib.machinery.SourceFileLoader("djangoops_backup", str(SCRIPT))
    spec = importlib.util.spec_from_loader("djangoops_backup", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def app_config(tmp_path, media, database, **settings):
    """backup.json as the role writes it, for an app on SQLite run as root."""
    return {
        "app": "unit",
        "user": "root",
        "group": "root",
        "media_group": "root",
        "env_file": "/dev/null",
        "media_root": str(media),
        "backup_dir": str(tmp_path / "backups"),
        "log_file": str(tmp_path / "backup.log"),
        "keep_daily": 7,
        "keep_weekly": 4,
        "remote": "",
        "database": {"engine": "sqlite", "path": str(database)},
        **settings,
    }


def folders(tmp_path, stamps):
    made = []
    for stamp in stamps:
        folder = tmp_path / stamp
        folder.mkdir()
        (folder / "MANIFEST.sha256").write_text("")
        made.append(folder)
    return made


def test_retention_keeps_the_newest_of_each_day_and_week(tool, tmp_path):
    start = datetime.datetime(2026, 11, 22, 3, 30)  # a Sunday
    stamps = []
    for days_back in range(40):
        for hour in (3, 15):  # two backups a day
            stamps.append((start - datetime.timedelta(days=days_back)).replace(hour=hour).strftime(tool.STAMP))
    folders(tmp_path, stamps)
    kept = tool.keep(tool.finished(tmp_path), daily=7, weekly=4)
    names = sorted(folder.name for folder in kept)
    days = [(start - datetime.timedelta(days=d)).replace(hour=15).strftime(tool.STAMP) for d in range(7)]
    # The newest of each of the 7 last days; the newest of each of 4 ISO weeks: this week's is
    # today's, and the three weeks before end on Sundays 15, 8 and 1 November.
    weeks = [datetime.datetime(2026, 11, day, 15, 30).strftime(tool.STAMP) for day in (15, 8, 1)]
    assert names == sorted(days + weeks)


def test_an_online_backup_of_a_busy_sqlite_database_is_consistent(tool, tmp_path):
    database = tmp_path / "db.sqlite3"
    writer = sqlite3.connect(database, check_same_thread=False)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT)")
    writer.commit()
    stop = threading.Event()

    def write():
        while not stop.is_set():
            with writer:
                writer.executemany("INSERT INTO note (text) VALUES (?)", [("x" * 200,)] * 50)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        for number in range(5):
            out = tmp_path / f"backup{number}"
            out.mkdir()
            tool.backup_database({"database": {"engine": "sqlite", "path": str(database)}}, out)
            copy = sqlite3.connect(out / "database.sqlite3")
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert copy.execute("SELECT count(*) FROM note").fetchone()[0] % 50 == 0  # whole transactions only
            copy.close()
    finally:
        stop.set()
        thread.join()
        writer.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="a restore gives the files to the app's user")
def test_backup_then_restore_brings_rows_and_media_back(tool, tmp_path):
    shared = tmp_path / "shared"
    (shared / "db").mkdir(parents=True)
    media = shared / "media"
    (media / "uploads").mkdir(parents=True)
    (media / "uploads" / "a.txt").write_text("media bytes")
    database = shared / "db" / "db.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE note (text TEXT)")
        db.executemany("INSERT INTO note VALUES (?)", [("one",), ("two",)])
    config = app_config(tmp_path, media, database)
    assert tool.backup(config) == 0
    status = json.loads((tmp_path / "backups" / "status.json").read_text())
    assert status["ok"]
    assert status["size_bytes"] > 0
    database.unlink()
    (media / "uploads" / "a.txt").unlink()
    assert tool.restore(config, None) == 0
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM note").fetchone()[0] == 2
    assert (media / "uploads" / "a.txt").read_text() == "media bytes"
    assert "OK " in Path(config["log_file"]).read_text()


def offsite_site(tmp_path, password="offsite-unit-password-0123456789"):  # noqa: S107  a throwaway repository's
    """An app on SQLite with media and a generated SECRET_KEY, whose backups go on to a restic
    repository in a folder (what an SFTP or S3 repository is to restic, without the network)."""
    shared = tmp_path / "shared"
    (shared / "db").mkdir(parents=True)
    media = shared / "media"
    (media / "uploads").mkdir(parents=True)
    for number in range(3):
        (media / "uploads" / f"{number}.bin").write_bytes(os.urandom(4096))
    database = shared / "db" / "db.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE note (text TEXT)")
        db.executemany("INSERT INTO note VALUES (?)", [(f"row {n}",) for n in range(50)])
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "secret_key").write_text("key-of-the-lost-host\n")
    (etc / "env").write_text("DJANGO_SECRET_KEY='key-of-the-lost-host'\nSECRET_KEY='key-of-the-lost-host'\nOTHER='kept'\n")
    (etc / "restic.password").write_text(password + "\n")
    return app_config(
        tmp_path,
        media,
        database,
        env_file=str(etc / "env"),
        secret_key_file=str(etc / "secret_key"),
        offsite={
            "repository": str(tmp_path.parent / "offsite-repository"),
            "password_file": str(etc / "restic.password"),
            "cache_dir": str(tmp_path / "cache"),
            "keep": {"daily": 3, "weekly": 2, "monthly": 0},
        },
    )


def media_sums(config):
    media = Path(config["media_root"])
    return {str(p.relative_to(media)): p.read_bytes() for p in media.rglob("*") if p.is_file()}


@pytest.mark.skipif(os.geteuid() != 0, reason="a restore gives the files to the app's user")
def test_an_offsite_copy_restores_onto_a_new_host_with_its_secret_key(tool, tmp_path, capsys):
    lost = offsite_site(tmp_path / "lost")
    assert tool.init(lost) == 0
    assert capsys.readouterr().out.strip() == "created"
    assert tool.backup(lost) == 0
    status = json.loads((Path(lost["backup_dir"]) / "status.json").read_text())
    assert status["ok"], status
    assert status["local"]["ok"]
    assert status["offsite"]["ok"]
    assert status["last_offsite_success"] == status["last_run"]
    rows = tool.snapshots(lost)
    assert [(r[0], r[2]) for r in rows] == [(status["offsite"]["snapshot"], status["backup"])]
    assert not (Path(lost["backup_dir"]) / "offsite").exists()  # the staging folder goes after the copy
    # The same app converged on a bare host: its own empty database, media and generated key.
    new = offsite_site(tmp_path / "new")
    new["offsite"]["repository"] = lost["offsite"]["repository"]
    Path(new["database"]["path"]).unlink()
    shutil.rmtree(new["media_root"])
    Path(new["secret_key_file"]).write_text("key-of-the-new-host\n")
    Path(new["env_file"]).write_text("DJANGO_SECRET_KEY='key-of-the-new-host'\nSECRET_KEY='key-of-the-new-host'\nOTHER='kept'\n")
    assert tool.init(new) == 0
    assert capsys.readouterr().out.strip() == "exists"
    assert tool.fetch(new, None) == 0
    assert capsys.readouterr().out.strip() == status["backup"]
    assert [p.name for p in tool.finished(Path(new["backup_dir"]))] == [status["backup"]]
    assert tool.restore(new, None, secret_key=True) == 0
    with sqlite3.connect(new["database"]["path"]) as db:
        assert db.execute("SELECT count(*) FROM note").fetchone()[0] == 50
    assert media_sums(new) == media_sums(lost)
    assert Path(new["secret_key_file"]).read_text().strip() == "key-of-the-lost-host"
    assert Path(new["env_file"]).read_text() == Path(lost["env_file"]).read_text()


def test_a_wrong_repository_password_fails_the_job_and_leaves_nothing(tool, tmp_path, capsys):
    good = offsite_site(tmp_path / "good")
    assert tool.init(good) == 0
    assert tool.backup(good) == 0
    wrong = offsite_site(tmp_path / "wrong", password="not-the-repository-password-0123456789")  # noqa: S106
    wrong["offsite"]["repository"] = good["offsite"]["repository"]
    assert tool.backup(wrong) == 1
    status = json.loads((Path(wrong["backup_dir"]) / "status.json").read_text())
    assert status["ok"] is False
    assert status["local"]["ok"] is True  # the local backup is complete and kept
    assert status["offsite"]["ok"] is False
    assert "wrong password" in status["offsite"]["error"], status
    assert status.get("last_success") is None
    assert "FAILED: off-site copy: restic backup failed" in Path(wrong["log_file"]).read_text()
    assert len(tool.snapshots(good)) == 1  # nothing was written to the repository
    # Fetching with the wrong password leaves no folder behind either.
    shutil.rmtree(wrong["backup_dir"])
    Path(wrong["backup_dir"]).mkdir()
    with pytest.raises(tool.BackupError, match="wrong password"):
        tool.fetch(wrong, None)
    assert sorted(p.name for p in Path(wrong["backup_dir"]).iterdir()) == []
    capsys.readouterr()


def test_prune_keeps_exactly_the_snapshots_the_policy_names(tool, tmp_path):
    config = offsite_site(tmp_path / "site")
    assert tool.init(config) == 0
    # A snapshot a day at 03:30 for two weeks, as the nightly job would have left them.
    today = datetime.datetime.now(datetime.UTC).replace(hour=3, minute=30, second=0, microsecond=0)
    days = [today - datetime.timedelta(days=n) for n in range(15)]
    folder = tmp_path / "content"
    folder.mkdir()
    for when in reversed(days):
        (folder / "file").write_text(when.isoformat())
        tool.restic(config, "backup", "--host", "unit", "--time", when.strftime("%Y-%m-%d %H:%M:%S"), str(folder))
    assert tool.offsite_task(config, "prune", lambda: tool.forget_args(config)) == 0
    kept = sorted(datetime.datetime.fromisoformat(r[1][:19]) for r in tool.snapshots(config))
    # keep daily 3: today and the two days before; keep weekly 2: this ISO week's newest (today)
    # and last week's newest (its Sunday).
    last_week = next(d for d in days if d.isocalendar()[:2] < today.isocalendar()[:2])
    expected = sorted({days[0], days[1], days[2], last_week})
    assert kept == [d.replace(tzinfo=None) for d in expected]
    status = json.loads((Path(config["backup_dir"]) / "status.json").read_text())
    assert status["offsite_prune"]["ok"] is True
