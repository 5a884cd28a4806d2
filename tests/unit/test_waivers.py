"""Waivers: valid ones waive, expired ones stop counting, required ones need a flag, unmatched are listed."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from readiness.core.model import Outcome
from readiness.core.profile import ProfileError, load_profile
from readiness.core.waivers import decide, load_waivers

TODAY = dt.date(2026, 11, 26)


def _waivers(tmp_path, body: str):
    path = tmp_path / "waivers.yaml"
    path.write_text(body)
    return load_waivers(path, load_profile("aws"))


def test_decisions_for_valid_expired_unmatched_and_required(tmp_path):
    waivers = _waivers(
        tmp_path,
        """
waivers:
  - {id: K8S-NODE-COUNT, reason: two nodes until Q1, owner: platform, expires: 2027-01-31}
  - {id: K8S-NODE-SIZE, reason: old, owner: platform, expires: 2026-01-01}
  - {id: TLS-HSTS, reason: nothing to waive, owner: web, expires: 2027-01-01}
  - {id: LB-ADDRESS, reason: internal LB, owner: net, expires: 2027-01-01}
""",
    )
    outcomes = {
        "K8S-NODE-COUNT": Outcome.warn,
        "K8S-NODE-SIZE": Outcome.warn,
        "TLS-HSTS": Outcome.passed,
        "LB-ADDRESS": Outcome.fail,
    }
    decision = decide(waivers, outcomes, load_profile("aws"), TODAY, allow_required=False)
    assert list(decision.applied) == ["K8S-NODE-COUNT"]
    assert [w.id for w in decision.expired] == ["K8S-NODE-SIZE"]
    assert [w.id for w in decision.unmatched] == ["TLS-HSTS"]
    assert [(w.id, "--allow-required-waivers" in why) for w, why in decision.rejected] == [("LB-ADDRESS", True)]
    allowed = decide(waivers, outcomes, load_profile("aws"), TODAY, allow_required=True)
    assert set(allowed.applied) == {"K8S-NODE-COUNT", "LB-ADDRESS"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "waivers:\n  - {id: K8S-NOPE, reason: r, owner: o, expires: 2027-01-01}\n",
            "waivers.0.id: unknown requirement ID 'K8S-NOPE'",
        ),
        ("waivers:\n  - {id: K8S-NODE-COUNT, reason: r, expires: 2027-01-01}\n", "waivers.0.owner: missing"),
        (
            "waivers:\n  - {id: K8S-NODE-COUNT, reason: r, owner: o, expires: soon}\n",
            "waivers.0.expires: input",
        ),
        ("waiver: []\n", "waiver: unknown key"),
    ],
)
def test_a_bad_waiver_file_names_the_file_and_key(tmp_path, body, expected):
    with pytest.raises(ProfileError) as caught:
        _waivers(tmp_path, body)
    assert str(caught.value).startswith(str(tmp_path / "waivers.yaml"))
    assert expected in str(caught.value)


CHECKS = """
import pytest

@pytest.mark.requirement("K8S-NODE-COUNT")
def test_warn(expect):
    expect.at_least("Ready nodes", 2, 3, unit="nodes")

@pytest.mark.requirement("LB-ADDRESS")
def test_fail(expect):
    expect.true("load balancer has an address", False)
"""


def test_waived_outcome_in_the_report_and_exit_status(pytester):
    pytester.makepyfile(test_checks=CHECKS)
    pytester.makefile(
        ".yaml",
        waivers="""
waivers:
  - {id: K8S-NODE-COUNT, reason: two nodes until Q1, owner: platform, expires: 2999-01-31}
  - {id: LB-ADDRESS, reason: internal only, owner: net, expires: 2999-01-31}
  - {id: K8S-NODE-SIZE, reason: gone, owner: platform, expires: 2001-01-01}
""",
    )
    args = ["-p", "readiness.plugin", "--profile", "aws", "--report-dir", "out", "--waivers", "waivers.yaml"]
    result = pytester.runpytest(*args)
    report = json.loads((pytester.path / "out/latest/conformance.json").read_text())
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["K8S-NODE-COUNT"]["outcome"] == "waived"
    assert by_id["K8S-NODE-COUNT"]["waiver"]["original_outcome"] == "warn"
    assert by_id["LB-ADDRESS"]["outcome"] == "fail"  # required: not waived without the flag
    assert [w["id"] for w in report["waivers"]["rejected"]] == ["LB-ADDRESS"]
    assert [w["id"] for w in report["waivers"]["expired"]] == ["K8S-NODE-SIZE"]
    assert result.ret == 1
    assert "waiver expired: K8S-NODE-SIZE" in result.stdout.str()
    result = pytester.runpytest(*args, "test_checks.py", "--allow-required-waivers")
    report = json.loads((pytester.path / "out/latest/conformance.json").read_text())
    assert {r["id"]: r["outcome"] for r in report["results"]}["LB-ADDRESS"] == "waived"
    assert result.ret == 0
