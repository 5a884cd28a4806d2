"""The sandbox PKI: root CA -> intermediate CA -> leaf certificates, made at run time.

Everything lands in ``<state>/pki``. ``root-ca.pem`` is the only certificate a sandbox client trusts
(READINESS_CA_BUNDLE). Leaves: ``ingress`` (api./app. names), ``services`` (postgres, redis, smtp,
imap, sso names) and the faulty variants the TLS scenarios swap in: ``ingress-expired``, ``ingress-wronghost``
and ``ingress-weakkey`` (RSA 1024) and ``ingress-expiring`` (valid for EXPIRING_DAYS more days only).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from readiness.sandbox import certs
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
#: the expiring-soon leaf's life: inside any sensible renewal headroom, still valid for a while
EXPIRING_DAYS = 10

INGRESS_NAMES = [API_HOST, APP_HOST, "localhost", LOOPBACK]
SERVICE_NAMES = [POSTGRES_HOST, REDIS_HOST, SMTP_HOST, IMAP_HOST, SSO_HOST, "localhost", LOOPBACK]
#: bump when the set of leaves or their names change, so `up` makes them again
PKI_LAYOUT = 3


def _key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _name(cn: str) -> x509.Name:
    return certs.name(cn, organization="prefect-readiness sandbox")


def _ca_cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey,
    days: int,
    path_length: int,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return certs.ca_certificate(
        _name(subject),
        key,
        not_before=now - dt.timedelta(hours=1),
        not_after=now + dt.timedelta(days=days),
        issuer=issuer,
        issuer_key=issuer_key if issuer is not None else None,
        path_length=path_length,
    )


class PkiComponent(Component):
    name = "pki"
    scenarios: dict[str, str] = {}

    @property
    def dir(self) -> Path:
        return pki_dir(self.ctx)

    def _paths_ok(self) -> bool:
        needed = [ca_bundle(self.ctx), self.dir / "intermediate-ca.pem", self.dir / "intermediate-ca.key"]
        for leaf in (
            "ingress",
            "services",
            "ingress-expired",
            "ingress-wronghost",
            "ingress-weakkey",
            "ingress-expiring",
        ):
            needed.extend(cert_paths(self.ctx, leaf))
        return all(p.exists() for p in needed)

    def _fresh(self) -> bool:
        if not self._paths_ok() or self.ctx.get("pki_layout") != PKI_LAYOUT:
            return False
        now = dt.datetime.now(dt.UTC)
        for leaf in ("ingress", "services", "ingress-wronghost", "ingress-weakkey"):
            cert = certs.load_certificate(cert_paths(self.ctx, leaf)[0])
            if cert.not_valid_after_utc - now < RENEW_BEFORE:
                return False
        expiring = certs.load_certificate(cert_paths(self.ctx, "ingress-expiring")[0]).not_valid_after_utc - now
        if not dt.timedelta(days=EXPIRING_DAYS - 3) < expiring <= dt.timedelta(days=EXPIRING_DAYS):
            return False
        inter = certs.load_certificate(self.dir / "intermediate-ca.pem")
        return inter.not_valid_after_utc - now > RENEW_BEFORE

    def up(self) -> None:
        if self._fresh():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        root_key_path = self.dir / "root-ca.key"
        if root_key_path.exists() and ca_bundle(self.ctx).exists():
            root_key = certs.load_private_key(root_key_path)
            root = certs.load_certificate(ca_bundle(self.ctx))
        else:
            root_key = _key()
            root = _ca_cert(f"{DOMAIN} sandbox root CA", root_key, None, root_key, 3650, 1)
            certs.write_private_key(root_key_path, root_key)
            ca_bundle(self.ctx).write_bytes(certs.pem(root))
        inter_key = _key()
        inter = _ca_cert(f"{DOMAIN} sandbox intermediate CA", inter_key, root, root_key, 1825, 0)
        certs.write_private_key(self.dir / "intermediate-ca.key", inter_key)
        (self.dir / "intermediate-ca.pem").write_bytes(certs.pem(inter))

        now = dt.datetime.now(dt.UTC)
        valid = (now - dt.timedelta(hours=1), now + dt.timedelta(days=LEAF_DAYS))
        expired = (now - dt.timedelta(days=LEAF_DAYS + 1), now - dt.timedelta(days=1))
        expiring = (now - dt.timedelta(hours=1), now + dt.timedelta(days=EXPIRING_DAYS))
        leaves: dict[str, tuple[list[str], int, tuple[dt.datetime, dt.datetime]]] = {
            "ingress": (INGRESS_NAMES, 2048, valid),
            "services": (SERVICE_NAMES, 2048, valid),
            "ingress-expired": (INGRESS_NAMES, 2048, expired),
            "ingress-wronghost": ([f"www.other-{DOMAIN}", f"other-{DOMAIN}"], 2048, valid),
            "ingress-weakkey": (INGRESS_NAMES, 1024, valid),
            "ingress-expiring": (INGRESS_NAMES, 2048, expiring),
        }
        for leaf, (names, bits, (start, end)) in leaves.items():
            key = _key(bits)
            cert = certs.leaf_certificate(
                _name(names[0]), names, key, inter, inter_key, not_before=start, not_after=end
            )
            cert_path, chain_path, key_path = cert_paths(self.ctx, leaf)
            certs.write_private_key(key_path, key)
            cert_path.write_bytes(certs.pem(cert))
            chain_path.write_bytes(certs.pem(cert) + certs.pem(inter))
        self.ctx.set("pki_layout", PKI_LAYOUT)

    def down(self) -> None:
        """Nothing runs; the certificates stay for the next `up`."""

    def status(self) -> ComponentStatus:
        if not self._paths_ok():
            return ComponentStatus(self.name, False, "certificates not made yet")
        leaf = certs.load_certificate(cert_paths(self.ctx, "ingress")[0])
        return ComponentStatus(
            self.name,
            True,
            f"root CA {ca_bundle(self.ctx)}; ingress leaf valid to {leaf.not_valid_after_utc:%Y-%m-%d}",
        )

    def targets(self) -> dict[str, object]:
        return {"ca_bundle": str(ca_bundle(self.ctx))}

    def env(self) -> dict[str, str]:
        return {
            "READINESS_CA_BUNDLE": str(ca_bundle(self.ctx)),
            "READINESS_DOMAIN": DOMAIN,
        }
