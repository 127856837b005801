"""Stands in for ansible-test's pip bootstrap script where its download host cannot be reached:
pip from the interpreter's own ensurepip, then the pip release ansible-test asks for. That pip
trusts the system's certificates (truststore); the bundled one only its own, so it is given the
system's bundle for this one install."""

import ensurepip
import os
import ssl
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
arguments = [argument for argument in sys.argv[1:] if argument not in ("--no-setuptools", "--no-wheel")]
for bundle in (ssl.get_default_verify_paths().cafile, "/etc/ssl/certs/ca-certificates.crt"):
    if bundle and os.path.isfile(bundle):
        arguments = ["--cert", bundle, *arguments]
        break
subprocess.check_call([sys.executable, "-m", "pip", "install", *arguments])
