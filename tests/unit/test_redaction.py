"""No secret reaches a report, a log line or an assertion message."""

from __future__ import annotations

import os

from readiness.core.redact import MASK, Redactor
from tests.suite_run import ROOT, run_suites

CANARY = "canary-Zx81qPw0-secret"
PROFILE_CANARY = "pcanary-7Hq2Lm9v"  # only in the Prefect profile file
TARGETS_CANARY = "tcanary-Qe4Vn2Rk"  # only in files and variables a targets file references


def test_known_secrets_urls_and_auth_headers_are_masked(tmp_path):
    secret_file = tmp_path / "pw"
    secret_file.write_text(CANARY + "-file\n")
    redactor = Redactor()
    redactor.learn_from_environment(
        {
            "PREFECT_API_AUTH_STRING": f"admin:{CANARY}-auth",
            "READINESS_REDIS_PASSWORD_FILE": str(secret_file),
            "READINESS_PG_URL": f"postgresql://prefect:{CANARY}-url@db:5432/prefect",
            "HOME": "/root",
        }
    )
    text = (
        f"pw {CANARY}-auth and {CANARY}-file in postgresql://prefect:{CANARY}-url@db/x "
        f"Authorization: Bearer {CANARY}-bearer redis://:{CANARY}-redis@r:6379 "
        f"{{'authorization': 'Basic {CANARY}-basic'}}"
    )
    redacted = redactor.text(text)
    assert CANARY not in redacted
    assert "postgresql://prefect:***@db/x" in redacted
    assert "Authorization: Bearer ***" in redacted
    assert redactor.data({"k": [f"x {CANARY}-auth"]}) == {"k": [f"x {MASK}"]}
    assert redactor.text("/root is not secret") == "/root is not secret"


def test_canary_secret_appears_in_no_report_file_and_no_output(tmp_path):
    """Plant the canary everywhere a user configures a secret, run the real suites, grep everything."""
    secret_file = tmp_path / "redis-password"
    secret_file.write_text(CANARY)
    checks = tmp_path / "test_leaky.py"
    checks.write_text(f'''
import pytest
from readiness.core.expect import CheckError

@pytest.mark.requirement("REDIS-AUTH")
def test_leaks_into_message(expect):
    print("connecting with password {CANARY}")
    raise CheckError("auth failed for redis://:{CANARY}@127.0.0.1:1")

@pytest.mark.requirement("PG-TLS")
def test_leaks_into_observation(expect):
    expect.equal("password echo", "{CANARY}", "something else", evidence={{"dsn": "password={CANARY}"}})

@pytest.mark.requirement("SMTP-AUTH")
def test_leaks_into_assert(expect):
    assert "{CANARY}" == "x", "SMTP said: bad password {CANARY}"
''')
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_API_URL": "http://127.0.0.1:9/api",
            "PREFECT_API_AUTH_STRING": f"admin:{CANARY}",
            "PREFECT_API_KEY": CANARY,
            "READINESS_REDIS_PASSWORD_FILE": str(secret_file),
            "READINESS_PG_PASSWORD": CANARY,
            "READINESS_SMTP_PASSWORD": CANARY,
            "READINESS_OIDC_CLIENT_SECRET": CANARY,
            "READINESS_REDIS_URL": f"rediss://:{CANARY}@127.0.0.1:1/0",
        }
    )
    # ... and in the active Prefect profile, where the Prefect client keeps credentials too
    prefect_home = tmp_path / "prefect-home"
    prefect_home.mkdir()
    (prefect_home / "profiles.toml").write_text(
        f'active = "x"\n[profiles.x]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n'
        f'PREFECT_API_KEY = "{PROFILE_CANARY}"\n'
    )
    env["PREFECT_HOME"] = str(prefect_home)
    del env["PREFECT_API_URL"], env["PREFECT_API_KEY"]
    checks.write_text(
        checks.read_text()
        + f"""

@pytest.mark.requirement("SSO-LOGIN")
def test_leaks_profile_key(expect):
    raise CheckError("token {PROFILE_CANARY} refused")

@pytest.mark.requirement("SSO-DISCOVERY")
def test_leaks_targets_secrets(expect, targets):
    raise CheckError("user password " + targets.get("oidc.password") + " and " + targets.get("smtp.password"))
"""
    )
    # ... and in a targets file: a secret by file reference, another by a plainly named variable
    (tmp_path / "oidc-user").write_text(TARGETS_CANARY + "-file\n")
    targets_file = tmp_path / "targets.yaml"
    targets_file.write_text(
        "oidc:\n  password_file: oidc-user\n  client_secret_env: APP_CODE\nsmtp:\n  password_env: MAILBOX_CODE\n"
    )
    env["MAILBOX_CODE"] = TARGETS_CANARY + "-env"
    env["APP_CODE"] = TARGETS_CANARY + "-client"
    env["READINESS_TARGETS"] = str(targets_file)
    report_dir = tmp_path / "reports"
    verdicts = run_suites([ROOT / "suites", checks], env=env, report_dir=report_dir, extra=["-rA", "-vv"], timeout=120)
    assert verdicts.code == 1, verdicts.output
    output = verdicts.output
    assert "REDIS-AUTH" in output
    assert CANARY not in output
    assert PROFILE_CANARY not in output
    assert TARGETS_CANARY not in output
    assert "SSO-DISCOVERY" in output
    files = [p for p in report_dir.rglob("*") if p.is_file()]
    assert len(files) == 5  # the four report files and conformance.prom
    for path in files:
        assert CANARY not in path.read_text(), path
        assert PROFILE_CANARY not in path.read_text(), path
        assert TARGETS_CANARY not in path.read_text(), path
