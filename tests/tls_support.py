"""Certificates made at test time for the TLS/mTLS tests (a CA, a server and a client certificate)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _key_and_cert(tmp: Path, name: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None, ca: bool):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    cert = builder.sign(issuer_key, hashes.SHA256())
    key_path, cert_path = tmp / f"{name}.key", tmp / f"{name}.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return subject, key, key_path, cert_path


def make_pki(tmp: Path) -> dict:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, both signed by the CA,
    as PEM files under ``tmp``: ``{"ca": path, "server": (cert, key), "client": (cert, key)}``."""
    ca_name, ca_key, _, ca_cert = _key_and_cert(tmp, "ca", None, ca=True)
    _, _, server_key, server_cert = _key_and_cert(tmp, "server", (ca_name, ca_key), ca=False)
    _, _, client_key, client_cert = _key_and_cert(tmp, "client", (ca_name, ca_key), ca=False)
    return {"ca": ca_cert, "server": (server_cert, server_key), "client": (client_cert, client_key)}
