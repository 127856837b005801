#!/usr/bin/python
# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a deploy needs to know about an app's releases, read in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: releases
short_description: Read an app's releases, its live and previous release and its marks in one call
version_added: 0.1.0
description:
  - Lists the release folders under O(path), newest first, each with whether it carries the
    completion mark O(marker) (a release is finished only when its build went through every gate).
  - Reads where the links O(current) and O(previous) point, and whether each of O(marks) exists.
  - Changes nothing. One call answers what a completion mark's stat, the live link's stat, two
    folder listings and the previous link's stat answered in five.
options:
  path:
    description: The folder that holds one folder per release.
    type: path
    required: true
  marker:
    description: Name of the file a finished release carries.
    type: str
    required: true
  current:
    description: The link to the live release.
    type: path
    required: true
  previous:
    description: The link to the release a rollback goes back to.
    type: path
    required: true
  marks:
    description: Other files whose existence the caller wants to know, such as the mark a one-time task leaves.
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - djangoops.stack.common
"""

EXAMPLES = r"""
- name: Read the releases and the live one
  djangoops.stack.releases:
    path: /srv/app/releases
    marker: .djangoops-release-complete
    current: /srv/app/current
    previous: /srv/app/previous
  register: state
"""

RETURN = r"""
releases:
  description: The release folders, newest first by their folder's modification time.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The folder's name, the release's id.
      type: str
    path:
      description: The folder's path.
      type: str
    finished:
      description: Whether the folder carries the completion mark.
      type: bool
    mtime:
      description: The folder's modification time, in seconds since the epoch.
      type: float
current:
  description: The absolute path the live link points to, or null when it is not a link.
  returned: always
  type: str
previous:
  description: The absolute path the previous link points to, or null when it is not a link.
  returned: always
  type: str
marks:
  description: For each of O(marks), whether it exists.
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule


def link_target(path):
    """Where a link points, made absolute without resolving further links; None for anything else."""
    if not os.path.islink(path):
        return None
    return os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))


def list_releases(path, marker):
    if not os.path.isdir(path):
        return []
    releases = []
    with os.scandir(path) as entries:
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                continue
            releases.append(
                {
                    "name": entry.name,
                    "path": entry.path,
                    "finished": os.path.isfile(os.path.join(entry.path, marker)),
                    "mtime": entry.stat(follow_symlinks=False).st_mtime,
                }
            )
    return sorted(releases, key=lambda release: (release["mtime"], release["name"]), reverse=True)


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "marker": {"type": "str", "required": True},
            "current": {"type": "path", "required": True},
            "previous": {"type": "path", "required": True},
            "marks": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    if "/" in params["marker"] or params["marker"] in ("", ".", ".."):
        module.fail_json(msg=f"marker must be a file name, not a path: {params['marker']!r}")
    module.exit_json(
        changed=False,
        releases=list_releases(params["path"], params["marker"]),
        current=link_target(params["current"]),
        previous=link_target(params["previous"]),
        marks={mark: os.path.lexists(mark) for mark in params["marks"]},
    )


if __name__ == "__main__":
    main()
