"""readiness/probes/errors.py over real sockets: each failure a probe meets, through the libraries probes use.

A refused port, a listener that accepts and never answers, a TLS server whose chain the client does not
trust, a trusted TLS server whose certificate names another host, and a name that does not resolve. The
certificates are made here, at test time.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from redis.backoff import NoBackoff
from redis.retry import Retry

from readiness.core.expect import CheckError
from readiness.probes.errors import Failure, classify, describe_connection_failure, translated_connection

TIMEOUT = 0.5
#: how long past its timeout a failure may take to be reported (thread start, a loaded machine)
SLACK = 3.0


# -- servers -----------------------------------------------------------------------------------------------
def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


@contextmanager
def _silent() -> Iterator[int]:
    """Accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, and a leaf it signed for `wrong.example` only (not 127.0.0.1, not localhost)."""
    folder = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("errors test CA")).issuer_name(_name("errors test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.DNSName("wrong.example"), x509.IPAddress(ipaddress.ip_address("10.9.9.9"))])
    leaf = (
        x509.CertificateBuilder().subject_name(_name("wrong.example")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False).sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = {"ca": folder / "ca.pem", "cert": folder / "leaf.pem", "key": folder / "leaf.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture(scope="module")
def tls_port(pki: dict[str, Path]) -> Iterator[int]:
    """A TLS server with the leaf above; it completes handshakes and answers HTTP with 200."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["cert"], pki["key"])
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(1)
                    tls.recv(1024)
                    tls.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


def _redis(**where: object) -> redis.Redis:
    """As the Redis probe makes its clients: bounded timeouts and no retries."""
    return redis.Redis(**where, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 0))  # type: ignore[arg-type]


def _fails(call, subject: str, **hints) -> tuple[str, float]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    with pytest.raises(Exception) as caught:  # noqa: B017,PT011 - each library raises its own type
        call()
    elapsed = time.monotonic() - started
    line = describe_connection_failure(caught.value, subject, timeout=TIMEOUT, **hints)
    assert line is not None, f"not recognised as a connection failure: {caught.value!r}"
    assert "\n" not in line
    return line, elapsed


# -- refused -----------------------------------------------------------------------------------------------
def test_a_refused_port_reads_the_same_through_every_library():
    port = _refused_port()
    calls = {
        "socket": lambda: socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT),
        "httpx": lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=TIMEOUT),
        "redis": lambda: _redis(port=port).ping(),
        "psycopg": lambda: psycopg.connect(host="127.0.0.1", port=port, connect_timeout=2, user="x", dbname="x"),
        "smtplib": lambda: smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT),
    }
    for library, call in calls.items():
        line, elapsed = _fails(call, f"the server at 127.0.0.1:{port}")
        assert line == f"connection to the server at 127.0.0.1:{port} refused (nothing listening?)", library
        assert elapsed < SLACK, library


# -- silent ------------------------------------------------------------------------------------------------
def test_a_silent_listener_is_reported_within_the_timeout():
    with _silent() as port:
        calls = {
            "socket": lambda: socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).recv(1),
            "httpx": lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=TIMEOUT),
            "redis": lambda: _redis(port=port).ping(),
            "smtplib": lambda: smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT),
        }
        for library, call in calls.items():
            line, elapsed = _fails(call, f"the server at 127.0.0.1:{port}")
            assert classify(_last_error(call)).failure is Failure.SILENT, library  # type: ignore[union-attr]
            assert line == (f"the server at 127.0.0.1:{port} did not answer in time ({TIMEOUT:g} s)"), library
            assert elapsed < TIMEOUT + SLACK, library


def _last_error(call) -> BaseException:  # type: ignore[no-untyped-def]
    try:
        call()
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("did not fail")


# -- TLS: untrusted chain, wrong host ----------------------------------------------------------------------
def test_a_chain_the_client_does_not_trust(tls_port: int, pki: dict[str, Path]):
    untrusted = ssl.create_default_context()  # the system store: our test CA is not in it
    untrusted.check_hostname = False  # the chain alone is the failure here
    system_store = ssl.create_default_context()
    calls = {
        "ssl": lambda: untrusted.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=TIMEOUT)),
        "httpx": lambda: httpx.get(f"https://127.0.0.1:{tls_port}/", timeout=TIMEOUT, verify=system_store),
    }
    for library, call in calls.items():
        line, elapsed = _fails(call, f"https://127.0.0.1:{tls_port}", trust_hint="check edge.ca_bundle")
        assert line.startswith(f"TLS certificate of https://127.0.0.1:{tls_port} not trusted ("), (library, line)
        assert "unable to get local issuer certificate" in line and line.endswith(": check edge.ca_bundle"), line
        assert elapsed < SLACK


def test_a_trusted_certificate_for_another_host(tls_port: int, pki: dict[str, Path]):
    trusting = ssl.create_default_context(cafile=str(pki["ca"]))
    calls = {
        "ssl": lambda: trusting.wrap_socket(
            socket.create_connection(("127.0.0.1", tls_port), timeout=TIMEOUT), server_hostname="api.example"
        ),
        "httpx": lambda: httpx.get(f"https://127.0.0.1:{tls_port}/", timeout=TIMEOUT, verify=trusting),
    }
    for library, call in calls.items():
        line, _ = _fails(call, f"the ingress at 127.0.0.1:{tls_port}")
        assert line.startswith(f"TLS certificate of the ingress at 127.0.0.1:{tls_port} does not name the host ("), (
            library,
            line,
        )
        assert "mismatch" in line, line
    # and the same server, asked by a name its certificate carries, is fine: the failure was the name
    with trusting.wrap_socket(
        socket.create_connection(("127.0.0.1", tls_port), timeout=TIMEOUT), server_hostname="wrong.example"
    ) as tls:
        assert tls.version()


# -- DNS ---------------------------------------------------------------------------------------------------
def test_a_name_that_does_not_resolve():
    host = "no-such-host.invalid"  # RFC 6761: never resolves
    calls = {
        "socket": lambda: socket.create_connection((host, 443), timeout=TIMEOUT),
        "httpx": lambda: httpx.get(f"https://{host}/", timeout=TIMEOUT),
        "redis": lambda: _redis(host=host).ping(),
    }
    for library, call in calls.items():
        line, elapsed = _fails(call, f"Redis at {host}:6379", host_hint="set redis.urls")
        assert line.startswith(f"cannot resolve the host of Redis at {host}:6379: "), (library, line)
        assert line.endswith("; set redis.urls") and elapsed < SLACK, line


# -- the context manager ------------------------------------------------------------------------------------
def test_translated_connection_raises_one_line_and_lets_other_errors_through():
    port = _refused_port()
    with (
        pytest.raises(
            CheckError, match=r"^connection to SMTP server 127\.0\.0\.1:\d+ refused \(nothing listening\?\)$"
        ),
        translated_connection(f"SMTP server 127.0.0.1:{port}", timeout=TIMEOUT),
    ):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    with pytest.raises(FileNotFoundError), translated_connection("a file"):
        Path("/no/such/file").read_text()
    assert classify(ValueError("not a connection failure")) is None
