"""OPC UA security for plcsim: self-signed application certificates and password users.

Certificates are generated with ``cryptography`` on first use and kept in a
directory the caller owns, so a restarted server presents the same identity
(clients that pinned it keep working). A certificate is regenerated when it
has expired or no longer names the application URI.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import logging
import os
import socket
from pathlib import Path
from typing import Any

from asyncua.crypto.permission_rules import User, UserRole
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_log = logging.getLogger(__name__)

CERT_FILE = "server_cert.der"
KEY_FILE = "server_key.pem"
VALID_DAYS = 365


def ensure_certificate(
    cert_dir: str | Path,
    application_uri: str,
    *,
    common_name: str = "plcsim",
    cert_name: str = CERT_FILE,
    key_name: str = KEY_FILE,
) -> tuple[Path, Path]:
    """Return (certificate DER path, private key PEM path), generating them if needed."""
    d = Path(cert_dir)
    d.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = d / cert_name, d / key_name
    if cert_path.is_file() and key_path.is_file() and _still_good(cert_path, application_uri):
        return cert_path, key_path
    cert_der, key_pem = make_self_signed(application_uri, common_name)
    # the key is written owner-only before it holds anything
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    cert_path.write_bytes(cert_der)
    _log.info("generated OPC UA certificate %s for %s", cert_path, application_uri)
    return cert_path, key_path


def make_self_signed(application_uri: str, common_name: str = "plcsim") -> tuple[bytes, bytes]:
    """A self-signed RSA-2048/SHA-256 application instance certificate (DER) and its key (PEM).

    OPC UA (Part 6, 6.2.2) wants the application URI as a URI in
    subjectAltName and the key usages needed for signing and for RSA key
    transport; asyncua warns when the host name is missing, so it is added.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "twin"),
    ])
    host = socket.gethostname()
    alt: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    alt += [x509.DNSName(h) for h in dict.fromkeys([host, "localhost"])]
    alt.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew between hosts
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=True,
                data_encipherment=True, key_agreement=False, key_cert_sign=True, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.DER), key_pem


def _still_good(cert_path: Path, application_uri: str) -> bool:
    try:
        cert = x509.load_der_x509_certificate(cert_path.read_bytes())
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier
        )
    except (ValueError, x509.ExtensionNotFound, OSError):
        return False
    # regenerate a day early so a long-running server never presents an expired certificate
    fresh = cert.not_valid_after_utc > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    return fresh and application_uri in uris


class PasswordUserManager:
    """asyncua user manager: a fixed user -> password table, never an admin.

    ``require_secure_channel`` closes a gap in asyncua 2.1: a client may open
    a SecurityPolicy#None channel even when no None endpoint is offered, and
    activate a session on it. On such a channel there is no peer certificate,
    so refusing sessions without one keeps the secured server secured.
    """

    def __init__(self, users: dict[str, str] | None, *, require_secure_channel: bool) -> None:
        self._users = dict(users) if users else None
        self._require_secure = require_secure_channel

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if self._require_secure and not certificate:  # b"" on a None channel
            _log.warning("OPC UA session refused: not on a secured channel")
            return None
        if self._users is None:
            # anonymous access; still a plain User so the address space cannot be edited remotely
            return User(role=UserRole.User, name=username)
        expected = self._users.get(username or "")
        # compare_digest: the time taken must not tell how much of the password was right
        if expected is None or password is None or not hmac.compare_digest(password.encode(), expected.encode()):
            _log.warning("OPC UA session refused for user %r: bad credentials", username)
            return None
        return User(role=UserRole.User, name=username)
