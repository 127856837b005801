#!/usr/bin/python
# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many files written from templates or text, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: files
short_description: Write many files from templates or text in one call
version_added: 0.1.0
description:
  - Renders each template on the control node, as M(ansible.builtin.template) does (the same
    variables, C(ansible_managed) included, and C(trim_blocks)), then sends every file to the
    host in one module call.
  - On the host, a file whose content differs is replaced atomically, by a file made beside it
    that already has its owner, group and mode. A file whose content is the same only gets the
    owner, group and mode it should have.
  - M(ansible.builtin.template) and M(ansible.builtin.copy) make two calls for a file that needs
    no change (a checksum, then the attributes); this makes one for the whole list, so a run that
    changes nothing is shorter.
  - RV(changed_files) names the files that changed, for tasks that act on one of them only
    (reload a unit, restart a service).
  - The same call can remove paths, make folders and point links, as M(djangoops.stack.paths)
    does: removals and folders first, then the files, then the links.
extends_documentation_fragment:
  - djangoops.stack.paths
options:
  template_paths:
    description:
      - Folders where a relative O(files[].template) is looked for first, in order (a role's
        override folder, then its own C(templates)), before where M(ansible.builtin.template) looks.
    type: list
    elements: path
    default: []
  owner:
    description: Owner of every file that does not name its own.
    type: str
  group:
    description: Group of every file that does not name its own.
    type: str
  mode:
    description: Mode of every file that does not give its own.
    type: str
  files:
    description: The files, written in order.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file on the host; its folder must exist or be one of O(directories).
        type: path
        required: true
      template:
        description:
          - A template, found as M(ansible.builtin.template) finds its O(ansible.builtin.template#module:src)
            (the role's C(templates) folder, or an absolute path).
          - Exactly one of O(files[].template), O(files[].src) and O(files[].content).
        type: path
      src:
        description: A text file sent as it is, found as M(ansible.builtin.copy) finds its O(ansible.builtin.copy#module:src) (the role's C(files) folder, or an absolute path).
        type: path
      vars:
        description: Variables for this file's template only, as a loop variable would be.
        type: dict
        default: {}
      content:
        description: The file's text, written as given.
        type: str
      owner:
        description: Owner of the file; unchanged when omitted.
        type: str
      group:
        description: Group of the file; unchanged when omitted.
        type: str
      mode:
        description: Mode of the file, as a quoted octal string; a new file gets V(0644) when omitted.
        type: str
attributes:
  action:
    support: full
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - djangoops.stack contributors
notes:
  - Run the task with C(no_log) when a file holds secrets.
"""

EXAMPLES = r"""
- name: Write the unit and its configuration
  djangoops.stack.files:
    files:
      - {template: etc/systemd/system/app.service.j2, dest: /etc/systemd/system/app.service, owner: root, group: root, mode: "0644"}
      - {content: "{{ settings | to_nice_json }}\n", dest: /etc/app/settings.json, owner: root, group: app, mode: "0640"}
  register: app_files

- name: Reload systemd for a changed unit
  ansible.builtin.systemd_service:
    daemon_reload: true
  when: "'/etc/systemd/system/app.service' in app_files.changed_files"
"""

RETURN = r"""
changed_files:
  description: The files whose content, owner, group or mode changed, in order.
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/system/app.service]
changed_paths:
  description: The paths removed, folders made or given other attributes, and links pointed, in order.
  returned: always
  type: list
  elements: str
  sample: [/etc/nginx/sites-enabled/example]
"""

import grp
import os
import pwd
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.djangoops.stack.plugins.module_utils import paths


def account_id(module, name, kind):
    """The uid of a user or the gid of a group by name; -1 (unchanged) for None."""
    if name is None:
        return -1
    try:
        return pwd.getpwnam(name).pw_uid if kind == "user" else grp.getgrnam(name).gr_gid
    except KeyError:
        module.fail_json(msg=f"no {kind} {name} on the host")


def file_mode(module, entry):
    mode = entry["mode"]
    if mode is None:
        return None
    try:
        value = int(str(mode), 8)
    except ValueError:
        module.fail_json(msg=f"{entry['dest']}: mode must be an octal string such as '0644', not {mode!r}")
    if not 0 <= value <= 0o7777:
        module.fail_json(msg=f"{entry['dest']}: mode {mode!r} is out of range")
    return value


def read_current(module, dest):
    if not os.path.lexists(dest):
        return None
    if os.path.islink(dest) or not os.path.isfile(dest):
        module.fail_json(msg=f"{dest} exists and is not a regular file")
    with open(dest, "rb") as handle:
        return handle.read()


def replace(module, entry, data):
    """Write data beside dest with its final owner, group and mode, then rename it over dest."""
    dest = entry["dest"]
    folder = os.path.dirname(dest)
    mode = file_mode(module, entry)
    if mode is None:
        mode = os.stat(dest).st_mode & 0o7777 if os.path.exists(dest) else 0o644
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(dest)}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chown(temporary, account_id(module, entry["owner"], "user"), account_id(module, entry["group"], "group"))
        os.chmod(temporary, mode)
        os.replace(temporary, dest)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def main():
    module = AnsibleModule(
        argument_spec={
            **paths.ARGUMENT_SPEC,
            "files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "dest": {"type": "path", "required": True},
                    "content": {"type": "str", "required": True},
                    "owner": {"type": "str"},
                    "group": {"type": "str"},
                    "mode": {"type": "str"},
                },
            },
        },
        supports_check_mode=True,
    )
    # Every file and path is checked before the first change.
    paths.check(module)
    made = {entry["path"] for entry in module.params["directories"]}
    planned = []
    for entry in module.params["files"]:
        dest = entry["dest"]
        if not os.path.isabs(dest):
            module.fail_json(msg=f"{dest}: the path must be absolute")
        if os.path.dirname(dest) not in made and not os.path.isdir(os.path.dirname(dest)):
            module.fail_json(msg=f"{dest}: the folder {os.path.dirname(dest)} does not exist")
        file_mode(module, entry)
        account_id(module, entry["owner"], "user")
        account_id(module, entry["group"], "group")
        planned.append((entry, read_current(module, dest)))
    diffs = []
    changed_paths = paths.remove_and_make(module, diffs)
    changed_files = []
    for entry, current in planned:
        dest = entry["dest"]
        data = entry["content"].encode("utf-8")
        if current != data:
            changed_files.append(dest)
            if module._diff:
                diffs.append(
                    {
                        "before_header": dest,
                        "after_header": dest,
                        "before": "" if current is None else current.decode("utf-8", errors="replace"),
                        "after": entry["content"],
                    }
                )
            if not module.check_mode:
                replace(module, entry, data)
            continue
        attributes = module.load_file_common_arguments(entry, path=dest)
        diff = {"before": {"path": dest}, "after": {"path": dest}}
        if module.set_fs_attributes_if_different(attributes, False, diff, expand=False):
            changed_files.append(dest)
            diffs.append(diff)
    changed_paths += paths.point_links(module)
    module.exit_json(changed=bool(changed_files or changed_paths), changed_files=changed_files, changed_paths=changed_paths, diff=diffs)


if __name__ == "__main__":
    main()
