#!/usr/bin/python
# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A system user and its group, made or corrected in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: account
short_description: Make a system group and a system user in it, in one call
version_added: 0.1.0
description:
  - Makes the group O(group) with C(groupadd --system) when the host has none of that name.
  - Makes the user O(name) with C(useradd --system), its primary group O(group), its home
    O(home) (not created) and its shell O(shell); an existing user whose primary group, home or
    shell differ is corrected with C(usermod). Its uid and the group's gid are never changed.
  - What M(ansible.builtin.group) and M(ansible.builtin.user) do with O(ansible.builtin.user#module:system=true)
    and O(ansible.builtin.user#module:create_home=false), in one module call instead of two.
options:
  name:
    description: The user's name.
    type: str
    required: true
  group:
    description: The user's primary group, made when missing.
    type: str
    required: true
  home:
    description: The user's home folder, written into the account only; the folder is not made.
    type: path
    required: true
  shell:
    description: The user's login shell.
    type: path
    default: /usr/sbin/nologin
extends_documentation_fragment:
  - djangoops.stack.common
"""

EXAMPLES = r"""
- name: Create the app's group and user
  djangoops.stack.account:
    name: example
    group: example
    home: /srv/example
"""

RETURN = r"""
uid:
  description: The user's uid (absent in check mode when the user is still to be made).
  returned: when the user exists
  type: int
gid:
  description: The group's gid (absent in check mode when the group is still to be made).
  returned: when the group exists
  type: int
changes:
  description: What the task did, such as C(group made), C(user made) or C(shell corrected).
  returned: always
  type: list
  elements: str
"""

import grp
import pwd

from ansible.module_utils.basic import AnsibleModule


def lookup(table, name):
    try:
        return table(name)
    except KeyError:
        return None


def run(module, argv):
    if module.check_mode:
        return
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg=f"{argv[0]} failed: {err.strip() or out.strip()}", rc=rc, cmd=argv)


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "home": {"type": "path", "required": True},
            "shell": {"type": "path", "default": "/usr/sbin/nologin"},
        },
        supports_check_mode=True,
    )
    name, group, home, shell = (module.params[key] for key in ("name", "group", "home", "shell"))
    changes = []
    if lookup(grp.getgrnam, group) is None:
        run(module, [module.get_bin_path("groupadd", required=True), "--system", group])
        changes.append("group made")
    user = lookup(pwd.getpwnam, name)
    if user is None:
        run(
            module,
            [
                module.get_bin_path("useradd", required=True),
                "--system",
                "--gid", group,
                "--home-dir", home,
                "--no-create-home",
                "--shell", shell,
                name,
            ],
        )  # fmt: skip
        changes.append("user made")
    else:
        gid = lookup(grp.getgrnam, group)
        argv = []
        if gid is None or user.pw_gid != gid.gr_gid:
            argv += ["--gid", group]
            changes.append("primary group corrected")
        if user.pw_dir != home:
            argv += ["--home", home]
            changes.append("home corrected")
        if user.pw_shell != shell:
            argv += ["--shell", shell]
            changes.append("shell corrected")
        if argv:
            run(module, [module.get_bin_path("usermod", required=True), *argv, name])
    result = {"changed": bool(changes), "changes": changes}
    user, group_entry = lookup(pwd.getpwnam, name), lookup(grp.getgrnam, group)
    if user is not None:
        result["uid"] = user.pw_uid
    if group_entry is not None:
        result["gid"] = group_entry.gr_gid
    module.exit_json(**result)


if __name__ == "__main__":
    main()
