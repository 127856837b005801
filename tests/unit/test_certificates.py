"""The names a self-signed site's certificate carries, compared with what a certificate reader prints."""

import importlib.util

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
