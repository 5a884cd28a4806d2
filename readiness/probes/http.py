"""HTTP probing with httpx: one place that turns transport failures into actionable causes."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from readiness.core.expect import CheckError, now_iso
from readiness.probes.errors import describe_connection_failure


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
    line = describe_connection_failure(exc, url)
    if line is not None:
        return line
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{url} closed the connection or spoke something other than HTTP: {exc}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"{url} is not an http(s) URL"
    return f"cannot connect to {url}: {type(exc).__name__}: {exc}"


@contextmanager
def translated(url: str) -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError as exc:
        raise CheckError(describe_transport_error(exc, url)) from None
    except OSError as exc:  # ssl.SSLError and socket errors raised outside httpx's own mapping
        raise CheckError(describe_connection_failure(exc, url) or f"cannot connect to {url}: {exc}") from None


def response_evidence(response: httpx.Response, body_limit: int = 200) -> dict[str, Any]:
    body = response.text[:body_limit]
    return {
        "request": f"{response.request.method} {response.request.url}",
        "status": response.status_code,
        "body": body,
        "elapsed_ms": round(response.elapsed.total_seconds() * 1000, 1),
        "at": now_iso(),
    }
