"""Verdicts of the identity suite (SSO-DISCOVERY, SSO-LOGIN) against the sandbox's OIDC provider.

The conformant run signs in through the login page in headless Chromium; the Okta- and ADFS-shaped
tenants of the same provider prove the presets (browser and password grant); each scenario turns one
requirement and leaves the other alone; an IdP that never answers is an error within the timeout.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from readiness.sandbox import Sandbox
from tests.prefect_server import silent_server
from tests.suite_run import ROOT, Verdicts
from tests.verdict.targets_override import targets_option

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SSO = ("SSO-DISCOVERY", "SSO-LOGIN")
SECRETS = ("oidc-user", "oidc-client")


def outcomes(verdicts: Verdicts) -> dict[str, str]:
    return {rid: verdicts.outcome(rid) for rid in SSO}


def assert_no_secret(sandbox: Sandbox, verdicts: Verdicts) -> None:
    """The canary: neither the test user's password nor the client secret reaches the output or the report."""
    values = [sandbox.ctx.secret_path(name).read_text().strip() for name in SECRETS]
    texts = [verdicts.output.encode()] + [p.read_bytes() for p in verdicts.report_dir.rglob("*") if p.is_file()]
    leaked = [name for name, value in zip(SECRETS, values, strict=True) if any(value.encode() in t for t in texts)]
    assert not leaked, leaked


