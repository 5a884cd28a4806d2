"""HTTP probing with httpx: one place that turns transport failures into actionable causes."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from readiness.core.expect import CheckError, now_iso


def tls_verify(ca_bundle: str | None) -> ssl.SSLContext:
    """A verifying TLS context: the given CA bundle only, or the system store when none is configured."""
    if ca_bundle:
        try:
            return ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise CheckError(f"cannot load the CA bundle {ca_bundle}: {exc}") from None
    return ssl.create_default_context()


def describe_transport_error(exc: Exception, url: str) -> str:
    """One line saying why `url` could not be reached."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect to {url} timed out"
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout):
        return f"{url} accepted the connection but did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc) or str(cause)
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            return f"TLS certificate of {url} not trusted: {getattr(cause, 'verify_message', None) or text}"
        if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
            return f"cannot resolve the host of {url}: {text}"
        if "Connection refused" in text:
            return f"connection to {url} refused (nothing listening?)"
        return f"cannot connect to {url}: {text}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{url} closed the connection or spoke something other than HTTP: {exc}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"{url} is not an http(s) URL"
    return f"{url}: {type(exc).__name__}: {exc}"


@contextmanager
def translated(url: str) -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError as exc:
        raise CheckError(describe_transport_error(exc, url)) from None
    except ssl.SSLError as exc:
        raise CheckError(f"TLS handshake with {url} failed: {exc}") from None


def response_evidence(response: httpx.Response, body_limit: int = 200) -> dict[str, Any]:
    body = response.text[:body_limit]
    return {
        "request": f"{response.request.method} {response.request.url}",
        "status": response.status_code,
        "body": body,
        "elapsed_ms": round(response.elapsed.total_seconds() * 1000, 1),
        "at": now_iso(),
    }
