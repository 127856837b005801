# Copyright: djangoops.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup plugin: a content digest of a directory tree on the controller."""

DOCUMENTATION = r"""
name: tree_digest
author: djangoops.stack maintainers (@djangoops)
version_added: "0.1.0"
short_description: SHA-256 digest of a directory tree's names and contents
description:
  - Walks a directory on the controller and returns one SHA-256 hex digest over every regular
    file's relative path, executable bit and content, in a stable order.
  - A single file (a built wheel) gives the digest of its name and content.
  - The same tree gives the same digest on any machine; renaming, editing, adding or removing a
    file changes it. Modification times and ownership do not count.
  - Byte-code caches and version-control folders are left out, as are the names in O(exclude).
options:
  _terms:
    description: Directories (or files) to digest, one digest each.
    required: true
  exclude:
    description: More file or folder names to leave out, wherever they stand in the tree.
    type: list
    elements: str
    default: []
  in_collection:
    description:
      - The terms are paths inside this collection (C(roles/django_app)), wherever it is
        installed. A playbook digests the collection's own content this way, without knowing
        where it is.
    type: bool
    default: false
    version_added: "0.1.0"
"""

EXAMPLES = r"""
- name: Name a release after the code it holds
  ansible.builtin.set_fact:
    release_id: "{{ lookup('djangoops.stack.tree_digest', playbook_dir ~ '/src')[:12] }}"

- name: Digest what the collection's django_app role is made of
  ansible.builtin.set_fact:
    role_digest: "{{ lookup('djangoops.stack.tree_digest', 'roles/django_app', in_collection=true) }}"
"""

RETURN = r"""
_raw:
  description: One hex digest per directory.
  type: list
  elements: str
"""

import hashlib
import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

# This file is plugins/lookup/tree_digest.py of the collection.
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALWAYS_EXCLUDED = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"})


def tree_digest(root, exclude=()):
    """Return the SHA-256 hex digest of the tree at ``root`` (or of the file ``root``)."""
    if os.path.isfile(root):
        digest = hashlib.sha256(f"{os.path.basename(root)}\0".encode())
        with open(root, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                digest.update(chunk)
        return digest.hexdigest()
    if not os.path.isdir(root):
        raise AnsibleLookupError(f"tree_digest: '{root}' is neither a directory nor a file")
    skipped = ALWAYS_EXCLUDED | set(exclude)
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skipped)
        for name in sorted(filenames):
            if name in skipped or name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(dirpath, name)
            if not os.path.isfile(path):
                continue
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            executable = os.access(path, os.X_OK)
            digest.update(f"{relative}\0{int(executable)}\0".encode())
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 16), b""):
                    digest.update(chunk)
            digest.update(b"\0")
    return digest.hexdigest()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        exclude = self.get_option("exclude")
        if self.get_option("in_collection"):
            paths = []
            for term in terms:
                path = os.path.normpath(os.path.join(COLLECTION_ROOT, str(term)))
                if os.path.isabs(str(term)) or not path.startswith(COLLECTION_ROOT + os.sep):
                    raise AnsibleLookupError(f"tree_digest: '{term}' is not a path inside the collection")
                paths.append(path)
        else:
            paths = [os.path.expanduser(str(term)) for term in terms]
        return [tree_digest(path, exclude) for path in paths]
