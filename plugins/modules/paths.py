#!/usr/bin/python
# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Folders made and paths removed, many in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: paths
short_description: Make many folders and links, and remove many paths, in one call
version_added: 0.1.0
description:
  - Does for each path what M(ansible.builtin.file) does with O(ansible.builtin.file#module:state=absent)
    or with O(ansible.builtin.file#module:state=directory) and owner, group and mode.
  - One module call for the whole list instead of one per path, so a run that changes nothing
    pays one round trip to the host instead of one per folder.
  - Missing parents of a folder are made with the folder's owner, group and mode, as
    M(ansible.builtin.file) does.
options:
  directories:
    description: Folders to make (with missing parents) and give these attributes, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path on the host.
        type: path
        required: true
      owner:
        description: Owner of the folder; unchanged when omitted.
        type: str
      group:
        description: Group of the folder; unchanged when omitted.
        type: str
      mode:
        description: Mode of the folder, as a quoted octal string; unchanged when omitted.
        type: raw
  absent:
    description: Files, links or folder trees to remove, before the folders are made.
    type: list
    elements: path
    default: []
  links:
    description:
      - Symbolic links to make or point elsewhere, after the folders are made.
      - A link is replaced atomically (a new link renamed over it); a file or folder at its
        path is an error, not replaced.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the link.
        type: path
        required: true
      src:
        description: What the link points to, as it is written into the link.
        type: str
        required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: partial
    details: Owner, group and mode changes of existing folders; made and removed paths are listed in RV(changed_paths).
author:
  - djangoops.stack contributors
"""

EXAMPLES = r"""
- name: Create the app's folders
  djangoops.stack.paths:
    absent: [/etc/app/old.conf]
    directories:
      - {path: /srv/app, owner: root, group: app, mode: "0751"}
      - {path: /srv/app/releases, owner: root, group: app, mode: "0751"}
"""

RETURN = r"""
changed_paths:
  description: The paths made, removed or given other attributes, in order.
  returned: always
  type: list
  elements: str
  sample: [/srv/app/releases]
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule


def ensure_directory(module, entry, diffs):
    """Make the folder (and missing parents) and set its attributes; True when anything changed."""
    path = entry["path"]
    if os.path.lexists(path) and not os.path.isdir(path):
        module.fail_json(msg=f"{path} exists and is not a folder")
    missing = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        current = os.path.dirname(current)
    if missing and module.check_mode:
        return True
    for folder in reversed(missing):
        os.mkdir(folder)
    changed = bool(missing)
    for folder in [*reversed(missing[1:]), path]:
        made = folder in missing
        diff = {"before": {"path": folder, "state": "absent" if made else "directory"}, "after": {"path": folder, "state": "directory"}}
        changed_here = module.set_fs_attributes_if_different(
            module.load_file_common_arguments(entry, path=folder), False, diff, expand=False
        )
        changed = changed or changed_here
        if made or changed_here:
            diffs.append(diff)
    return changed


def ensure_absent(module, path):
    if not os.path.lexists(path):
        return False
    if not module.check_mode:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    return True


def ensure_link(module, entry):
    path, target = entry["path"], entry["src"]
    if os.path.islink(path) and os.readlink(path) == target:
        return False
    if not module.check_mode:
        temporary = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.link")
        os.symlink(target, temporary)
        os.replace(temporary, path)
    return True


def main():
    module = AnsibleModule(
        argument_spec={
            "directories": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "owner": {"type": "str"},
                    "group": {"type": "str"},
                    "mode": {"type": "raw"},
                },
            },
            "absent": {"type": "list", "elements": "path", "default": []},
            "links": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {"path": {"type": "path", "required": True}, "src": {"type": "str", "required": True}},
            },
        },
        supports_check_mode=True,
    )
    links = module.params["links"]
    paths = module.params["absent"] + [entry["path"] for entry in module.params["directories"] + links]
    relative = [path for path in paths if not os.path.isabs(path)]
    if relative:
        module.fail_json(msg=f"paths must be absolute: {', '.join(relative)}")
    taken = [entry["path"] for entry in links if os.path.lexists(entry["path"]) and not os.path.islink(entry["path"])]
    if taken:
        module.fail_json(msg=f"not links, and not replaced: {', '.join(taken)}")
    changed_paths = [path for path in module.params["absent"] if ensure_absent(module, path)]
    diffs = []
    for entry in module.params["directories"]:
        if ensure_directory(module, entry, diffs):
            changed_paths.append(entry["path"])
    changed_paths += [entry["path"] for entry in links if ensure_link(module, entry)]
    module.exit_json(changed=bool(changed_paths), changed_paths=changed_paths, diff=diffs)


if __name__ == "__main__":
    main()
