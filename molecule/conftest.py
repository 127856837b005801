"""Fixtures for every scenario's checks; the request helpers live in shared/site_client.py."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "shared"))

from site_client import Client


@pytest.fixture
def client(host):
    client = Client(host)
    yield client
    host.run(f"rm -f {client.jar}")
