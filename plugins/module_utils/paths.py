# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Folders made, links pointed and paths removed: the part the paths and files modules share."""

from __future__ import annotations

import os
import shutil

ARGUMENT_SPEC = {
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
}


def check(module):
    """Fail before anything changes: every path absolute, and no link over a file or folder."""
    params = module.params
    paths = params["absent"] + [entry["path"] for entry in params["directories"] + params["links"]]
    relative = [path for path in paths if not os.path.isabs(path)]
    if relative:
        module.fail_json(msg=f"paths must be absolute: {', '.join(relative)}")
    taken = [entry["path"] for entry in params["links"] if os.path.lexists(entry["path"]) and not os.path.islink(entry["path"])]
    if taken:
        module.fail_json(msg=f"not links, and not replaced: {', '.join(taken)}")


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


def remove_and_make(module, diffs):
    """The removals, then the folders; the paths that changed, in order."""
    changed = [path for path in module.params["absent"] if ensure_absent(module, path)]
    changed += [entry["path"] for entry in module.params["directories"] if ensure_directory(module, entry, diffs)]
    return changed


def point_links(module):
    return [entry["path"] for entry in module.params["links"] if ensure_link(module, entry)]
