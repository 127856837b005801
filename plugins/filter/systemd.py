"""Filters for systemd: which units are up, from one `systemctl show` of several."""

from ansible.errors import AnsibleFilterError


def units_up(output):
    """The Ids of the units that `systemctl show --property=Id,ActiveState,UnitFileState <units>`
    printed (output: its stdout) as running and enabled at boot. systemctl prints one block of
    Property=value lines per unit, blocks apart by a blank line."""
    if not isinstance(output, str):
        raise AnsibleFilterError(f"units_up takes systemctl show's output, a string, not {type(output).__name__}")
    up = []
    for block in output.split("\n\n"):
        properties = dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line)
        if "Id" not in properties and block.strip():
            raise AnsibleFilterError("units_up needs the Id property in systemctl show's output (--property=Id,...)")
        if properties.get("ActiveState") == "active" and properties.get("UnitFileState") == "enabled":
            up.append(properties["Id"])
    return up


class FilterModule:
    def filters(self):
        return {"units_up": units_up}
