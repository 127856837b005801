#!/usr/bin/python
# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several small text files read in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: contents
short_description: Read several small text files in one call
version_added: 0.1.0
description:
  - Returns the text of each file in O(paths), or V(null) for a path where there is no file, so a
    first run that finds nothing is not an error.
  - What M(ansible.builtin.slurp) does for one file, for a list of files in one module call, and
    as text rather than base64. Meant for public material the control node parses, such as
    certificates read with the P(community.crypto.x509_certificate_info#filter) filter; do not read
    secrets with it, the text is in the task's result.
  - Changes nothing.
options:
  paths:
    description: Absolute paths of the files to read.
    type: list
    elements: path
    required: true
  max_size:
    description: Largest file read, in bytes; a larger file fails the task.
    type: int
    default: 1048576
extends_documentation_fragment:
  - djangoops.stack.common
"""

EXAMPLES = r"""
- name: Read the site's certificate and the CA's
  djangoops.stack.contents:
    paths: [/etc/ssl/djangoops/ca.crt, /etc/ssl/djangoops/example.crt]
  register: pems

- name: Show when the site's certificate expires
  ansible.builtin.debug:
    msg: "{{ (pems.contents['/etc/ssl/djangoops/example.crt'] | community.crypto.x509_certificate_info).not_after }}"
  when: pems.contents['/etc/ssl/djangoops/example.crt'] is not none
"""

RETURN = r"""
contents:
  description: Each path's text, or V(null) when there is no file there.
  returned: always
  type: dict
  sample: {"/etc/ssl/djangoops/ca.crt": "-----BEGIN CERTIFICATE-----\n...", "/etc/ssl/djangoops/new.crt": null}
"""

import os

from ansible.module_utils.basic import AnsibleModule


def read(module, path, max_size):
    if not os.path.isabs(path):
        module.fail_json(msg=f"{path}: the path must be absolute")
    if not os.path.exists(path):
        return None
    if not os.path.isfile(path):
        module.fail_json(msg=f"{path} exists and is not a file")
    size = os.path.getsize(path)
    if size > max_size:
        module.fail_json(msg=f"{path} has {size} bytes, more than max_size ({max_size})")
    with open(path, encoding="utf-8", errors="strict") as handle:
        try:
            return handle.read()
        except UnicodeDecodeError:
            module.fail_json(msg=f"{path} is not UTF-8 text")


def main():
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "path", "required": True},
            "max_size": {"type": "int", "default": 1048576},
        },
        supports_check_mode=True,
    )
    max_size = module.params["max_size"]
    module.exit_json(changed=False, contents={path: read(module, path, max_size) for path in module.params["paths"]})


if __name__ == "__main__":
    main()
