# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control node's half of djangoops.stack.packages: apt is called only for what is missing."""

from __future__ import annotations

import os
import re

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

FACT = "djangoops_packages"
# What dpkg can list by name; anything else (name=version, name:arch, patterns, .deb files) goes to apt.
PLAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
APT_OPTIONS = ("update_cache", "cache_valid_time", "install_recommends")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("name", *APT_OPTIONS))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        names = self._task.args.get("name")
        if isinstance(names, str):
            names = [part.strip() for part in names.split(",") if part.strip()]
        if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
            raise AnsibleActionFail("name must be a list of package names")
        # The fact is this run's: with fact caching, one left by an earlier run (whose packages may
        # have changed since) is read again. Workers are children of the run's main process.
        run = os.getppid()
        fact = task_vars.get("ansible_facts", {}).get(FACT)
        known = fact["installed"] if isinstance(fact, dict) and fact.get("run") == run else None
        read_now = known is None
        if read_now:
            read = self._execute_module(
                module_name="djangoops.stack.packages",
                module_args={"name": names},
                task_vars=task_vars,
            )
            if read.get("failed"):
                return {**result, **read}
            known = read["installed"]
        installed = set(known)
        missing = [name for name in names if not (PLAIN_NAME.match(name) and name in installed)]
        if missing:
            arguments = {"name": missing, "state": "present", "update_cache": True, "cache_valid_time": 3600}
            arguments.update({key: self._task.args[key] for key in APT_OPTIONS if self._task.args.get(key) is not None})
            applied = self._execute_module(module_name="ansible.builtin.apt", module_args=arguments, task_vars=task_vars)
            if applied.get("failed"):
                return {**result, **applied, "missing": missing}
            result.update({key: value for key, value in applied.items() if key in ("changed", "stdout", "stderr", "cache_updated")})
            if not self._task.check_mode:
                installed.update(name for name in missing if PLAIN_NAME.match(name))
        result.update(changed=bool(result.get("changed")), missing=missing)
        if read_now or (missing and not self._task.check_mode):
            result["ansible_facts"] = {FACT: {"run": run, "installed": sorted(installed)}}
        return result
