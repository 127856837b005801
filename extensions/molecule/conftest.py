"""Fixtures for every scenario's checks; the request helpers live in shared/site_client.py."""

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "shared"))

from site_client import EXAMPLE_PROJECT, Client

# Figures the checks measure (unit exposure...), printed at the end of the run whether the
# checks pass or not: pytest keeps a passing check's own output to itself.
FIGURES = []


@pytest.fixture
def figure(host):
    """Record one figure, "name: value", under the host it was measured on."""
    return lambda text: FIGURES.append(f"{host.backend.get_hostname()}: {text}")


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


def pytest_runtest_logreport(report):
    """Each failed check and its assertion's message, one line, appended to the file that
    DJANGOOPS_FAILURES names (scripts/molecule-scenario sets it): scripts/molecule-scenarios prints
    them last, where a CI page that keeps only the end of a long log still shows why."""
    target = os.environ.get("DJANGOOPS_FAILURES")
    if not target or not report.failed:
        return
    crash = getattr(report.longrepr, "reprcrash", None)
    message = " ".join((crash.message if crash else str(report.longrepr)).split())
    with Path(target).open("a", encoding="utf-8") as failures:
        failures.write(f"{report.nodeid.rsplit('/', 1)[-1]} ({report.when}): {message[:700]}\n")


@pytest.fixture
def client(host):
    client = Client(host)
    yield client
    host.run(f"rm -f {client.jar}")


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """Releases of the example project to deploy: v2 with a visible change (its heading), v3 as
    v2 with an import error in a view module (a release that must stop at its gates), v4 as v2
    with a setting the deployment check warns about."""
    base = tmp_path_factory.mktemp("versions")
    v2 = base / "v2"
    shutil.copytree(EXAMPLE_PROJECT, v2, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3"))
    index = v2 / "notes" / "templates" / "notes" / "index.html"
    index.write_text(index.read_text().replace("<h1>djangoops example</h1>", "<h1>djangoops example v2</h1>"))
    v3 = base / "v3"
    shutil.copytree(v2, v3)
    views = v3 / "notes" / "views.py"
    views.write_text("import module_that_does_not_exist  # noqa: F401\n" + views.read_text())
    # v4: v2 with a setting that Django's deployment check warns about, as a project may choose.
    v4 = base / "v4"
    shutil.copytree(v2, v4)
    settings = v4 / "exampleproject" / "settings.py"
    settings.write_text(settings.read_text() + "\nSESSION_COOKIE_HTTPONLY = False\n")
    return {"v2": v2, "v3": v3, "v4": v4}
