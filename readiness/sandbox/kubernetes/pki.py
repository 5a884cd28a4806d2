"""Key material for the sandbox control plane, generated at run time into the state folder.

Nothing here is checked in: a cluster CA, the apiserver serving certificate signed by it (so clients
verify TLS instead of skipping it), the service-account signing key pair and a static token file with
one token per control-plane identity.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: identity -> (user name, groups) for the static token file
IDENTITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("sandbox-admin", ("system:masters",)),
    "kube-controller-manager": ("system:kube-controller-manager", ()),
    "kube-scheduler": ("system:kube-scheduler", ()),
    # kwok writes node and pod status for thousands of objects: give it cluster-admin.
    "kwok": ("system:kwok-controller", ("system:masters",)),
}

SERVING_DNS = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
SERVING_IPS = ("127.0.0.1", "10.96.0.1")


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    sa_key: Path
    sa_pub: Path
    token_file: Path

    def token(self, identity: str) -> str:
        for line in self.token_file.read_text().splitlines():
            token, user, *_ = line.split(",")
            if user == IDENTITIES[identity][0]:
                return token
        raise KeyError(identity)


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def ensure_pki(directory: Path, secret: Callable[[str], str]) -> Pki:
    """Create (once) every file under `directory`; `secret(name)` returns a persisted random token."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    pki = Pki(
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        sa_key=directory / "sa.key",
        sa_pub=directory / "sa.pub",
        token_file=directory / "tokens.csv",
    )
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

    if not (pki.ca_cert.exists() and pki.ca_key.exists()):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "readiness-sandbox-ca")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(pki.ca_key, _key_pem(ca_key))
        pki.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        pki.serving_cert.unlink(missing_ok=True)

    if not (pki.serving_cert.exists() and pki.serving_key.exists()):
        ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
        ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in SERVING_DNS]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in SERVING_IPS]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        _write_private(pki.serving_key, _key_pem(key))
        pki.serving_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    if not (pki.sa_key.exists() and pki.sa_pub.exists()):
        sa = ec.generate_private_key(ec.SECP256R1())
        _write_private(pki.sa_key, _key_pem(sa))
        pki.sa_pub.write_bytes(
            sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    if not pki.token_file.exists():
        lines = []
        for identity, (user, groups) in IDENTITIES.items():
            token = secret(f"k8s-token-{identity}")
            group_field = f',"{",".join(groups)}"' if groups else ""
            lines.append(f"{token},{user},{user}{group_field}")
        _write_private(pki.token_file, ("\n".join(lines) + "\n").encode())
    return pki
