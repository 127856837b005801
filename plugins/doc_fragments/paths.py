# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The folder, link and removal options the paths and files modules share."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
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
      - Symbolic links to make or point elsewhere, after the folders are made (and the files written).
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
"""
