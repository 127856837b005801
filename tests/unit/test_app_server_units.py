"""The app server's units read with one `systemctl show`: the module starts or enables only the
units that output shows not running or not enabled at boot. The output is systemd 252's, as
`systemctl show --property=Id,ActiveState,UnitFileState` prints it for two units."""

import sys

from test_layout import template

from conftest import ROOT, load_yaml, role_vars, trusted

sys.path.insert(0, str(ROOT / "plugins" / "filter"))

from systemd import units_up

# The collection's filter, called here in Python on the same output: a bare Templar loads no
# collection.
FILTERED = "__app_server_units_now.stdout | djangoops.stack.units_up"

SHOW = "Id={socket}\nActiveState={socket_state}\nUnitFileState={socket_file}\n\nId={service}\nActiveState={service_state}\nUnitFileState={service_file}\n"


def start_task():
    tasks = load_yaml(ROOT / "roles" / "app_server" / "tasks" / "service.yml")
    return next(task for task in tasks if task["name"] == "Start the socket and the service, and enable them at boot")


def units_to_start(socket_state, socket_file, service_state, service_file):
    variables = role_vars("app_server")
    variables.update(app_server_app={"name": "shop"}, app_server_type="gunicorn", app_server_instance="")
    task = start_task()
    variables.update(trusted(task.get("vars", {})))
    stdout = SHOW.format(
        socket="shop.socket", socket_state=socket_state, socket_file=socket_file,
        service="shop.service", service_state=service_state, service_file=service_file,
    )  # fmt: skip
    variables["__app_server_units_now"] = {"stdout": stdout.rstrip("\n")}
    variables["__units_up"] = units_up(stdout.rstrip("\n"))
    assert FILTERED in task["loop"]
    return template(variables, task["loop"].replace(FILTERED, "__units_up"))


def test_units_running_and_enabled_need_no_call():
    assert units_to_start("active", "enabled", "active", "enabled") == []


def test_a_unit_stopped_or_not_enabled_gets_the_module():
    assert units_to_start("active", "disabled", "active", "enabled") == ["shop.socket"]
    assert units_to_start("active", "enabled", "inactive", "enabled") == ["shop.service"]
    assert units_to_start("failed", "enabled", "activating", "enabled") == ["shop.socket", "shop.service"]
    # A unit systemd does not know: no state at all.
    assert units_to_start("inactive", "", "inactive", "") == ["shop.socket", "shop.service"]
