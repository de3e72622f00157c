"""The system's CA bundle: where Linux distributions keep it."""

from __future__ import annotations

from pathlib import Path

# Where Linux distributions keep the system trust bundle (the list Go's
# crypto/x509 root_linux.go searches).
SYSTEM_CA_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                   "/etc/ssl/ca-bundle.pem", "/etc/pki/tls/cacert.pem",
                   "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem")
PEM_MARKER = b"-----BEGIN CERTIFICATE-----"


def system_ca_file() -> Path | None:
    return next((Path(p) for p in SYSTEM_CA_FILES if Path(p).is_file()), None)
