"""The Prefect API refuses callers without valid credentials and admits the configured ones."""

from __future__ import annotations

import pytest

from readiness.core.humanize import listing, plural


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
    refused = [a for a in auth.attempts if a.credentials in ("none", "wrong") and a.endpoint in ("read", "write")]
    statuses = listing(sorted({str(a.status) for a in refused}))
    expect.equal(
        f"requests with wrong {auth.scheme} credentials that the API answered",
        auth.wrong_admitted,
        [],
        evidence=auth.evidence,
        observed_text=(
            "configured credentials accepted on a read and a write endpoint; " if auth.credentials_configured else ""
        )
        + f"{plural(len(refused), 'request')} without or with wrong {auth.scheme} credentials, all refused "
        f"({statuses})"
        if not auth.wrong_admitted
        else None,
        expected_text=f"every request without or with wrong {auth.scheme} credentials refused (401/403)"
        + ("; the configured credentials accepted" if auth.credentials_configured else ""),
    )
