"""units_up reads one `systemctl show` of several units: the roles start only the units it leaves
out, so a unit it wrongly counts as up would stay down."""

import sys

import pytest
from ansible.errors import AnsibleFilterError

from conftest import ROOT

sys.path.insert(0, str(ROOT / "plugins" / "filter"))

from systemd import units_up

SHOWN = """Id=app.socket
ActiveState=active
UnitFileState=enabled

Id=app.service
ActiveState=active
UnitFileState=disabled

Id=backup.timer
ActiveState=inactive
UnitFileState=enabled

Id=gone.timer
ActiveState=inactive
UnitFileState=
"""


def test_only_units_running_and_enabled_are_up():
    assert units_up(SHOWN) == ["app.socket"]


def test_the_properties_come_in_any_order():
    assert units_up("UnitFileState=enabled\nActiveState=active\nId=cron.service\n") == ["cron.service"]


def test_a_reloading_or_failed_unit_is_not_up():
    shown = "Id=a.service\nActiveState=reloading\nUnitFileState=enabled\n\nId=b.service\nActiveState=failed\nUnitFileState=enabled"
    assert units_up(shown) == []


def test_nothing_shown_is_nothing_up():
    assert units_up("") == []


def test_output_without_ids_is_refused():
    with pytest.raises(AnsibleFilterError, match="Id property"):
        units_up("ActiveState=active\nUnitFileState=enabled\n")


def test_a_result_that_is_not_output_is_refused():
    with pytest.raises(AnsibleFilterError, match="a string"):
        units_up(None)
