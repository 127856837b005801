# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control node's half of djangoops.stack.files: templates rendered here, one module call there."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

try:  # ansible-core 2.19 and later
    from ansible._internal._templating._template_vars import generate_ansible_template_vars
except ImportError:  # ansible-core 2.17 and 2.18
    from ansible.template import generate_ansible_template_vars

ENTRY_KEYS = {"dest", "template", "vars", "src", "content", "owner", "group", "mode"}
# What ansible.builtin.template does unless told otherwise.
# Passed to the module as they are (the paths module's options).
PATH_ARGS = ("directories", "absent", "links")
TEMPLATE_OVERRIDES = {"trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n"}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("files", "template_paths", "owner", "group", "mode", *PATH_ARGS))

    def find_template(self, entry):
        """A relative name is looked for in template_paths first (the roles' override folders),
        then where ansible.builtin.template looks."""
        name = entry["template"]
        if not os.path.isabs(name):
            for folder in self._task.args.get("template_paths") or []:
                candidate = os.path.join(folder, name)
                if os.path.isfile(candidate):
                    return candidate
        try:
            return self._find_needle("templates", name)
        except AnsibleError as error:
            raise AnsibleActionFail(f"{entry['dest']}: {error}") from error

    def read_source(self, entry):
        """A text file sent as it is, found as ansible.builtin.copy finds its src."""
        try:
            source = self._find_needle("files", entry["src"])
        except AnsibleError as error:
            raise AnsibleActionFail(f"{entry['dest']}: {error}") from error
        return self._loader.get_text_file_contents(source)

    def render(self, entry, task_vars):
        source = self.find_template(entry)
        searchpath = []
        for folder in [*task_vars.get("ansible_search_path", []), self._loader._basedir, os.path.dirname(source)]:
            searchpath += [os.path.join(folder, "templates"), folder]
        variables = task_vars.copy()
        variables.update(
            generate_ansible_template_vars(
                path=entry["template"],
                fullpath=source,
                dest_path=entry["dest"],
                include_ansible_managed="ansible_managed" not in variables,
            )
        )
        variables.update(entry.get("vars") or {})
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=variables)
        data = trust_as_template(self._loader.get_text_file_contents(source))
        rendered = templar.template(data, escape_backslashes=False, overrides=TEMPLATE_OVERRIDES)
        return "" if rendered is None else rendered

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        files = self._task.args.get("files", [])
        path_args = {key: self._task.args[key] for key in PATH_ARGS if self._task.args.get(key)}
        if not isinstance(files, list) or not (files or path_args):
            raise AnsibleActionFail("files must be a list of at least one file (or give directories, absent or links)")
        defaults = {key: self._task.args[key] for key in ("owner", "group", "mode") if self._task.args.get(key) is not None}
        module_files = []
        for index, given in enumerate(files):
            if not isinstance(given, dict) or "dest" not in given:
                raise AnsibleActionFail(f"files[{index}] must be a dictionary with dest")
            entry = {**defaults, **given}
            unknown = set(entry) - ENTRY_KEYS
            if unknown:
                raise AnsibleActionFail(f"{entry['dest']}: unknown keys {', '.join(sorted(unknown))}")
            if isinstance(entry.get("mode"), int):
                raise AnsibleActionFail(f'{entry["dest"]}: quote the mode ("0644"): YAML reads 0644 as the number 420')
            sources = [key for key in ("template", "src", "content") if key in entry]
            if len(sources) != 1:
                raise AnsibleActionFail(f"{entry['dest']}: give exactly one of template, src and content")
            if "template" in entry:
                content = self.render(entry, task_vars)
            elif "src" in entry:
                content = self.read_source(entry)
            else:
                content = str(entry["content"])
            module_files.append(
                {"dest": entry["dest"], "content": content, **{key: entry[key] for key in ("owner", "group", "mode") if key in entry}}
            )
        try:
            result.update(
                self._execute_module(
                    module_name="djangoops.stack.files", module_args={"files": module_files, **path_args}, task_vars=task_vars
                )
            )
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        # The files' text went to the host; the task's result keeps their names, not their text.
        result.pop("invocation", None)
        return result
