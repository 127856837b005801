#!/usr/bin/python
# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several systemd units started or stopped, enabled or disabled, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: units
short_description: Start or stop, enable or disable several systemd units in one call
version_added: 0.1.0
description:
  - Reads the state of every unit in O(names) with one C(systemctl show), then starts, stops,
    enables or disables only the units that need it, each action one C(systemctl) command for
    all of them.
  - What M(ansible.builtin.systemd_service) does with O(state=started) or O(state=stopped) and
    O(enabled), for a list of units in one module call instead of one call per unit; a run that
    changes nothing pays one round trip to the host.
  - With neither O(state) nor O(enabled), the task only reads the units, units systemd does not
    know included (their C(LoadState) is C(not-found)).
  - Enabling comes before starting, and stopping before disabling. Units are started in one
    transaction, so a socket and its service listed together start in systemd's order.
options:
  names:
    description: The units, with their suffix (C(app.socket), C(nginx.service)).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(started) starts the units that are not active (or activating, reloading).
      - V(stopped) stops the units that are.
      - Omitted, the units are neither started nor stopped.
    type: str
    choices: [started, stopped]
  enabled:
    description:
      - V(true) enables units that C(systemctl is-enabled) would not report as enabled
        (enabled, static, indirect, generated, alias or transient).
      - V(false) disables units that are enabled. Omitted, left as they are.
    type: bool
  missing_ok:
    description:
      - A unit systemd does not know is left alone instead of failing the task. Meant for
        stopping and disabling units that a host may never have had.
    type: bool
    default: false
extends_documentation_fragment:
  - djangoops.stack.common
"""

EXAMPLES = r"""
- name: Start the socket and the service, and enable them at boot
  djangoops.stack.units:
    names: [app.socket, app.service]
    state: started
    enabled: true

- name: Look for units an earlier run may have left
  djangoops.stack.units:
    names: [app-ws.service, app-celery-worker.service]
  register: left

- name: Stop and disable the worker units an earlier run may have left
  djangoops.stack.units:
    names: [app-celery-worker.service, app-celery-beat.service]
    state: stopped
    enabled: false
    missing_ok: true
"""

RETURN = r"""
units:
  description: Each unit's state before the task, as C(systemctl show) gave it.
  returned: always
  type: dict
  sample: {"app.service": {"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled"}}
actions:
  description: The units the task started, stopped, enabled and disabled (an empty list for each action it did not take).
  returned: always
  type: dict
  sample: {"started": ["app.socket", "app.service"], "stopped": [], "enabled": ["app.socket"], "disabled": []}
"""

from ansible.module_utils.basic import AnsibleModule

PROPERTIES = ("Id", "LoadState", "ActiveState", "UnitFileState")
RUNNING = {"active", "activating", "reloading", "refreshing"}
# The states for which `systemctl is-enabled` exits 0.
ENABLED = {"enabled", "enabled-runtime", "static", "indirect", "generated", "alias", "transient"}


def read_units(module, systemctl, names):
    """Each unit's properties, in the order systemctl prints them (the order asked)."""
    argv = [systemctl, "show", f"--property={','.join(PROPERTIES)}", "--", *names]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg=f"systemctl show failed: {err.strip() or out.strip()}", rc=rc)
    blocks = [block for block in out.strip().split("\n\n") if block.strip()]
    if len(blocks) != len(names):
        module.fail_json(msg=f"systemctl show described {len(blocks)} units for {len(names)} names", stdout=out)
    units = {}
    for name, block in zip(names, blocks, strict=True):
        properties = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        units[name] = {key: properties.get(key, "") for key in PROPERTIES if key != "Id"}
    return units


def systemctl_all(module, systemctl, verb, names):
    if not names or module.check_mode:
        return
    rc, out, err = module.run_command([systemctl, verb, "--", *names])
    if rc != 0:
        module.fail_json(msg=f"systemctl {verb} {' '.join(names)} failed: {err.strip() or out.strip()}", rc=rc)


def main():
    module = AnsibleModule(
        argument_spec={
            "names": {"type": "list", "elements": "str", "required": True},
            "state": {"type": "str", "choices": ["started", "stopped"]},
            "enabled": {"type": "bool"},
            "missing_ok": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    names = module.params["names"]
    state, enabled = module.params["state"], module.params["enabled"]
    if not names:
        module.fail_json(msg="names must list at least one unit")
    undotted = [name for name in names if "." not in name]
    if undotted:
        module.fail_json(msg=f"give each unit with its suffix (app.service, app.socket): {', '.join(undotted)}")
    systemctl = module.get_bin_path("systemctl", required=True)
    units = read_units(module, systemctl, names)
    missing = [name for name, unit in units.items() if unit["LoadState"] == "not-found"]
    if missing and not module.params["missing_ok"] and (state or enabled is not None):
        module.fail_json(msg=f"systemd knows no unit {', '.join(missing)}", units=units)
    present = [name for name in names if name not in missing]

    enable, disable, start, stop = [], [], [], []
    if enabled is True:
        enable = [name for name in present if units[name]["UnitFileState"] not in ENABLED]
    elif enabled is False:
        disable = [name for name in present if units[name]["UnitFileState"] in {"enabled", "enabled-runtime"}]
    if state == "started":
        start = [name for name in present if units[name]["ActiveState"] not in RUNNING]
    elif state == "stopped":
        stop = [name for name in present if units[name]["ActiveState"] in RUNNING]

    systemctl_all(module, systemctl, "stop", stop)
    systemctl_all(module, systemctl, "disable", disable)
    systemctl_all(module, systemctl, "enable", enable)
    systemctl_all(module, systemctl, "start", start)
    module.exit_json(
        changed=bool(enable or disable or start or stop),
        units=units,
        actions={"started": start, "stopped": stop, "enabled": enable, "disabled": disable},
    )


if __name__ == "__main__":
    main()
