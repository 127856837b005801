#!/usr/bin/python
# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Debian packages installed when missing, with one read of dpkg's database per host and run."""

from __future__ import annotations

DOCUMENTATION = r"""
module: packages
short_description: Install Debian packages that are missing, reading what is installed once a run
version_added: 0.1.0
description:
  - Installs the packages of O(name) that dpkg does not list as installed, through
    M(ansible.builtin.apt) with O(update_cache), O(cache_valid_time) and O(install_recommends).
  - What is installed is read from dpkg's database once per host and run (a module call that
    takes a fraction of what loading apt's cache takes) and kept as the host fact
    C(djangoops_packages) (the run it belongs to and the names); later tasks of any role ask that
    fact, and a package this module installs is added to it. A fact of another run (fact caching)
    is read again. When every package is there, no apt call is made, so a run that
    changes nothing pays one cheap call instead of one apt call per role.
  - A name that is not a plain package name (a version C(=1.2), an architecture C(:amd64), a
    pattern or a C(.deb) file) always goes to M(ansible.builtin.apt).
  - The module half reads dpkg's database; the action half (on the control node) decides and calls
    M(ansible.builtin.apt).
options:
  name:
    description: The packages that must be installed.
    type: list
    elements: str
    required: true
  update_cache:
    description: Update apt's package lists before installing (only when something is missing).
    type: bool
    default: true
  cache_valid_time:
    description: Lists newer than this many seconds are not updated.
    type: int
    default: 3600
  install_recommends:
    description: Install the packages' recommended packages too; the distribution's setting when omitted.
    type: bool
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Only adds packages; removing them stays with M(ansible.builtin.apt).
author:
  - djangoops.stack contributors
"""

EXAMPLES = r"""
- name: Install nginx and openssl
  djangoops.stack.packages:
    name: [nginx, openssl]
"""

RETURN = r"""
missing:
  description: The packages that were not installed (and were installed, unless in check mode).
  returned: always
  type: list
  elements: str
installed:
  description: Every installed package's name, as dpkg lists them (the module half only).
  returned: when the module half reads dpkg's database
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "list", "elements": "str", "required": True},
            "update_cache": {"type": "bool", "default": True},
            "cache_valid_time": {"type": "int", "default": 3600},
            "install_recommends": {"type": "bool"},
        },
        supports_check_mode=True,
    )
    dpkg_query = module.get_bin_path("dpkg-query", required=True)
    rc, out, err = module.run_command([dpkg_query, "--show", "--showformat=${db:Status-Status} ${Package}\\n"])
    if rc != 0:
        module.fail_json(msg=f"dpkg-query failed: {err.strip()}", rc=rc)
    installed = sorted({line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("installed ")})
    module.exit_json(changed=False, installed=installed, missing=[name for name in module.params["name"] if name not in installed])


if __name__ == "__main__":
    main()
