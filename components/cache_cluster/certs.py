"""The Compose stack's TLS files: a CA, the server certificate and the client certificate (tls.py says who uses
which). Made with `cryptography` (the certs extra): no subprocess, no openssl configuration file to write, and
the names and extensions are data a test reads back. Pulumi stacks make the same three with pulumi-tls instead.

The certificates follow what strict verifiers (Python >= 3.13's VERIFY_X509_STRICT, Go) ask: a CA with critical
basicConstraints and keyUsage, leaves with subject/authority key identifiers, key usage and extended key usage,
their names only in the subjectAltName.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import tls
from .spec import ClusterSpec

CA_VALIDITY_FACTOR = 2  # the CA outlives the certificates it signs, so they can be renewed under it
CLIENT_COMMON_NAME = "cache-cluster client"


@dataclass(frozen=True)
class Issued:
    cert_pem: str
    key_pem: str


def _key() -> ec.EllipticCurvePrivateKey:
    # P-256: small and fast handshakes; OpenSSL (Redis), Go (the exporter) and Python all take it.
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cache-cluster"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def new_ca(spec: ClusterSpec) -> Issued:
    key = _key()
    now = _now()
    name = _name(f"{spec.name} CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=spec.tls.validity_days * CA_VALIDITY_FACTOR))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(_cert_pem(cert), _key_pem(key))


def _issue(
    ca: Issued, spec: ClusterSpec, common_name: str, *, server: bool, names: tuple[str, ...], ips: tuple[str, ...]
) -> Issued:
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = _key()
    now = _now()
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if server else [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=spec.tls.validity_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=True, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if names or ips:
        alternative: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
        alternative += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(alternative), critical=False)
    return Issued(_cert_pem(builder.sign(ca_key, hashes.SHA256())), _key_pem(key))


def server_certificate(ca: Issued, spec: ClusterSpec) -> Issued:
    """Every server's and sentinel's certificate: serverAuth for clients, clientAuth for replication and the bus."""
    return _issue(
        ca,
        spec,
        f"{spec.name} servers",
        server=True,
        names=tls.server_dns_names(spec),
        ips=tls.server_ip_addresses(spec),
    )


def client_certificate(ca: Issued, spec: ClusterSpec) -> Issued:
    return _issue(ca, spec, CLIENT_COMMON_NAME, server=False, names=(), ips=())


def covered_names(cert_pem: str) -> set[str]:
    """The DNS names and IP addresses a certificate's subjectAltName lists."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        alternative = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = set(alternative.get_values_for_type(x509.DNSName))
    return names | {str(ip) for ip in alternative.get_values_for_type(x509.IPAddress)}


def expires_within(cert_pem: str, days: int) -> bool:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return cert.not_valid_after_utc < _now() + datetime.timedelta(days=days)


def server_certificate_is_current(cert_pem: str, spec: ClusterSpec) -> bool:
    """Whether a kept server certificate still names every server of the spec and is not about to expire."""
    wanted = set(tls.server_dns_names(spec)) | set(tls.server_ip_addresses(spec))
    return wanted <= covered_names(cert_pem) and not expires_within(cert_pem, days=7)
