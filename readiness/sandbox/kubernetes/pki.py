"""Key material for the sandbox control plane, generated at run time into the state folder.

Nothing here is checked in: a cluster CA, the apiserver serving certificate signed by it (so clients
verify TLS instead of skipping it), the service-account signing key pair and a static token file with
one token per control-plane identity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from readiness.sandbox import certs

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
        ca = certs.ca_certificate(
            certs.name("readiness-sandbox-ca"), ca_key, not_before=now, not_after=now + dt.timedelta(days=365)
        )
        certs.write_private_key(pki.ca_key, ca_key)
        pki.ca_cert.write_bytes(certs.pem(ca))
        pki.serving_cert.unlink(missing_ok=True)

    if not (pki.serving_cert.exists() and pki.serving_key.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = certs.leaf_certificate(
            certs.name("kube-apiserver"),
            [*SERVING_DNS, *SERVING_IPS],
            key,
            certs.load_certificate(pki.ca_cert),
            certs.load_private_key(pki.ca_key),
            not_before=now,
            not_after=now + dt.timedelta(days=365),
            usages=[x509.ExtendedKeyUsageOID.SERVER_AUTH],
        )
        certs.write_private_key(pki.serving_key, key)
        pki.serving_cert.write_bytes(certs.pem(cert))

    if not (pki.sa_key.exists() and pki.sa_pub.exists()):
        sa = ec.generate_private_key(ec.SECP256R1())
        certs.write_private_key(pki.sa_key, sa)
        pki.sa_pub.write_bytes(
            sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    if not pki.token_file.exists():
        lines = []
        for identity, (user, groups) in IDENTITIES.items():
            token = secret(f"k8s-token-{identity}")
            group_field = f',"{",".join(groups)}"' if groups else ""
            lines.append(f"{token},{user},{user}{group_field}")
        pki.token_file.write_text("\n".join(lines) + "\n")
        pki.token_file.chmod(0o600)
    return pki
