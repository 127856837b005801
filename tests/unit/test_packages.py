"""The packages the collection adds to a release's virtualenv leave the project's own pins alone."""

import sys

import pytest
from ansible.errors import AnsibleFilterError

from conftest import ROOT

sys.path.insert(0, str(ROOT / "plugins" / "filter"))

from packages import missing_packages, unpinned


def test_a_package_the_project_installed_keeps_the_projects_version():
    added = ["gunicorn==27.0.1", "psycopg[binary]==3.3.9", "redis==8.1.0"]
    installed = ["Django", "gunicorn", "Psycopg", "sqlparse"]
    assert unpinned(added, installed) == ["gunicorn", "psycopg[binary]", "redis==8.1.0"]


def test_names_compare_as_pip_compares_them():
    assert unpinned(["uvicorn-worker==0.4.0", "sentry-sdk==2.75.0"], ["Uvicorn_Worker", "sentry.sdk"]) == ["uvicorn-worker", "sentry-sdk"]


def test_markers_stay():
    assert unpinned(['pyuwsgi==2.0.30; python_version < "3.14"'], ["pyuwsgi"]) == ['pyuwsgi; python_version < "3.14"']


def test_nothing_installed_changes_nothing():
    assert unpinned(["uvicorn[standard]==0.54.0"], []) == ["uvicorn[standard]==0.54.0"]


def test_a_broken_requirement_is_named():
    with pytest.raises(AnsibleFilterError, match="not a pip requirement"):
        unpinned(["gunicorn=="], ["gunicorn"])


def test_a_package_missing_from_the_facts_is_missing():
    facts = {"packages": {"nginx": [{"version": "1.22"}], "ssl-cert": [{"version": "1.1"}]}}
    assert missing_packages(["nginx", "ssl-cert"], facts) == []
    assert missing_packages(["nginx", "certbot", "ssl-cert", "git"], facts) == ["certbot", "git"]


def test_without_a_package_list_every_package_is_missing():
    # No read (a role on its own), or a read that failed on a host without python3-apt.
    assert missing_packages(["nginx", "git"], {"distribution": "Debian"}) == ["nginx", "git"]
    assert missing_packages(["nginx"], {"packages": None}) == ["nginx"]
