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
extends_documentation_fragment:
  - djangoops.stack.paths
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.djangoops.stack.plugins.module_utils import paths


def main():
    module = AnsibleModule(argument_spec=paths.ARGUMENT_SPEC, supports_check_mode=True)
    paths.check(module)
    diffs = []
    changed_paths = paths.remove_and_make(module, diffs) + paths.point_links(module)
    module.exit_json(changed=bool(changed_paths), changed_paths=changed_paths, diff=diffs)


if __name__ == "__main__":
    main()
