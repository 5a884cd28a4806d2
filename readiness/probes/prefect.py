"""The Prefect API probe: health, readiness and versions of a Prefect 3 server."""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx

from readiness.expect import CheckError
from readiness.probes.http import response_evidence, translated
from readiness.targets import PrefectTarget


@dataclass(frozen=True)
class Health:
    healthy: bool
    ready: bool
    ready_message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Versions:
    server: str | None
    api: str | None
    evidence: dict[str, Any] = field(default_factory=dict)


class PrefectAPI:
    """A read-only view of a Prefect API given by a :class:`PrefectTarget`."""

    def __init__(self, target: PrefectTarget, timeout: float = 10.0, verify: ssl.SSLContext | bool = True) -> None:
        if not target.api_url:
            raise CheckError(
                "no Prefect API configured: set PREFECT_API_URL (and PREFECT_API_KEY or PREFECT_API_AUTH_STRING) "
                "or activate a Prefect profile that has them"
            )
        self.target = target
        self.base_url = target.api_url
        headers: dict[str, str] = {}
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        elif target.auth_string:
            headers["Authorization"] = "Basic " + base64.b64encode(target.auth_string.encode()).decode()
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, verify=verify)
        self._anonymous = httpx.Client(base_url=self.base_url, timeout=timeout, verify=verify)

    def close(self) -> None:
        self._client.close()
        self._anonymous.close()

    def get(self, path: str, authenticated: bool = True) -> httpx.Response:
        client = self._client if authenticated else self._anonymous
        with translated(f"{self.base_url}{path}"):
            return client.get(path)

    def health(self) -> Health:
        live = self.get("/health")
        ready = self.get("/ready")
        try:
            message = str(ready.json().get("message", "")) if ready.content else ""
        except (ValueError, AttributeError):
            message = ready.text[:200]
        healthy = live.status_code == 200 and live.text.strip() == "true"
        return Health(
            healthy=healthy,
            ready=ready.status_code == 200,
            ready_message=message or ready.text[:200],
            evidence={"health": response_evidence(live), "ready": response_evidence(ready)},
        )

    def versions(self) -> Versions:
        server = self.get("/admin/version")
        if server.status_code in (401, 403):
            raise CheckError(
                f"GET {self.base_url}/admin/version answered {server.status_code}: the configured credentials "
                "were not accepted (check PREFECT_API_KEY or PREFECT_API_AUTH_STRING)"
            )
        api = self.get("/version")

        def _value(response: httpx.Response) -> str | None:
            if response.status_code != 200:
                return None
            try:
                value = response.json()
            except ValueError:
                return None
            return str(value) if isinstance(value, str) else None

        return Versions(
            server=_value(server),
            api=_value(api),
            evidence={"server": response_evidence(server), "api": response_evidence(api)},
        )
