"""Single sign-on through the identity provider Prefect uses (Okta, ADFS or another OIDC provider)."""

from __future__ import annotations

import pytest

from readiness.core.humanize import listing, number, plural, with_unit


@pytest.mark.requirement("SSO-DISCOVERY")
def test_discovery_document_and_signing_keys_are_usable(identity_provider, oidc, oidc_evidence, expect, params):
    discovery = identity_provider.discovery()
    evidence = {**discovery.evidence, "targets": oidc_evidence}
    expect.equal("issuer in the discovery document", discovery.issuer, oidc.issuer, evidence=evidence)
    expect.true(
        f"issuer has the {oidc.preset.name} shape",
        identity_provider.issuer_matches_preset(discovery.issuer),
        observed=discovery.issuer,
        expected=oidc.preset.issuer_shape,
        evidence=evidence,
    )
    expect.equal("fields the login needs, missing", list(discovery.missing_fields), [], evidence=evidence)
    expect.equal("endpoints not on https", list(discovery.insecure_endpoints), [], evidence=evidence)
    expect.true(
        "authorization-code flow supported",
        discovery.supports_code_flow,
        observed=f"response types {listing(discovery.response_types)}, grant types {listing(discovery.grant_types)}",
        expected="response type code, grant type authorization_code",
        evidence=evidence,
    )
    expect.true(
        "PKCE S256 supported",
        discovery.supports_pkce_s256,
        observed=list(discovery.code_challenge_methods) or "code_challenge_methods_supported not advertised",
        expected="S256",
        evidence=evidence,
    )
    jwks = identity_provider.jwks(discovery)
    expect.at_least("usable signing keys in the JWKS", len(jwks.usable), 1, evidence=jwks.evidence)
    skew = None if discovery.clock_skew_s is None else abs(discovery.clock_skew_s)
    expect.at_most(
        "clock skew to the identity provider (its Date header)",
        skew,
        params["max_clock_skew_s"],
        unit="s",
        evidence={"date_header": discovery.evidence.get("date_header"), "skew_s": discovery.clock_skew_s},
        observed_text=f"issuer {discovery.issuer}: discovery complete on https, code flow with PKCE S256, "
        f"{plural(len(jwks.usable), 'usable signing key')}; clock skew "
        + ("not measured (no Date header)" if skew is None else f"{number(skew)} s"),
        expected_text=f"issuer {oidc.issuer}, every field the login needs on https, code flow with PKCE S256, "
        f"at least 1 usable signing key; clock skew at most {number(params['max_clock_skew_s'])} s",
    )


@pytest.mark.requirement("SSO-LOGIN")
def test_test_user_signs_in_and_gets_a_valid_id_token(
    identity_provider, oidc, oidc_evidence, expect, params, screenshot_path
):
    discovery = identity_provider.discovery()
    jwks = identity_provider.jwks(discovery)
    login = identity_provider.login(discovery, jwks, screenshot=screenshot_path)
    evidence = {**login.evidence, "targets": oidc_evidence, "screenshot": login.screenshot}
    expect.true(
        f"the test user signs in ({login.method})",
        login.signed_in,
        observed=f"stopped at {login.stopped_at}: {login.idp_error}",
        expected="signed in",
        evidence=evidence,
    )
    token = login.id_token
    assert token is not None
    evidence = {**evidence, "claims": token.claims, "claim_names": list(token.claim_names)}
    expect.true(
        "ID token signature verifies against the JWKS",
        token.signature_valid,
        observed=token.signature_error or f"valid ({token.algorithm})",
        expected="valid",
        evidence=evidence,
    )
    expect.equal("ID token issuer", token.issuer, oidc.issuer, evidence=evidence)
    expect.true(
        "ID token audience includes the client ID",
        oidc.client_id in token.audience,
        observed=list(token.audience),
        expected=oidc.client_id,
        evidence=evidence,
    )
    if token.nonce_matches is not None:  # the password grant carries no nonce
        expect.true("ID token nonce matches the request", token.nonce_matches, evidence=evidence)
    expect.equal(
        f"claims Prefect maps ({oidc.preset.name}), missing", list(token.missing_claims), [], evidence=evidence
    )
    if params.get("groups_claim"):
        expect.true(
            f"groups claim “{params['groups_claim']}” present",
            params["groups_claim"] in token.claim_names,
            observed=list(token.claim_names),
            evidence=evidence,
        )
    expect.at_least(
        "ID token lifetime left",
        token.expires_in_s,
        params["min_token_lifetime_s"],
        unit="s",
        evidence=evidence,
        observed_text=f"{login.method} sign-in: ID token signed ({token.algorithm}), issuer and audience right, "
        f"claims present; lifetime left {with_unit(token.expires_in_s, 's')}",
        expected_text="a signed ID token for the client with the claims Prefect maps; lifetime left at least "
        f"{with_unit(params['min_token_lifetime_s'], 's')}",
    )
