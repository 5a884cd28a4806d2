"""The Prefect API refuses callers without valid credentials and admits the configured ones."""

from __future__ import annotations

import pytest


@pytest.mark.requirement("PREFECT-API-AUTHN")
def test_api_refuses_missing_and_wrong_credentials(prefect_api, expect):
    auth = prefect_api.authentication()
    if auth.credentials_configured:
        expect.true(
            "the configured credentials are accepted on a read and a write endpoint",
            auth.configured_accepted,
            observed="accepted" if auth.configured_accepted else "refused",
            expected="accepted",
            evidence=auth.evidence,
        )
    expect.equal(
        "requests without credentials that the API answered",
        auth.anonymous_admitted,
        [],
        evidence=auth.evidence,
    )
    expect.equal(
        f"requests with wrong {auth.scheme} credentials that the API answered",
        auth.wrong_admitted,
        [],
        evidence=auth.evidence,
    )
