"""The names a self-signed site's certificate carries, and the check that decides whether the nginx role
makes its certificates again, on certificates made here with the cryptography package."""

import datetime
import importlib.util
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import ROOT

spec = importlib.util.spec_from_file_location("certificates", ROOT / "plugins/filter/certificates.py")
certificates = importlib.util.module_from_spec(spec)
spec.loader.exec_module(certificates)


def test_server_names_then_redirect_names_with_addresses_as_ip_entries():
    site = {"server_names": ["localhost", "127.0.0.1"], "redirect_names": ["www.example.com", "::1"]}
    assert certificates.certificate_names(site) == ["DNS:localhost", "IP:127.0.0.1", "DNS:www.example.com", "IP:::1"]


def test_addresses_in_their_canonical_form_and_dotted_names_that_are_not_addresses():
    site = {"server_names": ["0:0:0:0:0:0:0:1", "1.2.3", "app.example.com"], "redirect_names": []}
    assert certificates.certificate_names(site) == ["IP:::1", "DNS:1.2.3", "DNS:app.example.com"]


def make_certificate(common_name, alt_names, days, now):
    """A PEM certificate valid from a day before now for days, carrying these subjectAltName entries."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    entries = [
        x509.IPAddress(ipaddress.ip_address(value[3:])) if value.startswith("IP:") else x509.DNSName(value[4:]) for value in alt_names
    ]
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    if entries:
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)
SITE = {"name": "example", "server_names": ["example.test", "127.0.0.1"], "redirect_names": []}
ACME = {"name": "shop", "server_names": ["shop.test"], "redirect_names": []}


def contents(**certificates):
    return {f"/etc/ssl/djangoops/{name}.crt": pem for name, pem in certificates.items()}


def check(read, acme=()):
    return certificates.certificate_check(read, "/etc/ssl/djangoops/ca.crt", "/etc/ssl/djangoops", [SITE], list(acme), now=NOW)


def test_certificates_that_name_the_site_and_have_time_left_are_current():
    read = contents(
        ca=make_certificate("CA", [], 3650, NOW), example=make_certificate("example.test", ["DNS:example.test", "IP:127.0.0.1"], 365, NOW)
    )
    assert check(read) == {"signed_here": [SITE], "renew": [], "current": True}


def test_a_missing_or_unreadable_certificate_is_made_again():
    ca = make_certificate("CA", [], 3650, NOW)
    assert check(contents(ca=ca, example=None)) == {"signed_here": [SITE], "renew": ["example"], "current": False}
    assert check(contents(ca="not a certificate", example=None))["renew"] == ["ca", "example"]


def test_fewer_than_thirty_days_left_renews_the_certificate():
    read = contents(
        ca=make_certificate("CA", [], 3650, NOW), example=make_certificate("example.test", ["DNS:example.test", "IP:127.0.0.1"], 29, NOW)
    )
    assert check(read) == {"signed_here": [SITE], "renew": ["example"], "current": False}


def test_a_certificate_for_other_names_is_not_current_but_not_renewed():
    ca = make_certificate("CA", [], 3650, NOW)
    for example in (
        make_certificate("example.test", ["DNS:example.test"], 365, NOW),  # a name is missing
        make_certificate("other.test", ["DNS:example.test", "IP:127.0.0.1"], 365, NOW),  # another common name
    ):
        assert check(contents(ca=ca, example=example)) == {"signed_here": [SITE], "renew": [], "current": False}


def test_an_acme_site_gets_a_self_signed_placeholder_until_it_has_a_certificate():
    ca = make_certificate("CA", [], 3650, NOW)
    example = make_certificate("example.test", ["DNS:example.test", "IP:127.0.0.1"], 365, NOW)
    waiting = check(contents(ca=ca, example=example, shop=None), acme=[ACME])
    assert waiting == {"signed_here": [SITE, ACME], "renew": ["shop"], "current": False}
    # Once issued (a link into certbot's folder), it is certbot's to renew, not the role's.
    issued = check(contents(ca=ca, example=example, shop=make_certificate("shop.test", ["DNS:shop.test"], 5, NOW)), acme=[ACME])
    assert issued == {"signed_here": [SITE], "renew": [], "current": True}
