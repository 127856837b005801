#!/usr/bin/python
# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A random secret kept in a file on the host: made once, read on every run."""

from __future__ import annotations

DOCUMENTATION = r"""
module: secret
short_description: Make a random secret in a file on the host once, and read it
version_added: 0.1.0
description:
  - When O(path) does not exist, writes a new URL-safe random token (Python's C(secrets.token_urlsafe))
    to it, readable by root only, and reports a change.
  - Returns the file's content either way, so one call both makes and reads it.
  - Run the task with C(no_log) so the secret stays out of logs.
options:
  path:
    description: The file that keeps the secret.
    type: path
    required: true
  nbytes:
    description: Random bytes in a new token (its text is about 1.3 times longer).
    type: int
    default: 32
attributes:
  check_mode:
    description: Can run in check mode and return the changed status without changing the host.
    support: full
    details: In check mode a missing file is reported as a change and RV(secret) is empty.
  diff_mode:
    description: Returns no diff.
    support: none
author:
  - djangoops.stack maintainers (@djangoops)
"""

EXAMPLES = r"""
- name: Keep the app's SECRET_KEY on the host
  djangoops.stack.secret:
    path: /etc/djangoops/app/secret_key
    nbytes: 64
  register: secret_key
  no_log: true
"""

RETURN = r"""
secret:
  description: The secret, without the file's final newline.
  returned: always
  type: str
"""

import os
import secrets

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "nbytes": {"type": "int", "default": 32},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    if module.params["nbytes"] < 16:
        module.fail_json(msg="nbytes must be at least 16")
    changed = False
    if not os.path.exists(path):
        changed = True
        if module.check_mode:
            module.exit_json(changed=True, secret="")
        token = secrets.token_urlsafe(module.params["nbytes"])
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(token + "\n")
    with open(path) as handle:
        value = handle.read().strip()
    if not value:
        module.fail_json(msg=f"{path} is empty: remove it to make a new secret, or write the secret into it")
    module.exit_json(changed=changed, secret=value)


if __name__ == "__main__":
    main()
