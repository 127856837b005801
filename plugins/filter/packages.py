"""Filters for packages: the Debian packages a host still lacks, and the packages the collection adds
to a release's virtualenv, fitted to the project's own."""

from ansible.errors import AnsibleFilterError


def unpinned(packages, installed):
    """packages (pip requirement strings) with the version dropped from each one whose distribution
    is among installed (the names the project's dependencies installed): the project's version
    stays, and only the requirement's extras and markers are kept."""
    # Imported here, not with the file: Ansible loads every filter file of the collection in each
    # task's worker process that uses one of its filters, and packaging.requirements compiles its
    # grammar's expressions on import (about 13 ms).
    try:
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.utils import canonicalize_name
    except ImportError as error:  # ansible-core depends on packaging; the message says what is missing
        raise AnsibleFilterError(f"unpinned needs the packaging library on the controller: {error}") from error
    present = {canonicalize_name(str(name)) for name in installed}
    fitted = []
    for package in packages:
        try:
            requirement = Requirement(str(package))
        except InvalidRequirement as exc:
            raise AnsibleFilterError(f"unpinned: {package!r} is not a pip requirement: {exc}") from exc
        if canonicalize_name(requirement.name) not in present:
            fitted.append(str(package))
            continue
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        marker = f"; {requirement.marker}" if requirement.marker else ""
        fitted.append(f"{requirement.name}{extras}{marker}")
    return fitted


def missing_packages(names, facts):
    """The Debian packages of names that facts (a host's ansible_facts) do not list as installed:
    package_facts' list, or else the collection's local fact djangoops_packages; all of them when
    the facts hold neither (no read ran, or it failed), so that a role installs what it cannot see."""
    if not isinstance(facts, dict):
        return list(names)
    installed = facts.get("packages")
    if not isinstance(installed, dict):
        local = facts.get("ansible_local")
        installed = local.get("djangoops_packages") if isinstance(local, dict) else None
    if not isinstance(installed, dict):
        return list(names)
    return [name for name in names if name not in installed]


class FilterModule:
    def filters(self):
        return {"unpinned": unpinned, "missing_packages": missing_packages}
