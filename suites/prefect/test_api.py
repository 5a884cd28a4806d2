"""The Prefect API answers: live, ready, and a supported version."""

from __future__ import annotations

import pytest


@pytest.mark.requirement("PREFECT-API-HEALTH")
def test_api_is_live_and_ready(prefect_api, expect):
    health = prefect_api.health()
    expect.true(
        "GET /api/health answers true",
        health.healthy,
        observed=health.evidence["health"]["body"],
        expected="true",
        evidence=health.evidence["health"],
    )
    expect.true(
        "GET /api/ready answers 200",
        health.ready,
        observed=f"{health.evidence['ready']['status']} {health.ready_message}",
        expected="200 OK",
        evidence=health.evidence["ready"],
    )


@pytest.mark.requirement("PREFECT-API-VERSION")
def test_server_version_is_supported(prefect_api, expect, params):
    versions = prefect_api.versions()
    expect.version_at_least(
        "Prefect server version (GET /api/admin/version)",
        versions.server,
        params["min_server"],
        evidence=versions.evidence,
    )
