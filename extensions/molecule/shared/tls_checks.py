"""TLS scans every web server's scenario runs the same way: sslyze's Mozilla check from outside
the host, testssl.sh from inside it."""

import json
import subprocess
import sys
from pathlib import Path

# The host's own CA, which signs the self_signed sites.
HOST_CA = "/etc/ssl/djangoops/ca.crt"


def published_port(host, port=443):
    """The loopback port Docker publishes the host's port on."""
    published = subprocess.run(["docker", "port", host.backend.host, f"{port}/tcp"], capture_output=True, text=True, check=True)
    return published.stdout.splitlines()[0].rsplit(":", 1)[1]


def sslyze_mozilla(host, site, profile, tmp_path):
    """sslyze's check of Mozilla's profile against the published HTTPS port, the host's CA as the
    trust anchor: (passed, its output)."""
    anchor = tmp_path / "site.pem"
    anchor.write_text(host.file(HOST_CA).content_string)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "sslyze"),
            f"--mozilla_config={profile}",
            f"--certinfo_ca_file={anchor}",
            f"{site}:{published_port(host)}{{127.0.0.1}}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout[-4000:] + result.stderr[-2000:]
    return result.returncode == 0 and "Compliant" in result.stdout, output


def serious_testssl_findings(host, site):
    """testssl.sh's HIGH and CRITICAL findings for the site, run on the host. A self-signed
    certificate has no CRL or OCSP address, which testssl rates HIGH (cert_revocation): a property
    of self-signed certificates, not of the server's TLS, so it is left out.

    Every section that rates a finding runs (protocols, cipher categories, forward secrecy, the
    server's preferences and defaults, headers, vulnerabilities); the client simulation, whose
    findings are all informational, takes half the scan's time and is left out."""
    host.run_expect([0], "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq testssl.sh >/dev/null 2>&1")
    report = host.check_output("mktemp -u /tmp/testssl-XXXXXX.json")
    host.run(
        f"testssl --quiet --color 0 --warnings off -p -s -f -P -S -h -U --ip 127.0.0.1 --add-ca {HOST_CA} --jsonfile {report} https://{site}/ >/dev/null 2>&1"
    )
    findings = json.loads(host.file(report).content_string)
    assert len(findings) > 50, findings  # the whole scan ran
    assert any(f["id"] == "cert_chain_of_trust" and f["severity"] == "OK" for f in findings)
    return [f for f in findings if f["severity"] in ("HIGH", "CRITICAL") and f["id"] != "cert_revocation"]
