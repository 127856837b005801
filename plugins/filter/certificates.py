"""Filters for the nginx role's certificates."""

import ipaddress


def certificate_names(site):
    """The subjectAltName entries a site's certificate carries: its server names, then its redirect
    names, "IP:" for addresses (in their canonical form, as a certificate reader prints them) and
    "DNS:" for the rest."""
    names = []
    for name in [*site.get("server_names", []), *site.get("redirect_names", [])]:
        try:
            names.append(f"IP:{ipaddress.ip_address(name)}")
        except ValueError:
            names.append(f"DNS:{name}")
    return names


class FilterModule:
    def filters(self):
        return {"certificate_names": certificate_names}
