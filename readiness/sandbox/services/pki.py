"""The sandbox PKI: root CA -> intermediate CA -> leaf certificates, made at run time.

Everything lands in ``<state>/pki``. ``root-ca.pem`` is the only certificate a sandbox client trusts
(READINESS_CA_BUNDLE). Leaves: ``ingress`` (api./app. names), ``services`` (postgres, redis, smtp,
imap, sso names) and the faulty variants the TLS scenarios swap in: ``ingress-expired``, ``ingress-wronghost``
and ``ingress-weakkey`` (RSA 1024).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from readiness.sandbox.base import Component, ComponentStatus
from readiness.sandbox.services.common import (
    API_HOST,
    APP_HOST,
    DOMAIN,
    IMAP_HOST,
    LOOPBACK,
    POSTGRES_HOST,
    REDIS_HOST,
    SMTP_HOST,
    SSO_HOST,
    ca_bundle,
    cert_paths,
    pki_dir,
)

LEAF_DAYS = 90
#: a leaf with less than this left is made again on `up`
RENEW_BEFORE = dt.timedelta(days=30)

INGRESS_NAMES = [API_HOST, APP_HOST, "localhost", LOOPBACK]
SERVICE_NAMES = [POSTGRES_HOST, REDIS_HOST, SMTP_HOST, IMAP_HOST, SSO_HOST, "localhost", LOOPBACK]
#: bump when the set of leaves or their names change, so `up` makes them again
PKI_LAYOUT = 2


def _key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "prefect-readiness sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _ca_cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey,
    days: int,
    path_length: int,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _leaf_cert(
    names: list[str],
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(_san(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


class PkiComponent(Component):
    name = "pki"
    scenarios: dict[str, str] = {}

    @property
    def dir(self) -> Path:
        return pki_dir(self.ctx)

    def _paths_ok(self) -> bool:
        needed = [ca_bundle(self.ctx), self.dir / "intermediate-ca.pem", self.dir / "intermediate-ca.key"]
        for leaf in ("ingress", "services", "ingress-expired", "ingress-wronghost", "ingress-weakkey"):
            needed.extend(cert_paths(self.ctx, leaf))
        return all(p.exists() for p in needed)

    def _fresh(self) -> bool:
        if not self._paths_ok() or self.ctx.get("pki_layout") != PKI_LAYOUT:
            return False
        now = dt.datetime.now(dt.UTC)
        for leaf in ("ingress", "services", "ingress-wronghost", "ingress-weakkey"):
            cert = _load_cert(cert_paths(self.ctx, leaf)[0])
            if cert.not_valid_after_utc - now < RENEW_BEFORE:
                return False
        inter = _load_cert(self.dir / "intermediate-ca.pem")
        return inter.not_valid_after_utc - now > RENEW_BEFORE

    def up(self) -> None:
        if self._fresh():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        root_key_path = self.dir / "root-ca.key"
        if root_key_path.exists() and ca_bundle(self.ctx).exists():
            root_key = _load_key(root_key_path)
            root = _load_cert(ca_bundle(self.ctx))
        else:
            root_key = _key()
            root = _ca_cert(f"{DOMAIN} sandbox root CA", root_key, None, root_key, 3650, 1)
            _write_key(root_key_path, root_key)
            ca_bundle(self.ctx).write_bytes(_pem(root))
        inter_key = _key()
        inter = _ca_cert(f"{DOMAIN} sandbox intermediate CA", inter_key, root, root_key, 1825, 0)
        _write_key(self.dir / "intermediate-ca.key", inter_key)
        (self.dir / "intermediate-ca.pem").write_bytes(_pem(inter))

        now = dt.datetime.now(dt.UTC)
        valid = (now - dt.timedelta(hours=1), now + dt.timedelta(days=LEAF_DAYS))
        expired = (now - dt.timedelta(days=LEAF_DAYS + 1), now - dt.timedelta(days=1))
        leaves: dict[str, tuple[list[str], int, tuple[dt.datetime, dt.datetime]]] = {
            "ingress": (INGRESS_NAMES, 2048, valid),
            "services": (SERVICE_NAMES, 2048, valid),
            "ingress-expired": (INGRESS_NAMES, 2048, expired),
            "ingress-wronghost": ([f"www.other-{DOMAIN}", f"other-{DOMAIN}"], 2048, valid),
            "ingress-weakkey": (INGRESS_NAMES, 1024, valid),
        }
        for leaf, (names, bits, (start, end)) in leaves.items():
            key = _key(bits)
            cert = _leaf_cert(names, key, inter, inter_key, start, end)
            cert_path, chain_path, key_path = cert_paths(self.ctx, leaf)
            _write_key(key_path, key)
            cert_path.write_bytes(_pem(cert))
            chain_path.write_bytes(_pem(cert) + _pem(inter))
        self.ctx.set("pki_layout", PKI_LAYOUT)

    def down(self) -> None:
        """Nothing runs; the certificates stay for the next `up`."""

    def status(self) -> ComponentStatus:
        if not self._paths_ok():
            return ComponentStatus(self.name, False, "certificates not made yet")
        leaf = _load_cert(cert_paths(self.ctx, "ingress")[0])
        return ComponentStatus(
            self.name,
            True,
            f"root CA {ca_bundle(self.ctx)}; ingress leaf valid to {leaf.not_valid_after_utc:%Y-%m-%d}",
        )

    def env(self) -> dict[str, str]:
        return {
            "READINESS_CA_BUNDLE": str(ca_bundle(self.ctx)),
            "READINESS_DOMAIN": DOMAIN,
        }
