"""Fixtures of the identity suite: the OIDC provider as the targets describe it (oidc.*)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from readiness.probes.oidc import IdentityProvider, OidcSettings, preset


@pytest.fixture
def oidc(targets) -> OidcSettings:
    issuer = targets.require("oidc.issuer")
    scopes = targets.get("oidc.scopes") or ["openid"]
    return OidcSettings(
        issuer=str(issuer),
        client_id=targets.get("oidc.client_id"),
        client_secret=targets.get("oidc.client_secret"),
        redirect_uri=targets.get("oidc.redirect_uri"),
        scopes=tuple(scopes.split() if isinstance(scopes, str) else scopes),
        username=targets.get("oidc.username"),
        password=targets.get("oidc.password"),
        login=targets.get("oidc.login") or "browser",
        preset=preset(targets.get("oidc.preset") or "oidc"),
        ca_bundle=targets.ca_bundle("oidc"),
    )


@pytest.fixture
def identity_provider(oidc: OidcSettings, probe_timeout: float) -> Iterator[IdentityProvider]:
    with IdentityProvider(oidc, timeout=probe_timeout) as idp:
        yield idp


@pytest.fixture
def oidc_evidence(targets) -> dict:
    return targets.evidence("oidc.preset", "oidc.issuer", "oidc.client_id", "oidc.redirect_uri", "oidc.login")


@pytest.fixture
def screenshot_path(request: pytest.FixtureRequest, run_id: str) -> Path:
    """Where the login's last page is saved: the run's report folder (reports/<run-id>/)."""
    report_dir = Path(request.config.getoption("readiness_report_dir"))
    if not report_dir.is_absolute():
        report_dir = Path(request.config.invocation_params.dir) / report_dir
    return report_dir / run_id / "sso-login.png"
