"""Self-signed TLS certificates for the sandbox gateway (``SandboxServer(tls=True)``,
``python -m django_smsrest.sandbox --tls``): made with the ``openssl`` command or, without
it, the ``cryptography`` package; :func:`tls_unavailable_reason` says when neither is
there. Split from :mod:`django_smsrest.testing.sandbox`, which runs the sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

__all__ = ["TlsCertificate", "TlsUnavailable", "make_self_signed_cert", "tls_unavailable_reason"]


class TlsCertificate(NamedTuple):
    """A certificate and its private key, both PEM files. ``cert`` is also the CA bundle
    a client needs to trust a self-signed one."""

    cert: str
    key: str


class TlsUnavailable(RuntimeError):
    """No way to make a certificate here: neither ``openssl`` nor ``cryptography``."""


_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
x509_extensions = v3
prompt = no
[dn]
CN = localhost
O = django-smsrest sandbox (throwaway)
[v3]
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def _has_cryptography() -> bool:
    try:
        import cryptography.x509  # noqa: F401
    except ImportError:
        return False
    return True


def tls_unavailable_reason() -> str | None:
    """``None`` if :func:`make_self_signed_cert` can work here, else why not (for a skip)."""
    if shutil.which("openssl") or _has_cryptography():
        return None
    return (
        "cannot make a TLS certificate: no `openssl` command on PATH and the `cryptography` "
        "package is not installed"
    )


def make_self_signed_cert(directory: str | os.PathLike[str], *, days: int = 2) -> TlsCertificate:
    """Write a throwaway self-signed certificate for ``127.0.0.1``, ``::1`` and
    ``localhost`` (RSA 2048, SHA-256, ``days`` valid, server use only) into ``directory``
    as ``sandbox-cert.pem`` and ``sandbox-key.pem``.

    Uses the ``openssl`` command when present, else the ``cryptography`` package; raises
    :class:`TlsUnavailable` when neither is (see :func:`tls_unavailable_reason`).
    """
    folder = Path(directory)
    cert, key = folder / "sandbox-cert.pem", folder / "sandbox-key.pem"
    openssl = shutil.which("openssl")
    if openssl:
        config = folder / "sandbox-openssl.cnf"
        config.write_text(_OPENSSL_CONFIG)
        # Fixed arguments, no shell; the paths are ours.
        result = subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-days",
                str(days),
                "-config",
                str(config),
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        config.unlink()
        if result.returncode != 0:
            raise TlsUnavailable(f"openssl could not make a certificate: {result.stderr.strip()}")
    elif _has_cryptography():
        _cryptography_cert(cert, key, days)
    else:
        raise TlsUnavailable(tls_unavailable_reason())
    key.chmod(0o600)
    return TlsCertificate(str(cert), str(key))


def _cryptography_cert(cert: Path, key: Path, days: int) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    public = private.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
