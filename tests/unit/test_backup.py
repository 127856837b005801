"""The backup command's own logic, run here against real SQLite files: retention, the online
backup of a database that is being written, and a restore that brings rows and media back."""

import datetime
import importlib.machinery
import importlib.util
import json
import os
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
    config = {
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
    }
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
