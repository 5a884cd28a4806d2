"""One line for a connection that failed: refused, unresolvable, silent, timed out, or a TLS failure.

Every probe reaches its server through a different library (httpx, psycopg, redis-py, smtplib, imaplib,
websockets, a bare socket), and each wraps the operating system's or ssl's error its own way: as the
exception's cause, its context, or only as text. :func:`classify` walks the whole chain and reads both the
types and the text, so the same failure reads the same whichever probe met it::

    connection to Redis at cache.example:6379 refused (nothing listening?)
    TLS certificate of PostgreSQL at db.example:5432 not trusted (self-signed certificate): check postgres.sslrootcert

The probes keep what only they know (a refused password, a missing database, an HTTP protocol error) and
hand everything else to :func:`describe_connection_failure` or :func:`translated_connection`.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from readiness.core.expect import CheckError


class Failure(StrEnum):
    REFUSED = "refused"
    UNRESOLVED = "unresolved"
    CONNECT_TIMEOUT = "connect timeout"
    SILENT = "silent"  # no answer within the timeout (usually: connected, then nothing)
    UNTRUSTED = "untrusted"  # the certificate chain does not lead to a trusted CA
    WRONG_HOST = "wrong host"  # a trusted certificate for another name
    TLS = "tls"  # any other TLS handshake failure
    CLOSED = "closed"  # the peer closed the connection without an answer


@dataclass(frozen=True)
class Classified:
    failure: Failure
    detail: str  # the library's own words for it, on one line


_WRONG_HOST_TEXT = ("Hostname mismatch", "IP address mismatch", "does not match host name", "server certificate for")
_UNTRUSTED_TEXT = (
    "CERTIFICATE_VERIFY_FAILED",
    "certificate verify failed",
    "root certificate",
    "self-signed certificate",
)
_UNRESOLVED_TEXT = (
    "Name or service not known",
    "nodename nor servname",
    "could not translate host name",
    "Temporary failure in name resolution",
    "No address associated with hostname",
    "getaddrinfo",
)
_TIMEOUT_TEXT = ("timeout expired", "timed out", "Timeout reading", "Timeout writing")
# redis-py's "Timeout connecting to server" also covers a TLS handshake that got no answer: not counted here
_CONNECT_TIMEOUT_TEXT = ("connect timeout", "ConnectTimeout")
_CLOSED_TEXT = (
    "Connection closed by server",
    "Connection reset by peer",
    "server closed the connection",
    "Server closed the connection",
    "Connection unexpectedly closed",
    "EOF occurred",
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _one_line(text: str) -> str:
    return " ".join(text.split())


def classify(exc: BaseException) -> Classified | None:
    """What kind of connection failure `exc` is, or None when it is not one (an answer, a protocol error)."""
    chain = _chain(exc)
    text = _one_line(" | ".join(str(e) for e in chain if str(e)))
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            message = e.verify_message or str(e)
            kind = Failure.WRONG_HOST if any(t in message for t in _WRONG_HOST_TEXT) else Failure.UNTRUSTED
            return Classified(kind, _one_line(message))
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return Classified(Failure.REFUSED, _one_line(str(e)))
        if isinstance(e, socket.gaierror):
            return Classified(Failure.UNRESOLVED, _one_line(str(e)))
    names = {type(e).__name__ for e in chain}
    if "ConnectTimeout" in names or any(t in text for t in _CONNECT_TIMEOUT_TEXT):
        return Classified(Failure.CONNECT_TIMEOUT, text)
    if any(t in text for t in _WRONG_HOST_TEXT):
        return Classified(Failure.WRONG_HOST, text)
    if any(t in text for t in _UNTRUSTED_TEXT):
        return Classified(Failure.UNTRUSTED, text)
    if "Connection refused" in text:
        return Classified(Failure.REFUSED, text)
    if any(t in text for t in _UNRESOLVED_TEXT):
        return Classified(Failure.UNRESOLVED, text)
    timeout_types = {"ReadTimeout", "WriteTimeout", "PoolTimeout", "TimeoutError", "QueryCanceled"}
    if (
        names & timeout_types
        or any(isinstance(e, TimeoutError) for e in chain)
        or any(t in text for t in _TIMEOUT_TEXT)
    ):
        return Classified(Failure.SILENT, text)
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return Classified(Failure.TLS, text)
    if names & {"SMTPServerDisconnected", "RemoteProtocolError", "ConnectionClosed"} or any(
        isinstance(e, ConnectionResetError | BrokenPipeError) for e in chain
    ):
        return Classified(Failure.CLOSED, text or "without a reply")
    if any(t in text for t in _CLOSED_TEXT):
        return Classified(Failure.CLOSED, text)
    return None


def describe_connection_failure(
    exc: BaseException,
    subject: str,
    *,
    timeout: float | None = None,
    trust_hint: str | None = None,
    host_hint: str | None = None,
) -> str | None:
    """One line for `exc` reaching `subject` ("Redis at host:6379", "https://api.example/api"), or None.

    `trust_hint` names what to set when the chain is not trusted (``check redis.ca_bundle``), `host_hint`
    what to set when the host does not resolve.
    """
    found = classify(exc)
    if found is None:
        return None
    detail = found.detail
    match found.failure:
        case Failure.REFUSED:
            return f"connection to {subject} refused (nothing listening?)"
        case Failure.UNRESOLVED:
            return f"cannot resolve the host of {subject}: {detail}" + (f"; {host_hint}" if host_hint else "")
        case Failure.CONNECT_TIMEOUT:
            return f"connect to {subject} timed out" + (f" after {timeout:g} s" if timeout else "")
        case Failure.SILENT:
            return f"{subject} did not answer in time" + (f" ({timeout:g} s)" if timeout else "")
        case Failure.UNTRUSTED:
            return f"TLS certificate of {subject} not trusted ({detail})" + (f": {trust_hint}" if trust_hint else "")
        case Failure.WRONG_HOST:
            return f"TLS certificate of {subject} does not name the host ({detail})"
        case Failure.TLS:
            return f"TLS handshake with {subject} failed: {detail}"
        case Failure.CLOSED:
            return f"{subject} closed the connection: {detail}"
    return None  # pragma: no cover - every Failure is matched above


@contextmanager
def translated_connection(
    subject: str,
    *,
    timeout: float | None = None,
    trust_hint: str | None = None,
    host_hint: str | None = None,
) -> Iterator[None]:
    """Turn a connection failure inside the block into CheckError (an `error` outcome) with one line.

    Only OSError (socket, ssl, TimeoutError) is caught; a library's own exception types are the probe's to
    catch and hand to :func:`describe_connection_failure`. Anything that is not a connection failure is
    raised as it is.
    """
    try:
        yield
    except OSError as exc:
        line = describe_connection_failure(exc, subject, timeout=timeout, trust_hint=trust_hint, host_hint=host_hint)
        if line is None:
            raise
        raise CheckError(line) from None
