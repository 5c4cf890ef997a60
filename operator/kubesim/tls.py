"""Certificates: a throw-away CA that issues serving and client certificates, made once per process.

kubesim serves HTTPS because client-go (kubectl, helm) sends the credentials of a kubeconfig only over
TLS: against an ``http://`` server every kubectl request is anonymous. The CA goes into the kubeconfig
(``certificate-authority-data``) and into ``Cluster.ca_file``, so clients verify the server as usual.
The same small CA (as envtest's ``TinyCA``) issues the client certificates and the ServiceAccount signing
key a local upstream control plane needs (``k8slocal``). Elliptic-curve keys keep generation to a
millisecond or two.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class ServingCerts:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    # The CA itself, for the client certificates the server needs (its kubelet client).
    ca: CertificateAuthority | None = None

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # load_cert_chain reads files only; the key lives in a private temporary directory for a moment.
        with tempfile.TemporaryDirectory(prefix="kubesim-tls-") as tmp:
            cert = Path(tmp) / "tls.crt"
            key = Path(tmp) / "tls.key"
            cert.write_bytes(self.cert_pem + self.ca_pem)
            key.write_bytes(self.key_pem)
            key.chmod(0o600)
            ctx.load_cert_chain(cert, key)
        return ctx


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def new_signing_key() -> tuple[bytes, bytes]:
    """A key pair (private PEM, public PEM) for signing tokens, such as ServiceAccount tokens (ES256)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_key_pem(key), public


class CertificateAuthority:
    """A self-signed CA that issues leaf certificates for servers and for clients.

    Kubernetes reads a client certificate's common name as the user and its organizations as the groups.
    """

    def __init__(self, common_name: str = "kubesim-ca", *, pem: tuple[bytes, bytes] | None = None) -> None:
        """A new CA, or with ``pem`` (certificate, key) the CA made earlier (a restart keeps the
        kubeconfigs and certificates it issued valid)."""
        self._start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        if pem is not None:
            self.cert = x509.load_pem_x509_certificate(pem[0])
            key = serialization.load_pem_private_key(pem[1], password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError("the CA key is not an elliptic-curve key made by this module")
            self._key = key
            self._name = self.cert.subject
            self._ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
            self.cert_pem, self.key_pem = pem
            return
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = _name(common_name)
        self._ski = x509.SubjectKeyIdentifier.from_public_key(self._key.public_key())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._start)
            .not_valid_after(self._start + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(self._ski, critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.key_pem = private_key_pem(self._key)

    def issue(
        self,
        common_name: str,
        *,
        organizations: Sequence[str] = (),
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        server: bool = False,
        client: bool = False,
    ) -> KeyPair:
        usages = []
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        if not usages:
            raise ValueError("a certificate must be for a server, a client or both")
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, organizations))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._start)
            .not_valid_after(self._start + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._ski), critical=False
            )
        )
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        sans.extend(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return KeyPair(cert.public_bytes(serialization.Encoding.PEM), private_key_pem(key))


def generate(ip_addresses: tuple[str, ...] = ("127.0.0.1",)) -> ServingCerts:
    ca = CertificateAuthority()
    leaf = ca.issue("kube-apiserver", dns_names=SERVER_NAMES, ip_addresses=ip_addresses, server=True)
    return ServingCerts(ca_pem=ca.cert_pem, cert_pem=leaf.cert_pem, key_pem=leaf.key_pem, ca=ca)


_cache: dict[tuple[str, ...], ServingCerts] = {}
_cache_lock = threading.Lock()


def serving_certs(host: str) -> ServingCerts:
    """The process's certificates for ``host`` (an IP address or a name), made on first use."""
    try:
        ips: tuple[str, ...] = tuple(sorted({"127.0.0.1", str(ipaddress.ip_address(host))}))
    except ValueError:
        ips = ("127.0.0.1",)
    with _cache_lock:
        certs = _cache.get(ips)
        if certs is None:
            certs = _cache[ips] = generate(ips)
        return certs