def browsers_left() -> list[str]:
    """Chromium processes Playwright started (its profile folder is in their command line)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "chromium" in cmdline and "playwright_chromiumdev_profile" in cmdline:
                found.append(cmdline[:120])
    return found


def option(suites, tmp_path: Path, name: str, **changes: object) -> str:
    return targets_option(suites.sandbox, tmp_path, name, {k.replace("__", "."): v for k, v in changes.items()})


@pytest.fixture(scope="module")
def conformant(suites) -> Verdicts:
    return suites.run("identity")


def test_conformant_provider_passes_discovery_and_a_browser_login(suites, conformant):
    assert outcomes(conformant) == {"SSO-DISCOVERY": "pass", "SSO-LOGIN": "pass"}, conformant.output[-3000:]
    assert conformant.code == 0
    login = conformant.results["SSO-LOGIN"]["evidence"]
    assert login["token_request"].endswith("(grant_type=authorization_code, PKCE S256)")
    assert login["claims"]["email"].startswith("readiness-user@")
    screenshot = conformant.report_dir / "latest" / "sso-login.png"
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    assert_no_secret(suites.sandbox, conformant)


def test_okta_preset_signs_in_through_an_identifier_first_page(suites, tmp_path):
    issuer = suites.sandbox.targets()["oidc"]["issuer"] + "/oauth2/default"  # type: ignore[index]
    okta = option(suites, tmp_path, "okta", oidc__preset="okta", oidc__issuer=issuer)
    verdicts = suites.run("identity", extra=(okta,))
    assert outcomes(verdicts) == {"SSO-DISCOVERY": "pass", "SSO-LOGIN": "pass"}, verdicts.output[-3000:]
    assert "groups" in verdicts.results["SSO-LOGIN"]["evidence"]["claim_names"]


def test_adfs_preset_with_the_password_grant(suites, tmp_path):
    oidc = suites.sandbox.targets()["oidc"]
    changes = {
        "oidc__preset": "adfs",
        "oidc__issuer": oidc["issuer"] + "/adfs",  # type: ignore[index]
        "oidc__login": "password",
        "oidc__username": f"{oidc['username']}@prefect.sandbox.test",  # type: ignore[index]  # ADFS signs in by UPN
    }
    verdicts = suites.run("identity", extra=(option(suites, tmp_path, "adfs", **changes),))
    assert outcomes(verdicts) == {"SSO-DISCOVERY": "pass", "SSO-LOGIN": "pass"}, verdicts.output[-3000:]
    evidence = verdicts.results["SSO-LOGIN"]["evidence"]
    assert evidence["token_request"].endswith("(grant_type=password)")
    assert evidence["claims"]["upn"] == "readiness-user@prefect.sandbox.test"
    assert {"upn", "unique_name"} <= set(evidence["claim_names"])


def test_adfs_preset_refuses_an_okta_issuer(suites, tmp_path):
    issuer = suites.sandbox.targets()["oidc"]["issuer"] + "/oauth2/default"  # type: ignore[index]
    changes = {"oidc__preset": "adfs", "oidc__issuer": issuer, "oidc__login": "password"}
    verdicts = suites.run("identity", extra=(option(suites, tmp_path, "mixed", **changes), "-k", "discovery"))
    assert verdicts.outcome("SSO-DISCOVERY") == "fail"
    assert "issuer has the adfs shape" in verdicts.results["SSO-DISCOVERY"]["message"]


def test_wrong_client_fails_login_with_the_idp_error(suites, tmp_path):
    password_grant = option(suites, tmp_path, "password", oidc__login="password")
    with suites.scenario("sso-wrong-client"):
        verdicts = suites.run("identity", extra=(password_grant,))
    assert outcomes(verdicts) == {"SSO-DISCOVERY": "pass", "SSO-LOGIN": "fail"}, verdicts.output[-3000:]
    assert "invalid_client" in verdicts.results["SSO-LOGIN"]["message"]
    assert verdicts.code == 1


def test_wrong_password_fails_the_browser_login_with_the_page_error(suites):
    with suites.scenario("sso-wrong-password"):
        verdicts = suites.run("identity")
    assert outcomes(verdicts) == {"SSO-DISCOVERY": "pass", "SSO-LOGIN": "fail"}, verdicts.output[-3000:]
    message = verdicts.results["SSO-LOGIN"]["message"]
    assert "stopped at the login page" in message
    assert "Wrong username or password." in message
    assert (verdicts.report_dir / "latest" / "sso-login.png").exists()
    assert_no_secret(suites.sandbox, verdicts)
    assert not browsers_left(), "the browser of a failed login was left running"


@pytest.mark.parametrize(
    ("scenario", "cause"),
    [
        ("sso-clock-skew", "clock skew to the identity provider"),
        ("sso-no-pkce", "PKCE S256 supported"),
    ],
)
def test_discovery_faults_fail_discovery_only(suites, tmp_path, scenario, cause):
    password_grant = option(suites, tmp_path, "password", oidc__login="password")
    with suites.scenario(scenario):
        verdicts = suites.run("identity", extra=(password_grant,))
    assert outcomes(verdicts) == {"SSO-DISCOVERY": "fail", "SSO-LOGIN": "pass"}, verdicts.output[-3000:]
    assert cause in verdicts.results["SSO-DISCOVERY"]["message"]


def test_discovery_that_is_not_json_is_an_error_with_the_cause(suites, tmp_path):
    password_grant = option(suites, tmp_path, "password", oidc__login="password")
    with suites.scenario("sso-broken-discovery"):
        verdicts = suites.run("identity", extra=(password_grant,))
    assert outcomes(verdicts) == {"SSO-DISCOVERY": "error", "SSO-LOGIN": "error"}
    assert "is not JSON (text/html" in verdicts.results["SSO-DISCOVERY"]["message"]


def test_an_idp_that_never_answers_is_an_error_within_the_timeout(suites, tmp_path):
    profile = tmp_path / "fast.yaml"
    profile.write_text(
        f"name: fast\nextends: {ROOT / 'profiles' / 'sandbox.yaml'}\nrequirements:\n"
        "  SSO-DISCOVERY: {timeout: 6}\n  SSO-LOGIN: {timeout: 6}\n"
    )
    with silent_server() as url:
        issuer = url.removesuffix("/api").replace("http://", "https://")
        started = time.monotonic()
        silent = option(suites, tmp_path, "silent", oidc__issuer=issuer)
        verdicts = suites.run("identity", profile=str(profile), extra=(silent,))
    assert outcomes(verdicts) == {"SSO-DISCOVERY": "error", "SSO-LOGIN": "error"}
    assert "timed out" in verdicts.results["SSO-DISCOVERY"]["message"]
    assert time.monotonic() - started < 40
