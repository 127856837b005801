"""Filters that compare what a role would write with what a host holds, from one find."""

import hashlib

from ansible.errors import AnsibleFilterError


def file_in_sync(found, path, content, owner=None, group=None, mode=None):
    """Whether the file at path, among found (ansible.builtin.find's files, read with
    get_checksum), holds content (text, written as UTF-8) with owner, group and mode (those
    given). A file not among them is not in sync."""
    if not isinstance(found, list):
        raise AnsibleFilterError("file_in_sync takes the files ansible.builtin.find returned (its 'files')")
    entry = next((item for item in found if item.get("path") == path), None)
    if entry is None or "checksum" not in entry:
        return False
    if hashlib.sha1(str(content).encode("utf-8")).hexdigest() != entry["checksum"]:  # noqa: S324  # find's own checksum
        return False
    if owner is not None and str(owner) != entry.get("pw_name"):
        return False
    if group is not None and str(group) != entry.get("gr_name"):
        return False
    if mode is not None:
        try:
            return int(str(mode), 8) == int(str(entry.get("mode")), 8)
        except ValueError as exc:
            raise AnsibleFilterError(f"file_in_sync: mode {mode!r} is not an octal string") from exc
    return True


class FilterModule:
    def filters(self):
        return {"file_in_sync": file_in_sync}
