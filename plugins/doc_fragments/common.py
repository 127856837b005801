# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What most of the collection's modules share: full check mode, no diff, and their authors."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and return the changed status without changing the host.
    support: full
  diff_mode:
    description: Returns no diff.
    support: none
author:
  - djangoops.stack maintainers (@djangoops)
"""
