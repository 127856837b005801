"""Filters for the nginx role's certificates."""

import datetime
import ipaddress

from ansible.errors import AnsibleFilterError


def _x509():
    """cryptography's x509 module, imported when a certificate is read: Ansible loads every filter
    file of the collection in each task's worker process that uses one of its filters, and this
    import alone took about 60 ms there."""
    try:
        from cryptography import x509
    except ImportError:  # ansible-core depends on cryptography; this only keeps the error readable
        return None
    return x509


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


def read_certificate(pem):
    """(not_after, subjectAltName entries, commonName) of a PEM certificate, or None if it does not parse."""
    x509 = _x509()
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError:
        return None
    try:
        alt_names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        alt_names = []
    names = []
    for entry in alt_names:
        if isinstance(entry, x509.IPAddress):
            names.append(f"IP:{entry.value}")
        elif isinstance(entry, x509.DNSName):
            names.append(f"DNS:{entry.value}")
    common_names = certificate.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return certificate.not_valid_after_utc, names, common_names[0].value if common_names else ""


def certificate_check(contents, ca_path, cert_dir, self_signed, acme_sites, renew_days=30, now=None):
    """What the nginx role's self-signed certificates need, from the PEMs read on the host
    (djangoops.stack.contents: path -> text, None where there is no file).

    signed_here: the self-signed sites, and the ACME sites still without a certificate (they get
    a self-signed placeholder). renew: the names ("ca" or a site's) whose certificate is missing,
    does not parse or has fewer than renew_days left. current: True when nothing is to renew and
    every site's certificate names what the site serves."""
    if _x509() is None:
        raise AnsibleFilterError("certificate_check needs the cryptography package on the control node")
    now = now or datetime.datetime.now(datetime.UTC)
    limit = now + datetime.timedelta(days=int(renew_days))

    def path(site):
        return f"{cert_dir}/{site['name']}.crt"

    signed_here = [*self_signed, *(site for site in acme_sites if contents.get(path(site)) is None)]
    renew, current = [], True
    for name, pem, site in [("ca", contents.get(ca_path), None), *((s["name"], contents.get(path(s)), s) for s in signed_here)]:
        read = read_certificate(pem) if pem is not None else None
        if read is None or read[0] < limit:
            renew.append(name)
            current = False
        elif site is not None:
            names, common_name = read[1:]
            if sorted(names) != sorted(certificate_names(site)) or common_name != site["server_names"][0]:
                current = False
    return {"signed_here": signed_here, "renew": renew, "current": current}


class FilterModule:
    def filters(self):
        return {"certificate_names": certificate_names, "certificate_check": certificate_check}
