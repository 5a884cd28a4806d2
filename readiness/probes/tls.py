"""The TLS a client sees at a public endpoint: the chain the server really sends, its validation, the
protocols and cipher suites it accepts (sslyze), and the HSTS / HTTP-redirect behaviour.

An :class:`Endpoint` is a host name (the SNI and the name to verify), a port and optionally the address
to connect to (for names that do not resolve where the suite runs). Every network call has a timeout;
a server that stalls mid-handshake is a :class:`CheckError` naming the endpoint and the limit.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from readiness.core.expect import CheckError, now_iso
from readiness.probes.errors import describe_connection_failure


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int = 443
    address: str | None = None  # where to connect; None: resolve `host` through the system

    @property
    def connect_to(self) -> str:
        return self.address or self.host

    def __str__(self) -> str:
        via = f" (at {self.address})" if self.address and self.address != self.host else ""
        return f"{self.host}:{self.port}{via}"


# -- certificates ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyInfo:
    type: str  # RSA, EC, Ed25519, ...
    bits: int
    curve: str | None = None

    def __str__(self) -> str:
        return f"{self.type} {self.bits}" + (f" ({self.curve})" if self.curve else "")


@dataclass(frozen=True)
class CertificateInfo:
    """One certificate as a person reads it."""

    certificate: x509.Certificate = field(repr=False, compare=False)

    @cached_property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    @cached_property
    def issuer(self) -> str:
        return self.certificate.issuer.rfc4514_string()

    @cached_property
    def issuer_organization(self) -> str | None:
        values = self.certificate.issuer.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
        return str(values[0].value) if values else None

    @cached_property
    def sans(self) -> list[str]:
        try:
            ext = self.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return []
        names: list[str] = [str(n) for n in ext.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
        return names

    @property
    def not_before(self) -> dt.datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    @cached_property
    def key(self) -> KeyInfo:
        key = self.certificate.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            return KeyInfo("RSA", key.key_size)
        if isinstance(key, ec.EllipticCurvePublicKey):
            return KeyInfo("EC", key.key_size, key.curve.name)
        if isinstance(key, dsa.DSAPublicKey):
            return KeyInfo("DSA", key.key_size)
        if isinstance(key, ed25519.Ed25519PublicKey):
            return KeyInfo("Ed25519", 256)
        if isinstance(key, ed448.Ed448PublicKey):
            return KeyInfo("Ed448", 456)
        return KeyInfo(type(key).__name__, 0)

    @cached_property
    def signature_hash(self) -> str | None:
        algorithm = self.certificate.signature_hash_algorithm
        return algorithm.name if algorithm is not None else None  # None: Ed25519/Ed448 (no separate hash)

    @property
    def is_self_signed(self) -> bool:
        return self.certificate.subject == self.certificate.issuer

    def days_left(self, now: dt.datetime | None = None) -> float:
        now = now or dt.datetime.now(dt.UTC)
        return round((self.not_after - now).total_seconds() / 86400, 1)

    def valid_at(self, when: dt.datetime) -> bool:
        return self.not_before <= when <= self.not_after

    def covers(self, host: str) -> bool:
        """Whether a SAN matches `host` (RFC 6125: exact, or a wildcard for the left-most label only)."""
        host = host.rstrip(".").lower()
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        for name in self.sans:
            name = name.rstrip(".").lower()
            if ip is not None:
                if name == str(ip):
                    return True
                continue
            if name == host:
                return True
            if name.startswith("*.") and "." in host:
                label, rest = host.split(".", 1)
                if label and rest == name[2:]:
                    return True
        return False

    def evidence(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": self.sans,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key": str(self.key),
            "signature": f"{self.signature_hash or 'none'} with {self.key.type}",
        }


@dataclass(frozen=True)
class Validation:
    valid: bool
    detail: str  # the chain built, or why it could not be built
    at: dt.datetime
    trust: str


@dataclass(frozen=True)
class ServedChain:
    """The certificates the server sent in the handshake, leaf first, as sent."""

    endpoint: Endpoint
    certificates: list[CertificateInfo]
    protocol: str
    cipher: str

    @property
    def leaf(self) -> CertificateInfo:
        return self.certificates[0]

    @property
    def intermediates(self) -> list[CertificateInfo]:
        return self.certificates[1:]

    def validate(self, ca_bundle: str | None, at: dt.datetime | None = None) -> Validation:
        """Path validation (cryptography's X.509 verifier, web PKI rules) from the served leaf through the
        served intermediates only (no fetching of missing ones) to a root in `ca_bundle` or the system store.

        The name is not what is judged here (TLS-HOSTNAME is): the leaf is checked for the endpoint's host
        when it covers it, else for a name it does cover. The time is now, or, when the leaf is outside
        its validity now (TLS-EXPIRY judges that), a moment inside it.
        """
        from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

        roots, trust = _trust_store(ca_bundle)
        now = at or dt.datetime.now(dt.UTC)
        leaf = self.leaf
        when = now if leaf.valid_at(now) else leaf.not_before + (leaf.not_after - leaf.not_before) / 2
        name = self.endpoint.host if leaf.covers(self.endpoint.host) else next(iter(leaf.sans), self.endpoint.host)
        try:
            subject: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            subject = x509.DNSName(name)
        verifier = PolicyBuilder().store(Store(roots)).time(when).build_server_verifier(subject)  # type: ignore[arg-type]
        try:
            built = verifier.verify(leaf.certificate, [c.certificate for c in self.intermediates])
        except VerificationError as exc:
            return Validation(False, str(exc), when, trust)
        path = " -> ".join(c.subject.rfc4514_string() for c in built)
        return Validation(True, path, when, trust)

    def evidence(self) -> dict[str, Any]:
        return {
            "endpoint": str(self.endpoint),
            "protocol": self.protocol,
            "cipher": self.cipher,
            "certificates": [c.evidence() for c in self.certificates],
            "at": now_iso(),
        }


def _trust_store(ca_bundle: str | None) -> tuple[list[x509.Certificate], str]:
    if ca_bundle:
        try:
            return x509.load_pem_x509_certificates(Path(ca_bundle).read_bytes()), f"CA bundle {ca_bundle}"
        except (OSError, ValueError) as exc:
            raise CheckError(f"cannot load the CA bundle {ca_bundle}: {exc}") from None
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            certs = x509.load_pem_x509_certificates(Path(candidate).read_bytes())
            return certs, f"system store {candidate}"
    raise CheckError("no CA bundle configured and no system trust store found; set ca_bundle in the targets")


def unverified_context() -> ssl.SSLContext:
    """Accepts anything: the point is to see what the server sends, judged afterwards."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # a weak key must still be seen, not refused
    return context


def _connect(endpoint: Endpoint, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((endpoint.connect_to, endpoint.port), timeout=timeout)
    except socket.gaierror as exc:
        raise CheckError(
            f"cannot resolve {endpoint.connect_to}: {exc.strerror}; set edge.address in the targets to connect "
            "by address"
        ) from None
    except TimeoutError:  # nothing accepted the connection within the timeout
        raise CheckError(f"connect to {endpoint} timed out after {timeout:g} s") from None
    except OSError as exc:
        line = describe_connection_failure(exc, str(endpoint), timeout=timeout)
        raise CheckError(line or f"cannot connect to {endpoint}: {exc.strerror or exc}") from None


def served_chain(endpoint: Endpoint, timeout: float, context: ssl.SSLContext | None = None) -> ServedChain:
    """Handshake with `endpoint` (SNI = its host) and return the chain exactly as the server sent it.

    By default nothing is verified during the handshake (what was sent is judged afterwards); with a
    verifying `context` a refusal is a CheckError carrying OpenSSL's reason.
    """
    sock = _connect(endpoint, timeout)
    try:
        with (context or unverified_context()).wrap_socket(sock, server_hostname=endpoint.host) as tls:
            # Public as SSLSocket.get_unverified_chain() from Python 3.13; the same call on 3.11/3.12.
            getter = getattr(tls, "get_unverified_chain", None) or tls._sslobj.get_unverified_chain  # type: ignore[union-attr]
            raw = getter() or []
            ders = [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER) for c in raw]  # type: ignore[attr-defined]
            protocol = tls.version() or "?"
            cipher = (tls.cipher() or ("?",))[0]
    except TimeoutError:
        raise CheckError(f"TLS handshake with {endpoint} did not complete within {timeout:g} s") from None
    except ssl.SSLCertVerificationError as exc:
        raise CheckError(f"certificate of {endpoint} not trusted: {exc.verify_message}") from None
    except ssl.SSLError as exc:
        raise CheckError(f"TLS handshake with {endpoint} failed: {exc.reason or exc}") from None
    except (ConnectionResetError, BrokenPipeError, OSError) as exc:
        raise CheckError(f"{endpoint} closed the connection during the TLS handshake: {exc}") from None
    finally:
        sock.close()
    if not ders:
        raise CheckError(f"{endpoint} sent no certificate")
    certificates = [CertificateInfo(x509.load_der_x509_certificate(der)) for der in ders]
    return ServedChain(endpoint, certificates, protocol, cipher)


# -- protocols and cipher suites (sslyze) ---------------------------------------------------------
PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


@dataclass(frozen=True)
class ProtocolScan:
    endpoint: Endpoint
    #: protocol -> accepted cipher suites (IANA names, with their key size in bits)
    accepted: dict[str, list[tuple[str, int]]]
    errors: dict[str, str]

    @property
    def protocols(self) -> list[str]:
        return [p for p in PROTOCOLS if self.accepted.get(p)]

    def weak_suites(self, markers: list[str], min_bits: int) -> list[str]:
        out = []
        for protocol, suites in self.accepted.items():
            for name, bits in suites:
                if bits < min_bits or any(m.upper() in name.upper() for m in markers):
                    out.append(f"{protocol} {name} ({bits} bits)")
        return out

    def evidence(self) -> dict[str, Any]:
        return {
            "endpoint": str(self.endpoint),
            "scanner": "sslyze",
            "accepted": {p: [n for n, _ in s] for p, s in self.accepted.items() if s},
            "refused": [p for p in PROTOCOLS if p in self.accepted and not self.accepted[p]],
            **({"not_scanned": self.errors} if self.errors else {}),
            "at": now_iso(),
        }


def scan_protocols(endpoint: Endpoint, timeout: float) -> ProtocolScan:
    """Which protocol versions and cipher suites the server accepts, one sslyze scan per endpoint."""
    from sslyze import (
        ScanCommand,
        ScanCommandAttemptStatusEnum,
        Scanner,
        ServerNetworkConfiguration,
        ServerNetworkLocation,
        ServerScanRequest,
        ServerScanStatusEnum,
    )

    commands = {
        "SSLv2": ScanCommand.SSL_2_0_CIPHER_SUITES,
        "SSLv3": ScanCommand.SSL_3_0_CIPHER_SUITES,
        "TLSv1.0": ScanCommand.TLS_1_0_CIPHER_SUITES,
        "TLSv1.1": ScanCommand.TLS_1_1_CIPHER_SUITES,
        "TLSv1.2": ScanCommand.TLS_1_2_CIPHER_SUITES,
        "TLSv1.3": ScanCommand.TLS_1_3_CIPHER_SUITES,
    }
    address = endpoint.address
    if address is None:
        try:
            address = socket.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)[0][4][0]
        except socket.gaierror as exc:
            raise CheckError(f"cannot resolve {endpoint.host}: {exc.strerror}") from None
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=endpoint.host, ip_address=address, port=endpoint.port),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=endpoint.host,
            network_timeout=max(1, int(timeout)),
            network_max_retries=0,
        ),
        scan_commands=set(commands.values()),
    )
    scanner = Scanner(per_server_concurrent_connections_limit=5)
    scanner.queue_scans([request])
    result = next(iter(scanner.get_results()))
    if result.scan_status != ServerScanStatusEnum.COMPLETED or result.scan_result is None:
        trace = result.connectivity_error_trace
        cause = str(trace).strip().splitlines()[-1] if trace else str(result.connectivity_status)
        raise CheckError(f"sslyze could not connect to {endpoint}: {cause}")
    accepted: dict[str, list[tuple[str, int]]] = {}
    errors: dict[str, str] = {}
    for protocol, command in commands.items():
        attempt = getattr(result.scan_result, command.value)
        if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED or attempt.result is None:
            errors[protocol] = str(attempt.error_reason or attempt.status)
            continue
        accepted[protocol] = [
            (s.cipher_suite.name, s.cipher_suite.key_size) for s in attempt.result.accepted_cipher_suites
        ]
    return ProtocolScan(endpoint, accepted, errors)


