"""A test certificate authority and a server certificate for 127.0.0.1, made by the openssl CLI.

Nothing is committed: the fixture makes fresh keys per test session. The CA reaches the
client the documented way (``SSL_CERT_FILE``), as a private CA would in production.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import NamedTuple

_EXTENSIONS = """\
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
"""


class Certificates(NamedTuple):
    ca: Path
    """The CA certificate (PEM): what clients trust."""
    cert: Path
    """The server's certificate, signed by the CA, for ``127.0.0.1`` and ``localhost``."""
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificates(directory: Path) -> Certificates | None:
    """Make a CA and a server certificate in `directory`; `None` without the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, csr = directory / "server.pem", directory / "server.key", directory / "server.csr"
    (directory / "ext.cnf").write_text(_EXTENSIONS)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_subject = ["-subj", "/CN=mediaref test CA"]
    ca_usage = ["-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    signed = ["-CA", ca, "-CAkey", ca_key, "-set_serial", "2", "-extfile", directory / "ext.cnf"]
    steps = [
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2", *ca_subject, *ca_usage],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, *signed, "-out", cert, "-days", "2"],
    ]
    for args in steps:
        subprocess.run([openssl, *map(str, args)], check=True, capture_output=True)
    return Certificates(ca, cert, key)
