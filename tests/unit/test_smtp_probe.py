"""The SMTP probe against real aiosmtpd servers the test starts: implicit TLS (SMTPS, port 465's way),
which the sandbox's STARTTLS server does not cover, and a certificate for another host."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from readiness.probes.smtp import Mailer, SmtpSettings

PASSWORD = "smtps-secret-pw"
# aiosmtpd cannot tell that the whole session is TLS (SMTPS), so it warns about AUTH without STARTTLS
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(CA bundle, server chain, server key) for the name mail.test, made with cryptography."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("mail.test")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(leaf.public_bytes(pem))
    paths[2].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


@contextmanager
def smtps_server(folder: Path) -> Iterator[tuple[int, str]]:
    ca, chain, key = _certificates(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key)

    def authenticator(server, session, envelope, mechanism, data):  # type: ignore[no-untyped-def]
        ok = isinstance(data, LoginPassword) and data.login == b"user" and data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            return "250 queued"

    class Smtps(Controller):
        def factory(self) -> SMTP:
            return SMTP(self.handler, hostname="mail.test", authenticator=authenticator, auth_required=True,
                        auth_require_tls=False)  # fmt: skip

    with socket.socket() as probe:  # aiosmtpd checks its own port once started: give it a real one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Smtps(Handler(), hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        yield port, str(ca)
    finally:
        controller.stop()


def settings(port: int, ca: str, host: str = "mail.test", password: str = PASSWORD) -> SmtpSettings:
    return SmtpSettings(host=host, port=port, address="127.0.0.1", username="user", password=password,
                        sender="a@mail.test", recipient="b@mail.test", ca_bundle=ca, implicit_tls=True)  # fmt: skip


def test_implicit_tls_is_verified_for_the_host_and_auth_and_sending_work(tmp_path: Path) -> None:
    with smtps_server(tmp_path) as (port, ca):
        mailer = Mailer(settings(port, ca), timeout=5)
        tls = mailer.tls()
        assert (tls.implicit_tls, tls.certificate_valid) == (True, True)
        assert tls.tls_version in ("TLSv1.2", "TLSv1.3")
        auth = mailer.authenticate()
        assert (auth.tls, auth.accepted, auth.mechanisms_in_clear) == (True, True, ())
        assert mailer.send("unit").accepted
        refused = Mailer(settings(port, ca, password="wrong"), timeout=5).authenticate()
        assert refused.accepted is False and refused.reply and refused.reply.startswith("535")


def test_implicit_tls_to_a_certificate_for_another_name_is_not_valid(tmp_path: Path) -> None:
    with smtps_server(tmp_path) as (port, ca):
        tls = Mailer(settings(port, ca, host="other.test"), timeout=5).tls()
    assert (tls.implicit_tls, tls.certificate_valid, tls.tls_version) == (True, False, None)
    assert tls.certificate_error and "other.test" in tls.certificate_error


def test_settings_never_show_the_password() -> None:
    assert PASSWORD not in repr(SmtpSettings(host="h", port=1, password=PASSWORD))