# -- HTTP behaviour at the edge (HSTS, redirect) ---------------------------------------------------
@dataclass(frozen=True)
class Hsts:
    header: str | None
    max_age: int | None
    include_subdomains: bool
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Redirect:
    status: int
    location: str | None
    evidence: dict[str, Any]

    @property
    def to_https(self) -> bool:
        return self.status in (301, 302, 307, 308) and bool(self.location) and self.location.startswith("https://")


def _http(host: str, address: str | None, port: int, https: bool, path: str, timeout: float):  # type: ignore[no-untyped-def]
    import httpx

    from readiness.probes.http import translated

    target = address or host
    scheme = "https" if https else "http"
    authority = f"[{target}]" if ":" in target else target
    url = f"{scheme}://{authority}:{port}{path}"
    shown = f"{scheme}://{host}:{port}{path}"
    extensions = {"sni_hostname": host} if https else {}
    # Not verified on purpose: the certificate is judged by the TLS-* checks; this looks at headers only.
    with httpx.Client(verify=unverified_context() if https else False, timeout=timeout) as client, translated(shown):
        response = client.get(url, headers={"Host": host}, extensions=extensions, follow_redirects=False)
    return response, shown


def hsts(endpoint: Endpoint, timeout: float, path: str = "/") -> Hsts:
    response, shown = _http(endpoint.host, endpoint.address, endpoint.port, True, path, timeout)
    header = response.headers.get("strict-transport-security")
    max_age: int | None = None
    include = False
    if header:
        for part in header.split(";"):
            key, _, value = part.strip().partition("=")
            if key.lower() == "max-age":
                try:
                    max_age = int(value.strip().strip('"'))
                except ValueError:
                    max_age = None
            elif key.lower() == "includesubdomains":
                include = True
    evidence = {"request": f"GET {shown}", "status": response.status_code, "strict-transport-security": header,
                "at": now_iso()}  # fmt: skip
    return Hsts(header, max_age, include, evidence)


def http_redirect(host: str, address: str | None, port: int, timeout: float, path: str = "/") -> Redirect:
    response, shown = _http(host, address, port, False, path, timeout)
    location = response.headers.get("location")
    evidence = {"request": f"GET {shown}", "status": response.status_code, "location": location, "at": now_iso()}
    return Redirect(response.status_code, location, evidence)
